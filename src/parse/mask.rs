//! Masking of template placeholders before tokenizing.
//!
//! Real migration folders contain Go-template actions (`{{ .Schema }}`, `{{ index .Options
//! "Namespace" }}`) and flyway placeholders (`${schema}`). PostgreSQL never sees them (the
//! framework substitutes them first), but they break our tokenizer and parser. Each one is
//! replaced by an identifier of exactly the same byte length, so every byte offset computed
//! on the masked text is also an offset into the original text.

use std::borrow::Cow;

/// The longest placeholder we mask; longer `{{ … }}` runs are more likely data than templates.
const MAX_PLACEHOLDER: usize = 400;

/// Returns `text` with template placeholders replaced by same-length identifiers
/// (`tpl_____`). Borrowed when there is nothing to mask.
pub fn mask(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Fast path: nothing that could start a placeholder.
    if !bytes
        .windows(2)
        .any(|w| w[1] == b'{' && (w[0] == b'{' || w[0] == b'$'))
    {
        return Cow::Borrowed(text);
    }
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i + 1 < bytes.len() {
        let found = match (bytes[i], bytes[i + 1]) {
            (b'{', b'{') => go_template_end(bytes, i),
            (b'$', b'{') => flyway_end(bytes, i),
            _ => None,
        };
        match found {
            Some(end) => {
                let buf = out.get_or_insert_with(|| bytes.to_vec());
                fill_identifier(&mut buf[i..end]);
                i = end;
            }
            None => i += 1,
        }
    }
    match out {
        // Only ASCII was written over whole UTF-8 sequences (placeholders start and end on
        // ASCII braces), so the result is valid UTF-8; the lossy conversion never allocates
        // a replacement in practice but keeps us panic-free.
        Some(buf) => match String::from_utf8(buf) {
            Ok(s) => Cow::Owned(s),
            Err(_) => Cow::Borrowed(text),
        },
        None => Cow::Borrowed(text),
    }
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

/// Overwrites a placeholder with `tpl___…`, a valid unquoted identifier of the same length.
fn fill_identifier(slot: &mut [u8]) {
    for (n, b) in slot.iter_mut().enumerate() {
        *b = match n {
            0 => b't',
            1 => b'p',
            2 => b'l',
            _ => b'_',
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_go_templates_and_flyway_placeholders_keeping_length() {
        let sql = "CREATE TABLE {{ .Schema }}.users (id int); SELECT '${flyway:user}' FROM ${tbl};";
        let m = mask(sql);
        assert_eq!(m.len(), sql.len());
        assert_eq!(
            m,
            "CREATE TABLE tpl__________.users (id int); SELECT 'tpl___________' FROM tpl___;"
        );
    }

    #[test]
    fn leaves_array_literals_and_plain_text_alone() {
        let sql = "INSERT INTO t VALUES ('{{1,2},{3,4}}', '{}', '$1');";
        assert!(matches!(mask(sql), Cow::Borrowed(_)));
        assert_eq!(mask(sql), sql);
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
