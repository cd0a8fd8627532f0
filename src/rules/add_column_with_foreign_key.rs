//! add-column-with-foreign-key: `ADD COLUMN … DEFAULT … REFERENCES` on an existing table
//! validates the new foreign key at once (no NOT VALID form) while locking both tables.
//!
//! Without a default the new column is NULL in every row and PostgreSQL skips the
//! validation (checked on PostgreSQL 15: no scan), which is exactly what the split into
//! ADD COLUMN + ADD CONSTRAINT … NOT VALID would do, so that form is not reported.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::{ConstraintKind, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-column-with-foreign-key.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::AddColumn { table, column, .. } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        let Some(default) = column
            .default
            .as_ref()
            .filter(|d| !d.sql.trim().eq_ignore_ascii_case("null"))
        else {
            return;
        };
        for c in &column.constraints {
            let ConstraintKind::ForeignKey(fk) = &c.kind else {
                continue;
            };
            if c.not_valid {
                continue;
            }
            let r = &fk.ref_table;
            let col = &column.name;
            let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
            let ref_mode = mode_on(cx.locks, r, LockMode::ShareRowExclusive);
            let (message, label) = if r == table {
                (
                    format!(
                        "ADD COLUMN {col} DEFAULT {} REFERENCES {r} checks every row of {} while \
                         holding {mode}",
                        default.sql,
                        cx.describe(table)
                    ),
                    format!("takes {mode} on {table}: every query on it waits for the check"),
                )
            } else {
                (
                    format!(
                        "ADD COLUMN {col} DEFAULT {} REFERENCES {r} checks every row of {} \
                         against {}",
                        default.sql,
                        cx.describe(table),
                        cx.describe(r)
                    ),
                    format!(
                        "takes {mode} on {table} and {ref_mode} on {r}: writes to both wait \
                         until every row is checked"
                    ),
                )
            };
            out.emit(
                cx.span.clone(),
                Some(table),
                message,
                Some(label),
                Some(format!(
                    "add {col} without REFERENCES, then ALTER TABLE {table} ADD CONSTRAINT … \
                     FOREIGN KEY ({col}) REFERENCES {r} NOT VALID, then VALIDATE CONSTRAINT in a \
                     separate transaction (writes continue); without a default the inline \
                     REFERENCES is fine, as PostgreSQL skips validating an all-NULL column"
                )),
            );
        }
    }
}
