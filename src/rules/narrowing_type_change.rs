//! narrowing-type-change: `ALTER COLUMN … TYPE` to a type that accepts fewer values.

use super::type_family::narrowing;
use super::{Direction, Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/narrowing-type-change.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        if cx.direction != Direction::Up {
            return;
        }
        let Op::AlterColumnType {
            table, column, ty, ..
        } = cx.op
        else {
            return;
        };
        if !cx.is_existing(table) {
            return;
        }
        // Without the old type (column created outside the replayed history) we cannot tell.
        let Some(old) = cx.catalog.column(table, column) else {
            return;
        };
        let Some(why) = narrowing(&old.ty, ty) else {
            return;
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            format!(
                "changing {table}.{column} from {} to {ty} narrows it: {why}",
                old.ty
            ),
            Some(
                "existing rows that do not fit make the ALTER fail or are rounded; writes of \
                 the running application that fit the old type can fail the same way"
                    .into(),
            ),
            Some(format!(
                "check that every existing value fits {ty}, add a CHECK constraint NOT VALID \
                 and VALIDATE it so new writes are held to the new limit, deploy code that \
                 respects it, and only then change the type"
            )),
        );
    }
}
