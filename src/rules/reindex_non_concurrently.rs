//! reindex-non-concurrently: `REINDEX` without CONCURRENTLY blocks writes to the table and
//! queries that use the index being rebuilt.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/reindex-non-concurrently.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::Reindex {
            target_kind,
            target,
            concurrently: false,
        } = cx.op
        else {
            return;
        };
        let kind = target_kind.to_ascii_uppercase();
        // The table whose writes stop: the index's table, or the table itself.
        let table = match (kind.as_str(), target) {
            ("INDEX", Some(i)) => cx.catalog.index_table(i).or(Some(i)),
            ("TABLE", Some(t)) => Some(t),
            _ => None,
        };
        let table_known = match (kind.as_str(), target) {
            ("INDEX", Some(i)) => cx.catalog.index_table(i).is_some(),
            ("TABLE", Some(_)) => true,
            _ => false,
        };
        if table_known && table.is_some_and(|t| !cx.is_existing(t)) {
            return;
        }
        let subject = match target {
            Some(t) => format!("{kind} {t}"),
            None => kind.clone(),
        };
        let message = match (table, table_known) {
            (Some(t), true) => format!(
                "REINDEX {subject} blocks writes to {} while {} rebuilt",
                cx.describe(t),
                if kind == "INDEX" {
                    "the index is"
                } else {
                    "its indexes are"
                }
            ),
            (Some(_), false) => {
                format!("REINDEX {subject} blocks writes to its table while it is rebuilt")
            }
            _ => format!(
                "REINDEX {subject} blocks writes to every table it covers, one after another"
            ),
        };
        let help = if cx.settings.pg_version >= 12 {
            format!(
                "REINDEX {} CONCURRENTLY {} in a migration that does not run in a transaction",
                if kind.is_empty() { "TABLE" } else { &kind },
                target.as_ref().map(|t| t.to_string()).unwrap_or_default()
            )
        } else {
            "PostgreSQL 11 has no REINDEX CONCURRENTLY: CREATE INDEX CONCURRENTLY a copy, DROP \
             INDEX CONCURRENTLY the old one, then ALTER INDEX … RENAME, outside a transaction"
                .to_string()
        };
        out.emit(
            cx.span.clone(),
            table,
            message,
            Some(
                "takes SHARE on the table (INSERT, UPDATE and DELETE wait) and ACCESS EXCLUSIVE \
                 on each index being rebuilt (queries planned to use it wait)"
                    .into(),
            ),
            Some(help),
        );
    }
}
