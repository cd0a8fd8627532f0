//! Report: render an [`Analysis`] in one of the output formats. One file per format.

use crate::analyze::Analysis;
use crate::rules::Finding;
use crate::settings::{Settings, Severity};
use crate::source::Layout;

pub mod gcc;
pub mod github;
pub mod json;
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

/// Position of a finding using the analysis' stored sources.
pub fn finding_position(analysis: &Analysis, f: &Finding) -> Position {
    match analysis.sources.get(&f.path) {
        Some(src) => position(src, &f.span),
        None => Position {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        },
    }
}

/// Path as shown to users: relative to the current directory when possible, `/` separators.
pub fn display_path(p: &std::path::Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(&cwd).ok().map(|r| r.to_path_buf()))
        .unwrap_or_else(|| p.to_path_buf());
    rel.to_string_lossy().replace('\\', "/")
}

/// Whether anything is at or above `fail_on`.
pub fn fails(findings: &[Finding], fail_on: Severity) -> bool {
    findings.iter().any(|f| f.severity >= fail_on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let src = "SELECT 1;\nCREATE TABLE \"é\" (x int);\n";
        assert_eq!(line_col(src, 0), (1, 1));
        let off = src.find("(x").unwrap();
        // "CREATE TABLE \"é\" " is 17 chars but 18 bytes.
        assert_eq!(line_col(src, off), (2, 18));
    }
}
