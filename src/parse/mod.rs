//! Parse: split a script into statements with exact byte spans, and lower each one to
//! the operation IR ([`crate::ops::Op`]).
//!
//! The splitter reads the text as the server does (it runs on the original text, with
//! `standard_conforming_strings` tracked); each statement is then masked for the parser
//! (template placeholders), parsed alone by sqlparser (PostgreSQL dialect); what it
//! rejects goes to a keyword-based fallback; only what neither can place is reported as
//! unparsed. Names shown to users are mapped back to the placeholders as written.

mod fallback;
mod lower;
pub mod mask;
pub mod names;
mod newer;
pub mod split;
pub mod types;

use crate::ops::Op;
use crate::source::Script;
use crate::source::host::{HostBody, HostStatement};
use serde::Serialize;
use std::ops::Range;

/// Which stage understood a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParsedBy {
    Sqlparser,
    Fallback,
    /// Understood only in part: some clauses (columns, subcommands, inner statements) were
    /// read, others were not. The ops say what was read; the objects they create are
    /// marked unknown ([`Op::DefinitionIncomplete`]) so no rule reasons from the gaps.
    Partial,
    /// Neither: `ops` is empty and `error` says why.
    Unparsed,
    /// Read from a host-language migration call (Rails, Django, Alembic, TypeORM, Knex,
    /// Sequelize DSL) by its front end, not from SQL text.
    Dsl,
}

/// Syntax that needs a newer PostgreSQL than some servers run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinPgVersion {
    /// The first major version that accepts it (16, 17, 18).
    pub version: u32,
    /// What was written, e.g. `virtual generated column`, `MERGE … RETURNING`.
    pub feature: String,
}

/// One statement of a script.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Byte span in the script's file (`Script::source`), from the first token to the end of
    /// the statement text, without the terminating `;`.
    pub span: Range<usize>,
    pub ops: Vec<Op>,
    pub parsed_by: ParsedBy,
    /// The parser's message when `parsed_by` is `Unparsed` (or what was not understood when
    /// it is `Partial`).
    pub error: Option<String>,
    /// The newest syntax the statement uses, when it needs PostgreSQL 16 or later.
    pub min_pg_version: Option<MinPgVersion>,
    /// The goose `StatementBegin/End` region (byte span in the file) this statement lies
    /// in. goose sends a region as one message, so the server runs all its statements in
    /// one implicit transaction; each is still its own statement here.
    pub region: Option<Range<usize>>,
}

/// Splits and parses one script. Never panics; every byte of non-whitespace, non-comment
/// text ends up in some statement's span.
pub fn parse_script(script: &Script) -> Vec<Statement> {
    if let Some(calls) = &script.host {
        return calls.iter().flat_map(host_statements).collect();
    }
    let base = script.range.start;
    // A range that is out of bounds or not on char boundaries is a caller bug; yield nothing
    // rather than panic.
    let Some(text) = script.source.get(script.range.clone()) else {
        return Vec::new();
    };
    let whole: Vec<Range<usize>> = script
        .whole_statements
        .iter()
        .filter(|r| r.end > base && r.start < script.range.end)
        .map(|r| r.start.saturating_sub(base)..r.end.saturating_sub(base).min(text.len()))
        .collect();
    split::split(text, &whole)
        .iter()
        .map(|piece| {
            let (ops, parsed_by, error) = lower::lower_piece(text, piece);
            Statement {
                span: piece.span.start + base..piece.span.end + base,
                ops,
                parsed_by,
                error,
                min_pg_version: text.get(piece.span.clone()).and_then(newer::min_pg_version),
                region: piece.region.as_ref().map(|r| r.start + base..r.end + base),
            }
        })
        .collect()
}

/// The statements of one host-language call: its ops, or the raw SQL it sends split and
/// parsed, with spans in the host file (exact inside a verbatim literal, else the call's).
fn host_statements(call: &HostStatement) -> Vec<Statement> {
    let statement = |ops: Vec<Op>| Statement {
        span: call.span.clone(),
        ops,
        parsed_by: ParsedBy::Dsl,
        error: None,
        min_pg_version: None,
        region: None,
    };
    match &call.body {
        HostBody::Ops(ops) => vec![statement(ops.clone())],
        HostBody::NotAnalysed { what } => {
            vec![statement(vec![Op::NotAnalysed { what: what.clone() }])]
        }
        HostBody::Sql { text, verbatim_at } => parse_sql(text)
            .into_iter()
            .map(|mut s| {
                s.span = match verbatim_at {
                    Some(at) => s.span.start + at..s.span.end + at,
                    None => call.span.clone(),
                };
                s.region = None;
                s
            })
            .collect(),
    }
}

/// Parses a SQL string (a whole script) and returns its statements; spans are offsets into `sql`.
pub fn parse_sql(sql: &str) -> Vec<Statement> {
    let script = Script {
        path: "<sql>".into(),
        source: sql.into(),
        range: 0..sql.len(),
        whole_statements: Vec::new(),
        host: None,
    };
    parse_script(&script)
}
