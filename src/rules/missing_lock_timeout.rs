//! missing-lock-timeout: a lock that blocks reads or writes (SHARE or stronger) requested
//! on an existing table while no lock_timeout is in effect.

use super::support::{join_words, statement_kind};
use super::{Emitter, StatementContext};
use crate::locks::{self, LockMode};

pub struct Rule;

const HELP: &str = "SET lock_timeout = '2s' at the top of the migration (it covers this and \
                    every later statement; retry the migration when it times out); if your \
                    migration runner sets one itself, set assume_lock_timeout: true in \
                    lockstep.yaml";

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/missing-lock-timeout.yaml")
    }

    fn check_statement(&self, cx: &StatementContext, out: &mut Emitter) {
        // Reported once per script: the first unguarded statement gets the finding, and
        // one SET lock_timeout at the top of the migration covers every later one.
        if cx.settings.assume_lock_timeout
            || cx.tx.has_lock_timeout()
            || cx.tx.unguarded_lock.is_some()
        {
            return;
        }
        // Lock facts already leave out tables created in this migration.
        let blocking: Vec<_> = cx
            .locks
            .iter()
            .filter(|f| f.mode >= LockMode::Share)
            .collect();
        let Some(strongest) = blocking.iter().max_by_key(|f| f.mode) else {
            // DROP INDEX / REINDEX / CLUSTER on objects the history does not know still lock
            // a table, just one we cannot name.
            let unnamed = cx
                .statement
                .ops
                .iter()
                .filter_map(|op| locks::unnamed_table_lock(op, cx.catalog, cx.settings.pg_version))
                .filter(|m| *m >= LockMode::Share)
                .max();
            if let Some(mode) = unnamed {
                out.emit(
                    cx.span.clone(),
                    None,
                    format!(
                        "{} requests {mode} on a table the migrations do not create (its                          size is unknown) with no lock_timeout",
                        statement_kind(cx.text())
                    ),
                    Some(format!(
                        "while {mode} waits behind running queries, every later query on                          that table queues behind it"
                    )),
                    Some(HELP.into()),
                );
            }
            return;
        };
        let mode = strongest.mode;
        let tables: Vec<String> = blocking
            .iter()
            .filter(|f| f.mode == mode)
            .map(|f| cx.describe(&f.table))
            .collect();
        let others: Vec<String> = blocking
            .iter()
            .filter(|f| f.mode != mode)
            .map(|f| format!("{} on {}", f.mode, cx.describe(&f.table)))
            .collect();
        let mut message = format!(
            "{} requests {mode} on {} with no lock_timeout",
            statement_kind(cx.text()),
            join_words(&tables)
        );
        if !others.is_empty() {
            message.push_str(&format!(" (and {})", join_words(&others)));
        }
        out.emit(
            cx.span.clone(),
            Some(&strongest.table),
            message,
            Some(format!(
                "while {mode} waits behind running queries on {t}, every later {} on {t} \
                 queues behind it",
                if mode.blocks_reads() {
                    "query (reads included)"
                } else {
                    "INSERT, UPDATE and DELETE"
                },
                t = strongest.table,
            )),
            Some(HELP.into()),
        );
    }
}
