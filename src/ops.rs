//! The operation IR: what a migration statement *does*, independent of any parser's AST.
//!
//! Every later stage (catalog replay, lock facts, rules, planner) reads these types and
//! never sqlparser's AST. One SQL statement lowers to one or more [`Op`]s (a multi-command
//! `ALTER TABLE` yields one op per subcommand, all sharing the statement's span).

use serde::Serialize;
use std::fmt;

/// A schema-qualified object name. Unquoted identifiers are folded to lower case at
/// lowering time; quoted ones keep their case. `schema` is `public` when none was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjName {
    pub schema: String,
    pub name: String,
}

impl ObjName {
    /// A name in the `public` schema.
    pub fn public(name: impl Into<String>) -> Self {
        ObjName {
            schema: "public".into(),
            name: name.into(),
        }
    }
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        ObjName {
            schema: schema.into(),
            name: name.into(),
        }
    }
    /// `schema.name`, as used in JSON output and catalog keys.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// Short display: the bare name for `public`, `schema.name` otherwise.
impl fmt::Display for ObjName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema == "public" {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

/// A column type as written, normalised: lower case, canonical names
/// (`int4`→`integer`, `varchar`→`character varying`, …) and modifiers kept,
/// e.g. `character varying(255)`, `numeric(10,2)`, `timestamp with time zone`, `text[]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SqlType(pub String);

impl SqlType {
    /// The base name without modifiers or array brackets: `character varying(20)` → `character varying`.
    pub fn base(&self) -> &str {
        let s = self.0.as_str();
        let end = s.find(['(', '[']).unwrap_or(s.len());
        s[..end].trim()
    }
    /// The numeric modifiers: `numeric(10,2)` → `[10, 2]`; none → empty.
    pub fn modifiers(&self) -> Vec<i64> {
        let s = self.0.as_str();
        match (s.find('('), s.find(')')) {
            (Some(a), Some(b)) if b > a => s[a + 1..b]
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect(),
            _ => Vec::new(),
        }
    }
    pub fn is_array(&self) -> bool {
        self.0.ends_with(']')
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A default or generation expression, kept as SQL text plus what the lock model needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub sql: String,
    /// Calls a volatile function (`random()`, `clock_timestamp()`, `gen_random_uuid()`,
    /// `nextval(…)`, `uuid_generate_v4()`, …). `now()`/`current_timestamp` are stable, not volatile.
    pub volatile: bool,
}

/// How a column is generated, if at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generated {
    /// `GENERATED ALWAYS|BY DEFAULT AS IDENTITY`
    Identity,
    /// `GENERATED ALWAYS AS (expr) STORED`
    Stored(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub not_null: bool,
    pub default: Option<Expr>,
    pub generated: Option<Generated>,
    /// `serial`/`bigserial`/`smallserial` were written (the type is then the integer type and
    /// the default a `nextval`).
    pub serial: bool,
    /// Column-level constraints (PRIMARY KEY, UNIQUE, CHECK, REFERENCES) as table constraints.
    pub constraints: Vec<Constraint>,
}

/// `ON DELETE` / `ON UPDATE` actions and the referenced table of a foreign key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: ObjName,
    pub ref_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ConstraintKind {
    PrimaryKey {
        columns: Vec<String>,
        /// `… USING INDEX idx`: promotes an existing unique index, no build.
        using_index: Option<String>,
    },
    Unique {
        columns: Vec<String>,
        using_index: Option<String>,
    },
    Check {
        expr: String,
    },
    ForeignKey(ForeignKey),
    Exclusion,
    /// `ADD CONSTRAINT … NOT NULL col` (PG 18 syntax) or a column NOT NULL written as constraint.
    NotNull {
        column: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Constraint {
    pub name: Option<String>,
    pub kind: ConstraintKind,
    pub not_valid: bool,
}

/// A function's declared volatility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

/// What an `ALTER DOMAIN` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum DomainAction {
    /// `ADD CONSTRAINT … CHECK (…) [NOT VALID]`
    AddConstraint {
        not_valid: bool,
    },
    SetNotNull,
    ValidateConstraint,
    /// DROP NOT NULL, DROP CONSTRAINT, SET/DROP DEFAULT, RENAME, OWNER TO, …
    Other,
}

/// Which timeout a `SET` statement changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    Lock,
    Statement,
}

/// A `LOCK TABLE … IN … MODE` mode or a mode taken by an operation.
pub use crate::locks::LockMode;

/// What a statement does. One SQL statement lowers to one or more of these.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Op {
    // ---- tables
    CreateTable {
        table: ObjName,
        columns: Vec<ColumnDef>,
        constraints: Vec<Constraint>,
        if_not_exists: bool,
        /// `CREATE TABLE … PARTITION OF parent`
        partition_of: Option<ObjName>,
        /// `CREATE TABLE … AS SELECT` / `SELECT INTO`
        as_select: bool,
        temporary: bool,
        unlogged: bool,
    },
    DropTable {
        table: ObjName,
        if_exists: bool,
        cascade: bool,
    },
    RenameTable {
        table: ObjName,
        new_name: String,
    },
    SetSchema {
        table: ObjName,
        new_schema: String,
    },
    /// `ALTER TABLE … SET LOGGED|UNLOGGED`
    SetLogged {
        table: ObjName,
        logged: bool,
    },
    /// Storage parameters, tablespace, owner, replica identity, RLS… (`what` names it).
    AlterTableOther {
        table: ObjName,
        what: String,
    },
    // ---- columns
    AddColumn {
        table: ObjName,
        column: ColumnDef,
        if_not_exists: bool,
    },
    DropColumn {
        table: ObjName,
        column: String,
        if_exists: bool,
        cascade: bool,
    },
    RenameColumn {
        table: ObjName,
        column: String,
        new_name: String,
    },
    AlterColumnType {
        table: ObjName,
        column: String,
        ty: SqlType,
        using: Option<String>,
        collate: Option<String>,
    },
    SetNotNull {
        table: ObjName,
        column: String,
    },
    DropNotNull {
        table: ObjName,
        column: String,
    },
    SetDefault {
        table: ObjName,
        column: String,
        default: Expr,
    },
    DropDefault {
        table: ObjName,
        column: String,
    },
    /// `ADD GENERATED … AS IDENTITY` on an existing column.
    AddIdentity {
        table: ObjName,
        column: String,
    },
    DropIdentity {
        table: ObjName,
        column: String,
    },
    /// `SET STATISTICS`, `SET STORAGE`, `SET (n_distinct …)`, `SET COMPRESSION`.
    AlterColumnOther {
        table: ObjName,
        column: String,
        what: String,
    },
    // ---- constraints
    AddConstraint {
        table: ObjName,
        constraint: Constraint,
    },
    ValidateConstraint {
        table: ObjName,
        name: String,
    },
    DropConstraint {
        table: ObjName,
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    RenameConstraint {
        table: ObjName,
        name: String,
        new_name: String,
    },
    /// `ALTER TABLE … ALTER CONSTRAINT` (deferrability).
    AlterConstraint {
        table: ObjName,
        name: String,
    },
    // ---- partitions
    AttachPartition {
        table: ObjName,
        partition: ObjName,
    },
    DetachPartition {
        table: ObjName,
        partition: ObjName,
        concurrently: bool,
        /// `DETACH PARTITION … FINALIZE`: completes a cancelled concurrent detach.
        finalize: bool,
    },
    // ---- indexes
    CreateIndex {
        name: Option<ObjName>,
        table: ObjName,
        columns: Vec<String>,
        unique: bool,
        concurrently: bool,
        if_not_exists: bool,
        /// Partial index (`WHERE …`).
        partial: bool,
    },
    DropIndex {
        name: ObjName,
        concurrently: bool,
        if_exists: bool,
    },
    RenameIndex {
        name: ObjName,
        new_name: String,
    },
    Reindex {
        /// `TABLE`, `INDEX`, `SCHEMA`, `DATABASE`, `SYSTEM`.
        target_kind: String,
        /// The table or index named, when it is one.
        target: Option<ObjName>,
        concurrently: bool,
    },
    // ---- views
    CreateView {
        name: ObjName,
        materialized: bool,
        or_replace: bool,
        /// Tables and views the query reads.
        depends_on: Vec<ObjName>,
    },
    DropView {
        name: ObjName,
        materialized: bool,
        if_exists: bool,
    },
    RefreshMaterializedView {
        name: ObjName,
        concurrently: bool,
    },
    // ---- types
    CreateEnum {
        name: ObjName,
        values: Vec<String>,
    },
    AddEnumValue {
        name: ObjName,
        value: String,
    },
    RenameEnumValue {
        name: ObjName,
        value: String,
        new_value: String,
    },
    CreateType {
        name: ObjName,
    },
    /// `ALTER TYPE … RENAME TO` (enums and other user types; columns follow the new name).
    RenameType {
        name: ObjName,
        new_name: String,
    },
    /// `ALTER DOMAIN …`: constraints added with validation check every column of the
    /// domain's type in every table.
    AlterDomain {
        name: ObjName,
        action: DomainAction,
    },
    DropType {
        name: ObjName,
    },
    // ---- routines and triggers
    CreateFunction {
        name: ObjName,
        /// The declared volatility; `None` when not written (PostgreSQL's default, VOLATILE).
        volatility: Option<Volatility>,
    },
    DropFunction {
        name: ObjName,
    },
    CreateTrigger {
        name: String,
        table: ObjName,
    },
    DropTrigger {
        name: String,
        table: ObjName,
    },
    /// `DO $$ … $$`. `contains_ddl` when the body mentions DDL keywords we did not analyse.
    DoBlock {
        contains_ddl: bool,
    },
    // ---- sequences, schemas, extensions
    CreateSequence {
        name: ObjName,
    },
    AlterSequence {
        name: ObjName,
    },
    DropSequence {
        name: ObjName,
    },
    CreateSchema {
        name: String,
    },
    DropSchema {
        name: String,
        cascade: bool,
    },
    DropDatabase {
        name: String,
    },
    CreateExtension {
        name: String,
    },
    DropExtension {
        name: String,
    },
    // ---- maintenance
    VacuumFull {
        table: Option<ObjName>,
    },
    /// Plain `VACUUM` / `ANALYZE`.
    Vacuum {
        table: Option<ObjName>,
    },
    Cluster {
        table: Option<ObjName>,
    },
    Truncate {
        table: ObjName,
    },
    LockTable {
        table: ObjName,
        mode: LockMode,
    },
    // ---- session and transactions
    SetTimeout {
        timeout: TimeoutKind,
        /// Milliseconds; `0` disables the timeout. `None` for `DEFAULT`/unparsable values.
        millis: Option<u64>,
        local: bool,
    },
    /// `SET [LOCAL] TimeZone …` / `SET TIME ZONE …` / `RESET timezone`. `zone` is the value
    /// as written (unquoted), `None` for `DEFAULT`, `LOCAL` or `RESET`.
    SetTimeZone {
        zone: Option<String>,
        local: bool,
    },
    /// Any other `SET`/`RESET`.
    Set {
        name: String,
    },
    Begin,
    Commit,
    Rollback,
    // ---- data
    Update {
        table: ObjName,
        /// The columns assigned in `SET`, as written (folded); empty when unknown.
        columns: Vec<String>,
        has_where: bool,
        /// The WHERE restricts the rows by a key or a bounded range (not `WHERE true`, not
        /// `col IS NULL` over the whole table).
        selective: bool,
    },
    Delete {
        table: ObjName,
        has_where: bool,
        selective: bool,
    },
    Insert {
        table: ObjName,
        /// The explicit column list; empty when none was written or it is unknown.
        columns: Vec<String>,
        /// `INSERT … SELECT` (a data migration) rather than literal VALUES.
        from_select: bool,
    },
    /// SELECT, COMMENT, GRANT, REVOKE, and the other statements with no schema effect.
    Other {
        what: String,
    },
    // ---- what the parser could not fully read
    /// The statement creating or altering `object` was read only in part (newer syntax,
    /// a clause no parser understood): its definition is unknown beyond what the other
    /// ops of the statement say. The catalog marks the object as incompletely known and
    /// rules stay quiet about what it lacks (missing columns, constraints, …).
    UnknownDefinition {
        object: ObjName,
        /// What was not understood (for messages).
        reason: String,
    },
    /// SQL built at run time (`EXECUTE format(…)` in a DO block or a function called by
    /// the migration) that could not be resolved: its effect is not analysed.
    NotAnalysed {
        /// The dynamic statement as written (shortened), for the message.
        what: String,
    },
}

impl Op {
    /// The snake_case kind used in JSON output (`create_index`, `add_column`, …).
    pub fn kind(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("other")
                .to_string(),
            _ => "other".into(),
        }
    }

    /// The table this operation is on, when it has one.
    pub fn table(&self) -> Option<&ObjName> {
        use Op::*;
        match self {
            CreateTable { table, .. }
            | DropTable { table, .. }
            | RenameTable { table, .. }
            | SetSchema { table, .. }
            | SetLogged { table, .. }
            | AlterTableOther { table, .. }
            | AddColumn { table, .. }
            | DropColumn { table, .. }
            | RenameColumn { table, .. }
            | AlterColumnType { table, .. }
            | SetNotNull { table, .. }
            | DropNotNull { table, .. }
            | SetDefault { table, .. }
            | DropDefault { table, .. }
            | AddIdentity { table, .. }
            | DropIdentity { table, .. }
            | AlterColumnOther { table, .. }
            | AddConstraint { table, .. }
            | ValidateConstraint { table, .. }
            | DropConstraint { table, .. }
            | RenameConstraint { table, .. }
            | AlterConstraint { table, .. }
            | AttachPartition { table, .. }
            | DetachPartition { table, .. }
            | CreateIndex { table, .. }
            | CreateTrigger { table, .. }
            | DropTrigger { table, .. }
            | Truncate { table, .. }
            | LockTable { table, .. }
            | Update { table, .. }
            | Delete { table, .. }
            | Insert { table, .. } => Some(table),
            VacuumFull { table } | Vacuum { table } | Cluster { table } => table.as_ref(),
            CreateView { name, .. }
            | DropView { name, .. }
            | RefreshMaterializedView { name, .. } => Some(name),
            _ => None,
        }
    }

    /// True for statements that PostgreSQL refuses inside a transaction block.
    pub fn needs_no_transaction(&self) -> bool {
        matches!(
            self,
            Op::CreateIndex {
                concurrently: true,
                ..
            } | Op::DropIndex {
                concurrently: true,
                ..
            } | Op::Reindex {
                concurrently: true,
                ..
            } | Op::DetachPartition {
                concurrently: true,
                ..
            } | Op::VacuumFull { .. }
                | Op::Vacuum { .. }
        )
    }
}
