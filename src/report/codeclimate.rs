//! `--format codeclimate`: GitLab Code Quality report (a JSON array of Code Climate
//! issues). GitLab reads `description`, `check_name`, `fingerprint`, `severity` and
//! `location.path` / `location.lines.begin`; the other fields follow the Code Climate spec
//! so other consumers accept the file too.

use super::{ReportContext, display_path, finding_position};
use crate::rules::Category;
use crate::settings::Severity;
use serde::Serialize;

/// One Code Climate issue.
#[derive(Serialize)]
struct Issue {
    #[serde(rename = "type")]
    kind: &'static str,
    check_name: String,
    description: String,
    categories: Vec<&'static str>,
    severity: &'static str,
    fingerprint: String,
    location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Content>,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
    end: usize,
}

#[derive(Serialize)]
struct Content {
    body: String,
}

/// GitLab's scale is info/minor/major/critical/blocker. An error blocks a deploy-safe
/// merge but is not a broken build, so it is `critical`; `blocker` stays unused.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "critical",
        Severity::Warning => "major",
        Severity::Info => "info",
    }
}

/// The Code Climate category closest to a rule's category.
fn categories(rule: &str) -> Vec<&'static str> {
    let category = crate::rules::meta(rule).map(|m| m.category);
    vec![match category {
        Some(Category::Locking | Category::Rewrite | Category::Transaction) => "Performance",
        Some(Category::Breaking | Category::Rollback) => "Compatibility",
        Some(Category::Hygiene) => "Style",
        None => "Bug Risk",
    }]
}

/// Renders every finding as a Code Climate issue; the fingerprint is the baseline's (stable
/// across unrelated edits), so GitLab shows new and resolved findings correctly in a merge
/// request.
pub fn render(cx: &ReportContext) -> String {
    let fingerprints = crate::baseline::fingerprints(cx.analysis);
    let issues: Vec<Issue> = cx
        .analysis
        .findings
        .iter()
        .zip(fingerprints)
        .map(|(f, fingerprint)| {
            let p = finding_position(cx.analysis, f);
            Issue {
                kind: "issue",
                check_name: f.rule.clone(),
                description: f.message_with_notes(),
                categories: categories(&f.rule),
                severity: severity(f.severity),
                fingerprint,
                location: Location {
                    path: display_path(&f.path),
                    lines: Lines {
                        begin: p.line,
                        end: p.end_line.max(p.line),
                    },
                },
                content: f.help.as_ref().map(|h| Content { body: h.clone() }),
            }
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}
