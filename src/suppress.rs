//! Ignore comments: `-- lockstep:ignore rule[, rule] reason` on a statement's lines, or on
//! its own line above the statement (only comments and blank lines in between), silences
//! those rules for that statement; `-- lockstep:ignore-file rule` silences them for the
//! whole file. Rule aliases (`rename-breaks-clients`, `drop-breaks-clients`) stand for the
//! rules they name. An ignore that silences nothing is reported as `unused-ignore`.

use crate::analyze::Analysis;
use crate::rules::{Direction, Finding, aliases};
use crate::settings::{RuleLevel, Settings};
use std::ops::Range;

/// One ignore directive found in a file.
#[derive(Debug, Clone)]
pub struct Directive {
    /// Span of the comment.
    pub span: Range<usize>,
    /// 0-based line of the comment.
    pub line: usize,
    pub rules: Vec<String>,
    pub whole_file: bool,
    /// The comment is alone on its line (not trailing a statement), so it may apply to the
    /// statement below it.
    pub standalone: bool,
}

/// Finds the directives in a file.
pub fn directives(source: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (line_no, line) in source.split_inclusive('\n').enumerate() {
        if let Some(pos) = line.find("-- lockstep:ignore") {
            let rest = &line[pos + "-- lockstep:ignore".len()..];
            let (whole_file, rest) = match rest.strip_prefix("-file") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            // Rules: comma-separated ids up to the first word that is not an id list.
            let mut rules = Vec::new();
            let mut words = rest.split_whitespace();
            for w in words.by_ref() {
                let mut ended = !w.ends_with(',');
                for id in w.split(',').filter(|s| !s.is_empty()) {
                    if id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    {
                        rules.push(id.to_string());
                    } else {
                        ended = true;
                        break;
                    }
                }
                if ended {
                    break;
                }
            }
            let start = offset + pos;
            out.push(Directive {
                span: start..offset + line.trim_end().len(),
                line: line_no,
                rules,
                whole_file,
                standalone: line[..pos].trim().is_empty(),
            });
        }
        offset += line.len();
    }
    out
}

/// The text holds only whitespace and `--` comments (what may stand between an ignore
/// comment and the statement it applies to).
fn only_comments(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with("--")
    })
}

/// 0-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// Marks suppressed findings, drops them, and adds `unused-ignore` findings.
pub fn apply(analysis: &mut Analysis, settings: &Settings) {
    let unused_level = match settings.rules.get("unused-ignore") {
        Some(RuleLevel::Off) => None,
        Some(RuleLevel::On(s)) => Some(*s),
        None => crate::rules::meta("unused-ignore").map(|m| m.severity),
    };
    let mut extra = Vec::new();
    for (path, source) in &analysis.sources {
        let dirs = directives(source);
        if dirs.is_empty() {
            continue;
        }
        let mut used = vec![false; dirs.len()];
        for f in analysis.findings.iter_mut().filter(|f| &f.path == path) {
            let start_line = line_of(source, f.span.start);
            let end_line = line_of(source, f.span.end);
            for (i, d) in dirs.iter().enumerate() {
                // The whole file, a line of the statement, or above it with nothing but
                // comments and blank lines in between.
                let covers = d.whole_file
                    || (start_line..=end_line).contains(&d.line)
                    || (d.standalone
                        && d.span.end <= f.span.start
                        && only_comments(source.get(d.span.end..f.span.start).unwrap_or("x")));
                if covers && d.rules.iter().any(|r| aliases::covers(r, &f.rule)) {
                    f.suppressed = true;
                    used[i] = true;
                }
            }
        }
        if let Some(sev) = unused_level {
            for (i, d) in dirs.iter().enumerate() {
                if !used[i] {
                    let (migration, direction) = analysis
                        .findings
                        .iter()
                        .find(|f| &f.path == path)
                        .map(|f| (f.migration.clone(), f.direction))
                        .or_else(|| {
                            analysis
                                .scripts
                                .iter()
                                .find(|s| &s.path == path)
                                .map(|s| (s.migration.clone(), s.direction))
                        })
                        .unwrap_or_else(|| (String::new(), Direction::Up));
                    let unknown: Vec<&str> = d
                        .rules
                        .iter()
                        .map(String::as_str)
                        .filter(|r| crate::rules::meta(r).is_none() && aliases::alias(r).is_none())
                        .collect();
                    let what = if d.rules.is_empty() {
                        "names no rule".to_string()
                    } else if !unknown.is_empty() {
                        format!("names no known rule: {}", unknown.join(", "))
                    } else {
                        format!("suppresses nothing ({})", d.rules.join(", "))
                    };
                    extra.push(Finding {
                        rule: "unused-ignore".into(),
                        severity: sev,
                        migration,
                        direction,
                        path: path.clone(),
                        span: d.span.clone(),
                        message: format!("this lockstep:ignore comment {what}"),
                        label: Some("no finding of these rules here".into()),
                        help: Some("remove the comment, or fix the rule ids it names".into()),
                        suppressed: false,
                    });
                }
            }
        }
    }
    analysis.findings.retain(|f| !f.suppressed);
    analysis.findings.extend(extra);
}
