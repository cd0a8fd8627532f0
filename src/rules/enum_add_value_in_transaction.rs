//! enum-add-value-in-transaction: `ALTER TYPE … ADD VALUE` inside a transaction block, which
//! PostgreSQL 11 rejects.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/enum-add-value-in-transaction.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::AddEnumValue { name, value } = cx.op else {
            return;
        };
        if !cx.tx.in_transaction || cx.settings.pg_version >= 12 {
            return;
        }
        out.emit(
            cx.span.clone(),
            None,
            format!(
                "ALTER TYPE {name} ADD VALUE '{value}' cannot run inside a transaction block on \
                 PostgreSQL {}",
                cx.settings.pg_version
            ),
            Some(
                "PostgreSQL 11 rejects it with \"ALTER TYPE … ADD cannot run inside a transaction \
                 block\", failing the migration"
                    .into(),
            ),
            Some(
                "move it to a migration that does not run in a transaction (PostgreSQL 12 and \
                 later accept it in a transaction, but the new value cannot be used before \
                 commit)"
                    .into(),
            ),
        );
    }
}
