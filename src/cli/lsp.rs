//! `lockstep lsp`: the Language Server on stdio (see `crate::lsp`).

use super::EXIT_ERROR;
use std::process::ExitCode;

/// Runs the server until the client sends `exit`.
pub fn run() -> ExitCode {
    match crate::lsp::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lockstep lsp: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
