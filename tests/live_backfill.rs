//! `lockstep backfill run`: killed mid-way and resumed to a correct result; Ctrl-C stops
//! after a committed batch.

mod live_support;

use live_support::{cluster, database};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: i64 = 20_000;

/// A plan in the planner's YAML shape with one backfill step: `w = v * 2 where w is null`.
const PLAN: &str = r#"version: 1
migration: 000002_w
path: db/000002_w.up.sql
tables: []
steps:
  - id: 1
    phase: expand
    kind: sql
    title: add column w
    statements: ["ALTER TABLE items ADD COLUMN w int;"]
  - id: 2
    phase: backfill
    kind: backfill
    title: backfill items.w
    backfill:
      job: items_w
      table: public.items
      key:
        - name: id
          type: bigint
      operation: update
      set: w = v * 2
      predicate: w IS NULL
      dml: UPDATE "public"."items" SET w = v * 2 WHERE ("id") __LOCKSTEP_IN_BATCH__ AND w IS NULL RETURNING 1
      batch_size: 500
      min_batch_size: 100
      max_batch_size: 5000
      target_batch_time_ms: 0
      sleep_ms: 0
      max_replica_lag_ms: 0
      lock_timeout_ms: 1000
      checkpoint_table: lockstep.backfill_checkpoint
      upper_bound_sql: SELECT (SELECT ARRAY["id"::text] FROM "public"."items" ORDER BY "id" DESC LIMIT 1) AS upper_key
      first_batch_sql: |-
        WITH lockstep_batch AS MATERIALIZED (
          SELECT "id" AS __lockstep_k1 FROM "public"."items"
          WHERE ("id") <= (($1::text[])[1]::bigint)
          ORDER BY "id"
          LIMIT $2
        ), lockstep_done AS (
          UPDATE "public"."items" SET w = v * 2 WHERE ("id") IN (SELECT b.__lockstep_k1 FROM lockstep_batch b) AND w IS NULL RETURNING 1
        )
        SELECT (SELECT count(*) FROM lockstep_batch) AS scanned,
               (SELECT count(*) FROM lockstep_done) AS changed,
               (SELECT ARRAY[__lockstep_k1::text] FROM lockstep_batch ORDER BY __lockstep_k1 DESC LIMIT 1) AS last_key
      next_batch_sql: |-
        WITH lockstep_batch AS MATERIALIZED (
          SELECT "id" AS __lockstep_k1 FROM "public"."items"
          WHERE ("id") > (($1::text[])[1]::bigint)
            AND ("id") <= (($2::text[])[1]::bigint)
          ORDER BY "id"
          LIMIT $3
        ), lockstep_done AS (
          UPDATE "public"."items" SET w = v * 2 WHERE ("id") IN (SELECT b.__lockstep_k1 FROM lockstep_batch b) AND w IS NULL RETURNING 1
        )
        SELECT (SELECT count(*) FROM lockstep_batch) AS scanned,
               (SELECT count(*) FROM lockstep_done) AS changed,
               (SELECT ARRAY[__lockstep_k1::text] FROM lockstep_batch ORDER BY __lockstep_k1 DESC LIMIT 1) AS last_key
      procedure: lockstep_backfill_test
"#;

struct Fixture {
    dbname: String,
    plan: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn fixture() -> Option<Fixture> {
    let c = cluster()?;
    let dbname = database(c, "backfill");
    let mut client = c.connect(&dbname).unwrap();
    client
        .batch_execute(&format!(
            "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int);
             INSERT INTO items SELECT g, g % 977 FROM generate_series(1, {ROWS}) g;
             ANALYZE items;"
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    Some(Fixture {
        dbname,
        plan,
        _dir: dir,
    })
}

fn runner(f: &Fixture, extra: &[&str]) -> Command {
    let c = cluster().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    cmd.args(["backfill", "run"])
        .arg(&f.plan)
        .args(["--step", "2", "--database-url"])
        .arg(c.conn_string(&f.dbname))
        .args(extra);
    cmd
}

/// (batches, rows_done, done) of the checkpoint row, if it exists yet.
fn checkpoint(client: &mut postgres::Client) -> Option<(i64, i64, bool)> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('lockstep.backfill_checkpoint') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    if !exists {
        return None;
    }
    client
        .query_opt("SELECT batches, rows_done, done FROM lockstep.backfill_checkpoint WHERE job = 'items_w'", &[])
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

fn wait_for_batches(client: &mut postgres::Client, n: i64) {
    let t = Instant::now();
    while checkpoint(client).is_none_or(|(b, _, _)| b < n) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the runner made no progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn killed_backfill_resumes_to_a_correct_result() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let mut child = runner(&f, &["--sleep", "40ms", "--target-batch-time", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_batches(&mut client, 4);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let (batches, rows_done, done) = checkpoint(&mut client).unwrap();
    assert!(!done);
    let changed: i64 = client
        .query_one("SELECT count(*) FROM items WHERE w IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(changed < ROWS, "killed too late to test anything");
    // Batch and checkpoint commit together: the checkpoint matches the table exactly.
    assert_eq!(rows_done, changed);
    assert!(batches >= 4);

    // A row added after the job started lies beyond its fixed range.
    client
        .execute("INSERT INTO items VALUES (1000000, 5, NULL)", &[])
        .unwrap();

    let out = runner(&f, &["--sleep", "0ms"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming after batch"), "{stderr}");
    assert!(stderr.contains("done"), "{stderr}");
    let wrong: i64 = client
        .query_one(
            "SELECT count(*) FROM items WHERE id <= $1 AND w IS DISTINCT FROM v * 2",
            &[&ROWS],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    let late: Option<i32> = client
        .query_one("SELECT w FROM items WHERE id = 1000000", &[])
        .unwrap()
        .get(0);
    assert_eq!(late, None);
    let (_, rows_done, done) = checkpoint(&mut client).unwrap();
    assert!(done);
    assert_eq!(rows_done, ROWS, "every row changed exactly once");

    // A third run has nothing to do.
    let out = runner(&f, &[]).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn ctrl_c_stops_after_the_current_batch() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let child = runner(
        &f,
        &[
            "--sleep",
            "100ms",
            "--batch-size",
            "200",
            "--target-batch-time",
            "0",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_batches(&mut client, 2);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let (_, rows_done, done) = checkpoint(&mut client).unwrap();
    assert!(!done);
    let changed: i64 = client
        .query_one("SELECT count(*) FROM items WHERE w IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows_done, changed);
    assert!(changed < ROWS);
}

#[test]
fn plan_without_the_step_is_a_clear_error() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["backfill", "run"])
        .arg(&f.plan)
        .args(["--step", "1", "--database-url"])
        .arg(c.conn_string(&f.dbname))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("step 1 is not a backfill step (backfill steps: 2)"),
        "{stderr}"
    );
}

/// The planner's own output, end to end: `plan_sql` turns a whole-table UPDATE into a
/// backfill step, its YAML goes to `lockstep backfill run`, and every row ends right.
#[test]
fn runs_the_backfill_step_the_planner_writes() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let mut catalog = lockstep::catalog::Catalog::new();
    for st in lockstep::parse::parse_sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int);",
    ) {
        for op in &st.ops {
            catalog.apply(op);
        }
    }
    let plan = lockstep::plan::plan_sql(
        &catalog,
        "000002_w",
        "UPDATE items SET w = v * 2 WHERE w IS NULL;",
        &lockstep::plan::PlanOptions::default(),
    )
    .expect("plan");
    let step = plan
        .steps
        .iter()
        .find(|s| s.backfill.is_some())
        .expect("a backfill step");
    let yaml = plan.to_yaml().unwrap();
    let steps = lockstep::live::backfill_runner::parse_plan(&yaml)
        .expect("runner reads the planner's YAML");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].id, step.id as u64);
    let path = f.plan.with_file_name("planner.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["backfill", "run"])
        .arg(&path)
        .args(["--sleep", "0ms", "--batch-size", "3000", "--database-url"])
        .arg(c.conn_string(&f.dbname))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let wrong: i64 = client
        .query_one(
            "SELECT count(*) FROM items WHERE w IS DISTINCT FROM v * 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0, "{stderr}");
}

fn lockstep_schema_exists(client: &mut postgres::Client) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'lockstep')",
            &[],
        )
        .unwrap()
        .get(0)
}

fn cleanup(f: &Fixture, extra: &[&str]) -> std::process::Output {
    let c = cluster().unwrap();
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["backfill", "cleanup", "--database-url"])
        .arg(c.conn_string(&f.dbname))
        .args(extra)
        .output()
        .unwrap()
}

/// The checkpoint lives in its own schema, and `backfill cleanup` drops it — but not the
/// state of a job that has not finished, unless forced.
#[test]
fn cleanup_drops_the_lockstep_schema_but_not_unfinished_jobs() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let out = cleanup(&f, &[]);
    assert!(out.status.success(), "nothing to clean up is fine");
    let out = runner(&f, &["--max-batches", "2", "--target-batch-time", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(lockstep_schema_exists(&mut client));
    // Nothing of lockstep's in the application's schema.
    let in_public: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname LIKE '%lockstep%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_public, 0);
    let out = cleanup(&f, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unfinished") && stderr.contains("items_w"),
        "{stderr}"
    );
    assert!(lockstep_schema_exists(&mut client));

    // Finished: cleanup drops everything it made.
    let out = runner(&f, &["--sleep", "0ms"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cleanup(&f, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!lockstep_schema_exists(&mut client));
}

#[test]
fn a_plan_keeping_its_checkpoint_in_an_application_table_is_refused() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let before = live_support::checksum(&mut client);
    let plan = f.plan.with_file_name("elsewhere.yaml");
    std::fs::write(
        &plan,
        PLAN.replace(
            "checkpoint_table: lockstep.backfill_checkpoint",
            "checkpoint_table: public.items",
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["backfill", "run"])
        .arg(&plan)
        .args(["--step", "2", "--database-url"])
        .arg(c.conn_string(&f.dbname))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lockstep.backfill_checkpoint"), "{stderr}");
    assert_eq!(before, live_support::checksum(&mut client));
}

/// Batches are guarded (`IS DISTINCT FROM` / the predicate): starting the planner's job
/// over from the first row rewrites no row.
#[test]
fn a_restarted_idempotent_backfill_rewrites_nothing() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let mut catalog = lockstep::catalog::Catalog::new();
    for st in lockstep::parse::parse_sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int);",
    ) {
        for op in &st.ops {
            catalog.apply(op);
        }
    }
    let plan = lockstep::plan::plan_sql(
        &catalog,
        "000003_w",
        "UPDATE items SET w = v * 2;",
        &lockstep::plan::PlanOptions::default(),
    )
    .expect("plan");
    let path = f.plan.with_file_name("guarded.yaml");
    std::fs::write(&path, plan.to_yaml().unwrap()).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lockstep"))
            .args(["backfill", "run"])
            .arg(&path)
            .args(["--sleep", "0ms", "--batch-size", "5000", "--database-url"])
            .arg(c.conn_string(&f.dbname))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xmins = |client: &mut postgres::Client| -> String {
        client
            .query_one(
                "SELECT md5(string_agg(xmin::text, ',' ORDER BY id)) FROM items",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let before = xmins(&mut client);
    let out = run(&["--restart"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 rows changed"), "{stderr}");
    assert_eq!(before, xmins(&mut client), "a guarded rerun rewrote rows");
}

/// A role without CREATE on the database runs in a `lockstep` schema a DBA made for it
/// (`CREATE SCHEMA … IF NOT EXISTS` alone would be refused: it checks the privilege first).
#[test]
fn runs_as_a_role_in_a_schema_made_for_it() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let role = format!("bf_owner_{}", std::process::id());
    client
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
             GRANT ALL ON items TO {role};
             REVOKE CREATE ON DATABASE \"{db}\" FROM PUBLIC;
             CREATE SCHEMA lockstep AUTHORIZATION {role};",
            db = f.dbname
        ))
        .unwrap();
    let url = c
        .conn_string(&f.dbname)
        .replace("user=postgres", &format!("user={role}"));
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["backfill", "run"])
        .arg(&f.plan)
        .args(["--step", "2", "--sleep", "0ms", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, rows_done, done) = checkpoint(&mut client).unwrap();
    assert!(done);
    assert_eq!(rows_done, ROWS);
}

/// A finished job stays finished: after a contract step dropped the column the batches
/// write, running the step again reports it done instead of failing.
#[test]
fn a_finished_job_is_done_after_the_table_moved_on() {
    let Some(f) = fixture() else { return };
    let c = cluster().unwrap();
    let mut client = c.connect(&f.dbname).unwrap();
    let out = runner(&f, &["--sleep", "0ms"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    client
        .batch_execute("ALTER TABLE items DROP COLUMN w")
        .unwrap();
    let out = runner(&f, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{ROWS} rows changed")), "{stderr}");
}
