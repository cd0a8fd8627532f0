//! Capture: the statements a migrate command sent, read back from the server's statement
//! log (`log_statement = 'all'`), and split into migrations at each write to the
//! framework's history table.
//!
//! This is what `lockstep capture -- <migrate command>` records, and what the front-end
//! differential tests compare the static readings with: the SQL the framework itself sent.

/// One statement as the server logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The backend process id from the log line prefix (`[1234]`), when present.
    pub pid: Option<String>,
    /// The statement text (simple query, or the text of an extended-protocol execute).
    pub sql: String,
}

/// Reads the statements from a PostgreSQL stderr log written with `log_statement = 'all'`
/// and the default `log_line_prefix` (`%m [%p] `). Continuation lines of a multi-line
/// statement are the ones the server starts with a tab.
pub fn parse_log(text: &str) -> Vec<Logged> {
    let mut out: Vec<Logged> = Vec::new();
    // Whether the last record read was a statement (so continuation lines belong to it).
    let mut in_statement = false;
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix('\t') {
            if in_statement && let Some(last) = out.last_mut() {
                last.sql.push('\n');
                last.sql.push_str(rest);
            }
            continue;
        }
        in_statement = false;
        let Some(at) = line.find("LOG:  ") else {
            continue;
        };
        let message = &line[at + 6..];
        let sql = if let Some(sql) = message.strip_prefix("statement: ") {
            sql
        } else if let Some(rest) = message.strip_prefix("execute ") {
            // `execute <unnamed>: …` / `execute S_1: …`
            match rest.find(": ") {
                Some(colon) => &rest[colon + 2..],
                None => continue,
            }
        } else {
            continue;
        };
        let pid = line[..at].rfind('[').and_then(|open| {
            line[open + 1..at]
                .find(']')
                .map(|close| line[open + 1..open + 1 + close].to_string())
        });
        out.push(Logged {
            pid,
            sql: sql.to_string(),
        });
        in_statement = true;
    }
    out
}

/// Whether a statement writes a row into one of the history tables (`INSERT INTO
/// "knex_migrations" …`, `INSERT INTO "SequelizeMeta" …`), which marks the end of a
/// migration. Compared without quotes and case, schema-qualified or not.
pub fn writes_history(sql: &str, history_tables: &[&str]) -> bool {
    let normalized: String = sql
        .trim_start()
        .chars()
        .filter(|c| *c != '"' && *c != '`')
        .collect::<String>()
        .to_ascii_lowercase();
    let Some(rest) = normalized.strip_prefix("insert into ") else {
        return false;
    };
    let target = rest
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let table = target.rsplit('.').next().unwrap_or(target);
    history_tables.iter().any(|h| h.eq_ignore_ascii_case(table))
}

/// Splits the logged statements into migrations: a migration ends at each write to a
/// history table (the framework records a migration right after running it). Statements
/// after the last write (a migration that failed halfway, or the command's own clean-up)
/// form a last, unrecorded group, returned separately.
pub fn split_migrations(
    statements: &[Logged],
    history_tables: &[&str],
) -> (Vec<Vec<Logged>>, Vec<Logged>) {
    let mut done = Vec::new();
    let mut current = Vec::new();
    for s in statements {
        if writes_history(&s.sql, history_tables) {
            done.push(std::mem::take(&mut current));
        } else {
            current.push(s.clone());
        }
    }
    (done, current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_simple_extended_and_multiline_statements() {
        let log = "2026-11-29 10:00:00.000 UTC [41] LOG:  statement: create table \"a\" (\"id\" serial)\n\
                   2026-11-29 10:00:00.001 UTC [41] LOG:  execute <unnamed>: insert into \"knex_migrations\" (\"name\") values ($1)\n\
                   2026-11-29 10:00:00.001 UTC [41] DETAIL:  parameters: $1 = 'x.js'\n\
                   2026-11-29 10:00:00.002 UTC [41] LOG:  statement: \n\
                   \tALTER TABLE a ADD b int;\n\
                   \tCREATE INDEX i ON a (b);\n\
                   2026-11-29 10:00:00.003 UTC [41] LOG:  checkpoint starting: time\n";
        let logged = parse_log(log);
        assert_eq!(logged.len(), 3);
        assert_eq!(logged[0].pid.as_deref(), Some("41"));
        assert!(logged[1].sql.starts_with("insert into"));
        assert_eq!(
            logged[2].sql,
            "\nALTER TABLE a ADD b int;\nCREATE INDEX i ON a (b);"
        );
        let (migrations, rest) = split_migrations(&logged, &["knex_migrations"]);
        assert_eq!(migrations.len(), 1);
        assert_eq!(migrations[0].len(), 1);
        assert_eq!(rest.len(), 1);
    }

    #[test]
    fn history_writes_are_recognised_however_quoted() {
        let h = ["SequelizeMeta", "migrations"];
        assert!(writes_history(
            "INSERT INTO \"SequelizeMeta\" (\"name\") VALUES ($1)",
            &h
        ));
        assert!(writes_history(
            "INSERT INTO \"public\".\"migrations\"(\"timestamp\") VALUES ($1)",
            &h
        ));
        assert!(!writes_history("INSERT INTO users (name) VALUES ('x')", &h));
        assert!(!writes_history("SELECT * FROM migrations", &h));
    }
}
