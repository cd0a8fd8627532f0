//! add-check: `ADD CONSTRAINT … CHECK` without NOT VALID on an existing table: every row is
//! checked under ACCESS EXCLUSIVE.

use super::support::{join_words, mode_on, who_waits};
use super::{Emitter, StatementContext};
use crate::catalog::default_constraint_name;
use crate::locks::LockMode;
use crate::ops::{ConstraintKind, ObjName, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-check.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        // All new checks of one ALTER TABLE are validated in one pass over the table.
        let mut by_table: Vec<(&ObjName, Vec<String>)> = Vec::new();
        for op in &cx.statement.ops {
            let Op::AddConstraint { table, constraint } = op else {
                continue;
            };
            if constraint.not_valid
                || !matches!(constraint.kind, ConstraintKind::Check { .. })
                || !cx.is_existing(table)
            {
                continue;
            }
            let name = constraint
                .name
                .clone()
                .unwrap_or_else(|| default_constraint_name(table, &constraint.kind));
            match by_table.iter_mut().find(|(t, _)| *t == table) {
                Some((_, v)) => v.push(name),
                None => by_table.push((table, vec![name])),
            }
        }
        for (table, names) in by_table {
            let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
            let first = names.first().cloned().unwrap_or_default();
            out.emit(
                cx.span.clone(),
                Some(table),
                format!(
                    "CHECK {} validates every row of {} under {mode}",
                    join_words(&names),
                    cx.describe(table)
                ),
                Some(format!(
                    "takes {mode} on {table}: {} while every row is checked",
                    who_waits(mode)
                )),
                Some(format!(
                    "add it with NOT VALID (instant, new rows are checked from then on), then \
                     ALTER TABLE {table} VALIDATE CONSTRAINT {first} in a separate transaction: \
                     SHARE UPDATE EXCLUSIVE, reads and writes continue"
                )),
            );
        }
    }
}
