//! column-type-rewrite: `ALTER COLUMN … TYPE` that the lock model says rewrites an existing
//! table. Binary-coercible changes (varchar(10)→varchar(20), varchar→text, …) are not
//! rewrites and are not reported.

use super::support::{join_words, mode_on, who_waits};
use super::{Emitter, StatementContext};
use crate::locks::LockMode;
use crate::ops::{ObjName, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/column-type-rewrite.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        // Several type changes in one ALTER TABLE share one rewrite.
        let mut by_table: Vec<(&ObjName, Vec<String>)> = Vec::new();
        for (i, op) in cx.statement.ops.iter().enumerate() {
            let Op::AlterColumnType {
                table, column, ty, ..
            } = op
            else {
                continue;
            };
            let rewrites = cx
                .op_locks
                .get(i)
                .is_some_and(|facts| facts.iter().any(|f| &f.table == table && f.rewrite));
            if !rewrites || !cx.is_existing(table) {
                continue;
            }
            // timestamp ↔ timestamptz rewrites only outside a UTC session (PG 12+).
            let utc = crate::locks::ModelOptions {
                pg_version: cx.settings.pg_version,
                session_time_zone_utc: true,
            };
            let zone_dependent = cx
                .catalog
                .table_facts(table)
                .and_then(|t| t.column(column))
                .is_some_and(|c| !crate::locks::rewrites_column_type_with(&c.ty, ty, &utc));
            let what = if zone_dependent {
                format!(
                    "{column} to {ty} (a rewrite because the session TimeZone is not known to \
                     be UTC: with TimeZone UTC it is metadata-only; say so with SET TimeZone = \
                     'UTC' in the migration or server_timezone in lockstep.yaml)"
                )
            } else {
                format!("{column} to {ty}")
            };
            match by_table.iter_mut().find(|(t, _)| *t == table) {
                Some((_, v)) => v.push(what),
                None => by_table.push((table, vec![what])),
            }
        }
        for (table, changes) in by_table {
            let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
            out.emit(
                cx.span.clone(),
                Some(table),
                format!(
                    "changing {} rewrites {} and all its indexes",
                    join_words(&changes),
                    cx.describe(table)
                ),
                Some(format!(
                    "takes {mode} on {table}: {} until the table and its indexes are rewritten",
                    who_waits(mode)
                )),
                Some(
                    "add a new column of the new type, keep it in sync with a trigger, backfill \
                     it in batches, switch the application to it, then drop the old column; \
                     `lockstep plan` writes these steps"
                        .into(),
                ),
            );
        }
    }
}
