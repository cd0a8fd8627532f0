//! json-over-jsonb: `json` columns.

use super::new_columns::{introduced, list, verb};
use super::type_family::TypeClass;
use super::{Emitter, OpContext};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/json-over-jsonb.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let cols = introduced(cx, |c| TypeClass::of(c.ty) == TypeClass::Json);
        if cols.is_empty() {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "{} {} json: stored as text, re-parsed on every access, with no equality \
                 operator and no GIN indexing",
                list(&cols),
                verb(&cols)
            ),
            Some("json keeps the input text verbatim".into()),
            Some(
                "use jsonb unless you need the exact input text (key order, duplicate keys, \
                 whitespace) preserved"
                    .into(),
            ),
        );
    }
}
