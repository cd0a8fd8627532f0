//! foreign-key-without-index: a foreign key whose referencing columns no index leads with.

use super::foreign_keys::{declared, describe_columns};
use super::new_columns::judged;
use super::{Emitter, EndContext};
use crate::catalog::Catalog;
use crate::ops::{ObjName, Op};
use std::collections::HashSet;

pub struct Rule;

/// Some non-partial index on `table` has exactly `columns` as its leading columns (in any
/// order): PostgreSQL can then find the referencing rows without scanning the table.
pub fn has_supporting_index(catalog: &Catalog, table: &ObjName, columns: &[String]) -> bool {
    let wanted: HashSet<&str> = columns.iter().map(String::as_str).collect();
    catalog.indexes_on(table).any(|i| {
        !i.partial
            && i.columns.len() >= columns.len()
            && i.columns[..columns.len()]
                .iter()
                .map(String::as_str)
                .collect::<HashSet<_>>()
                == wanted
    })
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/foreign-key-without-index.yaml")
    }

    // Judged at the end of the script, against the schema the whole migration leaves, so an
    // index created after the foreign key in the same migration counts.
    fn check_end(&self, cx: &EndContext, out: &mut Emitter) {
        if !judged(cx.direction) {
            return;
        }
        // Tables created by this script can be indexed plainly in the same migration.
        let created: HashSet<&ObjName> = cx
            .statements
            .iter()
            .flat_map(|s| &s.ops)
            .filter_map(|op| match op {
                Op::CreateTable { table, .. } => Some(table),
                _ => None,
            })
            .collect();
        let mut seen = HashSet::new();
        for fk in declared(cx.statements) {
            let Some(table) = cx.catalog.table(&fk.table) else {
                continue;
            };
            // Still declared at the end (not dropped, its columns not renamed away).
            let still_there = table.foreign_keys().any(|(_, k)| {
                let cols = if k.columns.is_empty() {
                    &fk.columns
                } else {
                    &k.columns
                };
                cols == &fk.columns && k.ref_table == fk.ref_table
            });
            if !still_there || has_supporting_index(cx.catalog, &fk.table, &fk.columns) {
                continue;
            }
            if !seen.insert((fk.table.clone(), fk.columns.clone())) {
                continue;
            }
            let cols = fk.columns.join(", ");
            let idx_name = format!("{}_{}_idx", fk.table.name, fk.columns.join("_"));
            out.emit(
                fk.span.clone(),
                None,
                format!(
                    "foreign key {} → {} has no index on its referencing columns",
                    describe_columns(&fk.table, &fk.columns),
                    fk.ref_table
                ),
                Some(format!(
                    "every DELETE or key UPDATE on {} scans {} to find referencing rows",
                    fk.ref_table, fk.table
                )),
                Some(if created.contains(&fk.table) {
                    format!(
                        "add `CREATE INDEX {idx_name} ON {} ({cols});` to this migration: the \
                         table is new, so the build blocks nobody",
                        fk.table
                    )
                } else {
                    format!(
                        "add `CREATE INDEX CONCURRENTLY {idx_name} ON {} ({cols});` in a \
                         migration that does not run in a transaction",
                        fk.table
                    )
                }),
            );
        }
    }
}
