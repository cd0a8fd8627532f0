//! RENAME COLUMN in phases the old and new application versions both survive.

use super::*;

pub(super) fn rename_column(
    cx: &mut Cx<'_>,
    op: &Op,
    table: &ObjName,
    column: &str,
    new_name: &str,
) -> Result<(), PlanError> {
    let t = obj(table);
    let c = ident(column);
    let n = ident(new_name);
    let col = cx.catalog.column(table, column).cloned();
    let unsupported = match &col {
        None => Some("the column is unknown to lockstep".to_string()),
        Some(_) if column_in_constraint(cx.catalog, table, column) => {
            Some("the column is part of a key, check or foreign key".to_string())
        }
        Some(c) if c.identity || c.generated_stored => {
            Some("the column is an identity or generated column".to_string())
        }
        _ => None,
    };
    let Some(col) = col.filter(|_| unsupported.is_none()) else {
        // Fallback: the rename itself, after the deploy that can live with both names.
        let d = cx.deploy(
            Phase::Contract,
            format!("the application can run with {t}.{c} renamed to {n}"),
            &[],
        );
        let k = cx.pass_through(
            std::slice::from_ref(op),
            unsupported.map(|u| {
                format!("{u}: no two-column recipe; the rename runs as written after the deploy")
            }),
        );
        set_phase(cx, &k, Phase::Contract);
        cx.requires(&k, &d);
        return Ok(());
    };
    let func = ObjName::new(
        table.schema.clone(),
        derived_name(&[&table.name, new_name], "lockstep_sync"),
    );
    let trigger = ident(&func.name);
    let add = cx.ddl(
        Phase::Expand,
        format!("add {t}.{n} next to {c}"),
        vec![format!("ALTER TABLE {t} ADD COLUMN {n} {};", col.ty)],
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    let trg = cx.ddl(
        Phase::Expand,
        format!("keep {c} and {n} equal on every write, whichever one the application writes"),
        vec![
            format!(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {};",
                obj(&func),
                dollar_quote(&format!(
                    "\nBEGIN\n  IF TG_OP = 'INSERT' THEN\n    IF NEW.{n} IS NULL THEN NEW.{n} := NEW.{c}; ELSE NEW.{c} := NEW.{n}; END IF;\n  ELSIF NEW.{n} IS DISTINCT FROM OLD.{n} THEN\n    NEW.{c} := NEW.{n};\n  ELSE\n    NEW.{n} := NEW.{c};\n  END IF;\n  RETURN NEW;\nEND\n"
                ))
            ),
            format!(
                "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {}();",
                obj(&func)
            ),
        ],
        table,
        LockMode::ShareRowExclusive,
        "instant (catalog only)",
        &[add],
    );
    let set = format!("{n} = {c}");
    let predicate = format!("{n} IS DISTINCT FROM {c}");
    let dml = format!(
        "UPDATE {t} SET {set} WHERE ({predicate}) AND ({{KEY}}) {} RETURNING 1",
        backfill::IN_BATCH_MARKER
    );
    let b = cx.backfill(
        table,
        &format!("{column}:rename"),
        BackfillOperation::Update,
        Some(set),
        predicate,
        dml,
        &[trg],
    )?;
    let mut ready = vec![b.clone()];
    if col.not_null {
        ready.push(not_null_dance(
            cx,
            table,
            new_name,
            Phase::Backfill,
            std::slice::from_ref(&b),
        ));
    }
    let (builds, renames) = rebuild_indexes(cx, table, column, new_name, Phase::Backfill, &[b]);
    ready.extend(builds);
    let d = cx.deploy(
        Phase::Contract,
        format!("the application reads and writes {t}.{n}, no longer {c}"),
        &ready,
    );
    let mut stmts = vec![
        format!("DROP TRIGGER {trigger} ON {t};"),
        format!("DROP FUNCTION {}();", obj(&func)),
        format!("ALTER TABLE {t} DROP COLUMN {c};"),
    ];
    if let Some(def) = &col.default {
        stmts.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {n} SET DEFAULT {};",
            def.sql
        ));
    }
    for (built, original) in &renames {
        stmts.push(format!(
            "ALTER INDEX {} RENAME TO {};",
            obj(built),
            ident(&original.name)
        ));
    }
    let k = cx.ddl(
        Phase::Contract,
        format!("drop the old column {c} and the sync trigger"),
        stmts,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        std::slice::from_ref(&d),
    );
    cx.requires(&k, &d);
    Ok(())
}
