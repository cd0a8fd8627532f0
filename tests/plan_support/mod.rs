//! Shared helpers for the planner's live-PostgreSQL tests: databases on the shared scratch
//! cluster, a step runner, and schema/row snapshots to compare.

#![allow(dead_code)]

use lockstep::catalog::Catalog;
use lockstep::parse;
use lockstep::pg::{Cluster, PgError};
use lockstep::plan::{self, Plan, PlanOptions, StepKind};
use postgres::Client;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shared cluster, or `None` (test skipped) when PostgreSQL is not installed.
pub fn cluster() -> Option<&'static Cluster> {
    match Cluster::shared() {
        Ok(c) => Some(c),
        Err(PgError::SharedUnavailable(msg)) if msg.contains("no PostgreSQL server binaries") => {
            eprintln!("skipped: {msg}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A new empty database with a unique name.
pub fn fresh_db(cluster: &Cluster, prefix: &str) -> (String, Client) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    cluster.create_database(&name).expect("create database");
    let client = cluster.connect(&name).expect("connect");
    (name, client)
}

/// The catalog after replaying `sql` (the history before the planned migration).
pub fn catalog_of(sql: &str) -> Catalog {
    let mut c = Catalog::new();
    for s in parse::parse_sql(sql) {
        for op in &s.ops {
            c.apply(op);
        }
    }
    c
}

/// Plan options for tests: small batches (many of them), no sleep.
pub fn options() -> PlanOptions {
    let mut o = PlanOptions::default();
    o.backfill.batch_size = 700;
    o.backfill.sleep_ms = 0;
    o.backfill.target_batch_time_ms = 0;
    o
}

/// Runs the plan's SQL steps in order, the way a migration tool or psql would: a
/// transactional step in one transaction, a non-transactional one statement by statement.
pub fn run_plan(client: &mut Client, plan: &Plan) {
    for step in &plan.steps {
        match step.kind {
            StepKind::Deploy => {}
            _ if step.transactional => {
                let mut tx = client.transaction().expect("begin");
                for s in &step.statements {
                    tx.batch_execute(s)
                        .unwrap_or_else(|e| panic!("step {} `{s}`: {e}", step.id));
                }
                tx.commit().expect("commit");
            }
            _ => {
                for s in &step.statements {
                    client
                        .batch_execute(s)
                        .unwrap_or_else(|e| panic!("step {} `{s}`: {e:?}", step.id));
                }
            }
        }
    }
}

/// Columns, constraints (by definition), indexes (by definition), views: sorted lines.
/// Column order and the helper objects lockstep creates (checkpoint table, procedures)
/// are left out; names of constraints are left out, names of indexes kept.
pub fn schema(client: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    let q = "SELECT table_schema || '.' || table_name || '.' || column_name || ' ' || data_type \
             || coalesce('(' || character_maximum_length || ')', '') \
             || coalesce(' p' || numeric_precision || ',' || numeric_scale, '') \
             || ' null=' || is_nullable || ' default=' || coalesce(column_default, '-') \
             FROM information_schema.columns \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
               AND table_name <> 'lockstep_backfill_checkpoint' AND table_schema <> 'lockstep'";
    for r in client.query(q, &[]).expect("columns") {
        out.push(format!("column {}", r.get::<_, String>(0)));
    }
    let q = "SELECT n.nspname || '.' || c.relname || ' ' || pg_get_constraintdef(k.oid) \
             || CASE WHEN k.convalidated THEN '' ELSE ' (not valid)' END \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND c.relname <> 'lockstep_backfill_checkpoint' AND n.nspname <> 'lockstep'";
    for r in client.query(q, &[]).expect("constraints") {
        out.push(format!("constraint {}", r.get::<_, String>(0)));
    }
    let q = "SELECT i.indexrelid::regclass::text || ' ' || pg_get_indexdef(i.indexrelid) \
             || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
               AND c.relname <> 'lockstep_backfill_checkpoint' AND n.nspname <> 'lockstep'";
    for r in client.query(q, &[]).expect("indexes") {
        out.push(format!("index {}", r.get::<_, String>(0)));
    }
    let q = "SELECT schemaname || '.' || viewname FROM pg_views \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema')";
    for r in client.query(q, &[]).expect("views") {
        out.push(format!("view {}", r.get::<_, String>(0)));
    }
    let q = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal";
    for r in client.query(q, &[]).expect("triggers") {
        out.push(format!("trigger {}", r.get::<_, String>(0)));
    }
    let q = "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND p.proname NOT LIKE 'lockstep_backfill_%' AND n.nspname <> 'lockstep'";
    for r in client.query(q, &[]).expect("functions") {
        out.push(format!("function {}", r.get::<_, String>(0)));
    }
    out.sort();
    out
}

/// Every row of `table` as JSON (keys sorted by jsonb), minus `skip` columns, ordered by `order`.
pub fn rows(client: &mut Client, table: &str, order: &str, skip: &[&str]) -> Vec<String> {
    let mut minus = String::new();
    for s in skip {
        minus.push_str(&format!(" - '{}'", s.replace('\'', "''")));
    }
    let q = format!("SELECT (to_jsonb(t){minus})::text FROM {table} t ORDER BY {order}");
    client
        .query(&q, &[])
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

/// A plan for `migration` after history `base`.
pub fn plan_for(base: &str, migration: &str) -> Plan {
    plan::plan_sql(&catalog_of(base), "test", migration, &options()).expect("plan")
}

/// Applies `base` + `seed` to two databases, the original migration to one and the plan
/// to the other; returns both clients and the plan for comparisons.
pub fn twin(
    cluster: &Cluster,
    prefix: &str,
    base: &str,
    seed: &str,
    migration: &str,
) -> (Client, Client, Plan) {
    let plan = plan_for(base, migration);
    let (_, mut a) = fresh_db(cluster, &format!("{prefix}_orig"));
    let (_, mut b) = fresh_db(cluster, &format!("{prefix}_plan"));
    for c in [&mut a, &mut b] {
        c.batch_execute(base).expect("base schema");
        c.batch_execute(seed).expect("seed");
    }
    let mut tx = a.transaction().expect("begin");
    tx.batch_execute(migration).expect("original migration");
    tx.commit().expect("commit");
    run_plan(&mut b, &plan);
    (a, b, plan)
}

/// Asserts equal schemas, with a readable diff of the lines that differ.
pub fn assert_same_schema(a: &mut Client, b: &mut Client, plan: &Plan) {
    let sa = schema(a);
    let sb = schema(b);
    if sa != sb {
        let only_a: Vec<_> = sa.iter().filter(|l| !sb.contains(l)).collect();
        let only_b: Vec<_> = sb.iter().filter(|l| !sa.contains(l)).collect();
        panic!(
            "schemas differ\nonly after the original:\n  {}\nonly after the plan:\n  {}\nplan:\n{}",
            only_a
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  "),
            only_b
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  "),
            lockstep::plan::render_md::render(plan, "plan.yaml")
        );
    }
}
