//! `lockstep dry-run`: pending migrations against a live database (read-only sizes, lock
//! modes, estimated durations, drift), optionally traced in a rolled-back transaction, or
//! traced on a throwaway local cluster.

use super::{EXIT_ERROR, EXIT_FINDINGS, print_error};
use crate::config::{parse_duration, parse_quantity};
use crate::live::connect::{self, Db};
use crate::live::dry_run::{self, DryRunOptions, DryRunReport};
use crate::live::effects::Effect;
use crate::live::history::History;
use crate::live::trace::{self, TraceOptions};
use crate::live::{DEFAULT_THROUGHPUT, LiveError, scratch};
use crate::settings::{Settings, Severity};
use crate::source::{self, Layout};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code when the trace lost its transaction: the database may have been changed.
/// Distinct from 2 (an error before anything ran) so that CI can tell the two apart.
pub const EXIT_TRACE_ESCAPED: u8 = 3;

/// Output formats of `dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRunFormat {
    Pretty,
    Json,
}

#[derive(Debug, Args)]
pub struct DryRunArgs {
    /// Migration folders or files. Default: `migrations:` from lockstep.yaml.
    pub paths: Vec<PathBuf>,
    /// The database: a postgres:// URL or libpq key=value string. Default: DATABASE_URL,
    /// then the PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE variables.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Trace on a throwaway local cluster with the applied history replayed (needs the
    /// PostgreSQL server binaries, no server). The default when no database is named.
    #[arg(long)]
    pub scratch: bool,
    /// EXECUTES the pending migrations' SQL against the named database inside BEGIN …
    /// ROLLBACK and reports the real locks (tight lock_timeout and block budget: it gives up
    /// rather than stall). Transaction control and statements with effects a rollback does
    /// not undo are not run (see --trace-allow).
    #[arg(long)]
    pub trace: bool,
    /// Also trace statements with this kind of effect outside the transaction (repeatable):
    /// program, server-files, remote, admin, replication, sequences, statistics, cluster,
    /// extension. The rollback does not undo these effects.
    #[arg(long, value_enum, value_name = "CATEGORY")]
    pub trace_allow: Vec<Effect>,
    /// Run the history and the trace on the scratch cluster as its superuser instead of an
    /// ordinary role owning the scratch database (needed for untrusted extensions; lets the
    /// migrations run shell commands and read files as the server's OS user).
    #[arg(long)]
    pub scratch_superuser: bool,
    /// Count rows exactly (one statement for all tables) instead of using estimates.
    #[arg(long)]
    pub exact_counts: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "pretty")]
    pub format: DryRunFormat,
    /// The migration framework's folder layout (default: detect it).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// The table recording applied migrations (default: the layout's), e.g. app.schema_migrations.
    #[arg(long, value_name = "TABLE")]
    pub history_table: Option<String>,
    /// Rewrite/scan speed for duration estimates, per second (e.g. 100MB, 1GB).
    #[arg(long, value_name = "BYTES")]
    pub throughput: Option<String>,
    /// lock_timeout of every traced statement.
    #[arg(long, default_value = "100ms", value_name = "DURATION")]
    pub lock_timeout: String,
    /// How long a trace on a named database may block others in total (default: the lock_timeout).
    #[arg(long, value_name = "DURATION")]
    pub block_budget: Option<String>,
    /// statement_timeout for the read-only inspection and for each traced statement.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub statement_timeout: String,
    /// Without a database: how many of the newest migrations count as pending.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub pending: usize,
    /// Exit 1 when a finding on the pending migrations is at or above this severity.
    #[arg(long, value_enum)]
    pub fail_on: Option<Severity>,
    /// Configuration file (default: lockstep.yaml in this directory or a parent).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `lockstep dry-run`.
pub fn run(args: &DryRunArgs, quiet: bool, verbose: bool) -> ExitCode {
    match run_inner(args, quiet, verbose) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// A live-database error as a miette report with its hint.
pub fn live_report(e: LiveError) -> miette::Report {
    match e.help() {
        Some(help) => miette::miette!(help = help, "{e}"),
        None => miette::miette!("{e}"),
    }
}

fn duration_arg(flag: &str, v: &str) -> miette::Result<Duration> {
    let d = parse_duration(v).ok_or_else(|| {
        miette::miette!("--{flag} {v:?}: not a duration (write e.g. 100ms, 2s, 1min)")
    })?;
    // 0 would switch the timeout off (SET lock_timeout = 0): refused, like overflows.
    let bound = match flag {
        "lock-timeout" => crate::settings::limits::LOCK_TIMEOUT.named("--lock-timeout"),
        "statement-timeout" => {
            crate::settings::limits::STATEMENT_TIMEOUT.named("--statement-timeout")
        }
        _ => crate::settings::limits::BLOCK_BUDGET.named("--block-budget"),
    };
    bound.check_duration(d).map_err(|e| miette::miette!("{e}"))
}

fn run_inner(args: &DryRunArgs, _quiet: bool, verbose: bool) -> miette::Result<ExitCode> {
    let config = super::lint::load_config_for(args.config.as_deref(), &args.paths)?;
    let mut settings = Settings::default();
    config.apply(&mut settings);
    let paths = if args.paths.is_empty() {
        if config.migrations.is_empty() {
            return Err(miette::miette!(
                help = "pass a folder, e.g. `lockstep dry-run db/migrations --database-url …`, or set `migrations:` in lockstep.yaml",
                "no migration path given"
            ));
        }
        config.migrations.clone()
    } else {
        args.paths.clone()
    };
    let exclude = config.file.exclude.clone().unwrap_or_default();
    let loaded = source::load(&paths, args.layout.or(config.layout), &exclude)
        .map_err(|e| miette::miette!("{e}"))?;
    if verbose {
        for n in &loaded.notes {
            eprintln!("note: {n}");
        }
    }
    let throughput = match &args.throughput {
        Some(t) => parse_quantity(t)
            .ok_or_else(|| {
                miette::miette!("--throughput {t:?}: write a size per second, e.g. 100MB")
            })
            .and_then(|n| {
                crate::settings::limits::THROUGHPUT
                    .named("--throughput")
                    .check(n)
                    .map_err(|e| miette::miette!("{e}"))
            })?,
        None => config
            .file
            .throughput
            .map(|q| q.0)
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_THROUGHPUT),
    };
    let lock_timeout = duration_arg("lock-timeout", &args.lock_timeout)?;
    let statement_timeout = duration_arg("statement-timeout", &args.statement_timeout)?;
    let block_budget = match &args.block_budget {
        Some(b) => duration_arg("block-budget", b)?,
        None => lock_timeout,
    };
    let opts = DryRunOptions {
        layout: loaded.layout,
        history_table: args.history_table.clone(),
        exact_counts: args.exact_counts,
        throughput,
        statement_timeout,
    };
    let fail_on = args
        .fail_on
        .or(config.file.fail_on)
        .unwrap_or(Severity::Error);

    let named = connect::from_flag_or_env(args.database_url.as_deref(), &connect::process_env)
        .map_err(live_report)?;
    let report = match named {
        Some(params) => {
            let mut db = Db::connect(&params).map_err(live_report)?;
            let (mut report, analysis, _) =
                dry_run::inspect(&mut db, &loaded.migrations, &settings, &opts)
                    .map_err(live_report)?;
            let scripts: Vec<_> = analysis
                .scripts
                .iter()
                .filter(|s| s.direction == crate::rules::Direction::Up)
                .collect();
            if args.scratch {
                let applied = applied_migrations(&loaded.migrations, &report.history);
                let mut s = start_scratch(&applied, args.scratch_superuser)?;
                report.notes.extend(replay_notes(&s));
                let topts = TraceOptions {
                    lock_timeout: lock_timeout.max(Duration::from_secs(1)),
                    statement_timeout: statement_timeout.max(Duration::from_secs(60)),
                    block_budget: None,
                };
                let target = s.db.target.clone();
                report.trace = Some(
                    trace::run_with(
                        &mut s.db,
                        &target,
                        &scripts,
                        &analysis.sources,
                        &topts,
                        &args.trace_allow,
                    )
                    .map_err(live_report)?,
                );
            } else if args.trace {
                let topts = TraceOptions {
                    lock_timeout,
                    statement_timeout,
                    block_budget: Some(block_budget),
                };
                let target = db.target.clone();
                report.trace = Some(
                    trace::run_with(
                        &mut db,
                        &target,
                        &scripts,
                        &analysis.sources,
                        &topts,
                        &args.trace_allow,
                    )
                    .map_err(live_report)?,
                );
            }
            report
        }
        None => {
            if args.trace && !args.scratch {
                eprintln!(
                    "note: no database named (--database-url, DATABASE_URL, PGHOST): tracing on a throwaway local cluster"
                );
            }
            scratch_only(
                &loaded.migrations,
                loaded.layout,
                &settings,
                &opts,
                args,
                statement_timeout,
            )?
        }
    };

    let out = match args.format {
        DryRunFormat::Pretty => dry_run::render_pretty(&report),
        DryRunFormat::Json => dry_run::render_json(&report),
    };
    print!("{out}");
    if args.format == DryRunFormat::Json {
        println!();
    }
    if let Some(what) = report.trace.as_ref().and_then(|t| t.escaped.as_ref()) {
        eprintln!(
            "error: the trace lost its transaction: THE DATABASE MAY HAVE BEEN CHANGED.\n  {what}\n  \
             Check the objects the pending migrations touch, and report this as a lockstep bug."
        );
        return Ok(ExitCode::from(EXIT_TRACE_ESCAPED));
    }
    let failing = report
        .findings
        .iter()
        .filter_map(|f| Severity::parse(&f.severity))
        .any(|s| s >= fail_on)
        // An applied migration edited after it ran counts as an error-severity finding.
        || (Severity::Error >= fail_on && report.checksum_mismatches.iter().any(|m| m.error));
    Ok(if failing {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

fn applied_migrations(
    migrations: &[crate::source::Migration],
    history: &History,
) -> Vec<crate::source::Migration> {
    migrations
        .iter()
        .filter(|m| history.applied.contains(&m.id))
        .cloned()
        .collect()
}

fn start_scratch(
    applied: &[crate::source::Migration],
    superuser: bool,
) -> miette::Result<scratch::Scratch> {
    let spinner = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message("starting a scratch cluster and replaying the history…");
        s.enable_steady_tick(Duration::from_millis(100));
        Some(s)
    } else {
        None
    };
    let result = scratch::start_as(applied, superuser).map_err(live_report);
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    result
}

fn replay_notes(s: &scratch::Scratch) -> Vec<String> {
    let mut notes = vec![format!(
        "scratch cluster: replayed {} statements of the applied history as {}",
        s.replayed, s.role
    )];
    if !s.replay_failures.is_empty() {
        notes.push(format!(
            "{} statements of the history failed to replay on the scratch cluster (first: {})",
            s.replay_failures.len(),
            s.replay_failures[0]
        ));
    }
    notes
}

/// No database: the newest `pending` migrations are pending; sizes come from lockstep.yaml;
/// the trace runs on a scratch cluster holding the rest of the history.
fn scratch_only(
    migrations: &[crate::source::Migration],
    layout: Layout,
    settings: &Settings,
    opts: &DryRunOptions,
    args: &DryRunArgs,
    statement_timeout: Duration,
) -> miette::Result<DryRunReport> {
    let started = Instant::now();
    let n = args.pending.min(migrations.len());
    let split = migrations.len() - n;
    let history = History {
        table: None,
        found: false,
        applied: migrations[..split].iter().map(|m| m.id.clone()).collect(),
        pending: migrations[split..].iter().map(|m| m.id.clone()).collect(),
        unknown_versions: Vec::new(),
        notes: vec![format!(
            "no database named: the newest {n} migration(s) count as pending (--pending N); \
             sizes come from lockstep.yaml"
        )],
    };
    let analysis = dry_run::analyze_pending(migrations, settings, &history.pending);
    let statements =
        dry_run::planned_statements(&analysis, &Default::default(), settings, opts.throughput);
    let mut s = start_scratch(&migrations[..split], args.scratch_superuser)?;
    let version =
        s.db.query_one(
            "reading the server version",
            "SELECT current_setting('server_version')",
            &[],
        )
        .map(|r| r.get::<_, String>(0))
        .ok();
    let scripts: Vec<_> = analysis
        .scripts
        .iter()
        .filter(|s| s.direction == crate::rules::Direction::Up)
        .collect();
    let topts = TraceOptions {
        lock_timeout: Duration::from_secs(1),
        statement_timeout: statement_timeout.max(Duration::from_secs(60)),
        block_budget: None,
    };
    let target = s.db.target.clone();
    let trace = trace::run_with(
        &mut s.db,
        &target,
        &scripts,
        &analysis.sources,
        &topts,
        &args.trace_allow,
    )
    .map_err(live_report)?;
    let findings = analysis
        .findings
        .iter()
        .filter(|f| !f.suppressed && f.direction == crate::rules::Direction::Up)
        .map(|f| dry_run::PendingFinding {
            rule: f.rule.clone(),
            severity: f.severity.to_string(),
            migration: f.migration.clone(),
            line: analysis
                .sources
                .get(&f.path)
                .map(|src| trace::line_of(src, f.span.start))
                .unwrap_or(0),
            message: f.message.clone(),
        })
        .collect();
    Ok(DryRunReport {
        version: 1,
        target: "scratch cluster (throwaway, history replayed)".into(),
        server_version: version,
        read_only: false,
        layout,
        migrations_total: migrations.len(),
        history,
        checksum_mismatches: Vec::new(),
        statements,
        tables: Vec::new(),
        drift: Vec::new(),
        findings,
        throughput_bytes_per_second: opts.throughput,
        trace: Some(trace),
        queries: 0,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
        notes: replay_notes(&s),
    })
}
