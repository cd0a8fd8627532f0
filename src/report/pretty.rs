//! `--format pretty`: miette reports with the statement's snippet, the lock fact as label,
//! notes and the safe alternative as help; the newest migration first; a summary per rule
//! and per migration at the end. `-q` prints one line per finding instead.

use super::{ReportContext, Summary, display_path, finding_position, newest_first, wrap};
use crate::rules::Finding;
use crate::settings::Severity;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
use std::collections::BTreeMap;

/// Width used when stdout is not a terminal (files, CI logs, snapshots).
const DEFAULT_WIDTH: usize = 100;

fn plural(n: usize, w: &str) -> String {
    if n == 1 {
        format!("{n} {w}")
    } else {
        format!("{n} {w}s")
    }
}

/// "1 error, 2 warnings" (zero counts left out).
fn counts(s: &Summary) -> String {
    let mut parts = Vec::new();
    for (n, w) in [
        (s.errors, "error"),
        (s.warnings, "warning"),
        (s.infos, "note"),
    ] {
        if n > 0 {
            parts.push(plural(n, w));
        }
    }
    parts.join(", ")
}

/// The full report.
pub fn render(cx: &ReportContext) -> String {
    render_width(cx, super::terminal_width().unwrap_or(DEFAULT_WIDTH))
}

/// The full report, wrapped to `width` columns.
pub fn render_width(cx: &ReportContext, width: usize) -> String {
    let width = width.max(40);
    let theme = if cx.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_context_lines(1);
    let mut out = String::new();
    for f in newest_first(cx.analysis) {
        out.push_str(&render_one(cx, &handler, f, width));
        out.push('\n');
    }
    out.push_str(&summary(cx, width));
    out
}

fn render_one(
    cx: &ReportContext,
    handler: &GraphicalReportHandler,
    f: &Finding,
    width: usize,
) -> String {
    let severity = match f.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    };
    let mut diag = MietteDiagnostic::new(format!("{}[{}]: {}", f.severity, f.rule, f.message))
        .with_severity(severity);
    let mut help = String::new();
    for n in &f.notes {
        help.push_str(&format!("also [{}]: {}\n", n.rule, n.message));
    }
    if let Some(h) = &f.help {
        help.push_str(h);
    }
    let help = help.trim_end();
    if !help.is_empty() {
        diag = diag.with_help(help.to_string());
    }
    let name = display_path(&f.path);
    match cx.analysis.sources.get(&f.path) {
        Some(src) => {
            let end = f.span.end.min(src.len());
            let mut start = f.span.start.min(end);
            while !src.is_char_boundary(start) {
                start -= 1;
            }
            // Point at the first line of long statements so the snippet stays short.
            let first_line_end = src[start..]
                .find('\n')
                .map(|i| start + i)
                .unwrap_or(src.len())
                .min(end.max(start));
            // The label starts under the statement: leave room for the gutter and column.
            let column = src[..start]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count());
            // miette draws the label after the underline's midpoint, past a gutter as wide
            // as the line numbers.
            let underline = src[start..first_line_end].chars().count();
            let gutter = src.lines().count().to_string().len() + 4;
            let label_width = width
                .saturating_sub(gutter + column + underline / 2 + 5)
                .max(24);
            let label = f.label.as_deref().map(|l| wrap(l, label_width));
            diag = diag.with_label(LabeledSpan::new(label, start, first_line_end - start));
            let report =
                miette::Report::new(diag).with_source_code(NamedSource::new(name, src.clone()));
            let mut s = String::new();
            match handler.render_report(&mut s, report.as_ref()) {
                Ok(()) => s,
                Err(_) => format!("{}: {}\n", f.rule, f.message),
            }
        }
        None => {
            let mut s = String::new();
            let report = miette::Report::new(diag);
            match handler.render_report(&mut s, report.as_ref()) {
                Ok(()) => format!("{name}\n{s}"),
                Err(_) => format!("{name}: {}: {}\n", f.rule, f.message),
            }
        }
    }
}

/// `-q`: one line per finding, `path:line:col: severity[rule]: message`, newest first.
pub fn render_quiet(cx: &ReportContext) -> String {
    let mut out = String::new();
    for f in newest_first(cx.analysis) {
        let p = finding_position(cx.analysis, f);
        out.push_str(&format!(
            "{}:{}:{}: {}[{}]: {}",
            display_path(&f.path),
            p.line,
            p.column,
            f.severity,
            f.rule,
            f.message.replace('\n', " ")
        ));
        if !f.notes.is_empty() {
            let rules: Vec<&str> = f.notes.iter().map(|n| n.rule.as_str()).collect();
            out.push_str(&format!(" (also: {})", rules.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// The summary: findings per rule, per migration (newest first), the sizes hint, the
/// baseline, and the totals line.
pub fn summary(cx: &ReportContext, width: usize) -> String {
    let a = cx.analysis;
    let mut out = String::new();
    if !a.findings.is_empty() {
        // Per rule: findings, plus notes folded into other findings.
        let mut rules: BTreeMap<&str, (usize, usize, Severity)> = BTreeMap::new();
        let mut lock_timeout_migrations = std::collections::BTreeSet::new();
        for f in &a.findings {
            let e = rules.entry(f.rule.as_str()).or_insert((0, 0, f.severity));
            e.0 += 1;
            e.2 = e.2.max(f.severity);
            for n in &f.notes {
                if n.rule != f.rule {
                    rules.entry(n.rule.as_str()).or_insert((0, 0, n.severity)).1 += 1;
                }
            }
            if f.rule == "missing-lock-timeout"
                || f.notes.iter().any(|n| n.rule == "missing-lock-timeout")
            {
                lock_timeout_migrations.insert(f.migration.as_str());
            }
        }
        let mut by_count: Vec<_> = rules.into_iter().collect();
        by_count.sort_by_key(|x| std::cmp::Reverse((x.1.2, x.1.0 + x.1.1)));
        out.push_str("by rule:\n");
        for (rule, (n, notes, sev)) in &by_count {
            let mut line = format!("  {:>5}  {:<7}  {rule}", n + notes, sev.as_str());
            if *notes > 0 {
                line.push_str(&format!(" ({notes} as notes)"));
            }
            if *rule == "missing-lock-timeout" {
                line.push_str(&format!(
                    ", in {}",
                    plural(lock_timeout_migrations.len(), "migration")
                ));
            }
            out.push_str(&line);
            out.push('\n');
        }
        // Per migration, newest first; long histories show the ten with most findings.
        let mut per: Vec<(&str, usize, Summary)> = Vec::new();
        for f in newest_first(a) {
            match per.last_mut() {
                Some(last) if last.0 == f.migration => {
                    last.1 += 1;
                    last.2 = last.2.with(f.severity);
                }
                _ => per.push((f.migration.as_str(), 1, Summary::default().with(f.severity))),
            }
        }
        out.push_str("by migration (newest first):\n");
        let shown = 10;
        for (m, n, s) in per.iter().take(shown) {
            let name = if m.is_empty() { "(history)" } else { m };
            out.push_str(&format!("  {:>5}  {name} ({})\n", n, counts(s)));
        }
        if per.len() > shown {
            let rest: usize = per[shown..].iter().map(|p| p.1).sum();
            out.push_str(&format!(
                "  {:>5}  in {} older\n",
                rest,
                plural(per.len() - shown, "migration")
            ));
        }
    }
    let unknown = a.findings.iter().filter(|f| f.size_unknown).count();
    if unknown > 0 {
        let line = format!(
            "sizes: unknown for {}, which keep their rule's severity; give sizes with \
             `tables:` in lockstep.yaml or a live database (`lockstep dry-run --database-url …`)",
            plural(unknown, "finding"),
        );
        out.push_str(&wrap(&line, width));
        out.push('\n');
    }
    if a.baselined > 0 {
        out.push_str(&format!(
            "baseline: {} recorded in the baseline not shown\n",
            plural(a.baselined, "finding")
        ));
    }
    let s = Summary::of(&a.findings);
    out.push_str(&format!(
        "lockstep: {}, {} checked: {}, {}, {} (pg {}, layout {})\n",
        plural(a.migrations_total, "migration"),
        plural(a.statements_total, "statement"),
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.infos, "note"),
        cx.settings.pg_version,
        serde_json::to_value(cx.layout)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    ));
    out
}
