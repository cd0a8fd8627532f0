//! unparsed-statement: a statement neither sqlparser nor the fallback understood, so no
//! rule could check it.

use super::{Emitter, StatementContext};
use crate::parse::ParsedBy;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/unparsed-statement.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        if cx.statement.parsed_by != ParsedBy::Unparsed {
            return;
        }
        let error = cx
            .statement
            .error
            .clone()
            .unwrap_or_else(|| "not recognised".into());
        out.emit(
            cx.span.clone(),
            None,
            "lockstep could not parse this statement, so no rule checked it".into(),
            Some(error),
            Some(
                "check the statement for a typo; if it is valid PostgreSQL, report it to \
                 lockstep and silence this with `-- lockstep:ignore unparsed-statement <why>`"
                    .into(),
            ),
        );
    }
}
