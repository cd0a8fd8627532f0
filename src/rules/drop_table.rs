//! drop-table: `DROP TABLE` of a table that existed before this migration.

use super::{Direction, Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-table.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        // Down scripts drop what their up script created: the old version never used it.
        if cx.direction != Direction::Up {
            return;
        }
        let Op::DropTable { table, .. } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "dropping table {table} breaks any running application version that still \
                 uses it"
            ),
            Some(format!(
                "instant, but every query naming {table} fails from this moment"
            )),
            Some(
                "drop it in a contract migration, after a deploy that stops using the table; \
                 then mark this statement with `-- lockstep:ignore drop-table <why it is safe \
                 now>`"
                    .into(),
            ),
        );
    }
}
