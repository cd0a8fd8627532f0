//! The bundled ORM examples (migrations-examples/{rails,alembic,knex,typeorm}) are linted
//! like SQL folders: the framework is detected, each DSL call becomes statements, and the
//! findings a user sees point into the host file.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// (rule, file name) of every finding of `lockstep lint <folder> --format json`.
fn findings(folder: &str) -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations-examples");
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(&dir)
        .args(["lint", folder, "--format", "json"])
        .output()
        .expect("run lockstep");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{folder}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap_or_default();
            let file = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (f["rule"].as_str().unwrap_or_default().to_string(), file)
        })
        .collect()
}

fn has(found: &BTreeSet<(String, String)>, rule: &str, file: &str) -> bool {
    found.contains(&(rule.to_string(), file.to_string()))
}

#[test]
fn rails_add_index_without_concurrently_is_reported_in_the_ruby_file() {
    let f = findings("rails");
    assert!(has(
        &f,
        "create-index-non-concurrently",
        "20240101000800_add_index_to_users_email.rb"
    ));
    // algorithm: :concurrently with disable_ddl_transaction! is the safe form.
    for rule in [
        "create-index-non-concurrently",
        "concurrently-in-transaction",
    ] {
        assert!(
            !has(&f, rule, "20240101000900_add_index_concurrently.rb"),
            "{f:?}"
        );
    }
    assert!(has(
        &f,
        "concurrently-in-transaction",
        "20240101001000_concurrent_index_in_transaction.rb"
    ));
}

#[test]
fn alembic_index_of_a_table_created_by_the_same_call_is_not_a_hazard() {
    let f = findings("alembic");
    // op.create_table(..., Column(..., index=True)): the index is built on an empty table.
    assert!(
        !has(&f, "create-index-non-concurrently", "a002_create_posts.py"),
        "{f:?}"
    );
    // A concurrent build inside autocommit_block() is the safe form.
    for rule in [
        "create-index-non-concurrently",
        "concurrently-in-transaction",
    ] {
        assert!(!has(&f, rule, "a008_concurrent_index.py"), "{f:?}");
    }
    // The foreign key to the existing users table is still seen.
    assert!(
        has(&f, "missing-lock-timeout", "a002_create_posts.py"),
        "{f:?}"
    );
}

#[test]
fn knex_and_typeorm_index_builds_are_reported() {
    let k = findings("knex");
    assert!(
        has(
            &k,
            "create-index-non-concurrently",
            "20240101000004_index_users_name.js"
        ),
        "{k:?}"
    );
    let t = findings("typeorm");
    assert!(
        has(
            &t,
            "create-index-non-concurrently",
            "1700000000005-IndexPhotoUser.ts"
        ),
        "{t:?}"
    );
}

#[test]
fn a_down_the_reader_cannot_follow_is_not_judged_by_the_rollback_check() {
    // The down calls an application helper: what it does is only known when it runs, so
    // "widgets still exists after down" would be a guess.
    let dir = tempfile::tempdir().expect("tempdir");
    let migrate = dir.path().join("db/migrate");
    std::fs::create_dir_all(&migrate).expect("mkdir");
    std::fs::write(
        migrate.join("20240101000000_create_widgets.rb"),
        "class CreateWidgets < ActiveRecord::Migration[7.1]\n  def up\n    create_table :widgets do |t|\n      t.string :name\n    end\n  end\n\n  def down\n    drop_everything_for :widgets\n  end\nend\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["lint", "--format", "json"])
        .arg(&migrate)
        .output()
        .expect("run lockstep");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(!rules.contains(&"down-does-not-restore"), "{rules:?}");
    assert_eq!(
        json["migrations"].as_array().map(|m| m.len()),
        Some(2),
        "up and down read"
    );
}
