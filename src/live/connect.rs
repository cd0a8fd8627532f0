//! Connecting to a live database: connection strings (URL or libpq key/value, parsed as
//! libpq parses them, see [`conninfo`]), the libpq `PG*` environment variables, the password
//! file ([`pgpass`]), `options`, unix sockets, TLS through rustls, and a client wrapper that
//! counts the statements it sends.
//!
//! Passwords never leave this module in text form: [`ConnParams`] prints a redacted target,
//! errors about a malformed connection string never quote it, and [`redact`] /
//! [`redact_sql`] scrub any text a message might otherwise echo.

pub mod conninfo;
pub mod pgpass;
pub mod redact;

pub use redact::{redact, redact_sql};

use super::LiveError;
use postgres::types::ToSql;
use postgres::{Client, Row};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// libpq's `sslmode`, all six values (tokio-postgres itself knows only three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS only if the server insists (treated like `prefer`: the client never refuses TLS).
    Allow,
    /// TLS when the server offers it, no certificate check (libpq's default).
    Prefer,
    /// TLS or fail; the certificate is not checked unless a root certificate is given.
    Require,
    /// TLS, certificate chain checked against the root certificates, host name not checked.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// Parses an `sslmode` value.
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where to connect, resolved from a connection string and the `PG*` environment.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnParams {
    /// Host names, IP addresses, or socket directories (starting with `/`).
    pub hosts: Vec<String>,
    /// libpq's `hostaddr`: the IP address to connect to for each host, so no name lookup
    /// is made while TLS still checks the certificate against the host name. Empty, or
    /// one per entry of `hosts`.
    pub hostaddrs: Vec<IpAddr>,
    /// The port of the first host (see `ports` for all).
    pub port: u16,
    /// One port per entry of `hosts`.
    pub ports: Vec<u16>,
    pub user: String,
    /// Never printed; `Debug` and `Display` leave it out.
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// PEM file with the root certificates to trust (`sslrootcert`, `PGSSLROOTCERT`).
    pub sslrootcert: Option<PathBuf>,
    /// `None` waits as long as the operating system does (libpq's `connect_timeout=0`).
    pub connect_timeout: Option<Duration>,
    pub application_name: String,
    /// Command-line options for the server session (`options`, `PGOPTIONS`), e.g.
    /// `-c search_path=app`; sent in the startup packet as libpq does.
    pub options: Option<String>,
    /// The password file to consult when no password is given (`passfile`, `PGPASSFILE`,
    /// else `~/.pgpass`).
    pub passfile: Option<PathBuf>,
}

impl fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnParams")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("options", &self.options)
            .field("passfile", &self.passfile)
            .finish()
    }
}

/// The target as a URL without the password: `postgres://app@db:5432/shop`.
impl fmt::Display for ConnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.hosts.join(",");
        if host.starts_with('/') {
            write!(
                f,
                "postgres://{}@/{}?host={}&port={}",
                self.user, self.dbname, host, self.port
            )
        } else {
            let hosts: Vec<String> = self
                .hosts
                .iter()
                .zip(&self.ports)
                .map(|(h, p)| {
                    if h.contains(':') {
                        format!("[{h}]:{p}")
                    } else {
                        format!("{h}:{p}")
                    }
                })
                .collect();
            write!(
                f,
                "postgres://{}@{}/{}",
                self.user,
                hosts.join(","),
                self.dbname
            )
        }
    }
}

/// Source of environment variables (injectable so tests need not touch the process's).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, empty values treated as unset (as libpq does).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The connection parameters lockstep uses, and the variable that supplies each.
const PARAMETERS: &[(&str, Option<&str>)] = &[
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("passfile", Some("PGPASSFILE")),
    ("dbname", Some("PGDATABASE")),
    ("sslmode", Some("PGSSLMODE")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("options", Some("PGOPTIONS")),
];

/// libpq's integer parsing (`parse_int_param`): surrounding white space allowed, nothing
/// else. The error names the parameter, never the value.
fn int_param(key: &str, value: &str) -> Result<i64, LiveError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| LiveError::BadConnString(format!("the value of `{key}` is not an integer")))
}

impl ConnParams {
    /// Resolves the connection: values from `conn` (a `postgres://` URL or libpq
    /// `key=value` pairs) win, then the `PG*` variables from `env`, then libpq's defaults
    /// (local unix socket, port 5432, the OS user, a database named like the user).
    pub fn resolve(conn: Option<&str>, env: Env) -> Result<ConnParams, LiveError> {
        let mut kv: Vec<(String, String)> = match conn {
            Some(s) => conninfo::parse(s)?,
            None => Vec::new(),
        };
        for (i, (k, v)) in kv.iter_mut().enumerate() {
            // libpq's backwards-compatible spelling.
            if k == "requiressl" {
                *k = "sslmode".into();
                *v = if v.starts_with('1') {
                    "require"
                } else {
                    "prefer"
                }
                .into();
            }
            if k == "service" {
                return Err(LiveError::BadConnString(
                    "`service` (pg_service.conf) is not supported by lockstep; give the \
                     connection parameters directly"
                        .into(),
                ));
            }
            if !PARAMETERS.iter().any(|(name, _)| name == k) {
                return Err(LiveError::BadConnString(if conninfo::is_libpq_keyword(k) {
                    format!("connection parameter `{k}` is not supported by lockstep")
                } else {
                    format!(
                        "unknown connection parameter ({}; known: {})",
                        conninfo::describe_key(k, i + 1),
                        PARAMETERS
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }));
            }
        }
        if env("PGSERVICE").is_some() {
            return Err(LiveError::BadConnString(
                "PGSERVICE is set, but lockstep does not read pg_service.conf; unset it and give \
                 the connection with --database-url or the PGHOST/PGPORT/PGUSER/PGDATABASE \
                 variables"
                    .into(),
            ));
        }
        // The environment fills what the string left out, like libpq.
        for (key, var) in PARAMETERS {
            let Some(var) = var else { continue };
            if kv.iter().any(|(k, _)| k == key) {
                continue;
            }
            if let Some(v) = env(var) {
                kv.push((key.to_string(), v));
            }
        }
        let get = |key: &str| {
            kv.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let hostaddrs = match get("hostaddr").filter(|v| !v.is_empty()) {
            Some(list) => list
                .split(',')
                .enumerate()
                .map(|(i, a)| {
                    a.trim().parse::<IpAddr>().map_err(|_| {
                        LiveError::BadConnString(format!(
                            "entry {} of `hostaddr` is not an IP address",
                            i + 1
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let hosts: Vec<String> = match get("host").filter(|v| !v.is_empty()) {
            Some(h) => h
                .split(',')
                .map(|s| s.trim())
                .map(|s| {
                    if s.is_empty() {
                        default_host()
                    } else {
                        s.to_string()
                    }
                })
                .collect(),
            // Like libpq: the addresses stand in for the names (TLS then checks the
            // certificate against the address).
            None if !hostaddrs.is_empty() => hostaddrs.iter().map(IpAddr::to_string).collect(),
            None => vec![default_host()],
        };
        if !hostaddrs.is_empty() && hostaddrs.len() != hosts.len() {
            return Err(LiveError::BadConnString(format!(
                "{} host names but {} hostaddr values; give one address per host",
                hosts.len(),
                hostaddrs.len()
            )));
        }
        let ports: Vec<u16> = match get("port").filter(|v| !v.is_empty()) {
            Some(list) => list
                .split(',')
                .map(|p| {
                    if p.trim().is_empty() {
                        return Ok(5432);
                    }
                    let n = int_param("port", p)?;
                    u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                        LiveError::BadConnString(
                            "the value of `port` is not a port number (1 to 65535)".into(),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![5432],
        };
        let ports = match ports.len() {
            1 => vec![ports[0]; hosts.len()],
            n if n == hosts.len() => ports,
            n => {
                return Err(LiveError::BadConnString(format!(
                    "{n} port numbers for {} hosts; give one port, or one per host",
                    hosts.len()
                )));
            }
        };
        let user = get("user")
            .filter(|u| !u.is_empty())
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".to_string());
        let dbname = get("dbname")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| user.clone());
        let sslmode = match get("sslmode").filter(|v| !v.is_empty()) {
            Some(m) => SslMode::parse(&m).ok_or_else(|| {
                LiveError::BadConnString(
                    "`sslmode` is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full"
                        .into(),
                )
            })?,
            None => SslMode::Prefer,
        };
        // libpq: zero or negative waits indefinitely; less than 2 seconds is raised to 2.
        let connect_timeout = match get("connect_timeout").filter(|v| !v.is_empty()) {
            Some(t) => match int_param("connect_timeout", &t)? {
                n if n <= 0 => None,
                n => Some(Duration::from_secs(n.clamp(2, i32::MAX as i64) as u64)),
            },
            None => Some(Duration::from_secs(10)),
        };
        let passfile = get("passfile")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
        Ok(ConnParams {
            port: ports[0],
            hosts,
            hostaddrs,
            ports,
            user,
            password: get("password").filter(|p| !p.is_empty()),
            dbname,
            sslmode,
            sslrootcert: get("sslrootcert").map(PathBuf::from),
            connect_timeout,
            application_name: get("application_name")
                .or_else(|| get("fallback_application_name"))
                .unwrap_or_else(|| "lockstep".into()),
            options: get("options").filter(|o| !o.trim().is_empty()),
            passfile,
        })
    }

    /// "host=db.internal port=5432 user=app sslmode=require": what to check when the
    /// connection fails.
    pub fn hint(&self) -> String {
        let hostaddr = if self.hostaddrs.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self.hostaddrs.iter().map(IpAddr::to_string).collect();
            format!(" hostaddr={}", list.join(","))
        };
        let mut ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        ports.dedup();
        format!(
            "host={}{hostaddr} port={} user={} dbname={} sslmode={}",
            self.hosts.join(","),
            ports.join(","),
            self.user,
            self.dbname,
            self.sslmode.as_str()
        )
    }

    /// The driver configuration for host `i`, with `password`.
    fn config(&self, i: usize, password: Option<&str>) -> postgres::Config {
        let mut c = postgres::Config::new();
        let h = &self.hosts[i];
        if h.starts_with('/') {
            c.host_path(h);
        } else {
            c.host(h);
        }
        if let Some(a) = self.hostaddrs.get(i) {
            c.hostaddr(*a);
        }
        c.port(self.ports[i])
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name);
        if let Some(t) = self.connect_timeout {
            c.connect_timeout(t);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        if let Some(p) = password {
            c.password(p);
        }
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        });
        c
    }

    /// The password for host `i`: the one given, else the password file's (libpq looks the
    /// file up per host, with the host name, or the address when there is no name).
    /// Returns the password and, when it came from the file, the file.
    fn password_for(&self, i: usize) -> (Option<String>, Option<&Path>) {
        if let Some(p) = &self.password {
            return (Some(p.clone()), None);
        }
        let Some(file) = self.passfile.as_deref() else {
            return (None, None);
        };
        let found = pgpass::lookup(
            file,
            &self.hosts[i],
            self.ports[i],
            &self.dbname,
            &self.user,
        );
        if let Some(w) = &found.warning {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("warning: {w}"));
        }
        match found.password {
            Some(p) => (Some(p), Some(file)),
            None => (None, None),
        }
    }

    /// Opens a connection, trying the hosts in order like libpq. Failures carry the redacted
    /// target and the hint.
    pub fn connect(&self) -> Result<Client, LiveError> {
        let is_socket =
            |i: usize| self.hostaddrs.get(i).is_none() && self.hosts[i].starts_with('/');
        // Built once, before any host is tried: a TLS setup error is not a per-host failure.
        let tls = if self.sslmode != SslMode::Disable && !(0..self.hosts.len()).all(is_socket) {
            Some(tls_connector(self)?)
        } else {
            None
        };
        let mut errors = Vec::new();
        for i in 0..self.hosts.len() {
            let (password, from_file) = self.password_for(i);
            let mut config = self.config(i, password.as_deref());
            // Like libpq: TLS is never used on unix sockets, whatever sslmode says.
            // (A `hostaddr` means TCP even when `host` is a socket directory.)
            let result = match &tls {
                Some(tls) if !is_socket(i) => config.connect(tls.clone()),
                _ => {
                    config.ssl_mode(postgres::config::SslMode::Disable);
                    config.connect(postgres::NoTls)
                }
            };
            match result {
                Ok(c) => return Ok(c),
                Err(e) => {
                    let mut text = redact(&error_text(&e));
                    if let Some(file) = from_file {
                        text.push_str(&format!(
                            " (password retrieved from file \"{}\")",
                            file.display()
                        ));
                    }
                    if self.hosts.len() > 1 {
                        text = format!("{}: {text}", self.hosts[i]);
                    }
                    errors.push(text);
                }
            }
        }
        Err(LiveError::Connect {
            target: self.to_string(),
            hint: self.hint(),
            message: errors.join("; "),
        })
    }
}

/// The database the user named: `flag` (`--database-url`), else `DATABASE_URL`, else the
/// libpq variables when `PGHOST` or `PGDATABASE` is set. `None` when nothing names one.
pub fn from_flag_or_env(flag: Option<&str>, env: Env) -> Result<Option<ConnParams>, LiveError> {
    let url = flag.map(str::to_string).or_else(|| env("DATABASE_URL"));
    if url.is_none()
        && env("PGHOST").is_none()
        && env("PGDATABASE").is_none()
        && env("PGSERVICE").is_none()
    {
        return Ok(None);
    }
    ConnParams::resolve(url.as_deref(), env).map(Some)
}

/// libpq's default host: the local socket directory when there is one.
fn default_host() -> String {
    for dir in ["/var/run/postgresql", "/tmp"] {
        if Path::new(dir).is_dir() {
            let has_socket = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(".s.PGSQL."))
                })
                .unwrap_or(false);
            if has_socket {
                return dir.to_string();
            }
        }
    }
    "localhost".to_string()
}

/// The full text of a driver error (its source chain), which is where the server's message is.
pub fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

// ---- TLS

/// The rustls connector for `params.sslmode`.
fn tls_connector(
    params: &ConnParams,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, LiveError> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| LiveError::Tls(e.to_string()))?;

    /// `prefer`/`require` without a root certificate: encrypt, check the handshake
    /// signatures, but accept any certificate (what libpq does in these modes).
    #[derive(Debug)]
    struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// `verify-ca`: the chain must lead to a trusted root; the name is not checked.
    #[derive(Debug)]
    struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);
    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self
                .0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    let verify = match params.sslmode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        // libpq: with a root certificate given, `require` verifies the chain.
        SslMode::Require => params.sslrootcert.is_some(),
        _ => false,
    };
    let config = if verify {
        let roots = root_store(params.sslrootcert.as_deref())?;
        if params.sslmode == SslMode::VerifyFull {
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| LiveError::Tls(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
                .with_no_client_auth()
        }
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Trusted roots: the given PEM file, else `~/.postgresql/root.crt` when present, else the
/// Mozilla roots bundled with webpki-roots (what public cloud providers' certificates chain to).
fn root_store(explicit: Option<&Path>) -> Result<rustls::RootCertStore, LiveError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let home_root = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
        .filter(|p| p.is_file());
    let file = explicit.map(Path::to_path_buf).or(home_root);
    let mut store = rustls::RootCertStore::empty();
    match file {
        Some(path) if path.as_os_str() != "system" => {
            let certs = CertificateDer::pem_file_iter(&path).map_err(|e| {
                LiveError::Tls(format!(
                    "cannot read root certificates {}: {e}",
                    path.display()
                ))
            })?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    LiveError::Tls(format!("bad certificate in {}: {e}", path.display()))
                })?;
                store.add(cert).map_err(|e| {
                    LiveError::Tls(format!("unusable certificate in {}: {e}", path.display()))
                })?;
            }
            if store.is_empty() {
                return Err(LiveError::Tls(format!(
                    "{}: no certificates found",
                    path.display()
                )));
            }
        }
        _ => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

// ---- the counting client

/// A connection that counts the statements it sends, so tests (and `--format json`'s
/// `queries`) can show the number of round trips does not grow with the number of tables.
pub struct Db {
    client: Client,
    queries: u64,
    /// The redacted target, for messages.
    pub target: String,
}

impl Db {
    /// Connects with `params`.
    pub fn connect(params: &ConnParams) -> Result<Db, LiveError> {
        Ok(Db {
            client: params.connect()?,
            queries: 0,
            target: params.to_string(),
        })
    }

    /// Wraps an open client (scratch clusters, tests).
    pub fn from_client(client: Client, target: impl Into<String>) -> Db {
        Db {
            client,
            queries: 0,
            target: target.into(),
        }
    }

    /// Statements sent so far.
    pub fn queries(&self) -> u64 {
        self.queries
    }

    /// Runs a query; `what` says what it was for in the error.
    pub fn query(
        &mut self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, LiveError> {
        self.queries += 1;
        self.client
            .query(sql, params)
            .map_err(|e| LiveError::query(what, &e))
    }

    /// Runs a query that returns exactly one row.
    pub fn query_one(
        &mut self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, LiveError> {
        self.queries += 1;
        self.client
            .query_one(sql, params)
            .map_err(|e| LiveError::query(what, &e))
    }

    /// Runs one or more statements without parameters (simple query protocol).
    pub fn batch(&mut self, what: &str, sql: &str) -> Result<(), LiveError> {
        self.queries += 1;
        self.client
            .batch_execute(sql)
            .map_err(|e| LiveError::query(what, &e))
    }

    /// Like [`Db::batch`] but returns the driver error itself (the trace needs its SQLSTATE).
    pub fn batch_raw(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.queries += 1;
        self.client.batch_execute(sql)
    }

    /// The underlying client, for work that is not counted (backfill batches).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_urls() {
        let p = ConnParams::resolve(
            Some("postgres://app:s%40cret@db.internal:6543/shop?sslmode=verify-full"),
            &no_env,
        )
        .unwrap();
        assert_eq!(p.hosts, ["db.internal"]);
        assert_eq!(p.port, 6543);
        assert_eq!(p.user, "app");
        assert_eq!(p.password.as_deref(), Some("s@cret"));
        assert_eq!(p.dbname, "shop");
        assert_eq!(p.sslmode, SslMode::VerifyFull);
        assert_eq!(p.to_string(), "postgres://app@db.internal:6543/shop");
        assert!(!format!("{p:?}").contains("s@cret"));
    }

    #[test]
    fn unix_socket_in_query_and_keyword_form() {
        let p = ConnParams::resolve(
            Some("postgresql:///app?host=/run/pg&port=5433&user=u"),
            &no_env,
        )
        .unwrap();
        assert_eq!(p.hosts, ["/run/pg"]);
        assert_eq!(p.port, 5433);
        assert_eq!(p.dbname, "app");
        let p = ConnParams::resolve(Some("host=/tmp/x port=1 dbname='my db' user=me"), &no_env)
            .unwrap();
        assert_eq!(p.hosts, ["/tmp/x"]);
        assert_eq!(p.dbname, "my db");
        assert_eq!(p.to_string(), "postgres://me@/my db?host=/tmp/x&port=1");
    }

    #[test]
    fn environment_fills_gaps_but_string_wins() {
        let env = |k: &str| match k {
            "PGHOST" => Some("envhost".to_string()),
            "PGPORT" => Some("7777".to_string()),
            "PGUSER" => Some("envuser".to_string()),
            "PGPASSWORD" => Some("envpw".to_string()),
            "PGSSLMODE" => Some("require".to_string()),
            _ => None,
        };
        let p = ConnParams::resolve(Some("postgres://other@/db"), &env).unwrap();
        assert_eq!(p.hosts, ["envhost"]);
        assert_eq!(p.port, 7777);
        assert_eq!(p.user, "other");
        assert_eq!(p.password.as_deref(), Some("envpw"));
        assert_eq!(p.sslmode, SslMode::Require);
        let p = ConnParams::resolve(None, &env).unwrap();
        assert_eq!(p.dbname, "envuser");
    }

    #[test]
    fn hostaddr_is_parsed_and_shown_in_the_hint() {
        let p = ConnParams::resolve(Some("host=db.internal hostaddr=10.0.0.5 user=u"), &no_env)
            .unwrap();
        assert_eq!(p.hosts, ["db.internal"]);
        assert_eq!(p.hostaddrs, ["10.0.0.5".parse::<IpAddr>().unwrap()]);
        assert!(
            p.hint().contains("host=db.internal hostaddr=10.0.0.5 "),
            "{}",
            p.hint()
        );
        // Without a host, the address is the host (and the name TLS checks).
        let p = ConnParams::resolve(Some("hostaddr=127.0.0.1"), &no_env).unwrap();
        assert_eq!(p.hosts, ["127.0.0.1"]);
        assert!(ConnParams::resolve(Some("hostaddr=db.internal"), &no_env).is_err());
        assert!(ConnParams::resolve(Some("host=a,b hostaddr=10.0.0.5"), &no_env).is_err());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(ConnParams::resolve(Some("postgres://h/db?sslmode=maybe"), &no_env).is_err());
        assert!(ConnParams::resolve(Some("postgres://h:notaport/db"), &no_env).is_err());
        assert!(ConnParams::resolve(Some("host=h bogus=1"), &no_env).is_err());
        assert!(ConnParams::resolve(Some("host"), &no_env).is_err());
    }

    #[test]
    fn tls_connectors_build_for_every_mode() {
        for mode in ["prefer", "require", "verify-ca", "verify-full"] {
            let p = ConnParams::resolve(
                Some(&format!("postgres://u@db.example.com/x?sslmode={mode}")),
                &no_env,
            )
            .unwrap();
            assert!(tls_connector(&p).is_ok(), "{mode}");
        }
        let p = ConnParams::resolve(
            Some("postgres://u@db/x?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"),
            &no_env,
        )
        .unwrap();
        let e = tls_connector(&p)
            .err()
            .expect("missing root file is an error");
        assert!(e.to_string().contains("/nonexistent/root.crt"), "{e}");
    }
}
