//! Shared helpers of the hygiene rules: which columns an operation introduces.
//!
//! Hygiene rules judge a schema choice once, where it is made (a new table, a new column, a
//! type change to the questionable type), never again in later migrations that merely touch
//! the table: a finding that repeats on every migration would be noise nobody can act on.

use super::{Direction, OpContext};
use crate::ops::{ColumnDef, ConstraintKind, ObjName, Op, SqlType};

/// A column whose definition or type an operation introduces.
#[derive(Debug, Clone)]
pub struct NewColumn<'a> {
    pub table: &'a ObjName,
    pub name: &'a str,
    pub ty: &'a SqlType,
    /// The full definition (`None` for `ALTER COLUMN … TYPE`, which only sets the type).
    pub def: Option<&'a ColumnDef>,
    /// The column is (part of) the table's primary key.
    pub in_primary_key: bool,
}

impl NewColumn<'_> {
    /// `serial`, `bigserial` or `smallserial` was written.
    pub fn serial(&self) -> bool {
        self.def.is_some_and(|d| d.serial)
    }
    /// `table.column`, for messages.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.table, self.name)
    }
}

/// Hygiene rules only judge up scripts: a down script restores what an earlier migration
/// had, and repeating that migration's findings there would be noise.
pub fn judged(direction: Direction) -> bool {
    direction == Direction::Up
}

fn has_pk(def: &ColumnDef) -> bool {
    def.constraints
        .iter()
        .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
}

/// The columns this operation introduces for which `bad` holds. A type change counts only
/// when the column's previous type (when known) did not already satisfy `bad`: the choice
/// was made, and reported, where the column was created.
pub fn introduced<'a>(
    cx: &'a OpContext<'a>,
    bad: impl Fn(&NewColumn) -> bool,
) -> Vec<NewColumn<'a>> {
    if !judged(cx.direction) {
        return Vec::new();
    }
    let mut out = Vec::new();
    match cx.op {
        Op::CreateTable {
            table,
            columns,
            constraints,
            temporary: false,
            ..
        } => {
            let table_pk: Vec<&String> = constraints
                .iter()
                .filter_map(|c| match &c.kind {
                    ConstraintKind::PrimaryKey { columns, .. } => Some(columns),
                    _ => None,
                })
                .flatten()
                .collect();
            for def in columns {
                let col = NewColumn {
                    table,
                    name: &def.name,
                    ty: &def.ty,
                    def: Some(def),
                    in_primary_key: has_pk(def) || table_pk.contains(&&def.name),
                };
                if bad(&col) {
                    out.push(col);
                }
            }
        }
        Op::AddColumn { table, column, .. } => {
            let col = NewColumn {
                table,
                name: &column.name,
                ty: &column.ty,
                def: Some(column),
                in_primary_key: has_pk(column),
            };
            if bad(&col) {
                out.push(col);
            }
        }
        Op::AlterColumnType {
            table, column, ty, ..
        } => {
            let in_pk = cx
                .catalog
                .table(table)
                .and_then(|t| t.primary_key())
                .is_some_and(|pk| pk.iter().any(|c| c == column));
            let col = NewColumn {
                table,
                name: column,
                ty,
                def: None,
                in_primary_key: in_pk,
            };
            let was_bad = cx.catalog.column(table, column).is_some_and(|old| {
                bad(&NewColumn {
                    ty: &old.ty,
                    ..col.clone()
                })
            });
            if !was_bad && bad(&col) {
                out.push(col);
            }
        }
        _ => {}
    }
    out
}

/// "users.created_at" or "users.created_at, users.updated_at".
pub fn list(cols: &[NewColumn]) -> String {
    cols.iter()
        .map(NewColumn::qualified)
        .collect::<Vec<_>>()
        .join(", ")
}

/// "is" or "are", to agree with a column list.
pub fn verb(cols: &[NewColumn]) -> &'static str {
    if cols.len() == 1 { "is" } else { "are" }
}
