//! statement-will-fail: statements PostgreSQL will refuse, judged against the replayed
//! schema — duplicate columns, a column or constraint that does not exist, a column that
//! already does, a function or syntax the target version does not have.
//!
//! Only where the replay is sure: schema facts are used for tables whose every column and
//! constraint the history created (`Catalog::knows_fully`), never for tables created
//! outside the migrations or changed by a statement we could not read.

use super::{Emitter, OpContext, StatementContext};
use crate::catalog::{Catalog, may_have_constraint};
use crate::ops::{ObjName, Op};

pub struct Rule;

/// Functions that appeared in a given major version, and the extension that provides them
/// on older ones.
const NEWER_FUNCTIONS: &[(&str, u32, Option<&str>)] = &[
    ("gen_random_uuid", 13, Some("pgcrypto")),
    ("random_normal", 16, None),
    ("uuidv4", 18, None),
    ("uuidv7", 18, None),
];

/// The first name that occurs twice in `names`.
fn duplicate(names: &[String]) -> Option<&String> {
    names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
        .map(|(_, n)| n)
}

/// Why `op` fails against `catalog`, if the replay is sure it does.
fn failure(op: &Op, catalog: &Catalog) -> Option<String> {
    let missing_column = |table: &ObjName, column: &str| {
        (catalog.knows_fully(table) && catalog.column(table, column).is_none())
            .then(|| format!("column \"{column}\" of relation \"{table}\" does not exist"))
    };
    let missing_constraint = |table: &ObjName, name: &str| {
        (catalog.knows_fully(table) && !may_have_constraint(catalog, table, name))
            .then(|| format!("constraint \"{name}\" of relation \"{table}\" does not exist"))
    };
    match op {
        Op::CreateTable {
            table,
            columns,
            if_not_exists,
            ..
        } => {
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            if let Some(d) = duplicate(&names) {
                return Some(format!("column \"{d}\" specified more than once"));
            }
            (!*if_not_exists && catalog.knows_fully(table))
                .then(|| format!("relation \"{table}\" already exists"))
        }
        Op::AddColumn {
            table,
            column,
            if_not_exists: false,
        } => (catalog.knows_fully(table) && catalog.column(table, &column.name).is_some()).then(
            || {
                format!(
                    "column \"{}\" of relation \"{table}\" already exists",
                    column.name
                )
            },
        ),
        Op::DropColumn {
            table,
            column,
            if_exists: false,
            ..
        }
        | Op::RenameColumn { table, column, .. }
        | Op::AlterColumnType { table, column, .. }
        | Op::SetNotNull { table, column }
        | Op::DropNotNull { table, column }
        | Op::SetDefault { table, column, .. }
        | Op::DropDefault { table, column }
        | Op::AddIdentity { table, column }
        | Op::DropIdentity { table, column }
        | Op::AlterColumnOther { table, column, .. } => missing_column(table, column),
        Op::DropConstraint {
            table,
            name,
            if_exists: false,
            ..
        }
        | Op::ValidateConstraint { table, name }
        | Op::RenameConstraint { table, name, .. }
        | Op::AlterConstraint { table, name } => missing_constraint(table, name),
        Op::Update { table, columns, .. } => {
            if let Some(d) = duplicate(columns) {
                return Some(format!("multiple assignments to same column \"{d}\""));
            }
            columns.iter().find_map(|c| missing_column(table, c))
        }
        Op::Insert { table, columns, .. } => {
            if let Some(d) = duplicate(columns) {
                return Some(format!("column \"{d}\" specified more than once"));
            }
            columns.iter().find_map(|c| missing_column(table, c))
        }
        _ => None,
    }
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/statement-will-fail.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Some(error) = failure(cx.op, cx.catalog) else {
            return;
        };
        out.emit(
            cx.span.clone(),
            None,
            format!("PostgreSQL rejects this statement: {error}"),
            Some("the migration fails here and, in a transaction, everything before it is rolled back".into()),
            Some(
                "fix the statement against the schema the earlier migrations leave behind \
                 (`lockstep schema` prints it)"
                    .into(),
            ),
        );
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        let v = cx.settings.pg_version;
        let mut problems: Vec<String> = Vec::new();
        if let Some(min) = &cx.statement.min_pg_version
            && min.version > v
        {
            problems.push(format!(
                "{} needs PostgreSQL {} (linting for {v})",
                min.feature, min.version
            ));
        }
        // Function bodies are not run when a function is created.
        let defines_code = cx
            .statement
            .ops
            .iter()
            .any(|op| matches!(op, Op::CreateFunction { .. } | Op::DoBlock { .. }));
        if !defines_code {
            for f in crate::locks::called_functions(cx.text()) {
                let Some((name, since, ext)) = NEWER_FUNCTIONS
                    .iter()
                    .find(|(n, _, _)| *n == f.name && f.schema == "public")
                else {
                    continue;
                };
                if v >= *since || cx.catalog.function_volatility(&f).is_some() {
                    continue;
                }
                let msg = match ext {
                    Some(e) if cx.catalog.knowledge.extensions.contains(*e) => continue,
                    Some(e) => format!(
                        "function {name}() does not exist before PostgreSQL {since} (linting for \
                         {v}) unless the {e} extension is installed, and no migration creates it"
                    ),
                    None => format!(
                        "function {name}() does not exist before PostgreSQL {since} (linting for {v})"
                    ),
                };
                if !problems.contains(&msg) {
                    problems.push(msg);
                }
            }
        }
        if problems.is_empty() {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "PostgreSQL {v} rejects this statement: {}",
                problems.join("; ")
            ),
            Some("the migration fails here on the PostgreSQL version it targets".into()),
            Some(
                "use what the target version has (CREATE EXTENSION pgcrypto for \
                 gen_random_uuid() before 13), or raise --pg-version / pg_version in \
                 lockstep.yaml if the servers are newer"
                    .into(),
            ),
        );
    }
}
