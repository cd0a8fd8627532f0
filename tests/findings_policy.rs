//! Issue 11, "one finding per hazard", "severity without sizes" and "CI on a repository with
//! years of history": secondary facts as notes, one finding per statement and rule, down
//! scripts limited to rollback rules, the unknown-size severity policy, baselines, other
//! tools' suppression comments and the pretty / `-q` output.

use lockstep::analyze::{Analysis, analyze};
use lockstep::rules::Finding;
use lockstep::settings::{DownScripts, Settings, Severity};
use lockstep::source::{self, Layout};
use std::path::Path;
use std::process::Command;

/// Writes `files` (name, content) into a fresh temp dir.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn lint_with(dir: &Path, settings: &Settings) -> Analysis {
    let loaded =
        source::load(&[dir.to_path_buf()], Some(Layout::GolangMigrate), &[]).expect("folder loads");
    analyze(&loaded.migrations, settings, &|_| true)
}

fn lint(dir: &Path) -> Analysis {
    lint_with(dir, &Settings::default())
}

fn rules_of(a: &Analysis) -> Vec<String> {
    a.findings.iter().map(|f| f.rule.clone()).collect()
}

fn on_line<'a>(a: &'a Analysis, file: &str, needle: &str) -> Vec<&'a Finding> {
    a.findings
        .iter()
        .filter(|f| {
            f.path.file_name().is_some_and(|n| n == file)
                && a.sources
                    .get(&f.path)
                    .and_then(|s| s.get(f.span.clone()))
                    .is_some_and(|t| t.contains(needle))
        })
        .collect()
}

const USERS: (&str, &str) = (
    "000001_users.up.sql",
    "CREATE TABLE users (id bigint PRIMARY KEY, email text, created_at timestamptz);\n",
);

#[test]
fn secondary_facts_become_notes_of_the_primary_finding() {
    let dir = folder(&[
        USERS,
        (
            "000002_email_idx.up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    let a = lint(dir.path());
    let here = on_line(&a, "000002_email_idx.up.sql", "CREATE INDEX");
    assert_eq!(
        here.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        vec!["create-index-non-concurrently"],
        "one finding for the statement: {:?}",
        rules_of(&a)
    );
    let notes: Vec<&str> = here[0].notes.iter().map(|n| n.rule.as_str()).collect();
    assert!(notes.contains(&"missing-statement-timeout"), "{notes:?}");
    assert!(notes.contains(&"missing-lock-timeout"), "{notes:?}");
}

#[test]
fn a_secondary_fact_stands_alone_when_nothing_else_is_said() {
    let dir = folder(&[
        USERS,
        (
            "000002_add_col.up.sql",
            "ALTER TABLE users ADD COLUMN nickname text;\n",
        ),
    ]);
    let a = lint(dir.path());
    let here = on_line(&a, "000002_add_col.up.sql", "ADD COLUMN");
    assert_eq!(
        here.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        vec!["missing-lock-timeout"]
    );
    assert!(here[0].notes.is_empty());
}

#[test]
fn missing_lock_timeout_is_reported_once_per_migration() {
    let dir = folder(&[
        USERS,
        (
            "000002_two.up.sql",
            "ALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text;\n\
             ALTER TABLE users ADD COLUMN c text;\n",
        ),
        (
            "000002_two.down.sql",
            "ALTER TABLE users DROP COLUMN c;\nALTER TABLE users DROP COLUMN b;\n\
             ALTER TABLE users DROP COLUMN a;\n",
        ),
    ]);
    let a = lint(dir.path());
    let n = a
        .findings
        .iter()
        .filter(|f| {
            f.rule == "missing-lock-timeout"
                || f.notes.iter().any(|n| n.rule == "missing-lock-timeout")
        })
        .count();
    assert_eq!(n, 1, "{:?}", rules_of(&a));
}

#[test]
fn a_statement_dropping_several_tables_gives_one_finding_listing_them() {
    let dir = folder(&[
        (
            "000001_tables.up.sql",
            "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (id int PRIMARY KEY);\n\
             CREATE TABLE c (id int PRIMARY KEY);\n",
        ),
        ("000002_drop.up.sql", "DROP TABLE a, b, c;\n"),
    ]);
    let a = lint(dir.path());
    let drops: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.rule == "drop-table")
        .collect();
    assert_eq!(drops.len(), 1, "{:?}", rules_of(&a));
    let listed = std::iter::once(drops[0].message.clone())
        .chain(drops[0].notes.iter().map(|n| n.message.clone()))
        .collect::<Vec<_>>()
        .join(" | ");
    for t in ["\"a\"", "\"b\"", "\"c\""] {
        assert!(
            listed.contains(t) || listed.contains(&t.replace('"', "")),
            "{t} in {listed}"
        );
    }
}

const DOWN_FOLDER: &[(&str, &str)] = &[
    USERS,
    (
        "000002_orders.up.sql",
        "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n\
         CREATE INDEX CONCURRENTLY users_created_idx ON users (created_at);\n",
    ),
    (
        "000002_orders.down.sql",
        "DROP INDEX users_created_idx;\nDROP TABLE orders;\n",
    ),
];

#[test]
fn down_scripts_get_only_rollback_findings_by_default() {
    let dir = folder(DOWN_FOLDER);
    let a = lint(dir.path());
    let down: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.path.to_string_lossy().ends_with(".down.sql"))
        .map(|f| f.rule.as_str())
        .collect();
    assert!(down.is_empty(), "findings on the down script: {down:?}");

    // `down_scripts: full` brings the locking and breaking rules back.
    let full = Settings {
        down_scripts: DownScripts::Full,
        ..Settings::default()
    };
    let a = lint_with(dir.path(), &full);
    let down: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.path.to_string_lossy().ends_with(".down.sql"))
        .map(|f| f.rule.as_str())
        .collect();
    assert!(down.contains(&"drop-index-non-concurrently"), "{down:?}");
}

#[test]
fn down_down_scripts_full_is_read_from_lockstep_yaml() {
    let cfg = lockstep::config::Config::parse(Path::new("lockstep.yaml"), "down_scripts: full\n")
        .expect("config parses");
    let mut s = Settings::default();
    cfg.apply(&mut s);
    assert_eq!(s.down_scripts, DownScripts::Full);
    assert!(
        lockstep::config::Config::parse(Path::new("lockstep.yaml"), "down_scripts: some\n")
            .is_err()
    );
}

#[test]
fn with_sizes_unknown_a_lock_hazard_ranks_at_least_as_high_as_a_down_script_difference() {
    let dir = folder(&[
        USERS,
        (
            "000002_email_idx.up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
        (
            "000002_email_idx.down.sql",
            "DROP INDEX IF EXISTS users_email_idx;\n",
        ),
        (
            "000003_note.up.sql",
            "ALTER TABLE users ADD COLUMN note text;\n",
        ),
        // Harmless: the down script leaves the column (a difference the check reports).
        (
            "000003_note.down.sql",
            "ALTER TABLE users ALTER COLUMN note DROP DEFAULT;\n",
        ),
    ]);
    let a = lint(dir.path());
    let index = a
        .findings
        .iter()
        .find(|f| f.rule == "create-index-non-concurrently")
        .expect("index finding");
    let down = a
        .findings
        .iter()
        .filter(|f| f.rule == "down-does-not-restore")
        .map(|f| f.severity)
        .max()
        .expect("a down-does-not-restore finding");
    assert!(index.size_unknown);
    assert!(
        index.severity >= down,
        "CREATE INDEX on a table of unknown size is {:?}, the down-script difference {:?}",
        index.severity,
        down
    );
    // So no --fail-on level passes the first and fails the second.
    for level in [Severity::Info, Severity::Warning, Severity::Error] {
        let fails_down = down >= level;
        let fails_index = index.severity >= level;
        assert!(!fails_down || fails_index, "--fail-on {level}");
    }
}

#[test]
fn baseline_hides_recorded_findings_and_survives_line_shifts() {
    let dir = folder(&[
        USERS,
        (
            "000002_email_idx.up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    let before = lint(dir.path());
    assert!(!before.findings.is_empty());
    let file = dir.path().join("baseline.json");
    let n = lockstep::baseline::write(&file, &before).expect("write baseline");
    assert_eq!(n, before.findings.len());

    // A comment above the old statement shifts its lines; a new migration adds a finding.
    std::fs::write(
        dir.path().join("000002_email_idx.up.sql"),
        "-- index for login\n\n  create index users_email_idx\n    on users (email);\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("000003_name_idx.up.sql"),
        "CREATE INDEX users_created_idx ON users (created_at);\n",
    )
    .expect("write");
    let mut after = lint(dir.path());
    let b = lockstep::baseline::load(&file).expect("load baseline");
    lockstep::baseline::apply(&mut after, &b);
    assert_eq!(after.baselined, before.findings.len());
    assert!(
        after
            .findings
            .iter()
            .all(|f| f.migration.starts_with("000003") || f.migration.starts_with('3')),
        "only the new migration's findings remain: {:?}",
        after
            .findings
            .iter()
            .map(|f| (&f.migration, &f.rule))
            .collect::<Vec<_>>()
    );
    assert!(!after.findings.is_empty());
}

#[test]
fn a_broken_baseline_file_is_an_error_with_a_location() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("b.json");
    std::fs::write(&file, "{\"version\": 1,\n \"findings\": [oops]}").expect("write");
    let err = lockstep::baseline::load(&file).expect_err("must not load");
    assert!(err.contains("b.json:2:"), "{err}");
}

fn suppressed_folder(sql: &str) -> Analysis {
    let dir = folder(&[USERS, ("000002_x.up.sql", sql)]);
    lint(dir.path())
}

#[test]
fn squawk_ignore_comments_silence_the_mapped_rules() {
    let a = suppressed_folder(
        "SET lock_timeout = '2s';\nSET statement_timeout = '5min';\n\
         -- squawk-ignore require-concurrent-index-creation\n\
         CREATE INDEX users_email_idx ON users (email);\n",
    );
    assert!(!rules_of(&a).contains(&"create-index-non-concurrently".to_string()));
    assert!(!rules_of(&a).contains(&"unused-ignore".to_string()));

    let a = suppressed_folder(
        "SET lock_timeout = '2s';\n\
         -- squawk-ignore ban-drop-column, renaming-column\n\
         ALTER TABLE users DROP COLUMN email;\n",
    );
    assert!(
        !rules_of(&a).contains(&"drop-column".to_string()),
        "{:?}",
        rules_of(&a)
    );
}

#[test]
fn atlas_nolint_and_safety_assured_blocks_silence_findings() {
    let a = suppressed_folder(
        "SET lock_timeout = '2s';\nSET statement_timeout = '5min';\n\
         -- atlas:nolint\nCREATE INDEX users_email_idx ON users (email);\n",
    );
    assert!(!rules_of(&a).contains(&"create-index-non-concurrently".to_string()));

    let a = suppressed_folder(
        "SET lock_timeout = '2s';\n\
         -- atlas:nolint destructive\nALTER TABLE users DROP COLUMN email;\n",
    );
    assert!(!rules_of(&a).contains(&"drop-column".to_string()));

    let a = suppressed_folder(
        "SET lock_timeout = '2s';\nSET statement_timeout = '5min';\n\
         -- safety-assured:start\nCREATE INDEX users_email_idx ON users (email);\n\
         -- safety-assured:end\nCREATE INDEX users_created_idx ON users (created_at);\n",
    );
    let idx: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.rule == "create-index-non-concurrently")
        .collect();
    assert_eq!(idx.len(), 1, "only the index outside the block");
    assert!(idx[0].message.contains("users") || idx[0].label.is_some());
}

fn lockstep(args: &[&str], cwd: &Path) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "80")
        .output()
        .expect("run lockstep");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn pretty_output_is_newest_first_relative_and_summarised_and_quiet_is_one_line_each() {
    let dir = folder(&[
        USERS,
        (
            "000002_email_idx.up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
        (
            "000003_add.up.sql",
            "ALTER TABLE users ADD COLUMN nickname text;\n",
        ),
    ]);
    let (out, _) = lockstep(&["lint", ".", "--layout", "golang-migrate"], dir.path());
    let newer = out
        .find("000003_add.up.sql")
        .expect("newest migration shown");
    let older = out
        .find("000002_email_idx.up.sql")
        .expect("older migration shown");
    assert!(newer < older, "newest first:\n{out}");
    assert!(
        !out.contains(&dir.path().display().to_string()),
        "relative paths:\n{out}"
    );
    assert!(
        out.contains("by rule:") && out.contains("by migration"),
        "{out}"
    );
    assert!(out.contains("tables:"), "says how to give sizes:\n{out}");
    // Everything but the one-line totals (kept whole for grep) fits the terminal.
    for line in out.lines().filter(|l| !l.starts_with("lockstep:")) {
        assert!(
            line.chars().count() <= 80,
            "wrapped to 80 columns: {line:?}"
        );
    }

    let (quiet, code) = lockstep(
        &["-q", "lint", ".", "--layout", "golang-migrate"],
        dir.path(),
    );
    assert_eq!(code, 1, "an error-level finding fails by default");
    let lines: Vec<&str> = quiet.lines().collect();
    assert_eq!(lines.len(), 2, "{quiet}");
    assert!(lines[0].starts_with("000003_add.up.sql:1:1: "), "{quiet}");
    assert!(
        lines[1].starts_with("000002_email_idx.up.sql:1:1: error[create-index-non-concurrently]"),
        "{quiet}"
    );
}

#[test]
fn baseline_command_then_lint_reports_only_new_findings() {
    let dir = folder(&[
        USERS,
        (
            "000002_email_idx.up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
    ]);
    let (_, code) = lockstep(&["baseline", ".", "--layout", "golang-migrate"], dir.path());
    assert_eq!(code, 0);
    assert!(dir.path().join("lockstep-baseline.json").is_file());
    let (out, code) = lockstep(&["lint", ".", "--layout", "golang-migrate"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("baseline:"), "{out}");
    let (_, code) = lockstep(
        &["lint", ".", "--layout", "golang-migrate", "--no-baseline"],
        dir.path(),
    );
    assert_eq!(code, 1);
}
