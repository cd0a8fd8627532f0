//! golang-migrate: `<version>_<name>.up.sql` and `<version>_<name>.down.sql`.
//!
//! Transactions: the postgres drivers send each file as a single multi-statement query
//! (simple query protocol) without BEGIN/COMMIT. PostgreSQL runs such a message as one
//! implicit transaction, so `in_transaction` is true: `CREATE INDEX CONCURRENTLY` fails
//! there unless it is the file's only statement (see [`super::Layout::implicit_transaction`]).
//! The `x-multi-statement` URL option changes this, but it lives in the database URL,
//! not in the folder, so we cannot see it.

use super::files::Inputs;
use super::version::{VersionKey, leading_digits};
use super::{Migration, Script, SourceError, file_migration, strip_suffix};

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations: Vec<Migration> = Vec::new();
    let mut downs = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; golang-migrate reads one folder level",
            );
            continue;
        }
        let file = entry.file_name();
        let (stem, is_up) = if let Some(stem) = strip_suffix(file, ".up.sql") {
            (stem, true)
        } else if let Some(stem) = strip_suffix(file, ".down.sql") {
            (stem, false)
        } else {
            inputs.ignore(&entry.path, "expected <version>_<name>.up.sql or .down.sql");
            continue;
        };
        let Some((version, rest)) = leading_digits(stem) else {
            inputs.ignore(&entry.path, "name does not start with a version number");
            continue;
        };
        let name = rest.strip_prefix('_').unwrap_or(rest);
        let script = Script::whole_file(&entry.path, inputs.text(&entry.path)?);
        if is_up {
            migrations.push(file_migration(
                stem.to_string(),
                version.to_string(),
                name.to_string(),
                script,
                None,
                true,
            ));
        } else {
            downs.push((VersionKey::parse(version), script));
        }
    }
    attach_downs(inputs, &mut migrations, downs)?;
    Ok(migrations)
}

/// Pairs down scripts with the up of the same version (sqlx uses it too).
pub(super) fn attach_downs(
    inputs: &mut Inputs,
    migrations: &mut [Migration],
    downs: Vec<(VersionKey, Script)>,
) -> Result<(), SourceError> {
    for (version, down) in downs {
        match migrations
            .iter_mut()
            .find(|m| VersionKey::parse(&m.version) == version)
        {
            Some(m) => {
                if let Some(existing) = &m.down {
                    return Err(SourceError::Layout {
                        path: down.path.clone(),
                        message: format!(
                            "version {} has two down scripts: {} and {}",
                            m.version,
                            existing.path.display(),
                            down.path.display()
                        ),
                    });
                }
                m.down = Some(down);
            }
            None => inputs.ignore(
                &down.path,
                "down script without an up script of the same version",
            ),
        }
    }
    Ok(())
}
