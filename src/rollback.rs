//! Rollback safety: does a migration's down script bring the schema back to where it was?
//!
//! The analyser replays every linted migration's up script, then its down script on a
//! copy of the catalog, and hands the three states (before the up, after the up, after
//! the down) to [`check`]. Comparing "before" with "after down" gives the exact
//! difference a rollback leaves behind; comparing "before" with "after up" tells whether
//! the up changes the schema at all (and so needs a down). Every difference comes with
//! the SQL that would undo it, so a finding can say what to add to the down script.
//!
//! Only schema is compared: tables, columns (type, nullability, default, identity,
//! generated), constraints, indexes, views, enum types and partitions. Objects the
//! replay does not know (created outside the migrations, or by statements that were not
//! parsed) cannot be compared; scripts with unparsed statements or DDL hidden in `DO`
//! blocks are not judged, so an incomplete replay never produces a false difference.

use crate::analyze::AnalyzedScript;
use crate::catalog::{Catalog, Column, Index, Table, TableConstraint, View};
use crate::ops::{ConstraintKind, ObjName, Op};
use crate::parse::ParsedBy;
use crate::rules::{self, Direction, Emitter, Finding};
use crate::settings::Settings;
use crate::source::Migration;
use std::collections::BTreeSet;
use std::ops::Range;

/// One way in which an actual schema differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The object concerned, as users write it: `users`, `users.status`, `index users_email_idx`.
    pub subject: String,
    /// What is wrong, phrased about the actual state: "users.status still exists",
    /// "index orders_user_id_idx is missing", "users.email is nullable (was NOT NULL)".
    pub message: String,
    /// SQL that turns the actual state into the expected one for this difference, when it
    /// can be written from what the catalog knows (a view's query, for one, is not kept).
    pub fix: Option<String>,
}

/// The differences between `expected` and `actual`, in a stable order (tables, then
/// indexes, views and types; by name). Empty when the two schemas are the same.
///
/// Column order is not compared (PostgreSQL cannot re-insert a column in the middle, so a
/// down script that re-adds a dropped column is as good as it gets); neither are enum
/// values that `actual` has in excess, because PostgreSQL cannot remove an enum value.
pub fn diff(expected: &Catalog, actual: &Catalog) -> Vec<Difference> {
    // Both catalogs usually share almost all their structure (one migration apart): narrow
    // them to what differs, so a long history costs per migration what it changed, not
    // the size of the whole schema.
    let (e, a) = narrow(expected, actual);
    diff_full(&e, &a)
}

/// Sub-catalogs holding the entries that differ, plus the tables those entries belong to
/// and the indexes of those tables (the full comparison reads them for context).
fn narrow(expected: &Catalog, actual: &Catalog) -> (Catalog, Catalog) {
    use imbl::ordmap::DiffItem;
    fn keys_of<K: Ord + Clone, V: Clone + PartialEq>(
        e: &crate::catalog::Map<K, V>,
        a: &crate::catalog::Map<K, V>,
    ) -> Vec<K> {
        e.diff(a)
            .filter_map(|d| match d {
                DiffItem::Add(k, _) | DiffItem::Remove(k, _) => Some(k.clone()),
                DiffItem::Update { old, new } => (old.1 != new.1).then(|| old.0.clone()),
            })
            .collect()
    }
    let mut tables: BTreeSet<ObjName> = keys_of(&expected.tables, &actual.tables)
        .into_iter()
        .collect();
    let indexes = keys_of(&expected.indexes, &actual.indexes);
    for i in &indexes {
        for cat in [expected, actual] {
            if let Some(ix) = cat.indexes.get(i) {
                tables.insert(ix.table.clone());
            }
        }
    }
    let views = keys_of(&expected.views, &actual.views);
    let enums = keys_of(&expected.enums, &actual.enums);
    let pick = |cat: &Catalog| {
        let mut out = Catalog::new();
        for t in &tables {
            if let Some(v) = cat.tables.get(t) {
                out.tables.insert(t.clone(), v.clone());
            }
        }
        for (k, ix) in cat.indexes.iter() {
            if tables.contains(&ix.table) || indexes.contains(k) {
                out.indexes.insert(k.clone(), ix.clone());
            }
        }
        for v in &views {
            if let Some(x) = cat.views.get(v) {
                out.views.insert(v.clone(), x.clone());
            }
        }
        for en in &enums {
            if let Some(x) = cat.enums.get(en) {
                out.enums.insert(en.clone(), x.clone());
            }
        }
        out
    };
    (pick(expected), pick(actual))
}

fn diff_full(expected: &Catalog, actual: &Catalog) -> Vec<Difference> {
    let mut out = Vec::new();
    // Tables.
    for (name, e) in &expected.tables {
        match actual.tables.get(name) {
            None => out.push(Difference {
                subject: name.to_string(),
                message: format!("table {name} is missing"),
                fix: Some(create_table_sql(e, expected)),
            }),
            Some(a) => diff_table(e, a, &mut out),
        }
    }
    for name in actual.tables.keys() {
        if !expected.tables.contains_key(name) {
            out.push(Difference {
                subject: name.to_string(),
                message: format!("table {name} still exists"),
                fix: Some(format!("DROP TABLE {};", ident_name(name))),
            });
        }
    }
    // Indexes, except those of tables reported whole above and those that back a
    // constraint (the constraint's difference says it).
    let whole_tables: BTreeSet<&ObjName> = expected
        .tables
        .keys()
        .filter(|t| !actual.tables.contains_key(*t))
        .chain(
            actual
                .tables
                .keys()
                .filter(|t| !expected.tables.contains_key(*t)),
        )
        .collect();
    let backs_constraint = |cat: &Catalog, i: &Index| {
        cat.tables
            .get(&i.table)
            .is_some_and(|t| t.constraints.iter().any(|c| c.name == i.name.name))
    };
    for (name, e) in &expected.indexes {
        if whole_tables.contains(&e.table) || backs_constraint(expected, e) {
            continue;
        }
        match actual.indexes.get(name) {
            None => out.push(Difference {
                subject: format!("index {name}"),
                message: format!("index {name} on {} is missing", e.table),
                fix: Some(create_index_sql(e)),
            }),
            Some(a) if a != e => out.push(Difference {
                subject: format!("index {name}"),
                message: format!(
                    "index {name} is {} (was {})",
                    describe_index(a),
                    describe_index(e)
                ),
                fix: Some(format!(
                    "DROP INDEX {};\n{}",
                    ident_name(name),
                    create_index_sql(e)
                )),
            }),
            Some(_) => {}
        }
    }
    for (name, a) in &actual.indexes {
        if whole_tables.contains(&a.table)
            || backs_constraint(actual, a)
            || expected.indexes.contains_key(name)
        {
            continue;
        }
        out.push(Difference {
            subject: format!("index {name}"),
            message: format!("index {name} on {} still exists", a.table),
            fix: Some(format!("DROP INDEX {};", ident_name(name))),
        });
    }
    // Views.
    for (name, e) in &expected.views {
        match actual.views.get(name) {
            None => out.push(Difference {
                subject: format!("view {name}"),
                message: format!("{} {name} is missing", view_word(e)),
                fix: None,
            }),
            Some(a) if a != e => out.push(Difference {
                subject: format!("view {name}"),
                message: format!(
                    "{} {name} reads {} (was {} reading {})",
                    view_word(a),
                    names(&a.depends_on),
                    view_word(e),
                    names(&e.depends_on)
                ),
                fix: None,
            }),
            Some(_) => {}
        }
    }
    for (name, a) in &actual.views {
        if !expected.views.contains_key(name) {
            out.push(Difference {
                subject: format!("view {name}"),
                message: format!("{} {name} still exists", view_word(a)),
                fix: Some(format!(
                    "DROP {} {};",
                    view_word(a).to_ascii_uppercase(),
                    ident_name(name)
                )),
            });
        }
    }
    // Enum types.
    for (name, values) in &expected.enums {
        match actual.enums.get(name) {
            None => out.push(Difference {
                subject: format!("type {name}"),
                message: format!("enum type {name} is missing"),
                fix: Some(format!(
                    "CREATE TYPE {} AS ENUM ({});",
                    ident_name(name),
                    values
                        .iter()
                        .map(|v| literal(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }),
            Some(have) => {
                for v in values.iter().filter(|v| !have.contains(v)) {
                    out.push(Difference {
                        subject: format!("type {name}"),
                        message: format!("enum type {name} lacks the value {}", literal(v)),
                        fix: Some(format!(
                            "ALTER TYPE {} ADD VALUE IF NOT EXISTS {};",
                            ident_name(name),
                            literal(v)
                        )),
                    });
                }
            }
        }
    }
    for name in actual.enums.keys() {
        if !expected.enums.contains_key(name) {
            out.push(Difference {
                subject: format!("type {name}"),
                message: format!("enum type {name} still exists"),
                fix: Some(format!("DROP TYPE {};", ident_name(name))),
            });
        }
    }
    out
}

fn diff_table(e: &Table, a: &Table, out: &mut Vec<Difference>) {
    let t = &e.name;
    let tq = ident_name(t);
    for ec in &e.columns {
        let subject = format!("{t}.{}", ec.name);
        let col = ident(&ec.name);
        let Some(ac) = a.column(&ec.name) else {
            out.push(Difference {
                message: format!("{subject} is missing"),
                subject,
                fix: Some(format!("ALTER TABLE {tq} ADD COLUMN {};", column_sql(ec))),
            });
            continue;
        };
        if canonical_type(&ac.ty.0) != canonical_type(&ec.ty.0) {
            out.push(Difference {
                message: format!("{subject} has type {} (was {})", ac.ty, ec.ty),
                subject: subject.clone(),
                fix: Some(format!(
                    "ALTER TABLE {tq} ALTER COLUMN {col} TYPE {};",
                    ec.ty
                )),
            });
        }
        if ac.not_null != ec.not_null {
            let (now, was, fix) = if ec.not_null {
                ("nullable", "NOT NULL", "SET NOT NULL")
            } else {
                ("NOT NULL", "nullable", "DROP NOT NULL")
            };
            out.push(Difference {
                message: format!("{subject} is {now} (was {was})"),
                subject: subject.clone(),
                fix: Some(format!("ALTER TABLE {tq} ALTER COLUMN {col} {fix};")),
            });
        }
        let (ed, ad) = (
            ec.default.as_ref().map(|d| d.sql.as_str()),
            ac.default.as_ref().map(|d| d.sql.as_str()),
        );
        if ed.map(norm_expr) != ad.map(norm_expr) && !(ec.identity && ac.identity) {
            let (message, fix) = match (ed, ad) {
                (Some(ed), Some(ad)) => (
                    format!("{subject} defaults to {ad} (was {ed})"),
                    format!("ALTER TABLE {tq} ALTER COLUMN {col} SET DEFAULT {ed};"),
                ),
                (Some(ed), None) => (
                    format!("{subject} has no default (was {ed})"),
                    format!("ALTER TABLE {tq} ALTER COLUMN {col} SET DEFAULT {ed};"),
                ),
                (None, Some(ad)) => (
                    format!("{subject} defaults to {ad} (had no default)"),
                    format!("ALTER TABLE {tq} ALTER COLUMN {col} DROP DEFAULT;"),
                ),
                (None, None) => continue,
            };
            out.push(Difference {
                subject: subject.clone(),
                message,
                fix: Some(fix),
            });
        }
        if ac.identity != ec.identity {
            let (message, fix) = if ec.identity {
                (
                    format!("{subject} is no longer an identity column"),
                    format!(
                        "ALTER TABLE {tq} ALTER COLUMN {col} ADD GENERATED BY DEFAULT AS IDENTITY;"
                    ),
                )
            } else {
                (
                    format!("{subject} is still an identity column"),
                    format!("ALTER TABLE {tq} ALTER COLUMN {col} DROP IDENTITY;"),
                )
            };
            out.push(Difference {
                subject: subject.clone(),
                message,
                fix: Some(fix),
            });
        }
        if ac.generated_stored != ec.generated_stored {
            out.push(Difference {
                message: if ec.generated_stored {
                    format!("{subject} is no longer a generated column")
                } else {
                    format!("{subject} is still a generated column")
                },
                subject,
                fix: None,
            });
        }
    }
    for ac in &a.columns {
        if e.column(&ac.name).is_none() {
            out.push(Difference {
                subject: format!("{t}.{}", ac.name),
                message: format!("{t}.{} still exists", ac.name),
                fix: Some(format!("ALTER TABLE {tq} DROP COLUMN {};", ident(&ac.name))),
            });
        }
    }
    // Constraints, by name; a constraint named by PostgreSQL matches one of the same
    // definition under another generated name (numbering differs with history).
    let same = |ec: &TableConstraint, ac: &TableConstraint| {
        ac.name == ec.name
            || (generated_name(&ec.name)
                && generated_name(&ac.name)
                && ac.kind == ec.kind
                && !e.constraints.iter().any(|c| c.name == ac.name)
                && !a.constraints.iter().any(|c| c.name == ec.name))
    };
    for ec in &e.constraints {
        match a.constraints.iter().find(|c| same(ec, c)) {
            None => out.push(Difference {
                subject: format!("constraint {}", ec.name),
                message: format!(
                    "{} constraint {} on {t} is missing",
                    constraint_word(&ec.kind),
                    ec.name
                ),
                fix: Some(format!(
                    "ALTER TABLE {tq} ADD CONSTRAINT {} {};",
                    ident(&ec.name),
                    constraint_sql(ec)
                )),
            }),
            Some(ac) if ac.kind != ec.kind => out.push(Difference {
                subject: format!("constraint {}", ec.name),
                message: format!(
                    "constraint {} on {t} is {} (was {})",
                    ec.name,
                    constraint_sql(ac),
                    constraint_sql(ec)
                ),
                fix: Some(format!(
                    "ALTER TABLE {tq} DROP CONSTRAINT {};\nALTER TABLE {tq} ADD CONSTRAINT {} {};",
                    ident(&ec.name),
                    ident(&ec.name),
                    constraint_sql(ec)
                )),
            }),
            // A validated constraint cannot be made NOT VALID again (and is only stronger),
            // so only the loss of validation is a difference.
            Some(ac) if ac.not_valid && !ec.not_valid => out.push(Difference {
                subject: format!("constraint {}", ec.name),
                message: format!("constraint {} on {t} is NOT VALID (was validated)", ec.name),
                fix: Some(format!(
                    "ALTER TABLE {tq} VALIDATE CONSTRAINT {};",
                    ident(&ec.name)
                )),
            }),
            Some(_) => {}
        }
    }
    for ac in &a.constraints {
        if !e.constraints.iter().any(|c| same(c, ac)) {
            out.push(Difference {
                subject: format!("constraint {}", ac.name),
                message: format!(
                    "{} constraint {} on {t} still exists",
                    constraint_word(&ac.kind),
                    ac.name
                ),
                fix: Some(format!(
                    "ALTER TABLE {tq} DROP CONSTRAINT {};",
                    ident(&ac.name)
                )),
            });
        }
    }
    if a.partition_of != e.partition_of {
        let message = match (&e.partition_of, &a.partition_of) {
            (Some(p), None) => format!("{t} is no longer a partition of {p}"),
            (None, Some(p)) => format!("{t} is still a partition of {p}"),
            (Some(p), Some(q)) => format!("{t} is a partition of {q} (was of {p})"),
            (None, None) => String::new(),
        };
        out.push(Difference {
            subject: t.to_string(),
            message,
            fix: None,
        });
    }
}

/// A name with the shape PostgreSQL gives unnamed constraints: `…_pkey`, `…_key`, `…_fkey`,
/// `…_check`, `…_excl`, `…_not_null`, possibly numbered (`t_check1`).
fn generated_name(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    ["_pkey", "_key", "_fkey", "_check", "_excl", "_not_null"]
        .iter()
        .any(|s| base.ends_with(s))
}

/// The canonical spelling of a type, so aliases compare equal: `int`/`int4`/`integer`,
/// `varchar`/`character varying`, `bool`/`boolean`, `timestamptz`/`timestamp with time
/// zone`, `float8`/`double precision`, … (modifiers and array brackets kept).
pub fn canonical_type(ty: &str) -> String {
    let lower = ty.trim().to_ascii_lowercase();
    let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let split = lower.find(['(', '[']).unwrap_or(lower.len());
    let (base, rest) = lower.split_at(split);
    let base = base.trim().trim_start_matches("pg_catalog.");
    let rest: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    // `timestamp(3) with time zone`: the zone words follow the modifier.
    let (rest, zone) = match rest.find(')') {
        Some(i) if rest[i + 1..].contains("withtimezone") => {
            (rest[..=i].to_string(), " with time zone")
        }
        Some(i) if rest[i + 1..].contains("withouttimezone") => (rest[..=i].to_string(), ""),
        _ => (rest, ""),
    };
    let canon = match base {
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "serial" | "serial4" => "integer",
        "bigserial" | "serial8" => "bigint",
        "smallserial" | "serial2" => "smallint",
        "bool" | "boolean" => "boolean",
        "varchar" | "character varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "float8" | "double precision" | "float" => "double precision",
        "float4" | "real" => "real",
        "decimal" | "numeric" => "numeric",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" if zone.is_empty() => {
            "timestamp without time zone"
        }
        "timestamp" => "timestamp with time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        "varbit" | "bit varying" => "bit varying",
        other => other,
    };
    format!("{canon}{rest}")
}

/// Whether a script could be replayed completely: every statement parsed, no DDL hidden
/// in a `DO` block and no code whose effect is only known when it runs (dynamic SQL, an
/// ORM helper method). Differences computed from an incomplete replay would be guesses.
fn fully_replayed(script: &AnalyzedScript) -> bool {
    script.statements.iter().all(|s| {
        s.parsed_by != ParsedBy::Unparsed
            && !s.ops.iter().any(|op| {
                matches!(
                    op,
                    Op::DoBlock { contains_ddl: true } | Op::NotAnalysed { .. }
                )
            })
    })
}

/// True for operations that change the schema (so a migration made only of them needs a
/// way back), as opposed to session settings, transaction control, data changes,
/// maintenance and comments.
pub fn changes_schema(op: &Op) -> bool {
    !matches!(
        op,
        Op::Other { .. }
            | Op::Set { .. }
            | Op::SetTimeout { .. }
            | Op::Begin
            | Op::Commit
            | Op::Rollback
            | Op::Update { .. }
            | Op::Delete { .. }
            | Op::Insert { .. }
            | Op::Vacuum { .. }
            | Op::VacuumFull { .. }
            | Op::Cluster { .. }
            | Op::Reindex { .. }
            | Op::RefreshMaterializedView { .. }
            | Op::LockTable { .. }
            | Op::Truncate { .. }
    )
}

/// What [`check`] needs about one linted migration.
pub struct RollbackInput<'a> {
    pub migration: &'a Migration,
    /// The analysed up script.
    pub up: &'a AnalyzedScript,
    /// The analysed down script, when the migration has one.
    pub down: Option<&'a AnalyzedScript>,
    /// Schema before the up script.
    pub before: &'a Catalog,
    /// Schema after the up script.
    pub after_up: &'a Catalog,
    /// Schema after the up then the down script (when there is a down).
    pub after_down: Option<&'a Catalog>,
    /// Other migrations of the folder have down scripts, so this one is expected to have
    /// one too (layouts where downs are optional: golang-migrate, sqlx, goose, dbmate,
    /// sql-migrate, flyway undo files).
    pub downs_expected: bool,
}

/// The rollback findings for one migration: `missing-down`, `empty-down`,
/// `down-does-not-restore`. Severities and `off` come from the settings as for every rule.
pub fn check(input: &RollbackInput, settings: &Settings) -> Vec<Finding> {
    let mut findings = Vec::new();
    let m = input.migration;
    // Repeatable migrations (flyway `R__`) are re-applied, never rolled back.
    if m.kind == crate::source::MigrationKind::Repeatable {
        return findings;
    }
    let up_changes = input
        .up
        .statements
        .iter()
        .any(|s| s.ops.iter().any(changes_schema));
    if !up_changes || (input.down.is_none() && !input.downs_expected) {
        return findings;
    }
    // What turns the schema after the up back into the one before it.
    let undo = diff(input.before, input.after_up);
    let undo_sql = fixes(&undo);
    match (input.down, input.after_down) {
        (None, _) => {
            if !input.downs_expected {
                return findings;
            }
            let Some(meta) = rules::meta("missing-down") else {
                return findings;
            };
            let span = first_statement(input.up);
            let mut em = Emitter::new(
                meta,
                settings,
                m,
                Direction::Up,
                &input.up.path,
                &mut findings,
            );
            em.emit(
                span,
                None,
                format!(
                    "migration {} changes the schema but has no down script: it cannot be rolled back",
                    m.id
                ),
                Some("this migration cannot be reverted by the framework".into()),
                Some(down_help(&undo_sql, "write a down script that undoes it")),
            );
        }
        (Some(down), Some(after_down)) => {
            let effective = down
                .statements
                .iter()
                .any(|s| s.parsed_by == ParsedBy::Unparsed || s.ops.iter().any(changes_schema));
            if !effective {
                let Some(meta) = rules::meta("empty-down") else {
                    return findings;
                };
                let span = first_statement(down);
                let mut em = Emitter::new(
                    meta,
                    settings,
                    m,
                    Direction::Down,
                    &down.path,
                    &mut findings,
                );
                em.emit(
                    span,
                    None,
                    format!(
                        "the down script of {} changes nothing, but the up script changes the schema",
                        m.id
                    ),
                    Some("a rollback would report success and leave the schema as the up left it".into()),
                    Some(down_help(&undo_sql, "make it undo the up script")),
                );
                return findings;
            }
            if !fully_replayed(input.up) || !fully_replayed(down) {
                return findings;
            }
            let Some(meta) = rules::meta("down-does-not-restore") else {
                return findings;
            };
            let span = last_statement(down);
            let mut em = Emitter::new(
                meta,
                settings,
                m,
                Direction::Down,
                &down.path,
                &mut findings,
            );
            let after_down = &without_indexes_of_dropped_columns(input, after_down);
            for d in diff(input.before, after_down) {
                let help = match &d.fix {
                    Some(sql) => format!("add to the down script:\n{}", indent(sql)),
                    None => format!(
                        "make the down script restore {} as it was before {}",
                        d.subject, m.id
                    ),
                };
                em.emit(
                    span.clone(),
                    None,
                    format!("after down, {}", d.message),
                    Some(
                        "the schema after this down script differs from the schema before the up"
                            .into(),
                    ),
                    Some(help),
                );
            }
        }
        (Some(_), None) => {}
    }
    findings
}

/// A migration split into several files that its framework rolls back as one: ory's pop
/// folders (kratos, hydra, keto) write one change as `<timestamp><part>_<name>` files, a
/// 14-digit timestamp followed by a 6-digit part number, and their down parts are not the
/// inverse of the up part with the same number: only rolling back every part, last part
/// first, undoes the change. Such a version is judged as one unit by [`Units`].
fn unit_key(m: &Migration) -> Option<(&str, &str)> {
    let v = m.version.as_str();
    (v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit())).then(|| (&v[..14], m.name.as_str()))
}

/// One part of a multi-part version, kept until its last part has been replayed.
struct Part {
    migration: Migration,
    up: AnalyzedScript,
    down: Option<AnalyzedScript>,
    before: Catalog,
    after_up: Catalog,
    after_down: Option<Catalog>,
    downs_expected: bool,
}

/// The rollback check over a whole folder, in apply order: a migration on its own, or the
/// parts of a multi-part version (see [`unit_key`]) together, by rolling them all back
/// from the last part to the first and comparing with the schema before the first.
/// Call [`Units::check`] for every linted migration, in order.
pub struct Units {
    /// Position in its unit and the unit's size, by migration id (multi-part units only).
    member: std::collections::HashMap<String, (usize, usize)>,
    pending: Vec<Part>,
    /// Some down script of the folder has a statement. When none has (dbmate's and
    /// golang-migrate's templates leave an empty down behind every migration of a team
    /// that does not roll back with them), rollback findings would only repeat that.
    downs_written: bool,
}

impl Units {
    /// Finds the multi-part units of `migrations` (consecutive in apply order).
    pub fn new(migrations: &[Migration]) -> Units {
        let mut member = std::collections::HashMap::new();
        let mut i = 0;
        while i < migrations.len() {
            let key = unit_key(&migrations[i]);
            let mut j = i + 1;
            while key.is_some() && j < migrations.len() && unit_key(&migrations[j]) == key {
                j += 1;
            }
            if j - i > 1 {
                for (k, m) in migrations[i..j].iter().enumerate() {
                    member.insert(m.id.clone(), (k, j - i));
                }
            }
            i = j;
        }
        let downs_written = migrations
            .iter()
            .any(|m| m.down.as_ref().is_some_and(|d| !blank(d.text())));
        Units {
            member,
            pending: Vec::new(),
            downs_written,
        }
    }

    /// The rollback findings due after `input`'s migration: its own, or, at the last part
    /// of a multi-part version, the unit's.
    pub fn check(&mut self, input: &RollbackInput, settings: &Settings) -> Vec<Finding> {
        if !self.downs_written {
            return Vec::new();
        }
        let Some(&(pos, size)) = self.member.get(&input.migration.id) else {
            let mut out = self.flush(settings);
            out.extend(check(input, settings));
            return out;
        };
        let mut out = Vec::new();
        if pos != self.pending.len() {
            // An earlier part was not linted (or the order broke): judge parts one by one.
            out.extend(self.flush(settings));
            if pos != 0 {
                out.extend(check(input, settings));
                return out;
            }
        }
        self.pending.push(Part {
            migration: input.migration.clone(),
            up: input.up.clone(),
            down: input.down.cloned(),
            before: input.before.clone(),
            after_up: input.after_up.clone(),
            after_down: input.after_down.cloned(),
            downs_expected: input.downs_expected,
        });
        if pos + 1 == size {
            let parts = std::mem::take(&mut self.pending);
            match check_unit(&parts, settings) {
                Some(f) => out.extend(f),
                None => out.extend(parts.iter().flat_map(|p| check(&p.input(), settings))),
            }
        }
        out
    }

    /// Judges parts left pending one by one (the unit was cut short). Call once after the
    /// last migration too.
    pub fn flush(&mut self, settings: &Settings) -> Vec<Finding> {
        std::mem::take(&mut self.pending)
            .iter()
            .flat_map(|p| check(&p.input(), settings))
            .collect()
    }
}

/// SQL text with nothing but whitespace and comments (`--` lines, `/* … */` blocks).
fn blank(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Block comments nest in PostgreSQL.
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            _ => return false,
        }
    }
    true
}

impl Part {
    fn input(&self) -> RollbackInput<'_> {
        RollbackInput {
            migration: &self.migration,
            up: &self.up,
            down: self.down.as_ref(),
            before: &self.before,
            after_up: &self.after_up,
            after_down: self.after_down.as_ref(),
            downs_expected: self.downs_expected,
        }
    }
}

/// The rollback findings of a multi-part version judged as one change, or `None` when it
/// cannot be (a part has no down script: those are judged one by one).
fn check_unit(parts: &[Part], settings: &Settings) -> Option<Vec<Finding>> {
    let (first, last) = (parts.first()?, parts.last()?);
    let downs: Vec<&AnalyzedScript> = parts.iter().filter_map(|p| p.down.as_ref()).collect();
    if downs.len() != parts.len() {
        return None;
    }
    let mut findings = Vec::new();
    if first.migration.kind == crate::source::MigrationKind::Repeatable
        || !parts.iter().any(|p| {
            p.up.statements
                .iter()
                .any(|s| s.ops.iter().any(changes_schema))
        })
    {
        return Some(findings);
    }
    let version = &first.migration.version[..14];
    let n = parts.len();
    let before = &first.before;
    let after_up = &last.after_up;
    let undo_sql = fixes(&diff(before, after_up));
    let effective = downs.iter().any(|d| {
        d.statements
            .iter()
            .any(|s| s.parsed_by == ParsedBy::Unparsed || s.ops.iter().any(changes_schema))
    });
    // Findings point at the down part that runs last (the first part's), or at the last
    // statement run when that part is empty.
    let (at_path, at_span) = parts
        .iter()
        .filter_map(|p| p.down.as_ref())
        .find(|d| !d.statements.is_empty())
        .map(|d| (d.path.clone(), last_statement(d)))
        .unwrap_or_else(|| (downs[0].path.clone(), 0..0));
    if !effective {
        if let Some(meta) = rules::meta("empty-down") {
            let d = downs[n - 1];
            let mut em = Emitter::new(
                meta,
                settings,
                &last.migration,
                Direction::Down,
                &d.path,
                &mut findings,
            );
            em.emit(
                first_statement(d),
                None,
                format!(
                    "the down scripts of the {n} parts of version {version} change nothing, but \
                     their up scripts change the schema"
                ),
                Some(
                    "a rollback would report success and leave the schema as the up left it".into(),
                ),
                Some(down_help(
                    &undo_sql,
                    "make the down parts undo the up parts",
                )),
            );
        }
        return Some(findings);
    }
    if parts
        .iter()
        .any(|p| !fully_replayed(&p.up) || p.down.as_ref().is_some_and(|d| !fully_replayed(d)))
    {
        return Some(findings);
    }
    // Roll back from the last part to the first: the last part's down was replayed by the
    // analyser; the earlier ones run on its result.
    let mut after_down = last.after_down.clone()?;
    for p in parts[..n - 1].iter().rev() {
        for s in p.down.iter().flat_map(|d| &d.statements) {
            for op in &s.ops {
                after_down.apply(op);
            }
        }
    }
    for p in parts {
        let input = RollbackInput {
            before,
            after_up,
            ..p.input()
        };
        after_down = without_indexes_of_dropped_columns(&input, &after_down);
    }
    let Some(meta) = rules::meta("down-does-not-restore") else {
        return Some(findings);
    };
    let mut em = Emitter::new(
        meta,
        settings,
        &first.migration,
        Direction::Down,
        &at_path,
        &mut findings,
    );
    for d in diff(before, &after_down) {
        let help = match &d.fix {
            Some(sql) => format!("add to the down scripts:\n{}", indent(sql)),
            None => format!(
                "make the down scripts restore {} as it was before version {version}",
                d.subject
            ),
        };
        em.emit(
            at_span.clone(),
            None,
            format!(
                "after rolling back all {n} parts of version {version}, {}",
                d.message
            ),
            Some(
                "the schema after these down scripts differs from the schema before the first up"
                    .into(),
            ),
            Some(help),
        );
    }
    Some(findings)
}

/// `after_down` without the partial indexes whose WHERE clause reads a column the down
/// script dropped: PostgreSQL drops an index with any column it uses, the predicate's
/// included, but the catalog keeps only an index's key columns.
fn without_indexes_of_dropped_columns(input: &RollbackInput, after_down: &Catalog) -> Catalog {
    let mut out = after_down.clone();
    let leftover: Vec<ObjName> = after_down
        .indexes
        .iter()
        .filter(|(name, i)| i.partial && !input.before.indexes.contains_key(*name))
        .map(|(name, _)| name.clone())
        .collect();
    for name in leftover {
        let Some(ix) = after_down.indexes.get(&name) else {
            continue;
        };
        let dropped: Vec<String> = match (
            input.after_up.tables.get(&ix.table),
            after_down.tables.get(&ix.table),
        ) {
            (Some(up), Some(down)) => up
                .columns
                .iter()
                .filter(|c| down.column(&c.name).is_none())
                .map(|c| c.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        if dropped.is_empty() {
            continue;
        }
        let reads_dropped = predicate_of(input, &name)
            .is_some_and(|pred| identifiers(&pred).iter().any(|w| dropped.contains(w)));
        if reads_dropped {
            out.indexes.remove(&name);
        }
    }
    out
}

/// The WHERE clause of the up script's CREATE INDEX that made `name`.
fn predicate_of(input: &RollbackInput, name: &ObjName) -> Option<String> {
    let source = &input.migration.up.source;
    for st in &input.up.statements {
        let creates = st.ops.iter().any(|op| match op {
            Op::CreateIndex {
                name: n,
                table,
                columns,
                partial: true,
                ..
            } => match n {
                Some(n) => n == name,
                None => {
                    table.schema == name.schema
                        && name
                            .name
                            .starts_with(&format!("{}_{}", table.name, columns.join("_")))
                }
            },
            _ => false,
        });
        if creates {
            let text = source.get(st.span.clone())?;
            let lower = text.to_ascii_lowercase();
            let at = lower.rfind("where")?;
            return Some(text[at + "where".len()..].to_string());
        }
    }
    None
}

/// Lowercased unquoted and verbatim quoted identifiers of an expression (string literals
/// skipped).
fn identifiers(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            for c in chars.by_ref() {
                if c == '\'' {
                    break;
                }
            }
        } else if c == '"' {
            let w: String = chars.by_ref().take_while(|c| *c != '"').collect();
            out.push(w);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut w = c.to_ascii_lowercase().to_string();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    w.push(n.to_ascii_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(w);
        }
    }
    out
}

fn down_help(undo_sql: &str, what: &str) -> String {
    if undo_sql.is_empty() {
        what.to_string()
    } else {
        format!(
            "{what}; from the replayed schema it would be:\n{}",
            indent(undo_sql)
        )
    }
}

/// The fixes of `diffs`, one statement per line, in an order that can run: drops of
/// dependent objects (views, indexes, constraints) before drops of tables and columns.
pub fn fixes(diffs: &[Difference]) -> String {
    let rank = |sql: &str| {
        if sql.starts_with("DROP VIEW") || sql.starts_with("DROP MATERIALIZED") {
            0
        } else if sql.starts_with("DROP INDEX") || sql.contains("DROP CONSTRAINT") {
            1
        } else if sql.starts_with("DROP TABLE") || sql.contains("DROP COLUMN") {
            3
        } else if sql.starts_with("DROP TYPE") {
            4
        } else {
            2
        }
    };
    let mut sqls: Vec<&str> = diffs.iter().filter_map(|d| d.fix.as_deref()).collect();
    sqls.sort_by_key(|s| rank(s));
    sqls.dedup();
    sqls.join("\n")
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_statement(script: &AnalyzedScript) -> Range<usize> {
    script
        .statements
        .first()
        .map(|s| s.span.clone())
        .unwrap_or(0..0)
}

fn last_statement(script: &AnalyzedScript) -> Range<usize> {
    script
        .statements
        .last()
        .map(|s| s.span.clone())
        .unwrap_or(0..0)
}

/// Default expressions compare without case, spacing and literal casts
/// (`'a'::text` = `'a'`), the way PostgreSQL stores them differently from how they are written.
fn norm_expr(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    let mut out = String::new();
    let mut chars = lower.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_str = !in_str;
            out.push(c);
        } else if in_str {
            out.push(c);
        } else if c == ':' && chars.peek() == Some(&':') {
            // Drop `::type name` (letters, digits, spaces, underscores, brackets, parens).
            chars.next();
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '[' | ']'))
            {
                chars.next();
            }
        } else if !c.is_whitespace() && c != '(' && c != ')' {
            out.push(c);
        }
    }
    // `public.f()` and `pg_catalog.now()` are `f()` and `now()` on the default search_path.
    for schema in ["pg_catalog.", "public."] {
        let mut cleaned = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(schema) {
            let before = &rest[..i];
            let boundary = before
                .chars()
                .last()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
            cleaned.push_str(before);
            if !boundary {
                cleaned.push_str(schema);
            }
            rest = &rest[i + schema.len()..];
        }
        cleaned.push_str(rest);
        out = cleaned;
    }
    out
}

/// A SQL identifier, quoted when it must be.
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A schema-qualified name as SQL (`public` left out).
pub fn ident_name(n: &ObjName) -> String {
    if n.schema == "public" {
        ident(&n.name)
    } else {
        format!("{}.{}", ident(&n.schema), ident(&n.name))
    }
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn cols(c: &[String]) -> String {
    c.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

fn names(n: &[ObjName]) -> String {
    if n.is_empty() {
        "nothing known".into()
    } else {
        n.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn view_word(v: &View) -> &'static str {
    if v.materialized {
        "materialized view"
    } else {
        "view"
    }
}

fn describe_index(i: &Index) -> String {
    format!(
        "{}on {} ({}){}",
        if i.unique { "unique " } else { "" },
        i.table,
        i.columns.join(", "),
        if i.partial { " partial" } else { "" }
    )
}

fn constraint_word(k: &ConstraintKind) -> &'static str {
    match k {
        ConstraintKind::PrimaryKey { .. } => "primary key",
        ConstraintKind::Unique { .. } => "unique",
        ConstraintKind::Check { .. } => "check",
        ConstraintKind::ForeignKey(_) => "foreign key",
        ConstraintKind::Exclusion => "exclusion",
        ConstraintKind::NotNull { .. } => "not-null",
    }
}

/// The constraint's definition as SQL (what follows `ADD CONSTRAINT name`).
pub fn constraint_sql(c: &TableConstraint) -> String {
    let body = match &c.kind {
        ConstraintKind::PrimaryKey { columns, .. } => format!("PRIMARY KEY ({})", cols(columns)),
        ConstraintKind::Unique { columns, .. } => format!("UNIQUE ({})", cols(columns)),
        ConstraintKind::Check { expr } => format!("CHECK ({expr})"),
        ConstraintKind::ForeignKey(fk) => {
            let refs = if fk.ref_columns.is_empty() {
                String::new()
            } else {
                format!(" ({})", cols(&fk.ref_columns))
            };
            format!(
                "FOREIGN KEY ({}) REFERENCES {}{refs}",
                cols(&fk.columns),
                ident_name(&fk.ref_table)
            )
        }
        ConstraintKind::Exclusion => "EXCLUDE (…)".into(),
        ConstraintKind::NotNull { column } => format!("NOT NULL {}", ident(column)),
    };
    if c.not_valid {
        format!("{body} NOT VALID")
    } else {
        body
    }
}

fn column_sql(c: &Column) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.ty);
    if c.identity {
        s.push_str(" GENERATED BY DEFAULT AS IDENTITY");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {}", d.sql));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    s
}

fn create_index_sql(i: &Index) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({});{}",
        if i.unique { "UNIQUE " } else { "" },
        ident(&i.name.name),
        ident_name(&i.table),
        cols(&i.columns),
        if i.partial {
            " -- partial: add its WHERE clause"
        } else {
            ""
        }
    )
}

/// CREATE TABLE for a table as the catalog knows it, followed by its indexes.
fn create_table_sql(t: &Table, cat: &Catalog) -> String {
    let mut parts: Vec<String> = t.columns.iter().map(column_sql).collect();
    for c in &t.constraints {
        parts.push(format!(
            "CONSTRAINT {} {}",
            ident(&c.name),
            constraint_sql(c)
        ));
    }
    let mut sql = match &t.partition_of {
        Some(p) if parts.is_empty() => format!(
            "CREATE TABLE {} PARTITION OF {} -- add its FOR VALUES clause;",
            ident_name(&t.name),
            ident_name(p)
        ),
        _ => format!(
            "CREATE TABLE {} (\n  {}\n);",
            ident_name(&t.name),
            parts.join(",\n  ")
        ),
    };
    for i in cat.indexes_on(&t.name) {
        if !t.constraints.iter().any(|c| c.name == i.name.name) {
            sql.push('\n');
            sql.push_str(&create_index_sql(i));
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_sql;

    fn replay(sql: &str) -> Catalog {
        let mut c = Catalog::new();
        for s in parse_sql(sql) {
            for op in &s.ops {
                c.apply(op);
            }
        }
        c
    }

    #[test]
    fn identical_schemas_have_no_difference() {
        let a =
            replay("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL DEFAULT 'x');");
        assert_eq!(diff(&a, &a.clone()), vec![]);
    }

    #[test]
    fn column_left_behind_and_index_missing_are_named() {
        let before = replay(
            "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);
             CREATE INDEX orders_user_id_idx ON orders (user_id);",
        );
        let after =
            replay("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, status text);");
        let d = diff(&before, &after);
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            vec![
                "orders.status still exists",
                "index orders_user_id_idx on orders is missing"
            ]
        );
        assert_eq!(
            fixes(&d),
            "CREATE INDEX orders_user_id_idx ON orders (user_id);\nALTER TABLE orders DROP COLUMN status;"
        );
    }

    #[test]
    fn type_nullability_and_default_differences() {
        let before = replay("CREATE TABLE t (a integer NOT NULL, b text DEFAULT 'x'::text);");
        let after = replay("CREATE TABLE t (a bigint, b text DEFAULT 'x');");
        let msgs: Vec<String> = diff(&before, &after)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            msgs,
            vec![
                "t.a has type bigint (was integer)",
                "t.a is nullable (was NOT NULL)"
            ]
        );
    }

    #[test]
    fn quoted_identifiers_stay_quoted_in_fixes() {
        assert_eq!(ident("Users"), "\"Users\"");
        assert_eq!(ident("user_id"), "user_id");
        assert_eq!(ident("1x"), "\"1x\"");
    }
}
