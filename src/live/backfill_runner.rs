//! `lockstep backfill run PLAN.yaml`: executes the planner's backfill steps against a live
//! database, one short transaction per batch.
//!
//! The plan carries, per backfill step, the SQL of one batch (a keyset walk with the range
//! fixed at the start) and the name of a checkpoint table. The runner:
//! - records the job and its upper key in the checkpoint table once (a rerun reuses them);
//! - runs each batch and the checkpoint update in the *same* transaction, under
//!   `lock_timeout` and `statement_timeout`, so a killed run resumes after the last
//!   committed batch and never applies one twice;
//! - adapts the batch size toward the target batch time (at most halving or doubling per
//!   batch), sleeps between batches, and pauses while a replica's replay lag is too high;
//! - shows an indicatif bar (rows / estimate, rate, ETA) on a terminal and plain log lines
//!   otherwise; Ctrl-C lets the running batch commit and then stops.
//!
//! The job is read from the plan YAML with serde into [`BackfillJob`], which mirrors the
//! fields of the planner's `backfill` spec that the runner needs.

use super::LiveError;
use super::connect::{Db, error_text};
use crate::pg::quote_ident;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One key column of the walk.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// A backfill job as the plan's `backfill:` block states it.
#[derive(Debug, Clone, Deserialize)]
pub struct BackfillJob {
    /// The checkpoint row's key.
    pub job: String,
    /// `schema.name` of the table walked.
    pub table: String,
    pub key: Vec<KeyColumn>,
    pub batch_size: u64,
    #[serde(default = "default_min_batch")]
    pub min_batch_size: u64,
    #[serde(default = "default_max_batch")]
    pub max_batch_size: u64,
    /// 0: fixed batch size.
    #[serde(default)]
    pub target_batch_time_ms: u64,
    #[serde(default)]
    pub sleep_ms: u64,
    /// 0: never wait for replicas.
    #[serde(default)]
    pub max_replica_lag_ms: u64,
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout_ms: u64,
    pub checkpoint_table: String,
    /// Returns one `text[]`: the largest key when the job starts.
    pub upper_bound_sql: String,
    /// `$1 text[]` upper, `$2 bigint` size → `scanned, changed, last_key text[]`.
    pub first_batch_sql: String,
    /// `$1 text[]` last key, `$2 text[]` upper, `$3 bigint` size → as above.
    pub next_batch_sql: String,
}

fn default_min_batch() -> u64 {
    100
}
fn default_max_batch() -> u64 {
    100_000
}
fn default_lock_timeout() -> u64 {
    1000
}

/// A backfill step found in a plan.
#[derive(Debug, Clone)]
pub struct PlanStep {
    /// The step number (`--step N`).
    pub id: u64,
    pub title: String,
    pub job: BackfillJob,
}

/// Reads the backfill steps of a plan file (YAML or JSON: `steps: [{id, title, backfill}]`).
pub fn load_plan(path: &Path) -> Result<Vec<PlanStep>, LiveError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LiveError::Backfill(format!("{}: cannot read: {e}", path.display())))?;
    parse_plan(&text).map_err(|m| LiveError::Backfill(format!("{}: {m}", path.display())))
}

/// Parses plan text; see [`load_plan`].
pub fn parse_plan(text: &str) -> Result<Vec<PlanStep>, String> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("not a plan (YAML): {e}"))?;
    let steps = value
        .get("steps")
        .and_then(|s| s.as_sequence())
        .ok_or("not a plan: no `steps:` list (write one with `lockstep plan --format yaml`)")?;
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let Some(spec) = step.get("backfill").filter(|b| !b.is_null()) else {
            continue;
        };
        let id = step
            .get("id")
            .and_then(|v| v.as_u64())
            .unwrap_or(i as u64 + 1);
        let title = step
            .get("title")
            .and_then(|v| v.as_str())
            .unwrap_or("backfill")
            .to_string();
        let job: BackfillJob = serde_yaml::from_value(spec.clone())
            .map_err(|e| format!("step {id}: bad backfill block: {e}"))?;
        if job.key.is_empty() {
            return Err(format!("step {id}: the backfill has no key columns"));
        }
        out.push(PlanStep { id, title, job });
    }
    Ok(out)
}

/// Overrides from the command line (or `backfill:` in lockstep.yaml).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub batch_size: Option<u64>,
    pub target_batch_time: Option<Duration>,
    pub sleep: Option<Duration>,
    pub max_lag: Option<Duration>,
    /// Stop after this many batches (tests, careful first runs).
    pub max_batches: Option<u64>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every row up to the upper key is done.
    Done { rows_changed: u64, batches: u64 },
    /// Stopped by Ctrl-C (or `max_batches`) after a committed batch; a rerun resumes.
    Interrupted { rows_changed: u64, batches: u64 },
}

/// A key as the batch SQL passes it around: one text value per key column.
type KeyText = Vec<Option<String>>;

/// What one batch did: rows walked, rows changed, the last key walked.
type BatchResult = (u64, u64, Option<KeyText>);

/// The checkpoint row.
struct Checkpoint {
    upper_key: Option<Vec<Option<String>>>,
    last_key: Option<Vec<Option<String>>>,
    rows_done: i64,
    batches: i64,
    done: bool,
}

fn qualified(table: &str) -> String {
    match table.split_once('.') {
        Some((s, t)) => format!("{}.{}", quote_ident(s), quote_ident(t)),
        None => quote_ident(table),
    }
}

fn read_checkpoint(db: &mut Db, job: &BackfillJob) -> Result<Option<Checkpoint>, LiveError> {
    let rows = db.query(
        "reading the checkpoint",
        &format!(
            "SELECT upper_key, last_key, rows_done, batches, done FROM {} WHERE job = $1",
            qualified(&job.checkpoint_table)
        ),
        &[&job.job],
    )?;
    Ok(rows.first().map(|r| Checkpoint {
        upper_key: r.get(0),
        last_key: r.get(1),
        rows_done: r.get(2),
        batches: r.get(3),
        done: r.get(4),
    }))
}

/// Prints progress: a bar on a terminal, a log line every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    last_log: Instant,
    started: Instant,
    job: String,
}

impl Progress {
    fn new(job: &str, estimate: Option<u64>, done: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = match estimate {
                Some(n) => ProgressBar::new(n.max(done)),
                None => ProgressBar::new_spinner(),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let template = if estimate.is_some() {
                "{msg} [{bar:30}] {pos}/~{len} rows  {per_sec}  ETA {eta}"
            } else {
                "{msg} {spinner} {pos} rows  {per_sec}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(job.to_string());
            bar.set_position(done);
            Some(bar)
        } else {
            None
        };
        Progress {
            bar,
            last_log: Instant::now(),
            started: Instant::now(),
            job: job.to_string(),
        }
    }

    fn update(&mut self, scanned_total: u64, changed_total: u64, batch: u64, size: u64, ms: f64) {
        match &self.bar {
            Some(bar) => bar.set_position(scanned_total),
            None => {
                if self.last_log.elapsed() >= Duration::from_secs(2) || batch == 1 {
                    let secs = self.started.elapsed().as_secs_f64().max(1e-3);
                    eprintln!(
                        "backfill {}: batch {batch}: {scanned_total} rows walked, {changed_total} changed, \
                         {:.0} rows/s, batch size {size}, last batch {ms:.0} ms",
                        self.job,
                        scanned_total as f64 / secs
                    );
                    self.last_log = Instant::now();
                }
            }
        }
    }

    fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs one job to the end (or until `stop` is set). `stop` is checked between batches, so
/// a batch in flight always commits with its checkpoint.
pub fn run_job(
    db: &mut Db,
    job: &BackfillJob,
    overrides: &Overrides,
    stop: &AtomicBool,
) -> Result<Outcome, LiveError> {
    let cp = qualified(&job.checkpoint_table);
    db.batch(
        "creating the checkpoint table",
        &format!(
            "CREATE TABLE IF NOT EXISTS {cp} (job text PRIMARY KEY, upper_key text[], \
             last_key text[], rows_done bigint NOT NULL DEFAULT 0, batches bigint NOT NULL DEFAULT 0, \
             batch_size integer, done boolean NOT NULL DEFAULT false, \
             started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())"
        ),
    )?;
    // The range is fixed here, once: rows inserted later are the application's job.
    db.query(
        "recording the job",
        &format!(
            "INSERT INTO {cp} (job, upper_key) SELECT $1, u.upper_key FROM ({}) u \
             ON CONFLICT (job) DO NOTHING",
            job.upper_bound_sql.trim().trim_end_matches(';')
        ),
        &[&job.job],
    )?;
    let Some(mut state) = read_checkpoint(db, job)? else {
        return Err(LiveError::Backfill(format!(
            "job {}: checkpoint row vanished",
            job.job
        )));
    };
    let estimate: Option<u64> = db
        .query_one(
            "estimating rows",
            "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)",
            &[&qualified(&job.table)],
        )
        .ok()
        .and_then(|r| r.get::<_, Option<f64>>(0))
        .filter(|r| *r >= 0.0)
        .map(|r| r as u64);

    let mut size = overrides.batch_size.unwrap_or(job.batch_size).max(1);
    let min = job.min_batch_size.max(1).min(size);
    let max = job.max_batch_size.max(size);
    let target = overrides
        .target_batch_time
        .unwrap_or(Duration::from_millis(job.target_batch_time_ms));
    let sleep = overrides
        .sleep
        .unwrap_or(Duration::from_millis(job.sleep_ms));
    let max_lag = overrides
        .max_lag
        .unwrap_or(Duration::from_millis(job.max_replica_lag_ms));
    // A batch that takes far longer than planned is cut off and retried smaller.
    let statement_timeout = (target * 10).max(Duration::from_secs(30));

    let start_changed = u64::try_from(state.rows_done).unwrap_or(0);
    let mut changed_total = start_changed;
    let mut batches = u64::try_from(state.batches).unwrap_or(0);
    let mut scanned_total: u64 = 0;
    let mut run_batches = 0u64;
    let mut progress = Progress::new(&job.job, estimate, 0);
    if state.last_key.is_some() {
        progress.note(&format!(
            "backfill {}: resuming after batch {batches} ({changed_total} rows changed so far)",
            job.job
        ));
    }
    let mut retries = 0u32;
    loop {
        if state.done {
            break;
        }
        let Some(upper) = state.upper_key.clone() else {
            // Empty table when the job started: nothing to do.
            db.query(
                "finishing the job",
                &format!("UPDATE {cp} SET done = true, updated_at = now() WHERE job = $1"),
                &[&job.job],
            )?;
            break;
        };
        if stop.load(Ordering::SeqCst) || overrides.max_batches.is_some_and(|m| run_batches >= m) {
            progress.finish();
            return Ok(Outcome::Interrupted {
                rows_changed: changed_total,
                batches,
            });
        }
        if !max_lag.is_zero() {
            wait_for_replicas(db, max_lag, stop, &progress)?;
        }
        let t = Instant::now();
        let result = run_batch(db, job, &cp, &state, &upper, size, statement_timeout);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok((scanned, changed, last)) => {
                retries = 0;
                batches += 1;
                run_batches += 1;
                scanned_total += scanned;
                changed_total += changed;
                state.done = scanned < size;
                if last.is_some() {
                    state.last_key = last;
                }
                progress.update(scanned_total, changed_total, batches, size, ms);
                if !target.is_zero() {
                    let ideal = size as f64 * target.as_secs_f64() * 1e3 / ms.max(1.0);
                    let next = (ideal as u64).clamp(size / 2, size.saturating_mul(2));
                    size = next.clamp(min, max);
                }
                if !state.done && !sleep.is_zero() {
                    interruptible_sleep(sleep, stop);
                }
            }
            Err(BatchError::Retry(why)) => {
                retries += 1;
                if retries > 10 {
                    return Err(LiveError::Backfill(format!(
                        "job {}: giving up after 10 retries: {why}",
                        job.job
                    )));
                }
                if why.contains("statement timeout") {
                    size = (size / 2).max(1);
                }
                progress.note(&format!(
                    "backfill {}: batch failed ({why}); retry {retries} with batch size {size}",
                    job.job
                ));
                interruptible_sleep(Duration::from_millis(200 * u64::from(retries)), stop);
            }
            Err(BatchError::Fatal(e)) => {
                progress.finish();
                return Err(e);
            }
        }
    }
    progress.finish();
    Ok(Outcome::Done {
        rows_changed: changed_total,
        batches,
    })
}

enum BatchError {
    /// Lock timeout, statement timeout, deadlock, serialization failure: try again.
    Retry(String),
    Fatal(LiveError),
}

/// One batch and its checkpoint, in one transaction.
fn run_batch(
    db: &mut Db,
    job: &BackfillJob,
    cp: &str,
    state: &Checkpoint,
    upper: &Vec<Option<String>>,
    size: u64,
    statement_timeout: Duration,
) -> Result<BatchResult, BatchError> {
    let fatal = |what: &str, e: postgres::Error| BatchError::Fatal(LiveError::query(what, &e));
    let client = db.client();
    let mut tx = client
        .transaction()
        .map_err(|e| fatal("starting a batch", e))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'",
        job.lock_timeout_ms.max(1),
        statement_timeout.as_millis().max(1)
    ))
    .map_err(|e| fatal("setting the batch's timeouts", e))?;
    let size_param = i64::try_from(size).unwrap_or(i64::MAX);
    let row = match &state.last_key {
        None => tx.query_one(job.first_batch_sql.as_str(), &[upper, &size_param]),
        Some(last) => tx.query_one(job.next_batch_sql.as_str(), &[last, upper, &size_param]),
    };
    let row = match row {
        Ok(r) => r,
        Err(e) => {
            let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
            let text = error_text(&e);
            // The transaction is dropped (rolled back) on return.
            return Err(match code.as_str() {
                "55P03" => BatchError::Retry("lock timeout".into()),
                "57014" => BatchError::Retry("statement timeout".into()),
                "40P01" | "40001" => BatchError::Retry(text),
                _ => BatchError::Fatal(LiveError::Backfill(format!(
                    "job {}: the batch failed: {text}",
                    job.job
                ))),
            });
        }
    };
    let scanned: i64 = row
        .try_get(0)
        .map_err(|e| fatal("reading the batch result", e))?;
    let changed: i64 = row
        .try_get(1)
        .map_err(|e| fatal("reading the batch result", e))?;
    let last: Option<Vec<Option<String>>> = row
        .try_get(2)
        .map_err(|e| fatal("reading the batch result", e))?;
    let scanned_u = u64::try_from(scanned).unwrap_or(0);
    let done = scanned_u < size;
    let size_i32 = i32::try_from(size).unwrap_or(i32::MAX);
    tx.execute(
        &format!(
            "UPDATE {cp} SET last_key = COALESCE($2, last_key), rows_done = rows_done + $3, \
             batches = batches + 1, batch_size = $4, done = $5, updated_at = clock_timestamp() \
             WHERE job = $1"
        ),
        &[&job.job, &last, &changed, &size_i32, &done],
    )
    .map_err(|e| fatal("updating the checkpoint", e))?;
    tx.commit().map_err(|e| fatal("committing the batch", e))?;
    Ok((scanned_u, u64::try_from(changed).unwrap_or(0), last))
}

/// Waits while the replay lag reported by `pg_stat_replication` is above `max_lag`.
fn wait_for_replicas(
    db: &mut Db,
    max_lag: Duration,
    stop: &AtomicBool,
    progress: &Progress,
) -> Result<(), LiveError> {
    loop {
        let row = db.query_one(
            "reading replica lag",
            "SELECT COALESCE(max(extract(epoch FROM replay_lag)), 0)::float8 FROM pg_stat_replication",
            &[],
        )?;
        let lag = Duration::from_secs_f64(row.get::<_, f64>(0).max(0.0));
        if lag <= max_lag || stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        progress.note(&format!(
            "paused: replica lag {:.1}s is above {:.1}s",
            lag.as_secs_f64(),
            max_lag.as_secs_f64()
        ));
        interruptible_sleep(Duration::from_secs(1), stop);
    }
}

fn interruptible_sleep(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
}

/// The flag set by Ctrl-C. Installing the handler twice (a second run in one process) is
/// harmless: the first handler already sets the same flag.
pub fn install_ctrlc() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // If a handler cannot be installed, Ctrl-C keeps its default effect (the running
        // batch's transaction is rolled back by the server), which is still safe.
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                // Second Ctrl-C: the user insists.
                std::process::exit(130);
            }
            eprintln!("\nstopping after the current batch (Ctrl-C again to abort it)…");
        });
        flag
    })
    .clone()
}
