//! The analyser drives the pipeline: for every migration in order it parses the scripts,
//! computes the lock facts of each operation against the catalog as it stands before it,
//! runs the rules on the migrations being linted, and replays the ops into the catalog.

use crate::catalog::Catalog;
use crate::locks::{self, LockFact, LockMode, ModelOptions};
use crate::ops::{ConstraintKind, ObjName, Op, TimeoutKind};
use crate::parse::{self, ParsedBy, Statement};
use crate::rules::{
    self, Direction, Emitter, EndContext, Finding, NotValidAdd, OpContext, StatementContext,
    TxState,
};
use crate::settings::Settings;
use crate::source::{Migration, Script};
use rayon::prelude::*;
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
    analyze_with(migrations, settings, lint, None)
}

/// Receives each analysed script as soon as its migration has been replayed, with its
/// file's text and the settings of the analysis (see [`analyze_with`]).
pub type ScriptSink<'a> = dyn FnMut(&AnalyzedScript, &str, &Settings) + 'a;

/// [`analyze`], handing each analysed script to `sink` as soon as its migration has been
/// replayed (the streamed JSON report writes it out then). With a sink, the scripts kept
/// in [`Analysis::scripts`] hold only their last statement, without its ops and lock facts
/// (enough for the suppression check and the order of migrations), so memory does not
/// grow with the history.
pub fn analyze_with(
    migrations: &[Migration],
    settings: &Settings,
    lint: &dyn Fn(&Migration) -> bool,
    mut sink: Option<&mut ScriptSink<'_>>,
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
    // The rollback check, which judges the parts of a multi-part version together.
    let mut units = crate::rollback::Units::new(migrations);
    // Splitting, tokenising, parsing and lowering do not depend on the catalog: a
    // background thread parses the migrations chunk by chunk across the cores (rayon)
    // while this thread replays the previous chunk in order. Chunks arrive in order and
    // each chunk keeps its order, so the result is the same as a serial run; at most
    // `PARSE_AHEAD` chunks wait parsed, so memory does not grow with the history.
    // Down scripts are only read for the linted migrations.
    let linted: Vec<bool> = migrations.iter().map(lint).collect();
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<ParsedMigration>>(PARSE_AHEAD);
        let linted = &linted;
        scope.spawn(move || {
            for (chunk, linted) in migrations
                .chunks(PARSE_CHUNK)
                .zip(linted.chunks(PARSE_CHUNK))
            {
                let parsed: Vec<ParsedMigration> = chunk
                    .par_iter()
                    .zip(linted)
                    .map(|(m, &linted)| ParsedMigration {
                        up: parse::parse_script(&m.up),
                        down: m.down.as_ref().filter(|_| linted).map(parse::parse_script),
                    })
                    .collect();
                if send.send(parsed).is_err() {
                    // The replay stopped (it panicked): nothing waits for more.
                    break;
                }
            }
        });
        let mut ms = migrations.iter().zip(linted);
        for chunk in receive {
            // The chunk drives the zip: `ms` gives exactly one migration per parsed one.
            for (parsed, (m, &linted)) in chunk.into_iter().zip(ms.by_ref()) {
                replay_migration(
                    m,
                    parsed,
                    settings,
                    linted,
                    &rules,
                    downs_expected,
                    &mut units,
                    &mut catalog,
                    &mut analysis,
                    &mut sink,
                );
            }
        }
    });
    analysis.findings.extend(units.flush(settings));
    analysis.catalog = catalog;
    crate::suppress::apply(&mut analysis, settings);
    // Ruby (Rails) migrations: the help also says how to write the fix in Rails.
    crate::source::add_rails_help(&mut analysis.findings);
    // One finding per hazard: secondary facts become notes of the statement's primary finding.
    rules::assemble(&mut analysis.findings);
    analysis
        .findings
        .sort_by(|a, b| (&a.path, a.span.start, &a.rule).cmp(&(&b.path, b.span.start, &b.rule)));
    analysis
}

/// Migrations parsed per parallel batch: enough to keep the cores busy, small enough that
/// the parsed statements waiting for the replay stay a small part of memory.
const PARSE_CHUNK: usize = 32;
/// Parsed chunks that may wait for the replay.
const PARSE_AHEAD: usize = 2;

/// The statements of one migration's scripts, parsed ahead of the replay.
struct ParsedMigration {
    up: Vec<Statement>,
    down: Option<Vec<Statement>>,
}

/// Replays one migration (its statements already parsed) into `catalog`, running the
/// rules on it when `lint` selects it.
#[allow(clippy::too_many_arguments)]
fn replay_migration(
    m: &Migration,
    parsed: ParsedMigration,
    settings: &Settings,
    linted: bool,
    rules: &[(&dyn rules::Rule, &rules::RuleMeta)],
    downs_expected: bool,
    units: &mut crate::rollback::Units,
    catalog: &mut Catalog,
    analysis: &mut Analysis,
    sink: &mut Option<&mut ScriptSink<'_>>,
) {
    {
        // Schema before the up, for the rollback check (linted migrations only).
        let before = linted.then(|| catalog.clone());
        let up = run_script(
            m,
            &m.up,
            parsed.up,
            Direction::Up,
            catalog,
            settings,
            rules,
            linted,
            analysis,
        );
        if let Some(before) = before {
            let mut down_run = None;
            if let (Some(down), Some(statements)) = (&m.down, parsed.down) {
                // Lint the down script against the schema after the up, without keeping its effect.
                let mut scratch = catalog.clone();
                let d = run_script(
                    m,
                    down,
                    statements,
                    Direction::Down,
                    &mut scratch,
                    settings,
                    rules,
                    true,
                    analysis,
                );
                down_run = Some((d, scratch));
            }
            let input = crate::rollback::RollbackInput {
                migration: m,
                up: &up,
                down: down_run.as_ref().map(|(d, _)| d),
                before: &before,
                after_up: catalog,
                after_down: down_run.as_ref().map(|(_, c)| c),
                downs_expected,
            };
            analysis.findings.extend(units.check(&input, settings));
            keep(analysis, up, &m.up, settings, sink);
            if let (Some((d, _)), Some(down)) = (down_run, &m.down) {
                keep(analysis, d, down, settings, sink);
            }
        }
    }
}

/// Keeps an analysed script in the result, or hands it to the sink and keeps its outline.
fn keep(
    analysis: &mut Analysis,
    mut analysed: AnalyzedScript,
    script: &Script,
    settings: &Settings,
    sink: &mut Option<&mut ScriptSink<'_>>,
) {
    if let Some(sink) = sink {
        sink(&analysed, &script.source, settings);
        let last = analysed.statements.pop().map(|s| AnalyzedStatement {
            span: s.span,
            ops: Vec::new(),
            locks: Vec::new(),
            parsed_by: s.parsed_by,
        });
        analysed.statements = last.into_iter().collect();
    }
    analysis.scripts.push(analysed);
}

#[allow(clippy::too_many_arguments)]
fn run_script(
    m: &Migration,
    script: &Script,
    statements: Vec<Statement>,
    direction: Direction,
    catalog: &mut Catalog,
    settings: &Settings,
    rules: &[(&dyn rules::Rule, &rules::RuleMeta)],
    linted: bool,
    analysis: &mut Analysis,
) -> AnalyzedScript {
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
    let mut session = Session::new(settings);
    // Lock facts of each linted statement, moved into the result at the end together with
    // the statement's ops (no per-statement copies).
    let mut stmt_locks: Vec<Vec<LockFact>> =
        Vec::with_capacity(if linted { statements.len() } else { 0 });

    for stmt in &statements {
        if stmt.parsed_by == ParsedBy::Unparsed
            || stmt.ops.iter().any(|o| matches!(o, Op::NotAnalysed { .. }))
        {
            // It may have changed any table: what was known in full is known in part now.
            catalog.blind_spot();
        }
        let opts = ModelOptions {
            pg_version: settings.pg_version,
            session_time_zone_utc: session.time_zone_utc == Some(true),
        };
        let mut unnamed_lock = false;
        let mut noop: Vec<bool> = Vec::with_capacity(stmt.ops.len());
        // Lock facts per op against the catalog as it evolves through the statement's ops.
        // Multi-op statements (ALTER TABLE with several subcommands) keep a snapshot per op
        // (O(1): the catalog's maps are persistent).
        let multi = linted && stmt.ops.len() > 1;
        let mut op_cats: Vec<Option<Catalog>> = Vec::new();
        let mut op_locks: Vec<Vec<LockFact>> = Vec::new();
        let mut all_locks: Vec<LockFact> = Vec::new();
        for op in &stmt.ops {
            // A DROP … IF EXISTS of what the replay knows is not there only notices.
            let is_noop = is_noop_drop(op, catalog);
            noop.push(is_noop);
            // ALTER TABLE locks its table before it finds the column or constraint absent;
            // a DROP of an absent table, view or index locks nothing.
            let locks_nothing = is_noop
                && matches!(
                    op,
                    Op::DropTable { .. } | Op::DropView { .. } | Op::DropIndex { .. }
                );
            let mut facts: Vec<LockFact> = if locks_nothing {
                Vec::new()
            } else {
                locks::analyze(op, catalog, &opts).facts
            };
            unnamed_lock |= !locks_nothing
                && locks::unnamed_table_lock(op, catalog, settings.pg_version)
                    .is_some_and(|m| m >= LockMode::Share);
            facts.retain(|f| !created_here.contains(&f.table));
            if op
                .table()
                .is_some_and(|t| created_here.contains(t) && !session.filled.contains(t))
            {
                // The op's own table was created empty in this migration: validating a
                // foreign key (or anything else) reads no row of it, so the other tables
                // it locks are not scanned either.
                for f in facts.iter_mut() {
                    f.scan = false;
                }
            }
            merge_locks(&mut all_locks, &facts);
            // A table created by an earlier op of the same statement (CREATE SCHEMA with
            // elements, or an ORM call that creates a table and its indexes) is as new to
            // the later ops as to later statements.
            if let Op::CreateTable {
                table,
                as_select: false,
                ..
            } = op
            {
                created_here.insert(table.clone());
            }
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
                    if noop.get(i).copied().unwrap_or(false) {
                        continue;
                    }
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
        if matches!(stmt.parsed_by, ParsedBy::Fallback | ParsedBy::Partial) {
            // Read by keywords or in part: the columns and constraints it gives a table may
            // not all be in its ops.
            for op in &stmt.ops {
                if let Some(t) = op.table() {
                    catalog.forget_full(t);
                }
            }
        }
        advance_tx(
            &mut tx,
            stmt,
            &all_locks,
            unnamed_lock,
            &mut created_here,
            &mut session,
            in_transaction,
        );
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

/// Session state the lock model and the timeouts depend on, beyond [`TxState`].
struct Session {
    /// The session's TimeZone is UTC (`Some(true)`), another zone (`Some(false)`), unknown.
    time_zone_utc: Option<bool>,
    /// The server's default, which `SET TimeZone TO DEFAULT` / `RESET` return to.
    server_time_zone_utc: Option<bool>,
    /// Values `SET LOCAL` replaced in the open transaction, restored when it ends:
    /// (lock_timeout, statement_timeout, time zone).
    saved: Option<(Option<u64>, Option<u64>, Option<bool>)>,
    /// Tables created in this migration that rows were put into since.
    filled: HashSet<ObjName>,
}

impl Session {
    fn new(settings: &Settings) -> Self {
        let server = settings.server_timezone.as_deref().map(is_utc_zone);
        Session {
            time_zone_utc: server,
            server_time_zone_utc: server,
            saved: None,
            filled: HashSet::new(),
        }
    }
}

/// A zone whose offset is always zero: the only ones in which PostgreSQL (12+) converts
/// timestamp ↔ timestamptz without rewriting (`TimestampTimestampTzRequiresRewrite`).
pub fn is_utc_zone(zone: &str) -> bool {
    let z = zone.trim().trim_matches('\'').to_ascii_lowercase();
    let z = z.strip_prefix("etc/").unwrap_or(&z);
    matches!(
        z,
        "utc"
            | "uct"
            | "gmt"
            | "zulu"
            | "universal"
            | "greenwich"
            | "z"
            | "gmt0"
            | "gmt+0"
            | "gmt-0"
            | "0"
            | "+0"
            | "-0"
            | "00:00"
            | "+00:00"
            | "+00"
    )
}

/// A `DROP … IF EXISTS` of an object the replay knows is absent: PostgreSQL only notices,
/// takes no lock and drops nothing. Only when the history knows the table (or the object)
/// well enough to be sure.
pub fn is_noop_drop(op: &Op, catalog: &Catalog) -> bool {
    match op {
        Op::DropTable {
            table,
            if_exists: true,
            ..
        } => catalog.known_absent(table),
        Op::DropView {
            name,
            if_exists: true,
            ..
        } => catalog.known_absent(name) && !catalog.views.contains_key(name),
        Op::DropIndex {
            name,
            if_exists: true,
            ..
        } => catalog.known_absent(name),
        Op::DropColumn {
            table,
            column,
            if_exists: true,
            ..
        } => catalog.knows_fully(table) && catalog.column(table, column).is_none(),
        Op::DropConstraint {
            table,
            name,
            if_exists: true,
            ..
        } => {
            catalog.knows_fully(table) && !crate::catalog::may_have_constraint(catalog, table, name)
        }
        _ => false,
    }
}

/// Updates the transaction/session state after a statement ran.
#[allow(clippy::too_many_arguments)]
fn advance_tx(
    tx: &mut TxState,
    stmt: &Statement,
    locks: &[LockFact],
    unnamed_lock: bool,
    created_here: &mut HashSet<ObjName>,
    session: &mut Session,
    migration_in_tx: bool,
) {
    for op in &stmt.ops {
        match op {
            Op::Begin => {
                tx.in_transaction = true;
                tx.explicit_begin = Some(stmt.span.clone());
            }
            Op::Commit | Op::Rollback => {
                // SET LOCAL values end with the transaction.
                if let Some((lock, statement, tz)) = session.saved.take() {
                    tx.lock_timeout_ms = lock;
                    tx.statement_timeout_ms = statement;
                    session.time_zone_utc = tz;
                }
                tx.in_transaction = migration_in_tx;
                tx.explicit_begin = None;
                tx.strong_locks.clear();
                tx.schema_changes.clear();
                tx.data_changes.clear();
                tx.not_valid_added.clear();
            }
            Op::SetTimeout {
                timeout,
                millis,
                local,
            } => {
                if *local {
                    // Outside a transaction block SET LOCAL only warns and changes nothing.
                    if !tx.in_transaction {
                        continue;
                    }
                    session.saved.get_or_insert((
                        tx.lock_timeout_ms,
                        tx.statement_timeout_ms,
                        session.time_zone_utc,
                    ));
                }
                let v = *millis;
                match timeout {
                    TimeoutKind::Lock => tx.lock_timeout_ms = v,
                    TimeoutKind::Statement => tx.statement_timeout_ms = v,
                }
            }
            Op::SetTimeZone { zone, local } => {
                if *local {
                    if !tx.in_transaction {
                        continue;
                    }
                    session.saved.get_or_insert((
                        tx.lock_timeout_ms,
                        tx.statement_timeout_ms,
                        session.time_zone_utc,
                    ));
                }
                session.time_zone_utc = match zone {
                    Some(z) => Some(is_utc_zone(z)),
                    None => session.server_time_zone_utc,
                };
            }
            Op::CreateTable {
                table, as_select, ..
            } => {
                created_here.insert(table.clone());
                if *as_select {
                    session.filled.insert(table.clone());
                } else {
                    session.filled.remove(table);
                }
            }
            Op::Insert { table, .. } | Op::Update { table, .. } => {
                session.filled.insert(table.clone());
            }
            Op::Other { what } if what.to_ascii_uppercase().starts_with("COPY") => {
                // COPY … FROM fills a table we cannot name here: assume all of them.
                session.filled.extend(created_here.iter().cloned());
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
        && (unnamed_lock || locks.iter().any(|l| l.mode >= LockMode::Share))
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
        // Autocommit: a SET LOCAL inside the statement's own transaction is already over.
        if let Some((lock, statement, tz)) = session.saved.take() {
            tx.lock_timeout_ms = lock;
            tx.statement_timeout_ms = statement;
            session.time_zone_utc = tz;
        }
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
            host: None,
        },
        down: None,
        in_transaction,
    }
}
