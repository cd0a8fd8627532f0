//! add-unique-or-primary-key-builds-index: `ADD PRIMARY KEY` / `ADD UNIQUE` (or a column
//! declared UNIQUE / PRIMARY KEY on `ADD COLUMN`) builds its index under ACCESS EXCLUSIVE.
//! Not reported for `… USING INDEX`, which promotes an index built beforehand.

use super::support::{mode_on, who_waits};
use super::{Emitter, OpContext};
use crate::catalog::default_constraint_name;
use crate::locks::LockMode;
use crate::ops::{Constraint, ConstraintKind, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-unique-or-primary-key-builds-index.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let (table, constraints): (_, Vec<Constraint>) = match cx.op {
            Op::AddConstraint { table, constraint } => (table, vec![constraint.clone()]),
            Op::AddColumn { table, column, .. } => (table, column.constraints.clone()),
            _ => return,
        };
        if !cx.is_existing(table) {
            return;
        }
        for c in constraints {
            let (kind, columns) = match &c.kind {
                ConstraintKind::PrimaryKey {
                    columns,
                    using_index: None,
                } => ("PRIMARY KEY", columns),
                ConstraintKind::Unique {
                    columns,
                    using_index: None,
                } => ("UNIQUE", columns),
                _ => continue,
            };
            let name = c
                .name
                .clone()
                .unwrap_or_else(|| default_constraint_name(table, &c.kind));
            let cols = columns.join(", ");
            let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
            let idx = format!("{}_{}_idx", table.name, columns.join("_"));
            let mut help = format!(
                "build the index first with CREATE UNIQUE INDEX CONCURRENTLY {idx} ON {table} \
                 ({cols}) in a migration that does not run in a transaction, then ALTER TABLE \
                 {table} ADD CONSTRAINT {name} {kind} USING INDEX {idx} (instant)"
            );
            if kind == "PRIMARY KEY" {
                help.push_str(
                    "; the key columns must already be NOT NULL, or USING INDEX scans the table \
                     to set it (use a validated CHECK (col IS NOT NULL) first)",
                );
            }
            out.emit(
                cx.span.clone(),
                Some(table),
                format!(
                    "{kind} {name} builds a unique index on {} while holding {mode}",
                    cx.describe(table)
                ),
                Some(format!(
                    "takes {mode} on {table}: {} for the whole index build",
                    who_waits(mode)
                )),
                Some(help),
            );
        }
    }
}
