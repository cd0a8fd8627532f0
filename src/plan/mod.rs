//! The planner: rewrites an unsafe migration into expand → backfill → contract steps with
//! the application deploy points between them.
//!
//! Input: the migrations before the target (replayed into a [`Catalog`]) and the target's
//! statements (parsed to [`Op`]s). Each op goes through a recipe ([`recipes`]) that yields
//! one or more steps with their dependencies; [`graph`] orders them (petgraph toposort,
//! phases as tie-breakers) and [`render_md`], YAML (serde), [`write`] and [`diff`] turn the
//! plan into something a person or a runner reads.
//!
//! Every step says what SQL it runs, whether it may run inside a transaction, the lock it
//! takes, the `lock_timeout` it runs under and how to retry, and which deploy must have
//! shipped first. Backfills carry a [`backfill::BackfillSpec`] that `lockstep backfill run`
//! executes, and a psql script (a procedure that commits per batch).

pub mod apply;
pub mod backfill;
pub mod diff;
pub mod graph;
pub mod quote;
pub mod recipes;
pub mod render_md;
mod sqlast;
pub mod write;

use crate::catalog::Catalog;
use crate::locks::LockMode;
use crate::ops::{ObjName, Op};
use crate::parse::{self, ParsedBy};
use crate::settings::Settings;
use crate::source::{Layout, Migration};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use backfill::BackfillSpec;

/// The version of the plan YAML/JSON schema (bumped on incompatible changes).
pub const PLAN_SCHEMA_VERSION: u32 = 1;

/// The phases of a rollout, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Additive, backwards-compatible changes the running application tolerates.
    Expand,
    /// Data changes in small batches, outside any schema transaction.
    Backfill,
    /// Tightening and removal, once the application no longer needs the old shape.
    Contract,
}

impl Phase {
    /// The word used in headings.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Backfill => "backfill",
            Phase::Contract => "contract",
        }
    }
}

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// SQL run by the migration tool (or psql).
    Sql,
    /// A batched backfill: `backfill` holds the spec, `statements` the psql form.
    Backfill,
    /// Not SQL: the application must ship a change before the following steps run.
    Deploy,
}

/// A lock a step takes and for how long it matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLock {
    /// `schema.name` of the table.
    pub table: String,
    /// As PostgreSQL's documentation spells it (`ACCESS EXCLUSIVE`).
    pub mode: String,
    /// How long it is held, in words: "instant (catalog only)", "whole scan, writes continue", ….
    pub duration: String,
}

impl StepLock {
    pub(crate) fn new(table: &ObjName, mode: LockMode, duration: &str) -> Self {
        StepLock {
            table: table.qualified(),
            mode: mode.as_str().to_string(),
            duration: duration.to_string(),
        }
    }
}

/// How to retry a step whose lock request timed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled after each failure.
    pub initial_backoff_ms: u64,
    /// Upper bound of the wait between attempts.
    pub max_backoff_ms: u64,
}

impl RetryPolicy {
    /// The default for short catalog changes: 5 attempts, 1 s doubling up to 30 s.
    pub fn standard() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_backoff_ms: 1000,
            max_backoff_ms: 30_000,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based position in execution order (what `--step N` refers to).
    pub id: usize,
    pub phase: Phase,
    pub kind: StepKind,
    /// One line saying what the step does.
    pub title: String,
    /// The statements, each complete and ending with `;`. A non-transactional step sends
    /// each one on its own (autocommit); a transactional one wraps them in one transaction.
    pub statements: Vec<String>,
    /// The statements may run inside one transaction (false for CONCURRENTLY and for
    /// backfills, which commit per batch).
    pub transactional: bool,
    /// Table locks taken.
    pub locks: Vec<StepLock>,
    /// The `lock_timeout` the step sets, in milliseconds (`0` means wait without limit,
    /// used for CONCURRENTLY, whose waits never block the application).
    pub lock_timeout_ms: Option<u64>,
    /// How to retry on `lock_timeout` (SQLSTATE 55P03).
    pub retry: Option<RetryPolicy>,
    /// What the application must have deployed before this step runs.
    pub requires_deploy: Option<String>,
    /// Ids of the steps that must have completed first.
    pub depends_on: Vec<usize>,
    /// For `kind: backfill`.
    pub backfill: Option<BackfillSpec>,
    /// Extra advice shown under the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// 1-based index of the statement of the original migration this step comes from.
    pub from_statement: Option<usize>,
}

impl Step {
    /// The statements joined as one SQL script.
    pub fn sql(&self) -> String {
        self.statements.join("\n")
    }
}

/// Size of a table the plan touches, when known (config hints or a live database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSize {
    /// `schema.name`.
    pub table: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

/// A phased rollout of one migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_SCHEMA_VERSION`].
    pub version: u32,
    /// The migration's id as the framework names it.
    pub migration: String,
    /// The file the migration's up script lives in.
    pub path: PathBuf,
    /// The folder layout the migration comes from.
    pub layout: Option<String>,
    /// Sizes of the tables touched, where known.
    pub tables: Vec<TableSize>,
    /// Steps in execution order, deploy points included.
    pub steps: Vec<Step>,
    /// Things the user should know about the plan as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// The plan as YAML (the schema documented in docs/plan-format.md).
    pub fn to_yaml(&self) -> Result<String, PlanError> {
        serde_yaml::to_string(self).map_err(|e| PlanError::Render(e.to_string()))
    }

    /// Reads a plan written by [`Plan::to_yaml`].
    pub fn from_yaml(text: &str) -> Result<Plan, PlanError> {
        serde_yaml::from_str(text).map_err(|e| PlanError::Render(e.to_string()))
    }

    /// The steps that carry SQL (deploy points left out), in order.
    pub fn sql_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.kind != StepKind::Deploy)
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A backfill needs a key to walk.
    #[error(
        "cannot backfill {table}: it has no primary key and no unique index over NOT NULL columns \
         that lockstep knows of; add one first, e.g. `ALTER TABLE {table} ADD COLUMN id bigint \
         GENERATED ALWAYS AS IDENTITY` followed by a unique index built CONCURRENTLY and \
         `ADD CONSTRAINT … PRIMARY KEY USING INDEX`"
    )]
    NoKey { table: String },
    /// The step dependencies form a cycle (a planner bug or a contradictory migration).
    #[error(
        "the plan's steps depend on each other in a cycle (at step {0:?}); no order can satisfy it"
    )]
    Cycle(String),
    /// The migration asked for does not exist.
    #[error("no migration {0:?} in this folder")]
    NoSuchMigration(String),
    /// A statement could not be parsed, so it cannot be planned.
    #[error("statement {index} could not be parsed ({message}); fix it or plan it by hand")]
    Unparsed { index: usize, message: String },
    /// Rendering failed.
    #[error("cannot render the plan: {0}")]
    Render(String),
    /// `ADD COLUMN … NOT NULL` without a default on a table that exists: the original only
    /// works while the table is empty, and during a rollout old application versions keep
    /// inserting rows without the column, so no plan can end in the migration's schema.
    #[error(
        "statement {statement}: cannot plan ADD COLUMN {column} NOT NULL on {table}: the column has no default, so \
         the statement only works while {table} is empty, and during a rollout the running \
         application keeps inserting rows without {column}; give it a DEFAULT (a constant \
         default is instant on PostgreSQL 11+), or add it nullable, fill it with an UPDATE \
         and deploy an application that writes it, then SET NOT NULL in a later migration"
    )]
    NotNullWithoutDefault {
        statement: usize,
        table: String,
        column: String,
    },
    /// The migration holds something no generated SQL may carry (a NUL character).
    #[error("{0}")]
    Unsafe(String),
}

/// Knobs for planning.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// `lock_timeout` for steps that take a strong lock, in milliseconds.
    pub lock_timeout_ms: u64,
    /// Retry policy for those steps.
    pub retry: RetryPolicy,
    /// Backfill defaults (batch size, target batch time, sleep, replica lag).
    pub backfill: backfill::BackfillTuning,
    /// Lint settings: PostgreSQL version and table size hints.
    pub settings: Settings,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            lock_timeout_ms: 2000,
            retry: RetryPolicy::standard(),
            backfill: backfill::BackfillTuning::default(),
            settings: Settings::default(),
        }
    }
}

/// Plans migration `target` of `migrations` (all migrations before it are replayed into
/// the catalog first; the ones after it are ignored).
pub fn plan_migration(
    migrations: &[Migration],
    target: usize,
    layout: Option<Layout>,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let Some(m) = migrations.get(target) else {
        return Err(PlanError::NoSuchMigration(target.to_string()));
    };
    let mut catalog = Catalog::new();
    for before in &migrations[..target] {
        for stmt in parse::parse_script(&before.up) {
            for op in &stmt.ops {
                catalog.apply(op);
            }
        }
    }
    let mut plan = plan_sql(&catalog, &m.id, m.up.text(), options)?;
    plan.path = m.up.path.clone();
    plan.layout = layout.map(|l| l.name().to_string());
    Ok(plan)
}

/// Plans one migration's SQL against `catalog` (the schema before it).
pub fn plan_sql(
    catalog: &Catalog,
    migration_id: &str,
    sql: &str,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    // PostgreSQL cannot store NUL in a name or a string, and clients cut text there: a
    // plan built from such a migration could not mean what it says.
    if let Some(at) = sql.find('\0') {
        let line = sql[..at].matches('\n').count() + 1;
        return Err(PlanError::Unsafe(format!(
            "line {line} of migration {} contains a NUL character, which PostgreSQL cannot \
             store in a name or string; remove it",
            quote::comment_text(migration_id)
        )));
    }
    // The id goes into backfill job names, which are also written into comments of the
    // generated procedure: keep control characters out of it.
    let job_id = quote::comment_text(migration_id);
    let migration_id_for_recipes = job_id.as_str();
    let statements = parse::parse_sql(sql);
    let mut catalog = catalog.clone();
    let mut drafts: Vec<recipes::Draft> = Vec::new();
    let mut state = recipes::MigrationState {
        key_swaps: recipes::key_swap::find(&catalog, statements.iter().flat_map(|s| s.ops.iter())),
        ..Default::default()
    };
    let mut touched: Vec<ObjName> = Vec::new();
    let mut created_here: std::collections::HashSet<ObjName> = std::collections::HashSet::new();
    let cx_base = recipes::Tuning {
        lock_timeout_ms: options.lock_timeout_ms,
        retry: options.retry.clone(),
        backfill: options.backfill.clone(),
        pg_version: options.settings.pg_version,
    };
    for (i, stmt) in statements.iter().enumerate() {
        let text = sql.get(stmt.span.clone()).unwrap_or("").trim();
        if stmt.parsed_by == ParsedBy::Unparsed {
            return Err(PlanError::Unparsed {
                index: i + 1,
                message: stmt
                    .error
                    .clone()
                    .unwrap_or_else(|| "unknown statement".into()),
            });
        }
        let mut out = recipes::plan_statement(
            &catalog,
            text,
            &stmt.ops,
            i + 1,
            &cx_base,
            migration_id_for_recipes,
            &created_here,
            &mut state,
        )?;
        drafts.append(&mut out);
        for op in &stmt.ops {
            // Anything done to a table created by this same migration is safe: nobody uses it yet.
            if let Op::CreateTable { table, .. } = op {
                created_here.insert(table.clone());
            }
            if let Some(t) = op.table()
                && !touched.contains(t)
            {
                touched.push(t.clone());
            }
            catalog.apply(op);
        }
    }
    let steps = graph::order(drafts)?;
    let tables = touched
        .iter()
        .map(|t| {
            let size = options.settings.size(t);
            TableSize {
                table: t.qualified(),
                rows: size.and_then(|s| s.rows),
                bytes: size.and_then(|s| s.bytes),
            }
        })
        .collect();
    Ok(Plan {
        version: PLAN_SCHEMA_VERSION,
        migration: migration_id.to_string(),
        path: PathBuf::new(),
        layout: None,
        tables,
        steps,
        notes: state.notes,
    })
}

/// True when `op` only has meaning within the original script's session (transaction
/// control, timeouts): the plan sets its own and drops these.
pub(crate) fn is_session_control(op: &Op) -> bool {
    matches!(
        op,
        Op::Begin | Op::Commit | Op::Rollback | Op::SetTimeout { .. }
    )
}
