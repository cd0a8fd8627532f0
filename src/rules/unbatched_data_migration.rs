//! unbatched-data-migration: `UPDATE`/`DELETE` without a selective WHERE on an existing
//! table: every row changed in one long transaction.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/unbatched-data-migration.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let (verb, table, has_where) = match cx.op {
            Op::Update {
                table,
                has_where,
                selective: false,
                ..
            } => ("UPDATE", table, *has_where),
            Op::Delete {
                table,
                has_where,
                selective: false,
            } => ("DELETE", table, *has_where),
            _ => return,
        };
        if !cx.is_existing(table) {
            return;
        }
        let scope = if has_where {
            "with a WHERE that does not bound it by key or range, may touch"
        } else {
            "without WHERE touches"
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "{verb} {scope} every row of {} in one transaction",
                cx.describe(table)
            ),
            Some(format!(
                "row locks on every changed row of {table} are held until commit; dead rows, WAL \
                 and replica lag grow with the table"
            )),
            Some(
                "move it out of the schema migration and run it in batches of a few thousand rows \
                 keyed on the primary key, one short transaction per batch; `lockstep plan` \
                 writes a resumable backfill"
                    .into(),
            ),
        );
    }
}
