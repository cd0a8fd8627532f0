//! One fuzz case over the whole lint pipeline, shared by the cargo-fuzz target and the
//! regression tests (`tests/robustness.rs` includes this file by path).
//!
//! Input layout: the first byte picks options (PostgreSQL version, transaction modes,
//! autocommit of single-statement files, whether the second migration has a down
//! script); the rest is SQL, decoded as lossy UTF-8 and cut at the first NUL byte into
//! the first migration's up script and the second's up (and optional down, after a
//! second NUL) script.

use lockstep::analyze::{analyze, inline_migration};
use lockstep::report::{self, Format, ReportContext};
use lockstep::settings::Settings;
use lockstep::source::{Layout, Script};
use std::path::PathBuf;
use std::sync::Arc;

/// Runs the pipeline on `data`; panics only when lockstep does.
pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // The splitter and parser alone, on the whole text.
    let statements = lockstep::parse::parse_sql(&text);
    for s in &statements {
        // Spans must be valid slices of the input: reports cut snippets with them.
        assert!(
            s.span.start <= s.span.end && s.span.end <= text.len(),
            "span {:?} out of bounds",
            s.span
        );
        assert!(text.is_char_boundary(s.span.start) && text.is_char_boundary(s.span.end));
    }

    let mut parts = text.splitn(3, '\0');
    let first = parts.next().unwrap_or("");
    let second = parts.next().unwrap_or("");
    let down = parts.next();

    let m1 = inline_migration(1, "first", first, flags & 1 != 0);
    let mut m2 = inline_migration(2, "second", second, flags & 2 != 0);
    if let Some(down) = down.filter(|_| flags & 4 != 0) {
        m2.down = Some(Script {
            path: PathBuf::from("second.down.sql"),
            source: Arc::from(down),
            range: 0..down.len(),
            whole_statements: Vec::new(),
            host: None,
        });
    }
    let settings = Settings {
        pg_version: 11 + u32::from((flags >> 3) % 7),
        single_statement_autocommit: flags & 0x40 != 0,
        assume_lock_timeout: flags & 0x80 != 0,
        ..Settings::default()
    };
    let migrations = vec![m1, m2];
    let analysis = analyze(&migrations, &settings, &|_| true);
    for layout in [Layout::Plain, Layout::Goose] {
        let cx = ReportContext {
            analysis: &analysis,
            settings: &settings,
            layout,
            color: flags & 8 != 0,
        };
        for format in [Format::Json, Format::Pretty] {
            let out = report::render(format, &cx);
            if format == Format::Json {
                // The JSON report must stay machine-readable whatever the input.
                assert!(
                    serde_json::from_str::<serde_json::Value>(&out).is_ok(),
                    "JSON report does not parse"
                );
            }
        }
    }
}
