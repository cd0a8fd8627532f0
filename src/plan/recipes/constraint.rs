//! ADD CONSTRAINT: NOT VALID + VALIDATE, or a unique index built concurrently and promoted.

use super::*;

/// PostgreSQL's name for an unnamed CHECK: `<table>_<first column>_check`.
pub(super) fn check_name(
    catalog: &Catalog,
    table: &ObjName,
    kind: &ConstraintKind,
    column: Option<&str>,
) -> String {
    let ConstraintKind::Check { expr } = kind else {
        return catalog::default_constraint_name(table, kind);
    };
    let first = column.map(str::to_string).or_else(|| {
        let t = catalog.table(table)?;
        expr.split(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '"'))
            .map(|w| w.trim_matches('"'))
            .find(|w| t.column(w).is_some())
            .map(str::to_string)
    });
    match first {
        Some(c) => derived_name(&[&table.name, &c], "check"),
        None => derived_name(&[&table.name], "check"),
    }
}

/// CHECK / FOREIGN KEY: NOT VALID, then VALIDATE in its own transaction.
/// UNIQUE / PRIMARY KEY: unique index CONCURRENTLY, then ADD CONSTRAINT … USING INDEX.
pub(super) fn add_constraint(
    cx: &mut Cx<'_>,
    table: &ObjName,
    constraint: &Constraint,
    phase: Phase,
    after: &[String],
) {
    let t = obj(table);
    match &constraint.kind {
        ConstraintKind::Check { .. } | ConstraintKind::ForeignKey(_) => {
            let name = constraint
                .name
                .clone()
                .unwrap_or_else(|| check_name(cx.catalog, table, &constraint.kind, None));
            let tail = match &constraint.kind {
                ConstraintKind::ForeignKey(fk) => sqlast::fk_tail(cx.text, fk),
                _ => String::new(),
            };
            let Some(body) = constraint_body(&constraint.kind, &tail) else {
                return;
            };
            let n = ident(&name);
            let (mode, ref_table) = match &constraint.kind {
                ConstraintKind::ForeignKey(fk) => {
                    (LockMode::ShareRowExclusive, Some(&fk.ref_table))
                }
                _ => (LockMode::AccessExclusive, None),
            };
            let a = cx.ddl(
                phase,
                format!("add constraint {n} NOT VALID (checks new rows only)"),
                vec![format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {n} {body} NOT VALID;"
                )],
                table,
                mode,
                "instant (no rows read)",
                after,
            );
            // The migration cleaned this table's data first (delete the orphans, fix the
            // values) and relied on one transaction: in the plan, old application versions
            // keep writing between that backfill and this constraint. Now that new rows are
            // checked, run the cleanup once more over what they wrote, then validate.
            let catch_up = catch_up_cleanups(cx, table, &body, &a);
            let v = cx.ddl(
                phase,
                format!("validate {n}: reads every row, writes continue"),
                vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {n};")],
                table,
                LockMode::ShareUpdateExclusive,
                "whole scan, reads and writes continue",
                &catch_up,
            );
            if let Some(r) = ref_table {
                for k in [&a, &v] {
                    if let Some(d) = cx.out.iter_mut().find(|d| &d.key == k) {
                        let (m, what) = if *k == a {
                            (LockMode::ShareRowExclusive, "instant (no rows read)")
                        } else {
                            (LockMode::RowShare, "while validating")
                        };
                        d.locks.push(StepLock::new(r, m, what));
                        d.tables.push(r.clone());
                    }
                }
            }
        }
        ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } => {
            let pk = matches!(constraint.kind, ConstraintKind::PrimaryKey { .. });
            let name = constraint
                .name
                .clone()
                .unwrap_or_else(|| catalog::default_constraint_name(table, &constraint.kind));
            // A replaced key stays in force while its replacement is built.
            let swap = cx
                .state
                .key_swaps
                .iter()
                .position(|s| &s.table == table && s.primary == pk)
                .map(|p| cx.state.key_swaps.remove(p));
            let index_name = match &swap {
                Some(_) => key_swap::temporary_index_name(&name),
                None => name.clone(),
            };
            let idx = ObjName::new(table.schema.clone(), index_name.clone());
            let build = build_index(
                cx,
                phase,
                &idx,
                table,
                &format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY {} ON {t} ({});",
                    ident(&index_name),
                    idents(columns)
                ),
                after,
            );
            let mut last = vec![build];
            let mut checks = Vec::new();
            if pk {
                // ADD PRIMARY KEY makes the columns NOT NULL: prove it with validated
                // checks first so that step does not scan under ACCESS EXCLUSIVE.
                for col in columns {
                    let nullable = !cx.catalog.column(table, col).is_some_and(|c| c.not_null);
                    if nullable {
                        let chk = ident(&derived_name(&[&table.name, col], "nn_check"));
                        let a = cx.ddl(
                            phase,
                            format!("add CHECK ({} IS NOT NULL) NOT VALID on {t}", ident(col)),
                            vec![format!(
                                "ALTER TABLE {t} ADD CONSTRAINT {chk} CHECK ({} IS NOT NULL) NOT VALID;",
                                ident(col)
                            )],
                            table,
                            LockMode::AccessExclusive,
                            "instant (no rows read)",
                            &last,
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
                        last = vec![v];
                        checks.push(chk);
                    }
                }
            }
            let mut stmts = Vec::new();
            if let Some(s) = &swap {
                stmts.push(format!(
                    "ALTER TABLE {t} DROP CONSTRAINT {};",
                    ident(&s.dropped)
                ));
            }
            stmts.push(format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} {} USING INDEX {};",
                ident(&name),
                if pk { "PRIMARY KEY" } else { "UNIQUE" },
                ident(&index_name)
            ));
            for chk in &checks {
                stmts.push(format!("ALTER TABLE {t} DROP CONSTRAINT {chk};"));
            }
            cx.ddl(
                phase,
                match &swap {
                    Some(s) => format!(
                        "swap keys in one short transaction: drop {}, promote index {} to the {} constraint {}",
                        ident(&s.dropped),
                        ident(&index_name),
                        if pk { "primary key" } else { "unique" },
                        ident(&name)
                    ),
                    None => format!(
                        "promote index {} to the {} constraint",
                        ident(&name),
                        if pk { "primary key" } else { "unique" }
                    ),
                },
                stmts,
                table,
                LockMode::AccessExclusive,
                "instant (uses the built index)",
                &last,
            );
        }
        ConstraintKind::NotNull { column } => {
            not_null_dance(cx, table, column, phase, after);
        }
        ConstraintKind::Exclusion => {}
    }
}

/// Re-runs, after `not_valid` (the key of the NOT VALID step), the data migrations this
/// migration ran earlier on `table` that are safe to repeat (deletes, and updates whose
/// batches change nothing the second time). Returns the keys VALIDATE must follow.
fn catch_up_cleanups(
    cx: &mut Cx<'_>,
    table: &ObjName,
    constraint_sql: &str,
    not_valid: &str,
) -> Vec<String> {
    // Only cleanups the constraint depends on: deletes, and updates of a column it names.
    let words: HashSet<String> = constraint_sql
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let fills: Vec<Backfilled> = cx
        .state
        .backfilled
        .iter()
        .filter(|b| &b.table == table)
        .filter(|b| match b.op {
            Op::Delete { .. } => true,
            _ => {
                b.columns.iter().any(|c| words.contains(&c.to_lowercase()))
                    && sqlast::batch_dml_guarded(&b.text, None).is_some_and(|d| d.idempotent)
            }
        })
        .cloned()
        .collect();
    let mut keys = Vec::new();
    let mut after = vec![not_valid.to_string()];
    for fill in fills {
        // A cleanup that cannot be batched again (no usable key) was already planned as
        // written; VALIDATE then reports what is left, as the original would.
        if let Ok(Some(k)) = batched(cx, &fill.op, &fill.text, None, Some(fill.statement), &after) {
            cx.note(
                &k,
                format!(
                    "catch-up: statement {} again, for the rows old application versions wrote \
                     before the constraint checked new rows",
                    fill.statement
                ),
            );
            after = vec![k.clone()];
            keys.push(k);
        }
    }
    vec![keys.pop().unwrap_or_else(|| not_valid.to_string())]
}

/// Columns an earlier data migration of this migration filled that the CHECK `expr`
/// names, with the fills (latest first).
pub(super) fn backfilled_in_check(
    cx: &Cx<'_>,
    table: &ObjName,
    kind: &ConstraintKind,
) -> Vec<(String, Backfilled)> {
    let ConstraintKind::Check { expr } = kind else {
        return Vec::new();
    };
    let words: HashSet<String> = expr
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out: Vec<(String, Backfilled)> = Vec::new();
    for b in cx.state.backfilled.iter().rev() {
        if &b.table != table || !matches!(b.op, Op::Update { .. }) {
            continue;
        }
        for c in &b.columns {
            if words.contains(&c.to_lowercase()) && !out.iter().any(|(o, _)| o == c) {
                out.push((c.clone(), b.clone()));
            }
        }
    }
    out
}

/// A CHECK over columns this migration backfilled (`UPDATE t SET name = title` then
/// `CHECK (name IS NOT NULL) NOT VALID`). Old application versions keep inserting rows
/// without those columns while the plan runs: under the check their inserts fail, and the
/// rows they wrote between the backfill and the check make VALIDATE fail. So: a deploy
/// point (every instance writes the columns), the check NOT VALID, a catch-up pass of the
/// data migration over the rows still NULL there, then VALIDATE — unless the migration
/// validates it in a statement of its own, which then follows the catch-up.
pub(super) fn check_on_backfilled(
    cx: &mut Cx<'_>,
    table: &ObjName,
    constraint: &Constraint,
    fills: Vec<(String, Backfilled)>,
) -> Result<(), PlanError> {
    let t = obj(table);
    let name = constraint
        .name
        .clone()
        .unwrap_or_else(|| check_name(cx.catalog, table, &constraint.kind, None));
    let Some(body) = constraint_body(&constraint.kind, "") else {
        return Ok(());
    };
    let n = ident(&name);
    let cols: Vec<String> = fills
        .iter()
        .map(|(c, _)| format!("{t}.{}", ident(c)))
        .collect();
    let d = cx.deploy(
        Phase::Contract,
        format!(
            "every application instance writes {} on every insert and update \
             (versions that leave them to the data migration are gone)",
            cols.join(", ")
        ),
        &[],
    );
    let a = cx.ddl(
        Phase::Contract,
        format!("add constraint {n} NOT VALID (checks new rows only)"),
        vec![format!(
            "ALTER TABLE {t} ADD CONSTRAINT {n} {body} NOT VALID;"
        )],
        table,
        LockMode::AccessExclusive,
        "instant (no rows read)",
        std::slice::from_ref(&d),
    );
    cx.requires(&a, &d);
    let mut last = a.clone();
    let mut done: Vec<usize> = Vec::new();
    for (_, fill) in &fills {
        if done.contains(&fill.statement) {
            continue;
        }
        done.push(fill.statement);
        // Only rows the first pass could not have filled: those with a NULL in a column
        // the check names (a row the new application wrote keeps its values).
        let guard = fills
            .iter()
            .filter(|(_, f)| f.statement == fill.statement)
            .map(|(c, _)| format!("{} IS NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" OR ");
        if let Some(k) = batched(
            cx,
            &fill.op,
            &fill.text,
            Some(&guard),
            Some(fill.statement),
            std::slice::from_ref(&last),
        )? {
            cx.note(
                &k,
                format!(
                    "catch-up: statement {} again, for the rows old application versions \
                     inserted after the first pass had fixed its range",
                    fill.statement
                ),
            );
            last = k;
        }
    }
    if !constraint.not_valid {
        cx.ddl(
            Phase::Contract,
            format!("validate {n}: reads every row, writes continue"),
            vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {n};")],
            table,
            LockMode::ShareUpdateExclusive,
            "whole scan, reads and writes continue",
            &[last],
        );
    }
    Ok(())
}
