//! The plan as markdown, for a pull request: phases, steps with their SQL and locks, and
//! the deploy points between them.

use super::quote::comment_text as one_line;
use super::{Phase, Plan, Step, StepKind};
use crate::settings::{human_bytes, human_count};
use std::fmt::Write as _;

fn timeout_text(ms: u64) -> String {
    if ms == 0 {
        "no lock_timeout (its waits block nobody)".into()
    } else if ms.is_multiple_of(1000) {
        format!("lock_timeout {}s", ms / 1000)
    } else {
        format!("lock_timeout {ms}ms")
    }
}

fn phase_heading(phase: Phase) -> &'static str {
    match phase {
        Phase::Expand => "expand (safe to run now)",
        Phase::Backfill => "backfill",
        Phase::Contract => "contract",
    }
}

/// Renders the plan; `plan_file` is how the YAML plan is referred to in backfill hints.
pub fn render(plan: &Plan, plan_file: &str) -> String {
    let mut out = String::new();
    let sizes: Vec<String> = plan
        .tables
        .iter()
        .filter_map(|t| {
            let rows = t.rows.map(|r| format!("{} rows", human_count(r)));
            let bytes = t.bytes.map(human_bytes);
            let parts: Vec<String> = rows.into_iter().chain(bytes).collect();
            (!parts.is_empty()).then(|| format!("{}: {}", short(&t.table), parts.join(", ")))
        })
        .collect();
    let _ = writeln!(
        out,
        "# Plan for {}{}\n",
        one_line(&plan.migration),
        if sizes.is_empty() {
            String::new()
        } else {
            format!(" ({})", sizes.join("; "))
        }
    );
    if plan.steps.is_empty() {
        out.push_str(
            "Nothing to do: the migration has no statements that change the schema or data.\n",
        );
    }
    let mut phase_no = 0;
    let mut current: Option<Phase> = None;
    for step in &plan.steps {
        if step.kind == StepKind::Deploy {
            let _ = writeln!(
                out,
                "## Deploy (step {}) — {}\n",
                step.id,
                one_line(&step.title)
            );
            current = None;
            continue;
        }
        if current != Some(step.phase) {
            phase_no += 1;
            let _ = writeln!(out, "## Phase {phase_no} — {}\n", phase_heading(step.phase));
            current = Some(step.phase);
        }
        render_step(&mut out, step, plan_file);
    }
    for n in &plan.notes {
        let _ = writeln!(out, "> note: {}\n", one_line(n));
    }
    out
}

fn short(table: &str) -> String {
    one_line(table.strip_prefix("public.").unwrap_or(table))
}

/// A code block for `body` (already indented): the fence is longer than any run of
/// backticks inside, so a name holding ``` cannot close it.
fn code_block(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("   {fence}sql\n   {body}\n   {fence}")
}

fn render_step(out: &mut String, step: &Step, plan_file: &str) {
    // Titles, notes and names come from the migration: each stays on its own line.
    let _ = writeln!(out, "{}. **{}**", step.id, one_line(&step.title));
    let mut meta: Vec<String> = step
        .locks
        .iter()
        .map(|l| format!("{} on {}, {}", l.mode, short(&l.table), l.duration))
        .collect();
    if let Some(ms) = step.lock_timeout_ms {
        let mut t = timeout_text(ms);
        if let Some(r) = step.retry.as_ref().filter(|_| ms > 0) {
            t.push_str(&format!(" × {} attempts", r.attempts));
        }
        meta.push(t);
    }
    meta.push(if step.transactional {
        "one transaction".into()
    } else {
        "no transaction".into()
    });
    let _ = writeln!(out, "   {}", meta.join(" · "));
    if let Some(d) = &step.requires_deploy {
        let _ = writeln!(out, "   requires deploy: {}", one_line(d));
    }
    if let Some(b) = &step.backfill {
        let keys: Vec<String> = b.key.iter().map(|k| one_line(&k.name)).collect();
        let _ = writeln!(
            out,
            "   keyset on ({}) · {} rows/batch, adapted toward {} ms per batch · sleep {} ms · pauses while replica lag > {} ms · resumable",
            keys.join(", "),
            b.batch_size,
            b.target_batch_time_ms,
            b.sleep_ms,
            b.max_replica_lag_ms
        );
        let _ = writeln!(
            out,
            "   run: `psql -f <step {} file>` or `lockstep backfill run {plan_file} --step {}`",
            step.id, step.id
        );
        let _ = writeln!(
            out,
            "{}",
            code_block(
                &b.dml
                    .replace(super::backfill::IN_BATCH_MARKER, "IN (the current batch)")
                    .replace('\n', "\n   ")
            )
        );
    } else if !step.statements.is_empty() {
        let body = step
            .statements
            .iter()
            .filter(|s| !s.starts_with("SET lock_timeout"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
            .replace('\n', "\n   ");
        let _ = writeln!(out, "{}", code_block(&body));
    }
    for n in &step.notes {
        let _ = writeln!(out, "   note: {}", one_line(n));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::plan::{PlanOptions, plan_sql};

    /// Names from the migration cannot add headings or close the SQL code block.
    #[test]
    fn names_stay_inside_their_line_and_block() {
        let plan = plan_sql(
            &Catalog::new(),
            "m\n# Injected heading",
            "CREATE INDEX \"i\n## Deploy ```\" ON \"t\u{2028}x\" (c);",
            &PlanOptions::default(),
        )
        .expect("plan");
        let md = render(&plan, "plan.yaml");
        assert!(!md.lines().any(|l| l.starts_with("# Injected")), "{md}");
        assert!(md.starts_with("# Plan for m\\n# Injected heading"), "{md}");
        // The statement holds ``` so its block is fenced with four backticks.
        assert!(md.contains("````sql"), "{md}");
        for line in md.lines().filter(|l| l.starts_with("## ")) {
            assert!(
                line.starts_with("## Phase") || line.starts_with("## Deploy (step"),
                "no heading comes from a name: {line:?}\n{md}"
            );
        }
    }
}
