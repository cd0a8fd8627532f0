//! The lock oracle: what PostgreSQL really does for each statement in `oracle/cases.yaml`,
//! recorded per major version in `oracle/truth-pg<major>.json`, and the lock model
//! (`lockstep::locks`) compared with it case by case.
//!
//! Three tests:
//!
//! - `regenerate` (ignored; the full run): starts a throwaway cluster from the server
//!   binaries in `$LOCKSTEP_PG_BINDIR` (default: the system's newest), builds the fixture
//!   (`oracle/fixture.sql` + `oracle/fixture-data.sql`) once as a template, and for every
//!   case copies it, runs the case's setup, then the statement — in its own transaction
//!   that is rolled back, or, for statements PostgreSQL refuses in a transaction block, on
//!   its own connection while a second session holds SHARE UPDATE EXCLUSIVE on the case's
//!   `outside_tx` relation and a third polls `pg_locks`. For every relation that existed
//!   before the statement it records the lock mode held (or awaited), whether its file
//!   node changed (and whether the new file holds data: a rewrite, not a TRUNCATE), and
//!   whether it was read sequentially (`seq_scan` of `pg_stat_xact_user_tables`, or the
//!   cumulative counters around a non-transactional statement), and the server's error if
//!   it rejected the statement. Writes `oracle/truth-pg<major>.json`.
//!   `oracle/run.sh` runs it for every fetched major.
//! - `model_agrees_with_truth` (no server): parses each case with lockstep's parser,
//!   replays the fixture and setup into a `Catalog`, asks `locks::analyze`, and compares
//!   per relation with every committed truth file. Prints the agreement table; fails on a
//!   disagreement that `oracle/disagreements.yaml` does not list with its reason.
//! - `pg15_subset_matches_truth` (system server, CI): re-runs the cases marked `ci` and
//!   checks the server still answers exactly what the committed truth file says, so the
//!   truth cannot silently go stale or depend on timing.

use lockstep::catalog::Catalog;
use lockstep::locks::{self, LockMode, ModelOptions};
use lockstep::ops::{ObjName, Op};
use lockstep::parse::{ParsedBy, parse_sql};
use lockstep::pg::Cluster;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The session zone every case runs in unless its `session` sets another: not UTC, so
/// "unknown zone" on the model's side matches a zone where timestamp conversions are real.
const DEFAULT_ZONE: &str = "America/New_York";

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// One entry of `oracle/cases.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: String,
    sql: String,
    /// Session settings run just before the statement (same transaction).
    #[serde(default)]
    session: String,
    /// Committed before the statement, replayed into the model's catalog too.
    #[serde(default)]
    setup: String,
    /// The statement cannot run in a transaction block: run it on its own connection
    /// while this relation is held in SHARE UPDATE EXCLUSIVE mode.
    #[serde(default)]
    outside_tx: Option<String>,
    /// Part of the CI subset.
    #[serde(default)]
    ci: bool,
}

fn cases() -> Vec<CaseSpec> {
    let path = oracle_dir().join("cases.yaml");
    let cases: Vec<CaseSpec> =
        serde_yaml::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = BTreeSet::new();
    for c in &cases {
        assert!(names.insert(&c.name), "duplicate case name {:?}", c.name);
    }
    cases
}

/// What the server did to one pre-existing relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RelObs {
    /// `table`, `partitioned table`, `index`, `partitioned index`, `view`,
    /// `materialized view`, `sequence`.
    kind: String,
    /// For an index: the relation it indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    table: Option<String>,
    /// The strongest lock held (or, outside a transaction, awaited), as PostgreSQL spells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    /// The relation got a new file node.
    #[serde(default, skip_serializing_if = "is_false")]
    new_file: bool,
    /// A new file node holding data: the rows were copied (not a TRUNCATE).
    #[serde(default, skip_serializing_if = "is_false")]
    rewrite: bool,
    /// Read by at least one sequential scan.
    #[serde(default, skip_serializing_if = "is_false")]
    seq_scan: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The server's answer for one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TruthCase {
    name: String,
    sql: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    session: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    setup: String,
    /// `SQLSTATE: message` when PostgreSQL rejected the statement (or its setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejected: Option<String>,
    /// Run outside a transaction: locks are those seen while it waited on `outside_tx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outside_tx: Option<String>,
    /// Relations the case's setup created (pre-existing for the statement).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    setup_relations: Vec<String>,
    /// Every pre-existing relation the statement locked, rewrote or scanned.
    relations: BTreeMap<String, RelObs>,
}

/// One truth file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Truth {
    /// `server_version` of the server that produced it.
    server_version: String,
    major: u32,
    /// The fixture's relations and their kinds.
    fixture_relations: BTreeMap<String, String>,
    cases: Vec<TruthCase>,
}

// ------------------------------------------------------------------------------------
// Observation
// ------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rel {
    name: String,
    kind: String,
    table: Option<String>,
    relfilenode: u32,
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

fn kind_name(relkind: &str) -> &'static str {
    match relkind {
        "r" => "table",
        "p" => "partitioned table",
        "i" => "index",
        "I" => "partitioned index",
        "v" => "view",
        "m" => "materialized view",
        "S" => "sequence",
        _ => "other",
    }
}

/// Every user relation (no TOAST, no system catalogs), by oid.
fn relations(client: &mut postgres::Client) -> Result<HashMap<u32, Rel>, postgres::Error> {
    let rows = client.query(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relfilenode,
                tn.nspname::text, t.relname::text
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_index i ON i.indexrelid = c.oid
           LEFT JOIN pg_class t ON t.oid = i.indrelid
           LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
            AND c.relkind IN ('r', 'p', 'm', 'v', 'i', 'I', 'S')",
        &[],
    )?;
    let mut out = HashMap::new();
    for r in rows {
        let table = match (r.get::<_, Option<String>>(5), r.get::<_, Option<String>>(6)) {
            (Some(s), Some(t)) => Some(qualified(&s, &t)),
            _ => None,
        };
        out.insert(
            r.get(0),
            Rel {
                name: qualified(r.get(1), r.get(2)),
                kind: kind_name(r.get(3)).to_string(),
                table,
                relfilenode: r.get(4),
            },
        );
    }
    Ok(out)
}

fn lock_rows(client: &mut postgres::Client, pid: i32) -> Result<Vec<(u32, String, bool)>, String> {
    Ok(client
        .query(
            "SELECT relation, mode, granted FROM pg_locks
              WHERE pid = $1 AND locktype = 'relation' AND relation IS NOT NULL",
            &[&pid],
        )
        .map_err(|e| format!("reading pg_locks: {e}"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

fn entry<'a>(out: &'a mut BTreeMap<String, RelObs>, rel: &Rel) -> &'a mut RelObs {
    out.entry(rel.name.clone()).or_insert_with(|| RelObs {
        kind: rel.kind.clone(),
        table: rel.table.clone(),
        mode: None,
        new_file: false,
        rewrite: false,
        seq_scan: false,
    })
}

fn record_lock(out: &mut BTreeMap<String, RelObs>, rel: &Rel, mode: &str) {
    let Some(mode) = LockMode::parse(mode) else {
        return;
    };
    let e = entry(out, rel);
    let old = e.mode.as_deref().and_then(LockMode::parse);
    if old.is_none_or(|o| mode > o) {
        e.mode = Some(mode.as_str().to_string());
    }
}

/// New file nodes among `before`'s relations, and whether the new file holds data.
fn record_new_files(
    client: &mut postgres::Client,
    before: &HashMap<u32, Rel>,
    out: &mut BTreeMap<String, RelObs>,
) -> Result<(), String> {
    // pg_relation_size opens the relation (ACCESS SHARE): only after pg_locks was read.
    let rows = client
        .query(
            "SELECT oid, relfilenode, CASE WHEN relkind IN ('r', 'm', 'i', 'S')
                                           THEN pg_relation_size(oid) ELSE 0 END
               FROM pg_class WHERE relfilenode <> 0",
            &[],
        )
        .map_err(|e| format!("reading relfilenodes: {e}"))?;
    for r in rows {
        let oid: u32 = r.get(0);
        let node: u32 = r.get(1);
        let size: i64 = r.get(2);
        if let Some(rel) = before.get(&oid)
            && rel.relfilenode != node
        {
            let e = entry(out, rel);
            e.new_file = true;
            e.rewrite = size > 0;
        }
    }
    Ok(())
}

fn sql_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Runs `case` in a transaction that is rolled back.
fn observe_in_tx(client: &mut postgres::Client, case: &CaseSpec) -> Result<TruthCase, String> {
    let mut out = truth_case(case);
    let before = relations(client).map_err(|e| format!("reading pg_class: {e}"))?;
    client
        .batch_execute("BEGIN")
        .map_err(|e| format!("BEGIN: {e}"))?;
    let run = (|| {
        if !case.session.is_empty() {
            client.batch_execute(&case.session)?;
        }
        client.batch_execute(&case.sql)
    })();
    match run {
        Err(e) => out.rejected = Some(sql_error(&e)),
        Ok(()) => {
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .map_err(|e| e.to_string())?
                .get(0);
            for (oid, mode, _) in lock_rows(client, pid)? {
                if let Some(rel) = before.get(&oid) {
                    record_lock(&mut out.relations, rel, &mode);
                }
            }
            for r in client
                .query(
                    "SELECT relid FROM pg_stat_xact_user_tables WHERE seq_scan > 0",
                    &[],
                )
                .map_err(|e| format!("reading pg_stat_xact_user_tables: {e}"))?
            {
                let oid: u32 = r.get(0);
                if let Some(rel) = before.get(&oid) {
                    entry(&mut out.relations, rel).seq_scan = true;
                }
            }
            record_new_files(client, &before, &mut out.relations)?;
        }
    }
    client
        .batch_execute("ROLLBACK")
        .map_err(|e| format!("ROLLBACK: {e}"))?;
    Ok(out)
}

fn truth_case(case: &CaseSpec) -> TruthCase {
    TruthCase {
        name: case.name.clone(),
        sql: case.sql.clone(),
        session: case.session.clone(),
        setup: case.setup.clone(),
        rejected: None,
        outside_tx: case.outside_tx.clone(),
        setup_relations: Vec::new(),
        relations: BTreeMap::new(),
    }
}

/// Sequential scans so far per relation (cumulative statistics).
fn seq_scans(client: &mut postgres::Client) -> Result<HashMap<u32, i64>, String> {
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .map_err(|e| e.to_string())?;
    Ok(client
        .query(
            "SELECT relid, coalesce(seq_scan, 0) FROM pg_stat_user_tables",
            &[],
        )
        .map_err(|e| format!("reading pg_stat_user_tables: {e}"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Waits until backend `pid` is gone (its statistics are then flushed: at exit from
/// PostgreSQL 15, through the collector — within half a second — before).
fn wait_gone(monitor: &mut postgres::Client, pid: i32, major: u32) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive = monitor
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .map_err(|e| e.to_string())?
            .get::<_, i64>(0)
            > 0;
        if !alive || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(if major >= 15 { 100 } else { 1200 }));
    Ok(())
}

/// Runs a statement that cannot run in a transaction block while another session holds
/// SHARE UPDATE EXCLUSIVE on `block`; records the locks seen while it waited.
fn observe_outside_tx(
    cluster: &Cluster,
    db: &str,
    case: &CaseSpec,
    block: &str,
) -> Result<TruthCase, String> {
    let mut out = truth_case(case);
    let conn = |what: &str| {
        cluster
            .connect(db)
            .map_err(|err| format!("{what} connection: {err}"))
    };
    let major = cluster.version();
    let mut monitor = conn("monitor")?;
    let mut blocker = conn("blocker")?;
    let mut runner = conn("runner")?;
    let before = relations(&mut monitor).map_err(|e| e.to_string())?;
    let scans_before = seq_scans(&mut monitor)?;
    // LOCK TABLE refuses some relation kinds (a materialized view): a read then holds
    // ACCESS SHARE, which still stops what takes ACCESS EXCLUSIVE.
    if blocker
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {block} IN SHARE UPDATE EXCLUSIVE MODE"
        ))
        .is_err()
    {
        blocker
            .batch_execute(&format!("ROLLBACK; BEGIN; SELECT FROM {block} LIMIT 1"))
            .map_err(|err| format!("blocker: {err}"))?;
    }
    let pid: i32 = runner
        .query_one("SELECT pg_backend_pid()", &[])
        .map_err(|err| err.to_string())?
        .get(0);
    runner
        .batch_execute(&format!("SET TimeZone = '{DEFAULT_ZONE}'"))
        .map_err(|e| e.to_string())?;
    let session = case.session.clone();
    let sql = case.sql.clone();
    let handle = std::thread::spawn(move || {
        let r = (|| {
            if !session.is_empty() {
                runner.batch_execute(&session)?;
            }
            runner.batch_execute(&sql)
        })();
        drop(runner);
        r.map_err(|e| sql_error(&e))
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline && !handle.is_finished() {
        let rows = lock_rows(&mut monitor, pid)?;
        if rows.iter().any(|(_, _, granted)| !granted) {
            seen = rows;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    blocker
        .batch_execute("ROLLBACK")
        .map_err(|err| format!("blocker: {err}"))?;
    let run = handle
        .join()
        .map_err(|_| "the statement's thread panicked".to_string())?;
    if let Err(e) = run {
        out.rejected = Some(e);
        return Ok(out);
    }
    for (oid, mode, _) in seen {
        if let Some(rel) = before.get(&oid) {
            record_lock(&mut out.relations, rel, &mode);
        }
    }
    wait_gone(&mut monitor, pid, major)?;
    let scans_after = seq_scans(&mut monitor)?;
    for (oid, n) in scans_after {
        if n > scans_before.get(&oid).copied().unwrap_or(0)
            && let Some(rel) = before.get(&oid)
        {
            entry(&mut out.relations, rel).seq_scan = true;
        }
    }
    record_new_files(&mut monitor, &before, &mut out.relations)?;
    Ok(out)
}

/// Builds the template database `oracle_base` from the fixture.
fn build_fixture(cluster: &Cluster) -> BTreeMap<String, String> {
    cluster
        .create_database("oracle_base")
        .expect("create the fixture database");
    let mut c = cluster.connect("oracle_base").expect("connect to fixture");
    c.batch_execute(&read(&oracle_dir().join("fixture.sql")))
        .expect("oracle/fixture.sql");
    c.batch_execute(&read(&oracle_dir().join("fixture-data.sql")))
        .expect("oracle/fixture-data.sql");
    // Visibility map set and statistics current, as on a long-lived server.
    c.batch_execute("VACUUM ANALYZE").expect("VACUUM ANALYZE");
    relations(&mut c)
        .expect("fixture relations")
        .into_values()
        .map(|r| (r.name, r.kind))
        .collect()
}

/// Runs the cases `selected` on `cluster` and returns what the server did.
fn observe_all(cluster: &Cluster, selected: &[&CaseSpec]) -> (Vec<TruthCase>, Vec<String>) {
    let mut out = Vec::new();
    let mut failures = Vec::new();
    let fixture: BTreeSet<String> = build_fixture(cluster).into_keys().collect();
    for (i, case) in selected.iter().enumerate() {
        let db = format!("oracle_case_{i}");
        let result = (|| -> Result<TruthCase, String> {
            cluster
                .create_database_from(&db, "oracle_base")
                .map_err(|e| e.to_string())?;
            let mut setup_relations = Vec::new();
            if !case.setup.is_empty() {
                // Its own connection, closed before the statement: its scans must not count.
                let mut setup = cluster.connect(&db).map_err(|e| e.to_string())?;
                if let Err(e) = setup.batch_execute(&case.setup) {
                    let mut t = truth_case(case);
                    t.rejected = Some(format!("setup: {}", sql_error(&e)));
                    return Ok(t);
                }
                let rels = relations(&mut setup).map_err(|e| e.to_string())?;
                setup_relations = rels
                    .into_values()
                    .map(|r| r.name)
                    .filter(|n| !fixture.contains(n))
                    .collect();
                setup_relations.sort();
                let pid: i32 = setup
                    .query_one("SELECT pg_backend_pid()", &[])
                    .map_err(|e| e.to_string())?
                    .get(0);
                drop(setup);
                if case.outside_tx.is_some() {
                    let mut m = cluster.connect(&db).map_err(|e| e.to_string())?;
                    wait_gone(&mut m, pid, cluster.version())?;
                }
            }
            let mut t = match &case.outside_tx {
                None => {
                    let mut client = cluster.connect(&db).map_err(|e| e.to_string())?;
                    client
                        .batch_execute(&format!("SET TimeZone = '{DEFAULT_ZONE}'"))
                        .map_err(|e| e.to_string())?;
                    observe_in_tx(&mut client, case)?
                }
                Some(block) => observe_outside_tx(cluster, &db, case, block)?,
            };
            t.setup_relations = setup_relations;
            Ok(t)
        })();
        match result {
            Ok(t) => out.push(t),
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
        // Keep the disk small: each copy is dropped once observed.
        if let Ok(mut c) = cluster.connect("postgres") {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
    (out, failures)
}

fn truth_path(major: u32) -> PathBuf {
    oracle_dir().join(format!("truth-pg{major}.json"))
}

/// The full run: `LOCKSTEP_PG_BINDIR=<dir> cargo test --test lock_oracle -- --ignored regenerate`.
#[test]
#[ignore = "the full oracle run (minutes); see oracle/run.sh"]
fn regenerate() {
    let started = Instant::now();
    let cluster = Cluster::start().expect("start a scratch cluster");
    let server_version: String = cluster
        .connect("postgres")
        .expect("connect")
        .query_one("SHOW server_version", &[])
        .expect("server_version")
        .get(0);
    let all = cases();
    let refs: Vec<&CaseSpec> = all.iter().collect();
    let harness_failures;
    let fixture_relations = {
        // observe_all builds oracle_base; read its relation list afterwards.
        let (cases, failures) = observe_all(&cluster, &refs);
        harness_failures = failures;
        let mut c = cluster.connect("oracle_base").expect("connect");
        let rels: BTreeMap<String, String> = relations(&mut c)
            .expect("relations")
            .into_values()
            .map(|r| (r.name, r.kind))
            .collect();
        let truth = Truth {
            server_version: server_version.clone(),
            major: cluster.version(),
            fixture_relations: rels.clone(),
            cases,
        };
        let json = serde_json::to_string_pretty(&truth).expect("serialise") + "\n";
        std::fs::write(truth_path(cluster.version()), json).expect("write the truth file");
        rels
    };
    eprintln!(
        "lock oracle: PostgreSQL {server_version}: {} cases, {} fixture relations, {:.1}s -> {}",
        all.len(),
        fixture_relations.len(),
        started.elapsed().as_secs_f64(),
        truth_path(cluster.version()).display()
    );
    assert!(
        harness_failures.is_empty(),
        "the harness failed on {} cases (left out of the truth file):\n  {}",
        harness_failures.len(),
        harness_failures.join("\n  ")
    );
}

/// CI: the `ci` subset on the system server answers exactly what the truth file says.
#[test]
fn pg15_subset_matches_truth() {
    let cluster = Cluster::shared().expect("start the PostgreSQL test cluster");
    let major = cluster.version();
    let path = truth_path(major);
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!(
            "no truth file for PostgreSQL {major} ({}); run oracle/run.sh",
            path.display()
        );
    };
    let truth: Truth = serde_json::from_str(&text).expect("parse the truth file");
    let all = cases();
    let selected: Vec<&CaseSpec> = all.iter().filter(|c| c.ci).collect();
    assert!(selected.len() >= 40, "the CI subset is too small");
    let started = Instant::now();
    let (observed, failures) = observe_all(cluster, &selected);
    assert!(failures.is_empty(), "harness failures: {failures:#?}");
    let mut stale = Vec::new();
    for obs in observed {
        match truth.cases.iter().find(|t| t.name == obs.name) {
            None => stale.push(format!("{}: not in {}", obs.name, path.display())),
            Some(t) if *t != obs => stale.push(format!(
                "{}:\n    truth    {}\n    observed {}",
                obs.name,
                serde_json::to_string(t).unwrap_or_default(),
                serde_json::to_string(&obs).unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    eprintln!(
        "lock oracle CI subset: {} cases on PostgreSQL {major} in {:.1}s",
        selected.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        stale.is_empty(),
        "PostgreSQL {major} no longer answers what {} says (re-run oracle/run.sh):\n  {}",
        path.display(),
        stale.join("\n  ")
    );
}

// ------------------------------------------------------------------------------------
// Model comparison
// ------------------------------------------------------------------------------------

/// Lock, rewrite and scan of one relation, as the model states them (indexes folded into
/// their table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Eff {
    mode: Option<LockMode>,
    rewrite: bool,
    scan: bool,
}

impl std::fmt::Display for Eff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.mode.map(|m| m.as_str()).unwrap_or("no lock"),
            if self.rewrite { " +rewrite" } else { "" },
            if self.scan { " +scan" } else { "" }
        )
    }
}

fn key(name: &ObjName) -> String {
    qualified(&name.schema, &name.name)
}

fn apply_sql(catalog: &mut Catalog, sql: &str) {
    for stmt in parse_sql(sql) {
        for op in &stmt.ops {
            catalog.apply(op);
        }
    }
}

fn fixture_catalog() -> Catalog {
    let mut c = Catalog::new();
    apply_sql(&mut c, &read(&oracle_dir().join("fixture.sql")));
    c
}

/// The model's answer for one case, or why it has none.
fn model(case: &TruthCase, base: &Catalog, major: u32) -> Result<BTreeMap<String, Eff>, String> {
    let mut catalog = base.clone();
    apply_sql(&mut catalog, &case.setup);
    let mut opts = ModelOptions::for_version(major);
    for stmt in parse_sql(&case.session) {
        for op in &stmt.ops {
            if let Op::SetTimeZone { zone, .. } = op {
                opts.session_time_zone_utc =
                    zone.as_deref().is_some_and(lockstep::analyze::is_utc_zone);
            }
        }
    }
    let statements = parse_sql(&case.sql);
    let mut out: BTreeMap<String, Eff> = BTreeMap::new();
    let mut unparsed = None;
    for stmt in statements {
        if stmt.parsed_by == ParsedBy::Unparsed {
            unparsed = Some(stmt.error.unwrap_or_default());
        }
        for op in &stmt.ops {
            if std::env::var_os("LOCKSTEP_ORACLE_OPS").is_some() {
                eprintln!("{}: {op:?}", case.name);
            }
            for f in locks::analyze(op, &catalog, &opts).facts {
                let e = out.entry(key(&f.table)).or_default();
                e.mode = e.mode.max(Some(f.mode));
                e.rewrite |= f.rewrite;
                e.scan |= f.scan;
            }
            catalog.apply(op);
        }
    }
    match unparsed {
        Some(err) if out.is_empty() => Err(format!("unparsed: {err}")),
        _ => Ok(out),
    }
}

/// The truth folded the way the model reports it: an index's lock counts for its table;
/// only tables and materialized views are rewritten (a sequence's or an index's new file
/// is not a table rewrite).
fn folded(case: &TruthCase) -> BTreeMap<String, Eff> {
    let mut out: BTreeMap<String, Eff> = BTreeMap::new();
    for (name, obs) in &case.relations {
        let owner = match obs.kind.as_str() {
            "index" | "partitioned index" => obs.table.clone().unwrap_or_else(|| name.clone()),
            _ => name.clone(),
        };
        let e = out.entry(owner).or_default();
        let mode = obs.mode.as_deref().and_then(LockMode::parse);
        e.mode = e.mode.max(mode);
        if matches!(obs.kind.as_str(), "table" | "materialized view") {
            e.rewrite |= obs.rewrite;
        }
        // A scan of a file that was just replaced by an empty one (TRUNCATE rebuilding
        // its indexes) reads no rows.
        e.scan |= obs.seq_scan && (!obs.new_file || obs.rewrite);
    }
    out
}

/// Per-case verdict.
#[derive(Debug, Default)]
struct Verdict {
    locks: bool,
    rewrite: bool,
    scan: bool,
    detail: Vec<String>,
}

fn compare(
    case: &TruthCase,
    predicted: &BTreeMap<String, Eff>,
    existing: &BTreeSet<String>,
) -> Verdict {
    let observed = folded(case);
    let mut v = Verdict {
        locks: true,
        rewrite: true,
        scan: true,
        detail: Vec::new(),
    };
    let names: BTreeSet<&String> = observed.keys().chain(predicted.keys()).collect();
    for name in names {
        if !existing.contains(name.as_str()) {
            continue; // created by the statement: no one was using it
        }
        let obs = observed.get(name).copied().unwrap_or_default();
        let pred = predicted.get(name).copied().unwrap_or_default();
        let mut wrong = Vec::new();
        // Outside a transaction only the locks seen while it waited are known.
        let lock_known = case.outside_tx.is_none() || observed.contains_key(name);
        if lock_known && pred.mode != obs.mode {
            v.locks = false;
            wrong.push("lock");
        }
        if pred.rewrite != obs.rewrite {
            v.rewrite = false;
            wrong.push("rewrite");
        }
        if pred.scan != obs.scan {
            v.scan = false;
            wrong.push("scan");
        }
        if !wrong.is_empty() {
            v.detail.push(format!(
                "{name}: model {pred}, server {obs} ({})",
                wrong.join(", ")
            ));
        }
    }
    v
}

/// `oracle/disagreements.yaml`: case name → why the model differs (all versions), or
/// `"<case name> @<major>"` for one version.
fn known_disagreements() -> BTreeMap<String, String> {
    let path = oracle_dir().join("disagreements.yaml");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_yaml::from_str::<Option<BTreeMap<String, String>>>(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .unwrap_or_default(),
        Err(_) => BTreeMap::new(),
    }
}

fn truth_files() -> Vec<Truth> {
    let mut out: Vec<Truth> = std::fs::read_dir(oracle_dir())
        .expect("read oracle/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("truth-pg") && n.ends_with(".json"))
        })
        .map(|p| serde_json::from_str(&read(&p)).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    out.sort_by_key(|t| t.major);
    out
}

#[test]
fn model_agrees_with_truth() {
    let specs = cases();
    let truths = truth_files();
    assert!(
        !truths.is_empty(),
        "no oracle/truth-pg*.json; run oracle/run.sh"
    );
    let known = known_disagreements();
    let base = fixture_catalog();
    let mut table = String::from(
        "version  cases  rejected  compared  locks        rewrite      scan         all\n",
    );
    let mut details = String::new();
    let mut unexplained = Vec::new();
    let mut explained_used = BTreeSet::new();
    for truth in &truths {
        // The truth must be of the current case list (names and SQL).
        for spec in &specs {
            let t = truth.cases.iter().find(|t| t.name == spec.name);
            if !t.is_some_and(|t| {
                t.sql == spec.sql && t.session == spec.session && t.setup == spec.setup
            }) {
                unexplained.push(format!(
                    "pg{} {}: the truth file is stale for this case (run oracle/run.sh)",
                    truth.major, spec.name
                ));
            }
        }
        let (mut compared, mut rejected) = (0, 0);
        let (mut l, mut r, mut s, mut all) = (0, 0, 0, 0);
        for case in &truth.cases {
            if !specs.iter().any(|s| {
                s.name == case.name
                    && s.sql == case.sql
                    && s.session == case.session
                    && s.setup == case.setup
            }) {
                continue;
            }
            if case.rejected.is_some() {
                rejected += 1;
                continue;
            }
            compared += 1;
            let mut existing: BTreeSet<String> = truth.fixture_relations.keys().cloned().collect();
            existing.extend(case.setup_relations.iter().cloned());
            let verdict = match model(case, &base, truth.major) {
                Ok(pred) => compare(case, &pred, &existing),
                Err(e) => Verdict {
                    detail: vec![e],
                    ..Default::default()
                },
            };
            l += verdict.locks as usize;
            r += verdict.rewrite as usize;
            s += verdict.scan as usize;
            let ok = verdict.locks && verdict.rewrite && verdict.scan;
            all += ok as usize;
            if !ok {
                let versioned = format!("{} @{}", case.name, truth.major);
                let reason = known.get(&versioned).or_else(|| known.get(&case.name));
                let _ = writeln!(
                    details,
                    "  pg{} {:<50} {}{}",
                    truth.major,
                    case.name,
                    verdict.detail.join("; "),
                    reason
                        .map(|r| format!("\n        known: {r}"))
                        .unwrap_or_default()
                );
                match reason {
                    Some(_) => {
                        explained_used.insert(if known.contains_key(&versioned) {
                            versioned
                        } else {
                            case.name.clone()
                        });
                    }
                    None => unexplained.push(format!(
                        "pg{} {} [{}]: {}",
                        truth.major,
                        case.name,
                        case.sql,
                        verdict.detail.join("; ")
                    )),
                }
            }
        }
        let pct = |n: usize| format!("{n:>3} {:>5.1}%", 100.0 * n as f64 / compared.max(1) as f64);
        let _ = writeln!(
            table,
            "pg{:<6} {:>5}  {:>8}  {:>8}  {}  {}  {}  {}",
            truth.major,
            truth.cases.len(),
            rejected,
            compared,
            pct(l),
            pct(r),
            pct(s),
            pct(all)
        );
    }
    eprintln!(
        "lock model vs the oracle (per case: lock mode on every pre-existing relation, rewrite, scan)\n{table}\ndisagreements:\n{details}"
    );
    let stale: Vec<&String> = known
        .keys()
        .filter(|k| !explained_used.contains(*k))
        .collect();
    if !stale.is_empty() {
        eprintln!("oracle/disagreements.yaml entries that now agree (remove them): {stale:?}");
    }
    assert!(
        unexplained.is_empty(),
        "{} disagreements not explained in oracle/disagreements.yaml:\n  {}",
        unexplained.len(),
        unexplained.join("\n  ")
    );
}
