//! Scrubbing credentials from text before it is printed.
//!
//! [`redact`] handles free text that may hold a connection string (driver and server error
//! messages): the password of a URL's user information and the value of any `…password=`
//! key. [`redact_sql`] handles statement text: the same inside string literals, dollar-quoted
//! bodies and comments (a `dblink_connect('host=… password=…')`, a URL in a string), plus the
//! literal after any `PASSWORD` word (`CREATE ROLE … PASSWORD '…'`, `ALTER USER … ENCRYPTED
//! PASSWORD '…'`, `CREATE USER MAPPING … OPTIONS (password '…')`, `sslpassword '…'`).
//!
//! Both err on the side of hiding too much: a value that merely looks like a password is
//! replaced too.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Removes passwords from text that may hold a connection string: the `:secret@` of a URL
/// and the value of `password=` / `sslpassword=` (key/value form and URL query).
pub fn redact(text: &str) -> String {
    redact_key_values(&redact_urls(text))
}

/// [`redact`] without copying when there is nothing to hide.
fn redact_cow(text: &str) -> Cow<'_, str> {
    let r = redact(text);
    if r == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(r)
    }
}

/// Characters that end a token that may hold a URL.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>')
}

/// `scheme://user:secret@host` → `scheme://user:***@host`. The user information is taken to
/// end at the *last* `@` of the token, so a password with an unencoded `@` or `/` is still
/// hidden whole.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(ends_token).unwrap_or(tail.len());
        let token = &tail[..end];
        match token.rfind('@') {
            Some(at) => {
                let userinfo = &token[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&token[at..]);
            }
            None => out.push_str(token),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `password=secret`, `password = 'sec ret'`, `?password=secret&`, `sslpassword=…` →
/// `password=***`.
fn redact_key_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(pos) = lower[i..].find("password") {
        let mut j = i + pos + "password".len();
        // Only a key that ends here: `password_encryption=…` is not a password.
        if j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j < b.len() && b[j] == b'\'' {
            // `password 'secret'` (SQL written inside a string or a message).
            out.push_str(&text[i..j]);
            out.push_str(MASK);
            i = skip_value(b, j);
            continue;
        }
        if j >= b.len() || b[j] != b'=' {
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        j += 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        out.push_str(&text[i..j]);
        out.push_str(MASK);
        i = skip_value(b, j);
    }
    out.push_str(&text[i..]);
    out
}

/// The end of a connection-string value starting at `j`: a `'…'` value (backslash escapes;
/// inside an SQL literal it is written `''…''`), or an unquoted one up to white space, `&`
/// or a quote (a doubled `''` is an escaped quote inside an SQL literal and is skipped).
fn skip_value(b: &[u8], mut j: usize) -> usize {
    let n = b.len();
    if j + 1 < n && b[j] == b'\'' && b[j + 1] == b'\'' {
        // ''sec ret'' inside an SQL literal.
        j += 2;
        while j < n {
            if b[j] == b'\'' && j + 1 < n && b[j + 1] == b'\'' {
                return j + 2;
            }
            if b[j] == b'\'' {
                return j;
            }
            j += 1;
        }
        return n;
    }
    if j < n && b[j] == b'\'' {
        j += 1;
        while j < n && b[j] != b'\'' {
            if b[j] == b'\\' {
                j += 1;
            }
            j += 1;
        }
        return (j + 1).min(n);
    }
    while j < n {
        match b[j] {
            b'\\' => j += 2,
            b'\'' if j + 1 < n && b[j + 1] == b'\'' => j += 2,
            c if c.is_ascii_whitespace() || matches!(c, b'&' | b'\'' | b'"') => break,
            _ => j += 1,
        }
    }
    j.min(n)
}

/// Statement text with every credential it carries replaced by `***`: passwords in
/// connection strings and URLs inside string literals, dollar-quoted bodies and comments,
/// and the string literal after a word ending in `password` (role passwords, user-mapping
/// and server options). Returns the input unchanged (borrowed) when there is nothing to hide.
pub fn redact_sql(sql: &str) -> Cow<'_, str> {
    let out = redact_sql_owned(sql);
    if out == sql {
        Cow::Borrowed(sql)
    } else {
        Cow::Owned(out)
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

fn redact_sql_owned(sql: &str) -> String {
    let b = sql.as_bytes();
    let n = b.len();
    let mut out = String::with_capacity(n);
    let mut i = 0;
    // The last word was `…password`: the next literal is a secret.
    let mut after_password = false;
    while i < n {
        let c = b[i];
        // -- comment
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            let end = sql[i..].find('\n').map(|e| i + e).unwrap_or(n);
            out.push_str(&redact_cow(&sql[i..end]));
            i = end;
            continue;
        }
        // /* nested comment */
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            let mut j = i;
            while j < n {
                if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            let end = j.min(n);
            out.push_str(&redact_cow(&sql[i..end]));
            i = end;
            continue;
        }
        // 'string', E'string', U&'string', B'…', X'…', N'…'
        let prefix = string_prefix_len(b, i);
        if let Some(p) = prefix {
            let open = i + p;
            let escapes = p > 0 && matches!(b[i], b'e' | b'E');
            let (body_end, end) = quoted_end(b, open + 1, escapes);
            out.push_str(&sql[i..open + 1]);
            if after_password {
                out.push_str(MASK);
            } else {
                out.push_str(&redact_cow(&sql[open + 1..body_end]));
            }
            out.push_str(&sql[body_end..end]);
            i = end;
            after_password = false;
            continue;
        }
        // $tag$ … $tag$
        if c == b'$'
            && (i == 0 || !is_ident_char(b[i - 1]))
            && let Some(tag_len) = dollar_tag_len(b, i)
        {
            let tag = &sql[i..i + tag_len];
            let body_start = i + tag_len;
            let (body_end, end) = match sql[body_start..].find(tag) {
                Some(e) => (body_start + e, body_start + e + tag_len),
                None => (n, n),
            };
            out.push_str(tag);
            if after_password {
                out.push_str(MASK);
            } else {
                let inner = redact_sql_owned(&sql[body_start..body_end]);
                out.push_str(&redact(&inner));
            }
            out.push_str(&sql[body_end..end]);
            i = end;
            after_password = false;
            continue;
        }
        // "quoted identifier"
        if c == b'"' {
            let (body_end, end) = quoted_identifier_end(b, i + 1);
            after_password = sql[i + 1..body_end]
                .to_ascii_lowercase()
                .ends_with("password");
            out.push_str(&sql[i..end]);
            i = end;
            continue;
        }
        if is_ident_start(c) {
            let mut j = i + 1;
            while j < n && is_ident_char(b[j]) {
                j += 1;
            }
            after_password = sql[i..j].to_ascii_lowercase().ends_with("password");
            out.push_str(&sql[i..j]);
            i = j;
            continue;
        }
        if !c.is_ascii_whitespace() {
            after_password = false;
        }
        // Copy one whole character.
        let len = sql[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&sql[i..i + len]);
        i += len;
    }
    out
}

/// When a string literal starts at `i`: the length of its prefix (`E`, `U&`, `B`, `X`, `N`)
/// before the opening quote.
fn string_prefix_len(b: &[u8], i: usize) -> Option<usize> {
    if b[i] == b'\'' {
        return Some(0);
    }
    if i > 0 && is_ident_char(b[i - 1]) {
        return None;
    }
    match (b[i], b.get(i + 1), b.get(i + 2)) {
        (b'e' | b'E' | b'b' | b'B' | b'x' | b'X' | b'n' | b'N', Some(b'\''), _) => Some(1),
        (b'u' | b'U', Some(b'&'), Some(b'\'')) => Some(2),
        _ => None,
    }
}

/// From just after an opening `'`: (end of the body, end after the closing quote).
fn quoted_end(b: &[u8], mut j: usize, backslash_escapes: bool) -> (usize, usize) {
    let n = b.len();
    while j < n {
        if backslash_escapes && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == b'\'' {
            if b.get(j + 1) == Some(&b'\'') {
                j += 2;
                continue;
            }
            return (j, j + 1);
        }
        j += 1;
    }
    (n, n)
}

fn quoted_identifier_end(b: &[u8], mut j: usize) -> (usize, usize) {
    let n = b.len();
    while j < n {
        if b[j] == b'"' {
            if b.get(j + 1) == Some(&b'"') {
                j += 2;
                continue;
            }
            return (j, j + 1);
        }
        j += 1;
    }
    (n, n)
}

/// `$$` or `$tag$` at `i`: its length.
fn dollar_tag_len(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j) == Some(&b'$') {
        return Some(2);
    }
    if !b.get(j).is_some_and(|c| is_ident_start(*c)) {
        return None;
    }
    while j < b.len() && (is_ident_char(b[j]) && b[j] != b'$') {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_free_text() {
        assert_eq!(
            redact("could not reach postgres://app:hunter2@db:5432/x today"),
            "could not reach postgres://app:***@db:5432/x today"
        );
        assert_eq!(
            redact("postgres://app:hun@ter/2@db/x"),
            "postgres://app:***@db/x"
        );
        assert_eq!(
            redact("host=db password=hunter2 user=x"),
            "host=db password=*** user=x"
        );
        assert_eq!(redact("password='a b' user=x"), "password=*** user=x");
        assert_eq!(
            redact("postgres://h/db?password=pw&x=1"),
            "postgres://h/db?password=***&x=1"
        );
        assert_eq!(redact("sslpassword=k1"), "sslpassword=***");
        assert_eq!(redact("password_encryption=md5"), "password_encryption=md5");
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
    }

    #[test]
    fn redacts_statements() {
        let cases = [
            (
                "SELECT dblink_connect('c', 'host=h password=hunter2 dbname=x')",
                "SELECT dblink_connect('c', 'host=h password=*** dbname=x')",
            ),
            (
                "SELECT dblink_connect('host=h password=''hun ter2'' user=u')",
                "SELECT dblink_connect('host=h password=*** user=u')",
            ),
            (
                "SELECT * FROM dblink($$host=h password=hunter2$$, 'select 1') AS t(x int)",
                "SELECT * FROM dblink($$host=h password=***$$, 'select 1') AS t(x int)",
            ),
            (
                "CREATE ROLE app LOGIN PASSWORD 'hunter2' VALID UNTIL 'infinity'",
                "CREATE ROLE app LOGIN PASSWORD '***' VALID UNTIL 'infinity'",
            ),
            (
                "alter user app with encrypted password E'hun\\'ter2'",
                "alter user app with encrypted password E'***'",
            ),
            (
                "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'hunter2')",
                "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password '***')",
            ),
            (
                "ALTER USER MAPPING FOR app SERVER s OPTIONS (SET \"password\" $x$hunter2$x$)",
                "ALTER USER MAPPING FOR app SERVER s OPTIONS (SET \"password\" $x$***$x$)",
            ),
            (
                "SELECT 'postgres://u:hunter2@h/db' -- password=hunter2",
                "SELECT 'postgres://u:***@h/db' -- password=***",
            ),
            (
                "DO $$ BEGIN EXECUTE 'ALTER ROLE x PASSWORD ''hunter2'''; END $$",
                "DO $$ BEGIN EXECUTE 'ALTER ROLE x PASSWORD ***'; END $$",
            ),
        ];
        for (input, want) in cases {
            let got = redact_sql(input);
            assert_eq!(got, want, "{input}");
            assert!(!got.contains("hunter2"), "{got}");
        }
        let plain = "ALTER TABLE users ADD COLUMN password_hash text";
        assert!(matches!(redact_sql(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn never_panics_on_arbitrary_text() {
        // A fixed-seed generator over the characters that matter to the scanners, plus
        // multi-byte ones (slicing must stay on character boundaries).
        let alphabet: Vec<char> = "'\"$\\-/*@:=& \nEeUu&xpasswordPASSWORD_1é€😀"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let _ = redact_sql(&s);
            let _ = redact(&s);
            let _ = crate::live::connect::conninfo::parse(&s);
            let _ = crate::live::connect::conninfo::parse(&format!("postgres://{s}"));
            let _ = crate::live::connect::pgpass::find(&s, &["a", "1", "d", "u"]);
        }
    }
}
