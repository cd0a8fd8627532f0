//! `--format json`: the stable machine-readable report (schema in the README, `version: 1`).

use super::{ReportContext, Summary, display_path, finding_position, position};
use serde_json::{Value, json};

pub fn render(cx: &ReportContext) -> String {
    let a = cx.analysis;
    let migrations: Vec<Value> = a
        .scripts
        .iter()
        .map(|s| {
            let src = a.sources.get(&s.path);
            let statements: Vec<Value> = s
                .statements
                .iter()
                .map(|st| {
                    let (line, column) = src
                        .map(|src| {
                            let p = position(src, &st.span);
                            (p.line, p.column)
                        })
                        .unwrap_or((1, 1));
                    let ops: Vec<Value> = st
                        .ops
                        .iter()
                        .map(|op| serde_json::to_value(op).unwrap_or(Value::Null))
                        .collect();
                    let locks: Vec<Value> = st
                        .locks
                        .iter()
                        .map(|l| {
                            let size = cx.settings.size(&l.table);
                            json!({
                                "table": l.table.qualified(),
                                "mode": l.mode.as_str(),
                                "rewrite": l.rewrite,
                                "scan": l.scan,
                                "table_rows": size.and_then(|s| s.rows),
                                "table_bytes": size.and_then(|s| s.bytes),
                            })
                        })
                        .collect();
                    json!({
                        "span": {"start": st.span.start, "end": st.span.end},
                        "line": line,
                        "column": column,
                        "parsed_by": st.parsed_by,
                        "operations": ops,
                        "locks": locks,
                    })
                })
                .collect();
            json!({
                "id": s.migration,
                "path": display_path(&s.path),
                "direction": s.direction,
                "in_transaction": s.in_transaction,
                "statements": statements,
            })
        })
        .collect();
    let fingerprints = crate::baseline::fingerprints(a);
    let findings: Vec<Value> = a
        .findings
        .iter()
        .zip(&fingerprints)
        .map(|(f, fingerprint)| {
            let p = finding_position(a, f);
            json!({
                "rule": f.rule,
                "severity": f.severity.as_str(),
                "migration": f.migration,
                "direction": f.direction,
                "path": display_path(&f.path),
                "line": p.line,
                "column": p.column,
                "end_line": p.end_line,
                "end_column": p.end_column,
                "span": {"start": f.span.start, "end": f.span.end},
                "message": f.message,
                "label": f.label,
                "help": f.help,
                "notes": f.notes,
                "size_unknown": f.size_unknown,
                "fingerprint": fingerprint,
            })
        })
        .collect();
    let doc = json!({
        "version": 1,
        "tool": {"name": "lockstep", "version": env!("CARGO_PKG_VERSION")},
        "settings": {
            "pg_version": cx.settings.pg_version,
            "layout": cx.layout,
        },
        "migrations": migrations,
        "findings": findings,
        "summary": Summary::of(&a.findings),
        "baselined": a.baselined,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
