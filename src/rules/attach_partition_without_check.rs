//! attach-partition-without-check: `ATTACH PARTITION` scans the partition to prove its rows
//! fit the bound, unless a validated CHECK constraint already proves it.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::{ConstraintKind, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/attach-partition-without-check.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::AttachPartition { table, partition } = cx.op else {
            return;
        };
        // A partition created in this migration is empty: its scan is instant.
        if !cx.is_existing(partition) {
            return;
        }
        // lockstep does not compare expressions with the partition bound: any validated
        // CHECK on the partition is taken as the proof that was prepared for the attach.
        let has_check = cx.catalog.table(partition).is_some_and(|t| {
            t.constraints
                .iter()
                .any(|c| !c.not_valid && matches!(c.kind, ConstraintKind::Check { .. }))
        });
        if has_check {
            return;
        }
        let mode = mode_on(cx.locks, partition, LockMode::AccessExclusive);
        let parent_note = if cx.settings.pg_version < 12 {
            format!(", and ACCESS EXCLUSIVE on the parent {table} (PostgreSQL 11)")
        } else {
            String::new()
        };
        out.emit(
            cx.span.clone(),
            Some(partition),
            format!(
                "ATTACH PARTITION scans all of {} under {mode} to check it fits the partition \
                 bound of {table}",
                cx.describe(partition)
            ),
            Some(format!(
                "takes {mode} on {partition}{parent_note}: queries on it wait while every row is \
                 checked"
            )),
            Some(format!(
                "before attaching, ALTER TABLE {partition} ADD CONSTRAINT … CHECK (<the partition \
                 bound>) NOT VALID, VALIDATE CONSTRAINT it in a separate transaction, then ATTACH \
                 (PostgreSQL uses the check and skips the scan) and drop the check"
            )),
        );
    }
}
