//! Statement splitting with exact byte spans.
//!
//! A byte-level scanner that follows PostgreSQL's lexical rules (the same ones psql uses to
//! find statement ends) cuts the script on `;` outside quotes, dollar quotes, comments,
//! parentheses and SQL-standard `BEGIN ATOMIC … END` bodies. Each piece is then tokenized
//! on its own with sqlparser's tokenizer, and those tokens feed the parser.
//!
//! Why not tokenize the whole script first: sqlparser's token vector costs about 27 bytes
//! of memory per byte of SQL (half a gigabyte for a 20 MB script, and the page faults
//! dominated the run time). Scanning first keeps memory proportional to the largest
//! statement and the split itself at well over 100 MB/s.
//!
//! When a quote, dollar quote or block comment is left open, the statements before it are
//! still split normally and the broken tail becomes one piece carrying an error.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use std::ops::Range;

/// One statement's text as found by the splitter.
#[derive(Debug, Clone)]
pub struct Piece {
    /// Byte span in the split text, first token to last token, without the `;`.
    pub span: Range<usize>,
    /// Set when the piece is lexically broken (unterminated quote or comment).
    pub error: Option<String>,
    /// `standard_conforming_strings` was off when this piece was read: backslashes escape
    /// in plain `'…'` strings too (as in `E'…'`).
    pub backslash_strings: bool,
    /// The goose `StatementBegin/End` region (relative to the split text) this piece lies
    /// in: the framework sends the whole region as one message.
    pub region: Option<Range<usize>>,
}

/// Splits `text` into statements. `whole` lists byte ranges (relative to `text`) that the
/// framework sends to the server as one message (goose `StatementBegin/End`): the server
/// still runs every command in them, so they are split like any other text; a statement
/// never crosses a region boundary and the pieces inside carry the region.
pub fn split(text: &str, whole: &[Range<usize>]) -> Vec<Piece> {
    scan(text, whole, true).unwrap_or_else(|| {
        // Unbalanced parentheses or BEGIN ATOMIC: one typo must not swallow the rest of
        // the file, so cut on every `;` outside quotes and comments instead.
        scan(text, whole, false).unwrap_or_default()
    })
}

/// Tokenizes one piece of text; returns tokens and their byte spans.
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

/// Length of the UTF-8 sequence starting with byte `b`.
fn utf8_len(b: u8) -> usize {
    match b {
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

/// What a lexical construct left open at the end of the text.
fn unterminated(what: &str, text: &str, at: usize) -> String {
    let line = text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    format!("unterminated {what} starting on line {line}")
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The statement being collected by the scanner.
struct Cur {
    start: usize,
    last_end: usize,
    /// The whole-statement region the statement started in, if any.
    region: Option<Range<usize>>,
    /// The first words, upper-cased, to recognise `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
    lead: Vec<String>,
    /// Backslash escapes were active in plain strings when the statement started.
    backslash: bool,
}

fn is_routine(lead: &[String]) -> bool {
    let w = |i: usize| lead.get(i).map(String::as_str);
    let routine = |x: Option<&str>| matches!(x, Some("FUNCTION" | "PROCEDURE"));
    w(0) == Some("CREATE")
        && (routine(w(1)) || (w(1) == Some("OR") && w(2) == Some("REPLACE") && routine(w(3))))
}

/// The `standard_conforming_strings` setting as the session sees it while a script runs.
/// The server reads `'…'` with backslash escapes when it is off, so the splitter must too.
#[derive(Debug, Clone, Copy)]
struct Conforming {
    session: bool,
    /// `SET LOCAL`: in effect until the transaction ends.
    local: Option<bool>,
}

impl Conforming {
    fn backslash(&self) -> bool {
        !self.local.unwrap_or(self.session)
    }

    /// Updates the setting after `stmt` (one complete statement) ran.
    fn after(&mut self, stmt: &str) {
        // Only short statements can be one of the forms below; skip the scan otherwise.
        if stmt.len() > 200
            || !matches!(
                stmt.as_bytes().first().map(u8::to_ascii_lowercase),
                Some(b's' | b'r' | b'd' | b'c' | b'e' | b'a')
            )
        {
            return;
        }
        let words = words(stmt);
        let w = |i: usize| words.get(i).map(String::as_str);
        match w(0) {
            Some("set") => {
                let (local, k) = match w(1) {
                    Some("local") => (true, 2),
                    Some("session") => (false, 2),
                    _ => (false, 1),
                };
                if w(k) != Some("standard_conforming_strings") {
                    return;
                }
                let v = match w(k + 1) {
                    Some("to" | "=") => w(k + 2),
                    other => other,
                };
                let on = match v {
                    Some("off" | "false" | "no" | "0" | "of" | "f" | "n") => false,
                    Some("on" | "true" | "yes" | "1" | "t" | "y" | "default") => true,
                    // An invalid value is an error: the setting does not change.
                    _ => return,
                };
                if local {
                    self.local = Some(on);
                } else {
                    self.session = on;
                }
            }
            Some("reset") if matches!(w(1), Some("standard_conforming_strings" | "all")) => {
                self.session = true;
            }
            Some("discard") if w(1) == Some("all") => {
                self.session = true;
                self.local = None;
            }
            Some("commit" | "end" | "abort") => self.local = None,
            Some("rollback") if w(1) != Some("to") => self.local = None,
            _ => {}
        }
    }
}

/// Lower-cased words, quoted strings (their content) and `=` of a short statement.
fn words(stmt: &str) -> Vec<String> {
    let b = stmt.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            let q = c;
            let mut j = i + 1;
            while j < b.len() && b[j] != q {
                j += 1;
            }
            out.push(String::from_utf8_lossy(&b[i + 1..j.min(b.len())]).to_ascii_lowercase());
            i = j + 1;
        } else if c == b'=' {
            out.push("=".into());
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if is_ident_byte(c) {
            let s = i;
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            out.push(String::from_utf8_lossy(&b[s..i]).to_ascii_lowercase());
        } else {
            i += 1;
        }
    }
    out
}

/// The next word after `i`, skipping whitespace and comments.
fn next_word(b: &[u8], mut i: usize) -> &[u8] {
    let n = b.len();
    loop {
        while i < n && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) == Some(&b'-') && b.get(i + 1) == Some(&b'-') {
            while i < n && b[i] != b'\n' {
                i += 1;
            }
        } else if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'*') {
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
        } else {
            break;
        }
    }
    let s = i;
    while i < n && is_ident_byte(b[i]) {
        i += 1;
    }
    &b[s.min(n)..i.min(n)]
}

/// What kind of string literal a `'` at `i` opens, from the bytes before it.
fn quote_prefix(b: &[u8], i: usize) -> u8 {
    let boundary = |k: usize| k == 0 || !is_ident_byte(b[k - 1]);
    if i >= 1 && boundary(i - 1) {
        match b[i - 1] {
            b'e' | b'E' => return b'e',
            b'b' | b'B' | b'x' | b'X' => return b'b',
            _ => {}
        }
    }
    if i >= 2 && b[i - 1] == b'&' && matches!(b[i - 2], b'u' | b'U') && boundary(i - 2) {
        return b'u';
    }
    b'q'
}

/// The byte scanner. With `nesting`, `;` inside parentheses or inside a routine's
/// `BEGIN ATOMIC … END` does not split, and `None` is returned when those are unbalanced
/// at the end.
fn scan(text: &str, whole: &[Range<usize>], nesting: bool) -> Option<Vec<Piece>> {
    let b = text.as_bytes();
    let n = b.len();
    let mut pieces = Vec::new();
    let mut cur: Option<Cur> = None;
    let mut paren = 0usize;
    let mut block = 0usize;
    let mut unbalanced = false;
    let mut conforming = Conforming {
        session: true,
        local: None,
    };
    // A setting changed inside a region takes effect when the region's message is done:
    // the server reads the whole message before running any of it.
    let mut deferred: Option<Conforming> = None;
    // The previous significant token was `.` or the word `AS` (a label follows, not a
    // keyword: `t.end`, `AS end`).
    let mut label_next = false;
    let mut i = 0usize;
    let region_at = |s: usize| whole.iter().find(|r| r.start <= s && s < r.end).cloned();

    // Records significant text at s..e, starting a statement if none is open.
    let mark = |cur: &mut Option<Cur>, s: usize, e: usize, backslash: bool| {
        let c = cur.get_or_insert_with(|| Cur {
            start: s,
            last_end: e,
            region: region_at(s),
            lead: Vec::new(),
            backslash,
        });
        c.last_end = e;
    };
    let finish = |cur: &mut Option<Cur>,
                  pieces: &mut Vec<Piece>,
                  conforming: &mut Conforming,
                  deferred: &mut Option<Conforming>| {
        if let Some(c) = cur.take() {
            let stmt = text.get(c.start..c.last_end).unwrap_or("");
            if c.region.is_some() {
                deferred.get_or_insert(*conforming).after(stmt);
            } else {
                conforming.after(stmt);
            }
            pieces.push(Piece {
                span: c.start..c.last_end,
                error: None,
                backslash_strings: c.backslash,
                region: c.region,
            });
        }
    };
    // A lexically broken tail: everything from the open statement (or the construct) on.
    let broken = |cur: &mut Option<Cur>,
                  pieces: &mut Vec<Piece>,
                  open: usize,
                  what: &str,
                  backslash: bool| {
        let (s, region) = cur
            .take()
            .map_or((open, region_at(open)), |c| (c.start, c.region));
        pieces.push(Piece {
            span: s..n,
            error: Some(unterminated(what, text, open)),
            backslash_strings: backslash,
            region,
        });
    };

    while i < n {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // A region boundary ends the statement: the text before it and the region are
        // separate messages.
        let region_here = region_at(i);
        if let Some(open) = cur.as_ref()
            && open.region != region_here
        {
            finish(&mut cur, &mut pieces, &mut conforming, &mut deferred);
            paren = 0;
            block = 0;
        }
        if region_here.is_none()
            && let Some(d) = deferred.take()
        {
            conforming = d;
        }
        let backslash = conforming.backslash();
        let was_label = std::mem::replace(&mut label_next, false);
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                label_next = was_label;
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                label_next = was_label;
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
                    broken(&mut cur, &mut pieces, open, "block comment", backslash);
                    return Some(pieces);
                }
            }
            b'\'' => {
                let open = i;
                // E'…' strings allow backslash escapes, and so do plain ones while
                // standard_conforming_strings is off; B'…', X'…' and U&'…' never do.
                let escaped = match quote_prefix(b, i) {
                    b'e' => true,
                    b'q' => backslash,
                    _ => false,
                };
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
                    broken(&mut cur, &mut pieces, open, "quoted string", backslash);
                    return Some(pieces);
                }
                mark(&mut cur, open, i, backslash);
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
                    broken(&mut cur, &mut pieces, open, "quoted identifier", backslash);
                    return Some(pieces);
                }
                mark(&mut cur, open, i, backslash);
            }
            b'$' => {
                // $tag$ … $tag$ (the tag may be empty); `$1` is a parameter, not a quote.
                let open = i;
                let mut j = i + 1;
                while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
                    j += 1;
                }
                let tag_ok = j < n && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit());
                if tag_ok {
                    let tag = &b[i..=j];
                    let body = j + 1;
                    match find(&b[body..], tag) {
                        Some(k) => {
                            i = body + k + tag.len();
                            mark(&mut cur, open, i, backslash);
                        }
                        None => {
                            broken(
                                &mut cur,
                                &mut pieces,
                                open,
                                "dollar-quoted string",
                                backslash,
                            );
                            return Some(pieces);
                        }
                    }
                } else {
                    i += 1;
                    mark(&mut cur, open, i, backslash);
                }
            }
            b';' => {
                if paren == 0 && block == 0 {
                    finish(&mut cur, &mut pieces, &mut conforming, &mut deferred);
                }
                i += 1;
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < n && is_ident_byte(b[i]) {
                    i += 1;
                }
                mark(&mut cur, start, i, backslash);
                let word = &b[start..i];
                label_next = word.eq_ignore_ascii_case(b"as");
                if let Some(st) = cur.as_mut() {
                    if st.lead.len() < 4 {
                        st.lead
                            .push(String::from_utf8_lossy(word).to_ascii_uppercase());
                    }
                    // The server keeps `;` inside a SQL-standard routine body
                    // (`BEGIN ATOMIC … END`) in the statement. The body opens only with
                    // the two words `BEGIN ATOMIC` outside parentheses (so a parameter
                    // or column named `begin` opens nothing); inside it, CASE … END
                    // nests. A word after `.` or `AS` is a label, not a keyword.
                    if nesting && !was_label && word.len() <= 5 && is_routine(&st.lead) {
                        if block == 0 {
                            if paren == 0
                                && word.eq_ignore_ascii_case(b"begin")
                                && next_word(b, i).eq_ignore_ascii_case(b"atomic")
                            {
                                block = 1;
                            }
                        } else if word.eq_ignore_ascii_case(b"case") {
                            block += 1;
                        } else if word.eq_ignore_ascii_case(b"end") {
                            block -= 1;
                        }
                    }
                }
            }
            _ => {
                label_next = c == b'.';
                if nesting {
                    if c == b'(' {
                        paren += 1;
                    } else if c == b')' {
                        if paren == 0 {
                            unbalanced = true;
                        }
                        paren = paren.saturating_sub(1);
                    }
                }
                let len = utf8_len(c).min(n - i);
                mark(&mut cur, i, i + len, backslash);
                i += len;
            }
        }
    }
    if nesting && (paren != 0 || block != 0 || unbalanced) {
        return None;
    }
    finish(&mut cur, &mut pieces, &mut conforming, &mut deferred);
    Some(pieces)
}

/// First occurrence of `needle` in `hay`.
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
        assert_eq!(
            texts(sql),
            vec!["SELECT 'héllo wörld'", "SELECT \"ünï\" FROM t"]
        );
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
        assert_eq!(
            texts(sql),
            vec!["CREATE TABLE a (x int", "CREATE TABLE b (y int)"]
        );
    }

    #[test]
    fn quotes_comments_and_parameters() {
        let sql = "SELECT E'it\\'s;' ; DO $x$ BEGIN; END $x$; /* a /* b; */ c; */ SELECT \"a;\"; SELECT $1, a$b";
        assert_eq!(
            texts(sql),
            vec![
                "SELECT E'it\\'s;'",
                "DO $x$ BEGIN; END $x$",
                "SELECT \"a;\"",
                "SELECT $1, a$b"
            ]
        );
    }

    #[test]
    fn tokenizer_spans_are_byte_exact() {
        let sql = "SELECT 'é☃', \"ü\"\r\n  FROM t";
        let (toks, spans) = tokenize(sql).unwrap();
        let rebuilt: String = spans.iter().map(|s| &sql[s.clone()]).collect();
        assert_eq!(rebuilt, sql);
        assert_eq!(toks.len(), spans.len());
    }

    #[test]
    fn scanner_reports_unterminated_tail() {
        let sql = "SELECT 1; SELECT 'abc; SELECT 2;";
        let s = split(sql, &[]);
        assert_eq!(s.len(), 2);
        assert_eq!(&sql[s[0].span.clone()], "SELECT 1");
        assert_eq!(&sql[s[1].span.clone()], "SELECT 'abc; SELECT 2;");
        assert!(
            s[1].error
                .as_deref()
                .is_some_and(|e| e.contains("unterminated quoted string"))
        );
    }
}
