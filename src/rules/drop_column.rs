//! drop-column: `ALTER TABLE … DROP COLUMN` on a table that existed before this migration.

use super::{Direction, Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-column.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        // Down scripts drop what their up script added: the old version never used it.
        if cx.direction != Direction::Up {
            return;
        }
        let Op::DropColumn { table, column, .. } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        // A column the fully known table does not have: the statement fails
        // (statement-will-fail says so), no client breaks.
        if cx.catalog.knows_fully(table) && cx.catalog.column(table, column).is_none() {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "dropping {table}.{column} breaks any running application version that still \
                 reads or writes it"
            ),
            Some(format!(
                "instant, but queries naming {column} (and ORMs that list every column) fail \
                 from this moment"
            )),
            Some(format!(
                "drop it in a contract migration, after a deploy that stops using {column} \
                 (Rails: ignored_columns); then mark this statement with \
                 `-- lockstep:ignore drop-column <why it is safe now>`"
            )),
        );
    }
}
