//! drizzle-kit: `NNNN_name.sql` files whose order is the `entries` list of
//! `meta/_journal.json` (each entry's `tag` names the file). Statements are separated by
//! `--> statement-breakpoint` lines (SQL comments, so the statements read the same).
//! drizzle's PostgreSQL migrator runs all pending migrations in one transaction, and
//! runs nothing the journal does not list.

use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, Script, SourceError, file_migration};
use std::collections::HashSet;
use std::path::PathBuf;

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let journal = inputs.entries.iter().find(|e| {
        e.file_name() == "_journal.json"
            && e.parent_name() == Some("meta")
            && e.rel.components().count() == 2
    });
    let Some(journal) = journal.cloned() else {
        inputs
            .notes
            .push("no meta/_journal.json: drizzle runs nothing without it".into());
        return Ok(Vec::new());
    };
    let folder = journal
        .path
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let text = inputs.text(&journal.path)?;
    let bad = |message: String| SourceError::Layout {
        path: journal.path.clone(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    if let Some(dialect) = value.get("dialect").and_then(|d| d.as_str())
        && !matches!(dialect, "postgresql" | "pg" | "postgres")
    {
        inputs.warn(format!(
            "{}: the journal's dialect is {dialect}, not postgresql",
            journal.path.display()
        ));
    }
    let entries = value
        .get("entries")
        .and_then(|e| e.as_array())
        .ok_or_else(|| bad("no `entries` list".into()))?;
    let mut listed = HashSet::new();
    let mut migrations = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(tag) = entry.get("tag").and_then(|t| t.as_str()) else {
            return Err(bad(format!("entry {index} has no `tag`")));
        };
        if tag.contains(['/', '\\']) || tag == ".." {
            return Err(bad(format!(
                "entry {index}: tag {tag:?} is not a file name"
            )));
        }
        let path = folder.join(format!("{tag}.sql"));
        listed.insert(path.clone());
        if !path.is_file() {
            // drizzle stops here ("No file … found"); we say so and read the rest.
            inputs.warn(format!(
                "{}: listed in meta/_journal.json but missing (drizzle would stop here)",
                path.display()
            ));
            continue;
        }
        let text = inputs.text(&path)?;
        let version = leading_digits(tag).map_or(index.to_string(), |(v, _)| v.to_string());
        let name = leading_digits(tag)
            .map_or(tag, |(_, rest)| rest.trim_start_matches('_'))
            .to_string();
        migrations.push(file_migration(
            tag.to_string(),
            version,
            name,
            Script::whole_file(&path, text),
            None,
            true,
        ));
    }
    for entry in inputs.entries.clone() {
        if entry.file_name().ends_with(".sql") && !listed.contains(&entry.path) {
            inputs.ignore(
                &entry.path,
                "not listed in meta/_journal.json; drizzle does not run it",
            );
        }
    }
    Ok(migrations)
}
