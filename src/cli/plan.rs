//! `lockstep plan`: rewrite an unsafe migration into expand → backfill → contract steps.

use super::{EXIT_ERROR, print_error};
use crate::analyze::inline_migration;
use crate::plan::{self, PlanOptions, backfill::BackfillTuning, diff, graph, render_md, write};
use crate::settings::limits;
use crate::source::{self, Layout};
use clap::{Args, ValueEnum};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--lock-timeout`: a number of milliseconds within [`limits::LOCK_TIMEOUT`] (clap turns
/// the error into a usage error, exit 2).
fn parse_lock_timeout(s: &str) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of milliseconds"))?;
    limits::LOCK_TIMEOUT.named("--lock-timeout").check(v)
}

/// Output format of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Markdown for people (a pull request description).
    Md,
    /// YAML for machines (`lockstep backfill run` reads it).
    Yaml,
}

/// Step graph format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Migration folder (or a single .sql file; `-` reads SQL from stdin).
    #[arg(required_unless_present = "cleanup")]
    pub path: Option<PathBuf>,
    /// The migration to plan: its id, version (dashed or plain) or a unique prefix of
    /// either (default: the last one). An ambiguous prefix lists the matches.
    #[arg(long, value_name = "ID")]
    pub migration: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: PlanFormat,
    /// Write the steps as new migration files in the folder's layout into DIR.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
    /// Print a unified diff between the original migration and the plan's SQL.
    #[arg(long)]
    pub diff: bool,
    /// Print the step graph instead of the plan.
    #[arg(long, value_enum)]
    pub graph: Option<GraphFormat>,
    /// The migration framework's folder layout (default: detect it).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// PostgreSQL major version the migrations run on (11-17).
    #[arg(long, value_parser = clap::value_parser!(u32).range(11..=17))]
    pub pg_version: Option<u32>,
    /// Configuration file (default: lockstep.yaml in this directory or a parent).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// lock_timeout for steps that take strong locks, in milliseconds (at least 1: 0 would
    /// let a blocked step queue every writer behind it, which is what a plan avoids).
    #[arg(long, default_value_t = 2000, value_name = "MS", value_parser = parse_lock_timeout)]
    pub lock_timeout: u64,
    /// Instead of planning: drop lockstep's state from the database (schema `lockstep`:
    /// backfill checkpoints and procedures, `lockstep apply` progress), as
    /// `lockstep backfill cleanup` does. Refused while a job runs, and while one is
    /// unfinished unless --force.
    #[arg(long)]
    pub cleanup: bool,
    /// With --cleanup: the database (default: DATABASE_URL, then the PG* variables).
    #[arg(long, value_name = "URL", requires = "cleanup")]
    pub database_url: Option<String>,
    /// With --cleanup: also drop the state of unfinished jobs.
    #[arg(long, requires = "cleanup")]
    pub force: bool,
}

/// Runs `lockstep plan`.
pub fn run(args: &PlanArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `plan --cleanup`: the same as `lockstep backfill cleanup`.
fn cleanup(args: &PlanArgs) -> miette::Result<ExitCode> {
    use super::dry_run::live_report;
    use crate::live::{backfill_runner, connect};
    let params = connect::from_flag_or_env(args.database_url.as_deref(), &connect::process_env)
        .map_err(live_report)?
        .ok_or_else(|| {
            miette::miette!(
                help = "pass --database-url postgres://user@host/db, or set DATABASE_URL or PGHOST/PGDATABASE",
                "no database named"
            )
        })?;
    let mut db = connect::Db::connect(&params).map_err(live_report)?;
    let report = backfill_runner::cleanup(&mut db, args.force).map_err(live_report)?;
    eprintln!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn run_inner(args: &PlanArgs) -> miette::Result<ExitCode> {
    if args.cleanup {
        return cleanup(args);
    }
    let Some(path) = args.path.as_deref() else {
        return Err(miette::miette!(
            "name a migration folder, a .sql file or - for stdin"
        ));
    };
    let config = super::lint::load_config_for(args.config.as_deref(), &[path.to_path_buf()])?;
    let mut options = PlanOptions::default();
    config.apply(&mut options.settings);
    if let Some(v) = args.pg_version {
        options.settings.pg_version = v;
    }
    options.lock_timeout_ms = args.lock_timeout;
    options.backfill = tuning_from_config(&config)?;

    let (layout, migrations) = if path == Path::new("-") {
        let mut sql = String::new();
        std::io::stdin()
            .read_to_string(&mut sql)
            .map_err(|e| miette::miette!("stdin: cannot read: {e}"))?;
        (
            Layout::Plain,
            vec![inline_migration(0, "stdin", &sql, true)],
        )
    } else {
        let exclude = config.file.exclude.clone().unwrap_or_default();
        let loaded = source::load(
            &[path.to_path_buf()],
            args.layout.or(config.layout),
            &exclude,
        )
        .map_err(|e| miette::miette!("{e}"))?;
        (loaded.layout, loaded.migrations)
    };
    let target = match &args.migration {
        None => migrations.len().saturating_sub(1),
        Some(query) => find_migration(&migrations, query).map_err(|found| {
            let list = |ms: &[&source::Migration]| {
                ms.iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if found.is_empty() {
                let last: Vec<&source::Migration> = migrations.iter().rev().take(5).collect();
                miette::miette!(
                    help = format!(
                        "give an id, a version (dashed or plain) or a unique prefix; the folder ends with: {}",
                        list(&last)
                    ),
                    "no migration {query:?} in {}",
                    path.display()
                )
            } else {
                miette::miette!(
                    help = format!("name one of them: {}", list(&found)),
                    "{query:?} matches {} migrations in {}",
                    found.len(),
                    path.display()
                )
            }
        })?,
    };
    let plan = plan::plan_migration(&migrations, target, Some(layout), &options)
        .map_err(|e| miette::miette!("{e}"))?;

    if let Some(g) = args.graph {
        print!(
            "{}",
            match g {
                GraphFormat::Dot => graph::to_dot(&plan),
                GraphFormat::Mermaid => graph::to_mermaid(&plan),
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.diff {
        let m = &migrations[target];
        print!(
            "{}",
            diff::unified(m.up.text(), &plan, &m.up.path.display().to_string())
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &args.write {
        let versions: Vec<String> = migrations.iter().map(|m| m.version.clone()).collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let files =
            write::files(&plan, layout, &versions, now).map_err(|e| miette::miette!("{e}"))?;
        let written = write::write_files(dir, &files).map_err(|e| miette::miette!("{e}"))?;
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
        eprintln!(
            "note: these files replace migration {}; remove it (or keep it unapplied) before running them",
            plan.migration
        );
        return Ok(ExitCode::SUCCESS);
    }
    match args.format {
        PlanFormat::Md => print!("{}", render_md::render(&plan, "plan.yaml")),
        PlanFormat::Yaml => print!("{}", plan.to_yaml().map_err(|e| miette::miette!("{e}"))?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The migration `query` names, as the user sees it in the folder: its id, version or
/// name; the version with or without separators (`2024-03-02-101500` for `20240302101500`);
/// or a prefix of the id or version that only one migration has. On failure, the
/// migrations that matched (none, or several: the query is ambiguous).
pub fn find_migration<'a>(
    migrations: &'a [source::Migration],
    query: &str,
) -> Result<usize, Vec<&'a source::Migration>> {
    let q = query.trim();
    if let Some(i) = migrations
        .iter()
        .position(|m| m.id == q || m.version == q || m.name == q)
    {
        return Ok(i);
    }
    // A version written with other separators: compare the alphanumerics only.
    let bare = |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric()).collect() };
    let qb = bare(q);
    let matches = |pred: &dyn Fn(&source::Migration) -> bool| -> Vec<usize> {
        migrations
            .iter()
            .enumerate()
            .filter(|(_, m)| pred(m))
            .map(|(i, _)| i)
            .collect()
    };
    let mut found = if qb.is_empty() {
        Vec::new()
    } else {
        matches(&|m| bare(&m.version) == qb || bare(&m.id) == qb)
    };
    if found.is_empty() && !q.is_empty() {
        found = matches(&|m| {
            m.id.starts_with(q)
                || m.version.starts_with(q)
                || (!qb.is_empty() && bare(&m.id).starts_with(&qb))
        });
    }
    match found.as_slice() {
        [i] => Ok(*i),
        _ => Err(found.iter().map(|i| &migrations[*i]).collect()),
    }
}

/// Backfill pacing from `backfill:` in lockstep.yaml over the built-in defaults. The
/// values were range-checked when the file was loaded (`settings::limits`); they are
/// checked again here so a config built in code cannot produce a procedure that does not
/// compile or a run that sleeps for days.
fn tuning_from_config(config: &crate::config::Config) -> miette::Result<BackfillTuning> {
    let mut t = BackfillTuning::default();
    let file = config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "lockstep.yaml".into());
    let check = |bound: limits::Bound, value: u128| {
        bound
            .check(u64::try_from(value).unwrap_or(u64::MAX))
            .map_err(|e| miette::miette!("{file}: backfill.{e}"))
    };
    if let Some(b) = &config.file.backfill {
        if let Some(n) = b.batch_size {
            t.batch_size = check(limits::BATCH_SIZE, n.into())?;
        }
        if let Some(d) = &b.target_batch_time {
            t.target_batch_time_ms = check(limits::TARGET_BATCH_TIME, d.0.as_millis())?;
        }
        if let Some(d) = &b.sleep {
            t.sleep_ms = check(limits::SLEEP, d.0.as_millis())?;
        }
        if let Some(d) = &b.max_replica_lag {
            t.max_replica_lag_ms = check(limits::MAX_REPLICA_LAG, d.0.as_millis())?;
        }
    }
    // The adapted batch size stays around a configured start outside the default bounds.
    t.min_batch_size = t.min_batch_size.min(t.batch_size);
    t.max_batch_size = t.max_batch_size.max(t.batch_size);
    Ok(t)
}
