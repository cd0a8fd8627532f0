//! create-trigger-on-existing-table: `CREATE TRIGGER` on an existing table blocks writes
//! while it waits for its lock, and from then on runs on every write.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/create-trigger-on-existing-table.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::CreateTrigger { name, table } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        let mode = mode_on(cx.locks, table, LockMode::ShareRowExclusive);
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "CREATE TRIGGER {name} takes {mode} on {} and then runs on every write to it",
                cx.describe(table)
            ),
            Some(format!(
                "takes {mode} on {table}: INSERT, UPDATE and DELETE wait until the migration \
                 commits, and then pay for the trigger function on every row"
            )),
            Some(
                "set a short lock_timeout before it, commit right after it, keep the trigger \
                 function cheap, and make sure the running application tolerates what it does"
                    .into(),
            ),
        );
    }
}
