//! `lockstep backfill run PLAN.yaml`: executes a plan's backfill steps, resumably;
//! `lockstep backfill cleanup`: drops lockstep's own state (the `lockstep` schema).

use super::dry_run::live_report;
use super::lint::load_config;
use super::{EXIT_ERROR, print_error};
use crate::config::parse_duration;
use crate::live::backfill_runner::{self, Outcome, Overrides, ProgressMode, TriggerPolicy};
use crate::live::connect::{self, Db};
use crate::settings::limits;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Exit code when Ctrl-C stopped a backfill between batches (128 + SIGINT, as shells do).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[command(subcommand)]
    pub command: BackfillCommand,
}

#[derive(Debug, Subcommand)]
pub enum BackfillCommand {
    /// Run the backfill steps of a plan (all of them, or `--step N`), resuming where a
    /// previous run stopped.
    #[command(
        after_help = "Examples:\n  lockstep plan db/migrations --format yaml > plan.yaml\n  lockstep backfill run plan.yaml --step 3 --database-url postgres://app@db/shop\n  lockstep backfill run plan.yaml --target-batch-time 500ms --max-lag 2s"
    )]
    Run(RunArgs),
    /// Drop lockstep's state from the database: the `lockstep` schema with its checkpoint
    /// tables and backfill procedures (after the plan is done, or to forget a job).
    #[command(
        after_help = "Refuses while a backfill job is running, and while a job is unfinished unless --force.\nExamples:\n  lockstep backfill cleanup --database-url postgres://app@db/shop"
    )]
    Cleanup(CleanupArgs),
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The database (default: DATABASE_URL, then the PG* variables).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Also drop the state of unfinished jobs (they would start over from the first row).
    #[arg(long)]
    pub force: bool,
}

/// `--progress` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressFormat {
    /// A bar on a terminal, log lines otherwise (stderr).
    Auto,
    /// One JSON object per line on stdout.
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan file (`lockstep plan --format yaml`).
    pub plan: PathBuf,
    /// Run only this step.
    #[arg(long, value_name = "N")]
    pub step: Option<u64>,
    /// The database (default: DATABASE_URL, then the PG* variables).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Rows in the first batch (then adapted toward --target-batch-time).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u64>,
    /// Adapt the batch size so one batch takes about this long (0 keeps it fixed).
    #[arg(long, value_name = "DURATION")]
    pub target_batch_time: Option<String>,
    /// Pause between batches.
    #[arg(long, value_name = "DURATION")]
    pub sleep: Option<String>,
    /// Wait while a replica's replay lag is above this (0 never waits).
    #[arg(long, value_name = "DURATION")]
    pub max_lag: Option<String>,
    /// Hard ceiling on one batch, in milliseconds (its statement_timeout, so also on how
    /// long it holds row locks); a batch cut off is retried with half the rows.
    /// Default 500, or 2.5 × --target-batch-time when that is longer.
    #[arg(long, value_name = "MS")]
    pub max_batch_ms: Option<u64>,
    /// `json`: one JSON object per batch on stdout (rows, rows/s, ETA, batch size,
    /// throttle reason), for CI logs. Default: a bar on a terminal, log lines otherwise.
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub progress: Option<ProgressFormat>,
    /// Stop after this many batches (a careful first run); a rerun resumes.
    #[arg(long, value_name = "N")]
    pub max_batches: Option<u64>,
    /// Configuration file (its `backfill:` settings apply unless a flag says otherwise).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Let the table's triggers fire for the backfill's writes (by default a run refuses
    /// when a user trigger would fire, e.g. one that sets updated_at).
    #[arg(long, conflicts_with = "disable_user_triggers")]
    pub allow_triggers: bool,
    /// Skip user triggers for the backfill's own writes (`SET LOCAL
    /// session_replication_role = replica` per batch; needs a superuser, or on PostgreSQL
    /// 15+ `GRANT SET ON PARAMETER session_replication_role`). Refused where it would also
    /// skip foreign-key checks on the columns written.
    #[arg(long)]
    pub disable_user_triggers: bool,
    /// Forget the job's checkpoint and start from the first row. Needed after a checkpoint
    /// was lost; a non-idempotent backfill changes already-changed rows again.
    #[arg(long)]
    pub restart: bool,
}

/// Runs `lockstep backfill …`.
pub fn run(args: &BackfillArgs, quiet: bool) -> ExitCode {
    match &args.command {
        BackfillCommand::Run(r) => match run_inner(r, quiet) {
            Ok(code) => code,
            Err(e) => {
                print_error(&e);
                ExitCode::from(EXIT_ERROR)
            }
        },
        BackfillCommand::Cleanup(c) => match cleanup(c, quiet) {
            Ok(code) => code,
            Err(e) => {
                print_error(&e);
                ExitCode::from(EXIT_ERROR)
            }
        },
    }
}

/// A duration flag, range-checked against `bound` (named like the flag): a sleep or a wait
/// that never ends is refused, not started.
fn duration(bound: limits::Bound, v: &Option<String>) -> miette::Result<Option<Duration>> {
    v.as_deref()
        .map(|s| {
            let d = parse_duration(s).ok_or_else(|| {
                miette::miette!(
                    "{} {s:?}: not a duration (write e.g. 200ms, 5s)",
                    bound.name
                )
            })?;
            bound.check_duration(d).map_err(|e| miette::miette!("{e}"))
        })
        .transpose()
}

/// A count flag, range-checked against `bound`.
fn count(bound: limits::Bound, v: Option<u64>) -> miette::Result<Option<u64>> {
    v.map(|n| bound.check(n).map_err(|e| miette::miette!("{e}")))
        .transpose()
}

fn run_inner(args: &RunArgs, quiet: bool) -> miette::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let cfg = config.file.backfill.clone().unwrap_or_default();
    let overrides = Overrides {
        triggers: if args.allow_triggers {
            TriggerPolicy::Allow
        } else if args.disable_user_triggers {
            TriggerPolicy::Disable
        } else {
            TriggerPolicy::Refuse
        },
        restart: args.restart,
        batch_size: count(limits::BATCH_SIZE.named("--batch-size"), args.batch_size)?
            .or(cfg.batch_size),
        target_batch_time: duration(
            limits::TARGET_BATCH_TIME.named("--target-batch-time"),
            &args.target_batch_time,
        )?
        .or(cfg.target_batch_time.map(|m| m.0)),
        sleep: duration(limits::SLEEP.named("--sleep"), &args.sleep)?.or(cfg.sleep.map(|m| m.0)),
        max_lag: duration(limits::MAX_REPLICA_LAG.named("--max-lag"), &args.max_lag)?
            .or(cfg.max_replica_lag.map(|m| m.0)),
        max_batches: count(limits::MAX_BATCHES.named("--max-batches"), args.max_batches)?,
        max_batch_time: match args.max_batch_ms {
            // PostgreSQL takes an int of milliseconds; an hour is already no ceiling.
            Some(ms) if !(1..=3_600_000).contains(&ms) => {
                return Err(miette::miette!(
                    "--max-batch-ms {ms}: must be between 1 and 3600000 (one hour)"
                ));
            }
            ms => ms.map(Duration::from_millis),
        },
        progress: match args.progress {
            Some(ProgressFormat::Json) => ProgressMode::Json,
            _ => ProgressMode::Auto,
        },
    };
    let steps = backfill_runner::load_plan(&args.plan).map_err(live_report)?;
    let selected: Vec<_> = steps
        .iter()
        .filter(|s| args.step.is_none_or(|n| s.id == n))
        .collect();
    if selected.is_empty() {
        let have: Vec<String> = steps.iter().map(|s| s.id.to_string()).collect();
        return Err(match args.step {
            Some(n) => miette::miette!(
                "{}: step {n} is not a backfill step (backfill steps: {})",
                args.plan.display(),
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            ),
            None => miette::miette!("{}: the plan has no backfill steps", args.plan.display()),
        });
    }
    let mut db = open(args.database_url.as_deref())?;
    let stop = backfill_runner::install_ctrlc();
    for step in selected {
        if !quiet {
            eprintln!(
                "backfill step {} on {}: {} (job {})",
                step.id, db.target, step.title, step.job.job
            );
        }
        match backfill_runner::run_job(&mut db, &step.job, &overrides, &stop)
            .map_err(live_report)?
        {
            Outcome::Done {
                rows_changed,
                batches,
            } => {
                if !quiet {
                    eprintln!(
                        "backfill step {}: done — {rows_changed} rows changed in {batches} batches",
                        step.id
                    );
                }
            }
            Outcome::Interrupted {
                rows_changed,
                batches,
            } => {
                eprintln!(
                    "backfill step {}: stopped after batch {batches} ({rows_changed} rows changed so far); \
                     run the same command again to resume",
                    step.id
                );
                return Ok(ExitCode::from(EXIT_INTERRUPTED));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn open(url: Option<&str>) -> miette::Result<Db> {
    let params = connect::from_flag_or_env(url, &connect::process_env)
        .map_err(live_report)?
        .ok_or_else(|| {
            miette::miette!(
                help = "pass --database-url postgres://user@host/db, or set DATABASE_URL or PGHOST/PGDATABASE",
                "no database named"
            )
        })?;
    Db::connect(&params).map_err(live_report)
}

fn cleanup(args: &CleanupArgs, quiet: bool) -> miette::Result<ExitCode> {
    let mut db = open(args.database_url.as_deref())?;
    let report = backfill_runner::cleanup(&mut db, args.force).map_err(live_report)?;
    if !quiet {
        eprintln!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
