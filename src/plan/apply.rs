//! Applying a plan to a database, step by step, the way an operator following it would.
//!
//! [`apply_plan`] runs the plan's SQL steps in order: a transactional step in one
//! transaction, a non-transactional one statement by statement (autocommit). A step that
//! fails because its lock request timed out (SQLSTATE `55P03`, the `lock_timeout` the step
//! sets itself) or lost a deadlock is rolled back and retried under the step's
//! [`RetryPolicy`](super::RetryPolicy), waiting the doubling backoff in between; a failed
//! `CREATE INDEX CONCURRENTLY` first re-runs the cleanup step that drops the INVALID index
//! it leaves behind. Backfill steps go through the same runner as `lockstep backfill run`
//! ([`crate::live::backfill_runner::run_job`]), so they commit per batch and resume from
//! their checkpoint. Deploy points are skipped: the caller is responsible for the
//! application being compatible with both shapes of the schema.
//!
//! With [`ApplyOptions::stop_at_deploy`] (what `lockstep apply` uses) the run stops at the
//! next deploy point instead, so the operator deploys the application version the plan
//! asks for and runs the command again; [`ApplyOptions::done_through`] skips the steps an
//! earlier run applied.
//!
//! Used by `lockstep apply`, the write-stall benchmark and the planner's live tests.

use super::{BackfillSpec, Phase, Plan, Step, StepKind};
use crate::live::LiveError;
use crate::live::backfill_runner::{self, BackfillJob, Outcome, Overrides};
use crate::live::connect::{Db, error_text};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Knobs for [`apply_plan`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Overrides for the backfill runner (batch size, pacing); empty keeps the plan's.
    pub backfill: Overrides,
    /// Print one line per step (and the runner's progress) to stderr.
    pub verbose: bool,
    /// Steps with an id up to this one were applied by an earlier run: skipped.
    pub done_through: usize,
    /// Stop before a deploy point, except `confirmed_deploy`.
    pub stop_at_deploy: bool,
    /// The deploy point an earlier run stopped at: running again says it was deployed.
    pub confirmed_deploy: Option<usize>,
    /// Stop before the first step of a later phase.
    pub until_phase: Option<Phase>,
}

/// Why a run stopped before the end of the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyStop {
    /// At this deploy point: deploy what it says, then run again.
    Deploy { step: usize, title: String },
    /// Before this step, the first of a phase after `--until-phase`.
    Phase { step: usize, phase: Phase },
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// The step's id in the plan.
    pub id: usize,
    pub title: String,
    pub kind: StepKind,
    /// Attempts made (1 when the first one succeeded; 0 for a skipped deploy point).
    pub attempts: u32,
    /// Wall time of the step, retries and backoff included.
    pub elapsed: Duration,
    /// For backfills: rows changed and batches committed.
    pub backfill: Option<(u64, u64)>,
}

/// The outcome of a whole plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    pub steps: Vec<StepOutcome>,
    /// Wall time from the first step to the last.
    pub elapsed: Duration,
    /// Set when the run stopped before the end (deploy point or phase limit).
    pub stopped: Option<ApplyStop>,
}

/// Why a plan could not be applied. Steps before the failing one stay applied (each step
/// is its own unit of work, as it is for a migration tool).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A statement failed and retries (if any) were exhausted.
    #[error("step {step} ({title}) failed after {attempts} attempt(s): `{statement}`: {message}")]
    Step {
        step: usize,
        title: String,
        attempts: u32,
        /// The statement that failed, as sent.
        statement: String,
        message: String,
        /// SQLSTATE, when the server sent one.
        code: Option<String>,
    },
    /// A backfill step failed.
    #[error("step {step} ({title}): {source}")]
    Backfill {
        step: usize,
        title: String,
        #[source]
        source: LiveError,
    },
}

/// SQLSTATEs worth retrying: lock_not_available (our own `lock_timeout`), deadlock,
/// serialization failure.
fn retryable(code: Option<&str>) -> bool {
    matches!(code, Some("55P03" | "40P01" | "40001"))
}

/// A failed statement: its text, message and SQLSTATE.
struct Failure {
    statement: String,
    message: String,
    code: Option<String>,
}

fn failure(statement: &str, e: &postgres::Error) -> Failure {
    Failure {
        statement: statement.to_string(),
        message: error_text(e),
        code: e.code().map(|c| c.code().to_string()),
    }
}

/// One attempt at a SQL step.
fn attempt(db: &mut Db, step: &Step) -> Result<(), Failure> {
    let client = db.client();
    if step.transactional {
        let mut tx = client.transaction().map_err(|e| failure("BEGIN", &e))?;
        for s in &step.statements {
            tx.batch_execute(s).map_err(|e| failure(s, &e))?;
        }
        // Dropping `tx` on an error above rolls back, releasing every lock taken.
        tx.commit().map_err(|e| failure("COMMIT", &e))
    } else {
        for s in &step.statements {
            client.batch_execute(s).map_err(|e| failure(s, &e))?;
        }
        Ok(())
    }
}

/// True for a step whose only job is dropping an INVALID index left by a failed
/// `CREATE INDEX CONCURRENTLY` (see `recipes::invalid_index_cleanup`): safe to re-run.
fn is_invalid_index_cleanup(step: &Step) -> bool {
    step.statements
        .iter()
        .any(|s| s.starts_with("DO ") && s.contains("NOT indisvalid"))
}

/// The backfill runner's view of a plan's backfill spec.
pub fn backfill_job(spec: &BackfillSpec) -> BackfillJob {
    // One conversion, kept next to the spec (src/plan/backfill.rs).
    spec.runner_job()
}

/// Runs a SQL step with its retry policy.
fn run_sql_step(db: &mut Db, plan: &Plan, step: &Step, verbose: bool) -> Result<u32, ApplyError> {
    let policy = step.retry.clone();
    let max_attempts = policy.as_ref().map_or(1, |p| p.attempts.max(1));
    let mut backoff = Duration::from_millis(policy.as_ref().map_or(0, |p| p.initial_backoff_ms));
    let max_backoff = Duration::from_millis(policy.as_ref().map_or(0, |p| p.max_backoff_ms));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let err = match attempt(db, step) {
            Ok(()) => return Ok(attempts),
            Err(f) => f,
        };
        if attempts >= max_attempts || !retryable(err.code.as_deref()) {
            return Err(ApplyError::Step {
                step: step.id,
                title: step.title.clone(),
                attempts,
                statement: err.statement,
                message: err.message,
                code: err.code,
            });
        }
        if verbose {
            eprintln!(
                "step {}: {} ({}); retrying in {} ms",
                step.id,
                err.message,
                err.code.as_deref().unwrap_or("-"),
                backoff.as_millis()
            );
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(max_backoff.max(backoff));
        if !step.transactional {
            // A failed CONCURRENTLY build leaves an INVALID index that blocks the rerun:
            // run the cleanup step it depends on again first.
            for dep in plan
                .steps
                .iter()
                .filter(|s| step.depends_on.contains(&s.id) && is_invalid_index_cleanup(s))
            {
                if let Err(f) = attempt(db, dep) {
                    return Err(ApplyError::Step {
                        step: dep.id,
                        title: dep.title.clone(),
                        attempts: 1,
                        statement: f.statement,
                        message: f.message,
                        code: f.code,
                    });
                }
            }
        }
    }
}

/// Applies every step of `plan` in order; see the module documentation.
pub fn apply_plan(
    db: &mut Db,
    plan: &Plan,
    options: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let mut steps = Vec::new();
    // The runner stops between batches when this is set; nothing sets it here, a caller
    // wanting Ctrl-C handling runs the backfill through the CLI.
    let never = AtomicBool::new(false);
    let mut stopped = None;
    for step in plan.steps.iter().filter(|s| s.id > options.done_through) {
        if let Some(limit) = options.until_phase
            && step.phase > limit
        {
            stopped = Some(ApplyStop::Phase {
                step: step.id,
                phase: step.phase,
            });
            break;
        }
        if step.kind == StepKind::Deploy
            && options.stop_at_deploy
            && options.confirmed_deploy != Some(step.id)
        {
            stopped = Some(ApplyStop::Deploy {
                step: step.id,
                title: step.title.clone(),
            });
            break;
        }
        let t = Instant::now();
        let mut backfill = None;
        let attempts = match step.kind {
            StepKind::Deploy => 0,
            StepKind::Backfill => {
                match &step.backfill {
                    // A backfill without a spec has only its psql form: run that.
                    None => run_sql_step(db, plan, step, options.verbose)?,
                    Some(spec) => {
                        let job = backfill_job(spec);
                        // The migration's session settings (`SET timezone …`) the step
                        // carries apply to the runner's batches too.
                        let (set, reset) = session_settings(step);
                        for s in &set {
                            db.client().batch_execute(s).map_err(|e| {
                                let f = failure(s, &e);
                                ApplyError::Step {
                                    step: step.id,
                                    title: step.title.clone(),
                                    attempts: 1,
                                    statement: f.statement,
                                    message: f.message,
                                    code: f.code,
                                }
                            })?;
                        }
                        let outcome = backfill_runner::run_job(db, &job, &options.backfill, &never);
                        for s in &reset {
                            // Best effort: a failed RESET leaves only a session setting.
                            let _ = db.client().batch_execute(s);
                        }
                        let outcome = outcome.map_err(|source| ApplyError::Backfill {
                            step: step.id,
                            title: step.title.clone(),
                            source,
                        })?;
                        let (Outcome::Done {
                            rows_changed,
                            batches,
                        }
                        | Outcome::Interrupted {
                            rows_changed,
                            batches,
                        }) = outcome;
                        backfill = Some((rows_changed, batches));
                        1
                    }
                }
            }
            StepKind::Sql => run_sql_step(db, plan, step, options.verbose)?,
        };
        let elapsed = t.elapsed();
        if options.verbose {
            eprintln!(
                "step {} ({:?}, {} attempt(s), {:.0} ms): {}",
                step.id,
                step.kind,
                attempts,
                elapsed.as_secs_f64() * 1e3,
                step.title
            );
        }
        steps.push(StepOutcome {
            id: step.id,
            title: step.title.clone(),
            kind: step.kind,
            attempts,
            elapsed,
            backfill,
        });
    }
    Ok(ApplyReport {
        steps,
        elapsed: started.elapsed(),
        stopped,
    })
}

/// The session `SET`s at the start of a step's statements and the `RESET`s at its end
/// (timeouts excluded: the runner sets its own).
fn session_settings(step: &Step) -> (Vec<String>, Vec<String>) {
    let set = step
        .statements
        .iter()
        .take_while(|s| s.starts_with("SET "))
        .filter(|s| !s.contains("lock_timeout") && !s.contains("statement_timeout"))
        .cloned()
        .collect();
    let mut reset: Vec<String> = step
        .statements
        .iter()
        .rev()
        .take_while(|s| s.starts_with("RESET "))
        .cloned()
        .collect();
    reset.reverse();
    (set, reset)
}
