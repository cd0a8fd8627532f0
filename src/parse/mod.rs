//! Parse: split a script into statements with exact byte spans, and lower each one to
//! the operation IR ([`crate::ops::Op`]).
//!
//! sqlparser parses each statement alone (PostgreSQL dialect); what it rejects goes to a
//! keyword-based fallback; only what neither can place is reported as unparsed.

mod fallback;
mod lower;
pub mod mask;
pub mod split;
pub mod types;

use crate::ops::Op;
use crate::source::Script;
use serde::Serialize;
use std::ops::Range;

/// Which stage understood a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParsedBy {
    Sqlparser,
    Fallback,
    /// Neither: `ops` is empty and `error` says why.
    Unparsed,
}

/// One statement of a script.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Byte span in the script's file (`Script::source`), from the first token to the end of
    /// the statement text, without the terminating `;`.
    pub span: Range<usize>,
    pub ops: Vec<Op>,
    pub parsed_by: ParsedBy,
    /// The parser's message when `parsed_by` is `Unparsed`.
    pub error: Option<String>,
}

/// Splits and parses one script. Never panics; every byte of non-whitespace, non-comment
/// text ends up in some statement's span.
pub fn parse_script(script: &Script) -> Vec<Statement> {
    let base = script.range.start;
    // A range that is out of bounds or not on char boundaries is a caller bug; yield nothing
    // rather than panic.
    let Some(text) = script.source.get(script.range.clone()) else {
        return Vec::new();
    };
    let masked = mask::mask(text);
    let whole: Vec<Range<usize>> = script
        .whole_statements
        .iter()
        .filter(|r| r.end > base && r.start < script.range.end)
        .map(|r| r.start.saturating_sub(base)..r.end.saturating_sub(base).min(text.len()))
        .collect();
    split::split(&masked, &whole)
        .iter()
        .map(|piece| {
            let (ops, parsed_by, error) = lower::lower_piece(&masked, piece);
            Statement {
                span: piece.span.start + base..piece.span.end + base,
                ops,
                parsed_by,
                error,
            }
        })
        .collect()
}

/// Parses a SQL string (a whole script) and returns its statements; spans are offsets into `sql`.
pub fn parse_sql(sql: &str) -> Vec<Statement> {
    let script = Script {
        path: "<sql>".into(),
        source: sql.into(),
        range: 0..sql.len(),
        whole_statements: Vec::new(),
    };
    parse_script(&script)
}
