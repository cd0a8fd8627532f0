//! Plan outputs: migration files in each layout (read back by lockstep's own loader),
//! no overwriting, YAML round trip, markdown shape, diff and graphs.

mod plan_support;

use lockstep::plan::{self, Plan, StepKind, diff, graph, render_md, write};
use lockstep::source::{self, Layout};
use plan_support::*;
use std::path::PathBuf;

const BASE: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);";
const MIGRATION: &str = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();\nCREATE INDEX users_email_idx ON users (email);";

fn the_plan() -> Plan {
    plan_for(BASE, MIGRATION)
}

/// Writes the plan in `layout` next to an existing first migration and loads the folder
/// back: every file is a migration of that layout, and each one's transaction mode is
/// what the plan says.
fn round_trip(layout: Layout, first: (&str, &str)) {
    let plan = the_plan();
    let dir = tempfile::tempdir().unwrap();
    let first_path = dir.path().join(first.0);
    std::fs::create_dir_all(first_path.parent().unwrap()).unwrap();
    std::fs::write(&first_path, first.1).unwrap();
    let existing = source::load(&[dir.path().to_path_buf()], Some(layout), &[]).unwrap();
    let versions: Vec<String> = existing
        .migrations
        .iter()
        .map(|m| m.version.clone())
        .collect();
    let files = write::files(&plan, layout, &versions, 1_900_000_000).expect("files");
    write::write_files(dir.path(), &files).unwrap();
    let loaded = source::load(&[dir.path().to_path_buf()], Some(layout), &[]).unwrap();
    let new: Vec<_> = loaded.migrations.iter().skip(1).collect();
    // The backfill step is two migrations (setup, then the CALL).
    let expected = plan.sql_steps().count() + 1;
    assert_eq!(
        new.len(),
        expected,
        "{layout}: {:#?}",
        files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    let no_tx: Vec<bool> = new.iter().map(|m| !m.in_transaction).collect();
    let mut want = Vec::new();
    for s in plan.sql_steps() {
        if s.kind == StepKind::Backfill {
            want.push(false);
        }
        want.push(!s.transactional);
    }
    if matches!(layout, Layout::Plain | Layout::GolangMigrate) {
        // No per-file switch: single statements run outside a transaction by themselves.
        return;
    }
    assert_eq!(no_tx, want, "{layout}: transaction modes");
}

#[test]
fn writes_each_layout_with_its_no_transaction_switch() {
    round_trip(Layout::Diesel, ("2020-01-01-000000_init/up.sql", BASE));
    round_trip(Layout::Sqlx, ("20200101000000_init.sql", BASE));
    round_trip(
        Layout::Goose,
        (
            "20200101000000_init.sql",
            &format!("-- +goose Up\n{BASE}\n"),
        ),
    );
    round_trip(
        Layout::Dbmate,
        (
            "20200101000000_init.sql",
            &format!("-- migrate:up\n{BASE}\n\n-- migrate:down\n"),
        ),
    );
    round_trip(Layout::GolangMigrate, ("000001_init.up.sql", BASE));
    round_trip(Layout::Plain, ("0001_init.sql", BASE));
}

#[test]
fn golang_migrate_non_transactional_files_hold_one_statement() {
    let plan = the_plan();
    let files = write::files(&plan, Layout::GolangMigrate, &["1".into()], 0).expect("files");
    let cic = files
        .iter()
        .find(|f| f.contents.contains("CREATE INDEX CONCURRENTLY"))
        .expect("index file");
    let statements = lockstep::parse::parse_sql(&cic.contents);
    assert_eq!(statements.len(), 1, "{}", cic.contents);
    let call = files
        .iter()
        .find(|f| f.contents.lines().any(|l| l.starts_with("CALL ")))
        .expect("call file");
    assert_eq!(
        lockstep::parse::parse_sql(&call.contents).len(),
        1,
        "{}",
        call.contents
    );
}

#[test]
fn never_overwrites_an_existing_file() {
    let plan = the_plan();
    let dir = tempfile::tempdir().unwrap();
    let files = write::files(&plan, Layout::Plain, &["0001".into()], 0).expect("files");
    let clash = dir.path().join(&files[1].path);
    std::fs::write(&clash, "-- mine\n").unwrap();
    let err = write::write_files(dir.path(), &files).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    // Nothing was written, and the user's file is untouched.
    assert!(!dir.path().join(&files[0].path).exists());
    assert_eq!(std::fs::read_to_string(&clash).unwrap(), "-- mine\n");
}

#[test]
fn cli_write_refuses_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0001_init.sql"), BASE).unwrap();
    std::fs::write(dir.path().join("0002_token.sql"), MIGRATION).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
    let run = || {
        std::process::Command::new(&bin)
            .args(["plan"])
            .arg(dir.path())
            .arg("--write")
            .arg(out_dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let written = std::fs::read_dir(out_dir.path()).unwrap().count();
    assert!(written >= 5);
    let second = run();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already exists"));
}

#[test]
fn yaml_round_trips_and_markdown_has_the_shape() {
    let plan = the_plan();
    let yaml = plan.to_yaml().unwrap();
    assert_eq!(Plan::from_yaml(&yaml).unwrap(), plan);
    assert!(yaml.contains("first_batch_sql"));
    let md = render_md::render(&plan, "plan.yaml");
    assert!(md.starts_with("# Plan for test"));
    assert!(md.contains("## Phase 1 — expand (safe to run now)"));
    assert!(md.contains("## Phase 2 — backfill"));
    assert!(md.contains("lockstep backfill run plan.yaml --step"));
    assert!(md.contains("lock_timeout 2s × 5 attempts"));
}

#[test]
fn diff_and_graphs() {
    let plan = the_plan();
    let d = diff::unified(MIGRATION, &plan, "0002_token.sql");
    assert!(
        d.contains("-ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();")
    );
    assert!(d.contains("+CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"));
    let dot = graph::to_dot(&plan);
    assert!(dot.starts_with("digraph"));
    let edges = dot.matches(" -> ").count();
    let deps: usize = plan.steps.iter().map(|s| s.depends_on.len()).sum();
    assert_eq!(edges, deps);
    assert!(deps > 0);
    let mermaid = graph::to_mermaid(&plan);
    assert!(mermaid.starts_with("flowchart TD"));
    assert_eq!(mermaid.matches(" --> ").count(), deps);
    // Every dependency points backwards: the order satisfies the graph.
    for s in &plan.steps {
        assert!(
            s.depends_on.iter().all(|d| *d < s.id),
            "step {} depends on a later step",
            s.id
        );
    }
}

#[test]
fn plan_migration_replays_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0001_init.sql"), BASE).unwrap();
    std::fs::write(dir.path().join("0002_token.sql"), MIGRATION).unwrap();
    let loaded = source::load(&[dir.path().to_path_buf()], None, &[]).unwrap();
    let p = plan::plan_migration(&loaded.migrations, 1, Some(loaded.layout), &options()).unwrap();
    assert_eq!(p.migration, loaded.migrations[1].id);
    // The key comes from the replayed history.
    let spec = p.steps.iter().find_map(|s| s.backfill.as_ref()).unwrap();
    assert_eq!(spec.key[0].name, "id");
    assert_eq!(spec.key[0].ty, "bigint");
}
