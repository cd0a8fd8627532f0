//! Model bugs that produced confident false findings (issue 11) and peer parity (issue 19),
//! each checked against a real PostgreSQL server: the server's answer (does the statement
//! fail, which lock, is a file or an index rewritten, is a table read) is the expected value,
//! and lockstep's finding (or lock fact) must agree with it.

use lockstep::analyze::{self, Analysis, inline_migration};
use lockstep::locks::LockMode;
use lockstep::ops::ObjName;
use lockstep::pg::Cluster;
use lockstep::rules::Finding;
use lockstep::settings::Settings;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------- lockstep side

/// Lints `sql` as migration 1 after `setup` as migration 0 (only migration 1 is linted).
fn lint_with(setup: &str, sql: &str, in_transaction: bool, settings: &Settings) -> Analysis {
    let migrations = [
        inline_migration(0, "setup", setup, true),
        inline_migration(1, "case", sql, in_transaction),
    ];
    analyze::analyze(&migrations, settings, &|m| m.order == 1)
}

fn lint(setup: &str, sql: &str) -> Analysis {
    lint_with(setup, sql, false, &Settings::default())
}

/// Findings of `rule`, standing alone or folded into another finding as a note.
fn said(a: &Analysis, rule: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in a.findings.iter().filter(|f| f.direction_is_up()) {
        if f.rule == rule {
            out.push(f.message.clone());
        }
        for n in &f.notes {
            if n.rule == rule {
                out.push(n.message.clone());
            }
        }
    }
    out
}

trait Up {
    fn direction_is_up(&self) -> bool;
}
impl Up for Finding {
    fn direction_is_up(&self) -> bool {
        self.migration.starts_with("1_")
    }
}

/// The lock facts lockstep gives statement `i` of the linted script, by table.
fn facts(a: &Analysis, i: usize) -> BTreeMap<String, (LockMode, bool, bool)> {
    let script = a.scripts.last().expect("a linted script");
    script.statements[i]
        .locks
        .iter()
        .map(|f| (f.table.name.clone(), (f.mode, f.rewrite, f.scan)))
        .collect()
}

// ---------------------------------------------------------------- server side

fn cluster() -> &'static Cluster {
    match Cluster::shared() {
        Ok(c) => c,
        Err(e) => panic!("cannot start the PostgreSQL test cluster: {e}"),
    }
}

/// A fresh database with `schema` run in it (committed).
fn db(schema: &str) -> postgres::Client {
    static N: AtomicUsize = AtomicUsize::new(0);
    let c = cluster();
    let name = format!(
        "mf_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    c.create_database(&name).expect("create database");
    let mut client = c.connect(&name).expect("connect");
    client.batch_execute(schema).expect("schema");
    client
}

/// Runs `sql` inside `BEGIN … ROLLBACK`; the server's error, if it refuses it.
fn refuses(client: &mut postgres::Client, sql: &str) -> Option<String> {
    client.batch_execute("BEGIN").expect("BEGIN");
    let r = client.batch_execute(sql);
    client.batch_execute("ROLLBACK").expect("ROLLBACK");
    r.err().map(|e| {
        e.as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string())
    })
}

/// What running `sql` in a rolled-back transaction did to each user table: the strongest
/// lock held, whether its files changed, whether it was read sequentially. `sql` runs in a
/// fresh session so that no earlier statistics are pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    mode: LockMode,
    rewrite: bool,
    scan: bool,
}

fn observe(setup_client: &mut postgres::Client, sql: &str) -> BTreeMap<String, Seen> {
    // A fresh session: a backend keeps the setup's table statistics pending for a while, and
    // pg_stat_xact_user_tables would count the setup's scans.
    let dbname: String = setup_client
        .query_one("SELECT current_database()::text", &[])
        .expect("current_database")
        .get(0);
    let mut fresh = cluster().connect(&dbname).expect("connect");
    let client = &mut fresh;
    let nodes: BTreeMap<u32, (String, u32)> = client
        .query(
            "SELECT c.oid, coalesce(t.relname, c.relname)::text, c.relfilenode::oid
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_index i ON i.indexrelid = c.oid
               LEFT JOIN pg_class t ON t.oid = i.indrelid
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .expect("pg_class")
        .iter()
        .map(|r| (r.get::<_, u32>(0), (r.get(1), r.get(2))))
        .collect();
    client.batch_execute("BEGIN").expect("BEGIN");
    client.batch_execute(sql).expect("the statement runs");
    let mut out: BTreeMap<String, Seen> = BTreeMap::new();
    for r in client
        .query(
            "SELECT relation, mode FROM pg_locks
              WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation IS NOT NULL",
            &[],
        )
        .expect("pg_locks")
    {
        let oid: u32 = r.get(0);
        let mode: String = r.get(1);
        if let (Some((table, _)), Some(mode)) = (nodes.get(&oid), LockMode::parse(&mode)) {
            let e = out.entry(table.clone()).or_insert(Seen {
                mode,
                rewrite: false,
                scan: false,
            });
            e.mode = e.mode.max(mode);
        }
    }
    for r in client
        .query("SELECT oid, relfilenode::oid FROM pg_class", &[])
        .expect("relfilenodes")
    {
        let oid: u32 = r.get(0);
        let node: u32 = r.get(1);
        if let Some((table, before)) = nodes.get(&oid)
            && *before != node
            && let Some(e) = out.get_mut(table)
        {
            e.rewrite = true;
        }
    }
    for r in client
        .query(
            "SELECT relname::text FROM pg_stat_xact_user_tables WHERE seq_scan > 0",
            &[],
        )
        .expect("seq scans")
    {
        let table: String = r.get(0);
        if let Some(e) = out.get_mut(&table) {
            e.scan = true;
        }
    }
    client.batch_execute("ROLLBACK").expect("ROLLBACK");
    out
}

/// The relfilenode of every index of `table`, by index name.
fn index_files(client: &mut postgres::Client, table: &str) -> BTreeMap<String, u32> {
    client
        .query(
            "SELECT c.relname::text, c.relfilenode::oid FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = $1::text::regclass",
            &[&table],
        )
        .expect("indexes")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Notices (warnings included) the server sends while `client_sql` runs on a new connection.
fn notices_of(schema_db: &mut postgres::Client, steps: &[&str]) -> Vec<String> {
    let db: String = schema_db
        .query_one("SELECT current_database()::text", &[])
        .expect("db")
        .get(0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let c = cluster();
    let mut client = postgres::Config::new()
        .host_path(c.socket_dir())
        .port(c.port())
        .user("postgres")
        .dbname(&db)
        .notice_callback(move |n| {
            if let Ok(mut v) = sink.lock() {
                v.push(format!("{}: {}", n.severity(), n.message()));
            }
        })
        .connect(postgres::NoTls)
        .expect("connect with a notice callback");
    for s in steps {
        // Errors are part of what is observed (a ROLLBACK the runner did not expect).
        if let Err(e) = client.batch_execute(s) {
            seen.lock().expect("notices").push(format!("ERROR: {e}"));
        }
    }
    seen.lock().expect("notices").clone()
}

const USERS: &str = "
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    bio varchar(50),
    created timestamp(3)
);
CREATE INDEX users_bio_idx ON users (bio);
CREATE INDEX users_created_idx ON users (created);
";
const USERS_ROWS: &str = "
INSERT INTO users SELECT g, 'u' || g || '@example.com', 'bio', timestamp '2024-01-01' + g * interval '1 minute'
  FROM generate_series(1, 5000) g;
ANALYZE users;
";

// ---------------------------------------------------------------- issue 11: model bugs

#[test]
fn foreign_key_on_a_table_created_empty_does_not_scan_the_parent() {
    let mut server = db(&format!("{USERS}{USERS_ROWS}"));
    let sql = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)";
    let seen = observe(&mut server, sql);
    let users = seen.get("users").expect("the server locks users");
    let a = lint(USERS, sql);
    let f = facts(&a, 1);
    let (mode, rewrite, scan) = f.get("users").copied().expect("a lock fact on users");
    assert_eq!(mode, users.mode, "lock on the parent: {seen:?}");
    assert_eq!(users.mode, LockMode::ShareRowExclusive);
    assert_eq!(
        (rewrite, scan),
        (users.rewrite, users.scan),
        "{seen:?} vs {f:?}"
    );
    assert!(!scan, "the server does not read users: {seen:?}");
    // What is said: the short SHARE ROW EXCLUSIVE, nothing about checking rows.
    let msgs = said(&a, "missing-lock-timeout");
    assert!(
        msgs.iter().any(|m| m.contains("SHARE ROW EXCLUSIVE")),
        "{:?}",
        a.findings
    );
    assert!(said(&a, "add-foreign-key").is_empty(), "{:?}", a.findings);

    // Rows put into the new table first: now the parent is read (model and server agree).
    let filled = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);
INSERT INTO orders SELECT g, g FROM generate_series(1, 3000) g;
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)";
    let seen = observe(&mut server, filled);
    let a = lint(USERS, filled);
    let scan = facts(&a, 2).get("users").map(|f| f.2);
    assert_eq!(scan, seen.get("users").map(|s| s.scan), "{seen:?}");
}

#[test]
fn drop_if_exists_of_an_absent_object_is_not_a_breaking_change() {
    let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text);
CREATE TABLE gone (id bigint PRIMARY KEY);
CREATE INDEX users_email_idx ON users (email);
DROP TABLE gone;
DROP INDEX users_email_idx;";
    let mut server = db(setup);
    let sql = "ALTER TABLE users DROP COLUMN IF EXISTS nickname;
DROP TABLE IF EXISTS gone;
DROP INDEX IF EXISTS users_email_idx";
    let seen = observe(&mut server, sql);
    // ALTER TABLE locks users before it finds no such column; the DROPs lock nothing.
    assert_eq!(seen.len(), 1, "{seen:?}");
    let a = lint(setup, sql);
    assert_eq!(
        facts(&a, 0).get("users").map(|f| f.0),
        seen.get("users").map(|s| s.mode)
    );
    assert!(facts(&a, 1).is_empty() && facts(&a, 2).is_empty());
    for rule in [
        "drop-column",
        "drop-table",
        "irreversible-change",
        "drop-index-non-concurrently",
        "statement-will-fail",
    ] {
        assert!(said(&a, rule).is_empty(), "{rule}: {:?}", a.findings);
    }
    // A table the history does not know may exist: still reported.
    let a = lint("", "DROP TABLE IF EXISTS legacy_sessions;");
    assert_eq!(said(&a, "drop-table").len(), 1, "{:?}", a.findings);
}

#[test]
fn binary_coercible_type_changes_keep_indexes() {
    let mut server = db(&format!("{USERS}{USERS_ROWS}"));
    for (sql, coercible) in [
        ("ALTER TABLE users ALTER COLUMN bio TYPE text", true),
        ("ALTER TABLE users ALTER COLUMN bio TYPE varchar(80)", true),
        (
            "ALTER TABLE users ALTER COLUMN created TYPE timestamp",
            true,
        ),
        ("ALTER TABLE users ALTER COLUMN bio TYPE varchar(10)", false),
    ] {
        let column = if sql.contains("bio") {
            "bio"
        } else {
            "created"
        };
        let index = format!("users_{column}_idx");
        let before = index_files(&mut server, "users");
        server.batch_execute("BEGIN").expect("BEGIN");
        server.batch_execute(sql).expect("type change");
        let after = index_files(&mut server, "users");
        server.batch_execute("ROLLBACK").expect("ROLLBACK");
        let rebuilt = before.get(&index) != after.get(&index);
        assert_eq!(rebuilt, !coercible, "{sql}: server");
        let a = lint(USERS, sql);
        let claims = said(&a, "dependent-objects")
            .iter()
            .any(|m| m.contains("rebuilds"));
        assert_eq!(claims, rebuilt, "{sql}: {:?}", a.findings);
    }
}

#[test]
fn timestamp_to_timestamptz_follows_the_session_time_zone() {
    let mut server = db(&format!("{USERS}{USERS_ROWS}"));
    let alter = "ALTER TABLE users ALTER COLUMN created TYPE timestamptz";
    let cases: [(&str, Option<&str>); 4] = [
        ("SET timezone = 'UTC';", None),
        ("SET TIME ZONE 'Europe/Paris';", None),
        ("", Some("UTC")),
        ("", Some("Europe/Paris")),
    ];
    for (set, server_tz) in cases {
        let session = match server_tz {
            Some(tz) => format!("SET LOCAL timezone = '{tz}';"),
            None => String::new(),
        };
        let sql = format!("{set}\n{alter}");
        let seen = observe(&mut server, &format!("{session}{sql}"));
        let rewritten = seen.get("users").is_some_and(|s| s.rewrite);
        let settings = Settings {
            server_timezone: server_tz.map(str::to_string),
            ..Settings::default()
        };
        let a = lint_with(USERS, &sql, false, &settings);
        let reported = !said(&a, "column-type-rewrite").is_empty();
        assert_eq!(
            reported, rewritten,
            "{sql} (server {server_tz:?}): {:?}",
            a.findings
        );
    }
    // Unknown zone: reported, and the message says on what it depends.
    let a = lint(USERS, alter);
    let msgs = said(&a, "column-type-rewrite");
    assert_eq!(msgs.len(), 1, "{:?}", a.findings);
    assert!(msgs[0].contains("TimeZone"), "{}", msgs[0]);
}

#[test]
fn declared_function_volatility_decides_the_add_column_rewrite() {
    let functions =
        "CREATE FUNCTION f_fixed() RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN 1; END $$;
CREATE FUNCTION f_stable() RETURNS integer LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN 1; END $$;
CREATE FUNCTION f_plain() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;";
    // plpgsql: a SQL-language `SELECT 1` is inlined to a constant whatever its declared
    // volatility, and never rewrites.
    let mut server = db(&format!("{USERS}{USERS_ROWS}{functions}"));
    for f in ["f_fixed", "f_stable", "f_plain"] {
        let sql = format!("ALTER TABLE users ADD COLUMN x integer DEFAULT {f}()");
        let rewritten = observe(&mut server, &sql)
            .get("users")
            .is_some_and(|s| s.rewrite);
        let a = lint(&format!("{USERS}{functions}"), &sql);
        assert_eq!(rewritten, f == "f_plain", "{f}: the server");
        let reported = !said(&a, "add-column-rewrite").is_empty();
        assert_eq!(reported, rewritten, "{f}: {:?}", a.findings);
    }
}

#[test]
fn a_type_swapped_by_rename_is_seen() {
    let setup = "CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TABLE people (id bigint PRIMARY KEY, m mood);";
    let swap = "CREATE TYPE mood_new AS ENUM ('ok', 'sad', 'happy');
ALTER TABLE people ALTER COLUMN m TYPE mood_new USING m::text::mood_new;
DROP TYPE mood;
ALTER TYPE mood_new RENAME TO mood;";
    let mut server = db(setup);
    server.batch_execute(swap).expect("swap");
    let ty: String = server
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
              WHERE attrelid = 'people'::regclass AND attname = 'm'",
            &[],
        )
        .expect("type")
        .get(0);
    let labels: Vec<String> = server
        .query(
            "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = 'mood'::regtype ORDER BY enumsortorder",
            &[],
        )
        .expect("labels")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let a = lint(setup, swap);
    let col = a
        .catalog
        .column(&ObjName::public("people"), "m")
        .expect("column m");
    assert_eq!(col.ty.0, ty);
    assert_eq!(
        a.catalog.enums.get(&ObjName::public("mood")).cloned(),
        Some(labels)
    );
    assert!(!a.catalog.enums.contains_key(&ObjName::public("mood_new")));
}

#[test]
fn in_file_transactions_as_each_runner_sends_the_file() {
    let mut server = db(USERS);
    let file = "ALTER TABLE users ADD COLUMN IF NOT EXISTS a integer;\nBEGIN;\nALTER TABLE users ADD COLUMN IF NOT EXISTS b integer;\nCOMMIT;";
    // golang-migrate sends the file as one simple query and no BEGIN of its own.
    let one_query = notices_of(&mut server, &[file]);
    assert!(one_query.is_empty(), "{one_query:?}");
    // sqlx sends BEGIN, then the file.
    let wrapped = notices_of(&mut server, &["BEGIN", file, "COMMIT"]);
    assert!(
        wrapped.iter().any(|n| n.contains("already a transaction")),
        "{wrapped:?}"
    );

    let golang = Settings {
        single_statement_autocommit: true,
        runner: Some("golang-migrate".into()),
        ..Settings::default()
    };
    let a = lint_with(USERS, file, true, &golang);
    assert!(
        said(&a, "nested-or-uncommitted-begin").is_empty(),
        "{:?}",
        a.findings
    );
    assert!(said(&a, "commit-in-managed-transaction").is_empty());
    let sqlx = Settings {
        runner: Some("sqlx".into()),
        ..Settings::default()
    };
    let a = lint_with(USERS, file, true, &sqlx);
    let msgs = said(&a, "nested-or-uncommitted-begin");
    assert_eq!(msgs.len(), 1, "{:?}", a.findings);
    assert!(msgs[0].contains("sqlx"), "{}", msgs[0]);
}

// ---------------------------------------------------------------- issue 19: peer parity

#[test]
fn rollback_inside_a_runner_transaction_discards_the_work_the_runner_records() {
    let mut server = db("CREATE TABLE applied (version bigint);");
    let file = "CREATE TABLE widgets (id bigint);\nROLLBACK;";
    let notices = notices_of(
        &mut server,
        &["BEGIN", file, "INSERT INTO applied VALUES (1)", "COMMIT"],
    );
    let widgets: Option<String> = server
        .query_one("SELECT to_regclass('widgets')::text", &[])
        .expect("regclass")
        .get(0);
    let recorded: i64 = server
        .query_one("SELECT count(*) FROM applied", &[])
        .expect("count")
        .get(0);
    assert_eq!((widgets, recorded), (None, 1), "{notices:?}");
    assert!(
        notices
            .iter()
            .any(|n| n.contains("no transaction in progress"))
    );

    let settings = Settings {
        runner: Some("sqlx".into()),
        ..Settings::default()
    };
    let a = lint_with("", file, true, &settings);
    let f: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.rule == "commit-in-managed-transaction")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", a.findings);
    assert!(f[0].message.contains("sqlx"), "{}", f[0].message);
    // Outside a runner transaction ROLLBACK is the file's own business.
    let a = lint_with("", file, false, &settings);
    assert!(said(&a, "commit-in-managed-transaction").is_empty());
}

#[test]
fn statements_the_server_rejects_are_reported_only_where_the_schema_is_known() {
    let known = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, CONSTRAINT users_email_len CHECK (length(email) < 200));
CREATE TABLE base (id bigint, note text);
CREATE TABLE child (extra integer) INHERITS (base);";
    // `legacy` exists on the server but the history never created it.
    let mut server = db(&format!(
        "{known}\nCREATE TABLE legacy (id bigint, code text, CONSTRAINT legacy_code_chk CHECK (code <> ''));"
    ));
    let cases = [
        "CREATE TABLE t (a integer, b text, a bigint)",
        "ALTER TABLE users ADD COLUMN nickname text, ADD COLUMN nickname text",
        "ALTER TABLE users ADD COLUMN email text",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text",
        "ALTER TABLE users DROP COLUMN nickname",
        "ALTER TABLE users ALTER COLUMN nickname SET NOT NULL",
        "ALTER TABLE users DROP CONSTRAINT users_nickname_chk",
        "ALTER TABLE users DROP CONSTRAINT users_email_len",
        "ALTER TABLE users VALIDATE CONSTRAINT users_nickname_chk",
        "UPDATE users SET email = 'a', email = 'b' WHERE id = 1",
        "INSERT INTO users (id, email, id) VALUES (1, 'a', 2)",
        "INSERT INTO users (id, mail) VALUES (1, 'a')",
        "ALTER TABLE users RENAME COLUMN email TO mail",
        // Inherited columns are not listed in the child's CREATE TABLE.
        "ALTER TABLE child ALTER COLUMN note SET NOT NULL",
        // The history knows legacy only in part: never reported.
        "ALTER TABLE legacy DROP COLUMN code",
        "ALTER TABLE legacy DROP CONSTRAINT legacy_code_chk",
        "ALTER TABLE legacy ALTER COLUMN nope SET NOT NULL",
    ];
    let mut table = Vec::new();
    for sql in cases {
        let rejected = refuses(&mut server, sql);
        let a = lint(known, sql);
        let reported = said(&a, "statement-will-fail");
        table.push(format!("{sql}: server {rejected:?}, lockstep {reported:?}"));
        let partial = sql.contains("legacy");
        if partial {
            assert!(reported.is_empty(), "{sql}: {reported:?}");
        } else {
            assert_eq!(
                !reported.is_empty(),
                rejected.is_some(),
                "{sql}: server {rejected:?}, lockstep {reported:?}"
            );
        }
    }
    eprintln!("{}", table.join("\n"));
    // gen_random_uuid(): built in from PostgreSQL 13 (this server is newer: it runs).
    let sql = "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()";
    assert_eq!(refuses(&mut server, sql), None);
    let on = |v: u32, setup: &str| {
        let settings = Settings {
            pg_version: v,
            ..Settings::default()
        };
        said(
            &lint_with(setup, sql, false, &settings),
            "statement-will-fail",
        )
    };
    assert!(on(cluster().version(), known).is_empty());
    assert_eq!(on(12, known).len(), 1);
    assert!(on(12, &format!("CREATE EXTENSION pgcrypto;\n{known}")).is_empty());
}

#[test]
fn settings_are_read_exactly() {
    let mut server = db(&format!("{USERS}{USERS_ROWS}"));
    // A custom setting is not lock_timeout.
    let lt: String = {
        server
            .batch_execute("SET foo.lock_timeout = '1s'")
            .expect("custom setting");
        server
            .query_one("SHOW lock_timeout", &[])
            .expect("show")
            .get(0)
    };
    assert_eq!(lt, "0");
    let a = lint(
        USERS,
        "SET foo.lock_timeout = '1s';\nALTER TABLE users ADD COLUMN nickname text;",
    );
    assert_eq!(
        said(&a, "missing-lock-timeout").len(),
        1,
        "{:?}",
        a.findings
    );

    // SET LOCAL ends with its transaction.
    server
        .batch_execute("BEGIN; SET LOCAL lock_timeout = '1s'; COMMIT;")
        .expect("set local");
    let lt: String = server
        .query_one("SHOW lock_timeout", &[])
        .expect("show")
        .get(0);
    assert_eq!(lt, "0");
    let a = lint(
        USERS,
        "BEGIN;\nSET LOCAL lock_timeout = '1s';\nCOMMIT;\nALTER TABLE users ADD COLUMN nickname text;",
    );
    assert_eq!(
        said(&a, "missing-lock-timeout").len(),
        1,
        "{:?}",
        a.findings
    );
    let a = lint(
        USERS,
        "BEGIN;\nSET LOCAL lock_timeout = '1s';\nALTER TABLE users ADD COLUMN nickname text;\nCOMMIT;",
    );
    assert!(
        said(&a, "missing-lock-timeout").is_empty(),
        "{:?}",
        a.findings
    );

    // REINDEX (CONCURRENTLY false) is a plain REINDEX: it runs in a transaction block.
    let sql = "REINDEX (CONCURRENTLY false) INDEX users_bio_idx";
    assert_eq!(refuses(&mut server, sql), None);
    assert!(refuses(&mut server, "REINDEX (CONCURRENTLY) INDEX users_bio_idx").is_some());
    let a = lint_with(USERS, sql, true, &Settings::default());
    assert!(
        said(&a, "concurrently-in-transaction").is_empty(),
        "{:?}",
        a.findings
    );
    assert_eq!(
        said(&a, "reindex-non-concurrently").len(),
        1,
        "{:?}",
        a.findings
    );

    // VACUUM (FULL false) does not rewrite.
    let before = index_files(&mut server, "users");
    let heap = |c: &mut postgres::Client| -> u32 {
        c.query_one(
            "SELECT relfilenode::oid FROM pg_class WHERE relname = 'users'",
            &[],
        )
        .expect("relfilenode")
        .get(0)
    };
    let h0 = heap(&mut server);
    server
        .batch_execute("VACUUM (FULL false) users")
        .expect("vacuum");
    assert_eq!(
        (heap(&mut server), index_files(&mut server, "users")),
        (h0, before)
    );
    let a = lint_with(
        USERS,
        "VACUUM (FULL false) users;",
        false,
        &Settings::default(),
    );
    assert!(
        said(&a, "vacuum-full-or-cluster").is_empty(),
        "{:?}",
        a.findings
    );
}

#[test]
fn alter_domain_constraint_scans_every_table_of_the_domain() {
    let setup = "CREATE DOMAIN qty AS integer;\nCREATE TABLE items (id bigint PRIMARY KEY, n qty);";
    let mut server = db(&format!(
        "{setup}\nINSERT INTO items SELECT g, g FROM generate_series(1, 2000) g; ANALYZE items;"
    ));
    for (sql, warns) in [
        (
            "ALTER DOMAIN qty ADD CONSTRAINT qty_pos CHECK (VALUE > 0)",
            true,
        ),
        (
            "ALTER DOMAIN qty ADD CONSTRAINT qty_pos CHECK (VALUE > 0) NOT VALID",
            false,
        ),
        ("ALTER DOMAIN qty SET NOT NULL", true),
    ] {
        let seen = observe(&mut server, sql);
        let items = seen.get("items").copied();
        assert_eq!(items.is_some_and(|s| s.scan), warns, "{sql}: {seen:?}");
        if warns {
            assert_eq!(items.map(|s| s.mode), Some(LockMode::Share), "{sql}");
        }
        let a = lint(setup, sql);
        assert_eq!(
            !said(&a, "alter-domain-constraint").is_empty(),
            warns,
            "{sql}: {:?}",
            a.findings
        );
    }
}

#[test]
fn drop_schema_cascade_and_drop_database() {
    let setup = "CREATE SCHEMA reporting;\nCREATE TABLE reporting.daily (day date PRIMARY KEY);";
    let mut server = db(setup);
    assert!(refuses(&mut server, "DROP SCHEMA reporting").is_some());
    server
        .batch_execute("BEGIN; DROP SCHEMA reporting CASCADE;")
        .expect("cascade");
    let gone: Option<String> = server
        .query_one("SELECT to_regclass('reporting.daily')::text", &[])
        .expect("regclass")
        .get(0);
    server.batch_execute("ROLLBACK").expect("rollback");
    assert_eq!(gone, None, "CASCADE drops the tables in the schema");
    let a = lint(setup, "DROP SCHEMA reporting CASCADE;");
    let msgs = said(&a, "drop-schema-cascade");
    assert_eq!(msgs.len(), 1, "{:?}", a.findings);
    assert!(msgs[0].contains("reporting.daily"), "{}", msgs[0]);
    assert!(
        said(
            &lint(setup, "DROP SCHEMA reporting;"),
            "drop-schema-cascade"
        )
        .is_empty()
    );
    let a = lint("", "DROP DATABASE analytics;");
    assert_eq!(said(&a, "drop-database").len(), 1, "{:?}", a.findings);
}

#[test]
fn partial_knowledge_of_a_table_the_history_did_not_create() {
    // `legacy` comes from before the folder: the history sees only what it did to it.
    let history =
        "ALTER TABLE legacy ADD CONSTRAINT legacy_name_nn CHECK (name IS NOT NULL) NOT VALID;
ALTER TABLE legacy VALIDATE CONSTRAINT legacy_name_nn;
ALTER TABLE legacy ALTER COLUMN code TYPE varchar(100);";
    let mut server = db(&format!(
        "CREATE TABLE legacy (id bigint PRIMARY KEY, name text, code varchar(20));
INSERT INTO legacy SELECT g, 'n', 'c' FROM generate_series(1, 2000) g; ANALYZE legacy;
{history}"
    ));
    for (sql, rule) in [
        (
            "ALTER TABLE legacy ALTER COLUMN name SET NOT NULL",
            "set-not-null-scan",
        ),
        (
            "ALTER TABLE legacy ALTER COLUMN code TYPE text",
            "column-type-rewrite",
        ),
    ] {
        let seen = observe(&mut server, sql);
        let legacy = seen.get("legacy").copied().expect("locks legacy");
        let a = lint(history, sql);
        let (_, rewrite, scan) = facts(&a, 0).get("legacy").copied().expect("fact");
        assert_eq!(
            (rewrite, scan),
            (legacy.rewrite, legacy.scan),
            "{sql}: {seen:?}"
        );
        assert!(!legacy.scan && !legacy.rewrite, "{sql}: {seen:?}");
        assert!(said(&a, rule).is_empty(), "{sql}: {:?}", a.findings);
    }
}

#[test]
fn missing_lock_timeout_on_indexes_and_tables_the_history_does_not_know() {
    let mut server = db("CREATE TABLE legacy (id bigint PRIMARY KEY, code text);
CREATE INDEX legacy_code_idx ON legacy (code);");
    let seen = observe(&mut server, "DROP INDEX legacy_code_idx");
    assert_eq!(
        seen.get("legacy").map(|s| s.mode),
        Some(LockMode::AccessExclusive)
    );
    let seen = observe(&mut server, "REINDEX INDEX legacy_code_idx");
    assert!(
        seen.get("legacy")
            .is_some_and(|s| s.mode >= LockMode::Share)
    );
    for sql in [
        "DROP INDEX legacy_code_idx;",
        "REINDEX INDEX legacy_code_idx;",
        "REINDEX SCHEMA public;",
        "CLUSTER;",
    ] {
        let a = lint("", sql);
        assert_eq!(
            said(&a, "missing-lock-timeout").len(),
            1,
            "{sql}: {:?}",
            a.findings
        );
        let a = lint("", &format!("SET lock_timeout = '2s';\n{sql}"));
        assert!(said(&a, "missing-lock-timeout").is_empty(), "{sql}");
    }
}

#[test]
fn detach_partition_finalize_takes_share_update_exclusive() {
    let c = cluster();
    let setup = "CREATE TABLE m (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";
    let mut server = db(setup);
    let dbname: String = server
        .query_one("SELECT current_database()::text", &[])
        .expect("db")
        .get(0);
    // Leave a concurrent detach pending: an old snapshot makes its second phase wait, and
    // the wait is cancelled.
    let mut holder = c.connect(&dbname).expect("holder");
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM m;")
        .expect("snapshot");
    let mut detacher = c.connect(&dbname).expect("detacher");
    let pid: i32 = detacher
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pid")
        .get(0);
    let h = std::thread::spawn(move || {
        detacher.batch_execute("ALTER TABLE m DETACH PARTITION m_2024 CONCURRENTLY")
    });
    let mut cancelled = false;
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let waiting: bool = server
            .query_one(
                "SELECT coalesce(wait_event_type = 'Lock' OR wait_event = 'VirtualXactLock', false)
                   FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .map(|r| r.get(0))
            .unwrap_or(false);
        if waiting {
            server
                .query_one("SELECT pg_cancel_backend($1)", &[&pid])
                .expect("cancel");
            cancelled = true;
            break;
        }
    }
    let _ = h.join();
    holder.batch_execute("COMMIT").expect("commit");
    assert!(cancelled, "the concurrent detach never waited");
    let sql = "ALTER TABLE m DETACH PARTITION m_2024 FINALIZE";
    let seen = observe(&mut server, sql);
    let a = lint(setup, sql);
    let f = facts(&a, 0);
    for table in ["m", "m_2024"] {
        assert_eq!(
            f.get(table).map(|x| x.0),
            seen.get(table).map(|s| s.mode),
            "{table}: {seen:?} vs {f:?}"
        );
    }
    assert_eq!(
        f.get("m").map(|x| x.0),
        Some(LockMode::ShareUpdateExclusive)
    );
}

#[test]
fn renaming_the_index_behind_a_unique_constraint_renames_the_constraint() {
    // lemmy's inbox_unique migration: the constraint is dropped by the index's new name.
    let setup = "CREATE TABLE person (id bigint PRIMARY KEY, inbox_url text NOT NULL, \
                 CONSTRAINT idx_person_inbox_url UNIQUE (inbox_url));\n\
                 ALTER INDEX idx_person_inbox_url RENAME TO person_inbox_url_key;";
    let case = "ALTER TABLE person DROP CONSTRAINT person_inbox_url_key;";
    let mut server = db(setup);
    assert_eq!(refuses(&mut server, case), None, "PostgreSQL accepts it");
    let stale = "ALTER TABLE person DROP CONSTRAINT idx_person_inbox_url;";
    assert!(
        refuses(&mut server, stale).is_some(),
        "the old name is gone"
    );
    assert!(said(&lint(setup, case), "statement-will-fail").is_empty());
    assert!(!said(&lint(setup, stale), "statement-will-fail").is_empty());
}
