//! flyway: `V<version>__<description>.sql` versioned, `U<version>__….sql` undo (the down
//! of the V with the same version), `R__<description>.sql` repeatable (applied after all
//! versioned ones, ordered by description). In versions `_` means `.`: `V2_1` is `2.1`.
//! flyway scans its locations recursively, so subdirectories count.
//!
//! Transactions: flyway wraps each PostgreSQL migration in a transaction, except when
//! the script's `.sql.conf` says `executeInTransaction=false`, or when its statements
//! cannot run in one. flyway's PostgreSQL parser knows these by their first words
//! (`CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `VACUUM`,
//! `REINDEX SCHEMA|DATABASE|SYSTEM`, `ALTER SYSTEM`, `CREATE|DROP DATABASE|TABLESPACE|
//! SUBSCRIPTION`, `DISCARD ALL`) and then runs the whole script without a transaction;
//! a script mixing both kinds is refused unless `mixed=true`. We mirror that.
//!
//! `${placeholder}`s stay in the text; the parser masks them.

use super::files::{Inputs, read_optional};
use super::scan::statement_heads;
use super::version::VersionKey;
use super::{Migration, MigrationKind, Script, SourceError, file_migration, strip_suffix};
use std::path::{Path, PathBuf};

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    let mut undos = Vec::new();
    for entry in inputs.entries.clone() {
        let file = entry.file_name();
        if file.ends_with(".sql.conf") || matches!(file, "flyway.conf" | "flyway.toml") {
            continue; // read next to the script they configure, or flyway's own settings
        }
        let Some(stem) = strip_suffix(file, ".sql") else {
            inputs.ignore(&entry.path, "not a .sql file");
            continue;
        };
        let Some(parsed) = parse_name(stem) else {
            let why = if is_callback(stem) {
                "flyway callback script, not a migration"
            } else {
                "not a flyway name (V<version>__<description>.sql, U…, R__…)"
            };
            inputs.ignore(&entry.path, why);
            continue;
        };
        let (prefix, version, description) = parsed;
        if prefix != 'R' && !valid_version(&version) {
            return Err(SourceError::Layout {
                path: entry.path.clone(),
                message: format!(
                    "flyway version {version:?} must be numbers separated by `.` or `_`"
                ),
            });
        }
        let text = inputs.text(&entry.path)?;
        let script = Script::whole_file(&entry.path, text);
        match prefix {
            'U' => undos.push((VersionKey::parse(&version), script)),
            'B' => inputs.ignore(
                &entry.path,
                "flyway baseline migration; only applied to empty databases, not analysed",
            ),
            _ => {
                let in_transaction = in_transaction(inputs, &entry.path, &script)?;
                let mut migration = file_migration(
                    stem.to_string(),
                    version,
                    description,
                    script,
                    None,
                    in_transaction,
                );
                if prefix == 'R' {
                    migration.kind = MigrationKind::Repeatable;
                }
                migrations.push(migration);
            }
        }
    }
    for (version, undo) in undos {
        let target = migrations.iter_mut().find(|m| {
            m.kind == MigrationKind::Versioned && VersionKey::parse(&m.version) == version
        });
        match target {
            Some(m) if m.down.is_some() => {
                return Err(SourceError::Layout {
                    path: undo.path.clone(),
                    message: format!("version {} has two undo scripts", m.version),
                });
            }
            Some(m) => m.down = Some(undo),
            None => inputs.ignore(&undo.path, "undo script without a versioned migration"),
        }
    }
    Ok(migrations)
}

/// `V1.1__users` → ('V', "1.1", "users"); `R__view` → ('R', "", "view").
fn parse_name(stem: &str) -> Option<(char, String, String)> {
    let prefix = stem
        .chars()
        .next()
        .filter(|c| matches!(c, 'V' | 'U' | 'R' | 'B'))?;
    let (version, description) = stem[1..].split_once("__")?;
    if prefix == 'R' {
        return version
            .is_empty()
            .then(|| ('R', String::new(), description.to_string()));
    }
    if version.is_empty() {
        return None;
    }
    Some((prefix, version.replace('_', "."), description.to_string()))
}

/// Whether `stem` looks like a flyway versioned, undo or repeatable migration.
pub(super) fn is_migration_name(stem: &str) -> bool {
    parse_name(stem).is_some_and(|(prefix, version, _)| prefix == 'R' || valid_version(&version))
}

fn valid_version(version: &str) -> bool {
    version
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// flyway's callback scripts (`beforeMigrate.sql`, `afterEachMigrate__log.sql`, …).
fn is_callback(stem: &str) -> bool {
    let event = stem.split("__").next().unwrap_or(stem);
    (event.starts_with("before") || event.starts_with("after") || event == "createSchema")
        && event.chars().all(|c| c.is_ascii_alphanumeric())
}

fn in_transaction(inputs: &mut Inputs, path: &Path, script: &Script) -> Result<bool, SourceError> {
    let conf_path = PathBuf::from(format!("{}.conf", path.display()));
    let conf = read_optional(&conf_path)?;
    if let Some(value) = conf.and_then(|conf| conf_value(&conf, "executeInTransaction")) {
        return match value.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(SourceError::Layout {
                path: conf_path,
                message: format!("executeInTransaction must be true or false, not {other}"),
            }),
        };
    }
    let heads = statement_heads(script.text(), 4);
    let outside = heads.iter().filter(|h| needs_no_transaction(h)).count();
    if outside == 0 {
        return Ok(true);
    }
    if outside < heads.len() {
        inputs.notes.push(format!(
            "{}: mixes statements that cannot run in a transaction with ones that can; \
             flyway refuses this unless `mixed=true`, and then runs it without a transaction",
            path.display()
        ));
    }
    Ok(false)
}

/// Whether flyway runs a statement starting with these (upper-cased) words outside a
/// transaction.
fn needs_no_transaction(head: &[String]) -> bool {
    let words: Vec<&str> = head.iter().map(String::as_str).collect();
    matches!(
        words.as_slice(),
        ["CREATE" | "DROP", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE" | "DROP", "UNIQUE", "INDEX", "CONCURRENTLY", ..]
            | [
                "CREATE" | "DROP",
                "DATABASE" | "TABLESPACE" | "SUBSCRIPTION",
                ..
            ]
            | ["ALTER", "SYSTEM", ..]
            | ["REINDEX", "SCHEMA" | "DATABASE" | "SYSTEM", ..]
            | ["REINDEX", "VERBOSE", "SCHEMA" | "DATABASE" | "SYSTEM", ..]
            | ["VACUUM", ..]
            | ["DISCARD", "ALL", ..]
    )
}

/// `key=value` from a Java-properties style `.conf` file.
fn conf_value(conf: &str, key: &str) -> Option<String> {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed_like_flyway() {
        assert_eq!(
            parse_name("V1.1__users"),
            Some(('V', "1.1".into(), "users".into()))
        );
        assert_eq!(
            parse_name("V2_1__a_b"),
            Some(('V', "2.1".into(), "a_b".into()))
        );
        assert_eq!(
            parse_name("U3__undo"),
            Some(('U', "3".into(), "undo".into()))
        );
        assert_eq!(
            parse_name("R__view"),
            Some(('R', String::new(), "view".into()))
        );
        assert_eq!(parse_name("R1__view"), None);
        assert_eq!(parse_name("V__x"), None);
        assert_eq!(parse_name("beforeMigrate"), None);
        assert!(is_callback("beforeMigrate"));
        assert!(is_callback("afterEachMigrate__audit"));
        assert!(!is_callback("seed_data"));
    }

    #[test]
    fn non_transactional_heads() {
        let head = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(needs_no_transaction(&head(
            "CREATE UNIQUE INDEX CONCURRENTLY"
        )));
        assert!(needs_no_transaction(&head("VACUUM ANALYZE")));
        assert!(!needs_no_transaction(&head("CREATE INDEX IDX")));
        assert!(!needs_no_transaction(&head("REINDEX TABLE T")));
    }
}
