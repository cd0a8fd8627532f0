//! The backfill under attack and accident: two runners on one step, a checkpoint row
//! deleted mid-run, a checkpoint table dropped or recreated, a plan swapped under a started
//! job, a run before the expand steps, an `updated_at` trigger, and names built to break
//! out of the procedure's dollar quote. Each test attempts the attack on a throwaway
//! server and asserts what the user would see: the exit code, the message, and that no
//! row was changed twice (or at all, when the run is refused).

mod live_support;

use live_support::{cluster, database};
use lockstep::plan::{BackfillSpec, Plan, PlanOptions};
use postgres::Client;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROWS: i64 = 20_000;

/// The schema the planner knows (the live table may differ on purpose).
const BASE: &str =
    "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, n int NOT NULL DEFAULT 0, w int);";

fn catalog_of(sql: &str) -> lockstep::catalog::Catalog {
    let mut catalog = lockstep::catalog::Catalog::new();
    for st in lockstep::parse::parse_sql(sql) {
        for op in &st.ops {
            catalog.apply(op);
        }
    }
    catalog
}

/// The planner's plan for `sql` against `base`, written as YAML into `dir`.
fn plan_file(dir: &Path, name: &str, base: &str, migration: &str, sql: &str) -> (Plan, PathBuf) {
    let plan = lockstep::plan::plan_sql(&catalog_of(base), migration, sql, &PlanOptions::default())
        .expect("plan");
    let path = dir.join(name);
    std::fs::write(&path, plan.to_yaml().expect("yaml")).expect("write plan");
    (plan, path)
}

fn spec(plan: &Plan) -> BackfillSpec {
    plan.steps
        .iter()
        .find_map(|s| s.backfill.clone())
        .expect("a backfill step")
}

fn step_id(plan: &Plan) -> String {
    plan.steps
        .iter()
        .find(|s| s.backfill.is_some())
        .expect("a backfill step")
        .id
        .to_string()
}

/// `schema.table` of the checkpoint, quoted (a bare name is in `public`).
fn cp_parts(spec: &BackfillSpec) -> (String, String) {
    match spec.checkpoint_table.split_once('.') {
        Some((s, t)) => (s.to_string(), t.to_string()),
        None => ("public".to_string(), spec.checkpoint_table.clone()),
    }
}

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn cp_sql(spec: &BackfillSpec) -> String {
    let (s, t) = cp_parts(spec);
    format!("{}.{}", q(&s), q(&t))
}

/// (batches, rows_done) of the job's checkpoint row, if the table and row exist.
fn checkpoint(client: &mut Client, spec: &BackfillSpec) -> Option<(i64, i64)> {
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&cp_sql(spec)])
        .unwrap()
        .get(0);
    if !exists {
        return None;
    }
    client
        .query_opt(
            &format!(
                "SELECT batches, rows_done FROM {} WHERE job = $1",
                cp_sql(spec)
            ),
            &[&spec.job],
        )
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

fn wait_for_batches(client: &mut Client, spec: &BackfillSpec, n: i64) {
    let t = Instant::now();
    while checkpoint(client, spec).is_none_or(|(b, _)| b < n) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the runner made no progress"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Db {
    name: String,
    client: Client,
    dir: tempfile::TempDir,
}

fn fresh(prefix: &str, setup: &str) -> Option<Db> {
    let c = cluster()?;
    let name = database(c, prefix);
    let mut client = c.connect(&name).unwrap();
    client.batch_execute(setup).unwrap();
    Some(Db {
        name,
        client,
        dir: tempfile::tempdir().unwrap(),
    })
}

fn items(rows: i64) -> String {
    format!(
        "{BASE}\nINSERT INTO items (id, v) SELECT g, g % 977 FROM generate_series(1, {rows}) g; ANALYZE items;"
    )
}

fn runner(db: &Db, plan: &Path, step: &str, extra: &[&str]) -> Command {
    let c = cluster().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    cmd.args(["backfill", "run"])
        .arg(plan)
        .args(["--step", step, "--database-url"])
        .arg(c.conn_string(&db.name))
        .args(extra);
    cmd
}

/// Slow enough that a second session can act while it runs.
const SLOW: &[&str] = &[
    "--sleep",
    "30ms",
    "--batch-size",
    "200",
    "--target-batch-time",
    "0",
];

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// (rows with n = 1, rows with n not in (0, 1)).
fn n_counts(client: &mut Client) -> (i64, i64) {
    let r = client
        .query_one(
            "SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n NOT IN (0, 1)) FROM items",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

fn other_backends(client: &mut Client) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn two_runners_on_one_step_one_runs_the_other_refuses() {
    let Some(mut db) = fresh("bf_twice", &items(ROWS)) else {
        return;
    };
    // Not idempotent on purpose: a batch applied twice shows as n = 2.
    let (plan, path) = plan_file(
        db.dir.path(),
        "p.yaml",
        BASE,
        "000002_n",
        "UPDATE items SET n = n + 1;",
    );
    let spec = spec(&plan);
    let step = step_id(&plan);
    let first = runner(&db, &path, &step, SLOW)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_batches(&mut db.client, &spec, 2);
    let pids = other_backends(&mut db.client);
    let second = runner(&db, &path, &step, &["--sleep", "0ms"])
        .output()
        .unwrap();
    let msg = text(&second);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(second.status.code(), Some(2), "{msg}");
    assert!(
        pids.iter().any(|p| msg.contains(&format!("pid {p}"))),
        "the refusal names the other session's pid ({pids:?}): {msg}"
    );
    let (once, more) = n_counts(&mut db.client);
    assert_eq!(more, 0, "rows updated twice");
    assert_eq!(once, ROWS);
}

#[test]
fn the_psql_procedure_and_the_runner_exclude_each_other() {
    let Some(mut db) = fresh("bf_proc_runner", &items(ROWS)) else {
        return;
    };
    let (plan, path) = plan_file(
        db.dir.path(),
        "p.yaml",
        BASE,
        "000002_n",
        "UPDATE items SET n = n + 1;",
    );
    let spec = spec(&plan);
    let step = step_id(&plan);
    let first = runner(&db, &path, &step, SLOW)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_batches(&mut db.client, &spec, 2);
    let pids = other_backends(&mut db.client);
    let statements = spec.psql_statements();
    let (call, setup) = statements.split_last().unwrap();
    for s in setup {
        db.client.batch_execute(s).unwrap();
    }
    let err = db
        .client
        .batch_execute(&call.replace("();", "(sleep_ms => 0);"))
        .expect_err("the procedure must not run beside the runner");
    let msg = lockstep::live::connect::error_text(&err);
    assert!(
        pids.iter().any(|p| msg.contains(&format!("pid {p}"))),
        "{msg}"
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let (once, more) = n_counts(&mut db.client);
    assert_eq!((once, more), (ROWS, 0));
}

#[test]
fn a_checkpoint_row_deleted_mid_run_stops_the_run_and_is_not_a_restart() {
    let Some(mut db) = fresh("bf_row_gone", &items(ROWS)) else {
        return;
    };
    let (plan, path) = plan_file(
        db.dir.path(),
        "p.yaml",
        BASE,
        "000002_n",
        "UPDATE items SET n = n + 1;",
    );
    let spec = spec(&plan);
    let step = step_id(&plan);
    let child = runner(&db, &path, &step, SLOW)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_batches(&mut db.client, &spec, 3);
    db.client
        .execute(
            &format!("DELETE FROM {} WHERE job = $1", cp_sql(&spec)),
            &[&spec.job],
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("checkpoint"), "{msg}");
    let (once, more) = n_counts(&mut db.client);
    assert_eq!(more, 0);
    assert!(once > 0 && once < ROWS, "stopped part-way ({once} rows)");

    // Running again does not start over.
    let out = runner(&db, &path, &step, &["--sleep", "0ms"])
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("--restart"), "the way out is named: {msg}");
    assert_eq!(n_counts(&mut db.client), (once, 0), "nothing written");
}

/// Stops a job after three batches (exit 130: resumable).
fn start_three_batches(db: &mut Db, path: &Path, step: &str) -> i64 {
    let out = runner(
        db,
        path,
        step,
        &[
            "--max-batches",
            "3",
            "--batch-size",
            "500",
            "--target-batch-time",
            "0",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let (once, more) = n_counts(&mut db.client);
    assert_eq!((once, more), (1500, 0));
    once
}

#[test]
fn a_recreated_or_emptied_checkpoint_table_is_refused() {
    for (i, how) in ["recreate", "drop", "truncate"].iter().enumerate() {
        let Some(mut db) = fresh(&format!("bf_recreated{i}"), &items(5_000)) else {
            return;
        };
        let (plan, path) = plan_file(
            db.dir.path(),
            "p.yaml",
            BASE,
            "000002_n",
            "UPDATE items SET n = n + 1;",
        );
        let spec = spec(&plan);
        let step = step_id(&plan);
        let done = start_three_batches(&mut db, &path, &step);
        let (schema, table) = cp_parts(&spec);
        let cp = cp_sql(&spec);
        let sql = match *how {
            "recreate" => format!(
                "CREATE TABLE {s}.lockstep_copy (LIKE {cp} INCLUDING ALL); DROP TABLE {cp}; \
                 ALTER TABLE {s}.lockstep_copy RENAME TO {t};",
                s = q(&schema),
                t = q(&table)
            ),
            "drop" => format!("DROP TABLE {cp};"),
            _ => format!("TRUNCATE {cp};"),
        };
        db.client.batch_execute(&sql).unwrap();
        let out = runner(&db, &path, &step, &["--sleep", "0ms"])
            .output()
            .unwrap();
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(2), "{how}: {msg}");
        assert!(msg.contains("--restart"), "{how}: {msg}");
        assert_eq!(
            n_counts(&mut db.client),
            (done, 0),
            "{how}: nothing written"
        );
    }
}

#[test]
fn a_different_plan_for_a_started_job_is_refused() {
    let Some(mut db) = fresh("bf_other_plan", &items(5_000)) else {
        return;
    };
    let (plan, path) = plan_file(
        db.dir.path(),
        "a.yaml",
        BASE,
        "000002_n",
        "UPDATE items SET n = n + 1;",
    );
    let step = step_id(&plan);
    let done = start_three_batches(&mut db, &path, &step);
    // The same migration id and statement: the same job name, other SQL.
    let (other, other_path) = plan_file(
        db.dir.path(),
        "b.yaml",
        BASE,
        "000002_n",
        "UPDATE items SET n = n + 5;",
    );
    assert_eq!(spec(&other).job, spec(&plan).job);
    let out = runner(&db, &other_path, &step_id(&other), &["--sleep", "0ms"])
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("different plan"), "{msg}");
    assert_eq!(n_counts(&mut db.client), (done, 0), "nothing written");
    // The original plan still resumes.
    let out = runner(&db, &path, &step, &["--sleep", "0ms"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(n_counts(&mut db.client), (5_000, 0));
}

#[test]
fn a_run_before_the_expand_steps_writes_no_checkpoint() {
    // The live table has no column w yet: the expand step adding it has not run.
    let Some(mut db) = fresh(
        "bf_early",
        "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, n int NOT NULL DEFAULT 0);
         INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, 1000) g;",
    ) else {
        return;
    };
    let (plan, path) = plan_file(
        db.dir.path(),
        "p.yaml",
        BASE,
        "000002_w",
        "UPDATE items SET w = v * 2 WHERE w IS NULL;",
    );
    let spec = spec(&plan);
    let before = live_support::checksum(&mut db.client);
    let out = runner(&db, &path, &step_id(&plan), &[]).output().unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("\"w\"") && msg.contains("does not exist"),
        "{msg}"
    );
    assert!(
        checkpoint(&mut db.client, &spec).is_none(),
        "a checkpoint was written"
    );
    assert_eq!(
        before,
        live_support::checksum(&mut db.client),
        "the database changed"
    );
}

const TRIGGERED: &str = "
CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int,
                    updated_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO items (id, v, updated_at)
  SELECT g, g, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1, 3000) g;";

fn updated_at_digest(client: &mut Client) -> String {
    client
        .query_one(
            "SELECT md5(string_agg(id || ':' || updated_at::text, ',' ORDER BY id)) FROM items",
            &[],
        )
        .unwrap()
        .get(0)
}

fn w_wrong(client: &mut Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM items WHERE w IS DISTINCT FROM v * 2",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn an_updated_at_trigger_is_never_fired_silently() {
    let Some(mut db) = fresh("bf_trigger", TRIGGERED) else {
        return;
    };
    let base = "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int, \
                updated_at timestamptz NOT NULL DEFAULT now());";
    let (plan, path) = plan_file(
        db.dir.path(),
        "p.yaml",
        base,
        "000002_w",
        "UPDATE items SET w = v * 2 WHERE w IS NULL;",
    );
    let step = step_id(&plan);
    let stamps = updated_at_digest(&mut db.client);

    // Default: refused, naming the trigger and the choices; nothing written.
    let out = runner(&db, &path, &step, &[]).output().unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    for needle in ["items_touch", "--allow-triggers", "--disable-user-triggers"] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
    assert_eq!(w_wrong(&mut db.client), 3000);
    assert_eq!(updated_at_digest(&mut db.client), stamps);

    // A role that may not set session_replication_role gets a clear refusal.
    db.client
        .batch_execute(&format!(
            "CREATE ROLE bf_app_{0} LOGIN; GRANT ALL ON items TO bf_app_{0}; \
             GRANT CREATE ON DATABASE {1} TO bf_app_{0};",
            std::process::id(),
            q(&db.name)
        ))
        .unwrap();
    let c = cluster().unwrap();
    let app_url = c.conn_string(&db.name).replace(
        "user=postgres",
        &format!("user=bf_app_{}", std::process::id()),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["backfill", "run"])
        .arg(&path)
        .args([
            "--step",
            &step,
            "--disable-user-triggers",
            "--database-url",
            &app_url,
        ])
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("session_replication_role"), "{msg}");
    assert_eq!(w_wrong(&mut db.client), 3000);
    assert_eq!(updated_at_digest(&mut db.client), stamps);

    // Allowed to: the trigger does not fire, updated_at stays byte-identical.
    let out = runner(
        &db,
        &path,
        &step,
        &["--disable-user-triggers", "--sleep", "0ms"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(w_wrong(&mut db.client), 0);
    assert_eq!(
        updated_at_digest(&mut db.client),
        stamps,
        "updated_at was rewritten"
    );
    // The trigger is still there and still fires for the application.
    db.client
        .execute("UPDATE items SET v = v WHERE id = 1", &[])
        .unwrap();
    assert_ne!(updated_at_digest(&mut db.client), stamps);
}

#[test]
fn allow_triggers_runs_them_knowingly() {
    let Some(mut db) = fresh("bf_trigger_ok", TRIGGERED) else {
        return;
    };
    let base = "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int, \
                updated_at timestamptz NOT NULL DEFAULT now());";
    let (plan, path) = plan_file(
        db.dir.path(),
        "p.yaml",
        base,
        "000002_w",
        "UPDATE items SET w = v * 2 WHERE w IS NULL;",
    );
    let stamps = updated_at_digest(&mut db.client);
    let out = runner(
        &db,
        &path,
        &step_id(&plan),
        &["--allow-triggers", "--sleep", "0ms"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(w_wrong(&mut db.client), 0);
    assert_ne!(updated_at_digest(&mut db.client), stamps);
}

/// A psql binary next to the server's.
fn psql() -> Option<PathBuf> {
    let p = lockstep::pg::find_bin_dir().ok()?.join("psql");
    p.exists().then_some(p)
}

/// Names that end a dollar quote early or break out of a comment line.
const HOSTILE_COLUMN: &str = "x$lockstep$;DROP TABLE canary;--";
const HOSTILE_COLUMN2: &str = "$lockstep_bf$$lockstep_bf_1$$$\nDROP TABLE canary;--";
const HOSTILE_TABLE: &str = "t$$\"x\\');DROP TABLE canary;--\r";
const HOSTILE_MIGRATION: &str = "000002_$lockstep_bf$\nDROP TABLE canary;--\r$$";

fn hostile_setup() -> String {
    format!(
        "CREATE TABLE canary (x int); INSERT INTO canary VALUES (42);
         CREATE TABLE {t} (id bigint PRIMARY KEY, v int NOT NULL, {a} int, {b} int, keep text);
         INSERT INTO {t} (id, v, keep) SELECT g, g, md5(g::text) FROM generate_series(1, 2000) g;",
        t = q(HOSTILE_TABLE),
        a = q(HOSTILE_COLUMN),
        b = q(HOSTILE_COLUMN2)
    )
}

fn hostile_plan(dir: &Path) -> (Plan, PathBuf) {
    let base = format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, v int NOT NULL, {a} int, {b} int, keep text);",
        t = q(HOSTILE_TABLE),
        a = q(HOSTILE_COLUMN),
        b = q(HOSTILE_COLUMN2)
    );
    plan_file(
        dir,
        "p.yaml",
        &base,
        HOSTILE_MIGRATION,
        &format!(
            "UPDATE {t} SET {a} = v * 2, {b} = v * 3 WHERE {a} IS NULL;",
            t = q(HOSTILE_TABLE),
            a = q(HOSTILE_COLUMN),
            b = q(HOSTILE_COLUMN2)
        ),
    )
}

fn hostile_result(client: &mut Client) -> (i64, i64, String) {
    let r = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE {a} IS DISTINCT FROM v * 2 OR {b} IS DISTINCT FROM v * 3), \
                        (SELECT sum(x) FROM canary), \
                        md5(string_agg(keep, ',' ORDER BY id)) FROM {t}",
                t = q(HOSTILE_TABLE),
                a = q(HOSTILE_COLUMN),
                b = q(HOSTILE_COLUMN2)
            ),
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// The psql form, run as a user would (`psql -f`, no ON_ERROR_STOP, and a server where
/// `standard_conforming_strings` is off): only the intended columns change, and nothing
/// hidden in a name runs.
#[test]
fn hostile_names_stay_inside_the_procedure_under_psql() {
    let Some(psql) = psql() else {
        eprintln!("skipped: no psql");
        return;
    };
    let Some(mut db) = fresh("bf_hostile_psql", &hostile_setup()) else {
        return;
    };
    let (plan, _) = hostile_plan(db.dir.path());
    let spec = spec(&plan);
    let keep = hostile_result(&mut db.client).2;
    let file = db.dir.path().join("backfill.sql");
    std::fs::write(&file, spec.psql_statements().join("\n")).unwrap();
    let c = cluster().unwrap();
    let out = Command::new(psql)
        .args(["-X", "-q", "-d", &c.conn_string(&db.name), "-f"])
        // Backslashes in a plain '…' literal would escape its quote: the literals must
        // mean the same either way.
        .env("PGOPTIONS", "-c standard_conforming_strings=off")
        .arg(&file)
        .output()
        .unwrap();
    let msg = text(&out);
    let (wrong, canary, kept) = hostile_result(&mut db.client);
    assert_eq!(canary, 42, "the canary table was touched: {msg}");
    assert_eq!(wrong, 0, "the backfill did not complete: {msg}");
    assert_eq!(kept, keep);
    assert!(!msg.contains("ERROR"), "{msg}");
}

/// The same names through `lockstep backfill run`.
#[test]
fn hostile_names_through_the_runner() {
    let Some(mut db) = fresh("bf_hostile_run", &hostile_setup()) else {
        return;
    };
    let (plan, path) = hostile_plan(db.dir.path());
    let keep = hostile_result(&mut db.client).2;
    let out = runner(
        &db,
        &path,
        &step_id(&plan),
        &["--sleep", "0ms", "--batch-size", "300"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (wrong, canary, kept) = hostile_result(&mut db.client);
    assert_eq!((wrong, canary), (0, 42));
    assert_eq!(kept, keep);
    // A second run changes nothing.
    let xmins: String = db
        .client
        .query_one(
            &format!(
                "SELECT md5(string_agg(xmin::text, ',' ORDER BY id)) FROM {}",
                q(HOSTILE_TABLE)
            ),
            &[],
        )
        .unwrap()
        .get(0);
    let out = runner(&db, &path, &step_id(&plan), &[]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let again: String = db
        .client
        .query_one(
            &format!(
                "SELECT md5(string_agg(xmin::text, ',' ORDER BY id)) FROM {}",
                q(HOSTILE_TABLE)
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(xmins, again, "a rerun rewrote rows");
}

/// The psql procedure follows the same rules as the runner: triggers are refused until the
/// caller chooses, `disable_user_triggers` keeps `updated_at` byte-identical, and a lost
/// checkpoint row is not a restart.
#[test]
fn the_psql_procedure_keeps_the_same_rules() {
    let Some(mut db) = fresh("bf_proc_rules", TRIGGERED) else {
        return;
    };
    let base = "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, w int, \
                updated_at timestamptz NOT NULL DEFAULT now());";
    let (plan, _) = plan_file(
        db.dir.path(),
        "p.yaml",
        base,
        "000002_w",
        "UPDATE items SET w = v * 2 WHERE w IS NULL;",
    );
    let spec = spec(&plan);
    let statements = spec.psql_statements();
    let (call, setup) = statements.split_last().unwrap();
    for s in setup {
        db.client.batch_execute(s).unwrap();
    }
    let stamps = updated_at_digest(&mut db.client);
    let err = db
        .client
        .batch_execute(call)
        .expect_err("an updated_at trigger must not fire silently");
    let msg = lockstep::live::connect::error_text(&err);
    assert!(msg.contains("items_touch"), "{msg}");
    assert!(checkpoint(&mut db.client, &spec).is_none(), "{msg}");
    assert_eq!(w_wrong(&mut db.client), 3000);

    // Two batches with the triggers skipped, then the checkpoint row is lost.
    let proc = &spec.procedure;
    db.client
        .batch_execute(&format!(
            "CALL {proc}(batch_size => 500, target_batch_ms => 0, sleep_ms => 0, max_batches => 2, \
             disable_user_triggers => true)"
        ))
        .unwrap();
    assert_eq!(w_wrong(&mut db.client), 2000);
    assert_eq!(updated_at_digest(&mut db.client), stamps);
    db.client
        .execute(
            &format!("DELETE FROM {} WHERE job = $1", cp_sql(&spec)),
            &[&spec.job],
        )
        .unwrap();
    let err = db
        .client
        .batch_execute(&format!(
            "CALL {proc}(sleep_ms => 0, disable_user_triggers => true)"
        ))
        .expect_err("a lost checkpoint is not a restart");
    let msg = lockstep::live::connect::error_text(&err);
    assert!(msg.contains("restart"), "{msg}");
    assert_eq!(w_wrong(&mut db.client), 2000);

    // Starting over is explicit; the guarded batches leave the done rows alone.
    db.client
        .batch_execute(&format!(
            "CALL {proc}(sleep_ms => 0, disable_user_triggers => true, restart => true)"
        ))
        .unwrap();
    assert_eq!(w_wrong(&mut db.client), 0);
    assert_eq!(
        updated_at_digest(&mut db.client),
        stamps,
        "updated_at was rewritten"
    );
}
