//! validate-in-same-transaction-as-add: `VALIDATE CONSTRAINT` in the same transaction as the
//! `ADD … NOT VALID` it follows: the ADD's lock is still held, so splitting gained nothing.

use super::support::{line_of, who_waits};
use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/validate-in-same-transaction-as-add.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::ValidateConstraint { table, name } = cx.op else {
            return;
        };
        if !cx.tx.in_transaction || !cx.is_existing(table) {
            return;
        }
        let Some(added) = cx
            .tx
            .not_valid_added
            .iter()
            .find(|a| &a.table == table && &a.name == name)
        else {
            return;
        };
        let mode = added.mode;
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "VALIDATE CONSTRAINT {name} scans {} in the same transaction as the ADD … NOT \
                 VALID at line {}, whose {mode} lock is still held",
                cx.describe(table),
                line_of(cx.source, added.span.start)
            ),
            Some(format!(
                "{mode} on {table} is held until commit: {} for the whole validation, exactly as \
                 without NOT VALID",
                who_waits(mode)
            )),
            Some(
                "commit between the two steps: move VALIDATE CONSTRAINT to the next migration, or \
                 COMMIT before it in a migration that does not run in a transaction"
                    .into(),
            ),
        );
    }
}
