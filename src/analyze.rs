//! The analyser drives the pipeline: for every migration in order it parses the scripts,
//! computes the lock facts of each operation against the catalog as it stands before it,
//! runs the rules on the migrations being linted, and replays the ops into the catalog.

use crate::catalog::Catalog;
use crate::locks::{self, LockFact, LockMode};
use crate::ops::{ConstraintKind, ObjName, Op, TimeoutKind};
use crate::parse::{self, ParsedBy, Statement};
use crate::rules::{
    self, Direction, Emitter, EndContext, Finding, NotValidAdd, OpContext, StatementContext,
    TxState,
};
use crate::settings::Settings;
use crate::source::{Migration, Script};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// One statement with what we know about it.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzedStatement {
    pub span: Range<usize>,
    pub ops: Vec<Op>,
    pub locks: Vec<LockFact>,
    pub parsed_by: ParsedBy,
}

/// One linted script (the up or down part of a migration).
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzedScript {
    pub migration: String,
    pub path: PathBuf,
    pub direction: Direction,
    pub in_transaction: bool,
    pub statements: Vec<AnalyzedStatement>,
}

/// The result of analysing a folder.
#[derive(Debug, Default)]
pub struct Analysis {
    pub scripts: Vec<AnalyzedScript>,
    pub findings: Vec<Finding>,
    /// File contents by path, for rendering snippets.
    pub sources: BTreeMap<PathBuf, Arc<str>>,
    pub migrations_total: usize,
    pub statements_total: usize,
    /// The catalog after the last migration.
    pub catalog: Catalog,
    /// Findings left out because `lockstep baseline` recorded them (see `crate::baseline`).
    pub baselined: usize,
}

/// Analyses `migrations` (all of them, in order). Rules run on the migrations for which
/// `lint(m)` is true; the others are only replayed into the catalog.
pub fn analyze(
    migrations: &[Migration],
    settings: &Settings,
    lint: &dyn Fn(&Migration) -> bool,
) -> Analysis {
    let mut analysis = Analysis {
        migrations_total: migrations.len(),
        ..Default::default()
    };
    let mut catalog = Catalog::new();
    // The rules for this PostgreSQL version, decided once rather than per statement.
    let rules: Vec<(&dyn rules::Rule, &rules::RuleMeta)> = rules::metas()
        .iter()
        .filter(|(_, meta)| meta.applies_to(settings.pg_version))
        .map(|(rule, meta)| (*rule, meta))
        .collect();
    // A folder where some migrations have down scripts expects every one to have one.
    let downs_expected = migrations.iter().any(|m| m.down.is_some());
    for m in migrations {
        let linted = lint(m);
        // Schema before the up, for the rollback check (linted migrations only).
        let before = linted.then(|| catalog.clone());
        let up = run_script(
            m,
            &m.up,
            Direction::Up,
            &mut catalog,
            settings,
            &rules,
            linted,
            &mut analysis,
        );
        if let Some(before) = before {
            let mut down_run = None;
            if let Some(down) = &m.down {
                // Lint the down script against the schema after the up, without keeping its effect.
                let mut scratch = catalog.clone();
                let d = run_script(
                    m,
                    down,
                    Direction::Down,
                    &mut scratch,
                    settings,
                    &rules,
                    true,
                    &mut analysis,
                );
                down_run = Some((d, scratch));
            }
            let input = crate::rollback::RollbackInput {
                migration: m,
                up: &up,
                down: down_run.as_ref().map(|(d, _)| d),
                before: &before,
                after_up: &catalog,
                after_down: down_run.as_ref().map(|(_, c)| c),
                downs_expected,
            };
            analysis
                .findings
                .extend(crate::rollback::check(&input, settings));
            analysis.scripts.push(up);
            if let Some((d, _)) = down_run {
                analysis.scripts.push(d);
            }
        }
    }
    analysis.catalog = catalog;
    crate::suppress::apply(&mut analysis, settings);
    // One finding per hazard: secondary facts become notes of the statement's primary finding.
    rules::assemble(&mut analysis.findings);
    analysis
        .findings
        .sort_by(|a, b| (&a.path, a.span.start, &a.rule).cmp(&(&b.path, b.span.start, &b.rule)));
    analysis
}

#[allow(clippy::too_many_arguments)]
fn run_script(
    m: &Migration,
    script: &Script,
    direction: Direction,
    catalog: &mut Catalog,
    settings: &Settings,
    rules: &[(&dyn rules::Rule, &rules::RuleMeta)],
    linted: bool,
    analysis: &mut Analysis,
) -> AnalyzedScript {
    let statements = parse::parse_script(script);
    analysis.statements_total += statements.len();
    if linted {
        analysis
            .sources
            .entry(script.path.clone())
            .or_insert_with(|| script.source.clone());
    }
    // A lone statement sent as one simple query is not in a transaction block.
    let in_transaction =
        m.in_transaction && !(settings.single_statement_autocommit && statements.len() == 1);
    let mut tx = TxState {
        in_transaction,
        ..Default::default()
    };
    let mut created_here: HashSet<ObjName> = HashSet::new();
    // Lock facts of each linted statement, moved into the result at the end together with
    // the statement's ops (no per-statement copies).
    let mut stmt_locks: Vec<Vec<LockFact>> =
        Vec::with_capacity(if linted { statements.len() } else { 0 });

    for stmt in &statements {
        // Lock facts per op against the catalog as it evolves through the statement's ops.
        // Multi-op statements (ALTER TABLE with several subcommands) keep a snapshot per op
        // (O(1): the catalog's maps are persistent).
        let multi = linted && stmt.ops.len() > 1;
        let mut op_cats: Vec<Option<Catalog>> = Vec::new();
        let mut op_locks: Vec<Vec<LockFact>> = Vec::new();
        let mut all_locks: Vec<LockFact> = Vec::new();
        for op in &stmt.ops {
            let mut facts: Vec<LockFact> = locks::facts(op, catalog, settings.pg_version);
            facts.retain(|f| !created_here.contains(&f.table));
            merge_locks(&mut all_locks, &facts);
            if multi {
                op_cats.push(Some(catalog.clone()));
                op_locks.push(facts);
                catalog.apply(op);
            } else if linted {
                op_cats.push(None);
                op_locks.push(facts);
            } else {
                catalog.apply(op);
            }
        }

        if linted {
            let before_cat: &Catalog = match op_cats.first() {
                Some(Some(c)) => c,
                _ => &*catalog,
            };
            let scx = StatementContext {
                migration: m,
                direction,
                path: &script.path,
                source: &script.source,
                span: stmt.span.clone(),
                statement: stmt,
                locks: &all_locks,
                op_locks: &op_locks,
                catalog: before_cat,
                tx: &tx,
                created_here: &created_here,
                settings,
            };
            let mut findings = Vec::new();
            for &(rule, meta) in rules {
                let mut em =
                    Emitter::new(meta, settings, m, direction, &script.path, &mut findings);
                rule.check_statement(&scx, &mut em);
                for (i, op) in stmt.ops.iter().enumerate() {
                    let (Some(cat), Some(facts)) = (op_cats.get(i), op_locks.get(i)) else {
                        continue;
                    };
                    let ocx = OpContext {
                        stmt: &scx,
                        op,
                        locks: facts,
                        catalog: cat.as_ref().unwrap_or(before_cat),
                    };
                    rule.check_op(&ocx, &mut em);
                }
            }
            dedupe(&mut findings);
            analysis.findings.extend(findings);
            if !multi {
                for op in &stmt.ops {
                    catalog.apply(op);
                }
            }
        }
        advance_tx(&mut tx, stmt, &all_locks, &mut created_here, in_transaction);
        if linted {
            stmt_locks.push(all_locks);
        }
    }

    if linted {
        let end = EndContext {
            migration: m,
            direction,
            path: &script.path,
            source: &script.source,
            script_range: script.range.clone(),
            tx: &tx,
            settings,
            catalog: &*catalog,
            statements: &statements,
        };
        let mut findings = Vec::new();
        for &(rule, meta) in rules {
            let mut em = Emitter::new(meta, settings, m, direction, &script.path, &mut findings);
            rule.check_end(&end, &mut em);
        }
        analysis.findings.extend(findings);
    }

    let out_statements = if linted {
        statements
            .into_iter()
            .zip(stmt_locks)
            .map(|(stmt, locks)| AnalyzedStatement {
                span: stmt.span,
                ops: stmt.ops,
                locks,
                parsed_by: stmt.parsed_by,
            })
            .collect()
    } else {
        Vec::new()
    };
    AnalyzedScript {
        migration: m.id.clone(),
        path: script.path.clone(),
        direction,
        in_transaction,
        statements: out_statements,
    }
}

/// Keeps the strongest mode per table, OR-ing rewrite and scan.
fn merge_locks(all: &mut Vec<LockFact>, facts: &[LockFact]) {
    for f in facts {
        if let Some(e) = all.iter_mut().find(|e| e.table == f.table) {
            e.mode = e.mode.max(f.mode);
            e.rewrite |= f.rewrite;
            e.scan |= f.scan;
        } else {
            all.push(f.clone());
        }
    }
}

/// One finding per rule per statement: several ops of one ALTER TABLE repeating the same
/// fact would be noise.
fn dedupe(findings: &mut Vec<Finding>) {
    let mut seen = HashSet::new();
    findings.retain(|f| seen.insert((f.rule.clone(), f.span.start, f.message.clone())));
}

/// Updates the transaction/session state after a statement ran.
fn advance_tx(
    tx: &mut TxState,
    stmt: &Statement,
    locks: &[LockFact],
    created_here: &mut HashSet<ObjName>,
    migration_in_tx: bool,
) {
    for op in &stmt.ops {
        match op {
            Op::Begin => {
                tx.in_transaction = true;
                tx.explicit_begin = Some(stmt.span.clone());
            }
            Op::Commit | Op::Rollback => {
                tx.in_transaction = migration_in_tx;
                tx.explicit_begin = None;
                tx.strong_locks.clear();
                tx.schema_changes.clear();
                tx.data_changes.clear();
                tx.not_valid_added.clear();
            }
            Op::SetTimeout {
                timeout, millis, ..
            } => {
                let v = *millis;
                match timeout {
                    TimeoutKind::Lock => tx.lock_timeout_ms = v,
                    TimeoutKind::Statement => tx.statement_timeout_ms = v,
                }
            }
            Op::CreateTable { table, .. } => {
                created_here.insert(table.clone());
            }
            Op::CreateView { name, .. } => {
                created_here.insert(name.clone());
            }
            Op::RenameTable { table, new_name } if created_here.contains(table) => {
                created_here.insert(ObjName::new(table.schema.clone(), new_name.clone()));
            }
            _ => {}
        }
    }
    if tx.unguarded_lock.is_none()
        && !tx.has_lock_timeout()
        && locks.iter().any(|l| l.mode >= LockMode::Share)
    {
        tx.unguarded_lock = Some(stmt.span.clone());
    }
    if tx.in_transaction {
        for l in locks {
            if l.mode == LockMode::AccessExclusive {
                tx.strong_locks.push((l.table.clone(), stmt.span.clone()));
            }
        }
        for op in &stmt.ops {
            if let Op::AddConstraint { table, constraint } = op {
                let validating = matches!(
                    constraint.kind,
                    ConstraintKind::Check { .. } | ConstraintKind::ForeignKey(_)
                );
                if constraint.not_valid && validating && !created_here.contains(table) {
                    let name = constraint.name.clone().unwrap_or_else(|| {
                        crate::catalog::default_constraint_name(table, &constraint.kind)
                    });
                    let mode = locks
                        .iter()
                        .filter(|l| &l.table == table)
                        .map(|l| l.mode)
                        .max()
                        .unwrap_or(LockMode::AccessExclusive);
                    tx.not_valid_added.push(NotValidAdd {
                        table: table.clone(),
                        name,
                        span: stmt.span.clone(),
                        mode,
                    });
                }
            }
        }
        let is_data = rules::support::is_data_change(&stmt.ops, created_here);
        let is_schema = rules::support::is_schema_change(&stmt.ops, locks);
        if is_data {
            tx.data_changes.push(stmt.span.clone());
        }
        if is_schema {
            tx.schema_changes.push(stmt.span.clone());
        }
    } else {
        // Autocommit: every statement is its own transaction.
        tx.strong_locks.clear();
        tx.schema_changes.clear();
        tx.data_changes.clear();
        tx.not_valid_added.clear();
    }
}

/// Builds an in-memory migration from SQL text (rule examples, tests, stdin).
/// `order` also becomes the version; the path is `<name>.sql`.
pub fn inline_migration(order: usize, name: &str, sql: &str, in_transaction: bool) -> Migration {
    let source: Arc<str> = sql.into();
    Migration {
        id: format!("{order}_{name}"),
        version: order.to_string(),
        name: name.to_string(),
        order,
        kind: crate::source::MigrationKind::Versioned,
        up: Script {
            path: PathBuf::from(format!("{name}.sql")),
            source: source.clone(),
            range: 0..sql.len(),
            whole_statements: Vec::new(),
        },
        down: None,
        in_transaction,
    }
}
