//! Lock facts: for each operation and PostgreSQL version, the lock taken on each table,
//! and whether the table is rewritten or scanned while that lock is held.
//!
//! The model is verified against a real server by `tests/lock_model.rs`.

use crate::catalog::Catalog;
use crate::ops::{ConstraintKind, ObjName, Op, SqlType};
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

/// The lock `DETACH PARTITION … FINALIZE` takes on the partition.
const FINALIZE_PARTITION_LOCK: LockMode = LockMode::AccessExclusive;

/// Supported PostgreSQL major versions.
pub const PG_VERSIONS: std::ops::RangeInclusive<u32> = 11..=17;
/// The version assumed when the user does not say.
pub const DEFAULT_PG_VERSION: u32 = 15;

/// What the model may assume about the server and the session running the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    /// PostgreSQL major version (11–17 are modelled; others are treated as the nearest).
    pub pg_version: u32,
    /// The session's `TimeZone` is UTC. Only then is `timestamp` ↔ `timestamptz` a
    /// metadata-only change (PG 12+). Unknown for a migration, so `false` by default.
    pub session_time_zone_utc: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            pg_version: DEFAULT_PG_VERSION,
            session_time_zone_utc: false,
        }
    }
}

impl ModelOptions {
    /// Options for `pg_version` with every other assumption at its safe default.
    pub fn for_version(pg_version: u32) -> Self {
        ModelOptions {
            pg_version,
            ..Default::default()
        }
    }
}

/// The lock facts of one operation plus caveats worth telling the user (assumptions the
/// model had to make, version-dependent behaviour).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockAnalysis {
    /// One fact per table touched, strongest lock first is not guaranteed; order is the
    /// order in which the tables are met (the operation's own table first).
    pub facts: Vec<LockFact>,
    /// Human-readable caveats, e.g. "the old type of users.name is unknown: assumed rewrite".
    pub notes: Vec<String>,
}

impl LockAnalysis {
    /// Records a lock; several locks on one table merge into the strongest one.
    fn lock(&mut self, table: &ObjName, mode: LockMode, rewrite: bool, scan: bool) {
        if let Some(f) = self.facts.iter_mut().find(|f| &f.table == table) {
            f.mode = f.mode.max(mode);
            f.rewrite |= rewrite;
            f.scan |= scan || rewrite;
        } else {
            self.facts.push(LockFact {
                table: table.clone(),
                mode,
                rewrite,
                // Rewriting reads every row.
                scan: scan || rewrite,
            });
        }
    }

    fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }
}

/// The locks `op` takes, given the schema before it runs, on PostgreSQL `pg_version`.
/// Returns one fact per table touched (a foreign key locks both tables).
///
/// Indexes are reported through their table, with the strongest of the table's and the
/// index's lock: an ACCESS EXCLUSIVE lock on an index blocks every query that plans
/// against the table, because the planner locks all of a table's indexes.
pub fn facts(op: &Op, catalog: &Catalog, pg_version: u32) -> Vec<LockFact> {
    analyze(op, catalog, &ModelOptions::for_version(pg_version)).facts
}

/// [`facts`] with explicit assumptions, plus the caveats behind them.
pub fn analyze(op: &Op, catalog: &Catalog, opts: &ModelOptions) -> LockAnalysis {
    use LockMode::*;
    let v = opts.pg_version;
    let mut a = LockAnalysis::default();
    match op {
        // ---- tables
        Op::CreateTable {
            table,
            columns,
            constraints,
            partition_of,
            as_select,
            ..
        } => {
            if let Some(parent) = partition_of {
                // PARTITION OF changes the parent's partition descriptor.
                a.lock(parent, AccessExclusive, false, false);
                a.note(format!(
                    "if {parent} has a DEFAULT partition, it is locked and scanned too"
                ));
            }
            // Foreign keys add triggers on the referenced table; a new table is empty, so
            // nothing is validated.
            let all = columns
                .iter()
                .flat_map(|c| c.constraints.iter())
                .chain(constraints.iter());
            for c in all {
                if let ConstraintKind::ForeignKey(fk) = &c.kind
                    && &fk.ref_table != table
                {
                    a.lock(&fk.ref_table, ShareRowExclusive, false, false);
                }
            }
            if *as_select {
                a.note("CREATE TABLE … AS reads its source tables in full under ACCESS SHARE");
            }
        }
        Op::DropTable { table, cascade, .. } => {
            a.lock(table, AccessExclusive, false, false);
            if let Some(t) = catalog.table(table) {
                // Dropping the table drops its foreign keys, and with them the triggers on
                // the referenced tables.
                for (_, fk) in t.foreign_keys() {
                    if &fk.ref_table != table {
                        a.lock(&fk.ref_table, AccessExclusive, false, false);
                    }
                }
                if let Some(parent) = &t.partition_of {
                    a.lock(parent, AccessExclusive, false, false);
                }
            }
            if *cascade {
                for (referencing, _) in catalog.referenced_by(table) {
                    a.lock(&referencing, AccessExclusive, false, false);
                }
            }
        }
        // ALTER TABLE … RENAME also renames an index, under ACCESS EXCLUSIVE (ALTER INDEX
        // … RENAME takes less); the index counts for its table.
        Op::RenameTable { table, .. } | Op::SetSchema { table, .. } => {
            let target = catalog.index_table(table).unwrap_or(table);
            a.lock(target, AccessExclusive, false, false);
        }
        Op::SetLogged { table, .. } => a.lock(table, AccessExclusive, true, true),
        Op::AlterTableOther { table, what } => {
            let (mode, rewrite) = alter_table_other(what, v);
            a.lock(table, mode, rewrite, rewrite);
        }

        // ---- columns
        Op::AddColumn { table, column, .. } => {
            let default = column.default.as_ref().filter(|d| !is_null_literal(&d.sql));
            // A function the history created is as volatile as it was declared (VOLATILE
            // when nothing was written, PostgreSQL's default).
            let history_volatile = default.and_then(|d| {
                called_functions(&d.sql).into_iter().find(|f| {
                    matches!(
                        catalog.function_volatility(f),
                        Some(None | Some(crate::ops::Volatility::Volatile))
                    )
                })
            });
            let volatile = default.is_some_and(|d| d.volatile) || history_volatile.is_some();
            if let Some(f) = &history_volatile {
                a.note(format!(
                    "{f}() is VOLATILE (created without IMMUTABLE or STABLE): every row gets its own value"
                ));
            }
            let rewrite = volatile
                || column.serial
                || column.generated.is_some()
                // Before PG 11 every non-null default was written into every row.
                || (v < 11 && default.is_some());
            // NOT NULL without a default must check every row (and fails on a non-empty table).
            let not_null = column.not_null
                || column
                    .constraints
                    .iter()
                    .any(|c| matches!(c.kind, ConstraintKind::NotNull { .. }));
            let mut scan = not_null && default.is_none();
            let mut references = Vec::new();
            for c in &column.constraints {
                match &c.kind {
                    // Checked against every row even when the new column is all NULL.
                    ConstraintKind::Check { .. } => scan |= !c.not_valid,
                    // Builds an index.
                    ConstraintKind::PrimaryKey { .. }
                    | ConstraintKind::Unique { .. }
                    | ConstraintKind::Exclusion => scan = true,
                    ConstraintKind::ForeignKey(fk) => {
                        // Only a non-null default gives the new column values to validate.
                        let validates = default.is_some() && !c.not_valid;
                        scan |= validates;
                        if &fk.ref_table != table {
                            references.push((&fk.ref_table, validates));
                        }
                    }
                    ConstraintKind::NotNull { .. } => {}
                }
            }
            a.lock(table, AccessExclusive, rewrite, scan);
            for (ref_table, validates) in references {
                a.lock(ref_table, ShareRowExclusive, false, validates);
            }
            if volatile {
                a.note(format!(
                    "the default `{}` is volatile: every existing row gets its own value, so the table is rewritten",
                    default.map(|d| d.sql.as_str()).unwrap_or_default()
                ));
            }
        }
        Op::DropColumn {
            table,
            column,
            cascade,
            ..
        } => {
            a.lock(table, AccessExclusive, false, false);
            if let Some(t) = catalog.table(table) {
                // A foreign key on the column goes with it, and so do its triggers on the
                // referenced table.
                for (_, fk) in t.foreign_keys() {
                    if fk.columns.contains(column) && &fk.ref_table != table {
                        a.lock(&fk.ref_table, AccessExclusive, false, false);
                    }
                }
            }
            if *cascade {
                for (referencing, fk) in referencing_fks(catalog, table) {
                    if fk.ref_columns.contains(column) {
                        a.lock(&referencing, AccessExclusive, false, false);
                    }
                }
            }
        }
        Op::RenameColumn { table, .. }
        | Op::DropNotNull { table, .. }
        | Op::SetDefault { table, .. }
        | Op::DropDefault { table, .. }
        | Op::AddIdentity { table, .. }
        | Op::DropIdentity { table, .. } => a.lock(table, AccessExclusive, false, false),
        Op::AlterColumnType {
            table,
            column,
            ty,
            using,
            collate,
        } => alter_column_type(
            &mut a,
            catalog,
            opts,
            table,
            column,
            ty,
            using.as_deref(),
            collate.is_some(),
        ),
        Op::SetNotNull { table, column } => {
            let scan = set_not_null_scans(catalog, table, column, v);
            a.lock(table, AccessExclusive, false, scan);
        }
        Op::AlterColumnOther { table, what, .. } => {
            let (mode, rewrite) = alter_column_other(what, v);
            a.lock(table, mode, rewrite, rewrite);
        }

        // ---- constraints
        Op::AddConstraint { table, constraint } => {
            let validates = !constraint.not_valid;
            match &constraint.kind {
                ConstraintKind::Check { .. } => a.lock(table, AccessExclusive, false, validates),
                ConstraintKind::ForeignKey(fk) => {
                    // Triggers go on both tables; validation joins the whole referencing
                    // table to the referenced one.
                    a.lock(table, ShareRowExclusive, false, validates);
                    a.lock(&fk.ref_table, ShareRowExclusive, false, validates);
                }
                ConstraintKind::PrimaryKey {
                    columns,
                    using_index,
                } => {
                    let cols = using_index
                        .as_ref()
                        .and_then(|i| {
                            catalog
                                .indexes
                                .get(&ObjName::new(table.schema.clone(), i.clone()))
                        })
                        .map(|i| i.columns.clone())
                        .unwrap_or_else(|| columns.clone());
                    // A primary key makes its columns NOT NULL, which needs a scan unless
                    // they already are.
                    let nullable = cols.is_empty()
                        || cols
                            .iter()
                            .any(|c| !catalog.column(table, c).is_some_and(|col| col.not_null));
                    let builds = using_index.is_none();
                    a.lock(table, AccessExclusive, false, builds || nullable);
                }
                ConstraintKind::Unique { using_index, .. } => {
                    a.lock(table, AccessExclusive, false, using_index.is_none());
                }
                ConstraintKind::Exclusion => a.lock(table, AccessExclusive, false, true),
                ConstraintKind::NotNull { column } => {
                    let scan = set_not_null_scans(catalog, table, column, v);
                    a.lock(table, AccessExclusive, false, scan);
                }
            }
        }
        Op::ValidateConstraint { table, name } => {
            // Validating a constraint that already is valid reads nothing.
            let already_valid = catalog.table_facts(table).is_some_and(|t| {
                t.constraints
                    .iter()
                    .any(|c| &c.name == name && !c.not_valid)
            });
            a.lock(table, ShareUpdateExclusive, false, !already_valid);
            if let Some(fk) = find_fk(catalog, table, name) {
                // The validation query reads the referenced table under ROW SHARE.
                if &fk.ref_table != table {
                    a.lock(&fk.ref_table, RowShare, false, true);
                }
            }
        }
        Op::DropConstraint {
            table,
            name,
            cascade,
            ..
        } => {
            a.lock(table, AccessExclusive, false, false);
            if let Some(fk) = find_fk(catalog, table, name)
                && &fk.ref_table != table
            {
                a.lock(&fk.ref_table, AccessExclusive, false, false);
            }
            if *cascade {
                for (referencing, _) in catalog.referenced_by(table) {
                    a.lock(&referencing, AccessExclusive, false, false);
                }
            }
        }
        Op::RenameConstraint { table, .. } | Op::AlterConstraint { table, .. } => {
            a.lock(table, AccessExclusive, false, false);
        }

        // ---- partitions
        Op::AttachPartition { table, partition } => {
            let parent_mode = if v >= 12 {
                ShareUpdateExclusive
            } else {
                AccessExclusive
            };
            a.lock(table, parent_mode, false, false);
            a.lock(partition, AccessExclusive, false, true);
            a.note(format!(
                "the scan of {partition} is skipped only when its validated CHECK constraints \
                 (and NOT NULL on the partition key) already imply the partition bound"
            ));
        }
        Op::DetachPartition {
            table,
            partition,
            concurrently,
            finalize,
        } => {
            if *finalize && v >= 14 {
                // Completes a detach whose concurrent second phase was cancelled: the
                // parent is already out of queries' way (checked on PostgreSQL 15).
                a.lock(table, ShareUpdateExclusive, false, false);
                a.lock(partition, FINALIZE_PARTITION_LOCK, false, false);
            } else if *concurrently && v >= 14 {
                a.lock(table, ShareUpdateExclusive, false, false);
                a.lock(partition, ShareUpdateExclusive, false, false);
            } else {
                if *concurrently {
                    a.note(format!(
                        "DETACH PARTITION CONCURRENTLY needs PostgreSQL 14 (modelling {v})"
                    ));
                }
                a.lock(table, AccessExclusive, false, false);
                a.lock(partition, AccessExclusive, false, false);
            }
        }

        // ---- indexes
        Op::CreateIndex {
            name,
            table,
            concurrently,
            if_not_exists,
            ..
        } => {
            let mode = if *concurrently {
                ShareUpdateExclusive
            } else {
                Share
            };
            // IF NOT EXISTS on an existing index still takes the lock, then builds nothing.
            let exists = *if_not_exists
                && name
                    .as_ref()
                    .is_some_and(|n| catalog.indexes.contains_key(n));
            a.lock(table, mode, false, !exists);
        }
        Op::DropIndex {
            name, concurrently, ..
        } => match catalog.index_table(name) {
            Some(table) => {
                let mode = if *concurrently {
                    ShareUpdateExclusive
                } else {
                    AccessExclusive
                };
                a.lock(table, mode, false, false);
            }
            None => a.note(format!(
                "the table of index {name} is unknown; DROP INDEX takes ACCESS EXCLUSIVE on it"
            )),
        },
        Op::RenameIndex { name, .. } => match catalog.index_table(name) {
            Some(table) => {
                let mode = if v >= 12 {
                    ShareUpdateExclusive
                } else {
                    AccessExclusive
                };
                a.lock(table, mode, false, false);
            }
            None => a.note(format!("the table of index {name} is unknown")),
        },
        Op::Reindex {
            target_kind,
            target,
            concurrently,
        } => {
            let table = match (target_kind.to_ascii_uppercase().as_str(), target) {
                ("TABLE", Some(t)) => Some(t.clone()),
                ("INDEX", Some(i)) => catalog.index_table(i).cloned(),
                _ => None,
            };
            match table {
                Some(t) if *concurrently && v >= 12 => {
                    a.lock(&t, ShareUpdateExclusive, false, true)
                }
                // SHARE on the table, ACCESS EXCLUSIVE on the rebuilt indexes: the planner
                // locks every index of a table, so reads block too.
                Some(t) => a.lock(&t, AccessExclusive, false, true),
                None => a.note(format!(
                    "REINDEX {target_kind}: the tables it rebuilds are not known statically"
                )),
            }
        }

        // ---- views
        Op::CreateView {
            name,
            materialized,
            or_replace,
            depends_on,
        } => {
            if *or_replace && catalog.views.contains_key(name) {
                a.lock(name, AccessExclusive, false, false);
            }
            for t in depends_on {
                a.lock(t, AccessShare, false, *materialized);
            }
        }
        Op::DropView { name, .. } => a.lock(name, AccessExclusive, false, false),
        Op::RefreshMaterializedView { name, concurrently } => {
            if *concurrently {
                // Computes the new contents and diffs them against every existing row.
                a.lock(name, Exclusive, false, true);
            } else {
                // Fills new files from the query and rebuilds the view's indexes.
                a.lock(name, AccessExclusive, true, true);
            }
            if let Some(view) = catalog.views.get(name) {
                for t in &view.depends_on {
                    a.lock(t, AccessShare, false, true);
                }
            }
        }

        // ---- routines and triggers
        Op::CreateTrigger { table, .. } => a.lock(table, ShareRowExclusive, false, false),
        Op::DropTrigger { table, .. } => a.lock(table, AccessExclusive, false, false),
        Op::DoBlock { contains_ddl: true } => {
            a.note("the DO block contains DDL that was not analysed");
        }
        Op::AddEnumValue { .. } if v < 12 => {
            a.note(
                "ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12",
            );
        }

        // ---- maintenance
        Op::VacuumFull { table } | Op::Cluster { table } => match table {
            Some(t) => a.lock(t, AccessExclusive, true, true),
            None => a.note("without a table name this rewrites every table in the database"),
        },
        // VACUUM reads only the pages changed since the last one (the visibility map
        // skips the rest): not a full read of the table.
        Op::Vacuum { table } => match table {
            Some(t) => a.lock(t, ShareUpdateExclusive, false, false),
            None => a.note("without a table name this processes every table in the database"),
        },
        // TRUNCATE swaps in new, empty files: instant, so not a rewrite.
        Op::Truncate { table } => {
            a.lock(table, AccessExclusive, false, false);
            // A table other tables reference is truncated only with CASCADE (the server
            // refuses otherwise), which truncates them too.
            for (referencing, _) in catalog.referenced_by(table) {
                if &referencing != table {
                    a.lock(&referencing, AccessExclusive, false, false);
                }
            }
        }
        Op::LockTable { table, mode } => a.lock(table, *mode, false, false),

        // ---- data
        Op::Update {
            table,
            selective,
            columns,
            ..
        } => {
            a.lock(table, RowExclusive, false, !selective);
            // A changed foreign-key column is checked against the referenced table.
            if let Some(t) = catalog.table(table) {
                for (_, fk) in t.foreign_keys() {
                    if &fk.ref_table != table && fk.columns.iter().any(|c| columns.contains(c)) {
                        a.lock(&fk.ref_table, RowShare, false, false);
                    }
                }
            }
        }
        Op::Delete {
            table, selective, ..
        } => {
            a.lock(table, RowExclusive, false, !selective);
            // Foreign-key checks look up referencing rows with SELECT … FOR KEY SHARE; without
            // an index on the referencing columns each lookup reads the whole table.
            for (referencing, fk) in referencing_fks(catalog, table) {
                let indexed = catalog.indexes_on(&referencing).any(|i| {
                    !i.partial
                        && i.columns.len() >= fk.columns.len()
                        && i.columns[..fk.columns.len()] == fk.columns[..]
                });
                a.lock(&referencing, RowShare, false, !indexed);
            }
        }
        Op::Insert {
            table, from_select, ..
        } => {
            a.lock(table, RowExclusive, false, false);
            if let Some(t) = catalog.table(table) {
                // Each new row's foreign keys are checked with SELECT … FOR KEY SHARE.
                for (_, fk) in t.foreign_keys() {
                    if &fk.ref_table != table {
                        a.lock(&fk.ref_table, RowShare, false, false);
                    }
                }
            }
            if *from_select {
                a.note("INSERT … SELECT reads its source tables under ACCESS SHARE");
            }
        }

        // ---- sequences
        // ALTER SEQUENCE's own options (RESTART, INCREMENT, CACHE, AS, OWNED BY) take SHARE
        // ROW EXCLUSIVE; RENAME, SET SCHEMA, OWNER TO and SET LOGGED go through ALTER TABLE
        // and take ACCESS EXCLUSIVE, but the op does not say which clause it was.
        Op::AlterSequence { name } => a.lock(name, ShareRowExclusive, false, false),
        Op::DropSequence { name } => {
            a.lock(name, AccessExclusive, false, false);
            // A default using the sequence goes with it (CASCADE; without it the server
            // refuses), which alters the column's table.
            for t in catalog.tables.values() {
                if t.columns.iter().any(|c| default_uses_sequence(c, name)) {
                    a.lock(&t.name, AccessExclusive, false, false);
                }
            }
        }

        // ---- types and domains
        Op::AlterDomain { name, action } => {
            use crate::ops::DomainAction;
            let checks = match action {
                DomainAction::AddConstraint { not_valid } => !not_valid,
                DomainAction::SetNotNull | DomainAction::ValidateConstraint => true,
                DomainAction::Other => false,
            };
            if checks {
                // Every stored value of the domain is checked: each table with a column of
                // the type is read under SHARE.
                for t in tables_using_type(catalog, name) {
                    a.lock(&t, Share, false, true);
                }
            }
        }
        Op::DropType { name } => {
            // Succeeds on a type in use only with CASCADE, which drops the columns.
            for t in tables_using_type(catalog, name) {
                a.lock(&t, AccessExclusive, false, false);
            }
        }
        Op::DropSchema {
            name,
            cascade: true,
        } => {
            for t in catalog.tables.keys().filter(|t| &t.schema == name) {
                a.lock(t, AccessExclusive, false, false);
            }
            for v in catalog.views.keys().filter(|t| &t.schema == name) {
                a.lock(v, AccessExclusive, false, false);
            }
        }

        // Types, routines, schemas, extensions, session settings, transaction control and
        // statements without schema effect lock no table.
        _ => {}
    }
    related(op, catalog, v, &mut a);
    a
}

/// Locks an operation takes on relations other than the one it names: the partitions of
/// a partitioned table (the parent has no storage, so a rewrite or scan happens in the
/// partitions), views dropped by CASCADE, sequences owned by the table's columns, the
/// partitions of a table a new foreign key references.
fn related(op: &Op, catalog: &Catalog, v: u32, a: &mut LockAnalysis) {
    use LockMode::*;
    // Recurse into partitions with what the parent got; the parent keeps only the lock.
    let recurse = |a: &mut LockAnalysis, table: &ObjName, part_mode: Option<LockMode>| {
        let parts = partitions(catalog, table);
        if parts.is_empty() {
            return;
        }
        let Some(parent) = a.facts.iter_mut().find(|f| &f.table == table) else {
            return;
        };
        let (mode, rewrite, scan) = (parent.mode, parent.rewrite, parent.scan);
        parent.rewrite = false;
        parent.scan = false;
        for p in parts {
            a.lock(&p, part_mode.unwrap_or(mode), rewrite, scan);
        }
    };
    match op {
        Op::AddColumn { table, .. }
        | Op::DropColumn { table, .. }
        | Op::RenameColumn { table, .. }
        | Op::AlterColumnType { table, .. }
        | Op::SetNotNull { table, .. }
        | Op::DropNotNull { table, .. }
        | Op::SetDefault { table, .. }
        | Op::DropDefault { table, .. }
        | Op::DropConstraint { table, .. }
        | Op::Truncate { table }
        | Op::LockTable { table, .. }
        | Op::DropTable { table, .. }
        | Op::VacuumFull { table: Some(table) }
        | Op::Cluster { table: Some(table) } => recurse(a, table, None),
        Op::AddConstraint { table, constraint } => {
            // Up to PostgreSQL 17 a unique index is built on each partition under SHARE;
            // 18 takes ACCESS EXCLUSIVE on them like on the parent (checked on 17 and 18).
            let part_mode = match constraint.kind {
                ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. } if v < 18 => {
                    Some(Share)
                }
                _ => None,
            };
            recurse(a, table, part_mode);
        }
        Op::CreateIndex {
            table,
            concurrently: false,
            ..
        }
        | Op::CreateTrigger { table, .. }
        | Op::Insert { table, .. } => recurse(a, table, None),
        Op::DropIndex { name, .. } => {
            if let Some(table) = catalog.index_table(name) {
                recurse(a, &table.clone(), None);
            }
        }
        Op::Vacuum { table: Some(table) } if !partitions(catalog, table).is_empty() => {
            // VACUUM of a partitioned table processes the partitions; the parent itself
            // is not locked.
            let parts = partitions(catalog, table);
            a.facts.retain(|f| &f.table != table);
            for p in parts {
                a.lock(&p, ShareUpdateExclusive, false, false);
            }
        }
        _ => {}
    }
    // Views that depend on a dropped relation go with it (CASCADE; without it the server
    // refuses, so the locks are taken either way when such views exist).
    let dropped: Option<&ObjName> = match op {
        Op::DropTable { table, .. } | Op::DropView { name: table, .. } => Some(table),
        Op::DropColumn {
            table,
            cascade: true,
            ..
        } => Some(table),
        _ => None,
    };
    if let Some(rel) = dropped {
        for v in dependent_views(catalog, rel) {
            a.lock(&v, AccessExclusive, false, false);
        }
    }
    // Sequences owned by the table's serial and identity columns.
    match op {
        Op::DropTable { table, .. } | Op::SetSchema { table, .. } => {
            for (_, seq) in owned_sequences(catalog, table) {
                a.lock(&seq, AccessExclusive, false, false);
            }
        }
        Op::AlterTableOther { table, what } if what.to_ascii_lowercase().contains("owner") => {
            for (_, seq) in owned_sequences(catalog, table) {
                a.lock(&seq, AccessExclusive, false, false);
            }
        }
        Op::DropColumn { table, column, .. } | Op::DropIdentity { table, column, .. } => {
            for (c, seq) in owned_sequences(catalog, table) {
                if &c == column {
                    a.lock(&seq, AccessExclusive, false, false);
                }
            }
        }
        Op::AlterColumnOther {
            table,
            column,
            what,
        } if what.to_ascii_lowercase().contains("identity") => {
            for (c, seq) in owned_sequences(catalog, table) {
                if &c == column {
                    a.lock(&seq, ShareRowExclusive, false, false);
                }
            }
        }
        Op::AddColumn { column, .. } => {
            // A volatile default calling nextval() is evaluated for every row (a serial's
            // own sequence is new: no one else uses it yet).
            if let Some(d) = column
                .default
                .as_ref()
                .filter(|d| d.volatile && !column.serial)
            {
                for seq in nextval_sequences(&d.sql) {
                    a.lock(&seq, RowExclusive, false, false);
                }
            }
        }
        _ => {}
    }
    // A foreign key to a partitioned table adds its triggers on every partition.
    let mut referenced = Vec::new();
    match op {
        Op::AddConstraint { constraint, .. } => {
            if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                referenced.push(&fk.ref_table);
            }
        }
        Op::CreateTable {
            columns,
            constraints,
            ..
        } => {
            for c in columns
                .iter()
                .flat_map(|c| c.constraints.iter())
                .chain(constraints.iter())
            {
                if let ConstraintKind::ForeignKey(fk) = &c.kind {
                    referenced.push(&fk.ref_table);
                }
            }
        }
        _ => {}
    }
    for r in referenced {
        let mode = a.facts.iter().find(|f| &f.table == r).map(|f| f.mode);
        if let Some(mode) = mode {
            for p in partitions(catalog, r) {
                a.lock(&p, mode, false, false);
            }
        }
    }
}

/// The partitions of `table`, and theirs, recursively.
fn partitions(catalog: &Catalog, table: &ObjName) -> Vec<ObjName> {
    let mut out = Vec::new();
    let mut todo = vec![table.clone()];
    while let Some(t) = todo.pop() {
        for p in catalog.tables.values() {
            if p.partition_of.as_ref() == Some(&t) && !out.contains(&p.name) {
                out.push(p.name.clone());
                todo.push(p.name.clone());
            }
        }
    }
    out
}

/// Views (plain and materialized) built on `rel`, and the views built on those.
fn dependent_views(catalog: &Catalog, rel: &ObjName) -> Vec<ObjName> {
    let mut out: Vec<ObjName> = Vec::new();
    let mut todo = vec![rel.clone()];
    while let Some(r) = todo.pop() {
        for v in catalog.views_on(&r) {
            if !out.contains(&v.name) && &v.name != rel {
                out.push(v.name.clone());
                todo.push(v.name.clone());
            }
        }
    }
    out
}

/// Sequences owned by `table`'s columns: serial columns (named by their `nextval` default
/// or PostgreSQL's `<table>_<column>_seq`) and identity columns.
fn owned_sequences(catalog: &Catalog, table: &ObjName) -> Vec<(String, ObjName)> {
    let Some(t) = catalog.table(table) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in &t.columns {
        let ty = c.ty.0.to_ascii_lowercase();
        let serial = matches!(
            ty.as_str(),
            "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8"
        );
        let from_default = c
            .default
            .as_ref()
            .map(|d| nextval_sequences(&d.sql))
            .unwrap_or_default();
        if let Some(seq) = from_default.into_iter().next() {
            out.push((c.name.clone(), seq));
        } else if serial || c.identity {
            let name = crate::pgnames::make_object_name(&table.name, Some(&c.name), "seq");
            out.push((c.name.clone(), ObjName::new(table.schema.clone(), name)));
        }
    }
    out
}

/// The sequences named by `nextval('…')` calls in an expression.
fn nextval_sequences(sql: &str) -> Vec<ObjName> {
    let lower = sql.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("nextval(") {
        rest = &rest[i + "nextval(".len()..];
        let arg = rest.trim_start();
        if let Some(arg) = arg.strip_prefix('\'')
            && let Some(end) = arg.find('\'')
        {
            let name = arg[..end].replace('"', "");
            out.push(match name.split_once('.') {
                Some((s, n)) => ObjName::new(s, n),
                None => ObjName::public(name),
            });
        }
    }
    out
}

fn default_uses_sequence(c: &crate::catalog::Column, seq: &ObjName) -> bool {
    c.default
        .as_ref()
        .is_some_and(|d| nextval_sequences(&d.sql).contains(seq))
}

/// Tables with a column of type `name` (an enum or a domain).
fn tables_using_type(catalog: &Catalog, name: &ObjName) -> Vec<ObjName> {
    let wanted = name.name.to_ascii_lowercase();
    let qualified = format!("{}.{}", name.schema, name.name).to_ascii_lowercase();
    catalog
        .tables
        .values()
        .filter(|t| {
            t.columns.iter().any(|c| {
                let ty = c.ty.0.to_ascii_lowercase();
                let ty = ty.trim_end_matches("[]").trim().trim_matches('"');
                ty == wanted || ty == qualified
            })
        })
        .map(|t| t.name.clone())
        .collect()
}

/// The functions an expression calls (`f(`, `s.f(`), outside string literals; names are
/// folded to lower case and unqualified ones placed in `public`.
pub fn called_functions(sql: &str) -> Vec<ObjName> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'$'))
            {
                i += 1;
            }
            let word = sql[start..i].to_ascii_lowercase();
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if b.get(j) == Some(&b'(') {
                out.push(match word.rsplit_once('.') {
                    Some((schema, name)) => ObjName::new(schema, name),
                    None => ObjName::public(word),
                });
            }
            continue;
        }
        i += 1;
    }
    out
}

/// The lock `op` takes on a table the model cannot name: the table of an index the replay
/// never saw (DROP INDEX, REINDEX INDEX), every table of a schema or database (REINDEX
/// SCHEMA/DATABASE, CLUSTER and VACUUM FULL without a table). `None` when the op's locks
/// are all in [`analyze`]'s facts.
pub fn unnamed_table_lock(op: &Op, catalog: &Catalog, pg_version: u32) -> Option<LockMode> {
    use LockMode::*;
    match op {
        Op::DropIndex {
            name, concurrently, ..
        } if catalog.index_table(name).is_none() => Some(if *concurrently {
            ShareUpdateExclusive
        } else {
            AccessExclusive
        }),
        Op::Reindex {
            target_kind,
            target,
            concurrently,
        } => {
            let known = match (target_kind.to_ascii_uppercase().as_str(), target) {
                ("TABLE", Some(_)) => true,
                ("INDEX", Some(i)) => catalog.index_table(i).is_some(),
                _ => false,
            };
            if known {
                None
            } else if *concurrently && pg_version >= 12 {
                Some(ShareUpdateExclusive)
            } else {
                // SHARE on the table, ACCESS EXCLUSIVE on the index being rebuilt.
                Some(AccessExclusive)
            }
        }
        Op::Cluster { table: None } | Op::VacuumFull { table: None } => Some(AccessExclusive),
        _ => None,
    }
}

/// `ALTER TABLE … <what>` for the subcommands without their own [`Op`] variant.
fn alter_table_other(what: &str, pg_version: u32) -> (LockMode, bool) {
    use LockMode::*;
    let w = what.to_ascii_lowercase();
    let has = |s: &str| w.contains(s);
    if has("tablespace") || (has("access method") && pg_version >= 15) {
        // Copies the data files.
        (AccessExclusive, true)
    } else if has("cluster") || has("set (") || has("reset (") || has("storage param") {
        // CLUSTER ON, SET WITHOUT CLUSTER and storage parameters.
        (ShareUpdateExclusive, false)
    } else if has("trigger") {
        (ShareRowExclusive, false)
    } else {
        // OWNER, REPLICA IDENTITY, ROW LEVEL SECURITY, RULE, INHERIT, OF … and anything
        // unknown: assume the strongest.
        (AccessExclusive, false)
    }
}

/// `ALTER COLUMN … <what>` for SET STATISTICS, SET/RESET (options), SET STORAGE, …
fn alter_column_other(what: &str, pg_version: u32) -> (LockMode, bool) {
    let w = what.to_ascii_lowercase();
    if w.contains("identity") || w.contains("generated") {
        // SET GENERATED, RESTART, SET INCREMENT …: ALTER TABLE's strongest lock (the
        // identity sequence gets SHARE ROW EXCLUSIVE, see `related`).
        (LockMode::AccessExclusive, false)
    } else if w.contains("statistics")
        || w.contains("set (")
        || w.contains("reset (")
        || w.contains("n_distinct")
        || w.contains("options")
    {
        (LockMode::ShareUpdateExclusive, false)
    } else if w.contains("set expression") && pg_version >= 17 {
        // PG 17: recomputes the stored column for every row.
        (LockMode::AccessExclusive, true)
    } else {
        // SET STORAGE, SET COMPRESSION, DROP EXPRESSION, unknown.
        (LockMode::AccessExclusive, false)
    }
}

fn is_null_literal(sql: &str) -> bool {
    let s = sql
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    s.eq_ignore_ascii_case("null") || s.to_ascii_lowercase().starts_with("null::")
}

/// SET NOT NULL reads every row unless the column already is NOT NULL, or (PG 12+) a
/// validated `CHECK (col IS NOT NULL)` proves it.
fn set_not_null_scans(catalog: &Catalog, table: &ObjName, column: &str, pg_version: u32) -> bool {
    let Some(t) = catalog.table_facts(table) else {
        return true;
    };
    if t.column(column).is_some_and(|c| c.not_null) {
        return false;
    }
    !(pg_version >= 12 && t.has_valid_not_null_check(column))
}

fn find_fk<'a>(
    catalog: &'a Catalog,
    table: &ObjName,
    name: &str,
) -> Option<&'a crate::ops::ForeignKey> {
    catalog
        .table(table)?
        .foreign_keys()
        .find(|(c, _)| c.name == name)
        .map(|(_, fk)| fk)
}

/// Foreign keys of other tables that reference `table`.
fn referencing_fks<'a>(
    catalog: &'a Catalog,
    table: &'a ObjName,
) -> impl Iterator<Item = (ObjName, &'a crate::ops::ForeignKey)> + 'a {
    catalog
        .tables_referencing(table)
        .into_iter()
        .filter(move |t| &t.name != table)
        .flat_map(move |t| {
            t.foreign_keys()
                .filter(move |(_, fk)| &fk.ref_table == table)
                .map(move |(_, fk)| (t.name.clone(), fk))
        })
}

#[allow(clippy::too_many_arguments)]
fn alter_column_type(
    a: &mut LockAnalysis,
    catalog: &Catalog,
    opts: &ModelOptions,
    table: &ObjName,
    column: &str,
    ty: &SqlType,
    using: Option<&str>,
    collate_changes: bool,
) {
    let old = catalog
        .table_facts(table)
        .and_then(|t| t.column(column))
        .map(|c| &c.ty);
    let rewrite = match old {
        Some(old) => {
            let by_type = rewrites_column_type_with(old, ty, opts);
            let by_using = using.is_some_and(|u| !is_plain_column_ref(u, column));
            // The one rule that depends on the session rather than the schema.
            let utc = ModelOptions {
                session_time_zone_utc: !opts.session_time_zone_utc,
                ..*opts
            };
            if by_type != rewrites_column_type_with(old, ty, &utc) {
                a.note(if by_type {
                    "timestamp ↔ timestamptz is metadata-only when the session TimeZone is UTC \
                     (SET TimeZone = 'UTC' first); in any other zone every row is converted"
                } else {
                    "no rewrite only because the session TimeZone is assumed to be UTC"
                });
            }
            by_type || by_using
        }
        None => {
            a.note(format!(
                "the current type of {table}.{column} is unknown (created outside the migrations): assumed to rewrite"
            ));
            true
        }
    };
    // Without a rewrite, CHECK constraints on the column are still re-validated, and a
    // collation change rebuilds the column's indexes.
    let checks = catalog.table_facts(table).is_some_and(|t| {
        t.constraints.iter().any(
            |c| matches!(&c.kind, ConstraintKind::Check { expr } if mentions_word(expr, column)),
        )
    });
    let indexed = catalog
        .indexes_on(table)
        .any(|i| i.columns.iter().any(|c| c == column));
    let scan = rewrite || checks || (collate_changes && indexed);
    a.lock(table, LockMode::AccessExclusive, rewrite, scan);

    // Foreign keys through the column are dropped and re-created: dropping takes ACCESS
    // EXCLUSIVE on the other table (its triggers go), and a valid key is re-validated when
    // the column's values were rewritten (a NOT VALID one stays unvalidated).
    if let Some(t) = catalog.table(table) {
        for (c, fk) in t.foreign_keys() {
            if fk.columns.iter().any(|c| c == column) && &fk.ref_table != table {
                a.lock(
                    &fk.ref_table,
                    LockMode::AccessExclusive,
                    false,
                    rewrite && !c.not_valid,
                );
            }
        }
    }
    for t in catalog.tables_referencing(table) {
        if &t.name == table {
            continue;
        }
        for (c, fk) in t.foreign_keys() {
            if &fk.ref_table == table && fk.ref_columns.iter().any(|c| c == column) {
                a.lock(
                    &t.name,
                    LockMode::AccessExclusive,
                    false,
                    rewrite && !c.not_valid,
                );
            }
        }
    }
}

/// `col`, `col::type`, `CAST(col AS type)`: a USING that only restates the conversion.
fn is_plain_column_ref(using: &str, column: &str) -> bool {
    let u: String = using.split_whitespace().collect::<Vec<_>>().join(" ");
    let u = u.trim().to_ascii_lowercase();
    let col = column.to_ascii_lowercase();
    let bare = |s: &str| {
        let s = s.trim().trim_matches('(').trim_matches(')').trim();
        s == col || s == format!("\"{col}\"")
    };
    if bare(&u) {
        return true;
    }
    if let Some((lhs, _)) = u.split_once("::") {
        return bare(lhs);
    }
    if let Some(rest) = u.strip_prefix("cast") {
        let rest = rest.trim_start().trim_start_matches('(');
        if let Some((lhs, _)) = rest.split_once(" as ") {
            return bare(lhs);
        }
    }
    false
}

/// `word` occurs in `text` as a whole identifier (case-insensitive).
fn mentions_word(text: &str, word: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .any(|w| w == word)
}

/// A column type reduced to what the rewrite rules compare.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CanonicalType {
    /// PostgreSQL's internal name: `varchar`, `bpchar`, `numeric`, `timestamptz`, `int4`, …
    base: String,
    /// Type modifiers; `None` when unconstrained (`varchar`, `numeric`, `bpchar`).
    mods: Option<Vec<i64>>,
    array: bool,
}

fn canonical_type(ty: &SqlType) -> CanonicalType {
    let mut s = ty.0.trim().to_ascii_lowercase();
    let mut array = false;
    while let Some(stripped) = s.strip_suffix("[]") {
        s = stripped.trim_end().to_string();
        array = true;
    }
    if let Some(stripped) = s.strip_suffix(" array") {
        s = stripped.to_string();
        array = true;
    }
    // Pull out the first parenthesised modifier list wherever it is
    // (`timestamp(3) with time zone`).
    let mut mods = None;
    if let (Some(a), Some(b)) = (s.find('('), s.find(')'))
        && b > a
    {
        mods = Some(
            s[a + 1..b]
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect::<Vec<i64>>(),
        );
        s = format!("{} {}", &s[..a], &s[b + 1..]);
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let name = words.join(" ");
    let name = name
        .strip_prefix("pg_catalog.")
        .unwrap_or(&name)
        .trim_matches('"');
    let base = match name {
        "character varying" | "varchar" | "char varying" => "varchar",
        // `char`/`character` alone means char(1); `bpchar` is unconstrained.
        "character" | "char" => {
            if mods.is_none() {
                mods = Some(vec![1]);
            }
            "bpchar"
        }
        "bpchar" => "bpchar",
        "decimal" | "numeric" => "numeric",
        "bit varying" | "varbit" => "varbit",
        "bit" => {
            if mods.is_none() {
                mods = Some(vec![1]);
            }
            "bit"
        }
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "real" | "float4" => "float4",
        "double precision" | "float8" => "float8",
        "boolean" | "bool" => "bool",
        other => {
            return CanonicalType {
                base: other.to_string(),
                mods,
                array,
            };
        }
    };
    // numeric(p) means numeric(p, 0).
    if base == "numeric"
        && let Some(m) = &mut mods
        && m.len() == 1
    {
        m.push(0);
    }
    CanonicalType {
        base: base.to_string(),
        mods,
        array,
    }
}

/// Whether changing a column from `from` to `to` rewrites the table, with the default
/// assumptions (PostgreSQL 15, session time zone not known to be UTC).
///
/// Binary-coercible changes are metadata-only: `varchar(n)`→`varchar(m ≥ n)`,
/// `varchar`→`text`, `text`→`varchar` (no length), `numeric(p,s)`→`numeric(p2 ≥ p, s)`,
/// `numeric(p,s)`→`numeric`, `bit varying` widening, `cidr`→`inet`, `char(n)`→`bpchar`,
/// temporal precision increases. `char(n)`→`text`/`varchar` *does* rewrite (trailing
/// blanks are stripped), and so does any change of an array's element type.
pub fn rewrites_column_type(from: &SqlType, to: &SqlType) -> bool {
    rewrites_column_type_with(from, to, &ModelOptions::default())
}

/// [`rewrites_column_type`] under explicit assumptions (`timestamp` ↔ `timestamptz` is
/// metadata-only on PG 12+ when the session time zone is UTC).
pub fn rewrites_column_type_with(from: &SqlType, to: &SqlType, opts: &ModelOptions) -> bool {
    let f = canonical_type(from);
    let t = canonical_type(to);
    if f == t {
        return false;
    }
    // Arrays are converted element by element: any real change rewrites.
    if f.array || t.array {
        return true;
    }
    // `None` (unconstrained) is wider than any limit; `Some(n)` ≥ `Some(m)` when n ≥ m.
    let widens = |limit: usize| match (&f.mods, &t.mods) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => match (a.get(limit), b.get(limit)) {
            (Some(x), Some(y)) => y >= x,
            _ => false,
        },
    };
    let temporal_widens = || match (&f.mods, &t.mods) {
        (_, None) => true,
        // 6 is the maximum precision, the same as none.
        (_, Some(b)) if b.first().is_some_and(|p| *p >= 6) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => b.first() >= a.first(),
    };
    match (f.base.as_str(), t.base.as_str()) {
        ("varchar", "varchar") | ("varbit", "varbit") => !widens(0),
        ("bpchar", "bpchar") => t.mods.is_some(),
        ("numeric", "numeric") => match (&f.mods, &t.mods) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => !(a.get(1) == b.get(1) && widens(0)),
        },
        ("timestamp", "timestamp")
        | ("timestamptz", "timestamptz")
        | ("time", "time")
        | ("timetz", "timetz")
        | ("interval", "interval") => !temporal_widens(),
        ("varchar", "text") | ("text", "text") | ("cidr", "inet") => false,
        ("text", "varchar") => t.mods.is_some(),
        // The citext extension declares its casts from and to text/varchar binary.
        ("varchar" | "text", "citext") | ("citext", "text") => false,
        ("citext", "varchar") => t.mods.is_some(),
        ("timestamp", "timestamptz") | ("timestamptz", "timestamp") => {
            !(opts.pg_version >= 12 && opts.session_time_zone_utc && temporal_widens())
        }
        // Same name, different modifiers, type we do not know: assume the worst.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{ColumnDef, Constraint, Expr, ForeignKey};

    fn ty(s: &str) -> SqlType {
        SqlType(s.into())
    }

    /// Each pair was checked against PostgreSQL 15 (relfilenode before/after).
    #[test]
    fn column_type_rewrites_match_postgresql() {
        let no_rewrite = [
            ("character varying(50)", "character varying(60)"),
            ("character varying(20)", "character varying"),
            ("character varying(50)", "text"),
            ("text", "character varying"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric"),
            ("bit varying(8)", "bit varying(16)"),
            ("bit varying(4)", "bit varying"),
            ("cidr", "inet"),
            ("character(5)", "bpchar"),
            (
                "timestamp(3) without time zone",
                "timestamp(6) without time zone",
            ),
            ("timestamp(3)", "timestamp"),
            ("interval(0)", "interval"),
            ("time(0)", "time"),
            ("integer", "int4"),
            ("varchar(50)", "character varying(50)"),
        ];
        for (from, to) in no_rewrite {
            assert!(
                !rewrites_column_type(&ty(from), &ty(to)),
                "{from} -> {to} should not rewrite"
            );
        }
        let rewrite = [
            ("character varying(50)", "character varying(10)"),
            ("text", "character varying(200)"),
            ("character(5)", "text"),
            ("character(5)", "character varying(10)"),
            ("character(5)", "character(10)"),
            ("numeric(10,2)", "numeric(12,3)"),
            ("numeric(10,2)", "numeric(8,2)"),
            ("numeric", "numeric(10,2)"),
            ("integer", "bigint"),
            ("json", "jsonb"),
            ("bit(4)", "bit varying(4)"),
            ("inet", "cidr"),
            ("timestamp(6)", "timestamp(3)"),
            ("character varying(10)[]", "text[]"),
            ("character varying(10)[]", "character varying(20)[]"),
            ("timestamp without time zone", "timestamp with time zone"),
        ];
        for (from, to) in rewrite {
            assert!(
                rewrites_column_type(&ty(from), &ty(to)),
                "{from} -> {to} should rewrite"
            );
        }
    }

    #[test]
    fn timestamptz_is_free_only_in_a_utc_session_on_pg12_plus() {
        let (from, to) = (ty("timestamp"), ty("timestamp with time zone"));
        let utc = |v| ModelOptions {
            pg_version: v,
            session_time_zone_utc: true,
        };
        assert!(!rewrites_column_type_with(&from, &to, &utc(15)));
        assert!(!rewrites_column_type_with(&to, &from, &utc(12)));
        assert!(rewrites_column_type_with(&from, &to, &utc(11)));
        assert!(rewrites_column_type_with(
            &from,
            &to,
            &ModelOptions::default()
        ));
    }

    fn users_catalog() -> Catalog {
        let mut c = Catalog::new();
        let col = |name: &str, t: &str, not_null: bool| ColumnDef {
            name: name.into(),
            ty: ty(t),
            not_null,
            default: None,
            generated: None,
            serial: false,
            constraints: vec![],
        };
        c.apply(&Op::CreateTable {
            table: ObjName::public("users"),
            columns: vec![col("id", "bigint", true), col("name", "text", false)],
            constraints: vec![Constraint {
                name: None,
                kind: ConstraintKind::PrimaryKey {
                    columns: vec!["id".into()],
                    using_index: None,
                },
                not_valid: false,
            }],
            if_not_exists: false,
            partition_of: None,
            as_select: false,
            temporary: false,
            unlogged: false,
        });
        c.apply(&Op::CreateTable {
            table: ObjName::public("orders"),
            columns: vec![col("id", "bigint", true), col("user_id", "bigint", false)],
            constraints: vec![Constraint {
                name: None,
                kind: ConstraintKind::ForeignKey(ForeignKey {
                    columns: vec!["user_id".into()],
                    ref_table: ObjName::public("users"),
                    ref_columns: vec!["id".into()],
                }),
                not_valid: false,
            }],
            if_not_exists: false,
            partition_of: None,
            as_select: false,
            temporary: false,
            unlogged: false,
        });
        c
    }

    fn one(op: &Op, c: &Catalog, v: u32) -> (LockMode, bool, bool) {
        let f = facts(op, c, v);
        assert_eq!(f.len(), 1, "{f:?}");
        (f[0].mode, f[0].rewrite, f[0].scan)
    }

    #[test]
    fn add_column_rewrites_only_for_volatile_defaults_from_pg11() {
        let c = users_catalog();
        let add = |default: Option<(&str, bool)>| Op::AddColumn {
            table: ObjName::public("users"),
            column: ColumnDef {
                name: "x".into(),
                ty: ty("integer"),
                not_null: false,
                default: default.map(|(sql, volatile)| Expr {
                    sql: sql.into(),
                    volatile,
                }),
                generated: None,
                serial: false,
                constraints: vec![],
            },
            if_not_exists: false,
        };
        use LockMode::AccessExclusive as AE;
        assert_eq!(one(&add(None), &c, 15), (AE, false, false));
        assert_eq!(one(&add(Some(("0", false))), &c, 15), (AE, false, false));
        assert_eq!(one(&add(Some(("0", false))), &c, 10), (AE, true, true));
        assert_eq!(
            one(&add(Some(("random()", true))), &c, 15),
            (AE, true, true)
        );
        assert_eq!(one(&add(Some(("NULL", false))), &c, 10), (AE, false, false));
    }

    #[test]
    fn set_not_null_skips_the_scan_with_a_validated_check_on_pg12() {
        let mut c = users_catalog();
        let users = ObjName::public("users");
        let set = Op::SetNotNull {
            table: users.clone(),
            column: "name".into(),
        };
        assert!(one(&set, &c, 15).2, "no check yet: scan");
        let check = |not_valid| Op::AddConstraint {
            table: users.clone(),
            constraint: Constraint {
                name: Some("name_nn".into()),
                kind: ConstraintKind::Check {
                    expr: "name IS NOT NULL".into(),
                },
                not_valid,
            },
        };
        c.apply(&check(true));
        assert!(one(&set, &c, 15).2, "NOT VALID check does not help");
        c.apply(&Op::ValidateConstraint {
            table: users.clone(),
            name: "name_nn".into(),
        });
        assert!(!one(&set, &c, 15).2);
        assert!(one(&set, &c, 11).2, "PG 11 always scans");
    }

    #[test]
    fn foreign_keys_lock_both_tables() {
        let c = users_catalog();
        let (orders, users) = (ObjName::public("orders"), ObjName::public("users"));
        let f = facts(
            &Op::DropConstraint {
                table: orders.clone(),
                name: "orders_user_id_fkey".into(),
                if_exists: false,
                cascade: false,
            },
            &c,
            15,
        );
        assert_eq!(
            f.iter().map(|f| (&f.table, f.mode)).collect::<Vec<_>>(),
            vec![
                (&orders, LockMode::AccessExclusive),
                (&users, LockMode::AccessExclusive)
            ]
        );
        let f = facts(
            &Op::ValidateConstraint {
                table: orders.clone(),
                name: "orders_user_id_fkey".into(),
            },
            &c,
            15,
        );
        assert_eq!(f[0].mode, LockMode::ShareUpdateExclusive);
        assert_eq!((&f[1].table, f[1].mode), (&users, LockMode::RowShare));
        // Deleting a parent row looks up children; no index on orders.user_id: a scan.
        let f = facts(
            &Op::Delete {
                table: users.clone(),
                has_where: true,
                selective: true,
            },
            &c,
            15,
        );
        assert_eq!(
            (&f[1].table, f[1].mode, f[1].scan),
            (&orders, LockMode::RowShare, true)
        );
    }

    #[test]
    fn version_dependent_partition_and_index_locks() {
        let c = users_catalog();
        let attach = Op::AttachPartition {
            table: ObjName::public("p"),
            partition: ObjName::public("p1"),
        };
        assert_eq!(
            facts(&attach, &c, 12)[0].mode,
            LockMode::ShareUpdateExclusive
        );
        assert_eq!(facts(&attach, &c, 11)[0].mode, LockMode::AccessExclusive);
        let detach = Op::DetachPartition {
            table: ObjName::public("p"),
            partition: ObjName::public("p1"),
            concurrently: true,
            finalize: false,
        };
        assert_eq!(
            facts(&detach, &c, 14)[0].mode,
            LockMode::ShareUpdateExclusive
        );
        assert_eq!(facts(&detach, &c, 13)[0].mode, LockMode::AccessExclusive);
        let rename = Op::RenameIndex {
            name: ObjName::public("users_pkey"),
            new_name: "users_pk".into(),
        };
        assert_eq!(facts(&rename, &c, 12)[0].table, ObjName::public("users"));
        assert_eq!(
            facts(&rename, &c, 12)[0].mode,
            LockMode::ShareUpdateExclusive
        );
        assert_eq!(facts(&rename, &c, 11)[0].mode, LockMode::AccessExclusive);
    }

    #[test]
    fn unknown_old_type_is_assumed_to_rewrite_and_says_so() {
        let c = Catalog::new();
        let a = analyze(
            &Op::AlterColumnType {
                table: ObjName::public("ghost"),
                column: "c".into(),
                ty: ty("text"),
                using: None,
                collate: None,
            },
            &c,
            &ModelOptions::default(),
        );
        assert!(a.facts[0].rewrite);
        assert!(
            a.notes.iter().any(|n| n.contains("unknown")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn timestamp_conversion_explains_the_time_zone_assumption() {
        let mut c = users_catalog();
        c.apply(&Op::AddColumn {
            table: ObjName::public("users"),
            column: ColumnDef {
                name: "created".into(),
                ty: ty("timestamp without time zone"),
                not_null: false,
                default: None,
                generated: None,
                serial: false,
                constraints: vec![],
            },
            if_not_exists: false,
        });
        let op = Op::AlterColumnType {
            table: ObjName::public("users"),
            column: "created".into(),
            ty: ty("timestamp with time zone"),
            using: None,
            collate: None,
        };
        let a = analyze(&op, &c, &ModelOptions::default());
        assert!(a.facts[0].rewrite);
        assert!(a.notes.iter().any(|n| n.contains("UTC")), "{:?}", a.notes);
        let utc = ModelOptions {
            session_time_zone_utc: true,
            ..Default::default()
        };
        let a = analyze(&op, &c, &utc);
        assert!(!a.facts[0].rewrite);
        assert!(
            a.notes.iter().any(|n| n.contains("assumed")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn plain_using_clauses_do_not_force_a_rewrite() {
        assert!(is_plain_column_ref("bio", "bio"));
        assert!(is_plain_column_ref("bio::varchar(50)", "bio"));
        assert!(is_plain_column_ref("CAST(bio AS text)", "bio"));
        assert!(!is_plain_column_ref("bio || ''", "bio"));
        assert!(!is_plain_column_ref("lower(bio)::text", "bio"));
    }
}
