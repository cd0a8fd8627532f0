//! History integrity through the command line: `lockstep lock` writes lockstep.lock, and
//! `lockstep lint` then reports edited (with a diff against git), removed, renamed and
//! out-of-order migrations — and stays quiet when nothing changed.

use std::path::Path;
use std::process::{Command, Output};

fn lockstep(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("lockstep runs")
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// findings of the history rules as (rule, message, help) from `lint --format json`.
fn history(dir: &Path) -> Vec<(String, String, String)> {
    let out = lockstep(dir, &["lint", "--format", "json", "db/migrations"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "json: {e}\n{}\n{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            matches!(
                f["rule"].as_str(),
                Some("edited-migration" | "removed-migration" | "out-of-order-migration")
            )
        })
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
                f["help"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n";
const ORDERS: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL);\n";

/// A git repository with two plain migrations, committed and locked.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let m = dir.path().join("db/migrations");
    std::fs::create_dir_all(&m).expect("mkdir");
    std::fs::write(m.join("0001_users.sql"), USERS).expect("write");
    std::fs::write(m.join("0003_orders.sql"), ORDERS).expect("write");
    git(dir.path(), &["init", "-q"]);
    let out = lockstep(dir.path(), &["lock", "db/migrations"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("recorded 2"), "{}", stdout(&out));
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "init"]);
    dir
}

#[test]
fn lock_file_sits_beside_the_migrations_folder_and_lint_is_quiet() {
    let dir = project();
    let lock =
        std::fs::read_to_string(dir.path().join("db/lockstep.lock")).expect("db/lockstep.lock");
    assert!(lock.contains("id: 0001_users"), "{lock}");
    assert!(lock.contains("path: migrations/0003_orders.sql"), "{lock}");
    assert_eq!(history(dir.path()), vec![]);
}

#[test]
fn line_endings_and_trailing_spaces_are_not_edits() {
    let dir = project();
    let crlf = USERS.replace('\n', "  \r\n") + "\r\n";
    std::fs::write(dir.path().join("db/migrations/0001_users.sql"), crlf).expect("write");
    assert_eq!(history(dir.path()), vec![]);
}

#[test]
fn an_edited_recorded_migration_shows_the_diff() {
    let dir = project();
    std::fs::write(
        dir.path().join("db/migrations/0001_users.sql"),
        USERS.replace("email text", "email citext"),
    )
    .expect("write");
    let h = history(dir.path());
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, "edited-migration");
    assert!(
        h[0].1.contains("migration 0001_users was edited"),
        "{}",
        h[0].1
    );
    let help = &h[0].2;
    assert!(
        help.contains("-CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);"),
        "{help}"
    );
    assert!(
        help.contains("+CREATE TABLE users (id bigint PRIMARY KEY, email citext NOT NULL);"),
        "{help}"
    );
    assert!(help.contains("(HEAD)"), "{help}");
    // Exit 1: an edit is an error.
    let out = lockstep(dir.path(), &["lint", "db/migrations"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("edited-migration"),
        "{}",
        stdout(&out)
    );

    // Committing the edit does not hide it: the diff is against the recorded commit.
    git(dir.path(), &["commit", "-q", "-am", "edit"]);
    let h = history(dir.path());
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(
        h[0].2
            .contains("-CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);"),
        "{}",
        h[0].2
    );

    // Re-recording accepts the edit.
    let out = lockstep(dir.path(), &["lock", "db/migrations"]);
    assert!(stdout(&out).contains("1 updated"), "{}", stdout(&out));
    assert_eq!(history(dir.path()), vec![]);
}

#[test]
fn a_new_migration_older_than_the_newest_recorded_is_out_of_order() {
    let dir = project();
    std::fs::write(
        dir.path().join("db/migrations/0002_email_idx.sql"),
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("db/migrations/0004_later.sql"),
        "ALTER TABLE orders ADD COLUMN note text;\n",
    )
    .expect("write");
    let h = history(dir.path());
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, "out-of-order-migration");
    assert_eq!(
        h[0].1,
        "new migration 0002_email_idx sorts before 0003_orders, the newest recorded migration"
    );
}

#[test]
fn removed_and_renamed_migrations_are_reported() {
    let dir = project();
    let m = dir.path().join("db/migrations");
    std::fs::rename(m.join("0003_orders.sql"), m.join("0003_create_orders.sql")).expect("rename");
    let h = history(dir.path());
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, "removed-migration");
    assert!(
        h[0].1
            .contains("0003_orders was renamed to 0003_create_orders"),
        "{}",
        h[0].1
    );

    std::fs::remove_file(m.join("0003_create_orders.sql")).expect("rm");
    let h = history(dir.path());
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(
        h[0].1,
        "recorded migration 0003_orders (migrations/0003_orders.sql) no longer exists"
    );
}

#[test]
fn with_a_config_the_lock_file_sits_beside_it() {
    let dir = project();
    std::fs::write(
        dir.path().join("lockstep.yaml"),
        "migrations: db/migrations\n",
    )
    .expect("write");
    let out = lockstep(dir.path(), &["lock"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock = std::fs::read_to_string(dir.path().join("lockstep.lock")).expect("lockstep.lock");
    assert!(
        lock.contains("path: db/migrations/0001_users.sql"),
        "{lock}"
    );
}

#[test]
fn a_broken_lock_file_is_an_error_not_silence() {
    let dir = project();
    std::fs::write(
        dir.path().join("db/lockstep.lock"),
        "version: 7\nmigrations: []\n",
    )
    .expect("write");
    let out = lockstep(dir.path(), &["lint", "db/migrations"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("format version 7"));
}
