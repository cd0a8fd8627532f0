//! `lockstep plan --diff`: a unified diff between the original migration and the plan's
//! SQL, all steps in order with deploy points as comments.

use super::{Plan, StepKind, quote};
use similar::TextDiff;

/// The plan's steps as one SQL script (what the diff compares against).
pub fn rewritten_sql(plan: &Plan) -> String {
    let mut out = String::new();
    for step in &plan.steps {
        match step.kind {
            StepKind::Deploy => {
                out.push_str(&quote::line_comment(&format!("deploy: {}", step.title)));
                out.push('\n');
            }
            _ => {
                // Titles carry names from the migration: one comment line whatever they hold.
                out.push_str(&quote::line_comment(&format!(
                    "step {} ({}{}): {}",
                    step.id,
                    step.phase.as_str(),
                    if step.transactional {
                        ""
                    } else {
                        ", no transaction"
                    },
                    step.title
                )));
                out.push('\n');
                for s in &step.statements {
                    out.push_str(s);
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// A unified diff (3 lines of context) from `original` to the plan.
pub fn unified(original: &str, plan: &Plan, original_name: &str) -> String {
    let new = rewritten_sql(plan);
    let mut original = original.to_string();
    if !original.ends_with('\n') {
        original.push('\n');
    }
    TextDiff::from_lines(&original, &new)
        .unified_diff()
        .context_radius(3)
        .header(original_name, &format!("{original_name} (lockstep plan)"))
        .to_string()
}
