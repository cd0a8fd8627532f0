//! gobuffalo/pop and ory/popx: `<version>_<name>[.<dialect>].up.sql` / `.down.sql`
//! (and `.fizz`, pop's own DSL). One version may come in several dialect variants side
//! by side; pop keeps the variant for the connection's dialect (`postgres`, with the
//! synonyms `postgresql` and `pg`) and the generic file (no dialect) only when there is
//! no specific one. mysql, sqlite, cockroach and sqlserver variants are not run on
//! PostgreSQL, so they are not read.
//!
//! Order: pop compares versions as strings (`Migrations.Less`), so does this reader.
//! Transactions: pop runs each migration inside a transaction.
//! `.fizz` files are translated to SQL by pop at run time: we cannot read them, and say so.

use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, Script, SourceError, file_migration};
use std::collections::BTreeMap;

/// One file name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Name<'a> {
    pub version: &'a str,
    pub name: &'a str,
    /// The dialect as written (`postgres`, `mysql`), `None` for the generic file.
    pub dialect: Option<&'a str>,
    pub up: bool,
    pub fizz: bool,
}

/// Parses `<digits>_<name>[.<dialect>].(up|down).(sql|fizz)`, pop's file pattern.
pub(super) fn parse_name(file: &str) -> Option<Name<'_>> {
    let (rest, fizz) = match file.strip_suffix(".sql") {
        Some(rest) => (rest, false),
        None => (file.strip_suffix(".fizz")?, true),
    };
    let (rest, up) = match rest.strip_suffix(".up") {
        Some(rest) => (rest, true),
        None => (rest.strip_suffix(".down")?, false),
    };
    let (version, rest) = leading_digits(rest)?;
    let rest = rest.strip_prefix('_')?;
    let (name, dialect) = match rest.split_once('.') {
        Some((name, dialect)) => (name, Some(dialect)),
        None => (rest, None),
    };
    let dialect_ok = dialect.is_none_or(|d| {
        !d.is_empty()
            && d.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    (!name.is_empty() && dialect_ok).then_some(Name {
        version,
        name,
        dialect,
        up,
        fizz,
    })
}

/// Whether the name is pop-specific: a dialect infix or a `.fizz` file.
pub(super) fn has_dialect_or_fizz(file: &str) -> bool {
    parse_name(file).is_some_and(|n| n.fizz || n.dialect.is_some_and(|d| canonical(d).is_some()))
}

/// Whether the name is a pop variant for another database than PostgreSQL.
pub(super) fn is_other_dialect(file: &str) -> bool {
    parse_name(file)
        .and_then(|n| n.dialect)
        .is_some_and(|d| canonical(d) != Some("postgres"))
}

/// pop's dialect synonyms, reduced to its canonical names.
fn canonical(dialect: &str) -> Option<&'static str> {
    Some(match dialect {
        "postgres" | "postgresql" | "pg" => "postgres",
        "cockroach" | "cockroachdb" | "crdb" => "cockroach",
        "mysql" | "mariadb" => "mysql",
        "sqlite" | "sqlite3" => "sqlite3",
        "sqlserver" | "mssql" => "sqlserver",
        _ => return None,
    })
}

/// The chosen file for one version and direction: specific beats generic.
struct Pick {
    entry: super::files::Entry,
    specific: bool,
    fizz: bool,
}

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    // (version, name) → picks; a version has one up and one down after the choice.
    let mut ups: BTreeMap<(String, String), Vec<Pick>> = BTreeMap::new();
    let mut downs: BTreeMap<String, Vec<Pick>> = BTreeMap::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            inputs.ignore(&entry.path, "in a subdirectory; pop reads one folder level");
            continue;
        }
        let Some(name) = parse_name(entry.file_name()) else {
            inputs.ignore(
                &entry.path,
                "expected <version>_<name>[.<dialect>].up.sql or .down.sql",
            );
            continue;
        };
        let specific = match name.dialect {
            None => false,
            Some(d) if canonical(d) == Some("postgres") => true,
            Some(d) => {
                inputs.ignore(
                    &entry.path,
                    format!("{d} variant; on PostgreSQL pop runs the postgres or the generic file"),
                );
                continue;
            }
        };
        let pick = Pick {
            entry: entry.clone(),
            specific,
            fizz: name.fizz,
        };
        if name.up {
            ups.entry((name.version.to_string(), name.name.to_string()))
                .or_default()
                .push(pick);
        } else {
            downs
                .entry(name.version.to_string())
                .or_default()
                .push(pick);
        }
    }
    // pop decides specific-over-generic per version, whatever the names say.
    let specific_versions: std::collections::HashSet<String> = ups
        .iter()
        .filter(|(_, picks)| picks.iter().any(|p| p.specific))
        .map(|((v, _), _)| v.clone())
        .collect();
    let mut migrations = Vec::new();
    for ((version, name), picks) in ups {
        for pick in picks {
            if !pick.specific && specific_versions.contains(&version) {
                inputs.ignore(
                    &pick.entry.path,
                    "generic file replaced by the postgres variant of this version",
                );
                continue;
            }
            if pick.fizz {
                inputs.warn(format!(
                    "{}: fizz migration (pop translates it to SQL when it runs); not analysed",
                    pick.entry.path.display()
                ));
                continue;
            }
            let text = inputs.text(&pick.entry.path)?;
            let id = pick
                .entry
                .file_name()
                .strip_suffix(".up.sql")
                .unwrap_or(pick.entry.file_name())
                .to_string();
            migrations.push(file_migration(
                id,
                version.clone(),
                name.clone(),
                Script::whole_file(&pick.entry.path, text),
                None,
                true,
            ));
        }
    }
    for (version, picks) in downs {
        let has_specific = picks.iter().any(|p| p.specific);
        let Some(pick) = picks
            .into_iter()
            .find(|p| !p.fizz && p.specific == has_specific)
        else {
            continue;
        };
        if let Some(m) = migrations
            .iter_mut()
            .find(|m| m.version == version && m.down.is_none())
        {
            let text = inputs.text(&pick.entry.path)?;
            m.down = Some(Script::whole_file(&pick.entry.path, text));
        }
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_pop_does() {
        let n = parse_name("20200101000000_users.postgres.up.sql").expect("pop name");
        assert_eq!(
            (n.version, n.name, n.dialect, n.up, n.fizz),
            ("20200101000000", "users", Some("postgres"), true, false)
        );
        let n = parse_name("1_x.down.fizz").expect("fizz");
        assert_eq!((n.dialect, n.up, n.fizz), (None, false, true));
        assert_eq!(parse_name("x.up.sql"), None);
        assert_eq!(parse_name("1_x.Postgres.up.sql"), None);
        assert!(has_dialect_or_fizz("1_x.crdb.up.sql"));
        assert!(!has_dialect_or_fizz("1_x.up.sql"));
    }
}
