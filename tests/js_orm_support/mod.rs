//! Differential harness for the Node ORM front ends: run the framework's own migrate
//! command against a throwaway cluster that logs every statement, split the log into
//! migrations at the history-table writes, and compare the operations the SQL path reads
//! from what was sent with the operations the static front end reads from the files.
#![allow(dead_code)]

use lockstep::live::capture::{Logged, parse_log, split_migrations};
use lockstep::ops::Op;
use lockstep::parse::{parse_script, parse_sql};
use lockstep::pg::Cluster;
use lockstep::source::{Layout, load};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixture project of a framework (`tests/fixtures/<name>`), with its npm packages
/// installed (`.ci/run` runs `npm install` there).
pub fn fixture(name: &str, package: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    assert!(
        dir.join("node_modules").join(package).is_dir(),
        "{}: node_modules/{package} is missing: run `npm install` there (.ci/run does)",
        dir.display()
    );
    dir
}

/// Runs `args` (a node command) in `dir` against a fresh database of a new cluster that
/// logs every statement; returns the logged statements and the command's output.
pub fn run_logged(dir: &Path, args: &[&str]) -> (Cluster, Vec<Logged>, String) {
    let cluster = Cluster::start().expect("start a scratch cluster");
    let db = "migrated";
    cluster.create_database(db).expect("create database");
    let mut client = cluster.connect("postgres").expect("connect");
    client
        .batch_execute(&format!("ALTER DATABASE {db} SET log_statement = 'all'"))
        .expect("log_statement");
    let log_path = cluster.socket_dir().join("server.log");
    let before = std::fs::read_to_string(&log_path).unwrap_or_default().len();
    let output = Command::new("node")
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("PGHOST", cluster.socket_dir())
        .env("PGPORT", cluster.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", db)
        .output()
        .expect("run node");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "node {args:?} failed:\n{out}");
    // The server writes its log asynchronously to the command's exit: give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = std::fs::read_to_string(&log_path).expect("read server log");
    let logged = parse_log(&log[before.min(log.len())..]);
    (cluster, logged, out)
}

/// Whether an op is part of the comparison: schema and data changes, not transaction
/// control, session settings, reads or the framework's own bookkeeping tables.
fn compared(op: &Op, bookkeeping: &[&str]) -> bool {
    if matches!(
        op,
        Op::Begin
            | Op::Commit
            | Op::Rollback
            | Op::Set { .. }
            | Op::SetTimeout { .. }
            | Op::Other { .. }
    ) {
        return false;
    }
    !op.table()
        .is_some_and(|t| bookkeeping.iter().any(|b| t.name == *b))
}

/// The ops of the SQL the framework sent, per migration.
pub fn sent_ops(logged: &[Logged], history: &str, bookkeeping: &[&str]) -> Vec<Vec<Op>> {
    let (migrations, _rest) = split_migrations(logged, &[history]);
    migrations
        .iter()
        .map(|statements| {
            statements
                .iter()
                .flat_map(|s| parse_sql(&s.sql))
                .flat_map(|s| s.ops)
                .filter(|op| compared(op, bookkeeping))
                .collect()
        })
        .collect()
}

/// The ops the static front end reads, per migration (up scripts), with their ids.
pub fn read_ops(folder: &Path, layout: Layout, bookkeeping: &[&str]) -> Vec<(String, Vec<Op>)> {
    let loaded = load(&[folder.to_path_buf()], Some(layout), &[]).expect("load the fixture folder");
    loaded
        .migrations
        .iter()
        .map(|m| {
            let ops = parse_script(&m.up)
                .into_iter()
                .flat_map(|s| s.ops)
                .filter(|op| compared(op, bookkeeping))
                .collect();
            (m.id.clone(), ops)
        })
        .collect()
}

/// Compares per migration; panics with every difference.
pub fn assert_same(read: &[(String, Vec<Op>)], sent: &[Vec<Op>], min: usize) {
    assert!(read.len() >= min, "only {} migrations read", read.len());
    assert_eq!(
        read.len(),
        sent.len(),
        "the framework recorded {} migrations, the front end read {}",
        sent.len(),
        read.len()
    );
    let mut diffs = Vec::new();
    for ((id, ops), sent) in read.iter().zip(sent) {
        if ops.iter().any(|op| matches!(op, Op::NotAnalysed { .. })) {
            diffs.push(format!("{id}: not analysed: {ops:?}"));
        } else if ops != sent {
            diffs.push(format!("{id}:\n  read: {ops:?}\n  sent: {sent:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} migration(s) differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
