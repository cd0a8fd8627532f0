//! Settings the analysis runs with: the merge of defaults, `lockstep.yaml` and CLI flags.

use crate::ops::ObjName;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" | "note" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" | "deny" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A per-rule setting: a severity, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RuleLevel {
    Off,
    On(Severity),
}

/// Known size of a table (from config hints or a live database).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TableSize {
    /// Estimated rows; `None` when unknown (e.g. never analysed).
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

/// When a table counts as large.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LargeTable {
    pub rows: u64,
    pub bytes: u64,
}

impl Default for LargeTable {
    fn default() -> Self {
        LargeTable {
            rows: 1_000_000,
            bytes: 1 << 30,
        }
    }
}

/// Everything the analysis needs to know besides the migrations themselves.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub pg_version: u32,
    /// The migration runner sets a lock_timeout itself (missing-lock-timeout stays quiet).
    pub assume_lock_timeout: bool,
    /// Per-rule overrides, by rule id.
    pub rules: BTreeMap<String, RuleLevel>,
    /// Known table sizes, keyed by qualified name.
    pub tables: BTreeMap<ObjName, TableSize>,
    pub large_table: LargeTable,
    /// Severity of a size-aware finding on a table known to be below `large_table`.
    pub small_table_severity: Severity,
    /// Severity of a size-aware finding on a table of unknown size.
    pub unknown_table_severity: Severity,
    /// The framework sends each file as one simple query without BEGIN (golang-migrate,
    /// prisma): a file of exactly one statement then runs outside any transaction block.
    pub single_statement_autocommit: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pg_version: crate::locks::DEFAULT_PG_VERSION,
            assume_lock_timeout: false,
            rules: BTreeMap::new(),
            tables: BTreeMap::new(),
            large_table: LargeTable::default(),
            small_table_severity: Severity::Warning,
            unknown_table_severity: Severity::Warning,
            single_statement_autocommit: false,
        }
    }
}

/// How big a table is, relative to the `large_table` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeClass {
    Unknown,
    Small,
    Large,
}

impl Settings {
    pub fn size(&self, table: &ObjName) -> Option<TableSize> {
        self.tables.get(table).copied()
    }

    pub fn size_class(&self, table: &ObjName) -> SizeClass {
        match self.size(table) {
            None => SizeClass::Unknown,
            Some(s) if s.rows.is_none() && s.bytes.is_none() => SizeClass::Unknown,
            Some(s) => {
                let big = s.rows.is_some_and(|r| r >= self.large_table.rows)
                    || s.bytes.is_some_and(|b| b >= self.large_table.bytes);
                if big {
                    SizeClass::Large
                } else {
                    SizeClass::Small
                }
            }
        }
    }

    /// "users (48 M rows, 31 GB)" or "users (size unknown)".
    pub fn describe_table(&self, table: &ObjName) -> String {
        match self.size(table) {
            Some(s) if s.rows.is_some() || s.bytes.is_some() => {
                let mut parts = Vec::new();
                if let Some(r) = s.rows {
                    parts.push(format!("{} rows", human_count(r)));
                }
                if let Some(b) = s.bytes {
                    parts.push(human_bytes(b));
                }
                format!("\"{}\" ({})", table, parts.join(", "))
            }
            _ => format!("\"{table}\" (size unknown)"),
        }
    }
}

/// 48000000 → "48 M", 1500 → "1.5 k", 12 → "12".
pub fn human_count(n: u64) -> String {
    let f = n as f64;
    let (v, unit) = if n >= 1_000_000_000 {
        (f / 1e9, " G")
    } else if n >= 1_000_000 {
        (f / 1e6, " M")
    } else if n >= 10_000 {
        (f / 1e3, " k")
    } else {
        return n.to_string();
    };
    if v >= 10.0 {
        format!("{v:.0}{unit}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// Bytes in binary units: "31 GB", "512 MB", "8.0 kB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} bytes")
    } else if v >= 10.0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_count(48_000_000), "48 M");
        assert_eq!(human_count(1_500_000), "1.5 M");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_bytes(33_285_996_544), "31 GB");
        assert_eq!(human_bytes(100), "100 bytes");
    }

    #[test]
    fn size_classes() {
        let mut s = Settings::default();
        let users = ObjName::public("users");
        assert_eq!(s.size_class(&users), SizeClass::Unknown);
        s.tables.insert(
            users.clone(),
            TableSize {
                rows: Some(50_000_000),
                bytes: None,
            },
        );
        assert_eq!(s.size_class(&users), SizeClass::Large);
        assert_eq!(s.describe_table(&users), "\"users\" (50 M rows)");
        s.tables.insert(
            users.clone(),
            TableSize {
                rows: Some(10),
                bytes: None,
            },
        );
        assert_eq!(s.size_class(&users), SizeClass::Small);
    }
}
