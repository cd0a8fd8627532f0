//! diesel: `migrations/<version>_<name>/up.sql`, optional `down.sql`, optional
//! `metadata.toml` whose `run_in_transaction = false` makes diesel run `up.sql` outside
//! its per-migration transaction.
//!
//! diesel's version is the directory name up to the first `_`, with `-` removed
//! (`2024-03-02-101500_email_idx` → `20240302101500`): that is what it stores in
//! `__diesel_schema_migrations`.

use super::files::{Inputs, read_optional};
use super::{Migration, Script, SourceError, file_migration};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Dir {
    up: Option<PathBuf>,
    down: Option<PathBuf>,
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    // Keyed by the migration directory's path so files of one migration meet.
    let mut dirs: BTreeMap<PathBuf, Dir> = BTreeMap::new();
    for entry in inputs.entries.clone() {
        let dir_path = entry
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if !entry.in_migration_dir() {
            if entry.rel.components().count() == 1 {
                if entry.file_name() == "diesel.toml" {
                    continue;
                }
                inputs.ignore(
                    &entry.path,
                    "diesel migrations are directories (<version>_<name>/up.sql)",
                );
            } else {
                inputs.ignore(
                    &entry.path,
                    "nested too deep for a diesel migration directory",
                );
            }
            continue;
        }
        let dir = dirs.entry(dir_path).or_default();
        match entry.file_name() {
            "up.sql" => dir.up = Some(entry.path.clone()),
            "down.sql" => dir.down = Some(entry.path.clone()),
            "metadata.toml" => {}
            _ => inputs.ignore(&entry.path, "not one of up.sql, down.sql, metadata.toml"),
        }
    }

    let mut migrations = Vec::new();
    for (dir_path, dir) in dirs {
        let dir_name = dir_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let Some(up_path) = dir.up else {
            if dir.down.is_some() {
                // diesel refuses to run a migration directory without up.sql.
                return Err(SourceError::Layout {
                    path: dir_path,
                    message: "diesel migration directory without up.sql".into(),
                });
            }
            inputs.ignore(&dir_path, "no up.sql in this directory");
            continue;
        };
        let (version, name) = match dir_name.split_once('_') {
            Some((version, name)) => (version, name),
            None => (dir_name.as_str(), ""),
        };
        let version = version.replace('-', "");
        let up = Script::whole_file(&up_path, inputs.text(&up_path)?);
        let down = match dir.down {
            Some(path) => Some(Script::whole_file(&path, inputs.text(&path)?)),
            None => None,
        };
        let metadata_path = dir_path.join("metadata.toml");
        let in_transaction = match read_optional(&metadata_path)? {
            Some(text) => run_in_transaction(&text).map_err(|message| SourceError::Layout {
                path: metadata_path.clone(),
                message,
            })?,
            None => true,
        };
        migrations.push(file_migration(
            dir_name.clone(),
            version,
            name.to_string(),
            up,
            down,
            in_transaction,
        ));
    }
    Ok(migrations)
}

/// Reads `run_in_transaction` from metadata.toml; the only key diesel defines there.
/// A tiny line reader is enough: the file is flat `key = value` pairs.
fn run_in_transaction(toml: &str) -> Result<bool, String> {
    for (index, line) in toml.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().trim_matches('"') == "run_in_transaction" {
            return match value.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(format!(
                    "line {}: run_in_transaction must be true or false, not {other}",
                    index + 1
                )),
            };
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::run_in_transaction;

    #[test]
    fn metadata_key_is_read() {
        assert_eq!(
            run_in_transaction("run_in_transaction = false\n"),
            Ok(false)
        );
        assert_eq!(
            run_in_transaction("# note\nrun_in_transaction=true # yes"),
            Ok(true)
        );
        assert_eq!(run_in_transaction(""), Ok(true));
        assert!(run_in_transaction("run_in_transaction = \"no\"").is_err());
    }
}
