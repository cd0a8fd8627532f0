//! `--format json`: the stable machine-readable report (schema in the README, `version: 1`).
//!
//! The report is serialised straight to its writer (stdout in `lockstep lint`) as it is
//! walked: no tree of JSON values for the whole history is built first. Object keys are
//! written in alphabetical order, the order the format has always had.

use super::{Files, ReportContext, Summary};
use crate::analyze::{AnalyzedScript, AnalyzedStatement};
use crate::rules::{Direction, Finding};
use crate::settings::Settings;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use std::cell::Cell;
use std::io::{Seek, Write};

/// Renders the report into a string.
pub fn render(cx: &ReportContext) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every value here serialises.
    let _ = write(cx, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the report to `out`, followed by a line feed.
pub fn write(cx: &ReportContext, out: &mut dyn Write) -> std::io::Result<()> {
    let files = Files::new(cx.analysis);
    write_document(cx, &files, out, &mut |out| {
        let mut first = true;
        for s in &cx.analysis.scripts {
            write_item(
                out,
                &mut first,
                &ScriptOut {
                    s,
                    file: files.get(&s.path).map(|f| f as &dyn Lines),
                    shown: &files.shown(&s.path),
                    settings: cx.settings,
                },
            )?;
        }
        Ok(!first)
    })
}

/// Writes the report to `out` with the migrations written to `spill` during the analysis
/// (see [`Spill`]): the analysis then kept none of their statements.
pub fn write_spilled(cx: &ReportContext, spill: Spill, out: &mut dyn Write) -> std::io::Result<()> {
    let files = Files::new(cx.analysis);
    let Spill { file, items, .. } = spill;
    let mut file = file.into_inner().map_err(|e| e.into_error())?;
    write_document(cx, &files, out, &mut |out| {
        file.seek(std::io::SeekFrom::Start(0))?;
        std::io::copy(&mut file, out)?;
        Ok(items > 0)
    })
}

/// The migrations of a JSON report, written one analysed script at a time to an anonymous
/// temporary file while the history is analysed, and copied into the report at the end:
/// the report lists the findings (known only when the whole history has been replayed)
/// before the migrations, and holding every statement's operations until then made memory
/// grow with the history. With a spill it follows the largest migration.
pub struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    items: usize,
    cwd: Option<std::path::PathBuf>,
}

impl Spill {
    pub fn new() -> std::io::Result<Spill> {
        Ok(Spill {
            file: std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            items: 0,
            cwd: std::env::current_dir().ok(),
        })
    }

    /// Writes one analysed script; `source` is its file's text.
    pub fn push(
        &mut self,
        script: &AnalyzedScript,
        source: &str,
        settings: &Settings,
    ) -> std::io::Result<()> {
        let lines = super::LineIndex::new(source);
        let file = FileLines { source, lines };
        let shown = super::display_path_from(&script.path, self.cwd.as_deref());
        let mut first = self.items == 0;
        write_item(
            &mut self.file,
            &mut first,
            &ScriptOut {
                s: script,
                file: Some(&file),
                shown: &shown,
                settings,
            },
        )?;
        self.items += 1;
        Ok(())
    }
}

/// Writes one element of the `migrations` array (at depth 2 of the document).
fn write_item(out: &mut dyn Write, first: &mut bool, item: &ScriptOut) -> std::io::Result<()> {
    out.write_all(if *first { b"\n    " } else { b",\n    " })?;
    *first = false;
    serialize_at(out, item, 2)
}

/// Serialises `value` as `serde_json::to_writer_pretty` would, as if nested `depth` levels
/// deep in a pretty-printed document.
fn serialize_at<T: Serialize + ?Sized>(
    out: &mut dyn Write,
    value: &T,
    depth: usize,
) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Pretty::at(depth));
    value.serialize(&mut ser).map_err(std::io::Error::other)
}

/// The document around the migrations; `migrations` writes the array's elements and says
/// whether there was any.
fn write_document(
    cx: &ReportContext,
    files: &Files,
    out: &mut dyn Write,
    migrations: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    let a = cx.analysis;
    let fingerprints = crate::baseline::fingerprints(a);
    // Keys in alphabetical order, the order of the former `serde_json::Value` rendering.
    write!(
        out,
        "{{\n  \"baselined\": {},\n  \"findings\": ",
        a.baselined
    )?;
    let findings = Seq::new(
        a.findings
            .iter()
            .zip(&fingerprints)
            .map(|(f, fingerprint)| FindingOut {
                f,
                files,
                fingerprint,
            }),
    );
    serialize_at(out, &findings, 1)?;
    out.write_all(b",\n  \"migrations\": [")?;
    if migrations(out)? {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"],\n  \"settings\": ")?;
    serialize_at(
        out,
        &SettingsOut {
            layout: cx.layout,
            pg_version: cx.settings.pg_version,
        },
        1,
    )?;
    out.write_all(b",\n  \"summary\": ")?;
    serialize_at(out, &SummaryOut::from(Summary::of(&a.findings)), 1)?;
    out.write_all(b",\n  \"tool\": ")?;
    serialize_at(
        out,
        &Tool {
            name: "lockstep",
            version: env!("CARGO_PKG_VERSION"),
        },
        1,
    )?;
    out.write_all(b",\n  \"version\": 1\n}\n")
}

/// `serde_json::ser::PrettyFormatter` (two spaces) starting at a given depth.
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    fn at(depth: usize) -> Pretty {
        Pretty {
            depth,
            has_value: false,
        }
    }

    fn indent<W: ?Sized + Write>(&self, w: &mut W) -> std::io::Result<()> {
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A sequence serialised from an iterator, once, as it is walked.
struct Seq<I>(Cell<Option<I>>);

impl<I> Seq<I> {
    fn new(items: I) -> Self {
        Seq(Cell::new(Some(items)))
    }
}

impl<I: Iterator<Item = T>, T: Serialize> Serialize for Seq<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items = self.0.take();
        let mut seq = serializer.serialize_seq(None)?;
        for item in items.into_iter().flatten() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct SettingsOut {
    layout: crate::source::Layout,
    pg_version: u32,
}

#[derive(Serialize)]
struct SummaryOut {
    errors: usize,
    infos: usize,
    warnings: usize,
}

impl From<Summary> for SummaryOut {
    fn from(s: Summary) -> Self {
        SummaryOut {
            errors: s.errors,
            infos: s.infos,
            warnings: s.warnings,
        }
    }
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Span {
    end: usize,
    start: usize,
}

impl From<&std::ops::Range<usize>> for Span {
    fn from(r: &std::ops::Range<usize>) -> Self {
        Span {
            end: r.end,
            start: r.start,
        }
    }
}

struct FindingOut<'a> {
    f: &'a Finding,
    files: &'a Files<'a>,
    fingerprint: &'a str,
}

impl Serialize for FindingOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let f = self.f;
        let p = self.files.position(&f.path, &f.span);
        // Notes keep the key order of a JSON value (alphabetical), as before.
        let notes: Vec<serde_json::Value> = f
            .notes
            .iter()
            .map(|n| serde_json::to_value(n).unwrap_or_default())
            .collect();
        #[derive(Serialize)]
        struct Out<'a> {
            column: usize,
            direction: Direction,
            end_column: usize,
            end_line: usize,
            fingerprint: &'a str,
            help: &'a Option<String>,
            label: &'a Option<String>,
            line: usize,
            message: &'a str,
            migration: &'a str,
            notes: Vec<serde_json::Value>,
            path: &'a str,
            rule: &'a str,
            severity: &'static str,
            size_unknown: bool,
            span: Span,
        }
        Out {
            column: p.column,
            direction: f.direction,
            end_column: p.end_column,
            end_line: p.end_line,
            fingerprint: self.fingerprint,
            help: &f.help,
            label: &f.label,
            line: p.line,
            message: &f.message,
            migration: &f.migration,
            notes,
            path: &self.files.shown(&f.path),
            rule: &f.rule,
            severity: f.severity.as_str(),
            size_unknown: f.size_unknown,
            span: Span::from(&f.span),
        }
        .serialize(serializer)
    }
}

struct ScriptOut<'a> {
    s: &'a AnalyzedScript,
    file: Option<&'a dyn Lines>,
    shown: &'a str,
    settings: &'a Settings,
}

impl Serialize for ScriptOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = self.s;
        #[derive(Serialize)]
        #[serde(bound = "")]
        struct Out<'a, I: Iterator<Item = StatementOut<'a>>> {
            direction: Direction,
            id: &'a str,
            in_transaction: bool,
            path: &'a str,
            statements: Seq<I>,
        }
        Out {
            direction: s.direction,
            id: &s.migration,
            in_transaction: s.in_transaction,
            path: self.shown,
            statements: Seq::new(s.statements.iter().map(|st| StatementOut {
                st,
                file: self.file,
                settings: self.settings,
            })),
        }
        .serialize(serializer)
    }
}

/// A file's text with its line index.
trait Lines {
    fn line_col(&self, offset: usize) -> (usize, usize);
}

impl Lines for super::FileInfo<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines.line_col(self.source, offset)
    }
}

struct FileLines<'a> {
    source: &'a str,
    lines: super::LineIndex,
}

impl Lines for FileLines<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines.line_col(self.source, offset)
    }
}

struct StatementOut<'a> {
    st: &'a AnalyzedStatement,
    file: Option<&'a dyn Lines>,
    settings: &'a Settings,
}

impl Serialize for StatementOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let st = self.st;
        let (line, column) = self
            .file
            .map(|f| f.line_col(st.span.start))
            .unwrap_or((1, 1));
        #[derive(Serialize)]
        struct Lock {
            mode: &'static str,
            rewrite: bool,
            scan: bool,
            table: String,
            table_bytes: Option<u64>,
            table_rows: Option<u64>,
        }
        #[derive(Serialize)]
        #[serde(bound = "")]
        struct Out<I: Iterator<Item = Lock>, O: Iterator<Item = serde_json::Value>> {
            column: usize,
            line: usize,
            locks: Seq<I>,
            operations: Seq<O>,
            parsed_by: crate::parse::ParsedBy,
            span: Span,
        }
        Out {
            column,
            line,
            locks: Seq::new(st.locks.iter().map(|l| {
                let size = self.settings.size(&l.table);
                Lock {
                    mode: l.mode.as_str(),
                    rewrite: l.rewrite,
                    scan: l.scan,
                    table: l.table.qualified(),
                    table_bytes: size.and_then(|s| s.bytes),
                    table_rows: size.and_then(|s| s.rows),
                }
            })),
            // An operation keeps the key order of a JSON value (alphabetical), as before.
            operations: Seq::new(
                st.ops
                    .iter()
                    .map(|op| serde_json::to_value(op).unwrap_or_default()),
            ),
            parsed_by: st.parsed_by,
            span: Span::from(&st.span),
        }
        .serialize(serializer)
    }
}
