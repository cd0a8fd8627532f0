//! unused-ignore: a `lockstep:ignore` comment that suppressed nothing.
//!
//! The finding is produced by [`crate::suppress`] after all rules ran, since only then is it
//! known which comments were used; this entry carries the documentation and the configured
//! severity.

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/unused-ignore.yaml")
    }
}
