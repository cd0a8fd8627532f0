//! drop-index-non-concurrently: `DROP INDEX` on an existing table without CONCURRENTLY.

use super::support::{mode_on, who_waits};
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-index-non-concurrently.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::DropIndex {
            name,
            concurrently: false,
            ..
        } = cx.op
        else {
            return;
        };
        // An index the catalog does not know was created outside the migrations we see:
        // its table exists, size unknown (sized by the index name, which has no hint).
        let table = cx.catalog.index_table(name).unwrap_or(name);
        let known_table = cx.catalog.index_table(name).is_some();
        if known_table && !cx.is_existing(table) {
            return;
        }
        let mode = mode_on(cx.locks, table, LockMode::AccessExclusive);
        let on = if known_table {
            cx.describe(table)
        } else {
            "its table".to_string()
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            format!("DROP INDEX {name} takes {mode} on {on}"),
            Some(format!(
                "takes {mode} on {}: {} until the drop commits, and the drop itself waits \
                 behind every running query",
                if known_table {
                    table.to_string()
                } else {
                    "the table".into()
                },
                who_waits(mode)
            )),
            Some(format!(
                "drop it with DROP INDEX CONCURRENTLY IF EXISTS {name} in a migration that does \
                 not run in a transaction"
            )),
        );
    }
}
