//! sql-migrate: any `.sql` file with `-- +migrate Up` / `-- +migrate Down` sections;
//! `-- +migrate Up notransaction` runs that direction outside a transaction, and
//! `-- +migrate StatementBegin` / `StatementEnd` keep a region as one statement.
//!
//! The id is the file name. sql-migrate orders ids by their leading number when both
//! have one (so `10_x.sql` follows `9_x.sql`), by name otherwise; the version we give is
//! that leading number, or the whole name when there is none.

use super::annotated::{self, Directive, strip_prefix_ci};
use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, SourceError, strip_suffix};

/// Reads one trimmed line as a sql-migrate marker.
pub(super) fn directive(line: &str) -> Option<Directive> {
    let rest = strip_prefix_ci(line, "-- +migrate")?;
    let mut words = rest.split_whitespace();
    let which = words.next()?.to_ascii_lowercase();
    let no_transaction = words.any(|w| w.eq_ignore_ascii_case("notransaction"));
    match which.as_str() {
        "up" => Some(Directive::Up { no_transaction }),
        "down" => Some(Directive::Down { no_transaction }),
        "statementbegin" => Some(Directive::StatementBegin),
        "statementend" => Some(Directive::StatementEnd),
        _ => None,
    }
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; sql-migrate reads one folder level",
            );
            continue;
        }
        let file = entry.file_name();
        let Some(stem) = strip_suffix(file, ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let (version, name) = match leading_digits(stem) {
            Some((version, rest)) => (version, rest.trim_start_matches(['_', '-'])),
            None => (stem, stem),
        };
        let text = inputs.text(&entry.path)?;
        let sections = annotated::split(&text, "sql-migrate", directive).map_err(|message| {
            SourceError::Layout {
                path: entry.path.clone(),
                message,
            }
        })?;
        let in_transaction = !sections.up.as_ref().is_some_and(|s| s.no_transaction);
        let migration = annotated::migration(
            &entry.path,
            text.clone(),
            &sections,
            file.to_string(),
            version.to_string(),
            name.to_string(),
            in_transaction,
        )
        .ok_or_else(|| SourceError::Layout {
            path: entry.path.clone(),
            message: "no `-- +migrate Up` marker; sql-migrate would run nothing from this file"
                .into(),
        })?;
        migrations.push(migration);
    }
    Ok(migrations)
}
