//! `lockstep dry-run`: which migrations are pending, what each pending statement will lock
//! on tables of what size, for about how long, and what the database lacks — read in one
//! `READ ONLY` transaction with a constant number of queries.

use super::LiveError;
use super::checksums::{self, ChecksumMismatch};
use super::connect::Db;
use super::drift::{self, DriftItem, PendingStatement};
use super::history::{self, History};
use super::stats::{self, TableStats};
use super::trace::{TraceReport, head, line_of};
use crate::analyze::{Analysis, analyze};
use crate::ops::ObjName;
use crate::rules::Direction;
use crate::settings::{Settings, TableSize, human_bytes, human_count};
use crate::source::{Layout, Migration};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// What a dry-run reads and how it estimates.
#[derive(Debug, Clone)]
pub struct DryRunOptions {
    pub layout: Layout,
    /// Overrides the layout's history table (`schema.table` or `table`).
    pub history_table: Option<String>,
    /// `count(*)` every touched table (one statement for all of them).
    pub exact_counts: bool,
    /// Bytes per second a rewrite or scan processes, for the duration estimate.
    pub throughput: u64,
    /// statement_timeout for the read-only transaction.
    pub statement_timeout: Duration,
}

/// The lock one pending statement takes on one table, with what the database says about it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedLock {
    pub table: ObjName,
    pub mode: crate::locks::LockMode,
    /// "reads and writes", "writes", …
    pub blocks: &'static str,
    pub rewrite: bool,
    pub scan: bool,
    pub rows: Option<u64>,
    /// `exact`, `estimate`, `unknown (never analysed)`, `missing`, or `config` (lockstep.yaml hint).
    pub rows_source: String,
    pub bytes: Option<u64>,
    /// Estimated seconds of the blocking part (scan or rewrite under the lock), from
    /// size ÷ throughput. `Some(0.0)` for an instant catalog change.
    pub estimated_seconds: Option<f64>,
}

/// One pending statement.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStatement {
    pub migration: String,
    pub path: String,
    pub line: usize,
    pub sql: String,
    pub operations: Vec<String>,
    pub locks: Vec<PlannedLock>,
}

/// A finding of the rules on the pending migrations (sizes from the database).
#[derive(Debug, Clone, Serialize)]
pub struct PendingFinding {
    pub rule: String,
    pub severity: String,
    pub migration: String,
    pub line: usize,
    pub message: String,
}

/// Everything `dry-run` found.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunReport {
    pub version: u32,
    /// The redacted target, or "scratch cluster".
    pub target: String,
    pub server_version: Option<String>,
    pub read_only: bool,
    pub layout: Layout,
    pub migrations_total: usize,
    pub history: History,
    /// Applied migrations whose file no longer has the checksum flyway or sqlx stored
    /// (edited after they ran); flyway repeatables among them will be re-applied.
    pub checksum_mismatches: Vec<ChecksumMismatch>,
    pub statements: Vec<PlannedStatement>,
    pub tables: Vec<TableStats>,
    pub drift: Vec<DriftItem>,
    pub findings: Vec<PendingFinding>,
    pub throughput_bytes_per_second: u64,
    pub trace: Option<TraceReport>,
    /// Statements sent for the read-only inspection (constant in the number of tables).
    pub queries: u64,
    pub elapsed_ms: f64,
    pub notes: Vec<String>,
}

/// Tables the pending statements name (lock facts and the ops' own tables).
fn touched_tables(analysis: &Analysis) -> Vec<ObjName> {
    let mut set = BTreeSet::new();
    for s in &analysis.scripts {
        for st in &s.statements {
            for l in &st.locks {
                set.insert(l.table.clone());
            }
            for op in &st.ops {
                if let Some(t) = op.table() {
                    set.insert(t.clone());
                }
            }
        }
    }
    set.into_iter().collect()
}

/// Analyses `migrations`, linting only those in `pending` (up scripts only matter here).
pub fn analyze_pending(
    migrations: &[Migration],
    settings: &Settings,
    pending: &[String],
) -> Analysis {
    let pending: HashSet<&str> = pending.iter().map(String::as_str).collect();
    analyze(migrations, settings, &|m: &Migration| {
        pending.contains(m.id.as_str())
    })
}

/// Reads the database (read-only) and builds the report. Returns the analysis of the pending
/// migrations too, for the trace.
pub fn inspect(
    db: &mut Db,
    migrations: &[Migration],
    settings: &Settings,
    opts: &DryRunOptions,
) -> Result<(DryRunReport, Analysis, Settings), LiveError> {
    let started = Instant::now();
    let q0 = db.queries();
    db.batch(
        "starting a read-only transaction",
        &format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
             SET LOCAL statement_timeout = '{}ms'; SET LOCAL lock_timeout = '1s'",
            opts.statement_timeout.as_millis().max(1)
        ),
    )?;
    let result = inspect_in_transaction(db, migrations, settings, opts);
    let end = db.batch("ending the read-only transaction", "ROLLBACK");
    let (mut report, analysis, settings) = result?;
    end?;
    report.queries = db.queries() - q0;
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok((report, analysis, settings))
}

fn inspect_in_transaction(
    db: &mut Db,
    migrations: &[Migration],
    base_settings: &Settings,
    opts: &DryRunOptions,
) -> Result<(DryRunReport, Analysis, Settings), LiveError> {
    let version = db.query_one(
        "reading the server version",
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int4",
        &[],
    )?;
    let server_version: String = version.get(0);
    let version_num: i32 = version.get(1);
    let mut settings = base_settings.clone();
    let major = u32::try_from(version_num / 10000).unwrap_or(15);
    if crate::locks::PG_VERSIONS.contains(&major) {
        settings.pg_version = major;
    }

    let mut history = history::read(db, opts.layout, opts.history_table.as_deref(), migrations)?;
    // Before the pending analysis: a changed flyway repeatable becomes pending again.
    let sums = checksums::compare(db, opts.layout, &mut history, migrations)?;

    // First pass only to learn which tables the pending statements touch.
    let first = analyze_pending(migrations, &settings, &history.pending);
    let tables = touched_tables(&first);
    let stats = stats::fetch(db, &tables, opts.exact_counts)?;
    let db_tables = stats::all_tables(db)?;

    // Real sizes replace config hints, so the size-aware rules use them.
    for s in stats.values().filter(|s| s.exists) {
        settings.tables.insert(
            s.table.clone(),
            TableSize {
                rows: s.rows(),
                bytes: s.total_bytes,
            },
        );
    }
    let analysis = analyze_pending(migrations, &settings, &history.pending);

    // Drift: what the pending statements expect, and the applied history vs the database.
    let mut pending_statements = Vec::new();
    for s in analysis
        .scripts
        .iter()
        .filter(|s| s.direction == Direction::Up)
    {
        let Some(src) = analysis.sources.get(&s.path) else {
            continue;
        };
        for st in &s.statements {
            pending_statements.push(PendingStatement {
                migration: &s.migration,
                line: line_of(src, st.span.start),
                ops: &st.ops,
            });
        }
    }
    let mut drift = drift::expected_objects(&pending_statements, &stats);
    let applied: HashSet<&str> = history.applied.iter().map(String::as_str).collect();
    let applied_migrations: Vec<Migration> = migrations
        .iter()
        .filter(|m| applied.contains(m.id.as_str()))
        .cloned()
        .collect();
    let applied_catalog = analyze(&applied_migrations, &settings, &|_| false).catalog;
    let ignore: Vec<ObjName> = history
        .table
        .as_deref()
        .map(crate::config::parse_table_name)
        .into_iter()
        .collect();
    drift.extend(drift::catalog_vs_database(
        &applied_catalog,
        &db_tables,
        &ignore,
    ));

    let statements = planned_statements(&analysis, &stats, &settings, opts.throughput);
    let findings = analysis
        .findings
        .iter()
        .filter(|f| !f.suppressed && f.direction == Direction::Up)
        .map(|f| PendingFinding {
            rule: f.rule.clone(),
            severity: f.severity.to_string(),
            migration: f.migration.clone(),
            line: analysis
                .sources
                .get(&f.path)
                .map(|s| line_of(s, f.span.start))
                .unwrap_or(0),
            message: f.message.clone(),
        })
        .collect();
    let mut notes = sums.notes;
    if stats
        .values()
        .any(|s| s.exists && s.estimated_rows.is_none() && s.exact_rows.is_none())
    {
        notes.push(
            "some tables were never analysed (reltuples = -1): their row counts are unknown; \
             run ANALYZE or pass --exact-counts"
                .into(),
        );
    }
    let report = DryRunReport {
        version: 1,
        target: db.target.clone(),
        server_version: Some(server_version),
        read_only: true,
        layout: opts.layout,
        migrations_total: migrations.len(),
        history,
        checksum_mismatches: sums.mismatches,
        statements,
        tables: stats.into_values().collect(),
        drift,
        findings,
        throughput_bytes_per_second: opts.throughput,
        trace: None,
        queries: 0,
        elapsed_ms: 0.0,
        notes,
    };
    Ok((report, analysis, settings))
}

/// Per pending up statement: its locks with sizes and the estimate.
pub fn planned_statements(
    analysis: &Analysis,
    stats: &BTreeMap<ObjName, TableStats>,
    settings: &Settings,
    throughput: u64,
) -> Vec<PlannedStatement> {
    let mut out = Vec::new();
    for s in analysis
        .scripts
        .iter()
        .filter(|s| s.direction == Direction::Up)
    {
        let Some(src) = analysis.sources.get(&s.path) else {
            continue;
        };
        for st in &s.statements {
            let sql = src.get(st.span.clone()).unwrap_or("");
            let locks = st
                .locks
                .iter()
                .map(|l| {
                    let stat = stats.get(&l.table);
                    let hint = settings.size(&l.table);
                    let (rows, rows_source) = match stat {
                        Some(s) if !s.exists => (None, "missing".to_string()),
                        Some(s) if s.exact_rows.is_some() => (s.exact_rows, "exact".into()),
                        Some(s) if s.estimated_rows.is_some() => {
                            (s.estimated_rows, "estimate".into())
                        }
                        Some(_) => (None, "unknown (never analysed)".into()),
                        None => match hint.and_then(|h| h.rows) {
                            Some(r) => (Some(r), "config".into()),
                            None => (None, "unknown".into()),
                        },
                    };
                    let bytes = stat
                        .and_then(|s| s.total_bytes)
                        .or_else(|| hint.and_then(|h| h.bytes));
                    let blocking_work = (l.rewrite || l.scan) && l.mode.blocks_writes();
                    let estimated_seconds = if !blocking_work {
                        Some(0.0)
                    } else {
                        bytes.map(|b| b as f64 / throughput.max(1) as f64)
                    };
                    PlannedLock {
                        table: l.table.clone(),
                        mode: l.mode,
                        blocks: l.mode.blocks_what(),
                        rewrite: l.rewrite,
                        scan: l.scan,
                        rows,
                        rows_source,
                        bytes,
                        estimated_seconds,
                    }
                })
                .collect();
            out.push(PlannedStatement {
                migration: s.migration.clone(),
                path: s.path.display().to_string(),
                line: line_of(src, st.span.start),
                sql: head(sql, 200),
                operations: st.ops.iter().map(|o| o.kind()).collect(),
                locks,
            });
        }
    }
    out
}

/// "~6 min", "~12 s", "< 1 s".
pub fn human_duration(secs: f64) -> String {
    if secs < 1.0 {
        "< 1 s".into()
    } else if secs < 90.0 {
        format!("~{} s", secs.round() as u64)
    } else if secs < 5400.0 {
        format!("~{} min", (secs / 60.0).round() as u64)
    } else {
        format!("~{:.1} h", secs / 3600.0)
    }
}

fn blocks_short(mode: crate::locks::LockMode) -> &'static str {
    if mode.blocks_reads() {
        "everything"
    } else if mode.blocks_writes() {
        "writes"
    } else {
        "—"
    }
}

/// Renders the report as the pretty table (see ux.md "Dry-run").
pub fn render_pretty(r: &DryRunReport) -> String {
    let mut out = String::new();
    let _ = write!(out, "database: {}", r.target);
    if let Some(v) = &r.server_version {
        let _ = write!(out, " · PostgreSQL {v}");
    }
    if r.read_only {
        out.push_str(" · read-only");
    }
    out.push('\n');
    let h = &r.history;
    let _ = writeln!(
        out,
        "pending: {} of {} migrations (history: {})",
        h.pending.len(),
        r.migrations_total,
        match (&h.table, h.found) {
            (Some(t), true) => t.clone(),
            (Some(t), false) => format!("{t}, not found"),
            (None, _) => "none".into(),
        }
    );
    for n in h.notes.iter().chain(r.notes.iter()) {
        let _ = writeln!(out, "note: {n}");
    }
    if !h.unknown_versions.is_empty() {
        let _ = writeln!(
            out,
            "note: the database records versions no file matches: {}",
            h.unknown_versions.join(", ")
        );
    }
    for m in &r.checksum_mismatches {
        let _ = writeln!(out, "{}", m.message());
    }
    out.push('\n');

    // The statement table.
    let mut rows: Vec<[String; 8]> = Vec::new();
    let mut footnote = false;
    for st in &r.statements {
        let who = format!("{}  {}", abbreviate(&st.migration, 24), head(&st.sql, 28));
        if st.locks.is_empty() {
            rows.push([
                who,
                "—".into(),
                String::new(),
                String::new(),
                "no table lock".into(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        for (i, l) in st.locks.iter().enumerate() {
            let rowtxt = match (l.rows, l.rows_source.as_str()) {
                (Some(n), _) => human_count(n),
                (None, "missing") => "missing".into(),
                (None, src) if src.starts_with("unknown (never") => {
                    "unknown (never analysed)".into()
                }
                _ => "?".into(),
            };
            let work = if l.rewrite {
                "rewrite"
            } else if l.scan {
                "scan"
            } else {
                ""
            };
            let est = match l.estimated_seconds {
                Some(s) if s == 0.0 && l.mode.blocks_writes() => {
                    footnote = true;
                    "instant*".to_string()
                }
                Some(0.0) => "—".into(),
                Some(s) => human_duration(s),
                None => "? (size unknown)".into(),
            };
            rows.push([
                if i == 0 { who.clone() } else { String::new() },
                l.table.to_string(),
                rowtxt,
                l.bytes.map(human_bytes).unwrap_or_else(|| "?".into()),
                l.mode.to_string(),
                blocks_short(l.mode).into(),
                work.into(),
                est,
            ]);
        }
    }
    if rows.is_empty() {
        out.push_str("nothing pending.\n");
    } else {
        let header = [
            "migration / statement",
            "table",
            "rows",
            "size",
            "lock",
            "blocks",
            "work",
            "est.",
        ];
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    let pad = w.saturating_sub(c.chars().count());
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad + 2));
                }
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(header.to_vec()));
        for row in &rows {
            let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
        }
        let _ = writeln!(
            out,
            "est. = size ÷ {}/s, an estimate of how long the lock blocks others (set --throughput)",
            human_bytes(r.throughput_bytes_per_second)
        );
        if footnote {
            out.push_str(
                "* instant once the lock is granted; waits behind running queries without a lock_timeout\n",
            );
        }
    }

    if !r.drift.is_empty() {
        let _ = writeln!(out, "\ndrift ({}):", r.drift.len());
        for d in r.drift.iter().take(50) {
            match (&d.migration, d.line) {
                (Some(m), Some(l)) => {
                    let _ = writeln!(out, "  {} line {l}: {}", m, d.message);
                }
                _ => {
                    let _ = writeln!(out, "  {}", d.message);
                }
            }
        }
        if r.drift.len() > 50 {
            let _ = writeln!(
                out,
                "  … and {} more (see --format json)",
                r.drift.len() - 50
            );
        }
    }

    if !r.findings.is_empty() {
        let _ = writeln!(
            out,
            "\nfindings on the pending migrations{}:",
            if r.read_only {
                " (sizes from the database)"
            } else {
                ""
            }
        );
        for f in &r.findings {
            let _ = writeln!(
                out,
                "  {}[{}] {} line {}: {}",
                f.severity, f.rule, f.migration, f.line, f.message
            );
        }
    }

    if let Some(t) = &r.trace {
        out.push('\n');
        out.push_str(&render_trace(t));
    }
    if r.read_only {
        let _ = writeln!(
            out,
            "\n{} queries in one read-only transaction, {:.0} ms",
            r.queries, r.elapsed_ms
        );
    }
    out
}

fn abbreviate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let head: String = s.chars().take(keep / 2 + keep % 2).collect();
    let tail: String = s
        .chars()
        .rev()
        .take(keep / 2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

/// Renders a trace: per statement, the real locks next to the predicted ones, mismatches
/// on their own lines.
pub fn render_trace(t: &TraceReport) -> String {
    use super::trace::TraceStatus;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace on {} (BEGIN … ROLLBACK, lock_timeout {} ms{}):",
        t.target,
        t.lock_timeout_ms,
        match t.block_budget_ms {
            Some(b) => format!(", block budget {b} ms"),
            None => String::new(),
        }
    );
    for s in &t.statements {
        let predicted = if s.predicted.is_empty() {
            "no table lock".to_string()
        } else {
            s.predicted
                .iter()
                .map(|f| {
                    format!(
                        "{} {}{}",
                        f.mode,
                        f.table,
                        if f.rewrite { " (rewrite)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let real = match &s.status {
            TraceStatus::Traced => {
                if s.observed.is_empty() {
                    "no new lock".to_string()
                } else {
                    s.observed
                        .iter()
                        .map(|o| {
                            format!(
                                "{} {}{}{}",
                                o.mode,
                                o.table,
                                if o.rewritten { " (rewritten)" } else { "" },
                                if o.new { "" } else { " (held before)" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            }
            TraceStatus::NotTraced(why) => format!("not traced: {why}"),
            TraceStatus::LockTimeout => format!(
                "lock not granted within {} ms (someone holds a conflicting lock)",
                t.lock_timeout_ms
            ),
            TraceStatus::GaveUp(why) => format!("gave up: {why}"),
            TraceStatus::Failed(msg) => format!("failed: {msg}"),
            TraceStatus::NotReached => "not reached".into(),
            TraceStatus::Misread(why) => why.clone(),
            TraceStatus::Escaped(why) => format!("TRANSACTION LOST: {why}"),
        };
        let _ = writeln!(out, "  {} line {}: {}", s.migration, s.line, s.sql);
        let _ = writeln!(out, "      predicted: {predicted}");
        let _ = writeln!(out, "      real:      {real}  ({:.0} ms)", s.elapsed_ms);
        for m in &s.mismatches {
            let _ = writeln!(out, "      MISMATCH:  {m}");
        }
    }
    if let Some(why) = &t.stopped {
        let _ = writeln!(out, "  stopped: {why}");
    }
    for n in &t.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    // Never claim "unchanged" unless the trace kept its transaction to the end.
    let ending = match &t.escaped {
        Some(what) => {
            format!("THE TRACE LOST ITS TRANSACTION: the database may have been changed. {what}")
        }
        None if t.rolled_back => "rolled back: the database is unchanged".into(),
        None => "ROLLBACK failed: the connection was closed, which also rolls back".into(),
    };
    let _ = writeln!(
        out,
        "  {ending} (blocking for at most {:.0} ms)",
        t.blocking_ms
    );
    out
}

/// Renders the report as JSON.
pub fn render_json(r: &DryRunReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
