//! commit-in-managed-transaction: `COMMIT` or `ROLLBACK` in a migration that the runner
//! wraps in its own transaction.

use super::{Emitter, StatementContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/commit-in-managed-transaction.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        // Runners that send a file as one query (golang-migrate, prisma) have no transaction
        // of their own around it; an in-file BEGIN … COMMIT is how their authors make a
        // file atomic. A COMMIT closing an in-file BEGIN is reported at that BEGIN.
        if !cx.migration.in_transaction
            || cx.settings.single_statement_autocommit
            || cx.tx.explicit_begin.is_some()
            || !cx.tx.in_transaction
        {
            return;
        }
        let Some(word) = cx.statement.ops.iter().find_map(|op| match op {
            Op::Commit => Some("COMMIT"),
            Op::Rollback => Some("ROLLBACK"),
            _ => None,
        }) else {
            return;
        };
        let runner = cx
            .settings
            .runner
            .as_deref()
            .map(|r| format!("{r} "))
            .unwrap_or_default();
        let effect = if word == "COMMIT" {
            "commits the first part of the migration on its own: if a later statement fails, \
             that part stays applied while the migration is recorded as failed"
        } else {
            "discards the work before it, and the runner then records the migration as \
             applied"
        };
        out.emit(
            cx.span.clone(),
            None,
            format!("{word} inside the transaction the {runner}runner wraps around this migration"),
            Some(format!(
                "ends the runner's transaction: {effect}; what follows runs outside any \
                 transaction"
            )),
            Some(
                "remove the transaction control from the file and let the runner commit, or \
                 mark the migration as not running in a transaction and manage BEGIN/COMMIT \
                 yourself"
                    .into(),
            ),
        );
    }
}
