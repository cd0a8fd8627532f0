//! DROP COLUMN after the application stopped using it.

use super::*;

/// Indexes on `table` that use `column` and do not back a constraint.
pub(super) fn plain_indexes_on(
    catalog: &Catalog,
    table: &ObjName,
    column: &str,
) -> Vec<catalog::Index> {
    let constraint_names: Vec<String> = catalog
        .table(table)
        .map(|t| t.constraints.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    catalog
        .indexes_on(table)
        .filter(|i| i.columns.iter().any(|c| c == column))
        .filter(|i| !constraint_names.contains(&i.name.name))
        .cloned()
        .collect()
}

/// The column is part of a constraint (key, check, foreign key) or referenced by one.
pub(super) fn column_in_constraint(catalog: &Catalog, table: &ObjName, column: &str) -> bool {
    let own = catalog.table(table).is_some_and(|t| {
        t.constraints.iter().any(|c| {
            catalog::constraint_columns(&c.kind)
                .iter()
                .any(|x| x == column)
                || matches!(&c.kind, ConstraintKind::Check { expr } if expr.contains(column))
        })
    });
    let referenced = catalog.tables.values().any(|t| {
        t.foreign_keys()
            .any(|(_, fk)| &fk.ref_table == table && fk.ref_columns.iter().any(|c| c == column))
    });
    own || referenced
}

pub(super) fn drop_column(cx: &mut Cx<'_>, op: &Op, table: &ObjName, column: &str) {
    let t = obj(table);
    let c = ident(column);
    let mut expand = Vec::new();
    if let Some(col) = cx.catalog.column(table, column)
        && col.not_null
        && col.default.is_none()
    {
        // The release that stops writing the column must still be able to insert.
        let k = cx.ddl(
            Phase::Expand,
            format!("allow NULL in {t}.{c} so the application can stop writing it"),
            vec![format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;")],
            table,
            LockMode::AccessExclusive,
            "instant (catalog only)",
            &[],
        );
        expand.push(k);
    }
    let d = cx.deploy(
        Phase::Contract,
        format!("the application no longer reads or writes {t}.{c}"),
        &expand,
    );
    let mut last = vec![d.clone()];
    let indexes: Vec<ObjName> = plain_indexes_on(cx.catalog, table, column)
        .iter()
        .map(|i| i.name.clone())
        .collect();
    for idx in indexes {
        let k = cx.concurrent(
            Phase::Contract,
            format!("drop index {} (uses {c}) without blocking", obj(&idx)),
            format!("DROP INDEX CONCURRENTLY IF EXISTS {};", obj(&idx)),
            table,
            &last,
        );
        cx.requires(&k, &d);
        last = vec![k];
    }
    let k = if cx.multi {
        // One command of a multi-command ALTER TABLE: drop this column alone (the
        // statement's text would drop all of them, once per column).
        let Op::DropColumn {
            if_exists, cascade, ..
        } = op
        else {
            return;
        };
        cx.ddl(
            Phase::Contract,
            format!("drop {t}.{c}"),
            vec![format!(
                "ALTER TABLE {t} DROP COLUMN {}{c}{};",
                if *if_exists { "IF EXISTS " } else { "" },
                if *cascade { " CASCADE" } else { "" }
            )],
            table,
            LockMode::AccessExclusive,
            "instant (catalog only)",
            &last,
        )
    } else {
        let k = cx.pass_through(std::slice::from_ref(op), None);
        set_phase(cx, &k, Phase::Contract);
        if let Some(dr) = cx.out.iter_mut().find(|x| x.key == k) {
            dr.after = last;
        }
        k
    };
    cx.requires(&k, &d);
}
