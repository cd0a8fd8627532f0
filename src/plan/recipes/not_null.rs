//! SET NOT NULL without a scan under ACCESS EXCLUSIVE: the CHECK dance.

use super::*;

/// CHECK (c IS NOT NULL) NOT VALID → VALIDATE → SET NOT NULL + DROP CHECK. Returns the
/// key of the last step.
pub(super) fn not_null_dance(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &str,
    phase: Phase,
    after: &[String],
) -> String {
    let t = obj(table);
    let c = ident(column);
    let chk = ident(&derived_name(&[&table.name, column], "nn_check"));
    let a = cx.ddl(
        phase,
        format!("add CHECK ({c} IS NOT NULL) NOT VALID on {t}"),
        vec![format!(
            "ALTER TABLE {t} ADD CONSTRAINT {chk} CHECK ({c} IS NOT NULL) NOT VALID;"
        )],
        table,
        LockMode::AccessExclusive,
        "instant (no rows read)",
        after,
    );
    let v = cx.ddl(
        phase,
        format!("validate {chk}: reads every row, writes continue"),
        vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {chk};")],
        table,
        LockMode::ShareUpdateExclusive,
        "whole scan, reads and writes continue",
        &[a],
    );
    cx.ddl(
        phase,
        format!("SET NOT NULL on {t}.{c} (instant: uses the validated check), drop the check"),
        vec![
            format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"),
            format!("ALTER TABLE {t} DROP CONSTRAINT {chk};"),
        ],
        table,
        LockMode::AccessExclusive,
        "instant (the validated check proves no NULLs)",
        &[v],
    )
}

/// SET NOT NULL on a column. When this migration fills the column with a backfill, old
/// application versions still insert rows without it after the backfill's range was fixed:
/// a NOT VALID check would make their inserts fail and VALIDATE would find their NULLs.
/// So: a deploy point (every instance writes the column), then the NOT VALID check (new
/// rows must have it), then a catch-up pass of the same data migration over the rows still
/// NULL, then VALIDATE and SET NOT NULL.
pub(super) fn set_not_null(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &str,
) -> Result<(), PlanError> {
    let fill = cx
        .state
        .backfilled
        .iter()
        .rev()
        .find(|b| &b.table == table && b.columns.iter().any(|c| c == column))
        .cloned();
    let Some(fill) = fill else {
        not_null_dance(cx, table, column, Phase::Expand, &[]);
        return Ok(());
    };
    let t = obj(table);
    let c = ident(column);
    let chk = ident(&derived_name(&[&table.name, column], "nn_check"));
    let d = cx.deploy(
        Phase::Contract,
        format!(
            "every application instance writes {t}.{c} on every insert and update \
             (versions that leave it NULL are gone)"
        ),
        &[],
    );
    let a = cx.ddl(
        Phase::Contract,
        format!("add CHECK ({c} IS NOT NULL) NOT VALID on {t}: new rows must have {c}"),
        vec![format!(
            "ALTER TABLE {t} ADD CONSTRAINT {chk} CHECK ({c} IS NOT NULL) NOT VALID;"
        )],
        table,
        LockMode::AccessExclusive,
        "instant (no rows read)",
        std::slice::from_ref(&d),
    );
    cx.requires(&a, &d);
    let guard = format!("{c} IS NULL");
    let catch_up = batched(
        cx,
        &fill.op,
        &fill.text,
        Some(&guard),
        Some(fill.statement),
        std::slice::from_ref(&a),
    )?;
    let last = match catch_up {
        Some(k) => {
            cx.note(
                &k,
                format!(
                    "catch-up: statement {} again, for the rows old application versions \
                     inserted after the first pass had fixed its range",
                    fill.statement
                ),
            );
            k
        }
        None => a.clone(),
    };
    let v = cx.ddl(
        Phase::Contract,
        format!("validate {chk}: reads every row, writes continue"),
        vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {chk};")],
        table,
        LockMode::ShareUpdateExclusive,
        "whole scan, reads and writes continue",
        &[last],
    );
    cx.ddl(
        Phase::Contract,
        format!("SET NOT NULL on {t}.{c} (instant: uses the validated check), drop the check"),
        vec![
            format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"),
            format!("ALTER TABLE {t} DROP CONSTRAINT {chk};"),
        ],
        table,
        LockMode::AccessExclusive,
        "instant (the validated check proves no NULLs)",
        &[v],
    );
    Ok(())
}
