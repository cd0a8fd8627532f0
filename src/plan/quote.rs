//! Quoting identifiers and literals for the SQL the planner writes.
//!
//! Identifiers are quoted only when they must be (upper case, spaces, quotes, a leading
//! digit, a reserved word), so generated SQL reads like hand-written SQL while staying
//! correct for every name PostgreSQL accepts.

use crate::ops::ObjName;

/// PostgreSQL's reserved key words (and the ones that cannot be column or function
/// names), from the SQL key words appendix of the PostgreSQL 15 documentation. A name in
/// this list must be quoted to be used as an identifier.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_object",
    "json_objectagg",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes `name` as an SQL identifier when it needs it: `users` stays `users`,
/// `Users` → `"Users"`, `order` → `"order"`, `a"b` → `"a""b"`.
pub fn ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A table (or index, function…) name: bare for `public`, `schema.name` otherwise, each
/// part quoted as needed. Leaving `public` unqualified keeps the user's `search_path`
/// meaning, exactly as the original migration wrote it.
pub fn obj(name: &ObjName) -> String {
    if name.schema == "public" {
        ident(&name.name)
    } else {
        format!("{}.{}", ident(&name.schema), ident(&name.name))
    }
}

/// Always schema-qualified, for catalog lookups in generated code (`'public.users'::regclass`).
pub fn obj_qualified(name: &ObjName) -> String {
    format!("{}.{}", ident(&name.schema), ident(&name.name))
}

/// A standard SQL string literal: `it's` → `'it''s'`.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A comma-separated list of quoted column names.
pub fn idents(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name derived from parts, cut to PostgreSQL's 63-byte identifier limit on a char
/// boundary (PostgreSQL would truncate it the same way, silently).
pub fn derived_name(parts: &[&str], suffix: &str) -> String {
    let mut base = parts.join("_");
    let max = 63usize.saturating_sub(suffix.len() + 1);
    if base.len() > max {
        let mut cut = max;
        while cut > 0 && !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    if suffix.is_empty() {
        base
    } else {
        format!("{base}_{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("user_id2"), "user_id2");
        assert_eq!(ident("Users"), "\"Users\"");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("first name"), "\"first name\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(ident("1abc"), "\"1abc\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(ident("café"), "\"café\"");
    }

    #[test]
    fn qualifies_non_public_schemas() {
        assert_eq!(obj(&ObjName::public("users")), "users");
        assert_eq!(
            obj(&ObjName::new("Billing", "select")),
            "\"Billing\".\"select\""
        );
        assert_eq!(obj_qualified(&ObjName::public("t")), "public.t");
    }

    #[test]
    fn literals_and_long_names() {
        assert_eq!(literal("it's"), "'it''s'");
        let long = "x".repeat(80);
        let n = derived_name(&[&long], "new");
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("_new"));
        // Multi-byte characters are never split.
        let n = derived_name(&[&"é".repeat(40)], "chk");
        assert!(n.len() <= 63);
    }
}
