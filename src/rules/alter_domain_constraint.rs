//! alter-domain-constraint: `ALTER DOMAIN … ADD CONSTRAINT` (without NOT VALID) and
//! `ALTER DOMAIN … SET NOT NULL` check every column of the domain in every table, each
//! table locked against writes while it is read.

use super::{Emitter, OpContext};
use crate::ops::{DomainAction, Op};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/alter-domain-constraint.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::AlterDomain { name, action } = cx.op else {
            return;
        };
        let what = match action {
            DomainAction::AddConstraint { not_valid: false } => "ADD CONSTRAINT",
            DomainAction::SetNotNull => "SET NOT NULL",
            _ => return,
        };
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "ALTER DOMAIN {name} {what} reads every row of every table with a column of \
                 type {name}, each under a SHARE lock"
            ),
            Some(
                "INSERT, UPDATE and DELETE on each of those tables wait while it is checked".into(),
            ),
            Some(match action {
                DomainAction::SetNotNull => format!(
                    "add a CHECK (VALUE IS NOT NULL) constraint NOT VALID to the domain, then \
                     ALTER DOMAIN {name} VALIDATE CONSTRAINT … in a later migration (it does not \
                     block writes)"
                ),
                _ => format!(
                    "add the constraint with NOT VALID (new values are checked at once, no \
                     scan), then ALTER DOMAIN {name} VALIDATE CONSTRAINT … in a later migration"
                ),
            }),
        );
    }
}
