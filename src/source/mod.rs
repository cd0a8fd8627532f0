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

mod alembic;
mod annotated;
mod atlas;
mod dbmate;
mod detect;
mod diesel;
mod discover;
mod dotted;
mod drizzle;
mod files;
mod flyway;
mod folder;
mod golang_migrate;
mod goose;
pub mod host;
mod js;
mod knex;
mod liquibase;
mod plain;
mod pop;
mod prisma;
mod python;
mod rails;
mod scan;
mod sqitch;
mod sql_migrate;
mod sqlx;
mod typeorm;
mod version;
mod versioned_dirs;

pub use discover::{Discovered, discover, is_migration_folder};
pub use rails::call_counts as rails_call_counts;
pub(crate) use rails::{add_rails_help, is_ruby_migration, safety_assured_blocks};

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
    /// gobuffalo/pop and ory/popx: `<version>_<name>[.<dialect>].up.sql`.
    Pop,
    /// `V0001.Name.up.sql` / `.down.sql` (dot-separated version and name, as authelia).
    Dotted,
    /// Versioned sub-folders (`versioned/v1.2/*.sql`, temporal's schema tool), with a
    /// `manifest.json` listing the order when there is one.
    VersionedDirs,
    /// drizzle-kit: `NNNN_name.sql` in the order of `meta/_journal.json`.
    Drizzle,
    /// Liquibase formatted SQL (`--liquibase formatted sql`, `--changeset author:id`).
    Liquibase,
    /// sqitch: `sqitch.plan` with `deploy/`, `revert/`, `verify/`.
    Sqitch,
    /// Atlas: `<version>_<name>.sql` next to `atlas.sum`.
    Atlas,
    /// Any other folder of `.sql` files, read in path order.
    Folder,
    /// Rails (ActiveRecord): `db/migrate/<version>_<name>.rb`.
    Rails,
    /// Alembic: `versions/*.py`, ordered by `revision` / `down_revision`.
    Alembic,
    /// TypeORM: `<timestamp>-<Name>.ts|js` classes with `up` / `down`.
    Typeorm,
    /// Knex: `migrations/<timestamp>_<name>.js|ts` with `exports.up` / `exports.down`.
    Knex,
}

impl Layout {
    /// Every layout, in the order `--layout` lists them.
    pub const ALL: [Layout; 21] = [
        Layout::Plain,
        Layout::Diesel,
        Layout::Sqlx,
        Layout::GolangMigrate,
        Layout::Goose,
        Layout::Dbmate,
        Layout::Flyway,
        Layout::SqlMigrate,
        Layout::Prisma,
        Layout::Pop,
        Layout::Dotted,
        Layout::VersionedDirs,
        Layout::Drizzle,
        Layout::Liquibase,
        Layout::Sqitch,
        Layout::Atlas,
        Layout::Folder,
        Layout::Rails,
        Layout::Alembic,
        Layout::Typeorm,
        Layout::Knex,
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
            Layout::Pop => "pop",
            Layout::Dotted => "dotted",
            Layout::VersionedDirs => "versioned-dirs",
            Layout::Drizzle => "drizzle",
            Layout::Liquibase => "liquibase",
            Layout::Sqitch => "sqitch",
            Layout::Atlas => "atlas",
            Layout::Folder => "folder",
            Layout::Rails => "rails",
            Layout::Alembic => "alembic",
            Layout::Typeorm => "typeorm",
            Layout::Knex => "knex",
        }
    }

    /// The layout whose file conventions `plan --write` uses for this one: the layouts
    /// added for reading real repositories are written as the closest simple layout.
    pub fn written_as(self) -> Layout {
        match self {
            Layout::Pop => Layout::GolangMigrate,
            Layout::Dotted
            | Layout::VersionedDirs
            | Layout::Drizzle
            | Layout::Liquibase
            | Layout::Sqitch
            | Layout::Folder => Layout::Plain,
            Layout::Atlas => Layout::Sqlx,
            // Until a front end writes its own framework's files, plans are SQL files.
            Layout::Rails | Layout::Alembic | Layout::Typeorm | Layout::Knex => Layout::Plain,
            other => other,
        }
    }

    /// How the framework orders its migrations.
    fn order(self) -> Order {
        match self {
            // diesel compares its version strings (`MigrationVersion` derives `Ord` on a
            // string), prisma sorts directory names, pop compares version strings, dbmate
            // keeps the version as a string and sorts by it.
            Layout::Diesel | Layout::Prisma | Layout::Pop | Layout::Dbmate => Order::Text,
            // integers (golang-migrate uint, goose int64, sqlx i64), flyway's dotted parts,
            // sql-migrate's numeric prefix, the dotted V0001 layout's integer.
            Layout::Plain
            | Layout::Sqlx
            | Layout::GolangMigrate
            | Layout::Goose
            | Layout::Flyway
            | Layout::SqlMigrate
            | Layout::Dotted => Order::Numeric,
            // The reader already put them in the framework's order (a plan, a journal,
            // a manifest, file names).
            Layout::VersionedDirs
            | Layout::Drizzle
            | Layout::Liquibase
            | Layout::Sqitch
            | Layout::Atlas
            | Layout::Folder
            // The front ends return migrations in the framework's order (version numbers,
            // dependency graphs, revision chains, timestamps).
            | Layout::Rails
            | Layout::Alembic
            | Layout::Typeorm
            | Layout::Knex => Order::Given,
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
            // Not read yet by `dry-run`: treated as keeping no history.
            Layout::Pop
            | Layout::Dotted
            | Layout::VersionedDirs
            | Layout::Drizzle
            | Layout::Liquibase
            | Layout::Sqitch
            | Layout::Atlas
            | Layout::Folder => None,
            Layout::Rails => Some("schema_migrations"),
            Layout::Alembic => Some("alembic_version"),
            Layout::Typeorm => Some("migrations"),
            Layout::Knex => Some("knex_migrations"),
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
            Layout::Pop => {
                "pop: runs every migration in a transaction; run the statement outside the \
                 migrator"
            }
            Layout::Dotted | Layout::VersionedDirs => {
                "run the statement outside the migrator, in a script of its own"
            }
            Layout::Drizzle => {
                "drizzle: runs all pending migrations in one transaction; run the statement \
                 outside drizzle-kit migrate"
            }
            Layout::Liquibase => "liquibase: add `runInTransaction:false` to the changeset",
            Layout::Sqitch | Layout::Folder => {
                "scripts run under psql in autocommit: leave the statement outside BEGIN/COMMIT"
            }
            Layout::Atlas => "atlas: add `-- atlas:txmode none` at the top of the file",
            Layout::Rails => "rails: add `disable_ddl_transaction!` to the migration class",
            Layout::Alembic => {
                "alembic: run the operation inside `with op.get_context().autocommit_block():`"
            }
            Layout::Typeorm => "typeorm: set `transaction = false` on the migration class",
            Layout::Knex => "knex: export `config = { transaction: false }` from the migration",
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

/// Layout detection for the host-language front ends, strongest evidence first.
type HostDetector = fn(&[files::Entry]) -> Option<String>;
const HOST_DETECTORS: &[(Layout, HostDetector)] = &[
    (Layout::Rails, rails::detect),
    (Layout::Alembic, alembic::detect),
    (Layout::Typeorm, typeorm::detect),
    (Layout::Knex, knex::detect),
];

/// Whether `dir` holds migrations of a host-language framework (for discovery).
pub(crate) fn is_host_folder(dir: &Path) -> bool {
    rails::is_folder(dir)
        || alembic::is_folder(dir)
        || typeorm::is_folder(dir)
        || knex::is_folder(dir)
}

/// How a framework orders migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Versions compared as numbers, group by group ([`VersionKey`]).
    Numeric,
    /// Versions compared as strings.
    Text,
    /// The reader returns them in apply order already.
    Given,
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
    /// For a migration written in a host language (Ruby, Python, TypeScript): its calls,
    /// read by the framework's front end. The parser then uses these instead of splitting
    /// `source` as SQL (see [`host`]).
    pub host: Option<Arc<[host::HostStatement]>>,
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
            host: None,
        }
    }

    /// A script of a host-language migration: the calls its front end read from `range`
    /// of the file (the `up` or `down` method body, or the whole file).
    pub fn host(
        path: &Path,
        source: Arc<str>,
        range: Range<usize>,
        calls: Vec<host::HostStatement>,
    ) -> Script {
        Script {
            path: path.to_path_buf(),
            source,
            range,
            whole_statements: Vec::new(),
            host: Some(calls.into()),
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
    /// Things the user may want to know: files that match no convention and were
    /// ignored (the framework would not run them either), directories without migrations.
    pub notes: Vec<String>,
    /// Things the user must be told even without `--verbose`: an assumed layout, two
    /// migrations sharing a version (`duplicate-version`), files that could not be read
    /// as the framework would (non-UTF-8 names, FIFOs, symbolic-link loops, fizz files),
    /// two layouts in one folder.
    pub warnings: Vec<String>,
}

/// Reads the migrations under `paths` (files or directories, directories are walked),
/// leaving out paths matched by an `exclude` glob (matched against the path as given,
/// the path inside the folder, and every directory above either). With `layout: None`
/// the layout is detected from file names and contents; a folder that matches no known
/// layout is read as `.sql` files in path order, with a warning saying so.
///
/// Files named on the command line are always read, whatever their names: one
/// migration each (or the framework's sections of it), in the order given.
///
/// Errors: a missing or unreadable path, a non-UTF-8 file, a file the framework itself
/// would reject (unbalanced goose markers, …), or no `.sql` file at all.
pub fn load(
    paths: &[PathBuf],
    layout: Option<Layout>,
    exclude: &[String],
) -> Result<Loaded, SourceError> {
    let mut inputs = Inputs::collect(paths, exclude)?;
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    if inputs.dirs.is_empty() && !inputs.entries.is_empty() {
        return load_files(inputs, layout);
    }
    let (layout, detected_from) = match layout {
        Some(layout) => (layout, None),
        None => match detect::detect(&mut inputs) {
            Ok((layout, why)) => (layout, Some(why)),
            Err(message)
                if !inputs
                    .entries
                    .iter()
                    .any(|e| e.file_name().ends_with(".sql")) =>
            {
                // Nothing that could be a migration at all: say so (exit 2).
                return Err(SourceError::layout(&first, no_migrations(&inputs, message)));
            }
            Err(message) => {
                inputs.warn(format!(
                    "{}: {message}; read as a folder of .sql files in path order \
                     (layout `folder`); name the framework with --layout <{}>",
                    first.display(),
                    layout_names()
                ));
                (
                    Layout::Folder,
                    Some("no known layout: .sql files in path order".to_string()),
                )
            }
        },
    };
    let mut migrations = collect(layout, &mut inputs)?;
    // A folder whose migrations were all found but none could be read as SQL (pop's fizz
    // files) is reported through its warnings, not refused.
    if migrations.is_empty() && inputs.warnings.is_empty() {
        let message = format!("no {layout} migrations found");
        return Err(SourceError::layout(&first, no_migrations(&inputs, message)));
    }
    put_in_order(&mut migrations, layout.order(), &mut inputs.warnings);
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
        warnings: inputs.warnings,
    })
}

/// Reads SQL given as text (stdin) as one migration named `path`, read as `layout`
/// (goose sections, dbmate markers, …) or as the layout its contents show.
pub fn load_text(path: &Path, text: &str, layout: Option<Layout>) -> Result<Loaded, SourceError> {
    load_files(Inputs::from_text(path, text), layout)
}

/// Every layout name, for messages (`plain|diesel|…`).
pub fn layout_names() -> String {
    Layout::ALL
        .iter()
        .map(|l| l.name())
        .collect::<Vec<_>>()
        .join("|")
}

fn collect(layout: Layout, inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    match layout {
        Layout::Plain => plain::collect(inputs),
        Layout::Diesel => diesel::collect(inputs),
        Layout::Sqlx => sqlx::collect(inputs),
        Layout::GolangMigrate => golang_migrate::collect(inputs),
        Layout::Goose => goose::collect(inputs),
        Layout::Dbmate => dbmate::collect(inputs),
        Layout::Flyway => flyway::collect(inputs),
        Layout::SqlMigrate => sql_migrate::collect(inputs),
        Layout::Prisma => prisma::collect(inputs),
        Layout::Pop => pop::collect(inputs),
        Layout::Dotted => dotted::collect(inputs),
        Layout::VersionedDirs => versioned_dirs::collect(inputs),
        Layout::Drizzle => drizzle::collect(inputs),
        Layout::Liquibase => liquibase::collect(inputs),
        Layout::Sqitch => sqitch::collect(inputs),
        Layout::Atlas => atlas::collect(inputs),
        Layout::Folder => folder::collect(inputs),
        Layout::Rails => rails::collect(inputs),
        Layout::Alembic => alembic::collect(inputs),
        Layout::Typeorm => typeorm::collect(inputs),
        Layout::Knex => knex::collect(inputs),
    }
}

/// Files named on the command line: each is linted, in the order given. The layout
/// (forced or detected from the files) decides how a file is read (goose sections,
/// sqlx's `-- no-transaction`, …); a file whose name that layout would not accept is
/// still read, as a whole file run by psql.
fn load_files(mut inputs: Inputs, layout: Option<Layout>) -> Result<Loaded, SourceError> {
    let (layout, detected_from) = match layout {
        Some(layout) => (layout, None),
        None => match detect::detect(&mut inputs) {
            Ok((layout, why)) => (layout, Some(why)),
            Err(_) => (
                Layout::Folder,
                Some("files named on the command line, read in the order given".to_string()),
            ),
        },
    };
    let entries = std::mem::take(&mut inputs.entries);
    let mut migrations = Vec::new();
    for entry in entries {
        let notes_before = inputs.notes.len();
        inputs.entries = vec![entry.clone()];
        let found = collect(layout, &mut inputs)?;
        if found.is_empty() {
            // The layout would skip it by name; the user named it, so it is linted.
            inputs.notes.truncate(notes_before);
            let text = inputs.text(&entry.path)?;
            let stem = entry
                .file_name()
                .strip_suffix(".sql")
                .unwrap_or(entry.file_name())
                .to_string();
            if let Some(m) = sections_migration(layout, &entry.path, &text, &stem)? {
                migrations.push(m);
                continue;
            }
            migrations.push(file_migration(
                stem.clone(),
                String::new(),
                stem,
                Script::whole_file(&entry.path, text),
                None,
                !matches!(layout, Layout::Plain | Layout::Folder | Layout::Sqitch),
            ));
        } else {
            migrations.extend(found);
        }
    }
    inputs.entries.clear();
    for (order, migration) in migrations.iter_mut().enumerate() {
        migration.order = order;
    }
    Ok(Loaded {
        layout,
        detected_from,
        migrations,
        notes: inputs.notes,
        warnings: inputs.warnings,
    })
}

/// A file whose name the layout would not take, read with the layout's in-file section
/// markers (goose, dbmate, sql-migrate) when it has them.
fn sections_migration(
    layout: Layout,
    path: &Path,
    text: &Arc<str>,
    stem: &str,
) -> Result<Option<Migration>, SourceError> {
    let (marker, classify): (&str, fn(&str) -> Option<annotated::Directive>) = match layout {
        Layout::Goose => ("goose", goose::directive),
        Layout::Dbmate => ("dbmate", dbmate::directive),
        Layout::SqlMigrate => ("sql-migrate", sql_migrate::directive),
        _ => return Ok(None),
    };
    let sections =
        annotated::split(text, marker, classify).map_err(|message| SourceError::Layout {
            path: path.to_path_buf(),
            message,
        })?;
    let in_transaction = if layout == Layout::Goose {
        !sections.no_transaction
    } else {
        !sections.up.as_ref().is_some_and(|s| s.no_transaction)
    };
    Ok(annotated::migration(
        path,
        text.clone(),
        &sections,
        stem.to_string(),
        String::new(),
        stem.to_string(),
        in_transaction,
    ))
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
    let said: Vec<&String> = inputs.warnings.iter().chain(&inputs.notes).collect();
    if !said.is_empty() {
        let said: Vec<&str> = said.iter().map(|s| s.as_str()).collect();
        message.push_str(&format!("; {}", said.join("; ")));
    }
    message
}

/// Sorts as the framework does (repeatables last by name), numbers the result, and warns
/// about two migrations sharing a version (`duplicate-version`): their runners order them
/// by full file name, and so do we, so the rest of the folder is still linted.
fn put_in_order(migrations: &mut [Migration], order: Order, warnings: &mut Vec<String>) {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Numeric(VersionKey),
        Text(String),
    }
    let key = |m: &Migration| {
        let repeatable = m.kind == MigrationKind::Repeatable;
        let version = match (repeatable, order) {
            (true, _) => Key::Text(String::new()),
            (false, Order::Text) => Key::Text(m.version.clone()),
            (false, _) => Key::Numeric(VersionKey::parse(&m.version)),
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
    if order != Order::Given {
        migrations.sort_by_cached_key(|m| (key(m), m.id.clone()));
        for pair in migrations.windows(2) {
            if key(&pair[0]) == key(&pair[1]) {
                let what = match pair[0].kind {
                    MigrationKind::Versioned => format!("version {}", pair[1].version),
                    MigrationKind::Repeatable => format!("repeatable name {:?}", pair[1].name),
                };
                warnings.push(format!(
                    "{}: duplicate-version: {what} is used twice: by {} and by {}; \
                     both are linted, ordered by file name",
                    pair[1].up.path.display(),
                    pair[0].up.path.display(),
                    pair[1].up.path.display()
                ));
            }
        }
    }
    for (order, migration) in migrations.iter_mut().enumerate() {
        migration.order = order;
    }
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
