//! The trace: real locks and rewrites next to the predicted ones, always rolled back, and
//! never blocking a concurrent writer for longer than the lock_timeout plus a small margin.

mod live_support;

use live_support::{checksum, cluster, database, db, write_files};
use lockstep::live::dry_run;
use lockstep::live::trace::{self, TraceOptions, TraceReport, TraceStatus};
use lockstep::rules::Direction;
use lockstep::settings::Settings;
use lockstep::source::{self, Layout};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Traces the pending migrations of a golang-migrate folder (migration 1 applied).
fn trace_folder(dir: &Path, dbname: &str, opts: &TraceOptions) -> TraceReport {
    let c = cluster().expect("cluster");
    let loaded = source::load(&[dir.to_path_buf()], Some(Layout::GolangMigrate), &[]).unwrap();
    let pending: Vec<String> = loaded.migrations[1..]
        .iter()
        .map(|m| m.id.clone())
        .collect();
    let analysis = dry_run::analyze_pending(&loaded.migrations, &Settings::default(), &pending);
    let scripts: Vec<_> = analysis
        .scripts
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .collect();
    let mut conn = db(c, dbname);
    trace::run(&mut conn, "test", &scripts, &analysis.sources, opts).expect("trace")
}

const INIT: &str = "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL, note text);";

fn setup(rows: u64) -> (String, tempfile::TempDir) {
    let c = cluster().expect("cluster");
    let name = database(c, "trace");
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{INIT} INSERT INTO items SELECT g, g % 1000, 'note ' || g FROM generate_series(1, {rows}) g; ANALYZE items;"
        ))
        .unwrap();
    (name, tempfile::tempdir().unwrap())
}

#[test]
fn trace_reports_real_locks_and_rewrites_then_rolls_back() {
    let Some(c) = cluster() else { return };
    let (name, dir) = setup(2000);
    write_files(
        dir.path(),
        &[
            ("000001_init.up.sql", INIT),
            (
                "000002_change.up.sql",
                "CREATE INDEX items_note_idx ON items (note);\n\
                 ALTER TABLE items ALTER COLUMN n TYPE bigint;\n\
                 ALTER TABLE items ADD COLUMN extra text;\n",
            ),
            (
                "000003_concurrently.up.sql",
                "CREATE INDEX CONCURRENTLY items_n_idx ON items (n);\n",
            ),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    let before = checksum(&mut client);
    let opts = TraceOptions {
        lock_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(30),
        block_budget: Some(Duration::from_secs(20)),
    };
    let r = trace_folder(dir.path(), &name, &opts);
    assert!(r.rolled_back);
    assert!(r.stopped.is_none(), "{:?}", r.stopped);
    let st = &r.statements;
    assert_eq!(st.len(), 4);
    // CREATE INDEX: SHARE on the table, no rewrite.
    assert_eq!(st[0].status, TraceStatus::Traced);
    let share = st[0]
        .observed
        .iter()
        .find(|o| o.table.name == "items")
        .expect("lock on items");
    assert_eq!(share.mode.as_str(), "SHARE");
    assert!(!share.rewritten);
    // The type change rewrites: a new relfilenode, ACCESS EXCLUSIVE.
    let ae = st[1]
        .observed
        .iter()
        .find(|o| o.table.name == "items")
        .expect("lock on items");
    assert_eq!(ae.mode.as_str(), "ACCESS EXCLUSIVE");
    assert!(ae.rewritten, "{:?}", st[1]);
    // ADD COLUMN: nothing new, the lock is already held; no rewrite.
    assert!(st[2].observed.iter().all(|o| !o.rewritten), "{:?}", st[2]);
    for s in &st[..3] {
        assert!(s.mismatches.is_empty(), "{}: {:?}", s.sql, s.mismatches);
    }
    assert!(
        matches!(&st[3].status, TraceStatus::NotTraced(why) if why.contains("transaction block"))
    );
    let text = dry_run::render_trace(&r);
    assert!(text.contains("not traced"), "{text}");
    assert!(text.contains("(rewritten)"), "{text}");
    assert_eq!(
        checksum(&mut client),
        before,
        "the trace must leave nothing behind"
    );
}

/// Runs a writer that inserts one row at a time until `stop`, returning its slowest insert.
fn writer(name: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        let c = cluster().unwrap();
        let mut client = c.connect(&name).unwrap();
        let mut worst = Duration::ZERO;
        let mut id: i64 = 10_000_000;
        while !stop.load(Ordering::SeqCst) {
            id += 1;
            let t = Instant::now();
            client
                .execute("INSERT INTO items (id, n) VALUES ($1, 1)", &[&id])
                .unwrap();
            worst = worst.max(t.elapsed());
            std::thread::sleep(Duration::from_millis(2));
        }
        worst
    })
}

#[test]
fn a_rewrite_on_a_populated_table_gives_up_instead_of_blocking_writers() {
    let Some(c) = cluster() else { return };
    let (name, dir) = setup(600_000);
    write_files(
        dir.path(),
        &[
            ("000001_init.up.sql", INIT),
            (
                "000002_widen.up.sql",
                "ALTER TABLE items ALTER COLUMN n TYPE bigint;\nALTER TABLE items ADD COLUMN later int;\n",
            ),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(name.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let lock_timeout = Duration::from_millis(100);
    let opts = TraceOptions {
        lock_timeout,
        statement_timeout: Duration::from_secs(30),
        block_budget: Some(lock_timeout),
    };
    let r = trace_folder(dir.path(), &name, &opts);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let worst = w.join().unwrap();
    assert!(
        matches!(r.statements[0].status, TraceStatus::GaveUp(_)),
        "{:?}",
        r.statements[0]
    );
    assert_eq!(r.statements[1].status, TraceStatus::NotReached);
    assert!(
        r.stopped.as_deref().is_some_and(|s| s.contains("gave up")),
        "{:?}",
        r.stopped
    );
    assert!(r.rolled_back);
    let margin = Duration::from_millis(250);
    assert!(
        worst <= lock_timeout + margin,
        "a writer waited {worst:?}, more than lock_timeout {lock_timeout:?} + {margin:?}"
    );
    eprintln!("slowest concurrent insert during the trace: {worst:?}");
    let typ: String = client
        .query_one("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'n'", &[])
        .unwrap()
        .get(0);
    assert_eq!(typ, "integer", "the rewrite must have been rolled back");
}

#[test]
fn a_lock_held_by_another_session_times_out_quickly() {
    let Some(c) = cluster() else { return };
    let (name, dir) = setup(1000);
    write_files(
        dir.path(),
        &[
            ("000001_init.up.sql", INIT),
            (
                "000002_add.up.sql",
                "ALTER TABLE items ADD COLUMN flag boolean;\nCREATE TABLE other (id int);\n",
            ),
        ],
    );
    // A long transaction holds ROW EXCLUSIVE on items.
    let mut holder = c.connect(&name).unwrap();
    let mut tx = holder.transaction().unwrap();
    tx.execute("INSERT INTO items (id, n) VALUES (-1, 1)", &[])
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(name.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let lock_timeout = Duration::from_millis(100);
    let opts = TraceOptions {
        lock_timeout,
        statement_timeout: Duration::from_secs(30),
        block_budget: Some(lock_timeout),
    };
    let t = Instant::now();
    let r = trace_folder(dir.path(), &name, &opts);
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let worst = w.join().unwrap();
    tx.rollback().unwrap();
    assert_eq!(
        r.statements[0].status,
        TraceStatus::LockTimeout,
        "{:?}",
        r.statements[0]
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        worst <= lock_timeout + Duration::from_millis(250),
        "writer waited {worst:?}"
    );
    let text = dry_run::render_trace(&r);
    assert!(text.contains("lock not granted within 100 ms"), "{text}");
}

#[test]
fn scratch_trace_needs_no_server() {
    let Some(_) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("000001_init.up.sql", INIT),
            (
                "000002_idx.up.sql",
                "ALTER TABLE items ALTER COLUMN n TYPE bigint;\n",
            ),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args([
            "dry-run",
            "--scratch",
            "--format",
            "json",
            "--layout",
            "golang-migrate",
        ])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGDATABASE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 0, or 1 when the pending migration has findings at error severity (a type change on
    // a table of unknown size is one); never an error (2) or a lost transaction (3).
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let st = &v["trace"]["statements"][0];
    assert_eq!(st["status"], "traced", "{st}");
    assert_eq!(st["observed"][0]["mode"], "ACCESS EXCLUSIVE");
    assert_eq!(st["observed"][0]["rewritten"], true);
    assert_eq!(v["history"]["pending"][0], "000002_idx");
}
