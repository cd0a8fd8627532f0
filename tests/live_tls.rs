//! TLS against a real server: a scratch cluster listening on 127.0.0.1 with `ssl = on` and a
//! certificate for `localhost` signed by a throwaway CA made here with the `openssl` CLI.
//! Plain TCP is refused by that server, so a connection that works is a TLS connection.
//!
//! Skipped (with a message) when the PostgreSQL server binaries or `openssl` are missing.

mod live_support;

use live_support::write_files;
use lockstep::live::connect::{ConnParams, Db};
use lockstep::pg::{Cluster, ClusterOptions, TlsFiles};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The TLS cluster and the CA files the tests trust.
struct Fixture {
    cluster: Cluster,
    /// The CA that signed the server certificate.
    ca: PathBuf,
    /// A different CA, which did not.
    wrong_ca: PathBuf,
}

impl Fixture {
    fn port(&self) -> u16 {
        self.cluster
            .tcp_port()
            .expect("the TLS cluster listens on TCP")
    }

    /// A URL for the `postgres` database on `host` with the given query string.
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/postgres?{query}",
            self.port()
        )
    }
}

/// One TLS cluster per test binary (stopped by its watchdog when the process exits), or
/// `None` when the tools to build it are missing.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture).as_ref()
}

fn build_fixture() -> Option<Fixture> {
    if lockstep::pg::find_bin_dir().is_err() {
        eprintln!("skipped: no PostgreSQL server binaries");
        return None;
    }
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no `openssl` command to make test certificates");
        return None;
    }
    let certs = tempfile::tempdir().expect("temp dir");
    let dir = certs.path();
    make_ca(dir, "ca", "lockstep test CA");
    make_ca(dir, "wrong-ca", "lockstep unrelated CA");
    make_server_cert(dir, "ca", "server", "DNS:localhost");
    let cluster = Cluster::start_with(ClusterOptions {
        tcp_tls: Some(TlsFiles {
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        }),
    })
    .expect("start the TLS cluster");
    // Keep the CA certificates in the cluster's directory: it is removed with the cluster,
    // so nothing is left in /tmp after the run.
    let keep = |name: &str| {
        let to = cluster.socket_dir().join(name);
        std::fs::copy(dir.join(name), &to).expect("copy CA certificate");
        to
    };
    let ca = keep("ca.crt");
    let wrong_ca = keep("wrong-ca.crt");
    Some(Fixture {
        cluster,
        ca,
        wrong_ca,
    })
}

/// Extensions for the CA and the server certificate; a file of our own so the system's
/// openssl.cnf does not matter.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

fn openssl(dir: &Path, args: &[&str]) {
    std::fs::write(dir.join("openssl.cnf"), OPENSSL_CNF).expect("write openssl.cnf");
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `<name>.crt` and `<name>.key`: a self-signed P-256 CA valid for two days.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    let (crt, key, subj) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("/CN={cn}"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            &subj,
            "-config",
            "openssl.cnf",
            "-extensions",
            "ca",
        ],
    );
}

/// `<name>.crt` and `<name>.key`: a server certificate for `san`, signed by CA `ca`.
fn make_server_cert(dir: &Path, ca: &str, name: &str, san: &str) {
    let (crt, key, csr) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("{name}.csr"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
            "-config",
            "openssl.cnf",
        ],
    );
    let mut cnf = OPENSSL_CNF.to_string();
    cnf.push_str(&format!("subjectAltName = {san}\n"));
    std::fs::write(dir.join("server-ext.cnf"), cnf).expect("write extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            "2",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            "server-ext.cnf",
            "-extensions",
            "server",
        ],
    );
}

/// Connects through the library, as the CLI does.
fn connect(url: &str) -> Result<Db, lockstep::live::LiveError> {
    let params = ConnParams::resolve(Some(url), &|_| None)?;
    Db::connect(&params)
}

/// Whether this session is encrypted, and with which protocol, as the server sees it.
fn server_side_ssl(db: &mut Db) -> (bool, String) {
    let row = db
        .query_one(
            "tls status",
            "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("query pg_stat_ssl");
    (row.get(0), row.get(1))
}

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
        "PGSSLROOTCERT",
        "PGHOSTADDR",
    ] {
        c.env_remove(v);
    }
    c
}

/// A golang-migrate folder with two migrations, the first already applied in `db`.
fn migrations(f: &Fixture, db: &str) -> tempfile::TempDir {
    f.cluster.create_database(db).expect("create database");
    let mut client = f.cluster.connect(db).expect("connect over the socket");
    client
        .batch_execute(
            "CREATE TABLE users (id int PRIMARY KEY);
             CREATE TABLE schema_migrations (version bigint, dirty boolean);
             INSERT INTO schema_migrations VALUES (1, false);",
        )
        .expect("set up database");
    let dir = tempfile::tempdir().expect("temp dir");
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

fn dry_run(dir: &Path, url: &str) -> Output {
    lockstep()
        .arg("dry-run")
        .arg(dir)
        .args(["--layout", "golang-migrate", "--database-url", url])
        .output()
        .expect("run lockstep")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_test_server_refuses_plain_tcp() {
    // Without this, "it connected" would not prove TLS was used.
    let Some(f) = fixture() else { return };
    let err = connect(&f.url("127.0.0.1", "sslmode=disable&connect_timeout=5"))
        .err()
        .expect("plain TCP must be refused");
    let msg = err.to_string();
    assert!(msg.contains("no encryption"), "{msg}");
}

#[test]
fn sslmode_require_connects_over_tls() {
    let Some(f) = fixture() else { return };
    for host in ["127.0.0.1", "localhost"] {
        let mut db = connect(&f.url(host, "sslmode=require&connect_timeout=5"))
            .unwrap_or_else(|e| panic!("require via {host}: {e}"));
        let (ssl, version) = server_side_ssl(&mut db);
        assert!(ssl, "pg_stat_ssl.ssl is false via {host}");
        assert!(version.starts_with("TLSv1."), "{version}");
    }
}

#[test]
fn sslmode_prefer_uses_tls_when_offered() {
    let Some(f) = fixture() else { return };
    let mut db =
        connect(&f.url("127.0.0.1", "sslmode=prefer&connect_timeout=5")).expect("prefer connects");
    assert!(server_side_ssl(&mut db).0);
}

#[test]
fn verify_full_with_our_ca_connects() {
    let Some(f) = fixture() else { return };
    let url = f.url(
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}&connect_timeout=5",
            f.ca.display()
        ),
    );
    let mut db = connect(&url).expect("verify-full with the right CA");
    assert!(server_side_ssl(&mut db).0);
}

#[test]
fn dry_run_over_verify_full_from_the_environment() {
    let Some(f) = fixture() else { return };
    let dir = migrations(f, "tls_env");
    let out = lockstep()
        .arg("dry-run")
        .arg(dir.path())
        .args(["--layout", "golang-migrate"])
        .env("PGHOST", "localhost")
        .env("PGPORT", f.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "tls_env")
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &f.ca)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("run lockstep");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("pending: 1 of 2 migrations (history: schema_migrations)"),
        "{stdout}"
    );
}

#[test]
fn dry_run_over_require_by_url() {
    let Some(f) = fixture() else { return };
    let dir = migrations(f, "tls_url");
    let url = format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/tls_url?sslmode=require&connect_timeout=5",
        f.port()
    );
    let out = dry_run(dir.path(), &url);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("pending: 1 of 2"), "{stdout}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
}

#[test]
fn verify_full_with_the_wrong_ca_exits_2_with_a_hint() {
    let Some(f) = fixture() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(
        dir.path(),
        &[("000001_a.up.sql", "CREATE TABLE t (id int);")],
    );
    let url = format!(
        "postgres://app:hunter2@localhost:{}/shop?sslmode=verify-full&sslrootcert={}&connect_timeout=5",
        f.port(),
        f.wrong_ca.display()
    );
    let out = dry_run(dir.path(), &url);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "could not connect to postgres://app@localhost:{}/shop",
            f.port()
        )),
        "{stderr}"
    );
    // The reason is the certificate, in words a user can act on.
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    assert!(
        stderr.contains("UnknownIssuer") || stderr.contains("unknown issuer"),
        "{stderr}"
    );
    for part in [
        "host=localhost".to_string(),
        format!("port={}", f.port()),
        "sslmode=verify-full".to_string(),
    ] {
        assert!(stderr.contains(&part), "missing {part}: {stderr}");
    }
    assert!(
        !stderr.contains("hunter2") && !stdout.contains("hunter2"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn verify_full_rejects_a_host_name_not_in_the_certificate() {
    let Some(f) = fixture() else { return };
    // The certificate names only `localhost`; the same server reached as 127.0.0.1 must fail.
    let url = f.url(
        "127.0.0.1",
        &format!(
            "sslmode=verify-full&sslrootcert={}&connect_timeout=5",
            f.ca.display()
        ),
    );
    let msg = connect(&url)
        .err()
        .expect("verify-full must check the name")
        .to_string();
    assert!(msg.contains("not valid for name"), "{msg}");

    let dir = tempfile::tempdir().expect("temp dir");
    write_files(
        dir.path(),
        &[("000001_a.up.sql", "CREATE TABLE t (id int);")],
    );
    let out = dry_run(dir.path(), &url);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("host=127.0.0.1"), "{stderr}");
}

#[test]
fn verify_ca_checks_the_chain_but_not_the_name() {
    let Some(f) = fixture() else { return };
    let with = |ca: &Path| {
        f.url(
            "127.0.0.1",
            &format!(
                "sslmode=verify-ca&sslrootcert={}&connect_timeout=5",
                ca.display()
            ),
        )
    };
    let mut db = connect(&with(&f.ca)).expect("verify-ca ignores the name");
    assert!(server_side_ssl(&mut db).0);
    let msg = connect(&with(&f.wrong_ca))
        .err()
        .expect("verify-ca still checks the chain")
        .to_string();
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
}

#[test]
fn require_with_a_root_certificate_checks_the_chain_like_libpq() {
    let Some(f) = fixture() else { return };
    let url = |ca: &Path| {
        f.url(
            "127.0.0.1",
            &format!(
                "sslmode=require&sslrootcert={}&connect_timeout=5",
                ca.display()
            ),
        )
    };
    if let Err(e) = connect(&url(&f.ca)) {
        panic!("require with the right CA: {e}");
    }
    assert!(connect(&url(&f.wrong_ca)).is_err());
}

#[test]
fn hostaddr_connects_by_address_and_verifies_the_host_name() {
    let Some(f) = fixture() else { return };
    let conn = |host: &str| {
        format!(
            "host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=postgres \
             sslmode=verify-full sslrootcert='{}' connect_timeout=5",
            f.port(),
            f.ca.display()
        )
    };
    let mut db = connect(&conn("localhost")).expect("the name in the certificate");
    assert!(server_side_ssl(&mut db).0);
    // `.invalid` never resolves: reaching the TLS name check proves the address was used
    // for the connection and the name only for verification.
    let msg = connect(&conn("db.invalid"))
        .err()
        .expect("a name not in the certificate")
        .to_string();
    assert!(msg.contains(r#"not valid for name "db.invalid""#), "{msg}");
}
