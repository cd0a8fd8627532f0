//! The names PostgreSQL gives constraints and indexes created without one, so the replayed
//! catalog holds the name a later `DROP CONSTRAINT` / `DROP INDEX` will use, and the
//! rollback check compares like with like.
//!
//! The rules (checked against a real server in tests/findings_rollback.rs):
//! - primary key `<table>_pkey`; unique `<table>_<cols>_key`; foreign key
//!   `<table>_<cols>_fkey`; exclusion `<table>_<cols>_excl`; index `<table>_<cols>_idx`
//!   (columns joined with `_`, an expression counting as `expr`);
//! - CHECK `<table>_<col>_check` when the expression reads exactly one column of the table,
//!   else `<table>_check`;
//! - the parts are cut so the whole fits in 63 bytes, the longer part losing a byte first;
//! - a name already taken gets a number on its label: `t_check1`, `t_check2`, ….

use crate::catalog::Table;
use crate::ops::ConstraintKind;

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `name1[_name2]_label`, each part cut (at a character boundary) until the whole fits.
pub fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead = label.len() + 1 + usize::from(name2.is_some());
    let avail = MAX_IDENTIFIER_BYTES.saturating_sub(overhead);
    let mut n1 = name1.len();
    let mut n2 = name2.map_or(0, str::len);
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut out = clip(name1, n1);
    if let Some(n) = name2 {
        out.push('_');
        out.push_str(&clip(n, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// The first free name among `name1_name2_label`, `…_label1`, `…_label2`, ….
pub fn choose_name(
    name1: &str,
    name2: Option<&str>,
    label: &str,
    taken: &dyn Fn(&str) -> bool,
) -> String {
    let mut name = make_object_name(name1, name2, label);
    let mut pass = 0;
    while taken(&name) && pass < 10_000 {
        pass += 1;
        name = make_object_name(name1, name2, &format!("{label}{pass}"));
    }
    name
}

/// The identifiers an expression reads that are columns of `table`, each once.
fn columns_read(expr: &str, table: &Table) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == '\'' {
            // Skip the string literal ('' is an escaped quote inside it).
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        let (word, next) = if c == '"' {
            let end = expr[i + 1..].find('"').map_or(expr.len(), |e| i + 1 + e);
            (expr[i + 1..end].to_string(), end + 1)
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = expr[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'))
                .map_or(expr.len(), |e| i + e);
            (expr[i..end].to_ascii_lowercase(), end)
        } else {
            i += 1;
            continue;
        };
        // A name followed by `(` is a function; one after `::` or `.` is a type or a field.
        let called = expr[next.min(expr.len())..].trim_start().starts_with('(');
        let prev = expr[..i].trim_end();
        let qualified = prev.ends_with("::") || prev.ends_with('.');
        if !called
            && !qualified
            && table.columns.iter().any(|col| col.name == word)
            && !found.contains(&word)
        {
            found.push(word);
        }
        i = next.max(i + 1);
    }
    found
}

/// The name PostgreSQL gives a constraint of `kind` added to `table` without a name.
/// `taken` says whether a name is already used (by a constraint of the table or, for the
/// index-backed kinds, by a relation of the schema).
pub fn constraint_name(
    table: &Table,
    kind: &ConstraintKind,
    taken: &dyn Fn(&str) -> bool,
) -> String {
    let t = table.name.name.as_str();
    match kind {
        ConstraintKind::PrimaryKey { .. } => choose_name(t, None, "pkey", taken),
        ConstraintKind::Unique { columns, .. } => {
            choose_name(t, Some(&columns.join("_")), "key", taken)
        }
        ConstraintKind::ForeignKey(fk) => {
            choose_name(t, Some(&fk.columns.join("_")), "fkey", taken)
        }
        ConstraintKind::Check { expr } => {
            let cols = columns_read(expr, table);
            let one = (cols.len() == 1).then(|| cols[0].as_str());
            choose_name(t, one, "check", taken)
        }
        ConstraintKind::Exclusion => choose_name(t, None, "excl", taken),
        ConstraintKind::NotNull { column } => choose_name(t, Some(column), "not_null", taken),
    }
}

/// The name PostgreSQL gives `CREATE INDEX ON table (columns)`.
pub fn index_name(table: &str, columns: &[String], taken: &dyn Fn(&str) -> bool) -> String {
    let cols: Vec<&str> = columns
        .iter()
        .map(|c| {
            if c.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
                c.as_str()
            } else {
                "expr"
            }
        })
        .collect();
    choose_name(table, Some(&cols.join("_")), "idx", taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_to_63_bytes_longer_part_first() {
        let t = "a".repeat(60);
        let n = make_object_name(&t, Some("col"), "fkey");
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("_col_fkey"), "{n}");
        let n = make_object_name("t", None, "pkey");
        assert_eq!(n, "t_pkey");
    }

    #[test]
    fn taken_names_get_a_number() {
        let taken = |n: &str| n == "t_check" || n == "t_check1";
        assert_eq!(choose_name("t", None, "check", &taken), "t_check2");
    }
}
