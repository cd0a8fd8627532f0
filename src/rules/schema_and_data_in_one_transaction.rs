//! schema-and-data-in-one-transaction: a transaction that changes the schema of an existing
//! table and migrates data (UPDATE, DELETE, INSERT … SELECT) on existing tables.
//!
//! Reported once per transaction, at the statement that first mixes the two. When the data
//! change is long work after an ACCESS EXCLUSIVE lock, long-work-after-strong-lock reports
//! that sharper fact instead.

use super::support::{is_data_change, is_schema_change, line_of, long_work, statement_kind};
use super::{Emitter, StatementContext};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/schema-and-data-in-one-transaction.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        if !cx.tx.in_transaction {
            return;
        }
        let data = is_data_change(&cx.statement.ops, cx.created_here);
        let schema = is_schema_change(&cx.statement.ops, cx.locks);
        let earlier = if data && cx.tx.data_changes.is_empty() {
            // Data after schema, unless long-work-after-strong-lock already says it.
            let covered = !cx.tx.strong_locks.is_empty() && !long_work(cx).is_empty();
            match cx.tx.schema_changes.first() {
                Some(s) if !covered => Some(("schema change", s)),
                _ => None,
            }
        } else if schema && cx.tx.schema_changes.is_empty() {
            cx.tx.data_changes.first().map(|s| ("data change", s))
        } else {
            None
        };
        let Some((earlier_kind, earlier_span)) = earlier else {
            return;
        };
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "{} and the {earlier_kind} at line {} run in one transaction",
                statement_kind(cx.text()),
                line_of(cx.source, earlier_span.start)
            ),
            Some(
                "the schema change's lock and the data change's row locks are all held until \
                 commit, and a failure in either rolls back both"
                    .into(),
            ),
            Some(
                "put the data migration in its own migration after the schema change has \
                 committed, and run it in batches"
                    .into(),
            ),
        );
    }
}
