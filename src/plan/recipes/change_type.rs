//! ALTER COLUMN TYPE that rewrites: shadow column, sync trigger, backfill, swap.

use super::*;

/// A name for a helper column that does not exist in the table yet.
pub(super) fn fresh_column(catalog: &Catalog, table: &ObjName, base: &str, suffix: &str) -> String {
    let mut name = derived_name(&[base], suffix);
    let mut n = 2;
    while catalog.column(table, &name).is_some() {
        name = derived_name(&[base], &format!("{suffix}{n}"));
        n += 1;
    }
    name
}

/// Recreate every plain index on `column` over `new_column`, concurrently; returns the
/// build keys and (built name, original name) pairs for the final rename.
pub(super) fn rebuild_indexes(
    cx: &mut Cx<'_>,
    table: &ObjName,
    column: &str,
    new_column: &str,
    phase: Phase,
    after: &[String],
) -> (Vec<String>, Vec<(ObjName, ObjName)>) {
    let indexes: Vec<catalog::Index> = plain_indexes_on(cx.catalog, table, column);
    let mut keys = Vec::new();
    let mut renames = Vec::new();
    for i in indexes {
        if i.partial {
            continue;
        }
        let new_idx = ObjName::new(
            i.name.schema.clone(),
            derived_name(&[&i.name.name], "lockstep"),
        );
        let cols: Vec<String> = i
            .columns
            .iter()
            .map(|c| {
                if c == column {
                    new_column.to_string()
                } else {
                    c.clone()
                }
            })
            .collect();
        let sql = format!(
            "CREATE {}INDEX CONCURRENTLY {} ON {} ({});",
            if i.unique { "UNIQUE " } else { "" },
            ident(&new_idx.name),
            obj(table),
            idents(&cols)
        );
        let k = build_index(cx, phase, &new_idx, table, &sql, after);
        keys.push(k);
        renames.push((new_idx, i.name.clone()));
    }
    (keys, renames)
}

pub(super) fn change_type(
    cx: &mut Cx<'_>,
    op: &Op,
    table: &ObjName,
    column: &str,
    new_type: &str,
    using: Option<&str>,
) -> Result<(), PlanError> {
    let Some(col) = cx.catalog.column(table, column).cloned() else {
        cx.pass_through(
            std::slice::from_ref(op),
            Some(format!(
                "the column {}.{} is unknown to lockstep, so no online recipe was made",
                obj(table),
                ident(column)
            )),
        );
        return Ok(());
    };
    if column_in_constraint(cx.catalog, table, column) {
        cx.pass_through(
            std::slice::from_ref(op),
            Some(format!(
                "{} is part of a key, check or foreign key: lockstep has no online recipe for \
                 changing its type; run this in a maintenance window or migrate the constraint by hand",
                ident(column)
            )),
        );
        return Ok(());
    }
    let t = obj(table);
    let c = ident(column);
    let new_col = fresh_column(cx.catalog, table, column, "new");
    let n = ident(&new_col);
    let func = ObjName::new(
        table.schema.clone(),
        derived_name(&[&table.name, column], "lockstep_sync"),
    );
    let trigger = ident(&func.name);
    let value_in_row = match using {
        Some(u) => format!("(SELECT ({u}) FROM (SELECT NEW.*) AS lockstep_row)"),
        None => format!("NEW.{c}"),
    };
    let add = cx.ddl(
        Phase::Expand,
        format!("add {t}.{n} {new_type} next to {c}"),
        vec![format!("ALTER TABLE {t} ADD COLUMN {n} {new_type};")],
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    let trg = cx.ddl(
        Phase::Expand,
        format!("keep {n} in sync with {c} on every write"),
        vec![
            format!(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql{} AS {};",
                obj(&func),
                cx.function_settings(),
                dollar_quote(&format!(
                    "\nBEGIN\n  NEW.{n} := {value_in_row};\n  RETURN NEW;\nEND\n"
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
    let (set, predicate) = match using {
        Some(u) => (
            format!("{n} = {u}"),
            format!("{n} IS DISTINCT FROM CAST(({u}) AS {new_type})"),
        ),
        None => (
            format!("{n} = {c}"),
            format!("{n} IS NULL AND {c} IS NOT NULL"),
        ),
    };
    let dml = format!(
        "UPDATE {t} SET {set} WHERE ({predicate}) AND ({{KEY}}) {} RETURNING 1",
        backfill::IN_BATCH_MARKER
    );
    let b = cx.backfill(
        table,
        &format!("{column}:type"),
        BackfillOperation::Update,
        Some(set),
        predicate,
        dml,
        &[trg],
    )?;
    let mut ready = vec![b.clone()];
    if col.not_null {
        let k = not_null_dance(
            cx,
            table,
            &new_col,
            Phase::Backfill,
            std::slice::from_ref(&b),
        );
        ready.push(k);
    }
    let (builds, renames) = rebuild_indexes(cx, table, column, &new_col, Phase::Backfill, &[b]);
    ready.extend(builds);
    let old_type = col.ty.0.clone();
    let d = cx.deploy(
        Phase::Contract,
        format!("the application works with {t}.{c} as either {old_type} or {new_type}"),
        &ready,
    );
    let old_col = fresh_column(cx.catalog, table, column, "old");
    let o = ident(&old_col);
    let mut swap = vec![
        format!("DROP TRIGGER {trigger} ON {t};"),
        format!("ALTER TABLE {t} RENAME COLUMN {c} TO {o};"),
        format!("ALTER TABLE {t} RENAME COLUMN {n} TO {c};"),
    ];
    if col.not_null {
        swap.push(format!("ALTER TABLE {t} ALTER COLUMN {o} DROP NOT NULL;"));
    }
    if let Some(def) = &col.default {
        swap.push(format!("ALTER TABLE {t} ALTER COLUMN {o} DROP DEFAULT;"));
        swap.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {};",
            def.sql
        ));
    }
    let s = cx.ddl(
        Phase::Contract,
        format!("swap: {c} becomes the {new_type} column, the old one is kept as {o}"),
        swap,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        std::slice::from_ref(&d),
    );
    cx.requires(&s, &d);
    let mut drop = vec![
        format!("ALTER TABLE {t} DROP COLUMN {o};"),
        format!("DROP FUNCTION {}();", obj(&func)),
    ];
    for (built, original) in &renames {
        drop.push(format!(
            "ALTER INDEX {} RENAME TO {};",
            obj(built),
            ident(&original.name)
        ));
    }
    let k = cx.ddl(
        Phase::Contract,
        format!("drop the old column {o} and the sync function"),
        drop,
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[s],
    );
    cx.requires(&k, &d);
    // Only now is the column of the new type: code that relies on it ships after the swap.
    cx.deploy(
        Phase::Contract,
        format!("the application may rely on {t}.{c} being {new_type}"),
        &[k],
    );
    Ok(())
}
