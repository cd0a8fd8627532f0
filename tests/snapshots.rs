//! Snapshot tests (insta) of what users read: the pretty and JSON reports on every bundled
//! example folder. A change in wording, a lost or new finding, or a moved span shows up
//! as a reviewed diff (`cargo insta review`).

use std::process::Command;

const LAYOUTS: [&str; 9] = [
    "plain",
    "diesel",
    "golang-migrate",
    "sqlx",
    "flyway",
    "goose",
    "dbmate",
    "sql-migrate",
    "prisma",
];

fn lint(folder: &str, format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        // The pretty report wraps to the terminal: fix the width.
        .env("COLUMNS", "100")
        .args([
            "lint",
            "--format",
            format,
            &format!("migrations-examples/{folder}"),
        ])
        .output()
        .expect("lockstep runs");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "{folder}: exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn pretty_reports() {
    for layout in LAYOUTS {
        insta::assert_snapshot!(format!("pretty_{layout}"), lint(layout, "pretty"));
    }
}

#[test]
fn json_reports() {
    for layout in LAYOUTS {
        let json = lint(layout, "json");
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        // The version is in the tool block; keep the snapshot independent of releases.
        assert_eq!(v["tool"]["name"], "lockstep");
        insta::assert_snapshot!(format!("json_{layout}"), json);
    }
}
