//! Report: render an [`Analysis`] in one of the output formats. One file per format.

use crate::analyze::Analysis;
use crate::rules::Finding;
use crate::settings::{Settings, Severity};
use crate::source::Layout;

pub mod codeclimate;
pub mod gcc;
pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod pretty;
pub mod sarif;

/// Output formats of `lockstep lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Pretty,
    Json,
    Sarif,
    Github,
    Gcc,
    /// GitLab Code Quality (Code Climate JSON).
    Codeclimate,
    /// JUnit XML, one test case per statement.
    Junit,
    /// Markdown for a pull-request comment.
    Markdown,
}

/// What a report needs besides the analysis.
pub struct ReportContext<'a> {
    pub analysis: &'a Analysis,
    pub settings: &'a Settings,
    pub layout: Layout,
    /// Colour and Unicode art (pretty format only).
    pub color: bool,
}

/// Renders the analysis in `format`.
pub fn render(format: Format, cx: &ReportContext) -> String {
    match format {
        Format::Pretty => pretty::render(cx),
        Format::Json => json::render(cx),
        Format::Sarif => sarif::render(cx),
        Format::Github => github::render(cx),
        Format::Gcc => gcc::render(cx),
        Format::Codeclimate => codeclimate::render(cx),
        // `lint` passes its --fail-on and the plans (see cli/lint.rs); these are the defaults.
        Format::Junit => junit::render(cx, Severity::Error),
        Format::Markdown => markdown::render(cx, &[]),
    }
}

/// Writes the analysis in `format` to `out` (JSON and pretty as they are produced).
pub fn write(
    format: Format,
    cx: &ReportContext,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Pretty => pretty::write(cx, out),
        Format::Json => json::write(cx, out),
        other => out.write_all(render(other, cx).as_bytes()),
    }
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }

    /// This summary with one more finding of `severity`.
    pub fn with(mut self, severity: Severity) -> Summary {
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Where a finding is, in 1-based lines and columns; `end` is the position of the last
/// character of the span (inclusive), as editors and SARIF expect `endColumn` exclusive +1.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    /// 1-based column just past the span's end.
    pub end_column: usize,
}

pub fn position(source: &str, span: &std::ops::Range<usize>) -> Position {
    let (line, column) = line_col(source, span.start);
    let (end_line, end_column) = line_col(source, span.end);
    Position {
        line,
        column,
        end_line,
        end_column,
    }
}

/// Position of a finding using the analysis' stored sources. Scans the file from its
/// start: a renderer with many findings uses [`Files`] instead.
pub fn finding_position(analysis: &Analysis, f: &Finding) -> Position {
    match analysis.sources.get(&f.path) {
        Some(src) => position(src, &f.span),
        None => Position::START,
    }
}

impl Position {
    /// Line 1, column 1: where a finding of no known file points.
    pub const START: Position = Position {
        line: 1,
        column: 1,
        end_line: 1,
        end_column: 1,
    };
}

/// The byte offsets at which the lines of one text start, so that a position costs a
/// binary search and a scan of one line instead of a scan from the start of the file.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Offset of the first byte of each line; `starts[0] == 0`.
    starts: Vec<usize>,
    /// The text has a carriage return not followed by a line feed: miette counts it as a
    /// line break and this index does not, so snippets take the whole text.
    pub(crate) lone_cr: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut lone_cr = false;
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => lone_cr = true,
                _ => {}
            }
        }
        LineIndex { starts, lone_cr }
    }

    /// Number of lines as `str::lines` counts them (a final line feed ends the last line).
    pub fn line_count(&self, text: &str) -> usize {
        if text.is_empty() {
            0
        } else if text.ends_with('\n') {
            self.starts.len() - 1
        } else {
            self.starts.len()
        }
    }

    /// 0-based line of a byte offset (`offset` within the text).
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// Offset of the start of 0-based line `line` (the text's length past the last line).
    pub(crate) fn start_of(&self, line: usize, text: &str) -> usize {
        self.starts.get(line).copied().unwrap_or(text.len())
    }

    /// 1-based line and column (in characters) of a byte offset; the same as [`line_col`].
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let start = self.start_of(line, text);
        let col = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line + 1, col)
    }

    /// The same as [`position`].
    pub fn position(&self, text: &str, span: &std::ops::Range<usize>) -> Position {
        let (line, column) = self.line_col(text, span.start);
        let (end_line, end_column) = self.line_col(text, span.end);
        Position {
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// One file a report shows: its text, line index and displayed name.
pub struct FileInfo<'a> {
    pub source: &'a std::sync::Arc<str>,
    pub lines: LineIndex,
    /// The path as [`display_path`] shows it.
    pub shown: String,
}

/// The analysis' files, each indexed once for a whole report (line starts, displayed
/// path), looked up by path in a hash map instead of scanning or comparing paths.
pub struct Files<'a> {
    files: Vec<FileInfo<'a>>,
    by_path: std::collections::HashMap<&'a std::path::Path, usize>,
    cwd: Option<std::path::PathBuf>,
}

impl<'a> Files<'a> {
    pub fn new(analysis: &'a Analysis) -> Files<'a> {
        let cwd = std::env::current_dir().ok();
        let mut files = Vec::with_capacity(analysis.sources.len());
        let mut by_path = std::collections::HashMap::with_capacity(analysis.sources.len());
        for (path, source) in &analysis.sources {
            by_path.insert(path.as_path(), files.len());
            files.push(FileInfo {
                source,
                lines: LineIndex::new(source),
                shown: display_path_from(path, cwd.as_deref()),
            });
        }
        Files {
            files,
            by_path,
            cwd,
        }
    }

    /// The file at `path`, when the analysis read it.
    pub fn get(&self, path: &std::path::Path) -> Option<&FileInfo<'a>> {
        self.by_path.get(path).map(|&i| &self.files[i])
    }

    /// Where `span` is in the file at `path` ([`Position::START`] for an unknown file).
    pub fn position(&self, path: &std::path::Path, span: &std::ops::Range<usize>) -> Position {
        match self.get(path) {
            Some(f) => f.lines.position(f.source, span),
            None => Position::START,
        }
    }

    /// `path` as users see it ([`display_path`]), computed once per file.
    pub fn shown(&self, path: &std::path::Path) -> std::borrow::Cow<'_, str> {
        match self.get(path) {
            Some(f) => std::borrow::Cow::Borrowed(f.shown.as_str()),
            None => std::borrow::Cow::Owned(display_path_from(path, self.cwd.as_deref())),
        }
    }
}

/// Path as shown to users: relative to the current directory (with `..` when it lies
/// outside it), `/` separators.
pub fn display_path(p: &std::path::Path) -> String {
    display_path_from(p, std::env::current_dir().ok().as_deref())
}

/// [`display_path`] with the working directory already known.
pub(crate) fn display_path_from(p: &std::path::Path, cwd: Option<&std::path::Path>) -> String {
    let shown = cwd
        .and_then(|cwd| relative_to(p, cwd))
        .unwrap_or_else(|| p.to_path_buf());
    let s = shown.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// `path` relative to `base` (both made absolute against `base` first); `None` when they
/// share no root (another drive).
pub fn relative_to(path: &std::path::Path, base: &std::path::Path) -> Option<std::path::PathBuf> {
    use std::path::{Component, PathBuf};
    let abs = |p: &std::path::Path| -> PathBuf {
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        // Lexical clean-up of `.` and `..` (no symlinks resolved: the user's spelling wins).
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other.as_os_str()),
            }
        }
        out
    };
    let (p, b) = (abs(path), abs(base));
    let pc: Vec<_> = p.components().collect();
    let bc: Vec<_> = b.components().collect();
    if pc.first() != bc.first() {
        return None;
    }
    let common = pc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &pc[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Some(out)
}

/// Width of the terminal on stdout (`COLUMNS` first), or `None` when stdout is not one.
pub fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(c);
    }
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass; on a non-terminal
    // it fails and we fall back.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// The findings with the newest migration first (apply order reversed), then by file and
/// position; findings of no analysed migration (history checks) come first.
pub fn newest_first(analysis: &Analysis) -> Vec<&Finding> {
    let mut order: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, s) in analysis.scripts.iter().enumerate() {
        order.entry(s.migration.as_str()).or_insert(i);
    }
    let mut out: Vec<&Finding> = analysis.findings.iter().collect();
    out.sort_by(|a, b| {
        let ka = order
            .get(a.migration.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let kb = order
            .get(b.migration.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        kb.cmp(&ka)
            .then_with(|| (&a.path, a.span.start, &a.rule).cmp(&(&b.path, b.span.start, &b.rule)))
    });
    out
}

/// Wraps `text` at spaces so no line is longer than `width` characters (words longer than
/// that stay whole).
pub fn wrap(text: &str, width: usize) -> String {
    let width = width.max(20);
    let mut out = String::new();
    for (n, para) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut len = 0;
        for (i, word) in para.split(' ').enumerate() {
            let w = word.chars().count();
            if i > 0 {
                if len + 1 + w > width && len > 0 {
                    out.push('\n');
                    len = 0;
                } else {
                    out.push(' ');
                    len += 1;
                }
            }
            out.push_str(word);
            len += w;
        }
    }
    out
}

/// Whether anything is at or above `fail_on`.
pub fn fails(findings: &[Finding], fail_on: Severity) -> bool {
    findings.iter().any(|f| f.severity >= fail_on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_working_directory() {
        use std::path::Path;
        let cwd = Path::new("/work/app");
        let r = |p: &str| relative_to(Path::new(p), cwd).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(r("/work/app/db/1.sql").as_deref(), Some("db/1.sql"));
        assert_eq!(r("/work/other/1.sql").as_deref(), Some("../other/1.sql"));
        assert_eq!(r("db/./x/../1.sql").as_deref(), Some("db/1.sql"));
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        assert_eq!(wrap("aaa bbb ccc ddd", 20), "aaa bbb ccc ddd");
        let long = "word ".repeat(10);
        for line in wrap(long.trim(), 20).lines() {
            assert!(line.chars().count() <= 20, "{line}");
        }
    }

    /// The line index answers what the scan from the file's start answers, at every byte
    /// (line feeds, CRLF, multi-byte characters, offsets past the end), and counts lines
    /// as `str::lines` does.
    #[test]
    fn the_line_index_agrees_with_the_scan() {
        for text in [
            "",
            "\n",
            "a",
            "SELECT 1;\nCREATE TABLE \"é\" (x int);\n",
            "a\r\nbé\r\n\r\nc",
            "x\n\n\ny\n",
        ] {
            let index = LineIndex::new(text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    index.line_col(text, offset),
                    line_col(text, offset),
                    "{text:?} at {offset}"
                );
            }
            assert_eq!(index.line_count(text), text.lines().count(), "{text:?}");
        }
    }

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let src = "SELECT 1;\nCREATE TABLE \"é\" (x int);\n";
        assert_eq!(line_col(src, 0), (1, 1));
        let off = src.find("(x").unwrap();
        // "CREATE TABLE \"é\" " is 17 chars but 18 bytes.
        assert_eq!(line_col(src, off), (2, 18));
    }
}
