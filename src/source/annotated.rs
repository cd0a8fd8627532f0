//! Files that hold up and down in one file behind comment markers: goose
//! (`-- +goose Up`), dbmate (`-- migrate:up`) and sql-migrate (`-- +migrate Up`).
//! Each layout only says how to read one marker line; splitting is shared.

use std::ops::Range;

/// What one marker line means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Directive {
    /// Starts the up section; `no_transaction` when the marker itself says so
    /// (`-- migrate:up transaction:false`, `-- +migrate Up notransaction`).
    Up {
        no_transaction: bool,
    },
    Down {
        no_transaction: bool,
    },
    /// Text up to the matching end stays one statement (goose / sql-migrate).
    StatementBegin,
    StatementEnd,
    /// The whole migration runs outside a transaction (goose `NO TRANSACTION`).
    NoTransaction,
}

/// One section of the file: its text starts after the marker line and ends where the
/// next section's marker line starts, so marker lines belong to no script.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub range: Range<usize>,
    pub no_transaction: bool,
    /// `StatementBegin`…`StatementEnd` regions, trimmed of surrounding whitespace.
    pub whole_statements: Vec<Range<usize>>,
}

/// The sections of one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sections {
    pub up: Option<Section>,
    pub down: Option<Section>,
    /// A file-wide "no transaction" marker was seen.
    pub no_transaction: bool,
}

/// Splits `text` by the markers `classify` recognises (it gets each line trimmed).
/// Errors name the 1-based line; the caller adds the path.
pub(crate) fn split(
    text: &str,
    marker_name: &str,
    classify: impl Fn(&str) -> Option<Directive>,
) -> Result<Sections, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Which {
        Up,
        Down,
    }
    let mut sections = Sections::default();
    let mut open: Option<(Which, Section)> = None;
    let mut begin: Option<(usize, usize)> = None; // (offset after marker line, line number)
    let mut offset = 0;

    let close = |open: &mut Option<(Which, Section)>, end: usize, sections: &mut Sections| {
        if let Some((which, mut section)) = open.take() {
            section.range.end = end;
            match which {
                Which::Up => sections.up = Some(section),
                Which::Down => sections.down = Some(section),
            }
        }
    };

    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let start = offset;
        let end = offset + line.len();
        offset = end;
        let Some(directive) = classify(line.trim()) else {
            continue;
        };
        match directive {
            Directive::Up { no_transaction } | Directive::Down { no_transaction } => {
                let which = if matches!(directive, Directive::Up { .. }) {
                    Which::Up
                } else {
                    Which::Down
                };
                if let Some((_, opened)) = begin {
                    return Err(format!(
                        "line {line_no}: section marker inside the statement block opened on line {opened}"
                    ));
                }
                // sql-migrate lets a direction marker repeat: the statements after it
                // continue the open section (its parser only switches direction).
                if marker_name == "sql-migrate"
                    && let Some((w, section)) = open.as_mut()
                    && *w == which
                {
                    section.no_transaction |= no_transaction;
                    continue;
                }
                let (seen, word) = match which {
                    Which::Up => (sections.up.is_some(), "up"),
                    Which::Down => (sections.down.is_some(), "down"),
                };
                if seen || open.as_ref().is_some_and(|(w, _)| *w == which) {
                    return Err(format!(
                        "line {line_no}: a second {word} section ({marker_name} markers may appear once each)"
                    ));
                }
                close(&mut open, start, &mut sections);
                open = Some((
                    which,
                    Section {
                        range: end..end,
                        no_transaction,
                        whole_statements: Vec::new(),
                    },
                ));
            }
            Directive::StatementBegin => {
                if let Some((_, opened)) = begin {
                    return Err(format!(
                        "line {line_no}: StatementBegin inside the block opened on line {opened}"
                    ));
                }
                if open.is_none() {
                    return Err(format!(
                        "line {line_no}: StatementBegin before any up or down section"
                    ));
                }
                begin = Some((end, line_no));
            }
            Directive::StatementEnd => {
                let Some((from, _)) = begin.take() else {
                    return Err(format!(
                        "line {line_no}: StatementEnd without a StatementBegin"
                    ));
                };
                if let Some((_, section)) = open.as_mut() {
                    section.whole_statements.push(trimmed(text, from..start));
                }
            }
            Directive::NoTransaction => sections.no_transaction = true,
        }
    }
    if let Some((_, opened)) = begin {
        return Err(format!(
            "line {opened}: StatementBegin is never closed by a StatementEnd"
        ));
    }
    close(&mut open, text.len(), &mut sections);
    Ok(sections)
}

/// Shrinks `range` to exclude leading and trailing whitespace.
fn trimmed(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = &text[range.clone()];
    let start = range.start + (slice.len() - slice.trim_start().len());
    let end = range.end - (slice.len() - slice.trim_end().len());
    start..end.max(start)
}

/// Strips a case-insensitive ASCII prefix.
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Builds a migration from a file split into sections. `in_transaction` is decided by
/// the caller from the markers (each framework words it differently).
pub(crate) fn migration(
    path: &std::path::Path,
    source: std::sync::Arc<str>,
    sections: &Sections,
    id: String,
    version: String,
    name: String,
    in_transaction: bool,
) -> Option<super::Migration> {
    let script = |section: &Section| super::Script {
        path: path.to_path_buf(),
        source: source.clone(),
        range: section.range.clone(),
        whole_statements: section.whole_statements.clone(),
        host: None,
    };
    let up = script(sections.up.as_ref()?);
    let down = sections.down.as_ref().map(script);
    Some(super::file_migration(
        id,
        version,
        name,
        up,
        down,
        in_transaction,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goose_like(line: &str) -> Option<Directive> {
        let rest = strip_prefix_ci(line, "-- +x")?.trim();
        match rest.to_ascii_lowercase().as_str() {
            "up" => Some(Directive::Up {
                no_transaction: false,
            }),
            "down" => Some(Directive::Down {
                no_transaction: false,
            }),
            "statementbegin" => Some(Directive::StatementBegin),
            "statementend" => Some(Directive::StatementEnd),
            "no transaction" => Some(Directive::NoTransaction),
            _ => None,
        }
    }

    #[test]
    fn sections_exclude_marker_lines() {
        let text = "-- +x Up\nCREATE TABLE a (id int);\n-- +x Down\nDROP TABLE a;\n";
        let s = split(text, "x", goose_like).unwrap();
        assert_eq!(&text[s.up.unwrap().range], "CREATE TABLE a (id int);\n");
        assert_eq!(&text[s.down.unwrap().range], "DROP TABLE a;\n");
    }

    #[test]
    fn statement_blocks_are_trimmed_to_their_text() {
        let text = "-- +x Up\n-- +x StatementBegin\n  SELECT 1; SELECT 2;\n-- +x StatementEnd\n";
        let s = split(text, "x", goose_like).unwrap();
        let up = s.up.unwrap();
        assert_eq!(&text[up.whole_statements[0].clone()], "SELECT 1; SELECT 2;");
    }

    #[test]
    fn unbalanced_blocks_and_repeated_sections_are_errors() {
        let e = split(
            "-- +x Up\n-- +x StatementBegin\nSELECT 1;\n",
            "x",
            goose_like,
        )
        .unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = split("-- +x Up\n-- +x StatementEnd\n", "x", goose_like).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = split("-- +x Up\n-- +x Up\n", "x", goose_like).unwrap_err();
        assert!(e.contains("second up"), "{e}");
    }
}
