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
//! Safety (the protocol is described in [`crate::plan::backfill`], and the psql procedure
//! follows it too):
//! - one runner per job: a session advisory lock; a second runner exits with the pid of
//!   the session that holds it, before writing anything;
//! - nothing is written before the batch statements compile on the server (a run before
//!   the plan's expand steps fails cleanly) and before the triggers on the written table
//!   have been checked ([`TriggerPolicy`]);
//! - state lives in the `lockstep` schema; a started job is never silently restarted: a
//!   missing checkpoint row, a recreated checkpoint table or a different plan is refused
//!   (`--restart` starts over explicitly);
//! - each batch locks and checks its checkpoint row and updates exactly that row in the
//!   batch's transaction.
//!
//! The job is read from the plan YAML with serde into [`BackfillJob`], which mirrors the
//! fields of the planner's `backfill` spec that the runner needs.

use super::LiveError;
use super::connect::{Db, error_text};
use crate::pg::quote_ident;
use crate::plan::backfill::{
    CHECKPOINT_TABLE, EVENT_DELETE, EVENT_INSERT, EVENT_UPDATE, HOLDER_SQL, JOBS_TABLE,
    WRITE_HAZARDS_SQL, dml_writes, lock_key, state_schema_steps,
};
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
    /// The statement of one batch as the planner wrote it (`__LOCKSTEP_IN_BATCH__` for the
    /// batch's rows): tells which table is written and which columns are set. Empty in
    /// hand-written plans: then every trigger and foreign key on `table` counts.
    #[serde(default)]
    pub dml: String,
}

impl BackfillJob {
    /// The plan step's fingerprint ([`crate::plan::backfill::fingerprint`]).
    pub fn fingerprint(&self) -> String {
        let key: Vec<(&str, &str)> = self
            .key
            .iter()
            .map(|k| (k.name.as_str(), k.ty.as_str()))
            .collect();
        crate::plan::backfill::fingerprint(
            &self.job,
            &self.table,
            &key,
            &self.dml,
            &self.upper_bound_sql,
            &self.first_batch_sql,
            &self.next_batch_sql,
        )
    }
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

/// What to do about user triggers that would fire for the backfill's own writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TriggerPolicy {
    /// Refuse to run, naming the triggers and the choices (the default).
    #[default]
    Refuse,
    /// Let them fire (`--allow-triggers`): the user knows what they do.
    Allow,
    /// Skip them for the backfill's writes only (`--disable-user-triggers`): each batch
    /// runs with `SET LOCAL session_replication_role = replica`. Refused when the role may
    /// not set it, when a trigger fires in replica mode anyway (`ENABLE ALWAYS` /
    /// `ENABLE REPLICA`), or when replica mode would also skip a foreign key's checks or
    /// actions for the columns written.
    Disable,
}

/// Overrides from the command line (or `backfill:` in lockstep.yaml).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Triggers on the written table.
    pub triggers: TriggerPolicy,
    /// Forget the job's checkpoint and start from the first row (`--restart`).
    pub restart: bool,
    pub batch_size: Option<u64>,
    pub target_batch_time: Option<Duration>,
    pub sleep: Option<Duration>,
    pub max_lag: Option<Duration>,
    /// Stop after this many batches (tests, careful first runs).
    pub max_batches: Option<u64>,
    /// Hard ceiling on one batch statement (its `statement_timeout`, so also on how long
    /// it holds its row locks); a batch cut off is retried with half the rows. Default:
    /// [`DEFAULT_MAX_BATCH_TIME`], or 2.5 × the target batch time when that is longer.
    pub max_batch_time: Option<Duration>,
    /// How progress is shown.
    pub progress: ProgressMode,
}

/// How a run shows its progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, a log line every few seconds otherwise (stderr).
    #[default]
    Auto,
    /// One JSON object per batch on stdout (`--progress json`), for CI logs; notes stay
    /// on stderr.
    Json,
}

/// The default ceiling on one batch statement (see [`Overrides::max_batch_time`]).
pub const DEFAULT_MAX_BATCH_TIME: Duration = Duration::from_millis(500);

/// Calm batches in a row (no waiters, not over target) before the batch size may grow.
const CALM_BATCHES: u32 = 3;

/// The pause after a batch that made other sessions wait, times the number of such
/// batches in a row (capped at [`MAX_PAIN_PAUSE`]).
const PAIN_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAIN_PAUSE: Duration = Duration::from_secs(2);

/// Other sessions waiting, right now, on a lock held by this session: run inside the
/// batch's transaction after its statement, while its row locks are still held. Only
/// backends already waiting on a heavyweight lock are asked for their blockers, so it
/// stays cheap with many idle connections.
const WAITERS_SQL: &str = "SELECT count(*) FROM pg_stat_activity \
     WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() \
       AND pg_backend_pid() = ANY (pg_blocking_pids(pid))";

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

/// What one batch did: rows walked, rows changed, the last key walked, and how many other
/// sessions were waiting on its locks just before it committed.
type BatchResult = (u64, u64, Option<KeyText>, u64);

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
            "SELECT upper_key, last_key, rows_done, batches, done FROM {CHECKPOINT_TABLE} WHERE job = $1"
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

/// Prints progress: a bar on a terminal, a log line every few seconds otherwise, or one
/// JSON object per batch ([`ProgressMode::Json`]).
struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
    last_log: Instant,
    started: Instant,
    job: String,
    /// Rows in the table when the run started (`reltuples`), for the ETA.
    estimate: Option<u64>,
    /// Rows changed before this run (a resumed job), counted as walked for the ETA.
    before: u64,
}

/// One batch as progress reports it.
struct Tick<'a> {
    scanned_total: u64,
    changed_total: u64,
    batch: u64,
    size: u64,
    next_size: u64,
    ms: f64,
    waiters: u64,
    reason: &'a str,
}

impl Progress {
    fn new(job: &str, estimate: Option<u64>, done: u64, mode: ProgressMode) -> Progress {
        let json = mode == ProgressMode::Json;
        let bar = if !json && std::io::stderr().is_terminal() {
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
            json,
            last_log: Instant::now(),
            started: Instant::now(),
            job: job.to_string(),
            estimate,
            before: done,
        }
    }

    fn update(&mut self, t: &Tick<'_>) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = t.scanned_total as f64 / secs;
        let eta = self.estimate.map(|n| {
            let left = n.saturating_sub(self.before + t.scanned_total) as f64;
            if rate > 0.0 { left / rate } else { 0.0 }
        });
        if self.json {
            let line = serde_json::json!({
                "event": "batch",
                "job": self.job,
                "batch": t.batch,
                "rows_walked": t.scanned_total,
                "rows_changed": t.changed_total,
                "rows_per_s": (rate * 10.0).round() / 10.0,
                "eta_s": eta.map(|e| (e * 10.0).round() / 10.0),
                "batch_size": t.size,
                "next_batch_size": t.next_size,
                "batch_ms": (t.ms * 10.0).round() / 10.0,
                "waiters": t.waiters,
                "throttle": t.reason,
            });
            println!("{line}");
            return;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.before + t.scanned_total);
                bar.set_message(format!("{} [{}]", self.job, t.reason));
            }
            None => {
                if self.last_log.elapsed() >= Duration::from_secs(2) || t.batch == 1 {
                    eprintln!(
                        "backfill {}: batch {}: {} rows walked, {} changed, {rate:.0} rows/s{}, \
                         batch size {}, last batch {:.0} ms, throttle: {}",
                        self.job,
                        t.batch,
                        t.scanned_total,
                        t.changed_total,
                        eta.map_or(String::new(), |e| format!(", ETA {e:.0}s")),
                        t.next_size,
                        t.ms,
                        t.reason
                    );
                    self.last_log = Instant::now();
                }
            }
        }
    }

    /// A batch that was cut off or refused and will be tried again.
    fn retry(&self, retry: u32, reason: &str, next_size: u64) {
        if self.json {
            let line = serde_json::json!({
                "event": "retry",
                "job": self.job,
                "retry": retry,
                "next_batch_size": next_size,
                "throttle": reason,
            });
            println!("{line}");
        } else {
            self.note(&format!(
                "backfill {}: batch not applied ({reason}); retry {retry} with batch size {next_size}",
                self.job
            ));
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
    if job.checkpoint_table != CHECKPOINT_TABLE {
        return Err(fail(
            job,
            format!(
                "the plan keeps its checkpoint in {:?}; lockstep keeps checkpoints in {CHECKPOINT_TABLE} \
                 (its own schema, never the application's): write the plan again with this version",
                job.checkpoint_table
            ),
        ));
    }
    let key = lock_key(&job.job);
    let got: bool = db
        .query_one(
            "taking the job's advisory lock",
            "SELECT pg_try_advisory_lock($1)",
            &[&key],
        )?
        .get(0);
    if !got {
        let holder: Option<i32> = db
            .query("finding the session that runs the job", HOLDER_SQL, &[&key])?
            .first()
            .and_then(|r| r.get::<_, Option<i32>>(0));
        let who = holder.map_or("pid unknown".to_string(), |p| format!("pid {p}"));
        return Err(fail(
            job,
            format!(
                "another session ({who}) is running this job; nothing was written. Wait for it to \
                 finish, or stop it first (SELECT pg_cancel_backend(<pid>)); a run resumes where it stopped"
            ),
        ));
    }
    let result = run_locked(db, job, overrides, stop);
    // Released after errors too (a lost connection releases it by itself).
    let _ = db
        .client()
        .execute("SELECT pg_advisory_unlock($1)", &[&key]);
    result
}

fn fail(job: &BackfillJob, message: String) -> LiveError {
    LiveError::Backfill(format!("job {}: {message}", job.job))
}

/// The hint for a started job whose progress cannot be trusted.
const RESTART_HINT: &str = "check what happened, then start over from the first row with --restart \
     (rows a non-idempotent backfill such as `SET n = n + 1` already changed would change again)";

/// Checks that must pass before anything is written: the batch statements compile, and
/// the triggers on the written table are dealt with. Returns whether batches run with
/// `session_replication_role = replica`.
fn preflight(db: &mut Db, job: &BackfillJob, overrides: &Overrides) -> Result<bool, LiveError> {
    for sql in [
        &job.upper_bound_sql,
        &job.first_batch_sql,
        &job.next_batch_sql,
    ] {
        // Parse analysis only: a missing table or column fails here, nothing runs.
        if let Err(e) = db.client().prepare(sql.trim().trim_end_matches(';')) {
            return Err(fail(
                job,
                format!(
                    "the step cannot run yet: {}; run the plan's earlier steps (expand) first. \
                     Nothing was written",
                    error_text(&e)
                ),
            ));
        }
    }
    let writes = dml_writes(&job.dml);
    let (target, events, set_cols) = match &writes {
        Some(w) => (w.table.clone(), w.events, w.set_columns.clone()),
        None => (
            qualified(&job.table),
            EVENT_INSERT | EVENT_UPDATE | EVENT_DELETE,
            None,
        ),
    };
    let oid: Option<u32> = db
        .query_one(
            "finding the written table",
            "SELECT to_regclass($1)::oid",
            &[&target],
        )?
        .get(0);
    let Some(oid) = oid else {
        return Err(fail(
            job,
            format!(
                "table {target} does not exist; run the plan's earlier steps first. Nothing was written"
            ),
        ));
    };
    let hazards = db.query(
        "listing triggers and foreign keys on the written table",
        WRITE_HAZARDS_SQL,
        &[&oid, &events, &set_cols],
    )?;
    let mut firing = Vec::new();
    let mut replica_unsafe = Vec::new();
    for r in &hazards {
        let kind: String = r.get(0);
        let name: String = r.get(1);
        let enabled: String = r.get(2);
        let def: String = r.get(3);
        let line = format!("  - {kind} {name}: {def}");
        if kind == "trigger" && (enabled == "O" || enabled == "A") {
            firing.push(line.clone());
        }
        if kind == "foreign key" || enabled == "A" || enabled == "R" {
            replica_unsafe.push(line);
        }
    }
    match overrides.triggers {
        TriggerPolicy::Refuse if !firing.is_empty() => Err(fail(
            job,
            format!(
                "its writes to {target} would fire these triggers on every row it changes, which can \
                 rewrite columns the backfill was not asked to change (an updated_at, an audit row):\n{}\n\
                 Nothing was written. Choose one:\n  --allow-triggers         let them run, knowingly\n  \
                 --disable-user-triggers  skip them for the backfill's own writes (each batch runs with \
                 SET LOCAL session_replication_role = replica; needs a superuser, or on PostgreSQL 15+ \
                 GRANT SET ON PARAMETER session_replication_role TO <role>)",
                firing.join("\n")
            ),
        )),
        TriggerPolicy::Refuse => Ok(false),
        TriggerPolicy::Allow => {
            if !firing.is_empty() {
                eprintln!(
                    "backfill {}: --allow-triggers: these triggers run for every row changed:\n{}",
                    job.job,
                    firing.join("\n")
                );
            }
            Ok(false)
        }
        TriggerPolicy::Disable => {
            if !replica_unsafe.is_empty() {
                return Err(fail(
                    job,
                    format!(
                        "--disable-user-triggers is not safe here: with session_replication_role = replica \
                         these would still fire (ENABLE ALWAYS / ENABLE REPLICA triggers) or their checks and \
                         actions would be skipped (foreign keys over the columns written):\n{}\n\
                         Nothing was written; use --allow-triggers, or change the triggers first",
                        replica_unsafe.join("\n")
                    ),
                ));
            }
            let probe = {
                let mut tx = db
                    .client()
                    .transaction()
                    .map_err(|e| LiveError::query("checking session_replication_role", &e))?;
                let r = tx.batch_execute("SET LOCAL session_replication_role = replica");
                // Dropped: rolled back.
                drop(tx);
                r
            };
            match probe {
                Ok(()) => Ok(true),
                Err(e) => Err(fail(
                    job,
                    format!(
                        "--disable-user-triggers needs permission to set session_replication_role, and \
                         the server said: {}. Connect as a superuser, or on PostgreSQL 15+ run \
                         GRANT SET ON PARAMETER session_replication_role TO <role>; or use --allow-triggers. \
                         Nothing was written",
                        error_text(&e)
                    ),
                )),
            }
        }
    }
}

/// Creates the `lockstep` schema and its tables (serialised between runners, so two first
/// runs do not race on `CREATE SCHEMA`).
fn setup_state(db: &mut Db) -> Result<(), LiveError> {
    let mut tx = db
        .client()
        .transaction()
        .map_err(|e| LiveError::query("creating the lockstep schema", &e))?;
    let setup_key = lock_key("\u{0}lockstep setup");
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&setup_key])
        .map_err(|e| LiveError::query("creating the lockstep schema", &e))?;
    for (exists, ddl) in state_schema_steps() {
        let present: bool = tx
            .query_one(&format!("SELECT {exists}"), &[])
            .map_err(|e| LiveError::query("creating the lockstep schema", &e))?
            .get(0);
        if present {
            continue;
        }
        tx.batch_execute(&ddl).map_err(|e| {
            LiveError::Backfill(format!(
                "creating the lockstep schema (the role needs CREATE on the database, or create \
                 the schema `lockstep` for it): {}",
                error_text(&e)
            ))
        })?;
    }
    tx.commit()
        .map_err(|e| LiveError::query("creating the lockstep schema", &e))
}

/// Records a new job, or checks that a started one may resume (see the module docs).
fn record_job(db: &mut Db, job: &BackfillJob, fp: &str, restart: bool) -> Result<(), LiveError> {
    let q = |e: postgres::Error| LiveError::query("recording the job", &e);
    let mut tx = db.client().transaction().map_err(q)?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        job.lock_timeout_ms.max(1)
    ))
    .map_err(q)?;
    if restart {
        tx.execute(
            &format!("DELETE FROM {CHECKPOINT_TABLE} WHERE job = $1"),
            &[&job.job],
        )
        .map_err(q)?;
        tx.execute(
            &format!("DELETE FROM {JOBS_TABLE} WHERE job = $1"),
            &[&job.job],
        )
        .map_err(q)?;
        eprintln!(
            "backfill {}: --restart: starting from the first row",
            job.job
        );
    }
    let cp_oid: u32 = tx
        .query_one(&format!("SELECT '{CHECKPOINT_TABLE}'::regclass::oid"), &[])
        .map_err(q)?
        .get(0);
    let ledger = tx
        .query_opt(
            &format!(
                "SELECT fingerprint, checkpoint_oid FROM {JOBS_TABLE} WHERE job = $1 FOR UPDATE"
            ),
            &[&job.job],
        )
        .map_err(q)?
        .map(|r| (r.get::<_, String>(0), r.get::<_, u32>(1)));
    let cp = tx
        .query_opt(
            &format!("SELECT fingerprint FROM {CHECKPOINT_TABLE} WHERE job = $1 FOR UPDATE"),
            &[&job.job],
        )
        .map_err(q)?
        .map(|r| r.get::<_, String>(0));
    let other_fp = ledger
        .as_ref()
        .map(|l| &l.0)
        .filter(|f| *f != fp)
        .or(cp.as_ref().filter(|f| *f != fp));
    if let Some(other) = other_fp {
        return Err(fail(
            job,
            format!(
                "it was started by a different plan (fingerprint {other}, this plan {fp}): the \
                 step's SQL changed since. Finish it with the plan that started it, or start over \
                 with --restart. Nothing was written"
            ),
        ));
    }
    match (&ledger, &cp) {
        (Some((_, oid)), _) if *oid != cp_oid => Err(fail(
            job,
            format!(
                "{CHECKPOINT_TABLE} was dropped and recreated after the job started, so its \
                 progress is lost; {RESTART_HINT}. Nothing was written"
            ),
        )),
        (Some(_), None) => Err(fail(
            job,
            format!(
                "the job started but its checkpoint row is gone (deleted, or {CHECKPOINT_TABLE} \
                 emptied); {RESTART_HINT}. Nothing was written"
            ),
        )),
        (None, Some(_)) => Err(fail(
            job,
            format!(
                "it has a checkpoint row but no record in {JOBS_TABLE} (emptied or recreated); \
                 {RESTART_HINT}. Nothing was written"
            ),
        )),
        (Some(_), Some(_)) => tx.commit().map_err(q),
        (None, None) => {
            tx.execute(
                &format!(
                    "INSERT INTO {JOBS_TABLE} (job, fingerprint, checkpoint_oid) VALUES ($1, $2, $3)"
                ),
                &[&job.job, &fp, &cp_oid],
            )
            .map_err(q)?;
            // The range is fixed here, once: rows inserted later are the application's job.
            tx.execute(
                &format!(
                    "INSERT INTO {CHECKPOINT_TABLE} (job, fingerprint, upper_key) \
                     SELECT $1, $2, u.upper_key FROM ({}) u",
                    job.upper_bound_sql.trim().trim_end_matches(';')
                ),
                &[&job.job, &fp],
            )
            .map_err(q)?;
            tx.commit().map_err(q)
        }
    }
}

/// The outcome of this plan's job when it already finished (read-only).
fn finished(db: &mut Db, job: &BackfillJob, fp: &str) -> Result<Option<Outcome>, LiveError> {
    let ready: bool = db
        .query_one(
            "looking for the checkpoint",
            &format!(
                "SELECT to_regclass('{CHECKPOINT_TABLE}') IS NOT NULL AND to_regclass('{JOBS_TABLE}') IS NOT NULL"
            ),
            &[],
        )?
        .get(0);
    if !ready {
        return Ok(None);
    }
    let row = db.query(
        "reading the checkpoint",
        &format!(
            "SELECT c.rows_done, c.batches FROM {CHECKPOINT_TABLE} c JOIN {JOBS_TABLE} j ON j.job = c.job \
              WHERE c.job = $1 AND c.fingerprint = $2 AND j.fingerprint = $2 AND c.done \
                AND j.checkpoint_oid = to_regclass('{CHECKPOINT_TABLE}')::oid"
        ),
        &[&job.job, &fp],
    )?;
    Ok(row.first().map(|r| Outcome::Done {
        rows_changed: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        batches: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
    }))
}

fn run_locked(
    db: &mut Db,
    job: &BackfillJob,
    overrides: &Overrides,
    stop: &AtomicBool,
) -> Result<Outcome, LiveError> {
    let fp = job.fingerprint();
    // A finished job stays finished, even after later steps changed the table (a contract
    // step dropping the old column would make the batch SQL fail the preflight).
    if !overrides.restart
        && let Some(done) = finished(db, job, &fp)?
    {
        return Ok(done);
    }
    let replica = preflight(db, job, overrides)?;
    setup_state(db)?;
    record_job(db, job, &fp, overrides.restart)?;
    let cp = CHECKPOINT_TABLE;
    let Some(mut state) = read_checkpoint(db, job)? else {
        return Err(fail(
            job,
            format!("its checkpoint row vanished right after it was recorded; {RESTART_HINT}"),
        ));
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
    // The hard ceiling on one batch: cut off by the server and retried smaller, so no
    // batch holds its row locks longer than this, whatever the table does.
    let statement_timeout = overrides
        .max_batch_time
        .unwrap_or(DEFAULT_MAX_BATCH_TIME.max(target.mul_f64(2.5)))
        .max(Duration::from_millis(1));

    let start_changed = u64::try_from(state.rows_done).unwrap_or(0);
    let mut changed_total = start_changed;
    let mut batches = u64::try_from(state.batches).unwrap_or(0);
    let mut scanned_total: u64 = 0;
    let mut run_batches = 0u64;
    let mut progress = Progress::new(&job.job, estimate, start_changed, overrides.progress);
    if state.last_key.is_some() {
        progress.note(&format!(
            "backfill {}: resuming after batch {batches} ({changed_total} rows changed so far)",
            job.job
        ));
    }
    let mut retries = 0u32;
    // Why the pace is what it is (shown in progress), calm batches in a row, and batches
    // in a row that made the application wait.
    let mut reason: String;
    let mut calm = 0u32;
    let mut pained = 0u32;
    let mut lagged = false;
    loop {
        if state.done {
            break;
        }
        let Some(upper) = state.upper_key.clone() else {
            // Empty table when the job started: nothing to do.
            let n = db
                .client()
                .execute(
                    &format!(
                        "UPDATE {cp} SET done = true, updated_at = now() WHERE job = $1 AND fingerprint = $2"
                    ),
                    &[&job.job, &fp],
                )
                .map_err(|e| LiveError::query("finishing the job", &e))?;
            if n != 1 {
                return Err(fail(
                    job,
                    format!("its checkpoint row is gone; {RESTART_HINT}"),
                ));
            }
            break;
        };
        if stop.load(Ordering::SeqCst) || overrides.max_batches.is_some_and(|m| run_batches >= m) {
            progress.finish();
            return Ok(Outcome::Interrupted {
                rows_changed: changed_total,
                batches,
            });
        }
        if !max_lag.is_zero() && wait_for_replicas(db, max_lag, stop, &progress)? {
            lagged = true;
            calm = 0;
        }
        let t = Instant::now();
        let lag_note = if std::mem::take(&mut lagged) {
            "paused for replica lag; "
        } else {
            ""
        };
        let batch = BatchCtx {
            job,
            fp: &fp,
            replica,
            statement_timeout,
        };
        let result = run_batch(db, &batch, &state, &upper, size);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok((scanned, changed, last, waiters)) => {
                retries = 0;
                batches += 1;
                run_batches += 1;
                scanned_total += scanned;
                changed_total += changed;
                state.done = scanned < size;
                if last.is_some() {
                    state.last_key = last;
                }
                let ran = size;
                let mut pause = sleep;
                if waiters > 0 {
                    // The application felt this batch: back off at once, and pause
                    // longer while it keeps happening.
                    pained += 1;
                    calm = 0;
                    size = (size / 2).max(min);
                    pause = pause.max((PAIN_PAUSE * pained).min(MAX_PAIN_PAUSE));
                    reason = format!(
                        "{waiters} session(s) waited on the backfill's locks: batch halved, paused {} ms",
                        pause.as_millis()
                    );
                } else {
                    pained = 0;
                    if target.is_zero() {
                        reason = "fixed batch size".into();
                    } else {
                        let target_ms = target.as_secs_f64() * 1e3;
                        let ideal = (size as f64 * target_ms / ms.max(1.0)) as u64;
                        if ms > target_ms * 1.5 {
                            // Slow: at least halve, so there is no run of slow batches.
                            calm = 0;
                            size = ideal.min(size / 2).clamp(min, max);
                            reason = format!(
                                "slow batch ({ms:.0} ms, target {target_ms:.0} ms): batch shrunk"
                            );
                        } else if ms > target_ms {
                            calm = 0;
                            size = ideal.clamp(min, max);
                            reason = format!("batch over target ({ms:.0} ms): batch shrunk");
                        } else {
                            calm += 1;
                            if calm >= CALM_BATCHES {
                                // Grow slowly, and only after several calm batches.
                                let grown = (size as f64 * 1.25).ceil() as u64;
                                size = grown.min(ideal).max(size).clamp(min, max);
                                reason = "calm: growing".into();
                            } else {
                                reason = "calm".into();
                            }
                        }
                    }
                }
                progress.update(&Tick {
                    scanned_total,
                    changed_total,
                    batch: batches,
                    size: ran,
                    next_size: size,
                    ms,
                    waiters,
                    reason: &format!("{lag_note}{reason}"),
                });
                if !state.done && !pause.is_zero() {
                    interruptible_sleep(pause, stop);
                }
            }
            Err(BatchError::Retry(why)) => {
                calm = 0;
                let cut_off = why.contains("statement timeout");
                if cut_off && size > 1 {
                    // Too big for the ceiling: smaller batches are progress, not failure.
                    size = (size / 2).max(1);
                    reason = format!(
                        "batch cut off at {} ms: retrying with half the rows",
                        statement_timeout.as_millis()
                    );
                } else {
                    retries += 1;
                    if retries > 10 {
                        return Err(LiveError::Backfill(format!(
                            "job {}: giving up after 10 retries: {why}",
                            job.job
                        )));
                    }
                    reason = format!("batch failed ({why}): retrying");
                }
                progress.retry(retries, &reason, size);
                let wait = if cut_off {
                    PAIN_PAUSE
                } else {
                    Duration::from_millis(200 * u64::from(retries))
                };
                interruptible_sleep(wait, stop);
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

/// What every batch of a run shares.
struct BatchCtx<'a> {
    job: &'a BackfillJob,
    fp: &'a str,
    /// Run with `session_replication_role = replica` (`--disable-user-triggers`).
    replica: bool,
    statement_timeout: Duration,
}

/// One batch and its checkpoint, in one transaction: the checkpoint row is locked and
/// checked first (it must exist, belong to this plan and be where this run left it), and
/// exactly that row is updated after the batch; anything else rolls the batch back.
fn run_batch(
    db: &mut Db,
    cx: &BatchCtx<'_>,
    state: &Checkpoint,
    upper: &Vec<Option<String>>,
    size: u64,
) -> Result<BatchResult, BatchError> {
    let job = cx.job;
    let fatal = |what: &str, e: postgres::Error| BatchError::Fatal(LiveError::query(what, &e));
    let client = db.client();
    let mut tx = client
        .transaction()
        .map_err(|e| fatal("starting a batch", e))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'{}",
        // Below the statement's ceiling, so a wait for the application's locks reads as
        // a lock timeout (retry as is), not as a batch too big (retry smaller).
        job.lock_timeout_ms
            .min(u64::try_from(cx.statement_timeout.as_millis() * 4 / 5).unwrap_or(u64::MAX))
            .max(1),
        cx.statement_timeout.as_millis().max(1),
        if cx.replica {
            // Local to this transaction: the application's sessions are not affected.
            "; SET LOCAL session_replication_role = replica"
        } else {
            ""
        }
    ))
    .map_err(|e| fatal("setting the batch's timeouts", e))?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT c.last_key, c.done, j.checkpoint_oid = to_regclass('{CHECKPOINT_TABLE}')::oid \
                   FROM {CHECKPOINT_TABLE} c LEFT JOIN {JOBS_TABLE} j ON j.job = c.job \
                  WHERE c.job = $1 AND c.fingerprint = $2 FOR UPDATE OF c"
            ),
            &[&job.job, &cx.fp],
        )
        .map_err(|e| fatal("locking the checkpoint row", e))?;
    let Some(row) = row else {
        return Err(BatchError::Fatal(fail(
            job,
            format!(
                "its checkpoint row disappeared mid-run (deleted, {CHECKPOINT_TABLE} emptied or \
                 recreated); stopped, this batch was not applied. {RESTART_HINT}"
            ),
        )));
    };
    let last_now: Option<Vec<Option<String>>> = row.get(0);
    let done_now: bool = row.get(1);
    let same_table: Option<bool> = row.get(2);
    if same_table != Some(true) {
        return Err(BatchError::Fatal(fail(
            job,
            format!(
                "{CHECKPOINT_TABLE} or {JOBS_TABLE} was recreated mid-run; stopped, this batch was \
                 not applied. {RESTART_HINT}"
            ),
        )));
    }
    if last_now != state.last_key || done_now {
        return Err(BatchError::Fatal(fail(
            job,
            "its checkpoint was moved by another session mid-run; stopped, this batch was not \
             applied. Check for another runner, then run again to resume from the checkpoint"
                .to_string(),
        )));
    }
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
                _ => BatchError::Fatal(fail(job, format!("the batch failed: {text}"))),
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
    let waiters: i64 = tx
        .query_one(WAITERS_SQL, &[])
        .map_err(|e| fatal("looking for sessions waiting on the batch", e))?
        .get(0);
    let scanned_u = u64::try_from(scanned).unwrap_or(0);
    let done = scanned_u < size;
    let size_i32 = i32::try_from(size).unwrap_or(i32::MAX);
    let updated = tx
        .execute(
            &format!(
                "UPDATE {CHECKPOINT_TABLE} SET last_key = COALESCE($2, last_key), rows_done = rows_done + $3, \
                 batches = batches + 1, batch_size = $4, done = $5, updated_at = clock_timestamp() \
                 WHERE job = $1 AND fingerprint = $6"
            ),
            &[&job.job, &last, &changed, &size_i32, &done, &cx.fp],
        )
        .map_err(|e| fatal("updating the checkpoint", e))?;
    if updated != 1 {
        // Dropping `tx` rolls the batch back with it.
        return Err(BatchError::Fatal(fail(
            job,
            format!(
                "updating its checkpoint changed {updated} rows instead of 1; stopped, this batch \
                 was not applied. {RESTART_HINT}"
            ),
        )));
    }
    tx.commit().map_err(|e| fatal("committing the batch", e))?;
    Ok((
        scanned_u,
        u64::try_from(changed).unwrap_or(0),
        last,
        u64::try_from(waiters).unwrap_or(0),
    ))
}

/// Waits while the replay lag reported by `pg_stat_replication` is above `max_lag`;
/// returns whether it waited.
fn wait_for_replicas(
    db: &mut Db,
    max_lag: Duration,
    stop: &AtomicBool,
    progress: &Progress,
) -> Result<bool, LiveError> {
    let mut waited = false;
    loop {
        let row = db.query_one(
            "reading replica lag",
            "SELECT COALESCE(max(extract(epoch FROM replay_lag)), 0)::float8 FROM pg_stat_replication",
            &[],
        )?;
        let lag = Duration::from_secs_f64(row.get::<_, f64>(0).max(0.0));
        if lag <= max_lag || stop.load(Ordering::SeqCst) {
            return Ok(waited);
        }
        waited = true;
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

/// `lockstep backfill cleanup`: drops the `lockstep` schema's checkpoint tables and
/// backfill procedures, then the schema. Refuses while a job is running (its advisory lock
/// is held), and while a job is unfinished unless `force`. Objects someone else put in
/// the schema are never dropped (the schema then stays, and the message says why).
pub fn cleanup(db: &mut Db, force: bool) -> Result<String, LiveError> {
    use crate::plan::backfill::STATE_SCHEMA;
    let exists: bool = db
        .query_one(
            "looking for the lockstep schema",
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&STATE_SCHEMA],
        )?
        .get(0);
    if !exists {
        return Ok(format!(
            "nothing to clean up: there is no schema {STATE_SCHEMA}"
        ));
    }
    let q = |e: postgres::Error| LiveError::query("cleaning up the lockstep schema", &e);
    let mut tx = db.client().transaction().map_err(q)?;
    let has = |tx: &mut postgres::Transaction<'_>, t: &str| -> Result<bool, postgres::Error> {
        Ok(tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])?
            .get(0))
    };
    let mut jobs: Vec<(String, bool)> = Vec::new();
    if has(&mut tx, JOBS_TABLE).map_err(q)? {
        let unfinished = if has(&mut tx, CHECKPOINT_TABLE).map_err(q)? {
            format!(
                "SELECT j.job, coalesce(c.done, false) FROM {JOBS_TABLE} j \
                 LEFT JOIN {CHECKPOINT_TABLE} c ON c.job = j.job ORDER BY 1"
            )
        } else {
            format!("SELECT job, false FROM {JOBS_TABLE} ORDER BY 1")
        };
        for r in tx.query(&unfinished, &[]).map_err(q)? {
            jobs.push((r.get(0), r.get(1)));
        }
    }
    for (job, _) in &jobs {
        let holder: Option<Option<i32>> = tx
            .query_opt(HOLDER_SQL, &[&lock_key(job)])
            .map_err(q)?
            .map(|r| r.get::<_, Option<i32>>(0));
        if let Some(pid) = holder {
            let who = pid.map_or("pid unknown".to_string(), |p| format!("pid {p}"));
            return Err(LiveError::Backfill(format!(
                "backfill job {job} is running ({who}); nothing was dropped. Wait for it to finish"
            )));
        }
    }
    let open: Vec<&str> = jobs
        .iter()
        .filter(|(_, done)| !done)
        .map(|(j, _)| j.as_str())
        .collect();
    if !open.is_empty() && !force {
        return Err(LiveError::Backfill(format!(
            "unfinished backfill job(s): {}; nothing was dropped. Finish them with `lockstep backfill run`, \
             or pass --force to forget them (they would start over from the first row)",
            open.join(", ")
        )));
    }
    tx.batch_execute(&format!(
        "DROP TABLE IF EXISTS {CHECKPOINT_TABLE}, {JOBS_TABLE}"
    ))
    .map_err(q)?;
    let procs: Vec<String> = tx
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = $1 AND p.proname LIKE 'backfill\\_%' AND p.prokind = 'p'",
            &[&STATE_SCHEMA],
        )
        .map_err(q)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for p in &procs {
        tx.batch_execute(&format!("DROP PROCEDURE {p}"))
            .map_err(q)?;
    }
    if let Err(e) = tx.batch_execute(&format!("DROP SCHEMA {STATE_SCHEMA}")) {
        return Err(LiveError::Backfill(format!(
            "schema {STATE_SCHEMA} holds objects lockstep did not create, so nothing was dropped: {}",
            error_text(&e)
        )));
    }
    tx.commit().map_err(q)?;
    Ok(format!(
        "dropped schema {STATE_SCHEMA} ({} job record(s), {} procedure(s))",
        jobs.len(),
        procs.len()
    ))
}
