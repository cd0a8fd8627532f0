//! The rule catalog: every `rules/<id>.yaml` has an implementation and vice versa, every
//! rule's `bad` example fires it and its `good` example does not, plus focused checks of
//! size-aware severity, transaction and timeout tracking, and finding de-duplication.

use lockstep::analyze::{analyze, inline_migration};
use lockstep::ops::ObjName;
use lockstep::rules::{ExampleScope, Finding, RuleMeta, metas, registry};
use lockstep::settings::{RuleLevel, Settings, Severity, TableSize};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// (file stem, parsed YAML) for every file in rules/.
fn yaml_files() -> Vec<(String, RuleMeta)> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(rules_dir()).expect("rules/ is readable");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("yaml is readable");
        let meta: RuleMeta = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: does not match RuleMeta: {e}", path.display()));
        out.push((stem, meta));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Lints `sql` as the second migration, after `setup` as the first (in a transaction).
fn lint_with(setup: &str, sql: &str, in_transaction: bool, settings: &Settings) -> Vec<Finding> {
    let migs = vec![
        inline_migration(0, "setup", setup, true),
        inline_migration(1, "example", sql, in_transaction),
    ];
    // Each rule's own fact, also when it was folded into another finding as a note.
    lockstep::rules::expand_notes(&analyze(&migs, settings, &|m| m.order == 1).findings)
}

fn lint(setup: &str, sql: &str, in_transaction: bool) -> Vec<Finding> {
    lint_with(setup, sql, in_transaction, &Settings::default())
}

fn of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

/// The PostgreSQL version a rule's examples are checked on: the newest it applies to.
fn version_for(meta: &RuleMeta) -> u32 {
    lockstep::locks::PG_VERSIONS
        .rev()
        .find(|v| meta.applies_to(*v))
        .unwrap_or(lockstep::locks::DEFAULT_PG_VERSION)
}

fn sized(table: &str, rows: u64) -> Settings {
    let mut s = Settings::default();
    s.tables.insert(
        ObjName::public(table),
        TableSize {
            rows: Some(rows),
            bytes: None,
        },
    );
    s
}

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, nick text, \
                     score integer, rank integer, name varchar(100));\n";

#[test]
fn every_yaml_has_a_rule_and_every_rule_a_yaml() {
    let files = yaml_files();
    for (stem, meta) in &files {
        assert_eq!(stem, &meta.id, "rules/{stem}.yaml declares id {}", meta.id);
    }
    // Every registered rule's embedded YAML parses (metas() skips the ones that do not).
    assert_eq!(
        registry().len(),
        metas().len(),
        "some registered rule's YAML does not parse as RuleMeta"
    );
    let file_ids: BTreeSet<&str> = files.iter().map(|(_, m)| m.id.as_str()).collect();
    let impl_ids: Vec<&str> = metas().iter().map(|(_, m)| m.id.as_str()).collect();
    let impl_set: BTreeSet<&str> = impl_ids.iter().copied().collect();
    assert_eq!(impl_ids.len(), impl_set.len(), "a rule is registered twice");
    let missing_impl: Vec<_> = file_ids.difference(&impl_set).collect();
    let missing_yaml: Vec<_> = impl_set.difference(&file_ids).collect();
    assert!(
        missing_impl.is_empty(),
        "YAML without a rule: {missing_impl:?}"
    );
    assert!(
        missing_yaml.is_empty(),
        "rule without a YAML: {missing_yaml:?}"
    );
}

#[test]
fn every_bad_example_fires_and_every_good_example_does_not() {
    let mut failures = Vec::new();
    for (_, meta) in metas() {
        // Folder-scoped examples (down scripts, lockstep.lock) are exercised by their
        // rules' own integration tests.
        if meta.example_scope == ExampleScope::Folder {
            continue;
        }
        let mut settings = Settings {
            pg_version: version_for(meta),
            ..Default::default()
        };
        // Opt-in rules are exercised as a team that enabled them sees them.
        if meta.opt_in {
            settings
                .rules
                .insert(meta.id.clone(), RuleLevel::On(meta.severity));
        }
        let bad = lint_with(
            &meta.setup,
            &meta.bad,
            meta.example_in_transaction,
            &settings,
        );
        if of(&bad, &meta.id).is_empty() {
            failures.push(format!(
                "{}: bad example does not fire (pg {}); findings: {:?}",
                meta.id,
                settings.pg_version,
                bad.iter().map(|f| &f.rule).collect::<Vec<_>>()
            ));
        }
        let good = lint_with(
            &meta.setup,
            &meta.good,
            meta.example_in_transaction,
            &settings,
        );
        for f in of(&good, &meta.id) {
            failures.push(format!("{}: good example fires: {}", meta.id, f.message));
        }
        // Setup must parse: an unparsed setup statement would leave the catalog wrong.
        let setup = lint_with("", &meta.setup, true, &settings);
        for f in of(&setup, "unparsed-statement") {
            failures.push(format!("{}: setup not parsed: {:?}", meta.id, f.label));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_has_complete_documentation() {
    for (_, m) in metas() {
        for (field, text) in [
            ("title", &m.title),
            ("summary", &m.summary),
            ("why", &m.why),
            ("instead", &m.instead),
            ("bad", &m.bad),
            ("good", &m.good),
        ] {
            assert!(!text.trim().is_empty(), "{}: empty {field}", m.id);
        }
        assert!(
            lockstep::locks::PG_VERSIONS
                .clone()
                .any(|v| m.applies_to(v)),
            "{}: pg_versions {} matches no supported version",
            m.id,
            m.pg_versions
        );
    }
}

#[test]
fn size_decides_severity_and_the_message_shows_it() {
    let sql = "CREATE INDEX users_email_idx ON users (email);";
    let rule = "create-index-non-concurrently";

    let large = lint_with(USERS, sql, true, &sized("users", 50_000_000));
    let f = of(&large, rule);
    assert_eq!(f.len(), 1, "{large:?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].message.contains("50 M rows"), "{}", f[0].message);

    let unknown = lint(USERS, sql, true);
    let f = of(&unknown, rule);
    assert_eq!(f.len(), 1);
    // Unknown size keeps the rule's severity (README, "Severity policy").
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].size_unknown);
    assert!(f[0].message.contains("size unknown"), "{}", f[0].message);

    let small = lint_with(USERS, sql, true, &sized("users", 500));
    assert_eq!(of(&small, rule)[0].severity, Severity::Warning);

    // Created in the same migration: nothing about locks at all.
    let same = lint_with(
        "",
        &format!("{USERS}{sql}"),
        true,
        &sized("users", 50_000_000),
    );
    assert!(of(&same, rule).is_empty(), "{same:?}");
    assert!(of(&same, "missing-lock-timeout").is_empty(), "{same:?}");
}

#[test]
fn concurrently_outside_a_transaction_is_clean() {
    let sql = "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);";
    let outside = lint(USERS, sql, false);
    assert!(
        of(&outside, "concurrently-in-transaction").is_empty(),
        "{outside:?}"
    );
    assert!(of(&outside, "create-index-non-concurrently").is_empty());
    assert!(of(&outside, "missing-lock-timeout").is_empty());

    let inside = lint(USERS, sql, true);
    assert_eq!(of(&inside, "concurrently-in-transaction").len(), 1);

    // After an explicit BEGIN in a non-transactional migration: inside again.
    let begun = lint(USERS, &format!("BEGIN;\n{sql}\nCOMMIT;"), false);
    let f = of(&begun, "concurrently-in-transaction");
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("line 1"), "{}", f[0].message);

    // And outside again after the COMMIT.
    let after = lint(USERS, &format!("BEGIN;\nSELECT 1;\nCOMMIT;\n{sql}"), false);
    assert!(
        of(&after, "concurrently-in-transaction").is_empty(),
        "{after:?}"
    );
}

#[test]
fn lock_timeout_zero_does_not_count() {
    let alter = "ALTER TABLE users ADD COLUMN bio text;";
    let rule = "missing-lock-timeout";

    let none = lint(USERS, alter, true);
    let f = of(&none, rule);
    assert_eq!(f.len(), 1, "{none:?}");
    assert!(
        f[0].message.contains("ACCESS EXCLUSIVE"),
        "{}",
        f[0].message
    );

    let zero = lint(USERS, &format!("SET lock_timeout = 0;\n{alter}"), true);
    assert_eq!(
        of(&zero, rule).len(),
        1,
        "lock_timeout = 0 disables the timeout"
    );

    let two = lint(USERS, &format!("SET lock_timeout = '2s';\n{alter}"), true);
    assert!(of(&two, rule).is_empty(), "{two:?}");

    let assumed = lint_with(
        USERS,
        alter,
        true,
        &Settings {
            assume_lock_timeout: true,
            ..Default::default()
        },
    );
    assert!(of(&assumed, rule).is_empty());

    // A weak lock (CREATE INDEX CONCURRENTLY: SHARE UPDATE EXCLUSIVE) blocks nobody.
    let weak = lint(
        USERS,
        "CREATE INDEX CONCURRENTLY users_nick_idx ON users (nick);",
        false,
    );
    assert!(of(&weak, rule).is_empty(), "{weak:?}");
}

#[test]
fn binary_coercible_type_change_is_not_a_rewrite() {
    let rule = "column-type-rewrite";
    for sql in [
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);",
        "ALTER TABLE users ALTER COLUMN name TYPE text;",
    ] {
        let f = lint(USERS, sql, true);
        assert!(of(&f, rule).is_empty(), "{sql}: {f:?}");
    }
    let f = lint(
        USERS,
        "ALTER TABLE users ALTER COLUMN score TYPE bigint;",
        true,
    );
    let r = of(&f, rule);
    assert_eq!(r.len(), 1, "{f:?}");
    assert!(r[0].message.contains("rewrites"), "{}", r[0].message);
    assert!(r[0].message.contains("\"users\""), "{}", r[0].message);
}

#[test]
fn one_statement_breaking_several_rules_gives_one_finding_per_rule() {
    let setup = format!("{USERS}CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n");
    let mut settings = sized("users", 50_000_000);
    settings.tables.insert(
        ObjName::public("orders"),
        TableSize {
            rows: Some(2_000_000),
            bytes: None,
        },
    );
    let f = lint_with(
        &setup,
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
        true,
        &settings,
    );
    let fk = of(&f, "add-foreign-key");
    assert_eq!(fk.len(), 1, "{f:?}");
    // Both tables named, with their sizes.
    assert!(
        fk[0].message.contains("\"orders\" (2.0 M rows)"),
        "{}",
        fk[0].message
    );
    assert!(
        fk[0].message.contains("\"users\" (50 M rows)"),
        "{}",
        fk[0].message
    );
    assert_eq!(fk[0].severity, Severity::Error);
    assert_eq!(of(&f, "missing-lock-timeout").len(), 1, "{f:?}");
    // The validation fact is add-foreign-key's alone.
    assert!(of(&f, "add-constraint-validates").is_empty(), "{f:?}");
    let mut rules: Vec<&str> = f.iter().map(|x| x.rule.as_str()).collect();
    let n = rules.len();
    rules.dedup();
    assert_eq!(rules.len(), n, "a rule fired twice: {f:?}");
}

#[test]
fn multi_subcommand_alter_reports_each_fact_once() {
    let f = lint(
        USERS,
        "ALTER TABLE users ALTER COLUMN nick SET NOT NULL, ALTER COLUMN score SET NOT NULL;",
        true,
    );
    let scan = of(&f, "set-not-null-scan");
    assert_eq!(scan.len(), 1, "{f:?}");
    assert!(
        scan[0].message.contains("nick") && scan[0].message.contains("score"),
        "{}",
        scan[0].message
    );
    assert_eq!(of(&f, "missing-lock-timeout").len(), 1);

    let f = lint(
        USERS,
        "ALTER TABLE users ALTER COLUMN score TYPE bigint, ALTER COLUMN rank TYPE bigint;",
        true,
    );
    assert_eq!(of(&f, "column-type-rewrite").len(), 1, "{f:?}");
    assert_eq!(of(&f, "missing-lock-timeout").len(), 1, "{f:?}");
}

#[test]
fn set_not_null_uses_a_validated_check_from_pg12() {
    let sql = "ALTER TABLE users ADD CONSTRAINT users_nick_nn CHECK (nick IS NOT NULL) NOT VALID;\n\
               ALTER TABLE users VALIDATE CONSTRAINT users_nick_nn;\n\
               ALTER TABLE users ALTER COLUMN nick SET NOT NULL;";
    let pg = |v| Settings {
        pg_version: v,
        ..Default::default()
    };
    let on12 = lint_with(USERS, sql, false, &pg(12));
    assert!(of(&on12, "set-not-null-scan").is_empty(), "{on12:?}");
    let on11 = lint_with(USERS, sql, false, &pg(11));
    assert_eq!(of(&on11, "set-not-null-scan").len(), 1, "{on11:?}");
    // Not validated: still a scan.
    let unvalidated = lint_with(
        USERS,
        "ALTER TABLE users ADD CONSTRAINT users_nick_nn CHECK (nick IS NOT NULL) NOT VALID;\n\
         ALTER TABLE users ALTER COLUMN nick SET NOT NULL;",
        false,
        &pg(15),
    );
    assert_eq!(of(&unvalidated, "set-not-null-scan").len(), 1);
}

#[test]
fn validate_after_commit_is_fine() {
    let add = "ALTER TABLE users ADD CONSTRAINT users_score_pos CHECK (score > 0) NOT VALID;";
    let validate = "ALTER TABLE users VALIDATE CONSTRAINT users_score_pos;";
    let rule = "validate-in-same-transaction-as-add";
    // Non-transactional migration: each statement commits on its own.
    let auto = lint(USERS, &format!("{add}\n{validate}"), false);
    assert!(of(&auto, rule).is_empty(), "{auto:?}");
    let committed = lint(
        USERS,
        &format!("BEGIN;\n{add}\nCOMMIT;\nBEGIN;\n{validate}\nCOMMIT;"),
        false,
    );
    assert!(of(&committed, rule).is_empty(), "{committed:?}");
    let same = lint(USERS, &format!("BEGIN;\n{add}\n{validate}\nCOMMIT;"), false);
    let f = of(&same, rule);
    assert_eq!(f.len(), 1, "{same:?}");
    assert!(f[0].message.contains("line 2"), "{}", f[0].message);
    // The same fact is not repeated as long work after the ADD's lock.
    assert!(
        of(&same, "long-work-after-strong-lock").is_empty(),
        "{same:?}"
    );
}

#[test]
fn long_work_is_reported_only_while_the_lock_is_held() {
    let rule = "long-work-after-strong-lock";
    let alter = "ALTER TABLE users ADD COLUMN status text;";
    let update = "UPDATE users SET status = 'x';";
    let held = lint(USERS, &format!("{alter}\n{update}"), true);
    let f = of(&held, rule);
    assert_eq!(f.len(), 1, "{held:?}");
    assert!(
        f[0].message.contains("updates rows of \"users\""),
        "{}",
        f[0].message
    );
    // The sharper fact wins: no schema-and-data finding for the same pair.
    assert!(
        of(&held, "schema-and-data-in-one-transaction").is_empty(),
        "{held:?}"
    );

    let split = lint(USERS, &format!("BEGIN;\n{alter}\nCOMMIT;\n{update}"), false);
    assert!(of(&split, rule).is_empty(), "{split:?}");
}

#[test]
fn begin_tracking() {
    let rule = "nested-or-uncommitted-begin";
    let nested = lint(USERS, "BEGIN;\nBEGIN;\nSELECT 1;\nCOMMIT;", false);
    assert_eq!(of(&nested, rule).len(), 1, "{nested:?}");
    let in_framework = lint(USERS, "BEGIN;\nSELECT 1;\nCOMMIT;", true);
    assert_eq!(of(&in_framework, rule).len(), 1, "{in_framework:?}");
    let open = lint(USERS, "SELECT 1;\nBEGIN;\nSELECT 1;", false);
    let f = of(&open, rule);
    assert_eq!(f.len(), 1, "{open:?}");
    assert!(f[0].message.contains("line 2"), "{}", f[0].message);
    let fine = lint(USERS, "BEGIN;\nSELECT 1;\nCOMMIT;", false);
    assert!(of(&fine, rule).is_empty(), "{fine:?}");
}

#[test]
fn version_gated_rules_stay_quiet_elsewhere() {
    let pg = |v| Settings {
        pg_version: v,
        ..Default::default()
    };
    let enum_setup = "CREATE TYPE mood AS ENUM ('ok');";
    let add = "ALTER TYPE mood ADD VALUE 'happy';";
    assert_eq!(
        of(
            &lint_with(enum_setup, add, true, &pg(11)),
            "enum-add-value-in-transaction"
        )
        .len(),
        1
    );
    assert!(
        of(
            &lint_with(enum_setup, add, true, &pg(12)),
            "enum-add-value-in-transaction"
        )
        .is_empty()
    );
    let parts = "CREATE TABLE ev (id bigint, d date) PARTITION BY RANGE (d);\n\
                 CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');";
    let detach = "ALTER TABLE ev DETACH PARTITION ev_1;";
    let rule = "detach-partition-non-concurrently";
    assert!(of(&lint_with(parts, detach, true, &pg(13)), rule).is_empty());
    assert_eq!(of(&lint_with(parts, detach, true, &pg(14)), rule).len(), 1);
}

#[test]
fn unparsed_statement_points_at_the_statement() {
    let sql = "SELECT 1;\nALTR TABLE users ADD COLUMN x int;\n";
    let f = lint(USERS, sql, true);
    let u = of(&f, "unparsed-statement");
    assert_eq!(u.len(), 1, "{f:?}");
    assert_eq!(u[0].severity, Severity::Warning);
    assert_eq!(&sql[u[0].span.clone()], "ALTR TABLE users ADD COLUMN x int");
    assert!(u[0].label.as_deref().is_some_and(|l| !l.is_empty()));
}
