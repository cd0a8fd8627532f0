//! down-does-not-restore: see rules/down-does-not-restore.yaml.
//!
//! The finding compares the states before the up, after the up and after the down script,
//! which no single statement shows; [`crate::rollback`] produces it from the analyser's
//! per-migration hook. This entry carries the documentation and the configured severity.

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/down-does-not-restore.yaml")
    }
}
