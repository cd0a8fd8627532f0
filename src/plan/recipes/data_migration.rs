//! UPDATE / DELETE / INSERT … SELECT as a batched, resumable backfill.

use super::*;

pub(super) fn data_migration(cx: &mut Cx<'_>, op: &Op) -> Result<(), PlanError> {
    let text = cx.text.to_string();
    let planned = batched(cx, op, &text, None, None, &[])?.is_some();
    let columns = match op {
        Op::Update { .. } => sqlast::update_targets(&text),
        Op::Delete { .. } => Some(Vec::new()),
        _ => None,
    };
    if planned && let (Some(table), Some(columns)) = (op.table(), columns) {
        let statement = cx.statement;
        cx.state.backfilled.push(Backfilled {
            table: table.clone(),
            columns,
            text,
            op: op.clone(),
            statement,
        });
    }
    Ok(())
}

/// Plans `text` (the statement of `op`, or a variant of it) as a batched backfill, with
/// `guard` added to its WHERE. `catch_up_of` names the statement a catch-up pass repeats
/// (its job gets a name of its own). Returns the backfill step's key, or `None` when the
/// shape cannot be batched (then the statement runs as written).
pub(super) fn batched(
    cx: &mut Cx<'_>,
    op: &Op,
    text: &str,
    guard: Option<&str>,
    catch_up_of: Option<usize>,
    after: &[String],
) -> Result<Option<String>, PlanError> {
    let Some(b) = sqlast::batch_dml_guarded(text, guard) else {
        cx.pass_through(
            std::slice::from_ref(op),
            Some("lockstep cannot batch this statement's shape (a CTE, a set operation, a join in the target); it runs as one transaction".into()),
        );
        return Ok(None);
    };
    // The walked table: the statement's target (UPDATE/DELETE) or its source (INSERT … SELECT).
    let walked = match op {
        Op::Insert { .. } => {
            let parts: Vec<String> = b
                .table
                .0
                .iter()
                .map(|p| {
                    let s = p.to_string();
                    if s.starts_with('"') {
                        s.trim_matches('"').replace("\"\"", "\"")
                    } else {
                        s.to_lowercase()
                    }
                })
                .collect();
            match parts.as_slice() {
                [name] => ObjName::public(name.clone()),
                [.., schema, name] => ObjName::new(schema.clone(), name.clone()),
                [] => return Ok(None),
            }
        }
        _ => match op.table() {
            Some(t) => t.clone(),
            None => return Ok(None),
        },
    };
    let key_cols = backfill::choose_key(cx.catalog, &walked)?;
    let key_sql = key_cols
        .iter()
        .map(|k| format!("{}.{}", b.qualifier, ident(&k.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let operation = match op {
        Op::Update { .. } => BackfillOperation::Update,
        Op::Delete { .. } => BackfillOperation::Delete,
        _ => BackfillOperation::InsertSelect,
    };
    let mut job = format!(
        "{}/{}/statement-{}{}",
        cx.migration,
        walked.qualified(),
        cx.statement,
        catch_up_of
            .map(|s| format!("-catch-up-{s}"))
            .unwrap_or_default()
    );
    // Two catch-ups of one data migration in one statement (two CHECKs of a multi-command
    // ALTER TABLE) need two checkpoints: the runner refuses a job name whose fingerprint
    // differs.
    let taken = |j: &str| {
        cx.out
            .iter()
            .any(|d| d.backfill.as_ref().is_some_and(|s| s.job == j))
    };
    if taken(&job) {
        let mut n = 2;
        while taken(&format!("{job}-{n}")) {
            n += 1;
        }
        job = format!("{job}-{n}");
    }
    let spec = BackfillSpec::new(BackfillRequest {
        job,
        table: &walked,
        key: key_cols,
        operation,
        set: b.set.clone(),
        predicate: b.predicate.clone(),
        dml: b.template.replace("{KEY}", &key_sql),
        tuning: &cx.tuning.backfill,
        lock_timeout_ms: cx.tuning.lock_timeout_ms,
    });
    let k = cx.push_backfill(spec, &walked, after);
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == k) {
        d.barrier = true;
    }
    if let Some(target) = op.table()
        && target != &walked
        && let Some(d) = cx.out.iter_mut().find(|d| d.key == k)
    {
        d.tables.push(target.clone());
    }
    if !b.idempotent {
        cx.note(
            &k,
            "re-running a batch would change its rows again; the checkpoint commits with each \
             batch, so a resumed run never repeats one — do not reset the checkpoint row"
                .to_string(),
        );
    }
    Ok(Some(k))
}
