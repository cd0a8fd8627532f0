//! vacuum-full-or-cluster: `VACUUM FULL` and `CLUSTER` rewrite tables under ACCESS EXCLUSIVE.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/vacuum-full-or-cluster.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let (what, table) = match cx.op {
            Op::VacuumFull { table } => ("VACUUM FULL", table.as_ref()),
            Op::Cluster { table } => ("CLUSTER", table.as_ref()),
            _ => return,
        };
        if table.is_some_and(|t| !cx.is_existing(t)) {
            return;
        }
        let (message, label) = match table {
            Some(t) => {
                let mode = mode_on(cx.locks, t, LockMode::AccessExclusive);
                (
                    format!("{what} rewrites {} under {mode}", cx.describe(t)),
                    format!(
                        "takes {mode} on {t}: every query on it, reads included, waits until the \
                         table and its indexes are rewritten"
                    ),
                )
            }
            None => (
                format!(
                    "{what} without a table rewrites every table it covers, each under ACCESS EXCLUSIVE"
                ),
                "every query on each table waits while that table is rewritten".to_string(),
            ),
        };
        out.emit(
            cx.span.clone(),
            table,
            message,
            Some(label),
            Some(
                "do not compact tables from a migration: use pg_repack or pg_squeeze, which \
                 rewrite online, or a plain VACUUM (no exclusive lock) when reusable space is \
                 enough"
                    .into(),
            ),
        );
    }
}
