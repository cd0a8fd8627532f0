//! Recipes: how each unsafe operation becomes expand / backfill / contract steps.
//!
//! A recipe emits [`Draft`]s: steps with a local key, a phase, and the keys of the drafts
//! they must follow. [`super::graph`] turns drafts into the ordered plan. Operations that
//! are already safe pass through with their original text.

use super::backfill::{self, BackfillOperation, BackfillRequest, BackfillSpec, BackfillTuning};
use super::quote::{derived_name, dollar_quote, ident, idents, literal, obj};
use super::{Phase, PlanError, RetryPolicy, StepKind, StepLock, sqlast};
use crate::catalog::{self, Catalog};
use crate::locks::{self, LockMode};
use crate::ops::{ColumnDef, Constraint, ConstraintKind, ObjName, Op};
use std::collections::HashSet;

mod add_column;
mod change_type;
mod constraint;
mod data_migration;
mod drop_column;
mod index;
pub mod key_swap;
mod not_null;
mod rename_column;
mod rename_table;
pub mod session;
use add_column::*;
use change_type::*;
use constraint::*;
use data_migration::*;
use drop_column::*;
pub use index::invalid_index_cleanup;
use index::*;
use not_null::*;
use rename_column::*;
use rename_table::*;

/// Timeouts and pacing shared by all recipes.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub lock_timeout_ms: u64,
    pub retry: RetryPolicy,
    pub backfill: BackfillTuning,
    pub pg_version: u32,
}

/// A step before ordering.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Unique within the plan: `s<statement>.<n>`.
    pub key: String,
    pub phase: Phase,
    pub kind: StepKind,
    pub title: String,
    pub statements: Vec<String>,
    pub transactional: bool,
    pub locks: Vec<StepLock>,
    pub lock_timeout_ms: Option<u64>,
    pub retry: Option<RetryPolicy>,
    pub requires_deploy: Option<String>,
    pub backfill: Option<BackfillSpec>,
    pub notes: Vec<String>,
    /// 1-based statement of the original migration.
    pub statement: usize,
    /// Keys of drafts that must run first.
    pub after: Vec<String>,
    /// Tables the step touches (statement order is kept between steps on one table).
    pub tables: Vec<ObjName>,
    /// The step may read tables it does not name (INSERT … SELECT, views, DO blocks): it
    /// keeps its place after every earlier statement's steps.
    pub barrier: bool,
}

/// What earlier statements of the migration leave for later ones.
#[derive(Debug, Default)]
pub struct MigrationState {
    /// Session settings in effect (`SET timezone = 'UTC'`): every later step sets them and
    /// resets them at its end.
    pub session: Vec<session::SessionSetting>,
    /// Key constraints this migration drops and replaces: dropped in the transaction that
    /// promotes the replacement (see [`key_swap`]).
    pub key_swaps: Vec<key_swap::KeySwap>,
    /// Data migrations planned as backfills, for later statements that depend on them.
    pub backfilled: Vec<Backfilled>,
    /// Notes for the whole plan.
    pub notes: Vec<String>,
}

/// A data migration (`UPDATE t SET c = …`) that the plan runs as a backfill.
#[derive(Debug, Clone)]
pub struct Backfilled {
    pub table: ObjName,
    /// The columns it assigns (as PostgreSQL names them: unquoted ones folded to lower case).
    pub columns: Vec<String>,
    /// The statement as written, and its operation.
    pub text: String,
    pub op: Op,
    /// 1-based statement of the original migration.
    pub statement: usize,
}

impl MigrationState {
    fn note_once(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// The recipe context for one statement.
struct Cx<'a> {
    catalog: &'a Catalog,
    text: &'a str,
    statement: usize,
    tuning: &'a Tuning,
    migration: &'a str,
    created_here: &'a HashSet<ObjName>,
    state: &'a mut MigrationState,
    /// The statement has several commands (a multi-command ALTER TABLE): a recipe for one
    /// of them must not pass the whole statement's text through.
    multi: bool,
    out: Vec<Draft>,
    seq: usize,
}

impl Cx<'_> {
    fn next_key(&mut self) -> String {
        self.seq += 1;
        format!("s{}.{}", self.statement, self.seq)
    }

    fn set_lock_timeout(&self) -> String {
        format!("SET lock_timeout = '{}ms';", self.tuning.lock_timeout_ms)
    }

    /// `statements` between the migration's session settings and their reset, so a step
    /// behaves as its statement did in the original migration and leaves nothing behind.
    fn with_session(&self, statements: Vec<String>) -> Vec<String> {
        if self.state.session.is_empty() {
            return statements;
        }
        let mut out: Vec<String> = self.state.session.iter().map(|s| s.set_sql()).collect();
        out.extend(statements);
        out.extend(self.state.session.iter().rev().map(|s| s.reset_sql()));
        out
    }

    /// `SET` clauses for a function the plan creates, so it runs with the migration's
    /// settings in whichever session fires it (a trigger runs in the application's).
    fn function_settings(&self) -> String {
        self.state
            .session
            .iter()
            .filter(|s| s.fits_function())
            .map(|s| format!(" SET {} = {}", s.name, s.value))
            .collect()
    }

    /// A transactional DDL step under `lock_timeout` with the standard retry.
    #[allow(clippy::too_many_arguments)]
    fn ddl(
        &mut self,
        phase: Phase,
        title: String,
        statements: Vec<String>,
        table: &ObjName,
        mode: LockMode,
        duration: &str,
        after: &[String],
    ) -> String {
        let key = self.next_key();
        let mut stmts = vec![self.set_lock_timeout()];
        stmts.extend(self.with_session(statements));
        self.out.push(Draft {
            key: key.clone(),
            phase,
            kind: StepKind::Sql,
            title,
            statements: stmts,
            transactional: true,
            locks: vec![StepLock::new(table, mode, duration)],
            lock_timeout_ms: Some(self.tuning.lock_timeout_ms),
            retry: Some(self.tuning.retry.clone()),
            requires_deploy: None,
            backfill: None,
            notes: Vec::new(),
            statement: self.statement,
            after: after.to_vec(),
            tables: vec![table.clone()],
            barrier: false,
        });
        key
    }

    /// A single statement that must run outside a transaction (CONCURRENTLY). Its waits
    /// never block the application, so it runs without a lock_timeout; on failure the
    /// cleanup step before it is re-run, then the step.
    fn concurrent(
        &mut self,
        phase: Phase,
        title: String,
        statement: String,
        table: &ObjName,
        after: &[String],
    ) -> String {
        let key = self.next_key();
        self.out.push(Draft {
            key: key.clone(),
            phase,
            kind: StepKind::Sql,
            title,
            statements: vec!["SET lock_timeout = 0;".into(), statement],
            transactional: false,
            locks: vec![StepLock::new(
                table,
                LockMode::ShareUpdateExclusive,
                "whole build, reads and writes continue",
            )],
            lock_timeout_ms: Some(0),
            retry: Some(RetryPolicy {
                attempts: 3,
                initial_backoff_ms: 60_000,
                max_backoff_ms: 600_000,
            }),
            requires_deploy: None,
            backfill: None,
            notes: Vec::new(),
            statement: self.statement,
            after: after.to_vec(),
            tables: vec![table.clone()],
            barrier: false,
        });
        key
    }

    fn deploy(&mut self, before: Phase, what: String, after: &[String]) -> String {
        let key = self.next_key();
        self.out.push(Draft {
            key: key.clone(),
            phase: before,
            kind: StepKind::Deploy,
            title: what,
            statements: Vec::new(),
            transactional: false,
            locks: Vec::new(),
            lock_timeout_ms: None,
            retry: None,
            requires_deploy: None,
            backfill: None,
            notes: Vec::new(),
            statement: self.statement,
            after: after.to_vec(),
            tables: Vec::new(),
            barrier: false,
        });
        key
    }

    /// Marks the draft `key` as needing deploy `deploy` (by its text).
    fn requires(&mut self, key: &str, deploy_key: &str) {
        let text = self
            .out
            .iter()
            .find(|d| d.key == deploy_key)
            .map(|d| d.title.clone());
        if let Some(d) = self.out.iter_mut().find(|d| d.key == key) {
            d.requires_deploy = text;
            if !d.after.iter().any(|a| a == deploy_key) {
                d.after.push(deploy_key.to_string());
            }
        }
    }

    fn note(&mut self, key: &str, note: String) {
        if let Some(d) = self.out.iter_mut().find(|d| d.key == key) {
            d.notes.push(note);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn backfill(
        &mut self,
        table: &ObjName,
        purpose: &str,
        operation: BackfillOperation,
        set: Option<String>,
        predicate: String,
        dml: String,
        after: &[String],
    ) -> Result<String, PlanError> {
        let key_cols = backfill::choose_key(self.catalog, table)?;
        let qualifier = ident(&table.name);
        let key_sql = key_cols
            .iter()
            .map(|k| format!("{qualifier}.{}", ident(&k.name)))
            .collect::<Vec<_>>()
            .join(", ");
        let dml = dml.replace("{KEY}", &key_sql);
        let spec = BackfillSpec::new(BackfillRequest {
            job: format!("{}/{}/{}", self.migration, table.qualified(), purpose),
            table,
            key: key_cols,
            operation,
            set,
            predicate,
            dml,
            tuning: &self.tuning.backfill,
            lock_timeout_ms: self.tuning.lock_timeout_ms,
        });
        Ok(self.push_backfill(spec, table, after))
    }

    fn push_backfill(&mut self, spec: BackfillSpec, table: &ObjName, after: &[String]) -> String {
        let key = self.next_key();
        self.out.push(Draft {
            key: key.clone(),
            phase: Phase::Backfill,
            kind: StepKind::Backfill,
            title: format!("backfill: {}", spec.describe()),
            statements: self.with_session(spec.psql_statements()),
            transactional: false,
            locks: vec![StepLock::new(
                table,
                LockMode::RowExclusive,
                "row locks on one batch at a time, one short transaction per batch",
            )],
            lock_timeout_ms: Some(self.tuning.lock_timeout_ms),
            retry: Some(self.tuning.retry.clone()),
            requires_deploy: None,
            backfill: Some(spec),
            notes: Vec::new(),
            statement: self.statement,
            after: after.to_vec(),
            tables: vec![table.clone()],
            barrier: false,
        });
        key
    }

    /// The original statement, unchanged, as one step.
    fn pass_through(&mut self, ops: &[Op], why: Option<String>) -> String {
        let mut lock_list: Vec<StepLock> = Vec::new();
        let mut blocking: Vec<String> = Vec::new();
        let mut tables = Vec::new();
        for op in ops {
            for f in locks::facts(op, self.catalog, self.tuning.pg_version) {
                if self.created_here.contains(&f.table) {
                    continue;
                }
                let duration = if f.rewrite {
                    "rewrites the table"
                } else if f.scan {
                    "reads every row"
                } else {
                    "instant (catalog only)"
                };
                let lock = StepLock::new(&f.table, f.mode, duration);
                // One line per lock: a multi-command statement repeats the same fact.
                if !lock_list.contains(&lock) {
                    lock_list.push(lock);
                }
                // A pass-through that rewrites or reads a table in use under a lock that
                // stops writes has no online recipe here: say so rather than let the plan
                // look zero-downtime (temporal's stored generated columns in plan_corpus).
                if (f.rewrite || f.scan) && f.mode >= LockMode::Share && why.is_none() {
                    let what = if f.rewrite {
                        "rewrites"
                    } else {
                        "reads every row of"
                    };
                    let note = format!(
                        "no online recipe: this statement {what} {} under {}, so writes to it \
                         wait until it finishes; run it while the table is small or in a \
                         maintenance window",
                        obj(&f.table),
                        f.mode.as_str()
                    );
                    if !blocking.contains(&note) {
                        blocking.push(note);
                    }
                }
            }
            if let Some(t) = op.table() {
                tables.push(t.clone());
            }
        }
        let no_tx = ops.iter().any(Op::needs_no_transaction);
        let strong = lock_list
            .iter()
            .any(|l| LockMode::parse(&l.mode).is_some_and(|m| m >= LockMode::ShareUpdateExclusive));
        let mut statements = Vec::new();
        let timeout = if strong && !no_tx {
            statements.push(self.set_lock_timeout());
            Some(self.tuning.lock_timeout_ms)
        } else if no_tx {
            statements.push("SET lock_timeout = 0;".into());
            Some(0)
        } else {
            None
        };
        let original = vec![format!("{};", self.text.trim_end_matches(';').trim_end())];
        if no_tx {
            statements.extend(original);
        } else {
            statements.extend(self.with_session(original));
        }
        let key = self.next_key();
        self.out.push(Draft {
            key: key.clone(),
            phase: Phase::Expand,
            kind: StepKind::Sql,
            title: first_line(self.text),
            statements,
            transactional: !no_tx,
            locks: lock_list,
            lock_timeout_ms: timeout,
            retry: timeout
                .filter(|t| *t > 0)
                .map(|_| self.tuning.retry.clone()),
            requires_deploy: None,
            backfill: None,
            notes: why.into_iter().chain(blocking).collect(),
            statement: self.statement,
            after: Vec::new(),
            tables,
            barrier: ops.iter().any(reads_unnamed_tables),
        });
        key
    }
}

/// Operations that may read tables other than the one they name.
fn reads_unnamed_tables(op: &Op) -> bool {
    matches!(
        op,
        Op::Update { .. }
            | Op::Delete { .. }
            | Op::Insert { .. }
            | Op::CreateTable {
                as_select: true,
                ..
            }
            | Op::CreateView { .. }
            | Op::DoBlock { .. }
            | Op::Other { .. }
    )
}

fn first_line(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 100 {
        format!("{}…", one.chars().take(99).collect::<String>())
    } else {
        one
    }
}

/// Plans one statement of the migration.
#[allow(clippy::too_many_arguments)]
pub fn plan_statement(
    catalog: &Catalog,
    text: &str,
    ops: &[Op],
    statement: usize,
    tuning: &Tuning,
    migration: &str,
    created_here: &HashSet<ObjName>,
    state: &mut MigrationState,
) -> Result<Vec<Draft>, PlanError> {
    let mut cx = Cx {
        catalog,
        text,
        statement,
        tuning,
        migration,
        created_here,
        state,
        multi: ops.len() > 1,
        out: Vec::new(),
        seq: 0,
    };
    if ops.is_empty() {
        cx.pass_through(ops, None);
        return Ok(cx.out);
    }
    if ops.iter().all(super::is_session_control) {
        cx.state.note_once(
            "transaction control and timeouts of the original migration are left out: \
             every step sets its own lock_timeout and says whether it may run in a transaction"
                .to_string(),
        );
        return Ok(cx.out);
    }
    if ops
        .iter()
        .all(|op| matches!(op, Op::Set { .. } | Op::SetTimeZone { .. }))
        && let Some(change) = session::read(text)
    {
        session::apply(&mut cx.state.session, change);
        cx.state.note_once(
            "session settings of the original migration (SET …) are applied by every step \
             that follows them, and reset at the end of that step; functions the plan creates \
             carry them as SET clauses"
                .to_string(),
        );
        return Ok(cx.out);
    }
    if ops.len() == 1 && is_swapped_drop(cx.state, &ops[0]) {
        cx.state.note_once(
            "a key constraint the migration replaces is dropped in the same short transaction \
             that promotes its replacement, so the table always has a key"
                .to_string(),
        );
        return Ok(cx.out);
    }
    let needs: Vec<bool> = ops.iter().map(|op| needs_recipe(&cx, op)).collect();
    if !needs.iter().any(|n| *n) {
        cx.pass_through(ops, None);
        return Ok(cx.out);
    }
    if ops.len() > 1 {
        // Split a multi-command ALTER TABLE: each command becomes its own recipe or step.
        let rendered: Option<Vec<String>> = ops
            .iter()
            .zip(&needs)
            .map(|(op, n)| {
                if *n {
                    Some(String::new())
                } else {
                    render_alter(op)
                }
            })
            .collect();
        let Some(rendered) = rendered else {
            cx.pass_through(
                ops,
                Some("this statement mixes commands lockstep cannot split; split it by hand to plan it".into()),
            );
            return Ok(cx.out);
        };
        for ((op, n), sql) in ops.iter().zip(&needs).zip(rendered) {
            if *n {
                recipe(&mut cx, op)?;
            } else if is_swapped_drop(cx.state, op) {
                // Dropped by the promote step of its replacement.
            } else if let Some(t) = op.table() {
                let facts = locks::facts(op, catalog, tuning.pg_version);
                let mode = facts
                    .iter()
                    .map(|f| f.mode)
                    .max()
                    .unwrap_or(LockMode::AccessExclusive);
                cx.ddl(
                    Phase::Expand,
                    sql.clone(),
                    vec![sql],
                    t,
                    mode,
                    "instant (catalog only)",
                    &[],
                );
            }
        }
        return Ok(cx.out);
    }
    recipe(&mut cx, &ops[0])?;
    Ok(cx.out)
}

/// A DROP CONSTRAINT of a key that a later operation of the migration replaces.
fn is_swapped_drop(state: &MigrationState, op: &Op) -> bool {
    matches!(op, Op::DropConstraint { table, name, .. }
        if state.key_swaps.iter().any(|s| &s.table == table && &s.dropped == name))
}

/// Whether `op` needs a recipe rather than running as written.
fn needs_recipe(cx: &Cx<'_>, op: &Op) -> bool {
    // A table created by this migration is not in use yet: anything goes, except that
    // filling it from an existing table is still one long transaction worth batching.
    let fills_from_existing = matches!(
        op,
        Op::Insert {
            from_select: true,
            ..
        }
    );
    if !fills_from_existing && op.table().is_some_and(|t| cx.created_here.contains(t)) {
        return false;
    }
    match op {
        Op::AddColumn { column, .. } => {
            column.default.as_ref().is_some_and(|d| d.volatile)
                || (column.not_null && column.default.is_none())
                || column.constraints.iter().any(|c| !c.not_valid)
        }
        Op::SetNotNull { table, column } => !cx
            .catalog
            .table(table)
            .is_some_and(|t| t.has_valid_not_null_check(column)),
        Op::AlterColumnType { .. } => locks::facts(op, cx.catalog, cx.tuning.pg_version)
            .iter()
            .any(|f| f.rewrite || f.scan),
        Op::RenameColumn { .. } | Op::RenameTable { .. } => true,
        Op::AddConstraint { table, constraint } => match &constraint.kind {
            // Even NOT VALID: over a column this migration backfilled it needs a deploy
            // point and a catch-up first (`check_on_backfilled`).
            ConstraintKind::Check { .. } => {
                !constraint.not_valid
                    || !backfilled_in_check(cx, table, &constraint.kind).is_empty()
            }
            ConstraintKind::ForeignKey(_) => !constraint.not_valid,
            ConstraintKind::PrimaryKey { using_index, .. }
            | ConstraintKind::Unique { using_index, .. } => using_index.is_none(),
            ConstraintKind::NotNull { .. } => true,
            ConstraintKind::Exclusion => false,
        },
        Op::CreateIndex { .. } | Op::DropIndex { .. } => true,
        Op::DropColumn { .. } | Op::DropTable { .. } => true,
        Op::Update { selective, .. } | Op::Delete { selective, .. } => !selective,
        Op::Insert { from_select, .. } => *from_select,
        _ => false,
    }
}

/// SQL for one safe ALTER TABLE command split out of a multi-command statement.
fn render_alter(op: &Op) -> Option<String> {
    let at = |t: &ObjName, rest: String| Some(format!("ALTER TABLE {} {rest};", obj(t)));
    match op {
        Op::AddColumn {
            table,
            column,
            if_not_exists,
        } => at(
            table,
            format!(
                "ADD COLUMN {}{}",
                if *if_not_exists { "IF NOT EXISTS " } else { "" },
                column_sql(column, true)
            ),
        ),
        Op::DropNotNull { table, column } => at(
            table,
            format!("ALTER COLUMN {} DROP NOT NULL", ident(column)),
        ),
        Op::SetDefault {
            table,
            column,
            default,
        } => at(
            table,
            format!("ALTER COLUMN {} SET DEFAULT {}", ident(column), default.sql),
        ),
        Op::DropDefault { table, column } => at(
            table,
            format!("ALTER COLUMN {} DROP DEFAULT", ident(column)),
        ),
        Op::AlterColumnType {
            table,
            column,
            ty,
            using,
            ..
        } => at(
            table,
            format!(
                "ALTER COLUMN {} TYPE {ty}{}",
                ident(column),
                using
                    .as_ref()
                    .map(|u| format!(" USING {u}"))
                    .unwrap_or_default()
            ),
        ),
        Op::AddConstraint { table, constraint } => {
            let name = constraint
                .name
                .as_ref()
                .map(|n| format!("CONSTRAINT {} ", ident(n)))
                .unwrap_or_default();
            let body = constraint_body(&constraint.kind, "")?;
            let nv = if constraint.not_valid {
                " NOT VALID"
            } else {
                ""
            };
            at(table, format!("ADD {name}{body}{nv}"))
        }
        Op::ValidateConstraint { table, name } => {
            at(table, format!("VALIDATE CONSTRAINT {}", ident(name)))
        }
        Op::DropConstraint {
            table,
            name,
            if_exists,
            cascade,
        } => at(
            table,
            format!(
                "DROP CONSTRAINT {}{}{}",
                if *if_exists { "IF EXISTS " } else { "" },
                ident(name),
                if *cascade { " CASCADE" } else { "" }
            ),
        ),
        _ => None,
    }
}

/// `CHECK (…)`, `FOREIGN KEY (…) REFERENCES …`, `UNIQUE (…)`, `PRIMARY KEY (…)`.
fn constraint_body(kind: &ConstraintKind, fk_tail: &str) -> Option<String> {
    Some(match kind {
        ConstraintKind::Check { expr } => format!("CHECK ({expr})"),
        ConstraintKind::ForeignKey(fk) => format!(
            "FOREIGN KEY ({}) REFERENCES {}{}{fk_tail}",
            idents(&fk.columns),
            obj(&fk.ref_table),
            if fk.ref_columns.is_empty() {
                String::new()
            } else {
                format!(" ({})", idents(&fk.ref_columns))
            }
        ),
        ConstraintKind::Unique { columns, .. } => format!("UNIQUE ({})", idents(columns)),
        ConstraintKind::PrimaryKey { columns, .. } => format!("PRIMARY KEY ({})", idents(columns)),
        ConstraintKind::NotNull { .. } | ConstraintKind::Exclusion => return None,
    })
}

/// `name type [DEFAULT …] [NOT NULL]` (constraints left out; they get their own steps).
fn column_sql(c: &ColumnDef, with_not_null: bool) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.ty);
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {}", d.sql));
    }
    if with_not_null && c.not_null {
        s.push_str(" NOT NULL");
    }
    s
}

fn recipe(cx: &mut Cx<'_>, op: &Op) -> Result<(), PlanError> {
    match op {
        Op::AddColumn {
            table,
            column,
            if_not_exists,
        } => add_column(cx, table, column, *if_not_exists),
        Op::SetNotNull { table, column } => set_not_null(cx, table, column),
        Op::AddConstraint {
            constraint:
                Constraint {
                    kind: ConstraintKind::NotNull { column },
                    ..
                },
            table,
        } => set_not_null(cx, table, column),
        Op::AddConstraint { table, constraint } => {
            let fills = backfilled_in_check(cx, table, &constraint.kind);
            if !fills.is_empty() {
                return check_on_backfilled(cx, table, constraint, fills);
            }
            add_constraint(cx, table, constraint, Phase::Expand, &[]);
            Ok(())
        }
        Op::AlterColumnType {
            table,
            column,
            ty,
            using,
            ..
        } => change_type(cx, op, table, column, &ty.0, using.as_deref()),
        Op::RenameColumn {
            table,
            column,
            new_name,
        } => rename_column(cx, op, table, column, new_name),
        Op::RenameTable { table, new_name } => {
            rename_table(cx, table, new_name);
            Ok(())
        }
        Op::CreateIndex {
            name,
            table,
            columns,
            concurrently,
            ..
        } => {
            create_index(cx, name.as_ref(), table, columns, *concurrently);
            Ok(())
        }
        Op::DropIndex {
            name,
            concurrently,
            if_exists,
        } => {
            drop_index(cx, op, name, *concurrently, *if_exists);
            Ok(())
        }
        Op::DropColumn { table, column, .. } => {
            drop_column(cx, op, table, column);
            Ok(())
        }
        Op::DropTable {
            table,
            if_exists,
            cascade,
        } => {
            let d = cx.deploy(
                Phase::Contract,
                format!("the application no longer reads or writes {}", obj(table)),
                &[],
            );
            let k = if cx.multi {
                // `DROP TABLE a, b`: one step per table, not the whole text once per table.
                cx.ddl(
                    Phase::Contract,
                    format!("drop table {}", obj(table)),
                    vec![format!(
                        "DROP TABLE {}{}{};",
                        if *if_exists { "IF EXISTS " } else { "" },
                        obj(table),
                        if *cascade { " CASCADE" } else { "" }
                    )],
                    table,
                    LockMode::AccessExclusive,
                    "instant (catalog only)",
                    std::slice::from_ref(&d),
                )
            } else {
                let k = cx.pass_through(std::slice::from_ref(op), None);
                set_phase(cx, &k, Phase::Contract);
                k
            };
            cx.requires(&k, &d);
            Ok(())
        }
        Op::Update { .. } | Op::Delete { .. } | Op::Insert { .. } => data_migration(cx, op),
        _ => {
            cx.pass_through(std::slice::from_ref(op), None);
            Ok(())
        }
    }
}

fn set_phase(cx: &mut Cx<'_>, key: &str, phase: Phase) {
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == key) {
        d.phase = phase;
    }
}
