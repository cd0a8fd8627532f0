//! The `lockstep` binary as a user runs it: exit codes, error messages, output formats,
//! and no panic on hostile input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn lockstep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    c.env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    lockstep()
        .args(args)
        .output()
        .expect("the lockstep binary runs")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = lockstep()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `files` into a fresh temp dir and returns it.
fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn lint_json(dir: &Path) -> (i32, serde_json::Value) {
    let o = run(&["lint", "--format", "json", dir.to_str().unwrap()]);
    let code = o.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout={} stderr={}",
            stdout(&o),
            stderr(&o)
        )
    });
    (code, v)
}

fn rules_fired(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

const USERS: &[u8] = b"CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n";

#[test]
fn missing_path_is_exit_2_with_the_path_named() {
    let o = run(&["lint", "/definitely/not/here"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/definitely/not/here"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_flag_is_exit_2() {
    let o = run(&["lint", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn error_on_large_table_exits_1_and_warning_only_exits_0() {
    let dir = folder(&[
        ("001_users.sql", USERS),
        (
            "002_idx.sql",
            b"CREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    // Unknown size: the rule's own severity (error), exit 1 with the default --fail-on error
    // (README, "Severity policy"), and the summary says how to give sizes.
    let o = run(&["lint", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("error[create-index-non-concurrently]"));
    assert!(stdout(&o).contains("size unknown"));
    assert!(
        stdout(&o).contains("sizes: unknown for 1 finding") && stdout(&o).contains("`tables:`"),
        "{}",
        stdout(&o)
    );
    // A team that wants unknown sizes to warn says so; --fail-on warning still fails.
    let relaxed = dir.path().join("relaxed.yaml");
    std::fs::write(&relaxed, "unknown_table_severity: warning\n").unwrap();
    let o = run(&[
        "lint",
        "--config",
        relaxed.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&[
        "lint",
        "--config",
        relaxed.to_str().unwrap(),
        "--fail-on",
        "warning",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // A size hint makes it an error.
    std::fs::write(
        dir.path().join("lockstep.yaml"),
        "tables:\n  users: { rows: 50_000_000 }\n",
    )
    .unwrap();
    let cfg = dir.path().join("lockstep.yaml");
    let o = run(&[
        "lint",
        "--config",
        cfg.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("50 M rows"), "{}", stdout(&o));
    assert!(stdout(&o).contains("error[create-index-non-concurrently]"));
}

#[test]
fn bad_config_is_exit_2_and_names_the_line() {
    let dir = folder(&[("001_users.sql", USERS)]);
    let cfg = dir.path().join("lockstep.yaml");
    std::fs::write(
        &cfg,
        "pg_version: 15\nlayout: plain\nrulez:\n  truncate: off\n",
    )
    .unwrap();
    let o = run(&[
        "lint",
        "--config",
        cfg.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("rulez"), "{e}");
    assert!(e.contains("lockstep.yaml:3"), "{e}");
}

#[test]
fn new_table_gets_no_lock_finding() {
    let dir = folder(&[(
        "001_users.sql",
        b"BEGIN;\nCREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email_idx ON users (email);\nALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL DEFAULT clock_timestamp();\nCOMMIT;\n",
    )]);
    let (code, v) = lint_json(dir.path());
    assert_eq!(code, 0);
    let fired = rules_fired(&v);
    for r in [
        "create-index-non-concurrently",
        "add-column-rewrite",
        "missing-lock-timeout",
    ] {
        assert!(!fired.iter().any(|f| f == r), "{r} fired: {fired:?}");
    }
}

#[test]
fn json_lists_statements_with_lock_facts() {
    let dir = folder(&[
        ("001_users.sql", USERS),
        (
            "002_idx.sql",
            b"\nCREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    let (_, v) = lint_json(dir.path());
    assert_eq!(v["version"], 1);
    assert_eq!(v["settings"]["pg_version"], 15);
    assert_eq!(v["settings"]["layout"], "plain");
    let m = v["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"].as_str().unwrap().contains("idx"))
        .unwrap();
    let st = &m["statements"][0];
    assert_eq!(st["line"], 2);
    assert_eq!(st["column"], 1);
    assert_eq!(st["span"]["start"], 1);
    assert_eq!(st["operations"][0]["kind"], "create_index");
    assert_eq!(st["locks"][0]["table"], "public.users");
    assert_eq!(st["locks"][0]["mode"], "SHARE");
    assert_eq!(st["locks"][0]["rewrite"], false);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "create-index-non-concurrently")
        .unwrap();
    assert_eq!(f["line"], 2);
    // Unknown size: the rule's severity (README, "Severity policy").
    assert_eq!(f["severity"], "error");
    assert_eq!(f["size_unknown"], true);
    assert!(f["help"].as_str().unwrap().contains("CONCURRENTLY"));
}

#[test]
fn stdin_is_linted() {
    let o = run_stdin(
        &[
            "lint",
            "-",
            "--stdin-filename",
            "hot.sql",
            "--format",
            "gcc",
        ],
        b"ALTER TABLE accounts ALTER COLUMN balance SET NOT NULL;\n",
    );
    let out = stdout(&o);
    assert!(out.starts_with("hot.sql:1:1: "), "{out}");
    assert!(out.contains("[set-not-null-scan]"), "{out}");
}

#[test]
fn github_and_gcc_formats() {
    let dir = folder(&[
        ("001_users.sql", USERS),
        (
            "002_idx.sql",
            b"CREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    let o = run(&["lint", "--format", "github", dir.path().to_str().unwrap()]);
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.contains("create-index-non-concurrently"))
        .unwrap();
    assert!(line.starts_with("::error file="), "{line}");
    assert!(line.contains(",line=1,col=1,endLine=1,"), "{line}");
    let o = run(&["lint", "--format", "gcc", dir.path().to_str().unwrap()]);
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.contains("002_idx.sql:1:1: error: CREATE INDEX users_email_idx blocks writes to \"users\" (size unknown)")
                && l.ends_with("[create-index-non-concurrently]")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn rules_and_explain() {
    let o = run(&["rules"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("create-index-non-concurrently"));
    assert!(out.lines().count() > 30, "{out}");
    let o = run(&["explain", "set-not-null-scan"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("Bad:") && out.contains("Good:"), "{out}");
    let o = run(&["explain", "no-such-rule"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Every kind of broken input ends in a finding or a clean exit-2 error, never a panic.
#[test]
fn hostile_input_never_panics() {
    let deep = format!("SELECT {}1{};", "(".repeat(20_000), ")".repeat(20_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        (
            "only comments",
            b"-- nothing\n/* at /* all */ */\n".to_vec(),
        ),
        ("not utf-8", vec![b'S', b'E', 0xff, 0xfe, b';']),
        (
            "unterminated dollar",
            b"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1;".to_vec(),
        ),
        (
            "unterminated comment",
            b"SELECT 1; /* never closed".to_vec(),
        ),
        (
            "unterminated string",
            b"INSERT INTO t VALUES ('oops);".to_vec(),
        ),
        ("deep parens", deep.into_bytes()),
        (
            "garbage",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
    ];
    for (name, bytes) in cases {
        let dir = folder(&[("001_case.sql", &bytes)]);
        let o = run(&["lint", "--format", "json", dir.path().to_str().unwrap()]);
        let code = o.status.code();
        let err = stderr(&o);
        assert!(
            !err.contains("panicked") && code.is_some(),
            "{name}: panic or signal: {err}"
        );
        match code {
            Some(0) | Some(1) => {
                let v: serde_json::Value = serde_json::from_slice(&o.stdout)
                    .unwrap_or_else(|e| panic!("{name}: bad JSON {e}"));
                assert!(v["findings"].is_array(), "{name}");
            }
            Some(2) => assert!(!err.trim().is_empty(), "{name}: exit 2 without a message"),
            other => panic!("{name}: unexpected exit {other:?}: {err}"),
        }
    }
}

#[test]
fn unterminated_dollar_quote_is_reported_as_unparsed() {
    let dir = folder(&[
        ("001_users.sql", USERS),
        (
            "002_fn.sql",
            b"CREATE INDEX users_email_idx ON users (email);\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1;\n",
        ),
    ]);
    let (_, v) = lint_json(dir.path());
    let fired = rules_fired(&v);
    assert!(
        fired.contains(&"unparsed-statement".to_string()),
        "{fired:?}"
    );
    // The statement before the broken one is still analysed.
    assert!(
        fired.contains(&"create-index-non-concurrently".to_string()),
        "{fired:?}"
    );
}

#[test]
fn fifty_megabyte_file_is_linted() {
    let mut sql = String::from("CREATE TABLE big (id bigint PRIMARY KEY, v text);\n");
    let line = "INSERT INTO big (id, v) VALUES (1, 'some value that is fairly long to fill the file quickly');\n";
    while sql.len() < 50 * 1024 * 1024 {
        sql.push_str(line);
    }
    let dir = folder(&[("001_big.sql", sql.as_bytes())]);
    let o = run(&["lint", "--format", "gcc", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `--since` lints only what changed (the PR use case) but still replays the whole history:
/// the old migration's findings disappear, the new one is judged against the old tables.
#[test]
fn since_lints_only_changed_migrations() {
    let dir = folder(&[
        ("001_users.sql", USERS),
        (
            "002_old_idx.sql",
            b"CREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "base"]);
    std::fs::write(
        dir.path().join("003_new.sql"),
        "ALTER TABLE users ADD COLUMN n int;\nCREATE INDEX users_n_idx ON users (n);\n",
    )
    .unwrap();
    let o = run(&[
        "lint",
        "--format",
        "json",
        "--since",
        "HEAD",
        dir.path().to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(!paths.is_empty());
    assert!(
        paths.iter().all(|p| p.ends_with("003_new.sql")),
        "{paths:?}"
    );
    // users came from the replayed (unlinted) history: it is an existing table.
    assert!(rules_fired(&v).contains(&"create-index-non-concurrently".to_string()));
    let o = run(&[
        "lint",
        "--since",
        "no-such-ref",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// CONCURRENTLY in a migration the framework runs outside a transaction is clean; the
/// examples contain such migrations for goose (NO TRANSACTION) and diesel (metadata.toml).
#[test]
fn no_transaction_migrations_in_examples_are_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations-examples");
    for (layout, file) in [
        ("goose", "20240301110000_tickets_holder_idx.sql"),
        ("diesel", "2024-02-01-101500_posts_author_idx"),
    ] {
        let (_, v) = lint_json(&root.join(layout));
        let m = v["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"].as_str().unwrap().contains(file) && m["direction"] == "up")
            .unwrap_or_else(|| panic!("{layout}: {file} not linted"));
        assert_eq!(m["in_transaction"], false, "{layout}");
        let concurrently = m["statements"].as_array().unwrap().iter().any(|s| {
            s["operations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["concurrently"] == true)
        });
        assert!(
            concurrently,
            "{layout}: the example builds an index concurrently"
        );
        let bad: Vec<&serde_json::Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["path"].as_str().unwrap().contains(file)
                    && (f["rule"] == "concurrently-in-transaction"
                        || f["rule"] == "create-index-non-concurrently")
            })
            .collect();
        assert!(bad.is_empty(), "{layout}: {bad:?}");
    }
}

/// One `SET lock_timeout` at the top fixes every statement of a script, so the finding is
/// given once, at the first statement that needs it.
#[test]
fn missing_lock_timeout_is_reported_once_per_script() {
    let dir = folder(&[
        ("001_users.sql", USERS),
        (
            "002_alter.sql",
            b"ALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text;\n",
        ),
        (
            "003_guarded.sql",
            b"SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN c text;\n",
        ),
        (
            "004_zero.sql",
            b"SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN d text;\n",
        ),
    ]);
    let (_, v) = lint_json(dir.path());
    let hits: Vec<(String, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "missing-lock-timeout")
        .map(|f| {
            (
                f["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hits,
        vec![
            ("002_alter.sql".to_string(), 1),
            ("004_zero.sql".to_string(), 2)
        ]
    );
}
