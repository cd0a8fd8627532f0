//! The trace: run the pending statements inside `BEGIN … ROLLBACK`, read the real locks
//! (`pg_locks` of our own backend) and rewrites (`relfilenode` changes) after each one, and
//! put them next to the predicted lock facts.
//!
//! It must never stall the database it runs on. Two limits make sure of that:
//! - `lock_timeout` (default 100 ms) bounds how long a statement waits in a lock queue,
//!   where it would block every later query on the table.
//! - Once the trace may block others (it requests or holds a lock that blocks writes, or
//!   changes rows), a *block budget* starts (default: the lock_timeout). Every later
//!   statement runs under `statement_timeout` = what is left of it, so the time from the
//!   first blocking request to the `ROLLBACK` never exceeds the budget. When it runs out, the
//!   trace rolls back and says how far it got.
//!
//! On a scratch cluster nobody else is connected, so there is no budget.
//!
//! It must never leave anything behind either. Four things make sure of that:
//! - Each statement goes to the server with the extended query protocol, which accepts
//!   exactly one command per message: if our splitter glued `COMMIT; DROP TABLE t` into one
//!   "statement", the server refuses the whole text instead of running both. Nothing is
//!   ever retried with the simple protocol.
//! - Transaction control (`COMMIT`, `PREPARE TRANSACTION`, savepoints, `CALL` …) is never
//!   traced, and neither are statements with effects a rollback does not undo
//!   ([`super::effects`]) unless the user allows their category.
//! - After every statement the trace checks that it is still inside the transaction it
//!   began ([`TxGuard`]: the top-level transaction id is unchanged). If not, it stops and
//!   says the database may have been changed; after the `ROLLBACK` it also rolls back any
//!   prepared transaction carrying its transaction id.
//! - Code the scan cannot see into (DO blocks, functions defined outside `pg_catalog`) runs
//!   under the remaining block budget, so a lock it takes cannot outlast the budget.

use super::LiveError;
use super::connect::Db;
use super::effects::{self, Classification, Effect};
use crate::analyze::AnalyzedScript;
use crate::locks::{LockFact, LockMode};
use crate::ops::{ObjName, Op};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Limits for a trace.
#[derive(Debug, Clone, Copy)]
pub struct TraceOptions {
    /// How long one lock request may wait.
    pub lock_timeout: Duration,
    /// Upper bound for any single statement.
    pub statement_timeout: Duration,
    /// How long the trace may block others in total; `None` = no limit (scratch cluster).
    pub block_budget: Option<Duration>,
}

/// How a statement fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum TraceStatus {
    /// Ran; locks were read.
    Traced,
    /// Not run: it cannot run inside a transaction block, or it is transaction control.
    NotTraced(String),
    /// It waited longer than lock_timeout for its lock: someone holds a conflicting one.
    LockTimeout,
    /// The block budget ran out while it ran: it got its lock and then worked longer than
    /// the budget (a scan or rewrite), so the trace rolled back.
    GaveUp(String),
    /// PostgreSQL raised an error.
    Failed(String),
    /// Not reached: the trace stopped earlier.
    NotReached,
    /// The server read the text as several commands and refused it (the extended protocol
    /// takes one command per message): lockstep's splitter disagrees with the server here.
    Misread(String),
    /// After this statement the trace was no longer inside its own transaction.
    Escaped(String),
}

/// A lock the statement held when it finished, reported through the table (index locks
/// count for their table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedLock {
    pub table: ObjName,
    pub mode: LockMode,
    /// Taken (or strengthened) by this statement, not held from an earlier one.
    pub new: bool,
    /// The table's relfilenode changed during this statement.
    pub rewritten: bool,
}

/// One traced statement.
#[derive(Debug, Clone, Serialize)]
pub struct TracedStatement {
    pub migration: String,
    pub line: usize,
    pub sql: String,
    #[serde(flatten)]
    pub status: TraceStatus,
    pub predicted: Vec<LockFact>,
    pub observed: Vec<ObservedLock>,
    /// Each disagreement between prediction and reality, in words.
    pub mismatches: Vec<String>,
    pub elapsed_ms: f64,
}

/// The whole trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// Where it ran: the redacted database URL or "scratch cluster".
    pub target: String,
    pub lock_timeout_ms: u64,
    pub block_budget_ms: Option<u64>,
    pub statements: Vec<TracedStatement>,
    /// Why the trace stopped early, if it did.
    pub stopped: Option<String>,
    /// Time from the first blocking request to the ROLLBACK.
    pub blocking_ms: f64,
    pub rolled_back: bool,
    /// Set when the trace lost its transaction: what happened. The database may have been
    /// changed; the CLI exits with its own code.
    pub escaped: Option<String>,
    pub notes: Vec<String>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// 1-based line of byte offset `at` in `source`.
pub fn line_of(source: &str, at: usize) -> usize {
    source[..at.min(source.len())].matches('\n').count() + 1
}

/// The first line of a statement, shortened for tables, with any credentials it carries
/// (a dblink connection string, a role's password) redacted.
pub fn head(sql: &str, max: usize) -> String {
    let redacted = super::connect::redact_sql(sql);
    let one: String = redacted.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

const LOCKS_SQL: &str = r#"
SELECT COALESCE(i.indrelid, l.relation)::int8 AS table_oid, l.mode, l.relation::int8
  FROM pg_locks l
  LEFT JOIN pg_index i ON i.indexrelid = l.relation
 WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"#;

const RELATIONS_SQL: &str = r#"
SELECT c.oid::int8, n.nspname::text, c.relname::text, pg_relation_filenode(c.oid)::int8,
       c.relkind IN ('i', 'I') AS is_index
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm', 't', 'i', 'I')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%'
"#;

/// oid → (table name, relfilenode).
type Tables = HashMap<i64, (ObjName, Option<i64>)>;

/// Tables as our transaction sees them: oid → (name, filenode); and the oids of every
/// relation, indexes included.
fn relations(db: &mut Db) -> Result<(Tables, HashSet<i64>), LiveError> {
    let rows = db.query("reading relations for the trace", RELATIONS_SQL, &[])?;
    let all = rows.iter().map(|r| r.get::<_, i64>(0)).collect();
    let tables = rows
        .iter()
        .filter(|r| !r.get::<_, bool>(4))
        .map(|r| {
            (
                r.get::<_, i64>(0),
                (
                    ObjName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
                    r.get::<_, Option<i64>>(3),
                ),
            )
        })
        .collect();
    Ok((tables, all))
}

/// Strongest granted lock per table oid held by our backend, counting only relations that
/// existed when the trace began (an index created by the trace is locked ACCESS EXCLUSIVE,
/// which says nothing about its table).
fn held_locks(db: &mut Db, existing: &HashSet<i64>) -> Result<HashMap<i64, LockMode>, LiveError> {
    let rows = db.query("reading pg_locks", LOCKS_SQL, &[])?;
    let mut out: HashMap<i64, LockMode> = HashMap::new();
    for r in rows {
        let oid: i64 = r.get(0);
        let relation: i64 = r.get(2);
        if !existing.contains(&relation) {
            continue;
        }
        let Some(mode) = LockMode::parse(&r.get::<_, String>(1)) else {
            continue;
        };
        let e = out.entry(oid).or_insert(mode);
        *e = (*e).max(mode);
    }
    Ok(out)
}

/// Proof that the session is still inside the transaction the trace began: its top-level
/// transaction id, assigned right after `BEGIN`. A `COMMIT` (or `PREPARE TRANSACTION`)
/// followed by anything leaves the session either outside a transaction block or in
/// another transaction, and both show as a different (or no) id. Savepoints do not change
/// it: `txid_current_if_assigned()` reports the top-level transaction inside them.
#[derive(Debug, Clone, Copy)]
pub struct TxGuard {
    xid: i64,
}

impl TxGuard {
    /// Assigns the current transaction an id and remembers it. Call it right after `BEGIN`.
    pub fn take(db: &mut Db) -> Result<TxGuard, LiveError> {
        let row = db.query_one(
            "assigning the trace's transaction id",
            "SELECT txid_current()",
            &[],
        )?;
        Ok(TxGuard { xid: row.get(0) })
    }

    /// True while the session is in the same top-level transaction. Only meaningful when
    /// that transaction is not in the aborted state (roll back to the savepoint first).
    pub fn still_ours(&self, db: &mut Db) -> Result<bool, LiveError> {
        let row = db.query_one(
            "checking that the trace is still in its transaction",
            "SELECT txid_current_if_assigned()",
            &[],
        )?;
        Ok(row.get::<_, Option<i64>>(0) == Some(self.xid))
    }

    /// The transaction id as `pg_prepared_xacts.transaction` shows it (without the epoch).
    fn xid32(&self) -> String {
        (self.xid.rem_euclid(1 << 32)).to_string()
    }
}

/// Rolls back prepared transactions that carry the trace's transaction id (what an
/// untraced-but-executed `PREPARE TRANSACTION` would leave). Returns their gids.
fn roll_back_our_prepared(db: &mut Db, guard: &TxGuard) -> Result<Vec<String>, LiveError> {
    let rows = db.query(
        "looking for a prepared transaction left by the trace",
        "SELECT gid FROM pg_prepared_xacts WHERE transaction::text = $1",
        &[&guard.xid32()],
    )?;
    let mut gids = Vec::new();
    for r in rows {
        let gid: String = r.get(0);
        db.batch(
            "rolling back a prepared transaction left by the trace",
            &format!("ROLLBACK PREPARED '{}'", gid.replace('\'', "''")),
        )?;
        gids.push(gid);
    }
    Ok(gids)
}

/// The effects of a statement the user did not allow, and the functions outside
/// `pg_catalog` it calls (their bodies scanned too, a few calls deep).
struct Verdict {
    refused: Vec<effects::Finding>,
    user_functions: Vec<String>,
}

const USER_FUNCTIONS_SQL: &str = r#"
SELECT p.proname::text, l.lanname::text, p.prosrc
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.proname = ANY($1) AND p.pronamespace <> 'pg_catalog'::regnamespace
"#;

fn judge(db: &mut Db, c: &Classification, allow: &[Effect]) -> Result<Verdict, LiveError> {
    let mut refused: Vec<effects::Finding> = c
        .effects
        .iter()
        .filter(|f| !allow.contains(&f.effect))
        .cloned()
        .collect();
    if let Some(ext) = &c.extension
        && !allow.contains(&Effect::Extension)
    {
        let row = db.query_one(
            "checking whether the extension is trusted",
            "SELECT coalesce(bool_and(trusted), false) FROM pg_available_extension_versions \
             WHERE name = $1",
            &[ext],
        );
        // PostgreSQL before 13 has no `trusted` column: treat every extension as untrusted.
        let trusted = row.map(|r| r.get::<_, bool>(0)).unwrap_or(false);
        if !trusted {
            refused.push(effects::Finding {
                effect: Effect::Extension,
                what: format!("extension {ext}"),
            });
        }
    }
    let mut user_functions = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut names: Vec<String> = c.calls.iter().cloned().collect();
    // Functions calling functions: follow a few levels, then stop (the budget still holds).
    for _ in 0..3 {
        names.retain(|n| seen.insert(n.clone()));
        if names.is_empty() {
            break;
        }
        let rows = db.query(
            "looking up the functions a statement calls",
            USER_FUNCTIONS_SQL,
            &[&names],
        )?;
        names = Vec::new();
        for r in rows {
            let name: String = r.get(0);
            let lang: String = r.get(1);
            let body: String = r.get(2);
            if !user_functions.contains(&name) {
                user_functions.push(name.clone());
            }
            if lang == "c" || lang == "internal" {
                continue;
            }
            let inner = effects::classify_body(&body);
            for f in inner.effects {
                if !allow.contains(&f.effect) {
                    refused.push(effects::Finding {
                        effect: f.effect,
                        what: format!("{name}() (its body uses {})", f.what),
                    });
                }
            }
            names.extend(inner.calls);
        }
    }
    refused.sort();
    refused.dedup();
    Ok(Verdict {
        refused,
        user_functions,
    })
}

/// Whether the connected role can do more than a migration needs: a note for the report.
fn privilege_note(db: &mut Db) -> Option<String> {
    let row = db
        .query_one(
            "reading the trace role's privileges",
            "SELECT r.rolsuper, EXISTS (SELECT 1 FROM pg_roles p \
               WHERE p.rolname IN ('pg_execute_server_program', 'pg_read_server_files', \
                                   'pg_write_server_files') \
                 AND pg_has_role(current_user, p.oid, 'MEMBER')) \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .ok()?;
    let (superuser, files): (bool, bool) = (row.get(0), row.get(1));
    if superuser || files {
        Some(format!(
            "the trace runs as a role that {}: code lockstep cannot read (SQL built at run \
             time, triggers, C functions) could use that. Trace with a role that owns the \
             schema but is not a superuser",
            if superuser {
                "is a superuser"
            } else {
                "may run programs or access server files"
            }
        ))
    } else {
        None
    }
}

/// Runs `scripts` (the pending migrations' up scripts, analysed) in one transaction that
/// is always rolled back. `sources` gives each script's file text. No effect category is
/// allowed: see [`run_with`].
pub fn run(
    db: &mut Db,
    target: &str,
    scripts: &[&AnalyzedScript],
    sources: &BTreeMap<std::path::PathBuf, std::sync::Arc<str>>,
    opts: &TraceOptions,
) -> Result<TraceReport, LiveError> {
    run_with(db, target, scripts, sources, opts, &[])
}

/// Like [`run`], tracing also statements whose effects outside the transaction fall in one
/// of the `allow`ed categories (`--trace-allow`).
pub fn run_with(
    db: &mut Db,
    target: &str,
    scripts: &[&AnalyzedScript],
    sources: &BTreeMap<std::path::PathBuf, std::sync::Arc<str>>,
    opts: &TraceOptions,
    allow: &[Effect],
) -> Result<TraceReport, LiveError> {
    let mut report = TraceReport {
        target: target.to_string(),
        lock_timeout_ms: ms(opts.lock_timeout),
        block_budget_ms: opts.block_budget.map(ms),
        statements: Vec::new(),
        stopped: None,
        blocking_ms: 0.0,
        rolled_back: false,
        escaped: None,
        notes: Vec::new(),
    };
    report.notes.extend(privilege_note(db));
    db.batch(
        "starting the trace transaction",
        "BEGIN ISOLATION LEVEL READ COMMITTED",
    )?;
    let guard = match TxGuard::take(db) {
        Ok(g) => g,
        Err(e) => {
            let _ = db.batch("rolling back the trace", "ROLLBACK");
            return Err(e);
        }
    };
    let result = trace_in_transaction(db, &guard, scripts, sources, opts, allow, &mut report);
    // Whatever happened, nothing the trace did may survive.
    let rollback = db.batch("rolling back the trace", "ROLLBACK");
    report.rolled_back = rollback.is_ok() && report.escaped.is_none();
    // A prepared transaction with our id would hold everything the trace did (and its
    // locks) after we exit: roll it back, and say so loudly.
    match roll_back_our_prepared(db, &guard) {
        Ok(gids) if !gids.is_empty() => {
            let what = format!(
                "a prepared transaction ({}) held the trace's changes after its ROLLBACK; \
                 lockstep rolled it back",
                gids.join(", ")
            );
            report.escaped = Some(match report.escaped.take() {
                Some(e) => format!("{e}; {what}"),
                None => what,
            });
            report.rolled_back = false;
        }
        Ok(_) => {}
        Err(e) if report.escaped.is_some() => {
            report
                .notes
                .push(format!("checking pg_prepared_xacts failed: {e}"));
        }
        Err(e) => return Err(e),
    }
    result?;
    if report.escaped.is_none() {
        rollback?;
    }
    Ok(report)
}

/// What became of the trace's transaction after a statement.
enum After {
    Ours,
    Lost(String),
}

/// Rolls back to the trace's savepoint (after a failed statement) and checks the guard.
fn recover(db: &mut Db, guard: &TxGuard) -> After {
    if let Err(e) = db.batch(
        "rolling back to the savepoint",
        "ROLLBACK TO SAVEPOINT lockstep_trace",
    ) {
        return After::Lost(format!("the trace's savepoint is gone ({e})"));
    }
    check(db, guard)
}

fn check(db: &mut Db, guard: &TxGuard) -> After {
    match guard.still_ours(db) {
        Ok(true) => After::Ours,
        Ok(false) => After::Lost("the session is no longer in the trace's transaction".into()),
        Err(e) => After::Lost(format!("could not check the trace's transaction: {e}")),
    }
}

fn trace_in_transaction(
    db: &mut Db,
    guard: &TxGuard,
    scripts: &[&AnalyzedScript],
    sources: &BTreeMap<std::path::PathBuf, std::sync::Arc<str>>,
    opts: &TraceOptions,
    allow: &[Effect],
    report: &mut TraceReport,
) -> Result<(), LiveError> {
    let (start_rels, start_oids) = relations(db)?;
    let existing: HashSet<ObjName> = start_rels.values().map(|(n, _)| n.clone()).collect();
    let mut names: HashMap<i64, ObjName> = start_rels
        .iter()
        .map(|(o, (n, _))| (*o, n.clone()))
        .collect();
    let mut filenodes: HashMap<i64, Option<i64>> =
        start_rels.iter().map(|(o, (_, f))| (*o, *f)).collect();
    let mut held: HashMap<i64, LockMode> = held_locks(db, &start_oids)?;
    let mut block_start: Option<Instant> = None;
    let mut stop: Option<String> = None;
    let mut sequences_note = false;
    let mut unknown_note = false;

    'scripts: for script in scripts {
        let Some(source) = sources.get(&script.path) else {
            continue;
        };
        for st in &script.statements {
            let sql = source.get(st.span.clone()).unwrap_or("").to_string();
            let mut traced = TracedStatement {
                migration: script.migration.clone(),
                line: line_of(source, st.span.start),
                sql: head(&sql, 60),
                status: TraceStatus::Traced,
                predicted: st.locks.clone(),
                observed: Vec::new(),
                mismatches: Vec::new(),
                elapsed_ms: 0.0,
            };
            if stop.is_some() {
                traced.status = TraceStatus::NotReached;
                report.statements.push(traced);
                continue;
            }
            // Our own reading of the text, independent of the parser's ops: the ops come
            // from the same splitter an attacker may have fooled.
            let class = effects::classify(&sql);
            if let Some(why) = class.transaction_control.clone().or_else(|| {
                st.ops
                    .iter()
                    .any(|o| matches!(o, Op::Begin | Op::Commit | Op::Rollback))
                    .then(|| "transaction control: the trace keeps its own transaction".into())
            }) {
                traced.status = TraceStatus::NotTraced(why);
                report.statements.push(traced);
                continue;
            }
            if st.ops.iter().any(Op::needs_no_transaction) {
                traced.status =
                    TraceStatus::NotTraced("cannot run inside a transaction block".into());
                report.statements.push(traced);
                continue;
            }
            let verdict = judge(db, &class, allow)?;
            if !verdict.refused.is_empty() {
                let mut cats: Vec<&str> = verdict.refused.iter().map(|f| f.effect.name()).collect();
                cats.dedup();
                traced.status = TraceStatus::NotTraced(format!(
                    "effects outside the transaction, which the rollback would not undo: {}; \
                     to trace it anyway: {}",
                    verdict
                        .refused
                        .iter()
                        .map(effects::Finding::describe)
                        .collect::<Vec<_>>()
                        .join("; "),
                    cats.iter()
                        .map(|c| format!("--trace-allow {c}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                report.statements.push(traced);
                continue;
            }
            // Code we cannot fully read: a lock it takes must not outlast the budget.
            let unknown = class.runs_code || !verdict.user_functions.is_empty();
            unknown_note |= unknown;
            let dml = st
                .ops
                .iter()
                .any(|o| matches!(o, Op::Update { .. } | Op::Delete { .. } | Op::Insert { .. }));
            sequences_note |=
                class.implicit_sequences || st.ops.iter().any(|o| matches!(o, Op::Insert { .. }));
            let blocking_request = dml
                || unknown
                || st
                    .locks
                    .iter()
                    .any(|l| l.mode.blocks_writes() && existing.contains(&l.table));
            if blocking_request && block_start.is_none() {
                block_start = Some(Instant::now());
            }
            // statement_timeout for this statement: the remaining budget once it runs.
            let mut statement_timeout = opts.statement_timeout;
            let mut lock_timeout = opts.lock_timeout;
            if let (Some(budget), Some(t0)) = (opts.block_budget, block_start) {
                let left = budget.saturating_sub(t0.elapsed());
                if left.is_zero() {
                    stop = Some(format!(
                        "block budget of {} ms used up before this statement; rolled back",
                        ms(budget)
                    ));
                    traced.status = TraceStatus::NotReached;
                    report.statements.push(traced);
                    continue;
                }
                statement_timeout = statement_timeout.min(left);
                // While waiting in the queue, the lock timeout must fire first, so that a
                // statement_timeout always means "it got the lock and kept working".
                let margin = Duration::from_millis(10);
                if lock_timeout + margin > left {
                    lock_timeout = left.saturating_sub(margin).max(Duration::from_millis(1));
                }
            }
            db.batch(
                "setting the trace's timeouts",
                &format!(
                    "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'; \
                     SAVEPOINT lockstep_trace",
                    ms(lock_timeout),
                    ms(statement_timeout)
                ),
            )?;
            let t = Instant::now();
            // Extended protocol: one command per message, never the simple protocol.
            let outcome = db.client().execute(sql.as_str(), &[]);
            traced.elapsed_ms = t.elapsed().as_secs_f64() * 1e3;
            match outcome {
                Ok(_) => {
                    if let After::Lost(why) = check(db, guard) {
                        lost(report, traced, &why);
                        break 'scripts;
                    }
                    db.batch(
                        "releasing the savepoint",
                        "RELEASE SAVEPOINT lockstep_trace",
                    )?;
                }
                Err(e) => {
                    let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
                    let message = super::connect::redact(&super::connect::error_text(&e));
                    if let After::Lost(why) = recover(db, guard) {
                        lost(report, traced, &why);
                        break 'scripts;
                    }
                    if code == "42601" && message.contains("multiple commands") {
                        traced.status = TraceStatus::Misread(
                            "not run: the server reads this text as several commands (lockstep's \
                             statement splitter read one, so its analysis of this statement is \
                             wrong too)"
                                .into(),
                        );
                        report.statements.push(traced);
                        continue;
                    }
                    if code == "57014" && opts.block_budget.is_some() && block_start.is_some() {
                        let reason = format!(
                            "got its lock, then ran past the {} ms block budget (it scans or \
                             rewrites while holding the lock); rolled back so as not to block others",
                            opts.block_budget.map(ms).unwrap_or(0)
                        );
                        stop = Some(format!(
                            "gave up at {} line {}: {reason}",
                            traced.migration, traced.line
                        ));
                        traced.status = TraceStatus::GaveUp(reason);
                        report.statements.push(traced);
                        continue;
                    }
                    traced.status = if code == "55P03" {
                        TraceStatus::LockTimeout
                    } else {
                        TraceStatus::Failed(message)
                    };
                    report.statements.push(traced);
                    continue;
                }
            }
            // What does our backend hold now, and what was rewritten?
            let now_locks = held_locks(db, &start_oids)?;
            let (rels, _) = relations(db)?;
            for (oid, (name, _)) in &rels {
                names.insert(*oid, name.clone());
            }
            let mut by_table: BTreeMap<ObjName, ObservedLock> = BTreeMap::new();
            for (oid, mode) in &now_locks {
                let Some(name) = names.get(oid) else { continue };
                if name.schema == "pg_catalog" || name.schema == "information_schema" {
                    continue;
                }
                let before = held.get(oid).copied();
                let new = before.is_none_or(|b| *mode > b);
                let rewritten = match (filenodes.get(oid), rels.get(oid)) {
                    (Some(old), Some((_, now))) => old.is_some() && old != now,
                    _ => false,
                };
                let e = by_table.entry(name.clone()).or_insert(ObservedLock {
                    table: name.clone(),
                    mode: *mode,
                    new,
                    rewritten,
                });
                if *mode > e.mode {
                    e.mode = *mode;
                    e.new = new;
                }
                e.rewritten |= rewritten;
            }
            for fact in &st.locks {
                if !existing.contains(&fact.table) {
                    // Created inside the trace: nothing to compare with.
                    continue;
                }
                match by_table.get(&fact.table) {
                    None => traced.mismatches.push(format!(
                        "predicted {} on {}, but PostgreSQL took no lock on it",
                        fact.mode, fact.table
                    )),
                    Some(o) => {
                        if o.mode < fact.mode {
                            traced.mismatches.push(format!(
                                "predicted {} on {}, PostgreSQL took only {}",
                                fact.mode, fact.table, o.mode
                            ));
                        } else if o.mode > fact.mode && o.new {
                            traced.mismatches.push(format!(
                                "predicted {} on {}, PostgreSQL took the stronger {}",
                                fact.mode, fact.table, o.mode
                            ));
                        }
                        if fact.rewrite && !o.rewritten {
                            traced.mismatches.push(format!(
                                "predicted a rewrite of {}, but its files did not change",
                                fact.table
                            ));
                        } else if !fact.rewrite && o.rewritten {
                            traced.mismatches.push(format!(
                                "PostgreSQL rewrote {} (new relfilenode), which was not predicted",
                                fact.table
                            ));
                        }
                    }
                }
            }
            for o in by_table.values() {
                let predicted = st.locks.iter().any(|f| f.table == o.table);
                if o.new
                    && !predicted
                    && o.mode >= LockMode::ShareUpdateExclusive
                    && existing.contains(&o.table)
                {
                    traced.mismatches.push(format!(
                        "PostgreSQL took {} on {}, which was not predicted",
                        o.mode, o.table
                    ));
                }
            }
            // Holding a write-blocking lock on an existing table starts the budget too.
            if block_start.is_none()
                && by_table
                    .values()
                    .any(|o| o.mode.blocks_writes() && existing.contains(&o.table))
            {
                block_start = Some(t);
            }
            traced.observed = by_table
                .into_values()
                .filter(|o| o.new || o.rewritten)
                .collect();
            held = now_locks;
            for (oid, (_, f)) in rels {
                filenodes.insert(oid, f);
            }
            report.statements.push(traced);
        }
    }
    if let Some(t0) = block_start {
        report.blocking_ms = t0.elapsed().as_secs_f64() * 1e3;
    }
    if report.stopped.is_none() {
        report.stopped = stop;
    }
    if unknown_note {
        report.notes.push(
            "DO blocks and functions defined outside pg_catalog ran under the block budget: \
             lockstep scans their text for effects outside the transaction, but cannot see \
             SQL they build at run time"
                .into(),
        );
    }
    if sequences_note {
        report.notes.push(
            "sequences advanced by traced INSERTs are not reset by the rollback (PostgreSQL \
             never rolls back nextval)"
                .into(),
        );
    }
    Ok(())
}

/// Records that the trace lost its transaction after `traced`.
fn lost(report: &mut TraceReport, mut traced: TracedStatement, why: &str) {
    let what = format!(
        "after {} line {} the trace was no longer inside its own transaction ({why}): \
         the database may have been changed",
        traced.migration, traced.line
    );
    traced.status = TraceStatus::Escaped(why.to_string());
    report.statements.push(traced);
    report.stopped = Some(what.clone());
    report.escaped = Some(what);
}

#[cfg(test)]
mod tests {
    #[test]
    fn statement_heads_never_show_a_password() {
        let h = super::head(
            "SELECT dblink_connect('host=db user=app password=S3cr3tPW dbname=x')",
            200,
        );
        assert!(!h.contains("S3cr3tPW"), "{h}");
        let h = super::head("ALTER ROLE app PASSWORD 'S3cr3tPW'", 200);
        assert!(!h.contains("S3cr3tPW"), "{h}");
    }
}
