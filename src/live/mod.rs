//! The live database: connecting ([`connect`]), table statistics in a constant number of
//! queries ([`stats`]), the frameworks' history tables ([`history`]) and their stored
//! checksums ([`checksums`]), schema drift
//! ([`drift`]), `lockstep dry-run` ([`dry_run`]), the rolled-back lock trace ([`trace`]) and
//! its throwaway-cluster target ([`scratch`]), and `lockstep backfill run`
//! ([`backfill_runner`]).
//!
//! Safety rules every part keeps: reads happen in a `READ ONLY` transaction with a short
//! `statement_timeout`; the trace always ends in `ROLLBACK` and never holds a lock that
//! blocks writes for longer than its budget; passwords are never printed.

pub mod backfill_runner;
pub mod capture;
pub mod checksums;
pub mod connect;
pub mod drift;
pub mod dry_run;
pub mod effects;
pub mod history;
pub mod scratch;
pub mod stats;
pub mod trace;

/// Errors talking to a live database. All map to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The connection string or a `PG*` variable is malformed.
    #[error("bad connection string: {0}")]
    BadConnString(String),
    /// TLS could not be set up (root certificates, configuration).
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The server could not be reached or refused us.
    #[error("could not connect to {target}: {message}")]
    Connect {
        /// The redacted target URL.
        target: String,
        /// host=… port=… user=… sslmode=…
        hint: String,
        /// The driver's message, redacted.
        message: String,
    },
    /// A query failed.
    #[error("{what}: {message}")]
    Query {
        /// What the query was for.
        what: String,
        /// The server's or driver's message.
        message: String,
        /// SQLSTATE, when the server sent one.
        code: Option<String>,
    },
    /// The history table has an unknown shape.
    #[error("{0}")]
    History(String),
    /// The scratch cluster could not be started or prepared.
    #[error("scratch cluster: {0}")]
    Scratch(String),
    /// A backfill plan or job is invalid.
    #[error("{0}")]
    Backfill(String),
}

impl LiveError {
    /// A failed query, with the server's message (passwords redacted).
    pub fn query(what: &str, e: &postgres::Error) -> LiveError {
        LiveError::Query {
            what: what.to_string(),
            message: connect::redact(&connect::error_text(e)),
            code: e.code().map(|c| c.code().to_string()),
        }
    }

    /// What to tell the user next, if anything.
    pub fn help(&self) -> Option<String> {
        match self {
            LiveError::Connect { hint, .. } => Some(format!(
                "check the connection settings: {hint} (set by --database-url, DATABASE_URL or \
                 the PGHOST/PGPORT/PGUSER/PGDATABASE/PGSSLMODE variables)"
            )),
            LiveError::Scratch(_) => Some(
                "--scratch needs the PostgreSQL server binaries (apt-get install postgresql)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Bytes per second written as `100MB` (per second): the default rewrite/scan throughput
/// used for duration estimates. Deliberately modest: a rewrite also writes WAL and rebuilds
/// every index.
pub const DEFAULT_THROUGHPUT: u64 = 100 * 1024 * 1024;
