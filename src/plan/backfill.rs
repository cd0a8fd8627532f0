//! Batched, resumable backfills.
//!
//! A backfill walks the table by its key (primary key, or a unique index over NOT NULL
//! columns; composite keys too) from the smallest key up to an upper bound fixed when the
//! job starts, one short transaction per batch. Each batch changes only rows that still
//! need it (an idempotent predicate such as `status IS NULL`) and records its progress in
//! [`CHECKPOINT_TABLE`] *in the same transaction*, so a run that is killed resumes after
//! the last committed batch and never applies a batch twice.
//!
//! One [`BackfillSpec`] serves two runners with the same SQL and the same protocol:
//! - `lockstep backfill run PLAN.yaml --step N` executes [`BackfillSpec::upper_bound_sql`],
//!   [`BackfillSpec::first_batch_sql`] and [`BackfillSpec::next_batch_sql`] itself;
//! - [`BackfillSpec::psql_statements`] is a procedure that commits per batch, for psql.
//!
//! The protocol both follow (so neither can harm a job the other runs):
//! - **one runner per job**: a session-level advisory lock on [`lock_key`] of the job name;
//!   a second runner exits naming the session that holds it, before writing anything;
//! - **preconditions first**: the batch statements are prepared (parsed and analysed, not
//!   run) before anything is written, so a run before the expand steps fails cleanly;
//! - **state in its own schema** ([`STATE_SCHEMA`]): [`JOBS_TABLE`] records every started
//!   job with its plan [`fingerprint`] and the identity (oid) of the checkpoint table it
//!   started with; [`CHECKPOINT_TABLE`] holds the progress. A started job whose checkpoint
//!   row is missing, whose checkpoint table was recreated, or whose plan changed is refused
//!   (starting over needs an explicit restart), because re-running batches of a
//!   non-idempotent backfill (`SET n = n + 1`) would change rows twice;
//! - **every batch** locks and checks its checkpoint row, runs, and updates exactly that one
//!   row, in one transaction;
//! - **triggers** on the written table that would fire for the backfill's own writes are
//!   named and the run refused, unless the user allows them or has them skipped with
//!   `session_replication_role = replica` (see [`WRITE_HAZARDS_SQL`]).

use super::PlanError;
use super::quote::{ident, idents, obj};
use crate::catalog::Catalog;
use crate::ops::ObjName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlparser::ast::{
    AssignmentTarget, FromTable, ObjectName, Statement, TableFactor, TableObject,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The schema that holds lockstep's own state on the user's database, apart from the
/// application's tables. `lockstep backfill cleanup` drops it.
pub const STATE_SCHEMA: &str = "lockstep";

/// The table that records the progress of every backfill job.
pub const CHECKPOINT_TABLE: &str = "lockstep.backfill_checkpoint";

/// Every job ever started: its plan fingerprint and the oid of the checkpoint table it
/// started with, so an emptied or recreated checkpoint table is noticed.
pub const JOBS_TABLE: &str = "lockstep.backfill_jobs";

/// The objects of [`STATE_SCHEMA`]: an SQL expression that is true when the object
/// exists, and the DDL that creates it. Runners create only what is missing, because
/// `CREATE … IF NOT EXISTS` checks the CREATE privilege even when the object exists (a
/// role may use a schema a DBA created for it).
pub fn state_schema_steps() -> Vec<(String, String)> {
    vec![
        (
            format!("to_regnamespace('{STATE_SCHEMA}') IS NOT NULL"),
            format!("CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}"),
        ),
        (
            format!("to_regclass('{JOBS_TABLE}') IS NOT NULL"),
            format!(
                "CREATE TABLE IF NOT EXISTS {JOBS_TABLE} (job text PRIMARY KEY, fingerprint text NOT NULL, \
                 checkpoint_oid oid NOT NULL, started_at timestamptz NOT NULL DEFAULT now())"
            ),
        ),
        (
            format!("to_regclass('{CHECKPOINT_TABLE}') IS NOT NULL"),
            format!(
                "CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (job text PRIMARY KEY, fingerprint text NOT NULL, \
                 upper_key text[], last_key text[], rows_done bigint NOT NULL DEFAULT 0, \
                 batches bigint NOT NULL DEFAULT 0, batch_size integer, done boolean NOT NULL DEFAULT false, \
                 started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())"
            ),
        ),
    ]
}

/// The statements that create [`STATE_SCHEMA`] and its tables (idempotent).
pub fn state_schema_statements() -> Vec<String> {
    state_schema_steps()
        .into_iter()
        .map(|(_, ddl)| ddl)
        .collect()
}

/// The plan step's fingerprint: a hash of everything that decides what the job writes
/// (job, table, key, statement, batch SQL). A checkpoint is only resumed by the plan
/// step that started it.
pub fn fingerprint(
    job: &str,
    table: &str,
    key: &[(&str, &str)],
    dml: &str,
    upper: &str,
    first: &str,
    next: &str,
) -> String {
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        // Length-prefixed, so no two different inputs hash the same concatenation.
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    part("lockstep backfill v1");
    part(job);
    part(table);
    for (n, t) in key {
        part(n);
        part(t);
    }
    part(dml);
    part(upper);
    part(first);
    part(next);
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_of(domain: &str, name: &str) -> i64 {
    let d = Sha256::new()
        .chain_update(domain.as_bytes())
        .chain_update([0u8])
        .chain_update(name.as_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// The advisory lock key of a job (`pg_try_advisory_lock(bigint)`), the same for the
/// runner and the procedure. Derived from the job name, not the plan, so two different
/// plans for one job cannot run at once either.
pub fn lock_key(job: &str) -> i64 {
    key_of("lockstep backfill job", job)
}

/// `$1 bigint` advisory key → the pid of the session holding it in this database.
pub const HOLDER_SQL: &str = "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
     WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() AND l.objsubid = 1 \
       AND l.classid = oid(($1::bigint >> 32) & 4294967295) AND l.objid = oid($1::bigint & 4294967295) \
     LIMIT 1";

/// Trigger event bits of `pg_trigger.tgtype`.
pub const EVENT_INSERT: i32 = 4;
/// See [`EVENT_INSERT`].
pub const EVENT_DELETE: i32 = 8;
/// See [`EVENT_INSERT`].
pub const EVENT_UPDATE: i32 = 16;

/// What a backfill's writes would set off: `$1 oid` the written table, `$2 int` the event
/// bits, `$3 text[]` the columns an UPDATE sets (NULL: unknown) →
/// `kind` (`trigger` | `foreign key`), `name`, `enabled` (`pg_trigger.tgenabled`), `def`.
///
/// Triggers: every user (non-internal) trigger not disabled, for those events, except the
/// plan's own `…_lockstep_sync` triggers (a type change or rename keeps the new column in
/// step with the old one; on the backfill's writes they compute what the backfill sets).
/// Foreign
/// keys: the constraints whose checks or actions `session_replication_role = replica`
/// would also skip for these writes (the table's own keys over the set columns, and keys
/// of other tables referencing the set columns; any for DELETE and INSERT).
pub const WRITE_HAZARDS_SQL: &str = "SELECT 'trigger'::text AS kind, t.tgname::text AS name, t.tgenabled::text AS enabled, \
        pg_get_triggerdef(t.oid) AS def \
   FROM pg_trigger t \
  WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND (t.tgtype::int & $2::int) <> 0 \
    AND right(t.tgname::text, 14) <> '_lockstep_sync' \
 UNION ALL \
 SELECT 'foreign key', c.conname::text, '', c.conrelid::regclass::text || ' ' || pg_get_constraintdef(c.oid) \
   FROM pg_constraint c \
  WHERE c.contype = 'f' AND ( \
        (c.conrelid = $1::oid AND ($2::int & 20) <> 0 AND ($3::text[] IS NULL OR ($2::int & 4) <> 0 OR EXISTS ( \
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             AND a.attname::text = ANY ($3::text[])))) \
     OR (c.confrelid = $1::oid AND ($2::int & 24) <> 0 AND ($3::text[] IS NULL OR ($2::int & 8) <> 0 OR EXISTS ( \
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attnum = ANY (c.confkey) \
             AND a.attname::text = ANY ($3::text[]))))) \
 ORDER BY 1, 2";

/// The table a backfill statement writes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmlWrites {
    /// The table as a quoted, possibly schema-qualified name for `to_regclass`.
    pub table: String,
    /// [`EVENT_UPDATE`], [`EVENT_INSERT`] or [`EVENT_DELETE`].
    pub events: i32,
    /// For an UPDATE: the columns it sets (as stored in the catalog); `None` if unknown.
    pub set_columns: Option<Vec<String>>,
}

fn name_sql(name: &ObjectName) -> Option<String> {
    let parts: Option<Vec<String>> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident().map(|i| {
                // Unquoted names are folded to lower case, as the server does.
                let v = if i.quote_style.is_some() {
                    i.value.clone()
                } else {
                    i.value.to_lowercase()
                };
                format!("\"{}\"", v.replace('"', "\"\""))
            })
        })
        .collect();
    parts.filter(|p| !p.is_empty()).map(|p| p.join("."))
}

/// Reads a backfill's statement ([`BackfillSpec::dml`]): which table it writes, with which
/// event, and which columns an UPDATE sets. `None` when it cannot be read (then callers
/// assume the worst).
pub fn dml_writes(dml: &str) -> Option<DmlWrites> {
    let sql = dml.replace(IN_BATCH_MARKER, "IN (SELECT 1)");
    let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?;
    if stmts.len() != 1 {
        return None;
    }
    match stmts.pop()? {
        Statement::Update(u) => {
            let TableFactor::Table { name, .. } = &u.table.relation else {
                return None;
            };
            let set_columns = u
                .assignments
                .iter()
                .map(|a| match &a.target {
                    AssignmentTarget::ColumnName(n) => {
                        n.0.last().and_then(|p| p.as_ident()).map(|i| {
                            if i.quote_style.is_some() {
                                i.value.clone()
                            } else {
                                i.value.to_lowercase()
                            }
                        })
                    }
                    AssignmentTarget::Tuple(_) => None,
                })
                .collect::<Option<Vec<_>>>();
            Some(DmlWrites {
                table: name_sql(name)?,
                events: EVENT_UPDATE,
                set_columns,
            })
        }
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f)) = &d.from;
            let TableFactor::Table { name, .. } = &f.first()?.relation else {
                return None;
            };
            Some(DmlWrites {
                table: name_sql(name)?,
                events: EVENT_DELETE,
                set_columns: None,
            })
        }
        Statement::Insert(ins) => {
            let TableObject::TableName(name) = &ins.table else {
                return None;
            };
            Some(DmlWrites {
                table: name_sql(name)?,
                events: EVENT_INSERT,
                set_columns: None,
            })
        }
        _ => None,
    }
}

/// A string literal that means the same whatever `standard_conforming_strings` says
/// (`E'…'` with backslashes and quotes doubled).
fn e_literal(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// Text for a `--` comment: a line break would end the comment and make the rest code.
fn comment_text(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A dollar-quote tag that does not occur in `body`: `lockstep_bf`, else `lockstep_bf_1`,
/// `lockstep_bf_2`, …. The body must not contain `$tag$` anywhere, including where its
/// end meets the closing tag (`…$lockstep_bf` + `$lockstep_bf$`).
pub fn dollar_tag(body: &str) -> String {
    let mut n = 0u64;
    loop {
        let tag = if n == 0 {
            "lockstep_bf".to_string()
        } else {
            format!("lockstep_bf_{n}")
        };
        let delim = format!("${tag}$");
        let closed = format!("{body}{delim}");
        if closed.find(&delim) == Some(body.len()) {
            return tag;
        }
        n += 1;
    }
}

/// The marker in [`BackfillSpec::dml`] that the batch SQL replaces by "the row is in
/// this batch".
pub const IN_BATCH_MARKER: &str = "__LOCKSTEP_IN_BATCH__";

fn quote_always(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

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
            procedure: format!("{STATE_SCHEMA}.backfill_{hex}"),
        }
    }

    /// The job as `lockstep backfill run` reads it from the plan.
    pub fn runner_job(&self) -> crate::live::backfill_runner::BackfillJob {
        use crate::live::backfill_runner::{BackfillJob, KeyColumn as RunnerKey};
        BackfillJob {
            job: self.job.clone(),
            table: self.table.clone(),
            key: self
                .key
                .iter()
                .map(|k| RunnerKey {
                    name: k.name.clone(),
                    ty: k.ty.clone(),
                })
                .collect(),
            batch_size: self.batch_size,
            min_batch_size: self.min_batch_size,
            max_batch_size: self.max_batch_size,
            target_batch_time_ms: self.target_batch_time_ms,
            sleep_ms: self.sleep_ms,
            max_replica_lag_ms: self.max_replica_lag_ms,
            lock_timeout_ms: self.lock_timeout_ms,
            checkpoint_table: self.checkpoint_table.clone(),
            upper_bound_sql: self.upper_bound_sql.clone(),
            first_batch_sql: self.first_batch_sql.clone(),
            next_batch_sql: self.next_batch_sql.clone(),
            dml: self.dml.clone(),
        }
    }

    /// The plan step's [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        let key: Vec<(&str, &str)> = self
            .key
            .iter()
            .map(|k| (k.name.as_str(), k.ty.as_str()))
            .collect();
        fingerprint(
            &self.job,
            &self.table,
            &key,
            &self.dml,
            &self.upper_bound_sql,
            &self.first_batch_sql,
            &self.next_batch_sql,
        )
    }

    /// The schema and tables that hold the checkpoint ([`state_schema_statements`]).
    pub fn checkpoint_table_sql(&self) -> String {
        state_schema_statements()
            .iter()
            .map(|s| format!("{s};"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The procedure that runs the whole job, committing after every batch. It follows the
    /// same protocol as `lockstep backfill run` (see the module documentation).
    pub fn procedure_sql(&self) -> String {
        let writes = dml_writes(&self.dml);
        let (target, events, set_cols) = match &writes {
            Some(w) => (
                w.table.clone(),
                w.events,
                match &w.set_columns {
                    Some(c) => format!(
                        "ARRAY[{}]::text[]",
                        c.iter()
                            .map(|n| e_literal(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => "NULL::text[]".to_string(),
                },
            ),
            // Unknown statement: assume every event on the walked table, every key.
            None => (
                self.table_regclass_text(),
                EVENT_INSERT | EVENT_UPDATE | EVENT_DELETE,
                "NULL::text[]".to_string(),
            ),
        };
        let setup: String = state_schema_steps()
            .iter()
            .map(|(exists, ddl)| {
                format!(
                    "  IF NOT ({exists}) THEN\n    EXECUTE {};\n  END IF;\n",
                    e_literal(ddl)
                )
            })
            .collect();
        let body = format!(
            r#"
-- Backfill job {job_comment} on {table_comment}: keyset walk over ({key_comment}), one transaction
-- per batch, progress in {CHECKPOINT_TABLE} (committed with each batch, so a killed run resumes).
-- Same protocol as `lockstep backfill run`: one runner per job (advisory lock), the plan's
-- fingerprint recorded, a started job never silently restarted.
DECLARE
  v_job constant text := {job};
  v_fp constant text := {fp};
  v_lock constant bigint := {lock};
  v_first constant text := {first};
  v_next constant text := {next};
  v_target constant text := {target};
  v_holder integer;
  v_rel oid;
  v_hazard record;
  v_fire text := '';
  v_replica text := '';
  v_cp_oid oid;
  v_job_fp text;
  v_job_oid oid;
  v_cp_fp text;
  v_has_job boolean;
  v_has_cp boolean;
  v_same boolean;
  v_upper text[];
  v_last text[];
  v_expect text[];
  v_done boolean;
  v_batch_no bigint;
  v_scanned bigint;
  v_changed bigint;
  v_new_last text[];
  v_rows bigint;
  v_size integer := batch_size;
  v_started timestamptz;
  v_ms double precision;
  v_lag double precision;
  v_batches integer := 0;
BEGIN
  IF allow_triggers AND disable_user_triggers THEN
    RAISE EXCEPTION 'lockstep backfill %: pass only one of allow_triggers and disable_user_triggers', v_job;
  END IF;
  -- One runner per job; `lockstep backfill run` takes the same lock.
  IF NOT pg_try_advisory_lock(v_lock) THEN
    EXECUTE {holder} INTO v_holder USING v_lock;
    RAISE EXCEPTION 'lockstep backfill %: another session (pid %) is running this job; nothing was written',
      v_job, coalesce(v_holder::text, 'unknown');
  END IF;
  -- A finished job stays finished, even after later steps changed the table.
  IF NOT restart AND to_regclass('{CHECKPOINT_TABLE}') IS NOT NULL AND to_regclass('{JOBS_TABLE}') IS NOT NULL THEN
    PERFORM 1 FROM {CHECKPOINT_TABLE} c JOIN {JOBS_TABLE} j ON j.job = c.job
     WHERE c.job = v_job AND c.fingerprint = v_fp AND j.fingerprint = v_fp AND c.done
       AND j.checkpoint_oid = to_regclass('{CHECKPOINT_TABLE}');
    IF FOUND THEN
      PERFORM pg_advisory_unlock(v_lock);
      RAISE NOTICE 'lockstep backfill %: already done', v_job;
      RETURN;
    END IF;
  END IF;
  -- Preconditions: the batch statements compile (the expand steps ran). Nothing written yet.
  EXECUTE 'PREPARE lockstep_bf_probe1(text[], bigint) AS ' || v_first;
  EXECUTE 'DEALLOCATE lockstep_bf_probe1';
  EXECUTE 'PREPARE lockstep_bf_probe2(text[], text[], bigint) AS ' || v_next;
  EXECUTE 'DEALLOCATE lockstep_bf_probe2';
  -- Triggers that would fire on the backfill's own writes.
  v_rel := to_regclass(v_target);
  IF v_rel IS NULL THEN
    RAISE EXCEPTION 'lockstep backfill %: table % does not exist; run the plan''s earlier steps first', v_job, v_target;
  END IF;
  FOR v_hazard IN EXECUTE {hazards} USING v_rel, {events}, {set_cols} LOOP
    IF v_hazard.kind = 'trigger' AND v_hazard.enabled IN ('O', 'A') THEN
      v_fire := v_fire || ' ' || quote_ident(v_hazard.name);
    END IF;
    IF v_hazard.kind = 'foreign key' OR v_hazard.enabled IN ('A', 'R') THEN
      v_replica := v_replica || ' ' || v_hazard.kind || ' ' || quote_ident(v_hazard.name);
    END IF;
  END LOOP;
  IF v_fire <> '' AND NOT allow_triggers AND NOT disable_user_triggers THEN
    RAISE EXCEPTION 'lockstep backfill %: trigger(s)% on % would fire for every backfilled row', v_job, v_fire, v_rel::regclass
      USING HINT = 'CALL again with allow_triggers => true to run them knowingly, or disable_user_triggers => true to skip them (session_replication_role = replica; needs the privilege to set it)';
  END IF;
  IF disable_user_triggers THEN
    IF v_replica <> '' THEN
      RAISE EXCEPTION 'lockstep backfill %: disable_user_triggers would not be safe on %:% (fire even in replica mode, or foreign keys replica mode would skip)', v_job, v_rel::regclass, v_replica;
    END IF;
    BEGIN
      PERFORM set_config('session_replication_role', 'replica', true);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'lockstep backfill %: disable_user_triggers needs permission to set session_replication_role (a superuser, or on PostgreSQL 15+: GRANT SET ON PARAMETER session_replication_role TO %)', v_job, current_user;
    END;
  END IF;
{setup}  PERFORM set_config('lock_timeout', '{lock_timeout}ms', true);
  v_cp_oid := to_regclass('{CHECKPOINT_TABLE}');
  IF restart THEN
    DELETE FROM {CHECKPOINT_TABLE} WHERE job = v_job;
    DELETE FROM {JOBS_TABLE} WHERE job = v_job;
    RAISE NOTICE 'lockstep backfill %: restart requested, starting from the first row', v_job;
  END IF;
  SELECT j.fingerprint, j.checkpoint_oid INTO v_job_fp, v_job_oid FROM {JOBS_TABLE} j WHERE j.job = v_job FOR UPDATE;
  v_has_job := FOUND;
  SELECT c.fingerprint INTO v_cp_fp FROM {CHECKPOINT_TABLE} c WHERE c.job = v_job FOR UPDATE;
  v_has_cp := FOUND;
  IF (v_has_job AND v_job_fp <> v_fp) OR (v_has_cp AND v_cp_fp <> v_fp) THEN
    RAISE EXCEPTION 'lockstep backfill %: the job was started by a different plan (fingerprint %, this plan %); finish it with that plan, or start over with restart => true', v_job, coalesce(v_job_fp, v_cp_fp), v_fp;
  ELSIF v_has_job AND v_job_oid <> v_cp_oid THEN
    RAISE EXCEPTION 'lockstep backfill %: the checkpoint table was dropped and recreated after the job started; its progress is lost. Check the table, then start over with restart => true (rows a non-idempotent backfill already changed change again)', v_job;
  ELSIF v_has_job AND NOT v_has_cp THEN
    RAISE EXCEPTION 'lockstep backfill %: the job started but its checkpoint row is gone (deleted, or the table emptied). Check the table, then start over with restart => true (rows a non-idempotent backfill already changed change again)', v_job;
  ELSIF v_has_cp AND NOT v_has_job THEN
    RAISE EXCEPTION 'lockstep backfill %: the job has a checkpoint but no record in {JOBS_TABLE} (emptied or recreated); start over with restart => true', v_job;
  ELSIF NOT v_has_job THEN
    INSERT INTO {JOBS_TABLE} (job, fingerprint, checkpoint_oid) VALUES (v_job, v_fp, v_cp_oid);
    -- The range is fixed here, once: rows inserted later are the application's job.
    INSERT INTO {CHECKPOINT_TABLE} (job, fingerprint, upper_key) VALUES (v_job, v_fp, ({upper}));
  END IF;
  COMMIT;
  LOOP
    -- Replica lag as the primary sees it (NULL for roles without pg_read_all_stats).
    WHILE max_lag_ms > 0 LOOP
      SELECT coalesce(max(extract(epoch FROM replay_lag)) * 1000, 0) INTO v_lag FROM pg_stat_replication;
      EXIT WHEN v_lag <= max_lag_ms;
      RAISE NOTICE 'lockstep backfill %: replica lag % ms above % ms, waiting', v_job, round(v_lag), max_lag_ms;
      COMMIT;
      PERFORM pg_sleep(1);
    END LOOP;
    -- Local to this batch's transaction: nothing leaks onto the caller's session.
    PERFORM set_config('lock_timeout', '{lock_timeout}ms', true);
    IF disable_user_triggers THEN
      PERFORM set_config('session_replication_role', 'replica', true);
    END IF;
    -- The checkpoint row, locked for this batch: it must be ours and where we left it.
    SELECT c.upper_key, c.last_key, c.done, c.batches,
           (j.checkpoint_oid = to_regclass('{CHECKPOINT_TABLE}'))
      INTO v_upper, v_last, v_done, v_batch_no, v_same
      FROM {CHECKPOINT_TABLE} c LEFT JOIN {JOBS_TABLE} j ON j.job = c.job
     WHERE c.job = v_job AND c.fingerprint = v_fp
       FOR UPDATE OF c;
    IF NOT FOUND OR v_same IS NOT TRUE THEN
      RAISE EXCEPTION 'lockstep backfill %: the checkpoint row disappeared or changed plan mid-run; stopped (this batch was not applied)', v_job;
    END IF;
    IF v_batches > 0 AND v_last IS DISTINCT FROM v_expect THEN
      RAISE EXCEPTION 'lockstep backfill %: the checkpoint was moved by another session mid-run; stopped (this batch was not applied)', v_job;
    END IF;
    EXIT WHEN v_done;
    IF v_upper IS NULL THEN
      UPDATE {CHECKPOINT_TABLE} SET done = true, updated_at = clock_timestamp() WHERE job = v_job AND fingerprint = v_fp;
      COMMIT;
      EXIT;
    END IF;
    EXIT WHEN max_batches IS NOT NULL AND v_batches >= max_batches;
    v_started := clock_timestamp();
    IF v_last IS NULL THEN
      EXECUTE v_first INTO v_scanned, v_changed, v_new_last USING v_upper, v_size::bigint;
    ELSE
      EXECUTE v_next INTO v_scanned, v_changed, v_new_last USING v_last, v_upper, v_size::bigint;
    END IF;
    UPDATE {CHECKPOINT_TABLE}
       SET last_key = coalesce(v_new_last, last_key), rows_done = rows_done + v_changed,
           batches = batches + 1, batch_size = v_size, done = v_scanned < v_size,
           updated_at = clock_timestamp()
     WHERE job = v_job AND fingerprint = v_fp;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> 1 THEN
      RAISE EXCEPTION 'lockstep backfill %: the checkpoint row could not be updated (% rows); stopped (this batch was not applied)', v_job, v_rows;
    END IF;
    COMMIT;
    v_expect := coalesce(v_new_last, v_last);
    v_batches := v_batches + 1;
    v_ms := extract(epoch FROM clock_timestamp() - v_started) * 1000;
    IF target_batch_ms > 0 THEN
      -- Move toward the target batch time, at most halving or doubling per batch.
      v_size := least(greatest((v_size * target_batch_ms / greatest(v_ms, 1))::integer, v_size / 2, {min}), v_size * 2, {max});
    END IF;
    RAISE NOTICE 'lockstep backfill %: batch % changed % of % rows in % ms', v_job, v_batch_no + 1, v_changed, v_scanned, round(v_ms);
    IF sleep_ms > 0 THEN
      PERFORM pg_sleep(sleep_ms / 1000.0);
    END IF;
  END LOOP;
  PERFORM pg_advisory_unlock(v_lock);
END
"#,
            job_comment = comment_text(&self.job),
            table_comment = comment_text(&self.table),
            key_comment = comment_text(
                &self
                    .key
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            job = e_literal(&self.job),
            fp = e_literal(&self.fingerprint()),
            lock = lock_key(&self.job),
            first = e_literal(&self.first_batch_sql),
            next = e_literal(&self.next_batch_sql),
            target = e_literal(&target),
            holder = e_literal(HOLDER_SQL),
            hazards = e_literal(WRITE_HAZARDS_SQL),
            upper = self.upper_bound_sql,
            lock_timeout = self.lock_timeout_ms.max(1),
            min = self.min_batch_size.max(1),
            max = self.max_batch_size.max(1),
        );
        let tag = dollar_tag(&body);
        format!(
            "CREATE OR REPLACE PROCEDURE {proc}(\n  batch_size integer DEFAULT {bs},\n  target_batch_ms integer DEFAULT {target},\n  sleep_ms integer DEFAULT {sleep},\n  max_lag_ms integer DEFAULT {lag},\n  max_batches integer DEFAULT NULL,\n  allow_triggers boolean DEFAULT false,\n  disable_user_triggers boolean DEFAULT false,\n  restart boolean DEFAULT false\n)\nLANGUAGE plpgsql AS ${tag}${body}${tag}$;",
            proc = self.procedure_sql_name(),
            bs = self.batch_size.clamp(1, i32::MAX as u64),
            target = self.target_batch_time_ms.min(i32::MAX as u64),
            sleep = self.sleep_ms.min(i32::MAX as u64),
            lag = self.max_replica_lag_ms.min(i32::MAX as u64),
        )
    }

    /// The walked table as a quoted name for `to_regclass`.
    fn table_regclass_text(&self) -> String {
        match self.table.split_once('.') {
            Some((s, t)) => format!("{}.{}", quote_always(s), quote_always(t)),
            None => quote_always(&self.table),
        }
    }

    /// The procedure's name as SQL (`lockstep.backfill_…`, quoted where needed).
    fn procedure_sql_name(&self) -> String {
        match self.procedure.split_once('.') {
            Some((s, p)) => format!("{}.{}", ident(s), ident(p)),
            None => ident(&self.procedure),
        }
    }

    /// `CALL` of the procedure (must run outside a transaction block: it commits).
    pub fn call_sql(&self) -> String {
        format!("CALL {}();", self.procedure_sql_name())
    }

    /// The psql form: checkpoint schema, procedure, call. Run with `psql -f` (autocommit).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dollar_tag_never_occurs_in_the_body() {
        assert_eq!(dollar_tag("plain"), "lockstep_bf");
        assert_eq!(dollar_tag("a $lockstep_bf$ b"), "lockstep_bf_1");
        assert_eq!(
            dollar_tag("$lockstep_bf$ $lockstep_bf_1$ $lockstep_bf_2$"),
            "lockstep_bf_3"
        );
        // The body's end would run into the closing tag.
        assert_eq!(dollar_tag("x $lockstep_bf"), "lockstep_bf_1");
        assert_eq!(dollar_tag("$$ $lockstep$"), "lockstep_bf");
    }

    #[test]
    fn comments_lose_line_breaks_and_literals_survive_backslashes() {
        assert_eq!(comment_text("a\nDROP\r\u{2028}x"), "a DROP \u{2028}x");
        assert_eq!(e_literal("it's a\\b"), "E'it''s a\\\\b'");
    }

    #[test]
    fn reads_what_a_backfill_statement_writes() {
        let w = dml_writes(&format!(
            "UPDATE \"Billing\".items SET \"Total\" = v * 2, w = 1 WHERE (w IS NULL) AND (items.id) {IN_BATCH_MARKER} RETURNING 1"
        ))
        .unwrap();
        assert_eq!(w.table, "\"Billing\".\"items\"");
        assert_eq!(w.events, EVENT_UPDATE);
        assert_eq!(
            w.set_columns,
            Some(vec!["Total".to_string(), "w".to_string()])
        );
        let w = dml_writes(&format!(
            "DELETE FROM t WHERE (t.id) {IN_BATCH_MARKER} RETURNING 1"
        ))
        .unwrap();
        assert_eq!((w.table.as_str(), w.events), ("\"t\"", EVENT_DELETE));
        let w = dml_writes(&format!(
            "INSERT INTO a (x) SELECT x FROM b WHERE (b.id) {IN_BATCH_MARKER} RETURNING 1"
        ))
        .unwrap();
        assert_eq!((w.table.as_str(), w.events), ("\"a\"", EVENT_INSERT));
        assert_eq!(dml_writes("not sql at all"), None);
    }

    #[test]
    fn the_fingerprint_follows_the_sql() {
        let a = fingerprint("j", "public.t", &[("id", "bigint")], "d", "u", "f", "n");
        assert_eq!(
            a,
            fingerprint("j", "public.t", &[("id", "bigint")], "d", "u", "f", "n")
        );
        assert_ne!(
            a,
            fingerprint("j", "public.t", &[("id", "bigint")], "d", "u", "f", "n2")
        );
        // Boundaries count: moving text between fields changes it.
        assert_ne!(
            a,
            fingerprint("j", "public.t", &[("id", "bigint")], "du", "", "f", "n")
        );
        assert_ne!(lock_key("a"), lock_key("b"));
    }
}
