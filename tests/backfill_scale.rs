//! The backfill throttled by what the application feels (issue 18): sessions waiting on
//! the backfill's row locks halve the batch at once and pause it, calm batches grow it
//! slowly again, and a batch over `--max-batch-ms` is cut off by the server and retried
//! smaller instead of failing the run. Each test runs the real binary against a throwaway
//! cluster with `--progress json` and reads the JSON lines a CI log would show.

mod live_support;

use live_support::{cluster, database};
use postgres::Client;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// The planner's plan for a non-idempotent backfill (a row changed twice shows as n = 2),
/// written to `dir`; returns the file and the backfill step's id.
fn plan(dir: &Path) -> (PathBuf, String) {
    let plan = lockstep::plan::plan_sql(
        &catalog_of(BASE),
        "000002_n",
        "UPDATE items SET n = n + 1;",
        &lockstep::plan::PlanOptions::default(),
    )
    .expect("plan");
    let step = plan
        .steps
        .iter()
        .find(|s| s.backfill.is_some())
        .expect("a backfill step")
        .id
        .to_string();
    let path = dir.join("plan.yaml");
    std::fs::write(&path, plan.to_yaml().expect("yaml")).expect("write plan");
    (path, step)
}

fn fresh(prefix: &str, rows: i64, extra: &str) -> Option<(String, Client)> {
    let c = cluster()?;
    let name = database(c, prefix);
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{BASE}\nINSERT INTO items (id, v) SELECT g, g % 977 FROM generate_series(1, {rows}) g; \
             ANALYZE items;\n{extra}"
        ))
        .unwrap();
    Some((name, client))
}

fn runner(db: &str, plan: &Path, step: &str, extra: &[&str]) -> Command {
    let c = cluster().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    cmd.args(["backfill", "run"])
        .arg(plan)
        .args(["--step", step, "--database-url"])
        .arg(c.conn_string(db))
        .args(["--progress", "json"])
        .args(extra);
    cmd
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

/// Every stdout line is one JSON object; batch lines carry the fields a CI log needs.
fn parse_lines(stdout: &str) -> Vec<Value> {
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    for l in lines.iter().filter(|l| l["event"] == "batch") {
        for field in [
            "rows_walked",
            "rows_changed",
            "rows_per_s",
            "batch_size",
            "next_batch_size",
            "batch_ms",
            "waiters",
        ] {
            assert!(l[field].is_number(), "{field} missing in {l}");
        }
        assert!(
            l["eta_s"].is_number(),
            "no ETA (the table was analysed): {l}"
        );
        assert!(l["throttle"].is_string(), "no throttle reason: {l}");
    }
    lines
}

#[test]
fn sessions_waiting_on_the_backfill_halve_the_batch_and_calm_grows_it_back() {
    const ROWS: i64 = 40_000;
    let Some((db, mut client)) = fresh("bf_pain", ROWS, "") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, step) = plan(dir.path());
    let mut child = runner(
        &db,
        &path,
        &step,
        &["--batch-size", "4000", "--sleep", "0ms"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    // The application: single-row updates on random rows, which wait whenever they hit a
    // row the running batch has locked. It stops once the runner reported waiters.
    let stop = Arc::new(AtomicBool::new(false));
    let apps: Vec<_> = (0..3u64)
        .map(|i| {
            let stop = stop.clone();
            let mut app = cluster().unwrap().connect(&db).unwrap();
            std::thread::spawn(move || {
                let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (i + 1);
                let t = Instant::now();
                while !stop.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(60) {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let id = i64::try_from((x >> 33) % ROWS as u64).unwrap() + 1;
                    app.execute(
                        "UPDATE items SET w = coalesce(w, 0) + 1 WHERE id = $1",
                        &[&id],
                    )
                    .unwrap();
                }
            })
        })
        .collect();

    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("\"waiters\"") && !line.contains("\"waiters\":0") {
            stop.store(true, Ordering::SeqCst);
        }
        out.push_str(&line);
        out.push('\n');
    }
    stop.store(true, Ordering::SeqCst);
    for a in apps {
        a.join().unwrap();
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "runner failed: {err}\n{out}");

    let lines = parse_lines(&out);
    let batches: Vec<&Value> = lines.iter().filter(|l| l["event"] == "batch").collect();
    let pained = batches
        .iter()
        .position(|l| l["waiters"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no batch saw the application waiting:\n{out}"));
    let p = batches[pained];
    assert!(
        p["throttle"]
            .as_str()
            .unwrap()
            .contains("waited on the backfill's locks"),
        "{p}"
    );
    let (ran, next) = (
        p["batch_size"].as_u64().unwrap(),
        p["next_batch_size"].as_u64().unwrap(),
    );
    assert!(
        next <= ran / 2 || next <= 100,
        "not halved at once: {ran} -> {next}"
    );
    // Once the application is quiet the batch grows again, slowly (at most x1.25).
    let grow = batches[pained..]
        .iter()
        .find(|l| l["throttle"] == "calm: growing")
        .unwrap_or_else(|| panic!("the batch never grew back:\n{out}"));
    let (g_ran, g_next) = (
        grow["batch_size"].as_u64().unwrap(),
        grow["next_batch_size"].as_u64().unwrap(),
    );
    assert!(
        g_next > g_ran && g_next as f64 <= (g_ran as f64 * 1.25).ceil(),
        "{g_ran} -> {g_next}"
    );
    let last = batches.last().unwrap();
    assert_eq!(last["rows_walked"].as_i64(), Some(ROWS), "{last}");
    let (once, more) = n_counts(&mut client);
    assert_eq!((once, more), (ROWS, 0), "every row changed exactly once");
}

#[test]
fn a_batch_over_max_batch_ms_is_cut_off_and_retried_smaller() {
    const ROWS: i64 = 3_000;
    // Each row costs ~0.5 ms in a trigger: a 2000-row batch would hold its locks ~1 s.
    let slow = "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS \
                $$ BEGIN PERFORM pg_sleep(0.0005); RETURN NEW; END $$; \
                CREATE TRIGGER slow BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION slow_row();";
    let Some((db, mut client)) = fresh("bf_ceiling", ROWS, slow) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, step) = plan(dir.path());
    let out = runner(
        &db,
        &path,
        &step,
        &[
            "--batch-size",
            "2000",
            "--max-batch-ms",
            "150",
            "--sleep",
            "0ms",
            "--allow-triggers",
        ],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a batch over the ceiling failed the run: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = parse_lines(&stdout);
    let retry = lines
        .iter()
        .find(|l| l["event"] == "retry")
        .unwrap_or_else(|| panic!("no batch was cut off:\n{stdout}"));
    assert!(
        retry["throttle"]
            .as_str()
            .unwrap()
            .contains("cut off at 150 ms"),
        "{retry}"
    );
    assert!(
        retry["next_batch_size"].as_u64().unwrap() <= 1000,
        "{retry}"
    );
    // Every committed batch stayed near the ceiling (statement plus checkpoint round trips).
    for l in lines.iter().filter(|l| l["event"] == "batch") {
        assert!(l["batch_ms"].as_f64().unwrap() < 400.0, "{l}");
    }
    let (once, more) = n_counts(&mut client);
    assert_eq!((once, more), (ROWS, 0), "every row changed exactly once");
}
