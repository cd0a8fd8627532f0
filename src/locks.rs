//! Lock facts: for each operation and PostgreSQL version, the lock taken on each table,
//! and whether the table is rewritten or scanned while that lock is held.
//!
//! The model is verified against a real server by `tests/lock_model.rs`.

use crate::catalog::Catalog;
use crate::ops::{ObjName, Op};
use serde::Serialize;
use std::fmt;

/// PostgreSQL's table-level lock modes, weakest first (the derive order is the strength order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LockMode {
    #[serde(rename = "ACCESS SHARE")]
    AccessShare,
    #[serde(rename = "ROW SHARE")]
    RowShare,
    #[serde(rename = "ROW EXCLUSIVE")]
    RowExclusive,
    #[serde(rename = "SHARE UPDATE EXCLUSIVE")]
    ShareUpdateExclusive,
    #[serde(rename = "SHARE")]
    Share,
    #[serde(rename = "SHARE ROW EXCLUSIVE")]
    ShareRowExclusive,
    #[serde(rename = "EXCLUSIVE")]
    Exclusive,
    #[serde(rename = "ACCESS EXCLUSIVE")]
    AccessExclusive,
}

impl LockMode {
    /// The name as PostgreSQL's documentation spells it (`ACCESS EXCLUSIVE`).
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// The name `pg_locks.mode` uses (`AccessExclusiveLock`).
    pub fn pg_locks_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// Parses either spelling (`ACCESS EXCLUSIVE`, `AccessExclusiveLock`), case-insensitively.
    pub fn parse(s: &str) -> Option<LockMode> {
        let norm: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        let norm = norm.strip_suffix("lock").unwrap_or(&norm);
        Some(match norm {
            "accessshare" => LockMode::AccessShare,
            "rowshare" => LockMode::RowShare,
            "rowexclusive" => LockMode::RowExclusive,
            "shareupdateexclusive" => LockMode::ShareUpdateExclusive,
            "share" => LockMode::Share,
            "sharerowexclusive" => LockMode::ShareRowExclusive,
            "exclusive" => LockMode::Exclusive,
            "accessexclusive" => LockMode::AccessExclusive,
            _ => return None,
        })
    }

    /// Blocks INSERT/UPDATE/DELETE (conflicts with ROW EXCLUSIVE).
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }

    /// Blocks plain SELECT (conflicts with ACCESS SHARE).
    pub fn blocks_reads(self) -> bool {
        self == LockMode::AccessExclusive
    }

    /// What the lock stops, in words: "reads and writes", "writes", or "other schema changes".
    pub fn blocks_what(self) -> &'static str {
        if self.blocks_reads() {
            "reads and writes"
        } else if self.blocks_writes() {
            "writes"
        } else if self >= LockMode::ShareUpdateExclusive {
            "schema changes and VACUUM"
        } else {
            "nothing an application does"
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lock one operation takes on one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockFact {
    pub table: ObjName,
    pub mode: LockMode,
    /// The table (and its indexes) is rewritten into new files while the lock is held.
    pub rewrite: bool,
    /// Every row is read while the lock is held (validation, index build).
    pub scan: bool,
}

/// Supported PostgreSQL major versions.
pub const PG_VERSIONS: std::ops::RangeInclusive<u32> = 11..=17;
pub const DEFAULT_PG_VERSION: u32 = 15;

/// The locks `op` takes, given the schema before it runs, on PostgreSQL `pg_version`.
/// Returns one fact per table touched (a foreign key locks both tables).
pub fn facts(op: &Op, catalog: &Catalog, pg_version: u32) -> Vec<LockFact> {
    let _ = (op, catalog, pg_version);
    Vec::new() // TODO(locks helper)
}
