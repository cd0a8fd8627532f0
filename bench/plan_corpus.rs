//! Real-migration plan suite: lockstep's plans for unsafe migrations taken from public
//! repositories, applied on a throwaway server with the repository's real history, seeded
//! rows and an application writing while the plan runs.
//!
//! For each case of `corpus/plans.tsv` (repository, commit, folder, migration id):
//! 1. read the folder as `lockstep lint` does and plan the migration (`plan_migration`);
//! 2. replay the history before it on a fresh database, statement by statement;
//! 3. seed every table the migration touches with `--rows` rows (NULLs in every nullable
//!    column on every 7th row, one empty string, one epoch timestamp; parents of NOT NULL
//!    foreign keys get rows first) and put an
//!    `updated_at`-style trigger on each (it stamps a side table, so a backfill that fires
//!    application triggers is seen without changing the schema);
//! 4. copy that database twice; run the original migration on one (as its runner would),
//!    and `apply_plan` on the other while a writer inserts rows the way the *old*
//!    application would (the columns before the migration) until the first deploy point and
//!    like the new one after it (the columns after the migration);
//! 5. compare: end schema, every value of every column the migration text does not name
//!    (rows matched by primary key), the longest write, failed writes, trigger firings.
//!
//! ```text
//! corpus/run.sh --fetch /work/corpus   # once: checkouts of the manifest's repositories
//! cargo bench --bench plan_corpus -- --checkouts /work/corpus --rows 100000
//! ```
//!
//! Nothing of the repositories is committed here: only their names, commits and paths.

use clap::Parser;
use lockstep::live::backfill_runner::{Overrides, TriggerPolicy};
use lockstep::live::connect::Db;
use lockstep::parse;
use lockstep::pg::Cluster;
use lockstep::plan::apply::{ApplyError, ApplyOptions, ApplyStop, apply_plan};
use lockstep::plan::{self, PlanOptions};
use lockstep::source;
use postgres::Client;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "plan_corpus",
    about = "lockstep plans for real migrations, applied"
)]
struct Config {
    /// Folder of checkouts named owner+name (see corpus/run.sh --fetch).
    #[arg(long)]
    checkouts: PathBuf,
    /// The case list.
    #[arg(long, default_value = "corpus/plans.tsv")]
    cases: PathBuf,
    /// Rows seeded into each table the migration touches.
    #[arg(long, default_value_t = 100_000)]
    rows: i64,
    /// Only cases whose id contains this.
    #[arg(long)]
    only: Option<String>,
    /// Writer requests per second during the plan.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
}

#[derive(Debug, Default)]
struct Outcome {
    case: String,
    steps: usize,
    verdict: String,
    history: String,
    seeded: String,
    original: String,
    plan: String,
    schema_equal: Option<bool>,
    untouched_equal: Option<bool>,
    longest_write_ms: f64,
    failed_writes: usize,
    trigger_fired: i64,
    /// The runner refused replica mode (foreign-key actions) and the backfills ran with
    /// `--allow-triggers`.
    triggers_allowed: bool,
    seconds: f64,
}

fn main() {
    let cfg = Config::parse();
    let list = std::fs::read_to_string(&cfg.cases).unwrap_or_else(|e| {
        eprintln!("{}: {e}", cfg.cases.display());
        std::process::exit(2)
    });
    let cluster = Cluster::start().unwrap_or_else(|e| {
        eprintln!("cannot start PostgreSQL: {e}");
        std::process::exit(2)
    });
    let mut outcomes = Vec::new();
    for (n, line) in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .enumerate()
    {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            eprintln!("skipping malformed line: {line}");
            continue;
        }
        let (repo, folder, id) = (f[0], f[2], f[3]);
        let case = format!("{repo} {id}");
        if cfg.only.as_deref().is_some_and(|o| !case.contains(o)) {
            continue;
        }
        let dir = cfg.checkouts.join(repo.replace('/', "+")).join(folder);
        eprintln!("== {case}");
        let started = Instant::now();
        let mut o = run_case(&cluster, &cfg, n, &case, &dir, id);
        o.seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "   {} | {:.0} s | history {} | seeded {} | original {} | plan {} | schema {:?} | untouched {:?} | longest write {:.0} ms | failed writes {} | trigger {}",
            o.verdict,
            o.seconds,
            o.history,
            o.seeded,
            o.original,
            o.plan,
            o.schema_equal,
            o.untouched_equal,
            o.longest_write_ms,
            o.failed_writes,
            o.trigger_fired
        );
        outcomes.push(o);
    }
    println!(
        "| case | verdict | steps | longest write ms | failed writes | backfill triggers | why (cut) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for o in &outcomes {
        let why = if o.verdict == "right" {
            String::new()
        } else if o.verdict.starts_with("history") {
            o.history.clone()
        } else if o.original.starts_with("fails") {
            format!("original {}", o.original)
        } else {
            o.plan.clone()
        };
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} |",
            o.case,
            o.verdict,
            o.steps,
            o.longest_write_ms,
            o.failed_writes,
            if o.triggers_allowed {
                "allowed"
            } else {
                "disabled"
            },
            short(&why)
                .chars()
                .take(110)
                .collect::<String>()
                .replace('|', "/")
        );
    }
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        *by.entry(o.verdict.as_str()).or_default() += 1;
    }
    println!("\n{} cases: {by:?}", outcomes.len());
}

fn short(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(160).collect()
}

/// What the framework puts in place of its template placeholders (pop's namespace option
/// for supabase/auth).
fn render_templates(sql: &str) -> String {
    // The plan quotes the placeholder as an identifier (`"{{ index .Options ""Namespace"" }}"`),
    // the migration text has it bare inside its own quotes: both become the schema name.
    sql.replace("\"{{ index .Options \"\"Namespace\"\" }}\"", "\"auth\"")
        .replace("{{ index .Options \"Namespace\" }}", "auth")
}

/// Runs one statement list the way a runner sends a file: statement by statement.
fn run_script(c: &mut Client, sql: &str, in_tx: bool) -> Result<(), String> {
    let sql = &render_templates(sql);
    let stmts: Vec<String> = parse::parse_sql(sql)
        .iter()
        .filter_map(|s| sql.get(s.span.clone()).map(str::to_string))
        .collect();
    if in_tx {
        let mut tx = c.transaction().map_err(|e| e.to_string())?;
        for s in &stmts {
            tx.batch_execute(s)
                .map_err(|e| format!("{}: {}", short(s), db_err(&e)))?;
        }
        tx.commit().map_err(|e| e.to_string())
    } else {
        for s in &stmts {
            c.batch_execute(s)
                .map_err(|e| format!("{}: {}", short(s), db_err(&e)))?;
        }
        Ok(())
    }
}

fn db_err(e: &postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

fn run_case(
    cluster: &Cluster,
    cfg: &Config,
    n: usize,
    case: &str,
    dir: &std::path::Path,
    id: &str,
) -> Outcome {
    let mut o = Outcome {
        case: case.to_string(),
        ..Default::default()
    };
    let loaded = match source::load(&[dir.to_path_buf()], None, &[]) {
        Ok(l) => l,
        Err(e) => {
            o.verdict = "folder not read".into();
            o.history = e.to_string();
            return o;
        }
    };
    let Some(target) = loaded.migrations.iter().position(|m| m.id == id) else {
        o.verdict = "no such migration".into();
        return o;
    };
    let options = PlanOptions {
        lock_timeout_ms: 2000,
        ..PlanOptions::default()
    };
    let plan = match plan::plan_migration(&loaded.migrations, target, Some(loaded.layout), &options)
    {
        Ok(mut p) => {
            for step in &mut p.steps {
                for s in &mut step.statements {
                    *s = render_templates(s);
                }
            }
            p
        }
        Err(e) => {
            o.verdict = "refused by planner".into();
            o.plan = short(&e.to_string());
            return o;
        }
    };
    o.steps = plan.steps.len();
    // History.
    let base = format!("pc_{}_{n}", std::process::id());
    if let Err(e) = cluster.create_database(&base) {
        o.verdict = "setup failed".into();
        o.history = e.to_string();
        return o;
    }
    let mut c = match cluster.connect(&base) {
        Ok(mut c) => {
            let _ = c.batch_execute("SET statement_timeout = '120s'");
            c
        }
        Err(e) => {
            o.verdict = "setup failed".into();
            o.history = e.to_string();
            return o;
        }
    };
    let _ = c.batch_execute("CREATE SCHEMA IF NOT EXISTS auth");
    for m in &loaded.migrations[..target] {
        if let Err(e) = run_script(&mut c, m.up.text(), m.in_transaction) {
            o.verdict = "history does not replay here".into();
            o.history = format!("{}: {e}", m.id);
            return o;
        }
    }
    o.history = format!("{} migrations", target);
    // Seed.
    let tables: Vec<String> = plan
        .tables
        .iter()
        .map(|t| render_templates(&t.table))
        .collect();
    let mut seeded = Vec::new();
    for t in &tables {
        match seed(&mut c, t, cfg.rows) {
            Ok(rows) => seeded.push(format!("{t}={rows}")),
            Err(e) => seeded.push(format!("{t}: {}", short(&e))),
        }
    }
    o.seeded = seeded.join(", ");
    let old_columns: HashMap<String, Vec<Column>> = tables
        .iter()
        .map(|t| (t.clone(), columns(&mut c, t)))
        .collect();
    drop(c);
    let orig_db = format!("{base}_o");
    let plan_db = format!("{base}_p");
    for d in [&orig_db, &plan_db] {
        if let Err(e) = cluster.create_database_from(d, &base) {
            o.verdict = "setup failed".into();
            o.history = e.to_string();
            return o;
        }
    }
    // The original migration (bounded: a real migration's DO loop over seeded rows can
    // take far longer than the suite should wait).
    let mut orig = cluster.connect(&orig_db).expect("connect");
    let _ = orig.batch_execute("SET statement_timeout = '120s'");
    let m = &loaded.migrations[target];
    let orig_ok = run_script(&mut orig, m.up.text(), m.in_transaction);
    o.original = match &orig_ok {
        Ok(()) => "ok".into(),
        Err(e) => format!("fails: {}", short(e)),
    };
    let new_columns: HashMap<String, Vec<Column>> = tables
        .iter()
        .map(|t| (t.clone(), columns(&mut orig, t)))
        .collect();
    // The plan, with the writer: on the tables where the old application's insert works
    // before the plan starts (a table the seeder could not fill would fail anyway).
    let writable: Vec<String> = {
        let mut probe = cluster.connect(&plan_db).expect("connect");
        tables
            .iter()
            .filter(|t| {
                old_columns
                    .get(*t)
                    .and_then(|c| insert_sql(t, c, "(40000000 + 1)::bigint", false))
                    .is_some_and(|sql| {
                        probe
                            .batch_execute(&format!(
                                "BEGIN; {sql} ON CONFLICT DO NOTHING; ROLLBACK"
                            ))
                            .is_ok()
                    })
            })
            .cloned()
            .collect()
    };
    let writer = Writer::start(cluster, &plan_db, &writable, old_columns.clone(), cfg.rate);
    let mut runner_client = cluster.connect(&plan_db).expect("connect");
    let _ = runner_client.batch_execute("SET statement_timeout = '120s'");
    let mut runner = Db::from_client(runner_client, plan_db.clone());
    // The default refuses a backfill on a table with user triggers, naming them; the
    // suite's tables all have one (the updated_at-style trigger), so it says how to run.
    let mut opts = ApplyOptions {
        stop_at_deploy: true,
        backfill: Overrides {
            triggers: TriggerPolicy::Disable,
            ..Default::default()
        },
        ..Default::default()
    };
    let plan_result = loop {
        match apply_plan(&mut runner, &plan, &opts) {
            Ok(r) => {
                opts.done_through = r.steps.last().map_or(opts.done_through, |s| s.id);
                match r.stopped {
                    Some(ApplyStop::Deploy { step, .. }) => {
                        // The new application version from here on.
                        writer.switch(new_columns.clone());
                        opts.confirmed_deploy = Some(step);
                    }
                    _ => break Ok(()),
                }
            }
            Err(e) => {
                // The runner refuses replica mode where it would skip foreign-key actions,
                // writing nothing; a user then chooses --allow-triggers and runs again from
                // that step, and so does the suite (the test trigger only records that it
                // fired).
                if let ApplyError::Backfill { step, .. } = &e
                    && e.to_string()
                        .contains("--disable-user-triggers is not safe here")
                    && opts.backfill.triggers == TriggerPolicy::Disable
                {
                    opts.done_through = step.saturating_sub(1);
                    opts.backfill.triggers = TriggerPolicy::Allow;
                    o.triggers_allowed = true;
                    continue;
                }
                break Err(e.to_string());
            }
        }
    };
    let (longest, failed) = writer.stop();
    o.longest_write_ms = longest.as_secs_f64() * 1e3;
    o.failed_writes = failed;
    o.plan = match &plan_result {
        Ok(()) => "ok".into(),
        Err(e) => {
            eprintln!("   plan error: {e}");
            format!("fails: {}", short(e))
        }
    };
    let mut planned = cluster.connect(&plan_db).expect("connect");
    o.trigger_fired = planned
        .query_one("SELECT count(*) FROM lockstep_test_touch", &[])
        .map(|r| r.get::<_, i64>(0))
        .unwrap_or(-1);
    if orig_ok.is_ok() && plan_result.is_ok() {
        let sa = schema(&mut orig);
        let sb = schema(&mut planned);
        if sa != sb {
            for l in sa.iter().filter(|l| !sb.contains(l)) {
                eprintln!("   only after the original: {l}");
            }
            for l in sb.iter().filter(|l| !sa.contains(l)) {
                eprintln!("   only after the plan:     {l}");
            }
        }
        o.schema_equal = Some(sa == sb);
        let text = m.up.text().to_lowercase();
        let mut equal = true;
        for t in &tables {
            let Some(cols) = old_columns.get(t) else {
                continue;
            };
            let untouched: Vec<&Column> = cols
                .iter()
                .filter(|c| !text.contains(&c.name.to_lowercase()))
                .collect();
            let a = row_hashes(&mut orig, t, &untouched);
            let b = row_hashes(&mut planned, t, &untouched);
            let differing = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).count();
            if differing > 0 {
                eprintln!("   {t}: {differing} rows differ in columns the migration does not name");
                equal = false;
            }
        }
        o.untouched_equal = Some(equal);
    }
    o.verdict = match (&orig_ok, &plan_result, o.schema_equal, o.untouched_equal) {
        (Ok(()), Ok(()), Some(true), Some(true))
            if o.failed_writes == 0 && o.longest_write_ms < 200.0 =>
        {
            "right".into()
        }
        (Ok(()), Ok(()), Some(true), Some(true)) => "right, stalled".into(),
        (Ok(()), Ok(()), _, _) => "WRONG: end state differs".into(),
        (Ok(()), Err(_), _, _) => "WRONG: plan fails where the original runs".into(),
        (Err(_), Err(_), _, _) => "original fails on the seeded rows (plan too)".into(),
        (Err(_), Ok(()), _, _) => "original fails on the seeded rows (plan runs)".into(),
    };
    for d in [&orig_db, &plan_db, &base] {
        if let Ok(mut admin) = cluster.connect("postgres") {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {d} WITH (FORCE)"));
        }
    }
    o
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    ty: String,
    nullable: bool,
    has_default: bool,
    max_len: Option<i32>,
    /// `schema.table(column)` this column references, when it is a single-column FK.
    references: Option<(String, String)>,
    /// While seeding: an expression with `{g}` that picks the parent key for row `g` from a
    /// numbered copy of the parent's keys (an index lookup, not a scan per row).
    pick: Option<String>,
}

fn split_table(t: &str) -> (String, String) {
    match t.split_once('.') {
        Some((s, n)) => (s.to_string(), n.to_string()),
        None => ("public".to_string(), t.to_string()),
    }
}

fn qi(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn qt(t: &str) -> String {
    let (s, n) = split_table(t);
    format!("{}.{}", qi(&s), qi(&n))
}

fn columns(c: &mut Client, t: &str) -> Vec<Column> {
    let (s, n) = split_table(t);
    let rows = c
        .query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                    a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', \
                    CASE WHEN a.atttypmod > 4 AND t.typname IN ('varchar','bpchar') THEN a.atttypmod - 4 END, \
                    (SELECT fn.nspname || '.' || fc.relname || '|' || fa.attname \
                       FROM pg_constraint k JOIN pg_class fc ON fc.oid = k.confrelid \
                       JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
                       JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1] \
                      WHERE k.conrelid = a.attrelid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] LIMIT 1) \
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
              WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
              ORDER BY a.attnum",
            &[&format!("{}.{}", qi(&s), qi(&n))],
        )
        .unwrap_or_default();
    rows.iter()
        .map(|r| Column {
            name: r.get(0),
            ty: r.get(1),
            nullable: r.get(2),
            has_default: r.get(3),
            max_len: r.get(4),
            references: r.get::<_, Option<String>>(5).and_then(|s| {
                s.split_once('|')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            }),
            pick: None,
        })
        .collect()
}

/// A value expression for row `g` (an SQL integer expression) of a column.
fn value(col: &Column, g: &str) -> Option<String> {
    let ty = col.ty.to_lowercase();
    let base = ty.split('(').next().unwrap_or("").trim().to_string();
    let v = if let Some(pick) = &col.pick {
        pick.replace("{g}", g)
    } else if let Some((t, c)) = &col.references {
        // The application: any existing parent (the first one the scan meets, cheap).
        format!("(SELECT {} FROM {} LIMIT 1)", qi(c), qt(t))
    } else if ty.ends_with("[]") {
        format!("'{{}}'::{ty}")
    } else {
        match base.as_str() {
            "smallint" => format!("({g} % 30000)::smallint"),
            "integer" | "bigint" | "numeric" | "real" | "double precision" => {
                format!("({g})::{ty}")
            }
            "text" | "character varying" | "character" | "citext" => {
                let s = format!("CASE WHEN {g} = 11 THEN '' ELSE 'v' || {g} END");
                match col.max_len {
                    Some(n) => format!("left({s}, {n})"),
                    None => s,
                }
            }
            "boolean" => format!("({g} % 2 = 0)"),
            "timestamp without time zone" | "timestamp with time zone" => format!(
                "CASE WHEN {g} = 13 THEN '1970-01-01'::{ty} ELSE ('2024-01-01'::timestamp + {g} * interval '1 minute')::{ty} END"
            ),
            "date" => format!("('2024-01-01'::date + ({g} % 3000))"),
            "uuid" => format!("md5({g}::text)::uuid"),
            "jsonb" | "json" => format!("jsonb_build_object('n', {g})::{ty}"),
            "bytea" => format!("decode(md5({g}::text), 'hex')"),
            "inet" => "'127.0.0.1'::inet".to_string(),
            _ if ty.ends_with("[]") => format!("'{{}}'::{ty}"),
            _ => return None,
        }
    };
    Some(v)
}

/// Which nullable columns a seeded row leaves NULL.
#[derive(Clone, Copy, PartialEq)]
enum Nulls {
    /// Every 7th row.
    Some,
    None,
    All,
}

fn insert_sql(t: &str, cols: &[Column], g: &str, nulls: bool) -> Option<String> {
    insert_sql_shaped(t, cols, g, if nulls { Nulls::Some } else { Nulls::None })
}

fn insert_sql_shaped(t: &str, cols: &[Column], g: &str, nulls: Nulls) -> Option<String> {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for col in cols {
        if col.has_default && (col.nullable || col.name == "id") {
            continue;
        }
        let v = match value(col, g) {
            Some(v) => v,
            None if col.nullable || col.has_default => continue,
            None => return None,
        };
        names.push(qi(&col.name));
        match nulls {
            Nulls::Some if col.nullable => {
                values.push(format!("CASE WHEN {g} % 7 = 0 THEN NULL ELSE {v} END"))
            }
            Nulls::All if col.nullable => values.push(format!("NULL::{}", col.ty)),
            _ => values.push(v),
        }
    }
    Some(format!(
        "INSERT INTO {} ({}) SELECT {}",
        qt(t),
        names.join(", "),
        values.join(", ")
    ))
}

fn seed(c: &mut Client, t: &str, rows: i64) -> Result<i64, String> {
    seed_at(c, t, rows, 0)
}

fn count(c: &mut Client, t: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {}", qt(t)), &[])
        .map(|r| r.get::<_, i64>(0))
        .unwrap_or(0)
}

fn seed_at(c: &mut Client, t: &str, rows: i64, depth: usize) -> Result<i64, String> {
    let cols = columns(c, t);
    if cols.is_empty() {
        return Err("not found after the history".into());
    }
    // Parents first, so foreign keys have rows to point at.
    if depth < 3 {
        for col in &cols {
            if let Some((parent, _)) = &col.references
                && parent != t
                && count(c, parent) == 0
            {
                let _ = seed_at(c, parent, rows.min(1000), depth + 1);
            }
        }
    }
    let mut cols = cols;
    for (i, col) in cols.iter_mut().enumerate() {
        if let Some((parent, key)) = &col.references {
            let k = format!("lockstep_seed_keys_{depth}_{i}");
            c.batch_execute(&format!(
                "DROP TABLE IF EXISTS pg_temp.{k}; \
                 CREATE TEMP TABLE {k} AS SELECT (row_number() OVER ())::bigint AS n, {} AS v FROM {}; \
                 CREATE UNIQUE INDEX ON {k} (n); ANALYZE {k}",
                qi(key),
                qt(parent)
            ))
            .map_err(|e| db_err(&e))?;
            let n = count(c, &format!("pg_temp.{k}"));
            if n > 0 {
                col.pick = Some(format!(
                    "(SELECT v FROM pg_temp.{k} WHERE n = 1 + (({{g}})::bigint % {n}))"
                ));
            }
        }
    }
    // NULLs on every 7th row; where a CHECK refuses that shape, no NULLs; then NULL in
    // every nullable column (checks like "one of a, b is set" accept one of the two).
    let mut last = String::new();
    let mut done = false;
    for shape in [Nulls::Some, Nulls::None, Nulls::All] {
        let body = insert_sql_shaped(t, &cols, "g", shape)
            .ok_or("a NOT NULL column of a type the seeder does not know")?;
        let sql = format!("{body} FROM generate_series(1, {rows}) g ON CONFLICT DO NOTHING");
        match c.batch_execute(&sql) {
            Ok(()) => {
                done = true;
                break;
            }
            Err(e) => last = db_err(&e),
        }
    }
    if !done {
        return Err(last);
    }
    if depth > 0 {
        return Ok(count(c, t));
    }
    // An application trigger like `updated_at`: it records every row update.
    c.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS lockstep_test_touch (t text, at timestamptz DEFAULT clock_timestamp());
         CREATE OR REPLACE FUNCTION lockstep_test_touch() RETURNS trigger LANGUAGE plpgsql AS $f$
         BEGIN INSERT INTO lockstep_test_touch (t) VALUES (TG_TABLE_NAME); RETURN NEW; END $f$;
         CREATE TRIGGER lockstep_test_touch BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION lockstep_test_touch();",
        qt(t)
    ))
    .map_err(|e| db_err(&e))?;
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {}", qt(t)), &[])
        .map_err(|e| db_err(&e))?
        .get(0);
    Ok(n)
}

/// Per row (by primary key, else by the whole row): a hash of `cols`.
fn row_hashes(c: &mut Client, t: &str, cols: &[&Column]) -> HashMap<String, String> {
    if cols.is_empty() {
        return HashMap::new();
    }
    let (s, n) = split_table(t);
    let pk: Vec<String> = c
        .query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
               AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass($1) AND i.indisprimary",
            &[&format!("{}.{}", qi(&s), qi(&n))],
        )
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .unwrap_or_default();
    let key = if pk.is_empty() {
        cols.iter()
            .map(|c| qi(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        pk.iter().map(|c| qi(c)).collect::<Vec<_>>().join(", ")
    };
    let vals = cols
        .iter()
        .map(|c| qi(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let q = format!(
        "SELECT row({key})::text, md5(row({vals})::text) FROM {}",
        qt(t)
    );
    c.query(&q, &[])
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect()
        })
        .unwrap_or_default()
}

/// Columns, constraints and indexes by definition, triggers and functions by name.
fn schema(c: &mut Client) -> Vec<String> {
    let queries = [
        "SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type \
           || ' null=' || is_nullable || ' default=' || coalesce(column_default, '-') \
           FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'lockstep') \
           AND table_name <> 'lockstep_test_touch'",
        "SELECT 'constraint ' || c.relname || ' ' || pg_get_constraintdef(k.oid) \
           || CASE WHEN k.convalidated THEN '' ELSE ' (not valid)' END \
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'lockstep')",
        "SELECT 'index ' || i.indexrelid::regclass::text || ' ' || pg_get_indexdef(i.indexrelid) \
           || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END \
           FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'lockstep')",
        "SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal",
    ];
    let mut out = Vec::new();
    for q in queries {
        if let Ok(rows) = c.query(q, &[]) {
            out.extend(rows.iter().map(|r| r.get::<_, String>(0)));
        }
    }
    out.sort();
    out
}

/// An application writing while the plan runs.
struct Writer {
    columns: Arc<Mutex<HashMap<String, Vec<Column>>>>,
    /// The first few distinct errors of failed writes.
    errors: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicUsize>,
    longest: Arc<Mutex<Duration>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(
        cluster: &Cluster,
        db: &str,
        tables: &[String],
        columns: HashMap<String, Vec<Column>>,
        rate: f64,
    ) -> Writer {
        let columns = Arc::new(Mutex::new(columns));
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicUsize::new(0));
        let longest = Arc::new(Mutex::new(Duration::ZERO));
        let mut client = cluster.connect(db).expect("writer connects");
        let _ = client.batch_execute("SET statement_timeout = '5s'");
        let tables = tables.to_vec();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (cols, st, fl, lg, er) = (
            columns.clone(),
            stop.clone(),
            failed.clone(),
            longest.clone(),
            errors.clone(),
        );
        let period = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let handle = std::thread::spawn(move || {
            let mut g: i64 = 50_000_000;
            let mut next = Instant::now();
            let mut turn = 0usize;
            while !st.load(Ordering::Relaxed) {
                // One insert per tick, the tables in turn: the load is `rate` inserts per
                // second whatever the number of tables.
                turn += 1;
                if let Some(t) = tables.get(turn % tables.len().max(1)) {
                    g += 1;
                    let sql = {
                        let map = cols.lock().unwrap_or_else(|e| e.into_inner());
                        map.get(t)
                            .and_then(|c| insert_sql(t, c, &format!("{g}::bigint"), false))
                    };
                    let Some(sql) = sql else { continue };
                    // The insert's own latency. (Measuring from the moment it was due
                    // counted the writer's own lag when it fell behind its schedule on
                    // this shared 2-core machine, which is no stall of the plan's.)
                    let due = Instant::now();
                    if let Err(e) = client.batch_execute(&format!("{sql} ON CONFLICT DO NOTHING")) {
                        fl.fetch_add(1, Ordering::Relaxed);
                        let mut seen = er.lock().unwrap_or_else(|e| e.into_inner());
                        let text = format!("{t}: {}", db_err(&e));
                        if seen.len() < 3 && !seen.contains(&text) {
                            seen.push(text);
                        }
                    }
                    let took = due.elapsed();
                    let mut l = lg.lock().unwrap_or_else(|e| e.into_inner());
                    if took > *l {
                        *l = took;
                    }
                }
                next += period;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        });
        Writer {
            columns,
            errors,
            stop,
            failed,
            longest,
            handle: Some(handle),
        }
    }

    fn switch(&self, columns: HashMap<String, Vec<Column>>) {
        *self.columns.lock().unwrap_or_else(|e| e.into_inner()) = columns;
    }

    fn stop(mut self) -> (Duration, usize) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let l = *self.longest.lock().unwrap_or_else(|e| e.into_inner());
        for e in self.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            eprintln!("   failed write: {}", short(e));
        }
        (l, self.failed.load(Ordering::Relaxed))
    }
}
