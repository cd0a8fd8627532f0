//! The command line: argument definitions (clap derive) and one file per command.
//! `main.rs` only calls [`main`].

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;

mod apply;
mod backfill;
mod baseline;
mod dry_run;
mod graph;
mod lint;
mod lock;
mod lsp;
mod plan;
mod rules;
mod sizes;

/// Exit code for findings at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for usage, configuration, I/O and connection errors.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "lockstep",
    version,
    about = "Zero-downtime migration linter and planner for PostgreSQL",
    long_about = "lockstep reads the migration folder your framework writes, replays the whole \
                  history to know the schema, and tells for each new statement which lock it takes \
                  on which table, whether it rewrites or scans it, and what to do instead.",
    after_help = "Examples:\n  lockstep lint db/migrations\n  lockstep lint --format sarif migrations > lockstep.sarif\n  lockstep explain create-index-non-concurrently"
)]
pub struct Cli {
    /// Less output (only findings).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More output (notes about files that were skipped, the config used).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record the current findings in a baseline file; `lint` then reports only new ones.
    #[command(
        after_help = "Examples:\n  lockstep baseline db/migrations\n  lockstep baseline db/migrations --output ci/lockstep-baseline.json"
    )]
    Baseline(baseline::BaselineArgs),
    /// Lint migration folders or files.
    #[command(
        after_help = "Examples:\n  lockstep lint db/migrations\n  lockstep lint --format json --fail-on warning migrations/\n  cat 0001.sql | lockstep lint - --stdin-filename 0001.sql"
    )]
    Lint(lint::LintArgs),
    /// Pending migrations against a live database: real sizes, locks, estimated durations,
    /// drift; `--trace` runs them in a rolled-back transaction, `--scratch` on a throwaway cluster.
    #[command(
        after_help = "Examples:\n  lockstep dry-run db/migrations --database-url postgres://app@db.internal/shop\n  DATABASE_URL=postgres://app@db/shop lockstep dry-run --format json\n  lockstep dry-run db/migrations --database-url postgres://app@db/shop --trace\n  lockstep dry-run db/migrations --scratch"
    )]
    DryRun(dry_run::DryRunArgs),
    /// Rewrite an unsafe migration into expand → backfill → contract steps with deploy points.
    #[command(
        after_help = "Examples:\n  lockstep plan db/migrations\n  lockstep plan db/migrations --migration 20240302101500 --format yaml > plan.yaml\n  lockstep plan db/migrations --write db/migrations\n  lockstep plan db/migrations --diff\n  lockstep plan db/migrations --graph mermaid"
    )]
    Plan(plan::PlanArgs),
    /// Run batched, resumable backfills from a plan.
    Backfill(backfill::BackfillArgs),
    /// Apply a plan's steps in order; stops at each deploy point and resumes from there.
    #[command(
        after_help = "Examples:\n  lockstep plan db/migrations --format yaml > plan.yaml\n  lockstep apply plan.yaml --database-url postgres://app@db/shop\n  lockstep apply plan.yaml --until-phase expand\n  lockstep apply plan.yaml --dry-run\n\nExit codes: 0 the plan is done, 4 stopped at a deploy point or phase limit (run again to continue), 2 error."
    )]
    Apply(apply::ApplyArgs),
    /// Draw the replayed schema: tables, key columns, indexes, views and their dependencies.
    #[command(
        after_help = "Examples:\n  lockstep graph db/migrations --format mermaid\n  lockstep graph db/migrations --at 20240302101500 --format dot | dot -Tsvg > schema.svg\n  lockstep graph migrations --format json"
    )]
    Graph(graph::GraphArgs),
    /// Record checksums of the existing migrations in lockstep.lock, so `lint` reports edits,
    /// removals, renames and out-of-order additions.
    #[command(
        after_help = "Examples:\n  lockstep lock db/migrations\n  lockstep lock   # the folder from lockstep.yaml; writes lockstep.lock beside it"
    )]
    Lock(lock::LockArgs),
    /// Snapshot table sizes from a database's statistics into lockstep.sizes.yaml, so
    /// `lint` knows them where it cannot connect (read-only, a constant number of queries).
    #[command(
        after_help = "Examples:\n  lockstep sizes --database-url postgres://app@db/shop > lockstep.sizes.yaml\n  lockstep lint db/migrations --sizes ci/lockstep.sizes.yaml"
    )]
    Sizes(sizes::SizesArgs),
    /// Language Server (stdio) for editors: diagnostics for migration files as you type,
    /// quick fixes that are one statement, lock facts on hover.
    Lsp,
    /// List every rule: id, default severity, category, title.
    #[command(after_help = "Example:\n  lockstep rules")]
    Rules,
    /// Print a rule's documentation: why it matters, what to do instead, examples.
    #[command(after_help = "Example:\n  lockstep explain set-not-null-scan")]
    Explain {
        /// The rule id, e.g. create-index-non-concurrently.
        rule: String,
    },
}

/// Whether to colour output on stdout.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Prints an error report to stderr (miette when it is a diagnostic).
pub fn print_error(e: &miette::Report) {
    eprintln!("{e:?}");
}

/// Runs the command line.
pub fn main() -> ExitCode {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || !std::io::stderr().is_terminal()
    {
        miette::set_hook(Box::new(|_| {
            Box::new(miette::GraphicalReportHandler::new_themed(
                miette::GraphicalTheme::unicode_nocolor(),
            ))
        }))
        .ok();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Lint(args) => lint::run(&args, cli.quiet, cli.verbose),
        Command::Baseline(args) => baseline::run(&args, cli.quiet, cli.verbose),
        Command::DryRun(args) => dry_run::run(&args, cli.quiet, cli.verbose),
        Command::Plan(args) => plan::run(&args),
        Command::Backfill(args) => backfill::run(&args, cli.quiet),
        Command::Apply(args) => apply::run(&args, cli.quiet),
        Command::Graph(args) => graph::run(&args),
        Command::Lock(args) => lock::run(&args, cli.quiet),
        Command::Sizes(args) => sizes::run(&args),
        Command::Lsp => lsp::run(),
        Command::Rules => rules::list(),
        Command::Explain { rule } => rules::explain(&rule),
    }
}
