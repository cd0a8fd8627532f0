//! The breaking and hygiene rules: their documented examples, the cases where schema replay
//! keeps them quiet, and the ignore comments that silence them.

use lockstep::analyze::{self, Analysis, inline_migration};
use lockstep::parse;
use lockstep::rules::{self, Category, Finding};
use lockstep::settings::{RuleLevel, Settings, Severity};
use lockstep::source::{Migration, Script};
use std::path::PathBuf;

const BREAKING: &[&str] = &[
    "rename-column",
    "rename-table",
    "drop-column",
    "drop-table",
    "drop-not-null",
    "add-required-column",
    "narrowing-type-change",
    "enum-value-rename",
];

const HYGIENE: &[&str] = &[
    "foreign-key-without-index",
    "circular-foreign-keys",
    "prefer-bigint",
    "prefer-identity",
    "prefer-text",
    "prefer-timestamptz",
    "money-as-float",
    "json-over-jsonb",
    "char-n",
    "missing-primary-key",
    "identifier-too-long",
    "unused-ignore",
];

/// Runs `sql` as migration 1 after `setup` as migration 0; only migration 1 is linted.
fn lint(setup: &str, sql: &str) -> Analysis {
    lint_tx(setup, sql, true)
}

fn lint_tx(setup: &str, sql: &str, in_transaction: bool) -> Analysis {
    let migrations = [
        inline_migration(0, "setup", setup, true),
        inline_migration(1, "example", sql, in_transaction),
    ];
    analyze::analyze(&migrations, &all_rules_on(), &|m| m.order == 1)
}

/// Default settings with the opt-in rules turned on at their own severity: these tests
/// exercise what each rule reports once enabled.
fn all_rules_on() -> Settings {
    let mut s = Settings::default();
    for (_, m) in rules::metas() {
        if m.opt_in {
            s.rules.insert(m.id.clone(), RuleLevel::On(m.severity));
        }
    }
    s
}

fn of<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

/// 1-based line of a finding in `sql`.
fn line(sql: &str, f: &Finding) -> usize {
    sql[..f.span.start.min(sql.len())].matches('\n').count() + 1
}

/// What the parser made of `sql`, for failure messages.
fn parsed(sql: &str) -> String {
    parse::parse_sql(sql)
        .iter()
        .map(|s| format!("  {:?} {:?} {:?}", s.parsed_by, s.ops, s.error))
        .collect::<Vec<_>>()
        .join("\n")
}

fn summary(a: &Analysis) -> String {
    a.findings
        .iter()
        .map(|f| format!("  {} @{:?}: {}", f.rule, f.span, f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_rule_is_registered_with_its_category_and_severity() {
    for id in BREAKING {
        let m = rules::meta(id).unwrap_or_else(|| panic!("{id} is not in the registry"));
        assert_eq!(m.category, Category::Breaking, "{id}");
    }
    for id in HYGIENE {
        let m = rules::meta(id).unwrap_or_else(|| panic!("{id} is not in the registry"));
        assert_eq!(m.category, Category::Hygiene, "{id}");
        assert!(
            m.severity < Severity::Error,
            "{id}: hygiene rules are never errors"
        );
    }
    assert_eq!(
        rules::meta("drop-not-null").map(|m| m.severity),
        Some(Severity::Warning)
    );
}

#[test]
fn bad_examples_fire_and_good_examples_do_not() {
    let mut failures = Vec::new();
    for id in BREAKING.iter().chain(HYGIENE) {
        let Some(m) = rules::meta(id) else {
            failures.push(format!("{id}: not registered"));
            continue;
        };
        let bad = lint_tx(&m.setup, &m.bad, m.example_in_transaction);
        if of(&bad, id).is_empty() {
            failures.push(format!(
                "{id}: bad example did not fire\nfindings:\n{}\nparsed:\n{}",
                summary(&bad),
                parsed(&m.bad)
            ));
        }
        let good = lint_tx(&m.setup, &m.good, m.example_in_transaction);
        if !of(&good, id).is_empty() {
            failures.push(format!(
                "{id}: good example fired\nfindings:\n{}\nparsed:\n{}",
                summary(&good),
                parsed(&m.good)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn foreign_key_indexed_later_in_the_same_migration_is_clean() {
    let setup = "CREATE TABLE authors (id bigint PRIMARY KEY);";
    let sql = "CREATE TABLE books (id bigint PRIMARY KEY, author_id bigint REFERENCES authors (id));\n\
               CREATE TABLE reviews (id bigint PRIMARY KEY, book_id bigint);\n\
               ALTER TABLE reviews ADD CONSTRAINT reviews_book_fk FOREIGN KEY (book_id) REFERENCES books (id);\n\
               CREATE INDEX books_author_idx ON books (author_id, id);\n";
    let a = lint(setup, sql);
    let found = of(&a, "foreign-key-without-index");
    // books is covered by the later composite index; reviews is not covered at all.
    assert_eq!(found.len(), 1, "{}", summary(&a));
    assert_eq!(
        line(sql, found[0]),
        3,
        "reported at the ALTER TABLE that adds the key"
    );
    assert!(
        found[0].message.contains("reviews.book_id"),
        "{}",
        found[0].message
    );
}

#[test]
fn index_that_does_not_lead_with_the_key_does_not_count() {
    let setup = "CREATE TABLE authors (id bigint PRIMARY KEY);";
    let sql = "CREATE TABLE books (id bigint PRIMARY KEY, author_id bigint REFERENCES authors (id));\n\
               CREATE INDEX books_id_author_idx ON books (id, author_id);\n";
    let a = lint(setup, sql);
    assert_eq!(
        of(&a, "foreign-key-without-index").len(),
        1,
        "{}",
        summary(&a)
    );
}

#[test]
fn foreign_key_cycle_names_its_tables() {
    let setup = "CREATE TABLE teams (id bigint PRIMARY KEY, captain_id bigint NOT NULL);\n\
                 CREATE TABLE players (id bigint PRIMARY KEY, team_id bigint NOT NULL REFERENCES teams (id));";
    let sql = "ALTER TABLE teams ADD FOREIGN KEY (captain_id) REFERENCES players (id);";
    let a = lint(setup, sql);
    let found = of(&a, "circular-foreign-keys");
    assert_eq!(found.len(), 1, "{}", summary(&a));
    assert!(
        found[0].message.contains("teams → players → teams"),
        "{}",
        found[0].message
    );
}

#[test]
fn self_reference_is_not_a_cycle() {
    let sql = "CREATE TABLE categories (id bigint PRIMARY KEY, parent_id bigint REFERENCES categories (id));\n\
               CREATE INDEX categories_parent_idx ON categories (parent_id);";
    let a = lint("", sql);
    assert!(
        of(&a, "circular-foreign-keys").is_empty(),
        "{}",
        summary(&a)
    );
    assert!(
        of(&a, "foreign-key-without-index").is_empty(),
        "{}",
        summary(&a)
    );
}

#[test]
fn widening_type_changes_are_not_narrowing() {
    let setup = "CREATE TABLE t (id bigint PRIMARY KEY, a varchar(20), b varchar(50), \
                 c numeric(10,2), d integer, e varchar(10));";
    let sql = "ALTER TABLE t ALTER COLUMN a TYPE varchar(50);\n\
               ALTER TABLE t ALTER COLUMN b TYPE text;\n\
               ALTER TABLE t ALTER COLUMN c TYPE numeric(12,2);\n\
               ALTER TABLE t ALTER COLUMN d TYPE bigint;\n\
               ALTER TABLE t ALTER COLUMN e TYPE varchar(5);\n";
    let a = lint(setup, sql);
    let found = of(&a, "narrowing-type-change");
    assert_eq!(found.len(), 1, "only e narrows:\n{}", summary(&a));
    assert_eq!(line(sql, found[0]), 5);
    assert!(
        found[0].message.contains("character varying(10)")
            && found[0].message.contains("character varying(5)"),
        "{}",
        found[0].message
    );
}

#[test]
fn objects_created_in_the_same_migration_break_no_client() {
    let sql = "CREATE TABLE drafts (id bigint PRIMARY KEY, body text, note text);\n\
               ALTER TABLE drafts RENAME COLUMN body TO content;\n\
               ALTER TABLE drafts DROP COLUMN note;\n\
               ALTER TABLE drafts ADD COLUMN owner_id bigint NOT NULL;\n\
               ALTER TABLE drafts RENAME TO scratch;\n\
               DROP TABLE scratch;\n";
    let a = lint("", sql);
    for id in BREAKING {
        assert!(of(&a, id).is_empty(), "{id}:\n{}", summary(&a));
    }
}

#[test]
fn add_column_then_set_not_null_in_one_statement_is_required_column() {
    let setup = "CREATE TABLE accounts (id bigint PRIMARY KEY);";
    let sql = "ALTER TABLE accounts ADD COLUMN plan text, ALTER COLUMN plan SET NOT NULL;";
    let a = lint(setup, sql);
    assert_eq!(of(&a, "add-required-column").len(), 1, "{}", summary(&a));
    let with_default =
        "ALTER TABLE accounts ADD COLUMN plan text DEFAULT 'free', ALTER COLUMN plan SET NOT NULL;";
    let a = lint(setup, with_default);
    assert!(of(&a, "add-required-column").is_empty(), "{}", summary(&a));
}

#[test]
fn hygiene_is_judged_where_the_column_is_introduced() {
    // The timestamp column was created by an earlier migration: touching the table again
    // does not repeat the finding, but changing a column's type to timestamp does.
    let setup = "CREATE TABLE audit (id bigint PRIMARY KEY, at timestamp, note text);";
    let sql = "ALTER TABLE audit ADD COLUMN actor text;\n\
               ALTER TABLE audit ALTER COLUMN note TYPE timestamp USING note::timestamp;\n";
    let a = lint(setup, sql);
    let found = of(&a, "prefer-timestamptz");
    assert_eq!(found.len(), 1, "{}", summary(&a));
    assert_eq!(line(sql, found[0]), 2);
    assert!(
        found[0].message.contains("audit.note"),
        "{}",
        found[0].message
    );
}

#[test]
fn primary_key_added_later_in_the_migration_counts() {
    let sql = "CREATE TABLE tags (name text NOT NULL);\n\
               ALTER TABLE tags ADD PRIMARY KEY (name);\n";
    let a = lint("", sql);
    assert!(of(&a, "missing-primary-key").is_empty(), "{}", summary(&a));
    let a = lint("", "CREATE TEMPORARY TABLE scratch (x int);");
    assert!(of(&a, "missing-primary-key").is_empty(), "{}", summary(&a));
}

#[test]
fn long_identifier_reports_the_truncated_name() {
    let long = format!("t_{}", "x".repeat(70));
    let sql = format!("CREATE TABLE {long} (id bigint PRIMARY KEY);");
    let a = lint("", &sql);
    let found = of(&a, "identifier-too-long");
    assert_eq!(found.len(), 1, "{}", summary(&a));
    assert!(
        found[0].message.contains(&long[..63]),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("72 bytes"),
        "{}",
        found[0].message
    );
}

#[test]
fn down_scripts_are_not_judged_by_breaking_rules() {
    let mut m = inline_migration(
        1,
        "add_nickname",
        "ALTER TABLE users ADD COLUMN nickname text;",
        true,
    );
    let down = "ALTER TABLE users DROP COLUMN nickname;";
    m.down = Some(Script {
        path: PathBuf::from("add_nickname.down.sql"),
        source: down.into(),
        range: 0..down.len(),
        whole_statements: Vec::new(),
        host: None,
    });
    let setup = inline_migration(
        0,
        "setup",
        "CREATE TABLE users (id bigint PRIMARY KEY);",
        true,
    );
    let migrations: Vec<Migration> = vec![setup, m];
    let a = analyze::analyze(&migrations, &Settings::default(), &|m| m.order == 1);
    assert!(of(&a, "drop-column").is_empty(), "{}", summary(&a));
}

// ---- ignore comments (src/suppress.rs)

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, a text, b text, c text);";

#[test]
fn ignore_above_a_statement_suppresses_only_that_statement() {
    let sql = "-- lockstep:ignore drop-column unused since release 12\n\
               ALTER TABLE users DROP COLUMN a;\n\
               ALTER TABLE users DROP COLUMN b;\n";
    let a = lint(USERS, sql);
    let found = of(&a, "drop-column");
    assert_eq!(found.len(), 1, "{}", summary(&a));
    assert_eq!(line(sql, found[0]), 3);
    assert!(of(&a, "unused-ignore").is_empty(), "{}", summary(&a));
}

#[test]
fn ignore_applies_across_comment_lines_but_not_past_a_statement() {
    let sql = "-- lockstep:ignore drop-column unused since release 12\n\
               -- (the reports job was rewritten)\n\
               \n\
               ALTER TABLE users DROP COLUMN a;\n\
               ALTER TABLE users DROP COLUMN b; -- lockstep:ignore drop-column done\n\
               ALTER TABLE users DROP COLUMN c;\n";
    let a = lint(USERS, sql);
    let found = of(&a, "drop-column");
    assert_eq!(found.len(), 1, "{}", summary(&a));
    assert_eq!(
        line(sql, found[0]),
        6,
        "a trailing comment covers its own line only"
    );
}

#[test]
fn ignore_file_suppresses_the_rule_in_the_whole_file() {
    let sql = "-- lockstep:ignore-file drop-column contract migration after release 12\n\
               ALTER TABLE users DROP COLUMN a;\n\
               ALTER TABLE users DROP COLUMN b;\n\
               ALTER TABLE users RENAME COLUMN c TO d;\n";
    let a = lint(USERS, sql);
    assert!(of(&a, "drop-column").is_empty(), "{}", summary(&a));
    assert_eq!(of(&a, "rename-column").len(), 1, "other rules still fire");
    assert!(of(&a, "unused-ignore").is_empty(), "{}", summary(&a));
}

#[test]
fn alias_ids_suppress_the_rules_they_stand_for() {
    let sql = "-- lockstep:ignore drop-breaks-clients contract step\n\
               ALTER TABLE users DROP COLUMN a;\n\
               -- lockstep:ignore rename-breaks-clients view keeps old name\n\
               ALTER TABLE users RENAME COLUMN b TO bb;\n";
    let a = lint(USERS, sql);
    for id in ["drop-column", "rename-column", "unused-ignore"] {
        assert!(of(&a, id).is_empty(), "{id}:\n{}", summary(&a));
    }
}

#[test]
fn unused_ignore_is_reported_at_the_comment() {
    let sql = "-- lockstep:ignore drop-column nothing is dropped here\n\
               ALTER TABLE users ADD COLUMN nickname text;\n\
               -- lockstep:ignore drop-colum typo\n\
               ALTER TABLE users DROP COLUMN a;\n";
    let a = lint(USERS, sql);
    let unused = of(&a, "unused-ignore");
    assert_eq!(unused.len(), 2, "{}", summary(&a));
    assert_eq!(line(sql, unused[0]), 1);
    assert!(
        unused[0].message.contains("suppresses nothing"),
        "{}",
        unused[0].message
    );
    assert_eq!(line(sql, unused[1]), 3);
    assert!(
        unused[1].message.contains("drop-colum"),
        "{}",
        unused[1].message
    );
    assert!(
        unused[1].message.contains("no known rule"),
        "{}",
        unused[1].message
    );
    // The typo did not silence the real finding.
    assert_eq!(of(&a, "drop-column").len(), 1, "{}", summary(&a));
}
