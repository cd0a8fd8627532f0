//! enum-value-rename: `ALTER TYPE … RENAME VALUE`.

use super::{Direction, Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/enum-value-rename.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        if cx.direction != Direction::Up {
            return;
        }
        let Op::RenameEnumValue {
            name,
            value,
            new_value,
        } = cx.op
        else {
            return;
        };
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "renaming value '{value}' of enum {name} to '{new_value}' breaks the running \
                 application, which still writes and compares '{value}'"
            ),
            Some(format!(
                "instant, but writing '{value}' fails and comparisons with it no longer match"
            )),
            Some(format!(
                "add '{new_value}' with ALTER TYPE {name} ADD VALUE, deploy code that writes \
                 and accepts both, migrate the rows with a batched UPDATE, and stop using \
                 '{value}' (an enum value cannot be dropped; recreate the type if it must go)"
            )),
        );
    }
}
