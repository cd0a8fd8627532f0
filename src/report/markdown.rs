//! `--format markdown`: a pull-request comment. A summary table, then the findings grouped
//! by migration in collapsible `<details>`, and for each unsafe migration (one with an
//! error on its up script) the planner's phased rollout: the phases as a Mermaid
//! flowchart and the plan's steps.
//!
//! Plans need the migrations themselves (the planner replays the history before the
//! target), which a report context does not carry: `lint` computes them with [`plans`]
//! and passes them to [`render`]; without them the findings are rendered alone.

use super::{ReportContext, Summary, display_path, finding_position};
use crate::plan::{self, Phase, Plan, PlanOptions, StepKind};
use crate::rules::{Direction, Finding};
use crate::settings::{Settings, Severity};
use crate::source::{Layout, Migration};
use std::fmt::Write as _;

/// The plan of one unsafe migration, or why the planner could not make one.
#[derive(Debug, Clone)]
pub struct MigrationPlan {
    /// The migration's id, as in `Finding::migration`.
    pub migration: String,
    pub plan: Result<Plan, String>,
}

/// Whether a migration needs a plan: it has an error on its up script.
fn is_unsafe(findings: &[&Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.severity == Severity::Error && f.direction == Direction::Up)
}

/// Plans every migration of `histories` that has an error finding on its up script.
/// Each history is one replayed folder with its layout, as `lint` loaded it.
pub fn plans(
    histories: &[(Layout, &[Migration])],
    findings: &[Finding],
    settings: &Settings,
) -> Vec<MigrationPlan> {
    let options = PlanOptions {
        settings: settings.clone(),
        ..PlanOptions::default()
    };
    let mut out: Vec<MigrationPlan> = Vec::new();
    for &(layout, migrations) in histories {
        for (i, m) in migrations.iter().enumerate() {
            let unsafe_here = findings.iter().any(|f| {
                f.migration == m.id
                    && f.path == m.up.path
                    && f.direction == Direction::Up
                    && f.severity == Severity::Error
            });
            if !unsafe_here || out.iter().any(|p| p.migration == m.id) {
                continue;
            }
            out.push(MigrationPlan {
                migration: m.id.clone(),
                plan: plan::plan_migration(migrations, i, Some(layout), &options)
                    .map_err(|e| e.to_string()),
            });
        }
    }
    out
}

/// Escapes text from migrations and messages so it stays plain text in GitHub markdown:
/// no HTML (which could close a `<details>`), no emphasis, links or table cells. Backticks
/// stay: messages quote SQL in code spans, and inside a code span nothing is markup;
/// underscores stay (GitHub does not emphasise inside words, and names are full of them).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Inside a code span GitHub shows text as typed (an entity or a backslash would be
    // printed), so only text outside spans is escaped; an unmatched backtick opens none.
    let balanced = s.matches('`').count().is_multiple_of(2);
    let mut in_code = false;
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
            '`' if balanced => {
                in_code = !in_code;
                out.push(c);
            }
            c if in_code => out.push(c),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '*' | '[' | ']' | '|' | '#' | '~' | '`' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid node label: inside double quotes, with quotes and angle brackets as Mermaid
/// entity codes and no line breaks or backticks (which would start a markdown string).
pub fn mermaid_label(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= 80 {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '`' => out.push('\''),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn phase_title(p: Phase) -> &'static str {
    match p {
        Phase::Expand => "expand",
        Phase::Backfill => "backfill",
        Phase::Contract => "contract",
    }
}

/// The plan's phases as a Mermaid flowchart: one subgraph per run of steps of one phase,
/// deploy points as hexagons between them, the subgraphs chained in execution order and
/// the dependencies between steps of one phase drawn inside it.
pub fn mermaid(plan: &Plan) -> String {
    // Blocks: consecutive non-deploy steps of one phase, or a single deploy step.
    enum Block {
        Phase(Phase, Vec<usize>),
        Deploy(usize),
    }
    let mut blocks: Vec<Block> = Vec::new();
    for (i, s) in plan.steps.iter().enumerate() {
        if s.kind == StepKind::Deploy {
            blocks.push(Block::Deploy(i));
            continue;
        }
        match blocks.last_mut() {
            Some(Block::Phase(p, steps)) if *p == s.phase => steps.push(i),
            _ => blocks.push(Block::Phase(s.phase, vec![i])),
        }
    }
    let mut out = String::from("flowchart TD\n");
    let mut ids: Vec<String> = Vec::new();
    let mut phase_no = 0;
    for (b, block) in blocks.iter().enumerate() {
        match block {
            Block::Deploy(i) => {
                let s = &plan.steps[*i];
                let id = format!("d{}", s.id);
                let _ = writeln!(
                    out,
                    "  {id}{{{{\"{}\"}}}}",
                    mermaid_label(&format!("deploy: {}", s.title))
                );
                ids.push(id);
            }
            Block::Phase(phase, steps) => {
                phase_no += 1;
                let id = format!("p{b}");
                let _ = writeln!(
                    out,
                    "  subgraph {id}[\"Phase {phase_no}: {}\"]",
                    phase_title(*phase)
                );
                for &i in steps {
                    let s = &plan.steps[i];
                    let label = mermaid_label(&format!("{}. {}", s.id, s.title));
                    let (open, close) = if s.kind == StepKind::Backfill {
                        ("[(", ")]")
                    } else {
                        ("[", "]")
                    };
                    let _ = writeln!(out, "    s{}{open}\"{label}\"{close}", s.id);
                }
                for &i in steps {
                    let s = &plan.steps[i];
                    for dep in &s.depends_on {
                        if steps.iter().any(|&j| plan.steps[j].id == *dep) {
                            let _ = writeln!(out, "    s{dep} --> s{}", s.id);
                        }
                    }
                }
                out.push_str("  end\n");
                ids.push(id);
            }
        }
    }
    for pair in ids.windows(2) {
        let _ = writeln!(out, "  {} --> {}", pair[0], pair[1]);
    }
    out
}

/// The planner's markdown with its headings moved below ours (`#` → `####`).
fn demoted_plan_markdown(plan: &Plan) -> String {
    let md = plan::render_md::render(plan, "plan.yaml");
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = &fence {
            if trimmed.starts_with(f.as_str()) && trimmed.trim_matches('`').is_empty() {
                fence = None;
            }
        } else if trimmed.starts_with("```") {
            let ticks = trimmed.chars().take_while(|c| *c == '`').count();
            fence = Some("`".repeat(ticks));
        } else {
            if line.starts_with('#') {
                out.push_str("###");
            }
            // Names from the migration must not open or close HTML (our <details>):
            // angle brackets outside code spans become entities.
            out.push_str(&html_outside_code_spans(line));
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `<`, `>` and `&` as entities except inside backtick code spans (where GitHub shows
/// text literally and would print an entity as typed).
fn html_outside_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    // An unmatched backtick opens no code span: then nothing on the line is code.
    let balanced = line.matches('`').count().is_multiple_of(2);
    let mut in_code = false;
    for c in line.chars() {
        match c {
            '`' if balanced => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn counts(s: Summary) -> String {
    let part = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}, {}",
        part(s.errors, "error", "errors"),
        part(s.warnings, "warning", "warnings"),
        part(s.infos, "note", "notes")
    )
}

fn icon(s: Summary) -> &'static str {
    if s.errors > 0 {
        "🛑"
    } else if s.warnings > 0 {
        "⚠️"
    } else {
        "ℹ️"
    }
}

fn render_finding(out: &mut String, cx: &ReportContext, f: &Finding) {
    let p = finding_position(cx.analysis, f);
    let _ = writeln!(
        out,
        "- **{}** `{}` at `{}:{}`{}: {}",
        f.severity,
        f.rule,
        // Inside a code span: only a backtick could end it early.
        display_path(&f.path).replace('`', "'"),
        p.line,
        if f.direction == Direction::Down {
            " (down)"
        } else {
            ""
        },
        escape(&f.message_with_notes())
    );
    if let Some(h) = &f.help {
        let _ = writeln!(out, "  - help: {}", escape(h));
    }
}

/// Renders the comment. `plans` holds the plans of unsafe migrations (see [`plans`]).
pub fn render(cx: &ReportContext, plans: &[MigrationPlan]) -> String {
    let a = cx.analysis;
    // Migrations in apply order, each with its findings; findings of no analysed script
    // (history checks) first.
    let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
    for s in &a.scripts {
        if !groups.iter().any(|(m, _)| *m == s.migration) {
            groups.push((s.migration.clone(), Vec::new()));
        }
    }
    let mut history: Vec<&Finding> = Vec::new();
    for f in &a.findings {
        match groups.iter_mut().find(|(m, _)| *m == f.migration) {
            Some((_, v)) => v.push(f),
            None => history.push(f),
        }
    }
    let total = Summary::of(&a.findings);
    let mut out = String::new();
    let _ = writeln!(out, "## lockstep: {}\n", counts(total));
    let _ = writeln!(
        out,
        "{} migrations, {} statements checked (PostgreSQL {}, layout {}).\n",
        a.migrations_total,
        a.statements_total,
        cx.settings.pg_version,
        cx.layout.name()
    );
    let with_findings: Vec<&(String, Vec<&Finding>)> =
        groups.iter().filter(|(_, v)| !v.is_empty()).collect();
    if with_findings.is_empty() && history.is_empty() {
        out.push_str("No findings. ✅\n");
    } else {
        out.push_str("| migration | errors | warnings | notes |\n|---|---:|---:|---:|\n");
        for (m, v) in &with_findings {
            let s = v.iter().fold(Summary::default(), |s, f| s.with(f.severity));
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} |",
                icon(s),
                escape(m),
                s.errors,
                s.warnings,
                s.infos
            );
        }
        out.push('\n');
    }
    if !history.is_empty() {
        let s = history
            .iter()
            .fold(Summary::default(), |s, f| s.with(f.severity));
        let _ = writeln!(
            out,
            "<details open>\n<summary>{} History checks: {}</summary>\n",
            icon(s),
            counts(s)
        );
        for f in &history {
            render_finding(&mut out, cx, f);
        }
        out.push_str("\n</details>\n\n");
    }
    for (m, findings) in &with_findings {
        let s = findings
            .iter()
            .fold(Summary::default(), |s, f| s.with(f.severity));
        let _ = writeln!(out, "### {} {}\n", icon(s), escape(m));
        let _ = writeln!(
            out,
            "<details{}>\n<summary>{}</summary>\n",
            if s.errors > 0 { " open" } else { "" },
            counts(s)
        );
        for f in findings {
            render_finding(&mut out, cx, f);
        }
        out.push_str("\n</details>\n\n");
        if !is_unsafe(findings) {
            continue;
        }
        match plans.iter().find(|p| p.migration == *m) {
            Some(MigrationPlan { plan: Ok(plan), .. }) => {
                let steps = plan.steps.len();
                let deploys = plan
                    .steps
                    .iter()
                    .filter(|s| s.kind == StepKind::Deploy)
                    .count();
                let _ = writeln!(
                    out,
                    "<details>\n<summary>Safe rollout: {steps} steps, {deploys} deploy point(s) (<code>lockstep plan</code>)</summary>\n"
                );
                let _ = writeln!(out, "```mermaid\n{}```\n", mermaid(plan));
                out.push_str(&demoted_plan_markdown(plan));
                out.push_str("\n</details>\n\n");
            }
            Some(MigrationPlan { plan: Err(e), .. }) => {
                let _ = writeln!(out, "> No plan: {}\n", escape(e));
            }
            None => {}
        }
    }
    if a.baselined > 0 {
        let _ = writeln!(
            out,
            "{} finding(s) recorded in the baseline are not shown.\n",
            a.baselined
        );
    }
    let _ = writeln!(
        out,
        "<sub>lockstep {} · `lockstep explain RULE` tells why and what to do instead</sub>",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_html_or_markup() {
        assert_eq!(escape("</details> *x*"), "&lt;/details&gt; \\*x\\*");
        assert_eq!(escape("use `a <> b` *"), "use `a <> b` \\*");
        assert_eq!(escape("odd ` <x>"), "odd \\` &lt;x&gt;");
        assert_eq!(mermaid_label("a \"b\" <c>"), "a #quot;b#quot; #lt;c#gt;");
    }
}
