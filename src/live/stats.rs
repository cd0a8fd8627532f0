//! Table statistics in a constant number of queries: every table name goes to the server
//! as one array parameter, never one query per table (this tool warns about N+1 queries
//! and must not commit one).

use super::LiveError;
use super::connect::Db;
use crate::ops::ObjName;
use crate::pg::quote_ident;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the server knows about one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableStats {
    pub table: ObjName,
    /// The relation exists.
    pub exists: bool,
    /// `pg_class.relkind` (`r` table, `p` partitioned, `m` materialized view, `v` view, …).
    pub relkind: Option<String>,
    /// `reltuples`; `None` when the table was never analysed (`-1`).
    pub estimated_rows: Option<u64>,
    /// Exact `count(*)`, only with `--exact-counts`.
    pub exact_rows: Option<u64>,
    /// `pg_total_relation_size` (heap, indexes, TOAST); for a partitioned table the sum of
    /// its partitions.
    pub total_bytes: Option<u64>,
    pub live_tuples: Option<i64>,
    pub dead_tuples: Option<i64>,
    /// Last manual or automatic ANALYZE, as text (`2024-03-02 10:15:00+00`).
    pub last_analyze: Option<String>,
    /// Columns, in order (used to find drift).
    pub columns: Vec<String>,
}

impl TableStats {
    /// The best row count known: exact, else the estimate.
    pub fn rows(&self) -> Option<u64> {
        self.exact_rows.or(self.estimated_rows)
    }
}

/// One query for all `tables`: existence, kind, reltuples, sizes, pg_stat counters, columns.
const STATS_SQL: &str = r#"
SELECT w.ord::int4,
       c.oid IS NOT NULL AS exists,
       c.relkind::text,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT CASE WHEN bool_and(pc.reltuples >= 0) THEN sum(pc.reltuples)::float8 ELSE -1 END
                 FROM pg_partition_tree(c.oid) t JOIN pg_class pc ON pc.oid = t.relid
                WHERE t.isleaf)
            ELSE c.reltuples::float8 END AS reltuples,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT sum(pg_total_relation_size(t.relid))::int8 FROM pg_partition_tree(c.oid) t)
            WHEN c.oid IS NOT NULL THEN pg_total_relation_size(c.oid)::int8 END AS bytes,
       pg_stat_get_live_tuples(c.oid)::int8,
       pg_stat_get_dead_tuples(c.oid)::int8,
       to_char(GREATEST(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid))
               AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS analysed,
       (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(nspname, relname, ord)
  LEFT JOIN pg_namespace n ON n.nspname = w.nspname
  LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.relname
                      AND c.relkind IN ('r', 'p', 'm', 'v', 'f')
 ORDER BY w.ord
"#;

/// Fetches stats for `tables` in one query (two with `exact_counts`: all counts in one
/// `UNION ALL` statement).
pub fn fetch(
    db: &mut Db,
    tables: &[ObjName],
    exact_counts: bool,
) -> Result<BTreeMap<ObjName, TableStats>, LiveError> {
    let mut out = BTreeMap::new();
    if tables.is_empty() {
        return Ok(out);
    }
    let schemas: Vec<&str> = tables.iter().map(|t| t.schema.as_str()).collect();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let rows = db.query("reading table statistics", STATS_SQL, &[&schemas, &names])?;
    for row in rows {
        let ord: i32 = row.get(0);
        let Some(table) = usize::try_from(ord - 1).ok().and_then(|i| tables.get(i)) else {
            continue;
        };
        let reltuples: Option<f64> = row.get(3);
        let bytes: Option<i64> = row.get(4);
        out.insert(
            table.clone(),
            TableStats {
                table: table.clone(),
                exists: row.get(1),
                relkind: row.get(2),
                estimated_rows: reltuples.filter(|r| *r >= 0.0).map(|r| r.round() as u64),
                exact_rows: None,
                total_bytes: bytes.and_then(|b| u64::try_from(b).ok()),
                live_tuples: row.get(5),
                dead_tuples: row.get(6),
                last_analyze: row.get(7),
                columns: row.get::<_, Option<Vec<String>>>(8).unwrap_or_default(),
            },
        );
    }
    if exact_counts {
        let countable: Vec<&ObjName> = out
            .values()
            .filter(|s| s.exists && matches!(s.relkind.as_deref(), Some("r" | "p" | "m")))
            .map(|s| &s.table)
            .collect();
        if !countable.is_empty() {
            let sql = countable
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    format!(
                        "SELECT {i}::int4, count(*)::int8 FROM {}.{}",
                        quote_ident(&t.schema),
                        quote_ident(&t.name)
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let rows = db.query("counting rows (--exact-counts)", &sql, &[])?;
            let names: Vec<ObjName> = countable.into_iter().cloned().collect();
            for row in rows {
                let i: i32 = row.get(0);
                let n: i64 = row.get(1);
                if let Some(s) = usize::try_from(i)
                    .ok()
                    .and_then(|i| names.get(i))
                    .and_then(|t| out.get_mut(t))
                {
                    s.exact_rows = u64::try_from(n).ok();
                }
            }
        }
    }
    Ok(out)
}

/// Every ordinary or partitioned table outside the system schemas (one query), to compare
/// with what the migrations created.
pub fn all_tables(db: &mut Db) -> Result<Vec<ObjName>, LiveError> {
    let rows = db.query(
        "listing the database's tables",
        "SELECT n.nspname::text, c.relname::text FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
            AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
          ORDER BY 1, 2",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| ObjName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
}
