//! Classifies column types into the families the type rules reason about, and decides
//! whether a type change narrows the set of values a column accepts.
//!
//! The parser normalises types (`int4` → `integer`, `varchar` → `character varying`), but
//! rules must not depend on every spelling having been folded, so the classification here
//! accepts both the canonical and the common short names.

use crate::ops::SqlType;

/// A column type, reduced to what the breaking and hygiene rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeClass {
    /// `text`, unbounded `character varying`, `citext` and other unbounded strings.
    UnboundedString,
    /// `character varying(n)`.
    Varchar(i64),
    /// `character(n)` (`char` alone is `character(1)`).
    Char(i64),
    /// `smallint`, `integer`, `bigint`: the width in bytes (2, 4, 8).
    Int(u8),
    /// `numeric(p, s)`; `None` when unconstrained.
    Numeric(Option<(i64, i64)>),
    /// `real` (4) or `double precision` (8).
    Float(u8),
    Money,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    Timestamptz,
    Date,
    Json,
    Jsonb,
    /// Anything else, by its base name.
    Other(String),
}

impl TypeClass {
    /// Classifies a normalised type. Arrays are classified by their element type; callers that
    /// care check [`SqlType::is_array`] themselves.
    pub fn of(ty: &SqlType) -> TypeClass {
        let name = base_name(&ty.0);
        let mods = ty.modifiers();
        match name.as_str() {
            "text" | "citext" | "name" => TypeClass::UnboundedString,
            // `bpchar` without a length is blank-trimmed unbounded text.
            "bpchar" if mods.is_empty() => TypeClass::UnboundedString,
            "character varying" | "varchar" => match mods.first() {
                Some(n) => TypeClass::Varchar(*n),
                None => TypeClass::UnboundedString,
            },
            "character" | "char" | "bpchar" => TypeClass::Char(mods.first().copied().unwrap_or(1)),
            "smallint" | "int2" | "smallserial" | "serial2" => TypeClass::Int(2),
            "integer" | "int" | "int4" | "serial" | "serial4" => TypeClass::Int(4),
            "bigint" | "int8" | "bigserial" | "serial8" => TypeClass::Int(8),
            "numeric" | "decimal" => match mods.as_slice() {
                [] => TypeClass::Numeric(None),
                [p] => TypeClass::Numeric(Some((*p, 0))),
                [p, s, ..] => TypeClass::Numeric(Some((*p, *s))),
            },
            "real" | "float4" => TypeClass::Float(4),
            "double precision" | "float8" => TypeClass::Float(8),
            // `float(p)`: p ≤ 24 is real, above is double precision.
            "float" => match mods.first() {
                Some(p) if *p <= 24 => TypeClass::Float(4),
                _ => TypeClass::Float(8),
            },
            "money" => TypeClass::Money,
            "timestamp" | "timestamp without time zone" => TypeClass::Timestamp,
            "timestamptz" | "timestamp with time zone" => TypeClass::Timestamptz,
            "date" => TypeClass::Date,
            "json" => TypeClass::Json,
            "jsonb" => TypeClass::Jsonb,
            _ => TypeClass::Other(name),
        }
    }

    fn is_string(&self) -> bool {
        matches!(
            self,
            TypeClass::UnboundedString | TypeClass::Varchar(_) | TypeClass::Char(_)
        )
    }

    /// Maximum length in characters for bounded string types.
    fn max_len(&self) -> Option<i64> {
        match self {
            TypeClass::Varchar(n) | TypeClass::Char(n) => Some(*n),
            _ => None,
        }
    }
}

/// The type's name without modifiers, array brackets or a `pg_catalog.` prefix, with
/// whitespace collapsed: `timestamp(3) with time zone` → `timestamp with time zone`.
pub fn base_name(ty: &str) -> String {
    let mut out = String::with_capacity(ty.len());
    let mut depth = 0usize;
    for c in ty.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let joined = out
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    joined
        .strip_prefix("pg_catalog.")
        .map(str::to_string)
        .unwrap_or(joined)
}

/// Characters needed to print the smallest value of an integer type, sign included.
fn int_print_width(bytes: u8) -> i64 {
    match bytes {
        2 => 6,  // -32768
        4 => 11, // -2147483648
        _ => 20, // -9223372036854775808
    }
}

/// Decimal digits an integer type can need.
fn int_digits(bytes: u8) -> i64 {
    match bytes {
        2 => 5,
        4 => 10,
        _ => 19,
    }
}

/// Why changing a column from `old` to `new` narrows it (some values of `old` do not fit
/// `new`, or are rounded), or `None` when every old value survives unchanged or we cannot
/// tell (unknown types).
pub fn narrowing(old: &SqlType, new: &SqlType) -> Option<String> {
    if old.is_array() != new.is_array() {
        return None;
    }
    let (o, n) = (TypeClass::of(old), TypeClass::of(new));
    use TypeClass::*;
    match (&o, &n) {
        (a, b) if a.is_string() && b.is_string() => match (a.max_len(), b.max_len()) {
            (None, Some(m)) => Some(format!(
                "{new} rejects values longer than {m} characters, which {old} accepts"
            )),
            (Some(l), Some(m)) if m < l => Some(format!(
                "{new} rejects values longer than {m} characters, which {old} accepts (up to {l})"
            )),
            _ => None,
        },
        (a, _) if a.is_string() => Some(format!(
            "{new} accepts only the strings that convert to it; {old} accepts any text"
        )),
        (Int(a), Int(b)) if b < a => Some(format!(
            "{new} holds a smaller range than {old}: larger values are out of range"
        )),
        (Int(a), Numeric(Some((p, s)))) if p.saturating_sub(*s) < int_digits(*a) => Some(format!(
            "{new} holds at most {} integer digits; {old} values can have {}",
            p.saturating_sub(*s),
            int_digits(*a)
        )),
        (Int(a), Float(4)) if *a >= 4 => Some(format!(
            "{new} keeps about 6 significant digits: large {old} values are rounded"
        )),
        (Int(8), Float(8)) => Some(format!(
            "{new} keeps about 15 significant digits: large {old} values are rounded"
        )),
        (Int(a), b) if b.is_string() => match b.max_len() {
            Some(m) if m < int_print_width(*a) => Some(format!(
                "{new} is too short for some {old} values (up to {} characters)",
                int_print_width(*a)
            )),
            _ => None,
        },
        (Numeric(_), Int(_)) | (Float(_), Int(_)) => Some(format!(
            "{new} has no fractional part: {old} values are rounded, and large ones are out of range"
        )),
        (Numeric(None), Numeric(Some((p, s)))) => Some(format!(
            "{new} limits precision and scale, which unconstrained numeric does not: values are rounded to {s} decimal places and larger than {} integer digits fail",
            p.saturating_sub(*s)
        )),
        (Numeric(Some((p1, s1))), Numeric(Some((p2, s2)))) => {
            if s2 < s1 {
                Some(format!(
                    "{new} keeps {s2} decimal places instead of {s1}: values are rounded"
                ))
            } else if p2.saturating_sub(*s2) < p1.saturating_sub(*s1) {
                Some(format!(
                    "{new} allows {} integer digits instead of {}: larger values overflow",
                    p2.saturating_sub(*s2),
                    p1.saturating_sub(*s1)
                ))
            } else {
                None
            }
        }
        (Numeric(_), Float(_)) => Some(format!(
            "{new} is binary floating point: {old} values are rounded to about {} significant digits",
            if matches!(n, Float(4)) { 6 } else { 15 }
        )),
        (Float(_), Numeric(Some(_))) => Some(format!(
            "{new} has a fixed precision and scale: {old} values are rounded or overflow"
        )),
        (Float(8), Float(4)) => Some(format!(
            "{new} keeps about 6 significant digits instead of 15: values are rounded"
        )),
        (Timestamp | Timestamptz, Date) => Some(format!("{new} drops the time of day of {old}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SqlType {
        SqlType(s.into())
    }

    #[test]
    fn classifies_canonical_and_short_names() {
        assert_eq!(
            TypeClass::of(&t("character varying(20)")),
            TypeClass::Varchar(20)
        );
        assert_eq!(TypeClass::of(&t("varchar")), TypeClass::UnboundedString);
        assert_eq!(TypeClass::of(&t("character")), TypeClass::Char(1));
        assert_eq!(TypeClass::of(&t("bpchar")), TypeClass::UnboundedString);
        assert_eq!(TypeClass::of(&t("int4")), TypeClass::Int(4));
        assert_eq!(
            TypeClass::of(&t("numeric(10,2)")),
            TypeClass::Numeric(Some((10, 2)))
        );
        assert_eq!(
            TypeClass::of(&t("timestamp(3) with time zone")),
            TypeClass::Timestamptz
        );
        assert_eq!(
            TypeClass::of(&t("timestamp(6) without time zone")),
            TypeClass::Timestamp
        );
        assert_eq!(TypeClass::of(&t("float(10)")), TypeClass::Float(4));
        assert_eq!(TypeClass::of(&t("pg_catalog.int8")), TypeClass::Int(8));
        assert_eq!(TypeClass::of(&t("jsonb[]")), TypeClass::Jsonb);
    }

    #[test]
    fn narrowing_changes() {
        let n = |a: &str, b: &str| narrowing(&t(a), &t(b)).is_some();
        assert!(n("character varying(50)", "character varying(20)"));
        assert!(n("text", "character varying(20)"));
        assert!(n("bigint", "integer"));
        assert!(n("numeric(10,4)", "numeric(10,2)"));
        assert!(n("numeric(10,2)", "numeric(6,2)"));
        assert!(n("numeric", "numeric(12,2)"));
        assert!(n("double precision", "real"));
        assert!(n("text", "integer"));
        assert!(n("numeric(10,2)", "integer"));
        assert!(n("bigint", "character varying(10)"));
        assert!(n("text[]", "character varying(5)[]"));
    }

    #[test]
    fn absurd_modifiers_do_not_overflow() {
        let huge = t("numeric(9223372036854775807,-9223372036854775807)");
        assert!(narrowing(&huge, &t("numeric(1,1)")).is_some());
        assert!(narrowing(&t("integer"), &huge).is_none());
    }

    #[test]
    fn widening_and_binary_coercible_changes_are_not_narrowing() {
        let n = |a: &str, b: &str| narrowing(&t(a), &t(b)).is_some();
        assert!(!n("character varying(20)", "character varying(50)"));
        assert!(!n("character varying(50)", "text"));
        assert!(!n("character varying", "text"));
        assert!(!n("numeric(10,2)", "numeric(12,2)"));
        assert!(!n("numeric(10,2)", "numeric"));
        assert!(!n("integer", "bigint"));
        assert!(!n("smallint", "integer"));
        assert!(!n("integer", "text"));
        assert!(!n("integer", "numeric(12,0)"));
        assert!(!n("real", "double precision"));
        assert!(!n(
            "timestamp without time zone",
            "timestamp with time zone"
        ));
        assert!(!n("text", "citext"));
        assert!(!n("mystery", "other_mystery"));
    }
}
