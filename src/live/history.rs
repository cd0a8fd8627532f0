//! Which migrations are applied: each framework's own history table, read the way the
//! framework reads it.
//!
//! | layout | table | applied means |
//! |---|---|---|
//! | diesel | `__diesel_schema_migrations` | a row with the version |
//! | sqlx | `_sqlx_migrations` | a row with the version and `success` |
//! | golang-migrate | `schema_migrations` | version ≤ the single row's version (`dirty`: the last one failed half-way) |
//! | dbmate | `schema_migrations` | a row with the version |
//! | goose | `goose_db_version` | the newest row for the version has `is_applied` |
//! | flyway | `flyway_schema_history` | a row with the version (or script, for repeatables) and `success` |
//! | prisma | `_prisma_migrations` | a row with the name, `finished_at` set, not rolled back |
//! | sql-migrate | `gorp_migrations` | a row with the file name as `id` |

use super::LiveError;
use super::connect::Db;
use crate::source::{Layout, Migration, MigrationKind};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::HashSet;

/// What the history table says.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The table read (as given or the layout's default).
    pub table: Option<String>,
    /// The table exists.
    pub found: bool,
    /// Ids of the applied migrations (in folder order).
    pub applied: Vec<String>,
    /// Ids of the pending migrations (in folder order).
    pub pending: Vec<String>,
    /// Versions the database records that no file matches (deleted or renamed files,
    /// or a history from another branch).
    pub unknown_versions: Vec<String>,
    /// Things to tell the user (e.g. golang-migrate's dirty flag, a missing table).
    pub notes: Vec<String>,
}

/// `1_1`, `001.1` and `1.1` are the same version: groups of digits without leading zeros.
pub fn normalize_version(v: &str) -> String {
    v.split(['.', '_', '-'])
        .filter(|g| !g.is_empty())
        .map(|g| {
            let t = g.trim_start_matches('0');
            if t.is_empty() { "0" } else { t }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Compares two normalized versions group by group, numerically.
fn cmp_versions(a: &str, b: &str) -> Ordering {
    let ga: Vec<&str> = a.split('.').collect();
    let gb: Vec<&str> = b.split('.').collect();
    for (x, y) in ga.iter().zip(gb.iter()) {
        let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if o != Ordering::Equal {
            return o;
        }
    }
    ga.len().cmp(&gb.len())
}

/// `schema.table` or `table` → a quoted, qualified name for SQL.
pub(crate) fn quote_table(name: &str) -> String {
    match name.split_once('.') {
        Some((s, t)) => format!(
            "{}.{}",
            crate::pg::quote_ident(s),
            crate::pg::quote_ident(t)
        ),
        None => crate::pg::quote_ident(name),
    }
}

/// Reads the history table (two queries: existence and columns, then the rows) and splits
/// `migrations` into applied and pending. `table` overrides the layout's default name.
pub fn read(
    db: &mut Db,
    layout: Layout,
    table: Option<&str>,
    migrations: &[Migration],
) -> Result<History, LiveError> {
    let all_ids = || migrations.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
    let Some(table) = table
        .map(str::to_string)
        .or(layout.history_table().map(str::to_string))
    else {
        return Ok(History {
            table: None,
            found: false,
            applied: Vec::new(),
            pending: all_ids(),
            unknown_versions: Vec::new(),
            notes: vec![format!(
                "the {layout} layout keeps no history table: every migration is treated as \
                 pending (name one with --history-table)"
            )],
        });
    };
    let row = db.query_one(
        "looking for the history table",
        "SELECT to_regclass($1)::text, \
                (SELECT array_agg(attname::text) FROM pg_attribute \
                  WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped)",
        &[&quote_table(&table)],
    )?;
    let found: Option<String> = row.get(0);
    let columns: Vec<String> = row.get::<_, Option<Vec<String>>>(1).unwrap_or_default();
    if found.is_none() {
        return Ok(History {
            table: Some(table.clone()),
            found: false,
            applied: Vec::new(),
            pending: all_ids(),
            unknown_versions: Vec::new(),
            notes: vec![format!(
                "history table {table} does not exist: no migration has been applied, all are pending"
            )],
        });
    }
    let has = |c: &str| columns.iter().any(|x| x == c);
    let q = quote_table(&table);
    let mut notes = Vec::new();

    // golang-migrate keeps one row: the current version and whether it failed half-way.
    // dbmate's table has the same name but one row per version; tell them apart by `dirty`.
    if has("dirty") {
        let rows = db.query(
            "reading the history table",
            &format!("SELECT version::text, dirty FROM {q} LIMIT 1"),
            &[],
        )?;
        let (current, dirty) = match rows.first() {
            Some(r) => (
                Some(normalize_version(&r.get::<_, String>(0))),
                r.get::<_, bool>(1),
            ),
            None => (None, false),
        };
        if dirty {
            notes.push(format!(
                "{table} is dirty at version {}: that migration failed half-way and must be \
                 fixed by hand (`migrate force`) before anything runs",
                current.as_deref().unwrap_or("?")
            ));
        }
        let (applied, pending): (Vec<&Migration>, Vec<&Migration>) =
            migrations.iter().partition(|m| match &current {
                Some(c) => cmp_versions(&normalize_version(&m.version), c) != Ordering::Greater,
                None => false,
            });
        let unknown = match &current {
            Some(c)
                if !migrations
                    .iter()
                    .any(|m| &normalize_version(&m.version) == c) =>
            {
                vec![c.clone()]
            }
            _ => Vec::new(),
        };
        return Ok(History {
            table: Some(table),
            found: true,
            applied: applied.iter().map(|m| m.id.clone()).collect(),
            pending: pending.iter().map(|m| m.id.clone()).collect(),
            unknown_versions: unknown,
            notes,
        });
    }

    // Every other format: a set of applied keys.
    let (sql, by_name) = if has("version_id") && has("is_applied") {
        // goose: the newest row per version decides (a down migration adds is_applied = false).
        (
            format!(
                "SELECT v FROM (SELECT DISTINCT ON (version_id) version_id::text AS v, is_applied \
                   FROM {q} ORDER BY version_id, id DESC) g WHERE g.is_applied"
            ),
            false,
        )
    } else if has("migration_name") && has("finished_at") {
        (
            format!(
                "SELECT migration_name::text FROM {q} \
                  WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"
            ),
            true,
        )
    } else if has("installed_rank") && has("success") {
        // flyway: versioned rows by version, repeatables (version NULL) by script name.
        (
            format!(
                "SELECT COALESCE(version::text, 'R:' || script::text) FROM {q} \
                  WHERE success AND type <> 'BASELINE' AND type <> 'SCHEMA'"
            ),
            false,
        )
    } else if has("version") && has("success") {
        (
            format!("SELECT version::text FROM {q} WHERE success"),
            false,
        )
    } else if has("version") {
        (format!("SELECT version::text FROM {q}"), false)
    } else if has("id") && has("applied_at") {
        // sql-migrate: id is the file name.
        (format!("SELECT id::text FROM {q}"), true)
    } else {
        return Err(LiveError::History(format!(
            "{table} has columns ({}) that match no known migration history format; \
             pass the right table with --history-table",
            columns.join(", ")
        )));
    };
    let rows = db.query("reading the history table", &sql, &[])?;
    let keys: HashSet<String> = rows
        .iter()
        .map(|r| {
            let k: String = r.get(0);
            if by_name || k.starts_with("R:") {
                k
            } else {
                normalize_version(&k)
            }
        })
        .collect();
    let key_of = |m: &Migration| -> Vec<String> {
        if by_name {
            let file =
                m.up.path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
            vec![m.id.clone(), file]
        } else if m.kind == MigrationKind::Repeatable {
            let file =
                m.up.path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
            vec![format!("R:{file}")]
        } else {
            vec![normalize_version(&m.version)]
        }
    };
    let mut applied = Vec::new();
    let mut pending = Vec::new();
    let mut matched = HashSet::new();
    for m in migrations {
        let ks = key_of(m);
        if let Some(k) = ks.iter().find(|k| keys.contains(*k)) {
            matched.insert(k.clone());
            applied.push(m.id.clone());
        } else {
            pending.push(m.id.clone());
        }
    }
    let mut unknown: Vec<String> = keys.difference(&matched).cloned().collect();
    unknown.sort();
    if migrations
        .iter()
        .any(|m| m.kind == MigrationKind::Repeatable)
    {
        notes.push(
            "flyway re-applies a repeatable migration whenever its checksum changes; \
             repeatables already recorded are shown as applied"
                .into(),
        );
    }
    // Out-of-order: a pending migration older than an applied one is easy to miss.
    if let Some(last_applied) = migrations.iter().rposition(|m| applied.contains(&m.id)) {
        let late: Vec<&str> = migrations[..last_applied]
            .iter()
            .filter(|m| pending.contains(&m.id))
            .map(|m| m.id.as_str())
            .collect();
        if !late.is_empty() {
            notes.push(format!(
                "pending migrations older than the newest applied one (out of order): {}",
                late.join(", ")
            ));
        }
    }
    Ok(History {
        table: Some(table),
        found: true,
        applied,
        pending,
        unknown_versions: unknown,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_normalise_and_compare_numerically() {
        assert_eq!(normalize_version("1_1"), "1.1");
        assert_eq!(normalize_version("001.10"), "1.10");
        assert_eq!(normalize_version("20240302101500"), "20240302101500");
        assert_eq!(normalize_version("0000"), "0");
        assert_eq!(cmp_versions("9", "10"), Ordering::Less);
        assert_eq!(cmp_versions("1.2", "1.10"), Ordering::Less);
        assert_eq!(cmp_versions("2", "2"), Ordering::Equal);
    }

    #[test]
    fn quotes_history_table_names() {
        assert_eq!(quote_table("goose_db_version"), "\"goose_db_version\"");
        assert_eq!(
            quote_table("app.flyway_schema_history"),
            "\"app\".\"flyway_schema_history\""
        );
    }
}
