//! `lockstep sizes`: a snapshot of table sizes (row estimates and bytes from the server's
//! statistics) written as `lockstep.sizes.yaml`, so a CI job without access to production
//! still gets size-aware severities. `lint` reads the file when it is present (or
//! `--sizes FILE`) and says how old it is.
//!
//! The snapshot is read-only (the session is set `default_transaction_read_only`) and takes
//! a constant number of queries whatever the number of tables: one listing, one statistics
//! query with every name as an array parameter (`live::stats`), one for the clock.

use super::{EXIT_ERROR, print_error};
use crate::live::connect::{self, Db};
use crate::live::stats;
use crate::ops::ObjName;
use crate::settings::{Settings, TableSize};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The default file name, looked for beside lockstep.yaml, else in the working directory.
pub const DEFAULT_FILE: &str = "lockstep.sizes.yaml";
/// The file format's version.
pub const FORMAT_VERSION: u32 = 1;
/// Older snapshots than this are reported as a warning rather than a note.
const STALE_DAYS: u64 = 30;

#[derive(Debug, Args)]
pub struct SizesArgs {
    /// The database: a postgres:// URL or libpq key=value string. Default: DATABASE_URL,
    /// then the PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE variables.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Only tables in these schemas (repeatable). Default: every non-system schema.
    #[arg(long, value_name = "SCHEMA")]
    pub schema: Vec<String>,
}

/// One table in the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeEntry {
    pub schema: String,
    pub table: String,
    /// `reltuples` (the planner's estimate); absent when the table was never analysed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// `pg_total_relation_size`: heap, indexes and TOAST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// The file `lockstep sizes` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizesFile {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// When the statistics were read (server clock), UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub taken_at: String,
    /// The database they come from, password removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `server_version_num` (e.g. 150004).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version_num: Option<u32>,
    pub tables: Vec<SizeEntry>,
}

/// Runs `lockstep sizes`: prints the snapshot YAML on stdout.
pub fn run(args: &SizesArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run_inner(args: &SizesArgs) -> miette::Result<()> {
    let params = connect::from_flag_or_env(args.database_url.as_deref(), &connect::process_env)
        .map_err(super::dry_run::live_report)?
        .ok_or_else(|| {
            miette::miette!(
                help = "pass --database-url postgres://user@host/db, or set DATABASE_URL or PGHOST/PGDATABASE",
                "no database named"
            )
        })?;
    let mut db = Db::connect(&params).map_err(super::dry_run::live_report)?;
    let (file, queries) = snapshot(&mut db, &args.schema).map_err(super::dry_run::live_report)?;
    print!("{}", to_yaml(&file, queries));
    Ok(())
}

/// Reads the sizes of every table (of `schemas`, when given) in a constant number of
/// queries, returned with the number of queries sent.
pub fn snapshot(
    db: &mut Db,
    schemas: &[String],
) -> Result<(SizesFile, u64), crate::live::LiveError> {
    let before = db.queries();
    // Nothing this command sends writes; the session setting makes sure of it.
    db.batch(
        "making the session read-only",
        "SET default_transaction_read_only = on",
    )?;
    let mut tables = stats::all_tables(db)?;
    if !schemas.is_empty() {
        tables.retain(|t| schemas.contains(&t.schema));
    }
    let found = stats::fetch(db, &tables, false)?;
    let row = db.query_one(
        "reading the server clock and version",
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                current_setting('server_version_num')::int4",
        &[],
    )?;
    let taken_at: String = row.get(0);
    let version: i32 = row.get(1);
    let entries = tables
        .iter()
        .filter_map(|t| found.get(t))
        .filter(|s| s.exists)
        .map(|s| SizeEntry {
            schema: s.table.schema.clone(),
            table: s.table.name.clone(),
            rows: s.estimated_rows,
            bytes: s.total_bytes,
        })
        .collect();
    Ok((
        SizesFile {
            version: FORMAT_VERSION,
            taken_at,
            source: Some(db.target.clone()),
            server_version_num: u32::try_from(version).ok(),
            tables: entries,
        },
        db.queries() - before,
    ))
}

/// The snapshot as YAML, with a header saying what it is.
pub fn to_yaml(file: &SizesFile, queries: u64) -> String {
    let body = serde_yaml::to_string(file).unwrap_or_default();
    format!(
        "# Table sizes for lockstep (`lockstep sizes`): planner estimates and on-disk bytes\n\
         # from the server's statistics, read-only, {queries} queries. `lockstep lint` reads\n\
         # this file when it sits beside lockstep.yaml or in the working directory.\n{body}"
    )
}

/// Reads and checks a sizes file; errors name the file and, for YAML errors, the line.
pub fn load(path: &Path) -> Result<SizesFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let file: SizesFile = serde_yaml::from_str(&text).map_err(|e| match e.location() {
        Some(l) => format!("{}:{}:{}: {e}", path.display(), l.line(), l.column()),
        None => format!("{}: {e}", path.display()),
    })?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "{}: version {} is not supported (this lockstep reads version {FORMAT_VERSION}); \
             write it again with `lockstep sizes`",
            path.display(),
            file.version
        ));
    }
    if parse_utc(&file.taken_at).is_none() {
        return Err(format!(
            "{}: taken_at {:?} is not a UTC time like 2024-03-02T10:15:00Z",
            path.display(),
            file.taken_at
        ));
    }
    Ok(file)
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// Seconds since the epoch now (0 if the clock is before it).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// "3 days", "5 hours", "12 minutes", "moments".
fn age_text(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s >= 86_400 => plural(s / 86_400, "day"),
        s if s >= 3600 => plural(s / 3600, "hour"),
        s if s >= 60 => plural(s / 60, "minute"),
        _ => "moments".into(),
    }
}

/// The sizes file `lint` uses: `explicit` (must exist), else `lockstep.sizes.yaml` beside
/// the configuration file, else in the working directory; `None` when there is none.
pub fn find(explicit: Option<&Path>, config_path: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let beside_config = config_path
        .and_then(Path::parent)
        .map(|d| d.join(DEFAULT_FILE));
    let here = std::env::current_dir().ok().map(|d| d.join(DEFAULT_FILE));
    beside_config.into_iter().chain(here).find(|p| p.is_file())
}

/// Adds the snapshot's sizes to `settings` for tables `lockstep.yaml` does not size itself
/// (a hand-written hint wins over a measurement), and returns what to tell the user: the
/// file, its age, and a warning when it is older than 30 days.
pub fn apply(file: &SizesFile, path: &Path, settings: &mut Settings, now: u64) -> String {
    let mut added = 0;
    for e in &file.tables {
        let name = ObjName::new(e.schema.clone(), e.table.clone());
        if settings.tables.contains_key(&name) {
            continue;
        }
        settings.tables.insert(
            name,
            TableSize {
                rows: e.rows,
                bytes: e.bytes,
            },
        );
        added += 1;
    }
    let taken = parse_utc(&file.taken_at).unwrap_or(now);
    let age = now.saturating_sub(taken);
    let (level, advice) = if age > STALE_DAYS * 86_400 {
        (
            "warning",
            "; sizes may have changed since: run `lockstep sizes` again",
        )
    } else {
        ("note", "")
    };
    format!(
        "{level}: table sizes from {} (taken {} ago, {}; {} of {} tables used){advice}",
        crate::report::display_path(path),
        age_text(age),
        file.taken_at,
        added,
        file.tables.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_parse_to_epoch_seconds() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2024-03-02T10:15:00Z"), Some(1_709_374_500));
        assert_eq!(parse_utc("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_utc("2024-13-02T10:15:00Z"), None);
        assert_eq!(parse_utc("2024-03-02 10:15:00"), None);
        assert_eq!(parse_utc("2024-03-02T1a:15:00Z"), None);
    }

    #[test]
    fn ages_read_as_words() {
        assert_eq!(age_text(30), "moments");
        assert_eq!(age_text(3 * 86_400 + 5), "3 days");
        assert_eq!(age_text(3600), "1 hour");
    }
}
