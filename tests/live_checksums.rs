//! `dry-run` compares the checksums flyway and sqlx stored for applied migrations with the
//! files on disk, on real databases of the throwaway cluster: matching histories are quiet,
//! an edited file is reported (and fails the run), a changed flyway repeatable is pending
//! again, and NULL checksums are skipped.

mod live_support;

use live_support::{cluster, database, db, write_files};
use lockstep::live::checksums::flyway_checksum;
use lockstep::live::dry_run::{self, DryRunOptions, DryRunReport};
use lockstep::settings::Settings;
use lockstep::source::{self, Layout};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn inspect(dir: &Path, dbname: &str, layout: Layout) -> DryRunReport {
    let c = cluster().expect("cluster");
    let opts = DryRunOptions {
        layout,
        history_table: None,
        exact_counts: false,
        throughput: lockstep::live::DEFAULT_THROUGHPUT,
        statement_timeout: Duration::from_secs(30),
    };
    let loaded = source::load(&[dir.to_path_buf()], Some(layout), &[]).expect("load");
    let mut conn = db(c, dbname);
    let (report, _, _) =
        dry_run::inspect(&mut conn, &loaded.migrations, &Settings::default(), &opts)
            .expect("dry-run");
    report
}

/// `lockstep dry-run --format json` against `dbname`: exit code and parsed output.
fn cli(dir: &Path, dbname: &str, layout: &str) -> (Option<i32>, serde_json::Value) {
    let c = cluster().expect("cluster");
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["dry-run", "--format", "json", "--layout", layout])
        .arg(dir)
        .arg("--database-url")
        .arg(c.conn_string(dbname))
        .output()
        .expect("run lockstep");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n";
const EMPLOYEES: &str = "-- the staff\r\nCREATE TABLE employees (id bigint PRIMARY KEY);\r\n";
const LEGACY: &str = "ALTER TABLE users ADD COLUMN name text;\n";
const VIEW: &str = "CREATE OR REPLACE VIEW user_emails AS SELECT email FROM users;\n";
const INDEX: &str = "CREATE INDEX users_email_idx ON users (email);\n";

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).expect("read migration")
}

#[test]
fn flyway_checksums_catch_an_edited_migration() {
    let Some(c) = cluster() else { return };
    let name = database(c, "fwsum");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_files(
        dir,
        &[
            ("V1__users.sql", USERS),
            ("V1.1__create_employees.sql", EMPLOYEES),
            ("V1.2__legacy.sql", LEGACY),
            ("R__user_emails.sql", VIEW),
            ("V2__idx.sql", INDEX),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{USERS} {EMPLOYEES} {LEGACY} {VIEW}
             CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50),
               description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL,
               checksum int, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
               execution_time int NOT NULL, success boolean NOT NULL);"
        ))
        .unwrap();
    let employees_sum = flyway_checksum(&read(dir, "V1.1__create_employees.sql"));
    let rows = [
        (
            1i32,
            Some("1"),
            "SQL",
            "V1__users.sql",
            Some(flyway_checksum(USERS)),
        ),
        (
            2,
            Some("1.1"),
            "SQL",
            "V1.1__create_employees.sql",
            Some(employees_sum),
        ),
        // An old row without a checksum (as flyway writes for some migration kinds).
        (3, Some("1.2"), "SQL", "V1.2__legacy.sql", None),
        (
            4,
            None,
            "SQL",
            "R__user_emails.sql",
            Some(flyway_checksum(VIEW)),
        ),
        // A baseline marker has no file and no checksum to compare.
        (5, Some("0"), "BASELINE", "<< Flyway Baseline >>", None),
    ];
    for (rank, version, kind, script, sum) in rows {
        client
            .execute(
                "INSERT INTO flyway_schema_history
                   (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
                 VALUES ($1, $2, 'd', $3, $4, $5, 'me', 1, true)",
                &[&rank, &version, &kind, &script, &sum],
            )
            .unwrap();
    }

    // Untouched files: nothing to report, V1.2's NULL checksum is skipped with a note.
    let r = inspect(dir, &name, Layout::Flyway);
    assert!(
        r.checksum_mismatches.is_empty(),
        "{:?}",
        r.checksum_mismatches
    );
    assert_eq!(r.history.pending, ["V2__idx"], "{:?}", r.history);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("NULL") && n.contains("V1.2__legacy.sql")),
        "{:?}",
        r.notes
    );
    assert!(!dry_run::render_pretty(&r).contains("checksum mismatch"));
    let (code, json) = cli(dir, &name, "flyway");
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["checksum_mismatches"], serde_json::json!([]));

    // flyway ignores line endings: converting V1 to CRLF is not an edit.
    write_files(dir, &[("V1__users.sql", &USERS.replace('\n', "\r\n"))]);
    let r = inspect(dir, &name, Layout::Flyway);
    assert!(
        r.checksum_mismatches.is_empty(),
        "{:?}",
        r.checksum_mismatches
    );

    // Edit an applied migration: exactly that one is reported, with both checksums.
    let edited = EMPLOYEES.replace("PRIMARY KEY", "PRIMARY KEY, name text");
    write_files(dir, &[("V1.1__create_employees.sql", &edited)]);
    let now = flyway_checksum(&edited);
    assert_ne!(now, employees_sum);
    let r = inspect(dir, &name, Layout::Flyway);
    assert_eq!(
        r.checksum_mismatches.len(),
        1,
        "{:?}",
        r.checksum_mismatches
    );
    let m = &r.checksum_mismatches[0];
    assert_eq!(m.file, "V1.1__create_employees.sql");
    assert_eq!(m.stored, employees_sum.to_string());
    assert_eq!(m.current, now.to_string());
    assert!(m.error && !m.repeatable);
    let pretty = dry_run::render_pretty(&r);
    let line = format!(
        "checksum mismatch: V1.1__create_employees.sql was applied with checksum {employees_sum}, \
         the file now has {now}: the file was edited after it ran"
    );
    assert!(pretty.lines().any(|l| l == line), "{pretty}");
    assert_eq!(r.history.pending, ["V2__idx"]);

    // The CLI fails on it (exit 1, as for an error finding) and lists it in JSON.
    let (code, json) = cli(dir, &name, "flyway");
    assert_eq!(code, Some(1), "{json}");
    let list = json["checksum_mismatches"].as_array().expect("array");
    assert_eq!(list.len(), 1, "{json}");
    assert_eq!(list[0]["file"], "V1.1__create_employees.sql");
    assert_eq!(list[0]["stored"], employees_sum.to_string());
    assert_eq!(list[0]["algorithm"], "flyway-crc32");

    // A changed repeatable is not an error: flyway re-applies it, so it is pending again.
    write_files(
        dir,
        &[
            ("V1.1__create_employees.sql", EMPLOYEES),
            (
                "R__user_emails.sql",
                &VIEW.replace("email FROM", "id, email FROM"),
            ),
        ],
    );
    let r = inspect(dir, &name, Layout::Flyway);
    assert_eq!(
        r.checksum_mismatches.len(),
        1,
        "{:?}",
        r.checksum_mismatches
    );
    let m = &r.checksum_mismatches[0];
    assert!(m.repeatable && !m.error);
    assert_eq!(m.file, "R__user_emails.sql");
    assert!(
        m.message().contains("will be re-applied"),
        "{}",
        m.message()
    );
    assert_eq!(
        r.history.pending,
        ["V2__idx", "R__user_emails"],
        "{:?}",
        r.history
    );
    assert!(!r.history.applied.iter().any(|a| a == "R__user_emails"));
    assert!(
        r.statements.iter().any(|s| s.migration == "R__user_emails"),
        "the re-applied repeatable is analysed as pending: {:?}",
        r.statements
    );
    let (code, json) = cli(dir, &name, "flyway");
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["checksum_mismatches"][0]["repeatable"], true);
}

#[test]
fn sqlx_checksums_catch_an_edited_migration() {
    let Some(c) = cluster() else { return };
    let name = database(c, "sqlxsum");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let up = "-- add a name\nALTER TABLE users ADD COLUMN name text;\n";
    write_files(
        dir,
        &[
            ("20240101000000_users.sql", USERS),
            ("20240102000000_name.up.sql", up),
            (
                "20240102000000_name.down.sql",
                "ALTER TABLE users DROP COLUMN name;\n",
            ),
            ("20240103000000_idx.sql", INDEX),
        ],
    );
    let mut client = c.connect(&name).unwrap();
    client
        .batch_execute(&format!(
            "{USERS} {up} CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL,
               installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, checksum bytea NOT NULL,
               execution_time bigint NOT NULL);"
        ))
        .unwrap();
    // The stored checksums come from PostgreSQL's own sha384() over the file bytes, an
    // implementation independent of ours.
    for (version, file) in [
        (20240101000000i64, "20240101000000_users.sql"),
        (20240102000000, "20240102000000_name.up.sql"),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        client
            .execute(
                "INSERT INTO _sqlx_migrations VALUES ($1, 'd', now(), true, sha384($2::bytea), 1)",
                &[&version, &bytes],
            )
            .unwrap();
    }
    let stored_hex = |file: &str| stored_hex_of(&std::fs::read(dir.join(file)).unwrap(), c, &name);

    let r = inspect(dir, &name, Layout::Sqlx);
    assert!(
        r.checksum_mismatches.is_empty(),
        "{:?}",
        r.checksum_mismatches
    );
    assert_eq!(r.history.pending, ["20240103000000_idx"], "{:?}", r.history);

    // The down script of a reversible migration is not part of the checksum.
    write_files(
        dir,
        &[(
            "20240102000000_name.down.sql",
            "ALTER TABLE users DROP COLUMN IF EXISTS name;\n",
        )],
    );
    let r = inspect(dir, &name, Layout::Sqlx);
    assert!(
        r.checksum_mismatches.is_empty(),
        "{:?}",
        r.checksum_mismatches
    );

    // Editing the up script is reported, with the full SHA-384s in hex.
    let before = stored_hex("20240102000000_name.up.sql");
    write_files(
        dir,
        &[(
            "20240102000000_name.up.sql",
            &up.replace("-- add a name", "-- add a display name"),
        )],
    );
    let after = stored_hex("20240102000000_name.up.sql");
    let r = inspect(dir, &name, Layout::Sqlx);
    assert_eq!(
        r.checksum_mismatches.len(),
        1,
        "{:?}",
        r.checksum_mismatches
    );
    let m = &r.checksum_mismatches[0];
    assert_eq!(m.file, "20240102000000_name.up.sql");
    assert_eq!(m.algorithm, "sqlx-sha384");
    assert_eq!(m.stored, before);
    assert_eq!(m.current, after);
    assert!(m.error);
    let pretty = dry_run::render_pretty(&r);
    assert!(
        pretty.lines().any(|l| l.starts_with(
            "checksum mismatch: 20240102000000_name.up.sql was applied with checksum "
        ) && l.ends_with(": the file was edited after it ran")),
        "{pretty}"
    );

    // sqlx hashes raw bytes: unlike flyway, a line-ending change alone is an edit.
    write_files(dir, &[("20240102000000_name.up.sql", up)]);
    write_files(
        dir,
        &[("20240101000000_users.sql", &USERS.replace('\n', "\r\n"))],
    );
    let (code, json) = cli(dir, &name, "sqlx");
    assert_eq!(code, Some(1), "{json}");
    let list = json["checksum_mismatches"].as_array().expect("array");
    assert_eq!(list.len(), 1, "{json}");
    assert_eq!(list[0]["file"], "20240101000000_users.sql");
    assert_eq!(list[0]["stored"], stored_hex_of(USERS.as_bytes(), c, &name));
}

/// SHA-384 in hex as PostgreSQL computes it.
fn stored_hex_of(bytes: &[u8], c: &lockstep::pg::Cluster, name: &str) -> String {
    let mut client = c.connect(name).unwrap();
    client
        .query_one("SELECT encode(sha384($1::bytea), 'hex')", &[&bytes])
        .unwrap()
        .get(0)
}
