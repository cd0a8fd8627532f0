//! rename-column: `ALTER TABLE … RENAME COLUMN` on a table that existed before this migration.

use super::{Direction, Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/rename-column.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        // A down script undoes its up script; renaming back is what the old version needs.
        if cx.direction != Direction::Up {
            return;
        }
        let Op::RenameColumn {
            table,
            column,
            new_name,
        } = cx.op
        else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "renaming {table}.{column} to {new_name} breaks the running application, \
                 which still reads and writes \"{column}\""
            ),
            Some(format!(
                "instant, but from this moment every query naming {table}.{column} fails"
            )),
            Some(format!(
                "expand and contract: add {new_name}, keep it in sync with {column} by a \
                 trigger, backfill, deploy code that uses {new_name}, then drop {column} in a \
                 later migration (`lockstep plan` writes these steps)"
            )),
        );
    }
}
