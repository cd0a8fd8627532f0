//! Rollback safety: missing and empty down scripts, down scripts that do not restore the
//! schema (with the exact difference and the SQL that fixes it), irreversible changes, and
//! the dependency rules that catch a down script failing halfway — on small folders built
//! in temp dirs and on migrations-examples/.

use lockstep::analyze::{Analysis, analyze};
use lockstep::rules::{Category, ExampleScope, Finding, metas};
use lockstep::settings::Settings;
use lockstep::source::{self, Layout};
use std::path::{Path, PathBuf};

/// Writes `files` (name, content) into a fresh temp dir.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
    dir
}

/// Loads and analyses a folder; with `only_last`, lints only the last migration.
fn lint_dir(dir: &Path, layout: Option<Layout>, only_last: bool) -> Analysis {
    let loaded = source::load(&[dir.to_path_buf()], layout, &[]).expect("folder loads");
    let last = loaded.migrations.len().saturating_sub(1);
    analyze(&loaded.migrations, &Settings::default(), &|m| {
        !only_last || m.order == last
    })
}

fn of<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

fn messages(a: &Analysis, rule: &str) -> Vec<String> {
    of(a, rule).iter().map(|f| f.message.clone()).collect()
}

const ROLLBACK_RULES: &[&str] = &[
    "missing-down",
    "empty-down",
    "down-does-not-restore",
    "irreversible-change",
];

fn rollback_findings(a: &Analysis) -> Vec<String> {
    a.findings
        .iter()
        .filter(|f| ROLLBACK_RULES.contains(&f.rule.as_str()) && f.rule != "irreversible-change")
        .map(|f| format!("{}: {}: {}", f.rule, f.path.display(), f.message))
        .collect()
}

#[test]
fn documented_folder_examples_fire_on_bad_and_not_on_good() {
    let mut checked = 0;
    for (_, meta) in metas() {
        if meta.example_scope != ExampleScope::Folder || !meta.bad.contains("-- migrate:up") {
            continue;
        }
        assert_eq!(meta.category, Category::Rollback, "{}", meta.id);
        for (which, example, fires) in [("bad", &meta.bad, true), ("good", &meta.good, false)] {
            // The setup gets a down section so the folder is one that keeps down scripts.
            let setup = format!(
                "-- migrate:up\n{}\n-- migrate:down\nSELECT 1;\n",
                meta.setup
            );
            let dir = folder(&[
                ("db/migrations/20240101000000_setup.sql", setup.as_str()),
                ("db/migrations/20240102000000_example.sql", example.as_str()),
            ]);
            let a = lint_dir(
                &dir.path().join("db/migrations"),
                Some(Layout::Dbmate),
                true,
            );
            let hits = messages(&a, &meta.id);
            assert_eq!(
                !hits.is_empty(),
                fires,
                "{} {which} example: {:?}\nall findings: {:?}",
                meta.id,
                hits,
                a.findings
                    .iter()
                    .map(|f| (&f.rule, &f.message))
                    .collect::<Vec<_>>()
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked, 3,
        "missing-down, empty-down and down-does-not-restore have dbmate examples"
    );
}

#[test]
fn a_correct_down_passes() {
    let dir = folder(&[
        (
            "m/000001_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
        ),
        ("m/000001_users.down.sql", "DROP TABLE users;\n"),
        (
            "m/000002_status.up.sql",
            "ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active';\n\
             ALTER TABLE users ALTER COLUMN email DROP NOT NULL;\n\
             CREATE INDEX CONCURRENTLY users_status_idx ON users (status);\n",
        ),
        (
            "m/000002_status.down.sql",
            "DROP INDEX CONCURRENTLY IF EXISTS users_status_idx;\n\
             ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n\
             ALTER TABLE users DROP COLUMN status;\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::GolangMigrate), false);
    assert_eq!(rollback_findings(&a), Vec::<String>::new());
}

#[test]
fn a_wrong_down_shows_the_exact_difference_and_the_fix() {
    let dir = folder(&[
        (
            "m/000001_orders.up.sql",
            "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, total numeric(10,2));\n\
             CREATE INDEX orders_user_id_idx ON orders (user_id);\n",
        ),
        ("m/000001_orders.down.sql", "DROP TABLE orders;\n"),
        (
            "m/000002_rework.up.sql",
            "DROP INDEX orders_user_id_idx;\n\
             ALTER TABLE orders ADD COLUMN status text;\n\
             ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);\n\
             ALTER TABLE orders ALTER COLUMN user_id DROP NOT NULL;\n",
        ),
        (
            // Forgets the index, the column and the nullability; restores the type.
            "m/000002_rework.down.sql",
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(10,2);\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::GolangMigrate), true);
    // One finding on the down script, listing every difference (issue 11).
    let expanded = lockstep::rules::expand_notes(&a.findings);
    let f: Vec<&Finding> = expanded
        .iter()
        .filter(|f| f.rule == "down-does-not-restore")
        .collect();
    assert_eq!(of(&a, "down-does-not-restore").len(), 1);
    let msgs: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec![
            "after down, orders.user_id is nullable (was NOT NULL)",
            "after down, orders.status still exists",
            "after down, index orders_user_id_idx on orders is missing",
        ]
    );
    assert!(f.iter().all(|f| f.path.ends_with("000002_rework.down.sql")));
    // The one finding's help gives each difference's fix.
    let help = of(&a, "down-does-not-restore")[0]
        .help
        .clone()
        .unwrap_or_default();
    for fix in [
        "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;",
        "ALTER TABLE orders DROP COLUMN status;",
        "CREATE INDEX orders_user_id_idx ON orders (user_id);",
    ] {
        assert!(help.contains(fix), "{fix} in {help}");
    }
}

#[test]
fn missing_down_suggests_the_down_script() {
    let dir = folder(&[
        (
            "m/000001_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY);\n",
        ),
        ("m/000001_users.down.sql", "DROP TABLE users;\n"),
        (
            "m/000002_orders.up.sql",
            "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n\
             CREATE INDEX orders_user_id_idx ON orders (user_id);\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::GolangMigrate), false);
    let f = of(&a, "missing-down");
    assert_eq!(f.len(), 1, "{:?}", rollback_findings(&a));
    assert!(f[0].path.ends_with("000002_orders.up.sql"));
    assert!(f[0].message.contains("000002_orders"), "{}", f[0].message);
    let help = f[0].help.as_deref().unwrap_or_default();
    assert!(help.contains("DROP TABLE orders;"), "{help}");
}

#[test]
fn folders_without_any_down_script_are_forward_only() {
    let dir = folder(&[
        (
            "m/0001_users.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY);\n",
        ),
        (
            "m/0002_email.sql",
            "ALTER TABLE users ADD COLUMN email text;\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::Plain), false);
    assert!(
        of(&a, "missing-down").is_empty(),
        "{:?}",
        rollback_findings(&a)
    );
}

#[test]
fn diesel_placeholder_down_is_empty() {
    let dir = folder(&[
        (
            "migrations/2024-01-01-000000_users/up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
        ),
        (
            "migrations/2024-01-01-000000_users/down.sql",
            "DROP TABLE users;\n",
        ),
        (
            "migrations/2024-01-02-000000_email_idx/up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
        (
            "migrations/2024-01-02-000000_email_idx/down.sql",
            "-- This file should undo anything in `up.sql`\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("migrations"), Some(Layout::Diesel), false);
    let f = of(&a, "empty-down");
    assert_eq!(f.len(), 1, "{:?}", rollback_findings(&a));
    assert!(f[0].path.ends_with("2024-01-02-000000_email_idx/down.sql"));
    assert!(
        f[0].help
            .as_deref()
            .unwrap_or_default()
            .contains("DROP INDEX users_email_idx;")
    );
    // An empty down is reported once, not also as a difference per object.
    assert!(of(&a, "down-does-not-restore").is_empty());
}

#[test]
fn irreversible_change_says_what_the_down_cannot_bring_back() {
    let dir = folder(&[
        (
            "m/000001_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, legacy boolean, price numeric(10,4));\n",
        ),
        ("m/000001_users.down.sql", "DROP TABLE users;\n"),
        (
            "m/000002_cleanup.up.sql",
            "ALTER TABLE users DROP COLUMN legacy;\nALTER TABLE users ALTER COLUMN price TYPE numeric(10,2);\n",
        ),
        (
            "m/000002_cleanup.down.sql",
            "ALTER TABLE users ALTER COLUMN price TYPE numeric(10,4);\nALTER TABLE users ADD COLUMN legacy boolean;\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::GolangMigrate), true);
    let msgs = messages(&a, "irreversible-change");
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].contains("users.legacy")
            && msgs[0].contains("down script can restore the column but not the data"),
        "{msgs:?}"
    );
    assert!(msgs[1].contains("rounded to 2 decimal places"), "{msgs:?}");
    // The down restores the schema itself.
    assert!(
        of(&a, "down-does-not-restore").is_empty(),
        "{:?}",
        rollback_findings(&a)
    );
}

#[test]
fn down_dropping_the_parent_first_is_caught_before_it_fails() {
    let dir = folder(&[
        (
            "m/000001_shop.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY);\n\
             CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n",
        ),
        (
            "m/000001_shop.down.sql",
            "DROP TABLE users;\nDROP TABLE orders;\n",
        ),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::GolangMigrate), false);
    let f = of(&a, "drop-referenced-table");
    assert_eq!(
        f.len(),
        1,
        "{:?}",
        a.findings.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    assert_eq!(
        f[0].message,
        "DROP TABLE users fails: foreign key orders.orders_user_id_fkey depends on it"
    );
    assert!(f[0].path.ends_with("000001_shop.down.sql"));
}

#[test]
fn unparsed_statements_keep_the_comparison_quiet() {
    let dir = folder(&[
        (
            "m/000001_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY);\n",
        ),
        ("m/000001_users.down.sql", "DROP TABLE users;\n"),
        (
            "m/000002_x.up.sql",
            "ALTER TABLE users ADD COLUMN status text;\n",
        ),
        ("m/000002_x.down.sql", "THIS IS NOT SQL users status;\n"),
    ]);
    let a = lint_dir(&dir.path().join("m"), Some(Layout::GolangMigrate), true);
    assert!(
        of(&a, "down-does-not-restore").is_empty(),
        "{:?}",
        rollback_findings(&a)
    );
    assert!(
        of(&a, "empty-down").is_empty(),
        "{:?}",
        rollback_findings(&a)
    );
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations-examples")
}

#[test]
fn example_folders_with_down_scripts_roll_back_cleanly() {
    for (name, layout) in [
        ("diesel", Layout::Diesel),
        ("golang-migrate", Layout::GolangMigrate),
    ] {
        let dir = examples().join(name);
        if !dir.is_dir() {
            continue;
        }
        let a = lint_dir(&dir, Some(layout), false);
        assert_eq!(rollback_findings(&a), Vec::<String>::new(), "{name}");
    }
}
