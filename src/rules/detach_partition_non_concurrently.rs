//! detach-partition-non-concurrently: `DETACH PARTITION` without CONCURRENTLY (PostgreSQL
//! 14+) takes ACCESS EXCLUSIVE on the partitioned table.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/detach-partition-non-concurrently.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::DetachPartition {
            table,
            partition,
            concurrently: false,
            ..
        } = cx.op
        else {
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
                "DETACH PARTITION {partition} takes {mode} on the partitioned table {}",
                cx.describe(table)
            ),
            Some(format!(
                "takes {mode} on {table}: every query on any of its partitions waits until the \
                 detach commits"
            )),
            Some(format!(
                "ALTER TABLE {table} DETACH PARTITION {partition} CONCURRENTLY in a migration that \
                 does not run in a transaction (not possible while {table} has a default \
                 partition); if it is interrupted, finish it with DETACH PARTITION … FINALIZE"
            )),
        );
    }
}
