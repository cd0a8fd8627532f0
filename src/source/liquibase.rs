//! Liquibase formatted SQL: a file starting with `--liquibase formatted sql`, split into
//! changesets by `--changeset author:id [attributes]` lines. Each changeset is one
//! migration (its text runs to the next changeset line; `--rollback` lines are SQL
//! comments and stay out of the statements). `runInTransaction:false` runs it outside
//! Liquibase's transaction; `dbms:` lists that leave out `postgresql` are not run on
//! PostgreSQL.
//!
//! Order: a master changelog (YAML, JSON or XML; the one whose name says `master`, else the
//! first) decides: its `include` entries in the order listed and `includeAll` folders in
//! name order, nested changelogs followed; `.sql` changelogs it does not include are not
//! run (a note names them). Without one, files in path order (what `includeAll` does).
//! Changesets run in file order.

use super::files::Inputs;
use super::{Migration, Script, SourceError, file_migration};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// Whether the file's first line is Liquibase's formatted-SQL header.
pub(super) fn is_formatted_sql(text: &str) -> bool {
    let first = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    header_words(first).is_some_and(|w| w.to_ascii_lowercase().starts_with("liquibase formatted"))
}

/// The text after `--` and optional spaces, when the line is a comment.
fn header_words(line: &str) -> Option<&str> {
    Some(line.trim().strip_prefix("--")?.trim_start())
}

/// `(author:id, attributes)` when the line opens a changeset.
fn changeset(line: &str) -> Option<(&str, &str)> {
    let words = header_words(line)?;
    let rest = words
        .get(..9)
        .filter(|w| w.eq_ignore_ascii_case("changeset"))
        .map(|_| &words[9..])?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let id = &rest[..end];
    id.contains(':').then_some((id, rest[end..].trim()))
}

/// The value of `key:value` among the attributes, case-insensitive on the key.
fn attribute<'a>(attributes: &'a str, key: &str) -> Option<&'a str> {
    attributes.split_whitespace().find_map(|a| {
        let (k, v) = a.split_once(':')?;
        k.eq_ignore_ascii_case(key).then_some(v)
    })
}

/// Whether a `dbms:` list lets the changeset run on PostgreSQL.
fn runs_on_postgres(dbms: Option<&str>) -> bool {
    let Some(list) = dbms else { return true };
    let items: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    if items.iter().any(|i| i == "!postgresql" || i == "none") {
        return false;
    }
    let positive: Vec<&String> = items.iter().filter(|i| !i.starts_with('!')).collect();
    positive.is_empty() || positive.iter().any(|i| *i == "postgresql" || *i == "all")
}

/// `include` file names and `includeAll` folders of a changelog, in order.
enum Include {
    File(String),
    All(String),
}

/// Reads the includes of a YAML/JSON or XML changelog.
fn includes(text: &str, xml: bool) -> Vec<Include> {
    let text = text.trim_start_matches('\u{feff}');
    if xml {
        let mut out = Vec::new();
        for tag in text.split('<').skip(1) {
            let (all, rest) = if let Some(rest) = tag.strip_prefix("includeAll") {
                (true, rest)
            } else if let Some(rest) = tag.strip_prefix("include") {
                (false, rest)
            } else {
                continue;
            };
            let attr = if all { "path=" } else { "file=" };
            let Some(at) = rest.find(attr) else { continue };
            let value = &rest[at + attr.len()..];
            let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let value = &value[1..];
            let Some(end) = value.find(quote) else {
                continue;
            };
            let value = value[..end].to_string();
            out.push(if all {
                Include::All(value)
            } else {
                Include::File(value)
            });
        }
        return out;
    }
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Vec::new();
    };
    let Some(list) = value.get("databaseChangeLog").and_then(|l| l.as_sequence()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|item| {
            if let Some(file) = item.get("include").and_then(|i| i.get("file")) {
                return file.as_str().map(|f| Include::File(f.to_string()));
            }
            let path = item.get("includeAll").and_then(|i| i.get("path"))?;
            path.as_str().map(|p| Include::All(p.to_string()))
        })
        .collect()
}

/// Whether `path` is the file (or folder) an include names. Include paths are relative to
/// the changelog or to the classpath root, so the end of the path must match: all of the
/// include path (`whole`), or its last components when nothing matches it all (the folder
/// given may start below the classpath root).
fn names(path: &Path, include: &str, whole: bool) -> bool {
    let include = Path::new(
        include
            .trim_start_matches("classpath:")
            .trim_start_matches('/'),
    );
    let parts: Vec<_> = include
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    let path: Vec<_> = path.components().collect();
    let ends_with = |parts: &[Component]| {
        !parts.is_empty() && parts.len() <= path.len() && path[path.len() - parts.len()..] == *parts
    };
    if whole {
        ends_with(&parts)
    } else {
        (0..parts.len()).any(|k| ends_with(&parts[k..]))
    }
}

fn is_changelog(file: &str) -> bool {
    [".xml", ".yaml", ".yml", ".json"]
        .iter()
        .any(|x| file.ends_with(x))
}

/// The master changelog and the `.sql` changelogs in the order it runs them, or `None`
/// when there is no master changelog or it includes none of them.
fn master_order(inputs: &mut Inputs) -> Result<Option<(PathBuf, Vec<PathBuf>)>, SourceError> {
    let changelogs: Vec<_> = inputs
        .entries
        .iter()
        .filter(|e| is_changelog(e.file_name()))
        .cloned()
        .collect();
    let Some(master) = changelogs
        .iter()
        .find(|e| e.file_name().to_ascii_lowercase().contains("master"))
        .or(changelogs.first())
        .cloned()
    else {
        return Ok(None);
    };
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(master.path.clone(), 0usize)];
    while let Some((changelog, depth)) = stack.pop() {
        // A changelog including itself (or a cycle) is read once.
        if !seen.insert(changelog.clone()) || depth > 8 {
            continue;
        }
        let text = inputs.text(&changelog)?;
        let xml = changelog.extension().is_some_and(|x| x == "xml");
        let mut nested = Vec::new();
        for include in includes(&text, xml) {
            let find = |whole: bool| -> Vec<PathBuf> {
                match &include {
                    Include::File(f) => inputs
                        .entries
                        .iter()
                        .find(|e| names(&e.path, f, whole))
                        .map(|e| e.path.clone())
                        .into_iter()
                        .collect(),
                    Include::All(dir) => inputs
                        .entries
                        .iter()
                        .filter(|e| e.path.parent().is_some_and(|p| names(p, dir, whole)))
                        .map(|e| e.path.clone())
                        .collect(),
                }
            };
            let mut matched = find(true);
            if matched.is_empty() {
                matched = find(false);
            }
            for path in matched {
                if path.extension().is_some_and(|x| x == "sql") {
                    if !order.contains(&path) {
                        order.push(path);
                    }
                } else {
                    nested.push(path);
                }
            }
        }
        // Nested changelogs are read after this one's own files (masters seen in real
        // repositories include either .sql files or changelogs, not both).
        for path in nested.into_iter().rev() {
            stack.push((path, depth + 1));
        }
    }
    Ok((!order.is_empty()).then_some((master.path, order)))
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    let mut master = None;
    let mut entries = inputs.entries.clone();
    if let Some((master_path, order)) = master_order(inputs)? {
        for entry in &entries {
            if entry.file_name().ends_with(".sql") && !order.contains(&entry.path) {
                inputs.ignore(
                    &entry.path,
                    format!(
                        "not included by {}; Liquibase does not run it",
                        master_path.display()
                    ),
                );
            }
        }
        entries = order
            .iter()
            .filter_map(|p| entries.iter().find(|e| &e.path == p).cloned())
            .collect();
    } else if let Some(first) = entries.iter().find(|e| is_changelog(e.file_name())) {
        master = Some(first.path.clone());
    }
    for entry in entries {
        let file = entry.file_name();
        if is_changelog(file) {
            continue;
        }
        if !file.ends_with(".sql") {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        }
        let text = inputs.text(&entry.path)?;
        if !is_formatted_sql(&text) {
            inputs.ignore(
                &entry.path,
                "no `--liquibase formatted sql` header (a changelog may still include it \
                 with sqlFile; not read)",
            );
            continue;
        }
        // Line starts of every changeset, then each one's text up to the next.
        let mut starts = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if let Some((id, attributes)) = changeset(line) {
                starts.push((
                    offset,
                    offset + line.len(),
                    id.to_string(),
                    attributes.to_string(),
                ));
            }
            offset += line.len();
        }
        for (i, (_, body_start, id, attributes)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(text.len(), |next| next.0);
            if !runs_on_postgres(attribute(attributes, "dbms")) {
                inputs.ignore(
                    &entry.path,
                    format!("changeset {id}: dbms list leaves out postgresql"),
                );
                continue;
            }
            let in_transaction = !attribute(attributes, "runInTransaction")
                .is_some_and(|v| v.eq_ignore_ascii_case("false"));
            let name = id.split_once(':').map_or(id.as_str(), |(_, name)| name);
            migrations.push(file_migration(
                id.clone(),
                String::new(),
                name.to_string(),
                Script {
                    path: entry.path.clone(),
                    source: text.clone(),
                    range: *body_start..end,
                    whole_statements: Vec::new(),
                    host: None,
                },
                None,
                in_transaction,
            ));
        }
    }
    if let Some(master) = master
        && !migrations.is_empty()
    {
        inputs.notes.push(format!(
            "{}: includes none of these .sql changelogs; they are ordered by path \
             (as includeAll does)",
            master.display()
        ));
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_changesets() {
        assert!(is_formatted_sql("--liquibase formatted sql\n"));
        assert!(is_formatted_sql("-- Liquibase formatted SQL\n"));
        assert!(!is_formatted_sql("\n--liquibase formatted sql\n"));
        assert_eq!(
            changeset("--changeset ann:1 runInTransaction:false\n"),
            Some(("ann:1", "runInTransaction:false"))
        );
        assert_eq!(changeset("-- changeSet a:b"), Some(("a:b", "")));
        assert_eq!(changeset("--changesets a:b"), None);
        assert!(runs_on_postgres(Some("postgresql,oracle")));
        assert!(!runs_on_postgres(Some("mysql")));
        assert!(!runs_on_postgres(Some("!postgresql")));
        assert!(runs_on_postgres(Some("!mysql")));
    }
}
