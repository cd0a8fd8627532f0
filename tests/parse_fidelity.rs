//! Reading statements as the server does (issue 10): partial readings are never
//! confident, newer syntax is recorded, data changes hide in CTEs and dynamic SQL,
//! identifiers are truncated like the server does, placeholders are shown as written.

use lockstep::ops::*;
use lockstep::parse::{ParsedBy, Statement, parse_sql};

fn one(sql: &str) -> Statement {
    let st = parse_sql(sql);
    assert_eq!(st.len(), 1, "{sql}: {st:?}");
    st.into_iter().next().unwrap()
}

fn table_columns(s: &Statement) -> Vec<String> {
    s.ops
        .iter()
        .find_map(|o| match o {
            Op::CreateTable { columns, .. } => {
                Some(columns.iter().map(|c| c.name.clone()).collect())
            }
            _ => None,
        })
        .unwrap_or_default()
}

fn unknown(s: &Statement) -> bool {
    s.ops
        .iter()
        .any(|o| matches!(o, Op::UnknownDefinition { .. }))
}

#[test]
fn pg18_named_not_null_keeps_the_columns() {
    let s = one("CREATE TABLE t (a int, b text, CONSTRAINT t_a_nn NOT NULL a)");
    assert_eq!(table_columns(&s), ["a", "b"]);
    let Some(Op::CreateTable {
        columns,
        constraints,
        ..
    }) = s.ops.first()
    else {
        panic!("{:?}", s.ops)
    };
    assert!(columns[0].not_null);
    assert!(!columns[1].not_null);
    assert!(
        constraints
            .iter()
            .any(|c| c.name.as_deref() == Some("t_a_nn")
                && matches!(&c.kind, ConstraintKind::NotNull { column } if column == "a"))
    );
    // Fully understood: not partial, and no unknown parts.
    assert_ne!(s.parsed_by, ParsedBy::Unparsed);
    assert_ne!(s.parsed_by, ParsedBy::Partial);
    assert!(!unknown(&s));
    assert_eq!(s.min_pg_version.as_ref().map(|m| m.version), Some(18));
}

#[test]
fn one_unreadable_clause_keeps_the_rest_and_is_partial() {
    // `WITH ORDINALITY` is not a column option: no parser understands this element.
    let s = one("CREATE TABLE t (a int PRIMARY KEY, b text WITH ORDINALITY, c bigint NOT NULL)");
    assert_eq!(table_columns(&s), ["a", "b", "c"]);
    assert_eq!(s.parsed_by, ParsedBy::Partial);
    assert!(unknown(&s), "{:?}", s.ops);

    let s = one("CREATE TABLE t (a int, FROBNICATE (a))");
    assert_eq!(table_columns(&s), ["a"]);
    assert_eq!(s.parsed_by, ParsedBy::Partial);

    // Columns inherited from a parent are not described here.
    let s = one("CREATE TABLE child (extra int) INHERITS (parent)");
    assert_eq!(s.parsed_by, ParsedBy::Partial);
    assert!(unknown(&s));
}

#[test]
fn alter_table_with_an_unknown_subcommand_keeps_the_known_ones() {
    let s = one("ALTER TABLE t ADD COLUMN x int, FROBNICATE y, DROP COLUMN z");
    assert_eq!(s.parsed_by, ParsedBy::Partial);
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::AddColumn { column, .. } if column.name == "x"))
    );
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::DropColumn { column, .. } if column == "z"))
    );
    assert!(unknown(&s));
}

#[test]
fn partial_serialises_as_partial() {
    assert_eq!(
        serde_json::to_value(ParsedBy::Partial).unwrap(),
        serde_json::json!("partial")
    );
}

#[test]
fn syntax_newer_than_the_server_is_recorded() {
    for (sql, v) in [
        (
            "CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL)",
            18,
        ),
        ("ALTER TABLE t ALTER CONSTRAINT c INHERIT", 18),
        ("ALTER TABLE t ADD CONSTRAINT a_nn NOT NULL a", 18),
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a RETURNING t.id",
            17,
        ),
        (
            "INSERT INTO t SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a int PATH '$')) AS jt",
            17,
        ),
        ("COPY t FROM STDIN WITH (FORMAT csv, ON_ERROR ignore)", 17),
    ] {
        let st = parse_sql(sql);
        assert_eq!(
            st[0].min_pg_version.as_ref().map(|m| m.version),
            Some(v),
            "{sql}"
        );
    }
    for sql in [
        "CREATE TABLE t (a int NOT NULL, b int GENERATED ALWAYS AS (a * 2) STORED)",
        "SELECT 'VIRTUAL', json_table FROM t",
        "UPDATE t SET a = 1 RETURNING a",
    ] {
        assert_eq!(parse_sql(sql)[0].min_pg_version, None, "{sql}");
    }
    // A virtual column stores nothing: it is not a stored generated column.
    let s = one("ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a * 2) VIRTUAL");
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::AddColumn { column, .. } if column.generated.is_none())),
        "{:?}",
        s.ops
    );
}

#[test]
fn data_modifying_ctes_are_data_changes() {
    let s = one(
        "WITH moved AS (DELETE FROM old_events WHERE created_at < now() RETURNING *) INSERT INTO events_archive SELECT * FROM moved",
    );
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::Delete { table, .. } if table.name == "old_events")),
        "{:?}",
        s.ops
    );
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::Insert { table, .. } if table.name == "events_archive"))
    );
    let s = one("WITH u AS (UPDATE accounts SET flag = true RETURNING id) SELECT count(*) FROM u");
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::Update { table, .. } if table.name == "accounts")),
        "{:?}",
        s.ops
    );
}

#[test]
fn dynamic_sql_is_resolved_or_reported_not_analysed() {
    let s = one(
        "DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN %I int', 'orders', 'n'); END $$",
    );
    assert!(
        s.ops
            .iter()
            .any(|o| matches!(o, Op::AddColumn { table, column, .. }
            if table.name == "orders" && column.name == "n")),
        "{:?}",
        s.ops
    );
    let s = one(
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables LOOP EXECUTE format('ALTER TABLE %I ADD COLUMN x int', r.tablename); END LOOP; END $$",
    );
    let not_analysed: Vec<&Op> = s
        .ops
        .iter()
        .filter(|o| matches!(o, Op::NotAnalysed { .. }))
        .collect();
    assert_eq!(not_analysed.len(), 1, "{:?}", s.ops);
}

#[test]
fn writing_pg_catalog_is_not_a_data_migration() {
    for sql in [
        "UPDATE pg_catalog.pg_attribute SET attnotnull = true WHERE attrelid = 't'::regclass",
        "UPDATE pg_attribute SET attnotnull = true",
        "DELETE FROM pg_catalog.pg_depend WHERE objid = 1",
    ] {
        let s = one(sql);
        assert!(
            !s.ops
                .iter()
                .any(|o| matches!(o, Op::Update { .. } | Op::Delete { .. })),
            "{sql}: {:?}",
            s.ops
        );
    }
}

#[test]
fn long_identifiers_are_truncated_like_the_server() {
    let long_a = "a".repeat(70);
    let long_b = format!("{}{}", "a".repeat(63), "zzz");
    let s1 = one(&format!("CREATE TABLE {long_a} (id int)"));
    let s2 = one(&format!("DROP TABLE {long_b}"));
    let Op::CreateTable { table: t1, .. } = &s1.ops[0] else {
        panic!()
    };
    let Op::DropTable { table: t2, .. } = &s2.ops[0] else {
        panic!()
    };
    assert_eq!(t1.name.len(), 63);
    assert_eq!(t1, t2, "names that truncate alike are one object");
    // At a character boundary: 62 ASCII bytes then a 2-byte character crossing 63.
    let s = one(&format!("CREATE TABLE \"{}é\" (id int)", "b".repeat(62)));
    let Op::CreateTable { table, .. } = &s.ops[0] else {
        panic!()
    };
    assert_eq!(table.name, "b".repeat(62));
}

#[test]
fn public_and_unqualified_functions_are_the_same_in_expressions() {
    let d = |sql: &str| match &one(sql).ops[0] {
        Op::SetDefault { default, .. } => default.sql.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(
        d("ALTER TABLE t ALTER COLUMN a SET DEFAULT public.gen_id()"),
        d("ALTER TABLE t ALTER COLUMN a SET DEFAULT gen_id()")
    );
}

#[test]
fn placeholders_are_shown_as_written() {
    let s = one("CREATE TABLE {{ index .Options \"Namespace\" }}.users (id int)");
    let Op::CreateTable { table, .. } = &s.ops[0] else {
        panic!("{:?}", s.ops)
    };
    assert_eq!(table.schema, "{{ index .Options \"Namespace\" }}");
    assert_eq!(table.name, "users");
    assert_eq!(
        table.to_string(),
        "{{ index .Options \"Namespace\" }}.users"
    );

    let s = one("CREATE INDEX idx_a ON ${schema}.accounts (a)");
    assert!(
        matches!(&s.ops[0], Op::CreateIndex { table, .. } if table.schema == "${schema}"),
        "{:?}",
        s.ops
    );
    let s = one("ALTER TABLE :\"schema\".accounts ADD COLUMN b int");
    assert!(
        matches!(&s.ops[0], Op::AddColumn { table, .. } if table.schema == ":\"schema\""),
        "{:?}",
        s.ops
    );
    // A template action inside a quoted identifier (supabase/auth writes them so).
    let s = one(
        "CREATE INDEX IF NOT EXISTS i ON \"{{ index .Options \"Namespace\" }}\".identities USING btree (user_id)",
    );
    assert_ne!(s.parsed_by, ParsedBy::Unparsed, "{:?}", s.error);
    assert!(
        matches!(&s.ops[0], Op::CreateIndex { table, .. }
            if table.schema == "{{ index .Options \"Namespace\" }}" && table.name == "identities"),
        "{:?}",
        s.ops
    );
    // Two placeholders of the same length map back to their own text.
    let s = one("ALTER TABLE ${aaaa}.t ADD COLUMN c int DEFAULT ${bbbb}.f()");
    let Op::AddColumn { table, column, .. } = &s.ops[0] else {
        panic!("{:?}", s.ops)
    };
    assert_eq!(table.schema, "${aaaa}");
    assert_eq!(
        column.default.as_ref().map(|d| d.sql.as_str()),
        Some("${bbbb}.f()")
    );
    let debug = format!("{:?}", s.ops);
    assert!(!debug.contains("tpl"), "{debug}");
}

#[test]
fn a_bare_select_is_read() {
    // lemmy's down migrations hold just `SELECT;`, which PostgreSQL accepts.
    let s = one("SELECT");
    assert_ne!(s.parsed_by, ParsedBy::Unparsed);
}
