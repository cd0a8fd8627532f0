//! `lockstep lint` on what users name: a file whatever its name, several files, stdin
//! with `--layout`, several folders (several histories), a repository root.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn lockstep(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockstep runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("lockstep ends")
}

/// The up migrations of a JSON report, as (id, path).
fn ups(out: &Output) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report: {e}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter(|m| m["direction"] == "up")
        .map(|m| {
            (
                m["id"].as_str().unwrap_or("").to_string(),
                m["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[test]
fn a_file_named_on_the_command_line_is_linted_whatever_its_name() {
    let t = tempfile::tempdir().expect("tmp");
    write(
        t.path(),
        "add_index.sql",
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    for extra in [
        &[][..],
        &["--layout", "plain"][..],
        &["--layout", "sqlx"][..],
    ] {
        let mut args = vec!["lint", "--format", "json", "add_index.sql"];
        args.extend_from_slice(extra);
        let out = lockstep(t.path(), &args, None);
        assert!(
            code(&out) == 0 || code(&out) == 1,
            "{extra:?}: exit {}: {}",
            code(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        let ups = ups(&out);
        assert_eq!(ups.len(), 1, "{extra:?}");
        assert_eq!(ups[0].0, "add_index", "{extra:?}");
    }
}

#[test]
fn several_files_are_one_history_in_the_order_given() {
    let t = tempfile::tempdir().expect("tmp");
    write(t.path(), "b.sql", "CREATE TABLE b (id int);\n");
    write(t.path(), "a.sql", "CREATE TABLE a (id int);\n");
    let out = lockstep(
        t.path(),
        &["lint", "--format", "json", "b.sql", "a.sql"],
        None,
    );
    let ids: Vec<String> = ups(&out).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["b", "a"]);
}

#[test]
fn stdin_honours_layout() {
    let t = tempfile::tempdir().expect("tmp");
    let goose = "-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n";
    let out = lockstep(
        t.path(),
        &["lint", "--format", "json", "--layout", "goose", "-"],
        Some(goose),
    );
    assert!(
        code(&out) == 0 || code(&out) == 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["settings"]["layout"], "goose");
    let migrations = v["migrations"].as_array().expect("migrations");
    // The up section is the up script; the down section is the down script, not up text.
    let up = migrations
        .iter()
        .find(|m| m["direction"] == "up")
        .expect("up");
    assert_eq!(up["statements"].as_array().map(Vec::len), Some(1));
    assert!(migrations.iter().any(|m| m["direction"] == "down"));
}

#[test]
fn several_folders_are_several_histories() {
    let t = tempfile::tempdir().expect("tmp");
    write(
        t.path(),
        "billing/002_invoices.sql",
        "CREATE TABLE invoices (id int);\n",
    );
    write(
        t.path(),
        "billing/001_init.sql",
        "CREATE TABLE accounts (id int);\n",
    );
    write(
        t.path(),
        "auth/001_init.sql",
        "CREATE TABLE users (id int);\n",
    );
    let out = lockstep(
        t.path(),
        &["lint", "--format", "json", "billing", "auth"],
        None,
    );
    assert!(
        code(&out) == 0 || code(&out) == 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: Vec<String> = ups(&out).into_iter().map(|(_, p)| p).collect();
    // Each folder in its own order, folders in the order given; merged into one history
    // auth/001 would sort before billing/002 and `001` would be a duplicate version.
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(paths[0].ends_with("billing/001_init.sql"), "{paths:?}");
    assert!(paths[1].ends_with("billing/002_invoices.sql"), "{paths:?}");
    assert!(paths[2].ends_with("auth/001_init.sql"), "{paths:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("duplicate-version"), "{stderr}");
}

#[test]
fn a_repository_root_finds_its_migration_folders() {
    let t = tempfile::tempdir().expect("tmp");
    write(t.path(), "README.md", "# app\n");
    write(
        t.path(),
        "services/api/migrations/001_users.sql",
        "CREATE TABLE users (id int);\n",
    );
    write(
        t.path(),
        "services/worker/migrations/2024-01-01-000000_jobs/up.sql",
        "CREATE TABLE jobs (id int);\n",
    );
    write(
        t.path(),
        "node_modules/pkg/migrations/001_x.sql",
        "CREATE TABLE x (id int);\n",
    );
    write(
        t.path(),
        "vendor/lib/migrations/001_y.sql",
        "CREATE TABLE y (id int);\n",
    );
    write(
        t.path(),
        "db/mysql/001_z.sql",
        "CREATE TABLE z (id int) ENGINE=InnoDB;\n",
    );
    let out = lockstep(t.path(), &["lint", "--format", "json", "."], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(code(&out) == 0 || code(&out) == 1, "{stderr}");
    assert!(stderr.contains("found 2 migration folder(s)"), "{stderr}");
    assert!(stderr.contains("services/api/migrations"), "{stderr}");
    assert!(stderr.contains("services/worker/migrations"), "{stderr}");
    assert!(stderr.contains("db/mysql"), "{stderr}");
    let paths: Vec<String> = ups(&out).into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("node_modules") && !p.contains("vendor"))
    );
}

#[test]
fn only_a_missing_or_unreadable_path_exits_2() {
    let t = tempfile::tempdir().expect("tmp");
    let out = lockstep(t.path(), &["lint", "nope"], None);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));

    write(t.path(), "odd/schema.sql", "CREATE TABLE t (id int);\n");
    let out = lockstep(t.path(), &["lint", "odd"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(code(&out) == 0 || code(&out) == 1, "{stderr}");
    assert!(stderr.contains("layout `folder`"), "{stderr}");
}
