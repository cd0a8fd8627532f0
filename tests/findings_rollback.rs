//! Issue 11, "the rollback check compares like with like": names PostgreSQL generated,
//! partial indexes dropped with their column, type aliases and qualified function names in
//! defaults are not differences. Where the server can say what happens (the names it
//! generates, the index it drops), the expected value is what it does.

mod live_support;

use lockstep::analyze::{Analysis, analyze};
use lockstep::catalog::Catalog;
use lockstep::ops::ConstraintKind;
use lockstep::settings::Settings;
use lockstep::source::{self, Layout};
use std::collections::BTreeSet;
use std::path::Path;

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn lint(dir: &Path) -> Analysis {
    let loaded =
        source::load(&[dir.to_path_buf()], Some(Layout::GolangMigrate), &[]).expect("folder loads");
    analyze(&loaded.migrations, &Settings::default(), &|_| true)
}

fn not_restored(a: &Analysis) -> Vec<String> {
    a.findings
        .iter()
        .filter(|f| f.rule == "down-does-not-restore")
        .flat_map(|f| {
            std::iter::once(f.message.clone()).chain(f.notes.iter().map(|n| n.message.clone()))
        })
        .collect()
}

fn replay(sql: &str) -> Catalog {
    let mut c = Catalog::new();
    for s in lockstep::parse::parse_sql(sql) {
        for op in &s.ops {
            c.apply(op);
        }
    }
    c
}

/// DDL creating constraints and indexes without names, in the shapes whose generated
/// names differ: one column or several, a CHECK reading one column (through a function) or
/// two, repeats that get a number, and a table name long enough to be cut.
const UNNAMED: &str = "
CREATE TABLE parent (id bigint PRIMARY KEY, code text, region text, UNIQUE (code, region));
CREATE TABLE products (
    id bigint PRIMARY KEY,
    price numeric CHECK (price > 0),
    sku text UNIQUE,
    email text CHECK (lower(email) <> ''),
    lo int, hi int, CHECK (lo < hi),
    code text, region text,
    FOREIGN KEY (code, region) REFERENCES parent (code, region)
);
ALTER TABLE products ADD CHECK (price < 1000000);
ALTER TABLE products ADD CHECK (price <> 13);
CREATE INDEX ON products (sku);
CREATE INDEX ON products (sku);
CREATE TABLE a_table_name_that_is_long_enough_to_be_cut_by_postgres_xx (
    id bigint PRIMARY KEY,
    parent_id bigint REFERENCES parent (id)
);
";

#[test]
fn generated_constraint_and_index_names_are_the_servers() {
    let Some(cluster) = live_support::cluster() else {
        return;
    };
    let db = live_support::database(cluster, "pgnames");
    let mut client = cluster.connect(&db).expect("connect");
    client.batch_execute(UNNAMED).expect("DDL runs");
    let mut server: BTreeSet<String> = BTreeSet::new();
    for row in client
        .query(
            "SELECT conname::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
             AND contype IN ('p', 'u', 'f', 'c')
             UNION SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'",
            &[],
        )
        .expect("query")
    {
        server.insert(row.get(0));
    }
    let cat = replay(UNNAMED);
    let mut ours: BTreeSet<String> = BTreeSet::new();
    for t in cat.tables.values() {
        for c in &t.constraints {
            if !matches!(c.kind, ConstraintKind::NotNull { .. }) {
                ours.insert(c.name.clone());
            }
        }
    }
    for i in cat.indexes.values() {
        ours.insert(i.name.name.clone());
    }
    assert_eq!(ours, server, "the replay names what PostgreSQL names");
}

#[test]
fn dropping_and_readding_a_constraint_by_its_generated_name_restores_it() {
    let dir = folder(&[
        (
            "000001_products.up.sql",
            "CREATE TABLE products (id bigint PRIMARY KEY, price numeric CHECK (price > 0));\n",
        ),
        ("000001_products.down.sql", "DROP TABLE products;\n"),
        (
            "000002_drop_check.up.sql",
            "ALTER TABLE products DROP CONSTRAINT products_price_check;\n",
        ),
        (
            "000002_drop_check.down.sql",
            "ALTER TABLE products ADD CONSTRAINT products_price_check CHECK (price > 0);\n",
        ),
    ]);
    let a = lint(dir.path());
    assert_eq!(not_restored(&a), Vec::<String>::new());
}

/// Up adds a column and a partial index reading it; down drops the column only.
const PARTIAL_UP: &str = "ALTER TABLE users ADD COLUMN deleted_at timestamptz;\n\
     CREATE INDEX users_live_email_idx ON users (email) WHERE deleted_at IS NULL;\n";
const PARTIAL_DOWN: &str = "ALTER TABLE users DROP COLUMN deleted_at;\n";

#[test]
fn a_partial_index_goes_with_the_column_its_predicate_reads() {
    // What the server does: the index is gone after the down script.
    if let Some(cluster) = live_support::cluster() {
        let db = live_support::database(cluster, "partial");
        let mut client = cluster.connect(&db).expect("connect");
        client
            .batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, email text);")
            .expect("setup");
        client.batch_execute(PARTIAL_UP).expect("up");
        client.batch_execute(PARTIAL_DOWN).expect("down");
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'users_live_email_idx'",
                &[],
            )
            .expect("query")
            .get(0);
        assert_eq!(n, 0, "PostgreSQL dropped the partial index with the column");
    }
    let dir = folder(&[
        (
            "000001_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
        ),
        ("000001_users.down.sql", "DROP TABLE users;\n"),
        ("000002_soft_delete.up.sql", PARTIAL_UP),
        ("000002_soft_delete.down.sql", PARTIAL_DOWN),
    ]);
    let a = lint(dir.path());
    assert_eq!(not_restored(&a), Vec::<String>::new());
}

#[test]
fn a_partial_index_left_behind_is_still_reported() {
    let dir = folder(&[
        (
            "000001_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text, deleted_at timestamptz);\n",
        ),
        ("000001_users.down.sql", "DROP TABLE users;\n"),
        (
            "000002_idx.up.sql",
            "ALTER TABLE users ADD COLUMN note text;\n\
             CREATE INDEX users_live_email_idx ON users (email) WHERE deleted_at IS NULL;\n",
        ),
        (
            "000002_idx.down.sql",
            "ALTER TABLE users DROP COLUMN note;\n",
        ),
    ]);
    let a = lint(dir.path());
    let msgs = not_restored(&a);
    assert!(
        msgs.iter().any(|m| m.contains("users_live_email_idx")),
        "{msgs:?}"
    );
}

#[test]
fn type_aliases_are_the_same_type() {
    for (written, stored) in [
        ("varchar(20)", "character varying(20)"),
        ("int", "integer"),
        ("int4", "integer"),
        ("bool", "boolean"),
        ("timestamptz", "timestamp with time zone"),
        ("timestamptz(3)", "timestamp(3) with time zone"),
        ("float8", "double precision"),
        ("int8[]", "bigint[]"),
        ("decimal(10,2)", "numeric(10, 2)"),
    ] {
        assert_eq!(
            lockstep::rollback::canonical_type(written),
            lockstep::rollback::canonical_type(stored),
            "{written} = {stored}"
        );
    }
    assert_ne!(
        lockstep::rollback::canonical_type("timestamp"),
        lockstep::rollback::canonical_type("timestamptz")
    );
    assert_ne!(
        lockstep::rollback::canonical_type("varchar(20)"),
        lockstep::rollback::canonical_type("varchar(40)")
    );
    let dir = folder(&[
        (
            "000001_t.up.sql",
            "CREATE TABLE t (id int4 PRIMARY KEY, name varchar(20), ok bool, at timestamptz, \
             f float8);\n",
        ),
        ("000001_t.down.sql", "DROP TABLE t;\n"),
        (
            "000002_widen.up.sql",
            "ALTER TABLE t ALTER COLUMN name TYPE text, ALTER COLUMN ok TYPE int USING ok::int, \
             ALTER COLUMN f TYPE numeric;\n",
        ),
        (
            "000002_widen.down.sql",
            "ALTER TABLE t ALTER COLUMN name TYPE character varying(20), \
             ALTER COLUMN ok TYPE boolean USING ok <> 0, ALTER COLUMN f TYPE double precision;\n",
        ),
    ]);
    assert_eq!(not_restored(&lint(dir.path())), Vec::<String>::new());
}

#[test]
fn qualified_and_unqualified_function_names_in_defaults_are_the_same_default() {
    let dir = folder(&[
        (
            "000001_t.up.sql",
            "CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz DEFAULT now(), \
             d date DEFAULT current_date);\n",
        ),
        ("000001_t.down.sql", "DROP TABLE t;\n"),
        (
            "000002_defaults.up.sql",
            "ALTER TABLE t ALTER COLUMN at DROP DEFAULT;\n",
        ),
        (
            "000002_defaults.down.sql",
            "ALTER TABLE t ALTER COLUMN at SET DEFAULT pg_catalog.now();\n",
        ),
    ]);
    assert_eq!(not_restored(&lint(dir.path())), Vec::<String>::new());
    // A different function is still a difference.
    let dir = folder(&[
        (
            "000001_t.up.sql",
            "CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz DEFAULT now());\n",
        ),
        ("000001_t.down.sql", "DROP TABLE t;\n"),
        (
            "000002_defaults.up.sql",
            "ALTER TABLE t ALTER COLUMN at DROP DEFAULT;\n",
        ),
        (
            "000002_defaults.down.sql",
            "ALTER TABLE t ALTER COLUMN at SET DEFAULT public.my_now();\n",
        ),
    ]);
    assert_eq!(not_restored(&lint(dir.path())).len(), 1);
}
