//! Planner equivalence on a real PostgreSQL: the original migration and the plan's steps
//! (backfills included, run through the generated psql procedure) applied to two databases
//! with the same seeded data end with the same schema and the same rows.

mod plan_support;

use lockstep::plan::StepKind;
use plan_support::*;

/// A table with NULLs, edge values and several column kinds; 5,000 rows.
const BASE: &str = "
CREATE TABLE owners (id bigint PRIMARY KEY, name text);
CREATE TABLE items (
    id bigserial PRIMARY KEY,
    code text NOT NULL,
    qty integer NOT NULL DEFAULT 0,
    label text,
    note text DEFAULT 'none',
    owner_id bigint,
    price text
);
CREATE INDEX items_note_idx ON items (note);
CREATE INDEX items_qty_label_idx ON items (qty, label);
CREATE TABLE logs (id bigint, msg text);
CREATE TABLE old_stuff (id int);
";

const SEED: &str = "
INSERT INTO owners SELECT g, 'owner ' || g FROM generate_series(1, 50) g;
INSERT INTO items (code, qty, label, note, owner_id, price)
SELECT 'c' || g,
       CASE WHEN g % 97 = 0 THEN 2147483647 WHEN g % 89 = 0 THEN -2147483648 ELSE g % 1000 END,
       CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN '' ELSE 'label ''' || g || E'\\u00e9' END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || (g % 13) END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 1 + g % 50 END,
       CASE WHEN g % 9 = 0 THEN NULL ELSE (g * 1.25)::text END
FROM generate_series(1, 5000) g;
INSERT INTO logs SELECT g, 'm' || g FROM generate_series(1, 3000) g;
";

fn check(prefix: &str, migration: &str, tables: &[(&str, &str, &[&str])]) -> lockstep::plan::Plan {
    let Some(cluster) = cluster() else {
        return lockstep::plan::plan_sql(&catalog_of(BASE), "t", migration, &options())
            .expect("plan");
    };
    let (mut a, mut b, plan) = twin(cluster, prefix, BASE, SEED, migration);
    assert_same_schema(&mut a, &mut b, &plan);
    for (table, order, skip) in tables {
        let ra = rows(&mut a, table, order, skip);
        let rb = rows(&mut b, table, order, skip);
        assert_eq!(ra.len(), rb.len(), "row count of {table}");
        assert!(
            ra == rb,
            "rows of {table} differ, first: {:?} vs {:?}",
            ra.iter().zip(&rb).find(|(x, y)| x != y).map(|p| p.0),
            ra.iter().zip(&rb).find(|(x, y)| x != y).map(|p| p.1)
        );
    }
    plan
}

#[test]
fn add_column_not_null_with_volatile_default() {
    let plan = check(
        "addcol",
        "ALTER TABLE items ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();\n\
         ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT clock_timestamp();",
        &[("items", "id", &["token", "seen"])],
    );
    assert!(plan.steps.iter().any(|s| s.kind == StepKind::Backfill));
    assert!(
        plan.sql_steps()
            .any(|s| s.sql().contains("VALIDATE CONSTRAINT"))
    );
    // No step adds the column with its volatile default (that would rewrite the table).
    assert!(
        !plan
            .sql_steps()
            .any(|s| s.sql().contains("ADD COLUMN token uuid DEFAULT"))
    );
    if let Some(cluster) = cluster() {
        // Every row got its own value, none is NULL.
        let (_, mut c) = fresh_db(cluster, "addcol_vals");
        c.batch_execute(BASE).unwrap();
        c.batch_execute(SEED).unwrap();
        run_plan(&mut c, &plan);
        let r = c
            .query_one(
                "SELECT count(*), count(DISTINCT token), count(seen) FROM items",
                &[],
            )
            .unwrap();
        assert_eq!(r.get::<_, i64>(0), 5000);
        assert_eq!(r.get::<_, i64>(1), 5000);
        assert_eq!(r.get::<_, i64>(2), 5000);
    }
}

#[test]
fn set_not_null_uses_a_validated_check() {
    let plan = check(
        "setnn",
        "ALTER TABLE items ALTER COLUMN code SET NOT NULL; ALTER TABLE items ALTER COLUMN price DROP DEFAULT;",
        &[("items", "id", &[])],
    );
    let sql: Vec<String> = plan.sql_steps().map(|s| s.sql()).collect();
    let add = sql
        .iter()
        .position(|s| s.contains("NOT VALID"))
        .expect("check added");
    let validate = sql
        .iter()
        .position(|s| s.contains("VALIDATE"))
        .expect("validated");
    let set = sql
        .iter()
        .position(|s| s.contains("SET NOT NULL"))
        .expect("set");
    assert!(add < validate && validate < set);
}

#[test]
fn change_column_type_with_trigger_and_swap() {
    let plan = check(
        "chtype",
        "ALTER TABLE items ALTER COLUMN qty TYPE bigint;\n\
         ALTER TABLE items ALTER COLUMN price TYPE numeric(12,2) USING price::numeric;",
        &[("items", "id", &[])],
    );
    assert!(plan.steps.iter().any(|s| s.kind == StepKind::Deploy));
    assert!(plan.sql_steps().any(|s| s.sql().contains("CREATE TRIGGER")));
}

#[test]
fn rename_column_through_a_synced_copy() {
    let plan = check(
        "rencol",
        "ALTER TABLE items RENAME COLUMN note TO remark;",
        &[("items", "id", &[])],
    );
    let deploy = plan
        .steps
        .iter()
        .position(|s| s.kind == StepKind::Deploy)
        .expect("deploy");
    let drop = plan
        .steps
        .iter()
        .position(|s| s.sql().contains("DROP COLUMN note"))
        .expect("old column dropped");
    assert!(
        deploy < drop,
        "the old column is dropped only after the deploy"
    );
}

#[test]
fn rename_table_with_a_compatibility_view() {
    let plan = check(
        "rentab",
        "ALTER TABLE items RENAME TO products;",
        &[("products", "id", &[])],
    );
    assert!(plan.sql_steps().any(|s| {
        s.sql()
            .contains("CREATE VIEW items AS SELECT * FROM products")
    }));
    if let Some(cluster) = cluster() {
        // Between expand and contract the old name still takes writes.
        let (_, mut c) = fresh_db(cluster, "rentab_view");
        c.batch_execute(BASE).unwrap();
        c.batch_execute(SEED).unwrap();
        let first = plan
            .steps
            .iter()
            .find(|s| s.kind != StepKind::Deploy)
            .unwrap();
        let mut tx = c.transaction().unwrap();
        for s in &first.statements {
            tx.batch_execute(s).unwrap();
        }
        tx.commit().unwrap();
        c.batch_execute("INSERT INTO items (code) VALUES ('through view'); UPDATE items SET qty = 1 WHERE id = 1")
            .unwrap();
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM products WHERE code = 'through view'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
    }
}

#[test]
fn foreign_key_and_check_not_valid_then_validate() {
    let plan = check(
        "fkchk",
        "ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id) ON DELETE SET NULL;\n\
         ALTER TABLE items ADD CHECK (qty >= -2147483648);",
        &[("items", "id", &[])],
    );
    let validates = plan
        .sql_steps()
        .filter(|s| s.sql().contains("VALIDATE CONSTRAINT"))
        .count();
    assert_eq!(validates, 2);
    // VALIDATE runs in a transaction of its own, never with the NOT VALID add.
    assert!(
        plan.sql_steps()
            .all(|s| !(s.sql().contains("NOT VALID") && s.sql().contains("VALIDATE")))
    );
}

#[test]
fn unique_and_primary_key_through_concurrent_indexes() {
    let plan = check(
        "uniqpk",
        "ALTER TABLE items ADD CONSTRAINT items_code_key UNIQUE (code);\n\
         ALTER TABLE logs ADD PRIMARY KEY (id);",
        &[("items", "id", &[]), ("logs", "id", &[])],
    );
    let cic: Vec<_> = plan
        .sql_steps()
        .filter(|s| s.sql().contains("CREATE UNIQUE INDEX CONCURRENTLY"))
        .collect();
    assert_eq!(cic.len(), 2);
    assert!(cic.iter().all(|s| !s.transactional));
    assert!(
        plan.sql_steps()
            .any(|s| s.sql().contains("PRIMARY KEY USING INDEX logs_pkey"))
    );
}

#[test]
fn create_and_drop_index_concurrently_with_cleanup() {
    let plan = check(
        "idx",
        "CREATE INDEX ON items (owner_id);\nDROP INDEX items_note_idx;\nCREATE UNIQUE INDEX items_code_idx ON items (code);",
        &[("items", "id", &[])],
    );
    let steps: Vec<_> = plan.sql_steps().collect();
    for (i, s) in steps.iter().enumerate() {
        if s.sql().contains("CREATE INDEX CONCURRENTLY")
            || s.sql().contains("CREATE UNIQUE INDEX CONCURRENTLY")
        {
            assert!(!s.transactional);
            assert!(
                i > 0 && steps[i - 1].sql().contains("NOT indisvalid"),
                "cleanup before the build"
            );
        }
    }
    assert!(
        steps
            .iter()
            .any(|s| s.sql().contains("DROP INDEX CONCURRENTLY items_note_idx"))
    );
}

#[test]
fn drop_column_and_table_after_a_deploy() {
    let plan = check(
        "drop",
        "ALTER TABLE items DROP COLUMN label;\nDROP TABLE old_stuff;",
        &[("items", "id", &[])],
    );
    let deploy = plan
        .steps
        .iter()
        .position(|s| s.kind == StepKind::Deploy)
        .expect("deploy");
    for s in &plan.steps[..deploy] {
        assert!(!s.sql().contains("DROP COLUMN") && !s.sql().contains("DROP TABLE"));
    }
    // The index on (qty, label) is dropped concurrently before the column.
    let idx = plan.steps.iter().position(|s| {
        s.sql()
            .contains("DROP INDEX CONCURRENTLY IF EXISTS items_qty_label_idx")
    });
    let col = plan
        .steps
        .iter()
        .position(|s| s.sql().contains("DROP COLUMN label"));
    assert!(idx.is_some() && idx < col);
}

#[test]
fn data_migrations_become_batched_backfills() {
    let plan = check(
        "data",
        "CREATE TABLE archive (id bigint PRIMARY KEY, qty int);\n\
         UPDATE items SET note = 'n/a' WHERE note IS NULL;\n\
         UPDATE items SET qty = qty / 2;\n\
         INSERT INTO archive (id, qty) SELECT id, qty FROM items WHERE qty > 900;\n\
         DELETE FROM items WHERE label IS NULL;",
        &[("items", "id", &[]), ("archive", "id", &[])],
    );
    assert_eq!(
        plan.steps
            .iter()
            .filter(|s| s.kind == StepKind::Backfill)
            .count(),
        4,
        "{:#?}",
        plan.steps.iter().map(|s| &s.title).collect::<Vec<_>>()
    );
}

/// Mixed case, spaces, quotes, reserved words, a non-public schema.
const ODD_BASE: &str = r#"
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Order Items" (
    "Id" bigint PRIMARY KEY,
    "select" text,
    "we""ird" integer NOT NULL DEFAULT 1,
    "Mixed Case" text
);
CREATE INDEX "Sel Idx" ON "Odd Schema"."Order Items" ("select");
"#;

const ODD_SEED: &str = r#"
INSERT INTO "Odd Schema"."Order Items"
SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 's' || g END, g % 100, 'M' || g
FROM generate_series(1, 2500) g;
"#;

#[test]
fn identifiers_are_quoted_everywhere() {
    let migration = r#"
ALTER TABLE "Odd Schema"."Order Items" ADD COLUMN "user" uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE "Odd Schema"."Order Items" ALTER COLUMN "Mixed Case" SET NOT NULL;
ALTER TABLE "Odd Schema"."Order Items" ALTER COLUMN "we""ird" TYPE bigint;
ALTER TABLE "Odd Schema"."Order Items" RENAME COLUMN "select" TO "from";
CREATE INDEX "Mixed Idx" ON "Odd Schema"."Order Items" ("Mixed Case");
UPDATE "Odd Schema"."Order Items" SET "Mixed Case" = lower("Mixed Case") WHERE "Id" > 10;
"#;
    let Some(cluster) = cluster() else {
        return;
    };
    let (mut a, mut b, plan) = twin(cluster, "odd", ODD_BASE, ODD_SEED, migration);
    assert_same_schema(&mut a, &mut b, &plan);
    let t = r#""Odd Schema"."Order Items""#;
    assert_eq!(
        rows(&mut a, t, r#""Id""#, &["user"]),
        rows(&mut b, t, r#""Id""#, &["user"])
    );
}

#[test]
fn a_table_without_a_key_is_refused_with_advice() {
    let err = lockstep::plan::plan_sql(
        &catalog_of("CREATE TABLE nokey (a int, b text);"),
        "t",
        "UPDATE nokey SET b = 'x';",
        &options(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no primary key"), "{msg}");
    assert!(msg.contains("PRIMARY KEY USING INDEX"), "{msg}");
}

#[test]
fn safe_statements_pass_through_in_order() {
    let plan = plan_for(
        BASE,
        "CREATE TABLE t1 (id int PRIMARY KEY);\nCREATE INDEX t1_idx ON t1 (id);\nALTER TABLE items ADD COLUMN flag boolean DEFAULT false;\nCOMMENT ON TABLE items IS 'x';",
    );
    let sql: Vec<String> = plan
        .sql_steps()
        .map(|s| s.statements.last().cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        sql,
        vec![
            "CREATE TABLE t1 (id int PRIMARY KEY);",
            "CREATE INDEX t1_idx ON t1 (id);",
            "ALTER TABLE items ADD COLUMN flag boolean DEFAULT false;",
            "COMMENT ON TABLE items IS 'x';",
        ]
    );
    // Every step that takes a lock on an existing table sets lock_timeout.
    for s in plan.sql_steps() {
        if s.locks.iter().any(|l| l.mode == "ACCESS EXCLUSIVE") {
            assert!(
                s.statements[0].starts_with("SET lock_timeout = '2000ms'"),
                "{:?}",
                s.statements
            );
        }
    }
}
