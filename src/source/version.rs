//! Version ordering shared by every layout.
//!
//! Frameworks compare versions as numbers (goose, golang-migrate, sqlx, dbmate store an
//! integer) or as dotted number lists (flyway `1.10` > `1.9`), never as plain strings.
//! [`VersionKey`] captures both: the version split into digit groups compared by numeric
//! value, so `10` sorts after `9`, `1.10` after `1.9`, and `001` equals `1` (which is a
//! duplicate for goose and golang-migrate too, as they parse the prefix as an integer).

use std::cmp::Ordering;

/// One group of a version: a number (kept as a digit string without leading zeros so
/// 30-digit versions cannot overflow) or a run of other characters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Num(String),
    Text(String),
}

impl Ord for Part {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            // Without leading zeros, a longer digit string is a larger number.
            (Part::Num(a), Part::Num(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Part::Text(a), Part::Text(b)) => a.cmp(b),
            (Part::Num(_), Part::Text(_)) => Ordering::Less,
            (Part::Text(_), Part::Num(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version parsed for ordering and duplicate detection. `.`, `_` and `-` separate
/// groups; trailing zero groups are dropped so flyway's `1` and `1.0` compare equal, as
/// flyway itself treats them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct VersionKey(Vec<Part>);

impl VersionKey {
    pub(crate) fn parse(version: &str) -> Self {
        let mut parts = Vec::new();
        let mut chars = version.chars().peekable();
        while let Some(&c) = chars.peek() {
            if matches!(c, '.' | '_' | '-') {
                chars.next();
            } else if c.is_ascii_digit() {
                let mut digits = String::new();
                while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                parts.push(Part::Num(digits.trim_start_matches('0').to_string()));
            } else {
                let mut text = String::new();
                while let Some(&t) = chars
                    .peek()
                    .filter(|t| !t.is_ascii_digit() && !matches!(t, '.' | '_' | '-'))
                {
                    text.push(t);
                    chars.next();
                }
                parts.push(Part::Text(text));
            }
        }
        while matches!(parts.last(), Some(Part::Num(n)) if n.is_empty()) {
            parts.pop();
        }
        VersionKey(parts)
    }
}

/// Splits `<digits><rest>` into the leading ASCII digits and the rest; `None` when the
/// string does not start with a digit.
pub(crate) fn leading_digits(s: &str) -> Option<(&str, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> VersionKey {
        VersionKey::parse(s)
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(key("2") < key("10"));
        assert!(key("1.9") < key("1.10"));
        assert!(key("1.2") < key("1.10"));
        assert!(key("20240101000000") < key("20240101000001"));
        assert!(key("99999999999999999999999999") < key("100000000000000000000000000"));
    }

    #[test]
    fn leading_and_trailing_zeros_do_not_make_a_new_version() {
        assert_eq!(key("001"), key("1"));
        assert_eq!(key("1.0"), key("1"));
        assert_eq!(key("2_1"), key("2.1"));
        assert_eq!(key("1.01"), key("1.1"));
        assert!(key("1") < key("1.1"));
    }

    #[test]
    fn leading_digits_splits_the_prefix() {
        assert_eq!(leading_digits("001_init"), Some(("001", "_init")));
        assert_eq!(leading_digits("3"), Some(("3", "")));
        assert_eq!(leading_digits("init"), None);
    }
}
