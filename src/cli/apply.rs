//! `lockstep apply PLAN.yaml`: runs a plan's steps in order, stops at each deploy point,
//! and resumes from there on the next call.
//!
//! Progress lives in the database (`lockstep.apply_state`, one row per plan fingerprint),
//! so a second call — from another machine, after the deploy — continues where the first
//! stopped. An advisory lock per plan keeps two runs of one plan from overlapping.

use super::dry_run::live_report;
use super::{EXIT_ERROR, print_error};
use crate::config::parse_duration;
use crate::live::backfill_runner::{Overrides, TriggerPolicy};
use crate::live::connect::{self, Db};
use crate::plan::apply::{ApplyError, ApplyOptions, ApplyStop, apply_plan};
use crate::plan::{Phase, Plan, StepKind};
use clap::{Args, ValueEnum};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when the run stopped at a deploy point or phase limit: run it again later.
pub const EXIT_STOPPED: u8 = 4;

/// Largest plan file read (a plan is a few kilobytes; this bounds a hostile one).
const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PhaseArg {
    Expand,
    Backfill,
    Contract,
}

impl From<PhaseArg> for Phase {
    fn from(p: PhaseArg) -> Phase {
        match p {
            PhaseArg::Expand => Phase::Expand,
            PhaseArg::Backfill => Phase::Backfill,
            PhaseArg::Contract => Phase::Contract,
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file (`lockstep plan --format yaml`).
    pub plan: PathBuf,
    /// The database (default: DATABASE_URL, then the PG* variables).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Stop before the first step of a later phase.
    #[arg(long, value_enum, value_name = "PHASE")]
    pub until_phase: Option<PhaseArg>,
    /// Say which steps would run and where the run would stop; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Let the table's triggers fire on the backfills' writes (default: refuse, naming them).
    #[arg(long, conflicts_with = "disable_user_triggers")]
    pub allow_triggers: bool,
    /// Skip the table's user triggers for the backfills' own writes
    /// (`SET LOCAL session_replication_role = replica` per batch, where permitted).
    #[arg(long)]
    pub disable_user_triggers: bool,
    /// Upper bound for any one statement (index builds and validations included).
    #[arg(long, value_name = "DURATION", default_value = "2h")]
    pub statement_timeout: String,
}

/// Runs `lockstep apply`.
pub fn run(args: &ApplyArgs, quiet: bool) -> ExitCode {
    match run_inner(args, quiet) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn load(path: &PathBuf) -> miette::Result<Plan> {
    let meta = std::fs::metadata(path)
        .map_err(|e| miette::miette!("{}: cannot read the plan: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(miette::miette!("{}: not a regular file", path.display()));
    }
    if meta.len() > MAX_PLAN_BYTES {
        return Err(miette::miette!(
            "{}: {} bytes is larger than any plan lockstep writes",
            path.display(),
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| miette::miette!("{}: cannot read the plan: {e}", path.display()))?;
    if let Err((line, why)) = crate::config::refuse_yaml_aliases(&text) {
        return Err(miette::miette!("{}:{line}: {why}", path.display()));
    }
    serde_yaml::from_str::<Plan>(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        miette::miette!(
            help = "write one with `lockstep plan <folder> --format yaml > plan.yaml`",
            "{}: not a lockstep plan{at}: {e}",
            path.display()
        )
    })
}

/// Identifies a plan by its steps: the same plan written twice has the same fingerprint.
pub fn fingerprint(plan: &Plan) -> String {
    let json = serde_json::to_string(&plan.steps).unwrap_or_default();
    let digest = Sha256::digest(format!("{}\n{json}", plan.migration).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

const STATE_DDL: &str = "CREATE SCHEMA IF NOT EXISTS lockstep; \
     CREATE TABLE IF NOT EXISTS lockstep.apply_state (\
       plan text PRIMARY KEY, migration text NOT NULL, done_through integer NOT NULL, \
       at_deploy integer, updated_at timestamptz NOT NULL DEFAULT now())";

/// Progress of one plan: steps applied, and the deploy point the last run stopped at.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    done_through: usize,
    at_deploy: Option<usize>,
}

fn progress(db: &mut Db, fp: &str) -> miette::Result<Progress> {
    let exists = db
        .query_one(
            "apply state",
            "SELECT to_regclass('lockstep.apply_state') IS NOT NULL",
            &[],
        )
        .map_err(live_report)?
        .get::<_, bool>(0);
    if !exists {
        return Ok(Progress::default());
    }
    let rows = db
        .query(
            "apply state",
            "SELECT done_through, at_deploy FROM lockstep.apply_state WHERE plan = $1",
            &[&fp],
        )
        .map_err(live_report)?;
    Ok(rows
        .first()
        .map(|r| Progress {
            done_through: r.get::<_, i32>(0).max(0) as usize,
            at_deploy: r.get::<_, Option<i32>>(1).map(|d| d.max(0) as usize),
        })
        .unwrap_or_default())
}

fn record(db: &mut Db, fp: &str, migration: &str, p: Progress) -> miette::Result<()> {
    let done = i32::try_from(p.done_through).unwrap_or(i32::MAX);
    let at = p.at_deploy.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
    db.query(
        "apply state",
        "INSERT INTO lockstep.apply_state (plan, migration, done_through, at_deploy) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (plan) DO UPDATE SET done_through = EXCLUDED.done_through, \
         at_deploy = EXCLUDED.at_deploy, updated_at = now()",
        &[&fp, &migration, &done, &at],
    )
    .map_err(live_report)?;
    Ok(())
}

fn run_inner(args: &ApplyArgs, quiet: bool) -> miette::Result<ExitCode> {
    let plan = load(&args.plan)?;
    let statement_timeout = parse_duration(&args.statement_timeout)
        .filter(|d| !d.is_zero() && d.as_secs() <= 7 * 24 * 3600)
        .ok_or_else(|| {
            miette::miette!(
                "--statement-timeout {:?}: give a duration between 1ms and 7 days (e.g. 30min, 2h)",
                args.statement_timeout
            )
        })?;
    let params = connect::from_flag_or_env(args.database_url.as_deref(), &connect::process_env)
        .map_err(live_report)?
        .ok_or_else(|| {
            miette::miette!(
                help = "pass --database-url postgres://user@host/db, or set DATABASE_URL or PGHOST/PGDATABASE",
                "no database named"
            )
        })?;
    let mut db = Db::connect(&params).map_err(live_report)?;
    // Every statement of this session runs under a lock_timeout and a statement_timeout;
    // steps set a stricter lock_timeout of their own.
    db.batch(
        "session limits",
        &format!(
            "SET lock_timeout = '5s'; SET statement_timeout = '{}ms'",
            statement_timeout.as_millis()
        ),
    )
    .map_err(live_report)?;
    let fp = fingerprint(&plan);
    let progress = progress(&mut db, &fp)?;
    let done = progress.done_through;
    let until = args.until_phase.map(Phase::from);
    if args.dry_run {
        print_dry_run(&plan, progress, until);
        return Ok(ExitCode::SUCCESS);
    }
    // A run that just ended may still hold the lock for a moment while its backend exits:
    // try for a few seconds before saying another run is active.
    let mut locked = false;
    for _ in 0..25 {
        locked = db
            .query_one(
                "apply lock",
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&format!("lockstep apply {fp}")],
            )
            .map_err(live_report)?
            .get(0);
        if locked {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    if !locked {
        return Err(miette::miette!(
            "another `lockstep apply` of this plan is running on {}; wait for it to finish",
            db.target
        ));
    }
    db.batch("apply state", STATE_DDL).map_err(live_report)?;
    if !quiet && done > 0 {
        eprintln!("resuming after step {done} (applied by an earlier run)");
    }
    let options = ApplyOptions {
        backfill: Overrides {
            triggers: if args.allow_triggers {
                TriggerPolicy::Allow
            } else if args.disable_user_triggers {
                TriggerPolicy::Disable
            } else {
                TriggerPolicy::Refuse
            },
            ..Default::default()
        },
        verbose: !quiet,
        done_through: done,
        stop_at_deploy: true,
        confirmed_deploy: progress.at_deploy,
        until_phase: until,
    };
    match apply_plan(&mut db, &plan, &options) {
        Ok(report) => {
            let last = report.steps.last().map(|s| s.id).unwrap_or(done);
            let at_deploy = match &report.stopped {
                Some(ApplyStop::Deploy { step, .. }) => Some(*step),
                _ => None,
            };
            record(
                &mut db,
                &fp,
                &plan.migration,
                Progress {
                    done_through: last,
                    at_deploy,
                },
            )?;
            match report.stopped {
                None => {
                    if !quiet {
                        eprintln!("plan applied: all {} steps done", plan.steps.len());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some(ApplyStop::Deploy { step, title }) => {
                    eprintln!(
                        "stopped at step {step}, a deploy point: {title}\n\
                         deploy that, then run `lockstep apply {}` again to continue",
                        args.plan.display()
                    );
                    Ok(ExitCode::from(EXIT_STOPPED))
                }
                Some(ApplyStop::Phase { step, phase }) => {
                    eprintln!(
                        "stopped before step {step}, the first of the {phase:?} phase (--until-phase)"
                    );
                    Ok(ExitCode::from(EXIT_STOPPED))
                }
            }
        }
        Err(e) => {
            let failed = match &e {
                ApplyError::Step { step, .. } | ApplyError::Backfill { step, .. } => *step,
            };
            // Steps before the failing one stay applied: a rerun starts at the failed one.
            let _ = record(
                &mut db,
                &fp,
                &plan.migration,
                Progress {
                    done_through: failed.saturating_sub(1).max(done),
                    at_deploy: None,
                },
            );
            Err(miette::miette!(
                help = "fix the cause and run the same command again: it resumes at this step",
                "{e}"
            ))
        }
    }
}

fn print_dry_run(plan: &Plan, progress: Progress, until: Option<Phase>) {
    let done = progress.done_through;
    println!("plan for {} ({} steps)", plan.migration, plan.steps.len());
    if done > 0 {
        println!("steps 1–{done} were applied by an earlier run");
    }
    for step in plan.steps.iter().filter(|s| s.id > done) {
        if until.is_some_and(|u| step.phase > u) {
            println!(
                "would stop before step {} ({:?} phase)",
                step.id, step.phase
            );
            return;
        }
        if step.kind == StepKind::Deploy && progress.at_deploy != Some(step.id) {
            println!("would stop at step {}: deploy — {}", step.id, step.title);
            return;
        }
        println!(
            "would run step {} [{:?}]: {}",
            step.id, step.phase, step.title
        );
    }
    println!("would finish the plan");
}
