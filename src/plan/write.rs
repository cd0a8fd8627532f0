//! `lockstep plan --write DIR`: the steps as new migration files in the user's own layout,
//! with each framework's switch for running a file outside a transaction.
//!
//! A backfill becomes two migrations: one that creates the checkpoint table and the
//! procedure (transactional), and one that only `CALL`s it (non-transactional: the
//! procedure commits per batch, which PostgreSQL refuses inside a transaction block, and
//! a multi-statement simple query is one implicit transaction block).
//! Existing files are never overwritten.
//!
//! Names in the plan come from migration files a pull request can change. Comment lines
//! go through [`quote::line_comment`], and before anything is written every file is
//! checked ([`files`]): each statement must read as exactly one statement, no comment may
//! end early, no line may look like the framework's own annotations, no NUL anywhere, and
//! every file name stays inside the target directory. [`write_files`] then writes all the
//! files or none: every target is checked first, the contents go to temporary files in
//! the target directories, and only when all of them are complete are they linked into
//! place; on any failure whatever was created is removed again.

use super::quote;
use super::{Plan, StepKind};
use crate::parse::split;
use crate::source::Layout;
use std::path::{Component, Path, PathBuf};

/// Why files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{0}: already exists; lockstep never overwrites a migration (choose another --write directory or remove it); nothing was written"
    )]
    Exists(PathBuf),
    #[error("{path}: cannot write: {source}; nothing was written")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A generated file would not mean what the plan says (a hostile name, or SQL lockstep
    /// cannot vouch for). Nothing is written.
    #[error("{path}: lockstep will not write this file: {reason}; nothing was written")]
    Unsafe { path: PathBuf, reason: String },
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

/// The header as `--` comment lines; names in it cannot break out of their line.
fn comment(header: &[String]) -> String {
    header
        .iter()
        .map(|h| format!("{}\n", quote::line_comment(h)))
        .collect()
}

/// The annotation prefix a line-oriented framework reads inside SQL files.
fn marker_prefix(layout: Layout) -> Option<&'static str> {
    match layout {
        Layout::Goose => Some("+goose"),
        Layout::SqlMigrate => Some("+migrate"),
        Layout::Dbmate => Some("migrate:"),
        _ => None,
    }
}

/// A short, printable excerpt of `s` for messages.
fn excerpt(s: &str) -> String {
    let one: String = s.chars().take(80).collect();
    format!("{:?}", one)
}

/// Checks that a generated statement reads as exactly itself (see [`check_statement`]);
/// for code that sends plan statements to a server rather than writing them to files.
pub fn verify_statement(stmt: &str) -> Result<(), String> {
    check_statement(stmt, Layout::Plain)
}

/// Checks that `stmt` reads as exactly the one statement it is meant to be.
fn check_statement(stmt: &str, layout: Layout) -> Result<(), String> {
    if stmt.contains('\0') {
        return Err(format!(
            "a statement contains a NUL character: {}",
            excerpt(stmt)
        ));
    }
    // A generated string may hold several statements (the backfill bookkeeping), each
    // ending with `;` at the end of a line. One that carries a dollar-quoted body must be
    // exactly one statement: a name that contains the body's tag would end the body early
    // and turn the rest into top-level SQL, which is what this catches.
    let pieces = split::split(stmt, &[]);
    let ends_at_line_end = |end: usize| {
        let rest = stmt.get(end..).unwrap_or("");
        let rest = rest.trim_start_matches([' ', '\t']);
        rest.is_empty()
            || rest == ";"
            || rest.starts_with(";\n")
            || (rest.starts_with(';') && rest[1..].trim().is_empty())
    };
    let clean = !pieces.is_empty()
        && pieces
            .iter()
            .all(|p| p.error.is_none() && ends_at_line_end(p.span.end));
    let allowed = if quote::dollar_quoted_strings(stmt) > 0 {
        1
    } else {
        usize::MAX
    };
    if !clean || pieces.len() > allowed {
        return Err(format!(
            "a statement would be read as {} statements (a name containing quotes, a dollar-quote tag or a comment marker?): {}",
            pieces.len(),
            excerpt(stmt)
        ));
    }
    if let Some(at) = quote::comment_ends_early(stmt) {
        return Err(format!(
            "a comment in a statement contains a carriage return, so PostgreSQL would run the rest of its line: {}",
            excerpt(&stmt[at.saturating_sub(40)..])
        ));
    }
    if let Some(marker) = marker_prefix(layout) {
        for line in stmt.lines().skip(1) {
            let l = line.trim_start();
            if let Some(c) = l.strip_prefix("--")
                && c.trim_start().starts_with(marker)
            {
                return Err(format!(
                    "a line inside a statement would be read as a {} annotation: {}",
                    layout.name(),
                    excerpt(line)
                ));
            }
        }
    }
    Ok(())
}

/// Checks a planned file's name and contents.
fn check_file(f: &PlannedFile) -> Result<(), WriteError> {
    let unsafe_ = |reason: String| WriteError::Unsafe {
        path: f.path.clone(),
        reason,
    };
    for c in f.path.components() {
        match c {
            Component::Normal(part) => {
                let part = part
                    .to_str()
                    .ok_or_else(|| unsafe_("the file name is not UTF-8".into()))?;
                quote::file_component(part).map_err(|e| unsafe_(e.to_string()))?;
            }
            _ => return Err(unsafe_("the file name leaves the target directory".into())),
        }
    }
    if f.contents.contains('\0') {
        return Err(unsafe_("the file would contain a NUL character".into()));
    }
    Ok(())
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
///
/// Every statement and file is checked before it is returned (see the module comment):
/// an error here means no file of the plan may be written.
pub fn files(
    plan: &Plan,
    layout: Layout,
    existing: &[String],
    now_secs: u64,
) -> Result<Vec<PlannedFile>, WriteError> {
    // Layouts read from real repositories (pop, sqitch, …) are written as the closest simple one.
    let layout = layout.written_as();
    let units = units(plan);
    let versions = next_versions(layout, existing, units.len(), now_secs);
    let mut out = Vec::new();
    for (u, v) in units.iter().zip(versions) {
        let name = format!("{v}_{}", u.slug);
        let first = out.len();
        let check = u
            .statements
            .iter()
            .try_for_each(|s| check_statement(s, layout));
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
            | Layout::Folder
            | Layout::Rails
            | Layout::Alembic
            | Layout::Typeorm
            | Layout::Knex => out.push(PlannedFile {
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
        if let Err(reason) = check {
            let path = out
                .get(first)
                .map(|f: &PlannedFile| f.path.clone())
                .unwrap_or_else(|| PathBuf::from(&name));
            return Err(WriteError::Unsafe { path, reason });
        }
    }
    for f in &out {
        check_file(f)?;
    }
    Ok(out)
}

/// True when anything (a file, a directory, a dangling symlink) is at `p`.
fn occupied(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

/// Writes `files` under `dir`: all of them or none.
///
/// First every target is checked (a safe relative name, nothing at the path — dangling
/// symlinks included —, no existing migration directory, no two files at one path). Then
/// the contents go to temporary files next to their targets, and only when all are
/// complete are they moved into place without overwriting (link, then unlink). On any
/// failure the files already placed, the temporary files and the directories this call
/// created are removed, so the target folder is as it was.
pub fn write_files(dir: &Path, files: &[PlannedFile]) -> Result<Vec<PathBuf>, WriteError> {
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut new_dirs: Vec<PathBuf> = Vec::new();
    for f in files {
        check_file(f)?;
        let p = dir.join(&f.path);
        if occupied(&p) {
            return Err(WriteError::Exists(p));
        }
        if targets.contains(&p) {
            return Err(WriteError::Unsafe {
                path: f.path.clone(),
                reason: "two files of the plan would have this name".into(),
            });
        }
        // A migration directory (diesel, prisma) that exists already is a clash too.
        if let Some(parent) = f.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let d = dir.join(parent);
            if !new_dirs.contains(&d) {
                if occupied(&d) {
                    return Err(WriteError::Exists(d));
                }
                new_dirs.push(d);
            }
        }
        targets.push(p);
    }
    if occupied(dir) && !dir.is_dir() {
        return Err(WriteError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "exists and is not a directory",
            ),
        });
    }

    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let mut placed: Vec<PathBuf> = Vec::new();
    let result = place_all(
        dir,
        files,
        &targets,
        &new_dirs,
        &mut created_dirs,
        &mut placed,
    );
    if result.is_err() {
        undo(&placed, &created_dirs);
    }
    result.map(|()| placed)
}

/// Removes what a failed [`place_all`] created (its temporary files are gone already:
/// they are deleted when dropped).
fn undo(placed: &[PathBuf], created_dirs: &[PathBuf]) {
    for p in placed.iter().rev() {
        let _ = std::fs::remove_file(p);
    }
    // Deepest first; `remove_dir` only removes empty directories, so nothing that someone
    // else put there meanwhile is lost.
    for d in created_dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// The writing half of [`write_files`]; records what it creates for the cleanup.
fn place_all(
    dir: &Path,
    files: &[PlannedFile],
    targets: &[PathBuf],
    new_dirs: &[PathBuf],
    created_dirs: &mut Vec<PathBuf>,
    placed: &mut Vec<PathBuf>,
) -> Result<(), WriteError> {
    use std::io::Write;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| WriteError::Io { path, source }
    };
    // The target directory and any missing parents, outermost first.
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(x) = d.filter(|x| !x.as_os_str().is_empty() && !occupied(x)) {
        missing.push(x.to_path_buf());
        d = x.parent();
    }
    for m in missing.into_iter().rev() {
        std::fs::create_dir(&m).map_err(io(&m))?;
        created_dirs.push(m);
    }
    for d in new_dirs {
        std::fs::create_dir(d).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists(d.clone())
            } else {
                WriteError::Io {
                    path: d.clone(),
                    source,
                }
            }
        })?;
        created_dirs.push(d.clone());
    }
    let mut temps = Vec::new();
    for (f, target) in files.iter().zip(targets) {
        let parent = target.parent().unwrap_or(dir);
        let mut builder = tempfile::Builder::new();
        builder.prefix(".lockstep-").suffix(".tmp");
        // Like any new file (0666 less the umask), not tempfile's private 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let mut tmp = builder.tempfile_in(parent).map_err(io(parent))?;
        tmp.write_all(f.contents.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io(target))?;
        temps.push((tmp, target));
    }
    for (tmp, target) in temps {
        tmp.persist_noclobber(target).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists(target.clone())
            } else {
                WriteError::Io {
                    path: target.clone(),
                    source: e.error,
                }
            }
        })?;
        placed.push(target.clone());
    }
    Ok(())
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

    fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e.path().display().to_string(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// A target that appears between the checks and the placing (another process): the
    /// files placed before it, the temporary files and the new directories are removed.
    #[test]
    fn a_failure_while_placing_undoes_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("keep.txt"), "mine").unwrap();
        let files = vec![
            PlannedFile {
                path: "0001_a.sql".into(),
                contents: "SELECT 1;\n".into(),
            },
            PlannedFile {
                path: PathBuf::from("0002_b").join("up.sql"),
                contents: "SELECT 2;\n".into(),
            },
            PlannedFile {
                path: "0003_c.sql".into(),
                contents: "SELECT 3;\n".into(),
            },
        ];
        assert!(write_files(&dir, &files[..0]).is_ok());
        // The clash that the checks would have caught, created after them.
        std::fs::write(dir.join("0003_c.sql"), "someone else's").unwrap();
        let before = listing(&dir);
        let targets: Vec<PathBuf> = files.iter().map(|f| dir.join(&f.path)).collect();
        let (mut created, mut placed) = (Vec::new(), Vec::new());
        let r = place_all(
            &dir,
            &files,
            &targets,
            &[dir.join("0002_b")],
            &mut created,
            &mut placed,
        );
        assert!(matches!(r, Err(WriteError::Exists(_))), "{r:?}");
        assert_eq!(placed.len(), 2, "two files were in place before the clash");
        undo(&placed, &created);
        assert_eq!(listing(&dir), before, "byte-identical after the failure");
    }

    #[test]
    fn header_comments_stay_comments() {
        let h = vec!["lockstep plan for m\nDROP TABLE x;\r\u{2028}".to_string()];
        let c = comment(&h);
        assert_eq!(c.lines().count(), 1, "{c:?}");
        assert!(c.starts_with("-- lockstep plan for m\\n"), "{c:?}");
    }

    #[test]
    fn statements_must_read_as_themselves() {
        let ok = [
            "SET lock_timeout = '2s';",
            "ALTER TABLE \"a;\nb\" ADD COLUMN \"c--\r\" int;",
            "CREATE SCHEMA IF NOT EXISTS lockstep;\nCREATE TABLE IF NOT EXISTS lockstep.x (a int);",
            "DO $lockstep_2$\nBEGIN PERFORM '$lockstep$'; END\n$lockstep_2$;",
        ];
        for s in ok {
            assert!(check_statement(s, Layout::Plain).is_ok(), "{s:?}");
        }
        let bad = [
            // A name holding the body's tag ends the body early.
            "DO $lockstep$\nBEGIN PERFORM '$lockstep$;\nDROP TABLE t;\nSELECT $lockstep$'; END\n$lockstep$;",
            // Two statements on one line.
            "SELECT 1; DROP TABLE t;",
            // An unterminated quote swallows the rest.
            "SELECT 'a;",
            "SELECT 1\0;",
            // A carriage return ends a comment inside a body.
            "DO $x$\n-- on t\rDROP TABLE t;\nBEGIN END\n$x$;",
        ];
        for s in bad {
            assert!(check_statement(s, Layout::Plain).is_err(), "{s:?}");
        }
        let marker = "ALTER TABLE \"a\n-- +goose Down\" ADD c int;";
        assert!(check_statement(marker, Layout::Plain).is_ok());
        assert!(check_statement(marker, Layout::Goose).is_err());
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(
            slug("add \"Users\".status as a nullable column"),
            "add_users_status_as_a_nullable_column"
        );
    }
}
