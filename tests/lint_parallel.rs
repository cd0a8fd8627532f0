//! Parsing runs on several threads (issue 13): the report must not depend on how many.
//! Every bundled example folder, and the real folders of the public corpus when it is on
//! this machine (`LOCKSTEP_CORPUS`, default /work/corpus), is linted with one and with two
//! rayon threads, as JSON and as pretty output, and the outputs must be byte for byte the
//! same. The JSON written straight to stdout is also compared with a rendering through
//! `serde_json::Value` (how the report was built before it was streamed).

use lockstep::analyze;
use lockstep::report::{self, Format, ReportContext};
use lockstep::settings::Settings;
use lockstep::source;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations-examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("migrations-examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "bundled examples missing: {dirs:?}");
    dirs
}

/// Real folders of the corpus (the two largest by bytes of the manifest, plus one with
/// down scripts), when the corpus has been fetched on this machine.
fn corpus() -> Vec<PathBuf> {
    let root = PathBuf::from(std::env::var("LOCKSTEP_CORPUS").unwrap_or("/work/corpus".into()));
    [
        "LemmyNet+lemmy/migrations",
        "openmeterio+openmeter/tools/migrate/migrations",
        "ory+kratos/persistence/sql/migrations/sql",
    ]
    .iter()
    .map(|p| root.join(p))
    .filter(|p| p.is_dir())
    .collect()
}

/// A private copy of the binary: in a shared working tree another build may replace
/// target/debug/lockstep between two runs being compared.
fn binary() -> &'static Path {
    static COPY: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = COPY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lockstep");
        std::fs::copy(env!("CARGO_BIN_EXE_lockstep"), &path).expect("copy the binary");
        (dir, path)
    });
    path
}

fn lint(dir: &Path, format: &str, threads: &str) -> (Option<i32>, Vec<u8>) {
    let out = Command::new(binary())
        .args(["lint", "--no-baseline", "--format", format])
        .arg(dir)
        .env("RAYON_NUM_THREADS", threads)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run lockstep");
    (out.status.code(), out.stdout)
}

#[test]
fn reports_do_not_depend_on_the_number_of_threads() {
    let mut dirs = examples();
    let real = corpus();
    if real.is_empty() {
        eprintln!("note: no corpus on this machine; bundled examples only");
    }
    dirs.extend(real);
    for dir in &dirs {
        for format in ["json", "pretty"] {
            let one = lint(dir, format, "1");
            let two = lint(dir, format, "2");
            assert!(
                matches!(one.0, Some(0 | 1)),
                "{}: exit {:?}",
                dir.display(),
                one.0
            );
            assert!(!one.1.is_empty(), "{}: empty report", dir.display());
            assert_eq!(
                one.0,
                two.0,
                "{} {format}: exit codes differ",
                dir.display()
            );
            assert!(
                one.1 == two.1,
                "{} {format}: output with 1 thread differs from 2 threads",
                dir.display()
            );
        }
    }
}

/// The report as it was rendered before streaming: one `serde_json::Value` for it all.
fn value_rendering(cx: &ReportContext) -> String {
    let a = cx.analysis;
    let pos = |path: &Path, span: &std::ops::Range<usize>| match a.sources.get(path) {
        Some(src) => report::position(src, span),
        None => report::position("", &(0..0)),
    };
    let migrations: Vec<Value> = a
        .scripts
        .iter()
        .map(|s| {
            let statements: Vec<Value> = s
                .statements
                .iter()
                .map(|st| {
                    let p = pos(&s.path, &st.span);
                    let locks: Vec<Value> = st
                        .locks
                        .iter()
                        .map(|l| {
                            let size = cx.settings.size(&l.table);
                            json!({
                                "table": l.table.qualified(),
                                "mode": l.mode.as_str(),
                                "rewrite": l.rewrite,
                                "scan": l.scan,
                                "table_rows": size.and_then(|s| s.rows),
                                "table_bytes": size.and_then(|s| s.bytes),
                            })
                        })
                        .collect();
                    json!({
                        "span": {"start": st.span.start, "end": st.span.end},
                        "line": p.line,
                        "column": p.column,
                        "parsed_by": st.parsed_by,
                        "operations": st.ops.iter().map(|o| serde_json::to_value(o).unwrap()).collect::<Vec<_>>(),
                        "locks": locks,
                    })
                })
                .collect();
            json!({
                "id": s.migration,
                "path": report::display_path(&s.path),
                "direction": s.direction,
                "in_transaction": s.in_transaction,
                "statements": statements,
            })
        })
        .collect();
    let fingerprints = lockstep::baseline::fingerprints(a);
    let findings: Vec<Value> = a
        .findings
        .iter()
        .zip(&fingerprints)
        .map(|(f, fingerprint)| {
            let p = pos(&f.path, &f.span);
            json!({
                "rule": f.rule,
                "severity": f.severity.as_str(),
                "migration": f.migration,
                "direction": f.direction,
                "path": report::display_path(&f.path),
                "line": p.line,
                "column": p.column,
                "end_line": p.end_line,
                "end_column": p.end_column,
                "span": {"start": f.span.start, "end": f.span.end},
                "message": f.message,
                "label": f.label,
                "help": f.help,
                "notes": f.notes,
                "size_unknown": f.size_unknown,
                "fingerprint": fingerprint,
            })
        })
        .collect();
    let doc = json!({
        "version": 1,
        "tool": {"name": "lockstep", "version": env!("CARGO_PKG_VERSION")},
        "settings": {"pg_version": cx.settings.pg_version, "layout": cx.layout},
        "migrations": migrations,
        "findings": findings,
        "summary": report::Summary::of(&a.findings),
        "baselined": a.baselined,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap();
    s.push('\n');
    s
}

#[test]
fn streamed_json_is_the_value_rendering_byte_for_byte() {
    let mut dirs = examples();
    dirs.extend(corpus().into_iter().take(1));
    for dir in &dirs {
        let loaded = source::load(std::slice::from_ref(dir), None, &[]).expect("load");
        let settings = Settings {
            single_statement_autocommit: loaded.layout.implicit_transaction(),
            ..Settings::default()
        };
        let analysis = analyze::analyze(&loaded.migrations, &settings, &|_| true);
        let cx = ReportContext {
            analysis: &analysis,
            settings: &settings,
            layout: loaded.layout,
            color: false,
        };
        let streamed = report::render(Format::Json, &cx);
        let expected = value_rendering(&cx);
        assert!(
            streamed == expected,
            "{}: streamed JSON differs from the value rendering",
            dir.display()
        );
        let _: Value = serde_json::from_str(&streamed).expect("valid JSON");
    }
}

/// Every analysed script holds the statements of its own migration: the parsed chunks
/// coming back from the parsing threads are matched to the right migrations (a folder of
/// many more migrations than one chunk).
#[test]
fn each_migration_gets_its_own_parsed_statements() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..150 {
        // Different statement counts per migration, so any shift shows.
        let mut sql = format!("CREATE TABLE t{i} (id bigint PRIMARY KEY);\n");
        for j in 0..(i % 7) {
            sql.push_str(&format!("ALTER TABLE t{i} ADD COLUMN c{j} int;\n"));
        }
        std::fs::write(dir.path().join(format!("{:04}_m{i}.sql", i + 1)), sql).expect("write");
    }
    let mut dirs = vec![dir.path().to_path_buf()];
    dirs.extend(corpus());
    for dir in &dirs {
        let loaded = source::load(std::slice::from_ref(dir), None, &[]).expect("load");
        assert!(loaded.migrations.len() > 100, "{}", dir.display());
        let settings = Settings::default();
        let analysis = analyze::analyze(&loaded.migrations, &settings, &|_| true);
        let mut scripts = analysis.scripts.iter();
        for m in &loaded.migrations {
            for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
                let got = scripts.next().expect("an analysed script per script");
                assert_eq!(got.path, script.path);
                let want: Vec<_> = lockstep::parse::parse_script(script)
                    .into_iter()
                    .map(|s| (s.span, s.ops))
                    .collect();
                let have: Vec<_> = got
                    .statements
                    .iter()
                    .map(|s| (s.span.clone(), s.ops.clone()))
                    .collect();
                assert!(want == have, "{}: statements of another migration", m.id);
            }
        }
        assert!(scripts.next().is_none());
    }
}

/// `lockstep lint --format json` writes the migrations to a temporary file while it
/// replays the history and copies them into the report at the end; the result is the
/// report rendered from the whole analysis in memory, byte for byte.
#[test]
fn the_spilled_json_report_is_the_in_memory_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..70 {
        let sql = format!(
            "CREATE TABLE t{i} (id int PRIMARY KEY, v text);\n\
             CREATE INDEX t{i}_v ON t{i} (v);\n\
             ALTER TABLE t{i} ADD COLUMN w int NOT NULL DEFAULT 0;\n"
        );
        std::fs::write(dir.path().join(format!("{:04}_m{i}.sql", i + 1)), sql).expect("write");
    }
    let mut dirs = vec![dir.path().to_path_buf()];
    dirs.extend(corpus());
    for dir in &dirs {
        let loaded = source::load(std::slice::from_ref(dir), None, &[]).expect("load");
        let settings = Settings {
            single_statement_autocommit: loaded.layout.implicit_transaction(),
            runner: Some(loaded.layout.name().to_string()),
            ..Settings::default()
        };
        let analysis = analyze::analyze(&loaded.migrations, &settings, &|_| true);
        let cx = ReportContext {
            analysis: &analysis,
            settings: &settings,
            layout: loaded.layout,
            color: false,
        };
        let in_memory = report::render(Format::Json, &cx);
        let (code, spilled) = lint(dir, "json", "2");
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: exit {code:?}",
            dir.display()
        );
        assert!(
            spilled == in_memory.as_bytes(),
            "{}: the CLI's JSON differs from the in-memory rendering",
            dir.display()
        );
    }
}
