//! Finding the migration folders under a repository root (`lockstep lint .`).
//!
//! A folder counts when its own entries show a migration layout: a tool's index file
//! (`sqitch.plan`, `atlas.sum`, `migration_lock.toml`, `meta/_journal.json`, a Liquibase
//! `*changelog*.yaml|xml|json`), migration
//! directories (`*/up.sql`, `*/migration.sql`), versioned sub-folders, or `.sql` files
//! whose names start with a version (`001_x.sql`, `V1__x.sql`, `V0001.x.up.sql`). The walk
//! does not descend into a folder it found, nor into vendored, build or hidden
//! directories, nor into folders named after another database (`mysql/`, `sqlite/`):
//! their migrations do not run on PostgreSQL.

use super::version::leading_digits;
use std::path::{Path, PathBuf};

/// Directories never searched: vendored code, build output, test fixtures.
const SKIPPED: &[&str] = &[
    "vendor",
    "node_modules",
    "target",
    "build",
    "dist",
    "out",
    "third_party",
    "bower_components",
    "__pycache__",
    "testdata",
    "fixtures",
];

/// Folder names of other databases' migration variants.
const OTHER_DIALECTS: &[&str] = &[
    "mysql",
    "mariadb",
    "sqlite",
    "sqlite3",
    "mssql",
    "sqlserver",
    "clickhouse",
    "oracle",
    "cockroach",
    "cockroachdb",
    "crdb",
    "cassandra",
    "cql",
    "spanner",
    "tidb",
    "duckdb",
];

/// What [`discover`] found under a root.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    /// The migration folders, in path order.
    pub folders: Vec<PathBuf>,
    /// Folders left out on purpose (another database's variant), for the user.
    pub skipped: Vec<PathBuf>,
}

/// Whether `dir` itself is a migration folder (see the module docs).
pub fn is_migration_folder(dir: &Path) -> bool {
    if super::is_host_folder(dir) {
        return true;
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        return false;
    };
    for item in read.flatten() {
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = item.path();
        if path.is_dir() {
            if ["up.sql", "migration.sql"]
                .iter()
                .any(|f| path.join(f).is_file())
                || (name == "meta" && path.join("_journal.json").is_file())
            {
                return true;
            }
            if (name == "versioned" || is_version_folder(name)) && has_sql(&path) {
                return true;
            }
            continue;
        }
        if matches!(name, "sqitch.plan" | "atlas.sum" | "migration_lock.toml") {
            return true;
        }
        // A Liquibase master changelog: its includes may live in sub-folders.
        let lower = name.to_ascii_lowercase();
        if lower.contains("changelog")
            && [".xml", ".yaml", ".yml", ".json"]
                .iter()
                .any(|x| lower.ends_with(x))
        {
            return true;
        }
        if name.ends_with(".sql") {
            let bare = name.strip_prefix(['V', 'v']).unwrap_or(name);
            if leading_digits(bare).is_some() {
                return true;
            }
        }
    }
    false
}

fn is_version_folder(name: &str) -> bool {
    let Some(v) = name.strip_prefix('v') else {
        return false;
    };
    !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn has_sql(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .max_depth(2)
        .into_iter()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".sql"))
}

/// The migration folders under `root` (not following symbolic links, so a loop cannot
/// trap the walk). `root` itself is returned when it is one.
pub fn discover(root: &Path) -> Discovered {
    let mut found = Discovered::default();
    if is_migration_folder(root) {
        found.folders.push(root.to_path_buf());
        return found;
    }
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(12)
        .sort_by_file_name()
        .into_iter();
    while let Some(item) = walker.next() {
        let Ok(item) = item else { continue };
        if item.depth() == 0 || !item.file_type().is_dir() {
            continue;
        }
        let name = item.file_name().to_string_lossy();
        if name.starts_with('.') || SKIPPED.contains(&name.as_ref()) {
            walker.skip_current_dir();
            continue;
        }
        if OTHER_DIALECTS.contains(&name.to_ascii_lowercase().as_str()) {
            if is_migration_folder(item.path()) {
                found.skipped.push(item.path().to_path_buf());
            }
            walker.skip_current_dir();
            continue;
        }
        if is_migration_folder(item.path()) {
            found.folders.push(item.path().to_path_buf());
            walker.skip_current_dir();
        }
    }
    found
}
