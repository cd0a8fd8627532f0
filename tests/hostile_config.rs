//! Hostile configuration and arguments: a `lockstep.yaml` that would expand without limit,
//! an oversized one, unbounded exclude lists, out-of-range numbers, and a `--since` ref that
//! git would read as an option. Each is refused with exit code 2 and a message that says
//! where and why; nothing of the user's is touched.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn lockstep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    c.env("NO_COLOR", "1");
    for v in ["DATABASE_URL", "PGHOST", "PGDATABASE", "PGSERVICE"] {
        c.env_remove(v);
    }
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A folder with one harmless migration and `config` as its lockstep.yaml.
fn project(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("001_users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("lockstep.yaml"), config).unwrap();
    dir
}

fn lint(dir: &Path) -> Output {
    lockstep()
        .current_dir(dir)
        .args(["lint", "."])
        .output()
        .expect("the lockstep binary runs")
}

/// Largest resident set of any child process waited for so far, in bytes.
fn children_max_rss() -> u64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0);
    // Linux reports kilobytes.
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn yaml_alias_bomb_is_refused_quickly_naming_the_line() {
    // One 1 KB string, anchored once and referenced 1,000 times: 1 MB once expanded. The
    // real attack (1 MB × 5,000) exhausted 24 GB; this keeps the test small but takes the
    // same path.
    let big = "x".repeat(1024);
    let aliases = vec!["*a"; 1000].join(", ");
    let config = format!("pg_version: 15\nexclude: [&a \"{big}\", {aliases}]\n");
    let dir = project(&config);
    let started = Instant::now();
    let o = lint(dir.path());
    let elapsed = started.elapsed();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("lockstep.yaml:2"), "{err}");
    assert!(err.contains("anchors"), "{err}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let rss = children_max_rss();
    assert!(rss < 200 << 20, "a child used {} MB", rss >> 20);

    // An alias anywhere (here a merge key) is refused the same way, at its line.
    let o = lint(project("large_table: &t {rows: 1000}\ntables:\n  users: *t\n").path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("lockstep.yaml:1"), "{}", stderr(&o));
    // `&` and `*` inside values are just characters.
    let o = lint(project("exclude: ['*.down.sql', \"a&b\"]\n").path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn oversized_config_is_refused_before_parsing() {
    let mut config = String::from("pg_version: 15\n");
    while config.len() <= 1 << 20 {
        config.push_str("# padding padding padding padding padding padding padding\n");
    }
    let o = lint(project(&config).path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("1 MiB"), "{err}");
}

#[test]
fn exclude_patterns_are_bounded() {
    let many: Vec<String> = (0..1001).map(|i| format!("'p{i}.sql'")).collect();
    let o = lint(project(&format!("pg_version: 15\nexclude: [{}]\n", many.join(", "))).path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("lockstep.yaml:2"), "{err}");
    assert!(err.contains("at most 1000"), "{err}");

    let long = "a".repeat(5000);
    let o = lint(project(&format!("exclude:\n  - '{long}'\n")).path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("lockstep.yaml:1"), "{err}");
    assert!(err.contains("at most 1024 bytes"), "{err}");
}

#[test]
fn numeric_settings_out_of_range_point_at_the_line() {
    // (config, line, what the message must say)
    let cases = [
        ("backfill:\n  batch_size: 0\n", 2, "below the minimum"),
        ("backfill:\n  batch_size: -5\n", 2, "negative"),
        (
            "backfill:\n  batch_size: 99999999999999999999\n",
            2,
            "above the maximum",
        ),
        ("backfill: {sleep: 100h}\n", 1, "above the maximum"),
        ("backfill:\n  sleep: -1s\n", 2, "negative"),
        (
            "backfill:\n  target_batch_time: 2h\n",
            2,
            "above the maximum",
        ),
        (
            "backfill:\n  max_replica_lag: 1000000h\n",
            2,
            "above the maximum",
        ),
        ("backfill:\n  sleep: forever\n", 2, "not a duration"),
        ("throughput: 0\n", 1, "below the minimum"),
        ("throughput: 10\n", 1, "estimates divide by it"),
        ("large_table:\n  rows: -1\n", 2, "negative"),
        (
            "tables:\n  users: {bytes: 99999999999999999999999TB}\n",
            2,
            "above the maximum",
        ),
        ("pg_version: 99\n", 1, "not supported"),
    ];
    for (config, line, says) in cases {
        let o = lint(project(config).path());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{config}: {err}");
        assert!(
            err.contains(&format!("lockstep.yaml:{line}")),
            "{config}: {err}"
        );
        assert!(err.contains(says), "{config}: {err}");
    }
    // In-range values load.
    let o = lint(
        project("backfill:\n  batch_size: 5000\n  sleep: 0\n  target_batch_time: 200ms\nthroughput: 100MB\n")
            .path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
}

#[test]
fn since_that_looks_like_a_git_option_is_not_one() {
    let dir = project("pg_version: 15\n");
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "base"]);
    let victims = tempfile::tempdir().unwrap();
    let existing = victims.path().join("precious.txt");
    std::fs::write(&existing, "keep me\n").unwrap();
    let fresh = victims.path().join("created.txt");
    for target in [&existing, &fresh] {
        for flag in [
            format!("--since=--output={}", target.display()),
            format!("--since=-o{}", target.display()),
        ] {
            let o = lockstep()
                .current_dir(dir.path())
                .args(["lint", ".", &flag])
                .output()
                .unwrap();
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
            assert!(err.contains("not a commit"), "{flag}: {err}");
        }
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me\n");
    assert!(!fresh.exists(), "git created {}", fresh.display());
    // A real ref still works.
    let o = lockstep()
        .current_dir(dir.path())
        .args(["lint", ".", "--since", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn numeric_flags_out_of_range_are_refused_before_anything_runs() {
    let dir = project("pg_version: 15\n");
    let d = dir.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["backfill", "run", "plan.yaml", "--batch-size", "0"],
            "below the minimum",
        ),
        (
            vec![
                "backfill",
                "run",
                "plan.yaml",
                "--batch-size",
                "99999999999",
            ],
            "above the maximum",
        ),
        (
            vec!["backfill", "run", "plan.yaml", "--sleep", "100000h"],
            "above the maximum",
        ),
        (
            vec!["backfill", "run", "plan.yaml", "--max-lag=-1s"],
            "not a duration",
        ),
        (
            vec!["backfill", "run", "plan.yaml", "--max-batches", "0"],
            "below the minimum",
        ),
        (
            vec!["dry-run", d, "--lock-timeout", "0"],
            "below the minimum",
        ),
        (
            vec!["dry-run", d, "--statement-timeout", "0ms"],
            "below the minimum",
        ),
        (
            vec!["dry-run", d, "--block-budget", "0s"],
            "below the minimum",
        ),
        (
            vec!["dry-run", d, "--lock-timeout", "30000h"],
            "above the maximum",
        ),
        (vec!["dry-run", d, "--throughput", "0"], "below the minimum"),
        (vec!["plan", d, "--lock-timeout", "0"], "--lock-timeout"),
    ];
    for (args, says) in cases {
        let o = lockstep()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn lock_file_aliases_are_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let mig = dir.path().join("migrations");
    std::fs::create_dir(&mig).unwrap();
    std::fs::write(
        mig.join("001_users.sql"),
        "CREATE TABLE users (id bigint);\n",
    )
    .unwrap();
    let big = "x".repeat(1024);
    let aliases = vec!["*e"; 1000].join(", ");
    std::fs::write(
        dir.path().join("lockstep.lock"),
        format!("version: 1\nmigrations: [&e {{id: \"{big}\", path: p, sha256: s}}, {aliases}]\n"),
    )
    .unwrap();
    let o = lockstep()
        .current_dir(dir.path())
        .args(["lint", "migrations"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("line 2") && err.contains("anchors"), "{err}");
}
