//! The Alembic front end against Alembic itself: for every revision of the fixture project
//! (tests/fixtures/alembic, one revision per operation the front end reads), the ops read
//! statically from the Python file equal the ops of the SQL `alembic upgrade --sql` /
//! `alembic downgrade --sql` prints for it. Dynamic revisions (a loop, a helper call, an
//! f-string) must instead be reported as not analysed.
//!
//! Needs `python3` with `alembic` and `sqlalchemy` (CI installs them); skipped with a
//! message when they are missing.

use lockstep::ops::Op;
use lockstep::parse::{parse_script, parse_sql};
use lockstep::source::{Layout, Migration, load};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alembic")
}

fn have_alembic() -> bool {
    Command::new("python3")
        .args(["-c", "import alembic, sqlalchemy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `alembic <args> --sql` in the fixture project.
fn alembic_sql(args: &[&str]) -> String {
    let out = Command::new("python3")
        .args(["-m", "alembic", "-c", "alembic.ini"])
        .args(args)
        .arg("--sql")
        .current_dir(fixture())
        .output()
        .expect("run python3 -m alembic");
    assert!(
        out.status.success(),
        "alembic {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The ops of each revision's section of Alembic's offline SQL, keyed by revision.
fn sections(sql: &str, downgrade: bool) -> BTreeMap<String, Vec<Op>> {
    let marker = if downgrade {
        "-- Running downgrade "
    } else {
        "-- Running upgrade "
    };
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut flush = |current: &mut Option<(String, String)>| {
        if let Some((rev, text)) = current.take() {
            let ops: Vec<Op> = parse_sql(&text)
                .into_iter()
                .flat_map(|s| s.ops)
                .filter(|op| !touches_version_table(op))
                .collect();
            out.insert(rev, normalize(ops));
        }
    };
    for line in sql.lines() {
        if let Some(rest) = line.strip_prefix(marker) {
            flush(&mut current);
            // `a020 -> a021`, `a021, a022 -> a023`; a downgrade names its revision first.
            let (from, to) = rest.split_once("->").expect("arrow");
            let rev = if downgrade { from } else { to };
            let rev = rev.split(',').next().unwrap_or("").trim().to_string();
            current = Some((rev, String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&mut current);
    out
}

fn touches_version_table(op: &Op) -> bool {
    op.table().is_some_and(|t| t.name == "alembic_version")
}

/// Drops empty BEGIN…COMMIT pairs and transaction control at either end: Alembic prints
/// the framework's own per-migration BEGIN/COMMIT, which the static reading expresses as
/// the migration's transaction mode instead.
fn normalize(mut ops: Vec<Op>) -> Vec<Op> {
    let tx = |op: &Op| matches!(op, Op::Begin | Op::Commit);
    loop {
        let before = ops.len();
        if let Some(i) = ops
            .windows(2)
            .position(|w| matches!(w, [Op::Begin, Op::Commit]))
        {
            ops.drain(i..i + 2);
        }
        while ops.first().is_some_and(tx) {
            ops.remove(0);
        }
        while ops.last().is_some_and(tx) {
            ops.pop();
        }
        if ops.len() == before {
            return ops;
        }
    }
}

fn static_ops(script: &lockstep::source::Script) -> Vec<Op> {
    normalize(
        parse_script(script)
            .into_iter()
            .flat_map(|s| s.ops)
            .collect(),
    )
}

fn not_analysed(ops: &[Op]) -> bool {
    ops.iter().any(|o| matches!(o, Op::NotAnalysed { .. }))
}

/// Revisions whose Python is dynamic on purpose.
const DYNAMIC: &[&str] = &["a034", "a035", "a036"];

fn loaded() -> Vec<Migration> {
    let loaded = load(&[fixture().join("versions")], None, &[]).expect("load fixture");
    assert_eq!(loaded.layout, Layout::Alembic, "detected as alembic");
    loaded.migrations
}

#[test]
fn static_reading_equals_alembic_offline_sql() {
    if !have_alembic() {
        // CI installs them (.ci/run): there a missing framework is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 cannot import alembic and sqlalchemy, which .ci/run installs"
        );
        eprintln!(
            "SKIPPED: python3 with alembic and sqlalchemy is not installed (pip install alembic sqlalchemy)"
        );
        return;
    }
    let migrations = loaded();
    assert!(migrations.len() >= 40, "{} revisions", migrations.len());
    let up = sections(&alembic_sql(&["upgrade", "heads"]), false);
    let head = migrations.last().expect("a head").id.clone();
    let down = sections(&alembic_sql(&["downgrade", &format!("{head}:base")]), true);
    let mut compared = 0;
    let mut failures = Vec::new();
    for m in &migrations {
        let ours_up = static_ops(&m.up);
        let ours_down = m.down.as_ref().map(static_ops).unwrap_or_default();
        if DYNAMIC.contains(&m.id.as_str()) {
            assert!(
                not_analysed(&ours_up) && !not_analysed(&up[&m.id]),
                "{}: a dynamic upgrade must be reported as not analysed: {ours_up:?}",
                m.id
            );
            continue;
        }
        for (direction, ours, theirs) in [
            ("up", &ours_up, &up[&m.id]),
            ("down", &ours_down, &down[&m.id]),
        ] {
            compared += 1;
            if ours != theirs {
                failures.push(format!(
                    "{} {direction}:\n  static:  {ours:?}\n  alembic: {theirs:?}",
                    m.id
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 80, "compared {compared}");
}

#[test]
fn revision_graph_orders_branches_and_merges() {
    let migrations = loaded();
    let pos = |id: &str| migrations.iter().position(|m| m.id == id).expect(id);
    // Every parent before its child, the merge after both branches.
    assert!(pos("a020") < pos("a021") && pos("a020") < pos("a022"));
    assert!(pos("a021") < pos("a023") && pos("a022") < pos("a023"));
    let ids: Vec<&str> = migrations.iter().map(|m| m.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "the fixture's file order is a valid order");
}

#[test]
fn autocommit_block_runs_outside_the_transaction() {
    let migrations = loaded();
    let get = |id: &str| migrations.iter().find(|m| m.id == id).expect(id);
    assert!(get("a003").in_transaction);
    let a008 = get("a008");
    assert!(
        !a008.in_transaction,
        "the concurrent index runs in autocommit"
    );
    let ops: Vec<Op> = parse_script(&a008.up)
        .into_iter()
        .flat_map(|s| s.ops)
        .collect();
    assert!(
        matches!(
            ops.as_slice(),
            [Op::CreateIndex {
                concurrently: true,
                ..
            }]
        ),
        "{ops:?}"
    );
    // Before and after the block: each in a transaction of its own.
    let a041 = get("a041");
    let kinds: Vec<String> = parse_script(&a041.up)
        .into_iter()
        .flat_map(|s| s.ops)
        .map(|o| o.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "begin",
            "add_column",
            "commit",
            "add_enum_value",
            "begin",
            "create_index",
            "commit"
        ]
    );
}

#[test]
fn raw_sql_spans_point_into_the_python_literal() {
    let migrations = loaded();
    let m = migrations.iter().find(|m| m.id == "a015").expect("a015");
    let stmts = parse_script(&m.up);
    assert_eq!(stmts.len(), 1);
    assert_eq!(
        &m.up.source[stmts[0].span.clone()],
        "UPDATE users SET active = true WHERE id < 100"
    );
    // A DSL call's statement is the call.
    let m = migrations.iter().find(|m| m.id == "a003").expect("a003");
    let stmts = parse_script(&m.up);
    assert!(m.up.source[stmts[0].span.clone()].starts_with("op.add_column(\"users\""));
}

/// Real projects (not committed; see corpus/python-orms.tsv): `ALEMBIC_CORPUS=dir1:dir2
/// cargo test --test frontend_alembic corpus_counts -- --ignored --nocapture` prints the
/// files read, the calls understood and what was not analysed.
#[test]
#[ignore]
fn corpus_counts() {
    use lockstep::source::host::HostBody;
    let Ok(dirs) = std::env::var("ALEMBIC_CORPUS") else {
        eprintln!("SKIPPED: set ALEMBIC_CORPUS");
        return;
    };
    let (mut files, mut calls, mut understood) = (0usize, 0usize, 0usize);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for dir in dirs.split(':') {
        let loaded = match load(&[PathBuf::from(dir)], Some(Layout::Alembic), &[]) {
            Ok(l) => l,
            Err(e) => panic!("refused {dir}: {e}"),
        };
        let (f0, c0, u0) = (files, calls, understood);
        for m in &loaded.migrations {
            files += 1;
            for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
                for call in script.host.iter().flat_map(|h| h.iter()) {
                    if call.span.is_empty() {
                        continue; // BEGIN/COMMIT around an autocommit block
                    }
                    calls += 1;
                    match &call.body {
                        HostBody::NotAnalysed { what } => {
                            // `op.x(…)`: why — keep the operation and the why.
                            let head = what.split('(').next().unwrap_or("");
                            let why = what.rsplit_once("`: ").map(|(_, w)| w).unwrap_or("");
                            let key: String = format!("{head} | {why}").chars().take(90).collect();
                            *reasons.entry(key).or_default() += 1;
                        }
                        _ => understood += 1,
                    }
                }
                // Parsing must not panic either.
                let _ = parse_script(script);
            }
        }
        eprintln!(
            "{dir}: {} files, {} calls, {} understood",
            files - f0,
            calls - c0,
            understood - u0
        );
    }
    let mut top: Vec<(usize, String)> = reasons.into_iter().map(|(k, v)| (v, k)).collect();
    top.sort_by(|a, b| b.cmp(a));
    eprintln!(
        "TOTAL: {files} files, {calls} calls, {understood} understood ({:.1}%), {} not analysed",
        100.0 * understood as f64 / calls.max(1) as f64,
        calls - understood
    );
    for (n, what) in top.iter().take(40) {
        eprintln!("  {n:5}  {what}");
    }
}
