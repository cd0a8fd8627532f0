//! Robustness against bad input: truncated example migrations, random bytes, and every
//! crash the fuzzer found. Analysing must never panic, and each case must end in
//! statements (with a finding for each one that could not be parsed) or a clean error.

use lockstep::analyze::{Analysis, analyze};
use lockstep::parse::{ParsedBy, parse_sql};
use lockstep::report::{self, Format, ReportContext};
use lockstep::settings::Settings;
use lockstep::source;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../fuzz/fuzz_targets/case.rs"]
mod fuzz_case;

/// The same deterministic generator as the benches' (splitmix64), so cases are stable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations-examples")
}

/// The example folders, one per layout.
fn layout_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("migrations-examples/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Every regular file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for f in files_under(from) {
        let rel = f.strip_prefix(from).expect("under from");
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("has parent")).expect("mkdir");
        std::fs::copy(&f, &dest).expect("copy");
    }
}

/// Offsets at which to cut `text`: every statement boundary (start, end, after the `;`)
/// and `random` seeded random byte offsets (raw bytes: a cut may split a character, which
/// then reaches the loader as invalid UTF-8).
fn cut_points(text: &[u8], random: usize, rng: &mut Rng) -> Vec<usize> {
    let mut cuts = vec![0, text.len()];
    if let Ok(s) = std::str::from_utf8(text) {
        for st in parse_sql(s) {
            cuts.extend([
                st.span.start,
                st.span.end,
                (st.span.end + 1).min(text.len()),
            ]);
        }
    }
    for _ in 0..random {
        cuts.push(rng.below(text.len() + 1));
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Checks what a user would rely on after a successful analysis: every statement that
/// could not be parsed carries an `unparsed-statement` finding at its span, and both the
/// JSON and the pretty report render (the JSON one as valid JSON).
fn check_analysis(case: &str, analysis: &Analysis, settings: &Settings, layout: source::Layout) {
    for script in &analysis.scripts {
        for st in &script.statements {
            if st.parsed_by == ParsedBy::Unparsed {
                assert!(
                    analysis
                        .findings
                        .iter()
                        .any(|f| f.rule == "unparsed-statement"
                            && f.path == script.path
                            && f.span.start == st.span.start),
                    "{case}: unparsed statement at {:?} in {} has no finding",
                    st.span,
                    script.path.display()
                );
            }
        }
    }
    let cx = ReportContext {
        analysis,
        settings,
        layout,
        color: false,
    };
    let json = report::render(Format::Json, &cx);
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "{case}: JSON report does not parse"
    );
    let _ = report::render(Format::Pretty, &cx);
}

/// Loads and analyses `dir`, catching panics. Returns a description of the outcome.
fn lint_dir(case: &str, dir: &Path) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        match source::load(&[dir.to_path_buf()], None, &[]) {
            Ok(loaded) => {
                let settings = Settings {
                    single_statement_autocommit: loaded.layout.implicit_transaction(),
                    ..Settings::default()
                };
                let analysis = analyze(&loaded.migrations, &settings, &|_| true);
                check_analysis(case, &analysis, &settings, loaded.layout);
            }
            Err(e) => {
                // A clean error: it names what is wrong.
                assert!(
                    !e.to_string().trim().is_empty(),
                    "{case}: empty error message"
                );
            }
        }
    }));
    outcome.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

#[test]
fn truncated_example_files_never_panic() {
    let mut rng = Rng(0x7275_6e63);
    let mut failures = Vec::new();
    let mut cases = 0;
    for layout_dir in layout_dirs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        copy_tree(&layout_dir, tmp.path());
        for file in files_under(&layout_dir) {
            let rel = file.strip_prefix(&layout_dir).expect("under layout");
            let target = tmp.path().join(rel);
            let original = std::fs::read(&file).expect("readable example");
            for cut in cut_points(&original, 50, &mut rng) {
                std::fs::write(&target, &original[..cut]).expect("write");
                let case = format!("{} cut at {cut}", file.display());
                cases += 1;
                if let Err(msg) = lint_dir(&case, tmp.path()) {
                    failures.push(format!("{case}: {msg}"));
                }
            }
            std::fs::write(&target, &original).expect("restore");
        }
    }
    assert!(cases > 1_000, "only {cases} cases: examples missing?");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// SQL-shaped noise: keywords, quotes, dollar tags, comments and punctuation in random
/// order, which reaches deeper into the parser than uniform bytes do.
fn sql_soup(rng: &mut Rng, len: usize) -> Vec<u8> {
    const PIECES: [&str; 40] = [
        "CREATE ",
        "TABLE ",
        "INDEX ",
        "CONCURRENTLY ",
        "ALTER ",
        "ADD ",
        "COLUMN ",
        "DROP ",
        "CONSTRAINT ",
        "NOT VALID ",
        "VALIDATE ",
        "DO ",
        "$$",
        "$x$",
        "'",
        "\"",
        "--",
        "/*",
        "*/",
        ";",
        "(",
        ")",
        ",",
        "t",
        "users ",
        "id ",
        "int ",
        "DEFAULT ",
        "now()",
        "BEGIN",
        "COMMIT",
        "SET lock_timeout = '1s'",
        "INSERT INTO ",
        "VALUES ",
        "UPDATE ",
        "\n",
        " ",
        "{{ .x }}",
        "${p}",
        "é",
    ];
    let mut out = Vec::new();
    while out.len() < len {
        if rng.below(10) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
        }
    }
    out
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x6279_7465);
    let mut failures = Vec::new();
    for i in 0..400 {
        let len = rng.below(2_000);
        let data: Vec<u8> = if i % 2 == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            sql_soup(&mut rng, len)
        };
        if let Err(p) = catch_unwind(|| fuzz_case::run(&data)) {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "panic".into());
            failures.push(format!(
                "case {i} ({} bytes {:?}…): {msg}",
                data.len(),
                &data[..data.len().min(40)]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A few of the same cases through the real binary: exit 0/1/2, never a panic message.
#[test]
fn truncated_files_through_the_binary() {
    let bin = env!("CARGO_BIN_EXE_lockstep");
    let goose = examples().join("goose/20240110090000_create_venues.sql");
    let text = std::fs::read(&goose).expect("goose example");
    let mut rng = Rng(0x62_696e);
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [text.len() / 3, text.len() / 2, text.len() - 5] {
        inputs.push((format!("goose cut at {cut}"), text[..cut].to_vec()));
    }
    inputs.push((
        "random bytes".into(),
        (0..3_000).map(|_| rng.next() as u8).collect(),
    ));
    inputs.push(("sql soup".into(), sql_soup(&mut rng, 3_000)));
    for (name, bytes) in inputs {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("20240110090000_case.sql"), &bytes).expect("write");
        for format in ["pretty", "json"] {
            let out = Command::new(bin)
                .args(["lint", "--format", format])
                .arg(dir.path())
                .output()
                .expect("runs lockstep");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(0..=2)),
                "{name} ({format}): exit {:?}: {stderr}",
                out.status.code()
            );
            assert!(!stderr.contains("panicked"), "{name} ({format}): {stderr}");
            if out.status.code() == Some(2) {
                assert!(
                    !stderr.trim().is_empty(),
                    "{name}: exit 2 without a message"
                );
            }
        }
    }
}
