//! goose: `<version>_<name>.sql` holding `-- +goose Up` and `-- +goose Down` sections.
//! `-- +goose StatementBegin` … `-- +goose StatementEnd` keep a region (a function body
//! with semicolons) as one statement; `-- +goose NO TRANSACTION` anywhere in the file
//! runs both directions outside a transaction. goose refuses files without an Up marker,
//! and so do we. `.go` migrations are compiled code: noted, not analysed.

use super::annotated::{self, Directive, strip_prefix_ci};
use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, SourceError, strip_suffix};

/// Reads one trimmed line as a goose annotation.
pub(super) fn directive(line: &str) -> Option<Directive> {
    let rest = strip_prefix_ci(line, "-- +goose")?.trim();
    let words: Vec<String> = rest
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up", ..] => Some(Directive::Up {
            no_transaction: false,
        }),
        ["down", ..] => Some(Directive::Down {
            no_transaction: false,
        }),
        ["statementbegin"] => Some(Directive::StatementBegin),
        ["statementend"] => Some(Directive::StatementEnd),
        ["no", "transaction"] => Some(Directive::NoTransaction),
        _ => None,
    }
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; goose reads one folder level",
            );
            continue;
        }
        let file = entry.file_name();
        if file.ends_with(".go") {
            if !file.ends_with("_test.go") && leading_digits(file).is_some() {
                inputs.ignore(
                    &entry.path,
                    "Go migration; only SQL migrations are analysed",
                );
            }
            continue;
        }
        let Some(stem) = strip_suffix(file, ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let Some((version, rest)) = leading_digits(stem) else {
            inputs.ignore(&entry.path, "name does not start with a version number");
            continue;
        };
        let name = rest.strip_prefix('_').unwrap_or(rest);
        let text = inputs.text(&entry.path)?;
        let sections =
            annotated::split(&text, "goose", directive).map_err(|message| SourceError::Layout {
                path: entry.path.clone(),
                message,
            })?;
        let in_transaction = !sections.no_transaction;
        let migration = annotated::migration(
            &entry.path,
            text.clone(),
            &sections,
            stem.to_string(),
            version.to_string(),
            name.to_string(),
            in_transaction,
        )
        .ok_or_else(|| SourceError::Layout {
            path: entry.path.clone(),
            message: "no `-- +goose Up` marker; goose refuses to run this file".into(),
        })?;
        migrations.push(migration);
    }
    Ok(migrations)
}
