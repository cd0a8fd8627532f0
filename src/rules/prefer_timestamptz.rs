//! prefer-timestamptz: `timestamp without time zone` columns.

use super::new_columns::{introduced, list, verb};
use super::type_family::TypeClass;
use super::{Emitter, OpContext};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/prefer-timestamptz.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let cols = introduced(cx, |c| TypeClass::of(c.ty) == TypeClass::Timestamp);
        if cols.is_empty() {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "{} {} timestamp without time zone: the value carries no zone, so its \
                 meaning depends on the writer's and reader's TimeZone setting",
                list(&cols),
                verb(&cols)
            ),
            Some("now() is stored as local wall-clock time of the session".into()),
            Some(
                "use timestamptz (timestamp with time zone): it stores an absolute instant \
                 and converts to each session's zone on output"
                    .into(),
            ),
        );
    }
}
