//! dbmate: `<version>_<name>.sql` with `-- migrate:up` and `-- migrate:down` sections.
//! Options follow the marker: `-- migrate:up transaction:false` runs the up section
//! outside dbmate's transaction. dbmate rejects files without an up marker.

use super::annotated::{self, Directive, strip_prefix_ci};
use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, SourceError, strip_suffix};

/// Reads one trimmed line as a dbmate marker.
pub(super) fn directive(line: &str) -> Option<Directive> {
    let rest = strip_prefix_ci(line, "-- migrate:")?;
    let mut words = rest.split_whitespace();
    let which = words.next()?.to_ascii_lowercase();
    let no_transaction = words.any(|w| w.eq_ignore_ascii_case("transaction:false"));
    match which.as_str() {
        "up" => Some(Directive::Up { no_transaction }),
        "down" => Some(Directive::Down { no_transaction }),
        _ => None,
    }
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; dbmate reads one folder level",
            );
            continue;
        }
        let file = entry.file_name();
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
        let sections = annotated::split(&text, "dbmate", directive).map_err(|message| {
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
            stem.to_string(),
            version.to_string(),
            name.to_string(),
            in_transaction,
        )
        .ok_or_else(|| SourceError::Layout {
            path: entry.path.clone(),
            message: "no `-- migrate:up` marker; dbmate refuses to run this file".into(),
        })?;
        migrations.push(migration);
    }
    Ok(migrations)
}
