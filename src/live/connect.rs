//! Connecting to a live database: connection strings (URL or libpq key/value), the libpq
//! `PG*` environment variables, unix sockets, TLS through rustls, and a client wrapper that
//! counts the statements it sends.
//!
//! Passwords never leave this module in text form: [`ConnParams`] prints a redacted target,
//! and [`redact`] scrubs any connection string a message might otherwise echo.

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
    pub port: u16,
    pub user: String,
    /// Never printed; `Debug` and `Display` leave it out.
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// PEM file with the root certificates to trust (`sslrootcert`, `PGSSLROOTCERT`).
    pub sslrootcert: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub application_name: String,
}

impl fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnParams")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
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
            write!(
                f,
                "postgres://{}@{}:{}/{}",
                self.user, host, self.port, self.dbname
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

impl ConnParams {
    /// Resolves the connection: values from `conn` (a `postgres://` URL or libpq
    /// `key=value` pairs) win, then the `PG*` variables from `env`, then libpq's defaults
    /// (local unix socket, port 5432, the OS user, a database named like the user).
    pub fn resolve(conn: Option<&str>, env: Env) -> Result<ConnParams, LiveError> {
        let mut kv: Vec<(String, String)> = match conn {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                parse_url(s)?
            }
            Some(s) => parse_keyword_value(s)?,
            None => Vec::new(),
        };
        // The environment fills what the string left out, like libpq.
        for (key, var) in [
            ("host", "PGHOST"),
            ("hostaddr", "PGHOSTADDR"),
            ("port", "PGPORT"),
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
            ("dbname", "PGDATABASE"),
            ("sslmode", "PGSSLMODE"),
            ("sslrootcert", "PGSSLROOTCERT"),
            ("connect_timeout", "PGCONNECT_TIMEOUT"),
            ("application_name", "PGAPPNAME"),
        ] {
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
        for (k, _) in &kv {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                return Err(LiveError::BadConnString(format!(
                    "unknown connection parameter `{k}` (known: {})",
                    KNOWN_KEYS.join(", ")
                )));
            }
        }
        let hostaddrs = match get("hostaddr") {
            Some(list) => list
                .split(',')
                .map(|a| {
                    a.trim().parse::<IpAddr>().map_err(|_| {
                        LiveError::BadConnString(format!(
                            "hostaddr `{}` is not an IP address",
                            a.trim()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let hosts: Vec<String> = match get("host") {
            Some(h) => h.split(',').map(|s| s.trim().to_string()).collect(),
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
        let port = match get("port") {
            Some(p) => p.trim().parse::<u16>().map_err(|_| {
                LiveError::BadConnString(format!("port `{p}` is not a port number"))
            })?,
            None => 5432,
        };
        let user = get("user")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".to_string());
        let dbname = get("dbname").unwrap_or_else(|| user.clone());
        let sslmode = match get("sslmode") {
            Some(m) => SslMode::parse(&m).ok_or_else(|| {
                LiveError::BadConnString(format!(
                    "sslmode `{m}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            })?,
            None => SslMode::Prefer,
        };
        let connect_timeout = match get("connect_timeout") {
            Some(t) => Duration::from_secs(t.trim().parse::<u64>().map_err(|_| {
                LiveError::BadConnString(format!(
                    "connect_timeout `{t}` is not a number of seconds"
                ))
            })?),
            None => Duration::from_secs(10),
        };
        Ok(ConnParams {
            hosts,
            hostaddrs,
            port,
            user,
            password: get("password"),
            dbname,
            sslmode,
            sslrootcert: get("sslrootcert").map(PathBuf::from),
            connect_timeout,
            application_name: get("application_name").unwrap_or_else(|| "lockstep".into()),
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
        format!(
            "host={}{hostaddr} port={} user={} dbname={} sslmode={}",
            self.hosts.join(","),
            self.port,
            self.user,
            self.dbname,
            self.sslmode.as_str()
        )
    }

    fn config(&self) -> postgres::Config {
        let mut c = postgres::Config::new();
        for h in &self.hosts {
            if h.starts_with('/') {
                c.host_path(h);
            } else {
                c.host(h);
            }
        }
        for a in &self.hostaddrs {
            c.hostaddr(*a);
        }
        c.port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout);
        if let Some(p) = &self.password {
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

    /// Opens a connection. Failures carry the redacted target and the hint.
    pub fn connect(&self) -> Result<Client, LiveError> {
        let mut config = self.config();
        // Like libpq: TLS is never used on unix sockets, whatever sslmode says.
        // (A `hostaddr` means TCP even when `host` is a socket directory.)
        let sockets_only =
            self.hostaddrs.is_empty() && self.hosts.iter().all(|h| h.starts_with('/'));
        if sockets_only {
            config.ssl_mode(postgres::config::SslMode::Disable);
        }
        let result = if self.sslmode == SslMode::Disable || sockets_only {
            config.connect(postgres::NoTls)
        } else {
            let tls = tls_connector(self)?;
            config.connect(tls)
        };
        result.map_err(|e| LiveError::Connect {
            target: self.to_string(),
            hint: self.hint(),
            message: redact(&error_text(&e)),
        })
    }
}

/// The database the user named: `flag` (`--database-url`), else `DATABASE_URL`, else the
/// libpq variables when `PGHOST` or `PGDATABASE` is set. `None` when nothing names one.
pub fn from_flag_or_env(flag: Option<&str>, env: Env) -> Result<Option<ConnParams>, LiveError> {
    let url = flag.map(str::to_string).or_else(|| env("DATABASE_URL"));
    if url.is_none() && env("PGHOST").is_none() && env("PGDATABASE").is_none() {
        return Ok(None);
    }
    ConnParams::resolve(url.as_deref(), env).map(Some)
}

const KNOWN_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "application_name",
    "options",
];

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

fn percent_decode(s: &str) -> Result<String, LiveError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| LiveError::BadConnString("bad percent-escape in the URL".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| LiveError::BadConnString("the URL decodes to invalid UTF-8".into()))
}

/// `postgres://user:pass@host:port,host2/db?sslmode=require&host=/run/pg` → key/value pairs.
fn parse_url(url: &str) -> Result<Vec<(String, String)>, LiveError> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (main, None),
    };
    let mut kv = Vec::new();
    let hostpart = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let (user, pass) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                kv.push(("user".into(), percent_decode(user)?));
            }
            if let Some(p) = pass {
                kv.push(("password".into(), percent_decode(p)?));
            }
            host
        }
        None => authority,
    };
    if !hostpart.is_empty() {
        let mut hosts = Vec::new();
        let mut port = None;
        for h in hostpart.split(',') {
            // `[::1]:5432`, `db:5432`, `db`
            let (host, p) = if let Some(stripped) = h.strip_prefix('[') {
                match stripped.split_once(']') {
                    Some((addr, tail)) => (addr.to_string(), tail.strip_prefix(':')),
                    None => {
                        return Err(LiveError::BadConnString(
                            "unclosed `[` in the URL's host".into(),
                        ));
                    }
                }
            } else {
                match h.rsplit_once(':') {
                    Some((a, p)) => (a.to_string(), Some(p)),
                    None => (h.to_string(), None),
                }
            };
            if !host.is_empty() {
                hosts.push(percent_decode(&host)?);
            }
            if let Some(p) = p.filter(|p| !p.is_empty()) {
                port = Some(p.to_string());
            }
        }
        if !hosts.is_empty() {
            kv.push(("host".into(), hosts.join(",")));
        }
        if let Some(p) = port {
            kv.push(("port".into(), p));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        kv.push(("dbname".into(), percent_decode(db)?));
    }
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            kv.push((percent_decode(k)?, percent_decode(v)?));
        }
    }
    Ok(kv)
}

/// `host=/run/pg port=5433 user='my user'` → key/value pairs (libpq quoting rules).
fn parse_keyword_value(s: &str) -> Result<Vec<(String, String)>, LiveError> {
    let mut kv = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(LiveError::BadConnString(format!(
                "expected `key=value`, found `{key}` without `=` (or give a postgres:// URL)"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
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
                return Err(LiveError::BadConnString(format!(
                    "unterminated quoted value for `{key}`"
                )));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        kv.push((key, value));
    }
    Ok(kv)
}

/// Removes passwords from any text that may hold a connection string: the `:secret@` of a
/// URL and the value of `password=` (key/value form and URL query).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // URL userinfo: scheme://user:secret@host
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((u, _)) => {
                        out.push_str(u);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    // password=secret, password='sec ret', ?password=secret&
    let mut result = String::with_capacity(out.len());
    let lower = out.to_ascii_lowercase();
    let mut i = 0;
    while let Some(pos) = lower[i..].find("password") {
        let start = i + pos;
        let mut j = start + "password".len();
        let bytes = out.as_bytes();
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'=' {
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            result.push_str(&out[i..j]);
            result.push_str("***");
            // Skip the value.
            if j < bytes.len() && bytes[j] == b'\'' {
                j += 1;
                while j < bytes.len() && bytes[j] != b'\'' {
                    if bytes[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                j = (j + 1).min(bytes.len());
            } else {
                while j < bytes.len() && !matches!(bytes[j], b' ' | b'&' | b'\n' | b'\t') {
                    j += 1;
                }
            }
            i = j;
        } else {
            result.push_str(&out[i..j]);
            i = j;
        }
    }
    result.push_str(&out[i..]);
    result
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

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("could not reach postgres://app:hunter2@db:5432/x today"),
            "could not reach postgres://app:***@db:5432/x today"
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
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
    }
}
