//! The GitHub Action's shell (`.github/action/run.sh`, what `action.yml` runs) executed
//! here: a git repository with a pull request that adds an unsafe migration, a fake
//! `pull_request` event payload, and a fake `gh` on PATH that records its calls. Checks
//! the SARIF file (only the changed migration's findings), the one comment (posted with
//! the marker, the findings and the plan's Mermaid chart), that a second run updates that
//! comment instead of posting another, and the outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The fake `gh`: appends each call (arguments, then the body file's content when an
/// argument is `body=@FILE`) to $FAKE_GH_LOG; answers the comment listing with the ids
/// in $FAKE_GH_EXISTING (what the real `--jq` filter would print).
const FAKE_GH: &str = r#"#!/usr/bin/env bash
set -eu
{
  printf 'CALL'
  for a in "$@"; do printf ' [%s]' "$a"; done
  printf '\n'
  for a in "$@"; do
    case "$a" in
      body=@*) printf 'BODY<<\n'; cat "${a#body=@}"; printf '>>BODY\n' ;;
    esac
  done
} >> "$FAKE_GH_LOG"
case " $* " in
  *" --paginate "*) if [ -n "${FAKE_GH_EXISTING:-}" ]; then echo "$FAKE_GH_EXISTING"; fi ;;
  *) echo '{}' ;;
esac
"#;

struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    bin: PathBuf,
    event: PathBuf,
    temp: PathBuf,
    base: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let db = repo.join("db");
    std::fs::create_dir_all(&db).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        db.join("001_users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    )
    .unwrap();
    // Unsafe, but already merged: the PR must not be blamed for it.
    std::fs::write(
        db.join("002_users_name.sql"),
        "CREATE INDEX users_email_idx ON users (email);\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(
        db.join("003_users_email_lower.sql"),
        "CREATE INDEX users_lower_email_idx ON users (lower(email));\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "pr"]);

    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(&gh, FAKE_GH).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();

    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "action": "synchronize",
            "number": 7,
            "pull_request": {"number": 7, "base": {"sha": base, "ref": "main"}},
            "repository": {"full_name": "acme/shop"}
        })
        .to_string(),
    )
    .unwrap();
    let temp = dir.path().join("runner-temp");
    std::fs::create_dir(&temp).unwrap();
    Setup {
        _dir: dir,
        repo,
        bin,
        event,
        temp,
        base,
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    gh_log: String,
    output: String,
}

fn run_action(s: &Setup, existing_comment: Option<&str>, tag: &str) -> Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/action/run.sh");
    let gh_log = s.temp.join(format!("gh-{tag}.log"));
    let output = s.temp.join(format!("output-{tag}"));
    let summary = s.temp.join(format!("summary-{tag}"));
    let path = format!(
        "{}:{}",
        s.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(&s.repo)
        .env("PATH", path)
        .env("LOCKSTEP", env!("CARGO_BIN_EXE_lockstep"))
        .env("GITHUB_EVENT_PATH", &s.event)
        .env("GITHUB_REPOSITORY", "acme/shop")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_TEMP", &s.temp)
        .env("INPUT_PATHS", "db")
        .env("INPUT_FAIL_ON", "error")
        .env("GH_TOKEN", "fake")
        .env("FAKE_GH_LOG", &gh_log)
        .env("FAKE_GH_EXISTING", existing_comment.unwrap_or(""))
        .env_remove("INPUT_BASE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        gh_log: std::fs::read_to_string(&gh_log).unwrap_or_default(),
        output: std::fs::read_to_string(&output).unwrap_or_default(),
    }
}

fn output_value(output: &str, key: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

#[test]
fn pull_request_gets_sarif_and_one_comment() {
    let s = setup();
    let first = run_action(&s, None, "first");
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    // Outputs: lint exited 1 (an error finding), the files exist.
    assert_eq!(
        output_value(&first.output, "exit-code").as_deref(),
        Some("1"),
        "{}",
        first.output
    );
    let sarif_path = output_value(&first.output, "sarif").expect("sarif output");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let files: Vec<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    // --since the PR base: only the migration the PR adds, not the merged one.
    assert!(
        files
            .iter()
            .all(|f| f.ends_with("db/003_users_email_lower.sql")),
        "{files:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "create-index-non-concurrently")
    );

    // The comment: listed once (to find an earlier one), then POSTed with the marker.
    let calls: Vec<&str> = first
        .gh_log
        .lines()
        .filter(|l| l.starts_with("CALL"))
        .collect();
    assert_eq!(calls.len(), 2, "{}", first.gh_log);
    assert!(calls[0].contains("[--paginate] [repos/acme/shop/issues/7/comments]"));
    assert!(
        calls[1].contains("[--method] [POST] [repos/acme/shop/issues/7/comments]"),
        "{}",
        calls[1]
    );
    let body = first
        .gh_log
        .split("BODY<<\n")
        .nth(1)
        .and_then(|b| b.split(">>BODY").next())
        .expect("comment body");
    assert!(body.starts_with("<!-- lockstep-pr-comment -->\n"), "{body}");
    assert!(body.contains("## lockstep: 1 error"), "{body}");
    assert!(
        body.contains("003\\_users") || body.contains("003_users"),
        "{body}"
    );
    assert!(!body.contains("002_users_name"), "merged migration: {body}");
    assert!(body.contains("```mermaid\nflowchart TD"), "{body}");
    assert!(body.contains("CREATE INDEX CONCURRENTLY users_lower_email_idx"));
    // The job summary got the same report.
    let summary = std::fs::read_to_string(s.temp.join("summary-first")).unwrap();
    assert!(body.ends_with(&summary), "summary differs from the comment");

    // Second push: the earlier comment (id 4242) is updated, not duplicated.
    let second = run_action(&s, Some("4242"), "second");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let calls: Vec<&str> = second
        .gh_log
        .lines()
        .filter(|l| l.starts_with("CALL"))
        .collect();
    assert_eq!(calls.len(), 2, "{}", second.gh_log);
    assert!(
        calls[1].contains("[--method] [PATCH] [repos/acme/shop/issues/comments/4242]"),
        "{}",
        calls[1]
    );
    assert!(!second.gh_log.contains("[POST]"));
}

#[test]
fn a_clean_pull_request_posts_nothing_and_a_bad_ref_stops() {
    let s = setup();
    // Compare with the PR head itself: nothing changed, so nothing to say.
    let head = git(&s.repo, &["rev-parse", "HEAD"]);
    let event = serde_json::json!({
        "pull_request": {"number": 8, "base": {"sha": head}},
        "repository": {"full_name": "acme/shop"}
    });
    std::fs::write(&s.event, event.to_string()).unwrap();
    let run = run_action(&s, None, "clean");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(output_value(&run.output, "exit-code").as_deref(), Some("0"));
    assert!(!run.gh_log.contains("[POST]"), "{}", run.gh_log);
    assert!(run.stdout.contains("no comment posted"), "{}", run.stdout);

    // A base that is no commit: lint's usage error (2) stops the step.
    let event = serde_json::json!({
        "pull_request": {"number": 9, "base": {"sha": "not-a-commit"}},
        "repository": {"full_name": "acme/shop"}
    });
    std::fs::write(&s.event, event.to_string()).unwrap();
    let run = run_action(&s, None, "bad");
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("not-a-commit"), "{}", run.stderr);
    assert!(
        run.gh_log.is_empty(),
        "no comment on an error: {}",
        run.gh_log
    );
    let _ = &s.base;
}
