//! Small pieces shared by the lock, rewrite and transaction rules: lock lookups, the
//! "long work" a statement does, and message wording.

use super::StatementContext;
use crate::locks::{LockFact, LockMode};
use crate::ops::{ObjName, Op};

/// The strongest mode the lock facts give for `table`, or `fallback` when the lock model
/// has no fact for it (so a message can still name the documented lock).
pub(super) fn mode_on(locks: &[LockFact], table: &ObjName, fallback: LockMode) -> LockMode {
    locks
        .iter()
        .filter(|f| &f.table == table)
        .map(|f| f.mode)
        .max()
        .unwrap_or(fallback)
}

/// 1-based line of a byte offset in `source`.
pub(super) fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset)
        .map(|s| s.matches('\n').count() + 1)
        .unwrap_or(1)
}

/// "a", "a and b", "a, b and c".
pub(super) fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Who waits while `mode` is held on a table, for labels.
pub(super) fn who_waits(mode: LockMode) -> &'static str {
    if mode.blocks_reads() {
        "every query on it, reads included, waits"
    } else if mode.blocks_writes() {
        "INSERT, UPDATE and DELETE wait"
    } else {
        "other schema changes and VACUUM wait"
    }
}

/// The leading keywords of a statement, for messages: `ALTER TABLE`, `CREATE UNIQUE INDEX`,
/// `UPDATE`. Stops at the first word that is not a statement keyword (an identifier).
pub(super) fn statement_kind(text: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "ALTER",
        "CREATE",
        "DROP",
        "TABLE",
        "INDEX",
        "UNIQUE",
        "MATERIALIZED",
        "VIEW",
        "TRIGGER",
        "TRUNCATE",
        "LOCK",
        "REFRESH",
        "REINDEX",
        "VACUUM",
        "FULL",
        "CLUSTER",
        "UPDATE",
        "DELETE",
        "FROM",
        "INSERT",
        "INTO",
        "TYPE",
        "CONCURRENTLY",
        "OR",
        "REPLACE",
        "CONSTRAINT",
        "ONLY",
    ];
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .take_while(|w| KEYWORDS.contains(&w.as_str()))
        .take(4)
        .collect();
    if words.is_empty() {
        "this statement".into()
    } else {
        words.join(" ")
    }
}

/// A piece of work whose duration grows with a table's size.
pub(super) struct LongWork {
    pub table: ObjName,
    /// "rewrites", "scans", "updates rows of", …
    pub verb: &'static str,
    /// The work runs under a lock that blocks writes (or reads) to the table, or holds
    /// row locks on the rows it changes: a timeout would bound the blocking.
    pub blocks_others: bool,
}

/// The work in a statement that takes time proportional to an existing table's size:
/// rewrites and scans from the lock facts, and data migrations (UPDATE/DELETE without a
/// selective WHERE, INSERT … SELECT). One entry per table, the heaviest verb kept.
pub(super) fn long_work(cx: &StatementContext) -> Vec<LongWork> {
    let mut out: Vec<LongWork> = Vec::new();
    // The verb that says most about the duration wins: a rewrite, then a data change,
    // then a plain scan.
    let weight = |verb: &str| match verb {
        "rewrites" => 3,
        "scans" => 1,
        _ => 2,
    };
    let mut push = |table: &ObjName, verb: &'static str, blocks: bool| {
        if let Some(w) = out.iter_mut().find(|w| &w.table == table) {
            w.blocks_others |= blocks;
            if weight(verb) > weight(w.verb) {
                w.verb = verb;
            }
        } else {
            out.push(LongWork {
                table: table.clone(),
                verb,
                blocks_others: blocks,
            });
        }
    };
    for f in cx.locks {
        if f.rewrite {
            push(&f.table, "rewrites", f.mode.blocks_writes());
        } else if f.scan {
            push(&f.table, "scans", f.mode.blocks_writes());
        }
    }
    for op in &cx.statement.ops {
        let (table, verb) = match op {
            Op::Update {
                table,
                selective: false,
                ..
            } => (table, "updates rows of"),
            Op::Delete {
                table,
                selective: false,
                ..
            } => (table, "deletes rows of"),
            Op::Insert {
                table,
                from_select: true,
                ..
            } => (table, "copies rows into"),
            _ => continue,
        };
        if cx.is_existing(table) {
            push(table, verb, true);
        }
    }
    out
}

/// "rewrites "a" (…) and scans "b" (…) and "c" (…)": the work grouped by verb.
pub(super) fn describe_work(cx: &StatementContext, work: &[LongWork]) -> String {
    let mut verbs: Vec<&'static str> = Vec::new();
    for w in work {
        if !verbs.contains(&w.verb) {
            verbs.push(w.verb);
        }
    }
    let parts: Vec<String> = verbs
        .iter()
        .map(|v| {
            let tables: Vec<String> = work
                .iter()
                .filter(|w| w.verb == *v)
                .map(|w| cx.describe(&w.table))
                .collect();
            format!("{v} {}", join_words(&tables))
        })
        .collect();
    join_words(&parts)
}

/// The statement changes the schema of an existing table (it takes a lock on one, and is
/// not only a data change or an explicit LOCK TABLE).
pub(crate) fn is_schema_change(ops: &[Op], locks: &[LockFact]) -> bool {
    !locks.is_empty()
        && ops.iter().any(|o| {
            !matches!(
                o,
                Op::Update { .. }
                    | Op::Delete { .. }
                    | Op::Insert { .. }
                    | Op::LockTable { .. }
                    | Op::Other { .. }
            )
        })
}

/// The statement changes data of an existing table (UPDATE, DELETE, INSERT … SELECT).
pub(crate) fn is_data_change(
    ops: &[Op],
    created_here: &std::collections::HashSet<ObjName>,
) -> bool {
    ops.iter().any(|o| {
        matches!(
            o,
            Op::Update { .. }
                | Op::Delete { .. }
                | Op::Insert {
                    from_select: true,
                    ..
                }
        ) && o.table().is_some_and(|t| !created_here.contains(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_kinds() {
        assert_eq!(statement_kind("alter table users add x int"), "ALTER TABLE");
        assert_eq!(
            statement_kind("CREATE UNIQUE INDEX i ON t (a)"),
            "CREATE UNIQUE INDEX"
        );
        assert_eq!(statement_kind("update users set a = 1"), "UPDATE");
        assert_eq!(statement_kind("frobnicate"), "this statement");
    }

    #[test]
    fn words() {
        assert_eq!(join_words(&["a".into()]), "a");
        assert_eq!(
            join_words(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }

    #[test]
    fn lines() {
        assert_eq!(line_of("a;\nb;\nc", 6), 3);
        assert_eq!(line_of("a;\nb;\nc", 5), 2);
        assert_eq!(line_of("a", 99), 1);
    }
}
