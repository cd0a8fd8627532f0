//! `dry-run` against real databases on a throwaway cluster: pending detection per history
//! format, sizes, never-analysed tables, the constant query count, drift, and that the
//! database is untouched.

mod live_support;

use live_support::{checksum, cluster, database, db, write_files};
use lockstep::live::dry_run::{self, DryRunOptions, DryRunReport};
use lockstep::settings::Settings;
use lockstep::source::{self, Layout};
use std::path::Path;
use std::time::{Duration, Instant};

fn options(layout: Layout) -> DryRunOptions {
    DryRunOptions {
        layout,
        history_table: None,
        exact_counts: false,
        throughput: lockstep::live::DEFAULT_THROUGHPUT,
        statement_timeout: Duration::from_secs(30),
    }
}

fn inspect(dir: &Path, dbname: &str, opts: &DryRunOptions) -> DryRunReport {
    let c = cluster().expect("cluster");
    let loaded = source::load(&[dir.to_path_buf()], Some(opts.layout), &[]).expect("load");
    let mut conn = db(c, dbname);
    let (report, _, _) =
        dry_run::inspect(&mut conn, &loaded.migrations, &Settings::default(), opts)
            .expect("dry-run");
    report
}

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);";
const ADD_NAME: &str = "ALTER TABLE users ADD COLUMN name text;";
const INDEX: &str = "CREATE INDEX users_email_idx ON users (email);";

#[test]
fn pending_from_diesel_history() {
    let Some(c) = cluster() else { return };
    let name = database(c, "diesel");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("2024-01-01-000000_users/up.sql", USERS),
            ("2024-01-01-000000_users/down.sql", "DROP TABLE users;"),
            ("2024-01-02-000000_name/up.sql", ADD_NAME),
            (
                "2024-01-02-000000_name/down.sql",
                "ALTER TABLE users DROP COLUMN name;",
            ),
            ("2024-01-03-000000_idx/up.sql", INDEX),
            (
                "2024-01-03-000000_idx/down.sql",
                "DROP INDEX users_email_idx;",
            ),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{USERS} {ADD_NAME} CREATE TABLE __diesel_schema_migrations (version varchar(50) PRIMARY KEY, run_on timestamp NOT NULL DEFAULT now());
             INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101000000'), ('20240102000000');"
        ))
        .unwrap();
    let r = inspect(dir.path(), &name, &options(Layout::Diesel));
    assert!(r.history.found);
    assert_eq!(r.history.pending, ["2024-01-03-000000_idx"]);
    assert_eq!(r.history.applied.len(), 2);
    assert!(r.drift.is_empty(), "{:?}", r.drift);
    assert_eq!(r.statements.len(), 1);
    assert_eq!(r.statements[0].locks[0].mode.as_str(), "SHARE");
}

#[test]
fn pending_from_goose_history_honours_down_migrations() {
    let Some(c) = cluster() else { return };
    let name = database(c, "goose");
    let dir = tempfile::tempdir().unwrap();
    let goose = |sql: &str| format!("-- +goose Up\n{sql}\n-- +goose Down\nSELECT 1;\n");
    write_files(
        dir.path(),
        &[
            ("00001_users.sql", &goose(USERS)),
            ("00002_name.sql", &goose(ADD_NAME)),
            ("00003_idx.sql", &goose(INDEX)),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    // Version 2 was applied, then rolled back by `goose down`.
    client
        .batch_execute(&format!(
            "{USERS} CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
             INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (2, false);"
        ))
        .unwrap();
    let r = inspect(dir.path(), &name, &options(Layout::Goose));
    assert_eq!(r.history.pending.len(), 2, "{:?}", r.history);
    assert!(
        r.history.pending[0].contains("name"),
        "{:?}",
        r.history.pending
    );
    assert!(r.history.pending[1].contains("idx"));
}

#[test]
fn pending_from_golang_migrate_single_row_and_dirty_flag() {
    let Some(c) = cluster() else { return };
    let name = database(c, "gm");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("000001_users.up.sql", USERS),
            ("000001_users.down.sql", "DROP TABLE users;"),
            ("000002_name.up.sql", ADD_NAME),
            ("000002_name.down.sql", "SELECT 1;"),
            ("000010_idx.up.sql", INDEX),
            ("000010_idx.down.sql", "SELECT 1;"),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{USERS} {ADD_NAME} CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
             INSERT INTO schema_migrations VALUES (2, true);"
        ))
        .unwrap();
    let r = inspect(dir.path(), &name, &options(Layout::GolangMigrate));
    // 10 > 2 numerically, though "10" < "2" as text.
    assert_eq!(r.history.pending.len(), 1, "{:?}", r.history);
    assert!(r.history.pending[0].contains("idx"));
    assert!(
        r.history.notes.iter().any(|n| n.contains("dirty")),
        "{:?}",
        r.history.notes
    );
}

#[test]
fn pending_from_flyway_and_sqlx_histories() {
    let Some(c) = cluster() else { return };
    // flyway: only successful rows count.
    let name = database(c, "flyway");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("V1__users.sql", USERS),
            ("V1_1__name.sql", ADD_NAME),
            ("V2__idx.sql", INDEX),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            r#"{USERS} CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50),
                 description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL,
                 checksum int, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
                 execution_time int NOT NULL, success boolean NOT NULL);
               INSERT INTO flyway_schema_history VALUES
                 (1, '1', 'users', 'SQL', 'V1__users.sql', 1, 'me', now(), 5, true),
                 (2, '1.1', 'name', 'SQL', 'V1_1__name.sql', 1, 'me', now(), 5, false);"#
        ))
        .unwrap();
    let r = inspect(dir.path(), &name, &options(Layout::Flyway));
    assert_eq!(
        r.history.pending,
        ["V1_1__name", "V2__idx"],
        "{:?}",
        r.history
    );

    // sqlx
    let name = database(c, "sqlx");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("20240101000000_users.sql", USERS),
            ("20240102000000_name.sql", ADD_NAME),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{USERS} CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL,
               installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, checksum bytea NOT NULL,
               execution_time bigint NOT NULL);
             INSERT INTO _sqlx_migrations VALUES (20240101000000, 'users', now(), true, '\\x00', 1);"
        ))
        .unwrap();
    let r = inspect(dir.path(), &name, &options(Layout::Sqlx));
    assert_eq!(
        r.history.pending,
        ["20240102000000_name"],
        "{:?}",
        r.history
    );
}

#[test]
fn missing_history_table_means_everything_pending_and_drift_is_reported() {
    let Some(c) = cluster() else { return };
    let name = database(c, "nohist");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("2024-01-01-000000_users/up.sql", USERS),
            (
                "2024-01-02-000000_orders/up.sql",
                "ALTER TABLE orders ADD COLUMN note text;\nALTER TABLE legacy ADD COLUMN email text;",
            ),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute("CREATE TABLE users (id int); CREATE TABLE legacy (id int, email text);")
        .unwrap();
    let r = inspect(dir.path(), &name, &options(Layout::Diesel));
    assert!(!r.history.found);
    assert_eq!(r.history.pending.len(), 2);
    assert!(r.history.notes.iter().any(|n| n.contains("does not exist")));
    let kinds: Vec<(&str, &str)> = r
        .drift
        .iter()
        .map(|d| (d.kind.as_str(), d.object.as_str()))
        .collect();
    assert!(kinds.contains(&("exists", "public.users")), "{kinds:?}");
    assert!(kinds.contains(&("missing", "public.orders")), "{kinds:?}");
    assert!(
        kinds.contains(&("exists", "public.legacy.email")),
        "{kinds:?}"
    );
    // Nothing is applied, so both tables are unexpected for the (empty) applied history.
    assert!(
        kinds.contains(&("unexpected", "public.legacy")),
        "{kinds:?}"
    );
    let pretty = dry_run::render_pretty(&r);
    assert!(pretty.contains("expects table orders"), "{pretty}");
}

#[test]
fn sizes_of_populated_tables_and_unknown_for_never_analysed() {
    let Some(c) = cluster() else { return };
    let name = database(c, "sizes");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "000001_init.up.sql",
                "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE TABLE fresh (id int) WITH (autovacuum_enabled = false);",
            ),
            (
                "000002_change.up.sql",
                "ALTER TABLE users ALTER COLUMN id TYPE numeric;\nCREATE INDEX fresh_id ON fresh (id);",
            ),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);
             CREATE TABLE fresh (id int) WITH (autovacuum_enabled = false);
             INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 20000) g;
             INSERT INTO fresh SELECT generate_series(1, 123);
             ANALYZE users;
             CREATE TABLE schema_migrations (version bigint, dirty boolean); INSERT INTO schema_migrations VALUES (1, false);",
        )
        .unwrap();
    // Cumulative statistics reach shared memory when the writing session reports them.
    client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .unwrap();
    client.batch_execute("SELECT 1").unwrap();
    let real_bytes: i64 = client
        .query_one("SELECT pg_total_relation_size('users')", &[])
        .unwrap()
        .get(0);
    let r = inspect(dir.path(), &name, &options(Layout::GolangMigrate));
    let users = r
        .tables
        .iter()
        .find(|t| t.table.name == "users")
        .expect("users stats");
    assert_eq!(users.estimated_rows, Some(20000));
    assert_eq!(users.total_bytes, Some(real_bytes as u64));
    assert_eq!(users.live_tuples, Some(20000));
    assert!(users.last_analyze.is_some());
    let fresh = r
        .tables
        .iter()
        .find(|t| t.table.name == "fresh")
        .expect("fresh stats");
    assert_eq!(
        fresh.estimated_rows, None,
        "never analysed must not read as 0 or -1"
    );
    let lock = &r.statements[0].locks[0];
    assert!(lock.rewrite);
    assert_eq!(lock.rows, Some(20000));
    assert!(lock.estimated_seconds.is_some_and(|s| s > 0.0));
    let fresh_lock = &r.statements[1].locks[0];
    assert_eq!(fresh_lock.rows_source, "unknown (never analysed)");
    let pretty = dry_run::render_pretty(&r);
    assert!(pretty.contains("unknown (never analysed)"), "{pretty}");
    assert!(pretty.contains("ACCESS EXCLUSIVE"), "{pretty}");
    assert!(pretty.contains("est. = size"), "{pretty}");

    // --exact-counts fills in the real count with one more statement.
    let mut opts = options(Layout::GolangMigrate);
    opts.exact_counts = true;
    let exact = inspect(dir.path(), &name, &opts);
    let fresh = exact
        .tables
        .iter()
        .find(|t| t.table.name == "fresh")
        .unwrap();
    assert_eq!(fresh.exact_rows, Some(123));
    assert_eq!(exact.queries, r.queries + 1);
    let json: serde_json::Value = serde_json::from_str(&dry_run::render_json(&exact)).unwrap();
    assert_eq!(json["queries"], exact.queries);
    assert_eq!(json["statements"][1]["locks"][0]["rows"], 123);
}

/// Builds a golang-migrate folder and database with `n` tables created by migration 1
/// (applied) and altered by migration 2 (pending), and returns the dry-run report.
fn many_tables(n: usize) -> (DryRunReport, Duration) {
    let c = cluster().expect("cluster");
    let name = database(c, &format!("many{n}"));
    let dir = tempfile::tempdir().unwrap();
    let create: String = (1..=n)
        .map(|i| format!("CREATE TABLE t{i} (id int PRIMARY KEY);\n"))
        .collect();
    let alter: String = (1..=n)
        .map(|i| format!("ALTER TABLE t{i} ADD COLUMN c int;\n"))
        .collect();
    write_files(
        dir.path(),
        &[
            ("000001_create.up.sql", &create),
            ("000002_alter.up.sql", &alter),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{create} CREATE TABLE schema_migrations (version bigint, dirty boolean); INSERT INTO schema_migrations VALUES (1, false);"
        ))
        .unwrap();
    let t = Instant::now();
    let r = inspect(dir.path(), &name, &options(Layout::GolangMigrate));
    let took = t.elapsed();
    // The statistics query alone, to tell database time from analysis time.
    let names: Vec<lockstep::ops::ObjName> = r.tables.iter().map(|t| t.table.clone()).collect();
    let mut conn = db(c, &name);
    let t = Instant::now();
    let stats = lockstep::live::stats::fetch(&mut conn, &names, false).unwrap();
    assert_eq!(stats.len(), n);
    assert_eq!(conn.queries(), 1);
    eprintln!(
        "{n} tables: the statistics query took {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    (r, took)
}

#[test]
fn query_count_does_not_grow_with_the_number_of_tables() {
    let Some(_) = cluster() else { return };
    let (ten, _) = many_tables(10);
    let (thousand, took) = many_tables(1000);
    assert_eq!(ten.statements.len(), 10);
    assert_eq!(thousand.statements.len(), 1000);
    assert_eq!(thousand.tables.len(), 1000);
    assert!(thousand.tables.iter().all(|t| t.exists));
    assert!(
        thousand.drift.is_empty(),
        "{:?}",
        &thousand.drift[..3.min(thousand.drift.len())]
    );
    assert_eq!(
        ten.queries, thousand.queries,
        "queries must not depend on the number of tables"
    );
    assert!(ten.queries <= 8, "{} queries", ten.queries);
    eprintln!(
        "dry-run over 1,000 tables: {} queries, {:.0} ms in the database transaction, {:.0} ms in total",
        thousand.queries,
        thousand.elapsed_ms,
        took.as_secs_f64() * 1e3
    );
}

#[test]
fn dry_run_leaves_the_database_byte_identical() {
    let Some(c) = cluster() else { return };
    let name = database(c, "ident");
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("000001_init.up.sql", USERS),
            (
                "000002_change.up.sql",
                "ALTER TABLE users ALTER COLUMN email TYPE varchar(20);\nALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0;",
            ),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{USERS} INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 5000) g;
             CREATE TABLE schema_migrations (version bigint, dirty boolean); INSERT INTO schema_migrations VALUES (1, false);"
        ))
        .unwrap();
    let before = checksum(&mut client);
    let mut opts = options(Layout::GolangMigrate);
    opts.exact_counts = true;
    let r = inspect(dir.path(), &name, &opts);
    assert_eq!(r.statements.len(), 2);
    assert_eq!(checksum(&mut client), before);
}
