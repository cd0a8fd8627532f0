//! History integrity: `lockstep.lock` records a checksum of every migration that exists,
//! so that `lint` can tell when a migration that databases may already have applied was
//! edited, removed or renamed, or when a new migration sorts before the recorded ones.
//!
//! Where the file lives: next to `lockstep.yaml` when there is one (the project's root,
//! where the configuration already is), otherwise in the parent of the migrations folder
//! (`db/migrations` → `db/lockstep.lock`, diesel's `migrations/` → the crate root), so it
//! sits beside the folder it describes without being mistaken for a migration. Paths inside
//! are relative to the file's directory, with `/` separators, so it can be committed.
//!
//! What is hashed: the migration's up script (for goose, dbmate and sql-migrate the up
//! section of the file, so fixing a down section is not an "edit"), normalised so that
//! line endings and trailing whitespace do not count: CRLF and CR become LF, trailing
//! whitespace is removed from every line, trailing blank lines and a byte-order mark are
//! dropped. Flyway repeatable migrations (`R__…`) are meant to change and are not recorded.

use crate::analyze::{Analysis, inline_migration};
use crate::rules::{self, Direction, Emitter, Finding};
use crate::settings::Settings;
use crate::source::{Migration, MigrationKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use similar::{DiffTag, TextDiff};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file name.
pub const FILE_NAME: &str = "lockstep.lock";

/// Errors reading or writing the lock file (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a lockstep.lock file: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The contents of `lockstep.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// Format version (1).
    pub version: u32,
    /// Recorded migrations, in apply order.
    pub migrations: Vec<Entry>,
}

/// One recorded migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The framework's identifier, e.g. `2024-03-02-101500_email_idx`.
    pub id: String,
    /// The version part used for ordering.
    pub version: String,
    /// The up script's file, relative to the lock file's directory.
    pub path: String,
    /// Hex SHA-256 of the normalised up script.
    pub sha256: String,
}

/// The text as hashed: LF line endings, no trailing whitespace on any line, no trailing
/// blank lines, no byte-order mark.
pub fn normalise(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<&str> = unified.lines().map(str::trim_end).collect();
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    let mut s = out.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

/// Hex SHA-256 of the normalised text.
pub fn checksum(text: &str) -> String {
    Sha256::digest(normalise(text).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where `lockstep.lock` belongs: the configuration file's directory, else the parent of
/// the (first) migrations folder. A file argument stands for the folder that holds it.
pub fn locate(config_path: Option<&Path>, paths: &[PathBuf]) -> PathBuf {
    if let Some(dir) = config_path.and_then(Path::parent) {
        return dir.join(FILE_NAME);
    }
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let first = std::fs::canonicalize(&first).unwrap_or(first);
    let folder = if first.is_file() {
        first.parent().map(Path::to_path_buf).unwrap_or(first)
    } else {
        first
    };
    folder
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(folder)
        .join(FILE_NAME)
}

/// `path` relative to `dir` with `/` separators, when it is inside it; else as given.
fn relative(dir: &Path, path: &Path) -> String {
    let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let rel = canon.strip_prefix(&dir).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

/// The lock file for `migrations`, with paths relative to `lock_dir`.
pub fn record(migrations: &[Migration], lock_dir: &Path) -> LockFile {
    LockFile {
        version: 1,
        migrations: migrations
            .iter()
            .filter(|m| m.kind == MigrationKind::Versioned)
            .map(|m| Entry {
                id: m.id.clone(),
                version: m.version.clone(),
                path: relative(lock_dir, &m.up.path),
                sha256: checksum(m.up.text()),
            })
            .collect(),
    }
}

/// Reads a lock file; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<LockFile>, LockError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // The lock file comes with the repository (a pull request can change it).
    crate::config::refuse_yaml_aliases(&text).map_err(|(line, message)| LockError::Parse {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    })?;
    let lock: LockFile = serde_yaml::from_str(&text).map_err(|e| LockError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if lock.version != 1 {
        return Err(LockError::Parse {
            path: path.to_path_buf(),
            message: format!(
                "format version {} is not supported (this lockstep writes version 1)",
                lock.version
            ),
        });
    }
    Ok(Some(lock))
}

/// Writes a lock file, with a header comment saying what it is.
pub fn write(path: &Path, lock: &LockFile) -> Result<(), LockError> {
    let body = serde_yaml::to_string(lock).map_err(|e| LockError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let text = format!(
        "# lockstep.lock: checksums of the migrations that exist, written by `lockstep lock`.\n\
         # Commit it. `lockstep lint` reports a recorded migration that was edited, removed or\n\
         # renamed, and a new migration that sorts before the recorded ones.\n{body}"
    );
    std::fs::write(path, text).map_err(|source| LockError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// How the current folder differs from the lock file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Recorded migrations whose up script changed: (entry, current migration's index).
    pub edited: Vec<(Entry, usize)>,
    /// Recorded migrations now under another id (same version, or same content):
    /// (entry, current migration's index).
    pub renamed: Vec<(Entry, usize)>,
    /// Recorded migrations whose file is gone and that were not renamed.
    pub removed: Vec<Entry>,
    /// New migrations that sort before the newest recorded one: (index, newest recorded id).
    pub out_of_order: Vec<(usize, String)>,
}

/// Compares the migrations found now with the lock file. A recorded migration whose file
/// still exists but was not loaded (excluded, or not under the paths given) is neither
/// edited nor removed: it was simply not looked at.
pub fn compare(lock: &LockFile, lock_dir: &Path, migrations: &[Migration]) -> Drift {
    let mut drift = Drift::default();
    let versioned: Vec<(usize, &Migration)> = migrations
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == MigrationKind::Versioned)
        .collect();
    let by_id: BTreeMap<&str, usize> = versioned.iter().map(|(i, m)| (m.id.as_str(), *i)).collect();
    let by_version: BTreeMap<&str, usize> = versioned
        .iter()
        .map(|(i, m)| (m.version.as_str(), *i))
        .collect();
    let sums: BTreeMap<usize, String> = versioned
        .iter()
        .map(|(i, m)| (*i, checksum(m.up.text())))
        .collect();
    let mut matched: BTreeSet<usize> = BTreeSet::new();
    let mut unmatched: Vec<&Entry> = Vec::new();
    for e in &lock.migrations {
        if let Some(&i) = by_id.get(e.id.as_str()) {
            matched.insert(i);
            if sums.get(&i) != Some(&e.sha256) {
                drift.edited.push((e.clone(), i));
            }
        } else if let Some(&i) = by_version
            .get(e.version.as_str())
            .filter(|_| !e.version.is_empty())
        {
            matched.insert(i);
            drift.renamed.push((e.clone(), i));
            if sums.get(&i) != Some(&e.sha256) {
                drift.edited.push((e.clone(), i));
            }
        } else {
            unmatched.push(e);
        }
    }
    for e in unmatched {
        // Same content under a new version and name: a rename.
        let same = sums
            .iter()
            .find(|(i, s)| *s == &e.sha256 && !matched.contains(*i))
            .map(|(i, _)| *i);
        match same {
            Some(i) => {
                matched.insert(i);
                drift.renamed.push((e.clone(), i));
            }
            None if !lock_dir.join(&e.path).exists() => drift.removed.push(e.clone()),
            None => {}
        }
    }
    // Out of order: new migrations placed before the newest recorded one that still exists.
    if let Some(&newest) = matched.iter().max() {
        let newest_id = migrations
            .get(newest)
            .map(|m| m.id.clone())
            .unwrap_or_default();
        for (i, _) in &versioned {
            if *i < newest && !matched.contains(i) {
                drift.out_of_order.push((*i, newest_id.clone()));
            }
        }
    }
    drift
}

/// The recorded version of a file from git, for the diff: the `since` ref when given, else
/// the newest of HEAD and the last commits touching the file whose content has the
/// recorded checksum, else HEAD when it differs from the file now.
fn recorded_text(path: &Path, recorded_sum: &str, since: Option<&str>) -> Option<(String, String)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path.file_name()?.to_string_lossy().into_owned();
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // `--end-of-options`: a ref that looks like an option (`--output=FILE`) stays a ref.
    let show = |rev: &str| git(&["show", "--end-of-options", &format!("{rev}:./{file}")]);
    if let Some(r) = since {
        return show(r).map(|t| (r.to_string(), t));
    }
    let mut revs = vec!["HEAD".to_string()];
    if let Some(log) = git(&["log", "--format=%h", "-n", "20", "--", &file]) {
        revs.extend(log.lines().map(str::to_string));
    }
    for rev in &revs {
        if let Some(text) = show(rev).filter(|t| checksum(t) == recorded_sum) {
            return Some((rev.clone(), text));
        }
    }
    show("HEAD").map(|t| ("HEAD".to_string(), t))
}

/// The unified diff from `old` to `new` (normalised, so whitespace-only changes that the
/// checksum ignores do not show) and the byte range of the first changed line in `new`.
fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> Option<(String, usize)> {
    let (o, n) = (normalise(old), normalise(new));
    if o == n {
        return None;
    }
    let diff = TextDiff::from_lines(o.as_str(), n.as_str());
    let first_line = diff
        .ops()
        .iter()
        .find(|op| op.tag() != DiffTag::Equal)
        .map(|op| op.new_range().start)
        .unwrap_or(0);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(old_name, new_name)
        .to_string()
        .trim_end()
        .to_string();
    Some((text, first_line))
}

/// Byte range of 0-based line `line` of `source` (clamped to the last line).
fn line_span(source: &str, line: usize) -> Range<usize> {
    let mut start = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        let end = start + l.trim_end_matches(['\n', '\r']).len();
        if i == line {
            return start..end;
        }
        start += l.len();
    }
    start..start
}

/// Adds the history findings (`edited-migration`, `removed-migration`,
/// `out-of-order-migration`) for `migrations` against the lock file to `analysis`, and the
/// sources they point into. `since` is `--since`: the git ref to diff edits against.
pub fn check_into(
    analysis: &mut Analysis,
    lock: &LockFile,
    lock_path: &Path,
    migrations: &[Migration],
    since: Option<&str>,
    settings: &Settings,
) {
    let lock_dir = lock_path.parent().unwrap_or(Path::new("."));
    let drift = compare(lock, lock_dir, migrations);
    let lock_name = crate::report::display_path(lock_path);
    let mut findings: Vec<Finding> = Vec::new();
    let mut sources: Vec<(PathBuf, Arc<str>)> = Vec::new();

    if let Some(meta) = rules::meta("edited-migration") {
        for (entry, i) in &drift.edited {
            let Some(m) = migrations.get(*i) else {
                continue;
            };
            let path = &m.up.path;
            let shown = crate::report::display_path(path);
            let mut span = line_span(&m.up.source, 0);
            let help = match recorded_text(path, &entry.sha256, since) {
                Some((rev, old)) => match unified(
                    &old,
                    &m.up.source,
                    &format!("{shown} ({rev})"),
                    &format!("{shown} (now)"),
                ) {
                    Some((diff, line)) => {
                        span = line_span(&m.up.source, line);
                        format!(
                            "databases that applied {} ran the recorded version, not this one; undo \
                             the edit and put the change in a new migration (run `lockstep lock` \
                             only if no database has applied it). Changes since {rev}:\n{diff}",
                            m.id
                        )
                    }
                    None => edited_help(&m.id, entry),
                },
                None => edited_help(&m.id, entry),
            };
            let mut em = Emitter::new(meta, settings, m, Direction::Up, path, &mut findings);
            em.emit(
                span,
                None,
                format!(
                    "migration {} was edited after {lock_name} recorded it",
                    m.id
                ),
                Some("changed since it was recorded".into()),
                Some(help),
            );
            sources.push((path.clone(), m.up.source.clone()));
        }
    }

    if let Some(meta) = rules::meta("removed-migration") {
        for (entry, i) in &drift.renamed {
            let Some(m) = migrations.get(*i) else {
                continue;
            };
            let span = line_span(&m.up.source, 0);
            let mut em = Emitter::new(meta, settings, m, Direction::Up, &m.up.path, &mut findings);
            em.emit(
                span,
                None,
                format!(
                    "recorded migration {} was renamed to {} ({} → {})",
                    entry.id,
                    m.id,
                    entry.path,
                    relative(lock_dir, &m.up.path)
                ),
                Some(format!("recorded in {lock_name} as {}", entry.id)),
                Some(
                    "frameworks that identify migrations by name or checksum treat a renamed \
                     migration as a new one and run it again, or refuse to migrate; restore the \
                     old name, or run `lockstep lock` if no database has applied it"
                        .into(),
                ),
            );
            sources.push((m.up.path.clone(), m.up.source.clone()));
        }
        for entry in &drift.removed {
            let placeholder = inline_migration(0, &entry.id, "", true);
            let mut placeholder = placeholder;
            placeholder.id = entry.id.clone();
            let path = lock_dir.join(&entry.path);
            let mut em = Emitter::new(
                meta,
                settings,
                &placeholder,
                Direction::Up,
                &path,
                &mut findings,
            );
            em.emit(
                0..0,
                None,
                format!(
                    "recorded migration {} ({}) no longer exists",
                    entry.id, entry.path
                ),
                None,
                Some(format!(
                    "databases that applied it keep its changes, new databases will not get them, \
                     and the framework may refuse to migrate a database whose history names a \
                     missing migration; restore it (`git checkout -- {}`), or run `lockstep lock` \
                     if it was removed on purpose (a squash)",
                    entry.path
                )),
            );
        }
    }

    if let Some(meta) = rules::meta("out-of-order-migration") {
        for (i, newest) in &drift.out_of_order {
            let Some(m) = migrations.get(*i) else {
                continue;
            };
            let span = line_span(&m.up.source, 0);
            let mut em = Emitter::new(meta, settings, m, Direction::Up, &m.up.path, &mut findings);
            em.emit(
                span,
                None,
                format!(
                    "new migration {} sorts before {newest}, the newest recorded migration",
                    m.id
                ),
                Some(format!("version {} < the recorded {newest}", m.version)),
                Some(format!(
                    "databases that already applied {newest} skip it or refuse to migrate \
                     (goose without --allow-missing, flyway without outOfOrder); give it a \
                     version after {newest}"
                )),
            );
            sources.push((m.up.path.clone(), m.up.source.clone()));
        }
    }

    for (p, s) in sources {
        analysis.sources.entry(p).or_insert(s);
    }
    analysis.findings.extend(findings);
    analysis
        .findings
        .sort_by(|a, b| (&a.path, a.span.start, &a.rule).cmp(&(&b.path, b.span.start, &b.rule)));
}

fn edited_help(id: &str, entry: &Entry) -> String {
    format!(
        "databases that applied {id} ran the recorded version (sha256 {}…), not this one; undo \
         the edit and put the change in a new migration, or run `lockstep lock` if no database \
         has applied it",
        entry.sha256.get(..12).unwrap_or(&entry.sha256)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_line_endings_and_trailing_whitespace() {
        assert_eq!(
            checksum("CREATE TABLE a (id int);  \r\n\r\n"),
            checksum("CREATE TABLE a (id int);\n")
        );
        assert_ne!(
            checksum("CREATE TABLE a (id int);"),
            checksum("CREATE TABLE a (id bigint);")
        );
        assert_eq!(normalise("\u{feff}a \nb\t\n\n"), "a\nb\n");
    }

    #[test]
    fn diff_points_at_the_first_changed_line() {
        let (d, line) = unified("a\nb\nc\n", "a\nB\nc\n", "old", "new").unwrap_or_default();
        assert_eq!(line, 1);
        assert!(d.contains("-b\n+B\n"), "{d}");
        assert_eq!(line_span("a\nB\nc\n", 1), 2..3);
    }
}
