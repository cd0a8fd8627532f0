//! truncate: `TRUNCATE` of an existing table: ACCESS EXCLUSIVE, and every row is gone.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/truncate.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::Truncate { table } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "TRUNCATE takes {mode} on {} and deletes every row",
                cx.describe(table)
            ),
            Some(format!(
                "takes {mode} on {table}: every query on it, reads included, waits until the \
                 transaction commits"
            )),
            Some(
                "if the rows really must go, delete them in batches (DELETE … WHERE id IN \
                 (SELECT id … LIMIT 5000)) outside the schema migration; to retire the table, \
                 stop using it and drop it in a later migration"
                    .into(),
            ),
        );
    }
}
