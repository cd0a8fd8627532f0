//! add-required-column: a NOT NULL column without a default added to an existing table.

use super::{Direction, Emitter, OpContext};
use crate::ops::{ColumnDef, ConstraintKind, Expr, ObjName, Op};

pub struct Rule;

/// A default that supplies a value (`DEFAULT NULL` supplies none).
fn supplies_value(default: Option<&Expr>) -> bool {
    default.is_some_and(|d| !d.sql.trim().eq_ignore_ascii_case("null"))
}

/// The column gets a value for existing rows and for INSERTs that do not name it.
fn fills_itself(c: &ColumnDef) -> bool {
    supplies_value(c.default.as_ref()) || c.generated.is_some() || c.serial
}

fn required(c: &ColumnDef) -> bool {
    c.not_null
        || c.constraints
            .iter()
            .any(|k| matches!(k.kind, ConstraintKind::PrimaryKey { .. }))
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-required-column.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        if cx.direction != Direction::Up {
            return;
        }
        let (table, column): (&ObjName, &str) = match cx.op {
            Op::AddColumn { table, column, .. } if required(column) && !fills_itself(column) => {
                (table, &column.name)
            }
            // `ADD COLUMN c int, ALTER COLUMN c SET NOT NULL` in one statement: the column is
            // absent before the statement and present, without a default, before this op.
            Op::SetNotNull { table, column }
                if cx.stmt.catalog.column(table, column).is_none()
                    && cx.catalog.column(table, column).is_some_and(|c| {
                        !supplies_value(c.default.as_ref()) && !c.identity && !c.generated_stored
                    }) =>
            {
                (table, column)
            }
            _ => return,
        };
        if !cx.is_existing(table) {
            return;
        }
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "adding {table}.{column} as NOT NULL without a default fails if {table} has \
                 any rows, and makes every INSERT of the running application fail"
            ),
            Some(format!(
                "existing rows get NULL in {column}, which NOT NULL rejects; the running \
                 code's INSERTs do not set {column}"
            )),
            Some(format!(
                "add {column} as a nullable column (or with a constant DEFAULT), deploy code \
                 that writes it, backfill in batches, then add CHECK ({column} IS NOT NULL) NOT \
                 VALID, VALIDATE it, and SET NOT NULL (`lockstep plan` writes these steps)"
            )),
        );
    }
}
