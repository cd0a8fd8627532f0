//! A minimal SQL scanner for the one place the source stage must look at statements:
//! flyway decides per statement whether a migration can run in a transaction. It only
//! finds where statements start and their first words, skipping comments, quoted
//! strings and identifiers, and dollar-quoted bodies so their `;` do not count.

/// The first words (upper-cased, at most `limit`) of every statement in `text`.
pub(crate) fn statement_heads(text: &str, limit: usize) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut heads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    // Words are only collected until something other than a bare word appears.
    let mut collecting = true;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // PostgreSQL block comments nest.
                let mut depth = 0usize;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' | b'"' => {
                collecting = false;
                // E'…' strings allow backslash escapes.
                let backslash = c == b'\'' && i > 0 && bytes[i - 1].eq_ignore_ascii_case(&b'e');
                i += 1;
                while i < bytes.len() {
                    if backslash && bytes[i] == b'\\' {
                        i += 2;
                    } else if bytes[i] == c {
                        // A doubled quote is an escaped quote, not the end.
                        if bytes.get(i + 1) == Some(&c) {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                collecting = false;
                match dollar_tag(&text[i..]) {
                    Some(tag) => {
                        let body = i + tag.len();
                        i = text[body..]
                            .find(tag)
                            .map_or(bytes.len(), |n| body + n + tag.len());
                    }
                    None => i += 1,
                }
            }
            b';' => {
                if !current.is_empty() {
                    heads.push(std::mem::take(&mut current));
                }
                collecting = true;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if collecting && current.len() < limit {
                    current.push(text[start..i].to_ascii_uppercase());
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                // Any punctuation ends the leading run of words; a statement that starts
                // with punctuation has no head worth knowing.
                if current.is_empty() {
                    current.push(String::new());
                }
                collecting = false;
                i += 1;
            }
        }
    }
    if !current.is_empty() {
        heads.push(current);
    }
    heads
}

/// `$tag$` or `$$` at the start of `s`.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag
        .chars()
        .enumerate()
        .all(|(n, c)| c == '_' || c.is_alphabetic() || (n > 0 && c.is_ascii_digit()));
    valid.then(|| &s[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_skip_comments_strings_and_bodies() {
        let sql = "-- a; comment\nCREATE INDEX CONCURRENTLY x ON t (a);\n\
                   /* x; /* nested; */ */ INSERT INTO t VALUES ('a;b', E'\\';');\n\
                   CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql;\n\
                   vacuum t";
        let heads = statement_heads(sql, 3);
        assert_eq!(
            heads,
            vec![
                vec!["CREATE", "INDEX", "CONCURRENTLY"],
                vec!["INSERT", "INTO", "T"],
                vec!["CREATE", "FUNCTION", "F"],
                vec!["VACUUM", "T"],
            ]
        );
    }
}
