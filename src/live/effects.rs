//! What a statement may do that a `ROLLBACK` does not undo, read from its text.
//!
//! The trace promises that the database is as it was when it ends. That holds for
//! everything PostgreSQL does transactionally, and not for a known set of things: shell
//! commands and server files, connections to other servers, signals to other sessions,
//! replication slots, sequence values, planner statistics, and objects shared by the whole
//! cluster. A statement that may do one of those is not traced unless the user allows its
//! category (`--trace-allow`); a statement that ends or escapes the trace's transaction is
//! never traced.
//!
//! The classification reads sqlparser's tokens (so quotes, dollar quotes and comments are
//! understood), falling back to a plain word scan when the text does not tokenize. It is
//! conservative: a dangerous function's name anywhere counts, also inside string literals,
//! because a DO block, `EXECUTE '…'` or `query_to_xml('…')` runs what is in a string. The
//! one place names are not counted is the body of `CREATE FUNCTION` / `CREATE PROCEDURE`,
//! which is stored, not run; calling such a function later is checked against its body on
//! the server by the trace. A text scan cannot see through SQL built at run time, which is
//! why the trace also bounds unknown code with its block budget, checks after every
//! statement that it still owns its transaction, and why the scratch cluster runs the
//! migrations without superuser rights.

use serde::Serialize;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeSet;
use std::fmt;

/// A kind of effect outside the transaction, one `--trace-allow` value each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// `COPY … TO/FROM PROGRAM`: a shell command as the server's OS user.
    Program,
    /// Reading or writing files on the database server (`COPY` to/from a file,
    /// `pg_read_file`, `pg_ls_dir`, `lo_import`, …).
    ServerFiles,
    /// Connections to other servers (`dblink`, foreign servers, `IMPORT FOREIGN SCHEMA`).
    Remote,
    /// Signals and administration (`pg_terminate_backend`, `pg_reload_conf`, `ALTER SYSTEM`,
    /// `LOAD`, `CHECKPOINT`, …).
    Admin,
    /// Replication slots, origins and subscriptions.
    Replication,
    /// Sequence values (`nextval`, `setval`): PostgreSQL never rolls them back.
    Sequences,
    /// `ANALYZE` / `VACUUM`: statistics and counters are written outside the transaction.
    Statistics,
    /// Databases, tablespaces and roles: objects shared by every database of the server.
    Cluster,
    /// `CREATE EXTENSION` / `ALTER EXTENSION` of an extension the server does not mark as
    /// trusted (its script runs with superuser rights).
    Extension,
}

impl Effect {
    /// The `--trace-allow` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Program => "program",
            Effect::ServerFiles => "server-files",
            Effect::Remote => "remote",
            Effect::Admin => "admin",
            Effect::Replication => "replication",
            Effect::Sequences => "sequences",
            Effect::Statistics => "statistics",
            Effect::Cluster => "cluster",
            Effect::Extension => "extension",
        }
    }

    /// Why a rollback does not undo it.
    pub fn why(self) -> &'static str {
        match self {
            Effect::Program => "runs a shell command on the database server",
            Effect::ServerFiles => "reads or writes files on the database server",
            Effect::Remote => "connects to another server",
            Effect::Admin => "signals other sessions or changes the server's state",
            Effect::Replication => {
                "creates or consumes replication state, which is not transactional"
            }
            Effect::Sequences => "moves a sequence, which no rollback resets",
            Effect::Statistics => "writes statistics and counters that no rollback resets",
            Effect::Cluster => "acts on objects shared by every database of the server",
            Effect::Extension => {
                "installs or updates an extension whose script runs with superuser rights"
            }
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One reason not to trace a statement: the effect and the word that showed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub effect: Effect,
    /// The function or statement that has the effect, e.g. `pg_read_file` or `COPY … PROGRAM`.
    pub what: String,
}

impl Finding {
    /// "server-files: pg_read_file reads or writes files on the database server".
    pub fn describe(&self) -> String {
        format!("{}: {} {}", self.effect, self.what, self.effect.why())
    }
}

/// What the text of one statement says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    /// Set when the statement controls transactions (it would end or leave the trace's
    /// transaction): the reason.
    pub transaction_control: Option<String>,
    /// Effects outside the transaction.
    pub effects: BTreeSet<Finding>,
    /// A DO block: code that runs now and that the scan can only partly see.
    pub runs_code: bool,
    /// Names followed by `(` (candidate function calls), lower-cased unless quoted. The trace
    /// asks the server which of them are functions outside `pg_catalog`.
    pub calls: BTreeSet<String>,
    /// `CREATE EXTENSION` / `ALTER EXTENSION … UPDATE`: the extension's name, to be checked
    /// against the server's `trusted` flag.
    pub extension: Option<String>,
    /// Inserts or adds a serial/identity column: sequences move although nothing calls
    /// `nextval` by name.
    pub implicit_sequences: bool,
}

/// Function names with an effect outside the transaction (lower case).
fn function_effect(name: &str) -> Option<Effect> {
    let e = match name {
        "pg_read_file"
        | "pg_read_binary_file"
        | "pg_ls_dir"
        | "pg_stat_file"
        | "pg_ls_logdir"
        | "pg_ls_waldir"
        | "pg_ls_tmpdir"
        | "pg_ls_archive_statusdir"
        | "pg_ls_logicalsnapdir"
        | "pg_ls_logicalmapdir"
        | "pg_ls_replslotdir"
        | "lo_import"
        | "lo_export"
        | "pg_file_write"
        | "pg_file_rename"
        | "pg_file_unlink"
        | "pg_file_sync"
        | "pg_logdir_ls"
        | "pg_file_read"
        | "pg_file_length" => Effect::ServerFiles,
        "pg_terminate_backend"
        | "pg_cancel_backend"
        | "pg_reload_conf"
        | "pg_rotate_logfile"
        | "pg_switch_wal"
        | "pg_switch_xlog"
        | "pg_promote"
        | "pg_create_restore_point"
        | "pg_start_backup"
        | "pg_stop_backup"
        | "pg_backup_start"
        | "pg_backup_stop"
        | "pg_wal_replay_pause"
        | "pg_wal_replay_resume"
        | "pg_xlog_replay_pause"
        | "pg_xlog_replay_resume"
        | "pg_log_backend_memory_contexts"
        | "pg_signal_backend"
        | "pg_checkpoint" => Effect::Admin,
        "pg_create_physical_replication_slot"
        | "pg_create_logical_replication_slot"
        | "pg_drop_replication_slot"
        | "pg_copy_physical_replication_slot"
        | "pg_copy_logical_replication_slot"
        | "pg_replication_slot_advance"
        | "pg_logical_slot_get_changes"
        | "pg_logical_slot_get_binary_changes"
        | "pg_logical_emit_message" => Effect::Replication,
        "nextval" | "setval" => Effect::Sequences,
        _ if name.starts_with("dblink") || name.starts_with("postgres_fdw") => Effect::Remote,
        _ if name.starts_with("pg_replication_origin_") => Effect::Replication,
        _ if name.starts_with("pg_stat_reset") => Effect::Statistics,
        _ => return None,
    };
    Some(e)
}

/// A significant token, simplified.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted word, upper-cased.
    Word(String),
    /// A quoted identifier, as written inside the quotes.
    Quoted(String),
    /// A string literal's contents (any quoting).
    Str(String),
    LParen,
    Period,
    Other,
}

fn tokens(sql: &str) -> Option<Vec<Tok>> {
    let dialect = PostgreSqlDialect {};
    let raw = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    let mut out = Vec::with_capacity(raw.len());
    for t in raw {
        out.push(match t {
            Token::Whitespace(_) => continue,
            Token::Word(w) => match w.quote_style {
                Some(_) => Tok::Quoted(w.value),
                None => Tok::Word(w.value.to_ascii_uppercase()),
            },
            Token::SingleQuotedString(s)
            | Token::EscapedStringLiteral(s)
            | Token::NationalStringLiteral(s)
            | Token::UnicodeStringLiteral(s)
            | Token::TripleSingleQuotedString(s)
            | Token::SingleQuotedByteStringLiteral(s) => Tok::Str(s),
            Token::DollarQuotedString(d) => Tok::Str(d.value),
            Token::LParen => Tok::LParen,
            Token::Period => Tok::Period,
            _ => Tok::Other,
        });
    }
    Some(out)
}

/// Words of `sql` when it does not tokenize: runs of identifier characters, upper-cased.
fn plain_words(sql: &str) -> Vec<Tok> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(|w| Tok::Word(w.to_ascii_uppercase()))
        .collect()
}

fn word(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    }
}

/// The first words of the statement (up to `n`), for statement-kind checks.
fn lead(toks: &[Tok], n: usize) -> Vec<&str> {
    toks.iter()
        .take(n)
        .map(|t| match t {
            Tok::Word(w) => w.as_str(),
            _ => "",
        })
        .collect()
}

/// Why a statement beginning with these words controls transactions, if it does.
fn transaction_control(l: &[&str]) -> Option<String> {
    let first = *l.first()?;
    let second = l.get(1).copied().unwrap_or("");
    let why = match first {
        "BEGIN" | "START" => "starts a transaction",
        "COMMIT" | "END" if second == "PREPARED" => "commits a prepared transaction",
        "COMMIT" | "END" => "commits the transaction",
        "ROLLBACK" | "ABORT" if second == "PREPARED" => "rolls back a prepared transaction",
        "ROLLBACK" if second == "TO" => "rolls back to a savepoint",
        "ROLLBACK" | "ABORT" => "rolls back the transaction",
        "PREPARE" if second == "TRANSACTION" => {
            "prepares the transaction for two-phase commit, which would outlive the trace"
        }
        "SAVEPOINT" => "sets a savepoint",
        "RELEASE" => "releases a savepoint",
        "SET" if second == "TRANSACTION" => "sets the transaction's characteristics",
        "SET" if second == "SESSION" && l.get(2) == Some(&"CHARACTERISTICS") => {
            "sets the session's transaction characteristics"
        }
        "CALL" => {
            "calls a procedure, which may manage transactions and whose body the trace cannot see"
        }
        _ => return None,
    };
    Some(format!("transaction control: {why}"))
}

/// Classifies one statement's text.
pub fn classify(sql: &str) -> Classification {
    let toks = tokens(sql).unwrap_or_else(|| plain_words(sql));
    let mut c = Classification::default();
    let l = lead(&toks, 4);
    c.transaction_control = transaction_control(&l);
    let at = |i: usize| l.get(i).copied().unwrap_or("");
    let is_routine = at(0) == "CREATE"
        && (matches!(at(1), "FUNCTION" | "PROCEDURE")
            || (at(1) == "OR" && at(2) == "REPLACE" && matches!(at(3), "FUNCTION" | "PROCEDURE")));
    // Statements that store expressions instead of running them: a `nextval` in a column
    // default runs later, for rows this statement does not insert.
    let stores_only = is_routine
        || (at(0) == "CREATE"
            && matches!(at(1), "TABLE" | "SEQUENCE" | "VIEW" | "TRIGGER" | "POLICY" | "RULE")
            && !toks.iter().any(|t| word(Some(t)) == Some("AS")))
        || (at(0) == "COMMENT")
        // `ALTER TABLE … ALTER COLUMN … SET DEFAULT nextval(…)` (pg_dump writes one per
        // serial column) stores the default; only an added column fills existing rows.
        || (at(0) == "ALTER"
            && at(1) == "TABLE"
            && !toks.iter().any(|t| word(Some(t)) == Some("ADD")));
    c.runs_code = at(0) == "DO";
    statement_effects(&toks, &l, &mut c);
    scan(&toks, is_routine, stores_only, 0, &mut c);
    c
}

/// Effects given by the statement's kind.
fn statement_effects(toks: &[Tok], l: &[&str], c: &mut Classification) {
    let at = |i: usize| l.get(i).copied().unwrap_or("");
    let mut add = |effect: Effect, what: &str| {
        c.effects.insert(Finding {
            effect,
            what: what.to_string(),
        });
    };
    match at(0) {
        "COPY" => {
            // After TO/FROM: PROGRAM, STDIN/STDOUT (the client's data) or a file name.
            let dir = toks
                .iter()
                .position(|t| matches!(word(Some(t)), Some("TO" | "FROM")));
            if let Some(i) = dir {
                match toks.get(i + 1) {
                    Some(Tok::Word(w)) if w == "PROGRAM" => add(Effect::Program, "COPY … PROGRAM"),
                    Some(Tok::Word(w)) if w == "STDIN" || w == "STDOUT" => {}
                    _ => add(Effect::ServerFiles, "COPY to or from a server file"),
                }
            }
            if toks.iter().any(|t| word(Some(t)) == Some("PROGRAM")) {
                add(Effect::Program, "COPY … PROGRAM");
            }
        }
        "ANALYZE" | "ANALYSE" | "VACUUM" => add(Effect::Statistics, at(0)),
        "CHECKPOINT" | "LOAD" => add(Effect::Admin, at(0)),
        "ALTER" if at(1) == "SYSTEM" => add(Effect::Admin, "ALTER SYSTEM"),
        "IMPORT" => add(Effect::Remote, "IMPORT FOREIGN SCHEMA"),
        "CREATE" | "ALTER" | "DROP" => {
            let mut i = 1;
            if at(1) == "OR" && at(2) == "REPLACE" {
                i = 3;
            }
            let kind = at(i);
            let what = format!("{} {kind}", at(0));
            match kind {
                "SERVER" | "FOREIGN" if kind == "SERVER" || at(i + 1) == "DATA" => {
                    add(Effect::Remote, &what)
                }
                "USER" if at(i + 1) == "MAPPING" => add(Effect::Remote, "USER MAPPING"),
                "SUBSCRIPTION" => add(Effect::Replication, &what),
                "DATABASE" | "TABLESPACE" | "ROLE" | "USER" | "GROUP" => {
                    add(Effect::Cluster, &what)
                }
                "EXTENSION" if at(0) != "DROP" => {
                    c.extension = toks
                        .iter()
                        .skip(i + 1)
                        .find(|t| !matches!(word(Some(t)), Some("IF" | "NOT" | "EXISTS")))
                        .and_then(|t| match t {
                            Tok::Word(w) => Some(w.to_ascii_lowercase()),
                            Tok::Quoted(q) => Some(q.clone()),
                            _ => None,
                        });
                }
                // ADD COLUMN … serial / GENERATED … AS IDENTITY fills existing rows from a
                // new sequence.
                "TABLE"
                    if at(0) == "ALTER"
                        && toks.iter().any(|t| {
                            matches!(
                                word(Some(t)),
                                Some(
                                    "SERIAL"
                                        | "BIGSERIAL"
                                        | "SMALLSERIAL"
                                        | "SERIAL4"
                                        | "SERIAL8"
                                        | "SERIAL2"
                                        | "IDENTITY"
                                )
                            )
                        }) =>
                {
                    c.implicit_sequences = true;
                }
                _ => {}
            }
        }
        "INSERT" | "MERGE" => c.implicit_sequences = true,
        _ => {}
    }
}

/// Looks for dangerous function names in `toks`; string literals are scanned as SQL too
/// (up to a few levels), except inside a routine body.
fn scan(toks: &[Tok], is_routine: bool, stores_only: bool, depth: usize, c: &mut Classification) {
    for (i, t) in toks.iter().enumerate() {
        let name = match t {
            Tok::Word(w) => Some(w.to_ascii_lowercase()),
            Tok::Quoted(q) => Some(q.clone()),
            Tok::Str(s) => {
                if !is_routine && depth < 4 {
                    let inner = tokens(s).unwrap_or_else(|| plain_words(s));
                    scan(&inner, false, false, depth + 1, c);
                    statement_effects_nested(&inner, c);
                }
                None
            }
            _ => None,
        };
        let Some(name) = name else { continue };
        if is_routine {
            // The body is a string; names outside it are the signature and options.
            continue;
        }
        if let Some(effect) = function_effect(&name)
            && !(stores_only && effect == Effect::Sequences)
        {
            c.effects.insert(Finding {
                effect,
                what: name.clone(),
            });
        }
        // Calls inside DO bodies and EXECUTE strings count as calls too; a stored
        // expression (a column default) is not called by this statement.
        if !stores_only && matches!(toks.get(i + 1), Some(Tok::LParen)) {
            c.calls.insert(name);
        }
    }
}

/// Statement kinds found inside strings (`EXECUTE 'COPY … PROGRAM …'` in a DO block):
/// every `COPY`, `ANALYZE`, `ALTER SYSTEM`… word sequence counts wherever it starts.
fn statement_effects_nested(toks: &[Tok], c: &mut Classification) {
    for start in 0..toks.len() {
        if matches!(
            word(toks.get(start)),
            Some(
                "COPY"
                    | "ANALYZE"
                    | "ANALYSE"
                    | "VACUUM"
                    | "CHECKPOINT"
                    | "LOAD"
                    | "ALTER"
                    | "CREATE"
                    | "IMPORT"
            )
        ) {
            let rest = &toks[start..];
            let l = lead(rest, 4);
            let mut inner = Classification::default();
            statement_effects(rest, &l, &mut inner);
            c.effects.extend(inner.effects);
            if c.extension.is_none() {
                c.extension = inner.extension;
            }
        }
    }
}

/// Scans a function body fetched from the server (`pg_proc.prosrc`) for effects.
pub fn classify_body(body: &str) -> Classification {
    let toks = tokens(body).unwrap_or_else(|| plain_words(body));
    let mut c = Classification {
        runs_code: true,
        ..Default::default()
    };
    scan(&toks, false, false, 1, &mut c);
    statement_effects_nested(&toks, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(sql: &str) -> Vec<Effect> {
        let mut v: Vec<Effect> = classify(sql).effects.iter().map(|f| f.effect).collect();
        v.dedup();
        v
    }

    #[test]
    fn transaction_control_is_recognised_after_comments_and_in_any_case() {
        for sql in [
            "commit",
            "/* x */ COMMIT PREPARED 'a'",
            "-- c\nend",
            "Rollback",
            "abort",
            "PREPARE TRANSACTION 'x'",
            "ROLLBACK PREPARED 'x'",
            "begin isolation level serializable",
            "START TRANSACTION",
            "SAVEPOINT a",
            "RELEASE SAVEPOINT lockstep_trace",
            "ROLLBACK TO SAVEPOINT lockstep_trace",
            "SET TRANSACTION READ ONLY",
            "CALL do_things()",
        ] {
            assert!(classify(sql).transaction_control.is_some(), "{sql}");
        }
        for sql in [
            "PREPARE q AS SELECT 1",
            "SET lock_timeout = '1s'",
            "CREATE TABLE begin_log (id int)",
        ] {
            assert_eq!(classify(sql).transaction_control, None, "{sql}");
        }
    }

    #[test]
    fn copy_targets() {
        assert_eq!(
            effects("COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'"),
            [Effect::Program]
        );
        assert_eq!(effects("copy t from '/etc/passwd'"), [Effect::ServerFiles]);
        assert!(effects("COPY t FROM STDIN").is_empty());
        assert!(effects("COPY t (a, b) TO STDOUT WITH (FORMAT csv)").is_empty());
    }

    #[test]
    fn functions_anywhere_count_also_quoted_qualified_and_in_do_bodies() {
        assert_eq!(
            effects("CREATE TABLE loot AS SELECT pg_catalog.pg_read_file('/etc/hostname')"),
            [Effect::ServerFiles]
        );
        assert_eq!(
            effects("SELECT \"pg_terminate_backend\"(pid) FROM pg_stat_activity"),
            [Effect::Admin]
        );
        assert_eq!(
            effects("DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''id'''; END $$"),
            [Effect::Program]
        );
        assert_eq!(
            effects("DO $x$ BEGIN PERFORM pg_create_physical_replication_slot('s'); END $x$"),
            [Effect::Replication]
        );
        assert_eq!(
            effects("SELECT dblink_exec('host=evil', 'DROP TABLE t')"),
            [Effect::Remote]
        );
        assert_eq!(
            effects("SELECT setval('s', 10); SELECT nextval('s')"),
            [Effect::Sequences]
        );
        assert_eq!(effects("ANALYZE canary"), [Effect::Statistics]);
        assert_eq!(
            effects("ALTER SYSTEM SET work_mem = '1GB'"),
            [Effect::Admin]
        );
        assert_eq!(effects("CREATE ROLE evil SUPERUSER"), [Effect::Cluster]);
        assert_eq!(
            effects("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw"),
            [Effect::Remote]
        );
    }

    #[test]
    fn routine_bodies_and_stored_defaults_are_not_run() {
        assert!(
            effects(
                "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT pg_read_file('/x') $$"
            )
            .is_empty()
        );
        assert!(effects("CREATE TABLE t (id bigint DEFAULT nextval('t_seq'))").is_empty());
        assert!(
            effects("ALTER TABLE ONLY t ALTER COLUMN id SET DEFAULT nextval('t_seq'::regclass)")
                .is_empty()
        );
        assert_eq!(
            effects("ALTER TABLE t ADD COLUMN n bigint DEFAULT nextval('t_seq')"),
            [Effect::Sequences]
        );
        assert!(classify("ALTER TABLE t ADD COLUMN id bigserial").implicit_sequences);
    }

    #[test]
    fn ordinary_ddl_has_no_effects_and_calls_are_collected() {
        assert!(effects("ALTER TABLE items ADD COLUMN note text").is_empty());
        assert!(effects("CREATE INDEX i ON t (lower(email))").is_empty());
        let c = classify("SELECT my_fn(1), lower('x')");
        assert!(c.calls.contains("my_fn") && c.calls.contains("lower"));
        assert!(
            classify("CREATE TABLE t (id int DEFAULT my_fn())")
                .calls
                .is_empty()
        );
        assert!(
            classify("ALTER TABLE t ADD CHECK (my_fn(id))")
                .calls
                .contains("my_fn")
        );
        assert!(classify("DO $$ BEGIN PERFORM 1; END $$").runs_code);
        assert_eq!(
            classify("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\"")
                .extension
                .as_deref(),
            Some("uuid-ossp")
        );
    }

    #[test]
    fn untokenizable_text_is_scanned_word_by_word() {
        // An unterminated quote: the tokenizer fails, the word scan still sees the name.
        assert_eq!(
            effects("SELECT pg_read_file('/etc/passwd"),
            [Effect::ServerFiles]
        );
    }
}
