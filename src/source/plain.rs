//! Plain numbered `.sql` files: `001_init.sql`, `0002-users.sql`, `3.sql`.
//!
//! Such folders are usually applied with `psql -f` file by file. psql runs in
//! autocommit unless told otherwise (`--single-transaction` / `-1`), so every statement
//! commits on its own: `in_transaction` is false. That also means a failing statement
//! leaves the ones before it applied, which is why lock findings matter per statement.

use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, Script, SourceError, file_migration, strip_suffix};

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    for entry in inputs.entries.clone() {
        let file = entry.file_name();
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; plain layout reads one folder level",
            );
            continue;
        }
        let Some(stem) = strip_suffix(file, ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let Some((version, rest)) = leading_digits(stem) else {
            inputs.ignore(
                &entry.path,
                "name does not start with a number (expected 001_name.sql)",
            );
            continue;
        };
        if stem.ends_with(".down") {
            inputs.ignore(&entry.path, "plain layout has no down scripts");
            continue;
        }
        let name = rest.trim_start_matches(['_', '-', '.', ' ']);
        let name = name.strip_suffix(".up").unwrap_or(name);
        let text = inputs.text(&entry.path)?;
        migrations.push(file_migration(
            stem.to_string(),
            version.to_string(),
            name.to_string(),
            Script::whole_file(&entry.path, text),
            None,
            false,
        ));
    }
    Ok(migrations)
}
