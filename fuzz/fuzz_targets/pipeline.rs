//! cargo-fuzz target: bytes → splitter → parser/fallback → analyser (catalog, locks,
//! rules, rollback) → JSON and pretty reports. See `case.rs` for the input layout.

#![no_main]

use libfuzzer_sys::fuzz_target;

mod case;

fuzz_target!(|data: &[u8]| {
    case::run(data);
});
