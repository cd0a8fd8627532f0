//! Plans for the shapes real migrations contain, applied on a real server with the old and
//! the new application writing while the plan runs: session settings that change how a
//! conversion behaves, a primary key replaced in place, and a column filled by a data
//! migration and then made NOT NULL while old application versions still insert rows.

mod plan_support;

use lockstep::plan::{Phase, Plan, Step, StepKind};
use plan_support::*;
use postgres::Client;

/// Runs `steps` like `run_plan` does.
fn run_steps(client: &mut Client, plan: &Plan, steps: &[Step]) {
    let mut part = plan.clone();
    part.steps = steps.to_vec();
    run_plan(client, &part);
}

fn pk_count(client: &mut Client, table: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype = 'p'",
            &[&table],
        )
        .unwrap()
        .get(0)
}

/// A database whose sessions run in New York time unless told otherwise, like an
/// application server's.
fn db_in_new_york(prefix: &str) -> Option<(String, Client)> {
    let cluster = cluster()?;
    let (name, mut c) = fresh_db(cluster, prefix);
    c.batch_execute(&format!(
        "ALTER DATABASE {name} SET timezone = 'America/New_York'"
    ))
    .unwrap();
    drop(c);
    let c = cluster.connect(&name).unwrap();
    Some((name, c))
}

const EVENTS: &str = "CREATE TABLE events (id bigint PRIMARY KEY, at timestamp NOT NULL);";
const EVENTS_SEED: &str = "INSERT INTO events SELECT g, timestamp '2024-03-10 06:30' + g * interval '7 hours' \
                           FROM generate_series(1, 3000) g;";
const EVENTS_MIGRATION: &str =
    "SET timezone = 'UTC';\nALTER TABLE events ALTER COLUMN at TYPE timestamptz;";

#[test]
fn the_migrations_time_zone_travels_with_every_step_and_the_sync_trigger() {
    let Some((_, mut orig)) = db_in_new_york("tz_orig") else {
        return;
    };
    let (_, mut planned) = db_in_new_york("tz_plan").unwrap();
    for c in [&mut orig, &mut planned] {
        c.batch_execute(EVENTS).unwrap();
        c.batch_execute(EVENTS_SEED).unwrap();
    }
    let plan = plan_for(EVENTS, EVENTS_MIGRATION);
    for step in &plan.steps {
        let sets = step.statements.iter().any(|s| s == "SET timezone = 'UTC';");
        let resets = step.statements.iter().any(|s| s == "RESET timezone;");
        if step.kind != StepKind::Deploy && step.transactional {
            assert!(
                sets && resets,
                "step {} `{}` does not carry the migration's SET timezone: {:?}",
                step.id,
                step.title,
                step.statements
            );
        }
    }
    // The original migration: one transaction, as the runner would run it.
    let mut tx = orig.transaction().unwrap();
    tx.batch_execute(EVENTS_MIGRATION).unwrap();
    tx.commit().unwrap();
    orig.batch_execute("RESET timezone").unwrap();
    // While the plan runs, the application (New York session) keeps writing naive
    // timestamps to the old column; after the plan they must read as the migration's
    // conversion (UTC) made them, like every other row.
    let split = plan
        .steps
        .iter()
        .position(|s| s.phase != Phase::Expand)
        .unwrap_or(plan.steps.len());
    run_steps(&mut planned, &plan, &plan.steps[..split]);
    if split < plan.steps.len() {
        planned
            .batch_execute("INSERT INTO events VALUES (9001, timestamp '2024-07-01 12:00')")
            .unwrap();
    }
    run_steps(&mut planned, &plan, &plan.steps[split..]);
    if split == plan.steps.len() {
        planned
            .batch_execute(
                "SET timezone = 'UTC'; INSERT INTO events VALUES (9001, '2024-07-01 12:00'); RESET timezone;",
            )
            .unwrap();
    }
    orig.batch_execute("SET timezone = 'UTC'; INSERT INTO events VALUES (9001, '2024-07-01 12:00'); RESET timezone;")
        .unwrap();
    assert_same_schema(&mut orig, &mut planned, &plan);
    let a = rows(&mut orig, "events", "id", &[]);
    let b = rows(&mut planned, "events", "id", &[]);
    let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert_eq!(
        differing,
        0,
        "{differing} rows differ, e.g. {:?}",
        a.iter().zip(&b).find(|(x, y)| x != y)
    );
}

const ACCOUNTS: &str = "CREATE TABLE accounts (id bigint NOT NULL, tenant integer NOT NULL, name text, \
                        CONSTRAINT accounts_pkey PRIMARY KEY (id));";
const ACCOUNTS_SEED: &str =
    "INSERT INTO accounts SELECT g, g % 17, 'n' || g FROM generate_series(1, 5000) g;";

fn assert_key_swap_keeps_a_key(prefix: &str, migration: &str) {
    let Some(cluster) = cluster() else {
        return;
    };
    let plan = plan_for(ACCOUNTS, migration);
    let (_, mut orig) = fresh_db(cluster, &format!("{prefix}_orig"));
    let (_, mut planned) = fresh_db(cluster, &format!("{prefix}_plan"));
    for c in [&mut orig, &mut planned] {
        c.batch_execute(ACCOUNTS).unwrap();
        c.batch_execute(ACCOUNTS_SEED).unwrap();
    }
    let mut tx = orig.transaction().unwrap();
    tx.batch_execute(migration).unwrap();
    tx.commit().unwrap();
    for (i, step) in plan.steps.iter().enumerate() {
        run_steps(&mut planned, &plan, std::slice::from_ref(step));
        assert_eq!(
            pk_count(&mut planned, "accounts"),
            1,
            "after step {} ({}) the table has no primary key\n{}",
            i + 1,
            step.title,
            lockstep::plan::render_md::render(&plan, "plan.yaml")
        );
        // The key still holds while the replacement is built: duplicates are refused.
        let dup = planned.batch_execute("INSERT INTO accounts VALUES (1, 1, 'dup')");
        assert!(
            dup.is_err(),
            "after step {} a duplicate key was accepted",
            i + 1
        );
    }
    assert_same_schema(&mut orig, &mut planned, &plan);
}

#[test]
fn replacing_a_primary_key_never_leaves_the_table_without_one() {
    assert_key_swap_keeps_a_key(
        "pk_two",
        "ALTER TABLE accounts DROP CONSTRAINT accounts_pkey;\n\
         ALTER TABLE accounts ADD PRIMARY KEY (tenant, id);",
    );
}

#[test]
fn replacing_a_primary_key_in_one_statement_keeps_its_name_and_a_key() {
    assert_key_swap_keeps_a_key(
        "pk_one",
        "ALTER TABLE accounts DROP CONSTRAINT accounts_pkey, \
         ADD CONSTRAINT accounts_pkey PRIMARY KEY (tenant, id);",
    );
}

const ORDERS: &str = "CREATE TABLE orders (id bigserial PRIMARY KEY, total integer NOT NULL);";
const ORDERS_SEED: &str = "INSERT INTO orders (total) SELECT g FROM generate_series(1, 4000) g;";
const ORDERS_MIGRATION: &str = "ALTER TABLE orders ADD COLUMN total_cents bigint;\n\
     UPDATE orders SET total_cents = total * 100;\n\
     ALTER TABLE orders ALTER COLUMN total_cents SET NOT NULL;";

#[test]
fn not_null_on_a_backfilled_column_waits_for_the_new_application_and_catches_up() {
    let Some(cluster) = cluster() else {
        return;
    };
    let plan = plan_for(ORDERS, ORDERS_MIGRATION);
    let deploy = plan
        .steps
        .iter()
        .position(|s| s.kind == StepKind::Deploy && s.title.contains("total_cents"))
        .unwrap_or_else(|| {
            panic!(
                "no deploy point before NOT NULL:\n{}",
                lockstep::plan::render_md::render(&plan, "plan.yaml")
            )
        });
    let check = plan
        .steps
        .iter()
        .position(|s| s.statements.iter().any(|q| q.contains("NOT VALID")))
        .expect("a NOT VALID check");
    assert!(
        deploy < check,
        "the NOT VALID check runs before the deploy point"
    );
    let (_, mut c) = fresh_db(cluster, "nn_backfill");
    c.batch_execute(ORDERS).unwrap();
    c.batch_execute(ORDERS_SEED).unwrap();
    // Until the deploy point the old application inserts orders without total_cents;
    // after it, the new one writes it.
    for (i, step) in plan.steps.iter().enumerate() {
        if i < deploy {
            c.batch_execute("INSERT INTO orders (total) VALUES (7)")
                .unwrap_or_else(|e| {
                    panic!("old application's insert failed before step {}: {e}", i + 1)
                });
        } else {
            c.batch_execute("INSERT INTO orders (total, total_cents) VALUES (8, 800)")
                .unwrap_or_else(|e| {
                    panic!("new application's insert failed before step {}: {e}", i + 1)
                });
        }
        run_steps(&mut c, &plan, std::slice::from_ref(step));
    }
    let wrong: i64 = c
        .query_one(
            "SELECT count(*) FROM orders WHERE total_cents IS DISTINCT FROM total * 100",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0, "rows with a missing or wrong total_cents");
    let not_null: bool = c
        .query_one(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'total_cents'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(not_null);
}

const FAMILY: &str = "CREATE TABLE parent (id bigint PRIMARY KEY);\n\
     CREATE TABLE child (id bigserial PRIMARY KEY, parent_id bigint);";
const FAMILY_SEED: &str = "INSERT INTO parent SELECT g FROM generate_series(1, 1000) g;\n\
     INSERT INTO child (parent_id) SELECT g % 1200 FROM generate_series(1, 5000) g;";
const FAMILY_MIGRATION: &str = "DELETE FROM child WHERE NOT EXISTS (SELECT 1 FROM parent WHERE parent.id = child.parent_id);\n\
     ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id);";

#[test]
fn a_cleanup_before_a_foreign_key_catches_up_with_rows_old_versions_wrote_meanwhile() {
    let Some(cluster) = cluster() else {
        return;
    };
    let plan = plan_for(FAMILY, FAMILY_MIGRATION);
    let (_, mut c) = fresh_db(cluster, "fk_cleanup");
    c.batch_execute(FAMILY).unwrap();
    c.batch_execute(FAMILY_SEED).unwrap();
    let not_valid = plan
        .steps
        .iter()
        .position(|s| s.statements.iter().any(|q| q.contains("NOT VALID")))
        .expect("a NOT VALID step");
    for (i, step) in plan.steps.iter().enumerate() {
        if i <= not_valid {
            // The old application still writes rows that point nowhere.
            c.batch_execute("INSERT INTO child (parent_id) VALUES (999999)")
                .unwrap_or_else(|e| panic!("old application's insert before step {}: {e}", i + 1));
        }
        run_steps(&mut c, &plan, std::slice::from_ref(step));
    }
    let orphans: i64 = c
        .query_one(
            "SELECT count(*) FROM child WHERE parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM parent WHERE parent.id = child.parent_id)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    let valid: bool = c
        .query_one(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'child_parent_fk'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
}

#[test]
fn one_statement_dropping_several_columns_or_tables_drops_each_once() {
    let Some(cluster) = cluster() else {
        return;
    };
    // openmeter's customer_drop_providers: three columns in one ALTER TABLE.
    let base = "CREATE TABLE customers (id bigint PRIMARY KEY, a text, b text, c text);\n\
                CREATE TABLE old_one (id int);\nCREATE TABLE old_two (id int);";
    let migration = "ALTER TABLE customers DROP COLUMN a, DROP COLUMN b, DROP COLUMN c;\n\
                     DROP TABLE old_one, old_two;";
    let (mut orig, mut planned, plan) = twin(
        cluster,
        "multi_drop",
        base,
        "INSERT INTO customers SELECT g, 'a', 'b', 'c' FROM generate_series(1, 100) g;",
        migration,
    );
    assert_same_schema(&mut orig, &mut planned, &plan);
}

#[test]
fn a_not_null_column_without_default_on_an_existing_table_is_refused_not_planned() {
    // openmeter's customer_drop_key: `ADD COLUMN namespace varchar NOT NULL` with no
    // default. The old planner added it nullable and validated a NOT NULL check later,
    // which failed as soon as the table (or the old application) had a row.
    let base = "CREATE TABLE customer_subjects (id bigint PRIMARY KEY, subject_key text NOT NULL);";
    let migration =
        "ALTER TABLE customer_subjects ADD COLUMN namespace character varying NOT NULL;";
    let err = lockstep::plan::plan_sql(&catalog_of(base), "test", migration, &options())
        .expect_err("a NOT NULL column without default cannot be planned on an existing table");
    let msg = err.to_string();
    for part in ["statement 1", "namespace", "customer_subjects", "DEFAULT"] {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    // With a default, or on a table the migration creates, it is planned as before.
    let with_default = "ALTER TABLE customer_subjects ADD COLUMN namespace character varying NOT NULL DEFAULT 'default';";
    assert!(lockstep::plan::plan_sql(&catalog_of(base), "test", with_default, &options()).is_ok());
    let created = "CREATE TABLE fresh (id bigint PRIMARY KEY);\nALTER TABLE fresh ADD COLUMN n text NOT NULL;";
    assert!(lockstep::plan::plan_sql(&catalog_of(base), "test", created, &options()).is_ok());
    // The refusal is what the server does: the original fails once the table has a row.
    let Some(cluster) = cluster() else {
        return;
    };
    let (_, mut c) = fresh_db(cluster, "nn_nodefault");
    c.batch_execute(base).unwrap();
    c.batch_execute("INSERT INTO customer_subjects VALUES (1, 'k')")
        .unwrap();
    let e = c
        .batch_execute(migration)
        .expect_err("the original fails on a row");
    assert!(
        e.as_db_error()
            .is_some_and(|d| d.message().contains("contains null values")),
        "{e}"
    );
}

#[test]
fn a_rewrite_with_no_online_recipe_is_marked_in_the_plan_not_passed_as_safe() {
    // temporal's visibility v1.13: stored generated columns added to a table in use. No
    // order of steps avoids the rewrite; the old plan listed it under "safe to run now"
    // with no word, and writes stalled for the whole rewrite (5 s at 20,000 rows).
    let base =
        "CREATE TABLE executions_visibility (id bigint PRIMARY KEY, search_attributes jsonb);";
    let migration = "ALTER TABLE executions_visibility\n  \
        ADD COLUMN IF NOT EXISTS a jsonb GENERATED ALWAYS AS (search_attributes->'a') STORED,\n  \
        ADD COLUMN IF NOT EXISTS b boolean GENERATED ALWAYS AS ((search_attributes->'b')::boolean) STORED;";
    let plan = plan_for(base, migration);
    let step = plan
        .steps
        .iter()
        .find(|s| s.sql().contains("GENERATED ALWAYS"))
        .expect("the statement is in the plan");
    assert!(
        step.notes.iter().any(|n| n.contains("no online recipe")
            && n.contains("rewrites executions_visibility")),
        "{:?} {:?}",
        step.notes,
        step.locks
    );
    assert_eq!(step.locks.len(), 1, "one line per lock: {:?}", step.locks);
    // What the note says is what the server does: the table gets a new file.
    let Some(cluster) = cluster() else {
        return;
    };
    let (_, mut c) = fresh_db(cluster, "gen_rewrite");
    c.batch_execute(base).unwrap();
    let file = |c: &mut Client| -> u32 {
        c.query_one(
            "SELECT relfilenode::text::bigint FROM pg_class WHERE relname = 'executions_visibility'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0) as u32
    };
    let before = file(&mut c);
    c.batch_execute(migration).unwrap();
    assert_ne!(before, file(&mut c), "the original rewrites the table");
}

const ENDPOINTS: &str =
    "CREATE TABLE endpoints (id bigserial PRIMARY KEY, title text, target_url text);";
const ENDPOINTS_SEED: &str = "INSERT INTO endpoints (title, target_url) SELECT 't' || g, 'u' || g FROM generate_series(1, 3000) g;";
/// convoy's 1709729972: copy two columns, CHECK them NOT VALID, VALIDATE in a statement
/// of its own.
const ENDPOINTS_MIGRATION: &str = "ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS name text, ADD COLUMN IF NOT EXISTS url text;\n\
     UPDATE endpoints SET name = title, url = target_url;\n\
     ALTER TABLE endpoints ADD CONSTRAINT url_not_null CHECK (url IS NOT NULL) NOT VALID, \
     ADD CONSTRAINT name_not_null CHECK (name IS NOT NULL) NOT VALID;\n\
     ALTER TABLE endpoints VALIDATE CONSTRAINT url_not_null, VALIDATE CONSTRAINT name_not_null;";

#[test]
fn a_check_over_a_backfilled_column_waits_for_the_new_application_and_catches_up() {
    // The old plan passed the user's NOT VALID checks through right after the backfill:
    // the old application's inserts (title only) then failed on the check, and the rows
    // it wrote between the backfill and the check made VALIDATE fail (plan_corpus).
    let Some(cluster) = cluster() else {
        return;
    };
    let plan = plan_for(ENDPOINTS, ENDPOINTS_MIGRATION);
    let md = lockstep::plan::render_md::render(&plan, "plan.yaml");
    let deploy = plan
        .steps
        .iter()
        .position(|s| s.kind == StepKind::Deploy && s.title.contains("name"))
        .unwrap_or_else(|| panic!("no deploy point before the checks:\n{md}"));
    let first_check = plan
        .steps
        .iter()
        .position(|s| s.statements.iter().any(|q| q.contains("NOT VALID")))
        .expect("a NOT VALID check");
    assert!(
        deploy < first_check,
        "a check runs before the deploy point:\n{md}"
    );
    let (_, mut c) = fresh_db(cluster, "check_backfill");
    c.batch_execute(ENDPOINTS).unwrap();
    c.batch_execute(ENDPOINTS_SEED).unwrap();
    for (i, step) in plan.steps.iter().enumerate() {
        if i < deploy {
            c.batch_execute("INSERT INTO endpoints (title, target_url) VALUES ('old', 'old-url')")
                .unwrap_or_else(|e| {
                    panic!(
                        "old application's insert failed before step {}: {e}\n{md}",
                        i + 1
                    )
                });
        } else if i > 0 {
            c.batch_execute(
                "INSERT INTO endpoints (title, target_url, name, url) VALUES ('new', 'new-url', 'new', 'new-url')",
            )
            .unwrap_or_else(|e| panic!("new application's insert failed before step {}: {e}", i + 1));
        }
        let mut part = plan.clone();
        part.steps = vec![step.clone()];
        run_plan(&mut c, &part);
    }
    let wrong: i64 = c
        .query_one(
            "SELECT count(*) FROM endpoints WHERE name IS DISTINCT FROM title OR url IS DISTINCT FROM target_url",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0, "rows with a missing name or url");
    let valid: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'endpoints'::regclass AND contype = 'c' AND convalidated",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(valid, 2, "both checks validated");
}
