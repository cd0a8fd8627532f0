//! Rule-id aliases: names that stand for several rules.
//!
//! The breaking rules are split by object (`rename-column`, `rename-table`, `drop-column`,
//! `drop-table`) so that a finding says exactly what breaks and each can be configured on its
//! own. The umbrella names `rename-breaks-clients` and `drop-breaks-clients` are accepted
//! wherever a rule id is (configuration, ignore comments) and mean both rules of the pair;
//! they never produce findings of their own, so one fact is reported once.

/// The rules an alias stands for, or `None` when `id` is not an alias.
pub fn alias(id: &str) -> Option<&'static [&'static str]> {
    match id {
        "rename-breaks-clients" => Some(&["rename-column", "rename-table"]),
        "drop-breaks-clients" => Some(&["drop-column", "drop-table"]),
        _ => None,
    }
}

/// Whether the id `written` by a user (a rule id or an alias) covers rule `rule`.
pub fn covers(written: &str, rule: &str) -> bool {
    written == rule || alias(written).is_some_and(|ids| ids.contains(&rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_cover_their_rules_only() {
        assert!(covers("rename-breaks-clients", "rename-column"));
        assert!(covers("rename-breaks-clients", "rename-table"));
        assert!(!covers("rename-breaks-clients", "drop-column"));
        assert!(covers("drop-breaks-clients", "drop-table"));
        assert!(covers("drop-column", "drop-column"));
        assert!(alias("drop-column").is_none());
    }

    #[test]
    fn alias_targets_are_registered_rules() {
        for a in ["rename-breaks-clients", "drop-breaks-clients"] {
            for id in alias(a).unwrap_or_default() {
                assert!(crate::rules::meta(id).is_some(), "{a} → {id} is not a rule");
            }
        }
    }
}
