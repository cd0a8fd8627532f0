//! Each layout's apply order against the framework's own rule, on the bundled example
//! folders and on mixed-width versions where a string sort and a numeric sort disagree.
//! The expected orders are written from each tool's comparison: diesel, prisma, pop and
//! dbmate compare version strings (or directory names); golang-migrate (uint), goose
//! (int64), sqlx (i64) and the V0001 layout parse integers; flyway compares dotted parts
//! numerically; Atlas sorts file names; drizzle, sqitch and temporal follow their
//! journal, plan and manifests.

use lockstep::source::{Layout, Loaded, load};
use std::fs;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations-examples")
        .join(name)
}

fn load_dir(dir: &Path, layout: Option<Layout>) -> Loaded {
    match load(&[dir.to_path_buf()], layout, &[]) {
        Ok(loaded) => loaded,
        Err(e) => panic!("loading {}: {e}", dir.display()),
    }
}

fn ids(loaded: &Loaded) -> Vec<&str> {
    loaded.migrations.iter().map(|m| m.id.as_str()).collect()
}

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, text) in files {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn pop_takes_the_postgres_variant_and_compares_version_strings() {
    let l = load_dir(&example("pop"), None);
    assert_eq!(l.layout, Layout::Pop);
    // 2019010100000000 (16 digits) sorts before 20200101000000 (14) as a string;
    // a numeric sort would put it last.
    assert_eq!(
        ids(&l),
        [
            "2019010100000000_legacy_sessions",
            "20200101000000_identities.postgres",
            "20200102000000_identity_state.postgres",
            "20200103000000_identity_state_idx",
        ]
    );
    // The postgres variant is read, not the mysql or the generic one.
    assert!(l.migrations[1].up.text().contains("jsonb"));
    assert!(l.migrations.iter().all(|m| m.in_transaction));
    let downs: Vec<bool> = l.migrations.iter().map(|m| m.down.is_some()).collect();
    assert_eq!(downs, [true, true, true, true]);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn pop_fizz_files_are_warned_about_not_refused() {
    let t = tree(&[
        ("20220101000000_users.up.fizz", "create_table(\"users\") {}"),
        ("20220101000000_users.down.fizz", "drop_table(\"users\")"),
        ("20220102000000_idx.up.sql", "CREATE INDEX i ON users (id);"),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(l.layout, Layout::Pop);
    assert_eq!(ids(&l), ["20220102000000_idx"]);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("users.up.fizz") && w.contains("not analysed")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn diesel_compares_versions_as_strings() {
    let t = tree(&[
        ("20240101000000_fourteen/up.sql", "SELECT 14;"),
        ("202301010000000000_eighteen/up.sql", "SELECT 18;"),
        ("2024-02-01-000000_dashed/up.sql", "SELECT 1;"),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(l.layout, Layout::Diesel);
    // "202301010000000000" < "20240101000000" < "20240201000000" as strings.
    assert_eq!(
        ids(&l),
        [
            "202301010000000000_eighteen",
            "20240101000000_fourteen",
            "2024-02-01-000000_dashed"
        ]
    );
}

#[test]
fn prisma_sorts_directory_names() {
    let t = tree(&[
        ("migration_lock.toml", "provider = \"postgresql\"\n"),
        ("20240101000000_init/migration.sql", "SELECT 1;"),
        ("3_late/migration.sql", "SELECT 3;"),
        ("10_later/migration.sql", "SELECT 10;"),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(ids(&l), ["10_later", "20240101000000_init", "3_late"]);
}

#[test]
fn dbmate_compares_version_strings() {
    let t = tree(&[
        ("3_b.sql", "-- migrate:up\nSELECT 3;\n"),
        ("20240101000000_a.sql", "-- migrate:up\nSELECT 1;\n"),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(l.layout, Layout::Dbmate);
    assert_eq!(ids(&l), ["20240101000000_a", "3_b"]);
}

#[test]
fn integer_versions_sort_numerically() {
    // golang-migrate parses uint, goose int64, sqlx i64: 3 < 20240101000000.
    let t = tree(&[
        ("20240101000000_a.up.sql", "SELECT 1;"),
        ("3_b.up.sql", "SELECT 3;"),
        ("10_c.up.sql", "SELECT 10;"),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(l.layout, Layout::GolangMigrate);
    assert_eq!(ids(&l), ["3_b", "10_c", "20240101000000_a"]);

    let t = tree(&[
        ("20240101000000_a.sql", "-- +goose Up\nSELECT 1;\n"),
        ("3_b.sql", "-- +goose Up\nSELECT 3;\n"),
    ]);
    assert_eq!(ids(&load_dir(t.path(), None)), ["3_b", "20240101000000_a"]);

    let t = tree(&[
        ("20240101000000_a.sql", "SELECT 1;"),
        ("3_b.sql", "SELECT 3;"),
    ]);
    let l = load_dir(t.path(), Some(Layout::Sqlx));
    assert_eq!(ids(&l), ["3_b", "20240101000000_a"]);
}

#[test]
fn dotted_versions_are_integers() {
    let l = load_dir(&example("dotted"), None);
    assert_eq!(l.layout, Layout::Dotted);
    assert_eq!(
        ids(&l),
        ["V0001.Initial_Schema", "V0002.TOTP", "V10.TOTP_Created_At"]
    );
    assert!(l.migrations.iter().all(|m| m.down.is_some()));
}

#[test]
fn versioned_folders_follow_version_then_manifest() {
    let l = load_dir(&example("versioned-dirs"), None);
    assert_eq!(l.layout, Layout::VersionedDirs);
    assert_eq!(
        ids(&l),
        [
            "v1.0/schema",
            // the manifest lists b before a
            "v1.2/b_queues",
            "v1.2/a_queue_index",
            // no manifest: name order
            "v1.9/add_namespace_data",
            "v1.9/add_namespace_encoding",
            // 1.10 after 1.9 (a string sort would put it second)
            "v1.10/queue_metadata",
        ]
    );
    assert!(l.migrations.iter().all(|m| !m.in_transaction));
}

#[test]
fn drizzle_follows_the_journal_not_file_names() {
    let l = load_dir(&example("drizzle"), None);
    assert_eq!(l.layout, Layout::Drizzle);
    assert_eq!(
        ids(&l),
        ["0000_init", "0001_posts", "0002_posts_author_idx"]
    );

    let journal = r#"{"dialect":"postgresql","entries":[
        {"idx":0,"tag":"0001_second"},{"idx":1,"tag":"0000_first"}]}"#;
    let t = tree(&[
        ("meta/_journal.json", journal),
        ("0000_first.sql", "SELECT 0;"),
        ("0001_second.sql", "SELECT 1;"),
        ("0002_unlisted.sql", "SELECT 2;"),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(ids(&l), ["0001_second", "0000_first"]);
    assert!(
        l.notes.iter().any(|n| n.contains("0002_unlisted.sql")),
        "{:?}",
        l.notes
    );
}

#[test]
fn liquibase_changesets_in_file_then_changeset_order() {
    let l = load_dir(&example("liquibase"), None);
    assert_eq!(l.layout, Layout::Liquibase);
    assert_eq!(ids(&l), ["ana:1", "ana:3", "ben:accounts-email-idx"]);
    let tx: Vec<bool> = l.migrations.iter().map(|m| m.in_transaction).collect();
    assert_eq!(tx, [true, true, false]);
    // The changeset line is not part of the script; the rollback is a comment in it.
    assert!(
        l.migrations[0]
            .up
            .text()
            .starts_with("CREATE TABLE accounts")
    );
    assert!(l.notes.iter().any(|n| n.contains("ana:2")), "{:?}", l.notes);
}

#[test]
fn sqitch_follows_the_plan_with_reworked_scripts() {
    let l = load_dir(&example("sqitch"), None);
    assert_eq!(l.layout, Layout::Sqitch);
    assert_eq!(ids(&l), ["appschema", "users@v1.0", "flips", "users"]);
    assert!(
        l.migrations[1]
            .up
            .text()
            .contains("CREATE TABLE flipr.users")
    );
    assert!(l.migrations[3].up.text().contains("display_name"));
    assert!(
        l.migrations
            .iter()
            .all(|m| m.down.is_some() && !m.in_transaction)
    );
}

#[test]
fn atlas_sorts_file_names_and_reads_txmode() {
    let l = load_dir(&example("atlas"), None);
    assert_eq!(l.layout, Layout::Atlas);
    assert_eq!(
        ids(&l),
        ["20240101000000_init", "20240102000000_orders_total_idx"]
    );
    let tx: Vec<bool> = l.migrations.iter().map(|m| m.in_transaction).collect();
    assert_eq!(tx, [true, false]);

    let t = tree(&[
        ("atlas.sum", "h1:x\n"),
        ("3_b.sql", "SELECT 3;"),
        ("20240101000000_a.sql", "SELECT 1;"),
    ]);
    assert_eq!(ids(&load_dir(t.path(), None)), ["20240101000000_a", "3_b"]);
}

#[test]
fn unknown_folders_are_read_in_path_order_with_a_warning() {
    let l = load_dir(&example("folder"), None);
    assert_eq!(l.layout, Layout::Folder);
    assert_eq!(ids(&l), ["schema", "seed/countries", "views"]);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("layout `folder`") && w.contains("--layout")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn flyway_parts_compare_numerically() {
    let t = tree(&[
        ("V1.10__c.sql", "SELECT 1;"),
        ("V1.9__b.sql", "SELECT 1;"),
        ("V1__a.sql", "SELECT 1;"),
    ]);
    assert_eq!(
        ids(&load_dir(t.path(), None)),
        ["V1__a", "V1.9__b", "V1.10__c"]
    );
}

#[test]
fn liquibase_master_changelog_decides_the_order() {
    // The master lists 2.2 before 2.2.1; a path sort would run 2.2.1 first. Files in
    // sub-folders are found through it; a file it does not include is not run.
    let master = "databaseChangeLog:\n  - include:\n      file: db/changelog/v2.2.sql\n  \
                  - include:\n      file: db/changelog/v2.2.1.sql\n  - includeAll:\n      \
                  path: db/changelog/later/\n";
    let header = "--liquibase formatted sql\n";
    let t = tree(&[
        ("changelog-master.yaml", master),
        (
            "v2.2.sql",
            &format!("{header}--changeset a:1\nSELECT 22;\n"),
        ),
        (
            "v2.2.1.sql",
            &format!("{header}--changeset a:2\nSELECT 221;\n"),
        ),
        (
            "later/b.sql",
            &format!("{header}--changeset a:4\nSELECT 4;\n"),
        ),
        (
            "later/a.sql",
            &format!("{header}--changeset a:3\nSELECT 3;\n"),
        ),
        (
            "unused.sql",
            &format!("{header}--changeset a:9\nSELECT 9;\n"),
        ),
    ]);
    let l = load_dir(t.path(), None);
    assert_eq!(l.layout, Layout::Liquibase);
    assert_eq!(ids(&l), ["a:1", "a:2", "a:3", "a:4"]);
    assert!(
        l.notes.iter().any(|n| n.contains("unused.sql")),
        "{:?}",
        l.notes
    );
}
