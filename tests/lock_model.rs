//! The lock model (`lockstep::locks`) checked against a real PostgreSQL server.
//!
//! For every case: a fresh database copied from a populated template (a parent table with a
//! few thousand rows, a child with a foreign key, indexes, a partitioned table, a
//! materialized view), the case's extra setup, then the statement. Inside `BEGIN … ROLLBACK`
//! we read `pg_locks` for our own backend (indexes count for their table), compare each
//! table's `relfilenode` before and after (a rewrite), and read
//! `pg_stat_xact_user_tables.seq_scan` (a full read of the table). The prediction comes from
//! parsing the same SQL with lockstep's parser, replaying the setup into a `Catalog`, and
//! asking `locks::analyze`.
//!
//! Statements that PostgreSQL refuses inside a transaction (CONCURRENTLY, VACUUM) run on
//! their own connection while a second connection holds SHARE UPDATE EXCLUSIVE on the
//! table; a third reads the lock the statement is waiting for. For those, only the blocked
//! table's mode and (after completion) its rewrite are checked; scans are not observable.
//!
//! Tables that the server locks only in ACCESS SHARE mode without the model mentioning
//! them (the sources of a query) are tolerated and listed, not failed.
//!
//! Run with `--nocapture` to see the whole observed matrix.

use lockstep::catalog::Catalog;
use lockstep::locks::{self, LockMode, ModelOptions};
use lockstep::ops::ObjName;
use lockstep::parse::{ParsedBy, parse_sql};
use lockstep::pg::Cluster;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The schema every case starts from. Replayed into the catalog through lockstep's parser.
const BASE_SCHEMA: &str = r#"
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email varchar(100) NOT NULL,
    name text,
    score numeric(10,2),
    created timestamp,
    code char(5),
    flags bit varying(8),
    net cidr,
    bio varchar(50),
    n integer
);
CREATE INDEX users_email_idx ON users (email);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    amount integer,
    note text
);
CREATE TABLE events (
    id bigint PRIMARY KEY,
    user_id bigint,
    kind text
);
CREATE TABLE sales (
    id bigint PRIMARY KEY,
    region text NOT NULL,
    amount integer
);
CREATE MATERIALIZED VIEW sales_by_region AS SELECT region, sum(amount) AS total FROM sales GROUP BY region;
CREATE UNIQUE INDEX sales_by_region_region_idx ON sales_by_region (region);
CREATE TABLE measurements (id bigint, at date NOT NULL, v integer) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_2025 (id bigint, at date NOT NULL, v integer);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
"#;

/// Rows for the base schema (server only: data does not change the catalog).
/// Only users 1..2500 have orders, so deleting user 4000 passes the foreign-key check.
const BASE_DATA: &str = r#"
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'name ' || g, g / 10.0,
    timestamp '2024-01-01' + g * interval '1 minute', 'c' || (g % 100), B'1010',
    '10.0.0.0/8', 'bio', g
  FROM generate_series(1, 5000) g;
INSERT INTO orders SELECT g, (g % 2500) + 1, g % 100, 'note' FROM generate_series(1, 5000) g;
INSERT INTO events SELECT g, (g % 5000) + 1, 'kind' FROM generate_series(1, 5000) g;
INSERT INTO sales SELECT g, 'r' || (g % 20), g % 1000 FROM generate_series(1, 5000) g;
REFRESH MATERIALIZED VIEW sales_by_region;
INSERT INTO measurements SELECT g, date '2024-01-01' + (g % 365), g FROM generate_series(1, 3000) g;
INSERT INTO measurements_2025 SELECT g, date '2025-01-01' + (g % 365), g FROM generate_series(1, 3000) g;
ANALYZE;
"#;

/// One row of the matrix.
struct Case {
    name: &'static str,
    /// Extra setup after the base, replayed into the catalog too.
    setup: &'static str,
    /// Run in the same session just before the statement (not part of the catalog).
    session: &'static str,
    sql: &'static str,
    /// The session's TimeZone is UTC (the scratch cluster's default) and the model is told so.
    utc: bool,
    /// Why the scan column cannot be observed for this case, if it cannot.
    scan_unobservable: Option<&'static str>,
    /// The statement swaps in new files without rewriting rows (TRUNCATE).
    new_files_without_rewrite: bool,
    /// Table held in SHARE UPDATE EXCLUSIVE mode while a non-transactional statement runs.
    block: Option<&'static str>,
}

const fn case(name: &'static str, sql: &'static str) -> Case {
    Case {
        name,
        setup: "",
        session: "",
        sql,
        utc: false,
        scan_unobservable: None,
        new_files_without_rewrite: false,
        block: None,
    }
}

impl Case {
    const fn setup(mut self, setup: &'static str) -> Self {
        self.setup = setup;
        self
    }
    const fn session(mut self, session: &'static str) -> Self {
        self.session = session;
        self
    }
    const fn utc(mut self) -> Self {
        self.utc = true;
        self
    }
    const fn no_scan_check(mut self, why: &'static str) -> Self {
        self.scan_unobservable = Some(why);
        self
    }
    const fn new_files(mut self) -> Self {
        self.new_files_without_rewrite = true;
        self
    }
    const fn outside_tx(mut self, block: &'static str) -> Self {
        self.block = Some(block);
        self.scan_unobservable = Some("runs outside a transaction");
        self
    }
}

/// A non-UTC zone, so timestamp ↔ timestamptz really converts.
const PARIS: &str = "SET TimeZone = 'Europe/Paris'";

fn cases() -> Vec<Case> {
    vec![
        // ---- add column
        case("add column, nullable", "ALTER TABLE users ADD COLUMN nickname text"),
        case(
            "add column, NOT NULL constant default",
            "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true",
        ),
        case(
            "add column, now() default",
            "ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT now()",
        ),
        case(
            "add column, volatile default",
            "ALTER TABLE users ADD COLUMN token float8 DEFAULT random()",
        ),
        case("add column, bigserial", "ALTER TABLE users ADD COLUMN seq bigserial"),
        case(
            "add column, identity",
            "ALTER TABLE users ADD COLUMN ident integer GENERATED ALWAYS AS IDENTITY",
        ),
        case(
            "add column, generated stored",
            "ALTER TABLE users ADD COLUMN id2 bigint GENERATED ALWAYS AS (id * 2) STORED",
        ),
        case(
            "add column with CHECK",
            "ALTER TABLE users ADD COLUMN rating integer CHECK (rating > 0)",
        ),
        case(
            "add column with UNIQUE",
            "ALTER TABLE users ADD COLUMN handle text UNIQUE",
        ),
        case(
            "add column with REFERENCES",
            "ALTER TABLE events ADD COLUMN owner_id bigint REFERENCES users (id)",
        ),
        case(
            "add column + set not null in one statement",
            "ALTER TABLE users ADD COLUMN x integer, ALTER COLUMN name SET NOT NULL",
        ),
        // ---- drop / rename
        case("drop column", "ALTER TABLE users DROP COLUMN bio"),
        case(
            "drop column with a foreign key",
            "ALTER TABLE orders DROP COLUMN user_id",
        ),
        case(
            "rename column",
            "ALTER TABLE users RENAME COLUMN name TO full_name",
        ),
        case("rename table", "ALTER TABLE events RENAME TO activities"),
        case("set schema", "ALTER TABLE events SET SCHEMA archive").setup("CREATE SCHEMA archive"),
        // ---- column types
        case(
            "type varchar(50) -> varchar(60)",
            "ALTER TABLE users ALTER COLUMN bio TYPE varchar(60)",
        ),
        case(
            "type varchar(50) -> varchar(10)",
            "ALTER TABLE users ALTER COLUMN bio TYPE varchar(10)",
        ),
        case(
            "type varchar(50) -> text",
            "ALTER TABLE users ALTER COLUMN bio TYPE text",
        ),
        case(
            "type text -> varchar(200)",
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(200)",
        ),
        case(
            "type text -> varchar",
            "ALTER TABLE users ALTER COLUMN name TYPE varchar",
        ),
        case(
            "type char(5) -> text",
            "ALTER TABLE users ALTER COLUMN code TYPE text",
        ),
        case(
            "type numeric(10,2) -> numeric(12,2)",
            "ALTER TABLE users ALTER COLUMN score TYPE numeric(12,2)",
        ),
        case(
            "type numeric(10,2) -> numeric(12,3)",
            "ALTER TABLE users ALTER COLUMN score TYPE numeric(12,3)",
        ),
        case(
            "type numeric(10,2) -> numeric",
            "ALTER TABLE users ALTER COLUMN score TYPE numeric",
        ),
        case(
            "type varbit(8) -> varbit(16)",
            "ALTER TABLE users ALTER COLUMN flags TYPE bit varying(16)",
        ),
        case("type cidr -> inet", "ALTER TABLE users ALTER COLUMN net TYPE inet"),
        case(
            "type integer -> bigint",
            "ALTER TABLE users ALTER COLUMN n TYPE bigint",
        ),
        case(
            "type timestamp -> timestamptz, non-UTC session",
            "ALTER TABLE users ALTER COLUMN created TYPE timestamptz",
        )
        .session(PARIS),
        case(
            "type timestamp -> timestamptz, UTC session",
            "ALTER TABLE users ALTER COLUMN created TYPE timestamptz",
        )
        .utc(),
        case(
            "type with a USING expression",
            "ALTER TABLE users ALTER COLUMN bio TYPE text USING bio || ''",
        ),
        case(
            "type change re-checks CHECK constraints",
            "ALTER TABLE users ALTER COLUMN bio TYPE text",
        )
        .setup("ALTER TABLE users ADD CONSTRAINT users_bio_len CHECK (length(bio) < 100);"),
        case(
            "type of a referenced key",
            "ALTER TABLE users ALTER COLUMN id TYPE numeric",
        ),
        // ---- NOT NULL, defaults, identity, column options
        case(
            "set not null",
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
        ),
        case(
            "set not null with a validated CHECK",
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
        )
        .setup("ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL);"),
        case(
            "set not null with a NOT VALID CHECK",
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
        )
        .setup(
            "ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT VALID;",
        ),
        case(
            "drop not null",
            "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
        ),
        case(
            "set default",
            "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'anonymous'",
        ),
        case(
            "drop default",
            "ALTER TABLE events ALTER COLUMN kind DROP DEFAULT",
        ),
        case(
            "add identity",
            "ALTER TABLE users ALTER COLUMN n ADD GENERATED BY DEFAULT AS IDENTITY",
        )
        .setup("ALTER TABLE users ALTER COLUMN n SET NOT NULL;"),
        case(
            "drop identity",
            "ALTER TABLE users ALTER COLUMN n DROP IDENTITY",
        )
        .setup(
            "ALTER TABLE users ALTER COLUMN n SET NOT NULL;\n\
             ALTER TABLE users ALTER COLUMN n ADD GENERATED BY DEFAULT AS IDENTITY;",
        ),
        case(
            "set statistics",
            "ALTER TABLE users ALTER COLUMN n SET STATISTICS 500",
        ),
        case(
            "set column options",
            "ALTER TABLE users ALTER COLUMN n SET (n_distinct = 100)",
        ),
        case(
            "set compression",
            "ALTER TABLE users ALTER COLUMN name SET COMPRESSION pglz",
        ),
        case(
            "set storage",
            "ALTER TABLE users ALTER COLUMN name SET STORAGE EXTERNAL",
        ),
        // ---- constraints
        case(
            "add CHECK",
            "ALTER TABLE users ADD CONSTRAINT users_n_pos CHECK (n > 0)",
        ),
        case(
            "add CHECK NOT VALID",
            "ALTER TABLE users ADD CONSTRAINT users_n_pos CHECK (n > 0) NOT VALID",
        ),
        case(
            "validate CHECK",
            "ALTER TABLE users VALIDATE CONSTRAINT users_n_pos",
        )
        .setup("ALTER TABLE users ADD CONSTRAINT users_n_pos CHECK (n > 0) NOT VALID;"),
        case(
            "add FOREIGN KEY",
            "ALTER TABLE events ADD CONSTRAINT events_user_fk FOREIGN KEY (user_id) REFERENCES users (id)",
        ),
        case(
            "add FOREIGN KEY NOT VALID",
            "ALTER TABLE events ADD CONSTRAINT events_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
        ),
        case(
            "validate FOREIGN KEY",
            "ALTER TABLE events VALIDATE CONSTRAINT events_user_fk",
        )
        .setup(
            "ALTER TABLE events ADD CONSTRAINT events_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
        ),
        case(
            "drop FOREIGN KEY",
            "ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey",
        ),
        case(
            "drop CHECK",
            "ALTER TABLE users DROP CONSTRAINT users_n_pos",
        )
        .setup("ALTER TABLE users ADD CONSTRAINT users_n_pos CHECK (n > 0);"),
        case(
            "rename constraint",
            "ALTER TABLE users RENAME CONSTRAINT users_n_pos TO users_n_positive",
        )
        .setup("ALTER TABLE users ADD CONSTRAINT users_n_pos CHECK (n > 0);"),
        case(
            "alter constraint deferrable",
            "ALTER TABLE orders ALTER CONSTRAINT orders_user_id_fkey DEFERRABLE",
        ),
        case(
            "add UNIQUE",
            "ALTER TABLE users ADD CONSTRAINT users_n_key UNIQUE (n)",
        ),
        case(
            "add UNIQUE USING INDEX",
            "ALTER TABLE users ADD CONSTRAINT users_n_key UNIQUE USING INDEX users_n_idx",
        )
        .setup("CREATE UNIQUE INDEX users_n_idx ON users (n);"),
        case(
            "add PRIMARY KEY USING INDEX",
            "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx",
        )
        .setup(
            "ALTER TABLE events DROP CONSTRAINT events_pkey;\n\
             CREATE UNIQUE INDEX events_id_idx ON events (id);",
        ),
        case(
            "add PRIMARY KEY",
            "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id)",
        )
        .setup("ALTER TABLE events DROP CONSTRAINT events_pkey;"),
        // ---- indexes
        case("create index", "CREATE INDEX users_n_idx ON users (n)"),
        case(
            "create unique partial index",
            "CREATE UNIQUE INDEX users_n_idx ON users (n) WHERE n > 5",
        ),
        case(
            "create index concurrently",
            "CREATE INDEX CONCURRENTLY users_n_idx ON users (n)",
        )
        .outside_tx("users"),
        case("drop index", "DROP INDEX users_email_idx"),
        case(
            "drop index concurrently",
            "DROP INDEX CONCURRENTLY users_email_idx",
        )
        .outside_tx("users"),
        case(
            "rename index",
            "ALTER INDEX users_email_idx RENAME TO users_email_index",
        ),
        case("reindex index", "REINDEX INDEX users_email_idx"),
        case("reindex table", "REINDEX TABLE users"),
        case(
            "reindex index concurrently",
            "REINDEX INDEX CONCURRENTLY users_email_idx",
        )
        .outside_tx("users"),
        // ---- tables and partitions
        case(
            "create table referencing an existing table",
            "CREATE TABLE invoices (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id))",
        ),
        case(
            "create partition",
            "CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        ),
        case("drop table", "DROP TABLE events"),
        case("drop table with a foreign key", "DROP TABLE orders"),
        case(
            "attach partition",
            "ALTER TABLE measurements ATTACH PARTITION measurements_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        ),
        case(
            "detach partition",
            "ALTER TABLE measurements DETACH PARTITION measurements_2024",
        ),
        case(
            "detach partition concurrently",
            "ALTER TABLE measurements DETACH PARTITION measurements_2024 CONCURRENTLY",
        )
        .outside_tx("measurements"),
        case("truncate", "TRUNCATE events")
            .new_files()
            .no_scan_check("rebuilding the empty indexes reads the new, empty heap"),
        case("set unlogged", "ALTER TABLE events SET UNLOGGED"),
        case("set logged", "ALTER TABLE events SET LOGGED")
            .setup("ALTER TABLE events SET UNLOGGED;"),
        case("cluster", "CLUSTER users USING users_pkey"),
        case("vacuum full", "VACUUM FULL events").outside_tx("events"),
        case("vacuum", "VACUUM events").outside_tx("events"),
        case("lock table", "LOCK TABLE users IN SHARE MODE"),
        case(
            "set storage parameter",
            "ALTER TABLE users SET (fillfactor = 70)",
        ),
        case("owner to", "ALTER TABLE users OWNER TO postgres"),
        case(
            "enable row level security",
            "ALTER TABLE users ENABLE ROW LEVEL SECURITY",
        ),
        case("replica identity", "ALTER TABLE users REPLICA IDENTITY FULL"),
        case("cluster on", "ALTER TABLE users CLUSTER ON users_pkey"),
        // ---- triggers and views
        case(
            "create trigger",
            "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()",
        ),
        case("drop trigger", "DROP TRIGGER users_touch ON users").setup(
            "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();",
        ),
        case("disable trigger", "ALTER TABLE users DISABLE TRIGGER users_touch").setup(
            "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();",
        ),
        case(
            "refresh materialized view",
            "REFRESH MATERIALIZED VIEW sales_by_region",
        ),
        case(
            "refresh materialized view concurrently",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY sales_by_region",
        ),
        case(
            "create view",
            "CREATE VIEW active_users AS SELECT id, email FROM users WHERE n > 10",
        ),
        case("drop view", "DROP VIEW active_users")
            .setup("CREATE VIEW active_users AS SELECT id, email FROM users WHERE n > 10;"),
        // ---- data
        case("update every row", "UPDATE events SET kind = 'other'"),
        case(
            "update by primary key",
            "UPDATE events SET kind = 'other' WHERE id = 5",
        ),
        case(
            "delete a referenced parent row",
            "DELETE FROM users WHERE id = 4000",
        ),
        case("delete every row", "DELETE FROM events"),
        case(
            "insert from a select",
            "INSERT INTO events (id, user_id, kind) SELECT id + 100000, id, 'copy' FROM users",
        ),
        case(
            "create table as select",
            "CREATE TABLE users_copy AS SELECT * FROM users",
        ),
        case("add enum value", "ALTER TYPE mood ADD VALUE 'sad'")
            .setup("CREATE TYPE mood AS ENUM ('happy');\nALTER TABLE users ADD COLUMN mood mood;"),
        case(
            "insert a row with a foreign key",
            "INSERT INTO orders (id, user_id, amount, note) VALUES (100001, 7, 1, 'x')",
        ),
    ]
}

/// What one table went through, predicted or observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Effect {
    mode: LockMode,
    rewrite: bool,
    scan: bool,
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.mode)?;
        if self.rewrite {
            f.write_str(" +rewrite")?;
        }
        if self.scan {
            f.write_str(" +scan")?;
        }
        Ok(())
    }
}

/// A relation that existed before the statement: the table it counts for, its kind, its files.
#[derive(Debug, Clone)]
struct Rel {
    table: ObjName,
    relkind: String,
    relfilenode: u32,
}

fn prediction(case: &Case, pg_version: u32) -> Result<BTreeMap<ObjName, Effect>, String> {
    let mut catalog = Catalog::new();
    for sql in [BASE_SCHEMA, case.setup] {
        for stmt in parse_sql(sql) {
            for op in &stmt.ops {
                catalog.apply(op);
            }
        }
    }
    let statements = parse_sql(case.sql);
    if statements.is_empty() {
        return Err("the parser returned no statement".into());
    }
    let opts = ModelOptions {
        pg_version,
        session_time_zone_utc: case.utc,
    };
    let mut out: BTreeMap<ObjName, Effect> = BTreeMap::new();
    for stmt in statements {
        if stmt.parsed_by == ParsedBy::Unparsed || stmt.ops.is_empty() {
            return Err(format!(
                "the parser produced no operation ({:?}: {})",
                stmt.parsed_by,
                stmt.error.unwrap_or_default()
            ));
        }
        for op in &stmt.ops {
            for f in locks::analyze(op, &catalog, &opts).facts {
                let e = out.entry(f.table.clone()).or_insert(Effect {
                    mode: f.mode,
                    rewrite: false,
                    scan: false,
                });
                e.mode = e.mode.max(f.mode);
                e.rewrite |= f.rewrite;
                e.scan |= f.scan;
            }
            catalog.apply(op);
        }
    }
    Ok(out)
}

/// Every user relation, keyed by oid, with the table it counts for.
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
        let oid: u32 = r.get(0);
        let table = match (r.get::<_, Option<String>>(5), r.get::<_, Option<String>>(6)) {
            (Some(s), Some(t)) => ObjName::new(s, t),
            _ => ObjName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
        };
        out.insert(
            oid,
            Rel {
                table,
                relkind: r.get(3),
                relfilenode: r.get(4),
            },
        );
    }
    Ok(out)
}

fn merge_lock(into: &mut BTreeMap<ObjName, Effect>, table: &ObjName, mode: LockMode) {
    let e = into.entry(table.clone()).or_insert(Effect {
        mode,
        rewrite: false,
        scan: false,
    });
    e.mode = e.mode.max(mode);
}

fn lock_rows(
    client: &mut postgres::Client,
    pid: i32,
) -> Result<Vec<(u32, String, bool)>, postgres::Error> {
    Ok(client
        .query(
            "SELECT relation, mode, granted FROM pg_locks
              WHERE pid = $1 AND locktype = 'relation' AND relation IS NOT NULL",
            &[&pid],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Tables whose heap files changed (indexes are not counted: a REINDEX is not a rewrite).
fn rewritten(
    client: &mut postgres::Client,
    before: &HashMap<u32, Rel>,
) -> Result<Vec<ObjName>, postgres::Error> {
    let mut out = Vec::new();
    for r in client.query("SELECT oid, relfilenode FROM pg_class", &[])? {
        let oid: u32 = r.get(0);
        let node: u32 = r.get(1);
        if let Some(rel) = before.get(&oid)
            && matches!(rel.relkind.as_str(), "r" | "m")
            && rel.relfilenode != node
        {
            out.push(rel.table.clone());
        }
    }
    Ok(out)
}

/// Runs the statement inside a transaction that is rolled back, and reports per table.
fn observe_in_tx(
    client: &mut postgres::Client,
    case: &Case,
) -> Result<BTreeMap<ObjName, Effect>, String> {
    let e = |what: &str| {
        let what = what.to_string();
        move |err: postgres::Error| format!("{what}: {err}")
    };
    let before = relations(client).map_err(e("reading pg_class"))?;
    client.batch_execute("BEGIN").map_err(e("BEGIN"))?;
    if !case.session.is_empty() {
        client
            .batch_execute(case.session)
            .map_err(e("session setup"))?;
    }
    let result = (|| {
        client
            .batch_execute(case.sql)
            .map_err(e("the statement failed"))?;
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(e("pg_backend_pid"))?
            .get(0);
        let mut out = BTreeMap::new();
        for (oid, mode, _) in lock_rows(client, pid).map_err(e("reading pg_locks"))? {
            let (Some(rel), Some(mode)) = (before.get(&oid), LockMode::parse(&mode)) else {
                continue; // system catalogs and objects the statement created
            };
            merge_lock(&mut out, &rel.table, mode);
        }
        for table in rewritten(client, &before).map_err(e("reading relfilenodes"))? {
            if let Some(eff) = out.get_mut(&table) {
                eff.rewrite = true;
            }
        }
        for r in client
            .query(
                "SELECT relid, seq_scan FROM pg_stat_xact_user_tables WHERE seq_scan > 0",
                &[],
            )
            .map_err(e("reading pg_stat_xact_user_tables"))?
        {
            let oid: u32 = r.get(0);
            if let Some(eff) = before.get(&oid).and_then(|rel| out.get_mut(&rel.table)) {
                eff.scan = true;
            }
        }
        Ok(out)
    })();
    client.batch_execute("ROLLBACK").map_err(e("ROLLBACK"))?;
    result
}

/// Runs a statement that cannot run in a transaction while another session holds SHARE
/// UPDATE EXCLUSIVE on `block`, and reports the lock it waits for (plus any it holds).
fn observe_outside_tx(
    cluster: &Cluster,
    db: &str,
    case: &Case,
    block: &str,
) -> Result<BTreeMap<ObjName, Effect>, String> {
    let conn = |what: &str| {
        cluster
            .connect(db)
            .map_err(|err| format!("{what} connection: {err}"))
    };
    let mut monitor = conn("monitor")?;
    let mut blocker = conn("blocker")?;
    let mut runner = conn("runner")?;
    let before = relations(&mut monitor).map_err(|err| err.to_string())?;
    blocker
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {block} IN SHARE UPDATE EXCLUSIVE MODE"
        ))
        .map_err(|err| format!("blocker: {err}"))?;
    let pid: i32 = runner
        .query_one("SELECT pg_backend_pid()", &[])
        .map_err(|err| err.to_string())?
        .get(0);
    let sql = if case.session.is_empty() {
        case.sql.to_string()
    } else {
        format!("{};\n{}", case.session, case.sql)
    };
    let handle = std::thread::spawn(move || runner.batch_execute(&sql).map_err(|e| e.to_string()));

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    while Instant::now() < deadline && !handle.is_finished() {
        seen = lock_rows(&mut monitor, pid).map_err(|err| err.to_string())?;
        if seen.iter().any(|(_, _, granted)| !granted) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    blocker
        .batch_execute("ROLLBACK")
        .map_err(|err| format!("blocker: {err}"))?;
    let run = handle
        .join()
        .map_err(|_| "the statement's thread panicked".to_string())?;
    run.map_err(|err| format!("the statement failed: {err}"))?;
    if !seen.iter().any(|(_, _, granted)| !granted) {
        return Err(format!(
            "the statement never waited for the lock held on {block}; nothing observed"
        ));
    }

    let block_name = ObjName::public(block);
    let mut out = BTreeMap::new();
    for (oid, mode, _) in seen {
        if let (Some(rel), Some(mode)) = (before.get(&oid), LockMode::parse(&mode))
            && rel.table == block_name
        {
            merge_lock(&mut out, &rel.table, mode);
        }
    }
    for table in rewritten(&mut monitor, &before).map_err(|err| err.to_string())? {
        if let Some(eff) = out.get_mut(&table) {
            eff.rewrite = true;
        }
    }
    Ok(out)
}

/// Compares one case; returns the mismatches (empty when the model is right) and the
/// tolerated extra read locks.
fn compare(
    case: &Case,
    predicted: &BTreeMap<ObjName, Effect>,
    observed: &BTreeMap<ObjName, Effect>,
) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut tolerated = Vec::new();
    let only_block = case.block.map(ObjName::public);
    for (table, obs) in observed {
        let Some(pred) = predicted.get(table) else {
            if obs.mode == LockMode::AccessShare && !obs.rewrite {
                tolerated.push(format!("{table}: {obs}"));
            } else {
                problems.push(format!("{table}: predicted nothing, observed {obs}"));
            }
            continue;
        };
        let mut wrong = Vec::new();
        if pred.mode != obs.mode {
            wrong.push("mode");
        }
        let expect_new_files = pred.rewrite || case.new_files_without_rewrite;
        if expect_new_files != obs.rewrite {
            wrong.push("rewrite");
        }
        if case.scan_unobservable.is_none() && pred.scan != obs.scan {
            wrong.push("scan");
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{table}: predicted {pred}, observed {obs} (wrong {})",
                wrong.join(", ")
            ));
        }
    }
    for (table, pred) in predicted {
        if observed.contains_key(table) {
            continue;
        }
        if only_block.as_ref().is_some_and(|b| b != table) {
            continue; // outside a transaction only the blocked table is observed
        }
        problems.push(format!("{table}: predicted {pred}, observed no lock"));
    }
    (problems, tolerated)
}

fn fmt_effects(map: &BTreeMap<ObjName, Effect>) -> String {
    if map.is_empty() {
        return "-".into();
    }
    map.iter()
        .map(|(t, e)| format!("{t}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn lock_model_matches_postgresql() {
    let cluster = match Cluster::shared() {
        Ok(c) => c,
        Err(e) => panic!("cannot start the PostgreSQL test cluster: {e}"),
    };
    let version = cluster.version();

    // One populated template; each case gets a cheap copy of it.
    cluster
        .create_database("lm_base")
        .expect("create template database");
    {
        let mut c = cluster.connect("lm_base").expect("connect to template");
        c.batch_execute(BASE_SCHEMA).expect("base schema");
        c.batch_execute(BASE_DATA).expect("base data");
    }

    let cases = cases();
    let mut report = String::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate() {
        let db = format!("lm_case_{i}");
        let outcome = (|| -> Result<_, String> {
            cluster
                .create_database_from(&db, "lm_base")
                .map_err(|e| e.to_string())?;
            if !case.setup.is_empty() {
                // Its own connection: a backend keeps table statistics pending for up to a
                // second, and pg_stat_xact_user_tables would count the setup's scans.
                let mut setup = cluster.connect(&db).map_err(|e| e.to_string())?;
                setup
                    .batch_execute(case.setup)
                    .map_err(|e| format!("setup failed: {e}"))?;
            }
            let observed = match case.block {
                None => {
                    let mut client = cluster.connect(&db).map_err(|e| e.to_string())?;
                    observe_in_tx(&mut client, case)?
                }
                Some(block) => observe_outside_tx(cluster, &db, case, block)?,
            };
            let predicted = prediction(case, version)?;
            Ok((predicted, observed))
        })();
        match outcome {
            Ok((predicted, observed)) => {
                checked += 1;
                let (problems, tolerated) = compare(case, &predicted, &observed);
                let _ = writeln!(
                    report,
                    "{:<3} {:<48} {} | observed {}{}{}",
                    if problems.is_empty() { "ok" } else { "BAD" },
                    case.name,
                    fmt_effects(&predicted),
                    fmt_effects(&observed),
                    if tolerated.is_empty() {
                        String::new()
                    } else {
                        format!(" | reads not modelled: {}", tolerated.join("; "))
                    },
                    case.scan_unobservable
                        .map(|why| format!(" | scan not checked: {why}"))
                        .unwrap_or_default(),
                );
                for p in problems {
                    failures.push(format!("{} [{}]: {p}", case.name, case.sql));
                }
            }
            Err(e) => {
                let _ = writeln!(report, "ERR {:<48} {e}", case.name);
                failures.push(format!("{} [{}]: {e}", case.name, case.sql));
            }
        }
    }
    eprintln!(
        "lock model vs PostgreSQL {version} ({checked}/{} cases run):\n{report}",
        cases.len()
    );
    assert!(
        cases.len() >= 40,
        "the matrix must cover at least 40 operation kinds"
    );
    assert!(
        failures.is_empty(),
        "{} of {} lock-model cases disagree with PostgreSQL {version}:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}
