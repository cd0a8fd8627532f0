//! Knex front end against knex itself: for every migration of the fixture project, the
//! operations read statically equal those of the SQL knex sends to PostgreSQL.

mod js_orm_support;

use js_orm_support::*;
use lockstep::source::{Layout, load};

#[test]
fn static_reading_equals_what_knex_sends() {
    let dir = fixture("knex", "knex");
    let (_cluster, logged, out) = run_logged(
        &dir,
        &[
            "node_modules/knex/bin/cli.js",
            "migrate:latest",
            "--knexfile",
            "knexfile.js",
        ],
    );
    let bookkeeping = ["knex_migrations", "knex_migrations_lock"];
    let sent = sent_ops(&logged, "knex_migrations", &bookkeeping);
    let read = read_ops(&dir.join("migrations"), Layout::Knex, &bookkeeping);
    assert!(!sent.is_empty(), "nothing captured; knex said:\n{out}");
    assert_same(&read, &sent, 30);
}

#[test]
fn knex_folder_is_detected_and_ordered_by_file_name() {
    let dir = fixture("knex", "knex");
    let loaded = load(&[dir.join("migrations")], None, &[]).expect("load");
    assert_eq!(loaded.layout, Layout::Knex);
    let ids: Vec<&str> = loaded.migrations.iter().map(|m| m.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let concurrent = loaded
        .migrations
        .iter()
        .find(|m| m.id.ends_with("concurrent_index"))
        .expect("concurrent_index migration");
    assert!(
        !concurrent.in_transaction,
        "exports.config = {{ transaction: false }}"
    );
    assert!(
        loaded
            .migrations
            .iter()
            .filter(|m| m.in_transaction)
            .count()
            > 25
    );
}
