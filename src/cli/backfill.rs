//! `lockstep backfill run PLAN.yaml`: executes a plan's backfill steps, resumably.

use super::dry_run::live_report;
use super::lint::load_config;
use super::{EXIT_ERROR, print_error};
use crate::config::parse_duration;
use crate::live::backfill_runner::{self, Outcome, Overrides};
use crate::live::connect::{self, Db};
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
    /// Stop after this many batches (a careful first run); a rerun resumes.
    #[arg(long, value_name = "N")]
    pub max_batches: Option<u64>,
    /// Configuration file (its `backfill:` settings apply unless a flag says otherwise).
    #[arg(long)]
    pub config: Option<PathBuf>,
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
    }
}

fn duration(flag: &str, v: &Option<String>) -> miette::Result<Option<Duration>> {
    v.as_deref()
        .map(|s| {
            parse_duration(s).ok_or_else(|| {
                miette::miette!("--{flag} {s:?}: not a duration (write e.g. 200ms, 5s)")
            })
        })
        .transpose()
}

fn run_inner(args: &RunArgs, quiet: bool) -> miette::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let cfg = config.file.backfill.clone().unwrap_or_default();
    let overrides = Overrides {
        batch_size: args.batch_size.or(cfg.batch_size),
        target_batch_time: duration("target-batch-time", &args.target_batch_time)?
            .or(cfg.target_batch_time.map(|m| m.0)),
        sleep: duration("sleep", &args.sleep)?.or(cfg.sleep.map(|m| m.0)),
        max_lag: duration("max-lag", &args.max_lag)?.or(cfg.max_replica_lag.map(|m| m.0)),
        max_batches: args.max_batches,
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
    let params = connect::from_flag_or_env(args.database_url.as_deref(), &connect::process_env)
        .map_err(live_report)?
        .ok_or_else(|| {
            miette::miette!(
                help = "pass --database-url postgres://user@host/db, or set DATABASE_URL or PGHOST/PGDATABASE",
                "no database named"
            )
        })?;
    let mut db = Db::connect(&params).map_err(live_report)?;
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
