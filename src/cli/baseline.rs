//! `lockstep baseline`: record the current findings so `lint` reports only new ones.

use super::EXIT_ERROR;
use super::lint::{LintArgs, prepare};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub lint: LintArgs,
    /// Where to write it (default: lockstep-baseline.json beside lockstep.yaml, or here).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &BaselineArgs, quiet: bool, verbose: bool) -> ExitCode {
    match run_inner(args, quiet, verbose) {
        Ok(code) => code,
        Err(e) => {
            super::print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run_inner(args: &BaselineArgs, quiet: bool, verbose: bool) -> miette::Result<ExitCode> {
    let prepared = prepare(&args.lint, quiet, verbose)?;
    let path = match args.output.as_ref().or(args.lint.baseline.as_ref()) {
        Some(p) => p.clone(),
        None => crate::baseline::default_path(
            prepared.config.path.as_deref(),
            &std::env::current_dir().map_err(|e| miette::miette!("working directory: {e}"))?,
        ),
    };
    let n =
        crate::baseline::write(&path, &prepared.analysis).map_err(|e| miette::miette!("{e}"))?;
    if !quiet {
        eprintln!(
            "lockstep: recorded {n} finding{} in {}; `lockstep lint` now reports only new ones",
            if n == 1 { "" } else { "s" },
            crate::report::display_path(&path)
        );
    }
    Ok(ExitCode::SUCCESS)
}
