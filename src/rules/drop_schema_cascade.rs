//! drop-schema-cascade: `DROP SCHEMA … CASCADE` drops every object in the schema, and
//! everything elsewhere that depends on them, without naming any of them.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-schema-cascade.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::DropSchema {
            name,
            cascade: true,
        } = cx.op
        else {
            return;
        };
        let known: Vec<String> = cx
            .catalog
            .tables
            .keys()
            .filter(|t| &t.schema == name)
            .map(|t| t.to_string())
            .collect();
        let what = if known.is_empty() {
            "every table, view, function and type in it".to_string()
        } else {
            format!(
                "every object in it, including {}",
                super::support::join_words(&known)
            )
        };
        out.emit(
            cx.span.clone(),
            None,
            format!("DROP SCHEMA {name} CASCADE drops {what}, and whatever depends on them"),
            Some("running code that uses any of them fails, and their data is gone".into()),
            Some(
                "drop the objects one by one (each a reviewed statement), then DROP SCHEMA \
                 without CASCADE: it fails if something was forgotten"
                    .into(),
            ),
        );
    }
}
