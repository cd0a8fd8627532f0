//! `lockstep plan --write DIR`: the steps as new migration files in the user's own layout,
//! with each framework's switch for running a file outside a transaction.
//!
//! A backfill becomes two migrations: one that creates the checkpoint table and the
//! procedure (transactional), and one that only `CALL`s it (non-transactional: the
//! procedure commits per batch, which PostgreSQL refuses inside a transaction block, and
//! a multi-statement simple query is one implicit transaction block).
//! Existing files are never overwritten.

use super::{Plan, StepKind};
use crate::source::Layout;
use std::path::{Path, PathBuf};

/// Why files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{0}: already exists; lockstep never overwrites a migration (choose another --write directory or remove it)"
    )]
    Exists(PathBuf),
    #[error("{path}: cannot write: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One migration file (or directory) to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the --write directory.
    pub path: PathBuf,
    pub contents: String,
}

/// One migration-to-be: a piece of a step.
struct Unit {
    slug: String,
    statements: Vec<String>,
    transactional: bool,
    header: Vec<String>,
}

fn slug(title: &str) -> String {
    let mut s = String::new();
    for ch in title.chars() {
        if ch.is_ascii_alphanumeric() {
            s.push(ch.to_ascii_lowercase());
        } else if !s.ends_with('_') && !s.is_empty() {
            s.push('_');
        }
        if s.len() >= 40 {
            break;
        }
    }
    s.trim_end_matches('_').to_string()
}

fn units(plan: &Plan) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut pending_deploy: Option<String> = None;
    for step in &plan.steps {
        if step.kind == StepKind::Deploy {
            pending_deploy = Some(step.title.clone());
            continue;
        }
        let mut header = vec![format!(
            "lockstep plan for {}, step {} ({}): {}",
            plan.migration,
            step.id,
            step.phase.as_str(),
            step.title
        )];
        if let Some(d) = pending_deploy
            .take()
            .or_else(|| step.requires_deploy.clone())
        {
            header.push(format!("run only after this deploy: {d}"));
        }
        for l in &step.locks {
            header.push(format!("lock: {} on {} ({})", l.mode, l.table, l.duration));
        }
        if let Some(r) = &step.retry {
            header.push(format!(
                "on lock_timeout (SQLSTATE 55P03): retry up to {} attempts, waiting {} ms and doubling",
                r.attempts, r.initial_backoff_ms
            ));
        }
        match (&step.backfill, step.kind) {
            (Some(b), StepKind::Backfill) => {
                out.push(Unit {
                    slug: format!("{}_setup", slug(&format!("backfill {}", b.table))),
                    statements: vec![b.checkpoint_table_sql(), b.procedure_sql()],
                    transactional: true,
                    header: header.clone(),
                });
                out.push(Unit {
                    slug: slug(&format!("backfill {}", b.table)),
                    statements: vec![b.call_sql()],
                    transactional: false,
                    header,
                });
            }
            _ => out.push(Unit {
                slug: slug(&step.title),
                statements: step.statements.clone(),
                transactional: step.transactional,
                header,
            }),
        }
    }
    out
}

/// Whole seconds since the epoch as `YYYYMMDDHHMMSS` parts (UTC).
fn utc_parts(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Versions for `count` new migrations after `existing` (the folder's versions):
/// sequential numbers when the folder numbers sequentially, timestamps otherwise.
pub fn next_versions(
    layout: Layout,
    existing: &[String],
    count: usize,
    now_secs: u64,
) -> Vec<String> {
    let numeric: Option<Vec<u64>> = existing.iter().map(|v| v.parse::<u64>().ok()).collect();
    let sequential = numeric
        .as_ref()
        .filter(|n| !n.is_empty() && n.iter().all(|v| *v < 10_000_000_000))
        .map(|n| n.iter().copied().max().unwrap_or(0));
    if let (Some(max), false) = (sequential, layout == Layout::Diesel) {
        let width = existing.iter().map(|v| v.len()).max().unwrap_or(1);
        return (1..=count as u64)
            .map(|i| format!("{:0width$}", max + i, width = width))
            .collect();
    }
    // Never before the newest existing timestamp.
    let newest = numeric
        .as_ref()
        .and_then(|n| n.iter().copied().max())
        .unwrap_or(0);
    (0..count as u64)
        .map(|i| {
            let (y, mo, d, h, mi, s) = utc_parts(now_secs + i);
            let mut v = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
            if let Ok(n) = v.parse::<u64>()
                && n <= newest
            {
                v = (newest + 1 + i).to_string();
            }
            if layout == Layout::Diesel && v.len() == 14 {
                format!("{}-{}-{}-{}", &v[0..4], &v[4..6], &v[6..8], &v[8..14])
            } else {
                v
            }
        })
        .collect()
}

/// A statement that holds semicolons of its own (function bodies, DO blocks).
fn compound(stmt: &str) -> bool {
    stmt.trim_end().trim_end_matches(';').contains(';')
}

fn comment(header: &[String]) -> String {
    header.iter().map(|h| format!("-- {h}\n")).collect()
}

/// Statements for layouts that send a file as one simple query: a file that must not run in
/// a transaction may hold only one statement, so the session SETs are left out (kept as a comment).
fn single_statement(u: &Unit) -> (Vec<String>, Vec<String>) {
    if u.transactional || u.statements.len() <= 1 {
        return (u.statements.clone(), Vec::new());
    }
    let (sets, rest): (Vec<String>, Vec<String>) = u
        .statements
        .iter()
        .cloned()
        .partition(|s| s.starts_with("SET "));
    let notes = sets
        .iter()
        .map(|s| format!("left out (this file must hold one statement): {s}"))
        .collect();
    (rest, notes)
}

/// The files for `plan` in `layout`. `existing` are the folder's current versions.
pub fn files(plan: &Plan, layout: Layout, existing: &[String], now_secs: u64) -> Vec<PlannedFile> {
    // Layouts read from real repositories (pop, sqitch, …) are written as the closest simple one.
    let layout = layout.written_as();
    let units = units(plan);
    let versions = next_versions(layout, existing, units.len(), now_secs);
    let mut out = Vec::new();
    for (u, v) in units.iter().zip(versions) {
        let name = format!("{v}_{}", u.slug);
        let body = u.statements.join("\n\n");
        match layout {
            // The read-only layouts never reach here (`written_as` above); listed for the compiler.
            Layout::Plain
            | Layout::Pop
            | Layout::Dotted
            | Layout::VersionedDirs
            | Layout::Drizzle
            | Layout::Liquibase
            | Layout::Sqitch
            | Layout::Atlas
            | Layout::Folder => out.push(PlannedFile {
                path: PathBuf::from(format!("{name}.sql")),
                contents: format!(
                    "{}{}{body}\n",
                    comment(&u.header),
                    if u.transactional {
                        ""
                    } else {
                        "-- must run outside a transaction (psql autocommit)\n"
                    }
                ),
            }),
            Layout::Diesel => {
                out.push(PlannedFile {
                    path: PathBuf::from(&name).join("up.sql"),
                    contents: format!("{}{body}\n", comment(&u.header)),
                });
                out.push(PlannedFile {
                    path: PathBuf::from(&name).join("down.sql"),
                    contents: "-- This step of a lockstep plan has no automatic rollback.\n".into(),
                });
                if !u.transactional {
                    out.push(PlannedFile {
                        path: PathBuf::from(&name).join("metadata.toml"),
                        contents: "run_in_transaction = false\n".into(),
                    });
                }
            }
            Layout::Sqlx => out.push(PlannedFile {
                path: PathBuf::from(format!("{name}.sql")),
                contents: format!(
                    "{}{}{body}\n",
                    if u.transactional {
                        ""
                    } else {
                        "-- no-transaction\n"
                    },
                    comment(&u.header)
                ),
            }),
            Layout::GolangMigrate | Layout::Prisma => {
                let (stmts, notes) = single_statement(u);
                let mut header = u.header.clone();
                header.extend(notes);
                let contents = format!("{}{}\n", comment(&header), stmts.join("\n\n"));
                if layout == Layout::Prisma {
                    out.push(PlannedFile {
                        path: PathBuf::from(&name).join("migration.sql"),
                        contents,
                    });
                } else {
                    out.push(PlannedFile {
                        path: PathBuf::from(format!("{name}.up.sql")),
                        contents,
                    });
                    out.push(PlannedFile {
                        path: PathBuf::from(format!("{name}.down.sql")),
                        contents: "-- This step of a lockstep plan has no automatic rollback.\n"
                            .into(),
                    });
                }
            }
            Layout::Goose | Layout::SqlMigrate => {
                let (marker, no_tx, begin, end, down) = if layout == Layout::Goose {
                    (
                        "-- +goose Up",
                        "-- +goose NO TRANSACTION\n",
                        "-- +goose StatementBegin",
                        "-- +goose StatementEnd",
                        "-- +goose Down",
                    )
                } else {
                    (
                        "-- +migrate Up",
                        "",
                        "-- +migrate StatementBegin",
                        "-- +migrate StatementEnd",
                        "-- +migrate Down",
                    )
                };
                let up_marker = if layout == Layout::SqlMigrate && !u.transactional {
                    "-- +migrate Up notransaction".to_string()
                } else {
                    marker.to_string()
                };
                let stmts: Vec<String> = u
                    .statements
                    .iter()
                    .map(|s| {
                        if compound(s) {
                            format!("{begin}\n{s}\n{end}")
                        } else {
                            s.clone()
                        }
                    })
                    .collect();
                out.push(PlannedFile {
                    path: PathBuf::from(format!("{name}.sql")),
                    contents: format!(
                        "{}{}{up_marker}\n{}\n\n{down}\n",
                        if u.transactional { "" } else { no_tx },
                        comment(&u.header),
                        stmts.join("\n\n")
                    ),
                });
            }
            Layout::Dbmate => out.push(PlannedFile {
                path: PathBuf::from(format!("{name}.sql")),
                contents: format!(
                    "{}-- migrate:up{}\n{body}\n\n-- migrate:down\n",
                    comment(&u.header),
                    if u.transactional {
                        ""
                    } else {
                        " transaction:false"
                    }
                ),
            }),
            Layout::Flyway => out.push(PlannedFile {
                path: PathBuf::from(format!("V{v}__{}.sql", u.slug)),
                contents: format!("{}{body}\n", comment(&u.header)),
            }),
        }
    }
    out
}

/// Writes `files` under `dir`, refusing (before writing anything) if any exists.
pub fn write_files(dir: &Path, files: &[PlannedFile]) -> Result<Vec<PathBuf>, WriteError> {
    for f in files {
        let p = dir.join(&f.path);
        if p.exists() {
            return Err(WriteError::Exists(p));
        }
        // A migration directory (diesel, prisma) that exists already is a clash too.
        if let Some(parent) = f.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let d = dir.join(parent);
            if d.exists() {
                return Err(WriteError::Exists(d));
            }
        }
    }
    let mut written = Vec::new();
    for f in files {
        let p = dir.join(&f.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|source| WriteError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    return WriteError::Exists(p.clone());
                }
                WriteError::Io {
                    path: p.clone(),
                    source,
                }
            })
            .and_then(|mut f2| {
                f2.write_all(f.contents.as_bytes())
                    .map(|_| f2)
                    .map_err(|source| WriteError::Io {
                        path: p.clone(),
                        source,
                    })
            })?;
        let _ = file.flush();
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_folder() {
        assert_eq!(
            next_versions(Layout::Plain, &["0001".into(), "0002".into()], 2, 0),
            vec!["0003", "0004"]
        );
        // 2024-03-02 10:15:00 UTC
        let t = 1_709_374_500;
        assert_eq!(
            next_versions(Layout::Goose, &["20200101000000".into()], 1, t),
            vec!["20240302101500"]
        );
        assert_eq!(
            next_versions(Layout::Diesel, &["20200101000000".into()], 1, t),
            vec!["2024-03-02-101500"]
        );
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(
            slug("add \"Users\".status as a nullable column"),
            "add_users_status_as_a_nullable_column"
        );
    }
}
