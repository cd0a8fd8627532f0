//! `--format gcc`: one line per finding, `file:line:col: severity: message [rule]`.

use super::{ReportContext, display_path, finding_position};

pub fn render(cx: &ReportContext) -> String {
    let mut out = String::new();
    for f in &cx.analysis.findings {
        let p = finding_position(cx.analysis, f);
        out.push_str(&format!(
            "{}:{}:{}: {}: {} [{}]\n",
            display_path(&f.path),
            p.line,
            p.column,
            f.severity,
            f.message_with_notes(),
            f.rule
        ));
    }
    out
}
