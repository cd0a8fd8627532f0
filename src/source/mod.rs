//! Source: find migrations on disk, detect the framework's layout, and order them.
//!
//! Output: `Vec<Migration>`, each with its up script, optional down script and
//! transaction mode. Nothing here parses SQL beyond the framework's own annotations
//! (goose/dbmate/sql-migrate section markers, `-- no-transaction`, …).

use serde::Serialize;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// The migration frameworks whose folder conventions we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum Layout {
    Plain,
    Diesel,
    Sqlx,
    GolangMigrate,
    Goose,
    Dbmate,
    Flyway,
    SqlMigrate,
    Prisma,
}

/// One SQL script: a whole file, or a section of one (goose/dbmate/sql-migrate keep up and
/// down in one file). Spans of statements are byte offsets into `source`, the whole file.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    /// The whole file's text.
    pub source: Arc<str>,
    /// The part of `source` that belongs to this script.
    pub range: Range<usize>,
    /// Regions that must stay one statement whatever their semicolons say
    /// (goose `StatementBegin`/`StatementEnd`). Absolute byte offsets into `source`.
    pub whole_statements: Vec<Range<usize>>,
}

impl Script {
    /// The script's own text.
    pub fn text(&self) -> &str {
        &self.source[self.range.clone()]
    }
}

/// Whether a migration's up part is a normal versioned one or something special.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationKind {
    Versioned,
    /// flyway `R__name.sql`: re-applied whenever it changes, after all versioned ones.
    Repeatable,
}

/// One migration, in the order the framework applies it.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The framework's identifier (e.g. `2024-03-02-101500_email_idx`, `V1.1__users`).
    pub id: String,
    /// The version part used for ordering (`20240302101500`, `1.1`, `3`).
    pub version: String,
    /// The descriptive name (`email_idx`).
    pub name: String,
    /// 0-based position in apply order.
    pub order: usize,
    pub kind: MigrationKind,
    pub up: Script,
    pub down: Option<Script>,
    /// False when the framework is told not to wrap it in a transaction.
    pub in_transaction: bool,
}

/// Errors reading a migration folder. All map to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
}
