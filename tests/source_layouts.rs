//! The source stage against the bundled example folders (one per layout) and against
//! small purpose-built folders for ordering, errors and options.

use lockstep::source::{Layout, Loaded, MigrationKind, SourceError, load};
use std::fs;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations-examples")
        .join(name)
}

fn load_dir(dir: &Path) -> Loaded {
    match load(&[dir.to_path_buf()], None, &[]) {
        Ok(loaded) => loaded,
        Err(e) => panic!("loading {}: {e}", dir.display()),
    }
}

fn ids(loaded: &Loaded) -> Vec<&str> {
    loaded.migrations.iter().map(|m| m.id.as_str()).collect()
}

fn versions(loaded: &Loaded) -> Vec<&str> {
    loaded
        .migrations
        .iter()
        .map(|m| m.version.as_str())
        .collect()
}

fn in_tx(loaded: &Loaded) -> Vec<bool> {
    loaded.migrations.iter().map(|m| m.in_transaction).collect()
}

fn has_down(loaded: &Loaded) -> Vec<bool> {
    loaded.migrations.iter().map(|m| m.down.is_some()).collect()
}

/// Asserts what holds for every loaded folder: detection, order numbers, no stray notes.
fn check_example(name: &str, layout: Layout) -> Loaded {
    let loaded = load_dir(&example(name));
    assert_eq!(loaded.layout, layout, "{name}: {:?}", loaded.detected_from);
    assert!(loaded.detected_from.is_some());
    assert_eq!(
        loaded.notes,
        Vec::<String>::new(),
        "{name}: unexpected notes"
    );
    for (i, m) in loaded.migrations.iter().enumerate() {
        assert_eq!(m.order, i);
        assert_eq!(m.up.text(), &m.up.source[m.up.range.clone()]);
        assert!(!m.up.text().trim().is_empty(), "{}: empty up script", m.id);
    }
    loaded
}

struct TempTree(tempfile::TempDir);

impl TempTree {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = TempTree(dir);
        for (path, text) in files {
            tree.write(path, text.as_bytes());
        }
        tree
    }
    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.0.path().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, bytes).expect("write");
    }
    fn path(&self) -> PathBuf {
        self.0.path().to_path_buf()
    }
}

// ---------------------------------------------------------------- bundled examples

#[test]
fn plain_example() {
    let l = check_example("plain", Layout::Plain);
    assert_eq!(
        ids(&l),
        [
            "001_create_customers",
            "002_create_orders",
            "003_orders_customer_fk",
            "004_orders_customer_idx",
            "005_orders_status",
            "006_backfill_order_status",
        ]
    );
    assert_eq!(versions(&l), ["001", "002", "003", "004", "005", "006"]);
    assert_eq!(l.migrations[2].name, "orders_customer_fk");
    // psql runs plain files in autocommit.
    assert_eq!(in_tx(&l), [false; 6]);
    assert_eq!(has_down(&l), [false; 6]);
}

#[test]
fn diesel_example() {
    let l = check_example("diesel", Layout::Diesel);
    assert_eq!(
        ids(&l),
        [
            "00000000000000_diesel_initial_setup",
            "2024-01-10-090000_create_users",
            "2024-01-12-143000_create_posts",
            "2024-02-01-101500_posts_author_idx",
            "2024-03-02-101500_users_email_idx",
            "2024-03-20-080000_posts_published_at_not_null",
        ]
    );
    assert_eq!(
        versions(&l),
        [
            "00000000000000",
            "20240110090000",
            "20240112143000",
            "20240201101500",
            "20240302101500",
            "20240320080000"
        ]
    );
    assert_eq!(l.migrations[3].name, "posts_author_idx");
    // metadata.toml `run_in_transaction = false` on the CONCURRENTLY migration only.
    assert_eq!(in_tx(&l), [true, true, true, false, true, true]);
    assert!(
        l.migrations[3]
            .up
            .text()
            .contains("CREATE INDEX CONCURRENTLY")
    );
    assert_eq!(has_down(&l), [true; 6]);
    let down = l.migrations[4]
        .down
        .as_ref()
        .map(|d| d.text().trim().to_string());
    assert_eq!(down.as_deref(), Some("DROP INDEX users_email_idx;"));
    assert!(
        l.migrations[4]
            .up
            .path
            .ends_with("2024-03-02-101500_users_email_idx/up.sql")
    );
}

#[test]
fn golang_migrate_example() {
    let l = check_example("golang-migrate", Layout::GolangMigrate);
    assert_eq!(
        ids(&l),
        [
            "000001_create_products",
            "000002_create_warehouses_and_stock",
            "000003_stock_reserved_quantity",
            "000004_stock_quantity_bigint",
            "000005_products_external_id",
            "000006_products_sku_idx",
        ]
    );
    assert_eq!(in_tx(&l), [true; 6]);
    assert!(Layout::GolangMigrate.implicit_transaction());
    assert_eq!(has_down(&l), [true; 6]);
    let down = &l.migrations[1].down.as_ref().expect("down").path;
    assert!(down.ends_with("000002_create_warehouses_and_stock.down.sql"));
}

#[test]
fn sqlx_example() {
    let l = check_example("sqlx", Layout::Sqlx);
    assert_eq!(
        ids(&l),
        [
            "20240105120000_create_accounts",
            "20240105120500_create_invoices",
            "20240211093000_invoices_account_idx",
            "20240302150000_rename_invoice_total",
            "20240315110000_invoices_positive_total_check",
            "20240315110500_validate_invoices_positive_total",
            "20240401080000_accounts_slug_unique",
        ]
    );
    assert_eq!(in_tx(&l), [true, true, false, true, true, true, true]);
    assert_eq!(has_down(&l), [false; 7]);
    assert_eq!(l.migrations[3].name, "rename_invoice_total");
}

#[test]
fn flyway_example() {
    let l = check_example("flyway", Layout::Flyway);
    // 1.10 after 1.2 (plain string order would put it first), repeatable last.
    assert_eq!(
        ids(&l),
        [
            "V1__create_departments",
            "V1.1__create_employees",
            "V1.2__employees_manager",
            "V1.10__employees_email_idx",
            "V2__validate_employees_manager",
            "V2_1__employees_salary_numeric",
            "R__employee_directory_view",
        ]
    );
    assert_eq!(versions(&l), ["1", "1.1", "1.2", "1.10", "2", "2.1", ""]);
    let kinds: Vec<MigrationKind> = l.migrations.iter().map(|m| m.kind).collect();
    assert_eq!(kinds[..6], [MigrationKind::Versioned; 6]);
    assert_eq!(kinds[6], MigrationKind::Repeatable);
    // flyway runs an all-CONCURRENTLY script outside a transaction by itself.
    assert_eq!(in_tx(&l), [true, true, true, false, true, true, true]);
    // U2_1 is the undo of V2_1.
    assert_eq!(
        has_down(&l),
        [false, false, false, false, false, true, false]
    );
    let undo = &l.migrations[5].down.as_ref().expect("undo").path;
    assert!(undo.ends_with("U2_1__employees_salary_numeric.sql"));
    // Placeholders stay in the text for the parser to mask.
    assert!(l.migrations[1].up.text().contains("${app_role}"));
}

#[test]
fn goose_example() {
    let l = check_example("goose", Layout::Goose);
    assert_eq!(
        ids(&l),
        [
            "20240110090000_create_venues",
            "20240110091500_create_events",
            "20240201120000_create_tickets",
            "20240215100000_tickets_event_fk",
            "20240216100000_validate_tickets_event_fk",
            "20240301110000_tickets_holder_idx",
        ]
    );
    assert_eq!(in_tx(&l), [true, true, true, true, true, false]);
    assert_eq!(has_down(&l), [true; 6]);

    let venues = &l.migrations[0];
    assert_eq!(venues.up.whole_statements.len(), 1);
    let function = &venues.up.source[venues.up.whole_statements[0].clone()];
    assert!(function.starts_with("CREATE OR REPLACE FUNCTION touch_updated_at()"));
    assert!(function.ends_with("$$ LANGUAGE plpgsql;"));
    // Up and down are disjoint parts of one file; marker lines belong to neither.
    let down = venues.down.as_ref().expect("down");
    assert!(
        Vec::from([&venues.up, down])
            .iter()
            .all(|s| !s.text().contains("+goose Up") && !s.text().contains("+goose Down"))
    );
    assert!(
        venues
            .up
            .text()
            .contains("CREATE TRIGGER venues_touch_updated_at")
    );
    assert!(!venues.up.text().contains("DROP TABLE venues"));
    assert_eq!(
        down.text().trim(),
        "DROP TABLE venues;\nDROP FUNCTION touch_updated_at();"
    );
    assert!(venues.up.range.end <= down.range.start);
}

#[test]
fn dbmate_example() {
    let l = check_example("dbmate", Layout::Dbmate);
    assert_eq!(
        ids(&l),
        [
            "20240102100000_create_organizations",
            "20240102100500_create_memberships",
            "20240220140000_memberships_user_idx",
            "20240305093000_memberships_primary_key",
            "20240310120000_organizations_billing_email",
            "20240322160000_memberships_role_enum",
        ]
    );
    assert_eq!(in_tx(&l), [true, true, false, true, true, true]);
    assert_eq!(has_down(&l), [true; 6]);
    assert!(l.migrations[0].up.text().trim_start().starts_with("DO $$"));
    assert!(!l.migrations[2].up.text().contains("migrate:up"));
}

#[test]
fn sql_migrate_example() {
    let l = check_example("sql-migrate", Layout::SqlMigrate);
    assert_eq!(
        ids(&l),
        [
            "1_initial.sql",
            "2_ticket_search.sql",
            "3_tickets_priority_range.sql",
            "4_tickets_customer_idx.sql",
            "5_tickets_closed_at.sql",
        ]
    );
    assert_eq!(versions(&l), ["1", "2", "3", "4", "5"]);
    assert_eq!(in_tx(&l), [true, true, true, false, true]);
    assert_eq!(has_down(&l), [true; 5]);
    let search = &l.migrations[1].up;
    assert_eq!(search.whole_statements.len(), 1);
    let function = &search.source[search.whole_statements[0].clone()];
    assert!(function.starts_with("CREATE FUNCTION tickets_search_refresh()"));
    assert!(function.ends_with("LANGUAGE plpgsql;"));
}

#[test]
fn prisma_example() {
    let l = check_example("prisma", Layout::Prisma);
    assert_eq!(
        ids(&l),
        [
            "20240108101010_init",
            "20240122153000_post_views",
            "20240214091500_post_slug",
            "20240301120000_post_title_length",
            "20240318083000_post_author_published_idx",
            "20240402100000_user_role",
        ]
    );
    assert_eq!(l.migrations[2].name, "post_slug");
    // One simple-query message per file: an implicit transaction.
    assert_eq!(in_tx(&l), [true; 6]);
    assert!(Layout::Prisma.implicit_transaction());
    assert_eq!(has_down(&l), [false; 6]);
}

#[test]
fn every_example_folder_is_covered() {
    let mut names: Vec<String> = fs::read_dir(example(""))
        .expect("migrations-examples")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut layouts: Vec<String> = Layout::ALL.iter().map(|l| l.name().to_string()).collect();
    layouts.sort();
    assert_eq!(names, layouts);
}

// ---------------------------------------------------------------- ordering

#[test]
fn numbers_sort_naturally_not_as_strings() {
    let t = TempTree::new(&[
        ("10_c.sql", "SELECT 10;"),
        ("2_b.sql", "SELECT 2;"),
        ("1_a.sql", "SELECT 1;"),
        ("9_x.sql", "SELECT 9;"),
    ]);
    assert_eq!(ids(&load_dir(&t.path())), ["1_a", "2_b", "9_x", "10_c"]);

    let t = TempTree::new(&[
        ("V1.10__c.sql", "SELECT 1;"),
        ("V2__d.sql", "SELECT 1;"),
        ("V1.9__b.sql", "SELECT 1;"),
        ("V1__a.sql", "SELECT 1;"),
    ]);
    let l = load_dir(&t.path());
    assert_eq!(l.layout, Layout::Flyway);
    assert_eq!(versions(&l), ["1", "1.9", "1.10", "2"]);
}

#[test]
fn duplicate_versions_are_a_warning_and_both_are_linted_in_file_name_order() {
    // goose parses `001` and `1` to the same version; real folders have such pairs.
    let t = TempTree::new(&[
        ("1_b.sql", "-- +goose Up\nSELECT 2;\n"),
        ("001_a.sql", "-- +goose Up\nSELECT 1;\n"),
        ("2_c.sql", "-- +goose Up\nSELECT 3;\n"),
    ]);
    let l = load_dir(&t.path());
    assert_eq!(ids(&l), ["001_a", "1_b", "2_c"]);
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    let w = &l.warnings[0];
    assert!(w.contains("duplicate-version"), "{w}");
    assert!(w.contains("001_a.sql") && w.contains("1_b.sql"), "{w}");

    let t = TempTree::new(&[("V1_1__b.sql", "SELECT 2;"), ("V1.1__a.sql", "SELECT 1;")]);
    let l = load_dir(&t.path());
    assert_eq!(ids(&l), ["V1.1__a", "V1_1__b"]);
    assert!(
        l.warnings[0].contains("V1.1__a.sql") && l.warnings[0].contains("V1_1__b.sql"),
        "{:?}",
        l.warnings
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn missing_path_is_not_found() {
    let t = TempTree::new(&[]);
    let missing = t.path().join("nope");
    match load(std::slice::from_ref(&missing), None, &[]) {
        Err(SourceError::NotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn non_utf8_file_reports_the_offset() {
    let t = TempTree::new(&[("001_ok.sql", "SELECT 1;")]);
    t.write("002_bad.sql", b"SELECT 'caf\xe9';");
    match load(&[t.path()], None, &[]) {
        Err(SourceError::NotUtf8 { path, offset }) => {
            assert!(path.ends_with("002_bad.sql"));
            assert_eq!(offset, 11);
        }
        other => panic!("expected NotUtf8, got {other:?}"),
    }
}

#[test]
fn empty_file_is_an_empty_migration_but_goose_needs_its_marker() {
    let t = TempTree::new(&[
        ("001_init.sql", "CREATE TABLE a (id int);"),
        ("002_empty.sql", ""),
    ]);
    let l = load_dir(&t.path());
    assert_eq!(ids(&l), ["001_init", "002_empty"]);
    assert_eq!(l.migrations[1].up.text(), "");

    let t = TempTree::new(&[
        ("001_init.sql", "-- +goose Up\nSELECT 1;\n"),
        ("002_empty.sql", ""),
    ]);
    let msg = load(&[t.path()], None, &[]).expect_err("no Up").to_string();
    assert!(
        msg.contains("002_empty.sql") && msg.contains("+goose Up"),
        "{msg}"
    );
}

#[test]
fn empty_directory_is_an_error_and_a_note_next_to_others() {
    let empty = TempTree::new(&[]);
    let err = load(&[empty.path()], None, &[]).expect_err("empty");
    assert!(err.to_string().contains("no migrations found"), "{err}");

    let full = TempTree::new(&[("001_a.sql", "SELECT 1;")]);
    let l = load(&[full.path(), empty.path()], None, &[]).expect("one folder has migrations");
    assert_eq!(l.migrations.len(), 1);
    let empty_path = empty.path().display().to_string();
    assert!(
        l.notes
            .iter()
            .any(|n| n.contains(&empty_path) && n.contains("no plain migrations")),
        "{:?}",
        l.notes
    );
}

#[test]
fn unknown_files_are_noted_not_dropped_silently() {
    let t = TempTree::new(&[
        ("001_a.sql", "SELECT 1;"),
        ("README.md", "# migrations"),
        ("seed.sql", "INSERT INTO a VALUES (1);"),
        ("old/000_legacy.sql", "SELECT 0;"),
    ]);
    let l = load_dir(&t.path());
    assert_eq!(ids(&l), ["001_a"]);
    for name in ["README.md", "seed.sql", "000_legacy.sql"] {
        assert!(
            l.notes.iter().any(|n| n.contains(name)),
            "{name}: {:?}",
            l.notes
        );
    }
}

#[test]
fn unbalanced_goose_block_is_an_error_with_a_line() {
    let t = TempTree::new(&[(
        "1_f.sql",
        "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n",
    )]);
    let msg = load(&[t.path()], None, &[])
        .expect_err("unclosed")
        .to_string();
    assert!(msg.contains("1_f.sql") && msg.contains("line 2"), "{msg}");
}

// ---------------------------------------------------------------- options

#[test]
fn layout_can_be_forced() {
    let goose_file = "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n";
    let t = TempTree::new(&[("001_a.sql", goose_file)]);
    assert_eq!(load_dir(&t.path()).layout, Layout::Goose);

    // Forced plain: the whole file is the up script, run in autocommit.
    let l = load(&[t.path()], Some(Layout::Plain), &[]).expect("plain");
    assert_eq!(l.layout, Layout::Plain);
    assert_eq!(l.detected_from, None);
    assert_eq!(l.migrations[0].up.text(), goose_file);
    assert!(!l.migrations[0].in_transaction);

    // Forcing a layout the files do not follow says so instead of guessing.
    let t = TempTree::new(&[("001_a.sql", "SELECT 1;")]);
    let msg = load(&[t.path()], Some(Layout::Goose), &[])
        .expect_err("no markers")
        .to_string();
    assert!(msg.contains("+goose Up"), "{msg}");
    let msg = load(&[t.path()], Some(Layout::Diesel), &[])
        .expect_err("no dirs")
        .to_string();
    assert!(msg.contains("no diesel migrations found"), "{msg}");
}

#[test]
fn exclude_globs_match_full_and_folder_relative_paths() {
    let t = TempTree::new(&[
        ("2019-01-01-000000_old/up.sql", "SELECT 0;"),
        ("2024-01-01-000000_a/up.sql", "SELECT 1;"),
        ("2024-02-01-000000_b/up.sql", "SELECT 2;"),
        ("2024-03-01-000000_c/up.sql", "SELECT 3;"),
    ]);
    let full = format!("{}/2019-*", t.path().display());
    let l = load(
        &[t.path()],
        None,
        &[full, "*_b".into(), "**/2024-03-*/up.sql".into()],
    )
    .expect("load");
    assert_eq!(ids(&l), ["2024-01-01-000000_a"]);

    let err = load(&[t.path()], None, &["[".into()]).expect_err("bad glob");
    assert!(matches!(err, SourceError::BadExclude { .. }), "{err}");

    let err = load(&[t.path()], None, &["**".into()]).expect_err("all excluded");
    assert!(err.to_string().contains("exclude"), "{err}");
}

#[test]
fn goose_whole_statements_point_at_the_exact_function() {
    let function = "CREATE FUNCTION add_one(i int) RETURNS int AS $$\nBEGIN\n    RETURN i + 1;\nEND;\n$$ LANGUAGE plpgsql;";
    let text = format!(
        "-- +goose Up\nCREATE TABLE t (id int);\n-- +goose StatementBegin\n{function}\n-- +goose StatementEnd\nSELECT 1;\n\n-- +goose Down\nDROP FUNCTION add_one(int);\n"
    );
    let t = TempTree::new(&[("20240101000000_fn.sql", &text)]);
    let l = load_dir(&t.path());
    let up = &l.migrations[0].up;
    assert_eq!(up.whole_statements.len(), 1);
    let range = up.whole_statements[0].clone();
    assert_eq!(&up.source[range.clone()], function);
    assert_eq!(range.start, text.find("CREATE FUNCTION").expect("in text"));
    assert!(up.range.start <= range.start && range.end <= up.range.end);
    assert_eq!(up.range.start, "-- +goose Up\n".len());
    assert!(
        l.migrations[0]
            .down
            .as_ref()
            .is_some_and(|d| d.whole_statements.is_empty())
    );
}

#[test]
fn sqlx_reversible_files_with_no_transaction_header() {
    let t = TempTree::new(&[
        (
            "20240101000000_users.up.sql",
            "CREATE TABLE users (id int);",
        ),
        ("20240101000000_users.down.sql", "DROP TABLE users;"),
        (
            "20240102000000_users_idx.up.sql",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY users_id_idx ON users (id);",
        ),
        (
            "20240102000000_users_idx.down.sql",
            "DROP INDEX users_id_idx;",
        ),
    ]);
    let l = load_dir(&t.path());
    assert_eq!(l.layout, Layout::Sqlx);
    assert_eq!(
        ids(&l),
        ["20240101000000_users", "20240102000000_users_idx"]
    );
    assert_eq!(in_tx(&l), [true, false]);
    assert_eq!(has_down(&l), [true, true]);
}

#[test]
fn single_files_and_single_migration_directories() {
    // A file named on the command line keeps its diesel migration context.
    let dir = example("diesel").join("2024-02-01-101500_posts_author_idx");
    let l = load(&[dir.join("up.sql")], None, &[]).expect("file");
    assert_eq!(l.layout, Layout::Diesel);
    assert_eq!(ids(&l), ["2024-02-01-101500_posts_author_idx"]);
    assert!(!l.migrations[0].in_transaction);

    // So does the migration's own directory.
    let l = load(&[dir], None, &[]).expect("dir");
    assert_eq!(ids(&l), ["2024-02-01-101500_posts_author_idx"]);
    assert_eq!(has_down(&l), [true]);

    // Two paths reaching the same file give one migration.
    let plain = example("plain");
    let l = load(
        &[plain.clone(), plain.join("001_create_customers.sql")],
        None,
        &[],
    )
    .expect("plain");
    assert_eq!(l.migrations.len(), 6);
}

#[test]
fn dbmate_sections_are_absolute_ranges_of_one_file() {
    let text = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_idx ON a (x);\n\n-- migrate:down\nDROP INDEX a_idx;\n";
    let t = TempTree::new(&[("20240101000000_a_idx.sql", text)]);
    let l = load_dir(&t.path());
    assert_eq!(l.layout, Layout::Dbmate);
    let m = &l.migrations[0];
    assert!(!m.in_transaction);
    assert_eq!(
        m.up.text().trim(),
        "CREATE INDEX CONCURRENTLY a_idx ON a (x);"
    );
    let down = m.down.as_ref().expect("down");
    assert_eq!(down.range.start, text.find("DROP INDEX").expect("in text"));
    assert_eq!(down.text(), "DROP INDEX a_idx;\n");
}
