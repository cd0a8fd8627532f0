//! A throwaway local PostgreSQL cluster started from the system binaries.
//!
//! Used by the live-database tests and by `lockstep dry-run --scratch`: [`Cluster::start`]
//! runs `initdb` into a fresh temporary directory, starts a server that listens only on a
//! unix socket inside that directory (no TCP, so it never collides with a real server), and
//! [`Cluster::connect`] opens `postgres` client connections to it.
//!
//! [`Cluster::start_with`] can additionally open a TLS-only TCP listener on 127.0.0.1
//! ([`ClusterOptions::tcp_tls`]), for testing clients against a real TLS server.
//!
//! Lifetime: dropping the [`Cluster`] stops the server (`pg_ctl stop -m immediate`) and
//! removes the directory. Because `Drop` does not run when a process is killed (or for a
//! `static`), every cluster also has a small watchdog process that polls the owning
//! process and, once it is gone, stops the server and removes the directory. So a cluster
//! never outlives the process that started it by more than about a second.
//!
//! When running as root (CI containers), the server runs as the `postgres` system user
//! through `runuser`, because `initdb` and `postgres` refuse to run as root.

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Environment variable naming the directory that holds `pg_ctl`, `initdb` and `postgres`;
/// it overrides the automatic search.
pub const BINDIR_ENV: &str = "LOCKSTEP_PG_BINDIR";

/// The superuser created by `initdb` in every scratch cluster.
pub const SUPERUSER: &str = "postgres";

/// The system user the server runs as when lockstep itself runs as root.
const SERVER_OS_USER: &str = "postgres";

/// The only address the optional TCP listener binds to: nothing off this machine can reach it.
pub const TCP_HOST: &str = "127.0.0.1";

/// A server certificate (PEM, may include the chain) and its unencrypted private key (PEM),
/// for a cluster's TLS listener. The files are copied into the cluster's directory, so the
/// caller's copies need not be readable by the server's OS user.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server certificate file (`ssl_cert_file`).
    pub cert: PathBuf,
    /// The private key file (`ssl_key_file`).
    pub key: PathBuf,
}

/// How to start a cluster. `ClusterOptions::default()` is what [`Cluster::start`] does.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Also listen on [`TCP_HOST`] at [`Cluster::port`] with `ssl = on`, using these files.
    /// TCP connections without TLS are rejected (`hostnossl … reject`), so a client that
    /// gets in has negotiated TLS. The unix socket stays as it is (no TLS there).
    pub tcp_tls: Option<TlsFiles>,
}

/// Errors from starting, using or stopping a scratch cluster.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// No usable PostgreSQL installation was found.
    #[error(
        "no PostgreSQL server binaries found (looked for pg_ctl, initdb and postgres in {searched}); \
         install postgresql (Debian/Ubuntu: `apt-get install postgresql`) or set {BINDIR_ENV} to the \
         directory that holds them"
    )]
    BinariesNotFound {
        /// The places that were searched, comma-separated.
        searched: String,
    },
    /// Running as root but there is no unprivileged user to run the server as.
    #[error(
        "running as root, but there is no `{SERVER_OS_USER}` system user to run the server as \
         (initdb and postgres refuse to run as root); install the postgresql package, which \
         creates it, or run lockstep as an ordinary user"
    )]
    NoServerUser,
    /// A file-system or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done, e.g. "creating the cluster directory".
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL program exited unsuccessfully.
    #[error("`{command}` failed ({status}):\n{output}")]
    Command {
        /// The command line, for the user to retry by hand.
        command: String,
        /// The exit status.
        status: String,
        /// Its standard output and error, and the tail of the server log when relevant.
        output: String,
    },
    /// Connecting to the scratch server failed.
    #[error("could not connect to database `{db}` of the scratch cluster: {source}")]
    Connect {
        /// The database name.
        db: String,
        #[source]
        source: postgres::Error,
    },
    /// A statement sent to the scratch server failed.
    #[error("{what}: {source}")]
    Query {
        /// What the statement was for.
        what: String,
        #[source]
        source: postgres::Error,
    },
    /// The process-wide shared cluster could not be started (the first error is repeated).
    #[error("the shared scratch cluster is unavailable: {0}")]
    SharedUnavailable(String),
}

fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let action = action.into();
    move |source| PgError::Io { action, source }
}

/// A running throwaway PostgreSQL server. See the module documentation.
#[derive(Debug)]
pub struct Cluster {
    /// Holds the data directory, the socket and the server log; removed on drop.
    /// `Option` so `Drop` can remove it *after* the server has stopped.
    root: Option<tempfile::TempDir>,
    root_path: PathBuf,
    data_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    major_version: u32,
    /// `Some("postgres")` when the server runs as another OS user via `runuser`.
    run_as: Option<String>,
    watchdog: Option<Child>,
    /// Whether the server also listens on [`TCP_HOST`] (with TLS).
    tcp: bool,
}

impl Cluster {
    /// Creates and starts a new cluster from the highest installed PostgreSQL version.
    ///
    /// Takes about a second (`initdb` without fsync, then `pg_ctl start -w`).
    pub fn start() -> Result<Cluster, PgError> {
        Cluster::start_with(ClusterOptions::default())
    }

    /// Like [`Cluster::start`], with options (e.g. a TLS listener on 127.0.0.1).
    pub fn start_with(options: ClusterOptions) -> Result<Cluster, PgError> {
        let bin_dir = find_bin_dir()?;
        let major_version = binary_major_version(&bin_dir)?;

        let root = tempfile::Builder::new()
            .prefix("lockstep-pg-")
            .tempdir_in(short_temp_base())
            .map_err(io_err("creating the scratch cluster directory"))?;
        let root_path = root.path().to_path_buf();

        // A directory we just created is owned by our effective uid: that tells whether we
        // are root without any unsafe libc call.
        let euid = std::fs::metadata(&root_path)
            .map_err(io_err("reading the scratch cluster directory"))?
            .uid();
        let run_as = if euid == 0 {
            if !os_user_exists(SERVER_OS_USER) {
                return Err(PgError::NoServerUser);
            }
            // The temp dir is mode 0700 and owned by root: hand it to the server's user.
            run_checked(
                Command::new("chown")
                    .arg(format!("{SERVER_OS_USER}:"))
                    .arg(&root_path),
                None,
            )?;
            Some(SERVER_OS_USER.to_string())
        } else {
            None
        };

        let mut cluster = Cluster {
            data_dir: root_path.join("data"),
            root: Some(root),
            root_path,
            port: pick_port(),
            bin_dir,
            major_version,
            run_as,
            watchdog: None,
            tcp: options.tcp_tls.is_some(),
        };
        // From here on, `Drop` cleans up whatever part of the start-up succeeded.
        cluster.init_and_start(options.tcp_tls.as_ref())?;
        Ok(cluster)
    }

    /// A cluster shared by the whole process, started on first use and stopped by the
    /// watchdog when the process exits. Test binaries use it so that they start one server
    /// instead of one per test; give each test its own database.
    pub fn shared() -> Result<&'static Cluster, PgError> {
        static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Cluster::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| PgError::SharedUnavailable(e.clone()))
    }

    fn init_and_start(&mut self, tls: Option<&TlsFiles>) -> Result<(), PgError> {
        let mut initdb = self.pg_command("initdb");
        initdb
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        run_checked(&mut initdb, None)?;

        let mut conf = String::from("\n# lockstep scratch cluster\n");
        match tls {
            Some(files) => {
                let (cert, key) = self.install_tls_files(files)?;
                let _ = writeln!(conf, "listen_addresses = '{TCP_HOST}'");
                conf.push_str("ssl = on\n");
                let _ = writeln!(conf, "ssl_cert_file = '{}'", conf_quote(&cert));
                let _ = writeln!(conf, "ssl_key_file = '{}'", conf_quote(&key));
                // First matching line wins: plain TCP is refused before initdb's `trust`
                // lines are reached, so every TCP session is a TLS session.
                let hba_path = self.data_dir.join("pg_hba.conf");
                let hba = std::fs::read_to_string(&hba_path)
                    .map_err(io_err(format!("reading {}", hba_path.display())))?;
                let hba =
                    format!("# lockstep: TCP only with TLS\nhostnossl all all all reject\n{hba}");
                std::fs::write(&hba_path, hba)
                    .map_err(io_err(format!("writing {}", hba_path.display())))?;
            }
            // Unix socket only: nothing else on the machine can reach it or collide with it.
            None => conf.push_str("listen_addresses = ''\n"),
        }
        let _ = writeln!(
            conf,
            "unix_socket_directories = '{}'",
            self.root_path.display().to_string().replace('\'', "''")
        );
        let _ = writeln!(conf, "port = {}", self.port);
        // Durability is pointless for a throwaway cluster; speed is not.
        conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        // Deterministic sessions: results must not depend on the host's zone or language.
        conf.push_str("timezone = 'UTC'\nlc_messages = 'C'\n");
        conf.push_str("max_connections = 40\n");
        // Background vacuums would take locks and change statistics behind the caller's back.
        conf.push_str("autovacuum = off\n");
        let conf_path = self.data_dir.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path)
            .map_err(io_err(format!("reading {}", conf_path.display())))?;
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing)
            .map_err(io_err(format!("writing {}", conf_path.display())))?;

        self.spawn_watchdog()?;

        let mut start = self.pg_command("pg_ctl");
        start
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "start"]);
        run_checked(&mut start, Some(&self.log_path()))?;
        Ok(())
    }

    /// Copies the certificate and key into the cluster directory with the ownership and
    /// mode the server demands (a key readable by others, or owned by another user than
    /// the server's, makes it refuse to start). Returns the copies' paths.
    fn install_tls_files(&self, files: &TlsFiles) -> Result<(PathBuf, PathBuf), PgError> {
        use std::os::unix::fs::PermissionsExt;
        let cert = self.root_path.join("server.crt");
        let key = self.root_path.join("server.key");
        for (from, to, mode) in [(&files.cert, &cert, 0o644), (&files.key, &key, 0o600)] {
            std::fs::copy(from, to).map_err(io_err(format!(
                "copying {} into the scratch cluster",
                from.display()
            )))?;
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))
                .map_err(io_err(format!("setting the mode of {}", to.display())))?;
        }
        if let Some(user) = &self.run_as {
            run_checked(
                Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(&cert)
                    .arg(&key),
                None,
            )?;
        }
        Ok((cert, key))
    }

    /// Starts the process that stops the server once this process is gone (killed, or
    /// exiting without running destructors).
    fn spawn_watchdog(&mut self) -> Result<(), PgError> {
        // Positional parameters instead of interpolation: paths never need shell quoting.
        const SCRIPT: &str = r#"
parent=$1; data=$2; root=$3
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
if [ -f "$data/postmaster.pid" ]; then
  pid=$(head -n 1 "$data/postmaster.pid")
  if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.2; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null
  fi
fi
rm -rf "$root"
"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("lockstep-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.data_dir)
            .arg(&self.root_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: a Ctrl-C aimed at the test run must not kill the watchdog
            // before it has cleaned up.
            .process_group(0)
            .spawn()
            .map_err(io_err("starting the scratch cluster watchdog (sh)"))?;
        self.watchdog = Some(child);
        Ok(())
    }

    /// A command for one of the PostgreSQL programs, run as the server's OS user.
    fn pg_command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        // The caller's working directory may be unreadable for the server's user.
        cmd.current_dir(&self.root_path);
        cmd.env("LC_ALL", "C");
        cmd
    }

    fn log_path(&self) -> PathBuf {
        self.root_path.join("server.log")
    }

    /// The PostgreSQL major version of the server (e.g. `15`).
    pub fn version(&self) -> u32 {
        self.major_version
    }

    /// The directory holding the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.root_path
    }

    /// The port number. It names the socket file, and is the TCP port when the cluster
    /// was started with a TLS listener ([`Cluster::tcp_port`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCP port on [`TCP_HOST`] when the cluster listens there (started with
    /// [`ClusterOptions::tcp_tls`]); `None` for a unix-socket-only cluster.
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp.then_some(self.port)
    }

    /// A libpq key/value connection string for database `db`, usable with `psql` or any
    /// libpq-compatible client.
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            conninfo_quote(&self.root_path.display().to_string()),
            self.port,
            SUPERUSER,
            conninfo_quote(db)
        )
    }

    /// Opens a connection (as the superuser) to database `db`.
    pub fn connect(&self, db: &str) -> Result<postgres::Client, PgError> {
        postgres::Config::new()
            .host_path(&self.root_path)
            .port(self.port)
            .user(SUPERUSER)
            .dbname(db)
            .application_name("lockstep")
            .connect_timeout(Duration::from_secs(10))
            .connect(postgres::NoTls)
            .map_err(|source| PgError::Connect {
                db: db.to_string(),
                source,
            })
    }

    /// Creates an empty database named `name`.
    pub fn create_database(&self, name: &str) -> Result<(), PgError> {
        self.create_database_sql(name, &format!("CREATE DATABASE {}", quote_ident(name)))
    }

    /// Creates database `name` as a copy of `template` (which must have no open
    /// connections). Much faster than replaying the same setup into many databases.
    pub fn create_database_from(&self, name: &str, template: &str) -> Result<(), PgError> {
        let mut sql = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(name),
            quote_ident(template)
        );
        // PG 15's default WAL_LOG strategy copies block by block through the WAL; a plain
        // file copy is faster for small databases.
        if self.major_version >= 15 {
            sql.push_str(" STRATEGY FILE_COPY");
        }
        self.create_database_sql(name, &sql)
    }

    fn create_database_sql(&self, name: &str, sql: &str) -> Result<(), PgError> {
        let mut client = self.connect("postgres")?;
        client.batch_execute(sql).map_err(|source| PgError::Query {
            what: format!("creating database `{name}`"),
            source,
        })
    }

    /// Stops the server now (`pg_ctl stop -m immediate`). Also done on drop.
    pub fn stop(&mut self) -> Result<(), PgError> {
        if self.root.is_none() {
            return Ok(());
        }
        let result = if self.data_dir.join("postmaster.pid").exists() {
            let mut stop = self.pg_command("pg_ctl");
            stop.arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
            run_checked(&mut stop, None).map(|_| ())
        } else {
            Ok(())
        };
        if let Some(mut w) = self.watchdog.take() {
            // Ignored: the watchdog may already have exited.
            let _ = w.kill();
            let _ = w.wait();
        }
        if result.is_ok()
            && let Some(root) = self.root.take()
        {
            root.close()
                .map_err(io_err("removing the scratch cluster directory"))?;
        }
        result
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.stop().is_err() {
            // The server did not stop cleanly: keep the watchdog alive so it kills the
            // postmaster and removes the directory once this process exits.
            if let Some(root) = self.root.take() {
                let _ = root.keep();
            }
        }
    }
}

/// A base directory short enough for a unix socket path (about 100 bytes at most).
fn short_temp_base() -> PathBuf {
    let tmp = std::env::temp_dir();
    if tmp.as_os_str().len() <= 40 {
        tmp
    } else {
        PathBuf::from("/tmp")
    }
}

/// Any free TCP port number. It names the socket file and seeds the shared-memory key, so a
/// unique-ish value avoids key retries; with a TLS listener it is also the TCP port (free
/// when picked; another process could take it before the server binds, and then the start
/// fails with the server log saying so).
fn pick_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

fn os_user_exists(user: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd`; on failure returns its output plus the tail of `log` (the server log).
fn run_checked(cmd: &mut Command, log: Option<&Path>) -> Result<Output, PgError> {
    let line = command_line(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("running `{line}`")))?;
    if out.status.success() {
        return Ok(out);
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if let Some(text) = log.and_then(|p| std::fs::read_to_string(p).ok()) {
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        output.push_str("\nserver log (last lines):\n");
        output.push_str(&tail.join("\n"));
    }
    Err(PgError::Command {
        command: line,
        status: out.status.to_string(),
        output: output.trim_end().to_string(),
    })
}

fn command_line(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn has_server_binaries(dir: &Path) -> bool {
    ["pg_ctl", "initdb", "postgres"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// Finds the directory with the server binaries: `$LOCKSTEP_PG_BINDIR`, then the highest
/// `/usr/lib/postgresql/<version>/bin` (Debian layout), then `pg_ctl` on `PATH` (symlinks
/// resolved: Debian's `/usr/local/bin/pg_ctl`-style links point into the real bin dir), then
/// `pg_config --bindir`.
pub fn find_bin_dir() -> Result<PathBuf, PgError> {
    let mut searched = Vec::new();
    if let Some(dir) = std::env::var_os(BINDIR_ENV) {
        let dir = PathBuf::from(dir);
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
        searched.push(format!("{BINDIR_ENV}={}", dir.display()));
    }

    let debian = Path::new("/usr/lib/postgresql");
    searched.push(format!("{}/*/bin", debian.display()));
    if let Ok(entries) = std::fs::read_dir(debian) {
        let mut best: Option<(Vec<u32>, PathBuf)> = None;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(key) = version_key(&name) else {
                continue;
            };
            let bin = e.path().join("bin");
            if has_server_binaries(&bin) && best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, bin));
            }
        }
        if let Some((_, bin)) = best {
            return Ok(bin);
        }
    }

    searched.push("PATH".into());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pg_ctl");
            if candidate.is_file() {
                let real = std::fs::canonicalize(&candidate).unwrap_or(candidate);
                if let Some(parent) = real.parent()
                    && has_server_binaries(parent)
                {
                    return Ok(parent.to_path_buf());
                }
            }
        }
    }

    searched.push("pg_config --bindir".into());
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
    }

    Err(PgError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|p| p.parse().ok()).collect()
}

/// The major version of the server binaries, from `postgres --version`
/// (`postgres (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)`).
fn binary_major_version(bin_dir: &Path) -> Result<u32, PgError> {
    let out = run_checked(
        Command::new(bin_dir.join("postgres")).arg("--version"),
        None,
    )?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_major_version(&text).ok_or_else(|| PgError::Command {
        command: format!("{} --version", bin_dir.join("postgres").display()),
        status: "unrecognised output".into(),
        output: text.trim().to_string(),
    })
}

/// The major version in a `postgres --version` line: `15` for 15.8, `9` for 9.6.
fn parse_major_version(text: &str) -> Option<u32> {
    let after = text.split(')').nth(1).unwrap_or(text);
    let word = after.split_whitespace().next()?;
    let major = word.split(|c: char| !c.is_ascii_digit()).next()?;
    major.parse().ok()
}

/// Quotes an SQL identifier (`"name"`, doubling embedded quotes).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A path as the inside of a `postgresql.conf` single-quoted string.
fn conf_quote(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('\'', "''")
}

/// Quotes a libpq connection-string value when it needs it.
fn conninfo_quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '\'', '\\']) {
        return v.to_string();
    }
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_version_lines() {
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)\n"),
            Some(15)
        );
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 17beta1"),
            Some(17)
        );
        assert_eq!(parse_major_version("postgres (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(parse_major_version("garbage"), None);
    }

    #[test]
    fn orders_version_directories_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert!(version_key("17") > version_key("15"));
        assert_eq!(version_key("common"), None);
    }

    #[test]
    fn quotes_connection_values() {
        assert_eq!(conninfo_quote("/tmp/x"), "/tmp/x");
        assert_eq!(conninfo_quote("a b"), "'a b'");
        assert_eq!(conninfo_quote("it's"), "'it\\'s'");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    /// Run by `killed_owner_does_not_leak_the_server` in a child process: starts a cluster,
    /// prints where it lives, then waits to be killed.
    #[test]
    #[ignore = "helper process for killed_owner_does_not_leak_the_server"]
    fn cluster_child_process() {
        if std::env::var_os("LOCKSTEP_PG_CHILD").is_none() {
            return;
        }
        let cluster = Cluster::shared().expect("start cluster");
        let pid = std::fs::read_to_string(cluster.data_dir.join("postmaster.pid"))
            .expect("postmaster.pid");
        println!(
            "CLUSTER {} {}",
            cluster.socket_dir().display(),
            pid.lines().next().unwrap_or_default()
        );
        std::thread::sleep(Duration::from_secs(120));
    }

    #[test]
    fn killed_owner_does_not_leak_the_server() {
        use std::io::BufRead;
        if find_bin_dir().is_err() {
            eprintln!("skipped: no PostgreSQL binaries on this machine");
            return;
        }
        let exe = std::env::current_exe().expect("current test binary");
        let mut child = Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                "pg::tests::cluster_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("LOCKSTEP_PG_CHILD", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child test process");
        let stdout = child.stdout.take().expect("child stdout");
        let line = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.split_once("CLUSTER ").map(|(_, rest)| rest.to_string()))
            .expect("child reported its cluster");
        let mut parts = line.split_whitespace();
        let dir = PathBuf::from(parts.next().expect("dir"));
        let postmaster = parts.next().expect("pid").to_string();
        let alive = |pid: &str| Path::new("/proc").join(pid).exists();
        assert!(dir.exists() && alive(&postmaster));

        // SIGKILL: no destructor, no panic handler runs in the child.
        child.kill().expect("kill child");
        child.wait().expect("reap child");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while (dir.exists() || alive(&postmaster)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            !alive(&postmaster),
            "postmaster {postmaster} outlived its owner"
        );
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }

    #[test]
    fn starts_connects_and_cleans_up() {
        let cluster = match Cluster::start() {
            Ok(c) => c,
            Err(PgError::BinariesNotFound { .. }) => {
                eprintln!("skipped: no PostgreSQL binaries on this machine");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert!(cluster.version() >= 11);
        cluster.create_database("it").expect("create database");
        let mut client = cluster.connect("it").expect("connect");
        let row = client
            .query_one(
                "SELECT current_database(), current_setting('TimeZone')",
                &[],
            )
            .expect("query");
        assert_eq!(row.get::<_, String>(0), "it");
        assert_eq!(row.get::<_, String>(1), "UTC");
        drop(client);
        let conn = cluster.conn_string("it");
        assert!(conn.contains("dbname=it"), "{conn}");
        let root = cluster.socket_dir().to_path_buf();
        assert!(root.join(format!(".s.PGSQL.{}", cluster.port())).exists());
        drop(cluster);
        assert!(
            !root.exists(),
            "cluster directory {} left behind",
            root.display()
        );
    }
}
