//! prisma: `migrations/<timestamp>_<name>/migration.sql`, with `migration_lock.toml`
//! (the provider) at the root.
//!
//! Transactions: prisma's schema engine applies a migration on PostgreSQL by sending the
//! whole `migration.sql` in one simple-query message (`simple_query(script)` in the
//! postgres connector), with no BEGIN/COMMIT of its own. PostgreSQL runs a
//! multi-statement message as one implicit transaction, so `in_transaction` is true;
//! a migration whose file holds a single statement (the usual way to ship
//! `CREATE INDEX CONCURRENTLY` with prisma) runs outside any transaction block
//! (see [`super::Layout::implicit_transaction`]).

use super::files::Inputs;
use super::version::leading_digits;
use super::{Migration, Script, SourceError, file_migration};

pub(super) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut migrations = Vec::new();
    for entry in inputs.entries.clone() {
        let file = entry.file_name();
        if entry.rel.components().count() == 1 {
            if file != "migration_lock.toml" {
                inputs.ignore(
                    &entry.path,
                    "prisma migrations are directories (<timestamp>_<name>/migration.sql)",
                );
            }
            continue;
        }
        if !entry.in_migration_dir() || file != "migration.sql" {
            inputs.ignore(&entry.path, "not a prisma migration.sql");
            continue;
        }
        let dir = entry.parent_name().unwrap_or("").to_string();
        let (version, name) = match leading_digits(&dir) {
            Some((version, rest)) => (
                version.to_string(),
                rest.trim_start_matches('_').to_string(),
            ),
            None => (dir.clone(), dir.clone()),
        };
        let up = Script::whole_file(&entry.path, inputs.text(&entry.path)?);
        migrations.push(file_migration(dir, version, name, up, None, true));
    }
    Ok(migrations)
}
