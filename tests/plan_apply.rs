//! `plan::apply::apply_plan`: steps run in order under their lock_timeout, a step whose
//! lock is busy is retried with backoff, backfills go through the runner, and a real
//! error stops the plan with the failing statement.

mod plan_support;

use lockstep::live::connect::Db;
use lockstep::plan::apply::{ApplyError, ApplyOptions, apply_plan};
use lockstep::plan::{self, RetryPolicy, StepKind};
use plan_support::*;
use std::time::Duration;

const BASE: &str = "CREATE TABLE t (id bigint PRIMARY KEY, v integer);";

#[test]
fn a_step_whose_lock_is_busy_is_retried_until_it_gets_it() {
    let Some(cluster) = cluster() else {
        return;
    };
    let (db, mut c) = fresh_db(cluster, "apply_retry");
    c.batch_execute(BASE).unwrap();
    c.batch_execute("INSERT INTO t SELECT g, g FROM generate_series(1, 500) g")
        .unwrap();
    let mut options = options();
    options.lock_timeout_ms = 100;
    options.retry = RetryPolicy {
        attempts: 10,
        initial_backoff_ms: 100,
        max_backoff_ms: 200,
    };
    let plan = plan::plan_sql(
        &catalog_of(BASE),
        "m",
        "ALTER TABLE t ALTER COLUMN v SET NOT NULL;",
        &options,
    )
    .unwrap();

    // Another session holds a lock that conflicts with ACCESS EXCLUSIVE for a while.
    let mut holder = cluster.connect(&db).unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE")
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        holder.batch_execute("COMMIT").unwrap();
    });
    let mut runner = Db::from_client(cluster.connect(&db).unwrap(), db.clone());
    let report = apply_plan(&mut runner, &plan, &ApplyOptions::default()).expect("plan applies");
    release.join().unwrap();

    assert!(
        report.steps[0].attempts >= 2,
        "the first step timed out at least once: {:?}",
        report.steps
    );
    assert_eq!(report.steps.len(), plan.steps.len());
    let nullable: String = c
        .query_one(
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 't' AND column_name = 'v'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nullable, "NO", "the plan's end state is reached");
}

#[test]
fn backfills_run_through_the_runner_and_failures_name_the_statement() {
    let Some(cluster) = cluster() else {
        return;
    };
    let (db, mut c) = fresh_db(cluster, "apply_backfill");
    c.batch_execute(BASE).unwrap();
    c.batch_execute("INSERT INTO t SELECT g, g FROM generate_series(1, 3000) g")
        .unwrap();
    let plan = plan_for(
        BASE,
        "ALTER TABLE t ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
    );
    let mut runner = Db::from_client(cluster.connect(&db).unwrap(), db.clone());
    let report = apply_plan(&mut runner, &plan, &ApplyOptions::default()).expect("plan applies");
    let backfill = report
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Backfill)
        .expect("a backfill step");
    assert_eq!(
        backfill.backfill.map(|b| b.0),
        Some(3000),
        "every row backfilled"
    );
    let distinct: i64 = c
        .query_one(
            "SELECT count(DISTINCT token) FROM t WHERE token IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(distinct, 3000);

    // Applying the same plan again fails on the column that now exists, without retries.
    match apply_plan(&mut runner, &plan, &ApplyOptions::default()) {
        Err(ApplyError::Step {
            step,
            attempts,
            statement,
            code,
            ..
        }) => {
            assert_eq!(step, 1);
            assert_eq!(attempts, 1, "a duplicate column is not retried");
            assert!(statement.contains("ADD COLUMN"), "{statement}");
            assert_eq!(code.as_deref(), Some("42701"));
        }
        other => panic!("expected a step error, got {other:?}"),
    }
}
