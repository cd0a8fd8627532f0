//! Shared helper of the foreign-key hygiene rules: the foreign keys a script declares.

use crate::ops::{ColumnDef, ConstraintKind, ForeignKey, ObjName, Op};
use crate::parse::Statement;
use std::ops::Range;

/// A foreign key declared by a statement of the script.
#[derive(Debug, Clone)]
pub struct DeclaredFk {
    /// The declaring statement's span.
    pub span: Range<usize>,
    /// The referencing table.
    pub table: ObjName,
    /// Referencing columns (never empty).
    pub columns: Vec<String>,
    pub ref_table: ObjName,
}

fn from_column(def: &ColumnDef, table: &ObjName, span: &Range<usize>, out: &mut Vec<DeclaredFk>) {
    for c in &def.constraints {
        if let ConstraintKind::ForeignKey(fk) = &c.kind {
            // A column-level REFERENCES names no columns: it is the column itself.
            let columns = if fk.columns.is_empty() {
                vec![def.name.clone()]
            } else {
                fk.columns.clone()
            };
            out.push(DeclaredFk {
                span: span.clone(),
                table: table.clone(),
                columns,
                ref_table: fk.ref_table.clone(),
            });
        }
    }
}

fn from_table_constraint(
    fk: &ForeignKey,
    table: &ObjName,
    span: &Range<usize>,
    out: &mut Vec<DeclaredFk>,
) {
    if fk.columns.is_empty() {
        return;
    }
    out.push(DeclaredFk {
        span: span.clone(),
        table: table.clone(),
        columns: fk.columns.clone(),
        ref_table: fk.ref_table.clone(),
    });
}

/// Every foreign key the statements declare (CREATE TABLE, ADD COLUMN … REFERENCES,
/// ADD CONSTRAINT … FOREIGN KEY), in script order. Temporary tables are left out.
pub fn declared(statements: &[Statement]) -> Vec<DeclaredFk> {
    let mut out = Vec::new();
    for s in statements {
        for op in &s.ops {
            match op {
                Op::CreateTable {
                    table,
                    columns,
                    constraints,
                    temporary: false,
                    ..
                } => {
                    for def in columns {
                        from_column(def, table, &s.span, &mut out);
                    }
                    for c in constraints {
                        if let ConstraintKind::ForeignKey(fk) = &c.kind {
                            from_table_constraint(fk, table, &s.span, &mut out);
                        }
                    }
                }
                Op::AddColumn { table, column, .. } => {
                    from_column(column, table, &s.span, &mut out)
                }
                Op::AddConstraint { table, constraint } => {
                    if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                        from_table_constraint(fk, table, &s.span, &mut out);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// "users.team_id" or "memberships (user_id, team_id)".
pub fn describe_columns(table: &ObjName, columns: &[String]) -> String {
    match columns {
        [one] => format!("{table}.{one}"),
        many => format!("{table} ({})", many.join(", ")),
    }
}
