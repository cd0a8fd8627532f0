//! Connecting through the CLI: unix sockets by key/value string, and a failed connection
//! that exits 2 with a hint and never shows the password.

mod live_support;

use live_support::{cluster, database, write_files};
use std::process::Command;

fn lockstep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    for v in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
    ] {
        c.env_remove(v);
    }
    c
}

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "000001_init.up.sql",
                "CREATE TABLE users (id int PRIMARY KEY);",
            ),
            ("000002_idx.up.sql", "CREATE INDEX users_id ON users (id);"),
        ],
    );
    dir
}

#[test]
fn connect_failure_exits_2_with_hint_and_no_password() {
    let dir = folder();
    let out = lockstep()
        .arg("dry-run")
        .arg(dir.path())
        .args([
            "--database-url",
            "postgres://app:hunter2@127.0.0.1:1/shop?sslmode=disable&connect_timeout=3",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("could not connect to postgres://app@127.0.0.1:1/shop"),
        "{stderr}"
    );
    assert!(stderr.contains("port=1"), "{stderr}");
    assert!(stderr.contains("sslmode=disable"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stdout.contains("hunter2"),
        "{stderr}"
    );
}

#[test]
fn pg_environment_variables_and_unix_sockets() {
    let Some(c) = cluster() else { return };
    let name = database(c, "envconn");
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute("CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE schema_migrations (version bigint, dirty boolean); INSERT INTO schema_migrations VALUES (1, false);")
        .unwrap();
    let dir = folder();
    let out = lockstep()
        .arg("dry-run")
        .arg(dir.path())
        .args(["--layout", "golang-migrate"])
        .env("PGHOST", c.socket_dir())
        .env("PGPORT", c.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &name)
        .env("PGPASSWORD", "not-needed-but-secret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("pending: 1 of 2 migrations (history: schema_migrations)"),
        "{stdout}"
    );
    assert!(stdout.contains("SHARE"), "{stdout}");
    assert!(stdout.contains("read-only"), "{stdout}");
    assert!(!stdout.contains("not-needed-but-secret"), "{stdout}");
}

#[test]
fn sslmode_require_is_ignored_on_unix_sockets_like_libpq() {
    let Some(c) = cluster() else { return };
    let name = database(c, "sslsock");
    let url = format!(
        "postgresql:///{name}?host={}&port={}&user=postgres&sslmode=require",
        c.socket_dir().display(),
        c.port()
    );
    let params = lockstep::live::connect::ConnParams::resolve(Some(&url), &|_| None).unwrap();
    let mut db = lockstep::live::connect::Db::connect(&params).expect("connect over the socket");
    let row = db
        .query_one("test", "SELECT current_database()", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), name);
    assert_eq!(db.queries(), 1);
}

#[test]
fn hosts_are_tried_in_order_with_their_own_ports_like_libpq() {
    let Some(c) = cluster() else { return };
    let name = database(c, "multihost");
    // The first host refuses; the second (the socket, with its own port) answers.
    let kv = format!(
        "host=127.0.0.1,{} port=1,{} user=postgres dbname={name} sslmode=disable connect_timeout=2",
        c.socket_dir().display(),
        c.port()
    );
    let params = lockstep::live::connect::ConnParams::resolve(Some(&kv), &|_| None).unwrap();
    assert_eq!(params.ports, [1, c.port()]);
    let mut db = lockstep::live::connect::Db::connect(&params).expect("second host answers");
    let row = db
        .query_one("test", "SELECT current_database()", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), name);
    // When every host fails, each one's reason is reported.
    let url = "postgresql://u:hunter2@127.0.0.1:1,127.0.0.1:2/db?sslmode=disable&connect_timeout=2";
    let params = lockstep::live::connect::ConnParams::resolve(Some(url), &|_| None).unwrap();
    let e = lockstep::live::connect::Db::connect(&params)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("127.0.0.1:1,127.0.0.1:2"), "{e}");
    assert!(e.matches("127.0.0.1: ").count() == 2, "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}
