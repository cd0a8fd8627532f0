//! add-foreign-key: `ADD CONSTRAINT … FOREIGN KEY` without NOT VALID on an existing table:
//! every row is checked while both tables are locked against writes.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::catalog::default_constraint_name;
use crate::locks::LockMode;
use crate::ops::{ConstraintKind, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-foreign-key.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::AddConstraint { table, constraint } = cx.op else {
            return;
        };
        let ConstraintKind::ForeignKey(fk) = &constraint.kind else {
            return;
        };
        if constraint.not_valid || !cx.is_existing(table) {
            return;
        }
        let name = constraint
            .name
            .clone()
            .unwrap_or_else(|| default_constraint_name(table, &constraint.kind));
        let r = &fk.ref_table;
        let mode = mode_on(cx.locks, table, LockMode::ShareRowExclusive);
        let ref_mode = mode_on(cx.locks, r, LockMode::ShareRowExclusive);
        let (message, label) = if r == table {
            (
                format!(
                    "foreign key {name} checks every row of {} against itself while holding \
                     {mode}",
                    cx.describe(table)
                ),
                format!(
                    "takes {mode} on {table}: INSERT, UPDATE and DELETE wait until every row is \
                     checked"
                ),
            )
        } else {
            (
                format!(
                    "foreign key {name} checks every row of {} against {} while holding {mode} \
                     on both",
                    cx.describe(table),
                    cx.describe(r)
                ),
                format!(
                    "takes {mode} on {table} and {ref_mode} on {r}: INSERT, UPDATE and DELETE on \
                     both wait until every row is checked"
                ),
            )
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            message,
            Some(label),
            Some(format!(
                "add it with NOT VALID (a brief lock, no scan), then ALTER TABLE {table} VALIDATE \
                 CONSTRAINT {name} in a separate transaction: validation takes SHARE UPDATE \
                 EXCLUSIVE on {table} and ROW SHARE on {r}, so writes continue"
            )),
        );
    }
}
