//! `--format github`: GitHub Actions workflow commands, one annotation per finding.

use super::{Files, ReportContext};
use crate::settings::Severity;

/// Escapes a workflow-command message (data part).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(cx: &ReportContext) -> String {
    let files = Files::new(cx.analysis);
    let mut out = String::new();
    for f in &cx.analysis.findings {
        let p = files.position(&f.path, &f.span);
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut msg = f.message_with_notes();
        if let Some(h) = &f.help {
            msg.push_str("\n\n");
            msg.push_str(h);
        }
        out.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&files.shown(&f.path)),
            p.line,
            p.column,
            p.end_line,
            p.end_column,
            escape_property(&format!("lockstep {}", f.rule)),
            escape_data(&msg)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_newlines_and_separators() {
        assert_eq!(escape_data("a\nb%"), "a%0Ab%25");
        assert_eq!(escape_property("a,b:c"), "a%2Cb%3Ac");
    }
}
