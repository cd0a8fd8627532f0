//! Liquibase formatted SQL: a file starting with `--liquibase formatted sql`, split into
//! changesets by `--changeset author:id [attributes]` lines. Each changeset is one
//! migration (its text runs to the next changeset line; `--rollback` lines are SQL
//! comments and stay out of the statements). `runInTransaction:false` runs it outside
//! Liquibase's transaction; `dbms:` lists that leave out `postgresql` are not run on
//! PostgreSQL.
//!
//! Order: files in path order (what `includeAll` does), changesets in file order. A
//! master changelog (XML/YAML) that includes files one by one is not read: a note says so.

use super::files::Inputs;
use super::{Migration, Script, SourceError, file_migration};

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

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    let mut master = None;
    for entry in inputs.entries.clone() {
        let file = entry.file_name();
        if [".xml", ".yaml", ".yml", ".json"]
            .iter()
            .any(|x| file.ends_with(x))
        {
            master.get_or_insert(entry.path.clone());
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
            "{}: changelog includes are not read; .sql changelogs are ordered by path \
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
