//! sqlx: `<version>_<description>.sql` (simple) or `<version>_<description>.up.sql` with
//! `.down.sql` (reversible). Each migration runs in a transaction unless its file starts
//! with the exact bytes `-- no-transaction` (sqlx checks the first bytes, so a comment
//! or blank line before it disables the switch; we read it the same way).

use super::files::Inputs;
use super::golang_migrate::attach_downs;
use super::version::{VersionKey, leading_digits};
use super::{Migration, Script, SourceError, file_migration, strip_suffix};

/// The marker sqlx looks for at the start of the file.
pub(super) const NO_TRANSACTION: &str = "-- no-transaction";

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    let mut downs = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; sqlx reads one folder level",
            );
            continue;
        }
        let file = entry.file_name();
        let Some(stem) = strip_suffix(file, ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let (stem, down) = match (stem.strip_suffix(".up"), stem.strip_suffix(".down")) {
            (Some(up), _) => (up, false),
            (_, Some(down)) => (down, true),
            _ => (stem, false),
        };
        let Some((version, rest)) = leading_digits(stem) else {
            inputs.ignore(&entry.path, "name does not start with a version number");
            continue;
        };
        let Some(name) = rest.strip_prefix('_') else {
            // sqlx splits the name at the first `_` and rejects files without one.
            inputs.ignore(&entry.path, "expected <version>_<description>.sql");
            continue;
        };
        let text = inputs.text(&entry.path)?;
        let no_tx = text.starts_with(NO_TRANSACTION);
        let script = Script::whole_file(&entry.path, text);
        if down {
            downs.push((VersionKey::parse(version), script));
        } else {
            migrations.push(file_migration(
                stem.to_string(),
                version.to_string(),
                name.to_string(),
                script,
                None,
                !no_tx,
            ));
        }
    }
    attach_downs(inputs, &mut migrations, downs)?;
    Ok(migrations)
}
