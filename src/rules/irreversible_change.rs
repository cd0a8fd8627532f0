//! irreversible-change: an up script that destroys data, so no down script can undo it.

use super::type_family::TypeClass;
use super::{Direction, Emitter, OpContext};
use crate::ops::{ObjName, Op, SqlType};

pub struct Rule;

/// What a rollback can bring back, for the message's second half.
fn restore_note(has_down: bool, what: &str) -> String {
    if has_down {
        format!("the down script can restore {what} but not the data")
    } else {
        format!("a rollback can restore {what} but not the data")
    }
}

/// How converting a column from `old` to `new` silently loses information (values are
/// rounded or cut rather than rejected), or `None`. Conversions that fail on values that do
/// not fit (shorter varchar, smaller integer, text to enum) lose nothing when they succeed:
/// converting back gives the same values.
fn lossy(old: &SqlType, new: &SqlType) -> Option<String> {
    use TypeClass::*;
    if old.is_array() != new.is_array() {
        return None;
    }
    match (TypeClass::of(old), TypeClass::of(new)) {
        (Numeric(Some((_, s1))), Numeric(Some((_, s2)))) if s2 < s1 => {
            Some(format!("values are rounded to {s2} decimal places"))
        }
        (Numeric(None), Numeric(Some((_, s)))) => {
            Some(format!("values are rounded to {s} decimal places"))
        }
        (Numeric(_) | Float(_) | Money, Int(_)) => Some("fractions are rounded away".into()),
        (Numeric(_), Float(_)) | (Int(8), Float(_)) | (Int(4), Float(4)) | (Float(8), Float(4)) => {
            Some(format!(
                "{new} keeps fewer significant digits: values are rounded"
            ))
        }
        (Timestamp | Timestamptz, Date) => Some("the time of day is cut off".into()),
        _ => None,
    }
}

/// The enum values of `old` that `new` lacks, when both are enum types the replay knows:
/// converting the column fails on rows holding them, or they were mapped away in USING.
fn removed_enum_values(cx: &OpContext, old: &SqlType, new: &SqlType) -> Option<Vec<String>> {
    let lookup = |t: &SqlType| {
        let base = t.base();
        let name = match base.split_once('.') {
            Some((s, n)) => ObjName::new(s, n),
            None => ObjName::public(base),
        };
        cx.catalog.enums.get(&name)
    };
    let (o, n) = (lookup(old)?, lookup(new)?);
    let gone: Vec<String> = o.iter().filter(|v| !n.contains(v)).cloned().collect();
    (!gone.is_empty()).then_some(gone)
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/irreversible-change.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        // A down script undoes its own up: what it drops was created by that up.
        if cx.direction != Direction::Up {
            return;
        }
        let has_down = cx.migration.down.is_some();
        let (table, message) = match cx.op {
            Op::DropTable { table, .. } if cx.is_existing(table) => (
                table,
                format!(
                    "dropping table {table} deletes its rows: {}",
                    restore_note(has_down, "the table")
                ),
            ),
            // A column the fully known table does not have: the statement fails instead.
            Op::DropColumn { table, column, .. }
                if cx.is_existing(table)
                    && !(cx.catalog.knows_fully(table)
                        && cx.catalog.column(table, column).is_none()) =>
            {
                (
                    table,
                    format!(
                        "dropping {table}.{column} deletes its values: {}",
                        restore_note(has_down, "the column")
                    ),
                )
            }
            Op::Truncate { table } if cx.is_existing(table) => (
                table,
                format!("TRUNCATE {table} deletes every row; no down script brings them back"),
            ),
            Op::Delete { table, .. } if cx.is_existing(table) => (
                table,
                format!("DELETE FROM {table} removes rows that no down script can bring back"),
            ),
            Op::AlterColumnType {
                table, column, ty, ..
            } if cx.is_existing(table) => {
                let Some(old) = cx.catalog.column(table, column).map(|c| c.ty.clone()) else {
                    return;
                };
                if let Some(gone) = removed_enum_values(cx, &old, ty) {
                    (
                        table,
                        format!(
                            "changing {table}.{column} from {old} to {ty} removes the value(s) {}: \
                             rows that held them cannot be restored by changing the type back",
                            gone.join(", ")
                        ),
                    )
                } else if let Some(why) = lossy(&old, ty) {
                    (
                        table,
                        format!(
                            "changing {table}.{column} from {old} to {ty} loses information ({why}); \
                             changing the type back does not restore it"
                        ),
                    )
                } else {
                    return;
                }
            }
            Op::DropNotNull { table, column } if cx.is_existing(table) => (
                table,
                format!(
                    "once rows with NULL in {table}.{column} are written, a rollback's \
                     SET NOT NULL fails until they are fixed or deleted"
                ),
            ),
            Op::AddEnumValue { name, value } => {
                // Only for types that existed before this migration.
                if cx.catalog.enums.get(name).is_none_or(|v| v.contains(value)) {
                    return;
                }
                (
                    name,
                    format!(
                        "PostgreSQL cannot remove the enum value '{value}' from {name} again: a \
                         rollback has to re-create the type and rewrite every row that uses it"
                    ),
                )
            }
            _ => return,
        };
        out.emit(
            cx.span.clone(),
            Some(table),
            message,
            Some("cannot be undone without data loss".into()),
            Some(
                "decide consciously: take a backup or keep the data elsewhere (a copy of the \
                 column or table) until the release is settled, and say in the down script that \
                 it cannot restore the data; mark this statement with \
                 `-- lockstep:ignore irreversible-change <reason>` once decided"
                    .into(),
            ),
        );
    }
}
