//! The throwaway trace target: a local cluster started from the system's PostgreSQL
//! binaries ([`crate::pg::Cluster`]) with the already-applied migrations replayed into it,
//! so `lockstep dry-run --scratch` traces real locks without touching any real server.
//!
//! The history and the trace run as [`SCRATCH_ROLE`], an ordinary role that owns the
//! scratch database, not as the superuser: a migration that runs `COPY … TO PROGRAM`,
//! reads server files or creates replication slots fails there as it would for an
//! application role, instead of acting on this machine as the server's OS user.
//! `--scratch-superuser` asks for the superuser (untrusted extensions need it).

use super::LiveError;
use super::connect::Db;
use crate::ops::Op;
use crate::parse;
use crate::pg::Cluster;
use crate::source::Migration;

/// The role that owns the scratch database and runs the migrations on it by default.
pub const SCRATCH_ROLE: &str = "lockstep_migrator";

/// A scratch cluster holding the replayed history.
pub struct Scratch {
    /// Keeps the server alive; dropping it stops the server and removes its files.
    pub cluster: Cluster,
    /// A connection to the replayed database.
    pub db: Db,
    /// Statements of the history that failed to replay (extensions, roles, templates …).
    pub replay_failures: Vec<String>,
    /// Statements replayed successfully.
    pub replayed: usize,
    /// The role the history was replayed (and the trace runs) as.
    pub role: String,
}

/// Starts a cluster and replays `applied` (in order), one statement at a time in
/// autocommit, so statements that refuse transaction blocks (CONCURRENTLY) replay too.
/// A failing statement is recorded and the replay goes on: the trace is still useful when
/// part of the history needs something the scratch cluster lacks.
pub fn start(applied: &[Migration]) -> Result<Scratch, LiveError> {
    start_as(applied, false)
}

/// Like [`start`]; with `superuser`, the history and the trace run as the cluster's
/// superuser instead of [`SCRATCH_ROLE`].
pub fn start_as(applied: &[Migration], superuser: bool) -> Result<Scratch, LiveError> {
    let err = |e: &dyn std::fmt::Display| LiveError::Scratch(e.to_string());
    let cluster = Cluster::start().map_err(|e| err(&e))?;
    let name = "lockstep_scratch";
    let (client, role) = if superuser {
        cluster.create_database(name).map_err(|e| err(&e))?;
        let client = cluster.connect(name).map_err(|e| err(&e))?;
        (client, crate::pg::SUPERUSER.to_string())
    } else {
        let mut admin = cluster.connect("postgres").map_err(|e| err(&e))?;
        // Separate messages: CREATE DATABASE refuses to run in a multi-command string.
        admin
            .batch_execute(&format!(
                "CREATE ROLE {SCRATCH_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE \
                 NOREPLICATION NOBYPASSRLS"
            ))
            .map_err(|e| err(&format!("creating the scratch role: {e}")))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {SCRATCH_ROLE}"))
            .map_err(|e| err(&format!("creating the scratch database: {e}")))?;
        drop(admin);
        let client = postgres::Config::new()
            .host_path(cluster.socket_dir())
            .port(cluster.port())
            .user(SCRATCH_ROLE)
            .dbname(name)
            .application_name("lockstep")
            .connect_timeout(std::time::Duration::from_secs(10))
            .connect(postgres::NoTls)
            .map_err(|e| err(&format!("connecting as {SCRATCH_ROLE}: {e}")))?;
        (client, format!("{SCRATCH_ROLE} (not a superuser)"))
    };
    let mut db = Db::from_client(client, "scratch cluster (replayed history)");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for m in applied {
        for st in parse::parse_script(&m.up) {
            if st
                .ops
                .iter()
                .any(|o| matches!(o, Op::Begin | Op::Commit | Op::Rollback))
            {
                continue;
            }
            let Some(sql) = m.up.source.get(st.span.clone()) else {
                continue;
            };
            match db.batch_raw(sql) {
                Ok(()) => replayed += 1,
                Err(e) => failures.push(format!(
                    "{} line {}: {}",
                    m.id,
                    super::trace::line_of(&m.up.source, st.span.start),
                    super::connect::error_text(&e)
                )),
            }
        }
    }
    Ok(Scratch {
        cluster,
        db,
        replay_failures: failures,
        replayed,
        role,
    })
}
