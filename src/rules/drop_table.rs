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
        let Op::DropTable { table, cascade, .. } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        let referenced = cx.catalog.referenced_by(table);
        let label = if *cascade && !referenced.is_empty() {
            let names: Vec<String> = referenced.iter().map(|(t, c)| format!("{t}.{c}")).collect();
            format!(
                "CASCADE also drops the foreign keys {} that point at it",
                names.join(", ")
            )
        } else {
            format!("instant, but every query naming {table} fails from this moment")
        };
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "dropping table {table} breaks any running application version that still \
                 uses it"
            ),
            Some(label),
            Some(
                "drop it in a contract migration, after a deploy that stops using the table; \
                 then mark this statement with `-- lockstep:ignore drop-table <why it is safe \
                 now>`"
                    .into(),
            ),
        );
    }
}
