//! ADD COLUMN with a volatile default or NOT NULL.

use super::*;

/// ADD COLUMN with a volatile default or NOT NULL: nullable add, default, backfill, then
/// the CHECK dance, then the column's own constraints (NOT VALID, VALIDATE).
pub(super) fn add_column(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &ColumnDef,
    if_not_exists: bool,
) -> Result<(), PlanError> {
    if column.not_null && column.default.is_none() && column.generated.is_none() {
        // The original fails on any row, and old application versions insert rows while
        // the plan runs: there is no order of steps that ends in the migration's schema.
        return Err(PlanError::NotNullWithoutDefault {
            statement: cx.statement,
            table: table.to_string(),
            column: column.name.clone(),
        });
    }
    let t = obj(table);
    let c = ident(&column.name);
    let volatile = column.default.as_ref().filter(|d| d.volatile);
    let mut base = column.clone();
    base.not_null = false;
    if volatile.is_some() {
        base.default = None;
    }
    let mut stmts = vec![format!(
        "ALTER TABLE {t} ADD COLUMN {}{};",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        column_sql(&base, false)
    )];
    if let Some(d) = volatile {
        // SET DEFAULT applies to new rows only: no rewrite, unlike ADD COLUMN … DEFAULT.
        stmts.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {};",
            d.sql
        ));
    }
    let add = cx.ddl(
        Phase::Expand,
        format!("add {t}.{c} as a nullable column"),
        stmts,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    let mut last = vec![add.clone()];
    if let Some(d) = volatile {
        let set = format!("{c} = {}", d.sql);
        let predicate = format!("{c} IS NULL");
        let dml = format!(
            "UPDATE {t} SET {set} WHERE ({predicate}) AND ({{KEY}}) {} RETURNING 1",
            backfill::IN_BATCH_MARKER
        );
        let b = cx.backfill(
            table,
            &column.name,
            BackfillOperation::Update,
            Some(set),
            predicate,
            dml,
            &last,
        )?;
        last = vec![b];
    }
    if column.not_null {
        let k = not_null_dance(cx, table, &column.name, Phase::Contract, &last);
        last = vec![k];
    }
    for con in &column.constraints {
        let mut con = con.clone();
        if let ConstraintKind::NotNull { .. } = con.kind {
            continue;
        }
        if matches!(con.kind, ConstraintKind::Check { .. }) && con.name.is_none() {
            con.name = Some(check_name(cx.catalog, table, &con.kind, Some(&column.name)));
        }
        let phase = if volatile.is_some() {
            Phase::Contract
        } else {
            Phase::Expand
        };
        add_constraint(cx, table, &con, phase, &last);
    }
    Ok(())
}
