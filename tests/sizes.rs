//! `lockstep sizes` against a throwaway cluster: the snapshot holds what the server's
//! statistics say (reltuples, pg_total_relation_size), takes the same number of queries
//! for 3 tables as for 43, changes nothing; `lint` uses the file for severities and says
//! how old it is; a broken file is exit 2 with its location.

mod live_support;

use std::path::Path;
use std::process::Command;

fn lockstep(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run lockstep");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn queries_in_header(yaml: &str) -> u64 {
    let at = yaml.find(" queries.").expect("query count in the header");
    let before = &yaml[..at];
    let start = before.rfind(' ').map_or(0, |i| i + 1);
    before[start..].parse().expect("a number")
}

#[test]
fn snapshot_matches_the_server_and_lint_uses_it() {
    let Some(cluster) = live_support::cluster() else {
        return;
    };
    let name = live_support::database(cluster, "sizes");
    let mut client = cluster.connect(&name).unwrap();
    client
        .batch_execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);
             INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 5000) g;
             ANALYZE users;
             CREATE SCHEMA billing;
             CREATE TABLE billing.\"Invoices\" (id int);
             INSERT INTO billing.\"Invoices\" SELECT generate_series(1, 20);
             ANALYZE billing.\"Invoices\";
             CREATE TABLE never_analysed (id int);",
        )
        .unwrap();
    let before = live_support::checksum(&mut client);
    let url = cluster.conn_string(&name);
    let dir = tempfile::tempdir().unwrap();
    let (code, yaml, err) = lockstep(&["sizes", "--database-url", &url], dir.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        live_support::checksum(&mut client),
        before,
        "sizes changed nothing"
    );

    let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("YAML");
    assert_eq!(doc["version"], serde_yaml::Value::from(1));
    let tables = doc["tables"].as_sequence().expect("tables");
    let entry = |schema: &str, table: &str| {
        tables
            .iter()
            .find(|t| t["schema"].as_str() == Some(schema) && t["table"].as_str() == Some(table))
            .unwrap_or_else(|| panic!("{schema}.{table} in {yaml}"))
            .clone()
    };
    // Expected values: what the server's statistics say.
    for (schema, table) in [("public", "users"), ("billing", "Invoices")] {
        let row = client
            .query_one(
                "SELECT c.reltuples::float8, pg_total_relation_size(c.oid)::int8 FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2",
                &[&schema, &table],
            )
            .unwrap();
        let rows: f64 = row.get(0);
        let bytes: i64 = row.get(1);
        let e = entry(schema, table);
        assert_eq!(e["rows"].as_u64(), Some(rows.round() as u64), "{yaml}");
        assert_eq!(e["bytes"].as_i64(), Some(bytes), "{yaml}");
    }
    assert_eq!(entry("public", "users")["rows"].as_u64(), Some(5000));
    // Never analysed: reltuples is -1 on PG 14+, 0 before; either way no estimate of rows
    // is claimed beyond what the server has.
    let never = entry("public", "never_analysed");
    assert!(never["rows"].as_u64().is_none_or(|r| r == 0), "{yaml}");

    // A constant number of queries: 40 more tables, the same count.
    let queries_small = queries_in_header(&yaml);
    let many: String = (0..40)
        .map(|i| format!("CREATE TABLE extra_{i} (id int);"))
        .collect();
    client.batch_execute(&many).unwrap();
    let (code, yaml_many, err) = lockstep(&["sizes", "--database-url", &url], dir.path());
    assert_eq!(code, 0, "{err}");
    let doc_many: serde_yaml::Value = serde_yaml::from_str(&yaml_many).unwrap();
    assert_eq!(doc_many["tables"].as_sequence().unwrap().len(), 43);
    assert_eq!(queries_in_header(&yaml_many), queries_small);
    assert!(queries_small <= 4, "{queries_small}");

    // lint: users is created by the history, so without sizes its size is unknown (error);
    // with the snapshot it is known to be small (warning).
    let db = dir.path().join("db");
    live_support::write_files(
        &db,
        &[
            (
                "001_users.sql",
                "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
            ),
            (
                "002_email_idx.sql",
                "CREATE INDEX users_email_idx ON users (email);\n",
            ),
        ],
    );
    let severity = |args: &[&str]| {
        let mut all = vec!["lint", "--format", "json", "db"];
        all.extend_from_slice(args);
        let (_, out, err) = lockstep(&all, dir.path());
        let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
        let f = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "create-index-non-concurrently")
            .cloned()
            .expect("finding");
        (f["severity"].as_str().unwrap().to_string(), err)
    };
    let (without, err) = severity(&[]);
    assert_eq!(without, "error");
    assert!(!err.contains("table sizes from"), "{err}");
    std::fs::write(dir.path().join("lockstep.sizes.yaml"), &yaml).unwrap();
    let (with, err) = severity(&[]);
    assert_eq!(with, "warning", "{err}");
    assert!(
        err.contains("note: table sizes from lockstep.sizes.yaml (taken "),
        "{err}"
    );
    assert!(err.contains(" ago, "), "{err}");

    // An old snapshot still counts, with a warning to refresh it; --sizes names any file.
    let old = yaml.replace(doc["taken_at"].as_str().unwrap(), "2020-01-01T00:00:00Z");
    let other = dir.path().join("ci-sizes.yaml");
    std::fs::write(&other, old).unwrap();
    let (with, err) = severity(&["--sizes", other.to_str().unwrap()]);
    assert_eq!(with, "warning");
    assert!(err.contains("warning: table sizes from"), "{err}");
    assert!(err.contains("run `lockstep sizes` again"), "{err}");
}

#[test]
fn broken_sizes_files_are_usage_errors_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    live_support::write_files(dir.path(), &[("db/001.sql", "CREATE TABLE t (id int);\n")]);
    let cases = [
        (
            "version: 2\ntaken_at: 2024-03-02T10:15:00Z\ntables: []\n",
            "version 2",
        ),
        ("version: 1\ntaken_at: yesterday\ntables: []\n", "taken_at"),
        (
            "version: 1\ntaken_at: 2024-03-02T10:15:00Z\ntables:\n  - { schema: public, table: t, rows: lots }\n",
            ":4:",
        ),
        (
            "version: 1\ntaken_at: 2024-03-02T10:15:00Z\ntabels: []\n",
            "tabels",
        ),
    ];
    for (text, expect) in cases {
        std::fs::write(dir.path().join("lockstep.sizes.yaml"), text).unwrap();
        let (code, _, err) = lockstep(&["lint", "db"], dir.path());
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains("lockstep.sizes.yaml"), "{err}");
        assert!(err.contains(expect), "{text}: {err}");
    }
    // A named file that does not exist is an error too, not silently ignored.
    std::fs::remove_file(dir.path().join("lockstep.sizes.yaml")).unwrap();
    let (code, _, err) = lockstep(&["lint", "db", "--sizes", "nope.yaml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope.yaml"), "{err}");
    // And sizes without any database named says so.
    let (code, _, err) = lockstep(&["sizes"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("no database named"), "{err}");
}
