//! Connection strings read the way libpq reads them (`conninfo_parse` and
//! `conninfo_uri_parse_options` in libpq's `fe-connect.c`):
//!
//! - `postgresql://` or `postgres://` URLs: the user information ends at the *first* `@`
//!   that comes before any `/` (so an `@` or `/` inside a password must be percent-encoded),
//!   the user name at the first `:` inside it; then one or more `host[:port]` separated by
//!   commas, IPv6 addresses in brackets; `/dbname`; `?key=value&…` parameters, which
//!   override the parts before them. Every part is percent-decoded; `%00` is refused.
//! - Anything else is `key=value` pairs separated by white space, values optionally in single
//!   quotes, with `\` escaping the next character.
//!
//! One deliberate difference: an `@` left in the host, port or database part of a URL is an
//! error here (libpq would take it as part of a host or database name). Such a URL is almost
//! always a password with an unencoded `@` or `/`, and connecting to what follows would send
//! the rest of the password to a name server.
//!
//! **No error message quotes any part of the string.** A malformed string may have put a
//! password (or part of one) anywhere, so errors say which parameter and where (a character
//! position), never what was written there.

use crate::live::LiveError;

/// Every keyword libpq knows (PostgreSQL 17), so an error can name a real keyword that
/// lockstep does not support without ever quoting free text.
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslcertmode",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "target_session_attrs",
    "load_balance_hosts",
    "service",
    "requiressl",
];

/// Whether `key` is one of libpq's keywords (safe to show in a message: it is not free text).
pub fn is_libpq_keyword(key: &str) -> bool {
    LIBPQ_KEYWORDS.contains(&key)
}

fn bad(msg: impl Into<String>) -> LiveError {
    LiveError::BadConnString(msg.into())
}

/// Whether `s` is a URL (libpq's two prefixes, case-sensitive as in libpq).
pub fn is_url(s: &str) -> bool {
    url_prefix_len(s) > 0
}

fn url_prefix_len(s: &str) -> usize {
    if s.starts_with("postgresql://") {
        "postgresql://".len()
    } else if s.starts_with("postgres://") {
        "postgres://".len()
    } else {
        0
    }
}

/// Parses a connection string into `(keyword, value)` pairs in the order written; a later
/// pair overrides an earlier one with the same keyword.
pub fn parse(s: &str) -> Result<Vec<(String, String)>, LiveError> {
    if is_url(s) {
        parse_url(s)
    } else {
        parse_keyword_value(s)
    }
}

/// Percent-decodes one part of a URL. `what` names the part for the error, which never
/// shows the text itself.
fn decode(s: &str, what: &str) -> Result<String, LiveError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(bad(format!(
                    "invalid percent-encoding in {what} of the URL (`%` must be followed by two \
                     hexadecimal digits; write a literal `%` as %25)"
                )));
            };
            let c = (hi * 16 + lo) as u8;
            if c == 0 {
                return Err(bad(format!(
                    "{what} of the URL contains %00, which is not allowed"
                )));
            }
            out.push(c);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| bad(format!("{what} of the URL does not decode to valid UTF-8")))
}

/// `postgresql://[user[:password]@][host[:port]][,…][/dbname][?key=value&…]`.
fn parse_url(url: &str) -> Result<Vec<(String, String)>, LiveError> {
    let b = url.as_bytes();
    let len = b.len();
    let start = url_prefix_len(url);
    let mut kv: Vec<(String, String)> = Vec::new();
    let mut p = start;

    // User information: up to the first `@`, if one comes before any `/`.
    let mut q = start;
    while q < len && b[q] != b'@' && b[q] != b'/' {
        q += 1;
    }
    if q < len && b[q] == b'@' {
        let userinfo = &url[start..q];
        let (user, password) = match userinfo.split_once(':') {
            Some((u, pw)) => (u, Some(pw)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            kv.push(("user".into(), decode(user, "the user name")?));
        }
        if let Some(pw) = password.filter(|pw| !pw.is_empty()) {
            kv.push(("password".into(), decode(pw, "the password")?));
        }
        p = q + 1;
    }

    // One or more `host[:port]`, separated by commas.
    let mut hosts: Vec<&str> = Vec::new();
    let mut ports: Vec<&str> = Vec::new();
    loop {
        let host;
        if p < len && b[p] == b'[' {
            let s = p + 1;
            let Some(close) = url[s..].find(']').map(|i| s + i) else {
                return Err(bad(format!(
                    "`[` at character {} of the URL opens an IPv6 address that is never closed \
                     with `]`",
                    p + 1
                )));
            };
            if close == s {
                return Err(bad(format!(
                    "empty IPv6 address `[]` at character {} of the URL",
                    p + 1
                )));
            }
            host = &url[s..close];
            p = close + 1;
            if p < len && !matches!(b[p], b':' | b'/' | b'?' | b',') {
                return Err(bad(format!(
                    "unexpected character at position {} of the URL (expected `:`, `/`, `?` or \
                     `,` after an IPv6 address)",
                    p + 1
                )));
            }
        } else {
            let s = p;
            while p < len && !matches!(b[p], b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            host = &url[s..p];
        }
        let mut port = "";
        if p < len && b[p] == b':' {
            p += 1;
            let s = p;
            while p < len && !matches!(b[p], b'/' | b'?' | b',') {
                p += 1;
            }
            port = &url[s..p];
        }
        hosts.push(host);
        ports.push(port);
        if p < len && b[p] == b',' {
            p += 1;
            continue;
        }
        break;
    }
    let mut dbname = None;
    if p < len && b[p] == b'/' {
        p += 1;
        let s = p;
        while p < len && b[p] != b'?' {
            p += 1;
        }
        dbname = Some(&url[s..p]);
    }
    // Stricter than libpq, see the module documentation.
    if hosts
        .iter()
        .chain(&ports)
        .chain(dbname.iter())
        .any(|part| part.contains('@'))
    {
        return Err(bad(
            "the URL has an `@` after its user-name part; if the user name or password \
             contains `@`, `/` or `:`, percent-encode them (%40, %2F, %3A)",
        ));
    }
    if hosts.iter().any(|h| !h.is_empty()) || hosts.len() > 1 {
        let decoded = hosts
            .iter()
            .map(|h| decode(h, "a host name"))
            .collect::<Result<Vec<_>, _>>()?;
        kv.push(("host".into(), decoded.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        let decoded = ports
            .iter()
            .map(|p| decode(p, "a port"))
            .collect::<Result<Vec<_>, _>>()?;
        kv.push(("port".into(), decoded.join(",")));
    }
    if let Some(db) = dbname.filter(|d| !d.is_empty()) {
        kv.push(("dbname".into(), decode(db, "the database name")?));
    }
    if p < len && b[p] == b'?' {
        parse_query(&url[p + 1..], &mut kv)?;
    }
    Ok(kv)
}

/// `key=value&key=value` after the `?`.
fn parse_query(query: &str, kv: &mut Vec<(String, String)>) -> Result<(), LiveError> {
    let mut rest = query;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let (pair, tail) = match rest.find('&') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        rest = tail;
        let Some((key, value)) = pair.split_once('=') else {
            return Err(bad(format!(
                "query parameter {n} of the URL has no `=` (write key=value)"
            )));
        };
        if value.contains('=') {
            return Err(bad(format!(
                "query parameter {n} of the URL has more than one `=` (percent-encode a `=` in \
                 a value as %3D)"
            )));
        }
        let key = decode(key, &format!("the name of query parameter {n}"))?;
        let value = decode(value, &format!("the value of query parameter {n}"))?;
        // libpq's JDBC compatibility spelling.
        if key == "ssl" && value == "true" {
            kv.push(("sslmode".into(), "require".into()));
        } else {
            kv.push((key, value));
        }
    }
    Ok(())
}

/// `host=/run/pg port=5433 user='my user'`: libpq's keyword/value form.
fn parse_keyword_value(s: &str) -> Result<Vec<(String, String)>, LiveError> {
    let mut kv = Vec::new();
    let mut chars = s.char_indices().peekable();
    let mut n = 0;
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(key_at, _)) = chars.peek() else {
            break;
        };
        n += 1;
        let mut key = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        if chars.next().map(|(_, c)| c) != Some('=') {
            let position = s[..key_at].chars().count() + 1;
            return Err(bad(if n == 1 && !s.contains('=') {
                "not a connection URL (postgresql://…) nor key=value pairs".to_string()
            } else {
                format!("missing `=` after the word at character {position} (write key=value)")
            }));
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek().map(|(_, c)| *c) == Some('\'') {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            value.push(next);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err(bad(format!(
                    "unterminated quoted value for {} (a `'` is never closed)",
                    describe_key(&key, n)
                )));
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some((_, next)) = chars.next() {
                        value.push(next);
                    }
                    continue;
                }
                value.push(c);
            }
        }
        kv.push((key, value));
    }
    Ok(kv)
}

/// How a message names a parameter: its keyword when it is one of libpq's, else its
/// position (the text may be a piece of a password).
pub fn describe_key(key: &str, n: usize) -> String {
    if is_libpq_keyword(key) {
        format!("`{key}`")
    } else {
        format!("parameter {n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(kv: &'a [(String, String)], k: &str) -> Option<&'a str> {
        kv.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn first_at_ends_the_user_information_like_libpq() {
        let kv = parse("postgresql://u:p%40ss@h:5/db").unwrap();
        assert_eq!(get(&kv, "user"), Some("u"));
        assert_eq!(get(&kv, "password"), Some("p@ss"));
        assert_eq!(get(&kv, "host"), Some("h"));
        assert_eq!(get(&kv, "port"), Some("5"));
        assert_eq!(get(&kv, "dbname"), Some("db"));
        // A `?` or `:` in the password is part of it: the scan stops only at `@` or `/`.
        let kv = parse("postgres://u:a?b:c@h/db").unwrap();
        assert_eq!(get(&kv, "password"), Some("a?b:c"));
        // An unencoded second `@` is refused rather than read as part of the host.
        assert!(parse("postgres://u:p@ss@h/db").is_err());
        // An unencoded `/` puts the password where the host is: refused, nothing quoted.
        let e = parse("postgres://u:pa/ss@h/db").unwrap_err().to_string();
        assert!(!e.contains("pa") || e.contains("percent"), "{e}");
    }

    #[test]
    fn hosts_ports_ipv6_and_query() {
        let kv = parse("postgresql://[::1]:5433,db2,[fe80::1]/x?sslmode=require&ssl=true").unwrap();
        assert_eq!(get(&kv, "host"), Some("::1,db2,fe80::1"));
        assert_eq!(get(&kv, "port"), Some("5433,,"));
        assert_eq!(get(&kv, "sslmode"), Some("require"));
        let kv = parse("postgresql:///db?host=%2Frun%2Fpg&options=-c%20a%3Db").unwrap();
        assert_eq!(get(&kv, "host"), Some("/run/pg"));
        assert_eq!(get(&kv, "options"), Some("-c a=b"));
        assert!(parse("postgresql://[::1/db").is_err());
        assert!(parse("postgresql://[]/db").is_err());
        assert!(parse("postgresql://[::1]x/db").is_err());
        assert!(parse("postgresql://h/db?a").is_err());
        assert!(parse("postgresql://h/db?a=b=c").is_err());
        assert!(parse("postgresql://h/db?a=1&&b=2").is_err());
        assert!(parse("postgresql://h/d%00b").is_err());
        assert!(parse("postgresql://h/d%zzb").is_err());
    }

    #[test]
    fn keyword_value_quoting() {
        let kv = parse(r"host=h password='a b\'c' dbname = x user=a\ b").unwrap();
        assert_eq!(get(&kv, "password"), Some("a b'c"));
        assert_eq!(get(&kv, "dbname"), Some("x"));
        assert_eq!(get(&kv, "user"), Some("a b"));
        assert!(parse("host=h password='abc").is_err());
        assert!(parse("host=h bogus").is_err());
    }

    #[test]
    fn cases_from_libpqs_uri_documentation() {
        let kv =
            parse("postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp")
                .unwrap();
        assert_eq!(get(&kv, "user"), Some("other"));
        assert_eq!(get(&kv, "host"), Some("localhost"));
        assert_eq!(get(&kv, "dbname"), Some("otherdb"));
        assert_eq!(get(&kv, "connect_timeout"), Some("10"));
        assert_eq!(get(&kv, "application_name"), Some("myapp"));
        let kv = parse("postgresql://host1:123,host2:456/somedb?target_session_attrs=any").unwrap();
        assert_eq!(get(&kv, "host"), Some("host1,host2"));
        assert_eq!(get(&kv, "port"), Some("123,456"));
        // A socket directory as a percent-encoded host.
        let kv = parse("postgresql://%2Fvar%2Flib%2Fpostgresql/dbname").unwrap();
        assert_eq!(get(&kv, "host"), Some("/var/lib/postgresql"));
        let kv = parse("postgresql://[2001:db8::1234]/database").unwrap();
        assert_eq!(get(&kv, "host"), Some("2001:db8::1234"));
        // The bare prefix: everything from the defaults.
        assert!(parse("postgresql://").unwrap().is_empty());
        let kv = parse("postgresql://localhost:5433").unwrap();
        assert_eq!(get(&kv, "port"), Some("5433"));
        // Later query parameters override the parts before them.
        let kv = parse("postgresql://a@h/db?user=b").unwrap();
        assert_eq!(get(&kv, "user"), Some("b"));
    }
}
