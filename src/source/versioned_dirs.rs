//! Versioned sub-folders: `versioned/v1.0/*.sql`, `versioned/v1.1/*.sql`, … as temporal's
//! SQL schema tool lays them out. Folders are applied in version order (numerically,
//! part by part: `v1.10` after `v1.9`); inside one, the files listed by its
//! `manifest.json` (`SchemaUpdateCqlFiles`) in that order, or every `.sql` file in name
//! order when there is no manifest. The tool sends statements one by one, outside any
//! transaction. Files beside the version folders (a full `schema.sql` for fresh setups)
//! are not part of the versioned history.

use super::files::{Entry, Inputs};
use super::version::VersionKey;
use super::{Migration, Script, SourceError, file_migration};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The version of the folder holding `entry` when it is a versioned sub-folder
/// (`v1.2/x.sql` or `versioned/v1.2/x.sql` relative to the folder read).
pub(super) fn version_of(entry: &Entry) -> Option<String> {
    let parts: Vec<&str> = entry
        .rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap_or(""))
        .collect();
    let dir = match parts.as_slice() {
        [dir, _] => dir,
        ["versioned", dir, _] => dir,
        _ => return None,
    };
    folder_version(dir)
}

/// `v1.2` → `1.2`; `v3` → `3`; `1.2` → `1.2`. Plain numbers without `v` or a dot are
/// not taken (they look like other layouts' migration folders).
fn folder_version(dir: &str) -> Option<String> {
    let (version, prefixed) = match dir.strip_prefix('v') {
        Some(v) => (v, true),
        None => (dir, false),
    };
    let valid = !version.is_empty()
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (valid && (prefixed || version.contains('.'))).then(|| version.to_string())
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    // folder version key → (folder path, version, files in it)
    let mut folders: BTreeMap<VersionKey, (PathBuf, String, Vec<Entry>)> = BTreeMap::new();
    for entry in inputs.entries.clone() {
        let Some(version) = version_of(&entry) else {
            inputs.ignore(
                &entry.path,
                "outside the versioned sub-folders; not part of the versioned history",
            );
            continue;
        };
        let dir = entry.path.parent().map(PathBuf::from).unwrap_or_default();
        let slot = folders
            .entry(VersionKey::parse(&version))
            .or_insert_with(|| (dir.clone(), version.clone(), Vec::new()));
        if slot.0 != dir {
            inputs.warn(format!(
                "{}: duplicate-version: folder version {version} also used by {}; \
                 both are read, in path order",
                dir.display(),
                slot.0.display()
            ));
        }
        slot.2.push(entry);
    }
    let mut migrations = Vec::new();
    for (_, (dir, version, files)) in folders {
        let manifest = dir.join("manifest.json");
        let listed = if files.iter().any(|e| e.path == manifest) {
            let text = inputs.text(&manifest)?;
            Some(
                manifest_files(&text).map_err(|message| SourceError::Layout {
                    path: manifest.clone(),
                    message,
                })?,
            )
        } else {
            None
        };
        let order: Vec<PathBuf> = match &listed {
            Some(names) => {
                for e in &files {
                    let name = e.file_name();
                    if e.path != manifest && !names.iter().any(|n| n == name) {
                        inputs.ignore(&e.path, "not listed in manifest.json");
                    }
                }
                names.iter().map(|n| dir.join(n)).collect()
            }
            None => files
                .iter()
                .filter(|e| e.file_name().ends_with(".sql"))
                .map(|e| e.path.clone())
                .collect(),
        };
        for path in order {
            if !path.is_file() {
                inputs.warn(format!(
                    "{}: listed in manifest.json but missing",
                    path.display()
                ));
                continue;
            }
            let text = inputs.text(&path)?;
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            let name = file.strip_suffix(".sql").unwrap_or(&file).to_string();
            migrations.push(file_migration(
                format!("v{version}/{name}"),
                version.clone(),
                name,
                Script::whole_file(&path, text),
                None,
                false,
            ));
        }
    }
    Ok(migrations)
}

/// The file list of a temporal-style manifest.
fn manifest_files(text: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(list) = value.get("SchemaUpdateCqlFiles") else {
        return Err("no SchemaUpdateCqlFiles list".into());
    };
    list.as_array()
        .ok_or("SchemaUpdateCqlFiles is not a list")?
        .iter()
        .map(|v| match v.as_str() {
            // Only names inside the version folder: never a path that leaves it.
            Some(name) if !name.contains(['/', '\\']) && name != ".." && !name.is_empty() => {
                Ok(name.to_string())
            }
            Some(name) => Err(format!(
                "SchemaUpdateCqlFiles entry {name:?} is not a file name in this folder"
            )),
            None => Err("SchemaUpdateCqlFiles holds a non-string".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn folder_versions() {
        assert_eq!(super::folder_version("v1.10").as_deref(), Some("1.10"));
        assert_eq!(super::folder_version("v3").as_deref(), Some("3"));
        assert_eq!(super::folder_version("2.0").as_deref(), Some("2.0"));
        assert_eq!(super::folder_version("20240101_x"), None);
        assert_eq!(super::folder_version("v1.x"), None);
    }
}
