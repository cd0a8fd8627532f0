//! The throwaway trace target: a local cluster started from the system's PostgreSQL
//! binaries ([`crate::pg::Cluster`]) with the already-applied migrations replayed into it,
//! so `lockstep dry-run --scratch` traces real locks without touching any real server.

use super::LiveError;
use super::connect::Db;
use crate::ops::Op;
use crate::parse;
use crate::pg::Cluster;
use crate::source::Migration;

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
}

/// Starts a cluster and replays `applied` (in order), one statement at a time in
/// autocommit, so statements that refuse transaction blocks (CONCURRENTLY) replay too.
/// A failing statement is recorded and the replay goes on: the trace is still useful when
/// part of the history needs something the scratch cluster lacks.
pub fn start(applied: &[Migration]) -> Result<Scratch, LiveError> {
    let cluster = Cluster::start().map_err(|e| LiveError::Scratch(e.to_string()))?;
    let name = "lockstep_scratch";
    cluster
        .create_database(name)
        .map_err(|e| LiveError::Scratch(e.to_string()))?;
    let client = cluster
        .connect(name)
        .map_err(|e| LiveError::Scratch(e.to_string()))?;
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
    })
}
