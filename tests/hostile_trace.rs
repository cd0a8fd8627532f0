//! `dry-run --trace` against hostile migrations: each attack runs the real binary against a
//! throwaway server, and the test asserts what the database owner would check afterwards —
//! the canary table and its rows are there, the sequence did not move, no file appeared,
//! no prepared transaction or replication slot was left behind — plus the exit code and the
//! words on the screen.
//!
//! The cluster is this file's own: prepared transactions are enabled on it (they are off by
//! default, which would hide the `PREPARE TRANSACTION` attack).

use lockstep::live::connect::Db;
use lockstep::pg::{Cluster, PgError};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const UNCHANGED: &str = "rolled back: the database is unchanged";

fn cluster() -> Option<&'static Cluster> {
    static C: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match C.get_or_init(start_cluster) {
        Ok(c) => Some(c),
        Err(e) if e.contains("no PostgreSQL server binaries") => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A cluster with `max_prepared_transactions = 4` (a restart is needed for that setting).
fn start_cluster() -> Result<Cluster, String> {
    let c = Cluster::start().map_err(|e: PgError| e.to_string())?;
    let mut client = c.connect("postgres").map_err(|e| e.to_string())?;
    client
        .batch_execute("ALTER SYSTEM SET max_prepared_transactions = 4")
        .map_err(|e| e.to_string())?;
    let data: String = client
        .query_one("SHOW data_directory", &[])
        .map_err(|e| e.to_string())?
        .get(0);
    drop(client);
    let bin = lockstep::pg::find_bin_dir().map_err(|e| e.to_string())?;
    let log = Path::new(&data)
        .parent()
        .unwrap_or(Path::new(&data))
        .join("restart.log");
    let root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mut cmd = if root.unwrap_or(false) {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join("pg_ctl"));
        c
    } else {
        Command::new(bin.join("pg_ctl"))
    };
    cmd.current_dir(Path::new(&data).parent().unwrap_or(Path::new("/")))
        .args(["restart", "-w", "-t", "60", "-m", "fast", "-D"])
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let status = cmd.status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("pg_ctl restart failed: {status}"));
    }
    Ok(c)
}

fn fresh_database(c: &Cluster) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "hostile_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    c.create_database(&name).expect("create database");
    let mut client = c.connect(&name).expect("connect");
    client
        .batch_execute(
            "CREATE TABLE canary (id serial PRIMARY KEY, v text NOT NULL); \
             INSERT INTO canary (v) VALUES ('alive'), ('well');",
        )
        .expect("canary");
    name
}

/// What the database owner looks at after the run.
#[derive(Debug, PartialEq, Eq)]
struct State {
    canary_rows: Option<i64>,
    sequence: Option<(i64, bool)>,
    prepared: Vec<String>,
    slots: Vec<String>,
    reltuples: Option<String>,
}

fn state(c: &Cluster, name: &str) -> State {
    let mut client = c.connect(name).expect("connect");
    let exists: bool = client
        .query_one("SELECT to_regclass('public.canary') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    let canary_rows = exists.then(|| {
        client
            .query_one("SELECT count(*) FROM canary", &[])
            .unwrap()
            .get(0)
    });
    let seq_exists: bool = client
        .query_one(
            "SELECT to_regclass('public.canary_id_seq') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    let sequence = seq_exists.then(|| {
        let r = client
            .query_one("SELECT last_value, is_called FROM canary_id_seq", &[])
            .unwrap();
        (r.get(0), r.get(1))
    });
    let prepared = client
        .query("SELECT gid FROM pg_prepared_xacts ORDER BY gid", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let slots = client
        .query(
            "SELECT slot_name::text FROM pg_replication_slots ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let reltuples = client
        .query_opt(
            "SELECT reltuples::text FROM pg_class WHERE oid = to_regclass('public.canary')",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0));
    State {
        canary_rows,
        sequence,
        prepared,
        slots,
        reltuples,
    }
}

/// Undoes what an attack that got through left behind, so one failing test does not
/// poison the others (prepared transactions hold locks; slots hold WAL).
fn clean_up(c: &Cluster, name: &str) {
    let mut client = c.connect(name).expect("connect");
    let gids: Vec<String> = client
        .query("SELECT gid FROM pg_prepared_xacts", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for g in gids {
        let _ = client.batch_execute(&format!("ROLLBACK PREPARED '{}'", g.replace('\'', "''")));
    }
    let _ = client
        .batch_execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots");
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn lockstep(args: &[&str]) -> Run {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run lockstep");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: t.elapsed(),
    }
}

/// Writes `files` into a fresh folder and traces them against a fresh database.
fn attack(layout: &str, files: &[(&str, &str)], extra: &[&str]) -> Option<(Run, State, State)> {
    let c = cluster()?;
    let name = fresh_database(c);
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    let before = state(c, &name);
    let url = c.conn_string(&name);
    let folder = dir.path().display().to_string();
    let mut args = vec![
        "dry-run",
        folder.as_str(),
        "--layout",
        layout,
        "--trace",
        "--database-url",
        url.as_str(),
        "--block-budget",
        "2s",
        "--lock-timeout",
        "500ms",
    ];
    args.extend_from_slice(extra);
    let run = lockstep(&args);
    // Shown with --nocapture.
    println!("{}", run.text());
    let after = state(c, &name);
    clean_up(c, &name);
    Some((run, before, after))
}

/// The splitter tricks: after the attack the canary is there, nothing claims an escape, and
/// the smuggled COMMIT was either refused by the server as part of a multi-command string
/// or recognised as transaction control.
fn assert_smuggle_refused(run: &Run, before: &State, after: &State) {
    assert_eq!(after, before, "the database changed\n{}", run.text());
    assert!(run.code == 0 || run.code == 1, "exit code\n{}", run.text());
    assert!(run.stdout.contains(UNCHANGED), "{}", run.text());
    assert!(
        run.stdout.contains("several commands") || run.stdout.contains("transaction control"),
        "the smuggled COMMIT must be named\n{}",
        run.text()
    );
}

#[test]
fn commit_hidden_behind_a_template_placeholder_that_hides_a_comment_end() {
    // The placeholder `{{ .x */ --}}` hides the `*/` that closes the comment for the server.
    let sql = "SELECT 1 /* {{ .x */ --}}\n; COMMIT; DROP TABLE canary; SELECT 2 AS y -- */\n, 3;\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_t.up.sql", sql)], &[])
    else {
        return;
    };
    assert_smuggle_refused(&run, &before, &after);
}

#[test]
fn commit_hidden_in_a_string_read_without_standard_conforming_strings() {
    let sql = "SET standard_conforming_strings = off;\n\
               SELECT '\\''; COMMIT; DROP TABLE canary; SELECT '\\'';\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_s.up.sql", sql)], &[])
    else {
        return;
    };
    assert_smuggle_refused(&run, &before, &after);
}

#[test]
fn transaction_end_hidden_behind_begin_used_as_an_identifier() {
    // `begin` as a parameter name opens a BEGIN … END block for the splitter; the server
    // sees three commands. PREPARE TRANSACTION ends the trace's transaction like a COMMIT.
    let sql = "CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS 'SELECT 1'; \
               PREPARE TRANSACTION 'lockstep_b'; DROP TABLE canary; SELECT 1 AS end;\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_b.up.sql", sql)], &[])
    else {
        return;
    };
    assert_smuggle_refused(&run, &before, &after);
}

#[test]
fn transaction_end_inside_a_goose_statement_region() {
    let sql = "-- +goose Up\n-- +goose StatementBegin\n\
               SELECT 1; PREPARE TRANSACTION 'lockstep_g'; DROP TABLE canary;\n\
               -- +goose StatementEnd\n";
    let Some((run, before, after)) = attack("goose", &[("00001_g.sql", sql)], &[]) else {
        return;
    };
    assert_smuggle_refused(&run, &before, &after);
}

#[test]
fn prepare_transaction_is_transaction_control_and_leaves_nothing_prepared() {
    let sql = "PREPARE TRANSACTION 'lockstep_hostile';\nDROP TABLE canary;\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_p.up.sql", sql)], &[])
    else {
        return;
    };
    assert_eq!(after, before, "{}", run.text());
    assert!(after.prepared.is_empty());
    // 1: the rules report the DROP TABLE; never 3 (escaped) or 2 (error).
    assert!(matches!(run.code, 0 | 1), "{}", run.text());
    assert!(run.stdout.contains("transaction control"), "{}", run.text());
    assert!(run.stdout.contains(UNCHANGED), "{}", run.text());
}

#[test]
fn copy_to_program_is_not_run() {
    let target = tempfile::tempdir().unwrap();
    // Writable by the server's OS user, so only lockstep stands between the attack and the file.
    std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let touched = target.path().join("pwned");
    let sql = format!(
        "COPY (SELECT 1) TO PROGRAM 'touch {}';\n",
        touched.display()
    );
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_c.up.sql", &sql)], &[])
    else {
        return;
    };
    assert!(!touched.exists(), "the shell command ran\n{}", run.text());
    assert_eq!(after, before);
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.stdout.contains("not traced"), "{}", run.text());
    assert!(run.stdout.contains("program"), "{}", run.text());
}

#[test]
fn server_file_reads_are_not_run() {
    let sql = "CREATE TABLE loot AS SELECT pg_read_file('/etc/hostname') AS f;\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_r.up.sql", sql)], &[])
    else {
        return;
    };
    assert_eq!(after, before);
    assert!(
        run.stdout.contains("not traced") && run.stdout.contains("server-files"),
        "{}",
        run.text()
    );
    assert!(run.stdout.contains("pg_read_file"), "{}", run.text());
}

#[test]
fn sequences_are_not_advanced() {
    let sql = "SELECT setval('canary_id_seq', 1000);\nSELECT nextval('canary_id_seq');\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_q.up.sql", sql)], &[])
    else {
        return;
    };
    assert_eq!(after.sequence, before.sequence, "{}", run.text());
    assert_eq!(after, before);
    assert!(run.stdout.contains("sequences"), "{}", run.text());
}

#[test]
fn sequences_move_only_when_the_user_allows_it() {
    let sql = "SELECT nextval('canary_id_seq');\n";
    let Some((run, before, after)) = attack(
        "golang-migrate",
        &[("000001_q.up.sql", sql)],
        &["--trace-allow", "sequences"],
    ) else {
        return;
    };
    // Allowed: traced, and the sequence really moved (PostgreSQL never rolls nextval back).
    assert_ne!(after.sequence, before.sequence, "{}", run.text());
    assert_eq!(run.code, 0, "{}", run.text());
}

#[test]
fn replication_slots_are_not_created() {
    let sql = "SELECT pg_create_physical_replication_slot('lockstep_hostile', true);\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_l.up.sql", sql)], &[])
    else {
        return;
    };
    assert!(after.slots.is_empty(), "{}", run.text());
    assert_eq!(after, before);
    assert!(run.stdout.contains("replication"), "{}", run.text());
}

#[test]
fn analyze_is_not_run() {
    let sql = "ANALYZE canary;\n";
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_a.up.sql", sql)], &[])
    else {
        return;
    };
    // ANALYZE writes reltuples in place: a rollback does not undo it.
    assert_eq!(after.reltuples, before.reltuples, "{}", run.text());
    assert!(run.stdout.contains("statistics"), "{}", run.text());
}

#[test]
fn a_lock_taken_inside_a_do_block_is_bounded_by_the_block_budget() {
    let Some(c) = cluster() else { return };
    let name = fresh_database(c);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("000001_do.up.sql"),
        "DO $$ BEGIN EXECUTE 'LOCK TABLE canary IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5)'; END $$;\n",
    )
    .unwrap();
    // A writer that notices how long it is blocked.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let name = name.clone();
        std::thread::spawn(move || {
            let mut client = cluster().unwrap().connect(&name).unwrap();
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                client
                    .execute("INSERT INTO canary (v) VALUES ('w')", &[])
                    .unwrap();
                worst = worst.max(t.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
            worst
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let url = c.conn_string(&name);
    let folder = dir.path().display().to_string();
    let run = lockstep(&[
        "dry-run",
        &folder,
        "--layout",
        "golang-migrate",
        "--trace",
        "--database-url",
        &url,
        "--block-budget",
        "1s",
        "--statement-timeout",
        "30s",
    ]);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let worst = writer.join().unwrap();
    assert!(
        worst < Duration::from_millis(2500),
        "a writer was blocked for {worst:?}\n{}",
        run.text()
    );
    assert!(run.elapsed < Duration::from_secs(4), "{}", run.text());
    assert!(run.stdout.contains("block budget"), "{}", run.text());
    assert!(run.stdout.contains(UNCHANGED), "{}", run.text());
}

#[test]
fn the_guard_notices_when_the_transaction_is_no_longer_ours() {
    let Some(c) = cluster() else { return };
    let name = fresh_database(c);
    let mut db = Db::from_client(c.connect(&name).unwrap(), "test");
    db.batch("begin", "BEGIN").unwrap();
    let guard = lockstep::live::trace::TxGuard::take(&mut db).unwrap();
    assert!(guard.still_ours(&mut db).unwrap());
    // What a smuggled `COMMIT; …; BEGIN` would leave: a new transaction.
    db.batch("escape", "COMMIT; BEGIN").unwrap();
    assert!(!guard.still_ours(&mut db).unwrap());
    db.batch("escape", "COMMIT").unwrap();
    // And outside any transaction block.
    assert!(!guard.still_ours(&mut db).unwrap());
}

#[test]
fn the_scratch_cluster_replays_the_history_without_superuser_rights() {
    if cluster().is_none() {
        return;
    }
    let target = tempfile::tempdir().unwrap();
    std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let touched = target.path().join("pwned-by-history");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("000001_h.up.sql"),
        format!(
            "CREATE TABLE t (id int);\nCOPY (SELECT 1) TO PROGRAM 'touch {}';\n",
            touched.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("000002_n.up.sql"),
        "ALTER TABLE t ADD COLUMN n int;\n",
    )
    .unwrap();
    let folder = dir.path().display().to_string();
    let run = lockstep(&[
        "dry-run",
        &folder,
        "--layout",
        "golang-migrate",
        "--scratch",
        "--pending",
        "1",
    ]);
    assert!(
        !touched.exists(),
        "the history ran a shell command\n{}",
        run.text()
    );
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.stdout.contains("failed to replay"), "{}", run.text());
}

/// Whatever the splitter does, a text the server reads as several commands is refused as a
/// whole: the trace sends each statement with the extended protocol.
#[test]
fn a_statement_the_splitter_glued_is_refused_by_the_server() {
    use lockstep::analyze::{AnalyzedScript, AnalyzedStatement};
    use lockstep::live::trace::{self, TraceOptions, TraceStatus};
    use lockstep::parse::ParsedBy;
    use lockstep::rules::Direction;
    let Some(c) = cluster() else { return };
    let name = fresh_database(c);
    let before = state(c, &name);
    let sql = "SELECT 1; COMMIT; DROP TABLE canary";
    let path = std::path::PathBuf::from("000001_glued.up.sql");
    let script = AnalyzedScript {
        migration: "000001_glued".into(),
        path: path.clone(),
        direction: Direction::Up,
        in_transaction: true,
        statements: vec![AnalyzedStatement {
            span: 0..sql.len(),
            ops: Vec::new(),
            locks: Vec::new(),
            parsed_by: ParsedBy::Unparsed,
        }],
    };
    let sources = std::collections::BTreeMap::from([(path, std::sync::Arc::<str>::from(sql))]);
    let mut db = Db::from_client(c.connect(&name).unwrap(), "test");
    let opts = TraceOptions {
        lock_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(5),
        block_budget: Some(Duration::from_secs(2)),
    };
    let r = trace::run(&mut db, "test", &[&script], &sources, &opts).expect("trace");
    assert!(
        matches!(&r.statements[0].status, TraceStatus::Misread(why) if why.contains("several commands")),
        "{:?}",
        r.statements[0].status
    );
    assert!(r.rolled_back && r.escaped.is_none(), "{r:?}");
    assert_eq!(state(c, &name), before);
    let text = lockstep::live::dry_run::render_trace(&r);
    assert!(
        text.contains("several commands") && text.contains(UNCHANGED),
        "{text}"
    );
}

#[test]
fn an_escaped_trace_never_claims_the_database_is_unchanged() {
    use lockstep::live::trace::TraceReport;
    let r = TraceReport {
        target: "test".into(),
        lock_timeout_ms: 100,
        block_budget_ms: Some(100),
        statements: Vec::new(),
        stopped: None,
        blocking_ms: 0.0,
        rolled_back: true,
        escaped: Some("after m line 3 the trace was no longer inside its own transaction".into()),
        notes: Vec::new(),
    };
    let text = lockstep::live::dry_run::render_trace(&r);
    assert!(
        text.contains("the database may have been changed"),
        "{text}"
    );
    assert!(!text.contains("unchanged"), "{text}");
}

#[test]
fn a_function_defined_by_the_migration_is_checked_before_it_is_called() {
    let target = tempfile::tempdir().unwrap();
    std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let touched = target.path().join("pwned-by-function");
    let sql = format!(
        "CREATE FUNCTION harmless() RETURNS void LANGUAGE plpgsql AS $$\n\
         BEGIN COPY (SELECT 1) TO PROGRAM 'touch {}'; END $$;\n\
         SELECT harmless();\n",
        touched.display()
    );
    let Some((run, before, after)) = attack("golang-migrate", &[("000001_f.up.sql", &sql)], &[])
    else {
        return;
    };
    assert!(
        !touched.exists(),
        "the function ran a shell command\n{}",
        run.text()
    );
    assert_eq!(after, before);
    assert!(
        run.stdout.contains("harmless()") && run.stdout.contains("--trace-allow program"),
        "{}",
        run.text()
    );
}
