//! Replacing a primary key or unique constraint without a moment when the table has none.
//!
//! A migration that drops `t_pkey` and adds a new primary key runs both under one ACCESS
//! EXCLUSIVE lock. Split naively (drop now, build the new index concurrently, promote it
//! later) the table would have no key during the build: `ON CONFLICT` fails, duplicates
//! get in, and a duplicate makes the build fail — leaving no key at all. Instead the new
//! unique index is built concurrently under a temporary name while the old key still
//! holds, and one short transaction drops the old constraint and promotes the new index
//! (`ADD CONSTRAINT … USING INDEX` renames it to the constraint's name).

use super::*;

/// A key constraint this migration drops and replaces later in the same migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySwap {
    pub table: ObjName,
    /// The constraint that is dropped.
    pub dropped: String,
    /// True for a primary key, false for a unique constraint.
    pub primary: bool,
}

fn key_kind(kind: &ConstraintKind) -> Option<bool> {
    match kind {
        ConstraintKind::PrimaryKey { .. } => Some(true),
        ConstraintKind::Unique { .. } => Some(false),
        _ => None,
    }
}

/// Finds the drop/add pairs in a migration's operations (in statement order), against the
/// schema before the migration. A primary key pairs with the next primary key added to
/// its table; a unique constraint with the next unique constraint of the same name or the
/// same columns. A drop with CASCADE is left as written (it also drops foreign keys).
pub fn find<'a>(catalog: &Catalog, ops: impl Iterator<Item = &'a Op>) -> Vec<KeySwap> {
    let mut open: Vec<(KeySwap, Vec<String>)> = Vec::new();
    let mut paired = Vec::new();
    for op in ops {
        match op {
            Op::DropConstraint {
                table,
                name,
                cascade: false,
                ..
            } => {
                let Some(c) = catalog
                    .table(table)
                    .and_then(|t| t.constraints.iter().find(|c| &c.name == name))
                else {
                    continue;
                };
                if let Some(primary) = key_kind(&c.kind) {
                    open.push((
                        KeySwap {
                            table: table.clone(),
                            dropped: name.clone(),
                            primary,
                        },
                        catalog::constraint_columns(&c.kind),
                    ));
                }
            }
            Op::AddConstraint { table, constraint } => {
                let Some(primary) = key_kind(&constraint.kind) else {
                    continue;
                };
                let columns = catalog::constraint_columns(&constraint.kind);
                let pos = open.iter().position(|(s, cols)| {
                    &s.table == table
                        && s.primary == primary
                        && (primary
                            || constraint.name.as_deref() == Some(s.dropped.as_str())
                            || cols == &columns)
                });
                if let Some(p) = pos {
                    paired.push(open.remove(p).0);
                }
            }
            _ => {}
        }
    }
    paired
}

/// The temporary name the replacement index is built under.
pub fn temporary_index_name(constraint: &str) -> String {
    derived_name(&[constraint], "lockstep_new")
}
