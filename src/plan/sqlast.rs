//! The few places where the planner needs more of a statement than the operation IR
//! carries: the referential actions of a foreign key, and the clauses of a data migration
//! (UPDATE/DELETE/INSERT … SELECT) it turns into batches. Rewrites go through sqlparser's
//! AST and its Display, never through string surgery on the user's text.

use crate::ops::ForeignKey;
use sqlparser::ast::{
    self, AlterTableOperation, AssignmentTarget, ColumnOption, Expr, FromTable, Ident, SetExpr,
    Statement, TableFactor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Stand-in identifier for "this row is in the current batch", replaced after Display.
const BATCH_IDENT: &str = "lockstep_batch_condition_placeholder";

fn parse_one(sql: &str) -> Option<Statement> {
    let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if stmts.len() == 1 { stmts.pop() } else { None }
}

/// The clauses after `REFERENCES t (cols)` of the foreign key over `fk.columns` in
/// `sql` (`ON DELETE CASCADE`, `MATCH FULL`, `DEFERRABLE …`), with a leading space, or
/// an empty string.
pub fn fk_tail(sql: &str, fk: &ForeignKey) -> String {
    let Some(Statement::AlterTable(at)) = parse_one(sql) else {
        return String::new();
    };
    let same_cols = |cols: &[Ident]| {
        cols.len() == fk.columns.len()
            && cols
                .iter()
                .zip(&fk.columns)
                .all(|(a, b)| ident_value(a) == *b)
    };
    for op in &at.operations {
        let found = match op {
            AlterTableOperation::AddConstraint {
                constraint: ast::TableConstraint::ForeignKey(c),
                ..
            } if same_cols(&c.columns) => Some(c),
            AlterTableOperation::AddColumn { column_def, .. }
                if fk.columns.len() == 1 && ident_value(&column_def.name) == fk.columns[0] =>
            {
                column_def.options.iter().find_map(|o| match &o.option {
                    ColumnOption::ForeignKey(c) => Some(c),
                    _ => None,
                })
            }
            _ => None,
        };
        if let Some(c) = found {
            let mut tail = String::new();
            if let Some(m) = &c.match_kind {
                tail.push_str(&format!(" MATCH {m}"));
            }
            if let Some(a) = &c.on_delete {
                tail.push_str(&format!(" ON DELETE {a}"));
            }
            if let Some(a) = &c.on_update {
                tail.push_str(&format!(" ON UPDATE {a}"));
            }
            if let Some(ch) = &c.characteristics {
                tail.push_str(&format!(" {ch}"));
            }
            return tail;
        }
    }
    String::new()
}

/// An identifier as PostgreSQL stores it: unquoted ones fold to lower case.
fn ident_value(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// A data migration prepared for batching.
#[derive(Debug, Clone)]
pub struct BatchedDml {
    /// The statement with `<qualifier>.<key> __LOCKSTEP_IN_BATCH__` added to its WHERE,
    /// ending in `RETURNING 1`; `{KEY}` stands for the qualified key column list.
    pub template: String,
    /// How the walked table is named inside the statement (its alias or its name).
    pub qualifier: String,
    /// The walked table's name as written (`public.users`, `"Users"`).
    pub table: ast::ObjectName,
    /// For UPDATE: the SET list as written.
    pub set: Option<String>,
    /// The original WHERE (or `true`) plus the idempotency guard, for display.
    pub predicate: String,
    /// False when re-running a batch could change the result again (`SET n = n + 1`):
    /// exactly-once then rests on the checkpoint alone.
    pub idempotent: bool,
}

fn batch_expr() -> Expr {
    Expr::Identifier(Ident::new(BATCH_IDENT))
}

fn and(a: Option<Expr>, b: Expr) -> Expr {
    match a {
        Some(a) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(a))),
            op: ast::BinaryOperator::And,
            right: Box::new(b),
        },
        None => b,
    }
}

fn relation_name(f: &TableFactor) -> Option<(ast::ObjectName, String)> {
    match f {
        TableFactor::Table { name, alias, .. } => {
            let qualifier = match alias {
                Some(a) => a.name.to_string(),
                None => name.0.last().map(|p| p.to_string()).unwrap_or_default(),
            };
            Some((name.clone(), qualifier))
        }
        _ => None,
    }
}

/// The columns an UPDATE assigns, as PostgreSQL names them (unquoted names folded to lower
/// case); `None` for other statements or tuple targets.
pub fn update_targets(sql: &str) -> Option<Vec<String>> {
    let Statement::Update(u) = parse_one(sql)? else {
        return None;
    };
    u.assignments
        .iter()
        .map(|a| match &a.target {
            AssignmentTarget::ColumnName(n) => n.0.last().map(|p| match p.as_ident() {
                Some(i) if i.quote_style.is_some() => i.value.clone(),
                Some(i) => i.value.to_lowercase(),
                None => p.to_string(),
            }),
            AssignmentTarget::Tuple(_) => None,
        })
        .collect()
}

/// The top-level AND conjuncts of a condition.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            let mut v = conjuncts(left);
            v.extend(conjuncts(right));
            v
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

fn names_column(e: &Expr, column: &str) -> bool {
    let bare = column.trim_matches('"');
    match e {
        Expr::Identifier(i) => i.value.eq_ignore_ascii_case(bare),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|i| i.value.eq_ignore_ascii_case(bare)),
        Expr::Nested(inner) => names_column(inner, column),
        _ => false,
    }
}

fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if !matches!(v.value, ast::Value::Null))
}

fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, ast::Value::Boolean(true)))
}

/// The condition `cond` is false for a row after `column = value` was assigned to it.
fn falsified_by(cond: &Expr, column: &str, value: &Expr) -> bool {
    match cond {
        // c IS NULL, after c = <non-NULL literal>
        Expr::IsNull(c) => names_column(c, column) && is_literal(value),
        // c IS NOT TRUE / c IS FALSE / NOT c / c = false, after c = true
        Expr::IsNotTrue(c) | Expr::IsFalse(c) => names_column(c, column) && is_true(value),
        Expr::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr,
        } => names_column(expr, column) && is_true(value),
        // c <> v / c IS DISTINCT FROM v, after c = v (the same literal)
        Expr::BinaryOp { left, op, right } => {
            let (col, other) = if names_column(left, column) {
                (true, right)
            } else {
                (names_column(right, column), left)
            };
            col && is_literal(value)
                && match op {
                    ast::BinaryOperator::NotEq => other.to_string() == value.to_string(),
                    ast::BinaryOperator::Eq => {
                        is_true(value)
                            && matches!(&**other, Expr::Value(v) if matches!(v.value, ast::Value::Boolean(false)))
                    }
                    _ => false,
                }
        }
        Expr::IsDistinctFrom(l, r) => {
            (names_column(l, column) && r.to_string() == value.to_string()
                || names_column(r, column) && l.to_string() == value.to_string())
                && is_literal(value)
        }
        _ => false,
    }
}

/// Prepares an UPDATE, DELETE or INSERT … SELECT for batching, with `extra_guard` (an SQL
/// condition) added to an UPDATE's WHERE; `None` when its shape is not one we can batch (a
/// set operation, a VALUES list, a CTE, a function in FROM).
pub fn batch_dml_guarded(sql: &str, extra_guard: Option<&str>) -> Option<BatchedDml> {
    let stmt = parse_one(sql)?;
    match stmt {
        Statement::Update(mut u) => {
            let (table, qualifier) = relation_name(&u.table.relation)?;
            if !u.table.joins.is_empty() {
                return None;
            }
            let set = u
                .assignments
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let targets: Vec<String> = u
                .assignments
                .iter()
                .filter_map(|a| match &a.target {
                    AssignmentTarget::ColumnName(n) => n.0.last().map(|p| p.to_string()),
                    AssignmentTarget::Tuple(_) => None,
                })
                .collect();
            let values: Vec<String> = u.assignments.iter().map(|a| a.value.to_string()).collect();
            // Self-referencing values (`n = n + 1`) are not idempotent, and neither are
            // tuple targets we cannot name; then no guard.
            let self_ref = targets.len() != u.assignments.len()
                || targets.iter().any(|t| {
                    let bare = t.trim_matches('"').to_lowercase();
                    values
                        .iter()
                        .any(|v| contains_word(&v.to_lowercase(), &bare))
                });
            let guard = if self_ref {
                None
            } else {
                Some(
                    u.assignments
                        .iter()
                        .zip(&targets)
                        .map(|(a, t)| format!("{t} IS DISTINCT FROM ({})", a.value))
                        .collect::<Vec<_>>()
                        .join(" OR "),
                )
            };
            // `SET n = n + 1, done = true WHERE done IS NULL`: the WHERE no longer matches a
            // row once it was updated, so a batch run twice changes nothing the second time.
            let where_excludes_updated = u.selection.as_ref().is_some_and(|w| {
                conjuncts(w).iter().any(|c| {
                    u.assignments
                        .iter()
                        .zip(&targets)
                        .any(|(a, t)| falsified_by(c, t, &a.value))
                })
            });
            let mut original = u.selection.take();
            if let Some(extra) = extra_guard {
                let e = Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(extra)
                    .ok()?
                    .parse_expr()
                    .ok()?;
                original = Some(and(original, Expr::Nested(Box::new(e))));
            }
            let mut predicate = original
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "true".into());
            let mut sel = original;
            if let Some(g) = &guard {
                predicate = format!("({predicate}) AND ({g})");
                let guard_expr = Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(g)
                    .ok()?
                    .parse_expr()
                    .ok()?;
                sel = Some(and(sel, Expr::Nested(Box::new(guard_expr))));
            }
            u.selection = Some(and(sel, batch_expr()));
            u.returning = None;
            Some(BatchedDml {
                template: finish(&Statement::Update(u).to_string(), &qualifier),
                qualifier,
                table,
                set: Some(set),
                predicate,
                idempotent: guard.is_some() || where_excludes_updated,
            })
        }
        Statement::Delete(mut d) => {
            let from = match &d.from {
                FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f) => f,
            };
            let first = from.first()?;
            if from.len() != 1 || !first.joins.is_empty() {
                return None;
            }
            let (table, qualifier) = relation_name(&first.relation)?;
            let original = d.selection.take();
            let predicate = original
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "true".into());
            d.selection = Some(and(original, batch_expr()));
            d.returning = None;
            Some(BatchedDml {
                template: finish(&Statement::Delete(d).to_string(), &qualifier),
                qualifier,
                table,
                set: None,
                predicate,
                // A deleted row is gone: running a batch again finds nothing to delete.
                idempotent: true,
            })
        }
        Statement::Insert(mut ins) => {
            let source = ins.source.as_mut()?;
            if source.with.is_some() {
                return None;
            }
            let SetExpr::Select(select) = source.body.as_mut() else {
                return None;
            };
            let first = select.from.first()?;
            let (table, qualifier) = relation_name(&first.relation)?;
            let original = select.selection.take();
            let predicate = original
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "true".into());
            select.selection = Some(and(original, batch_expr()));
            ins.returning = None;
            Some(BatchedDml {
                template: finish(&Statement::Insert(ins).to_string(), &qualifier),
                qualifier,
                table,
                set: None,
                predicate,
                // Re-inserting a batch would duplicate rows; the checkpoint prevents it.
                idempotent: false,
            })
        }
        _ => None,
    }
}

fn finish(displayed: &str, qualifier: &str) -> String {
    let cond = format!("({{KEY}}) {}", super::backfill::IN_BATCH_MARKER);
    let _ = qualifier;
    format!("{} RETURNING 1", displayed.replace(BATCH_IDENT, &cond))
}

/// `word` occurs in `text` delimited by non-identifier characters.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_id = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let at = start + pos;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_id) && !after.is_some_and(is_id) {
            return true;
        }
        start = at + word.len();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_dml(sql: &str) -> Option<BatchedDml> {
        batch_dml_guarded(sql, None)
    }
    use crate::ops::ObjName;

    #[test]
    fn keeps_referential_actions() {
        let fk = ForeignKey {
            columns: vec!["user_id".into()],
            ref_table: ObjName::public("users"),
            ref_columns: vec!["id".into()],
        };
        let tail = fk_tail(
            "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE",
            &fk,
        );
        assert_eq!(tail, " ON DELETE CASCADE");
        let tail = fk_tail(
            "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE SET NULL",
            &fk,
        );
        assert_eq!(tail, " ON DELETE SET NULL");
    }

    #[test]
    fn batches_an_update_with_a_guard() {
        let b = batch_dml("UPDATE users SET status = 'x' WHERE status IS NULL").unwrap();
        assert!(b.idempotent);
        assert!(
            b.template.contains("status IS DISTINCT FROM ('x')"),
            "{}",
            b.template
        );
        assert!(
            b.template.contains("({KEY}) __LOCKSTEP_IN_BATCH__"),
            "{}",
            b.template
        );
        assert!(b.template.ends_with("RETURNING 1"));
        let b = batch_dml("UPDATE counters SET n = n + 1").unwrap();
        assert!(!b.idempotent);
        assert!(batch_dml("INSERT INTO t VALUES (1)").is_none());
        let b = batch_dml("INSERT INTO a (x) SELECT y FROM b s WHERE s.y > 0").unwrap();
        assert_eq!(b.qualifier, "s");
    }

    #[test]
    fn a_where_that_the_update_falsifies_makes_batches_idempotent() {
        for sql in [
            "UPDATE jobs SET attempts = attempts + 1, migrated = true WHERE migrated IS NOT TRUE",
            "UPDATE jobs SET attempts = attempts + 1, state = 'done' WHERE state IS NULL",
            "UPDATE jobs SET attempts = attempts + 1, state = 'done' WHERE kind = 3 AND state <> 'done'",
            "UPDATE jobs SET attempts = attempts + 1, v = 2 WHERE v IS DISTINCT FROM 2",
        ] {
            assert!(batch_dml(sql).unwrap().idempotent, "{sql}");
        }
        for sql in [
            "UPDATE jobs SET attempts = attempts + 1 WHERE state IS NULL",
            "UPDATE jobs SET attempts = attempts + 1, state = NULL WHERE state IS NULL",
            "UPDATE jobs SET attempts = attempts + 1, state = 'x' WHERE state <> 'done'",
        ] {
            assert!(!batch_dml(sql).unwrap().idempotent, "{sql}");
        }
    }
}
