//! Schema drift, found before anything runs: objects the pending migrations expect but the
//! database lacks (or already has), and tables whose presence disagrees with the replayed
//! history of the applied migrations.

use super::stats::TableStats;
use crate::catalog::Catalog;
use crate::ops::{ObjName, Op};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// One disagreement between the migrations and the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    /// `missing` (expected, absent), `exists` (about to be created, already there),
    /// `unexpected` (in the database, not created by the applied migrations),
    /// `not-in-database` (created by the applied migrations, absent).
    pub kind: String,
    pub object: String,
    /// The pending migration that expects it, when there is one.
    pub migration: Option<String>,
    /// 1-based line of the statement.
    pub line: Option<usize>,
    pub message: String,
}

/// A pending statement as drift checking needs it.
pub struct PendingStatement<'a> {
    pub migration: &'a str,
    pub line: usize,
    pub ops: &'a [Op],
}

/// Checks the pending statements against the database's tables and columns (`stats`, keyed
/// by every table the statements name), in order, remembering what earlier pending
/// statements create or drop.
pub fn expected_objects(
    pending: &[PendingStatement],
    stats: &BTreeMap<ObjName, TableStats>,
) -> Vec<DriftItem> {
    let mut out = Vec::new();
    // Tables as the pending statements leave them: None = unknown to us, Some(exists).
    let mut created: HashSet<ObjName> = HashSet::new();
    let mut dropped: HashSet<ObjName> = HashSet::new();
    let mut added_cols: HashSet<(ObjName, String)> = HashSet::new();
    let mut dropped_cols: HashSet<(ObjName, String)> = HashSet::new();
    let in_db = |t: &ObjName| stats.get(t).is_some_and(|s| s.exists);
    let has_col = |t: &ObjName, c: &str| {
        stats
            .get(t)
            .is_some_and(|s| s.columns.iter().any(|x| x == c))
    };
    for st in pending {
        for op in st.ops {
            let mut item = |kind: &str, object: String, message: String| {
                out.push(DriftItem {
                    kind: kind.into(),
                    object,
                    migration: Some(st.migration.to_string()),
                    line: Some(st.line),
                    message,
                })
            };
            match op {
                Op::CreateTable {
                    table,
                    if_not_exists,
                    temporary,
                    ..
                } => {
                    if !*if_not_exists && !*temporary && in_db(table) && !dropped.contains(table) {
                        item(
                            "exists",
                            table.qualified(),
                            format!(
                                "CREATE TABLE {table}: the table already exists in the database"
                            ),
                        );
                    }
                    created.insert(table.clone());
                    dropped.remove(table);
                }
                Op::CreateView {
                    name, or_replace, ..
                } => {
                    if !*or_replace && in_db(name) && !dropped.contains(name) {
                        item(
                            "exists",
                            name.qualified(),
                            format!("CREATE VIEW {name}: a relation with this name already exists"),
                        );
                    }
                    created.insert(name.clone());
                }
                Op::DropTable {
                    table, if_exists, ..
                } => {
                    if !*if_exists && !in_db(table) && !created.contains(table) {
                        item(
                            "missing",
                            table.qualified(),
                            format!("DROP TABLE {table}: the table does not exist in the database"),
                        );
                    }
                    created.remove(table);
                    dropped.insert(table.clone());
                }
                Op::RenameTable { table, new_name } => {
                    let target = ObjName::new(table.schema.clone(), new_name.clone());
                    created.insert(target);
                }
                _ => {
                    let Some(table) = op.table() else { continue };
                    // Operations that tolerate a missing table, or create it.
                    let tolerant =
                        matches!(
                            op,
                            Op::DropView {
                                if_exists: true,
                                ..
                            } | Op::Insert { .. }
                        ) || matches!(op, Op::VacuumFull { table: None } | Op::Vacuum { .. });
                    let exists =
                        (in_db(table) && !dropped.contains(table)) || created.contains(table);
                    if !exists && !tolerant {
                        item(
                            "missing",
                            table.qualified(),
                            format!(
                                "{} expects table {table}, which the database does not have",
                                op.kind().replace('_', " ")
                            ),
                        );
                        continue;
                    }
                    if created.contains(table) || !in_db(table) {
                        continue;
                    }
                    let col = |c: &str| (table.clone(), c.to_string());
                    match op {
                        Op::AddColumn {
                            column,
                            if_not_exists,
                            ..
                        } => {
                            if !*if_not_exists
                                && has_col(table, &column.name)
                                && !dropped_cols.contains(&col(&column.name))
                            {
                                item(
                                    "exists",
                                    format!("{}.{}", table.qualified(), column.name),
                                    format!(
                                        "ADD COLUMN {}: {table} already has this column",
                                        column.name
                                    ),
                                );
                            }
                            added_cols.insert(col(&column.name));
                        }
                        Op::DropColumn {
                            column, if_exists, ..
                        } => {
                            if !*if_exists
                                && !has_col(table, column)
                                && !added_cols.contains(&col(column))
                            {
                                item(
                                    "missing",
                                    format!("{}.{column}", table.qualified()),
                                    format!("DROP COLUMN {column}: {table} has no such column"),
                                );
                            }
                            dropped_cols.insert(col(column));
                        }
                        Op::RenameColumn {
                            column, new_name, ..
                        } => {
                            if !has_col(table, column) && !added_cols.contains(&col(column)) {
                                item(
                                    "missing",
                                    format!("{}.{column}", table.qualified()),
                                    format!("RENAME COLUMN {column}: {table} has no such column"),
                                );
                            }
                            added_cols.insert(col(new_name));
                        }
                        Op::AlterColumnType { column, .. }
                        | Op::SetNotNull { column, .. }
                        | Op::DropNotNull { column, .. }
                        | Op::SetDefault { column, .. }
                        | Op::DropDefault { column, .. }
                            if !has_col(table, column) && !added_cols.contains(&col(column)) =>
                        {
                            item(
                                "missing",
                                format!("{}.{column}", table.qualified()),
                                format!(
                                    "{}: {table} has no column {column}",
                                    op.kind().replace('_', " ")
                                ),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

/// Compares the tables of the replayed catalog (after the applied migrations) with the
/// database's own. `ignore` holds tables to leave out (the history table).
pub fn catalog_vs_database(
    catalog: &Catalog,
    database: &[ObjName],
    ignore: &[ObjName],
) -> Vec<DriftItem> {
    let db: HashSet<&ObjName> = database.iter().collect();
    let replayed: HashSet<&ObjName> = catalog
        .tables
        .values()
        .filter(|t| t.partition_of.is_none())
        .map(|t| &t.name)
        .collect();
    let mut out = Vec::new();
    for t in database {
        if !replayed.contains(t) && !ignore.contains(t) {
            out.push(DriftItem {
                kind: "unexpected".into(),
                object: t.qualified(),
                migration: None,
                line: None,
                message: format!(
                    "table {t} exists in the database but no applied migration creates it"
                ),
            });
        }
    }
    let mut missing: Vec<&&ObjName> = replayed.iter().filter(|t| !db.contains(**t)).collect();
    missing.sort();
    for t in missing {
        out.push(DriftItem {
            kind: "not-in-database".into(),
            object: t.qualified(),
            migration: None,
            line: None,
            message: format!(
                "table {t} is created by the applied migrations but missing from the database"
            ),
        });
    }
    out
}
