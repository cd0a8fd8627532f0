//! drop-not-null: `ALTER COLUMN … DROP NOT NULL` on a column of an existing table.

use super::{Direction, Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-not-null.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        if cx.direction != Direction::Up {
            return;
        }
        let Op::DropNotNull { table, column } = cx.op else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        // Already nullable in the replayed schema: the statement changes nothing.
        if cx
            .catalog
            .column(table, column)
            .is_some_and(|c| !c.not_null)
        {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "{table}.{column} may hold NULL from now on, and code of the running version \
                 that reads it assumes it never does"
            ),
            Some(format!(
                "instant; the first NULL written to {column} reaches every reader"
            )),
            Some(format!(
                "deploy readers that handle a NULL {column} first; if this is the first step \
                 of removing the column, mark it with `-- lockstep:ignore drop-not-null \
                 <reason>`"
            )),
        );
    }
}
