//! `V<version>.<name>.up.sql` / `V<version>.<name>.down.sql`: version and name separated
//! by dots, as authelia names its migrations (`V0001.Initial_Schema.up.sql`). The
//! runner parses the version as an integer and runs each migration in a transaction.

use super::files::Inputs;
use super::version::{VersionKey, leading_digits};
use super::{Migration, Script, SourceError, file_migration};

/// `(version, name, up)` from `V0001.Name.up.sql`.
pub(super) fn parse_name(file: &str) -> Option<(&str, &str, bool)> {
    let rest = file.strip_suffix(".sql")?;
    let (rest, up) = match rest.strip_suffix(".up") {
        Some(rest) => (rest, true),
        None => (rest.strip_suffix(".down")?, false),
    };
    let rest = rest.strip_prefix('V').or_else(|| rest.strip_prefix('v'))?;
    let (version, rest) = leading_digits(rest)?;
    let name = rest.strip_prefix('.')?;
    (!name.is_empty()).then_some((version, name, up))
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    let mut downs = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(&entry.path, "in a subdirectory; read one folder level");
            continue;
        }
        let Some((version, name, up)) = parse_name(entry.file_name()) else {
            inputs.ignore(
                &entry.path,
                "expected V<version>.<name>.up.sql or .down.sql",
            );
            continue;
        };
        let script = Script::whole_file(&entry.path, inputs.text(&entry.path)?);
        if up {
            let id = entry.file_name().trim_end_matches(".up.sql").to_string();
            migrations.push(file_migration(
                id,
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
    super::golang_migrate::attach_downs(inputs, &mut migrations, downs)?;
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dotted_names() {
        assert_eq!(
            super::parse_name("V0001.Initial_Schema.up.sql"),
            Some(("0001", "Initial_Schema", true))
        );
        assert_eq!(super::parse_name("V2.x.down.sql"), Some(("2", "x", false)));
        assert_eq!(super::parse_name("V2__x.sql"), None);
        assert_eq!(super::parse_name("0001.x.up.sql"), None);
    }
}
