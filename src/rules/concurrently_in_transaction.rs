//! concurrently-in-transaction: an operation PostgreSQL refuses inside a transaction block
//! (`CREATE INDEX CONCURRENTLY`, `VACUUM`, …) in a migration that runs in one.

use super::support::line_of;
use super::{Emitter, StatementContext};
use crate::ops::Op;

pub struct Rule;

/// How the statement is spelled, for the message.
fn spelled(op: &Op) -> &'static str {
    match op {
        Op::CreateIndex { .. } => "CREATE INDEX CONCURRENTLY",
        Op::DropIndex { .. } => "DROP INDEX CONCURRENTLY",
        Op::Reindex { .. } => "REINDEX CONCURRENTLY",
        Op::DetachPartition { .. } => "DETACH PARTITION CONCURRENTLY",
        Op::VacuumFull { .. } => "VACUUM FULL",
        Op::Vacuum { .. } => "VACUUM",
        _ => "this statement",
    }
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/concurrently-in-transaction.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        if !cx.tx.in_transaction {
            return;
        }
        let Some(op) = cx.statement.ops.iter().find(|o| o.needs_no_transaction()) else {
            return;
        };
        let what = spelled(op);
        let why = match &cx.tx.explicit_begin {
            Some(b) => format!(
                "the BEGIN at line {} opened one",
                line_of(cx.source, b.start)
            ),
            None => "this migration runs in a transaction".to_string(),
        };
        out.emit(
            cx.span.clone(),
            None,
            format!("{what} cannot run inside a transaction block, and {why}"),
            Some(format!(
                "PostgreSQL rejects {what} here with \"cannot run inside a transaction block\", \
                 failing the migration"
            )),
            Some(
                "move it to a migration of its own that does not run in a transaction (diesel: \
                 run_in_transaction = false in metadata.toml; goose: -- +goose NO TRANSACTION; \
                 sqlx: -- no-transaction; dbmate: transaction:false; flyway: \
                 executeInTransaction=false), with no BEGIN around it"
                    .into(),
            ),
        );
    }
}
