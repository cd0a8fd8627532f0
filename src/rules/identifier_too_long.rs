//! identifier-too-long: a name longer than 63 bytes, which PostgreSQL truncates.

use super::new_columns::judged;
use super::{Emitter, OpContext};
use crate::ops::{Constraint, Op};

pub struct Rule;

/// PostgreSQL's NAMEDATALEN is 64, one byte of which ends the string.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// What PostgreSQL keeps of `name`: at most 63 bytes, never splitting a character.
pub fn truncated(name: &str) -> &str {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let mut end = MAX_IDENTIFIER_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn constraint_names<'a>(cs: &'a [Constraint], out: &mut Vec<(&'static str, &'a str)>) {
    for c in cs {
        if let Some(n) = &c.name {
            out.push(("constraint", n));
        }
    }
}

/// The names an operation gives to new (or renamed) objects, with what they name.
fn introduced_names(op: &Op) -> Vec<(&'static str, &str)> {
    let mut out: Vec<(&'static str, &str)> = Vec::new();
    match op {
        Op::CreateTable {
            table,
            columns,
            constraints,
            ..
        } => {
            out.push(("table", &table.name));
            for c in columns {
                out.push(("column", &c.name));
                constraint_names(&c.constraints, &mut out);
            }
            constraint_names(constraints, &mut out);
        }
        Op::AddColumn { column, .. } => {
            out.push(("column", &column.name));
            constraint_names(&column.constraints, &mut out);
        }
        Op::AddConstraint { constraint, .. } => {
            constraint_names(std::slice::from_ref(constraint), &mut out)
        }
        Op::RenameTable { new_name, .. } => out.push(("table", new_name)),
        Op::RenameColumn { new_name, .. } => out.push(("column", new_name)),
        Op::RenameConstraint { new_name, .. } => out.push(("constraint", new_name)),
        Op::RenameIndex { new_name, .. } => out.push(("index", new_name)),
        Op::SetSchema { new_schema, .. } => out.push(("schema", new_schema)),
        Op::CreateIndex { name: Some(n), .. } => out.push(("index", &n.name)),
        Op::CreateView { name, .. } => out.push(("view", &name.name)),
        Op::CreateEnum { name, .. } | Op::CreateType { name } => out.push(("type", &name.name)),
        Op::CreateFunction { name, .. } => out.push(("function", &name.name)),
        Op::CreateSequence { name } => out.push(("sequence", &name.name)),
        Op::CreateTrigger { name, .. } => out.push(("trigger", name)),
        Op::CreateSchema { name } => out.push(("schema", name)),
        _ => {}
    }
    out
}

/// Identifiers longer than [`MAX_IDENTIFIER_BYTES`] in `sql` (bare words folded to lower
/// case, quoted ones as written), outside string literals and comments.
fn long_identifiers(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i] != b'"' {
                i += 1;
            }
            if let Some(w) = sql.get(start..i.min(b.len()))
                && w.len() > MAX_IDENTIFIER_BYTES
            {
                out.push(w.to_string());
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$') || b[i] >= 0x80)
            {
                i += 1;
            }
            if let Some(w) = sql.get(start..i)
                && w.len() > MAX_IDENTIFIER_BYTES
            {
                out.push(w.to_lowercase());
            }
        } else {
            i += 1;
        }
    }
    out
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/identifier-too-long.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        if !judged(cx.direction) {
            return;
        }
        // The parser already truncates names as PostgreSQL does; the name as written is
        // the identifier of the statement's text that truncates to it.
        let written = long_identifiers(cx.text());
        for (what, kept) in introduced_names(cx.op) {
            let Some(name) = written
                .iter()
                .find(|w| truncated(w) == kept || w.as_str() == kept)
            else {
                continue;
            };
            out.emit(
                cx.span.clone(),
                None,
                format!(
                    "{what} name \"{name}\" is {} bytes; PostgreSQL silently keeps only the \
                     first {MAX_IDENTIFIER_BYTES}: \"{kept}\"",
                    name.len()
                ),
                Some(format!("the {what} is created as \"{kept}\"")),
                Some(format!(
                    "shorten the name to at most {MAX_IDENTIFIER_BYTES} bytes, so that the \
                     name in the database is the one later migrations and code use"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        let ascii = "a".repeat(70);
        assert_eq!(truncated(&ascii).len(), 63);
        // 'é' is two bytes: 31 of them are 62 bytes, the 32nd would cross 63.
        let accented = "é".repeat(40);
        assert_eq!(truncated(&accented).len(), 62);
        assert_eq!(truncated("short"), "short");
    }
}
