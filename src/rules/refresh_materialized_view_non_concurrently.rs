//! refresh-materialized-view-non-concurrently: `REFRESH MATERIALIZED VIEW` without
//! CONCURRENTLY locks the view against reads for the whole refresh.

use super::support::mode_on;
use super::{Emitter, OpContext};
use crate::locks::LockMode;
use crate::ops::Op;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/refresh-materialized-view-non-concurrently.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let Op::RefreshMaterializedView {
            name,
            concurrently: false,
        } = cx.op
        else {
            return;
        };
        if !cx.is_existing(name) {
            return;
        }
        let mode = mode_on(cx.locks, name, LockMode::AccessExclusive);
        out.emit(
            cx.span.clone(),
            Some(name),
            format!(
                "REFRESH MATERIALIZED VIEW takes {mode} on {} for the whole refresh",
                cx.describe(name)
            ),
            Some(format!(
                "takes {mode} on {name}: every SELECT from it waits until the query behind it \
                 has run again"
            )),
            Some(format!(
                "REFRESH MATERIALIZED VIEW CONCURRENTLY {name}: readers keep the old contents \
                 until it finishes; it needs a UNIQUE index on {name} over plain columns (no \
                 WHERE) and a view that is already populated"
            )),
        );
    }
}
