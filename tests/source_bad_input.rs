//! Hostile and odd folders: never a panic, never a silent skip of a file the framework
//! would run, and a message with the path. Library-level (fast); the command-line
//! behaviour is in `source_cli.rs`.

use lockstep::source::{Layout, load};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

#[test]
fn two_layouts_in_one_folder_are_named_in_a_warning() {
    let t = tempfile::tempdir().expect("tmp");
    write(
        t.path(),
        "20240101000000_a.sql",
        "-- +goose Up\nSELECT 1;\n",
    );
    write(
        t.path(),
        "20240102000000_b.sql",
        "-- +goose Up\nSELECT 2;\n",
    );
    write(t.path(), "V3__flyway.sql", "SELECT 3;\n");
    let l = load(&[t.path().to_path_buf()], None, &[]).expect("loads");
    assert_eq!(l.layout, Layout::Goose);
    let w = l.warnings.join("\n");
    assert!(w.contains("two layouts in one folder"), "{w}");
    assert!(w.contains("flyway") && w.contains("goose"), "{w}");
    // The flyway file is not silently dropped: a note names it.
    assert!(
        l.notes.iter().any(|n| n.contains("V3__flyway.sql")),
        "{:?}",
        l.notes
    );
}

#[test]
fn mixed_dialect_variants_read_only_postgres() {
    let t = tempfile::tempdir().expect("tmp");
    write(
        t.path(),
        "1_a.mysql.up.sql",
        "CREATE TABLE a (id int) ENGINE=InnoDB;",
    );
    write(
        t.path(),
        "1_a.sqlite3.up.sql",
        "CREATE TABLE a (id INTEGER);",
    );
    write(t.path(), "1_a.postgres.up.sql", "CREATE TABLE a (id int);");
    write(
        t.path(),
        "2_b.cockroach.up.sql",
        "CREATE TABLE b (id INT8);",
    );
    write(t.path(), "2_b.up.sql", "CREATE TABLE b (id bigint);");
    let l = load(&[t.path().to_path_buf()], None, &[]).expect("loads");
    assert_eq!(l.layout, Layout::Pop);
    let texts: Vec<&str> = l.migrations.iter().map(|m| m.up.text()).collect();
    assert_eq!(
        texts,
        ["CREATE TABLE a (id int);", "CREATE TABLE b (id bigint);"]
    );
    // Each variant left out is named.
    for f in [
        "1_a.mysql.up.sql",
        "1_a.sqlite3.up.sql",
        "2_b.cockroach.up.sql",
    ] {
        assert!(l.notes.iter().any(|n| n.contains(f)), "{f}: {:?}", l.notes);
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_a_warning_and_the_rest_is_read() {
    let t = tempfile::tempdir().expect("tmp");
    write(t.path(), "001_a.sql", "SELECT 1;");
    write(t.path(), "sub/002_b.sql", "SELECT 2;");
    std::os::unix::fs::symlink(t.path(), t.path().join("sub/loop")).expect("symlink");
    let l = load(&[t.path().to_path_buf()], Some(Layout::Folder), &[]).expect("loads");
    assert_eq!(
        l.migrations.len(),
        2,
        "{:?}",
        l.migrations.iter().map(|m| &m.id).collect::<Vec<_>>()
    );
    let w = l.warnings.join("\n");
    assert!(
        w.contains("symbolic link loop") && w.contains("loop"),
        "{w}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_in_a_folder_is_reported_and_never_opened() {
    let t = tempfile::tempdir().expect("tmp");
    write(t.path(), "001_a.sql", "SELECT 1;");
    let fifo = t.path().join("002_b.sql");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let started = Instant::now();
    let l = load(&[t.path().to_path_buf()], None, &[]).expect("loads");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(l.migrations.len(), 1);
    let w = l.warnings.join("\n");
    assert!(w.contains("002_b.sql") && w.contains("FIFO"), "{w}");

    // Named on the command line: an error (exit 2 in the CLI), not a hang.
    let err = load(std::slice::from_ref(&fifo), None, &[]).expect_err("a FIFO is not a migration");
    assert!(err.to_string().contains("FIFO"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_non_utf8_file_name_is_reported_with_its_path() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().expect("tmp");
    write(t.path(), "001_a.sql", "SELECT 1;");
    let name = std::ffi::OsStr::from_bytes(b"002_caf\xe9.sql");
    fs::write(t.path().join(name), "SELECT 2;").expect("write");
    let l = load(&[t.path().to_path_buf()], None, &[]).expect("loads");
    assert_eq!(l.migrations.len(), 1);
    let w = l.warnings.join("\n");
    assert!(
        w.contains("002_caf") && w.contains("not valid UTF-8"),
        "{w}"
    );
}

#[test]
fn twenty_thousand_files_load_quickly_in_order() {
    let t = tempfile::tempdir().expect("tmp");
    for i in (1..=20_000).rev() {
        fs::write(
            t.path().join(format!("{i}_m.up.sql")),
            format!("SELECT {i};"),
        )
        .expect("write");
    }
    let started = Instant::now();
    let l = load(&[t.path().to_path_buf()], None, &[]).expect("loads");
    let took = started.elapsed();
    assert_eq!(l.migrations.len(), 20_000);
    assert_eq!(l.migrations[0].id, "1_m");
    assert_eq!(l.migrations[9].id, "10_m");
    assert_eq!(l.migrations[19_999].id, "20000_m");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_folder_of_unnumbered_sql_is_read_not_refused() {
    let t = tempfile::tempdir().expect("tmp");
    write(t.path(), "tables.sql", "CREATE TABLE t (id int);");
    write(t.path(), "indexes.sql", "CREATE INDEX i ON t (id);");
    let l = load(&[t.path().to_path_buf()], None, &[]).expect("not refused");
    assert_eq!(l.layout, Layout::Folder);
    let ids: Vec<&str> = l.migrations.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["indexes", "tables"]);
    assert!(
        l.warnings.iter().any(|w| w.contains("--layout")),
        "{:?}",
        l.warnings
    );
}
