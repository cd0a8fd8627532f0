//! sqitch: `sqitch.plan` lists the changes in deploy order; each change `name` has
//! `deploy/name.sql`, `revert/name.sql` (the down script) and `verify/name.sql`.
//! A change reworked later in the plan keeps its earlier script as
//! `deploy/name@tag.sql`, `tag` being the first tag after the earlier entry, as sqitch
//! names it. sqitch runs each script with psql, so the script's own BEGIN/COMMIT decide
//! the transaction (sqitch's templates write them): `in_transaction` is false.

use super::files::Inputs;
use super::{Migration, Script, SourceError, file_migration};
use std::path::PathBuf;

/// One change line of the plan, with the tag that follows it (for reworked names).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    name: String,
    /// The first `@tag` after this change in the plan.
    next_tag: Option<String>,
    line: usize,
}

/// The changes of a plan file in order.
fn parse_plan(text: &str) -> Vec<Change> {
    let mut changes: Vec<Change> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('%') {
            continue;
        }
        if let Some(tag) = line.strip_prefix('@') {
            let tag = tag.split_whitespace().next().unwrap_or("").to_string();
            for change in changes.iter_mut().rev() {
                if change.next_tag.is_some() {
                    break;
                }
                change.next_tag = Some(tag.clone());
            }
            continue;
        }
        // `+name` deploys, `-name` reverts a change again (sqitch's plan operators).
        if line.starts_with('-') {
            continue;
        }
        if line.starts_with('+') && line[1..].trim_start().is_empty() {
            continue;
        }
        let line = line.strip_prefix('+').unwrap_or(line).trim_start();
        let name = line
            .split(|c: char| c.is_whitespace() || c == '[')
            .next()
            .unwrap_or("");
        if !name.is_empty() {
            changes.push(Change {
                name: name.to_string(),
                next_tag: None,
                line: index + 1,
            });
        }
    }
    changes
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let plan = inputs
        .entries
        .iter()
        .find(|e| e.file_name() == "sqitch.plan" && e.rel.components().count() == 1)
        .cloned();
    let Some(plan) = plan else {
        inputs
            .notes
            .push("no sqitch.plan: sqitch deploys nothing without it".into());
        return Ok(Vec::new());
    };
    let top: PathBuf = plan.path.parent().map(PathBuf::from).unwrap_or_default();
    let text = inputs.text(&plan.path)?;
    let changes = parse_plan(&text);
    let mut migrations = Vec::new();
    let mut used = std::collections::HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        if change.name.contains(['/', '\\']) && change.name.split(['/', '\\']).any(|p| p == "..") {
            return Err(SourceError::Layout {
                path: plan.path.clone(),
                message: format!(
                    "line {}: change name {:?} leaves the project",
                    change.line, change.name
                ),
            });
        }
        let reworked_later = changes[i + 1..].iter().any(|c| c.name == change.name);
        let file = match (&change.next_tag, reworked_later) {
            (Some(tag), true) => format!("{}@{tag}.sql", change.name),
            _ => format!("{}.sql", change.name),
        };
        // A reworked change's earlier script sits in deploy/ or, with sqitch's
        // `reworked_dir`, in reworked/deploy/.
        let mut base = top.clone();
        let mut deploy = top.join("deploy").join(&file);
        if !deploy.is_file() && top.join("reworked/deploy").join(&file).is_file() {
            base = top.join("reworked");
            deploy = base.join("deploy").join(&file);
        }
        if !deploy.is_file() {
            inputs.warn(format!(
                "{}: line {}: change {} has no deploy script {}",
                plan.path.display(),
                change.line,
                change.name,
                deploy.display()
            ));
            continue;
        }
        used.insert(deploy.clone());
        let up = Script::whole_file(&deploy, inputs.text(&deploy)?);
        let revert = base.join("revert").join(&file);
        let down = if revert.is_file() {
            Some(Script::whole_file(&revert, inputs.text(&revert)?))
        } else {
            None
        };
        // The id names the script: a reworked change's earlier entry is `name@tag`.
        migrations.push(file_migration(
            file.trim_end_matches(".sql").to_string(),
            String::new(),
            change.name.clone(),
            up,
            down,
            false,
        ));
    }
    for entry in inputs.entries.clone() {
        let under_deploy = entry.rel.starts_with("deploy");
        if under_deploy && entry.file_name().ends_with(".sql") && !used.contains(&entry.path) {
            inputs.ignore(&entry.path, "not in sqitch.plan; sqitch does not deploy it");
        }
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_order_and_reworked_names() {
        let plan = "%syntax-version=1.0.0\n%project=x\n\nschema 2020-01-01T00:00:00Z A <a@b> # s\n\
                    users [schema] 2020-01-01T00:00:01Z A <a@b>\n@v1 2020-01-02T00:00:00Z A <a@b>\n\
                    users [users@v1] 2020-01-03T00:00:00Z A <a@b> # reworked\n";
        let changes = parse_plan(plan);
        let names: Vec<(&str, Option<&str>)> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.next_tag.as_deref()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("schema", Some("v1")),
                ("users", Some("v1")),
                ("users", None)
            ]
        );
    }
}
