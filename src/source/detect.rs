//! Layout detection: which framework wrote this folder?
//!
//! Strongest evidence first: directory shapes (prisma `*/migration.sql`, diesel
//! `*/up.sql`), then in-file markers (goose, dbmate, sql-migrate; whichever marks the
//! most files), then flyway names (`V1__x.sql`), then `.up.sql`/`.down.sql` pairs, then
//! numbered files. The answer comes with the evidence, so a surprised user can see why
//! and force another with `--layout`.

use super::Layout;
use super::files::Inputs;
use super::version::leading_digits;
use super::{annotated::Directive, dbmate, flyway_name, goose, sql_migrate, sqlx};

/// Returns the layout and a short reason, or why none fits.
pub(crate) fn detect(inputs: &mut Inputs) -> Result<(Layout, String), String> {
    let entries = inputs.entries.clone();
    if entries.is_empty() {
        return Err("no migrations found".into());
    }
    let count = |f: &dyn Fn(&super::files::Entry) -> bool| entries.iter().filter(|e| f(e)).count();

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

    // In-file markers are unambiguous; read the top-level .sql files once.
    let mut marked = [
        (Layout::Goose, 0usize),
        (Layout::Dbmate, 0),
        (Layout::SqlMigrate, 0),
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
            let classify = match layout {
                Layout::Goose => goose::directive,
                Layout::Dbmate => dbmate::directive,
                _ => sql_migrate::directive,
            };
            if has_up(classify) {
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
            _ => "-- +migrate Up",
        };
        return Ok((layout, format!("{n} file(s) with `{marker}` markers")));
    }

    let flyway = count(&|e| e.file_name().strip_suffix(".sql").is_some_and(flyway_name));
    if flyway > 0 {
        return Ok((
            Layout::Flyway,
            format!("{flyway} file(s) named V<version>__<name>.sql"),
        ));
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
        "no file matches a known migration layout (looked at {} file(s)); pass --layout",
        entries.len()
    ))
}
