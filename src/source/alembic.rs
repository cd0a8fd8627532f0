//! Alembic `versions/*.py`: front end (being written; see issue 15/16).

use super::files::{Entry, Inputs};
use super::{Migration, SourceError};

/// Evidence that `entries` are this framework's migrations, for layout detection.
pub(crate) fn detect(_entries: &[Entry]) -> Option<String> {
    None
}

/// Whether `dir` is a migration folder of this framework (for `lockstep lint .`).
pub(crate) fn is_folder(_dir: &std::path::Path) -> bool {
    false
}

/// Reads the migrations in apply order.
pub(crate) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let dir = inputs.dirs.first().cloned().unwrap_or_default();
    Err(SourceError::Layout {
        path: dir,
        message: "the Alembic front end is not built yet".into(),
    })
}
