//! Gathering the files under the paths the user gave, applying `exclude`, and reading
//! them once (detection and the layout readers share the cache).

use super::SourceError;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::HashMap;
use std::fmt::Display;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// One file found under a path argument.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The path as the user will see it (the argument joined with the walked part).
    pub path: PathBuf,
    /// The path relative to the folder whose conventions apply: `001_init.sql`,
    /// `2024-01-01-000000_users/up.sql`. For a file named on the command line it is
    /// `<parent dir name>/<file name>`, so a diesel `up.sql` still knows its migration.
    pub rel: PathBuf,
    /// Named on the command line rather than found by walking a directory.
    pub explicit: bool,
}

impl Entry {
    pub(crate) fn file_name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }

    /// The name of the directory holding the file, as far as `rel` knows it.
    pub(crate) fn parent_name(&self) -> Option<&str> {
        let parent = self.rel.parent()?;
        parent.file_name()?.to_str()
    }

    /// Whether the file sits directly in the migration folder (flat layouts only look there).
    pub(crate) fn at_top(&self) -> bool {
        self.explicit || self.rel.components().count() == 1
    }

    /// Whether the file sits one directory down (`<migration dir>/<file>`), as diesel and
    /// prisma lay them out.
    pub(crate) fn in_migration_dir(&self) -> bool {
        self.rel.components().count() == 2
    }
}

/// The files to load, with a read cache and the notes collected on the way.
pub(crate) struct Inputs {
    pub entries: Vec<Entry>,
    /// The directories given as arguments (to report ones that held no migration).
    pub dirs: Vec<PathBuf>,
    pub notes: Vec<String>,
    /// What must be shown without `--verbose` (see [`super::Loaded::warnings`]).
    pub warnings: Vec<String>,
    /// How many files `exclude` removed, for the "nothing found" message.
    pub excluded: usize,
    cache: HashMap<PathBuf, Arc<str>>,
}

impl Inputs {
    /// Walks `paths` (files are taken as they are, directories recursively) and drops
    /// what `exclude` matches. Hidden files and directories (`.keep`, `.git`) are skipped:
    /// no framework reads them.
    pub(crate) fn collect(paths: &[PathBuf], exclude: &[String]) -> Result<Self, SourceError> {
        let exclude = build_globset(exclude)?;
        let mut inputs = Inputs {
            entries: Vec::new(),
            dirs: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            excluded: 0,
            cache: HashMap::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
            let found = if meta.is_dir() {
                inputs.dirs.push(path.clone());
                walk_dir(path, &mut inputs.warnings)?
            } else if meta.is_file() {
                vec![explicit_entry(path)]
            } else {
                // Reading a FIFO would block until someone writes to it.
                return Err(SourceError::Io {
                    path: path.clone(),
                    source: io::Error::other(format!(
                        "not a regular file ({}); name a migration file or folder",
                        kind_of(&meta.file_type())
                    )),
                });
            };
            for entry in found {
                if is_excluded(&exclude, &entry) {
                    inputs.excluded += 1;
                    continue;
                }
                // The same file reached through two arguments is one migration, not a duplicate.
                let identity = std::fs::canonicalize(&entry.path).unwrap_or(entry.path.clone());
                if seen.insert(identity) {
                    inputs.entries.push(entry);
                }
            }
        }
        Ok(inputs)
    }

    /// Inputs holding one file whose text is given (SQL read from stdin), named `path`.
    pub(crate) fn from_text(path: &Path, text: &str) -> Self {
        let mut cache = HashMap::new();
        cache.insert(path.to_path_buf(), Arc::from(text));
        Inputs {
            entries: vec![explicit_entry(path)],
            dirs: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            excluded: 0,
            cache,
        }
    }

    /// The file's text, read once. Fails on unreadable or non-UTF-8 files.
    pub(crate) fn text(&mut self, path: &Path) -> Result<Arc<str>, SourceError> {
        if let Some(text) = self.cache.get(path) {
            return Ok(text.clone());
        }
        let text = read_text(path)?;
        self.cache.insert(path.to_path_buf(), text.clone());
        Ok(text)
    }

    /// Records something the user must see even without `--verbose`.
    pub(crate) fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    /// Records that a file was left out and why; nothing is dropped without a word.
    pub(crate) fn ignore(&mut self, path: &Path, why: impl Display) {
        self.notes
            .push(format!("{}: ignored: {why}", path.display()));
    }
}

/// Reads a file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<Arc<str>, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text.into()),
        Err(e) => Err(SourceError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        }),
    }
}

/// Reads an optional side file (diesel `metadata.toml`, flyway `.sql.conf`).
pub(crate) fn read_optional(path: &Path) -> Result<Option<Arc<str>>, SourceError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => read_text(path).map(Some),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

pub(crate) fn io_error(path: &Path, e: io::Error) -> SourceError {
    if e.kind() == io::ErrorKind::NotFound {
        SourceError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        SourceError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

fn build_globset(patterns: &[String]) -> Result<GlobSet, SourceError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| SourceError::BadExclude {
            pattern: pattern.clone(),
            message: e.kind().to_string(),
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| SourceError::BadExclude {
        pattern: patterns.join(", "),
        message: e.kind().to_string(),
    })
}

/// A pattern may name the file or any directory above it, written either as the user
/// sees the path (`db/migrations/2019-*`) or relative to the migration folder (`2019-*`).
fn is_excluded(exclude: &GlobSet, entry: &Entry) -> bool {
    if exclude.is_empty() {
        return false;
    }
    let full = without_curdir(&entry.path);
    let hit = |p: &Path| !p.as_os_str().is_empty() && exclude.is_match(p);
    full.ancestors().any(hit) || entry.rel.ancestors().any(hit)
}

/// `./db/x.sql` → `db/x.sql`, so patterns written without `./` still match.
fn without_curdir(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn explicit_entry(path: &Path) -> Entry {
    let file = path.file_name().map(PathBuf::from).unwrap_or_default();
    let rel = match path.parent().and_then(|p| p.file_name()) {
        Some(parent) => Path::new(parent).join(&file),
        None => file,
    };
    Entry {
        path: path.to_path_buf(),
        rel,
        explicit: true,
    }
}

fn walk_dir(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<Entry>, SourceError> {
    // A folder that is itself one diesel or prisma migration keeps its own name in `rel`.
    let single_migration = ["up.sql", "migration.sql"]
        .iter()
        .any(|f| dir.join(f).is_file());
    let base = if single_migration {
        dir.file_name().map(PathBuf::from)
    } else {
        None
    };
    let mut entries = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for item in walker {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                if e.loop_ancestor().is_some() {
                    // Following it would never end; every file is still reached once.
                    warnings.push(format!(
                        "{}: symbolic link loop (points to a directory above it); not followed",
                        path.display()
                    ));
                    continue;
                }
                if e.depth() == 0 {
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| io::Error::other("walk failed"));
                    return Err(io_error(&path, source));
                }
                warnings.push(format!("{}: cannot be read; skipped: {e}", path.display()));
                continue;
            }
        };
        let file_type = item.file_type();
        if file_type.is_dir() {
            continue;
        }
        let path = item.path().to_path_buf();
        if !file_type.is_file() {
            warnings.push(format!(
                "{}: not a regular file ({}); not read",
                path.display(),
                kind_of(&file_type)
            ));
            continue;
        }
        if item.file_name().to_str().is_none() {
            warnings.push(format!(
                "{}: file name is not valid UTF-8; not read (no migration tool we know \
                 matches such a name against its pattern; rename it)",
                path.display()
            ));
            continue;
        }
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
        let rel = match &base {
            Some(base) => base.join(rel),
            None => rel,
        };
        entries.push(Entry {
            path,
            rel,
            explicit: false,
        });
    }
    Ok(entries)
}

/// What a non-regular file is, for messages.
#[cfg(not(unix))]
fn kind_of(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// What a non-regular file is, for messages.
#[cfg(unix)]
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else if file_type.is_symlink() {
        "a dangling symbolic link"
    } else {
        "not a file"
    }
}
