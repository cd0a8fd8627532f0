//! lock-table: an explicit `LOCK TABLE` in a mode that blocks writes (SHARE or stronger) on
//! an existing table, held until the transaction ends.

use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/lock-table.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::LockTable { table, mode } = cx.op else {
            return;
        };
        if *mode < LockMode::Share || !cx.is_existing(table) {
            return;
        }
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "LOCK TABLE takes {mode} on {} until the transaction ends",
                cx.describe(table)
            ),
            Some(format!(
                "{mode} on {table} blocks {} for every statement that follows in this transaction",
                mode.blocks_what()
            )),
            Some(
                "remove it: each statement takes the lock it needs, for as short as it needs; if \
                 you must serialise, take the weakest mode that works, set lock_timeout first, \
                 and commit quickly"
                    .into(),
            ),
        );
    }
}
