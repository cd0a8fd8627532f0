//! missing-statement-timeout: long work that blocks others (a rewrite or validating scan
//! under a write-blocking lock, a non-concurrent index build, a backfill) on an existing table
//! with no statement_timeout in effect.

use super::support::{describe_work, long_work, statement_kind};
use super::{Emitter, StatementContext};

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/missing-statement-timeout.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        if cx.tx.has_statement_timeout() {
            return;
        }
        let work: Vec<_> = long_work(cx)
            .into_iter()
            .filter(|w| w.blocks_others)
            .collect();
        let Some(first) = work.first() else {
            return;
        };
        out.emit(
            cx.span.clone(),
            Some(&first.table),
            format!(
                "{} {} with no statement_timeout",
                statement_kind(cx.text()),
                describe_work(cx, &work)
            ),
            Some("nothing bounds how long it blocks others if it runs longer than expected".into()),
            Some(
                "SET statement_timeout to what you can afford to block (e.g. SET \
                 statement_timeout = '5min') before it, so a slow run fails and rolls back \
                 instead of blocking for hours"
                    .into(),
            ),
        );
    }
}
