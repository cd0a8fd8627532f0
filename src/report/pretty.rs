//! `--format pretty`: miette reports with the statement's snippet, the lock fact as label,
//! the safe alternative as help, and a summary line.

use super::{ReportContext, Summary, display_path};
use crate::settings::Severity;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

pub fn render(cx: &ReportContext) -> String {
    let theme = if cx.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let mut out = String::new();
    for f in &cx.analysis.findings {
        let severity = match f.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        };
        let mut diag = MietteDiagnostic::new(format!("{}[{}]: {}", f.severity, f.rule, f.message))
            .with_severity(severity);
        if let Some(h) = &f.help {
            diag = diag.with_help(h.clone());
        }
        let name = display_path(&f.path);
        let rendered = match cx.analysis.sources.get(&f.path) {
            Some(src) => {
                let end = f.span.end.min(src.len());
                let start = f.span.start.min(end);
                // Point at the first line of long statements so the snippet stays short.
                let first_line_end = src[start..end].find('\n').map(|i| start + i).unwrap_or(end);
                let label = LabeledSpan::new(f.label.clone(), start, first_line_end - start);
                diag = diag.with_label(label);
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
        };
        out.push_str(&rendered);
        out.push('\n');
    }
    let s = Summary::of(&cx.analysis.findings);
    let a = cx.analysis;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
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
