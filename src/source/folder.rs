//! Any other folder: every `.sql` file, in path order (the order `ls -R` and a shell glob
//! give), each run as psql runs a file: in autocommit unless the file says `BEGIN`.
//! Chosen when no known layout fits, with a warning naming this assumption.

use super::files::Inputs;
use super::{Migration, Script, SourceError, file_migration, strip_suffix};

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    for entry in inputs.entries.clone() {
        let Some(stem) = strip_suffix(entry.file_name(), ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let text = inputs.text(&entry.path)?;
        let id = entry.rel.with_extension("").to_string_lossy().into_owned();
        migrations.push(file_migration(
            id,
            String::new(),
            stem.to_string(),
            Script::whole_file(&entry.path, text),
            None,
            false,
        ));
    }
    Ok(migrations)
}
