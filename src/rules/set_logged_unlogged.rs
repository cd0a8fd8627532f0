//! set-logged-unlogged: `ALTER TABLE … SET LOGGED|UNLOGGED` rewrites an existing table.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/set-logged-unlogged.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::SetLogged { table, logged } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
        let (what, extra) = if *logged {
            (
                "SET LOGGED",
                "and writes all of it to the WAL (and to every replica)",
            )
        } else {
            (
                "SET UNLOGGED",
                "and the table then loses its rows after a crash and is not replicated",
            )
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            format!("{what} rewrites {} under {mode}", cx.describe(table)),
            Some(format!(
                "takes {mode} on {table}: every query on it, reads included, waits until it is \
                 rewritten, {extra}"
            )),
            Some(
                "there is no online form: run it in a maintenance window, or create a new table \
                 with the wanted persistence, copy rows in batches and swap the names in one \
                 short transaction"
                    .into(),
            ),
        );
    }
}
