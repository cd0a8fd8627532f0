//! drop-database: `DROP DATABASE` in a migration.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/drop-database.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::DropDatabase { name } = cx.op else {
            return;
        };
        out.emit(
            cx.span.clone(),
            None,
            format!("DROP DATABASE {name} deletes the whole database, every table and its data"),
            Some("nothing in it can be brought back by rolling the deploy back".into()),
            Some(
                "drop databases by hand, not from a migration that runs on every environment"
                    .into(),
            ),
        );
    }
}
