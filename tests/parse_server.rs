//! The splitter agrees with the server (issue 20): for texts crafted so that a lexer that
//! differs from PostgreSQL's would hide a `DROP TABLE`, the server's own reading is the
//! expected value. Each case is run twice on a throwaway cluster:
//!
//! - as the tool would send it (the messages listed), counting the commands the server
//!   completed and whether `victim` survived;
//! - as our statements, each sent alone: every one must be exactly one command for the
//!   server, and the effect must be the same.

mod live_support;

use lockstep::ops::Op;
use lockstep::parse::{Statement, parse_script, parse_sql};
use lockstep::source::Script;
use postgres::SimpleQueryMessage;
use std::sync::Arc;

/// Commands completed by the server for one simple-query message.
fn commands(client: &mut postgres::Client, sql: &str) -> usize {
    let msgs = client.simple_query(sql).unwrap_or_else(|e| {
        panic!(
            "server rejected {sql:?}: {:?}",
            e.as_db_error().map(|d| d.message())
        )
    });
    msgs.iter()
        .filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
        .count()
}

fn victim_exists(client: &mut postgres::Client) -> bool {
    let rows = client
        .simple_query("SELECT count(*) FROM pg_class WHERE relname = 'victim'")
        .expect("query");
    rows.iter().any(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0) == Some("1"),
        _ => false,
    })
}

struct ServerView {
    /// Commands the server ran for the last message (the one under test).
    last_message_commands: usize,
    victim_survives: bool,
}

/// Runs `messages` on a fresh database holding a table `victim`.
fn server_runs(messages: &[&str]) -> Option<ServerView> {
    let cluster = live_support::cluster()?;
    let db = live_support::database(cluster, "split");
    let mut c = cluster.connect(&db).expect("connect");
    c.batch_execute("CREATE TABLE victim (id int)")
        .expect("setup");
    let mut last = 0;
    for m in messages {
        last = commands(&mut c, m);
    }
    Some(ServerView {
        last_message_commands: last,
        victim_survives: victim_exists(&mut c),
    })
}

/// Sends each of our statements alone; asserts each is one command. Returns whether
/// `victim` survived.
fn ours_one_by_one(source: &str, statements: &[Statement]) -> Option<bool> {
    let cluster = live_support::cluster()?;
    let db = live_support::database(cluster, "split_ours");
    let mut c = cluster.connect(&db).expect("connect");
    c.batch_execute("CREATE TABLE victim (id int)")
        .expect("setup");
    for s in statements {
        let text = &source[s.span.clone()];
        assert_eq!(
            commands(&mut c, text),
            1,
            "our statement is not one command for the server: {text:?}"
        );
    }
    Some(victim_exists(&mut c))
}

fn drops_victim(statements: &[Statement]) -> bool {
    statements.iter().any(|s| {
        s.ops
            .iter()
            .any(|o| matches!(o, Op::DropTable { table, .. } if table.name == "victim"))
    })
}

#[test]
fn placeholder_hiding_comment_end_does_not_hide_statements() {
    // The server ends the comment at the `*/` inside the template action.
    let sql = "SELECT 1 /* {{ .X */ -- }}\n; DROP TABLE victim; SELECT 2 AS \"*/\" -- \"";
    let Some(server) = server_runs(&[sql]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 3);
    assert!(!server.victim_survives);
    let ours = parse_sql(sql);
    assert_eq!(ours.len(), server.last_message_commands, "{ours:?}");
    assert!(drops_victim(&ours));
    assert_eq!(ours_one_by_one(sql, &ours), Some(server.victim_survives));
}

#[test]
fn strings_after_standard_conforming_strings_off_read_backslashes() {
    let set = "SET standard_conforming_strings = off";
    let rest = "SELECT 'x\\'; SELECT '; DROP TABLE victim; SELECT 1 -- ';";
    let Some(server) = server_runs(&[set, rest]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 3);
    assert!(!server.victim_survives);
    let sql = format!("{set};\n{rest}");
    let ours = parse_sql(&sql);
    assert_eq!(ours.len(), 1 + server.last_message_commands, "{ours:?}");
    assert!(drops_victim(&ours));
    assert_eq!(ours_one_by_one(&sql, &ours), Some(server.victim_survives));
}

#[test]
fn set_local_and_reset_of_standard_conforming_strings_are_followed() {
    let rest = "SELECT 'x\\'; SELECT '; DROP TABLE victim; SELECT 1 -- '\n;";
    // RESET restores the standard reading: the DROP is inside a string.
    let reset = "RESET standard_conforming_strings";
    let set = "SET standard_conforming_strings TO 'off'";
    let Some(server) = server_runs(&[set, reset, rest]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 2);
    assert!(server.victim_survives);
    let sql = format!("{set};\n{reset};\n{rest}");
    let ours = parse_sql(&sql);
    assert_eq!(ours.len(), 2 + server.last_message_commands, "{ours:?}");
    assert!(!drops_victim(&ours));
    assert_eq!(ours_one_by_one(&sql, &ours), Some(server.victim_survives));

    // SET LOCAL lasts until the transaction ends.
    let Some(server) = server_runs(&[
        "BEGIN",
        "SET LOCAL standard_conforming_strings = off",
        rest,
        "COMMIT",
        rest,
    ]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 2);
    assert!(!server.victim_survives);
    let sql =
        format!("BEGIN;\nSET LOCAL standard_conforming_strings = off;\n{rest}\nCOMMIT;\n{rest}");
    let ours = parse_sql(&sql);
    // BEGIN, SET, 3 (backslash reading), COMMIT, 2 (standard reading).
    assert_eq!(
        ours.len(),
        2 + 3 + 1 + server.last_message_commands,
        "{ours:?}"
    );
    assert_eq!(ours_one_by_one(&sql, &ours), Some(server.victim_survives));
}

#[test]
fn begin_as_an_identifier_opens_no_block() {
    let sql = "CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS 'SELECT 1';\nDROP TABLE victim;\nSELECT 1 AS end";
    let Some(server) = server_runs(&[sql]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 3);
    assert!(!server.victim_survives);
    let ours = parse_sql(sql);
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(drops_victim(&ours));
    assert_eq!(ours_one_by_one(sql, &ours), Some(false));

    // Tables and columns named `begin`.
    let sql = "CREATE TABLE begin (begin int);\nSELECT begin FROM begin;\nDROP TABLE victim";
    let Some(server) = server_runs(&[sql]) else {
        return;
    };
    let ours = parse_sql(sql);
    assert_eq!(ours.len(), server.last_message_commands, "{ours:?}");
    assert_eq!(ours_one_by_one(sql, &ours), Some(server.victim_survives));
}

#[test]
fn begin_atomic_bodies_are_one_statement_like_the_server_reads_them() {
    let sql = "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END AS end; SELECT 2; END;\nDROP TABLE victim";
    let Some(server) = server_runs(&[sql]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 2);
    let ours = parse_sql(sql);
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(drops_victim(&ours));
    assert_eq!(ours_one_by_one(sql, &ours), Some(server.victim_survives));
}

#[test]
fn goose_region_is_every_command_the_server_runs() {
    let file = "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\nCOMMIT;\nDROP TABLE victim;\n-- +goose StatementEnd\n";
    let region_start = file.find("SELECT 1").unwrap_or(0);
    let region_end = file.find("-- +goose StatementEnd").unwrap_or(0);
    let region = &file[region_start..region_end];
    // goose sends the region's text as one Exec.
    let Some(server) = server_runs(&[region]) else {
        return;
    };
    assert_eq!(server.last_message_commands, 3);
    assert!(!server.victim_survives);
    let script = Script {
        path: "m.sql".into(),
        source: Arc::from(file),
        range: 0..file.len(),
        whole_statements: std::iter::once(region_start..region_end).collect(),
        host: None,
    };
    let ours = parse_script(&script);
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(
        ours.iter()
            .all(|s| s.region == Some(region_start..region_end))
    );
    assert!(matches!(ours[1].ops[..], [Op::Commit]));
    assert!(drops_victim(&ours));
    assert_eq!(ours_one_by_one(file, &ours), Some(false));
}
