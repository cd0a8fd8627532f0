//! The parser's view of one statement: template placeholders masked, strings normalised.
//!
//! Real migration folders contain Go-template actions (`{{ .Schema }}`, `{{ index .Options
//! "Namespace" }}`), flyway placeholders (`${schema}`) and psql variables (`:"var"`,
//! `:'var'`, `:var`). PostgreSQL never sees them (the framework substitutes them first), but
//! they break our tokenizer and parser. Each one is replaced by an identifier of exactly
//! the same byte length, so every byte offset computed on the masked text is also an
//! offset into the original text.
//!
//! Masking happens *after* splitting, on one statement, and only where it cannot change
//! the lexical structure: a placeholder is masked only in code (never inside a comment or
//! a string) and only when its own text is lexically closed (no quote, comment marker,
//! `;` or dollar quote that it opens or ends). So a placeholder can never hide a `*/` or a
//! quote from us while the server sees it.
//!
//! Each mask is a distinct identifier (`tpl` + a letter code + `_` padding), so the names
//! built from the masked text can be mapped back to what the user wrote
//! ([`Masked::restore`]).

use std::borrow::Cow;

/// The longest placeholder we mask; longer `{{ … }}` runs are more likely data than templates.
const MAX_PLACEHOLDER: usize = 400;

/// One statement as the parser should read it.
#[derive(Debug, Clone)]
pub struct Masked<'a> {
    pub text: Cow<'a, str>,
    /// `(mask, original)` for every placeholder replaced.
    pub placeholders: Vec<(String, String)>,
}

impl Masked<'_> {
    /// Replaces every mask in `s` by the placeholder the user wrote; true when one was.
    pub fn restore(&self, s: &mut String) -> bool {
        if self.placeholders.is_empty() || !s.contains("tpl") {
            return false;
        }
        let mut changed = false;
        // Longest masks first so a short mask never matches inside a longer one.
        for (mask, original) in &self.placeholders {
            if s.contains(mask.as_str()) {
                *s = s.replace(mask.as_str(), original);
                changed = true;
            }
        }
        changed
    }
}

/// Returns `text` with template placeholders replaced by same-length identifiers.
/// Borrowed when there is nothing to mask.
pub fn mask(text: &str) -> Cow<'_, str> {
    view(text, false).text
}

/// The parser's view of one statement. `backslash_strings`: the statement was read with
/// `standard_conforming_strings` off, so `\'` inside a plain `'…'` is an escaped quote;
/// it is rewritten to `''` (same length) for our tokenizer, which knows only the standard
/// form.
pub fn view(text: &str, backslash_strings: bool) -> Masked<'_> {
    let bytes = text.as_bytes();
    let maybe_placeholder = bytes
        .windows(2)
        .any(|w| (w[1] == b'{' && (w[0] == b'{' || w[0] == b'$')) || w[0] == b':');
    let maybe_backslash = backslash_strings && bytes.contains(&b'\\');
    if !maybe_placeholder && !maybe_backslash {
        return Masked {
            text: Cow::Borrowed(text),
            placeholders: Vec::new(),
        };
    }
    let mut buf = bytes.to_vec();
    let mut found: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    walk(
        bytes,
        0,
        bytes.len(),
        backslash_strings,
        &mut buf,
        &mut found,
    );
    if found.is_empty() && buf == bytes {
        return Masked {
            text: Cow::Borrowed(text),
            placeholders: Vec::new(),
        };
    }
    let mut placeholders = Vec::new();
    for (k, (r, original)) in found.into_iter().enumerate() {
        let fill = fill_for(k, r.len());
        buf[r.clone()].copy_from_slice(fill.as_bytes());
        if fill.starts_with("tpl") {
            placeholders.push((fill, original));
        }
    }
    placeholders.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    match String::from_utf8(buf) {
        // Only ASCII was written, over whole placeholders or single ASCII bytes.
        Ok(s) if s.len() == text.len() => Masked {
            text: Cow::Owned(s),
            placeholders,
        },
        _ => Masked {
            text: Cow::Borrowed(text),
            placeholders: Vec::new(),
        },
    }
}

/// Walks `b[from..to]` as SQL code, recording placeholders in code and inside
/// dollar-quoted bodies (which are code again: function and DO bodies), and rewriting
/// backslash-escaped quotes. Stops quietly at anything left open.
fn walk(
    b: &[u8],
    from: usize,
    to: usize,
    backslash: bool,
    out: &mut [u8],
    found: &mut Vec<(std::ops::Range<usize>, String)>,
) {
    let mut i = from;
    while i < to {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < to && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1usize;
                i += 2;
                while i < to && depth > 0 {
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
            }
            b'\'' => {
                let prefix_e = i >= 1
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !is_ident_byte(b[i - 2]));
                let prefix_bxu = i >= 1
                    && (matches!(b[i - 1], b'b' | b'B' | b'x' | b'X' | b'&'))
                    && (i < 2 || !is_ident_byte(b[i - 2]) || b[i - 1] == b'&');
                let escaped = prefix_e || (backslash && !prefix_bxu);
                let rewrite = backslash && !prefix_e && !prefix_bxu;
                i += 1;
                while i < to {
                    if escaped && b[i] == b'\\' {
                        if rewrite && b.get(i + 1) == Some(&b'\'') {
                            out[i] = b'\'';
                        }
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            // `"{{ index .Options "Namespace" }}"`: a template action quoted as a whole
            // (its own quotes pair up, so masking it keeps the quotes balanced).
            b'"' if b.get(i + 1) == Some(&b'{')
                && b.get(i + 2) == Some(&b'{')
                && go_template_end(b, i + 1).is_some_and(|e| e < to && b[e] == b'"') =>
            {
                let e = go_template_end(b, i + 1).unwrap_or(i + 1);
                record(b, i + 1..e, found);
                i = e + 1;
            }
            b'"' => {
                i += 1;
                while i < to {
                    if b[i] == b'"' {
                        if b.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' if b.get(i + 1) == Some(&b'{') => match flyway_end(b, i).filter(|&e| e <= to) {
                Some(e) => {
                    record(b, i..e, found);
                    i = e;
                }
                None => i += 1,
            },
            b'$' => {
                let mut j = i + 1;
                while j < to && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
                    j += 1;
                }
                if j < to && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit()) {
                    let tag = &b[i..=j];
                    let body = j + 1;
                    match find(&b[body..to], tag) {
                        Some(k) => {
                            walk(b, body, body + k, false, out, found);
                            i = body + k + tag.len();
                        }
                        None => return,
                    }
                } else {
                    i = j.max(i + 1);
                }
            }
            b'{' if b.get(i + 1) == Some(&b'{') => {
                match go_template_end(b, i).filter(|&e| e <= to) {
                    Some(e) => {
                        record(b, i..e, found);
                        i = e;
                    }
                    None => i += 1,
                }
            }
            b':' => match psql_var_end(b, i).filter(|&e| e <= to) {
                Some(e) => {
                    record(b, i..e, found);
                    i = e;
                }
                None => {
                    // `::` is a cast; skip both colons.
                    i += if b.get(i + 1) == Some(&b':') { 2 } else { 1 };
                }
            },
            c if is_ident_byte(c) => {
                while i < to && is_ident_byte(b[i]) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
}

/// Records a placeholder when its text is lexically closed: masking it then cannot move
/// the end of any comment, string or statement.
fn record(b: &[u8], r: std::ops::Range<usize>, found: &mut Vec<(std::ops::Range<usize>, String)>) {
    let p = &b[r.clone()];
    let psql_string = p.len() >= 3 && p[0] == b':' && p[1] == b'\'';
    let closed = !p.contains(&b';')
        && !p.contains(&b'\\')
        && !p.contains(&b'\n')
        && (psql_string || !p.contains(&b'\''))
        && p.iter().filter(|&&c| c == b'"').count() % 2 == 0
        && !p[1..].contains(&b'$')
        && !p.windows(2).any(|w| w == b"--" || w == b"/*" || w == b"*/");
    if closed && let Ok(s) = std::str::from_utf8(p) {
        found.push((r, s.to_string()));
    }
}

/// The identifier that replaces placeholder number `k` of `len` bytes: `tpl`, a letter
/// code unique to `k`, then `_` up to the length. Short placeholders get `tpl`/`t_`-only
/// fills and are not mapped back.
fn fill_for(k: usize, len: usize) -> String {
    let mut code = String::new();
    let mut n = k;
    loop {
        code.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(len);
    for ch in "tpl".chars().chain(code.chars()) {
        if s.len() < len {
            s.push(ch);
        }
    }
    while s.len() < len {
        s.push('_');
    }
    // A fill too short to carry its code is not unique: make it obviously not a mask.
    if len < 3 + code.len() + 1 {
        s = "t".to_string() + &"_".repeat(len.saturating_sub(1));
    }
    s
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// End (exclusive) of a Go-template action starting at `start` (`{{`), if it looks like one.
/// The first character inside (after an optional trim marker `-` and spaces) must start a
/// template action: `.field`, `$var`, a word, a string or a comment. This keeps PostgreSQL
/// array literals such as `'{{1,2},{3,4}}'` intact.
fn go_template_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 2;
    if bytes.get(j) == Some(&b'-') {
        j += 1;
    }
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    let first = *bytes.get(j)?;
    let plausible = first == b'.'
        || first == b'$'
        || first == b'"'
        || first == b'('
        || first.is_ascii_alphabetic()
        || (first == b'/' && bytes.get(j + 1) == Some(&b'*'));
    if !plausible {
        return None;
    }
    let limit = (start + MAX_PLACEHOLDER).min(bytes.len());
    let mut k = j;
    while k + 1 < limit {
        if bytes[k] == b'}' && bytes[k + 1] == b'}' {
            return Some(k + 2);
        }
        if bytes[k] == b'\n' || bytes[k] == b';' {
            return None;
        }
        k += 1;
    }
    None
}

/// End (exclusive) of a flyway placeholder `${name}` starting at `start`.
fn flyway_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut k = start + 2;
    let limit = (start + MAX_PLACEHOLDER).min(bytes.len());
    while k < limit {
        match bytes[k] {
            b'}' if k > start + 2 => return Some(k + 1),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'-' => k += 1,
            _ => return None,
        }
    }
    None
}

/// End (exclusive) of a psql variable at `start` (`:name`, `:"name"`, `:'name'`). Not
/// after an identifier, `:`, `)` or `]` (casts `::`, array slices `a[1:n]`).
fn psql_var_end(b: &[u8], start: usize) -> Option<usize> {
    if start > 0 && (is_ident_byte(b[start - 1]) || matches!(b[start - 1], b':' | b')' | b']')) {
        return None;
    }
    let next = *b.get(start + 1)?;
    match next {
        b'"' | b'\'' => {
            let mut k = start + 2;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                k += 1;
            }
            (k > start + 2 && b.get(k) == Some(&next)).then_some(k + 1)
        }
        c if c.is_ascii_alphabetic() || c == b'_' => {
            let mut k = start + 1;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                k += 1;
            }
            (b.get(k) != Some(&b':')).then_some(k)
        }
        _ => None,
    }
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_go_templates_and_flyway_placeholders_keeping_length() {
        let sql = "CREATE TABLE {{ .Schema }}.users (id int); SELECT '${flyway:user}' FROM ${tbl};";
        let m = view(sql, false);
        assert_eq!(m.text.len(), sql.len());
        // Inside a string nothing is masked: the string is data.
        assert_eq!(
            m.text,
            "CREATE TABLE tpla_________.users (id int); SELECT '${flyway:user}' FROM tplb__;"
        );
        let mut name = "tpla_________".to_string();
        m.restore(&mut name);
        assert_eq!(name, "{{ .Schema }}");
    }

    #[test]
    fn leaves_array_literals_casts_and_plain_text_alone() {
        let sql = "INSERT INTO t VALUES ('{{1,2},{3,4}}', '{}', '$1', x::int, a[1:n]);";
        assert!(matches!(mask(sql), Cow::Borrowed(_)));
        assert_eq!(mask(sql), sql);
    }

    #[test]
    fn placeholder_that_would_change_lexing_is_not_masked() {
        // `*/` inside the placeholder ends the comment for the server.
        for sql in [
            "SELECT 1 /* {{ .X */ }} */",
            "SELECT {{ .A \"*/\" }}",
            "SELECT {{ .A '; }}",
            "SELECT {{ .A -- }}",
            "SELECT {{ .A $x$ }}",
        ] {
            let m = view(sql, false);
            assert_eq!(m.text, sql, "{sql}");
        }
    }

    #[test]
    fn quoted_template_action_is_masked_inside_its_quotes() {
        let sql = "CREATE INDEX i ON \"{{ index .Options \"Namespace\" }}\".users (a)";
        let m = view(sql, false);
        assert!(m.text.starts_with("CREATE INDEX i ON \"tpla"), "{}", m.text);
        assert!(m.text.ends_with("\".users (a)"));
        assert_eq!(m.text.len(), sql.len());
    }

    #[test]
    fn psql_variables_are_masked() {
        let sql = "CREATE TABLE :\"schema\".t (a int); SET x = :'v';";
        let m = view(sql, false);
        assert_eq!(m.text, "CREATE TABLE tpla_____.t (a int); SET x = t___;");
    }

    #[test]
    fn backslash_quotes_are_normalised_when_strings_are_not_conforming() {
        let sql = r"SELECT 'a\'b', E'c\'d'";
        assert_eq!(view(sql, true).text, r"SELECT 'a''b', E'c\'d'");
        assert_eq!(view(sql, false).text, sql);
    }

    #[test]
    fn non_ascii_inside_placeholder_keeps_valid_utf8() {
        let sql = "SELECT {{ .Ünïcode }} ;";
        let m = mask(sql);
        assert_eq!(m.len(), sql.len());
        assert!(m.starts_with("SELECT tpl"));
        assert!(m.ends_with(" ;"));
    }
}
