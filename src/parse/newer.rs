//! Syntax newer than some supported servers: PostgreSQL 16–18 forms a migration may use.
//!
//! The migration would fail on an older server, so the statement records the first
//! version that accepts it ([`super::MinPgVersion`]); a rule compares it with
//! `--pg-version`. Detection reads words outside strings and comments, with their
//! parenthesis depth, so a column or string named like a keyword does not count.

use super::MinPgVersion;

/// Statements longer than this are bulk data, not DDL in new syntax.
const MAX_SCAN: usize = 64 * 1024;

/// One word (lower-cased) or punctuation mark, with its parenthesis depth.
struct W {
    text: String,
    depth: usize,
}

fn words(sql: &str) -> Vec<W> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut d = 1usize;
                i += 2;
                while i < b.len() && d > 0 {
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
            b'\'' | b'"' => {
                // Quoted identifiers are names, never keywords; strings are data.
                let q = c;
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
                out.push(W {
                    text: if q == b'"' { "\"".into() } else { "'".into() },
                    depth,
                });
            }
            b'$' => {
                // A dollar-quoted body is data here (function bodies run later).
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j < b.len() && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit()) {
                    let tag = &b[i..=j];
                    let body = j + 1;
                    i = b[body..]
                        .windows(tag.len())
                        .position(|w| w == tag)
                        .map_or(b.len(), |k| body + k + tag.len());
                    out.push(W {
                        text: "'".into(),
                        depth,
                    });
                } else {
                    i = j;
                }
            }
            b'(' => {
                out.push(W {
                    text: "(".into(),
                    depth,
                });
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                out.push(W {
                    text: ")".into(),
                    depth,
                });
                i += 1;
            }
            b',' | b'.' => {
                out.push(W {
                    text: (c as char).to_string(),
                    depth,
                });
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                out.push(W {
                    text: sql[s..i].to_ascii_lowercase(),
                    depth,
                });
            }
            _ => i += 1,
        }
    }
    out
}

/// Word `i` sits in the column list of `FOREIGN KEY (…)` or `REFERENCES t (…)` (not in a
/// table's column definitions, where `period` is an ordinary column name).
fn in_key_column_list(w: &[W], i: usize) -> bool {
    let depth = w[i].depth;
    let mut j = i;
    while j > 0 && w[j].depth >= depth {
        j -= 1;
    }
    // w[j] is the opening parenthesis; what stands before it decides.
    let before = |k: usize| {
        j.checked_sub(k)
            .and_then(|x| w.get(x))
            .map_or("", |x| x.text.as_str())
    };
    before(1) == "key"
        || before(2) == "references"
        || (before(4) == "references" && before(2) == ".")
}

/// The newest PostgreSQL syntax `sql` (one statement) uses, when it is 16 or later.
pub fn min_pg_version(sql: &str) -> Option<MinPgVersion> {
    if sql.len() > MAX_SCAN {
        return None;
    }
    let w = words(sql);
    let t = |i: usize| w.get(i).map_or("", |x| x.text.as_str());
    let first = t(0);
    let is_table_ddl =
        (first == "create" || first == "alter") && w.iter().take(8).any(|x| x.text == "table");
    let mut best: Option<MinPgVersion> = None;
    let mut note = |version: u32, feature: &str| {
        if best.as_ref().is_none_or(|b| version > b.version) {
            best = Some(MinPgVersion {
                version,
                feature: feature.to_string(),
            });
        }
    };
    for i in 0..w.len() {
        let prev = if i > 0 { t(i - 1) } else { "" };
        // After `.` a word is a column or field label, not a keyword.
        if prev == "." {
            continue;
        }
        let next = t(i + 1);
        match t(i) {
            "virtual" if is_table_ddl && prev == ")" => note(18, "virtual generated column"),
            "enforced" if is_table_ddl && (prev == "not" || prev == ")" || prev == "enforced") => {
                note(18, "NOT ENFORCED / ENFORCED constraint")
            }
            "overlaps" if is_table_ddl && prev == "without" => note(18, "WITHOUT OVERLAPS"),
            "period"
                if is_table_ddl
                    && w[i].depth >= 1
                    && (prev == "(" || prev == ",")
                    && in_key_column_list(&w, i) =>
            {
                note(18, "PERIOD in a foreign key")
            }
            "inherit" if first == "alter" && is_table_ddl && constraint_alter(&w, i) => {
                note(18, "ALTER CONSTRAINT … INHERIT")
            }
            "not" if is_table_ddl && next == "null" && table_not_null(&w, i) => {
                note(18, "named or table-level NOT NULL constraint")
            }
            "uuidv7" if next == "(" => note(18, "uuidv7()"),
            "returning" if matches!(next, "old" | "new") && t(i + 2) == "." => {
                note(18, "RETURNING OLD/NEW")
            }
            "returning" if statement_verb(&w) == "merge" && w[i].depth == 0 => {
                note(17, "MERGE … RETURNING")
            }
            "json_table" if next == "(" => note(17, "JSON_TABLE"),
            "json_query" | "json_value" | "json_exists" | "json_scalar" | "json_serialize"
                if next == "(" =>
            {
                note(17, "SQL/JSON query functions")
            }
            "on_error" | "log_verbosity" if first == "copy" => note(17, "COPY … ON_ERROR"),
            "source" if prev == "by" && t(i.saturating_sub(3)) == "not" && first != "create" => {
                note(17, "MERGE … WHEN NOT MATCHED BY SOURCE")
            }
            "expression" if is_table_ddl && prev == "set" && next == "as" => {
                note(17, "ALTER COLUMN … SET EXPRESSION")
            }
            "json_object" | "json_array" | "json_objectagg" | "json_arrayagg" if next == "(" => {
                note(16, "SQL/JSON constructors")
            }
            "json" if prev == "is" || (prev == "not" && t(i.saturating_sub(2)) == "is") => {
                note(16, "IS JSON")
            }
            "any_value" if next == "(" => note(16, "any_value()"),
            "system_user" => note(16, "SYSTEM_USER"),
            _ => {}
        }
    }
    best
}

/// The verb of the statement, after a leading `WITH … AS (…)` list.
fn statement_verb(w: &[W]) -> &str {
    if w.first().map(|x| x.text.as_str()) != Some("with") {
        return w.first().map_or("", |x| x.text.as_str());
    }
    w.iter()
        .skip(1)
        .find(|x| {
            x.depth == 0
                && matches!(
                    x.text.as_str(),
                    "select" | "insert" | "update" | "delete" | "merge"
                )
        })
        .map_or("", |x| x.text.as_str())
}

/// `ALTER TABLE … ALTER CONSTRAINT name [NO] INHERIT`.
fn constraint_alter(w: &[W], i: usize) -> bool {
    let mut k = i;
    if k > 0 && w[k - 1].text == "no" {
        k -= 1;
    }
    k >= 3 && w[k - 2].text == "constraint" && w[k - 3].text == "alter"
}

/// A table-level `[CONSTRAINT name] NOT NULL col` (PostgreSQL 18), not a column's
/// `NOT NULL`: at the start of a column-list element or after `ADD [CONSTRAINT name]`.
fn table_not_null(w: &[W], i: usize) -> bool {
    let t = |k: usize| w.get(k).map_or("", |x| x.text.as_str());
    // What follows must be a column name, not another constraint keyword or the end.
    let col = t(i + 2);
    let names_column = !col.is_empty()
        && !matches!(
            col,
            "," | ")"
                | "("
                | "default"
                | "check"
                | "references"
                | "unique"
                | "primary"
                | "no"
                | "constraint"
                | "deferrable"
                | "initially"
                | "collate"
                | "generated"
                | "not"
                | "null"
                | "'"
        );
    if !names_column || i == 0 {
        return false;
    }
    let p = t(i - 1);
    let element_start = (p == "(" || p == ",") && w[i].depth == 1;
    let after_name = i >= 2 && t(i - 2) == "constraint";
    let after_add = p == "add" && w[i].depth == 0;
    // `ADD CONSTRAINT x NOT NULL c` or `(… , CONSTRAINT x NOT NULL c)`.
    let named = after_name
        && (w[i - 2].depth == 1 && matches!(t(i.saturating_sub(3)), "(" | ",")
            || t(i.saturating_sub(3)) == "add");
    element_start || after_add || named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_named_period_is_not_the_pg18_keyword() {
        assert_eq!(
            min_pg_version("CREATE TABLE totp (id int, period integer, digits int)"),
            None
        );
        assert_eq!(
            min_pg_version("CREATE TABLE totp (id int, period integer)"),
            None
        );
        let v = min_pg_version(
            "ALTER TABLE b ADD FOREIGN KEY (id, PERIOD valid_at) REFERENCES a (id, PERIOD valid_at)",
        );
        assert_eq!(v.map(|v| v.version), Some(18));
    }

    fn v(sql: &str) -> Option<u32> {
        min_pg_version(sql).map(|m| m.version)
    }

    #[test]
    fn recognises_new_syntax_and_not_lookalikes() {
        assert_eq!(
            v("CREATE TABLE t (a int, CONSTRAINT t_a_nn NOT NULL a)"),
            Some(18)
        );
        assert_eq!(v("ALTER TABLE t ADD CONSTRAINT a_nn NOT NULL a"), Some(18));
        assert_eq!(
            v("CREATE TABLE t (a int NOT NULL, b int CONSTRAINT x NOT NULL)"),
            None
        );
        assert_eq!(
            v("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL)"),
            Some(18)
        );
        assert_eq!(
            v("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)"),
            None
        );
        assert_eq!(v("ALTER TABLE t ALTER CONSTRAINT c NO INHERIT"), Some(18));
        assert_eq!(
            v("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id"),
            Some(17)
        );
        assert_eq!(
            v("SELECT * FROM JSON_TABLE('[]', '$' COLUMNS (a int PATH '$.a')) jt"),
            Some(17)
        );
        assert_eq!(v("COPY t FROM STDIN WITH (ON_ERROR ignore)"), Some(17));
        assert_eq!(v("SELECT 'virtual', \"json_table\"(1) FROM t"), None);
        assert_eq!(v("UPDATE t SET a = 1 RETURNING a"), None);
    }
}
