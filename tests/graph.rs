//! `lockstep graph` and the dependency model behind it: the schema of an example folder as
//! Mermaid, DOT and JSON, what one migration changed, and foreign-key cycles named by their
//! tables (in the graph and in the circular-foreign-keys rule).

use lockstep::analyze::{analyze, inline_migration};
use lockstep::settings::Settings;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lockstep(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("lockstep runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    dir
}

#[test]
fn diesel_example_as_mermaid_shows_tables_keys_and_indexes() {
    let dir = root().join("migrations-examples/diesel");
    if !dir.is_dir() {
        return;
    }
    let out = lockstep(
        &root(),
        &["graph", "migrations-examples/diesel", "--format", "mermaid"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = text(&out);
    assert!(m.starts_with("flowchart LR\n"), "{m}");
    assert!(m.contains("<b>posts</b><br/>id PK<br/>author_id"), "{m}");
    assert!(m.contains("<b>users</b><br/>id PK"), "{m}");
    assert!(m.contains("|\"author_id → id\"|"), "{m}");
    assert!(
        m.contains("index posts_author_id_idx<br/>(author_id)"),
        "{m}"
    );
    // Nothing is marked without --at.
    assert!(!m.contains("classDef"), "{m}");
}

#[test]
fn at_a_migration_marks_what_it_changed() {
    let dir = folder(&[
        (
            "m/0001_users.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email_idx ON users (email);\n",
        ),
        (
            "m/0002_orders.sql",
            "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\nDROP INDEX users_email_idx;\n",
        ),
        (
            "m/0003_later.sql",
            "CREATE VIEW big_orders AS SELECT * FROM orders;\n",
        ),
    ]);
    let out = lockstep(
        dir.path(),
        &["graph", "m", "--at", "0002", "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["at"], "0002_orders");
    let mark = |id: &str| {
        v["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["id"] == id))
            .map(|n| n["mark"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(mark("table:public.orders").as_deref(), Some("added"));
    assert_eq!(
        mark("index:public.users_email_idx").as_deref(),
        Some("dropped")
    );
    assert_eq!(mark("table:public.users").as_deref(), Some("unchanged"));
    // The view comes later and is not drawn.
    assert_eq!(mark("view:public.big_orders"), None);
    let fk = v["edges"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["kind"] == "foreign_key"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(fk["from"], "table:public.orders");
    assert_eq!(fk["to"], "table:public.users");
    assert_eq!(fk["mark"], "added");

    let dot = text(&lockstep(
        dir.path(),
        &["graph", "m", "--at", "0002_orders", "--format", "dot"],
    ));
    assert!(dot.starts_with("digraph schema {"), "{dot}");
    assert!(dot.contains("\"table:public.orders\" -> \"table:public.users\" [label=\"user_id → id\", color=\"#2e7d32\""), "{dot}");
    assert!(dot.contains("style=dashed"), "{dot}");

    let bad = lockstep(dir.path(), &["graph", "m", "--at", "0009"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--at 0009: no such migration"));
}

#[test]
fn fk_cycle_names_its_tables() {
    let setup = "CREATE TABLE teams (id bigint PRIMARY KEY, name text NOT NULL);\n\
                 CREATE TABLE players (id bigint PRIMARY KEY, team_id bigint REFERENCES teams (id));\n";
    let closing = "ALTER TABLE teams ADD COLUMN captain_id bigint REFERENCES players (id);\n";
    let dir = folder(&[("m/0001_setup.sql", setup), ("m/0002_captain.sql", closing)]);
    let out = lockstep(dir.path(), &["graph", "m", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["fk_cycles"],
        serde_json::json!([["public.players", "public.teams", "public.players"]])
    );
    // The rule stays quiet: captain_id is nullable, so a team is inserted first and its
    // captain set later (a deliberate model; the rule reports cycles of NOT NULL keys).
    let migs = [
        inline_migration(0, "setup", setup, true),
        inline_migration(1, "captain", closing, true),
    ];
    let a = analyze(&migs, &Settings::default(), &|m| m.order == 1);
    let f: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.rule == "circular-foreign-keys")
        .map(|f| f.message.as_str())
        .collect();
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn dropping_a_column_names_its_dependents() {
    let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n\
                 CREATE UNIQUE INDEX users_email_idx ON users (email);\n\
                 CREATE VIEW user_emails AS SELECT id, email FROM users;\n\
                 CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n";
    let migs = [
        inline_migration(0, "setup", setup, true),
        inline_migration(
            1,
            "drop",
            "ALTER TABLE users DROP COLUMN email;\nALTER TABLE users ALTER COLUMN id TYPE integer;\n",
            true,
        ),
    ];
    let a = analyze(&migs, &Settings::default(), &|m| m.order == 1);
    let f: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.rule == "dependent-objects")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        f,
        vec![
            // The column's own index goes with it unsaid; the view may make the drop fail.
            "dropping users.email fails if view user_emails uses the column",
            "changing the type of users.id rebuilds primary key users_pkey; needs foreign key orders.orders_user_id_fkey (user_id) to keep a compatible type; fails if view user_emails uses the column (PostgreSQL cannot change the type of a column a view uses)",
        ]
    );
}
