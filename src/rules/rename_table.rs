//! rename-table: `ALTER TABLE … RENAME TO` or `SET SCHEMA` on a table that existed before
//! this migration, unless the migration leaves a view with the old name behind.

use super::{Direction, Emitter, EndContext};
use crate::ops::{ObjName, Op};
use std::collections::HashSet;

pub struct Rule;

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/rename-table.yaml")
    }

    // Judged at the end of the script: a view created later in the migration under the old
    // name keeps the running release working, and that is only known once the script ends.
    fn check_end(&self, cx: &EndContext, out: &mut Emitter) {
        // A down script undoes its up script; renaming back is what the old release needs.
        if cx.direction != Direction::Up {
            return;
        }
        let mut created: HashSet<ObjName> = HashSet::new();
        for s in cx.statements {
            for op in &s.ops {
                let (table, new) = match op {
                    Op::CreateTable { table, .. } => {
                        created.insert(table.clone());
                        continue;
                    }
                    Op::RenameTable { table, new_name } => {
                        (table, ObjName::new(table.schema.clone(), new_name.clone()))
                    }
                    // Moving a table to another schema changes the name clients resolve.
                    Op::SetSchema { table, new_schema } => {
                        (table, ObjName::new(new_schema.clone(), table.name.clone()))
                    }
                    _ => continue,
                };
                if created.contains(table) {
                    created.insert(new);
                    continue;
                }
                if cx.catalog.views.contains_key(table) {
                    continue;
                }
                let (shown, what) = if new.schema == table.schema {
                    (
                        new.name.clone(),
                        format!("renaming table {table} to {}", new.name),
                    )
                } else {
                    (
                        new.qualified(),
                        format!("moving table {table} to schema {}", new.schema),
                    )
                };
                out.emit(
                    s.span.clone(),
                    None,
                    format!(
                        "{what} breaks the running application, which still queries \
                         \"{table}\""
                    ),
                    Some(format!(
                        "instant, but from this moment every query naming {table} fails"
                    )),
                    Some(format!(
                        "create a view with the old name in the same migration \
                         (CREATE VIEW {table} AS SELECT * FROM {new}), deploy code that uses \
                         {shown}, then drop the view in a later migration"
                    )),
                );
            }
        }
    }
}
