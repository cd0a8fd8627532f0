//! Source: find migrations on disk, detect the framework's layout, and order them.
//!
//! Output: `Vec<Migration>`, each with its up script, optional down script and
//! transaction mode. Nothing here parses SQL beyond the framework's own annotations
//! (goose/dbmate/sql-migrate section markers, `-- no-transaction`, …); the one exception
//! is flyway, which itself decides per statement whether a script may run in a
//! transaction, so we look at statement heads the same way (see `flyway.rs`).
//!
//! Entry point: [`load`]. One file per layout (`plain.rs`, `diesel.rs`, …) turns the
//! files found under the given paths into migrations; `mod.rs` orders them and checks
//! for duplicate versions, so every layout gets the same ordering rules.

mod annotated;
mod dbmate;
mod detect;
mod diesel;
mod files;
mod flyway;
mod golang_migrate;
mod goose;
mod plain;
mod prisma;
mod scan;
mod sql_migrate;
mod sqlx;
mod version;

use serde::Serialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use files::Inputs;
use version::VersionKey;

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

impl Layout {
    /// Every layout, in the order `--layout` lists them.
    pub const ALL: [Layout; 9] = [
        Layout::Plain,
        Layout::Diesel,
        Layout::Sqlx,
        Layout::GolangMigrate,
        Layout::Goose,
        Layout::Dbmate,
        Layout::Flyway,
        Layout::SqlMigrate,
        Layout::Prisma,
    ];

    /// The name users write (`golang-migrate`), as `--layout` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Plain => "plain",
            Layout::Diesel => "diesel",
            Layout::Sqlx => "sqlx",
            Layout::GolangMigrate => "golang-migrate",
            Layout::Goose => "goose",
            Layout::Dbmate => "dbmate",
            Layout::Flyway => "flyway",
            Layout::SqlMigrate => "sql-migrate",
            Layout::Prisma => "prisma",
        }
    }

    /// The table where the framework records applied migrations (PostgreSQL defaults);
    /// `None` for plain files, which keep no history.
    pub fn history_table(self) -> Option<&'static str> {
        match self {
            Layout::Plain => None,
            Layout::Diesel => Some("__diesel_schema_migrations"),
            Layout::Sqlx => Some("_sqlx_migrations"),
            Layout::GolangMigrate | Layout::Dbmate => Some("schema_migrations"),
            Layout::Goose => Some("goose_db_version"),
            Layout::Flyway => Some("flyway_schema_history"),
            Layout::SqlMigrate => Some("gorp_migrations"),
            Layout::Prisma => Some("_prisma_migrations"),
        }
    }

    /// How a user tells this framework to run one migration outside a transaction
    /// (for help texts such as "CREATE INDEX CONCURRENTLY needs …").
    pub fn no_transaction_hint(self) -> &'static str {
        match self {
            Layout::Plain => "plain files run under psql in autocommit: nothing to do",
            Layout::Diesel => "diesel: add metadata.toml with `run_in_transaction = false`",
            Layout::Sqlx => "sqlx: make `-- no-transaction` the file's first line",
            Layout::GolangMigrate | Layout::Prisma => {
                "put the statement alone in its own migration (a single-statement file runs \
                 outside any transaction block)"
            }
            Layout::Goose => "goose: add `-- +goose NO TRANSACTION` to the file",
            Layout::Dbmate => "dbmate: write `-- migrate:up transaction:false`",
            Layout::Flyway => {
                "flyway: runs it outside a transaction by itself when every statement of the \
                 script needs it; keep such statements in a migration of their own"
            }
            Layout::SqlMigrate => "sql-migrate: write `-- +migrate Up notransaction`",
        }
    }

    /// True when the framework sends each migration file to PostgreSQL as one
    /// simple-query message without BEGIN/COMMIT (golang-migrate's postgres driver,
    /// prisma's schema engine). PostgreSQL then runs a multi-statement file in one
    /// implicit transaction, so statements that refuse transaction blocks fail there,
    /// while a file holding exactly one statement runs outside any transaction block.
    /// Migrations of these layouts have `in_transaction = true`; callers that know the
    /// statement count can relax it for single-statement scripts.
    pub fn implicit_transaction(self) -> bool {
        matches!(self, Layout::GolangMigrate | Layout::Prisma)
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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

    /// A script that is the whole file, minus a leading byte-order mark.
    pub fn whole_file(path: &Path, source: Arc<str>) -> Script {
        let start = if source.starts_with('\u{feff}') { 3 } else { 0 };
        Script {
            path: path.to_path_buf(),
            range: start..source.len(),
            source,
            whole_statements: Vec::new(),
        }
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
    /// An `exclude` pattern is not a valid glob.
    #[error("invalid exclude pattern {pattern:?}: {message}")]
    BadExclude { pattern: String, message: String },
}

impl SourceError {
    fn layout(path: &Path, message: impl Into<String>) -> Self {
        SourceError::Layout {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// What [`load`] found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The layout used: the one asked for, or the detected one.
    pub layout: Layout,
    /// Why this layout was chosen when it was detected (`None` when it was forced),
    /// e.g. "12 files with `-- +goose Up` markers".
    pub detected_from: Option<String>,
    /// All migrations in apply order (`Migration::order` is the index).
    pub migrations: Vec<Migration>,
    /// Things the user should know: files that match no convention and were ignored,
    /// directories without migrations, Go migrations that were not analysed, ….
    pub notes: Vec<String>,
}

/// Reads the migrations under `paths` (files or directories, directories are walked),
/// leaving out paths matched by an `exclude` glob (matched against the path as given,
/// the path inside the folder, and every directory above either). With `layout: None`
/// the layout is detected from file names and contents.
///
/// Errors: a missing path, an unreadable or non-UTF-8 file, a file the framework itself
/// would reject (unbalanced goose markers, duplicate versions, …), or no migration at all.
pub fn load(
    paths: &[PathBuf],
    layout: Option<Layout>,
    exclude: &[String],
) -> Result<Loaded, SourceError> {
    let mut inputs = Inputs::collect(paths, exclude)?;
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let (layout, detected_from) = match layout {
        Some(layout) => (layout, None),
        None => {
            let (layout, why) = detect::detect(&mut inputs)
                .map_err(|message| SourceError::layout(&first, no_migrations(&inputs, message)))?;
            (layout, Some(why))
        }
    };
    let mut migrations = match layout {
        Layout::Plain => plain::collect(&mut inputs)?,
        Layout::Diesel => diesel::collect(&mut inputs)?,
        Layout::Sqlx => sqlx::collect(&mut inputs)?,
        Layout::GolangMigrate => golang_migrate::collect(&mut inputs)?,
        Layout::Goose => goose::collect(&mut inputs)?,
        Layout::Dbmate => dbmate::collect(&mut inputs)?,
        Layout::Flyway => flyway::collect(&mut inputs)?,
        Layout::SqlMigrate => sql_migrate::collect(&mut inputs)?,
        Layout::Prisma => prisma::collect(&mut inputs)?,
    };
    if migrations.is_empty() {
        let message = format!("no {layout} migrations found");
        return Err(SourceError::layout(&first, no_migrations(&inputs, message)));
    }
    put_in_order(&mut migrations)?;
    for dir in &inputs.dirs {
        if !migrations.iter().any(|m| m.up.path.starts_with(dir)) {
            inputs.notes.push(format!(
                "{}: no {layout} migrations in this directory",
                dir.display()
            ));
        }
    }
    Ok(Loaded {
        layout,
        detected_from,
        migrations,
        notes: inputs.notes,
    })
}

/// Adds what was excluded or ignored to a "found nothing" message, so the user sees why.
fn no_migrations(inputs: &Inputs, message: String) -> String {
    let mut message = message;
    if inputs.entries.is_empty() && inputs.excluded == 0 {
        message.push_str(" (no files at all)");
    }
    if inputs.excluded > 0 {
        message.push_str(&format!(
            " ({} file(s) left out by exclude patterns)",
            inputs.excluded
        ));
    }
    if !inputs.notes.is_empty() {
        message.push_str(&format!("; {}", inputs.notes.join("; ")));
    }
    message
}

/// Sorts by version (numerically, group by group), repeatables last by name, rejects
/// duplicate versions, and numbers the result.
fn put_in_order(migrations: &mut [Migration]) -> Result<(), SourceError> {
    let key = |m: &Migration| {
        let repeatable = m.kind == MigrationKind::Repeatable;
        let version = if repeatable {
            VersionKey::parse("")
        } else {
            VersionKey::parse(&m.version)
        };
        (
            repeatable,
            version,
            if repeatable {
                m.name.clone()
            } else {
                String::new()
            },
        )
    };
    migrations.sort_by_cached_key(|m| (key(m), m.id.clone()));
    for pair in migrations.windows(2) {
        if key(&pair[0]) == key(&pair[1]) {
            let what = match pair[0].kind {
                MigrationKind::Versioned => format!("version {}", pair[1].version),
                MigrationKind::Repeatable => format!("repeatable name {:?}", pair[1].name),
            };
            return Err(SourceError::layout(
                &pair[1].up.path,
                format!(
                    "{what} is used twice: by {} and by {}",
                    pair[0].up.path.display(),
                    pair[1].up.path.display()
                ),
            ));
        }
    }
    for (order, migration) in migrations.iter_mut().enumerate() {
        migration.order = order;
    }
    Ok(())
}

/// A versioned migration made of whole files (every layout but the in-file-section ones).
fn file_migration(
    id: String,
    version: String,
    name: String,
    up: Script,
    down: Option<Script>,
    in_transaction: bool,
) -> Migration {
    Migration {
        id,
        version,
        name,
        order: 0,
        kind: MigrationKind::Versioned,
        up,
        down,
        in_transaction,
    }
}

/// Whether a file stem is a flyway migration name (`V1__x`, `U1__x`, `R__x`).
fn flyway_name(stem: &str) -> bool {
    flyway::is_migration_name(stem)
}

/// The file name without `suffix` (`.sql`, `.up.sql`), or `None` if it does not end so.
fn strip_suffix<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    name.strip_suffix(suffix).filter(|s| !s.is_empty())
}
