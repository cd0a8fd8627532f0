//! add-exclusion-constraint: `ADD CONSTRAINT … EXCLUDE` on an existing table builds its
//! index and checks every row under ACCESS EXCLUSIVE; there is no NOT VALID or USING INDEX
//! form to split it.

use super::support::{mode_on, who_waits};
use super::{Emitter, OpContext};
use crate::catalog::default_constraint_name;
use crate::locks::LockMode;
use crate::ops::{ConstraintKind, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-exclusion-constraint.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::AddConstraint { table, constraint } = cx.op else {
            return;
        };
        if !matches!(constraint.kind, ConstraintKind::Exclusion) || !cx.is_existing(table) {
            return;
        }
        let name = constraint
            .name
            .clone()
            .unwrap_or_else(|| default_constraint_name(table, &constraint.kind));
        let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "exclusion constraint {name} builds its index over all of {} under {mode}",
                cx.describe(table)
            ),
            Some(format!(
                "takes {mode} on {table}: {} for the whole index build and check",
                who_waits(mode)
            )),
            Some(
                "exclusion constraints cannot be added NOT VALID nor from a prebuilt index: \
                 define them when the table is created, or add this one in a maintenance window \
                 (or on a new table that is filled in batches and swapped in)"
                    .into(),
            ),
        );
    }
}
