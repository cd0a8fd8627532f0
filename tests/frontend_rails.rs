//! The Rails front end: each ActiveRecord migration method read from Ruby gives the same
//! operations as the SQL Rails' PostgreSQL adapter sends for it (written here from Rails'
//! API documentation and adapter behaviour; Rails itself cannot be installed here), the
//! `change` inverse matches what `rails db:rollback` runs, and `lockstep lint` on a Rails
//! application shows the findings a user expects.

use lockstep::ops::Op;
use lockstep::parse::{parse_script, parse_sql};
use lockstep::source::{Layout, Migration, load};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
use std::process::Command;

/// Reads one migration file (class body given) with the Rails layout.
fn migration(version: &str, class_body: &str) -> Migration {
    let dir = tempfile::tempdir().expect("tempdir");
    let migrate = dir.path().join("db/migrate");
    fs::create_dir_all(&migrate).expect("mkdir");
    let superclass = if version.is_empty() {
        "ActiveRecord::Migration".to_string()
    } else {
        format!("ActiveRecord::Migration[{version}]")
    };
    let text = format!("class TestMigration < {superclass}\n{class_body}\nend\n");
    fs::write(migrate.join("20240101000000_test_migration.rb"), text).expect("write");
    let loaded = load(&[migrate], Some(Layout::Rails), &[]).expect("loads");
    assert_eq!(loaded.migrations.len(), 1);
    loaded.migrations.into_iter().next().expect("one")
}

fn change(version: &str, body: &str) -> Migration {
    migration(version, &format!("  def change\n{body}\n  end"))
}

fn ops_of(script: &lockstep::source::Script) -> Vec<Op> {
    parse_script(script)
        .into_iter()
        .flat_map(|s| s.ops)
        .collect()
}

fn up_ops(m: &Migration) -> Vec<Op> {
    ops_of(&m.up)
}

fn down_ops(m: &Migration) -> Option<Vec<Op>> {
    m.down.as_ref().map(ops_of)
}

fn sql(text: &str) -> Vec<Op> {
    let statements = parse_sql(text);
    for s in &statements {
        assert_ne!(
            s.parsed_by,
            lockstep::parse::ParsedBy::Unparsed,
            "reference SQL must parse: {text}"
        );
    }
    statements.into_iter().flat_map(|s| s.ops).collect()
}

/// Rails' default foreign-key name, computed independently of the crate.
fn fk(table: &str, column: &str) -> String {
    let digest = Sha256::digest(format!("{table}_{column}_fk").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("fk_rails_{}", &hex[..10])
}

fn assert_same(rb: &[Op], reference: &str) {
    assert_eq!(rb, sql(reference).as_slice(), "reference SQL: {reference}");
}

// ---- create_table ------------------------------------------------------------------------

#[test]
fn create_table_with_common_column_types_matches_rails_sql() {
    let m = change(
        "7.1",
        r#"    create_table :users do |t|
      t.string :name, null: false
      t.string :code, limit: 20
      t.text :bio
      t.integer :age
      t.integer :rank, limit: 2
      t.bigint :views
      t.float :score
      t.decimal :price, precision: 10, scale: 2
      t.boolean :admin, default: false
      t.date :born_on
      t.datetime :last_seen_at
      t.binary :avatar
      t.json :raw
      t.jsonb :settings, default: {}
      t.uuid :token
      t.inet :ip
      t.string :tags, array: true
      t.timestamps
    end"#,
    );
    assert_same(
        &up_ops(&m),
        r#"CREATE TABLE "users" ("id" bigserial primary key, "name" character varying NOT NULL,
           "code" character varying(20), "bio" text, "age" integer, "rank" smallint,
           "views" bigint, "score" float, "price" decimal(10,2), "admin" boolean DEFAULT FALSE,
           "born_on" date, "last_seen_at" timestamp(6), "avatar" bytea, "raw" json,
           "settings" jsonb DEFAULT '{}', "token" uuid, "ip" inet, "tags" character varying[],
           "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)"#,
    );
    assert_same(&down_ops(&m).expect("reversible"), r#"DROP TABLE "users""#);
}

#[test]
fn type_defaults_follow_the_migration_version() {
    // 7.0+: every datetime has precision 6.
    let body = "    create_table :events do |t|\n      t.datetime :at\n      t.timestamps\n    end";
    assert_same(
        &up_ops(&change("7.0", body)),
        r#"CREATE TABLE "events" ("id" bigserial primary key, "at" timestamp(6),
           "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)"#,
    );
    // 6.0/6.1: only timestamps have precision 6.
    assert_same(
        &up_ops(&change("6.1", body)),
        r#"CREATE TABLE "events" ("id" bigserial primary key, "at" timestamp,
           "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)"#,
    );
    // 5.0: integer primary key (bigint since 5.1), timestamps NOT NULL.
    assert_same(
        &up_ops(&change("5.0", body)),
        r#"CREATE TABLE "events" ("id" serial primary key, "at" timestamp,
           "created_at" timestamp NOT NULL, "updated_at" timestamp NOT NULL)"#,
    );
    // Rails 4 (no version): timestamps may be NULL.
    assert_same(
        &up_ops(&change("", body)),
        r#"CREATE TABLE "events" ("id" serial primary key, "at" timestamp,
           "created_at" timestamp, "updated_at" timestamp)"#,
    );
}

#[test]
fn create_table_ids_and_primary_keys() {
    assert_same(
        &up_ops(&change(
            "7.1",
            "    create_table :keys, id: :uuid do |t|\n      t.string :v\n    end",
        )),
        r#"CREATE TABLE "keys" ("id" uuid DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY, "v" character varying)"#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    create_table :tags, id: false do |t|\n      t.string :v\n    end",
        )),
        r#"CREATE TABLE "tags" ("v" character varying)"#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    create_table :codes, primary_key: :code, id: :string do |t|\n    end",
        )),
        r#"CREATE TABLE "codes" ("code" character varying NOT NULL PRIMARY KEY)"#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    create_table :legacy, id: :integer, force: :cascade do |t|\n    end",
        )),
        r#"DROP TABLE IF EXISTS "legacy" CASCADE; CREATE TABLE "legacy" ("id" serial primary key)"#,
    );
}

#[test]
fn create_table_references_index_and_foreign_key() {
    let m = change(
        "7.1",
        r#"    create_table :posts do |t|
      t.references :author, null: false, foreign_key: { to_table: :users }
      t.belongs_to :category, foreign_key: true, index: false
      t.references :subject, polymorphic: true
      t.string :slug, index: { unique: true }
      t.index [:author_id, :slug], name: "by_author"
    end"#,
    );
    assert_same(
        &up_ops(&m),
        &format!(
            r#"CREATE TABLE "posts" ("id" bigserial primary key, "author_id" bigint NOT NULL,
               "category_id" bigint, "subject_type" character varying, "subject_id" bigint,
               "slug" character varying,
               CONSTRAINT "{}" FOREIGN KEY ("author_id") REFERENCES "users" ("id"),
               CONSTRAINT "{}" FOREIGN KEY ("category_id") REFERENCES "categories" ("id"));
             CREATE INDEX "index_posts_on_author_id" ON "posts" ("author_id");
             CREATE INDEX "index_posts_on_subject_type_and_subject_id" ON "posts" ("subject_type", "subject_id");
             CREATE UNIQUE INDEX "index_posts_on_slug" ON "posts" ("slug");
             CREATE INDEX "by_author" ON "posts" ("author_id", "slug")"#,
            fk("posts", "author_id"),
            fk("posts", "category_id")
        ),
    );
}

// ---- columns -----------------------------------------------------------------------------

#[test]
fn add_and_remove_column() {
    let m = change(
        "7.1",
        r#"    add_column :users, :email, :string, null: false, default: ""
    add_column :users, :seen_at, :datetime, precision: nil
    add_column :users, :created_on, :timestamp, default: -> { "CURRENT_TIMESTAMP" }"#,
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "users" ADD "email" character varying DEFAULT '' NOT NULL;
           ALTER TABLE "users" ADD "seen_at" timestamp;
           ALTER TABLE "users" ADD "created_on" timestamp(6) DEFAULT CURRENT_TIMESTAMP"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"ALTER TABLE "users" DROP COLUMN "created_on"; ALTER TABLE "users" DROP COLUMN "seen_at";
           ALTER TABLE "users" DROP COLUMN "email""#,
    );
    let m = change(
        "7.1",
        "    remove_column :users, :email, :string, null: false",
    );
    assert_same(&up_ops(&m), r#"ALTER TABLE "users" DROP COLUMN "email""#);
    assert_same(
        &down_ops(&m).expect("a typed remove_column is reversible"),
        r#"ALTER TABLE "users" ADD "email" character varying NOT NULL"#,
    );
    // Without a type Rails cannot roll it back.
    assert!(down_ops(&change("7.1", "    remove_column :users, :email")).is_none());
    assert_same(
        &up_ops(&change("7.1", "    remove_columns :users, :a, :b")),
        r#"ALTER TABLE "users" DROP COLUMN "a", DROP COLUMN "b""#,
    );
}

#[test]
fn change_column_null_and_default() {
    let m = change(
        "7.1",
        "    change_column :users, :age, :bigint, null: false",
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "users" ALTER COLUMN "age" TYPE bigint, ALTER COLUMN "age" SET NOT NULL"#,
    );
    assert!(down_ops(&m).is_none(), "change_column is irreversible");
    let m = change("7.1", "    change_column_null :users, :email, false, \"\"");
    assert_same(
        &up_ops(&m),
        r#"UPDATE "users" SET "email"='' WHERE "email" IS NULL;
           ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"ALTER TABLE "users" ALTER COLUMN "email" DROP NOT NULL"#,
    );
    let m = change(
        "7.1",
        "    change_column_default :users, :admin, from: nil, to: false",
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "users" ALTER COLUMN "admin" SET DEFAULT FALSE"#,
    );
    assert_same(
        &down_ops(&m).expect("from/to is reversible"),
        r#"ALTER TABLE "users" ALTER COLUMN "admin" DROP DEFAULT"#,
    );
    assert!(
        down_ops(&change(
            "7.1",
            "    change_column_default :users, :admin, false"
        ))
        .is_none()
    );
}

#[test]
fn renames_and_drops() {
    let m = change(
        "7.1",
        "    rename_column :users, :name, :full_name\n    rename_table :users, :people",
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "users" RENAME COLUMN "name" TO "full_name"; ALTER TABLE "users" RENAME TO "people""#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"ALTER TABLE "people" RENAME TO "users"; ALTER TABLE "users" RENAME COLUMN "full_name" TO "name""#,
    );
    let m = change("7.1", "    drop_table :sessions, if_exists: true");
    assert_same(&up_ops(&m), r#"DROP TABLE IF EXISTS "sessions""#);
    assert!(down_ops(&m).is_none(), "drop_table without a block");
    let m = change(
        "7.1",
        "    drop_table :sessions do |t|\n      t.string :key\n    end",
    );
    assert_same(
        &down_ops(&m).expect("drop_table with a block is reversible"),
        r#"CREATE TABLE "sessions" ("id" bigserial primary key, "key" character varying)"#,
    );
}

#[test]
fn timestamps_and_change_table() {
    assert_same(
        &up_ops(&change("7.1", "    add_timestamps :users")),
        r#"ALTER TABLE "users" ADD "created_at" timestamp(6) NOT NULL, ADD "updated_at" timestamp(6) NOT NULL"#,
    );
    let m = change(
        "7.1",
        r#"    change_table :users do |t|
      t.string :nick, :handle
      t.remove :legacy
      t.rename :bio, :about
      t.index :nick, unique: true
      t.references :team
      t.change_default :nick, from: nil, to: "x"
    end"#,
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "users" ADD "nick" character varying;
           ALTER TABLE "users" ADD "handle" character varying;
           ALTER TABLE "users" DROP COLUMN "legacy";
           ALTER TABLE "users" RENAME COLUMN "bio" TO "about";
           CREATE UNIQUE INDEX "index_users_on_nick" ON "users" ("nick");
           ALTER TABLE "users" ADD "team_id" bigint;
           CREATE INDEX "index_users_on_team_id" ON "users" ("team_id");
           ALTER TABLE "users" ALTER COLUMN "nick" SET DEFAULT 'x'"#,
    );
    assert!(
        down_ops(&m).is_none(),
        "t.remove without a type is irreversible"
    );
}

// ---- indexes -----------------------------------------------------------------------------

#[test]
fn add_and_remove_index() {
    let m = change(
        "7.1",
        r#"    add_index :users, :email, unique: true
    add_index :users, [:last_name, :first_name], where: "deleted_at IS NULL", using: :btree
    add_index :users, "lower(email)", name: "users_lower_email"
    add_index :users, :bio, using: :gin, opclass: :gin_trgm_ops
    add_index :users, :created_at, order: { created_at: :desc }, include: [:id]"#,
    );
    assert_same(
        &up_ops(&m),
        r#"CREATE UNIQUE INDEX "index_users_on_email" ON "users" ("email");
           CREATE INDEX "index_users_on_last_name_and_first_name" ON "users" USING btree ("last_name", "first_name") WHERE deleted_at IS NULL;
           CREATE INDEX "users_lower_email" ON "users" (lower(email));
           CREATE INDEX "index_users_on_bio" ON "users" USING gin ("bio" gin_trgm_ops);
           CREATE INDEX "index_users_on_created_at" ON "users" ("created_at" DESC) INCLUDE ("id")"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"DROP INDEX "index_users_on_created_at"; DROP INDEX "index_users_on_bio";
           DROP INDEX "users_lower_email"; DROP INDEX "index_users_on_last_name_and_first_name";
           DROP INDEX "index_users_on_email""#,
    );
    let m = migration(
        "7.1",
        "  disable_ddl_transaction!\n  def change\n    add_index :users, :email, algorithm: :concurrently\n  end",
    );
    assert!(
        !m.in_transaction,
        "disable_ddl_transaction! runs outside a transaction"
    );
    assert_same(
        &up_ops(&m),
        r#"CREATE INDEX CONCURRENTLY "index_users_on_email" ON "users" ("email")"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"DROP INDEX CONCURRENTLY "index_users_on_email""#,
    );
    let m = change(
        "7.1",
        "    remove_index :users, :email\n    remove_index :users, name: \"users_lower_email\", if_exists: true",
    );
    assert_same(
        &up_ops(&m),
        r#"DROP INDEX "index_users_on_email"; DROP INDEX IF EXISTS "users_lower_email""#,
    );
    assert!(down_ops(&m).is_none(), "remove_index by name only");
}

#[test]
fn long_index_names_are_shortened_since_7_1() {
    let m = change(
        "7.1",
        "    add_index :organization_memberships, [:organization_id, :membership_role_identifier]",
    );
    let Op::CreateIndex { name: Some(n), .. } = &up_ops(&m)[0] else {
        panic!("an index")
    };
    // index_organization_memberships_on_organization_id_and_membership_role_identifier is
    // longer than 62 bytes: Rails writes idx_on_<cols>_<10 hex of its SHA-256>.
    let long = "index_organization_memberships_on_organization_id_and_membership_role_identifier";
    let digest = Sha256::digest(long.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        n.name,
        format!(
            "idx_on_organization_id_membership_role_identifier_{}",
            &hex[..10]
        )
    );
}

// ---- references, foreign keys, checks ----------------------------------------------------

#[test]
fn add_foreign_key_matches_the_rails_documentation() {
    // activerecord docs, add_foreign_key: generates
    // ALTER TABLE "articles" ADD CONSTRAINT fk_rails_e74ce85cbc FOREIGN KEY ("author_id") REFERENCES "authors" ("id")
    assert_eq!(fk("articles", "author_id"), "fk_rails_e74ce85cbc");
    let m = change("7.1", "    add_foreign_key :articles, :authors");
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "articles" ADD CONSTRAINT fk_rails_e74ce85cbc FOREIGN KEY ("author_id") REFERENCES "authors" ("id")"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"ALTER TABLE "articles" DROP CONSTRAINT fk_rails_e74ce85cbc"#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    add_foreign_key :articles, :users, column: :author_id, primary_key: :lng_id, on_delete: :cascade, validate: false",
        )),
        &format!(
            r#"ALTER TABLE "articles" ADD CONSTRAINT "{}" FOREIGN KEY ("author_id") REFERENCES "users" ("lng_id") ON DELETE CASCADE NOT VALID"#,
            fk("articles", "author_id")
        ),
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    validate_foreign_key :articles, :authors",
        )),
        r#"ALTER TABLE "articles" VALIDATE CONSTRAINT "fk_rails_e74ce85cbc""#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    remove_foreign_key :articles, column: :author_id",
        )),
        r#"ALTER TABLE "articles" DROP CONSTRAINT "fk_rails_e74ce85cbc""#,
    );
}

#[test]
fn add_reference_adds_column_index_and_foreign_key() {
    let m = change(
        "7.1",
        "    add_reference :posts, :user, foreign_key: true, null: false",
    );
    assert_same(
        &up_ops(&m),
        &format!(
            r#"ALTER TABLE "posts" ADD "user_id" bigint NOT NULL;
               CREATE INDEX "index_posts_on_user_id" ON "posts" ("user_id");
               ALTER TABLE "posts" ADD CONSTRAINT "{0}" FOREIGN KEY ("user_id") REFERENCES "users" ("id")"#,
            fk("posts", "user_id")
        ),
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        &format!(
            r#"ALTER TABLE "posts" DROP CONSTRAINT "{}"; ALTER TABLE "posts" DROP COLUMN "user_id""#,
            fk("posts", "user_id")
        ),
    );
    // strong_migrations' advice: the index built concurrently.
    assert_same(
        &up_ops(&change(
            "7.1",
            "    add_reference :posts, :owner, index: { algorithm: :concurrently }, type: :uuid",
        )),
        r#"ALTER TABLE "posts" ADD "owner_id" uuid;
           CREATE INDEX CONCURRENTLY "index_posts_on_owner_id" ON "posts" ("owner_id")"#,
    );
    // Rails 4.2: integer, no index.
    assert_same(
        &up_ops(&change("", "    add_reference :posts, :user")),
        r#"ALTER TABLE "posts" ADD "user_id" integer"#,
    );
}

#[test]
fn check_constraints() {
    // activerecord docs, add_check_constraint:
    // ALTER TABLE "products" ADD CONSTRAINT price_check CHECK (price > 0)
    let m = change(
        "7.1",
        "    add_check_constraint :products, \"price > 0\", name: \"price_check\", validate: false",
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "products" ADD CONSTRAINT price_check CHECK (price > 0) NOT VALID"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"ALTER TABLE "products" DROP CONSTRAINT price_check"#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    validate_check_constraint :products, name: \"price_check\"",
        )),
        r#"ALTER TABLE "products" VALIDATE CONSTRAINT price_check"#,
    );
}

#[test]
fn extensions_enums_and_join_tables() {
    assert_same(
        &up_ops(&change(
            "7.1",
            "    enable_extension \"pgcrypto\"\n    create_enum :mood, [\"happy\", \"sad\"]\n    add_enum_value :mood, \"calm\"",
        )),
        r#"CREATE EXTENSION IF NOT EXISTS "pgcrypto"; CREATE TYPE "mood" AS ENUM ('happy', 'sad');
           ALTER TYPE "mood" ADD VALUE 'calm'"#,
    );
    assert_same(
        &up_ops(&change(
            "7.1",
            "    create_join_table :products, :categories",
        )),
        r#"CREATE TABLE "categories_products" ("product_id" bigint NOT NULL, "category_id" bigint NOT NULL)"#,
    );
}

// ---- up/down, execute, reversible, dynamic code ------------------------------------------

#[test]
fn up_and_down_methods_and_execute() {
    let m = migration(
        "7.1",
        r#"  def up
    execute <<~SQL
      UPDATE users SET admin = false WHERE admin IS NULL;
      ALTER TABLE users ALTER COLUMN admin SET NOT NULL;
    SQL
    execute "CREATE INDEX users_name ON users (name)"
  end

  def down
    raise ActiveRecord::IrreversibleMigration
  end"#,
    );
    assert_same(
        &up_ops(&m),
        "UPDATE users SET admin = false WHERE admin IS NULL; \
         ALTER TABLE users ALTER COLUMN admin SET NOT NULL; CREATE INDEX users_name ON users (name)",
    );
    assert!(m.down.is_none(), "down raises IrreversibleMigration");
    // Spans of SQL in a literal point into the literal.
    let statements = parse_script(&m.up);
    let text = &m.up.source[statements[2].span.clone()];
    assert_eq!(text, "CREATE INDEX users_name ON users (name)");
    let text = &m.up.source[statements[1].span.clone()];
    assert_eq!(text, "ALTER TABLE users ALTER COLUMN admin SET NOT NULL");
}

#[test]
fn an_up_without_down_rolls_back_as_a_no_op() {
    // ActiveRecord::Migration#down does nothing when the class defines no `down`.
    let m = migration("7.1", "  def up\n    add_column :users, :x, :string\n  end");
    assert_eq!(down_ops(&m), Some(Vec::new()));
}

#[test]
fn reversible_blocks_split_up_and_down() {
    let m = change(
        "7.1",
        r#"    add_column :users, :flag, :boolean
    reversible do |dir|
      dir.up { execute "UPDATE users SET flag = true" }
      dir.down do
        execute "UPDATE users SET flag = NULL"
      end
    end"#,
    );
    assert_same(
        &up_ops(&m),
        r#"ALTER TABLE "users" ADD "flag" boolean; UPDATE users SET flag = true"#,
    );
    assert_same(
        &down_ops(&m).expect("reversible"),
        r#"UPDATE users SET flag = NULL; ALTER TABLE "users" DROP COLUMN "flag""#,
    );
}

#[test]
fn dynamic_ruby_is_not_analysed_never_guessed() {
    let m = change(
        "7.1",
        r#"    %w[a b].each { |c| add_column :users, c, :string }
    execute "UPDATE users SET x = #{value}"
    add_column :users, :ok, :string
    User.where(admin: nil).update_all(admin: false)
    some_helper(:users)"#,
    );
    let ops = up_ops(&m);
    let not_analysed: Vec<&String> = ops
        .iter()
        .filter_map(|o| match o {
            Op::NotAnalysed { what } => Some(what),
            _ => None,
        })
        .collect();
    assert_eq!(not_analysed.len(), 4, "{not_analysed:?}");
    assert!(not_analysed[0].contains("%w[a b].each"), "{not_analysed:?}");
    assert!(
        not_analysed[1].contains("built at run time"),
        "{not_analysed:?}"
    );
    assert!(not_analysed[3].contains("some_helper"), "{not_analysed:?}");
    // The literal call between them is still read.
    assert!(
        ops.iter()
            .any(|o| matches!(o, Op::AddColumn { column, .. } if column.name == "ok"))
    );
}

#[test]
fn a_create_table_block_with_ruby_code_creates_what_it_can_and_says_what_not() {
    let m = change(
        "7.1",
        "    create_table :t do |t|\n      t.string :a\n      COLUMNS.each { |c| t.string c }\n    end",
    );
    let ops = up_ops(&m);
    assert!(matches!(&ops[0], Op::CreateTable { columns, .. } if columns.len() == 2));
    assert!(
        ops.iter()
            .any(|o| matches!(o, Op::UnknownDefinition { .. }))
    );
    assert!(ops.iter().any(|o| matches!(o, Op::NotAnalysed { .. })));
}

#[test]
fn a_file_that_is_not_ruby_is_one_not_analysed_statement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let migrate = dir.path().join("db/migrate");
    fs::create_dir_all(&migrate).expect("mkdir");
    fs::write(
        migrate.join("20240101000000_broken.rb"),
        "class Broken < ActiveRecord::Migration[7.1]\n  def change\n    add_column :t, :c, (\n  end\n",
    )
    .expect("write");
    let loaded = load(&[migrate], Some(Layout::Rails), &[]).expect("loads");
    let ops = up_ops(&loaded.migrations[0]);
    assert!(matches!(&ops[..], [Op::NotAnalysed { what }] if what.contains("syntax error")));
}

// ---- lint end to end ---------------------------------------------------------------------

fn fixture_app() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rails/app"
    ))
}

/// (rule, migration id) of every finding of `lockstep lint --format json`.
fn lint_findings(dir: &Path) -> (i32, Vec<(String, String, String)>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["lint", ".", "--format", "json"])
        .output()
        .expect("lockstep runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON report: {e}\nstderr: {stderr}"));
    let findings = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["migration"].as_str().unwrap_or("").to_string(),
                f["help"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (out.status.code().unwrap_or(-1), findings, stderr)
}

fn has(findings: &[(String, String, String)], rule: &str, migration: &str) -> bool {
    findings
        .iter()
        .any(|(r, m, _)| r == rule && m.contains(migration))
}

#[test]
fn lint_in_a_rails_app_finds_what_strong_migrations_users_expect() {
    let count = fs::read_dir(fixture_app().join("db/migrate"))
        .expect("fixture")
        .count();
    assert!(count >= 40, "fixture app has {count} migrations");
    let (code, findings, stderr) = lint_findings(fixture_app());
    assert_eq!(code, 1, "findings at error level: {findings:?}\n{stderr}");
    // add_index on an existing table, in a transaction.
    assert!(
        has(
            &findings,
            "create-index-non-concurrently",
            "add_index_to_users_email"
        ),
        "{findings:?}"
    );
    let help = findings
        .iter()
        .find(|(r, m, _)| {
            r == "create-index-non-concurrently" && m.contains("add_index_to_users_email")
        })
        .map(|(_, _, h)| h.clone())
        .unwrap_or_default();
    assert!(
        help.contains("algorithm: :concurrently"),
        "help speaks Rails: {help}"
    );
    // The same with algorithm: :concurrently and disable_ddl_transaction!: nothing.
    assert!(
        !findings
            .iter()
            .any(|(_, m, _)| m.contains("add_index_concurrently")),
        "{findings:?}"
    );
    // algorithm: :concurrently without disable_ddl_transaction! fails in Rails' transaction.
    assert!(
        has(
            &findings,
            "concurrently-in-transaction",
            "concurrent_index_in_transaction"
        ),
        "{findings:?}"
    );
    // A validated foreign key on an existing table; with validate: false it is fine.
    assert!(
        has(&findings, "add-foreign-key", "add_foreign_key_orders_users"),
        "{findings:?}"
    );
    assert!(
        !has(&findings, "add-foreign-key", "add_foreign_key_not_valid"),
        "{findings:?}"
    );
    // change_column_null on an existing table scans it.
    assert!(
        has(&findings, "set-not-null-scan", "users_email_not_null"),
        "{findings:?}"
    );
    // Dropping and renaming break running code.
    assert!(
        has(&findings, "drop-column", "remove_users_legacy"),
        "{findings:?}"
    );
    assert!(
        has(&findings, "rename-column", "rename_users_bio"),
        "{findings:?}"
    );
    // Tables created in the same migration are exempt from lock rules.
    assert!(
        !findings
            .iter()
            .any(|(r, m, _)| r == "create-index-non-concurrently" && m.contains("create_products")),
        "{findings:?}"
    );
    // A loop is reported as not analysed, never guessed.
    assert!(
        has(&findings, "not-analysed", "add_flags_in_a_loop"),
        "{findings:?}"
    );
    // Inside safety_assured { } nothing is reported.
    assert!(
        !findings
            .iter()
            .any(|(r, m, _)| r != "not-analysed" && m.contains("safety_assured_remove")),
        "{findings:?}"
    );
}
