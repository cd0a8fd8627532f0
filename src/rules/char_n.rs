//! char-n: `character(n)` columns.

use super::new_columns::{introduced, list, verb};
use super::type_family::TypeClass;
use super::{Emitter, OpContext};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/char-n.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let cols = introduced(cx, |c| matches!(TypeClass::of(c.ty), TypeClass::Char(_)));
        if cols.is_empty() {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "{} {} character(n): values are padded with spaces to the full length, and \
                 trailing spaces are ignored in comparisons",
                list(&cols),
                verb(&cols)
            ),
            Some("char(n) is no faster than text and takes at least as much space".into()),
            Some(
                "use text (or varchar); for a fixed-length code add \
                 CHECK (char_length(col) = n)"
                    .into(),
            ),
        );
    }
}
