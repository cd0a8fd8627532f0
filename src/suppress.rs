//! Ignore comments: `-- lockstep:ignore rule[, rule] reason` on a statement's lines, or on
//! its own line above the statement (only comments and blank lines in between), silences
//! those rules for that statement; `-- lockstep:ignore-file rule` silences them for the
//! whole file. Rule aliases (`rename-breaks-clients`, `drop-breaks-clients`) stand for the
//! rules they name. An ignore that silences nothing is reported as `unused-ignore`.
//!
//! Suppressions written for other tools are honoured too, mapped to our rules (the table is
//! in docs/suppressions.md): `-- squawk-ignore [rules]` / `-- squawk-ignore-file [rules]`,
//! `-- atlas:nolint [analyzers or codes]`, and `-- safety-assured:start` …
//! `-- safety-assured:end` blocks (strong_migrations style). Those are never reported as
//! unused: they also serve the other tool.

use crate::analyze::Analysis;
use crate::rules::{Direction, Finding, aliases};
use crate::settings::{RuleLevel, Settings};
use std::ops::Range;

/// Which tool's syntax a directive was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Lockstep,
    Squawk,
    Atlas,
    SafetyAssured,
}

/// One ignore directive found in a file.
#[derive(Debug, Clone)]
pub struct Directive {
    /// Span of the comment.
    pub span: Range<usize>,
    /// 0-based line of the comment.
    pub line: usize,
    /// Our rule ids (or aliases) it names, after mapping another tool's names.
    pub rules: Vec<String>,
    /// It silences every rule (`-- squawk-ignore` with no names, `-- atlas:nolint`,
    /// safety-assured blocks).
    pub all_rules: bool,
    pub whole_file: bool,
    /// The comment is alone on its line (not trailing a statement), so it may apply to the
    /// statement below it.
    pub standalone: bool,
    /// For blocks: the bytes it covers (a finding starting inside is silenced).
    pub block: Option<Range<usize>>,
    pub origin: Origin,
}

/// Our rules a squawk rule name stands for (empty: squawk checks something we do not).
pub fn squawk_rules(name: &str) -> &'static [&'static str] {
    match name {
        "require-concurrent-index-creation" => &["create-index-non-concurrently"],
        "require-concurrent-index-deletion" => &["drop-index-non-concurrently"],
        "constraint-missing-not-valid" => &[
            "add-foreign-key",
            "add-check",
            "add-constraint-validates",
            "validate-in-same-transaction-as-add",
        ],
        "adding-foreign-key-constraint" => &["add-foreign-key", "add-column-with-foreign-key"],
        "adding-field-with-default" => &["add-column-rewrite"],
        "changing-column-type" => &["column-type-rewrite", "narrowing-type-change"],
        "adding-not-nullable-field" => &["set-not-null-scan", "add-required-column"],
        "setting-not-nullable-field" => &["set-not-null-scan"],
        "adding-required-field" => &["add-required-column"],
        "adding-serial-primary-key-field"
        | "adding-primary-key-constraint"
        | "disallowed-unique-constraint" => &["add-unique-or-primary-key-builds-index"],
        "renaming-column" => &["rename-column"],
        "renaming-table" => &["rename-table"],
        "ban-drop-column" => &["drop-column"],
        "ban-drop-table" => &["drop-table", "drop-referenced-table"],
        "ban-drop-not-null" => &["drop-not-null"],
        "ban-truncate-cascade" => &["truncate"],
        "prefer-big-int" | "prefer-bigint-over-int" | "prefer-bigint-over-smallint" => {
            &["prefer-bigint"]
        }
        "prefer-identity" => &["prefer-identity"],
        "prefer-text-field" => &["prefer-text"],
        "prefer-timestamptz" | "prefer-timestamp-tz" => &["prefer-timestamptz"],
        "ban-char-field" => &["char-n"],
        "require-timeout-settings" => &["missing-lock-timeout", "missing-statement-timeout"],
        "ban-concurrent-index-creation-in-transaction" => &["concurrently-in-transaction"],
        "transaction-nesting" | "ban-uncommitted-transaction" => &["nested-or-uncommitted-begin"],
        "identifier-too-long" => &["identifier-too-long"],
        "prefer-repack" => &["vacuum-full-or-cluster"],
        _ => &[],
    }
}

/// Our rules an Atlas analyzer name or check code stands for. Codes map by their family
/// (`DS…` destructive, `BC…` backward incompatible, `MF…` data dependent, `PG1…` concurrent
/// index); `None` when the name is not one Atlas uses.
pub fn atlas_rules(name: &str) -> Option<&'static [&'static str]> {
    const DESTRUCTIVE: &[&str] = &["drop-table", "drop-column", "drop-referenced-table"];
    const INCOMPATIBLE: &[&str] = &["rename-column", "rename-table"];
    const DATA_DEPEND: &[&str] = &[
        "add-unique-or-primary-key-builds-index",
        "add-required-column",
        "set-not-null-scan",
        "narrowing-type-change",
    ];
    const CONCURRENT_INDEX: &[&str] = &[
        "create-index-non-concurrently",
        "drop-index-non-concurrently",
        "concurrently-in-transaction",
    ];
    let upper = name.to_ascii_uppercase();
    Some(match name {
        "destructive" => DESTRUCTIVE,
        "incompatible" => INCOMPATIBLE,
        "data_depend" => DATA_DEPEND,
        "concurrent_index" => CONCURRENT_INDEX,
        _ if upper.starts_with("DS") => DESTRUCTIVE,
        _ if upper.starts_with("BC") => INCOMPATIBLE,
        _ if upper.starts_with("MF") => DATA_DEPEND,
        _ if upper.starts_with("PG1") => CONCURRENT_INDEX,
        _ => return None,
    })
}

/// Splits a comment's rule list on commas and spaces, up to the first word that is not a
/// name (the reason that follows).
fn names(rest: &str, ok: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for w in rest.split_whitespace() {
        let mut ended = !w.ends_with(',');
        for id in w.split(',').filter(|s| !s.is_empty()) {
            if ok(id) {
                out.push(id.to_string());
            } else {
                ended = true;
                break;
            }
        }
        if ended {
            break;
        }
    }
    out
}

fn is_rule_word(id: &str) -> bool {
    id.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Finds the directives in a file.
pub fn directives(source: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut open_block: Option<(usize, usize, usize)> = None; // (comment start, end, line)
    for (line_no, line) in source.split_inclusive('\n').enumerate() {
        let trimmed_end = line.trim_end();
        let mut push = |pos: usize, rules: Vec<String>, all: bool, file: bool, origin: Origin| {
            out.push(Directive {
                span: offset + pos..offset + trimmed_end.len(),
                line: line_no,
                rules,
                all_rules: all,
                whole_file: file,
                standalone: line[..pos].trim().is_empty(),
                block: None,
                origin,
            });
        };
        if let Some(pos) = line.find("-- lockstep:ignore") {
            let rest = &line[pos + "-- lockstep:ignore".len()..];
            let (whole_file, rest) = match rest.strip_prefix("-file") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            push(
                pos,
                names(rest, is_rule_word),
                false,
                whole_file,
                Origin::Lockstep,
            );
        } else if let Some(pos) = line.find("squawk-ignore").filter(|&p| {
            let before = line[..p].trim_end();
            before.ends_with("--") || before.ends_with("/*")
        }) {
            let comment_start = line[..pos].rfind(['-', '/']).map_or(pos, |i| i - 1);
            let rest = &line[pos + "squawk-ignore".len()..];
            let (whole_file, rest) = match rest.strip_prefix("-file") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            // `*/` and a trailing `-- reason` end the list.
            let rest = rest.split("*/").next().unwrap_or("");
            let rest = rest.split("--").next().unwrap_or("");
            let written: Vec<String> = rest
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let mut rules = Vec::new();
            for w in &written {
                rules.extend(squawk_rules(w).iter().map(|r| r.to_string()));
            }
            push(
                comment_start,
                rules,
                written.is_empty(),
                whole_file,
                Origin::Squawk,
            );
        } else if let Some(pos) = line.find("-- atlas:nolint") {
            let rest = &line[pos + "-- atlas:nolint".len()..];
            let written = names(rest, |w| atlas_rules(w).is_some());
            let mut rules = Vec::new();
            for w in &written {
                rules.extend(
                    atlas_rules(w)
                        .unwrap_or_default()
                        .iter()
                        .map(|r| r.to_string()),
                );
            }
            push(pos, rules, written.is_empty(), false, Origin::Atlas);
        } else if let Some(pos) = line.find("-- safety-assured:start") {
            open_block.get_or_insert((offset + pos, offset + trimmed_end.len(), line_no));
        } else if let Some(pos) = line.find("-- safety-assured:end")
            && let Some((s, e, l)) = open_block.take()
        {
            out.push(Directive {
                span: s..e,
                line: l,
                rules: Vec::new(),
                all_rules: true,
                whole_file: false,
                standalone: true,
                block: Some(s..offset + pos),
                origin: Origin::SafetyAssured,
            });
        }
        offset += line.len();
    }
    // A block left open runs to the end of the file.
    if let Some((s, e, l)) = open_block {
        out.push(Directive {
            span: s..e,
            line: l,
            rules: Vec::new(),
            all_rules: true,
            whole_file: false,
            standalone: true,
            block: Some(s..source.len()),
            origin: Origin::SafetyAssured,
        });
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
        let mut dirs = directives(source);
        // strong_migrations' `safety_assured { … }` blocks in Rails migrations.
        if crate::source::is_ruby_migration(path) {
            dirs.extend(
                crate::source::safety_assured_blocks(source)
                    .into_iter()
                    .map(|b| Directive {
                        span: b.start..b.start,
                        line: line_of(source, b.start),
                        rules: Vec::new(),
                        all_rules: true,
                        whole_file: false,
                        standalone: false,
                        block: Some(b),
                        origin: Origin::SafetyAssured,
                    }),
            );
        }
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
                let covers = match &d.block {
                    Some(b) => b.contains(&f.span.start),
                    None => {
                        d.whole_file
                            || (start_line..=end_line).contains(&d.line)
                            || (d.standalone
                                && d.span.end <= f.span.start
                                && only_comments(
                                    source.get(d.span.end..f.span.start).unwrap_or("x"),
                                ))
                    }
                };
                if covers && (d.all_rules || d.rules.iter().any(|r| aliases::covers(r, &f.rule))) {
                    f.suppressed = true;
                    used[i] = true;
                }
            }
        }
        if let Some(sev) = unused_level {
            for (i, d) in dirs.iter().enumerate() {
                // Another tool's comment serves that tool too; and an ignore of a rule that
                // does not run on down scripts, written in one, is not stale.
                // An ignore of rules that are off (opt-in rules not enabled, or `off` in the
                // configuration) is kept for the day they are turned on.
                let skip = d.origin != Origin::Lockstep
                    || in_down_only(analysis, path, d, settings)
                    || names_only_rules_off(d, settings);
                if !used[i] && !skip {
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
                        notes: Vec::new(),
                        size_unknown: false,
                    });
                }
            }
        }
    }
    analysis.findings.retain(|f| !f.suppressed);
    analysis.findings.extend(extra);
}

/// The directive names rules, and every one of them is off under `settings`.
fn names_only_rules_off(d: &Directive, settings: &Settings) -> bool {
    !d.rules.is_empty()
        && d.rules.iter().all(|r| {
            let ids: Vec<&str> = match aliases::alias(r) {
                Some(ids) => ids.to_vec(),
                None => vec![r.as_str()],
            };
            ids.iter()
                .all(|id| crate::rules::meta(id).is_some_and(|m| m.level(settings).is_none()))
        })
}

/// The directive sits in a down script and names only rules that do not run there under the
/// `down_scripts` setting.
fn in_down_only(
    analysis: &Analysis,
    path: &std::path::Path,
    d: &Directive,
    settings: &Settings,
) -> bool {
    let scripts: Vec<_> = analysis.scripts.iter().filter(|s| s.path == path).collect();
    let has_down = scripts.iter().any(|s| s.direction == Direction::Down);
    let last_up_end = scripts
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .flat_map(|s| s.statements.last().map(|st| st.span.end))
        .max();
    let in_down = has_down && last_up_end.is_none_or(|e| d.span.start >= e);
    in_down
        && !d.rules.is_empty()
        && d.rules.iter().all(|r| {
            let ids: Vec<&str> = match aliases::alias(r) {
                Some(ids) => ids.to_vec(),
                None => vec![r.as_str()],
            };
            ids.iter().all(|id| {
                crate::rules::meta(id)
                    .is_some_and(|m| !crate::rules::runs_on_down(m, settings.down_scripts))
            })
        })
}
