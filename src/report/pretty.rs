//! `--format pretty`: miette reports with the statement's snippet, the lock fact as label,
//! notes and the safe alternative as help; the newest migration first; a summary per rule
//! and per migration at the end. `-q` prints one line per finding instead.

use super::{FileInfo, Files, ReportContext, Summary, newest_first, wrap};
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
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_width(cx, width, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the full report to `out` one finding at a time (stdout in `lockstep lint`).
pub fn write(cx: &ReportContext, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    write_width(cx, super::terminal_width().unwrap_or(DEFAULT_WIDTH), out)
}

fn write_width(
    cx: &ReportContext,
    width: usize,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let width = width.max(40);
    let theme = if cx.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_context_lines(1);
    let files = Files::new(cx.analysis);
    for f in newest_first(cx.analysis) {
        out.write_all(render_one(&files, &handler, f, width).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.write_all(summary(cx, width).as_bytes())
}

/// Lines of context miette shows around a label (`with_context_lines`), plus a margin.
const WINDOW_LINES: usize = 3;

/// The part of a file around one finding, given to miette instead of the whole file:
/// miette finds a label's lines by scanning its source from the first byte, which made
/// rendering quadratic in the file's length. Offsets, line numbers and line counts it
/// reports are those of the whole file, so the output is the same.
struct Window {
    /// The whole file.
    source: std::sync::Arc<str>,
    /// Byte offset of the part shown in the file (on a line start).
    start: usize,
    /// Byte offset of its end (on a line start, or the file's end).
    end: usize,
    /// Line breaks in the file before `start`.
    lines_before: usize,
}

impl miette::SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let local =
            miette::SourceSpan::new(span.offset().saturating_sub(self.start).into(), span.len());
        let text = self.source.get(self.start..self.end).unwrap_or_default();
        let c = text.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new(
            c.data(),
            miette::SourceSpan::new((c.span().offset() + self.start).into(), c.span().len()),
            c.line() + self.lines_before,
            c.column(),
            c.line_count() + self.lines_before,
        )))
    }
}

impl Window {
    /// The whole file.
    fn whole(file: &FileInfo) -> Window {
        Window {
            source: file.source.clone(),
            start: 0,
            end: file.source.len(),
            lines_before: 0,
        }
    }

    /// The lines around `start..end` (a label on one line), with room for miette's context.
    fn around(file: &FileInfo, start: usize, end: usize) -> Window {
        let src: &str = file.source;
        if file.lines.lone_cr || start > end || end > src.len() {
            return Window::whole(file);
        }
        let first = file.lines.line_of(start).saturating_sub(WINDOW_LINES);
        let last = file.lines.line_of(end) + WINDOW_LINES + 1;
        Window {
            source: file.source.clone(),
            start: file.lines.start_of(first, src),
            end: file.lines.start_of(last, src),
            lines_before: first,
        }
    }
}

fn render_one(
    files: &Files,
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
    let name = files.shown(&f.path).into_owned();
    match files.get(&f.path) {
        Some(file) => {
            let src: &str = file.source;
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
            let column = file.lines.line_col(src, start).1 - 1;
            // miette draws the label after the underline's midpoint, past a gutter as wide
            // as the line numbers.
            let underline = src[start..first_line_end].chars().count();
            let gutter = file.lines.line_count(src).to_string().len() + 4;
            let label_width = width
                .saturating_sub(gutter + column + underline / 2 + 5)
                .max(24);
            let label = f.label.as_deref().map(|l| wrap(l, label_width));
            diag = diag.with_label(LabeledSpan::new(label, start, first_line_end - start));
            let window = Window::around(file, start, first_line_end);
            let report = miette::Report::new(diag).with_source_code(NamedSource::new(name, window));
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
    let files = Files::new(cx.analysis);
    let mut out = String::new();
    for f in newest_first(cx.analysis) {
        let p = files.position(&f.path, &f.span);
        out.push_str(&format!(
            "{}:{}:{}: {}[{}]: {}",
            files.shown(&f.path),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// miette given only the lines around a label draws exactly what it draws given the
    /// whole file: line numbers, gutter, context lines, at the first and last lines too.
    #[test]
    fn a_window_renders_like_the_whole_file() {
        for eol in ["\n", "\r\n"] {
            let mut text = String::new();
            for i in 0..120 {
                text.push_str(&format!(
                    "ALTER TABLE t{i} ADD COLUMN c int; -- é line {i}{eol}"
                ));
            }
            text.push_str("SELECT 1");
            let source: Arc<str> = text.into();
            let file = FileInfo {
                source: &source,
                lines: super::super::LineIndex::new(&source),
                shown: "x.sql".into(),
            };
            let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
                .with_width(100)
                .with_context_lines(1);
            let lines: Vec<usize> = std::iter::once(0)
                .chain(source.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            for &line in &[0usize, 1, 2, 3, 4, 5, 9, 99, 117, 118, 119, 120] {
                let start = lines[line] + 6;
                let end = source[start..]
                    .find(eol)
                    .map_or(source.len(), |i| start + i);
                let render = |w: Window| {
                    let diag = MietteDiagnostic::new("m").with_label(LabeledSpan::new(
                        Some("label".into()),
                        start,
                        end - start,
                    ));
                    let report =
                        miette::Report::new(diag).with_source_code(NamedSource::new("x.sql", w));
                    let mut s = String::new();
                    handler.render_report(&mut s, report.as_ref()).unwrap();
                    s
                };
                let whole = render(Window::whole(&file));
                let window = render(Window::around(&file, start, end));
                assert!(whole.contains(&format!("{} │", line + 1)), "{whole}");
                assert_eq!(whole, window, "line {line}, {eol:?}");
            }
        }
    }
}
