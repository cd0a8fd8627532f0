//! Counts what the Rails front end reads in `db/migrate` folders (for corpus/orm_stats.sh):
//! files, migration calls, calls not analysed, and files whose reading panicked.
//!
//! `cargo run --example rails_counts -- <db/migrate>...` prints one tab-separated line per
//! folder: folder, files, statements read (migration calls and other Ruby statements),
//! understood, not analysed, not analysed among ActiveRecord migration-method calls, files
//! whose reading panicked, the share of migration-method calls understood, and the share of
//! all statements understood (model code, loops and conditionals count as not understood);
//! then the not-analysed reasons ranked by frequency on stderr.

use std::collections::BTreeMap;
use std::sync::Arc;

fn main() {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for dir in std::env::args().skip(1) {
        let (mut files, mut calls, mut not_analysed, mut panics) = (0, 0, 0, 0);
        // Calls of ActiveRecord migration methods the reader knows but could not read
        // (a computed argument, an option it does not model).
        let mut dsl_failed = 0;
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some("rb") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            files += 1;
            let text: Arc<str> = text.into();
            match std::panic::catch_unwind(|| lockstep::source::rails_call_counts(&text)) {
                Ok((c, n)) => {
                    calls += c;
                    not_analysed += n;
                }
                Err(_) => panics += 1,
            }
            if let Ok(m) = lockstep::source::load(
                std::slice::from_ref(&path),
                Some(lockstep::source::Layout::Rails),
                &[],
            ) {
                for mig in &m.migrations {
                    for st in lockstep::parse::parse_script(&mig.up) {
                        for op in st.ops {
                            if let lockstep::ops::Op::NotAnalysed { what } = op {
                                if what.starts_with('`') || what.starts_with("create_table") {
                                    dsl_failed += 1;
                                }
                                let key: String = what.chars().take(70).collect();
                                *reasons.entry(key).or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
        let understood = calls - not_analysed;
        let dsl_share = 100.0 * understood as f64 / (understood + dsl_failed).max(1) as f64;
        let all_share = 100.0 * understood as f64 / calls.max(1) as f64;
        println!(
            "{dir}\t{files}\t{calls}\t{understood}\t{not_analysed}\t{dsl_failed}\t{panics}\t{dsl_share:.1}\t{all_share:.1}"
        );
    }
    let mut ranked: Vec<_> = reasons.into_iter().collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (what, n) in ranked.iter().take(400) {
        eprintln!("{n:5}  {what}");
    }
}
