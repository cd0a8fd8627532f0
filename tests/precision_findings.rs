//! Issue 11, "findings a reviewer keeps": what `lockstep lint` reports by default on
//! choices reasonable schemas make (style rules are opt-in, nullable foreign-key cycles),
//! on down scripts (only what makes the rollback fail or leaves the schema different), and
//! on multi-part pop versions (rolled back as one unit). Each test runs the binary as a
//! user does and reads its JSON report. The PostgreSQL behaviour each test relies on was
//! checked on a PostgreSQL 15 server (noted at each test).

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Writes `files` (relative path, content) into a fresh temp dir.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
    dir
}

/// `lockstep lint <args> --format json` in `cwd`: the findings as (rule, direction, message).
fn lint(cwd: &Path, args: &[&str]) -> Vec<(String, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .arg("lint")
        .args(args)
        .args(["--format", "json"])
        .current_dir(cwd)
        .output()
        .expect("run lockstep");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "exit {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json report");
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["direction"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn rules(findings: &[(String, String, String)]) -> Vec<&str> {
    findings.iter().map(|(r, _, _)| r.as_str()).collect()
}

const STYLE: &[&str] = &[
    "prefer-text",
    "prefer-identity",
    "char-n",
    "prefer-bigint",
    "drop-not-null",
];

const STYLE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "m/000001_accounts.up.sql",
        "CREATE TABLE accounts (\n  id serial PRIMARY KEY,\n  name varchar(255) NOT NULL,\n  \
         country char(2) NOT NULL\n);\n",
    ),
    ("m/000001_accounts.down.sql", "DROP TABLE accounts;\n"),
    (
        "m/000002_optional_name.up.sql",
        "ALTER TABLE accounts ALTER COLUMN name DROP NOT NULL;\n",
    ),
    (
        "m/000002_optional_name.down.sql",
        "ALTER TABLE accounts ALTER COLUMN name SET NOT NULL;\n",
    ),
];

#[test]
fn style_rules_and_drop_not_null_are_off_until_lockstep_yaml_enables_them() {
    let dir = folder(STYLE_MIGRATIONS);
    let found = lint(dir.path(), &["m"]);
    for r in STYLE {
        assert!(
            !rules(&found).contains(r),
            "{r} reported by default: {found:?}"
        );
    }
    // A team that wants them turns them on by giving them a level.
    std::fs::write(
        dir.path().join("lockstep.yaml"),
        "rules:\n  prefer-text: info\n  prefer-identity: info\n  char-n: info\n  \
         prefer-bigint: warning\n  drop-not-null: warning\n",
    )
    .expect("write config");
    let found = lint(dir.path(), &["m"]);
    for r in STYLE {
        assert!(
            rules(&found).contains(r),
            "{r} not reported once enabled: {found:?}"
        );
    }
}

#[test]
fn an_ignore_comment_for_an_opt_in_rule_is_not_reported_as_unused() {
    let dir = folder(&[(
        "m/000001_accounts.up.sql",
        "-- lockstep:ignore prefer-text names are limited by the form\n\
         CREATE TABLE accounts (id bigint PRIMARY KEY, name varchar(80) NOT NULL);\n",
    )]);
    let found = lint(dir.path(), &["m"]);
    assert!(!rules(&found).contains(&"unused-ignore"), "{found:?}");
    assert!(!rules(&found).contains(&"prefer-text"), "{found:?}");
}

/// On PostgreSQL 15: with both key columns NOT NULL, `INSERT INTO teams VALUES (1, 1)`
/// fails ("violates foreign key constraint teams_captain_fk") and only
/// `WITH t AS (INSERT INTO teams …) INSERT INTO players …` succeeds.
#[test]
fn only_a_cycle_of_not_null_foreign_keys_is_reported() {
    let nullable = "CREATE TABLE teams (id bigint PRIMARY KEY, captain_id bigint);\n\
                    CREATE TABLE players (id bigint PRIMARY KEY, team_id bigint NOT NULL REFERENCES teams (id));\n\
                    ALTER TABLE teams ADD CONSTRAINT teams_captain_fk FOREIGN KEY (captain_id) REFERENCES players (id);\n";
    let dir = folder(&[("m/000001_teams.up.sql", nullable)]);
    let found = lint(dir.path(), &["m"]);
    assert!(
        !rules(&found).contains(&"circular-foreign-keys"),
        "a cycle with a nullable link is a deliberate model: {found:?}"
    );

    let required = nullable.replace("captain_id bigint)", "captain_id bigint NOT NULL)");
    let dir = folder(&[("m/000001_teams.up.sql", required.as_str())]);
    let found = lint(dir.path(), &["m"]);
    let cycle: Vec<_> = found
        .iter()
        .filter(|(r, _, _)| r == "circular-foreign-keys")
        .collect();
    assert_eq!(cycle.len(), 1, "{found:?}");
    assert!(
        cycle[0].2.contains("NOT NULL") && cycle[0].2.contains("teams → players → teams"),
        "{}",
        cycle[0].2
    );
}

#[test]
fn a_down_script_dropping_with_cascade_is_left_to_the_rollback_check() {
    let up = "CREATE TABLE orgs (id bigint PRIMARY KEY);\n\
              CREATE TABLE members (id bigint PRIMARY KEY, org_id bigint REFERENCES orgs (id));\n";
    // Initial-schema style down: parents first, with CASCADE; the schema ends up as before.
    let dir = folder(&[
        ("m/000001_init.up.sql", up),
        (
            "m/000001_init.down.sql",
            "DROP TABLE IF EXISTS orgs CASCADE;\nDROP TABLE IF EXISTS members;\n",
        ),
    ]);
    let found = lint(dir.path(), &["m"]);
    assert!(
        found.iter().all(|(_, d, _)| d != "down"),
        "nothing to say about a down that restores the schema: {found:?}"
    );

    // Without CASCADE the same order fails on the server: still reported.
    let dir = folder(&[
        ("m/000001_init.up.sql", up),
        (
            "m/000001_init.down.sql",
            "DROP TABLE orgs;\nDROP TABLE members;\n",
        ),
    ]);
    let found = lint(dir.path(), &["m"]);
    assert!(
        found
            .iter()
            .any(|(r, d, m)| r == "drop-referenced-table" && d == "down" && m.contains("fails")),
        "{found:?}"
    );
}

/// On PostgreSQL 15: `ALTER TABLE users DROP COLUMN team_id` drops the column's own foreign
/// key and index silently; `ALTER TABLE teams DROP COLUMN code` fails with "cannot drop
/// column code of table teams because other objects depend on it" when another table's
/// foreign key references it.
#[test]
fn a_down_script_is_told_only_what_makes_it_fail() {
    let dir = folder(&[
        (
            "m/000001_teams.up.sql",
            "CREATE TABLE teams (id bigint PRIMARY KEY);\n\
             CREATE TABLE users (id bigint PRIMARY KEY);\n",
        ),
        (
            "m/000001_teams.down.sql",
            "DROP TABLE users;\nDROP TABLE teams;\n",
        ),
        (
            "m/000002_user_team.up.sql",
            "ALTER TABLE users ADD COLUMN team_id bigint REFERENCES teams (id);\n\
             CREATE INDEX users_team_id_idx ON users (team_id);\n",
        ),
        (
            "m/000002_user_team.down.sql",
            "ALTER TABLE users DROP COLUMN team_id;\n",
        ),
        (
            "m/000003_team_code.up.sql",
            "ALTER TABLE teams ADD COLUMN code text UNIQUE;\n\
             CREATE TABLE badges (id bigint PRIMARY KEY, team_code text REFERENCES teams (code));\n",
        ),
        (
            "m/000003_team_code.down.sql",
            "ALTER TABLE teams DROP COLUMN code;\nDROP TABLE badges;\n",
        ),
    ]);
    let found = lint(dir.path(), &["m"]);
    let deps: Vec<_> = found
        .iter()
        .filter(|(r, d, _)| r == "dependent-objects" && d == "down")
        .collect();
    assert_eq!(deps.len(), 1, "{found:?}");
    assert!(
        deps[0].2.contains("teams.code fails") && deps[0].2.contains("badges"),
        "{}",
        deps[0].2
    );
}

/// ory's pop folders split one change into parts (`<14-digit timestamp><6-digit part>`)
/// whose down parts undo the change only together, run from the last part to the first.
#[test]
fn a_multi_part_pop_version_is_rolled_back_as_one_unit() {
    let parts = |first_down: &str| {
        folder(&[
            (
                "m/20200101000000000000_init.postgres.up.sql",
                "CREATE TABLE a (id uuid PRIMARY KEY);\n",
            ),
            ("m/20200101000000000000_init.postgres.down.sql", first_down),
            (
                "m/20200101000000000001_init.postgres.up.sql",
                "CREATE TABLE b (id uuid PRIMARY KEY, a_id uuid NOT NULL REFERENCES a (id));\n",
            ),
            (
                "m/20200101000000000001_init.postgres.down.sql",
                "DROP TABLE a;\n",
            ),
            (
                "m/20200101000000000002_init.postgres.up.sql",
                "CREATE TABLE c (id uuid PRIMARY KEY);\n",
            ),
            (
                "m/20200101000000000002_init.postgres.down.sql",
                "DROP TABLE b;\n",
            ),
        ])
    };
    // Downs 2, 1, 0 drop b, a, c: the unit restores the schema.
    let dir = parts("DROP TABLE c;\n");
    let found = lint(dir.path(), &["m", "--layout", "pop"]);
    assert!(
        !rules(&found).contains(&"down-does-not-restore") && !rules(&found).contains(&"empty-down"),
        "{found:?}"
    );
    // The first part's down forgets c: one finding, about the unit.
    let dir = parts("SELECT 1;\n");
    let found = lint(dir.path(), &["m", "--layout", "pop"]);
    let left: Vec<_> = found
        .iter()
        .filter(|(r, _, _)| r == "down-does-not-restore")
        .collect();
    assert_eq!(left.len(), 1, "{found:?}");
    assert!(
        left[0].2.contains("all 3 parts of version 20200101000000") && left[0].2.contains("c"),
        "{}",
        left[0].2
    );
}

/// dbmate writes `-- migrate:down` into every new file; a team that never fills it in does
/// not roll back with down scripts, and an `empty-down` on each migration would only say
/// that again. Once any down script does something, empty ones are reported.
#[test]
fn empty_downs_are_reported_only_where_the_folder_writes_downs() {
    let a = "-- migrate:up\nCREATE TABLE a (id bigint PRIMARY KEY);\n\n-- migrate:down\n\n";
    let b =
        "-- migrate:up\nCREATE TABLE b (id bigint PRIMARY KEY);\n\n-- migrate:down\n-- nothing\n";
    let dir = folder(&[
        ("db/migrations/20200101000000_a.sql", a),
        ("db/migrations/20200102000000_b.sql", b),
    ]);
    let found = lint(dir.path(), &["db/migrations", "--layout", "dbmate"]);
    assert!(!rules(&found).contains(&"empty-down"), "{found:?}");

    let c = "-- migrate:up\nCREATE TABLE c (id bigint PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE c;\n";
    let dir = folder(&[
        ("db/migrations/20200101000000_a.sql", a),
        ("db/migrations/20200102000000_b.sql", b),
        ("db/migrations/20200103000000_c.sql", c),
    ]);
    let found = lint(dir.path(), &["db/migrations", "--layout", "dbmate"]);
    let empty = found.iter().filter(|(r, _, _)| r == "empty-down").count();
    assert_eq!(empty, 2, "{found:?}");
}

/// On PostgreSQL 15, `DROP COLUMN` drops the column's own index and foreign key, and also a
/// CHECK constraint over several columns that mentions it (which the statement does not
/// say). Only the latter is worth a finding.
#[test]
fn dropping_a_column_names_only_dependents_beyond_its_own() {
    let dir = folder(&[
        (
            "m/000001_t.up.sql",
            "CREATE TABLE teams (id bigint PRIMARY KEY);\n\
             CREATE TABLE users (id bigint PRIMARY KEY, team_id bigint REFERENCES teams (id), \
             lo int, hi int, CONSTRAINT users_range CHECK (lo < hi));\n\
             CREATE INDEX users_team_id_idx ON users (team_id);\n",
        ),
        (
            "m/000002_drop_team.up.sql",
            "ALTER TABLE users DROP COLUMN team_id;\n",
        ),
        (
            "m/000003_drop_lo.up.sql",
            "ALTER TABLE users DROP COLUMN lo;\n",
        ),
    ]);
    let found = lint(dir.path(), &["m"]);
    let deps: Vec<&str> = found
        .iter()
        .filter(|(r, _, _)| r == "dependent-objects")
        .map(|(_, _, m)| m.as_str())
        .collect();
    assert_eq!(
        deps,
        vec!["dropping users.lo silently drops check constraint users_range"],
        "{found:?}"
    );
}
