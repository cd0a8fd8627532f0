//! Layout detection: which framework wrote this folder?
//!
//! Strongest evidence first: a tool's own index file (`sqitch.plan`,
//! `meta/_journal.json`), directory shapes (prisma `*/migration.sql`, diesel `*/up.sql`,
//! versioned sub-folders `v1.2/*.sql`), then in-file markers (goose, dbmate,
//! sql-migrate, Liquibase formatted SQL; whichever marks the most files), then flyway
//! names (`V1__x.sql`), pop dialect variants (`1_x.postgres.up.sql`), dotted names
//! (`V0001.x.up.sql`), Atlas (`atlas.sum` over plain `.sql` files), then
//! `.up.sql`/`.down.sql` pairs, then numbered files. The answer comes with the evidence,
//! so a surprised user can see why and force another with `--layout`; a folder holding
//! the marks of two layouts gets a warning naming both.

use super::Layout;
use super::files::Inputs;
use super::version::leading_digits;
use super::{annotated::Directive, dbmate, flyway_name, goose, sql_migrate, sqlx};
use super::{dotted, liquibase, pop, versioned_dirs};

/// Returns the layout and a short reason, or why none fits.
pub(crate) fn detect(inputs: &mut Inputs) -> Result<(Layout, String), String> {
    let entries = inputs.entries.clone();
    if entries.is_empty() {
        return Err("no migrations found".into());
    }
    let count = |f: &dyn Fn(&super::files::Entry) -> bool| entries.iter().filter(|e| f(e)).count();
    let chosen = detect_inner(inputs, &entries, &count)?;
    warn_second_layout(inputs, &entries, chosen.0);
    Ok(chosen)
}

/// Warns when files of a second layout sit in the folder: the layout reader ignores
/// them (with a note), which may be a surprise.
fn warn_second_layout(inputs: &mut Inputs, entries: &[super::files::Entry], chosen: Layout) {
    let mut others: Vec<String> = Vec::new();
    let flyway = entries
        .iter()
        .filter(|e| e.file_name().strip_suffix(".sql").is_some_and(flyway_name))
        .count();
    if flyway > 0 && chosen != Layout::Flyway {
        others.push(format!(
            "{flyway} flyway-named file(s) (V<version>__<name>.sql)"
        ));
    }
    let mut marked = [
        (Layout::Goose, 0usize),
        (Layout::Dbmate, 0),
        (Layout::SqlMigrate, 0),
    ];
    for entry in entries.iter().filter(|e| {
        e.at_top() && e.file_name().ends_with(".sql") && !pop::is_other_dialect(e.file_name())
    }) {
        let Ok(text) = inputs.text(&entry.path) else {
            continue;
        };
        for (layout, n) in marked.iter_mut() {
            if has_up_marker(&text, *layout) {
                *n += 1;
            }
        }
    }
    for (layout, n) in marked {
        if n > 0 && layout != chosen {
            others.push(format!("{n} file(s) with {layout} markers"));
        }
    }
    if !others.is_empty() {
        let dir = inputs
            .dirs
            .first()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| ".".into());
        inputs.warn(format!(
            "{dir}: two layouts in one folder: read as {chosen}, but it also holds {}; \
             those files are not read as {chosen} migrations (use --layout to choose, or \
             split the folder)",
            others.join(" and ")
        ));
    }
}

fn has_up_marker(text: &str, layout: Layout) -> bool {
    let classify = match layout {
        Layout::Goose => goose::directive,
        Layout::Dbmate => dbmate::directive,
        _ => sql_migrate::directive,
    };
    text.lines()
        .any(|l| matches!(classify(l.trim()), Some(Directive::Up { .. })))
}

/// Counts the entries a predicate accepts.
type Counter<'a> = dyn Fn(&dyn Fn(&super::files::Entry) -> bool) -> usize + 'a;

fn detect_inner(
    inputs: &mut Inputs,
    entries: &[super::files::Entry],
    count: &Counter,
) -> Result<(Layout, String), String> {
    let top_file =
        |name: &str| count(&|e| e.rel.components().count() == 1 && e.file_name() == name);
    // Host-language frameworks (their files are not SQL).
    for (layout, detect) in super::HOST_DETECTORS {
        if let Some(why) = detect(entries) {
            return Ok((*layout, why));
        }
    }
    if top_file("sqitch.plan") > 0 {
        return Ok((Layout::Sqitch, "sqitch.plan".into()));
    }
    let journal = count(&|e| {
        e.file_name() == "_journal.json"
            && e.parent_name() == Some("meta")
            && e.rel.components().count() == 2
    });
    if journal > 0 {
        return Ok((Layout::Drizzle, "meta/_journal.json (drizzle-kit)".into()));
    }

    let prisma = count(&|e| e.in_migration_dir() && e.file_name() == "migration.sql");
    let lock =
        count(&|e| e.rel.components().count() == 1 && e.file_name() == "migration_lock.toml");
    if prisma > 0 || lock > 0 {
        let why = if lock > 0 {
            format!("migration_lock.toml and {prisma} <dir>/migration.sql file(s)")
        } else {
            format!("{prisma} <dir>/migration.sql file(s)")
        };
        return Ok((Layout::Prisma, why));
    }
    let diesel = count(&|e| e.in_migration_dir() && e.file_name() == "up.sql");
    if diesel > 0 {
        return Ok((
            Layout::Diesel,
            format!("{diesel} <version>_<name>/up.sql director(ies)"),
        ));
    }
    let versioned = count(&|e| versioned_dirs::version_of(e).is_some());
    if versioned > 0 {
        return Ok((
            Layout::VersionedDirs,
            format!("{versioned} .sql file(s) in versioned sub-folders (v1.2/…)"),
        ));
    }

    // pop's dialect variants first: a cockroach or mysql variant may carry another
    // tool's markers, and PostgreSQL never runs it.
    let pop = count(&|e| e.at_top() && pop::has_dialect_or_fizz(e.file_name()));
    if pop > 0 {
        return Ok((
            Layout::Pop,
            format!("{pop} <version>_<name>.<dialect>.up.sql / .fizz file(s) (pop)"),
        ));
    }
    let dotted = count(&|e| e.at_top() && dotted::parse_name(e.file_name()).is_some());
    if dotted > 0 {
        return Ok((
            Layout::Dotted,
            format!("{dotted} V<version>.<name>.up.sql / .down.sql file(s)"),
        ));
    }
    // In-file markers are unambiguous; read the top-level .sql files once.
    let mut marked = [
        (Layout::Goose, 0usize),
        (Layout::Dbmate, 0),
        (Layout::SqlMigrate, 0),
        (Layout::Liquibase, 0),
    ];
    let mut no_tx_header = 0;
    for entry in entries
        .iter()
        .filter(|e| e.at_top() && e.file_name().ends_with(".sql"))
    {
        let Ok(text) = inputs.text(&entry.path) else {
            // Unreadable files are reported by the layout reader that needs them.
            continue;
        };
        if text.starts_with(sqlx::NO_TRANSACTION) {
            no_tx_header += 1;
        }
        let has_up = |classify: fn(&str) -> Option<Directive>| {
            text.lines()
                .any(|l| matches!(classify(l.trim()), Some(Directive::Up { .. })))
        };
        for (layout, n) in marked.iter_mut() {
            let hit = match layout {
                Layout::Goose => has_up(goose::directive),
                Layout::Dbmate => has_up(dbmate::directive),
                Layout::SqlMigrate => has_up(sql_migrate::directive),
                _ => liquibase::is_formatted_sql(&text),
            };
            if hit {
                *n += 1;
            }
        }
    }
    if let Some((layout, n)) = marked
        .iter()
        .copied()
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
    {
        let marker = match layout {
            Layout::Goose => "-- +goose Up",
            Layout::Dbmate => "-- migrate:up",
            Layout::SqlMigrate => "-- +migrate Up",
            _ => "--liquibase formatted sql",
        };
        return Ok((layout, format!("{n} file(s) with `{marker}` markers")));
    }

    // Liquibase changelogs often sit in sub-folders below a master changelog.
    let mut liquibase_nested = 0;
    for entry in entries
        .iter()
        .filter(|e| !e.at_top() && e.file_name().ends_with(".sql"))
    {
        if let Ok(text) = inputs.text(&entry.path)
            && liquibase::is_formatted_sql(&text)
        {
            liquibase_nested += 1;
        }
    }
    if liquibase_nested > 0 {
        return Ok((
            Layout::Liquibase,
            format!("{liquibase_nested} file(s) starting with `--liquibase formatted sql`"),
        ));
    }

    let flyway = count(&|e| e.file_name().strip_suffix(".sql").is_some_and(flyway_name));
    if flyway > 0 {
        return Ok((
            Layout::Flyway,
            format!("{flyway} file(s) named V<version>__<name>.sql"),
        ));
    }

    let up_down_any = count(&|e| {
        e.at_top() && (e.file_name().ends_with(".up.sql") || e.file_name().ends_with(".down.sql"))
    });
    if top_file("atlas.sum") > 0 && up_down_any == 0 {
        return Ok((Layout::Atlas, "atlas.sum".into()));
    }

    let numbered = |e: &super::files::Entry| {
        e.at_top() && e.file_name().ends_with(".sql") && leading_digits(e.file_name()).is_some()
    };
    let up_down = count(&|e| {
        numbered(e) && (e.file_name().ends_with(".up.sql") || e.file_name().ends_with(".down.sql"))
    });
    let simple = count(&|e| {
        numbered(e) && !e.file_name().ends_with(".up.sql") && !e.file_name().ends_with(".down.sql")
    });
    if up_down > 0 {
        if no_tx_header > 0 || simple > 0 {
            return Ok((
                Layout::Sqlx,
                format!("{up_down} .up.sql/.down.sql file(s) next to sqlx-style files"),
            ));
        }
        return Ok((
            Layout::GolangMigrate,
            format!(
                "{up_down} <version>_<name>.up.sql/.down.sql file(s) \
                 (use --layout sqlx if sqlx runs them)"
            ),
        ));
    }
    if simple > 0 {
        if no_tx_header > 0 {
            return Ok((
                Layout::Sqlx,
                format!("{no_tx_header} file(s) starting with `-- no-transaction`"),
            ));
        }
        // `sqlx migrate add` names files after a 14-digit timestamp and a `_`.
        let timestamped = count(&|e| {
            numbered(e)
                && leading_digits(e.file_name())
                    .is_some_and(|(v, rest)| v.len() >= 14 && rest.starts_with('_'))
        });
        if timestamped == simple {
            return Ok((
                Layout::Sqlx,
                format!(
                    "{simple} <timestamp>_<name>.sql file(s) as `sqlx migrate add` writes them \
                     (use --layout plain if psql runs them)"
                ),
            ));
        }
        return Ok((Layout::Plain, format!("{simple} numbered .sql file(s)")));
    }
    Err(format!(
        "no file matches a known migration layout (looked at {} file(s))",
        entries.len()
    ))
}
