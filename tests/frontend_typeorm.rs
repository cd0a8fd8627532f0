//! TypeORM front end against TypeORM itself: for every migration class of the fixture
//! project, the operations read statically equal those of the SQL TypeORM sends.

mod js_orm_support;

use js_orm_support::*;
use lockstep::source::{Layout, load};

#[test]
fn static_reading_equals_what_typeorm_sends() {
    let dir = fixture("typeorm", "typeorm");
    let (_cluster, logged, out) = run_logged(&dir, &["run.js"]);
    let bookkeeping = ["migrations", "typeorm_metadata"];
    let sent = sent_ops(&logged, "migrations", &bookkeeping);
    let read = read_ops(&dir.join("migrations"), Layout::Typeorm, &bookkeeping);
    assert!(!sent.is_empty(), "nothing captured; TypeORM said:\n{out}");
    assert_same(&read, &sent, 30);
}

#[test]
fn typeorm_folder_is_detected_ordered_and_transaction_false_is_read() {
    let dir = fixture("typeorm", "typeorm");
    let loaded = load(&[dir.join("migrations")], None, &[]).expect("load");
    assert_eq!(loaded.layout, Layout::Typeorm);
    let versions: Vec<&str> = loaded
        .migrations
        .iter()
        .map(|m| m.version.as_str())
        .collect();
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(versions, sorted);
    let outside: Vec<&str> = loaded
        .migrations
        .iter()
        .filter(|m| !m.in_transaction)
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(outside, ["ConcurrentIndex", "EnumValue"]);
}
