//! Rewriting the names inside lowered ops: placeholders mapped back to what the user
//! wrote, and identifiers truncated to PostgreSQL's 63-byte limit.

use crate::ops::{ColumnDef, Constraint, ConstraintKind, Expr, Generated, ObjName, Op};

/// PostgreSQL's `NAMEDATALEN - 1`: longer identifiers are truncated (with a NOTICE).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Truncates an identifier as the server does: to at most 63 bytes, at a character
/// boundary (`pg_mbcliplen`).
pub fn truncate_identifier(s: &mut String) {
    if s.len() > MAX_IDENTIFIER_BYTES {
        let mut cut = MAX_IDENTIFIER_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Drops the `public.` / `pg_catalog.` schema from function calls in expression text
/// (`public.f()` and `f()` call the same function with the default search path), so
/// expressions written either way compare equal.
pub fn unqualify_calls(s: &mut String) {
    if !(s.contains("public.") || s.contains("pg_catalog.")) {
        return;
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            // Skip quoted text (strings stay as written; a quoted schema is kept).
            let q = c;
            i += 1;
            while i < b.len() && b[i] != q {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &s[start..i];
            let boundary = start == 0 || !matches!(b[start - 1], b'.' | b'$');
            if boundary
                && (word.eq_ignore_ascii_case("public") || word.eq_ignore_ascii_case("pg_catalog"))
                && b.get(i) == Some(&b'.')
            {
                // Schema-qualified: drop the schema only when a call follows.
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > i + 1 && b.get(j) == Some(&b'(') {
                    out.push_str(&s[last..start]);
                    last = i + 1;
                }
            }
            continue;
        }
        i += 1;
    }
    if last > 0 {
        out.push_str(&s[last.min(s.len())..]);
        *s = out;
    }
}

/// What a string in an op is: a name (identifier) or SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Text,
}

fn obj(n: &mut ObjName, f: &mut dyn FnMut(&mut String, Field)) {
    f(&mut n.schema, Field::Name);
    f(&mut n.name, Field::Name);
}

fn expr(e: &mut Expr, f: &mut dyn FnMut(&mut String, Field)) {
    f(&mut e.sql, Field::Text);
}

fn names(v: &mut [String], f: &mut dyn FnMut(&mut String, Field)) {
    for s in v {
        f(s, Field::Name);
    }
}

fn constraint(c: &mut Constraint, f: &mut dyn FnMut(&mut String, Field)) {
    if let Some(n) = c.name.as_mut() {
        f(n, Field::Name);
    }
    match &mut c.kind {
        ConstraintKind::PrimaryKey {
            columns,
            using_index,
        }
        | ConstraintKind::Unique {
            columns,
            using_index,
        } => {
            names(columns, f);
            if let Some(i) = using_index.as_mut() {
                f(i, Field::Name);
            }
        }
        ConstraintKind::Check { expr } => f(expr, Field::Text),
        ConstraintKind::ForeignKey(fk) => {
            names(&mut fk.columns, f);
            obj(&mut fk.ref_table, f);
            names(&mut fk.ref_columns, f);
        }
        ConstraintKind::NotNull { column } => f(column, Field::Name),
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

fn column(c: &mut ColumnDef, f: &mut dyn FnMut(&mut String, Field)) {
    f(&mut c.name, Field::Name);
    if let Some(d) = c.default.as_mut() {
        expr(d, f);
    }
    if let Some(Generated::Stored(s)) = c.generated.as_mut() {
        f(s, Field::Text);
    }
    for k in &mut c.constraints {
        constraint(k, f);
    }
}

/// Calls `f` on every identifier and SQL text inside `op`.
pub fn for_each_string(op: &mut Op, f: &mut dyn FnMut(&mut String, Field)) {
    use Field::*;
    match op {
        Op::CreateTable {
            table,
            columns,
            constraints,
            partition_of,
            ..
        } => {
            obj(table, f);
            for c in columns {
                column(c, f);
            }
            for c in constraints {
                constraint(c, f);
            }
            if let Some(p) = partition_of.as_mut() {
                obj(p, f);
            }
        }
        Op::RenameTable {
            table, new_name, ..
        } => {
            obj(table, f);
            f(new_name, Name);
        }
        Op::SetSchema {
            table, new_schema, ..
        } => {
            obj(table, f);
            f(new_schema, Name);
        }
        Op::AddColumn {
            table, column: c, ..
        } => {
            obj(table, f);
            column(c, f);
        }
        Op::DropColumn { table, column, .. }
        | Op::SetNotNull { table, column, .. }
        | Op::DropNotNull { table, column, .. }
        | Op::DropDefault { table, column, .. }
        | Op::AddIdentity { table, column, .. }
        | Op::DropIdentity { table, column, .. }
        | Op::AlterColumnOther { table, column, .. } => {
            obj(table, f);
            f(column, Name);
        }
        Op::RenameColumn {
            table,
            column,
            new_name,
        } => {
            obj(table, f);
            f(column, Name);
            f(new_name, Name);
        }
        Op::AlterColumnType {
            table,
            column,
            using,
            ..
        } => {
            obj(table, f);
            f(column, Name);
            if let Some(u) = using.as_mut() {
                f(u, Text);
            }
        }
        Op::SetDefault {
            table,
            column,
            default,
        } => {
            obj(table, f);
            f(column, Name);
            expr(default, f);
        }
        Op::AddConstraint {
            table,
            constraint: c,
        } => {
            obj(table, f);
            constraint(c, f);
        }
        Op::ValidateConstraint { table, name, .. }
        | Op::DropConstraint { table, name, .. }
        | Op::AlterConstraint { table, name, .. } => {
            obj(table, f);
            f(name, Name);
        }
        Op::RenameConstraint {
            table,
            name,
            new_name,
        } => {
            obj(table, f);
            f(name, Name);
            f(new_name, Name);
        }
        Op::AttachPartition {
            table, partition, ..
        }
        | Op::DetachPartition {
            table, partition, ..
        } => {
            obj(table, f);
            obj(partition, f);
        }
        Op::CreateIndex {
            name,
            table,
            columns,
            ..
        } => {
            if let Some(n) = name.as_mut() {
                obj(n, f);
            }
            obj(table, f);
            // Index elements may be expressions; only plain names are identifiers.
            for c in columns {
                let kind = if c.contains(['(', ' ', ':']) {
                    Text
                } else {
                    Name
                };
                f(c, kind);
            }
        }
        Op::RenameIndex { name, new_name, .. } => {
            obj(name, f);
            f(new_name, Name);
        }
        Op::CreateView {
            name, depends_on, ..
        } => {
            obj(name, f);
            for d in depends_on {
                obj(d, f);
            }
        }
        Op::CreateTrigger { name, table, .. } | Op::DropTrigger { name, table, .. } => {
            f(name, Name);
            obj(table, f);
        }
        Op::CreateSchema { name, .. }
        | Op::DropSchema { name, .. }
        | Op::CreateExtension { name, .. }
        | Op::DropExtension { name, .. } => f(name, Name),
        Op::UnknownDefinition { object, .. } => obj(object, f),
        Op::Reindex { target, .. } => {
            if let Some(t) = target.as_mut() {
                obj(t, f);
            }
        }
        Op::VacuumFull { table, .. } | Op::Vacuum { table, .. } | Op::Cluster { table, .. } => {
            if let Some(t) = table.as_mut() {
                obj(t, f);
            }
        }
        Op::DropTable { table, .. }
        | Op::SetLogged { table, .. }
        | Op::AlterTableOther { table, .. }
        | Op::Truncate { table, .. }
        | Op::LockTable { table, .. }
        | Op::Update { table, .. }
        | Op::Delete { table, .. }
        | Op::Insert { table, .. } => obj(table, f),
        Op::DropIndex { name, .. }
        | Op::DropView { name, .. }
        | Op::RefreshMaterializedView { name, .. }
        | Op::CreateType { name, .. }
        | Op::DropType { name, .. }
        | Op::CreateFunction { name, .. }
        | Op::DropFunction { name, .. }
        | Op::CreateSequence { name, .. }
        | Op::AlterSequence { name, .. }
        | Op::DropSequence { name, .. }
        | Op::CreateEnum { name, .. }
        | Op::AddEnumValue { name, .. }
        | Op::RenameEnumValue { name, .. } => obj(name, f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_unqualified_calls_read_alike() {
        let mut s = "public.gen_id() + pg_catalog.now() + public.t.c + 'public.x()'".to_string();
        unqualify_calls(&mut s);
        assert_eq!(s, "gen_id() + now() + public.t.c + 'public.x()'");
    }

    #[test]
    fn truncates_at_a_character_boundary() {
        let mut s = "a".repeat(62) + "é";
        truncate_identifier(&mut s);
        assert_eq!(s, "a".repeat(62));
        let mut s = "b".repeat(70);
        truncate_identifier(&mut s);
        assert_eq!(s.len(), 63);
    }
}
