//! Atlas: `<version>_<name>.sql` files next to `atlas.sum` (the directory's checksum
//! file). Atlas reads the `.sql` files of the folder itself (not sub-folders), sorted
//! by file name, and runs each file in its own transaction unless the file starts with
//! the `-- atlas:txmode none` directive.

use super::files::Inputs;
use super::{Migration, Script, SourceError, file_migration, strip_suffix};

/// Whether the file's header directives turn the transaction off.
fn no_transaction(text: &str) -> bool {
    text.lines()
        .take_while(|l| l.trim_start().starts_with("--") || l.trim().is_empty())
        .any(|l| {
            let words: Vec<&str> = l
                .trim_start_matches(['-', ' '])
                .split_whitespace()
                .collect();
            words.first() == Some(&"atlas:txmode") && words.get(1) == Some(&"none")
        })
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut entries: Vec<_> = inputs.entries.clone();
    // Atlas sorts by file name; walking already gives name order, this makes it explicit.
    entries.sort_by(|a, b| a.file_name().cmp(b.file_name()));
    let mut migrations = Vec::new();
    for entry in entries {
        let file = entry.file_name();
        if file == "atlas.sum" {
            continue;
        }
        if !entry.at_top() {
            inputs.ignore(
                &entry.path,
                "in a subdirectory; atlas reads one folder level",
            );
            continue;
        }
        let Some(stem) = strip_suffix(file, ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let (version, name) = stem.split_once('_').unwrap_or((stem, ""));
        let text = inputs.text(&entry.path)?;
        let in_transaction = !no_transaction(&text);
        migrations.push(file_migration(
            stem.to_string(),
            version.to_string(),
            name.to_string(),
            Script::whole_file(&entry.path, text),
            None,
            in_transaction,
        ));
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    #[test]
    fn txmode_directive() {
        assert!(super::no_transaction(
            "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(!super::no_transaction(
            "CREATE TABLE t ();\n-- atlas:txmode none\n"
        ));
    }
}
