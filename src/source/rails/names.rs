//! What Rails derives from names: quoting, default index / foreign-key / check names, the
//! table a reference points at (English inflection), and the migration version's defaults.

use sha2::{Digest, Sha256};

/// The `ActiveRecord::Migration[x.y]` version a migration is written for. Type defaults
/// follow it (Rails keeps old migrations' behaviour through compatibility classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RailsVersion(pub u32, pub u32);

impl RailsVersion {
    /// The newest behaviour we model; a class without `[x.y]` (Rails < 5) is 4.2.
    pub(crate) const LATEST: RailsVersion = RailsVersion(8, 1);
    pub(crate) const LEGACY: RailsVersion = RailsVersion(4, 2);

    pub(crate) fn at_least(self, major: u32, minor: u32) -> bool {
        self >= RailsVersion(major, minor)
    }

    /// Primary keys and references: `bigint` since 5.1, `integer` before.
    pub(crate) fn key_is_bigint(self) -> bool {
        self.at_least(5, 1)
    }

    /// `t.timestamps` / `add_timestamps` are `NOT NULL` since 5.0.
    pub(crate) fn timestamps_not_null(self) -> bool {
        self.at_least(5, 0)
    }

    /// `t.references` / `add_reference` add an index unless told not to since 5.0.
    pub(crate) fn references_indexed(self) -> bool {
        self.at_least(5, 0)
    }

    /// Default precision of `t.timestamps` (6 since 6.0).
    pub(crate) fn timestamps_precision(self) -> Option<u32> {
        self.at_least(6, 0).then_some(6)
    }

    /// Default precision of any `datetime` column (6 since 7.0).
    pub(crate) fn datetime_precision(self) -> Option<u32> {
        self.at_least(7, 0).then_some(6)
    }

    /// Long default index names are shortened with a hash since 7.1 (before, Rails raised).
    pub(crate) fn shortens_index_names(self) -> bool {
        self.at_least(7, 1)
    }
}

/// `"name"`, or `"schema"."name"` for a dotted table name, as Rails' PostgreSQL adapter
/// quotes table names.
pub(crate) fn quote_table(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// A quoted identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn sha10(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// Rails' default foreign-key name: `fk_rails_` and the first 10 hex digits of the
/// SHA-256 of `<table>_<column>_fk` (`foreign_key_name` in schema_statements.rb).
pub(crate) fn foreign_key_name(table: &str, columns: &[String]) -> String {
    format!(
        "fk_rails_{}",
        sha10(&format!("{table}_{}_fk", columns.join("_and_")))
    )
}

/// Rails' default check-constraint name: `chk_rails_` and 10 hex digits of the SHA-256 of
/// `<table>_<expression>_chk`.
pub(crate) fn check_name(table: &str, expression: &str) -> String {
    format!("chk_rails_{}", sha10(&format!("{table}_{expression}_chk")))
}

/// Rails' default index name, `index_<table>_on_<col>_and_<col>`; an expression column
/// contributes its words. Since 7.1 a name longer than 62 bytes becomes
/// `idx_on_<cols>_<hash>`.
pub(crate) fn index_name(table: &str, columns: &[String], version: RailsVersion) -> String {
    let words: Vec<String> = columns.iter().map(|c| column_words(c)).collect();
    let name = format!("index_{table}_on_{}", words.join("_and_"));
    if !version.shortens_index_names() || name.len() <= 62 {
        return name;
    }
    let hash = format!("_{}", sha10(&name));
    let mut short = format!("idx_on_{}", words.join("_"));
    let limit = 62 - hash.len();
    while short.len() > limit {
        short.pop();
    }
    format!("{short}{hash}")
}

/// A column name, or an expression reduced to its words (`lower(email)` → `lower_email`).
fn column_words(column: &str) -> String {
    if column.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return column.to_string();
    }
    column
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

const IRREGULAR: &[(&str, &str)] = &[
    ("person", "people"),
    ("man", "men"),
    ("woman", "women"),
    ("child", "children"),
    ("sex", "sexes"),
    ("move", "moves"),
    ("zombie", "zombies"),
];

const UNCOUNTABLE: &[&str] = &[
    "equipment",
    "information",
    "rice",
    "money",
    "species",
    "series",
    "fish",
    "sheep",
    "jeans",
    "police",
    "news",
    "data",
    "metadata",
];

/// English plural of the last word, as ActiveSupport's inflector does for regular words
/// and its built-in irregular ones (`user` → `users`, `category` → `categories`).
pub(crate) fn pluralize(word: &str) -> String {
    let (head, last) = split_last_word(word);
    let lower = last.to_ascii_lowercase();
    if UNCOUNTABLE.contains(&lower.as_str()) {
        return word.to_string();
    }
    for (one, many) in IRREGULAR {
        if lower == *one || lower == *many {
            return format!("{head}{many}");
        }
    }
    let plural = if lower.ends_with("quiz") {
        format!("{last}zes")
    } else if lower.ends_with("sis") {
        format!("{}es", &last[..last.len() - 2])
    } else if lower.ends_with("ss")
        || lower.ends_with("sh")
        || lower.ends_with("ch")
        || lower.ends_with('x')
        || lower.ends_with('z')
        || lower.ends_with("us")
    {
        format!("{last}es")
    } else if lower.ends_with('s') {
        last.to_string()
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{}ies", &last[..last.len() - 1])
    } else if lower.ends_with("fe") {
        format!("{}ves", &last[..last.len() - 2])
    } else if lower.ends_with("lf") || lower.ends_with("rf") {
        format!("{}ves", &last[..last.len() - 1])
    } else if lower.ends_with("matrix") || lower.ends_with("vertex") || lower.ends_with("index") {
        format!("{}ices", &last[..last.len() - 2])
    } else {
        format!("{last}s")
    };
    format!("{head}{plural}")
}

/// English singular of the last word (`users` → `user`, `categories` → `category`).
pub(crate) fn singularize(word: &str) -> String {
    let (head, last) = split_last_word(word);
    let lower = last.to_ascii_lowercase();
    if UNCOUNTABLE.contains(&lower.as_str()) {
        return word.to_string();
    }
    for (one, many) in IRREGULAR {
        if lower == *many || lower == *one {
            return format!("{head}{one}");
        }
    }
    let cut = |n: usize, add: &str| format!("{}{add}", &last[..last.len() - n]);
    let single = if lower.ends_with("ies") && lower.len() > 3 {
        cut(3, "y")
    } else if lower.ends_with("ves") {
        cut(3, "f")
    } else if lower.ends_with("sses")
        || lower.ends_with("shes")
        || lower.ends_with("ches")
        || lower.ends_with("xes")
        || lower.ends_with("zzes")
        || lower.ends_with("uses")
    {
        cut(2, "")
    } else if lower.ends_with("ses") && (lower.ends_with("bases") || lower.ends_with("cases")) {
        cut(1, "")
    } else if lower.ends_with("ss") || lower.ends_with("us") || lower.ends_with("is") {
        last.to_string()
    } else if lower.ends_with('s') {
        cut(1, "")
    } else {
        last.to_string()
    };
    format!("{head}{single}")
}

/// `admin_user` → (`admin_`, `user`): the inflector changes only the last word.
fn split_last_word(word: &str) -> (&str, &str) {
    match word.rfind('_') {
        Some(i) => (&word[..=i], &word[i + 1..]),
        None => ("", word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflection_of_common_table_names() {
        for (one, many) in [
            ("user", "users"),
            ("category", "categories"),
            ("address", "addresses"),
            ("status", "statuses"),
            ("person", "people"),
            ("admin_user", "admin_users"),
            ("key", "keys"),
            ("box", "boxes"),
            ("match", "matches"),
        ] {
            assert_eq!(pluralize(one), many, "{one}");
            assert_eq!(singularize(many), one, "{many}");
        }
    }

    #[test]
    fn index_names_follow_rails() {
        let v = RailsVersion(7, 1);
        assert_eq!(
            index_name("users", &["email".into()], v),
            "index_users_on_email"
        );
        assert_eq!(
            index_name("users", &["a".into(), "b".into()], v),
            "index_users_on_a_and_b"
        );
        let long = index_name(
            "very_long_table_name_for_testing",
            &["first_long_column".into(), "second_long_column".into()],
            v,
        );
        assert!(
            long.starts_with("idx_on_first_long_column_second"),
            "{long}"
        );
        assert!(long.len() <= 62, "{long}");
    }
}
