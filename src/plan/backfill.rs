//! Batched, resumable backfills.
//!
//! A backfill walks the table by its key (primary key, or a unique index over NOT NULL
//! columns; composite keys too) from the smallest key up to an upper bound fixed when the
//! job starts, one short transaction per batch. Each batch changes only rows that still
//! need it (an idempotent predicate such as `status IS NULL`) and records its progress in
//! `lockstep_backfill_checkpoint` *in the same transaction*, so a run that is killed
//! resumes after the last committed batch and never applies a batch twice.
//!
//! One [`BackfillSpec`] serves two runners with the same SQL:
//! - `lockstep backfill run PLAN.yaml --step N` executes [`BackfillSpec::upper_bound_sql`],
//!   [`BackfillSpec::first_batch_sql`] and [`BackfillSpec::next_batch_sql`] itself;
//! - [`BackfillSpec::psql_statements`] is a procedure that commits per batch, for psql.

use super::PlanError;
use super::quote::{ident, idents, literal, obj};
use crate::catalog::Catalog;
use crate::ops::ObjName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The table that records the progress of every backfill job.
pub const CHECKPOINT_TABLE: &str = "lockstep_backfill_checkpoint";

/// The marker in [`BackfillSpec::dml`] that the batch SQL replaces by "the row is in
/// this batch".
pub const IN_BATCH_MARKER: &str = "__LOCKSTEP_IN_BATCH__";

/// Default pacing for backfills (from `backfill:` in lockstep.yaml when given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillTuning {
    /// Rows per batch at the start.
    pub batch_size: u64,
    /// The batch size is adapted so one batch takes about this long (0: fixed size).
    pub target_batch_time_ms: u64,
    /// Pause between batches.
    pub sleep_ms: u64,
    /// Wait while a replica's replay lag is above this (0: never wait).
    pub max_replica_lag_ms: u64,
    /// Bounds for the adapted batch size.
    pub min_batch_size: u64,
    pub max_batch_size: u64,
}

impl Default for BackfillTuning {
    fn default() -> Self {
        BackfillTuning {
            batch_size: 5000,
            target_batch_time_ms: 200,
            sleep_ms: 50,
            max_replica_lag_ms: 5000,
            min_batch_size: 100,
            max_batch_size: 100_000,
        }
    }
}

/// One column of the key the backfill walks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyColumn {
    pub name: String,
    /// Its SQL type, used to cast the checkpointed text value back (`bigint`, `uuid`, …).
    #[serde(rename = "type")]
    pub ty: String,
}

/// What a backfill does to each row in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillOperation {
    Update,
    Delete,
    InsertSelect,
}

/// A batched backfill job: everything a runner needs, SQL included. See
/// docs/plan-format.md for the YAML schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillSpec {
    /// Unique job name: the checkpoint row's key.
    pub job: String,
    /// The table walked (`schema.name`).
    pub table: String,
    /// Key columns, in index order.
    pub key: Vec<KeyColumn>,
    pub operation: BackfillOperation,
    /// For updates: the SET list (`status = 'active'`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// Rows that still need work; re-running a batch changes nothing once it is false.
    pub predicate: String,
    /// The statement for one batch; [`IN_BATCH_MARKER`] stands for "row is in this batch".
    pub dml: String,
    pub batch_size: u64,
    pub min_batch_size: u64,
    pub max_batch_size: u64,
    pub target_batch_time_ms: u64,
    pub sleep_ms: u64,
    pub max_replica_lag_ms: u64,
    /// `lock_timeout` per batch (row locks only, but a batch must not queue for long).
    pub lock_timeout_ms: u64,
    pub checkpoint_table: String,
    /// Returns one `text[]`: the largest key now (NULL for an empty table).
    pub upper_bound_sql: String,
    /// `$1 text[]` upper bound, `$2 bigint` batch size → `scanned bigint, changed bigint, last_key text[]`.
    pub first_batch_sql: String,
    /// `$1 text[]` last key done, `$2 text[]` upper bound, `$3 bigint` batch size → as above.
    pub next_batch_sql: String,
    /// Name of the procedure in the psql script.
    pub procedure: String,
}

/// The key a backfill of `table` walks: the primary key, else a unique, non-partial index
/// whose columns are all NOT NULL. Errors with what to add when there is none.
pub fn choose_key(catalog: &Catalog, table: &ObjName) -> Result<Vec<KeyColumn>, PlanError> {
    let no_key = || PlanError::NoKey { table: obj(table) };
    let t = catalog.table(table).ok_or_else(no_key)?;
    let typed = |cols: &[String]| -> Option<Vec<KeyColumn>> {
        cols.iter()
            .map(|c| {
                t.column(c).map(|col| KeyColumn {
                    name: c.clone(),
                    ty: col.ty.0.clone(),
                })
            })
            .collect()
    };
    if let Some(pk) = t.primary_key()
        && !pk.is_empty()
        && let Some(k) = typed(pk)
    {
        return Ok(k);
    }
    let mut candidates: Vec<_> = catalog
        .indexes_on(table)
        .filter(|i| {
            i.unique
                && !i.partial
                && !i.columns.is_empty()
                && i.columns
                    .iter()
                    .all(|c| t.column(c).is_some_and(|col| col.not_null))
        })
        .collect();
    // Fewest columns first: the narrowest key is the cheapest to compare and checkpoint.
    candidates.sort_by_key(|i| i.columns.len());
    candidates
        .first()
        .and_then(|i| typed(&i.columns))
        .ok_or_else(no_key)
}

/// Inputs for [`BackfillSpec::new`].
pub struct BackfillRequest<'a> {
    pub job: String,
    pub table: &'a ObjName,
    pub key: Vec<KeyColumn>,
    pub operation: BackfillOperation,
    pub set: Option<String>,
    pub predicate: String,
    pub dml: String,
    pub tuning: &'a BackfillTuning,
    pub lock_timeout_ms: u64,
}

impl BackfillSpec {
    /// Builds the spec and its SQL.
    pub fn new(r: BackfillRequest<'_>) -> BackfillSpec {
        let table_sql = obj(r.table);
        let n = r.key.len();
        let cols: Vec<String> = r.key.iter().map(|k| ident(&k.name)).collect();
        let aliases: Vec<String> = (1..=n).map(|i| format!("__lockstep_k{i}")).collect();
        let key_list = cols.join(", ");
        let from_param = |p: usize| -> String {
            r.key
                .iter()
                .enumerate()
                .map(|(i, k)| format!("(${p}::text[])[{}]::{}", i + 1, k.ty))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let select_list = cols
            .iter()
            .zip(&aliases)
            .map(|(c, a)| format!("{c} AS {a}"))
            .collect::<Vec<_>>()
            .join(", ");
        let order = cols.join(", ");
        let last_order = aliases
            .iter()
            .map(|a| format!("{a} DESC"))
            .collect::<Vec<_>>()
            .join(", ");
        let last_array = aliases
            .iter()
            .map(|a| format!("{a}::text"))
            .collect::<Vec<_>>()
            .join(", ");
        let batch_cols = aliases
            .iter()
            .map(|a| format!("b.{a}"))
            .collect::<Vec<_>>()
            .join(", ");
        let build = |lower: Option<usize>, upper: usize, limit: usize| -> String {
            let mut conds = Vec::new();
            if let Some(l) = lower {
                conds.push(format!("({key_list}) > ({})", from_param(l)));
            }
            conds.push(format!("({key_list}) <= ({})", from_param(upper)));
            let dml = r.dml.replace(
                IN_BATCH_MARKER,
                &format!("IN (SELECT {batch_cols} FROM lockstep_batch b)"),
            );
            format!(
                "WITH lockstep_batch AS MATERIALIZED (\n  SELECT {select_list} FROM {table_sql}\n  WHERE {}\n  ORDER BY {order}\n  LIMIT ${limit}\n), lockstep_done AS (\n  {dml}\n)\nSELECT (SELECT count(*) FROM lockstep_batch) AS scanned,\n       (SELECT count(*) FROM lockstep_done) AS changed,\n       (SELECT ARRAY[{last_array}] FROM lockstep_batch ORDER BY {last_order} LIMIT 1) AS last_key",
                conds.join("\n    AND ")
            )
        };
        let upper_bound_sql = format!(
            "SELECT (SELECT ARRAY[{}] FROM {table_sql} ORDER BY {} LIMIT 1) AS upper_key",
            cols.iter()
                .map(|c| format!("{c}::text"))
                .collect::<Vec<_>>()
                .join(", "),
            cols.iter()
                .map(|c| format!("{c} DESC"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let first_batch_sql = build(None, 1, 2);
        let next_batch_sql = build(Some(1), 2, 3);
        let digest = Sha256::digest(r.job.as_bytes());
        let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
        BackfillSpec {
            job: r.job,
            table: r.table.qualified(),
            key: r.key,
            operation: r.operation,
            set: r.set,
            predicate: r.predicate,
            dml: r.dml,
            batch_size: r.tuning.batch_size,
            min_batch_size: r.tuning.min_batch_size,
            max_batch_size: r.tuning.max_batch_size,
            target_batch_time_ms: r.tuning.target_batch_time_ms,
            sleep_ms: r.tuning.sleep_ms,
            max_replica_lag_ms: r.tuning.max_replica_lag_ms,
            lock_timeout_ms: r.lock_timeout_ms,
            checkpoint_table: CHECKPOINT_TABLE.to_string(),
            upper_bound_sql,
            first_batch_sql,
            next_batch_sql,
            procedure: format!("lockstep_backfill_{hex}"),
        }
    }

    /// `CREATE TABLE IF NOT EXISTS` for the checkpoint table.
    pub fn checkpoint_table_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  job text PRIMARY KEY,\n  upper_key text[],\n  last_key text[],\n  rows_done bigint NOT NULL DEFAULT 0,\n  batches bigint NOT NULL DEFAULT 0,\n  batch_size integer,\n  done boolean NOT NULL DEFAULT false,\n  started_at timestamptz NOT NULL DEFAULT now(),\n  updated_at timestamptz NOT NULL DEFAULT now()\n);",
            ident(&self.checkpoint_table)
        )
    }

    /// The procedure that runs the whole job, committing after every batch.
    pub fn procedure_sql(&self) -> String {
        let cp = ident(&self.checkpoint_table);
        let job = literal(&self.job);
        format!(
            r#"CREATE OR REPLACE PROCEDURE {proc}(
  batch_size integer DEFAULT {bs},
  target_batch_ms integer DEFAULT {target},
  sleep_ms integer DEFAULT {sleep},
  max_lag_ms integer DEFAULT {lag},
  max_batches integer DEFAULT NULL
)
LANGUAGE plpgsql AS $lockstep$
-- Backfill job {job_comment} on {table}: keyset walk over ({key}), one transaction per batch,
-- progress in {cp_comment} (committed with each batch, so a killed run resumes).
DECLARE
  v_job constant text := {job};
  v_cp {cp}%ROWTYPE;
  v_scanned bigint;
  v_changed bigint;
  v_last text[];
  v_size integer := batch_size;
  v_started timestamptz;
  v_ms double precision;
  v_lag double precision;
  v_batches integer := 0;
BEGIN
  PERFORM set_config('lock_timeout', '{lock_timeout}ms', false);
  INSERT INTO {cp} (job, upper_key)
  VALUES (v_job, ({upper}))
  ON CONFLICT (job) DO NOTHING;
  COMMIT;
  LOOP
    SELECT * INTO v_cp FROM {cp} WHERE job = v_job;
    EXIT WHEN v_cp.done;
    IF v_cp.upper_key IS NULL THEN
      UPDATE {cp} SET done = true, updated_at = clock_timestamp() WHERE job = v_job;
      COMMIT;
      EXIT;
    END IF;
    EXIT WHEN max_batches IS NOT NULL AND v_batches >= max_batches;
    -- Replica lag as the primary sees it (NULL for roles without pg_read_all_stats).
    WHILE max_lag_ms > 0 LOOP
      SELECT coalesce(max(extract(epoch FROM replay_lag)) * 1000, 0) INTO v_lag FROM pg_stat_replication;
      EXIT WHEN v_lag <= max_lag_ms;
      RAISE NOTICE 'lockstep backfill %: replica lag % ms above % ms, waiting', v_job, round(v_lag), max_lag_ms;
      COMMIT;
      PERFORM pg_sleep(1);
    END LOOP;
    v_started := clock_timestamp();
    IF v_cp.last_key IS NULL THEN
      EXECUTE {first} INTO v_scanned, v_changed, v_last USING v_cp.upper_key, v_size::bigint;
    ELSE
      EXECUTE {next} INTO v_scanned, v_changed, v_last USING v_cp.last_key, v_cp.upper_key, v_size::bigint;
    END IF;
    UPDATE {cp}
       SET last_key = coalesce(v_last, last_key), rows_done = rows_done + v_changed,
           batches = batches + 1, batch_size = v_size, done = v_scanned < v_size,
           updated_at = clock_timestamp()
     WHERE job = v_job;
    COMMIT;
    v_batches := v_batches + 1;
    v_ms := extract(epoch FROM clock_timestamp() - v_started) * 1000;
    IF target_batch_ms > 0 THEN
      -- Move toward the target batch time, at most halving or doubling per batch.
      v_size := least(greatest((v_size * target_batch_ms / greatest(v_ms, 1))::integer, v_size / 2, {min}), v_size * 2, {max});
    END IF;
    RAISE NOTICE 'lockstep backfill %: batch % changed % of % rows in % ms', v_job, v_cp.batches + 1, v_changed, v_scanned, round(v_ms);
    IF sleep_ms > 0 THEN
      PERFORM pg_sleep(sleep_ms / 1000.0);
    END IF;
  END LOOP;
END
$lockstep$;"#,
            proc = ident(&self.procedure),
            bs = self.batch_size,
            target = self.target_batch_time_ms,
            sleep = self.sleep_ms,
            lag = self.max_replica_lag_ms,
            job_comment = self.job.replace('\n', " "),
            table = self.table.replace('\n', " "),
            key = self
                .key
                .iter()
                .map(|k| k.name.replace('\n', " "))
                .collect::<Vec<_>>()
                .join(", "),
            cp_comment = self.checkpoint_table,
            lock_timeout = self.lock_timeout_ms,
            upper = self.upper_bound_sql,
            first = literal(&self.first_batch_sql),
            next = literal(&self.next_batch_sql),
            min = self.min_batch_size.max(1),
            max = self.max_batch_size.max(1),
        )
    }

    /// `CALL` of the procedure (must run outside a transaction block: it commits).
    pub fn call_sql(&self) -> String {
        format!("CALL {}();", ident(&self.procedure))
    }

    /// The psql form: checkpoint table, procedure, call. Run with `psql -f` (autocommit).
    pub fn psql_statements(&self) -> Vec<String> {
        vec![
            self.checkpoint_table_sql(),
            self.procedure_sql(),
            self.call_sql(),
        ]
    }

    /// A one-line description for plans: "users.status = 'active' where status IS NULL".
    pub fn describe(&self) -> String {
        let keys = idents(&self.key.iter().map(|k| k.name.clone()).collect::<Vec<_>>());
        match self.operation {
            BackfillOperation::Update => format!(
                "UPDATE {} SET {} WHERE {} (keyset on {keys})",
                self.table,
                self.set.as_deref().unwrap_or(""),
                self.predicate
            ),
            BackfillOperation::Delete => {
                format!(
                    "DELETE FROM {} WHERE {} (keyset on {keys})",
                    self.table, self.predicate
                )
            }
            BackfillOperation::InsertSelect => {
                format!("INSERT … SELECT from {} (keyset on {keys})", self.table)
            }
        }
    }
}
