//! dependent-objects: dropping or retyping a column that indexes, constraints, foreign keys
//! or views depend on. The dependents come from [`crate::graph::column_dependents`].

use super::support::join_words;
use super::{Direction, Emitter, OpContext};
use crate::graph::{Dependent, column_dependents};
use crate::ops::Op;
use crate::settings::DownScripts;

pub struct Rule;

fn names(deps: &[&Dependent]) -> String {
    join_words(&deps.iter().map(|d| d.what.clone()).collect::<Vec<_>>())
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/dependent-objects.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        // Both directions: a down script that drops a column a view still reads fails just
        // like an up script does, in the middle of a rollback.
        let (table, column, drop, cascade, collate) = match cx.op {
            Op::DropColumn {
                table,
                column,
                cascade,
                ..
            } => (table, column, true, *cascade, false),
            Op::AlterColumnType {
                table,
                column,
                collate,
                ..
            } => (table, column, false, false, collate.is_some()),
            _ => return,
        };
        // A binary-coercible change (varchar widening, varchar → text, timestamp(3) →
        // timestamp) keeps the column's indexes and foreign keys as they are: PostgreSQL
        // reuses them; only a rewrite or a new collation rebuilds them.
        let rebuilds = drop || collate || cx.locks.iter().any(|f| &f.table == table && f.rewrite);
        if !cx.is_existing(table) || cx.catalog.column(table, column).is_none() {
            return;
        }
        let deps = column_dependents(cx.catalog, table, column);
        // Views are only possible dependents (the replay knows a view's tables, not its
        // columns): alone they would fire on every column of every table a view reads.
        if !deps.iter().any(|d| d.certain) {
            return;
        }
        let blocking: Vec<&Dependent> = deps.iter().filter(|d| d.blocks_drop).collect();
        // Dropping a column takes its own single-column index, key or foreign key with it;
        // that is what the DROP COLUMN says, not a surprise. An index or constraint that
        // also covers other columns (a composite unique key) is worth naming.
        let own = if drop {
            own_dependents(cx.catalog, table, column)
        } else {
            Vec::new()
        };
        let silent: Vec<&Dependent> = deps
            .iter()
            .filter(|d| !d.blocks_drop && !own.contains(&d.what))
            .collect();
        if drop && silent.is_empty() && blocking.is_empty() {
            return;
        }
        let views_only_possible = blocking.iter().all(|d| !d.certain);
        if cx.direction == Direction::Down && cx.settings.down_scripts != DownScripts::Full {
            // In a down script only what makes the rollback stop is said here: what the
            // statement removes with the column (the up script's own index or foreign key)
            // is judged by the rollback check, and rebuild costs by the lock rules under
            // `down_scripts: full`.
            let stops: Vec<&Dependent> = if drop && !cascade {
                blocking.clone()
            } else if !drop {
                blocking.iter().copied().filter(|d| !d.certain).collect()
            } else {
                Vec::new()
            };
            if stops.is_empty() {
                return;
            }
            let what = if drop {
                "dropping"
            } else {
                "changing the type of"
            };
            let s = if stops.len() == 1 { "s" } else { "" };
            let message = if stops.iter().any(|d| d.certain) {
                format!(
                    "{what} {table}.{column} fails: {} depend{s} on it",
                    names(&stops)
                )
            } else {
                format!(
                    "{what} {table}.{column} fails if {} use{s} the column",
                    names(&stops)
                )
            };
            out.emit(
                cx.span.clone(),
                Some(table),
                message,
                Some("the rollback stops at this statement".into()),
                Some(
                    "drop or change the dependents first, undoing the up script's statements \
                     in reverse order"
                        .into(),
                ),
            );
            return;
        }
        let (message, label, help) = if drop {
            let mut parts = Vec::new();
            if !silent.is_empty() {
                parts.push(format!("silently drops {}", names(&silent)));
            }
            if !blocking.is_empty() {
                if cascade {
                    parts.push(format!("CASCADE also drops {}", names(&blocking)));
                } else if views_only_possible {
                    parts.push(format!(
                        "fails if {} use{} the column",
                        names(&blocking),
                        if blocking.len() == 1 { "s" } else { "" }
                    ));
                } else {
                    parts.push(format!(
                        "fails: {} depend{} on it",
                        names(&blocking),
                        if blocking.len() == 1 { "s" } else { "" }
                    ));
                }
            }
            (
                format!("dropping {table}.{column} {}", parts.join("; ")),
                format!("{} object(s) depend on {table}.{column}", deps.len()),
                "drop or change the dependents first, explicitly and in the right order (views \
                 and foreign keys of other tables, then indexes with DROP INDEX CONCURRENTLY), so \
                 the migration says what it removes and a down script can re-create them",
            )
        } else {
            let mut parts = Vec::new();
            let indexes: Vec<&Dependent> = silent
                .iter()
                .copied()
                .filter(|d| {
                    d.what.starts_with("index")
                        || d.what.starts_with("primary")
                        || d.what.starts_with("unique")
                })
                .collect();
            let others: Vec<&Dependent> = silent
                .iter()
                .copied()
                .filter(|d| !indexes.contains(d))
                // Without a rewrite only CHECK constraints are evaluated again.
                .filter(|d| rebuilds || d.what.starts_with("check"))
                .collect();
            if !indexes.is_empty() && rebuilds {
                parts.push(format!("rebuilds {}", names(&indexes)));
            }
            if !others.is_empty() {
                parts.push(format!("re-checks {}", names(&others)));
            }
            let fks: Vec<&Dependent> = blocking.iter().copied().filter(|d| d.certain).collect();
            let views: Vec<&Dependent> = blocking.iter().copied().filter(|d| !d.certain).collect();
            if !fks.is_empty() && rebuilds {
                parts.push(format!("needs {} to keep a compatible type", names(&fks)));
            }
            if parts.is_empty() {
                return;
            }
            if !views.is_empty() {
                parts.push(format!(
                    "fails if {} use{} the column (PostgreSQL cannot change the type of a column a view uses)",
                    names(&views),
                    if views.len() == 1 { "s" } else { "" }
                ));
            }
            (
                format!("changing the type of {table}.{column} {}", parts.join("; ")),
                format!("{} object(s) depend on {table}.{column}", deps.len()),
                "drop the dependent views before the change and re-create them after it, change \
                 referencing foreign-key columns in the same migration, and expect index \
                 rebuilds to hold the lock for their whole duration",
            )
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            message,
            Some(label),
            Some(help.into()),
        );
    }
}

/// The dependents (as [`Dependent::what`] names them) that consist of `column` alone: a
/// single-column index, primary key, unique constraint or foreign key of the column.
fn own_dependents(
    catalog: &crate::catalog::Catalog,
    table: &crate::ops::ObjName,
    column: &str,
) -> Vec<String> {
    use crate::ops::ConstraintKind;
    let only = |cols: &[String]| cols.len() == 1 && cols[0] == column;
    let mut out = Vec::new();
    if let Some(t) = catalog.table(table) {
        for c in &t.constraints {
            let word = match &c.kind {
                ConstraintKind::PrimaryKey { columns, .. } if only(columns) => "primary key",
                ConstraintKind::Unique { columns, .. } if only(columns) => "unique constraint",
                ConstraintKind::ForeignKey(fk) if only(&fk.columns) => "foreign key",
                _ => continue,
            };
            out.push(format!("{word} {}", c.name));
        }
    }
    for i in catalog.indexes_on(table) {
        if only(&i.columns) {
            out.push(format!("index {}", i.name));
        }
    }
    out
}
