//! create-index-non-concurrently: `CREATE INDEX` on an existing table without CONCURRENTLY.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/create-index-non-concurrently.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::CreateIndex {
            table,
            concurrently: false,
            name,
            ..
        } = cx.op
        else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        let mode = cx.locks.iter().find(|f| &f.table == table).map(|f| f.mode);
        let mode = mode.map(|m| m.as_str()).unwrap_or("SHARE");
        let name = name.as_ref().map(|n| n.to_string()).unwrap_or_default();
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "CREATE INDEX {name} blocks writes to {} for the whole build",
                cx.describe(table)
            )
            .replace("INDEX  blocks", "INDEX blocks"),
            Some(format!(
                "takes {mode} on {table}: INSERT, UPDATE and DELETE wait until the build ends"
            )),
            Some(
                "build it with CREATE INDEX CONCURRENTLY in a migration that does not run in a \
                 transaction; `lockstep plan` writes this for you"
                    .into(),
            ),
        );
    }
}
