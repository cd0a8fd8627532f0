//! The parse stage: statement spans, lowering to ops, fallback, masking, robustness.

use lockstep::ops::*;
use lockstep::parse::{ParsedBy, Statement, parse_script, parse_sql};
use lockstep::source::Script;
use std::sync::Arc;

fn t(name: &str) -> ObjName {
    ObjName::public(name)
}

/// The text of each statement.
fn texts(sql: &str) -> Vec<&str> {
    parse_sql(sql)
        .iter()
        .map(|s| &sql[s.span.clone()])
        .collect()
}

/// The ops of a script that must hold exactly one statement.
fn ops1(sql: &str) -> (Vec<Op>, ParsedBy) {
    let st = parse_sql(sql);
    assert_eq!(st.len(), 1, "{sql}: {st:?}");
    let s = st.into_iter().next().unwrap();
    (s.ops, s.parsed_by)
}

/// The single op of a single statement.
fn op(sql: &str) -> Op {
    let (ops, by) = ops1(sql);
    assert_ne!(by, ParsedBy::Unparsed, "{sql}");
    assert_eq!(ops.len(), 1, "{sql}: {ops:?}");
    ops.into_iter().next().unwrap()
}

fn col(name: &str, ty: &str) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty: SqlType(ty.into()),
        not_null: false,
        default: None,
        generated: None,
        serial: false,
        constraints: vec![],
    }
}

// ---------------------------------------------------------------------------------- spans

#[test]
fn spans_cover_statement_text_without_semicolon_or_comments() {
    let sql = "-- header\nCREATE TABLE a (x int);\n\n/* c */ ALTER TABLE a ADD COLUMN y text ; -- trailing\nSELECT 1";
    assert_eq!(
        texts(sql),
        vec![
            "CREATE TABLE a (x int)",
            "ALTER TABLE a ADD COLUMN y text",
            "SELECT 1"
        ]
    );
}

#[test]
fn dollar_quoted_function_bodies_keep_their_semicolons() {
    let sql = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.a := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nCREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;";
    let st = texts(sql);
    assert_eq!(st.len(), 2);
    assert!(st[0].starts_with("CREATE FUNCTION f()") && st[0].ends_with("LANGUAGE plpgsql"));
    assert_eq!(
        st[1],
        "CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql"
    );
}

#[test]
fn nested_comments_e_strings_and_quoted_identifiers() {
    let sql = "SELECT 1 /* outer /* inner; */ still; */ ;\nSELECT E'it\\'s; fine';\nSELECT \"semi;colon\" FROM t;\nSELECT 'a''b;c'";
    assert_eq!(
        texts(sql),
        vec![
            "SELECT 1",
            "SELECT E'it\\'s; fine'",
            "SELECT \"semi;colon\" FROM t",
            "SELECT 'a''b;c'"
        ]
    );
}

#[test]
fn begin_atomic_body_is_one_statement() {
    let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT 3;";
    let st = parse_sql(sql);
    assert_eq!(st.len(), 2);
    assert!(sql[st[0].span.clone()].ends_with("END"));
    assert_eq!(
        st[0].ops,
        vec![Op::CreateFunction {
            name: t("f"),
            volatility: None
        }]
    );
}

#[test]
fn multibyte_text_keeps_exact_byte_spans() {
    let sql = "COMMENT ON TABLE t IS 'größe → ☃';\nALTER TABLE \"tâblé\" ADD COLUMN ü int;";
    assert_eq!(
        texts(sql),
        vec![
            "COMMENT ON TABLE t IS 'größe → ☃'",
            "ALTER TABLE \"tâblé\" ADD COLUMN ü int"
        ]
    );
}

#[test]
fn comment_only_and_empty_scripts_have_no_statements() {
    assert!(parse_sql("").is_empty());
    assert!(parse_sql("   \n\t ").is_empty());
    assert!(parse_sql("-- nothing\n/* at all */ ;;").is_empty());
}

#[test]
fn script_range_offsets_are_absolute_and_goose_regions_split_per_command() {
    let file = "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS 'SELECT 1; SELECT 2' LANGUAGE sql;\nUPDATE t SET a = 1 WHERE id = 1;\n-- +goose StatementEnd\nSELECT 1;\n-- +goose Down\nDROP FUNCTION f;\n";
    let down_at = file.find("-- +goose Down").unwrap();
    let region_start = file.find("CREATE FUNCTION").unwrap();
    let region_end = file.find("-- +goose StatementEnd").unwrap();
    let up = Script {
        path: "m.sql".into(),
        source: Arc::from(file),
        range: 0..down_at,
        whole_statements: std::iter::once(region_start..region_end).collect(),
        host: None,
    };
    let st = parse_script(&up);
    // goose sends the region as one message, but the server runs each command in it: each
    // is its own statement with its own span, and carries the region.
    assert_eq!(st.len(), 3, "{st:?}");
    assert_eq!(
        &file[st[0].span.clone()],
        "CREATE FUNCTION f() RETURNS int AS 'SELECT 1; SELECT 2' LANGUAGE sql"
    );
    assert_eq!(&file[st[1].span.clone()], "UPDATE t SET a = 1 WHERE id = 1");
    assert!(matches!(st[1].ops[..], [Op::Update { .. }]));
    assert_eq!(st[0].region, Some(region_start..region_end));
    assert_eq!(st[1].region, Some(region_start..region_end));
    assert_eq!(&file[st[2].span.clone()], "SELECT 1");
    assert_eq!(st[2].region, None);

    let down = Script {
        path: "m.sql".into(),
        source: Arc::from(file),
        range: down_at..file.len(),
        whole_statements: std::iter::once(region_start..region_end).collect(),
        host: None,
    };
    let st = parse_script(&down);
    assert_eq!(st.len(), 1);
    assert_eq!(&file[st[0].span.clone()], "DROP FUNCTION f");
    assert_eq!(st[0].ops, vec![Op::DropFunction { name: t("f") }]);
}

#[test]
fn unterminated_constructs_keep_earlier_statements() {
    for (sql, what) in [
        (
            "CREATE TABLE a (x int);\nSELECT 'oops;\nSELECT 2;",
            "quoted string",
        ),
        (
            "CREATE TABLE a (x int);\nDO $$ BEGIN NULL; END;",
            "dollar-quoted string",
        ),
        (
            "CREATE TABLE a (x int);\nSELECT 1 /* open /* nested */ ;",
            "block comment",
        ),
        (
            "CREATE TABLE a (x int);\nSELECT \"open;",
            "quoted identifier",
        ),
    ] {
        let st = parse_sql(sql);
        assert_eq!(st.len(), 2, "{sql}: {st:?}");
        assert_eq!(&sql[st[0].span.clone()], "CREATE TABLE a (x int)");
        assert!(matches!(st[0].ops[0], Op::CreateTable { .. }));
        assert_eq!(st[1].parsed_by, ParsedBy::Unparsed);
        assert_eq!(st[1].span.end, sql.len());
        let err = st[1].error.clone().unwrap_or_default();
        assert!(err.contains(what), "{sql}: {err}");
    }
}

// ----------------------------------------------------------------------------- lowering

#[test]
fn create_table_columns_constraints_and_flags() {
    let (ops, by) = ops1(
        "CREATE UNLOGGED TABLE IF NOT EXISTS app.Orders (
            id bigserial PRIMARY KEY,
            \"Code\" varchar(20) NOT NULL DEFAULT 'x',
            user_id int REFERENCES users(id),
            total numeric(10, 2) CHECK (total >= 0),
            created timestamptz DEFAULT now(),
            token uuid DEFAULT gen_random_uuid(),
            doubled int GENERATED ALWAYS AS (user_id * 2) STORED,
            n int GENERATED BY DEFAULT AS IDENTITY,
            CONSTRAINT orders_code_key UNIQUE (\"Code\")
        )",
    );
    assert_eq!(by, ParsedBy::Sqlparser);
    let Op::CreateTable {
        table,
        columns,
        constraints,
        if_not_exists,
        unlogged,
        temporary,
        partition_of,
        as_select,
    } = &ops[0]
    else {
        panic!("{ops:?}")
    };
    assert_eq!(table, &ObjName::new("app", "orders"));
    assert!(*if_not_exists && *unlogged && !*temporary && !*as_select);
    assert_eq!(partition_of, &None);
    assert_eq!(columns.len(), 8);
    let id = &columns[0];
    assert_eq!(id.ty, SqlType("bigint".into()));
    assert!(id.serial && id.not_null);
    assert!(
        id.default
            .as_ref()
            .is_some_and(|d| d.volatile && d.sql.starts_with("nextval("))
    );
    assert!(matches!(
        &id.constraints[0].kind,
        ConstraintKind::PrimaryKey { columns, .. } if columns == &["id"]
    ));
    assert_eq!(columns[1].name, "Code");
    assert_eq!(columns[1].ty, SqlType("character varying(20)".into()));
    assert!(columns[1].not_null);
    assert_eq!(
        columns[1].default,
        Some(Expr {
            sql: "'x'".into(),
            volatile: false
        })
    );
    assert_eq!(
        columns[2].constraints[0].kind,
        ConstraintKind::ForeignKey(ForeignKey {
            columns: vec!["user_id".into()],
            ref_table: t("users"),
            ref_columns: vec!["id".into()],
        })
    );
    assert_eq!(columns[3].ty, SqlType("numeric(10,2)".into()));
    assert!(matches!(
        columns[3].constraints[0].kind,
        ConstraintKind::Check { .. }
    ));
    assert_eq!(columns[4].ty, SqlType("timestamp with time zone".into()));
    assert_eq!(columns[4].default.as_ref().map(|d| d.volatile), Some(false));
    assert_eq!(columns[5].default.as_ref().map(|d| d.volatile), Some(true));
    assert_eq!(
        columns[6].generated,
        Some(Generated::Stored("user_id * 2".into()))
    );
    assert_eq!(columns[7].generated, Some(Generated::Identity));
    assert_eq!(
        constraints,
        &vec![Constraint {
            name: Some("orders_code_key".into()),
            kind: ConstraintKind::Unique {
                columns: vec!["Code".into()],
                using_index: None
            },
            not_valid: false
        }]
    );
}

#[test]
fn create_table_partition_of_as_select_and_temp() {
    assert!(matches!(
        op("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)"),
        Op::CreateTable { partition_of: Some(p), .. } if p == t("p")
    ));
    assert!(matches!(
        op("CREATE TABLE t2 AS SELECT * FROM t"),
        Op::CreateTable {
            as_select: true,
            ..
        }
    ));
    assert!(matches!(
        op("CREATE TEMP TABLE scratch (a int)"),
        Op::CreateTable {
            temporary: true,
            ..
        }
    ));
}

#[test]
fn drop_table_yields_one_op_per_table() {
    let (ops, _) = ops1("DROP TABLE IF EXISTS a, s.b CASCADE");
    assert_eq!(
        ops,
        vec![
            Op::DropTable {
                table: t("a"),
                if_exists: true,
                cascade: true
            },
            Op::DropTable {
                table: ObjName::new("s", "b"),
                if_exists: true,
                cascade: true
            }
        ]
    );
}

#[test]
fn alter_table_subcommands_become_one_op_each() {
    let (ops, by) = ops1(
        "ALTER TABLE Users ADD COLUMN email text NOT NULL DEFAULT '', DROP COLUMN IF EXISTS legacy CASCADE, \
         ALTER COLUMN age TYPE bigint USING age::bigint, ALTER COLUMN name SET NOT NULL, \
         ALTER COLUMN name DROP NOT NULL, ALTER COLUMN flag SET DEFAULT random() > 0.5, \
         ALTER COLUMN flag DROP DEFAULT, RENAME COLUMN a TO b",
    );
    assert_eq!(by, ParsedBy::Sqlparser);
    let users = t("users");
    assert_eq!(
        ops,
        vec![
            Op::AddColumn {
                table: users.clone(),
                column: ColumnDef {
                    not_null: true,
                    default: Some(Expr {
                        sql: "''".into(),
                        volatile: false
                    }),
                    ..col("email", "text")
                },
                if_not_exists: false
            },
            Op::DropColumn {
                table: users.clone(),
                column: "legacy".into(),
                if_exists: true,
                cascade: true
            },
            Op::AlterColumnType {
                table: users.clone(),
                column: "age".into(),
                ty: SqlType("bigint".into()),
                using: Some("age::BIGINT".into()),
                collate: None
            },
            Op::SetNotNull {
                table: users.clone(),
                column: "name".into()
            },
            Op::DropNotNull {
                table: users.clone(),
                column: "name".into()
            },
            Op::SetDefault {
                table: users.clone(),
                column: "flag".into(),
                default: Expr {
                    sql: "random() > 0.5".into(),
                    volatile: true
                }
            },
            Op::DropDefault {
                table: users.clone(),
                column: "flag".into()
            },
            Op::RenameColumn {
                table: users,
                column: "a".into(),
                new_name: "b".into()
            },
        ]
    );
}

#[test]
fn alter_table_constraints() {
    let tb = t("t");
    assert_eq!(
        op("ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0) NOT VALID"),
        Op::AddConstraint {
            table: tb.clone(),
            constraint: Constraint {
                name: Some("c".into()),
                kind: ConstraintKind::Check {
                    expr: "x > 0".into()
                },
                not_valid: true
            }
        }
    );
    assert_eq!(
        op("ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_idx"),
        Op::AddConstraint {
            table: tb.clone(),
            constraint: Constraint {
                name: Some("t_pkey".into()),
                kind: ConstraintKind::PrimaryKey {
                    columns: vec![],
                    using_index: Some("t_idx".into())
                },
                not_valid: false
            }
        }
    );
    assert!(matches!(
        op("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i"),
        Op::AddConstraint {
            constraint: Constraint {
                kind: ConstraintKind::Unique {
                    using_index: Some(_),
                    ..
                },
                ..
            },
            ..
        }
    ));
    assert!(matches!(
        op("ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&)"),
        Op::AddConstraint {
            constraint: Constraint {
                kind: ConstraintKind::Exclusion,
                ..
            },
            ..
        }
    ));
    assert!(matches!(
        op("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES s.u (id) NOT VALID"),
        Op::AddConstraint { constraint: Constraint { kind: ConstraintKind::ForeignKey(ForeignKey { ref_table, .. }), not_valid: true, .. }, .. }
            if ref_table == ObjName::new("s", "u")
    ));
    assert_eq!(
        op("ALTER TABLE t VALIDATE CONSTRAINT c"),
        Op::ValidateConstraint {
            table: tb.clone(),
            name: "c".into()
        }
    );
    assert_eq!(
        op("ALTER TABLE t DROP CONSTRAINT IF EXISTS c"),
        Op::DropConstraint {
            table: tb.clone(),
            name: "c".into(),
            if_exists: true,
            cascade: false
        }
    );
    assert_eq!(
        op("ALTER TABLE t RENAME CONSTRAINT c TO d"),
        Op::RenameConstraint {
            table: tb.clone(),
            name: "c".into(),
            new_name: "d".into()
        }
    );
}

#[test]
fn alter_table_table_level_commands() {
    let tb = t("t");
    assert_eq!(
        op("ALTER TABLE t RENAME TO u"),
        Op::RenameTable {
            table: tb.clone(),
            new_name: "u".into()
        }
    );
    assert_eq!(
        op("ALTER TABLE t SET SCHEMA archive"),
        Op::SetSchema {
            table: tb.clone(),
            new_schema: "archive".into()
        }
    );
    assert_eq!(
        op("ALTER TABLE t SET UNLOGGED"),
        Op::SetLogged {
            table: tb.clone(),
            logged: false
        }
    );
    assert_eq!(
        op("ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY"),
        Op::AddIdentity {
            table: tb.clone(),
            column: "id".into()
        }
    );
    assert_eq!(
        op("ALTER TABLE t ALTER COLUMN id DROP IDENTITY IF EXISTS"),
        Op::DropIdentity {
            table: tb.clone(),
            column: "id".into()
        }
    );
    assert_eq!(
        op("ALTER TABLE t ALTER COLUMN c SET STORAGE EXTERNAL"),
        Op::AlterColumnOther {
            table: tb.clone(),
            column: "c".into(),
            what: "SET STORAGE".into()
        }
    );
    assert!(matches!(
        op("ALTER TABLE t OWNER TO bob"),
        Op::AlterTableOther { what, .. } if what == "OWNER TO"
    ));
    assert!(matches!(
        op("ALTER TABLE t SET TABLESPACE fast"),
        Op::AlterTableOther { what, .. } if what == "SET TABLESPACE"
    ));
}

#[test]
fn create_and_drop_index() {
    assert_eq!(
        op(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON app.users USING btree (lower(email), org_id) WHERE deleted_at IS NULL"
        ),
        Op::CreateIndex {
            name: Some(ObjName::new("app", "idx")),
            table: ObjName::new("app", "users"),
            columns: vec!["lower(email)".into(), "org_id".into()],
            unique: true,
            concurrently: true,
            if_not_exists: true,
            partial: true
        }
    );
    assert!(matches!(
        op("CREATE INDEX ON t (a)"),
        Op::CreateIndex { name: None, .. }
    ));
    let (ops, _) = ops1("DROP INDEX a_idx, b_idx");
    assert_eq!(ops.len(), 2);
    assert_eq!(
        ops[1],
        Op::DropIndex {
            name: t("b_idx"),
            concurrently: false,
            if_exists: false
        }
    );
    assert_eq!(
        op("ALTER INDEX a_idx RENAME TO b_idx"),
        Op::RenameIndex {
            name: t("a_idx"),
            new_name: "b_idx".into()
        }
    );
}

#[test]
fn views_types_routines_and_schema_objects() {
    assert_eq!(
        op(
            "CREATE OR REPLACE VIEW v AS WITH recent AS (SELECT * FROM orders) SELECT * FROM recent r JOIN app.users u ON u.id = r.user_id"
        ),
        Op::CreateView {
            name: t("v"),
            materialized: false,
            or_replace: true,
            depends_on: vec![ObjName::new("app", "users"), t("orders")]
        }
    );
    assert!(matches!(
        op("CREATE MATERIALIZED VIEW mv AS SELECT 1 FROM t"),
        Op::CreateView {
            materialized: true,
            ..
        }
    ));
    assert_eq!(
        op("DROP MATERIALIZED VIEW IF EXISTS mv"),
        Op::DropView {
            name: t("mv"),
            materialized: true,
            if_exists: true
        }
    );
    assert_eq!(
        op("CREATE TYPE mood AS ENUM ('happy', 'sad')"),
        Op::CreateEnum {
            name: t("mood"),
            values: vec!["happy".into(), "sad".into()]
        }
    );
    assert_eq!(
        op("ALTER TYPE mood ADD VALUE 'meh' AFTER 'happy'"),
        Op::AddEnumValue {
            name: t("mood"),
            value: "meh".into()
        }
    );
    assert_eq!(
        op("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'"),
        Op::RenameEnumValue {
            name: t("mood"),
            value: "sad".into(),
            new_value: "blue".into()
        }
    );
    assert_eq!(
        op("CREATE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()"),
        Op::CreateTrigger {
            name: "trg".into(),
            table: t("t")
        }
    );
    assert_eq!(
        op("DROP TRIGGER IF EXISTS trg ON t"),
        Op::DropTrigger {
            name: "trg".into(),
            table: t("t")
        }
    );
    assert_eq!(op("CREATE SEQUENCE s"), Op::CreateSequence { name: t("s") });
    assert_eq!(op("DROP SEQUENCE s"), Op::DropSequence { name: t("s") });
    assert_eq!(
        op("CREATE SCHEMA IF NOT EXISTS app"),
        Op::CreateSchema { name: "app".into() }
    );
    assert_eq!(
        op("DROP SCHEMA app CASCADE"),
        Op::DropSchema {
            name: "app".into(),
            cascade: true
        }
    );
    assert_eq!(
        op("CREATE EXTENSION IF NOT EXISTS pgcrypto"),
        Op::CreateExtension {
            name: "pgcrypto".into()
        }
    );
    assert_eq!(
        op("DROP EXTENSION pgcrypto"),
        Op::DropExtension {
            name: "pgcrypto".into()
        }
    );
    assert_eq!(
        op("DROP FUNCTION IF EXISTS f(int)"),
        Op::DropFunction { name: t("f") }
    );
}

#[test]
fn maintenance_and_locking() {
    let (ops, _) = ops1("TRUNCATE a, b");
    assert_eq!(
        ops,
        vec![
            Op::Truncate { table: t("a") },
            Op::Truncate { table: t("b") }
        ]
    );
    assert_eq!(
        op("LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE"),
        Op::LockTable {
            table: t("t"),
            mode: LockMode::ShareRowExclusive
        }
    );
    assert_eq!(
        op("LOCK t"),
        Op::LockTable {
            table: t("t"),
            mode: LockMode::AccessExclusive
        }
    );
    assert_eq!(
        op("VACUUM FULL t"),
        Op::VacuumFull {
            table: Some(t("t"))
        }
    );
    assert_eq!(op("VACUUM"), Op::Vacuum { table: None });
    assert_eq!(
        op("CLUSTER t USING t_idx"),
        Op::Cluster {
            table: Some(t("t"))
        }
    );
}

#[test]
fn session_settings_and_transactions() {
    let cases = [
        (
            "SET lock_timeout = '5s'",
            TimeoutKind::Lock,
            Some(5000),
            false,
        ),
        (
            "SET LOCAL statement_timeout TO 1000",
            TimeoutKind::Statement,
            Some(1000),
            true,
        ),
        (
            "SET lock_timeout = '100ms'",
            TimeoutKind::Lock,
            Some(100),
            false,
        ),
        (
            "SET lock_timeout = '1min'",
            TimeoutKind::Lock,
            Some(60_000),
            false,
        ),
        (
            "SET statement_timeout = 0",
            TimeoutKind::Statement,
            Some(0),
            false,
        ),
        (
            "SET lock_timeout TO DEFAULT",
            TimeoutKind::Lock,
            None,
            false,
        ),
        ("RESET lock_timeout", TimeoutKind::Lock, None, false),
        (
            "SELECT set_config('lock_timeout', '3s', true)",
            TimeoutKind::Lock,
            Some(3000),
            true,
        ),
    ];
    for (sql, timeout, millis, local) in cases {
        assert_eq!(
            op(sql),
            Op::SetTimeout {
                timeout,
                millis,
                local
            },
            "{sql}"
        );
    }
    assert_eq!(
        op("SET search_path TO app, public"),
        Op::Set {
            name: "search_path".into()
        }
    );
    assert_eq!(op("BEGIN"), Op::Begin);
    assert_eq!(op("START TRANSACTION"), Op::Begin);
    assert_eq!(op("COMMIT"), Op::Commit);
    assert_eq!(op("END"), Op::Commit);
    assert_eq!(op("ROLLBACK"), Op::Rollback);
}

#[test]
fn selective_and_unselective_where() {
    let sel = |sql: &str| match op(sql) {
        Op::Update {
            has_where,
            selective,
            ..
        }
        | Op::Delete {
            has_where,
            selective,
            ..
        } => (has_where, selective),
        other => panic!("{other:?}"),
    };
    assert_eq!(sel("UPDATE t SET a = 1 WHERE id = 5"), (true, true));
    assert_eq!(
        sel("UPDATE t SET a = 1 WHERE id IN (1, 2, 3)"),
        (true, true)
    );
    assert_eq!(
        sel("UPDATE t SET a = 1 WHERE id BETWEEN 1 AND 1000"),
        (true, true)
    );
    assert_eq!(
        sel("DELETE FROM t WHERE created_at < now() - interval '30 days'"),
        (true, true)
    );
    assert_eq!(
        sel("UPDATE t SET a = 1 WHERE a IS NULL AND id >= 100"),
        (true, true)
    );
    assert_eq!(
        sel("UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t WHERE a IS NULL LIMIT 1000)"),
        (true, true)
    );
    assert_eq!(sel("UPDATE t SET a = 1 WHERE a IS NULL"), (true, false));
    assert_eq!(sel("UPDATE t SET a = 1 WHERE true"), (true, false));
    assert_eq!(sel("UPDATE t SET a = 1 WHERE a = b"), (true, false));
    assert_eq!(
        sel("UPDATE t SET a = 1 WHERE id = 1 OR a IS NULL"),
        (true, false)
    );
    assert_eq!(sel("DELETE FROM t"), (false, false));
    assert_eq!(
        op("INSERT INTO t (a) SELECT b FROM u"),
        Op::Insert {
            table: t("t"),
            columns: vec!["a".into()],
            from_select: true
        }
    );
    assert_eq!(
        op("INSERT INTO t (a) VALUES (1)"),
        Op::Insert {
            table: t("t"),
            columns: vec!["a".into()],
            from_select: false
        }
    );
}

#[test]
fn everything_else_is_other() {
    assert!(matches!(op("SELECT 1"), Op::Other { what } if what == "SELECT"));
    assert!(matches!(op("GRANT SELECT ON t TO r"), Op::Other { what } if what == "GRANT"));
    assert!(matches!(op("COMMENT ON TABLE t IS 'x'"), Op::Other { what } if what == "COMMENT"));
}

#[test]
fn type_normalisation_table() {
    let cases = [
        ("int", "integer"),
        ("int4", "integer"),
        ("integer", "integer"),
        ("int8", "bigint"),
        ("int2", "smallint"),
        ("varchar(255)", "character varying(255)"),
        ("char(3)", "character(3)"),
        ("character(2)", "character(2)"),
        ("float8", "double precision"),
        ("double precision", "double precision"),
        ("float", "double precision"),
        ("float4", "real"),
        ("real", "real"),
        ("decimal(12, 4)", "numeric(12,4)"),
        ("numeric", "numeric"),
        ("timestamp", "timestamp without time zone"),
        ("timestamptz", "timestamp with time zone"),
        ("timestamp(6) with time zone", "timestamp(6) with time zone"),
        ("time", "time without time zone"),
        ("timetz", "time with time zone"),
        ("bool", "boolean"),
        ("text[]", "text[]"),
        ("int[]", "integer[]"),
        ("MyEnum", "myenum"),
        ("jsonb", "jsonb"),
    ];
    for (written, want) in cases {
        let sql = format!("ALTER TABLE t ADD COLUMN c {written}");
        match op(&sql) {
            Op::AddColumn { column, .. } => assert_eq!(column.ty.0, want, "{written}"),
            other => panic!("{other:?}"),
        }
    }
    match op("ALTER TABLE t ADD COLUMN id serial") {
        Op::AddColumn { column, .. } => {
            assert_eq!(column.ty.0, "integer");
            assert!(column.serial);
            assert!(column.default.is_some_and(|d| d.volatile));
        }
        other => panic!("{other:?}"),
    }
}

// ----------------------------------------------------------------------------- fallback

fn fb(sql: &str) -> Vec<Op> {
    let (ops, by) = ops1(sql);
    assert_eq!(by, ParsedBy::Fallback, "{sql}: {ops:?}");
    ops
}

#[test]
fn fallback_places_what_sqlparser_rejects() {
    let tb = t("t");
    assert_eq!(
        fb("DROP INDEX CONCURRENTLY IF EXISTS a_idx"),
        vec![Op::DropIndex {
            name: t("a_idx"),
            concurrently: true,
            if_exists: true
        }]
    );
    assert_eq!(
        fb("REINDEX TABLE CONCURRENTLY t"),
        vec![Op::Reindex {
            target_kind: "TABLE".into(),
            target: Some(tb.clone()),
            concurrently: true
        }]
    );
    assert_eq!(
        fb("REINDEX INDEX i"),
        vec![Op::Reindex {
            target_kind: "INDEX".into(),
            target: Some(t("i")),
            concurrently: false
        }]
    );
    assert_eq!(
        fb("CLUSTER t"),
        vec![Op::Cluster {
            table: Some(tb.clone())
        }]
    );
    assert_eq!(
        fb("VACUUM (FULL) t"),
        vec![Op::VacuumFull {
            table: Some(tb.clone())
        }]
    );
    assert_eq!(
        fb("REFRESH MATERIALIZED VIEW CONCURRENTLY mv"),
        vec![Op::RefreshMaterializedView {
            name: t("mv"),
            concurrently: true
        }]
    );
    assert_eq!(
        fb(
            "ALTER TABLE t ATTACH PARTITION t_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
        ),
        vec![Op::AttachPartition {
            table: tb.clone(),
            partition: t("t_2024")
        }]
    );
    assert_eq!(
        fb("ALTER TABLE t DETACH PARTITION t_2023 CONCURRENTLY"),
        vec![Op::DetachPartition {
            table: tb.clone(),
            partition: t("t_2023"),
            concurrently: true,
            finalize: false
        }]
    );
    assert_eq!(
        fb("ALTER TABLE t DETACH PARTITION t_2023 FINALIZE"),
        vec![Op::DetachPartition {
            table: tb.clone(),
            partition: t("t_2023"),
            concurrently: false,
            finalize: true
        }]
    );
    assert_eq!(
        fb("ALTER TABLE t ALTER CONSTRAINT fk DEFERRABLE INITIALLY DEFERRED"),
        vec![Op::AlterConstraint {
            table: tb.clone(),
            name: "fk".into()
        }]
    );
    assert_eq!(
        fb("ALTER TABLE t ALTER COLUMN c SET STATISTICS 500"),
        vec![Op::AlterColumnOther {
            table: tb.clone(),
            column: "c".into(),
            what: "SET STATISTICS".into()
        }]
    );
    assert_eq!(
        fb("ALTER TABLE t ALTER COLUMN c TYPE varchar(50) COLLATE \"C\""),
        vec![Op::AlterColumnType {
            table: tb.clone(),
            column: "c".into(),
            ty: SqlType("character varying(50)".into()),
            using: None,
            collate: Some("\"C\"".into())
        }]
    );
    assert_eq!(
        fb("ALTER TABLE t ADD CONSTRAINT c_nn NOT NULL c"),
        vec![Op::AddConstraint {
            table: tb.clone(),
            constraint: Constraint {
                name: Some("c_nn".into()),
                kind: ConstraintKind::NotNull { column: "c".into() },
                not_valid: false
            }
        }]
    );
    assert_eq!(
        fb("ALTER SEQUENCE s RESTART WITH 100"),
        vec![Op::AlterSequence { name: t("s") }]
    );
    assert!(matches!(
        fb("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()").as_slice(),
        [Op::Other { .. }]
    ));
    assert!(matches!(
        fb("DROP EVENT TRIGGER e").as_slice(),
        [Op::Other { .. }]
    ));
    assert!(matches!(
        fb("ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO r").as_slice(),
        [Op::Other { .. }]
    ));
    assert!(matches!(
        fb("COMMENT ON FUNCTION f(int) IS 'x'").as_slice(),
        [Op::Other { .. }]
    ));
    assert_eq!(
        fb("CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN END $$"),
        vec![Op::CreateFunction {
            name: t("p"),
            volatility: None
        }]
    );
    assert_eq!(
        fb("CREATE INDEX CONCURRENTLY i ON ONLY t (a)"),
        vec![Op::CreateIndex {
            name: Some(t("i")),
            table: tb.clone(),
            columns: vec!["a".into()],
            unique: false,
            concurrently: true,
            if_not_exists: false,
            partial: false
        }]
    );
}

#[test]
fn fallback_alter_table_mixes_parsed_and_keyword_subcommands() {
    let ops = fb("ALTER TABLE t ADD COLUMN z int DEFAULT 0, ALTER COLUMN c SET STATISTICS 100");
    assert_eq!(ops.len(), 2);
    assert!(matches!(&ops[0], Op::AddColumn { column, .. } if column.name == "z"));
    assert!(matches!(&ops[1], Op::AlterColumnOther { what, .. } if what == "SET STATISTICS"));
}

#[test]
fn do_blocks_report_and_lower_inner_ddl() {
    let sql = "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'i') THEN\n    CREATE INDEX i ON t (a);\n  END IF;\n  ALTER TABLE t ADD COLUMN b int;\nEND\n$$";
    let ops = fb(sql);
    assert_eq!(
        ops[0],
        Op::DoBlock {
            contains_ddl: false
        }
    );
    assert!(matches!(&ops[1], Op::CreateIndex { table, .. } if *table == t("t")));
    assert!(matches!(&ops[2], Op::AddColumn { column, .. } if column.name == "b"));

    // Dynamic SQL built from constants is analysed like the statement it builds.
    let ops = fb("DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 't'); END $$");
    assert!(
        matches!(&ops[1], Op::AddColumn { table, .. } if *table == t("t")),
        "{ops:?}"
    );
    // Built from a variable: not analysed, and said so.
    let ops = fb("DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN x int', tbl); END $$");
    assert_eq!(ops[0], Op::DoBlock { contains_ddl: true });
    assert!(matches!(&ops[1], Op::NotAnalysed { .. }), "{ops:?}");

    let ops = fb("DO $$ BEGIN RAISE NOTICE 'hello'; END $$");
    assert_eq!(
        ops,
        vec![Op::DoBlock {
            contains_ddl: false
        }]
    );
}

#[test]
fn unknown_text_is_unparsed_with_the_parser_message() {
    let st = parse_sql("SELECT 1; FROBNICATE the widgets; SELECT 2");
    assert_eq!(st.len(), 3);
    assert_eq!(st[1].parsed_by, ParsedBy::Unparsed);
    assert!(st[1].ops.is_empty());
    assert!(
        st[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("FROBNICATE")),
        "{:?}",
        st[1].error
    );
    assert_eq!(st[2].parsed_by, ParsedBy::Sqlparser);
}

// ------------------------------------------------------------------------------ masking

#[test]
fn template_placeholders_are_masked_without_moving_spans() {
    let sql = "CREATE TABLE {{ .Schema }}.users (id int);\nCREATE INDEX idx ON ${schema}.users (id);\nINSERT INTO t VALUES ('{{1,2}}');";
    let st = parse_sql(sql);
    assert_eq!(st.len(), 3);
    assert_eq!(
        &sql[st[0].span.clone()],
        "CREATE TABLE {{ .Schema }}.users (id int)"
    );
    assert!(matches!(&st[0].ops[0], Op::CreateTable { table, .. } if table.name == "users"));
    assert_eq!(st[0].parsed_by, ParsedBy::Sqlparser);
    assert_eq!(
        &sql[st[1].span.clone()],
        "CREATE INDEX idx ON ${schema}.users (id)"
    );
    assert!(matches!(&st[1].ops[0], Op::CreateIndex { table, .. } if table.name == "users"));
    assert_eq!(st[2].parsed_by, ParsedBy::Sqlparser);
}

// --------------------------------------------------------------------------- robustness

fn assert_well_formed(sql: &str, st: &[Statement]) {
    let mut prev = 0;
    for s in st {
        assert!(s.span.start >= prev && s.span.start < s.span.end && s.span.end <= sql.len());
        assert!(
            sql.get(s.span.clone()).is_some(),
            "span not on char boundary"
        );
        if s.parsed_by == ParsedBy::Unparsed {
            assert!(s.error.is_some());
        }
        prev = s.span.end;
    }
}

#[test]
fn deep_nesting_is_unparsed_not_a_crash() {
    let sql = format!(
        "SELECT {}1{};\nSELECT 2;",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let st = parse_sql(&sql);
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].parsed_by, ParsedBy::Unparsed);
    assert_eq!(st[1].parsed_by, ParsedBy::Sqlparser);

    let chain = format!("SELECT 1{};", " + 1".repeat(200_000));
    let st = parse_sql(&chain);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].parsed_by, ParsedBy::Unparsed);
}

#[test]
fn odd_input_never_panics() {
    let cases: Vec<String> = vec![
        "'".into(),
        "\"".into(),
        "$$".into(),
        "$a$ x".into(),
        "/*".into(),
        "/* /* */".into(),
        "E'\\".into(),
        ";;;;".into(),
        "(((((".into(),
        ")))))".into(),
        "BEGIN ATOMIC".into(),
        "CREATE FUNCTION f() BEGIN ATOMIC SELECT 1;".into(),
        "\u{0}\u{1}\u{7f}".into(),
        "ALTER TABLE".into(),
        "ALTER TABLE t".into(),
        "ALTER TABLE t ,,,".into(),
        "DROP INDEX".into(),
        "DO".into(),
        "DO $$ DO $x$ DO $y$ ALTER TABLE t ADD c int $y$ $x$ $$".into(),
        "CREATE INDEX ON".into(),
        "LOCK TABLE t IN".into(),
        "{{ }}".into(),
        "${}".into(),
        "SÉLECT ☃ FROM 日本".into(),
        "\u{feff}SELECT 1".into(),
        "SELECT 1\r\n;\r\nSELECT 2".into(),
    ];
    for sql in &cases {
        let st = parse_sql(sql);
        assert_well_formed(sql, &st);
    }
    // Pseudo-random bytes (a fixed LCG so failures reproduce), made valid UTF-8.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let alphabet: Vec<char> = "abcXYZ019 \n\t;'\"$()-/*{}[],.=<>:E\\é☃_".chars().collect();
    for _ in 0..300 {
        let len = (seed % 200) as usize;
        let mut s = String::new();
        for _ in 0..len {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
        }
        let st = parse_sql(&s);
        assert_well_formed(&s, &st);
    }
}

#[test]
fn invalid_script_range_yields_nothing() {
    let script = Script {
        path: "x.sql".into(),
        source: Arc::from("SELECT 'é'"),
        range: 0..9, // splits the two-byte é
        whole_statements: vec![],
        host: None,
    };
    assert!(parse_script(&script).is_empty());
}

#[test]
fn large_script_is_linear_enough() {
    let unit = "CREATE TABLE IF NOT EXISTS users (id bigserial PRIMARY KEY, email text NOT NULL, created_at timestamptz DEFAULT now());\n\
                ALTER TABLE users ADD COLUMN name varchar(200);\n\
                CREATE INDEX CONCURRENTLY users_email_idx ON users (lower(email));\n\
                UPDATE users SET name = 'x' WHERE id = 42;\n\
                -- a comment with ünïcode\n";
    let sql = unit.repeat(2_000);
    let start = std::time::Instant::now();
    let st = parse_sql(&sql);
    let elapsed = start.elapsed();
    assert_eq!(st.len(), 8_000);
    assert!(st.iter().all(|s| s.parsed_by == ParsedBy::Sqlparser));
    // Generous even for unoptimised builds: ~0.7 MB.
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
}

#[test]
fn bulk_insert_is_classified_without_a_full_parse() {
    let rows: Vec<String> = (0..40_000)
        .map(|i| format!("({i}, 'name {i}; ☃')"))
        .collect();
    let sql = format!(
        "INSERT INTO app.seed (id, name) VALUES {};\nSELECT 1;",
        rows.join(",\n")
    );
    let st = parse_sql(&sql);
    assert_eq!(st.len(), 2);
    assert!(sql[st[0].span.clone()].ends_with("☃')"));
    assert_eq!(
        st[0].ops,
        vec![Op::Insert {
            table: ObjName::new("app", "seed"),
            columns: vec![],
            from_select: false
        }]
    );
}
