//! `lockstep lint`: source → parse → catalog → locks → rules → report.

use super::{EXIT_ERROR, EXIT_FINDINGS, print_error, use_color};
use crate::analyze::{analyze, inline_migration};
use crate::config::Config;
use crate::report::{self, Format, ReportContext};
use crate::settings::{Settings, Severity};
use crate::source::{self, Layout, Migration};
use clap::Args;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Migration folders or files (`-` reads SQL from stdin). Default: `migrations:` from lockstep.yaml.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "pretty")]
    pub format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum)]
    pub fail_on: Option<Severity>,
    /// PostgreSQL major version the migrations run on (11-17).
    #[arg(long, value_parser = clap::value_parser!(u32).range(11..=17))]
    pub pg_version: Option<u32>,
    /// The migration framework's folder layout (default: detect it).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Lint only migrations added or changed since this git ref (the whole history is still replayed).
    #[arg(long, value_name = "GIT_REF")]
    pub since: Option<String>,
    /// Configuration file (default: lockstep.yaml in this directory or a parent).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Name used for SQL read from stdin.
    #[arg(long, default_value = "stdin.sql")]
    pub stdin_filename: String,
    /// The migration runner sets a lock_timeout itself.
    #[arg(long)]
    pub assume_lock_timeout: bool,
}

pub fn run(args: &LintArgs, quiet: bool, verbose: bool) -> ExitCode {
    match run_inner(args, quiet, verbose) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Loads the configuration: `--config`, else `lockstep.yaml` found upward from the working
/// directory, else upward from the first linted path (a folder can carry its own).
pub fn load_config_for(explicit: Option<&Path>, paths: &[PathBuf]) -> miette::Result<Config> {
    if explicit.is_none() {
        let from_cwd = std::env::current_dir()
            .ok()
            .and_then(|d| Config::discover(&d));
        if from_cwd.is_none() {
            let start = paths
                .iter()
                .find(|p| p.as_os_str() != "-")
                .map(|p| {
                    if p.is_dir() {
                        p.clone()
                    } else {
                        p.parent().map(Path::to_path_buf).unwrap_or_default()
                    }
                })
                .and_then(|p| std::fs::canonicalize(p).ok());
            if let Some(found) = start.and_then(|d| Config::discover(&d)) {
                return Config::load(&found).map_err(|e| miette::Report::new(*e));
            }
        }
    }
    load_config(explicit)
}

/// Loads the configuration: `--config`, else `lockstep.yaml` found upward from the cwd.
pub fn load_config(explicit: Option<&Path>) -> miette::Result<Config> {
    let path = match explicit {
        Some(p) => {
            if !p.is_file() {
                return Err(miette::miette!(
                    "{}: no such configuration file",
                    p.display()
                ));
            }
            Some(p.to_path_buf())
        }
        None => std::env::current_dir()
            .ok()
            .and_then(|d| Config::discover(&d)),
    };
    match path {
        Some(p) => Config::load(&p).map_err(|e| miette::Report::new(*e)),
        None => Ok(Config::default()),
    }
}

fn run_inner(args: &LintArgs, quiet: bool, verbose: bool) -> miette::Result<ExitCode> {
    let config = load_config_for(args.config.as_deref(), &args.paths)?;
    let mut settings = Settings::default();
    config.apply(&mut settings);
    if let Some(v) = args.pg_version {
        settings.pg_version = v;
    }
    if args.assume_lock_timeout {
        settings.assume_lock_timeout = true;
    }
    let fail_on = args
        .fail_on
        .or(config.file.fail_on)
        .unwrap_or(Severity::Error);

    let (layout, migrations, notes) = if args.paths.len() == 1 && args.paths[0] == Path::new("-") {
        let mut sql = String::new();
        std::io::stdin()
            .read_to_string(&mut sql)
            .map_err(|e| miette::miette!("stdin: cannot read: {e}"))?;
        let name = args.stdin_filename.trim_end_matches(".sql");
        let m = inline_migration(0, name, &sql, false);
        (Layout::Plain, vec![m], Vec::new())
    } else {
        let paths = if args.paths.is_empty() {
            if config.migrations.is_empty() {
                return Err(miette::miette!(
                    help = "pass a folder, e.g. `lockstep lint db/migrations`, or set `migrations:` in lockstep.yaml",
                    "no migration path given"
                ));
            }
            config.migrations.clone()
        } else {
            args.paths.clone()
        };
        let layout = args.layout.or(config.layout);
        let exclude = config.file.exclude.clone().unwrap_or_default();
        let loaded = source::load(&paths, layout, &exclude).map_err(|e| miette::miette!("{e}"))?;
        (loaded.layout, loaded.migrations, loaded.notes)
    };
    if verbose {
        for n in &notes {
            eprintln!("note: {n}");
        }
        if let Some(p) = &config.path {
            eprintln!("note: using {}", p.display());
        }
    }

    settings.single_statement_autocommit = layout.implicit_transaction();
    let selected: Option<HashSet<PathBuf>> = match &args.since {
        Some(r) => Some(changed_since(r, &migrations)?),
        None => None,
    };
    let lint = |m: &Migration| match &selected {
        None => true,
        Some(changed) => {
            changed.contains(&canonical(&m.up.path))
                || m.down
                    .as_ref()
                    .is_some_and(|d| changed.contains(&canonical(&d.path)))
        }
    };
    let mut analysis = analyze(&migrations, &settings, &lint);
    // History integrity against lockstep.lock, when the folder has one.
    super::lock::check_for_lint(
        &mut analysis,
        &migrations,
        &args.paths,
        &config,
        args.since.as_deref(),
        &settings,
    )?;
    let cx = ReportContext {
        analysis: &analysis,
        settings: &settings,
        layout,
        color: use_color(),
    };
    let mut out = report::render(args.format, &cx);
    if quiet && args.format == Format::Pretty {
        // Keep the findings, drop the summary line.
        if let Some(i) = out.trim_end().rfind('\n') {
            out.truncate(i + 1);
        } else {
            out.clear();
        }
    }
    print!("{out}");
    Ok(if report::fails(&analysis.findings, fail_on) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Files changed since `git_ref` (committed, staged, unstaged and untracked), canonicalised.
fn changed_since(git_ref: &str, migrations: &[Migration]) -> miette::Result<HashSet<PathBuf>> {
    let dir = migrations
        .first()
        .and_then(|m| m.up.path.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let git = |args: &[&str]| -> miette::Result<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .map_err(|e| miette::miette!("--since needs git: {e}"))?;
        if !out.status.success() {
            return Err(miette::miette!(
                "--since {git_ref}: git failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let mut changed = HashSet::new();
    let diff = git(&["diff", "--name-only", git_ref, "--"])?;
    let untracked = git(&["ls-files", "--others", "--exclude-standard", "--full-name"])?;
    for line in diff.lines().chain(untracked.lines()) {
        if !line.trim().is_empty() {
            changed.insert(canonical(&top.join(line.trim())));
        }
    }
    Ok(changed)
}
