//! `lockstep lint`: source → parse → catalog → locks → rules → report.

use super::{EXIT_ERROR, EXIT_FINDINGS, print_error, use_color};
use crate::analyze::analyze_with;
use crate::config::Config;
use crate::report::{self, Format, ReportContext};
use crate::settings::{Settings, Severity};
use crate::source::{self, Layout, Migration};
use clap::Args;
use std::collections::HashSet;
use std::io::{Read, Write};
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
    /// Report only findings not recorded in this baseline (written by `lockstep baseline`).
    /// Default: lockstep-baseline.json beside lockstep.yaml (or here) when it exists.
    #[arg(long, value_name = "FILE", conflicts_with = "no_baseline")]
    pub baseline: Option<PathBuf>,
    /// Ignore the default baseline file: report every finding.
    #[arg(long)]
    pub no_baseline: bool,
    /// Table sizes written by `lockstep sizes` (default: lockstep.sizes.yaml beside
    /// lockstep.yaml or in this directory, when there is one).
    #[arg(long, value_name = "FILE")]
    pub sizes: Option<PathBuf>,
}

/// A folder analysed as `lint` does, before any baseline is applied.
pub(super) struct Prepared {
    pub analysis: crate::analyze::Analysis,
    pub settings: Settings,
    pub layout: Layout,
    pub config: Config,
    pub fail_on: Severity,
    /// The histories replayed, with their layouts (the markdown report plans from them).
    pub histories: Vec<(Layout, Vec<Migration>)>,
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
    // The JSON report's migrations are written out while the history is replayed (see
    // `report::json::Spill`), so memory follows the largest migration.
    let mut spill = match args.format {
        Format::Json => Some(
            report::json::Spill::new()
                .map_err(|e| miette::miette!("cannot create a temporary file: {e}"))?,
        ),
        _ => None,
    };
    let mut spill_error: Option<std::io::Error> = None;
    let mut to_spill =
        |script: &crate::analyze::AnalyzedScript, source: &str, settings: &Settings| {
            if let Some(spill) = spill.as_mut()
                && spill_error.is_none()
                && let Err(e) = spill.push(script, source, settings)
            {
                spill_error = Some(e);
            }
        };
    let sink: Option<&mut crate::analyze::ScriptSink<'_>> = match args.format {
        Format::Json => Some(&mut to_spill),
        _ => None,
    };
    let Prepared {
        mut analysis,
        settings,
        layout,
        config,
        fail_on,
        histories,
    } = prepare_with(args, quiet, verbose, sink)?;
    if let Some(e) = spill_error {
        return Err(miette::miette!("cannot write to a temporary file: {e}"));
    }
    let explicit = args.baseline.is_some();
    let baseline_path = match &args.baseline {
        Some(p) => Some(p.clone()),
        None if args.no_baseline => None,
        None => Some(crate::baseline::default_path(
            config.path.as_deref(),
            &std::env::current_dir().unwrap_or_default(),
        )),
    };
    if let Some(p) = baseline_path
        && (explicit || p.is_file())
    {
        let b = crate::baseline::load(&p).map_err(|e| miette::miette!("{e}"))?;
        crate::baseline::apply(&mut analysis, &b);
        if verbose {
            eprintln!("note: using baseline {}", p.display());
        }
    }
    let cx = ReportContext {
        analysis: &analysis,
        settings: &settings,
        layout,
        color: use_color(),
    };
    // Formats that need more than the report context: the threshold, the plans.
    if let Some(out) = render_with_history(args.format, &cx, fail_on, &histories) {
        print!("{out}");
        return Ok(if report::fails(&analysis.findings, fail_on) {
            ExitCode::from(EXIT_FINDINGS)
        } else {
            ExitCode::SUCCESS
        });
    }
    // The report goes to stdout as it is written (JSON and pretty): it is never held whole.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = if quiet && args.format == Format::Pretty {
        out.write_all(report::pretty::render_quiet(&cx).as_bytes())
    } else if let Some(spill) = spill {
        report::json::write_spilled(&cx, spill, &mut out)
    } else {
        report::write(args.format, &cx, &mut out)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        // A reader that stopped reading (`| head`) is not an error of the linter.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(miette::miette!("stdout: cannot write the report: {e}")),
    }
    Ok(if report::fails(&analysis.findings, fail_on) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads the folder and configuration and runs the analysis (history checks included).
pub(super) fn prepare(args: &LintArgs, quiet: bool, verbose: bool) -> miette::Result<Prepared> {
    prepare_with(args, quiet, verbose, None)
}

/// [`prepare`], handing each analysed script to `sink` as it is replayed
/// ([`crate::analyze::analyze_with`]).
fn prepare_with(
    args: &LintArgs,
    quiet: bool,
    verbose: bool,
    mut sink: Option<&mut crate::analyze::ScriptSink<'_>>,
) -> miette::Result<Prepared> {
    let config = load_config_for(args.config.as_deref(), &args.paths)?;
    let mut settings = Settings::default();
    config.apply(&mut settings);
    // Sizes snapshot (`lockstep sizes`) for the tables lockstep.yaml does not size.
    if let Some(p) = super::sizes::find(args.sizes.as_deref(), config.path.as_deref()) {
        let file = super::sizes::load(&p).map_err(|e| miette::miette!("{e}"))?;
        let told = super::sizes::apply(&file, &p, &mut settings, super::sizes::now());
        if !quiet {
            eprintln!("{told}");
        }
    }
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

    let histories = load_histories(args, &config)?;
    for h in &histories {
        // What the user must know (assumed layout, duplicate versions, unreadable names)
        // is printed even without --verbose; stdout stays the report.
        if !quiet {
            for w in &h.loaded.warnings {
                eprintln!("warning: {w}");
            }
        }
        if verbose {
            for n in &h.loaded.notes {
                eprintln!("note: {n}");
            }
        }
    }
    if verbose && let Some(p) = &config.path {
        eprintln!("note: using {}", p.display());
    }

    let mut analysis: Option<crate::analyze::Analysis> = None;
    let layout = histories.first().map_or(Layout::Plain, |h| h.loaded.layout);
    for history in &histories {
        let migrations = &history.loaded.migrations;
        let mut settings = settings.clone();
        settings.single_statement_autocommit = history.loaded.layout.implicit_transaction();
        settings.runner = Some(history.loaded.layout.name().to_string());
        let selected: Option<HashSet<PathBuf>> = match &args.since {
            Some(r) => Some(changed_since(r, migrations)?),
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
        // Each history is replayed alone: one service's tables are not another's.
        let mut one = analyze_with(migrations, &settings, &lint, sink.as_deref_mut());
        // History integrity against lockstep.lock, when the folder has one.
        super::lock::check_for_lint(
            &mut one,
            migrations,
            &history.paths,
            &config,
            args.since.as_deref(),
            &settings,
        )?;
        analysis = Some(match analysis {
            None => one,
            Some(mut all) => {
                all.scripts.extend(one.scripts);
                all.findings.extend(one.findings);
                all.sources.extend(one.sources);
                all.migrations_total += one.migrations_total;
                all.statements_total += one.statements_total;
                all.catalog = one.catalog;
                all
            }
        });
    }
    let analysis = analysis.unwrap_or_default();
    settings.single_statement_autocommit = layout.implicit_transaction();
    settings.runner = Some(layout.name().to_string());
    Ok(Prepared {
        analysis,
        settings,
        layout,
        config,
        fail_on,
        histories: histories
            .into_iter()
            .map(|h| (h.loaded.layout, h.loaded.migrations))
            .collect(),
    })
}

/// `--format junit` (failures at `--fail-on`) and `--format markdown` (with the plans of
/// unsafe migrations); `None` for the other formats.
fn render_with_history(
    format: Format,
    cx: &ReportContext,
    fail_on: Severity,
    histories: &[(Layout, Vec<Migration>)],
) -> Option<String> {
    match format {
        Format::Junit => Some(report::junit::render(cx, fail_on)),
        Format::Markdown => {
            let h: Vec<(Layout, &[Migration])> =
                histories.iter().map(|(l, m)| (*l, m.as_slice())).collect();
            let plans = report::markdown::plans(&h, &cx.analysis.findings, cx.settings);
            Some(report::markdown::render(cx, &plans))
        }
        _ => None,
    }
}

/// One history to replay: the migrations of one folder (or of the files named together).
struct History {
    /// The paths it was read from, for the lockfile lookup.
    paths: Vec<PathBuf>,
    loaded: source::Loaded,
}

/// Reads what the command line names: stdin (`-`, read as `--layout` says), files (one
/// history, in the order given), folders (one history each; a folder that is not itself
/// a migration folder is searched for the migration folders under it, each replayed
/// alone). Without paths, `migrations:` from lockstep.yaml is one history, as before.
fn load_histories(args: &LintArgs, config: &Config) -> miette::Result<Vec<History>> {
    let layout = args.layout.or(config.layout);
    let exclude = config.file.exclude.clone().unwrap_or_default();
    let load = |paths: &[PathBuf]| -> miette::Result<History> {
        let loaded = source::load(paths, layout, &exclude).map_err(|e| miette::miette!("{e}"))?;
        Ok(History {
            paths: paths.to_vec(),
            loaded,
        })
    };
    if args.paths.len() == 1 && args.paths[0] == Path::new("-") {
        let mut sql = String::new();
        std::io::stdin()
            .read_to_string(&mut sql)
            .map_err(|e| miette::miette!("stdin: cannot read: {e}"))?;
        let path = PathBuf::from(&args.stdin_filename);
        let loaded = source::load_text(&path, &sql, layout).map_err(|e| miette::miette!("{e}"))?;
        return Ok(vec![History {
            paths: Vec::new(),
            loaded,
        }]);
    }
    if args.paths.is_empty() {
        if config.migrations.is_empty() {
            return Err(miette::miette!(
                help = "pass a folder, e.g. `lockstep lint db/migrations`, or set `migrations:` in lockstep.yaml",
                "no migration path given"
            ));
        }
        return Ok(vec![load(&config.migrations)?]);
    }
    if args.paths.iter().any(|p| p == Path::new("-")) {
        return Err(miette::miette!(
            "`-` (stdin) cannot be combined with other paths"
        ));
    }
    let mut histories = Vec::new();
    let mut files = Vec::new();
    for path in &args.paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| miette::miette!("{}: cannot read: {e}", path.display()))?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        if layout.is_some() || source::is_migration_folder(path) {
            histories.push(load(std::slice::from_ref(path))?);
            continue;
        }
        let found = source::discover(path);
        for skipped in &found.skipped {
            eprintln!(
                "note: {}: another database's migrations; not read (name it to lint it)",
                skipped.display()
            );
        }
        if found.folders.is_empty() {
            histories.push(load(std::slice::from_ref(path))?);
            continue;
        }
        eprintln!(
            "note: {}: found {} migration folder(s): {}",
            path.display(),
            found.folders.len(),
            found
                .folders
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for folder in &found.folders {
            histories.push(load(std::slice::from_ref(folder))?);
        }
    }
    if !files.is_empty() {
        histories.insert(0, load(&files)?);
    }
    Ok(histories)
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
    // The ref is checked to name a commit before git sees it in any other position, and
    // `--end-of-options` keeps a ref such as `--output=FILE` from being read as an option.
    let commit = format!("{git_ref}^{{commit}}");
    if git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &commit,
    ])
    .is_err()
    {
        return Err(miette::miette!(
            "--since {git_ref:?}: not a commit in this repository (give a branch, tag or commit, \
             e.g. --since origin/main)"
        ));
    }
    let mut changed = HashSet::new();
    let diff = git(&["diff", "--name-only", "--end-of-options", git_ref, "--"])?;
    let untracked = git(&["ls-files", "--others", "--exclude-standard", "--full-name"])?;
    for line in diff.lines().chain(untracked.lines()) {
        if !line.trim().is_empty() {
            changed.insert(canonical(&top.join(line.trim())));
        }
    }
    Ok(changed)
}
