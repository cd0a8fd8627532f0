//! `lockstep apply PLAN.yaml` on a real server: it stops at each deploy point (exit 3),
//! a second call resumes after it, old and new application writes succeed throughout, and
//! the end state is the migration's.

mod plan_support;

use plan_support::*;
use std::process::{Command, Output};

const ORDERS: &str = "CREATE TABLE orders (id bigserial PRIMARY KEY, total integer NOT NULL);";
const ORDERS_MIGRATION: &str = "ALTER TABLE orders ADD COLUMN total_cents bigint;\n\
     UPDATE orders SET total_cents = total * 100;\n\
     ALTER TABLE orders ALTER COLUMN total_cents SET NOT NULL;";

fn apply(url: &str, plan: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .arg("apply")
        .arg(plan)
        .arg("--database-url")
        .arg(url)
        .args(extra)
        .output()
        .expect("run lockstep")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn apply_stops_at_the_deploy_point_and_the_next_call_finishes_the_plan() {
    let Some(cluster) = cluster() else {
        return;
    };
    let (db, mut c) = fresh_db(cluster, "apply_cli");
    c.batch_execute(ORDERS).unwrap();
    c.batch_execute("INSERT INTO orders (total) SELECT g FROM generate_series(1, 3000) g")
        .unwrap();
    let plan = plan_for(ORDERS, ORDERS_MIGRATION);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    std::fs::write(&path, plan.to_yaml().unwrap()).unwrap();
    let url = cluster.conn_string(&db);

    // --dry-run changes nothing and says where it would stop.
    let o = apply(&url, &path, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("would stop at step"),
        "{}",
        text(&o)
    );
    let state: Option<String> = c
        .query_one("SELECT to_regclass('lockstep.apply_state')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(state, None, "--dry-run created the state table");

    let o = apply(&url, &path, &[]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("deploy point"), "{}", text(&o));
    // The old application keeps inserting rows without the new column.
    c.batch_execute("INSERT INTO orders (total) VALUES (11), (12)")
        .expect("old application's insert after the first run");
    let not_null: bool = c
        .query_one(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'total_cents'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!not_null, "NOT NULL was set before the deploy point");

    // Deployed: the new application writes the column; run again.
    c.batch_execute("INSERT INTO orders (total, total_cents) VALUES (13, 1300)")
        .unwrap();
    let o = apply(&url, &path, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let wrong: i64 = c
        .query_one(
            "SELECT count(*) FROM orders WHERE total_cents IS DISTINCT FROM total * 100",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    // A third call has nothing left to do.
    let o = apply(&url, &path, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn apply_refuses_a_file_that_is_not_a_plan() {
    let Some(cluster) = cluster() else {
        return;
    };
    let (db, _c) = fresh_db(cluster, "apply_bad");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    std::fs::write(&path, "steps: [1, 2\n").unwrap();
    let o = apply(&cluster.conn_string(&db), &path, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a lockstep plan"), "{}", text(&o));
}
