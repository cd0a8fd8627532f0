//! Deterministic generator of a realistic migration folder for the lint throughput bench.
//!
//! Every migration creates one table and then evolves tables created by earlier ones, the way
//! a long-lived application's history looks: columns, NOT VALID constraints followed by a
//! VALIDATE, concurrent indexes, keyed updates and inserts, comments, plpgsql functions and
//! triggers with `$$` bodies, `DO` blocks, lock timeouts, views and enums. About 25
//! statements (≈4 KB) per migration. The same `(n, layout, seed)` always yields the same
//! bytes, so two runs of the bench lint identical input.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Which framework's folder conventions the generated files follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenLayout {
    /// `00001_name.sql`, one file per migration, no markers.
    Plain,
    /// `20240101000001_name.sql` with `-- +goose Up/Down` sections and
    /// `StatementBegin/End` around `$$` bodies.
    Goose,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenStats {
    pub files: usize,
    pub bytes: usize,
    /// Statements in the up sections (and down sections for goose).
    pub statements: usize,
}

/// A small deterministic PRNG (splitmix64): the bench must not depend on a random crate's
/// algorithm changing between versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WORDS: [&str; 16] = [
    "account", "invoice", "shipment", "ledger", "profile", "session", "coupon", "review",
    "payment", "address", "device", "report", "team", "member", "project", "audit",
];

/// Writes `n` migrations into `dir` (which must exist and be empty).
pub fn write_folder(dir: &Path, n: usize, layout: GenLayout, seed: u64) -> io::Result<GenStats> {
    let mut rng = Rng(seed);
    let mut stats = GenStats::default();
    let mut sql = String::with_capacity(8 * 1024);
    for i in 1..=n {
        sql.clear();
        let name = WORDS[i % WORDS.len()];
        let stmts = migration(&mut sql, i, &mut rng, layout);
        let file = match layout {
            GenLayout::Plain => format!("{i:05}_{name}_{i}.sql"),
            // A timestamp-like version, strictly increasing and zero-padded.
            GenLayout::Goose => format!("{}_{name}_{i}.sql", 20_240_101_000_000u64 + i as u64),
        };
        std::fs::write(dir.join(file), &sql)?;
        stats.files += 1;
        stats.bytes += sql.len();
        stats.statements += stmts;
    }
    Ok(stats)
}

/// Appends one migration's text; returns its statement count.
fn migration(out: &mut String, i: usize, rng: &mut Rng, layout: GenLayout) -> usize {
    let goose = layout == GenLayout::Goose;
    let t = format!("{}_{i}", WORDS[i % WORDS.len()]);
    // An older table this migration evolves (the table of migration `j < i`).
    let j = if i > 1 { 1 + rng.below(i - 1) } else { i };
    let old = format!("{}_{j}", WORDS[j % WORDS.len()]);
    let mut n = 0;
    // `w!` appends one statement and counts it.
    macro_rules! w {
        ($($arg:tt)*) => {{
            let _ = writeln!(out, $($arg)*);
            n += 1;
        }};
    }
    let begin = |out: &mut String| {
        if goose {
            out.push_str("-- +goose StatementBegin\n");
        }
    };
    let end = |out: &mut String| {
        if goose {
            out.push_str("-- +goose StatementEnd\n");
        }
    };

    if goose {
        // The file holds CREATE INDEX CONCURRENTLY, which refuses a transaction block.
        out.push_str("-- +goose NO TRANSACTION\n-- +goose Up\n");
    }
    let _ = writeln!(out, "-- Migration {i}: {t} and changes to {old}.\n");
    w!("SET lock_timeout = '{}s';", 1 + rng.below(5));
    w!("SET statement_timeout = '{}min';", 1 + rng.below(30));
    w!("CREATE TYPE {t}_status AS ENUM ('draft', 'active', 'suspended', 'closed');");
    w!(
        "CREATE TABLE {t} (\n    id          bigserial PRIMARY KEY,\n    owner_id    bigint      NOT NULL,\n    \
         name        text        NOT NULL,\n    status      {t}_status  NOT NULL DEFAULT 'draft',\n    \
         amount      numeric(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),\n    \
         payload     jsonb,\n    created_at  timestamptz NOT NULL DEFAULT now(),\n    \
         updated_at  timestamptz NOT NULL DEFAULT now()\n);"
    );
    w!("CREATE INDEX {t}_owner_idx ON {t} (owner_id);");
    w!("CREATE UNIQUE INDEX {t}_name_key ON {t} (lower(name)) WHERE status <> 'closed';");
    w!(
        "COMMENT ON TABLE {t} IS 'Rows of {t}: one per {} known to the app.';",
        WORDS[i % 7]
    );
    w!("COMMENT ON COLUMN {t}.payload IS 'Free-form attributes sent by the client (JSON).';");
    begin(out);
    w!(
        "CREATE OR REPLACE FUNCTION {t}_touch() RETURNS trigger\nLANGUAGE plpgsql AS $$\nBEGIN\n    \
         NEW.updated_at := now();\n    IF NEW.amount < 0 THEN\n        \
         RAISE EXCEPTION 'amount of % must not be negative', NEW.id;\n    END IF;\n    \
         RETURN NEW;\nEND;\n$$;"
    );
    end(out);
    w!(
        "CREATE TRIGGER {t}_touch_trg BEFORE UPDATE ON {t}\n    FOR EACH ROW EXECUTE FUNCTION {t}_touch();"
    );
    let col = format!("note_{i}");
    w!("ALTER TABLE {old} ADD COLUMN {col} text;");
    w!("ALTER TABLE {old} ALTER COLUMN {col} SET DEFAULT '';");
    w!(
        "ALTER TABLE {t} ADD CONSTRAINT {t}_owner_fk FOREIGN KEY (owner_id) REFERENCES {old} (id) NOT VALID;"
    );
    w!("ALTER TABLE {t} VALIDATE CONSTRAINT {t}_owner_fk;");
    w!(
        "ALTER TABLE {old} ADD CONSTRAINT {old}_{col}_len CHECK (char_length({col}) < {}) NOT VALID;",
        100 + rng.below(900)
    );
    w!("ALTER TABLE {old} VALIDATE CONSTRAINT {old}_{col}_len;");
    w!("CREATE INDEX CONCURRENTLY IF NOT EXISTS {old}_{col}_idx ON {old} ({col});");
    let rows = 2 + rng.below(4);
    let mut values = String::new();
    for r in 0..rows {
        if r > 0 {
            values.push_str(",\n    ");
        }
        let _ = write!(
            values,
            "({}, 'seed {i}/{r}', 'active', {}.{:02}, '{{\"source\": \"import\", \"batch\": {r}}}')",
            1 + rng.below(1000),
            rng.below(10_000),
            rng.below(100)
        );
    }
    w!("INSERT INTO {t} (owner_id, name, status, amount, payload) VALUES\n    {values};");
    w!(
        "UPDATE {old} SET {col} = 'migrated in {i}' WHERE id = {};",
        1 + rng.below(100_000)
    );
    w!(
        "DELETE FROM {old} WHERE id IN ({}, {});",
        1 + rng.below(100_000),
        1 + rng.below(100_000)
    );
    begin(out);
    w!(
        "DO $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_reader') THEN\n        \
         CREATE ROLE app_reader NOLOGIN;\n    END IF;\nEND\n$$;"
    );
    end(out);
    w!("GRANT SELECT ON {t} TO app_reader;");
    w!(
        "CREATE OR REPLACE VIEW {t}_active AS\n    SELECT id, owner_id, name, amount, created_at\n    \
         FROM {t}\n    WHERE status = 'active';"
    );
    w!("ALTER TYPE {t}_status ADD VALUE IF NOT EXISTS 'archived';");
    begin(out);
    w!(
        "CREATE OR REPLACE FUNCTION {t}_total(p_owner bigint) RETURNS numeric\nLANGUAGE sql STABLE AS $$\n    \
         SELECT coalesce(sum(amount), 0) FROM {t} WHERE owner_id = p_owner AND status <> 'closed'\n$$;"
    );
    end(out);
    w!("SELECT {t}_total({});", 1 + rng.below(1000));
    if i.is_multiple_of(10) {
        w!("DROP INDEX CONCURRENTLY IF EXISTS {old}_{col}_idx;");
    }
    if goose {
        out.push_str("\n-- +goose Down\n");
        w!("DROP VIEW IF EXISTS {t}_active;");
        w!("DROP TABLE IF EXISTS {t};");
        w!("DROP TYPE IF EXISTS {t}_status;");
        w!("ALTER TABLE {old} DROP COLUMN IF EXISTS {col};");
    }
    n
}
