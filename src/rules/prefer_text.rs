//! prefer-text: `character varying(n)` columns.

use super::new_columns::{introduced, list, verb};
use super::type_family::TypeClass;
use super::{Emitter, OpContext};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/prefer-text.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let cols = introduced(cx, |c| matches!(TypeClass::of(c.ty), TypeClass::Varchar(_)));
        if cols.is_empty() {
            return;
        }
        let types: Vec<String> = cols.iter().map(|c| c.ty.to_string()).collect();
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "{} {} {}: the length limit is part of the type, and raising it later is an \
                 ALTER TABLE",
                list(&cols),
                verb(&cols),
                dedup(types).join(", ")
            ),
            Some("varchar(n) stores like text and only adds the length check".into()),
            Some(
                "use text, and a CHECK (char_length(col) <= n) constraint if the limit is a \
                 real rule: it can be changed with NOT VALID and VALIDATE, without an \
                 exclusive lock for the duration of a scan"
                    .into(),
            ),
        );
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}
