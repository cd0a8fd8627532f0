//! nested-or-uncommitted-begin: `BEGIN` while a transaction is already open (PostgreSQL
//! only warns, and the next COMMIT ends the outer transaction), or a script that ends with
//! an explicit transaction still open.

use super::support::line_of;
use super::{Emitter, EndContext, StatementContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/nested-or-uncommitted-begin.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        if !cx.statement.ops.iter().any(|o| matches!(o, Op::Begin)) || !cx.tx.in_transaction {
            return;
        }
        // A runner that sends the file as one query (golang-migrate, prisma) has no
        // transaction of its own: the server's implicit transaction becomes the file's
        // BEGIN … COMMIT, without a warning (checked on PostgreSQL 15). Its authors
        // recommend exactly that for multi-statement files.
        if cx.settings.single_statement_autocommit && cx.tx.explicit_begin.is_none() {
            return;
        }
        let (message, help) = match &cx.tx.explicit_begin {
            Some(outer) => (
                format!(
                    "BEGIN while the transaction opened at line {} is still open",
                    line_of(cx.source, outer.start)
                ),
                "remove the inner BEGIN, or COMMIT the first transaction before it",
            ),
            None => (
                format!(
                    "BEGIN inside the transaction the {}runner already wraps around this migration",
                    cx.settings
                        .runner
                        .as_deref()
                        .map(|r| format!("{r} "))
                        .unwrap_or_default()
                ),
                "remove BEGIN/COMMIT from the file and let the migration tool manage the \
                 transaction, or mark the migration as not running in a transaction",
            ),
        };
        out.emit(
            cx.span.clone(),
            None,
            message,
            Some(
                "PostgreSQL ignores this BEGIN with a warning; the next COMMIT ends the outer \
                 transaction, and what follows runs outside any transaction"
                    .into(),
            ),
            Some(help.into()),
        );
    }

    fn check_end(&self, cx: &EndContext, out: &mut Emitter) {
        // In a framework transaction the BEGIN was already reported as nested above.
        if cx.migration.in_transaction {
            return;
        }
        let Some(begin) = &cx.tx.explicit_begin else {
            return;
        };
        out.emit(
            begin.clone(),
            None,
            format!(
                "the transaction opened at line {} is never committed",
                line_of(cx.source, begin.start)
            ),
            Some(
                "the script ends inside this transaction: depending on the tool its changes are \
                 rolled back or left open, holding every lock taken"
                    .into(),
            ),
            Some("add COMMIT; at the end of the script".into()),
        );
    }
}
