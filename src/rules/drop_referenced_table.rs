//! drop-referenced-table: `DROP TABLE` of a table that foreign keys of other tables or views
//! still depend on. The dependents come from [`crate::graph::table_dependents`].

use super::support::join_words;
use super::{Emitter, OpContext};
use crate::graph::table_dependents;
use crate::ops::{ObjName, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-referenced-table.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::DropTable { table, cascade, .. } = cx.op else {
            return;
        };
        // In a down script, what CASCADE takes with the table is judged by the rollback
        // check: a dependent the up script created is meant to go, and one that existed
        // before is reported there as not restored. Only a drop that fails is said here.
        if *cascade && cx.direction == super::Direction::Down {
            return;
        }
        // Tables dropped by the same statement (`DROP TABLE a, b`) may reference each other.
        let dropped_together: Vec<&ObjName> = cx
            .statement
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::DropTable { table, .. } => Some(table),
                _ => None,
            })
            .collect();
        let deps: Vec<String> = table_dependents(cx.catalog, table)
            .into_iter()
            .filter(|d| !dropped_together.contains(&&d.owner))
            .map(|d| d.what)
            .collect();
        if deps.is_empty() {
            return;
        }
        let (message, label) = if *cascade {
            (
                format!(
                    "DROP TABLE {table} CASCADE also drops {}",
                    join_words(&deps)
                ),
                "CASCADE removes them without naming them".to_string(),
            )
        } else {
            (
                format!(
                    "DROP TABLE {table} fails: {} depend{} on it",
                    join_words(&deps),
                    if deps.len() == 1 { "s" } else { "" }
                ),
                "PostgreSQL refuses to drop a table that other objects depend on".to_string(),
            )
        };
        out.emit(
            cx.span.clone(),
            None,
            message,
            Some(label),
            Some(
                "drop the dependents first, by name (ALTER TABLE … DROP CONSTRAINT for the foreign \
                 keys, DROP VIEW for the views), or drop the tables in dependency order; in a down \
                 script, undo the up script's statements in reverse order"
                    .into(),
            ),
        );
    }
}
