//! `--format gcc`: one line per finding, `file:line:col: severity: message [rule]`.

use super::{Files, ReportContext};

pub fn render(cx: &ReportContext) -> String {
    let files = Files::new(cx.analysis);
    let mut out = String::new();
    for f in &cx.analysis.findings {
        let p = files.position(&f.path, &f.span);
        out.push_str(&format!(
            "{}:{}:{}: {}: {} [{}]\n",
            files.shown(&f.path),
            p.line,
            p.column,
            f.severity,
            f.message_with_notes(),
            f.rule
        ));
    }
    out
}
