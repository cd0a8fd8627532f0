//! Write-stall benchmark: how long does a schema change stall a live application?
//!
//! Starts a throwaway PostgreSQL cluster (unix socket only), seeds a parent table
//! (`accounts`) and a child table (`items`, N rows, primary key, secondary index, a column
//! referencing the parent), then for each of six schema changes runs
//! (a) the migration as written ("naive") and (b) lockstep's plan for it, backfill
//! included, each on a fresh copy of the seeded database, while several connections
//! replay a fixed-rate mix of inserts, updates by primary key and point reads.
//!
//! Every request's latency is measured from the moment it was *scheduled*, so a request
//! that queued behind a stalled one on the same connection counts its wait too (no
//! coordinated omission). Each request runs under a `statement_timeout`; one that hits it
//! (or fails otherwise) counts as failed.
//!
//! ```text
//! cargo bench --bench write_stall -- --rows 1000000 --seconds-after 2 --out bench/results/write_stall.json
//! ```
//!
//! Same seed, rates and data on every run, so two runs compare.

use clap::Parser;
use lockstep::catalog::Catalog;
use lockstep::live::connect::Db;
use lockstep::pg::Cluster;
use lockstep::plan::apply::{ApplyOptions, apply_plan};
use lockstep::plan::{self, PlanOptions, StepKind};
use postgres::Client;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// Command-line knobs. Defaults are the published configuration.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(name = "write_stall", about = "lockstep write-stall benchmark")]
pub struct Config {
    /// Rows in the child table.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Rows in the parent table.
    #[arg(long, default_value_t = 10_000)]
    pub parents: i64,
    /// Application connections (one thread each).
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Total requests per second over all connections.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Per-request timeout (`statement_timeout`), milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// Workload time before the migration starts.
    #[arg(long, default_value_t = 1.0)]
    pub seconds_before: f64,
    /// Workload time after the migration ends.
    #[arg(long, default_value_t = 2.0)]
    pub seconds_after: f64,
    /// Backfill target batch time in ms for the plans (default: the planner's default).
    #[arg(long)]
    pub target_batch_ms: Option<u64>,
    /// Seed of the workload's request mix.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Only the cases whose id contains one of these comma-separated texts (all by default).
    #[arg(long)]
    pub case: Option<String>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench/results/write_stall.json")]
    pub out: PathBuf,
    /// Log lock waits longer than 50 ms (server `log_lock_waits`) and count them per run.
    #[arg(long)]
    pub log_lock_waits: bool,
    /// Print the plans and per-step progress.
    #[arg(long)]
    pub verbose: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub bench: bool,
}

impl Config {
    /// The configuration of a quick run (tests).
    pub fn small(rows: i64, out: PathBuf) -> Config {
        Config {
            rows,
            parents: 100,
            threads: 4,
            rate: 200.0,
            timeout_ms: 2000,
            seconds_before: 0.3,
            seconds_after: 0.7,
            target_batch_ms: None,
            seed: 42,
            case: None,
            out,
            log_lock_waits: false,
            verbose: false,
            bench: false,
        }
    }
}

/// One schema change.
pub struct Case {
    pub id: &'static str,
    pub title: &'static str,
    pub sql: &'static str,
}

/// The six cases, in report order.
pub const CASES: [Case; 6] = [
    Case {
        id: "add_column_volatile_default",
        title: "add NOT NULL column with volatile default",
        sql: "ALTER TABLE items ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
    },
    Case {
        id: "set_not_null",
        title: "set NOT NULL",
        sql: "ALTER TABLE items ALTER COLUMN note SET NOT NULL;",
    },
    Case {
        id: "create_index",
        title: "create index",
        sql: "CREATE INDEX items_created_at_idx ON items (created_at);",
    },
    Case {
        id: "add_foreign_key",
        title: "add foreign key",
        sql: "ALTER TABLE items ADD CONSTRAINT items_account_id_fkey \
              FOREIGN KEY (account_id) REFERENCES accounts (id);",
    },
    Case {
        id: "change_column_type",
        title: "change column type (int → bigint)",
        sql: "ALTER TABLE items ALTER COLUMN qty TYPE bigint;",
    },
    Case {
        id: "add_unique",
        title: "add unique constraint",
        sql: "ALTER TABLE items ADD CONSTRAINT items_sku_key UNIQUE (sku);",
    },
];

/// The schema both variants start from (also replayed into the planner's catalog).
pub const SCHEMA: &str = "
CREATE TABLE accounts (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE items (
  id bigint PRIMARY KEY,
  account_id bigint NOT NULL,
  sku text NOT NULL,
  qty integer NOT NULL DEFAULT 0,
  price_cents integer NOT NULL DEFAULT 0,
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_account_id_idx ON items (account_id);
";

/// Deterministic data: every value is a function of the row number.
fn seed_sql(rows: i64, parents: i64) -> String {
    format!(
        "INSERT INTO accounts (id, name, created_at)
           SELECT g, 'account ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
           FROM generate_series(1, {parents}) g;
         INSERT INTO items (id, account_id, sku, qty, price_cents, note, created_at, updated_at)
           SELECT g, 1 + (g * 7919) % {parents}, 'sku-' || g, (g * 31) % 1000, (g * 17) % 100000,
                  'note ' || md5(g::text),
                  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
                  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
           FROM generate_series(1::bigint, {rows}) g;"
    )
}

/// splitmix64: a tiny deterministic generator (no dependency, same sequence everywhere).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Insert,
    Update,
    Read,
}

/// One request: when it was scheduled (ms since the workload started), how long it took
/// from then, and whether it succeeded.
#[derive(Debug, Clone)]
struct Sample {
    scheduled_ms: f64,
    latency_ms: f64,
    kind: Kind,
    error: Option<String>,
}

/// State shared by the workload threads.
struct Shared {
    /// Requests scheduled at or after this instant are not sent.
    stop_at: Mutex<Option<Instant>>,
}

fn stop_time(shared: &Shared) -> Option<Instant> {
    // A poisoned lock only means another thread panicked; the value is still usable.
    *shared.stop_at.lock().unwrap_or_else(|p| p.into_inner())
}

/// One application connection: a request every `threads / rate` seconds, phase-shifted
/// per thread so the connections interleave.
fn workload_thread(
    mut client: Client,
    cluster_conn: impl Fn() -> Option<Client>,
    thread: usize,
    cfg: &Config,
    shared: &Shared,
    start: Instant,
) -> Vec<Sample> {
    let mut rng = Rng(cfg.seed ^ (thread as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    let interval = Duration::from_secs_f64(cfg.threads as f64 / cfg.rate);
    let phase = interval.mul_f64(thread as f64 / cfg.threads as f64);
    let mut out = Vec::new();
    let mut k: u64 = 0;
    loop {
        let scheduled = start + phase + interval.mul_f64(k as f64);
        if stop_time(shared).is_some_and(|s| scheduled >= s) {
            break;
        }
        // Sleep until the request is due, waking up to notice the stop signal.
        loop {
            let now = Instant::now();
            if now >= scheduled {
                break;
            }
            if stop_time(shared).is_some_and(|s| scheduled >= s) {
                return out;
            }
            std::thread::sleep((scheduled - now).min(Duration::from_millis(50)));
        }
        let roll = rng.next() % 100;
        let kind = match roll {
            0..20 => Kind::Insert,
            20..60 => Kind::Update,
            _ => Kind::Read,
        };
        let r = rng.next();
        let result = match kind {
            Kind::Insert => {
                let id = 1_000_000_000i64 + thread as i64 * 100_000_000 + k as i64;
                let account = 1 + (r % cfg.parents as u64) as i64;
                let qty = (r % 1000) as i32;
                client.execute(
                    // `$4::int` keeps the parameter's type fixed whatever qty's type is.
                    "INSERT INTO items (id, account_id, sku, qty, note) VALUES ($1, $2, $3, $4::int, $5)",
                    &[&id, &account, &format!("app-{thread}-{k}"), &qty, &"from the app"],
                )
            }
            Kind::Update => {
                let id = 1 + (r % cfg.rows as u64) as i64;
                client.execute(
                    "UPDATE items SET qty = qty + 1, updated_at = now() WHERE id = $1",
                    &[&id],
                )
            }
            Kind::Read => {
                let id = 1 + (r % cfg.rows as u64) as i64;
                client
                    .query(
                        "SELECT id, account_id, qty::bigint, note FROM items WHERE id = $1",
                        &[&id],
                    )
                    .map(|rows| rows.len() as u64)
            }
        };
        let done = Instant::now();
        let error = result.err().map(|e| {
            let text = match e.as_db_error() {
                Some(db) => format!("{}: {}", db.code().code(), db.message()),
                None => e.to_string(),
            };
            if client.is_closed()
                && let Some(c) = cluster_conn()
            {
                client = c;
            }
            text
        });
        out.push(Sample {
            scheduled_ms: (scheduled - start).as_secs_f64() * 1e3,
            latency_ms: (done - scheduled).as_secs_f64() * 1e3,
            kind,
            error,
        });
        k += 1;
    }
    out
}

/// A step of the migration and when it ran (ms since the migration started).
#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub id: usize,
    pub kind: String,
    pub title: String,
    pub start_ms: f64,
    pub ms: f64,
    pub attempts: u32,
}

/// The result of one case × variant.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub case: String,
    pub title: String,
    /// `naive` or `lockstep`.
    pub variant: String,
    pub requests: usize,
    pub failed: usize,
    pub max_ms: f64,
    pub p99_ms: f64,
    pub p50_ms: f64,
    /// Longest insert or update.
    pub max_write_ms: f64,
    /// Requests that took longer than 50 ms and 100 ms.
    pub over_50ms: usize,
    pub over_100ms: usize,
    /// `insert`, `update` or `read`: an update can wait for a row lock a backfill batch
    /// holds, a read never waits for row locks.
    pub slowest_kind: String,
    /// Wall time of the whole migration (every step, backfill included).
    pub migration_ms: f64,
    /// When the slowest request was scheduled and finished, relative to the migration's
    /// start (negative: before it).
    pub slowest_start_ms: f64,
    pub slowest_end_ms: f64,
    /// The step that was running when the slowest request finished (plan variant).
    pub slowest_during: Option<String>,
    /// With `--log-lock-waits`: the server's "still waiting" lines during the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lock_waits: Vec<String>,
    /// Distinct error messages with their counts.
    pub errors: Vec<(String, usize)>,
    /// The plan's steps (empty for naive).
    pub steps: Vec<StepTiming>,
}

/// Everything written to the JSON file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub config: Config,
    pub results: Vec<RunResult>,
}

/// Where the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub postgres: String,
    pub postgres_settings: String,
}

fn memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest-rank: the smallest value with at least p% of the samples at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn catalog_of(sql: &str) -> Catalog {
    let mut c = Catalog::new();
    for s in lockstep::parse::parse_sql(sql) {
        for op in &s.ops {
            c.apply(op);
        }
    }
    c
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Like [`err`] for driver errors, whose `Display` hides the server's message.
fn pg_err(what: &str) -> impl FnOnce(postgres::Error) -> String + '_ {
    move |e| format!("{what}: {}", lockstep::live::connect::error_text(&e))
}

/// Runs the migration of one case × variant on database `db`; returns the step timings.
fn migrate(
    cluster: &Cluster,
    db: &str,
    case: &Case,
    naive: bool,
    cfg: &Config,
) -> Result<Vec<StepTiming>, String> {
    let mut client = cluster.connect(db).map_err(err("connecting"))?;
    if naive {
        // As a migration tool runs it: one transaction, no timeouts.
        let mut tx = client.transaction().map_err(pg_err("BEGIN"))?;
        tx.batch_execute(case.sql)
            .map_err(pg_err("naive migration"))?;
        tx.commit().map_err(pg_err("COMMIT"))?;
        return Ok(Vec::new());
    }
    let plan = plan::plan_sql(
        &catalog_of(SCHEMA),
        case.id,
        case.sql,
        &PlanOptions::default(),
    )
    .map_err(err("planning"))?;
    if cfg.verbose {
        eprintln!("{}", plan::render_md::render(&plan, "plan.yaml"));
    }
    let mut db = Db::from_client(client, db.to_string());
    let opts = ApplyOptions {
        verbose: cfg.verbose,
        ..ApplyOptions::default()
    };
    let report = apply_plan(&mut db, &plan, &opts).map_err(err("applying the plan"))?;
    let mut at = 0.0;
    Ok(report
        .steps
        .iter()
        .map(|s| {
            let ms = s.elapsed.as_secs_f64() * 1e3;
            let t = StepTiming {
                id: s.id,
                kind: match s.kind {
                    StepKind::Sql => "sql",
                    StepKind::Backfill => "backfill",
                    StepKind::Deploy => "deploy",
                }
                .to_string(),
                title: s.title.clone(),
                start_ms: at,
                ms,
                attempts: s.attempts,
            };
            at += ms;
            t
        })
        .collect())
}

/// One case × variant: a fresh copy of the seeded database, the workload, the migration.
fn run_one(cluster: &Cluster, cfg: &Config, case: &Case, naive: bool) -> Result<RunResult, String> {
    let variant = if naive { "naive" } else { "lockstep" };
    let db = format!("bench_{}_{variant}", case.id);
    let mut admin = cluster.connect("postgres").map_err(err("connecting"))?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .map_err(pg_err("dropping an old copy"))?;
    cluster
        .create_database_from(&db, "bench_seed")
        .map_err(err("copying the seeded database"))?;
    // Start from a clean slate: no dirty buffers from the copy flushed mid-run.
    admin
        .batch_execute("CHECKPOINT")
        .map_err(pg_err("CHECKPOINT"))?;

    let log_path = cluster.socket_dir().join("server.log");
    let log_start = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    let mut clients = Vec::new();
    for _ in 0..cfg.threads {
        let mut c = cluster.connect(&db).map_err(err("connecting a worker"))?;
        c.batch_execute(&format!("SET statement_timeout = '{}ms'", cfg.timeout_ms))
            .map_err(pg_err("setting statement_timeout"))?;
        clients.push(c);
    }
    let shared = Arc::new(Shared {
        stop_at: Mutex::new(None),
    });
    let barrier = Arc::new(Barrier::new(cfg.threads + 1));
    let start = Arc::new(Mutex::new(None::<Instant>));
    let mut handles = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let cfg2 = cfg.clone();
        let shared2 = shared.clone();
        let barrier2 = barrier.clone();
        let start2 = start.clone();
        let conn_string = (
            cluster.socket_dir().to_path_buf(),
            cluster.port(),
            db.clone(),
        );
        let timeout = cfg.timeout_ms;
        handles.push(std::thread::spawn(move || {
            barrier2.wait();
            let t0 = start2
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(Instant::now);
            let reconnect = move || {
                let mut c = postgres::Config::new()
                    .host_path(&conn_string.0)
                    .port(conn_string.1)
                    .user(lockstep::pg::SUPERUSER)
                    .dbname(&conn_string.2)
                    .connect(postgres::NoTls)
                    .ok()?;
                c.batch_execute(&format!("SET statement_timeout = '{timeout}ms'"))
                    .ok()?;
                Some(c)
            };
            workload_thread(client, reconnect, i, &cfg2, &shared2, t0)
        }));
    }
    let t0 = Instant::now();
    *start.lock().unwrap_or_else(|p| p.into_inner()) = Some(t0);
    barrier.wait();

    std::thread::sleep(Duration::from_secs_f64(cfg.seconds_before));
    let m0 = Instant::now();
    let migrated = migrate(cluster, &db, case, naive, cfg);
    let migration = m0.elapsed();
    std::thread::sleep(Duration::from_secs_f64(cfg.seconds_after));
    *shared.stop_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    let mut samples = Vec::new();
    for h in handles {
        samples.extend(
            h.join()
                .map_err(|_| "a workload thread panicked".to_string())?,
        );
    }
    let steps = migrated?;
    let lock_waits = if cfg.log_lock_waits {
        let log = std::fs::read(&log_path).unwrap_or_default();
        let start = usize::try_from(log_start).unwrap_or(0).min(log.len());
        String::from_utf8_lossy(&log[start..])
            .lines()
            .filter(|l| l.contains("still waiting for") || l.contains("acquired"))
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .map_err(pg_err("dropping the copy"))?;

    let m0_ms = (m0 - t0).as_secs_f64() * 1e3;
    let mut lat: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    let max_write_ms = samples
        .iter()
        .filter(|s| s.kind != Kind::Read)
        .map(|s| s.latency_ms)
        .fold(0.0, f64::max);
    let slowest = samples
        .iter()
        .max_by(|a, b| a.latency_ms.total_cmp(&b.latency_ms));
    let (slowest_start_ms, slowest_end_ms) = slowest.map_or((0.0, 0.0), |s| {
        (
            s.scheduled_ms - m0_ms,
            s.scheduled_ms + s.latency_ms - m0_ms,
        )
    });
    // The steps whose run overlaps the slowest request's wait (a request blocked by a
    // step finishes just after that step ends, so the overlap matters, not the end).
    let migration_ms = migration.as_secs_f64() * 1e3;
    let slowest_during = if slowest_end_ms < 0.0 {
        Some("before the migration".to_string())
    } else if slowest_start_ms > migration_ms {
        Some("after the migration".to_string())
    } else if naive {
        Some("the migration statement".to_string())
    } else {
        let during: Vec<String> = steps
            .iter()
            .filter(|s| s.start_ms <= slowest_end_ms && s.start_ms + s.ms >= slowest_start_ms)
            .map(|s| format!("step {} ({}): {}", s.id, s.kind, s.title))
            .collect();
        (!during.is_empty()).then(|| during.join(" / "))
    };
    let mut errors: Vec<(String, usize)> = Vec::new();
    for e in samples.iter().filter_map(|s| s.error.as_ref()) {
        match errors.iter_mut().find(|(m, _)| m == e) {
            Some((_, n)) => *n += 1,
            None => errors.push((e.clone(), 1)),
        }
    }
    Ok(RunResult {
        case: case.id.to_string(),
        title: case.title.to_string(),
        variant: variant.to_string(),
        requests: samples.len(),
        failed: samples.iter().filter(|s| s.error.is_some()).count(),
        max_ms: lat.last().copied().unwrap_or(0.0),
        p99_ms: percentile(&lat, 99.0),
        p50_ms: percentile(&lat, 50.0),
        max_write_ms,
        over_50ms: samples.iter().filter(|s| s.latency_ms > 50.0).count(),
        over_100ms: samples.iter().filter(|s| s.latency_ms > 100.0).count(),
        slowest_kind: slowest
            .map(|s| match s.kind {
                Kind::Insert => "insert",
                Kind::Update => "update",
                Kind::Read => "read",
            })
            .unwrap_or("-")
            .to_string(),
        migration_ms,
        slowest_start_ms,
        slowest_end_ms,
        slowest_during,
        lock_waits,
        errors,
        steps,
    })
}

/// Runs the whole benchmark.
pub fn run(cfg: &Config) -> Result<Report, String> {
    if cfg.rows < 1 || cfg.parents < 1 || cfg.threads < 1 || cfg.rate <= 0.0 {
        return Err("--rows, --parents, --threads and --rate must be positive".into());
    }
    let cluster = Cluster::start().map_err(err("starting PostgreSQL"))?;
    cluster
        .create_database("bench_seed")
        .map_err(err("creating the seed database"))?;
    let (postgres_version, settings) = {
        let mut c = cluster.connect("bench_seed").map_err(err("connecting"))?;
        let t = Instant::now();
        c.batch_execute(SCHEMA).map_err(pg_err("schema"))?;
        c.batch_execute(&seed_sql(cfg.rows, cfg.parents))
            .map_err(pg_err("seeding"))?;
        c.batch_execute("VACUUM ANALYZE")
            .map_err(pg_err("VACUUM"))?;
        eprintln!(
            "seeded {} items / {} accounts in {:.1} s",
            cfg.rows,
            cfg.parents,
            t.elapsed().as_secs_f64()
        );
        let v: String = c
            .query_one("SHOW server_version", &[])
            .map_err(pg_err("version"))?
            .get(0);
        let s: String = c
            .query_one(
                "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) \
                 FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', \
                 'max_wal_size', 'autovacuum')",
                &[],
            )
            .map_err(pg_err("settings"))?
            .get(0);
        (v, s)
    };
    if cfg.log_lock_waits {
        let mut c = cluster.connect("postgres").map_err(err("connecting"))?;
        for sql in [
            "ALTER SYSTEM SET log_lock_waits = on",
            "ALTER SYSTEM SET deadlock_timeout = '50ms'",
            "SELECT pg_reload_conf()",
        ] {
            c.batch_execute(sql)
                .map_err(pg_err("enabling log_lock_waits"))?;
        }
    }
    let mut results = Vec::new();
    for case in CASES.iter().filter(|c| {
        cfg.case
            .as_deref()
            .is_none_or(|f| f.split(',').any(|f| c.id.contains(f.trim())))
    }) {
        for naive in [true, false] {
            let r = run_one(&cluster, cfg, case, naive)?;
            eprintln!(
                "{:<28} {:<8} max {:>8.1} ms  p99 {:>7.1} ms  p50 {:>5.1} ms  failed {:>4}/{:<5} >100ms {:>3} migration {:>8.0} ms  slowest {}: {}",
                r.case,
                r.variant,
                r.max_ms,
                r.p99_ms,
                r.p50_ms,
                r.failed,
                r.requests,
                r.over_100ms,
                r.migration_ms,
                r.slowest_kind,
                r.slowest_during.as_deref().unwrap_or("-")
            );
            results.push(r);
        }
    }
    Ok(Report {
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: (memory_gib() * 10.0).round() / 10.0,
            postgres: postgres_version,
            postgres_settings: settings,
        },
        config: cfg.clone(),
        results,
    })
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// The results as a markdown table.
pub fn markdown(report: &Report) -> String {
    let mut out = String::from(
        "| case | variant | longest request | p99 | p50 | failed / requests | migration time |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in &report.results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} / {} | {} |\n",
            r.title,
            r.variant,
            fmt_ms(r.max_ms),
            fmt_ms(r.p99_ms),
            fmt_ms(r.p50_ms),
            r.failed,
            r.requests,
            fmt_ms(r.migration_ms)
        ));
    }
    out
}

/// Runs, prints the table and writes the JSON file.
pub fn run_and_write(cfg: &Config) -> Result<Report, String> {
    let report = run(cfg)?;
    if let Some(dir) = cfg.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err("creating the output folder"))?;
    }
    let json = serde_json::to_string_pretty(&report).map_err(err("JSON"))?;
    std::fs::write(&cfg.out, json + "\n").map_err(err("writing the JSON file"))?;
    Ok(report)
}

fn main() {
    let cfg = Config::parse();
    match run_and_write(&cfg) {
        Ok(report) => {
            println!(
                "\n{} cores, {:.0} GiB RAM, PostgreSQL {} ({}); {} rows, {} connections at {} req/s total, \
                 timeout {} ms, seed {}\n",
                report.machine.cores,
                report.machine.memory_gib,
                report.machine.postgres,
                report.machine.postgres_settings,
                cfg.rows,
                cfg.threads,
                cfg.rate,
                cfg.timeout_ms,
                cfg.seed
            );
            print!("{}", markdown(&report));
            println!("\nJSON: {}", cfg.out.display());
        }
        Err(e) => {
            eprintln!("write_stall: {e}");
            std::process::exit(2);
        }
    }
}
