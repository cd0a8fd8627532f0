//! Secrets and options on the way to the server: no part of a password is ever echoed for a
//! malformed connection string; the password file is read as libpq reads it (checked on a
//! throwaway server that demands a password); `options` / `PGOPTIONS` reach the server;
//! `PGSERVICE` is refused; statement text that carries credentials is redacted.

mod live_support;

use lockstep::live::connect::{ConnParams, Db, redact_sql};
use lockstep::pg::Cluster;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const MARKER: &str = "S3cr3tPW";

fn lockstep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    c.env("NO_COLOR", "1");
    for v in [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGDATABASE",
        "PGSSLMODE",
        "PGOPTIONS",
        "PGSERVICE",
    ] {
        c.env_remove(v);
    }
    c
}

/// Every piece of the marker longer than 3 characters.
fn marker_pieces() -> Vec<&'static str> {
    let mut v = Vec::new();
    for i in 0..MARKER.len() {
        for j in i + 4..=MARKER.len() {
            v.push(&MARKER[i..j]);
        }
    }
    v
}

fn leaked(text: &str) -> Option<&'static str> {
    marker_pieces().into_iter().find(|p| text.contains(p))
}

/// Malformed (and some well-formed) connection strings with the marker where the password
/// goes, mangled with every character that means something to a URL or a key/value string.
fn hostile_connection_strings() -> Vec<String> {
    let specials = [
        "@", "@@", "/", "//", ":", "?", "#", "[", "]", "%", "%zz", "%4", "%00", " ", "'", "\\",
        ",", "=", "&", "\n", "\t", "*", "\"",
    ];
    let mut passwords = vec![MARKER.to_string(), "%53%33cr3tPW".to_string()];
    for s in specials {
        for at in [0, 3, MARKER.len()] {
            passwords.push(format!("{}{s}{}", &MARKER[..at], &MARKER[at..]));
        }
    }
    let templates = [
        "postgres://app:{pw}@127.0.0.1:1/shop",
        "postgresql://app:{pw}@127.0.0.1:1/shop?sslmode=disable&connect_timeout=2",
        "postgres://app:{pw}@127.0.0.1:notaport/shop",
        "postgres://app:{pw}@127.0.0.1:99999/shop",
        "postgres://app:{pw}@[::1/shop",
        "postgres://app:{pw}@127.0.0.1:1,[::1]x/shop",
        "postgres://app:{pw}127.0.0.1:1/shop",
        "postgres://app:{pw}/shop",
        "postgres://app:{pw}",
        "postgres://app:{pw}@@127.0.0.1:1/shop",
        "postgres://app:{pw}@127.0.0.1:1/sh%zzop",
        "postgres://app:{pw}@127.0.0.1:1/shop?sslmode=maybe",
        "postgres://app:{pw}@127.0.0.1:1/shop?bogus=1",
        "postgres://app:{pw}@127.0.0.1:1/shop?a",
        "postgres://app:{pw}@127.0.0.1:1/shop?a=b=c",
        "postgres://app:{pw}@127.0.0.1:1/shop?hostaddr=nope",
        "postgres://app:{pw}@127.0.0.1:1/shop?connect_timeout=soon",
        "postgres://app:{pw}@127.0.0.1:1/shop?service=x",
        "postgres://127.0.0.1:1/shop?password={pw}&x",
        "postgres://127.0.0.1:1/shop?password={pw}",
        "postgres:/app:{pw}@127.0.0.1:1/shop",
        "postgresq://app:{pw}@127.0.0.1:1/shop",
        "Postgres://app:{pw}@127.0.0.1:1/shop",
        "host=127.0.0.1 port=1 password={pw} bogus",
        "host=127.0.0.1 port=1 password='{pw}",
        "host=127.0.0.1 port=1 password {pw}",
        "host=127.0.0.1 port=1 {pw}=x",
        "host=127.0.0.1 port=x password={pw}",
        "host=127.0.0.1 port=1 password={pw} sslmode=maybe",
        "host=127.0.0.1 port=1 sslmode=disable password={pw}",
    ];
    let mut out = Vec::new();
    for t in templates {
        // Without an `@` after the password, an `@` inside it, or a separator before it,
        // makes a well-formed URL whose password is something else (`app:S3c@r3tPW…` has
        // the password `S3c` and the host `r3tPW…`): nothing can tell those apart, so they
        // are not "a password in a malformed URL".
        let no_at_after = t.starts_with("postgres") && !t[t.find("{pw}").unwrap()..].contains('@');
        for pw in &passwords {
            if no_at_after && (pw.contains('@') || !pw.starts_with('S') && !pw.starts_with('%')) {
                continue;
            }
            out.push(t.replace("{pw}", pw));
        }
    }
    out
}

#[test]
fn no_piece_of_a_password_is_echoed_by_the_parser() {
    let mut checked = 0;
    for s in hostile_connection_strings() {
        match ConnParams::resolve(Some(&s), &|_| None) {
            Err(e) => {
                let text = format!("{e} {e:?} {:?}", e.help());
                assert_eq!(leaked(&text), None, "{s:?} → {text}");
                checked += 1;
            }
            Ok(p) => {
                let text = format!("{p} {p:?} {}", p.hint());
                assert_eq!(leaked(&text), None, "{s:?} → {text}");
            }
        }
    }
    assert!(checked > 500, "only {checked} strings were rejected");
}

#[test]
fn no_piece_of_a_password_is_echoed_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("000001_init.up.sql"),
        "CREATE TABLE users (id int PRIMARY KEY);",
    )
    .unwrap();
    let strings = hostile_connection_strings();
    // A sample through the flag, another through DATABASE_URL, in a few threads.
    let jobs: Vec<(usize, String)> = strings
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .collect();
    let chunks: Vec<Vec<(usize, String)>> = jobs
        .chunks(jobs.len().div_ceil(4))
        .map(<[_]>::to_vec)
        .collect();
    std::thread::scope(|scope| {
        for chunk in chunks {
            let dir = dir.path().to_path_buf();
            scope.spawn(move || {
                for (i, s) in chunk {
                    let mut c = lockstep();
                    c.arg("dry-run").arg(&dir).env("PGCONNECT_TIMEOUT", "2");
                    if i % 2 == 0 {
                        c.arg("--database-url").arg(&s);
                    } else {
                        c.env("DATABASE_URL", &s);
                    }
                    let o: Output = c.output().unwrap();
                    let all = format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                    assert_eq!(leaked(&all), None, "{s:?} → {all}");
                    assert_eq!(o.status.code(), Some(2), "{s:?} → {all}");
                }
            });
        }
    });
}

#[test]
fn pgservice_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("000001_init.up.sql"), "SELECT 1;").unwrap();
    let o = lockstep()
        .arg("dry-run")
        .arg(dir.path())
        .env("PGSERVICE", "prod")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("PGSERVICE"), "{err}");
    assert!(err.contains("pg_service.conf"), "{err}");
    let e = ConnParams::resolve(Some("service=prod"), &|_| None).unwrap_err();
    assert!(e.to_string().contains("not supported"), "{e}");
}

#[test]
fn options_and_pgoptions_reach_the_server() {
    let Some(c) = live_support::cluster() else {
        return;
    };
    let name = live_support::database(c, "options");
    let base = format!(
        "postgresql:///{name}?host={}&port={}&user=postgres",
        c.socket_dir().display(),
        c.port()
    );
    let show = |db: &mut Db, what: &str| -> String {
        db.query_one("show", &format!("SHOW {what}"), &[])
            .unwrap()
            .get(0)
    };
    // In the URL (percent-encoded), as libpq takes it.
    let url =
        format!("{base}&options=-c%20search_path%3Dapp_schema%20-c%20statement_timeout%3D4321");
    let p = ConnParams::resolve(Some(&url), &|_| None).unwrap();
    let mut db = Db::connect(&p).unwrap();
    assert_eq!(show(&mut db, "search_path"), "app_schema");
    assert_eq!(show(&mut db, "statement_timeout"), "4321ms");
    // From PGOPTIONS, with a key/value string.
    let kv = format!(
        "host={} port={} user=postgres dbname={name}",
        c.socket_dir().display(),
        c.port()
    );
    let env = |k: &str| (k == "PGOPTIONS").then(|| "-c lock_timeout=1234".to_string());
    let p = ConnParams::resolve(Some(&kv), &env).unwrap();
    let mut db = Db::connect(&p).unwrap();
    assert_eq!(show(&mut db, "lock_timeout"), "1234ms");
    // A bad option is the server's error, exit 2 through the CLI, not silently dropped.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("000001_init.up.sql"), "SELECT 1;").unwrap();
    let o = lockstep()
        .arg("dry-run")
        .arg(dir.path())
        .args([
            "--database-url",
            &format!("{base}&options=-c%20no_such_setting%3D1"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no_such_setting"), "{err}");
}

/// A cluster of its own whose `pwuser` must authenticate with a password over the socket.
fn password_cluster() -> Option<(Cluster, String)> {
    live_support::cluster()?;
    let c = Cluster::start().expect("start a cluster");
    let password = "pgpass:Secret\\1".to_string();
    let mut admin = c.connect("postgres").unwrap();
    admin
        .batch_execute("CREATE ROLE pwuser LOGIN PASSWORD 'pgpass:Secret\\1'")
        .unwrap();
    let hba: String = admin.query_one("SHOW hba_file", &[]).unwrap().get(0);
    std::fs::write(
        &hba,
        "local all pwuser scram-sha-256\nlocal all all trust\n",
    )
    .expect("rewrite pg_hba.conf");
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    // The reload is asynchronous: wait until a password is demanded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let p = params(&c, None, None);
        match Db::connect(&p) {
            Err(_) => break,
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Ok(_) => panic!("the server never started asking for a password"),
        }
    }
    Some((c, password))
}

fn params(c: &Cluster, passfile: Option<&Path>, password: Option<&str>) -> ConnParams {
    let mut s = format!(
        "host={} port={} user=pwuser dbname=postgres",
        c.socket_dir().display(),
        c.port()
    );
    if let Some(f) = passfile {
        s.push_str(&format!(" passfile='{}'", f.display()));
    }
    if let Some(pw) = password {
        s.push_str(&format!(" password='{pw}'"));
    }
    ConnParams::resolve(Some(&s), &|_| None).unwrap()
}

/// Writes a password file with `mode`.
fn passfile(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    f
}

#[test]
fn pgpass_is_honoured_like_libpq_on_a_server_that_demands_a_password() {
    let Some((c, _password)) = password_cluster() else {
        return;
    };
    let sock = c.socket_dir().display().to_string();
    let port = c.port();
    let tmp = tempfile::tempdir().unwrap();
    // `:` and `\` in the password escaped; the socket directory is the host name (it is
    // not libpq's default directory, so `localhost` does not stand for it).
    let escaped_sock = sock.replace('\\', "\\\\").replace(':', "\\:");
    let good = format!("{escaped_sock}:{port}:postgres:pwuser:pgpass\\:Secret\\\\1\n");
    let current_user = |p: &ConnParams| -> Result<String, String> {
        let mut db = Db::connect(p).map_err(|e| e.to_string())?;
        Ok(db
            .query_one("who", "SELECT current_user::text", &[])
            .unwrap()
            .get(0))
    };

    // No password anywhere: refused.
    assert!(current_user(&params(&c, None, None)).is_err());
    // The exact entry.
    let f = passfile(tmp.path(), "exact", &good, 0o600);
    assert_eq!(current_user(&params(&c, Some(&f), None)).unwrap(), "pwuser");
    // Wildcards; the first matching line wins; comments and other users are skipped.
    let f = passfile(
        tmp.path(),
        "wild",
        &format!(
            "# a comment\n*:*:*:otheruser:wrong\n*:{port}:*:pwuser:pgpass\\:Secret\\\\1\n*:*:*:*:wrong\n"
        ),
        0o600,
    );
    assert_eq!(current_user(&params(&c, Some(&f), None)).unwrap(), "pwuser");
    let f = passfile(
        tmp.path(),
        "first",
        &format!("*:*:*:*:wrong\n{good}"),
        0o600,
    );
    let e = current_user(&params(&c, Some(&f), None)).unwrap_err();
    assert!(e.contains("password retrieved from file"), "{e}");
    // `localhost` is for the default socket directory only.
    let f = passfile(
        tmp.path(),
        "localhost",
        &format!("localhost:{port}:postgres:pwuser:pgpass\\:Secret\\\\1\n"),
        0o600,
    );
    assert!(current_user(&params(&c, Some(&f), None)).is_err());
    // A password given explicitly wins over the file.
    let f = passfile(tmp.path(), "ignored", &good, 0o600);
    let e = current_user(&params(&c, Some(&f), Some("not-it"))).unwrap_err();
    assert!(!e.contains("retrieved from file"), "{e}");

    // Through the CLI: PGPASSFILE is read; a group-readable file is ignored with libpq's
    // warning, and the password never appears in the output.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("000001_init.up.sql"), "SELECT 1;").unwrap();
    let run = |file: &Path| {
        lockstep()
            .arg("dry-run")
            .arg(dir.path())
            .args(["--layout", "golang-migrate"])
            .env("PGHOST", &sock)
            .env("PGPORT", port.to_string())
            .env("PGUSER", "pwuser")
            .env("PGDATABASE", "postgres")
            .env("PGPASSFILE", file)
            .output()
            .unwrap()
    };
    let ok = passfile(tmp.path(), "cli", &good, 0o600);
    let o = run(&ok);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.contains("password authentication failed"), "{out}");
    assert!(!out.contains("could not connect"), "{out}");
    assert!(!out.contains("Secret"), "{out}");
    let open = passfile(tmp.path(), "open", &good, 0o640);
    let o = run(&open);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("has group or world access"), "{err}");
    assert!(!err.contains("Secret"), "{err}");
}

#[test]
fn statements_carrying_credentials_are_redacted() {
    let statements = [
        format!("SELECT dblink_connect('conn', 'host=db user=app password={MARKER}')"),
        format!("SELECT * FROM dblink('host=db password=''{MARKER} x''', 'SELECT 1') AS t(a int)"),
        format!("CREATE ROLE app LOGIN PASSWORD '{MARKER}'"),
        format!("ALTER ROLE app WITH ENCRYPTED PASSWORD E'{MARKER}'"),
        format!(
            "CREATE USER MAPPING FOR app SERVER remote OPTIONS (user 'app', password '{MARKER}')"
        ),
        format!("ALTER USER MAPPING FOR app SERVER remote OPTIONS (SET password $p${MARKER}$p$)"),
        format!("SELECT 'postgresql://app:{MARKER}@db:5432/shop'"),
        format!("DO $$ BEGIN PERFORM dblink_exec('password={MARKER}', 'SELECT 1'); END $$"),
        format!("/* connect with password={MARKER} */ SELECT 1"),
    ];
    for s in &statements {
        let r = redact_sql(s);
        assert_eq!(leaked(&r), None, "{s} → {r}");
        assert!(r.contains("***"), "{s} → {r}");
    }
}
