//! Recipes: how each unsafe operation becomes expand / backfill / contract steps.
//!
//! A recipe emits [`Draft`]s: steps with a local key, a phase, and the keys of the drafts
//! they must follow. [`super::graph`] turns drafts into the ordered plan. Operations that
//! are already safe pass through with their original text.

use super::backfill::{self, BackfillOperation, BackfillRequest, BackfillSpec, BackfillTuning};
use super::quote::{derived_name, ident, idents, literal, obj};
use super::{Phase, PlanError, RetryPolicy, StepKind, StepLock, sqlast};
use crate::catalog::{self, Catalog};
use crate::locks::{self, LockMode};
use crate::ops::{ColumnDef, Constraint, ConstraintKind, ObjName, Op};
use std::collections::HashSet;

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

/// The recipe context for one statement.
struct Cx<'a> {
    catalog: &'a Catalog,
    text: &'a str,
    statement: usize,
    tuning: &'a Tuning,
    migration: &'a str,
    created_here: &'a HashSet<ObjName>,
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
        stmts.extend(statements);
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
            statements: spec.psql_statements(),
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
                lock_list.push(StepLock::new(&f.table, f.mode, duration));
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
        statements.push(format!("{};", self.text.trim_end_matches(';').trim_end()));
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
            notes: why.into_iter().collect(),
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
    notes: &mut Vec<String>,
) -> Result<Vec<Draft>, PlanError> {
    let mut cx = Cx {
        catalog,
        text,
        statement,
        tuning,
        migration,
        created_here,
        out: Vec::new(),
        seq: 0,
    };
    if ops.is_empty() {
        cx.pass_through(ops, None);
        return Ok(cx.out);
    }
    if ops.iter().all(super::is_session_control) {
        let note = "transaction control and timeouts of the original migration are left out: \
                    every step sets its own lock_timeout and says whether it may run in a transaction"
            .to_string();
        if !notes.contains(&note) {
            notes.push(note);
        }
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
        Op::AddConstraint { constraint, .. } => match &constraint.kind {
            ConstraintKind::Check { .. } | ConstraintKind::ForeignKey(_) => !constraint.not_valid,
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
        Op::SetNotNull { table, column } => {
            not_null_dance(cx, table, column, Phase::Expand, &[]);
            Ok(())
        }
        Op::AddConstraint {
            constraint:
                Constraint {
                    kind: ConstraintKind::NotNull { column },
                    ..
                },
            table,
        } => {
            not_null_dance(cx, table, column, Phase::Expand, &[]);
            Ok(())
        }
        Op::AddConstraint { table, constraint } => {
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
        Op::DropTable { table, .. } => {
            let d = cx.deploy(
                Phase::Contract,
                format!("the application no longer reads or writes {}", obj(table)),
                &[],
            );
            let k = cx.pass_through(std::slice::from_ref(op), None);
            set_phase(cx, &k, Phase::Contract);
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

/// ADD COLUMN with a volatile default or NOT NULL: nullable add, default, backfill, then
/// the CHECK dance, then the column's own constraints (NOT VALID, VALIDATE).
fn add_column(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &ColumnDef,
    if_not_exists: bool,
) -> Result<(), PlanError> {
    let t = obj(table);
    let c = ident(&column.name);
    let volatile = column.default.as_ref().filter(|d| d.volatile);
    let mut base = column.clone();
    base.not_null = false;
    if volatile.is_some() {
        base.default = None;
    }
    let mut stmts = vec![format!(
        "ALTER TABLE {t} ADD COLUMN {}{};",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        column_sql(&base, false)
    )];
    if let Some(d) = volatile {
        // SET DEFAULT applies to new rows only: no rewrite, unlike ADD COLUMN … DEFAULT.
        stmts.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {};",
            d.sql
        ));
    }
    let add = cx.ddl(
        Phase::Expand,
        format!("add {t}.{c} as a nullable column"),
        stmts,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    let mut last = vec![add.clone()];
    if let Some(d) = volatile {
        let set = format!("{c} = {}", d.sql);
        let predicate = format!("{c} IS NULL");
        let dml = format!(
            "UPDATE {t} SET {set} WHERE ({predicate}) AND ({{KEY}}) {} RETURNING 1",
            backfill::IN_BATCH_MARKER
        );
        let b = cx.backfill(
            table,
            &column.name,
            BackfillOperation::Update,
            Some(set),
            predicate,
            dml,
            &last,
        )?;
        last = vec![b];
    } else if column.not_null && column.default.is_none() {
        let d = cx.deploy(
            Phase::Backfill,
            format!("the application writes {t}.{c} on every insert"),
            &last,
        );
        cx.note(
            &add,
            format!(
                "{c} has no default: existing rows stay NULL until you give them a value \
                 (the original statement fails on a non-empty table); write that UPDATE as a \
                 data migration before the NOT NULL steps"
            ),
        );
        last = vec![d];
    }
    if column.not_null {
        let k = not_null_dance(cx, table, &column.name, Phase::Contract, &last);
        last = vec![k];
    }
    for con in &column.constraints {
        let mut con = con.clone();
        if let ConstraintKind::NotNull { .. } = con.kind {
            continue;
        }
        if matches!(con.kind, ConstraintKind::Check { .. }) && con.name.is_none() {
            con.name = Some(check_name(cx.catalog, table, &con.kind, Some(&column.name)));
        }
        let phase = if volatile.is_some() {
            Phase::Contract
        } else {
            Phase::Expand
        };
        add_constraint(cx, table, &con, phase, &last);
    }
    Ok(())
}

/// PostgreSQL's name for an unnamed CHECK: `<table>_<first column>_check`.
fn check_name(
    catalog: &Catalog,
    table: &ObjName,
    kind: &ConstraintKind,
    column: Option<&str>,
) -> String {
    let ConstraintKind::Check { expr } = kind else {
        return catalog::default_constraint_name(table, kind);
    };
    let first = column.map(str::to_string).or_else(|| {
        let t = catalog.table(table)?;
        expr.split(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '"'))
            .map(|w| w.trim_matches('"'))
            .find(|w| t.column(w).is_some())
            .map(str::to_string)
    });
    match first {
        Some(c) => derived_name(&[&table.name, &c], "check"),
        None => derived_name(&[&table.name], "check"),
    }
}

/// CHECK (c IS NOT NULL) NOT VALID → VALIDATE → SET NOT NULL + DROP CHECK. Returns the
/// key of the last step.
fn not_null_dance(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &str,
    phase: Phase,
    after: &[String],
) -> String {
    let t = obj(table);
    let c = ident(column);
    let chk = ident(&derived_name(&[&table.name, column], "nn_check"));
    let a = cx.ddl(
        phase,
        format!("add CHECK ({c} IS NOT NULL) NOT VALID on {t}"),
        vec![format!(
            "ALTER TABLE {t} ADD CONSTRAINT {chk} CHECK ({c} IS NOT NULL) NOT VALID;"
        )],
        table,
        LockMode::AccessExclusive,
        "instant (no rows read)",
        after,
    );
    let v = cx.ddl(
        phase,
        format!("validate {chk}: reads every row, writes continue"),
        vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {chk};")],
        table,
        LockMode::ShareUpdateExclusive,
        "whole scan, reads and writes continue",
        &[a],
    );
    cx.ddl(
        phase,
        format!("SET NOT NULL on {t}.{c} (instant: uses the validated check), drop the check"),
        vec![
            format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"),
            format!("ALTER TABLE {t} DROP CONSTRAINT {chk};"),
        ],
        table,
        LockMode::AccessExclusive,
        "instant (the validated check proves no NULLs)",
        &[v],
    )
}

/// CHECK / FOREIGN KEY: NOT VALID, then VALIDATE in its own transaction.
/// UNIQUE / PRIMARY KEY: unique index CONCURRENTLY, then ADD CONSTRAINT … USING INDEX.
fn add_constraint(
    cx: &mut Cx<'_>,
    table: &ObjName,
    constraint: &Constraint,
    phase: Phase,
    after: &[String],
) {
    let t = obj(table);
    match &constraint.kind {
        ConstraintKind::Check { .. } | ConstraintKind::ForeignKey(_) => {
            let name = constraint
                .name
                .clone()
                .unwrap_or_else(|| check_name(cx.catalog, table, &constraint.kind, None));
            let tail = match &constraint.kind {
                ConstraintKind::ForeignKey(fk) => sqlast::fk_tail(cx.text, fk),
                _ => String::new(),
            };
            let Some(body) = constraint_body(&constraint.kind, &tail) else {
                return;
            };
            let n = ident(&name);
            let (mode, ref_table) = match &constraint.kind {
                ConstraintKind::ForeignKey(fk) => {
                    (LockMode::ShareRowExclusive, Some(&fk.ref_table))
                }
                _ => (LockMode::AccessExclusive, None),
            };
            let a = cx.ddl(
                phase,
                format!("add constraint {n} NOT VALID (checks new rows only)"),
                vec![format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {n} {body} NOT VALID;"
                )],
                table,
                mode,
                "instant (no rows read)",
                after,
            );
            let v = cx.ddl(
                phase,
                format!("validate {n}: reads every row, writes continue"),
                vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {n};")],
                table,
                LockMode::ShareUpdateExclusive,
                "whole scan, reads and writes continue",
                std::slice::from_ref(&a),
            );
            if let Some(r) = ref_table {
                for k in [&a, &v] {
                    if let Some(d) = cx.out.iter_mut().find(|d| &d.key == k) {
                        let (m, what) = if *k == a {
                            (LockMode::ShareRowExclusive, "instant (no rows read)")
                        } else {
                            (LockMode::RowShare, "while validating")
                        };
                        d.locks.push(StepLock::new(r, m, what));
                        d.tables.push(r.clone());
                    }
                }
            }
        }
        ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } => {
            let pk = matches!(constraint.kind, ConstraintKind::PrimaryKey { .. });
            let name = constraint
                .name
                .clone()
                .unwrap_or_else(|| catalog::default_constraint_name(table, &constraint.kind));
            let idx = ObjName::new(table.schema.clone(), name.clone());
            let build = build_index(
                cx,
                phase,
                &idx,
                table,
                &format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY {} ON {t} ({});",
                    ident(&name),
                    idents(columns)
                ),
                after,
            );
            let mut last = vec![build];
            let mut checks = Vec::new();
            if pk {
                // ADD PRIMARY KEY makes the columns NOT NULL: prove it with validated
                // checks first so that step does not scan under ACCESS EXCLUSIVE.
                for col in columns {
                    let nullable = !cx.catalog.column(table, col).is_some_and(|c| c.not_null);
                    if nullable {
                        let chk = ident(&derived_name(&[&table.name, col], "nn_check"));
                        let a = cx.ddl(
                            phase,
                            format!("add CHECK ({} IS NOT NULL) NOT VALID on {t}", ident(col)),
                            vec![format!(
                                "ALTER TABLE {t} ADD CONSTRAINT {chk} CHECK ({} IS NOT NULL) NOT VALID;",
                                ident(col)
                            )],
                            table,
                            LockMode::AccessExclusive,
                            "instant (no rows read)",
                            &last,
                        );
                        let v = cx.ddl(
                            phase,
                            format!("validate {chk}: reads every row, writes continue"),
                            vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {chk};")],
                            table,
                            LockMode::ShareUpdateExclusive,
                            "whole scan, reads and writes continue",
                            &[a],
                        );
                        last = vec![v];
                        checks.push(chk);
                    }
                }
            }
            let mut stmts = vec![format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} {} USING INDEX {};",
                ident(&name),
                if pk { "PRIMARY KEY" } else { "UNIQUE" },
                ident(&name)
            )];
            for chk in &checks {
                stmts.push(format!("ALTER TABLE {t} DROP CONSTRAINT {chk};"));
            }
            cx.ddl(
                phase,
                format!(
                    "promote index {} to the {} constraint",
                    ident(&name),
                    if pk { "primary key" } else { "unique" }
                ),
                stmts,
                table,
                LockMode::AccessExclusive,
                "instant (uses the built index)",
                &last,
            );
        }
        ConstraintKind::NotNull { column } => {
            not_null_dance(cx, table, column, phase, after);
        }
        ConstraintKind::Exclusion => {}
    }
}

/// Cleanup of an INVALID leftover, then the CONCURRENTLY build. Returns the build's key.
fn build_index(
    cx: &mut Cx<'_>,
    phase: Phase,
    index: &ObjName,
    table: &ObjName,
    create_sql: &str,
    after: &[String],
) -> String {
    let cleanup = cx.ddl(
        phase,
        format!(
            "drop {} if a failed earlier build left it INVALID",
            obj(index)
        ),
        vec![invalid_index_cleanup(index)],
        table,
        LockMode::AccessExclusive,
        "instant, and only when an INVALID index is left over",
        after,
    );
    cx.concurrent(
        phase,
        format!(
            "build index {} on {} without blocking writes",
            obj(index),
            obj(table)
        ),
        create_sql.to_string(),
        table,
        &[cleanup],
    )
}

/// A DO block that drops `index` only when it exists and is INVALID (what a failed
/// CREATE INDEX CONCURRENTLY leaves behind), so a retry can rebuild it.
pub fn invalid_index_cleanup(index: &ObjName) -> String {
    let reg = literal(&obj(index));
    format!(
        "DO $lockstep$\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass({reg}) AND NOT indisvalid) THEN\n    EXECUTE {};\n  END IF;\nEND\n$lockstep$;",
        literal(&format!("DROP INDEX {}", obj(index)))
    )
}

fn create_index(
    cx: &mut Cx<'_>,
    name: Option<&ObjName>,
    table: &ObjName,
    columns: &[String],
    concurrently: bool,
) {
    let index = name.cloned().unwrap_or_else(|| {
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut parts = vec![table.name.as_str()];
        parts.extend(cols);
        ObjName::new(table.schema.clone(), derived_name(&parts, "idx"))
    });
    let sql = if concurrently {
        format!("{};", cx.text.trim_end_matches(';').trim_end())
    } else {
        concurrent_create_sql(
            cx.text,
            if name.is_none() {
                Some(&index.name)
            } else {
                None
            },
        )
    };
    build_index(cx, Phase::Expand, &index, table, &sql, &[]);
}

/// Inserts CONCURRENTLY (and a name, for an unnamed index) after the INDEX keyword.
fn concurrent_create_sql(text: &str, name: Option<&str>) -> String {
    let text = text.trim().trim_end_matches(';').trim_end();
    let lower = text.to_ascii_lowercase();
    let pos = find_word(&lower, "index").map(|p| p + "index".len());
    match pos {
        Some(p) => {
            let name_sql = name.map(|n| format!(" {}", ident(n))).unwrap_or_default();
            format!("{} CONCURRENTLY{name_sql}{};", &text[..p], &text[p..])
        }
        None => format!("{text};"),
    }
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_id = |c: char| c.is_alphanumeric() || c == '_';
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let at = start + pos;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_id) && !after.is_some_and(is_id) {
            return Some(at);
        }
        start = at + word.len();
    }
    None
}

fn drop_index(cx: &mut Cx<'_>, op: &Op, name: &ObjName, concurrently: bool, if_exists: bool) {
    let table = cx.catalog.index_table(name).cloned();
    // An index that backs a constraint cannot be dropped CONCURRENTLY.
    let backs_constraint = table.as_ref().is_some_and(|t| {
        cx.catalog
            .table(t)
            .is_some_and(|tt| tt.constraints.iter().any(|c| c.name == name.name))
    });
    if concurrently || backs_constraint {
        cx.pass_through(std::slice::from_ref(op), None);
        return;
    }
    let t = table.unwrap_or_else(|| name.clone());
    cx.concurrent(
        Phase::Contract,
        format!("drop index {} without blocking reads or writes", obj(name)),
        format!(
            "DROP INDEX CONCURRENTLY {}{};",
            if if_exists { "IF EXISTS " } else { "" },
            obj(name)
        ),
        &t,
        &[],
    );
    let key = cx.out.last().map(|d| d.key.clone()).unwrap_or_default();
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == key) {
        d.phase = Phase::Expand;
        d.locks = vec![StepLock::new(
            &t,
            LockMode::ShareUpdateExclusive,
            "waits for running queries, reads and writes continue",
        )];
    }
}

/// Indexes on `table` that use `column` and do not back a constraint.
fn plain_indexes_on(catalog: &Catalog, table: &ObjName, column: &str) -> Vec<catalog::Index> {
    let constraint_names: Vec<String> = catalog
        .table(table)
        .map(|t| t.constraints.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    catalog
        .indexes_on(table)
        .filter(|i| i.columns.iter().any(|c| c == column))
        .filter(|i| !constraint_names.contains(&i.name.name))
        .cloned()
        .collect()
}

/// The column is part of a constraint (key, check, foreign key) or referenced by one.
fn column_in_constraint(catalog: &Catalog, table: &ObjName, column: &str) -> bool {
    let own = catalog.table(table).is_some_and(|t| {
        t.constraints.iter().any(|c| {
            catalog::constraint_columns(&c.kind)
                .iter()
                .any(|x| x == column)
                || matches!(&c.kind, ConstraintKind::Check { expr } if expr.contains(column))
        })
    });
    let referenced = catalog.tables.values().any(|t| {
        t.foreign_keys()
            .any(|(_, fk)| &fk.ref_table == table && fk.ref_columns.iter().any(|c| c == column))
    });
    own || referenced
}

fn drop_column(cx: &mut Cx<'_>, op: &Op, table: &ObjName, column: &str) {
    let t = obj(table);
    let c = ident(column);
    let mut expand = Vec::new();
    if let Some(col) = cx.catalog.column(table, column)
        && col.not_null
        && col.default.is_none()
    {
        // The release that stops writing the column must still be able to insert.
        let k = cx.ddl(
            Phase::Expand,
            format!("allow NULL in {t}.{c} so the application can stop writing it"),
            vec![format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;")],
            table,
            LockMode::AccessExclusive,
            "instant (catalog only)",
            &[],
        );
        expand.push(k);
    }
    let d = cx.deploy(
        Phase::Contract,
        format!("the application no longer reads or writes {t}.{c}"),
        &expand,
    );
    let mut last = vec![d.clone()];
    let indexes: Vec<ObjName> = plain_indexes_on(cx.catalog, table, column)
        .iter()
        .map(|i| i.name.clone())
        .collect();
    for idx in indexes {
        let k = cx.concurrent(
            Phase::Contract,
            format!("drop index {} (uses {c}) without blocking", obj(&idx)),
            format!("DROP INDEX CONCURRENTLY IF EXISTS {};", obj(&idx)),
            table,
            &last,
        );
        cx.requires(&k, &d);
        last = vec![k];
    }
    let k = cx.pass_through(std::slice::from_ref(op), None);
    set_phase(cx, &k, Phase::Contract);
    if let Some(dr) = cx.out.iter_mut().find(|x| x.key == k) {
        dr.after = last;
    }
    cx.requires(&k, &d);
}

fn rename_table(cx: &mut Cx<'_>, table: &ObjName, new_name: &str) {
    let old = obj(table);
    let new = ObjName::new(table.schema.clone(), new_name.to_string());
    let new_sql = obj(&new);
    let k = cx.ddl(
        Phase::Expand,
        format!("rename {old} to {new_sql} and leave a view under the old name"),
        vec![
            format!("ALTER TABLE {old} RENAME TO {};", ident(new_name)),
            format!("CREATE VIEW {old} AS SELECT * FROM {new_sql};"),
        ],
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    cx.note(
        &k,
        format!(
            "the view is a simple one, so the running application keeps reading and writing \
             through {old} (INSERT/UPDATE/DELETE pass to {new_sql})"
        ),
    );
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == k) {
        d.tables.push(new.clone());
    }
    let d = cx.deploy(
        Phase::Contract,
        format!("the application uses {new_sql} instead of {old}"),
        &[k],
    );
    let c = cx.ddl(
        Phase::Contract,
        format!("drop the compatibility view {old}"),
        vec![format!("DROP VIEW {old};")],
        table,
        LockMode::AccessExclusive,
        "instant (the view only)",
        std::slice::from_ref(&d),
    );
    cx.requires(&c, &d);
}

/// A name for a helper column that does not exist in the table yet.
fn fresh_column(catalog: &Catalog, table: &ObjName, base: &str, suffix: &str) -> String {
    let mut name = derived_name(&[base], suffix);
    let mut n = 2;
    while catalog.column(table, &name).is_some() {
        name = derived_name(&[base], &format!("{suffix}{n}"));
        n += 1;
    }
    name
}

/// Recreate every plain index on `column` over `new_column`, concurrently; returns the
/// build keys and (built name, original name) pairs for the final rename.
fn rebuild_indexes(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &str,
    new_column: &str,
    phase: Phase,
    after: &[String],
) -> (Vec<String>, Vec<(ObjName, ObjName)>) {
    let indexes: Vec<catalog::Index> = plain_indexes_on(cx.catalog, table, column);
    let mut keys = Vec::new();
    let mut renames = Vec::new();
    for i in indexes {
        if i.partial {
            continue;
        }
        let new_idx = ObjName::new(
            i.name.schema.clone(),
            derived_name(&[&i.name.name], "lockstep"),
        );
        let cols: Vec<String> = i
            .columns
            .iter()
            .map(|c| {
                if c == column {
                    new_column.to_string()
                } else {
                    c.clone()
                }
            })
            .collect();
        let sql = format!(
            "CREATE {}INDEX CONCURRENTLY {} ON {} ({});",
            if i.unique { "UNIQUE " } else { "" },
            ident(&new_idx.name),
            obj(table),
            idents(&cols)
        );
        let k = build_index(cx, phase, &new_idx, table, &sql, after);
        keys.push(k);
        renames.push((new_idx, i.name.clone()));
    }
    (keys, renames)
}

fn change_type(
    cx: &mut Cx<'_>,
    op: &Op,
    table: &ObjName,
    column: &str,
    new_type: &str,
    using: Option<&str>,
) -> Result<(), PlanError> {
    let Some(col) = cx.catalog.column(table, column).cloned() else {
        cx.pass_through(
            std::slice::from_ref(op),
            Some(format!(
                "the column {}.{} is unknown to lockstep, so no online recipe was made",
                obj(table),
                ident(column)
            )),
        );
        return Ok(());
    };
    if column_in_constraint(cx.catalog, table, column) {
        cx.pass_through(
            std::slice::from_ref(op),
            Some(format!(
                "{} is part of a key, check or foreign key: lockstep has no online recipe for \
                 changing its type; run this in a maintenance window or migrate the constraint by hand",
                ident(column)
            )),
        );
        return Ok(());
    }
    let t = obj(table);
    let c = ident(column);
    let new_col = fresh_column(cx.catalog, table, column, "new");
    let n = ident(&new_col);
    let func = ObjName::new(
        table.schema.clone(),
        derived_name(&[&table.name, column], "lockstep_sync"),
    );
    let trigger = ident(&func.name);
    let value_in_row = match using {
        Some(u) => format!("(SELECT ({u}) FROM (SELECT NEW.*) AS lockstep_row)"),
        None => format!("NEW.{c}"),
    };
    let add = cx.ddl(
        Phase::Expand,
        format!("add {t}.{n} {new_type} next to {c}"),
        vec![format!("ALTER TABLE {t} ADD COLUMN {n} {new_type};")],
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    let trg = cx.ddl(
        Phase::Expand,
        format!("keep {n} in sync with {c} on every write"),
        vec![
            format!(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $lockstep$\nBEGIN\n  NEW.{n} := {value_in_row};\n  RETURN NEW;\nEND\n$lockstep$;",
                obj(&func)
            ),
            format!(
                "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {}();",
                obj(&func)
            ),
        ],
        table,
        LockMode::ShareRowExclusive,
        "instant (catalog only)",
        &[add],
    );
    let (set, predicate) = match using {
        Some(u) => (
            format!("{n} = {u}"),
            format!("{n} IS DISTINCT FROM CAST(({u}) AS {new_type})"),
        ),
        None => (
            format!("{n} = {c}"),
            format!("{n} IS NULL AND {c} IS NOT NULL"),
        ),
    };
    let dml = format!(
        "UPDATE {t} SET {set} WHERE ({predicate}) AND ({{KEY}}) {} RETURNING 1",
        backfill::IN_BATCH_MARKER
    );
    let b = cx.backfill(
        table,
        &format!("{column}:type"),
        BackfillOperation::Update,
        Some(set),
        predicate,
        dml,
        &[trg],
    )?;
    let mut ready = vec![b.clone()];
    if col.not_null {
        let k = not_null_dance(
            cx,
            table,
            &new_col,
            Phase::Backfill,
            std::slice::from_ref(&b),
        );
        ready.push(k);
    }
    let (builds, renames) = rebuild_indexes(cx, table, column, &new_col, Phase::Backfill, &[b]);
    ready.extend(builds);
    let d = cx.deploy(
        Phase::Contract,
        format!("the application works with {t}.{c} as {new_type}"),
        &ready,
    );
    let old_col = fresh_column(cx.catalog, table, column, "old");
    let o = ident(&old_col);
    let mut swap = vec![
        format!("DROP TRIGGER {trigger} ON {t};"),
        format!("ALTER TABLE {t} RENAME COLUMN {c} TO {o};"),
        format!("ALTER TABLE {t} RENAME COLUMN {n} TO {c};"),
    ];
    if col.not_null {
        swap.push(format!("ALTER TABLE {t} ALTER COLUMN {o} DROP NOT NULL;"));
    }
    if let Some(def) = &col.default {
        swap.push(format!("ALTER TABLE {t} ALTER COLUMN {o} DROP DEFAULT;"));
        swap.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {};",
            def.sql
        ));
    }
    let s = cx.ddl(
        Phase::Contract,
        format!("swap: {c} becomes the {new_type} column, the old one is kept as {o}"),
        swap,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        std::slice::from_ref(&d),
    );
    cx.requires(&s, &d);
    let mut drop = vec![
        format!("ALTER TABLE {t} DROP COLUMN {o};"),
        format!("DROP FUNCTION {}();", obj(&func)),
    ];
    for (built, original) in &renames {
        drop.push(format!(
            "ALTER INDEX {} RENAME TO {};",
            obj(built),
            ident(&original.name)
        ));
    }
    let k = cx.ddl(
        Phase::Contract,
        format!("drop the old column {o} and the sync function"),
        drop,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[s],
    );
    cx.requires(&k, &d);
    Ok(())
}

fn rename_column(
    cx: &mut Cx<'_>,
    op: &Op,
    table: &ObjName,
    column: &str,
    new_name: &str,
) -> Result<(), PlanError> {
    let t = obj(table);
    let c = ident(column);
    let n = ident(new_name);
    let col = cx.catalog.column(table, column).cloned();
    let unsupported = match &col {
        None => Some("the column is unknown to lockstep".to_string()),
        Some(_) if column_in_constraint(cx.catalog, table, column) => {
            Some("the column is part of a key, check or foreign key".to_string())
        }
        Some(c) if c.identity || c.generated_stored => {
            Some("the column is an identity or generated column".to_string())
        }
        _ => None,
    };
    let Some(col) = col.filter(|_| unsupported.is_none()) else {
        // Fallback: the rename itself, after the deploy that can live with both names.
        let d = cx.deploy(
            Phase::Contract,
            format!("the application can run with {t}.{c} renamed to {n}"),
            &[],
        );
        let k = cx.pass_through(
            std::slice::from_ref(op),
            unsupported.map(|u| {
                format!("{u}: no two-column recipe; the rename runs as written after the deploy")
            }),
        );
        set_phase(cx, &k, Phase::Contract);
        cx.requires(&k, &d);
        return Ok(());
    };
    let func = ObjName::new(
        table.schema.clone(),
        derived_name(&[&table.name, new_name], "lockstep_sync"),
    );
    let trigger = ident(&func.name);
    let add = cx.ddl(
        Phase::Expand,
        format!("add {t}.{n} next to {c}"),
        vec![format!("ALTER TABLE {t} ADD COLUMN {n} {};", col.ty)],
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    let trg = cx.ddl(
        Phase::Expand,
        format!("keep {c} and {n} equal on every write, whichever one the application writes"),
        vec![
            format!(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $lockstep$\nBEGIN\n  IF TG_OP = 'INSERT' THEN\n    IF NEW.{n} IS NULL THEN NEW.{n} := NEW.{c}; ELSE NEW.{c} := NEW.{n}; END IF;\n  ELSIF NEW.{n} IS DISTINCT FROM OLD.{n} THEN\n    NEW.{c} := NEW.{n};\n  ELSE\n    NEW.{n} := NEW.{c};\n  END IF;\n  RETURN NEW;\nEND\n$lockstep$;",
                obj(&func)
            ),
            format!(
                "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {}();",
                obj(&func)
            ),
        ],
        table,
        LockMode::ShareRowExclusive,
        "instant (catalog only)",
        &[add],
    );
    let set = format!("{n} = {c}");
    let predicate = format!("{n} IS DISTINCT FROM {c}");
    let dml = format!(
        "UPDATE {t} SET {set} WHERE ({predicate}) AND ({{KEY}}) {} RETURNING 1",
        backfill::IN_BATCH_MARKER
    );
    let b = cx.backfill(
        table,
        &format!("{column}:rename"),
        BackfillOperation::Update,
        Some(set),
        predicate,
        dml,
        &[trg],
    )?;
    let mut ready = vec![b.clone()];
    if col.not_null {
        ready.push(not_null_dance(
            cx,
            table,
            new_name,
            Phase::Backfill,
            std::slice::from_ref(&b),
        ));
    }
    let (builds, renames) = rebuild_indexes(cx, table, column, new_name, Phase::Backfill, &[b]);
    ready.extend(builds);
    let d = cx.deploy(
        Phase::Contract,
        format!("the application reads and writes {t}.{n}, no longer {c}"),
        &ready,
    );
    let mut stmts = vec![
        format!("DROP TRIGGER {trigger} ON {t};"),
        format!("DROP FUNCTION {}();", obj(&func)),
        format!("ALTER TABLE {t} DROP COLUMN {c};"),
    ];
    if let Some(def) = &col.default {
        stmts.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {n} SET DEFAULT {};",
            def.sql
        ));
    }
    for (built, original) in &renames {
        stmts.push(format!(
            "ALTER INDEX {} RENAME TO {};",
            obj(built),
            ident(&original.name)
        ));
    }
    let k = cx.ddl(
        Phase::Contract,
        format!("drop the old column {c} and the sync trigger"),
        stmts,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        std::slice::from_ref(&d),
    );
    cx.requires(&k, &d);
    Ok(())
}

fn data_migration(cx: &mut Cx<'_>, op: &Op) -> Result<(), PlanError> {
    let Some(b) = sqlast::batch_dml(cx.text) else {
        cx.pass_through(
            std::slice::from_ref(op),
            Some("lockstep cannot batch this statement's shape (a CTE, a set operation, a join in the target); it runs as one transaction".into()),
        );
        return Ok(());
    };
    // The walked table: the statement's target (UPDATE/DELETE) or its source (INSERT … SELECT).
    let walked = match op {
        Op::Insert { .. } => {
            let parts: Vec<String> = b
                .table
                .0
                .iter()
                .map(|p| {
                    let s = p.to_string();
                    if s.starts_with('"') {
                        s.trim_matches('"').replace("\"\"", "\"")
                    } else {
                        s.to_lowercase()
                    }
                })
                .collect();
            match parts.as_slice() {
                [name] => ObjName::public(name.clone()),
                [.., schema, name] => ObjName::new(schema.clone(), name.clone()),
                [] => return Ok(()),
            }
        }
        _ => match op.table() {
            Some(t) => t.clone(),
            None => return Ok(()),
        },
    };
    let key_cols = backfill::choose_key(cx.catalog, &walked)?;
    let key_sql = key_cols
        .iter()
        .map(|k| format!("{}.{}", b.qualifier, ident(&k.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let operation = match op {
        Op::Update { .. } => BackfillOperation::Update,
        Op::Delete { .. } => BackfillOperation::Delete,
        _ => BackfillOperation::InsertSelect,
    };
    let spec = BackfillSpec::new(BackfillRequest {
        job: format!(
            "{}/{}/statement-{}",
            cx.migration,
            walked.qualified(),
            cx.statement
        ),
        table: &walked,
        key: key_cols,
        operation,
        set: b.set.clone(),
        predicate: b.predicate.clone(),
        dml: b.template.replace("{KEY}", &key_sql),
        tuning: &cx.tuning.backfill,
        lock_timeout_ms: cx.tuning.lock_timeout_ms,
    });
    let k = cx.push_backfill(spec, &walked, &[]);
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == k) {
        d.barrier = true;
    }
    if let Some(target) = op.table()
        && target != &walked
        && let Some(d) = cx.out.iter_mut().find(|d| d.key == k)
    {
        d.tables.push(target.clone());
    }
    if !b.idempotent {
        cx.note(
            &k,
            "re-running a batch would change its rows again; the checkpoint commits with each \
             batch, so a resumed run never repeats one — do not reset the checkpoint row"
                .to_string(),
        );
    }
    Ok(())
}
