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
    /// Which rules run on down scripts (`down_scripts:` in lockstep.yaml).
    pub down_scripts: DownScripts,
    /// The server's `TimeZone` setting (`server_timezone:` in lockstep.yaml), which a
    /// migration's session starts with; `None` when unknown.
    pub server_timezone: Option<String>,
    /// The migration runner, as `--layout` names it (`sqlx`, `flyway`, …), when known:
    /// findings about the transaction it wraps a migration in name it.
    pub runner: Option<String>,
}

/// Which rules run on down scripts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DownScripts {
    /// Only the rollback rules (down-does-not-restore, irreversible-change, empty-down) and
    /// concurrently-in-transaction: a down script runs rarely, on a schema the up just made.
    #[default]
    Rollback,
    /// Every rule, as for up scripts.
    Full,
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
            // A lock hazard on a table of unknown size keeps its rule's severity: it must not
            // rank below a down-script or history finding (README, "Severity policy").
            unknown_table_severity: Severity::Error,
            single_statement_autocommit: false,
            down_scripts: DownScripts::Rollback,
            server_timezone: None,
            runner: None,
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

/// The allowed range of every numeric setting, checked where a value enters (lockstep.yaml
/// at load, command-line flags at parse), so no value reaches generated SQL, a sleep or a
/// division that would be invalid, endless or overflow.
pub mod limits {
    use std::time::Duration;

    /// Largest `lockstep.yaml` read (bigger files are refused before parsing).
    pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
    /// Most `exclude` patterns.
    pub const MAX_EXCLUDE_PATTERNS: usize = 1000;
    /// Longest `exclude` pattern, in bytes.
    pub const MAX_PATTERN_LEN: usize = 1024;

    /// What a bounded number counts.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Unit {
        /// A plain count (rows, batches).
        Count,
        /// Bytes (or bytes per second).
        Bytes,
        /// A duration in milliseconds.
        Millis,
    }

    /// An inclusive range for one setting.
    #[derive(Debug, Clone, Copy)]
    pub struct Bound {
        /// The setting, as the user writes it (`backfill.batch_size`, `--lock-timeout`).
        pub name: &'static str,
        pub min: u64,
        pub max: u64,
        pub unit: Unit,
        /// Why the lower end is what it is (shown when a value is below it).
        pub why_min: &'static str,
    }

    const HOUR_MS: u64 = 3_600_000;
    /// PostgreSQL's limit for timeouts (an `int` of milliseconds).
    const PG_INT_MAX: u64 = i32::MAX as u64;
    /// PostgreSQL's `bigint`: row counts and sizes beyond it cannot be real.
    const PG_BIGINT_MAX: u64 = i64::MAX as u64;

    /// Rows per backfill batch (the procedure stores it in an `integer`).
    pub const BATCH_SIZE: Bound = Bound {
        name: "batch_size",
        min: 1,
        max: 10_000_000,
        unit: Unit::Count,
        why_min: "a batch of 0 rows never finishes",
    };
    /// Adaptive batch target (0 keeps the batch size fixed).
    pub const TARGET_BATCH_TIME: Bound = Bound {
        name: "target_batch_time",
        min: 0,
        max: HOUR_MS,
        unit: Unit::Millis,
        why_min: "",
    };
    /// Pause between backfill batches.
    pub const SLEEP: Bound = Bound {
        name: "sleep",
        min: 0,
        max: HOUR_MS,
        unit: Unit::Millis,
        why_min: "",
    };
    /// Replica lag above which the backfill waits (0 never waits).
    pub const MAX_REPLICA_LAG: Bound = Bound {
        name: "max_replica_lag",
        min: 0,
        max: 24 * HOUR_MS,
        unit: Unit::Millis,
        why_min: "",
    };
    /// `backfill run --max-batches`.
    pub const MAX_BATCHES: Bound = Bound {
        name: "max_batches",
        min: 1,
        max: PG_BIGINT_MAX,
        unit: Unit::Count,
        why_min: "0 batches would do nothing",
    };
    /// Rewrite/scan throughput for estimates, bytes per second.
    pub const THROUGHPUT: Bound = Bound {
        name: "throughput",
        min: 1024,
        max: 1 << 50,
        unit: Unit::Bytes,
        why_min: "estimates divide by it",
    };
    /// Table size hints and the large-table threshold, in rows.
    pub const ROWS: Bound = Bound {
        name: "rows",
        min: 0,
        max: PG_BIGINT_MAX,
        unit: Unit::Count,
        why_min: "",
    };
    /// Table size hints and the large-table threshold, in bytes.
    pub const BYTES: Bound = Bound {
        name: "bytes",
        min: 0,
        max: PG_BIGINT_MAX,
        unit: Unit::Bytes,
        why_min: "",
    };
    /// `lock_timeout` written into plans and used by the trace (0 would disable it).
    pub const LOCK_TIMEOUT: Bound = Bound {
        name: "lock_timeout",
        min: 1,
        max: HOUR_MS,
        unit: Unit::Millis,
        why_min: "0 disables lock_timeout, so a blocked lock would queue every writer behind it",
    };
    /// `statement_timeout` for the live inspection and the trace.
    pub const STATEMENT_TIMEOUT: Bound = Bound {
        name: "statement_timeout",
        min: 1,
        max: PG_INT_MAX,
        unit: Unit::Millis,
        why_min: "0 disables statement_timeout",
    };
    /// The trace's block budget.
    pub const BLOCK_BUDGET: Bound = Bound {
        name: "block_budget",
        min: 1,
        max: PG_INT_MAX,
        unit: Unit::Millis,
        why_min: "0 would disable the timeout that enforces it",
    };

    fn show(v: u64, unit: Unit) -> String {
        match unit {
            Unit::Count => v.to_string(),
            Unit::Bytes => format!("{v} bytes"),
            Unit::Millis => format!("{v}ms"),
        }
    }

    impl Bound {
        /// "between 1 and 10000000"
        pub fn range(&self) -> String {
            format!(
                "{} to {}",
                show(self.min, self.unit),
                show(self.max, self.unit)
            )
        }

        /// The same bound under the name a flag gives it.
        pub const fn named(self, name: &'static str) -> Bound {
            Bound { name, ..self }
        }

        /// `v` when inside the range, else a message naming the setting and the range.
        pub fn check(&self, v: u64) -> Result<u64, String> {
            if v < self.min {
                let why = if self.why_min.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.why_min)
                };
                return Err(format!(
                    "{} is {}, below the minimum{why}; allowed: {}",
                    self.name,
                    show(v, self.unit),
                    self.range()
                ));
            }
            if v > self.max {
                return Err(format!(
                    "{} is {}, above the maximum; allowed: {}",
                    self.name,
                    show(v, self.unit),
                    self.range()
                ));
            }
            Ok(v)
        }

        /// Like [`Bound::check`] for a signed or unbounded number as written.
        pub fn check_i128(&self, v: i128) -> Result<u64, String> {
            if v < 0 {
                return Err(format!(
                    "{} is {v}, but it cannot be negative; allowed: {}",
                    self.name,
                    self.range()
                ));
            }
            match u64::try_from(v) {
                Ok(v) => self.check(v),
                Err(_) => Err(format!(
                    "{} is {v}, above the maximum; allowed: {}",
                    self.name,
                    self.range()
                )),
            }
        }

        /// A duration, checked in milliseconds. A non-zero duration below 1ms counts as 1ms
        /// rather than as 0 (which may mean "off").
        pub fn check_duration(&self, d: Duration) -> Result<Duration, String> {
            let ms = d.as_millis();
            let ms = if ms == 0 && !d.is_zero() { 1 } else { ms };
            let ms = u64::try_from(ms).unwrap_or(u64::MAX);
            self.check(ms).map(|_| d.max(Duration::from_millis(ms)))
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
