//! add-constraint-validates: a CHECK constraint written on `ADD COLUMN`, which validates every
//! existing row under ACCESS EXCLUSIVE and has no NOT VALID form.
//!
//! The split with the neighbouring rules, one finding per fact: `ADD CONSTRAINT … CHECK` is
//! add-check, `ADD CONSTRAINT … FOREIGN KEY` is add-foreign-key, `ADD COLUMN … REFERENCES` is
//! add-column-with-foreign-key; this rule covers the validating constraints left over.

use super::support::{join_words, mode_on, who_waits};
use super::{Emitter, StatementContext};
use crate::locks::LockMode;
use crate::ops::{ConstraintKind, ObjName, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/add-constraint-validates.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        // All new checks of one ALTER TABLE are validated in one pass over the table.
        let mut by_table: Vec<(&ObjName, Vec<String>)> = Vec::new();
        for op in &cx.statement.ops {
            let Op::AddColumn { table, column, .. } = op else {
                continue;
            };
            if !cx.is_existing(table) {
                continue;
            }
            for c in &column.constraints {
                if let ConstraintKind::Check { expr } = &c.kind {
                    let what = format!("CHECK ({expr}) on {}", column.name);
                    match by_table.iter_mut().find(|(t, _)| *t == table) {
                        Some((_, v)) => v.push(what),
                        None => by_table.push((table, vec![what])),
                    }
                }
            }
        }
        for (table, checks) in by_table {
            // A rewrite in the same statement checks each row as it is written.
            if cx.locks.iter().any(|f| &f.table == table && f.rewrite) {
                continue;
            }
            let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
            out.emit(
                cx.span.clone(),
                Some(table),
                format!(
                    "ADD COLUMN with {} validates every row of {} under {mode}",
                    join_words(&checks),
                    cx.describe(table)
                ),
                Some(format!(
                    "takes {mode} on {table}: {} while every existing row is checked",
                    who_waits(mode)
                )),
                Some(
                    "add the column without the CHECK, then ALTER TABLE … ADD CONSTRAINT … CHECK \
                     (…) NOT VALID, then VALIDATE CONSTRAINT in a separate transaction (SHARE \
                     UPDATE EXCLUSIVE: reads and writes continue)"
                        .into(),
                ),
            );
        }
    }
}
