//! long-work-after-strong-lock: in one transaction, after ACCESS EXCLUSIVE was taken on an
//! existing table, a later statement rewrites, scans or backfills — and the lock is held
//! until commit, so the table stays blocked for all of it.

use super::support::{describe_work, join_words, line_of, long_work, statement_kind};
use super::{Emitter, StatementContext};
use crate::ops::{ObjName, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/long-work-after-strong-lock.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        if !cx.tx.in_transaction || cx.tx.strong_locks.is_empty() {
            return;
        }
        // VALIDATE of a constraint added NOT VALID in this transaction is
        // validate-in-same-transaction-as-add's fact, not repeated here.
        let validates_own_add = !cx.statement.ops.is_empty()
            && cx.statement.ops.iter().all(|op| {
                matches!(op, Op::ValidateConstraint { table, name }
                    if cx.tx.not_valid_added.iter().any(|a| &a.table == table && &a.name == name))
            });
        if validates_own_add {
            return;
        }
        let work = long_work(cx);
        let Some(first) = work.first() else {
            return;
        };
        let mut held: Vec<&ObjName> = Vec::new();
        for (t, _) in &cx.tx.strong_locks {
            if !held.contains(&t) {
                held.push(t);
            }
        }
        let held_names: Vec<String> = held.iter().map(|t| format!("\"{t}\"")).collect();
        let first_line = cx
            .tx
            .strong_locks
            .first()
            .map(|(_, span)| line_of(cx.source, span.start))
            .unwrap_or(1);
        out.emit(
            cx.span.clone(),
            Some(&first.table),
            format!(
                "{} runs while the ACCESS EXCLUSIVE lock on {} taken at line {first_line} is \
                 still held: it {}",
                statement_kind(cx.text()),
                join_words(&held_names),
                describe_work(cx, &work)
            ),
            Some(format!(
                "locks are held until commit: every query on {}, reads included, waits for this \
                 statement too",
                join_words(&held_names)
            )),
            Some(
                "commit right after the short ACCESS EXCLUSIVE step and run the long work in its \
                 own transaction: a separate migration, or COMMIT/BEGIN between them in a \
                 migration that does not run in a transaction; backfills belong in batches"
                    .into(),
            ),
        );
    }
}
