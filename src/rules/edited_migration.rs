//! edited-migration: see rules/edited-migration.yaml.
//!
//! The finding compares the folder with lockstep.lock, which no single statement shows;
//! [`crate::lockfile::check_into`] produces it when `lint` finds a lock file. This entry
//! carries the documentation and the configured severity.

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/edited-migration.yaml")
    }
}
