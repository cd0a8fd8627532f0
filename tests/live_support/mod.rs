//! Shared helpers for the live-database tests: a database per test on the process-wide
//! scratch cluster, migration folders in temp dirs, and a checksum of schema and data.
#![allow(dead_code)]

use lockstep::live::connect::Db;
use lockstep::pg::{Cluster, PgError};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shared cluster, or `None` (test skipped) when no PostgreSQL binaries are installed.
pub fn cluster() -> Option<&'static Cluster> {
    match Cluster::shared() {
        Ok(c) => Some(c),
        Err(PgError::SharedUnavailable(msg)) if msg.contains("no PostgreSQL server binaries") => {
            eprintln!("skipped: {msg}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A fresh database with a unique name.
pub fn database(cluster: &Cluster, prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    cluster.create_database(&name).expect("create database");
    name
}

/// A counting connection to `db`.
pub fn db(cluster: &Cluster, name: &str) -> Db {
    Db::from_client(
        cluster.connect(name).expect("connect"),
        format!("test database {name}"),
    )
}

/// Writes `files` (relative path → contents) under `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
    }
}

/// An md5 over the user schema (relations, their files, columns, constraints, indexes)
/// and the contents of every user table: equal before and after means nothing changed.
pub fn checksum(client: &mut postgres::Client) -> String {
    let catalog: String = client
        .query_one(
            r#"
WITH rels AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
)
SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
  SELECT format('rel %s %s %s %s %s %s', n.nspname, c.relname, c.relkind, c.relfilenode, c.relnatts, c.relhasindex) AS x
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT format('att %s %s %s %s %s %s', a.attrelid::regclass, a.attnum, a.attname, a.atttypid, a.attnotnull, a.attisdropped)
    FROM pg_attribute a WHERE a.attrelid IN (SELECT oid FROM rels) AND a.attnum > 0
  UNION ALL
  SELECT format('con %s %s %s %s', conrelid::regclass, conname, contype, convalidated)
    FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT format('idx %s %s %s', indexrelid::regclass, indrelid::regclass, indisvalid)
    FROM pg_index WHERE indrelid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT format('def %s %s %s', adrelid::regclass, adnum, pg_get_expr(adbin, adrelid))
    FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM rels)
) s"#,
            &[],
        )
        .expect("catalog checksum")
        .get(0);
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut all = catalog;
    for t in tables {
        let h: String = client
            .query_one(
                &format!("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {t} t"),
                &[],
            )
            .expect("data checksum")
            .get(0);
        all.push_str(&format!(" {t}={h}"));
    }
    all
}
