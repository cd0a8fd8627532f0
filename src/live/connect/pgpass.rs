//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`), read as libpq reads it
//! (`passwordFromFile` in libpq's `fe-connect.c`):
//!
//! - one entry per line, `hostname:port:database:username:password`; lines starting with `#`
//!   are comments; a trailing `\r` is ignored;
//! - a field that is exactly `*` matches anything; `\:` and `\\` stand for `:` and `\`;
//! - the first matching line wins;
//! - `localhost` matches a connection without a host and one through the default unix-socket
//!   directory; any other socket directory is matched by its path;
//! - the file is ignored, with a warning on standard error, when it is not a regular file or
//!   when its group or others have any access (it must be `chmod 0600` or stricter);
//! - nothing is looked up without a database name and a user name.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Socket directories libpq may have been built with as its default (upstream `/tmp`,
/// Debian and Red Hat `/var/run/postgresql`): a connection through one of them matches
/// `localhost` entries.
const DEFAULT_SOCKET_DIRS: &[&str] = &["/tmp", "/var/run/postgresql", "/run/postgresql"];

/// What the lookup found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The password of the first matching line, if any.
    pub password: Option<String>,
    /// Why the file was ignored (to print as a warning), if it was.
    pub warning: Option<String>,
}

/// Looks up the password for one host of a connection. `host` is the host name, socket
/// directory or (without a host name) the `hostaddr`; empty means libpq's default.
pub fn lookup(file: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Lookup {
    if dbname.is_empty() || user.is_empty() {
        return Lookup::default();
    }
    let host = if host.is_empty() || (host.starts_with('/') && DEFAULT_SOCKET_DIRS.contains(&host))
    {
        "localhost"
    } else {
        host
    };
    // A file that cannot be examined is ignored silently, like libpq.
    let Ok(meta) = std::fs::metadata(file) else {
        return Lookup::default();
    };
    if !meta.is_file() {
        return Lookup {
            password: None,
            warning: Some(format!(
                "password file \"{}\" is not a plain file",
                file.display()
            )),
        };
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Lookup {
            password: None,
            warning: Some(format!(
                "password file \"{}\" has group or world access; permissions should be u=rw \
                 (0600) or less",
                file.display()
            )),
        };
    }
    let Ok(bytes) = std::fs::read(file) else {
        return Lookup::default();
    };
    let text = String::from_utf8_lossy(&bytes);
    Lookup {
        password: find(&text, &[host, &port.to_string(), dbname, user]),
        warning: None,
    }
}

/// The password of the first line of `text` whose four fields match `tokens`.
pub fn find(text: &str, tokens: &[&str; 4]) -> Option<String> {
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut rest = line;
        let mut matched = true;
        for token in tokens {
            match match_field(rest, token) {
                Some(after) => rest = after,
                None => {
                    matched = false;
                    break;
                }
            }
        }
        if matched {
            return Some(password_field(rest));
        }
    }
    None
}

/// Matches one `:`-terminated field at the start of `line` against `token`; returns the text
/// after the field's `:`. A field that is exactly `*` matches anything.
fn match_field<'a>(line: &'a str, token: &str) -> Option<&'a str> {
    if let Some(after) = line.strip_prefix("*:") {
        return Some(after);
    }
    let b = line.as_bytes();
    let t = token.as_bytes();
    let (mut i, mut j) = (0, 0);
    while i < b.len() {
        let mut escaped = false;
        if b[i] == b'\\' {
            i += 1;
            escaped = true;
            if i == b.len() {
                return None;
            }
        }
        if b[i] == b':' && !escaped {
            // End of the field: it matches if the whole token was consumed.
            return (j == t.len()).then(|| &line[i + 1..]);
        }
        if j == t.len() || b[i] != t[j] {
            return None;
        }
        i += 1;
        j += 1;
    }
    // A line that ends inside a field has no password field: no match.
    None
}

/// The password: up to the first unescaped `:` or the end of the line, `\` removed before
/// the character it escapes.
fn password_field(rest: &str) -> String {
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_escapes_and_first_match() {
        let file = "# comment\n\
                    db.internal:5432:shop:app:first\n\
                    db.internal:5432:shop:app:second\n\
                    *:*:*:other:any\\:thing\\\\x:ignored\n\
                    we\\:ird:5432:*:app:colon-host\r\n";
        let t = |h, p, d, u| find(file, &[h, p, d, u]);
        assert_eq!(
            t("db.internal", "5432", "shop", "app").as_deref(),
            Some("first")
        );
        assert_eq!(t("x", "1", "y", "other").as_deref(), Some("any:thing\\x"));
        assert_eq!(
            t("we:ird", "5432", "z", "app").as_deref(),
            Some("colon-host")
        );
        assert_eq!(t("db.internal", "5433", "shop", "app"), None);
        // `*` only as a whole field.
        assert_eq!(find("d*:1:d:u:pw\n", &["db", "1", "d", "u"]), None);
        // A field that is a prefix of the token does not match, nor the reverse.
        assert_eq!(find("db:1:d:u:pw\n", &["db2", "1", "d", "u"]), None);
        assert_eq!(find("db2:1:d:u:pw\n", &["db", "1", "d", "u"]), None);
        // Too few fields: no match.
        assert_eq!(find("db:1:d\n", &["db", "1", "d", "u"]), None);
    }

    #[test]
    fn permissions_and_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        std::fs::write(&f, "localhost:5432:d:u:local\n/sock:5432:d:u:sock\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let l = lookup(&f, "", 5432, "d", "u");
        assert_eq!(l.password, None);
        assert!(l.warning.unwrap().contains("group or world access"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&f, "", 5432, "d", "u").password.as_deref(),
            Some("local")
        );
        assert_eq!(
            lookup(&f, "/tmp", 5432, "d", "u").password.as_deref(),
            Some("local")
        );
        assert_eq!(
            lookup(&f, "/sock", 5432, "d", "u").password.as_deref(),
            Some("sock")
        );
        assert_eq!(lookup(&f, "/sock", 5432, "", "u"), Lookup::default());
        let l = lookup(dir.path(), "", 5432, "d", "u");
        assert!(l.warning.unwrap().contains("not a plain file"));
        assert_eq!(
            lookup(&dir.path().join("missing"), "", 5432, "d", "u"),
            Lookup::default()
        );
    }
}
