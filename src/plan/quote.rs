//! Quoting identifiers, literals and comments for the SQL the planner writes.
//!
//! Every name, id or path that ends up in generated SQL goes through one function here,
//! chosen by its position: [`ident`] for identifiers, [`literal`] for string constants,
//! [`comment_text`] / [`line_comment`] / [`block_comment`] for comments, [`dollar_quote`]
//! for routine bodies, [`file_component`] for file names. The names come from migration
//! files a pull request can change, so they are hostile input.
//!
//! Identifiers are quoted only when they must be (upper case, spaces, quotes, a leading
//! digit, a reserved word, `$`), so generated SQL reads like hand-written SQL while staying
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
/// `Users` → `"Users"`, `order` → `"order"`, `a"b` → `"a""b"`, `a$b` → `"a$b"`.
///
/// Inside double quotes every character but `"` (doubled) is taken literally by
/// PostgreSQL, line breaks included, so the result is one identifier token whatever the
/// name holds. The one character no identifier can hold is NUL: check names with
/// [`check_ident`] first (the planner refuses a migration containing NUL, see
/// `plan::plan_sql`), and `write` refuses any file that would contain one.
pub fn ident(name: &str) -> String {
    // `$` is legal in unquoted names, but quoting it keeps a name from ever looking like
    // the `$tag$` of a dollar quote to a reader.
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
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

/// Why a name cannot be used in generated SQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// PostgreSQL identifiers and strings cannot hold NUL (the protocol ends text there).
    #[error("{what} {name:?} contains a NUL character, which PostgreSQL cannot store")]
    Nul { what: &'static str, name: String },
    /// A file name that could leave the target directory or confuse a reader.
    #[error("{0:?} cannot be used as a file name: {1}")]
    FileName(String, &'static str),
}

/// Checks that `name` can be an identifier (no NUL); `what` names it in the error
/// ("table", "column", …).
pub fn check_ident(what: &'static str, name: &str) -> Result<(), QuoteError> {
    if name.contains('\0') {
        return Err(QuoteError::Nul {
            what,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// [`ident`] after [`check_ident`].
pub fn try_ident(what: &'static str, name: &str) -> Result<String, QuoteError> {
    check_ident(what, name)?;
    Ok(ident(name))
}

/// An SQL string literal: `it's` → `'it''s'`. A value with a backslash is written as an
/// escape string (`E'a\\b'`), which PostgreSQL reads the same way whatever
/// `standard_conforming_strings` says: with the setting off (a migration can turn it off
/// for the session) a backslash in a plain literal would escape the closing quote.
pub fn literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// True for characters that end a line or reorder text somewhere: C0 and C1 controls
/// (`\n`, `\r`, vertical tab, form feed, NEL…), DEL, the Unicode line and paragraph
/// separators, and the bidirectional formatting marks a reviewer would not see.
fn unsafe_in_comment(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// `text` made safe for one comment line: every control, line-separator or bidi character
/// becomes a visible escape (`\n`, `\u{202e}`), so the comment can never end early —
/// PostgreSQL and psql end a `--` comment at `\n` or `\r`, editors and some migration
/// tools at other line breaks too.
pub fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !unsafe_in_comment(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out
}

/// A `-- …` comment line (without the line break) for `text`.
pub fn line_comment(text: &str) -> String {
    format!("-- {}", comment_text(text))
}

/// A `/* … */` comment for `text`: one line, and `*/` / `/*` inside are broken up
/// (PostgreSQL nests block comments, so a stray `/*` would swallow what follows).
pub fn block_comment(text: &str) -> String {
    let mut t = comment_text(text);
    // Repeat until stable: replacing one pair can create another (`*/*/`).
    while t.contains("*/") || t.contains("/*") {
        t = t.replace("*/", "* /").replace("/*", "/ *");
    }
    format!("/* {t} */")
}

/// `body` in dollar quotes whose tag does not occur in it: `$lockstep$…$lockstep$`, or
/// `$lockstep_2$…$lockstep_2$` and so on when the body (a name, a user's expression)
/// holds the tag. A tag found in the body would end the quote early and turn the rest of
/// the body into top-level SQL.
pub fn dollar_quote(body: &str) -> String {
    let tag = dollar_tag(body);
    format!("{tag}{body}{tag}")
}

/// The tag [`dollar_quote`] uses for `body` (`$lockstep$`, `$lockstep_2$`, …).
pub fn dollar_tag(body: &str) -> String {
    let mut n = 1usize;
    loop {
        let tag = if n == 1 {
            "$lockstep$".to_string()
        } else {
            format!("$lockstep_{n}$")
        };
        // The closing tag must be the first occurrence after the opening one, also when
        // the body ends with a prefix of it (`…$lockstep` + `$lockstep$`).
        let closed = format!("{body}{tag}");
        if closed.find(&tag) == Some(body.len()) {
            return tag;
        }
        n += 1;
    }
}

/// Checks one component of a file name lockstep writes: not empty, not `.`/`..`, no path
/// separator, no control or line-separator character, at most 255 bytes.
pub fn file_component(name: &str) -> Result<(), QuoteError> {
    let bad = |why| Err(QuoteError::FileName(name.to_string(), why));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("it names a directory");
    }
    if name.contains(['/', '\\']) {
        return bad("it contains a path separator");
    }
    if name.chars().any(unsafe_in_comment) {
        return bad("it contains a control character");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    Ok(())
}

/// Where a `--` comment in `sql` would end earlier for PostgreSQL than for a reader: a
/// carriage return not followed by a line feed inside the comment. Dollar-quoted bodies
/// are checked too (PL/pgSQL reads them with the same rules). Returns the byte offset.
///
/// Comments written through [`comment_text`] never contain one; a hit means a raw name
/// reached a comment, and the text after it would run as code.
pub fn comment_ends_early(sql: &str) -> Option<usize> {
    scan_comments(sql.as_bytes(), 0, 0, &mut 0)
}

/// The number of dollar-quoted strings at the top level of `sql` (outside quotes and
/// comments), as PostgreSQL's lexer finds them.
pub fn dollar_quoted_strings(sql: &str) -> usize {
    let mut n = 0;
    scan_comments(sql.as_bytes(), 0, 0, &mut n);
    n
}

fn scan_comments(b: &[u8], base: usize, depth: usize, dollars: &mut usize) -> Option<usize> {
    let n = b.len();
    let mut i = 0;
    while i < n {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i += 2;
                while i < n && b[i] != b'\n' {
                    if b[i] == b'\r' && b.get(i + 1) != Some(&b'\n') {
                        return Some(base + i);
                    }
                    if b[i] == b'\r' {
                        break;
                    }
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut d = 1;
                i += 2;
                while i < n && d > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        d += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        d -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            q @ (b'\'' | b'"') => {
                let escaped = q == b'\''
                    && i >= 1
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
                i += 1;
                while i < n {
                    if escaped && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let mut j = i + 1;
                while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
                    j += 1;
                }
                let after_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
                if j < n
                    && b[j] == b'$'
                    && !after_word
                    && (j == i + 1 || !b[i + 1].is_ascii_digit())
                {
                    let tag = &b[i..=j];
                    let body = j + 1;
                    let end = b[body..]
                        .windows(tag.len())
                        .position(|w| w == tag)
                        .map_or(n, |k| body + k);
                    if depth == 0 {
                        *dollars += 1;
                    }
                    if depth < 4
                        && let Some(at) =
                            scan_comments(&b[body..end], base + body, depth + 1, &mut 0)
                    {
                        return Some(at);
                    }
                    i = (end + tag.len()).min(n);
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    None
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
    fn dollar_signs_are_quoted() {
        assert_eq!(ident("a$b"), "\"a$b\"");
        assert_eq!(ident("x$lockstep$y"), "\"x$lockstep$y\"");
    }

    #[test]
    fn nul_is_refused() {
        assert!(check_ident("table", "a\0b").is_err());
        assert!(try_ident("column", "ok\n").is_ok());
        let e = try_ident("table", "t\0").unwrap_err().to_string();
        assert!(e.contains("table") && e.contains("NUL"), "{e}");
    }

    #[test]
    fn backslashes_make_escape_strings() {
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(literal("\\'; DROP"), "E'\\\\''; DROP'");
        assert_eq!(literal("plain"), "'plain'");
    }

    #[test]
    fn comments_stay_on_one_line() {
        for bad in [
            "\n", "\r", "\r\n", "\u{2028}", "\u{2029}", "\u{b}", "\u{c}", "\u{85}", "\u{1b}",
            "\u{7f}", "\u{9b}", "\u{202e}", "\u{200f}", "\u{2066}",
        ] {
            let c = line_comment(&format!("x{bad};DROP TABLE t;--"));
            assert!(c.starts_with("-- x\\"), "{c:?}");
            assert!(!c.chars().any(unsafe_in_comment), "{c:?}");
            assert!(!c.contains(bad), "{c:?}");
        }
        assert_eq!(comment_text("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(comment_text("café 日本"), "café 日本");
    }

    #[test]
    fn block_comments_cannot_be_closed_or_nested() {
        for text in ["a*/b", "a/*b", "*/*/", "/*/", "a*/\nDROP", "**//"] {
            let c = block_comment(text);
            let inner = &c[3..c.len() - 3];
            assert!(!inner.contains("*/") && !inner.contains("/*"), "{c:?}");
            assert!(!c.contains('\n'));
        }
    }

    #[test]
    fn dollar_tags_avoid_the_body() {
        assert_eq!(dollar_quote("BEGIN END"), "$lockstep$BEGIN END$lockstep$");
        let q = dollar_quote("x $lockstep$ y");
        assert_eq!(q, "$lockstep_2$x $lockstep$ y$lockstep_2$");
        // A body ending in a prefix of the tag.
        assert_eq!(dollar_tag("x$lockstep"), "$lockstep_2$");
        assert_eq!(dollar_tag("$lockstep$ $lockstep_2$"), "$lockstep_3$");
    }

    #[test]
    fn file_names_stay_in_their_directory() {
        assert!(file_component("0003_add_users.sql").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", "a\u{2028}b"] {
            assert!(file_component(bad).is_err(), "{bad:?}");
        }
        assert!(file_component(&"x".repeat(256)).is_err());
    }

    #[test]
    fn carriage_returns_in_comments_are_found() {
        assert_eq!(comment_ends_early("-- a\r\nSELECT 1;"), None);
        assert_eq!(comment_ends_early("-- a\rDROP TABLE t;"), Some(4));
        // Inside a dollar-quoted body (a PL/pgSQL comment).
        let body = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $x$\n-- on t\rDROP\nBEGIN END $x$;";
        assert!(comment_ends_early(body).is_some());
        assert_eq!(dollar_quoted_strings(body), 1);
        assert_eq!(dollar_quoted_strings("SELECT '$x$', \"$y$\" -- $z$\n;"), 0);
        // Inside a quoted identifier or string it is only data.
        assert_eq!(
            comment_ends_early("ALTER TABLE \"a--\rb\" ADD c int; SELECT '--\r';"),
            None
        );
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
