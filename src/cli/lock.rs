//! `lockstep lock`: record the checksums of the migrations that exist in lockstep.lock,
//! and the hook that lets `lint` compare the folder with it.

use super::{EXIT_ERROR, print_error};
use crate::analyze::Analysis;
use crate::config::Config;
use crate::lockfile::{self, LockFile};
use crate::settings::Settings;
use crate::source::{self, Layout, Loaded, Migration};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Migration folders or files. Default: `migrations:` from lockstep.yaml.
    pub paths: Vec<PathBuf>,
    /// The migration framework's folder layout (default: detect it).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Configuration file (default: lockstep.yaml in this directory or a parent).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write the lock file (default: next to lockstep.yaml, else in the parent of
    /// the migrations folder).
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
}

pub fn run(args: &LockArgs, quiet: bool) -> ExitCode {
    match run_inner(args, quiet) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The paths to read: the arguments, else `migrations:` from the configuration.
pub(crate) fn folder_paths(args: &[PathBuf], config: &Config) -> miette::Result<Vec<PathBuf>> {
    if !args.is_empty() {
        return Ok(args.to_vec());
    }
    if config.migrations.is_empty() {
        return Err(miette::miette!(
            help = "pass a folder, e.g. `lockstep lock db/migrations`, or set `migrations:` in lockstep.yaml",
            "no migration path given"
        ));
    }
    Ok(config.migrations.clone())
}

/// Loads the migrations under `paths` with the configured layout and excludes.
pub(crate) fn load(
    paths: &[PathBuf],
    layout: Option<Layout>,
    config: &Config,
) -> miette::Result<Loaded> {
    let exclude = config.file.exclude.clone().unwrap_or_default();
    source::load(paths, layout.or(config.layout), &exclude).map_err(|e| miette::miette!("{e}"))
}

fn run_inner(args: &LockArgs, quiet: bool) -> miette::Result<ExitCode> {
    let config = super::lint::load_config_for(args.config.as_deref(), &args.paths)?;
    let paths = folder_paths(&args.paths, &config)?;
    let loaded = load(&paths, args.layout, &config)?;
    let lock_path = args
        .lockfile
        .clone()
        .unwrap_or_else(|| lockfile::locate(config.path.as_deref(), &paths));
    let lock_dir = lock_path.parent().unwrap_or(Path::new("."));
    let previous = lockfile::read(&lock_path).map_err(|e| miette::miette!("{e}"))?;
    let lock = lockfile::record(&loaded.migrations, lock_dir);
    lockfile::write(&lock_path, &lock).map_err(|e| miette::miette!("{e}"))?;
    if !quiet {
        println!(
            "{}: recorded {} {} migration(s){}",
            crate::report::display_path(&lock_path),
            lock.migrations.len(),
            loaded.layout,
            previous
                .map(|p| changes(&p, &lock))
                .filter(|c| !c.is_empty())
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// "2 added, 1 updated, 1 removed" between two lock files.
fn changes(old: &LockFile, new: &LockFile) -> String {
    let before: BTreeMap<&str, &str> = old
        .migrations
        .iter()
        .map(|e| (e.id.as_str(), e.sha256.as_str()))
        .collect();
    let after: BTreeMap<&str, &str> = new
        .migrations
        .iter()
        .map(|e| (e.id.as_str(), e.sha256.as_str()))
        .collect();
    let added = after.keys().filter(|k| !before.contains_key(*k)).count();
    let removed = before.keys().filter(|k| !after.contains_key(*k)).count();
    let updated = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
        .count();
    [(added, "added"), (updated, "updated"), (removed, "removed")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `lint`'s history check: when a lock file exists for the folder being linted, adds the
/// edited/removed/out-of-order findings to `analysis`. Without a lock file, or for SQL read
/// from stdin, it does nothing; an unreadable lock file is an error (exit code 2).
pub(crate) fn check_for_lint(
    analysis: &mut Analysis,
    migrations: &[Migration],
    args_paths: &[PathBuf],
    config: &Config,
    since: Option<&str>,
    settings: &Settings,
) -> miette::Result<()> {
    if args_paths.len() == 1 && args_paths[0] == Path::new("-") {
        return Ok(());
    }
    let paths = if args_paths.is_empty() {
        config.migrations.clone()
    } else {
        args_paths.to_vec()
    };
    let lock_path = lockfile::locate(config.path.as_deref(), &paths);
    let Some(lock) = lockfile::read(&lock_path).map_err(|e| miette::miette!("{e}"))? else {
        return Ok(());
    };
    lockfile::check_into(analysis, &lock, &lock_path, migrations, since, settings);
    Ok(())
}
