//! Statement splitting with exact byte spans.
//!
//! The primary path tokenizes the whole script with sqlparser's tokenizer (PostgreSQL
//! dialect) and cuts on `;` tokens outside parentheses and outside SQL-standard
//! `BEGIN ATOMIC … END` bodies. The tokenizer reports line/column locations (columns count
//! characters), which we convert to byte offsets in one forward pass.
//!
//! When the tokenizer fails (unterminated string, dollar quote, quoted identifier or block
//! comment), a byte-level scanner that follows PostgreSQL's lexical rules splits the text
//! instead, so statements before the broken one are still analysed; the broken tail becomes
//! one piece carrying an error.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use std::ops::Range;

/// One statement's text as found by the splitter.
#[derive(Debug, Clone)]
pub struct Piece {
    /// Byte span in the split text, first token to last token, without the `;`.
    pub span: Range<usize>,
    /// Indexes into [`Split::tokens`] when the tokenizer path produced this piece.
    pub tokens: Option<Range<usize>>,
    /// Set when the piece is lexically broken (unterminated quote or comment).
    pub error: Option<String>,
}

/// The result of splitting one text.
#[derive(Debug, Default)]
pub struct Split {
    /// All tokens of the text (tokenizer path only; empty otherwise).
    pub tokens: Vec<TokenWithSpan>,
    /// Byte range of each token in `tokens`.
    pub byte_spans: Vec<Range<usize>>,
    pub pieces: Vec<Piece>,
}

/// Splits `text` into statements. `whole` lists byte ranges (relative to `text`) that must
/// stay one statement whatever their semicolons say.
pub fn split(text: &str, whole: &[Range<usize>]) -> Split {
    let mut tokens = Vec::new();
    let dialect = PostgreSqlDialect {};
    match Tokenizer::new(&dialect, text).tokenize_with_location_into_buf(&mut tokens) {
        Ok(()) => {
            let byte_spans = byte_spans(text, &tokens);
            let mut pieces = split_tokens(&tokens, &byte_spans, whole, true);
            if pieces.is_none() {
                // Unbalanced parentheses or BEGIN/END: one typo must not swallow the rest
                // of the file, so cut on every top-level-looking `;` instead.
                pieces = split_tokens(&tokens, &byte_spans, whole, false);
            }
            Split {
                pieces: pieces.unwrap_or_default(),
                tokens,
                byte_spans,
            }
        }
        Err(_) => Split {
            tokens: Vec::new(),
            byte_spans: Vec::new(),
            pieces: scan_bytes(text, whole),
        },
    }
}

/// Tokenizes one piece of text on its own (used for pieces from the byte scanner and for
/// sub-statements); returns tokens and their byte spans.
pub fn tokenize(text: &str) -> Result<(Vec<TokenWithSpan>, Vec<Range<usize>>), String> {
    let dialect = PostgreSqlDialect {};
    let mut tokens = Vec::new();
    Tokenizer::new(&dialect, text)
        .tokenize_with_location_into_buf(&mut tokens)
        .map_err(|e| e.to_string())?;
    let spans = byte_spans(text, &tokens);
    Ok((tokens, spans))
}

/// Converts token locations to byte ranges in one forward pass over `text`.
///
/// sqlparser's tokens are contiguous (whitespace and comments are tokens too), so each
/// token starts where the previous one ended; we only walk forward to each end location.
/// Columns count characters and only `\n` starts a new line.
pub fn byte_spans(text: &str, tokens: &[TokenWithSpan]) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(tokens.len());
    let mut pos = 0usize;
    let mut line = 1u64;
    let mut col = 1u64;
    for t in tokens {
        let start = pos;
        let target: Location = t.span.end;
        while pos < bytes.len() && (line, col) < (target.line, target.column) {
            let b = bytes[pos];
            if b == b'\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            pos += utf8_len(b);
        }
        pos = pos.min(bytes.len());
        out.push(start..pos);
    }
    out
}

/// Length of the UTF-8 sequence starting with byte `b` (1 for stray continuation bytes,
/// which cannot occur in a `&str` at a char boundary).
fn utf8_len(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

/// Whitespace and comments: not part of any statement's span.
pub fn is_trivia(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

/// The upper-cased keyword of an unquoted word token.
fn word_upper(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// State of the statement being collected.
struct Current {
    /// Index of the first significant token.
    first: usize,
    /// Index of the last significant token that is not a `;`.
    last: Option<usize>,
    /// Significant words seen so far (only the first few are kept), to recognise
    /// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` bodies.
    lead: Vec<String>,
    /// End of the `whole_statements` region the statement started in, if any.
    region_end: Option<usize>,
}

/// Splits the token stream. `nesting` enables paren and BEGIN ATOMIC depth tracking;
/// returns `None` when nesting is unbalanced at the end so the caller can retry without.
fn split_tokens(
    tokens: &[TokenWithSpan],
    spans: &[Range<usize>],
    whole: &[Range<usize>],
    nesting: bool,
) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut cur: Option<Current> = None;
    let mut paren: usize = 0;
    let mut block: usize = 0;
    let mut unbalanced = false;

    let finish = |cur: &mut Option<Current>, pieces: &mut Vec<Piece>| {
        if let Some(c) = cur.take()
            && let Some(last) = c.last
        {
            pieces.push(Piece {
                span: spans[c.first].start..spans[last].end,
                tokens: Some(c.first..last + 1),
                error: None,
            });
        }
    };

    for (i, t) in tokens.iter().enumerate() {
        if is_trivia(&t.token) {
            continue;
        }
        let pos = spans[i].start;
        // Leaving a whole-statement region ends the statement that started inside it.
        if let Some(c) = &cur
            && let Some(end) = c.region_end
            && pos >= end
        {
            finish(&mut cur, &mut pieces);
            paren = 0;
            block = 0;
        }
        let in_region = cur.as_ref().and_then(|c| c.region_end).is_some()
            || whole.iter().any(|r| r.start <= pos && pos < r.end);
        if matches!(t.token, Token::SemiColon) {
            if (paren == 0 && block == 0) && !in_region {
                finish(&mut cur, &mut pieces);
            }
            continue;
        }
        let c = cur.get_or_insert_with(|| Current {
            first: i,
            last: None,
            lead: Vec::new(),
            region_end: whole
                .iter()
                .find(|r| r.start <= pos && pos < r.end)
                .map(|r| r.end),
        });
        c.last = Some(i);
        // Only the first words of a statement are upper-cased (allocation per word would
        // dominate the splitter's cost).
        if c.lead.len() < 4
            && let Some(w) = word_upper(&t.token)
        {
            c.lead.push(w);
        }
        if !nesting {
            continue;
        }
        match &t.token {
            Token::LParen => paren += 1,
            Token::RParen => {
                if paren == 0 {
                    unbalanced = true;
                }
                paren = paren.saturating_sub(1);
            }
            // psql's rule: inside CREATE FUNCTION/PROCEDURE, BEGIN and CASE open a block
            // and END closes one, so `;` inside `BEGIN ATOMIC … END` does not end the
            // statement.
            Token::Word(w) if w.quote_style.is_none() => {
                let opens = w.value.eq_ignore_ascii_case("begin") || w.value.eq_ignore_ascii_case("case");
                let closes = w.value.eq_ignore_ascii_case("end");
                if (opens || closes) && is_routine(&c.lead) {
                    if opens {
                        block += 1;
                    } else {
                        if block == 0 {
                            unbalanced = true;
                        }
                        block = block.saturating_sub(1);
                    }
                }
            }
            _ => {}
        }
    }
    if nesting && (paren != 0 || block != 0 || unbalanced) {
        return None;
    }
    finish(&mut cur, &mut pieces);
    Some(pieces)
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
fn is_routine(lead: &[String]) -> bool {
    let w = |i: usize| lead.get(i).map(String::as_str);
    let routine = |x: Option<&str>| matches!(x, Some("FUNCTION" | "PROCEDURE"));
    w(0) == Some("CREATE")
        && (routine(w(1)) || (w(1) == Some("OR") && w(2) == Some("REPLACE") && routine(w(3))))
}

/// What a lexical construct left open at the end of the text.
fn unterminated(what: &str, text: &str, at: usize) -> String {
    let line = text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    format!("unterminated {what} starting on line {line}")
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Byte-level splitter following PostgreSQL's lexical rules; used when the tokenizer
/// fails. Splits on `;` outside quotes, comments and parentheses.
pub fn scan_bytes(text: &str, whole: &[Range<usize>]) -> Vec<Piece> {
    let b = text.as_bytes();
    let n = b.len();
    let mut pieces = Vec::new();
    let mut start: Option<usize> = None; // first significant byte of the current statement
    let mut last_end = 0usize; // end of the last significant byte
    let mut paren = 0usize;
    let mut i = 0usize;
    let mut region_end: Option<usize> = None;

    macro_rules! mark {
        ($s:expr, $e:expr) => {{
            if start.is_none() {
                start = Some($s);
                region_end = whole.iter().find(|r| r.start <= $s && $s < r.end).map(|r| r.end);
            }
            last_end = $e;
        }};
    }

    while i < n {
        if let (Some(s), Some(end)) = (start, region_end)
            && i >= end
            && !b[i].is_ascii_whitespace()
        {
            pieces.push(Piece {
                span: s..last_end,
                tokens: None,
                error: None,
            });
            start = None;
            region_end = None;
            paren = 0;
        }
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let open = i;
                let mut depth = 1usize;
                i += 2;
                while i < n && depth > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                if depth > 0 {
                    let s = start.unwrap_or(open);
                    pieces.push(Piece {
                        span: s..n,
                        tokens: None,
                        error: Some(unterminated("block comment", text, open)),
                    });
                    return pieces;
                }
            }
            b'\'' => {
                let open = i;
                // E'…' strings allow backslash escapes.
                let escaped = i >= 1
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !is_ident_byte(b[i - 2]));
                i += 1;
                let mut closed = false;
                while i < n {
                    if escaped && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        closed = true;
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                if !closed {
                    let s = start.unwrap_or(open);
                    pieces.push(Piece {
                        span: s..n,
                        tokens: None,
                        error: Some(unterminated("quoted string", text, open)),
                    });
                    return pieces;
                }
                mark!(open, i);
                continue;
            }
            b'"' => {
                let open = i;
                i += 1;
                let mut closed = false;
                while i < n {
                    if b[i] == b'"' {
                        if b.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        closed = true;
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                if !closed {
                    let s = start.unwrap_or(open);
                    pieces.push(Piece {
                        span: s..n,
                        tokens: None,
                        error: Some(unterminated("quoted identifier", text, open)),
                    });
                    return pieces;
                }
                mark!(open, i);
                continue;
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => {
                // $tag$ … $tag$ (the tag may be empty); `$1` is a parameter, not a quote.
                let open = i;
                let mut j = i + 1;
                while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
                    j += 1;
                }
                let tag_ok = j < n
                    && b[j] == b'$'
                    && (j == i + 1 || !b[i + 1].is_ascii_digit());
                if tag_ok {
                    let tag = &b[i..=j];
                    let body = j + 1;
                    match find(&b[body..], tag) {
                        Some(k) => {
                            i = body + k + tag.len();
                            mark!(open, i);
                            continue;
                        }
                        None => {
                            let s = start.unwrap_or(open);
                            pieces.push(Piece {
                                span: s..n,
                                tokens: None,
                                error: Some(unterminated("dollar-quoted string", text, open)),
                            });
                            return pieces;
                        }
                    }
                }
                mark!(i, i + 1);
                i += 1;
            }
            b';' if paren == 0 && region_end.is_none() => {
                if let Some(s) = start.take() {
                    pieces.push(Piece {
                        span: s..last_end,
                        tokens: None,
                        error: None,
                    });
                }
                i += 1;
            }
            b';' => i += 1,
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                if c == b'(' {
                    paren += 1;
                } else if c == b')' {
                    paren = paren.saturating_sub(1);
                }
                let len = utf8_len(c).min(n - i);
                mark!(i, i + len);
                i += len;
            }
        }
    }
    if let Some(s) = start {
        pieces.push(Piece {
            span: s..last_end,
            tokens: None,
            error: None,
        });
    }
    pieces
}

/// First occurrence of `needle` in `hay` (linear for the short tags we search for).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..].iter().position(|&c| c == first) {
            Some(k) => {
                i += k;
                if i + needle.len() <= hay.len() && &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql, &[])
            .pieces
            .iter()
            .map(|p| &sql[p.span.clone()])
            .collect()
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        let sql = "  CREATE TABLE a (x int);\n-- c\nSELECT 'a;b' ; ;SELECT 1 /* x; */";
        assert_eq!(
            texts(sql),
            vec!["CREATE TABLE a (x int)", "SELECT 'a;b'", "SELECT 1"]
        );
    }

    #[test]
    fn byte_offsets_survive_multibyte_text() {
        let sql = "SELECT 'héllo wörld';\nSELECT \"ünï\" FROM t;";
        assert_eq!(texts(sql), vec!["SELECT 'héllo wörld'", "SELECT \"ünï\" FROM t"]);
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END; SELECT 2";
        assert_eq!(
            texts(sql),
            vec![
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn unbalanced_paren_does_not_swallow_the_file() {
        let sql = "CREATE TABLE a (x int;\nCREATE TABLE b (y int);";
        assert_eq!(texts(sql), vec!["CREATE TABLE a (x int", "CREATE TABLE b (y int)"]);
    }

    #[test]
    fn scanner_matches_tokenizer_on_well_formed_sql() {
        let sql = "SELECT E'it\\'s;' ; DO $x$ BEGIN; END $x$; /* a /* b; */ c; */ SELECT \"a;\"; SELECT $1";
        let scanned: Vec<&str> = scan_bytes(sql, &[])
            .iter()
            .map(|p| &sql[p.span.clone()])
            .collect();
        assert_eq!(scanned, texts(sql));
    }

    #[test]
    fn scanner_reports_unterminated_tail() {
        let sql = "SELECT 1; SELECT 'abc; SELECT 2;";
        let s = split(sql, &[]);
        assert_eq!(s.pieces.len(), 2);
        assert_eq!(&sql[s.pieces[0].span.clone()], "SELECT 1");
        assert_eq!(&sql[s.pieces[1].span.clone()], "SELECT 'abc; SELECT 2;");
        assert!(
            s.pieces[1]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("unterminated quoted string"))
        );
    }
}
