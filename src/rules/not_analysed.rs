//! not-analysed: code whose effect cannot be known without running it (SQL built at run
//! time in a DO block, a helper method or loop in an ORM migration). It is reported once,
//! as information, and the replayed schema stops claiming to know the tables in full.

use super::{Emitter, OpContext};
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/not-analysed.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::NotAnalysed { what } = cx.op else {
            return;
        };
        out.emit(
            cx.span.clone(),
            None,
            format!("not analysed: {what}"),
            Some("its effect is only known when it runs".into()),
            Some(
                "write the statement out (literal SQL or a plain migration call) so it can be \
                 checked, or review it by hand"
                    .into(),
            ),
        );
    }
}
