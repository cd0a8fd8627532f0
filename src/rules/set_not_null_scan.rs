//! set-not-null-scan: `ALTER COLUMN … SET NOT NULL` scans an existing table under ACCESS
//! EXCLUSIVE, unless a validated `CHECK (col IS NOT NULL)` proves it (PostgreSQL 12+).

use super::support::{join_words, mode_on, who_waits};
use super::{Emitter, StatementContext};
use crate::locks::LockMode;
use crate::ops::{ObjName, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/set-not-null-scan.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        let pg = cx.settings.pg_version;
        // PostgreSQL checks all the columns of one ALTER TABLE in a single scan.
        let mut by_table: Vec<(&ObjName, Vec<String>)> = Vec::new();
        for op in &cx.statement.ops {
            let Op::SetNotNull { table, column } = op else {
                continue;
            };
            if !cx.is_existing(table) {
                continue;
            }
            // What the history did to the table counts even when it did not create it.
            let known = cx.catalog.table_facts(table);
            // Already NOT NULL: PostgreSQL does nothing.
            if known
                .and_then(|t| t.column(column))
                .is_some_and(|c| c.not_null)
            {
                continue;
            }
            if pg >= 12 && known.is_some_and(|t| t.has_valid_not_null_check(column)) {
                continue;
            }
            match by_table.iter_mut().find(|(t, _)| *t == table) {
                Some((_, v)) => v.push(column.clone()),
                None => by_table.push((table, vec![column.clone()])),
            }
        }
        for (table, columns) in by_table {
            // A rewrite in the same statement checks the rows anyway; the rewrite is the fact.
            if cx.locks.iter().any(|f| &f.table == table && f.rewrite) {
                continue;
            }
            let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
            let first = columns.first().cloned().unwrap_or_default();
            let help = if pg >= 12 {
                format!(
                    "first ADD CONSTRAINT {t}_{first}_not_null CHECK ({first} IS NOT NULL) NOT \
                     VALID, then VALIDATE CONSTRAINT in a separate transaction (writes continue), \
                     then SET NOT NULL uses the check and skips the scan; drop the check \
                     afterwards. `lockstep plan` writes these steps",
                    t = table.name
                )
            } else {
                format!(
                    "on PostgreSQL 11 the scan cannot be avoided: keep {first} nullable and \
                     enforce it with CHECK ({first} IS NOT NULL) NOT VALID plus VALIDATE \
                     CONSTRAINT in a separate transaction"
                )
            };
            out.emit(
                cx.span.clone(),
                Some(table),
                format!(
                    "SET NOT NULL on {} scans all of {} under {mode}",
                    join_words(&columns),
                    cx.describe(table)
                ),
                Some(format!(
                    "takes {mode} on {table}: {} while every row is checked for NULL",
                    who_waits(mode)
                )),
                Some(help),
            );
        }
    }
}
