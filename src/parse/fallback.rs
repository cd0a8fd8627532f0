//! Keyword fallback for statements sqlparser rejects.
//!
//! PostgreSQL syntax that sqlparser 0.63 does not know (`DO` blocks, `DROP INDEX
//! CONCURRENTLY`, `REINDEX`, `CLUSTER`, `ATTACH/DETACH PARTITION`, `ALTER SEQUENCE`, …) is
//! recognised here by its leading keywords over the token stream, and still lowered to an
//! [`Op`] with the table when one can be found. Everything here works on tokens, never on
//! raw text, so quotes and comments are already handled.

use super::ParsedBy;
use super::lower::{lower_statement, lower_text, timeout_kind, type_from_text};
use super::split;
use super::types::{is_volatile, parse_millis};
use crate::ops::{Constraint, ConstraintKind, Expr, LockMode, ObjName, Op};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};
use std::ops::Range;

/// How deep `DO` bodies may nest before we stop looking inside.
const MAX_DEPTH: u8 = 3;

/// One significant (non-whitespace, non-comment) token.
struct Item {
    token: Token,
    span: Range<usize>,
    /// Upper-cased text of an unquoted word.
    kw: Option<String>,
}

/// The significant tokens of one statement, with byte spans into its text.
pub struct Toks<'a> {
    text: &'a str,
    items: Vec<Item>,
}

impl<'a> Toks<'a> {
    /// Tokenizes `text`; a text the tokenizer rejects yields no tokens (and so no fallback).
    pub fn new(text: &'a str) -> Self {
        match split::tokenize(text) {
            Ok((toks, spans)) => Self::from_parts(text, toks, spans),
            Err(_) => Toks {
                text,
                items: Vec::new(),
            },
        }
    }

    /// Tokenizes as much of `text` as the tokenizer accepts (for a prefix cut mid-string).
    pub fn new_partial(text: &'a str) -> Self {
        let dialect = PostgreSqlDialect {};
        let mut toks = Vec::new();
        let _ = sqlparser::tokenizer::Tokenizer::new(&dialect, text)
            .tokenize_with_location_into_buf(&mut toks);
        let spans = split::byte_spans(text, &toks);
        Self::from_parts(text, toks, spans)
    }

    /// From tokens already produced for `text` (`spans` are byte ranges into it).
    pub fn from_parts(text: &'a str, toks: Vec<TokenWithSpan>, spans: Vec<Range<usize>>) -> Self {
        let items = toks
            .into_iter()
            .zip(spans)
            .filter(|(t, _)| !split::is_trivia(&t.token))
            .map(|(t, span)| {
                let kw = match &t.token {
                    Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
                    _ => None,
                };
                Item {
                    token: t.token,
                    span,
                    kw,
                }
            })
            .collect();
        Toks { text, items }
    }

    fn kw(&self, i: usize) -> Option<&str> {
        self.items.get(i).and_then(|t| t.kw.as_deref())
    }

    fn is(&self, i: usize, word: &str) -> bool {
        self.kw(i) == Some(word)
    }

    /// Advances past `words` if they all match at `i`.
    fn eat(&self, i: &mut usize, words: &[&str]) -> bool {
        if words.iter().enumerate().all(|(k, w)| self.is(*i + k, w)) {
            *i += words.len();
            true
        } else {
            false
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    /// The first `n` keywords, for `Op::Other { what }`.
    pub fn leading_words(&self, n: usize) -> String {
        let w: Vec<&str> = self
            .items
            .iter()
            .take(n)
            .map_while(|t| t.kw.as_deref())
            .collect();
        if w.is_empty() {
            "statement".into()
        } else {
            w.join(" ")
        }
    }

    /// True when a `;` separates statements inside this text.
    pub fn has_top_level_semicolon(&self) -> bool {
        self.items
            .iter()
            .any(|t| matches!(t.token, Token::SemiColon))
    }

    /// Source text from the start of token `a` to the end of token `b - 1`.
    fn text_of(&self, a: usize, b: usize) -> &'a str {
        if a >= b || b > self.items.len() {
            return "";
        }
        self.text
            .get(self.items[a].span.start..self.items[b - 1].span.end)
            .unwrap_or("")
    }

    /// An identifier at `i` (quoted or not), folded.
    fn ident(&self, i: usize) -> Option<String> {
        match &self.items.get(i)?.token {
            Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
            Token::Word(w) => Some(w.value.to_lowercase()),
            _ => None,
        }
    }

    /// A possibly qualified name at `*i`; advances past it.
    fn name(&self, i: &mut usize) -> Option<ObjName> {
        let mut parts = vec![self.ident(*i)?];
        *i += 1;
        while matches!(self.items.get(*i).map(|t| &t.token), Some(Token::Period)) {
            match self.ident(*i + 1) {
                Some(p) => {
                    parts.push(p);
                    *i += 2;
                }
                None => break,
            }
        }
        let n = parts.len();
        Some(if n == 1 {
            ObjName::public(parts.pop().unwrap_or_default())
        } else {
            ObjName::new(parts[n - 2].clone(), parts[n - 1].clone())
        })
    }

    /// Skips a parenthesised group starting at `*i` (if any).
    fn skip_parens(&self, i: &mut usize) -> Option<Range<usize>> {
        if !matches!(self.items.get(*i).map(|t| &t.token), Some(Token::LParen)) {
            return None;
        }
        let open = *i;
        let mut depth = 0usize;
        while *i < self.len() {
            match self.items[*i].token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        *i += 1;
                        return Some(open + 1..*i - 1);
                    }
                }
                _ => {}
            }
            *i += 1;
        }
        Some(open + 1..self.len())
    }

    /// Splits `range` at top-level commas.
    fn split_commas(&self, range: Range<usize>) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut start = range.start;
        for i in range.clone() {
            match self.items[i].token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
                Token::Comma if depth == 0 => {
                    out.push(start..i);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < range.end {
            out.push(start..range.end);
        }
        out
    }

    /// Index of keyword `word` at paren depth 0 in `range`.
    fn find_top(&self, range: Range<usize>, word: &str) -> Option<usize> {
        let mut depth = 0usize;
        for i in range {
            match self.items[i].token {
                Token::LParen => depth += 1,
                Token::RParen => depth = depth.saturating_sub(1),
                _ if depth == 0 && self.is(i, word) => return Some(i),
                _ => {}
            }
        }
        None
    }

    fn string_at(&self, i: usize) -> Option<String> {
        match &self.items.get(i)?.token {
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) => Some(s.clone()),
            Token::DollarQuotedString(d) => Some(d.value.clone()),
            _ => None,
        }
    }
}

/// Object kinds PostgreSQL knows for CREATE/ALTER/DROP that we report as `Op::Other`.
const OTHER_KINDS: &[&str] = &[
    "ACCESS",
    "AGGREGATE",
    "CAST",
    "COLLATION",
    "CONVERSION",
    "DATABASE",
    "DEFAULT",
    "DOMAIN",
    "EVENT",
    "FOREIGN",
    "GROUP",
    "LANGUAGE",
    "LARGE",
    "OPERATOR",
    "OWNED",
    "POLICY",
    "PROCEDURAL",
    "PUBLICATION",
    "ROLE",
    "ROUTINE",
    "RULE",
    "SERVER",
    "STATISTICS",
    "SUBSCRIPTION",
    "SYSTEM",
    "TABLESPACE",
    "TEXT",
    "TRANSFORM",
    "TRUSTED",
    "USER",
    "VIEW",
    "MATERIALIZED",
    "FUNCTION",
    "PROCEDURE",
    "SCHEMA",
    "EXTENSION",
    "SEQUENCE",
    "TYPE",
    "TRIGGER",
    "INDEX",
];

/// Statements with no schema effect that we place as `Op::Other` by their first word.
/// Queries (`SELECT`, `WITH`, …) are deliberately absent: a query sqlparser rejects may
/// still modify data or call anything, so it is reported as unparsed.
const PLAIN: &[&str] = &[
    "CALL",
    "COPY",
    "NOTIFY",
    "LISTEN",
    "UNLISTEN",
    "DISCARD",
    "SAVEPOINT",
    "RELEASE",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "CHECKPOINT",
    "LOAD",
    "IMPORT",
    "SECURITY",
    "REASSIGN",
    "ANALYZE",
    "ANALYSE",
    "COMMENT",
    "GRANT",
    "REVOKE",
    "DECLARE",
    "FETCH",
    "MOVE",
    "CLOSE",
];

fn other(what: impl Into<String>) -> Option<Vec<Op>> {
    Some(vec![Op::Other { what: what.into() }])
}

/// Recognises a statement sqlparser could not lower. `None` when the leading keywords
/// mean nothing we know.
pub fn classify(t: &Toks, depth: u8) -> Option<Vec<Op>> {
    let w0 = t.kw(0)?;
    match w0 {
        "DO" => do_block(t, depth),
        "DROP" => drop(t),
        "CREATE" => create(t),
        "ALTER" => alter(t),
        "REINDEX" => reindex(t),
        "CLUSTER" => cluster(t),
        "VACUUM" => vacuum(t),
        "REFRESH" => refresh(t),
        "LOCK" => lock(t),
        "TRUNCATE" => truncate(t),
        "SET" | "RESET" => set(t),
        "BEGIN" | "START" => Some(vec![Op::Begin]),
        "COMMIT" | "END" => Some(vec![Op::Commit]),
        "ROLLBACK" | "ABORT" => {
            if t.find_top(1..t.len(), "TO").is_some() {
                other("ROLLBACK TO SAVEPOINT")
            } else {
                Some(vec![Op::Rollback])
            }
        }
        "UPDATE" | "DELETE" | "INSERT" => dml(t),
        // A bare `SELECT` (no target list) is valid PostgreSQL and does nothing.
        "SELECT" if t.len() == 1 => other("SELECT"),
        w if PLAIN.contains(&w) => other(t.leading_words(1)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------

fn drop(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    let kind = t.kw(i)?.to_string();
    match kind.as_str() {
        "INDEX" => {
            i += 1;
            let concurrently = t.eat(&mut i, &["CONCURRENTLY"]);
            let if_exists = t.eat(&mut i, &["IF", "EXISTS"]);
            let names = names_list(t, &mut i)?;
            Some(
                names
                    .into_iter()
                    .map(|name| Op::DropIndex {
                        name,
                        concurrently,
                        if_exists,
                    })
                    .collect(),
            )
        }
        "TRIGGER" => {
            i += 1;
            t.eat(&mut i, &["IF", "EXISTS"]);
            let name = t.ident(i)?;
            i += 1;
            if !t.eat(&mut i, &["ON"]) {
                return None;
            }
            let table = t.name(&mut i)?;
            Some(vec![Op::DropTrigger { name, table }])
        }
        "FUNCTION" | "PROCEDURE" | "ROUTINE" => {
            i += 1;
            t.eat(&mut i, &["IF", "EXISTS"]);
            let mut ops = Vec::new();
            loop {
                let name = t.name(&mut i)?;
                t.skip_parens(&mut i);
                ops.push(Op::DropFunction { name });
                if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Comma)) {
                    i += 1;
                } else {
                    break;
                }
            }
            Some(ops)
        }
        "TABLE" => {
            i += 1;
            let if_exists = t.eat(&mut i, &["IF", "EXISTS"]);
            let names = names_list(t, &mut i)?;
            let cascade = t.is(i, "CASCADE");
            Some(
                names
                    .into_iter()
                    .map(|table| Op::DropTable {
                        table,
                        if_exists,
                        cascade,
                    })
                    .collect(),
            )
        }
        "VIEW" | "MATERIALIZED" => {
            let materialized = kind == "MATERIALIZED";
            i += if materialized { 2 } else { 1 };
            let if_exists = t.eat(&mut i, &["IF", "EXISTS"]);
            let names = names_list(t, &mut i)?;
            Some(
                names
                    .into_iter()
                    .map(|name| Op::DropView {
                        name,
                        materialized,
                        if_exists,
                    })
                    .collect(),
            )
        }
        "DATABASE" => {
            i += 1;
            t.eat(&mut i, &["IF", "EXISTS"]);
            Some(vec![Op::DropDatabase { name: t.ident(i)? }])
        }
        "SEQUENCE" | "TYPE" | "SCHEMA" | "EXTENSION" => {
            i += 1;
            t.eat(&mut i, &["IF", "EXISTS"]);
            let names = names_list(t, &mut i)?;
            let cascade = t.find_top(i..t.len(), "CASCADE").is_some();
            Some(
                names
                    .into_iter()
                    .map(|n| match kind.as_str() {
                        "SEQUENCE" => Op::DropSequence { name: n },
                        "TYPE" => Op::DropType { name: n },
                        "SCHEMA" => Op::DropSchema {
                            name: n.name,
                            cascade,
                        },
                        _ => Op::DropExtension { name: n.name },
                    })
                    .collect(),
            )
        }
        k if OTHER_KINDS.contains(&k) => other(t.leading_words(3)),
        _ => None,
    }
}

/// `a, s.b, c` → names; stops at the first token that is not a name or comma.
fn names_list(t: &Toks, i: &mut usize) -> Option<Vec<ObjName>> {
    let mut out = vec![t.name(i)?];
    while matches!(t.items.get(*i).map(|x| &x.token), Some(Token::Comma)) {
        *i += 1;
        out.push(t.name(i)?);
    }
    Some(out)
}

fn create(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    t.eat(&mut i, &["OR", "REPLACE"]);
    let unique = t.eat(&mut i, &["UNIQUE"]);
    let mut temporary = false;
    let mut unlogged = false;
    loop {
        match t.kw(i) {
            Some("TEMP" | "TEMPORARY") => temporary = true,
            Some("UNLOGGED") => unlogged = true,
            Some("GLOBAL" | "LOCAL") => {}
            _ => break,
        }
        i += 1;
    }
    t.eat(&mut i, &["CONSTRAINT"]);
    let kind = t.kw(i)?.to_string();
    i += 1;
    match kind.as_str() {
        "INDEX" => create_index(t, i, unique),
        "TABLE" => {
            let if_not_exists = t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
            let table = t.name(&mut i)?;
            let partition_of = match t.find_top(i..t.len(), "PARTITION") {
                Some(p) if t.is(p + 1, "OF") => {
                    let mut j = p + 2;
                    t.name(&mut j)
                }
                _ => None,
            };
            let as_select = t.find_top(i..t.len(), "AS").is_some();
            let mut after_list = i;
            let elems = if partition_of.is_none() && !as_select {
                t.skip_parens(&mut after_list)
            } else {
                None
            };
            let mut columns = Vec::new();
            let mut constraints = Vec::new();
            let mut unknown: Vec<String> = Vec::new();
            if let Some(elems) = elems {
                for e in t.split_commas(elems) {
                    table_element(t, &table, e, &mut columns, &mut constraints, &mut unknown);
                }
            } else if partition_of.is_none() && !as_select {
                // `CREATE TABLE t OF type`, or no column list we could find.
                unknown.push("the column list".into());
            }
            // Columns that come from elsewhere.
            if t.find_top(after_list..t.len(), "INHERITS").is_some() {
                unknown.push("INHERITS".into());
            }
            let mut ops = vec![Op::CreateTable {
                table: table.clone(),
                columns,
                constraints,
                if_not_exists,
                partition_of,
                as_select,
                temporary,
                unlogged,
            }];
            if !unknown.is_empty() {
                ops.push(Op::UnknownDefinition {
                    object: table,
                    reason: format!("not understood: {}", unknown.join(", ")),
                });
            }
            Some(ops)
        }
        "FUNCTION" | "PROCEDURE" => {
            let name = t.name(&mut i)?;
            // Keywords outside the (dollar-quoted) body; the last one written wins.
            let volatility = (i..t.len()).rev().find_map(|k| match t.kw(k) {
                Some("IMMUTABLE") => Some(crate::ops::Volatility::Immutable),
                Some("STABLE") => Some(crate::ops::Volatility::Stable),
                Some("VOLATILE") => Some(crate::ops::Volatility::Volatile),
                _ => None,
            });
            Some(vec![Op::CreateFunction { name, volatility }])
        }
        "TRIGGER" => {
            let name = t.ident(i)?;
            let on = t.find_top(i..t.len(), "ON")?;
            let mut j = on + 1;
            Some(vec![Op::CreateTrigger {
                name,
                table: t.name(&mut j)?,
            }])
        }
        "EVENT" => other("CREATE EVENT TRIGGER"),
        "TYPE" => {
            let name = t.name(&mut i)?;
            if t.is(i, "AS") && t.is(i + 1, "ENUM") {
                let mut j = i + 2;
                let inner = t.skip_parens(&mut j)?;
                let values = inner.filter_map(|k| t.string_at(k)).collect();
                Some(vec![Op::CreateEnum { name, values }])
            } else {
                Some(vec![Op::CreateType { name }])
            }
        }
        "VIEW" | "MATERIALIZED" | "RECURSIVE" => {
            let materialized = kind == "MATERIALIZED";
            if materialized || kind == "RECURSIVE" {
                t.eat(&mut i, &["VIEW"]);
            }
            t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
            let name = t.name(&mut i)?;
            Some(vec![Op::CreateView {
                name,
                materialized,
                or_replace: t.is(1, "OR"),
                depends_on: from_tables(t, i),
            }])
        }
        "SEQUENCE" => {
            t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
            Some(vec![Op::CreateSequence {
                name: t.name(&mut i)?,
            }])
        }
        "SCHEMA" => {
            t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
            Some(vec![Op::CreateSchema { name: t.ident(i)? }])
        }
        "EXTENSION" => {
            t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
            Some(vec![Op::CreateExtension { name: t.ident(i)? }])
        }
        k if OTHER_KINDS.contains(&k) => other(format!("CREATE {k}")),
        _ => None,
    }
}

/// One element of a `CREATE TABLE` column list that sqlparser rejected as a whole: each
/// element is tried alone, so one clause in newer syntax does not lose the columns around
/// it. PostgreSQL 18's table-level `[CONSTRAINT n] NOT NULL col` is read here; what
/// neither understands is listed in `unknown`.
fn table_element(
    t: &Toks,
    table: &ObjName,
    r: Range<usize>,
    columns: &mut Vec<crate::ops::ColumnDef>,
    constraints: &mut Vec<Constraint>,
    unknown: &mut Vec<String>,
) {
    if r.is_empty() {
        return;
    }
    let mut i = r.start;
    let name = if t.is(i, "CONSTRAINT") {
        let n = t.ident(i + 1);
        i += 2;
        n
    } else {
        None
    };
    if t.is(i, "NOT") && t.is(i + 1, "NULL") {
        if let Some(column) = t.ident(i + 2)
            && (i + 3 == r.end || (t.is(i + 3, "NO") && t.is(i + 4, "INHERIT") && i + 5 == r.end))
        {
            if let Some(c) = columns.iter_mut().find(|c| c.name == column) {
                c.not_null = true;
            }
            constraints.push(Constraint {
                name,
                kind: ConstraintKind::NotNull { column },
                not_valid: false,
            });
            return;
        }
        unknown.push(t.text_of(r.start, r.end).to_string());
        return;
    }
    // PostgreSQL 18's `GENERATED ALWAYS AS (…) VIRTUAL` stores nothing: read the column
    // without it (its locks and rewrites are those of a plain column).
    let mut r = r;
    if t.is(r.end - 1, "VIRTUAL")
        && let Some(g) = t.find_top(r.start..r.end, "GENERATED")
    {
        r = r.start..g;
    }
    let sql = format!("CREATE TABLE x ({})", t.text_of(r.start, r.end));
    let dialect = PostgreSqlDialect {};
    if let Ok(stmts) = Parser::parse_sql(&dialect, &sql)
        && let [sqlparser::ast::Statement::CreateTable(ct)] = stmts.as_slice()
    {
        if let [c] = ct.columns.as_slice()
            && ct.constraints.is_empty()
        {
            columns.push(super::lower::column(table, c));
            return;
        }
        if let [c] = ct.constraints.as_slice()
            && ct.columns.is_empty()
            && let Some(k) = super::lower::table_constraint(c)
        {
            constraints.push(k);
            return;
        }
    }
    // A column whose options we cannot read: keep its name and type, flag the rest.
    let first_kw = t.kw(r.start);
    let is_constraint = matches!(
        first_kw,
        Some("CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE" | "LIKE")
    );
    if !is_constraint
        && let Some(col) = t.ident(r.start)
        && t.ident(r.start + 1).is_some()
    {
        let stop = (r.start + 1..r.end)
            .find(|&k| {
                matches!(
                    t.kw(k),
                    Some(
                        "NOT"
                            | "NULL"
                            | "DEFAULT"
                            | "GENERATED"
                            | "CONSTRAINT"
                            | "PRIMARY"
                            | "UNIQUE"
                            | "CHECK"
                            | "REFERENCES"
                            | "COLLATE"
                            | "STORAGE"
                            | "COMPRESSION"
                    )
                )
            })
            .unwrap_or(r.end);
        if stop > r.start + 1 {
            columns.push(crate::ops::ColumnDef {
                name: col.clone(),
                ty: type_from_text(t.text_of(r.start + 1, stop)),
                not_null: false,
                default: None,
                generated: None,
                serial: false,
                constraints: Vec::new(),
            });
            unknown.push(format!("options of column {col}"));
            return;
        }
    }
    unknown.push(t.text_of(r.start, r.end).to_string());
}

/// The names following FROM and JOIN (a token-level approximation of a query's tables).
fn from_tables(t: &Toks, start: usize) -> Vec<ObjName> {
    let mut out: Vec<ObjName> = Vec::new();
    let mut i = start;
    while i < t.len() {
        if t.is(i, "FROM") || t.is(i, "JOIN") {
            let mut j = i + 1;
            t.eat(&mut j, &["ONLY"]);
            t.eat(&mut j, &["LATERAL"]);
            if let Some(n) = t.name(&mut j)
                && !out.contains(&n)
            {
                out.push(n);
            }
        }
        i += 1;
    }
    out.sort();
    out
}

fn create_index(t: &Toks, mut i: usize, unique: bool) -> Option<Vec<Op>> {
    let concurrently = t.eat(&mut i, &["CONCURRENTLY"]);
    let if_not_exists = t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
    let name_start = i;
    let name = if t.is(i, "ON") {
        None
    } else {
        Some(t.name(&mut i)?)
    };
    let qualified = i > name_start + 1;
    if !t.eat(&mut i, &["ON"]) {
        return None;
    }
    t.eat(&mut i, &["ONLY"]);
    let table = t.name(&mut i)?;
    if t.eat(&mut i, &["USING"]) {
        i += 1;
    }
    let elems = t.skip_parens(&mut i)?;
    let columns = t
        .split_commas(elems)
        .into_iter()
        .map(|r| {
            if !r.is_empty()
                && (r.len() == 1 || t.kw(r.start + 1).is_some())
                && let Some(id) = t.ident(r.start)
                && !matches!(
                    t.items.get(r.start + 1).map(|x| &x.token),
                    Some(Token::LParen)
                )
            {
                id
            } else {
                t.text_of(r.start, r.end).to_string()
            }
        })
        .collect();
    let partial = t.find_top(i..t.len(), "WHERE").is_some();
    // An unqualified index name lives in its table's schema.
    let name = name.map(|n| {
        if qualified {
            n
        } else {
            ObjName::new(table.schema.clone(), n.name)
        }
    });
    Some(vec![Op::CreateIndex {
        name,
        table,
        columns,
        unique,
        concurrently,
        if_not_exists,
        partial,
    }])
}

fn alter(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    let kind = t.kw(i)?.to_string();
    i += 1;
    match kind.as_str() {
        "TABLE" => alter_table(t, i),
        "SEQUENCE" => {
            t.eat(&mut i, &["IF", "EXISTS"]);
            Some(vec![Op::AlterSequence {
                name: t.name(&mut i)?,
            }])
        }
        "INDEX" => {
            t.eat(&mut i, &["IF", "EXISTS"]);
            let name = t.name(&mut i)?;
            if t.eat(&mut i, &["RENAME", "TO"]) {
                Some(vec![Op::RenameIndex {
                    name,
                    new_name: t.ident(i)?,
                }])
            } else {
                other(format!("ALTER INDEX {}", t.leading_words_from(i, 2)))
            }
        }
        "TYPE" => {
            let name = t.name(&mut i)?;
            if t.eat(&mut i, &["ADD", "VALUE"]) {
                t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
                Some(vec![Op::AddEnumValue {
                    name,
                    value: t.string_at(i)?,
                }])
            } else if t.eat(&mut i, &["RENAME", "VALUE"]) {
                let value = t.string_at(i)?;
                if !t.is(i + 1, "TO") {
                    return None;
                }
                Some(vec![Op::RenameEnumValue {
                    name,
                    value,
                    new_value: t.string_at(i + 2)?,
                }])
            } else {
                other(format!("ALTER TYPE {}", t.leading_words_from(i, 2)))
            }
        }
        "DEFAULT" => other("ALTER DEFAULT PRIVILEGES"),
        "DOMAIN" => {
            use crate::ops::DomainAction;
            let name = t.name(&mut i)?;
            let action = if t.is(i, "ADD") {
                DomainAction::AddConstraint {
                    not_valid: (i..t.len()).any(|k| t.is(k, "NOT") && t.is(k + 1, "VALID")),
                }
            } else if t.eat(&mut i, &["SET", "NOT", "NULL"]) {
                DomainAction::SetNotNull
            } else if t.is(i, "VALIDATE") {
                DomainAction::ValidateConstraint
            } else {
                DomainAction::Other
            };
            Some(vec![Op::AlterDomain { name, action }])
        }
        k if OTHER_KINDS.contains(&k) => other(format!("ALTER {k}")),
        _ => None,
    }
}

impl Toks<'_> {
    /// Up to `n` keywords from `i`, stopping at the first non-keyword (an object name).
    fn leading_words_from(&self, i: usize, n: usize) -> String {
        (i..(i + n).min(self.len()))
            .map_while(|k| match &self.items[k].token {
                Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                    self.kw(k)
                }
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `ALTER TABLE [IF EXISTS] [ONLY] name [*] sub, sub, …`: each subcommand is tried with
/// sqlparser alone first, then by keywords. Unknown subcommands make the reading partial:
/// the ones understood are kept and the table is marked [`Op::UnknownDefinition`].
fn alter_table(t: &Toks, mut i: usize) -> Option<Vec<Op>> {
    if t.is(i, "ALL") {
        return other("ALTER TABLE ALL IN TABLESPACE");
    }
    t.eat(&mut i, &["IF", "EXISTS"]);
    t.eat(&mut i, &["ONLY"]);
    let name_start = i;
    let table = t.name(&mut i)?;
    let name_text = t.text_of(name_start, i);
    if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Mul)) {
        i += 1;
    }
    let mut ops = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for sub in t.split_commas(i..t.len()) {
        if sub.is_empty() {
            return None;
        }
        let sub_text = t.text_of(sub.start, sub.end);
        let sql = format!("ALTER TABLE {name_text} {sub_text}");
        let dialect = PostgreSqlDialect {};
        let parsed =
            Parser::parse_sql(&dialect, &sql)
                .ok()
                .and_then(|stmts| match stmts.as_slice() {
                    [s] => lower_statement(s),
                    _ => None,
                });
        match parsed {
            Some(mut o) => ops.append(&mut o),
            None => match alter_table_sub(t, &table, sub.clone()) {
                Some(mut o) => ops.append(&mut o),
                None => unknown.push(sub_text.to_string()),
            },
        }
    }
    if !unknown.is_empty() {
        // Nothing understood: not even a partial reading.
        if ops.is_empty() {
            return None;
        }
        ops.push(Op::UnknownDefinition {
            object: table,
            reason: format!("not understood: {}", unknown.join(", ")),
        });
    }
    Some(ops)
}

fn alter_table_sub(t: &Toks, table: &ObjName, r: Range<usize>) -> Option<Vec<Op>> {
    let mut i = r.start;
    let end = r.end;
    let tb = || table.clone();
    let one = |op: Op| Some(vec![op]);
    let alter_other = |what: String| {
        Some(vec![Op::AlterTableOther {
            table: table.clone(),
            what,
        }])
    };
    let w = t.kw(i)?.to_string();
    match w.as_str() {
        "ATTACH" if t.is(i + 1, "PARTITION") => {
            i += 2;
            one(Op::AttachPartition {
                table: tb(),
                partition: t.name(&mut i)?,
            })
        }
        "DETACH" if t.is(i + 1, "PARTITION") => {
            i += 2;
            let partition = t.name(&mut i)?;
            one(Op::DetachPartition {
                table: tb(),
                partition,
                concurrently: t.is(i, "CONCURRENTLY"),
                finalize: t.is(i, "FINALIZE"),
            })
        }
        "ALTER" if t.is(i + 1, "CONSTRAINT") => one(Op::AlterConstraint {
            table: tb(),
            name: t.ident(i + 2)?,
        }),
        "ALTER" => {
            i += 1;
            t.eat(&mut i, &["COLUMN"]);
            let column = t.ident(i)?;
            i += 1;
            alter_column(t, table, column, i, end)
        }
        "ADD" => {
            i += 1;
            let name = if t.eat(&mut i, &["CONSTRAINT"]) {
                let n = t.ident(i)?;
                i += 1;
                Some(n)
            } else {
                None
            };
            if name.is_none() && !t.is(i, "NOT") {
                // `ADD [COLUMN] [IF NOT EXISTS] col type …` that sqlparser rejected.
                t.eat(&mut i, &["COLUMN"]);
                let if_not_exists = t.eat(&mut i, &["IF", "NOT", "EXISTS"]);
                let (mut cols, mut cons, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
                table_element(t, table, i..end, &mut cols, &mut cons, &mut unknown);
                let column = cols.pop()?;
                let mut ops = vec![Op::AddColumn {
                    table: tb(),
                    column,
                    if_not_exists,
                }];
                if !unknown.is_empty() {
                    ops.push(Op::UnknownDefinition {
                        object: tb(),
                        reason: format!("not understood: {}", unknown.join(", ")),
                    });
                }
                return Some(ops);
            }
            if t.eat(&mut i, &["NOT", "NULL"]) {
                let column = t.ident(i)?;
                let not_valid = t.find_top(i..end, "VALID").is_some();
                one(Op::AddConstraint {
                    table: tb(),
                    constraint: Constraint {
                        name,
                        kind: ConstraintKind::NotNull { column },
                        not_valid,
                    },
                })
            } else {
                None
            }
        }
        "SET" => {
            i += 1;
            match t.kw(i) {
                Some("SCHEMA") => one(Op::SetSchema {
                    table: tb(),
                    new_schema: t.ident(i + 1)?,
                }),
                Some("LOGGED") => one(Op::SetLogged {
                    table: tb(),
                    logged: true,
                }),
                Some("UNLOGGED") => one(Op::SetLogged {
                    table: tb(),
                    logged: false,
                }),
                Some("TABLESPACE") => alter_other("SET TABLESPACE".into()),
                Some("WITHOUT") => alter_other(format!("SET WITHOUT {}", t.kw(i + 1)?)),
                Some("ACCESS") => alter_other("SET ACCESS METHOD".into()),
                _ if matches!(t.items.get(i).map(|x| &x.token), Some(Token::LParen)) => {
                    alter_other("SET (storage parameters)".into())
                }
                _ => None,
            }
        }
        "RESET" => alter_other("RESET (storage parameters)".into()),
        "VALIDATE" if t.is(i + 1, "CONSTRAINT") => one(Op::ValidateConstraint {
            table: tb(),
            name: t.ident(i + 2)?,
        }),
        "DROP" if t.is(i + 1, "CONSTRAINT") => {
            i += 2;
            let if_exists = t.eat(&mut i, &["IF", "EXISTS"]);
            let name = t.ident(i)?;
            one(Op::DropConstraint {
                table: tb(),
                name,
                if_exists,
                cascade: t.is(i + 1, "CASCADE"),
            })
        }
        "DROP" => {
            i += 1;
            t.eat(&mut i, &["COLUMN"]);
            let if_exists = t.eat(&mut i, &["IF", "EXISTS"]);
            let column = t.ident(i)?;
            one(Op::DropColumn {
                table: tb(),
                column,
                if_exists,
                cascade: t.is(i + 1, "CASCADE"),
            })
        }
        "RENAME" => {
            i += 1;
            if t.eat(&mut i, &["TO"]) {
                return one(Op::RenameTable {
                    table: tb(),
                    new_name: t.ident(i)?,
                });
            }
            if t.eat(&mut i, &["CONSTRAINT"]) {
                let name = t.ident(i)?;
                return one(Op::RenameConstraint {
                    table: tb(),
                    name,
                    new_name: t.ident(i + 2)?,
                });
            }
            t.eat(&mut i, &["COLUMN"]);
            let column = t.ident(i)?;
            if !t.is(i + 1, "TO") {
                return None;
            }
            one(Op::RenameColumn {
                table: tb(),
                column,
                new_name: t.ident(i + 2)?,
            })
        }
        "INHERIT" | "NO" | "OF" | "NOT" | "CLUSTER" | "OWNER" | "REPLICA" | "ENABLE"
        | "DISABLE" | "FORCE" => alter_other(t.leading_words_from(i, 3)),
        _ => None,
    }
}

fn alter_column(
    t: &Toks,
    table: &ObjName,
    column: String,
    mut i: usize,
    end: usize,
) -> Option<Vec<Op>> {
    let tb = table.clone();
    let col_other = |what: &str| {
        Some(vec![Op::AlterColumnOther {
            table: table.clone(),
            column: column.clone(),
            what: what.to_string(),
        }])
    };
    if t.eat(&mut i, &["SET", "DATA", "TYPE"]) || t.eat(&mut i, &["TYPE"]) {
        let collate_at = t.find_top(i..end, "COLLATE");
        let using_at = t.find_top(i..end, "USING");
        let ty_end = [collate_at, using_at, Some(end)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        let ty = type_from_text(t.text_of(i, ty_end));
        let collate = collate_at.and_then(|c| {
            let mut j = c + 1;
            let start = j;
            t.name(&mut j).map(|_| t.text_of(start, j).to_string())
        });
        let using = using_at.map(|u| t.text_of(u + 1, end).to_string());
        return Some(vec![Op::AlterColumnType {
            table: tb,
            column,
            ty,
            using,
            collate,
        }]);
    }
    if t.eat(&mut i, &["SET", "NOT", "NULL"]) {
        return Some(vec![Op::SetNotNull { table: tb, column }]);
    }
    if t.eat(&mut i, &["DROP", "NOT", "NULL"]) {
        return Some(vec![Op::DropNotNull { table: tb, column }]);
    }
    if t.eat(&mut i, &["DROP", "DEFAULT"]) {
        return Some(vec![Op::DropDefault { table: tb, column }]);
    }
    if t.eat(&mut i, &["SET", "DEFAULT"]) {
        let sql = t.text_of(i, end).to_string();
        return Some(vec![Op::SetDefault {
            table: tb,
            column,
            default: Expr {
                volatile: is_volatile(&sql),
                sql,
            },
        }]);
    }
    if t.eat(&mut i, &["DROP", "IDENTITY"]) {
        return Some(vec![Op::DropIdentity { table: tb, column }]);
    }
    if t.eat(&mut i, &["ADD", "GENERATED"]) {
        return Some(vec![Op::AddIdentity { table: tb, column }]);
    }
    match (t.kw(i), t.kw(i + 1)) {
        (Some("SET"), Some("STATISTICS")) => col_other("SET STATISTICS"),
        (Some("SET"), Some("STORAGE")) => col_other("SET STORAGE"),
        (Some("SET"), Some("COMPRESSION")) => col_other("SET COMPRESSION"),
        (Some("SET"), Some("GENERATED")) | (Some("RESTART"), _) => col_other("identity options"),
        (Some("DROP"), Some("EXPRESSION")) => col_other("DROP EXPRESSION"),
        (Some("SET"), None) | (Some("RESET"), None) => col_other("SET (attribute options)"),
        _ => None,
    }
}

fn reindex(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    let mut concurrently = false;
    if let Some(opts) = t.skip_parens(&mut i) {
        // `(CONCURRENTLY)`, `(CONCURRENTLY true)`; `false`/`off`/`0` turn it off.
        for o in t.split_commas(opts) {
            if t.is(o.start, "CONCURRENTLY") {
                concurrently = !matches!(t.kw(o.start + 1), Some("FALSE" | "OFF"))
                    && !matches!(t.items.get(o.start + 1).map(|x| &x.token), Some(Token::Number(n, _)) if n == "0");
            }
        }
    }
    let target_kind = t.kw(i)?.to_string();
    if !matches!(
        target_kind.as_str(),
        "TABLE" | "INDEX" | "SCHEMA" | "DATABASE" | "SYSTEM"
    ) {
        return None;
    }
    i += 1;
    concurrently |= t.eat(&mut i, &["CONCURRENTLY"]);
    let target = if matches!(target_kind.as_str(), "TABLE" | "INDEX") {
        t.name(&mut i)
    } else {
        None
    };
    Some(vec![Op::Reindex {
        target_kind,
        target,
        concurrently,
    }])
}

fn cluster(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    t.skip_parens(&mut i);
    t.eat(&mut i, &["VERBOSE"]);
    let first = t.name(&mut i);
    // Old syntax `CLUSTER index ON table`.
    let table = if t.eat(&mut i, &["ON"]) {
        t.name(&mut i)
    } else {
        first
    };
    Some(vec![Op::Cluster { table }])
}

fn vacuum(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    let mut full = false;
    if let Some(opts) = t.skip_parens(&mut i) {
        for o in t.split_commas(opts) {
            if t.is(o.start, "FULL") {
                full = !matches!(t.kw(o.start + 1), Some("FALSE" | "OFF"))
                    && !matches!(t.items.get(o.start + 1).map(|x| &x.token), Some(Token::Number(n, _)) if n == "0");
            }
        }
    }
    while let Some(k) = t.kw(i) {
        match k {
            "FULL" => full = true,
            "FREEZE" | "VERBOSE" | "ANALYZE" | "ANALYSE" => {}
            _ => break,
        }
        i += 1;
    }
    let mut tables = Vec::new();
    while let Some(n) = t.name(&mut i) {
        tables.push(n);
        t.skip_parens(&mut i);
        if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Comma)) {
            i += 1;
        } else {
            break;
        }
    }
    let make = |table: Option<ObjName>| {
        if full {
            Op::VacuumFull { table }
        } else {
            Op::Vacuum { table }
        }
    };
    if tables.is_empty() {
        Some(vec![make(None)])
    } else {
        Some(tables.into_iter().map(|n| make(Some(n))).collect())
    }
}

fn refresh(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    if !t.eat(&mut i, &["MATERIALIZED", "VIEW"]) {
        return None;
    }
    let concurrently = t.eat(&mut i, &["CONCURRENTLY"]);
    Some(vec![Op::RefreshMaterializedView {
        name: t.name(&mut i)?,
        concurrently,
    }])
}

fn lock(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    t.eat(&mut i, &["TABLE"]);
    t.eat(&mut i, &["ONLY"]);
    let mut tables = vec![t.name(&mut i)?];
    loop {
        if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Mul)) {
            i += 1;
        }
        if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Comma)) {
            i += 1;
            t.eat(&mut i, &["ONLY"]);
            tables.push(t.name(&mut i)?);
        } else {
            break;
        }
    }
    let mode = if t.eat(&mut i, &["IN"]) {
        let words: Vec<&str> = (i..t.len())
            .map_while(|k| t.kw(k))
            .take_while(|w| *w != "MODE")
            .collect();
        match words.join(" ").as_str() {
            "ACCESS SHARE" => LockMode::AccessShare,
            "ROW SHARE" => LockMode::RowShare,
            "ROW EXCLUSIVE" => LockMode::RowExclusive,
            "SHARE UPDATE EXCLUSIVE" => LockMode::ShareUpdateExclusive,
            "SHARE" => LockMode::Share,
            "SHARE ROW EXCLUSIVE" => LockMode::ShareRowExclusive,
            "EXCLUSIVE" => LockMode::Exclusive,
            "ACCESS EXCLUSIVE" => LockMode::AccessExclusive,
            _ => return None,
        }
    } else {
        LockMode::AccessExclusive
    };
    Some(
        tables
            .into_iter()
            .map(|table| Op::LockTable { table, mode })
            .collect(),
    )
}

fn truncate(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    t.eat(&mut i, &["TABLE"]);
    t.eat(&mut i, &["ONLY"]);
    let mut ops = Vec::new();
    loop {
        ops.push(Op::Truncate {
            table: t.name(&mut i)?,
        });
        if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Mul)) {
            i += 1;
        }
        if matches!(t.items.get(i).map(|x| &x.token), Some(Token::Comma)) {
            i += 1;
            t.eat(&mut i, &["ONLY"]);
        } else {
            break;
        }
    }
    Some(ops)
}

fn set(t: &Toks) -> Option<Vec<Op>> {
    let reset = t.is(0, "RESET");
    let mut i = 1;
    let local = t.eat(&mut i, &["LOCAL"]);
    t.eat(&mut i, &["SESSION"]);
    let mut name = t.ident(i)?;
    i += 1;
    // `SET foo.lock_timeout` is a custom (extension) setting, not lock_timeout.
    while matches!(t.items.get(i).map(|x| &x.token), Some(Token::Period)) {
        name = format!("{name}.{}", t.ident(i + 1)?);
        i += 2;
    }
    if name.eq_ignore_ascii_case("timezone")
        || (name.eq_ignore_ascii_case("time") && t.is(i, "ZONE"))
    {
        if !name.eq_ignore_ascii_case("timezone") {
            i += 1;
        }
        // Skip `TO` or `=` (`SET TIME ZONE 'UTC'` has neither).
        if t.is(i, "TO") || matches!(t.items.get(i).map(|x| &x.token), Some(Token::Eq)) {
            i += 1;
        }
        let zone = if reset {
            None
        } else {
            match t.items.get(i).map(|x| &x.token) {
                Some(Token::SingleQuotedString(s)) => Some(s.clone()),
                Some(Token::Word(w))
                    if !matches!(w.value.to_ascii_uppercase().as_str(), "LOCAL" | "DEFAULT") =>
                {
                    Some(w.value.clone())
                }
                Some(Token::Number(n, _)) => Some(n.clone()),
                _ => None,
            }
        };
        return Some(vec![Op::SetTimeZone { zone, local }]);
    }
    match timeout_kind(&name) {
        Some(timeout) => {
            let millis = if reset {
                None
            } else {
                // Skip `TO` or `=`.
                i += 1;
                match t.items.get(i).map(|x| &x.token) {
                    Some(Token::Number(n, _)) => parse_millis(n),
                    Some(Token::SingleQuotedString(s)) => parse_millis(s),
                    _ => None,
                }
            };
            Some(vec![Op::SetTimeout {
                timeout,
                millis,
                local,
            }])
        }
        None => Some(vec![Op::Set { name }]),
    }
}

fn dml(t: &Toks) -> Option<Vec<Op>> {
    let mut i = 1;
    let verb = t.kw(0)?;
    if verb == "INSERT" {
        t.eat(&mut i, &["INTO"]);
    } else if verb == "DELETE" {
        t.eat(&mut i, &["FROM"]);
    }
    t.eat(&mut i, &["ONLY"]);
    let table = t.name(&mut i)?;
    let has_where = t.find_top(i..t.len(), "WHERE").is_some();
    Some(vec![match verb {
        "INSERT" => Op::Insert {
            table,
            columns: Vec::new(),
            from_select: t.find_top(i..t.len(), "SELECT").is_some(),
        },
        "UPDATE" => Op::Update {
            table,
            columns: Vec::new(),
            has_where,
            selective: false,
        },
        _ => Op::Delete {
            table,
            has_where,
            selective: false,
        },
    }])
}

// ---------------------------------------------------------------------------------------
// DO blocks

/// Words that start a schema change.
const DDL_WORDS: &[&str] = &[
    "ALTER", "CREATE", "DROP", "TRUNCATE", "REINDEX", "CLUSTER", "VACUUM", "LOCK", "GRANT",
    "REVOKE", "COMMENT", "REFRESH",
];

/// Words that start a statement we can lower from inside a PL/pgSQL body.
const BODY_VERBS: &[&str] = &[
    "ALTER", "CREATE", "DROP", "TRUNCATE", "REINDEX", "CLUSTER", "LOCK", "COMMENT", "GRANT",
    "REVOKE", "REFRESH", "UPDATE", "DELETE", "INSERT",
];

/// PL/pgSQL words after which a new SQL statement may start.
const BODY_LEADS: &[&str] = &["BEGIN", "THEN", "ELSE", "LOOP", "DECLARE"];

/// `DO [LANGUAGE x] $$ body $$`: one `DoBlock` op, followed by the ops of the plain SQL
/// statements found in the body. `contains_ddl` is set when the body mentions DDL that we
/// could not lower (dynamic SQL in `EXECUTE`, or a statement we could not parse).
fn do_block(t: &Toks, depth: u8) -> Option<Vec<Op>> {
    let body = (1..t.len()).find_map(|k| t.string_at(k))?;
    let mut ops = vec![Op::DoBlock {
        contains_ddl: false,
    }];
    let mut unanalysed = false;
    if depth >= MAX_DEPTH {
        unanalysed = mentions_ddl(&body);
    } else {
        let inner = Toks::new(&body);
        let mut start = 0usize;
        let n = inner.len();
        for k in 0..=n {
            let at_end = k == n || matches!(inner.items[k].token, Token::SemiColon);
            if !at_end {
                continue;
            }
            let seg = start..k;
            start = k + 1;
            if seg.is_empty() {
                continue;
            }
            let verb_at = seg.clone().find(|&j| {
                inner.kw(j).is_some_and(|w| BODY_VERBS.contains(&w))
                    && (j == seg.start
                        || inner.kw(j - 1).is_some_and(|p| BODY_LEADS.contains(&p))
                        || matches!(inner.items[j - 1].token, Token::ShiftRight))
            });
            let seg_mentions = seg.clone().any(|j| {
                inner.kw(j).is_some_and(|w| DDL_WORDS.contains(&w))
                    || inner.string_at(j).is_some_and(|s| mentions_ddl(&s))
            });
            let exec_at = seg.clone().find(|&j| {
                inner.is(j, "EXECUTE")
                    && (j == seg.start || inner.kw(j - 1).is_some_and(|p| BODY_LEADS.contains(&p)))
            });
            if verb_at.is_none()
                && let Some(x) = exec_at
            {
                // Dynamic SQL: analysed when it is built from constants only.
                let resolved = resolve_execute(&inner, x + 1, seg.end)
                    .map(|sql| lower_text(&sql, depth + 1))
                    .filter(|(_, by, _)| *by != ParsedBy::Unparsed);
                match resolved {
                    Some((mut sub_ops, _, _)) => {
                        sub_ops.retain(|o| !matches!(o, Op::Other { .. }));
                        ops.append(&mut sub_ops);
                    }
                    None => {
                        let mut what = inner.text_of(x, seg.end).to_string();
                        if what.len() > 120 {
                            let mut cut = 117;
                            while !what.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            what.truncate(cut);
                            what.push_str("...");
                        }
                        ops.push(Op::NotAnalysed { what });
                        unanalysed |= seg_mentions;
                    }
                }
                continue;
            }
            match verb_at {
                Some(v) => {
                    let sub = inner.text_of(v, seg.end);
                    let (mut sub_ops, by, _) = lower_text(sub, depth + 1);
                    if by == ParsedBy::Unparsed {
                        unanalysed |= seg_mentions;
                    } else {
                        // Dynamic SQL later in the same segment is still unseen.
                        unanalysed |= (v + 1..seg.end)
                            .any(|j| inner.string_at(j).is_some_and(|s| mentions_ddl(&s)));
                        sub_ops.retain(|o| !matches!(o, Op::Other { .. }));
                        ops.append(&mut sub_ops);
                    }
                }
                None => unanalysed |= seg_mentions,
            }
        }
        if inner.len() == 0 {
            unanalysed = mentions_ddl(&body);
        }
    }
    ops[0] = Op::DoBlock {
        contains_ddl: unanalysed,
    };
    Some(ops)
}

/// The SQL of `EXECUTE <arg>` when it is a constant: a string literal, or `format()` of
/// string literals with `%I`, `%L`, `%s`, `%%` (what `format` does with them).
fn resolve_execute(t: &Toks, i: usize, end: usize) -> Option<String> {
    if i + 1 == end {
        return t.string_at(i);
    }
    if !t.is(i, "FORMAT") {
        return None;
    }
    let mut j = i + 1;
    let inside = t.skip_parens(&mut j)?;
    if j != end {
        return None;
    }
    let mut args = Vec::new();
    for a in t.split_commas(inside) {
        if a.len() != 1 {
            return None;
        }
        args.push(t.string_at(a.start)?);
    }
    let (fmt, args) = args.split_first()?;
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            's' => out.push_str(next.next()?),
            'I' => out.push_str(&quote_ident(next.next()?)),
            'L' => {
                out.push('\'');
                out.push_str(&next.next()?.replace('\'', "''"));
                out.push('\'');
            }
            _ => return None,
        }
    }
    Some(out)
}

/// `quote_ident`: quoted unless a plain lower-case identifier.
fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// Whether text (a dynamic SQL string, say) contains a DDL keyword as a word.
fn mentions_ddl(s: &str) -> bool {
    s.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| DDL_WORDS.iter().any(|d| d.eq_ignore_ascii_case(w)))
}
