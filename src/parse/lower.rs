//! Lowering: sqlparser's AST → the operation IR.
//!
//! Each statement is parsed on its own from the splitter's tokens. What sqlparser rejects,
//! or accepts but we cannot lower sensibly, goes to [`super::fallback`].

use super::split::{self, Piece};
use super::types::{is_volatile, normalize_type, parse_millis};
use super::{ParsedBy, fallback};
use super::{mask, names};
use crate::ops::{
    ColumnDef, Constraint, ConstraintKind, Expr, ForeignKey, Generated, LockMode, ObjName, Op,
    SqlType, TimeoutKind,
};
use sqlparser::ast::{
    self, AlterColumnOperation, AlterIndexOperation, AlterTableOperation, AlterTypeOperation,
    BinaryOperator, ColumnOption, ContextModifier, DropBehavior, FromTable, ObjectName,
    ObjectNamePart, ObjectType, RenameTableNameKind, SchemaName, Set, SetExpr, TableConstraint,
    TableFactor, TableObject, UserDefinedTypeRepresentation, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// Statements with more binary operators than this skip sqlparser: it parses long operator
/// chains iteratively but builds an AST so deep that displaying or dropping it recursively
/// can overflow the stack.
const MAX_OPERATORS: usize = 2_000;

/// `INSERT` statements longer than this (bytes) are classified from their prefix only.
const BIG_INSERT_BYTES: usize = 256 * 1024;
/// How much of a large `INSERT` is looked at.
const BIG_INSERT_PREFIX: usize = 8 * 1024;

/// What lowering one piece produced.
pub type Lowered = (Vec<Op>, ParsedBy, Option<String>);

/// Lowers one piece of the split text: masks placeholders for the parser, lowers, then
/// maps names back to the placeholders as written and truncates long identifiers as the
/// server does.
pub fn lower_piece(text: &str, piece: &Piece) -> Lowered {
    if let Some(err) = &piece.error {
        return (Vec::new(), ParsedBy::Unparsed, Some(err.clone()));
    }
    let Some(stmt_text) = text.get(piece.span.clone()) else {
        return (
            Vec::new(),
            ParsedBy::Unparsed,
            Some("internal: statement span is not on character boundaries".into()),
        );
    };
    let view = mask::view(stmt_text, piece.backslash_strings);
    let (mut ops, mut by, error) = lower_text(&view.text, 0);
    // Writing a system catalog (`UPDATE pg_catalog.pg_attribute …`, or an unqualified
    // `pg_…` name, which resolves to pg_catalog first) is a catalog hack, not a data
    // migration of user rows.
    for op in &mut ops {
        let verb = match op {
            Op::Update { .. } => "UPDATE",
            Op::Delete { .. } => "DELETE",
            Op::Insert { .. } => "INSERT",
            _ => continue,
        };
        if let Some(t) = op.table()
            && (t.schema == "pg_catalog" || (t.schema == "public" && t.name.starts_with("pg_")))
        {
            *op = Op::Other {
                what: format!("{verb} pg_catalog.{}", t.name),
            };
        }
    }
    // Whatever read it, a statement with an unknown part is a partial reading.
    if by != ParsedBy::Unparsed
        && ops
            .iter()
            .any(|o| matches!(o, Op::UnknownDefinition { .. }))
    {
        by = ParsedBy::Partial;
    }
    for op in &mut ops {
        names::for_each_string(op, &mut |s, field| {
            // A name holding a placeholder is not the server's name yet: leave its length.
            if !view.restore(s) && field == names::Field::Name {
                names::truncate_identifier(s);
            }
            if field == names::Field::Text {
                names::unqualify_calls(s);
            }
        });
    }
    (ops, by, error)
}

/// Lowers a statement given as text (tokenizes it first). `depth` counts nesting through
/// `DO` bodies so pathological input cannot recurse without bound.
pub fn lower_text(text: &str, depth: u8) -> Lowered {
    // Bulk data (`INSERT … VALUES` with thousands of rows) needs only its table and whether
    // it selects: classify it from its first few kilobytes instead of tokenizing and
    // parsing megabytes of literals.
    if text.len() > BIG_INSERT_BYTES
        && text
            .trim_start()
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("insert"))
    {
        let mut cut = BIG_INSERT_PREFIX.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let sig = fallback::Toks::new_partial(&text[..cut]);
        if let Some(ops) = fallback::classify(&sig, depth) {
            return (ops, ParsedBy::Fallback, None);
        }
    }
    match split::tokenize(text) {
        Ok((toks, _)) => lower_tokens(text, toks, depth),
        Err(e) => (Vec::new(), ParsedBy::Unparsed, Some(strip_location(&e))),
    }
}

/// Counts tokens that build nested binary-operator expressions.
fn operator_count(toks: &[TokenWithSpan]) -> usize {
    toks.iter()
        .filter(|t| match &t.token {
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            Token::Word(w) => {
                w.quote_style.is_none()
                    && (w.value.eq_ignore_ascii_case("and") || w.value.eq_ignore_ascii_case("or"))
            }
            _ => false,
        })
        .count()
}

/// Lowers a statement from its tokens (tokenized from `text`).
pub fn lower_tokens(text: &str, toks: Vec<TokenWithSpan>, depth: u8) -> Lowered {
    let ops_count = operator_count(&toks);
    let parsed = if ops_count > MAX_OPERATORS {
        Err(format!(
            "statement too complex for the SQL parser ({ops_count} operators)"
        ))
    } else {
        let dialect = PostgreSqlDialect {};
        Parser::new(&dialect)
            .with_tokens_with_locations(toks)
            .parse_statements()
            .map_err(|e| strip_location(&e.to_string()))
    };
    match parsed {
        Ok(stmts) => {
            let mut ops = Vec::new();
            let mut all_lowered = true;
            for s in &stmts {
                match lower_statement(s) {
                    Some(mut o) => ops.append(&mut o),
                    None => all_lowered = false,
                }
            }
            if all_lowered {
                return (ops, ParsedBy::Sqlparser, None);
            }
            let sig = fallback::Toks::new(text);
            // sqlparser accepted something we cannot lower (a dialect it mistook the text
            // for, say): the keyword fallback knows the PostgreSQL meaning.
            if let Some(fb) = fallback::classify(&sig, depth) {
                return (fb, ParsedBy::Fallback, None);
            }
            if stmts.len() == 1 {
                return (
                    vec![Op::Other {
                        what: sig.leading_words(3),
                    }],
                    ParsedBy::Sqlparser,
                    None,
                );
            }
            (ops, ParsedBy::Sqlparser, None)
        }
        Err(err) => {
            let sig = fallback::Toks::new(text);
            if let Some(fb) = fallback::classify(&sig, depth) {
                return (fb, ParsedBy::Fallback, None);
            }
            // A goose region or BEGIN ATOMIC body can hold several statements: lower them
            // one by one so one unknown statement does not hide the others.
            if depth < 4 && sig.has_top_level_semicolon() {
                let sub = split::split(text, &[]);
                if sub.len() > 1 {
                    return combine(sub.iter().map(|p| lower_piece(text, p)).collect());
                }
            }
            (Vec::new(), ParsedBy::Unparsed, Some(err))
        }
    }
}

/// sqlparser appends ` at Line: l, Column: c` relative to whatever text it was given (the
/// script, or one statement); the statement's own span locates the problem better.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at Line: ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Merges the results of sub-statements: the weakest `parsed_by` wins, ops are concatenated.
fn combine(parts: Vec<Lowered>) -> Lowered {
    let mut ops = Vec::new();
    let mut by = ParsedBy::Sqlparser;
    let mut error = None;
    let mut any_read = false;
    let mut any_unread = false;
    for (mut o, b, e) in parts {
        ops.append(&mut o);
        match b {
            ParsedBy::Unparsed => {
                any_unread = true;
                if error.is_none() {
                    error = e;
                }
            }
            ParsedBy::Partial => {
                any_read = true;
                any_unread = true;
            }
            // Not produced by the SQL path.
            ParsedBy::Dsl => any_read = true,
            ParsedBy::Fallback => {
                any_read = true;
                if by == ParsedBy::Sqlparser {
                    by = ParsedBy::Fallback;
                }
            }
            ParsedBy::Sqlparser => any_read = true,
        }
    }
    if any_unread {
        // Some parts read, some not: never a confident reading.
        by = if any_read {
            ParsedBy::Partial
        } else {
            ParsedBy::Unparsed
        };
    }
    (ops, by, error)
}

// ---------------------------------------------------------------------------------------
// Names

/// Folds an identifier the way PostgreSQL does: unquoted → lower case, quoted → as written.
pub fn fold(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

fn part(p: &ObjectNamePart) -> String {
    match p {
        ObjectNamePart::Identifier(i) => fold(i),
        other => other.to_string(),
    }
}

/// `a.b.c` → schema `b`, name `c`; a bare name gets `public`.
pub fn obj(name: &ObjectName) -> ObjName {
    obj_in(name, "public")
}

/// Like [`obj`], with the schema used for unqualified names.
fn obj_in(name: &ObjectName, default_schema: &str) -> ObjName {
    let parts = &name.0;
    match parts.len() {
        0 => ObjName::new(default_schema, ""),
        1 => ObjName::new(default_schema, part(&parts[0])),
        n => ObjName::new(part(&parts[n - 2]), part(&parts[n - 1])),
    }
}

/// The last part of a possibly qualified name.
fn last(name: &ObjectName) -> String {
    name.0.last().map(part).unwrap_or_default()
}

fn expr_text(e: &ast::Expr) -> String {
    e.to_string()
}

fn expr(e: &ast::Expr) -> Expr {
    let sql = expr_text(e);
    Expr {
        volatile: is_volatile(&sql),
        sql,
    }
}

/// A column name from an index or constraint element: plain identifiers are folded,
/// anything else is kept as expression text.
fn index_elem(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => fold(i),
        ast::Expr::CompoundIdentifier(v) => v.last().map(fold).unwrap_or_default(),
        ast::Expr::Nested(inner) => index_elem(inner),
        other => expr_text(other),
    }
}

// ---------------------------------------------------------------------------------------
// Columns and constraints

/// Lowers a column definition. `table` names the serial sequence (`t_col_seq`).
pub fn column(table: &ObjName, c: &ast::ColumnDef) -> ColumnDef {
    let name = fold(&c.name);
    let norm = normalize_type(&c.data_type.to_string());
    let mut col = ColumnDef {
        name: name.clone(),
        ty: norm.ty,
        not_null: false,
        default: None,
        generated: None,
        serial: norm.serial,
        constraints: Vec::new(),
    };
    if norm.serial {
        // What PostgreSQL creates for serial: an owned sequence and a NOT NULL nextval default.
        col.not_null = true;
        col.default = Some(Expr {
            sql: format!("nextval('{}_{}_seq'::regclass)", table.name, name),
            volatile: true,
        });
    }
    for opt in &c.options {
        let cname = opt.name.as_ref().map(fold);
        match &opt.option {
            ColumnOption::NotNull => col.not_null = true,
            ColumnOption::Null => col.not_null = false,
            ColumnOption::Default(e) => col.default = Some(expr(e)),
            ColumnOption::PrimaryKey(_) => {
                col.not_null = true;
                col.constraints.push(Constraint {
                    name: cname,
                    kind: ConstraintKind::PrimaryKey {
                        columns: vec![name.clone()],
                        using_index: None,
                    },
                    not_valid: false,
                });
            }
            ColumnOption::Unique(_) => col.constraints.push(Constraint {
                name: cname,
                kind: ConstraintKind::Unique {
                    columns: vec![name.clone()],
                    using_index: None,
                },
                not_valid: false,
            }),
            ColumnOption::ForeignKey(fk) => col.constraints.push(Constraint {
                name: cname.or_else(|| fk.name.as_ref().map(fold)),
                kind: ConstraintKind::ForeignKey(ForeignKey {
                    columns: vec![name.clone()],
                    ref_table: obj(&fk.foreign_table),
                    ref_columns: fk.referred_columns.iter().map(fold).collect(),
                }),
                not_valid: false,
            }),
            ColumnOption::Check(ck) => col.constraints.push(Constraint {
                name: cname.or_else(|| ck.name.as_ref().map(fold)),
                kind: ConstraintKind::Check {
                    expr: expr_text(&ck.expr),
                },
                not_valid: false,
            }),
            ColumnOption::Generated {
                generation_expr,
                generation_expr_mode,
                ..
            } => {
                col.generated = match generation_expr {
                    // PostgreSQL 18's VIRTUAL columns are computed when read: nothing is
                    // stored, so for locks and rewrites they are like a plain column.
                    Some(_)
                        if matches!(
                            generation_expr_mode,
                            Some(ast::GeneratedExpressionMode::Virtual)
                        ) =>
                    {
                        None
                    }
                    Some(e) => Some(Generated::Stored(expr_text(e))),
                    None => {
                        col.not_null = true;
                        Some(Generated::Identity)
                    }
                };
            }
            ColumnOption::Identity(_) => {
                col.not_null = true;
                col.generated = Some(Generated::Identity);
            }
            _ => {}
        }
    }
    col
}

/// Lowers a table constraint written in `CREATE TABLE`; `None` for MySQL-only kinds.
pub fn table_constraint(c: &TableConstraint) -> Option<Constraint> {
    constraint(c, false)
}

/// Lowers a table constraint; `None` for MySQL-only kinds.
fn constraint(c: &TableConstraint, not_valid: bool) -> Option<Constraint> {
    let cols = |v: &[ast::IndexColumn]| v.iter().map(|c| index_elem(&c.column.expr)).collect();
    let (name, kind) = match c {
        TableConstraint::PrimaryKey(pk) => (
            pk.name.as_ref().map(fold),
            ConstraintKind::PrimaryKey {
                columns: cols(&pk.columns),
                using_index: None,
            },
        ),
        TableConstraint::Unique(u) => (
            u.name.as_ref().map(fold),
            ConstraintKind::Unique {
                columns: cols(&u.columns),
                using_index: None,
            },
        ),
        TableConstraint::PrimaryKeyUsingIndex(u) => (
            u.name.as_ref().map(fold),
            ConstraintKind::PrimaryKey {
                columns: Vec::new(),
                using_index: Some(fold(&u.index_name)),
            },
        ),
        TableConstraint::UniqueUsingIndex(u) => (
            u.name.as_ref().map(fold),
            ConstraintKind::Unique {
                columns: Vec::new(),
                using_index: Some(fold(&u.index_name)),
            },
        ),
        TableConstraint::ForeignKey(fk) => (
            fk.name.as_ref().map(fold),
            ConstraintKind::ForeignKey(ForeignKey {
                columns: fk.columns.iter().map(fold).collect(),
                ref_table: obj(&fk.foreign_table),
                ref_columns: fk.referred_columns.iter().map(fold).collect(),
            }),
        ),
        TableConstraint::Check(ck) => (
            ck.name.as_ref().map(fold),
            ConstraintKind::Check {
                expr: expr_text(&ck.expr),
            },
        ),
        TableConstraint::Exclude(ex) => (ex.name.as_ref().map(fold), ConstraintKind::Exclusion),
        TableConstraint::Index(_) | TableConstraint::FulltextOrSpatial(_) => return None,
    };
    Some(Constraint {
        name,
        kind,
        not_valid,
    })
}

// ---------------------------------------------------------------------------------------
// Statements

/// Lowers one parsed statement; `None` when the AST does not mean anything we can place
/// (the caller then asks the fallback).
pub fn lower_statement(s: &ast::Statement) -> Option<Vec<Op>> {
    use ast::Statement as S;
    let one = |op: Op| Some(vec![op]);
    match s {
        S::CreateTable(ct) => {
            let table = obj(&ct.name);
            let columns: Vec<ColumnDef> = ct.columns.iter().map(|c| column(&table, c)).collect();
            let mut constraints = Vec::new();
            for c in &ct.constraints {
                constraints.push(constraint(c, false)?);
            }
            // INHERITS: the parent's columns are not listed; let the fallback read it.
            if ct.like.is_some() || ct.clone.is_some() || ct.inherits.is_some() {
                return None;
            }
            let mut ops = vec![Op::CreateTable {
                columns,
                constraints,
                if_not_exists: ct.if_not_exists,
                partition_of: ct.partition_of.as_ref().map(obj),
                as_select: ct.query.is_some(),
                temporary: ct.temporary,
                unlogged: ct.unlogged,
                table: table.clone(),
            }];
            // Inherited columns come from tables this statement does not describe.
            if ct.inherits.as_ref().is_some_and(|v| !v.is_empty()) {
                ops.push(Op::UnknownDefinition {
                    object: table,
                    reason: "columns inherited from parent tables (INHERITS)".into(),
                });
            }
            Some(ops)
        }
        S::AlterTable(at) => {
            let table = obj(&at.name);
            let mut ops = Vec::new();
            for op in &at.operations {
                ops.append(&mut alter_table_op(&table, op)?);
            }
            Some(ops)
        }
        S::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => Some(
            names
                .iter()
                .filter_map(|n| drop_op(*object_type, n, *if_exists, *cascade))
                .collect(),
        ),
        S::CreateIndex(ci) => {
            let table = obj(&ci.table_name);
            one(Op::CreateIndex {
                name: ci.name.as_ref().map(|n| obj_in(n, &table.schema)),
                columns: ci
                    .columns
                    .iter()
                    .map(|c| index_elem(&c.column.expr))
                    .collect(),
                unique: ci.unique,
                concurrently: ci.concurrently,
                if_not_exists: ci.if_not_exists,
                partial: ci.predicate.is_some(),
                table,
            })
        }
        S::AlterIndex { name, operation } => match operation {
            AlterIndexOperation::RenameIndex { index_name } => one(Op::RenameIndex {
                name: obj(name),
                new_name: last(index_name),
            }),
        },
        S::CreateView(cv) => one(Op::CreateView {
            name: obj(&cv.name),
            materialized: cv.materialized,
            or_replace: cv.or_replace,
            depends_on: relations(&cv.query),
        }),
        S::CreateType {
            name,
            representation,
        } => match representation {
            Some(UserDefinedTypeRepresentation::Enum { labels }) => one(Op::CreateEnum {
                name: obj(name),
                values: labels.iter().map(|l| l.value.clone()).collect(),
            }),
            _ => one(Op::CreateType { name: obj(name) }),
        },
        S::AlterType(at) => match &at.operation {
            AlterTypeOperation::AddValue(v) => one(Op::AddEnumValue {
                name: obj(&at.name),
                value: v.value.value.clone(),
            }),
            AlterTypeOperation::RenameValue(v) => one(Op::RenameEnumValue {
                name: obj(&at.name),
                value: v.from.value.clone(),
                new_value: v.to.value.clone(),
            }),
            AlterTypeOperation::Rename(r) => one(Op::RenameType {
                name: obj(&at.name),
                new_name: fold(&r.new_name),
            }),
        },
        S::CreateFunction(f) => one(Op::CreateFunction {
            name: obj(&f.name),
            volatility: f.behavior.as_ref().map(|b| match b {
                ast::FunctionBehavior::Immutable => crate::ops::Volatility::Immutable,
                ast::FunctionBehavior::Stable => crate::ops::Volatility::Stable,
                ast::FunctionBehavior::Volatile => crate::ops::Volatility::Volatile,
            }),
        }),
        S::CreateProcedure { name, .. } => one(Op::CreateFunction {
            name: obj(name),
            volatility: None,
        }),
        S::DropFunction(df) => Some(
            df.func_desc
                .iter()
                .map(|d| Op::DropFunction { name: obj(&d.name) })
                .collect(),
        ),
        S::DropProcedure { proc_desc, .. } => Some(
            proc_desc
                .iter()
                .map(|d| Op::DropFunction { name: obj(&d.name) })
                .collect(),
        ),
        S::CreateTrigger(ct) => one(Op::CreateTrigger {
            name: last(&ct.name),
            table: obj(&ct.table_name),
        }),
        S::DropTrigger(dt) => {
            let table = dt.table_name.as_ref()?;
            one(Op::DropTrigger {
                name: last(&dt.trigger_name),
                table: obj(table),
            })
        }
        S::CreateSequence { name, .. } => one(Op::CreateSequence { name: obj(name) }),
        S::CreateSchema { schema_name, .. } => one(Op::CreateSchema {
            name: match schema_name {
                SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => last(n),
                SchemaName::UnnamedAuthorization(i) => fold(i),
            },
        }),
        S::CreateExtension(ce) => one(Op::CreateExtension {
            name: fold(&ce.name),
        }),
        S::DropExtension(de) => Some(
            de.names
                .iter()
                .map(|n| Op::DropExtension { name: fold(n) })
                .collect(),
        ),
        S::Truncate(t) => Some(
            t.table_names
                .iter()
                .map(|n| Op::Truncate {
                    table: obj(&n.name),
                })
                .collect(),
        ),
        S::Lock(l) => {
            let mode = match &l.lock_mode {
                Some(m) => lock_mode(m),
                None => LockMode::AccessExclusive,
            };
            Some(
                l.tables
                    .iter()
                    .map(|t| Op::LockTable {
                        table: obj(&t.name),
                        mode,
                    })
                    .collect(),
            )
        }
        S::Vacuum(v) => {
            let table = v.table_name.as_ref().map(obj);
            one(if v.full {
                Op::VacuumFull { table }
            } else {
                Op::Vacuum { table }
            })
        }
        S::Set(set) => one(lower_set(set)),
        S::Reset(r) => one(match &r.reset {
            ast::Reset::ConfigurationParameter(n) if n.0.len() > 1 => Op::Set {
                name: n.0.iter().map(part).collect::<Vec<_>>().join("."),
            },
            ast::Reset::ConfigurationParameter(n) if last(n).eq_ignore_ascii_case("timezone") => {
                Op::SetTimeZone {
                    zone: None,
                    local: false,
                }
            }
            ast::Reset::ConfigurationParameter(n) => match timeout_kind(&last(n)) {
                Some(timeout) => Op::SetTimeout {
                    timeout,
                    millis: None,
                    local: false,
                },
                None => Op::Set { name: last(n) },
            },
            _ => Op::Set { name: "all".into() },
        }),
        S::StartTransaction { statements, .. } if statements.is_empty() => one(Op::Begin),
        S::Commit { .. } => one(Op::Commit),
        S::Rollback {
            savepoint: None, ..
        } => one(Op::Rollback),
        S::Rollback { .. } => one(Op::Other {
            what: "ROLLBACK TO SAVEPOINT".into(),
        }),
        S::Update(u) => {
            let table = match &u.table.relation {
                TableFactor::Table { name, .. } => obj(name),
                _ => return None,
            };
            let columns = u
                .assignments
                .iter()
                .flat_map(|a| match &a.target {
                    ast::AssignmentTarget::ColumnName(n) => vec![last(n)],
                    ast::AssignmentTarget::Tuple(ns) => ns.iter().map(last).collect(),
                })
                .collect();
            one(Op::Update {
                table,
                columns,
                has_where: u.selection.is_some(),
                selective: u.selection.as_ref().is_some_and(selective),
            })
        }
        S::Delete(d) => {
            let from = match &d.from {
                FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
            };
            let table = match from.first().map(|t| &t.relation) {
                Some(TableFactor::Table { name, .. }) => obj(name),
                _ => return None,
            };
            one(Op::Delete {
                table,
                has_where: d.selection.is_some(),
                selective: d.selection.as_ref().is_some_and(selective),
            })
        }
        S::Insert(ins) => {
            let table = match &ins.table {
                TableObject::TableName(n) => obj(n),
                _ => return None,
            };
            let from_select = ins
                .source
                .as_ref()
                .is_some_and(|q| !matches!(*q.body, SetExpr::Values(_)));
            let columns = ins.columns.iter().map(last).collect();
            one(Op::Insert {
                table,
                columns,
                from_select,
            })
        }
        S::Query(q) => {
            // `WITH d AS (DELETE … RETURNING …) INSERT …`: the data changes are in the
            // CTEs and the body, whatever the statement starts with.
            let mut dml = Vec::new();
            query_dml(q, &mut dml, 0);
            if !dml.is_empty() {
                return Some(dml);
            }
            one(set_config(q).unwrap_or(Op::Other {
                what: "SELECT".into(),
            }))
        }
        S::Analyze(_) => one(Op::Other {
            what: "ANALYZE".into(),
        }),
        S::Comment { .. } => one(Op::Other {
            what: "COMMENT".into(),
        }),
        S::Grant(_) => one(Op::Other {
            what: "GRANT".into(),
        }),
        S::Revoke(_) => one(Op::Other {
            what: "REVOKE".into(),
        }),
        S::Call(_) => one(Op::Other {
            what: "CALL".into(),
        }),
        // Statements sqlparser knows only from other dialects: a PostgreSQL script using
        // these words means something else, let the fallback look.
        S::Msck(_)
        | S::Install { .. }
        | S::Load { .. }
        | S::Directory { .. }
        | S::CopyIntoSnowflake { .. }
        | S::CreateVirtualTable { .. }
        | S::AttachDatabase { .. }
        | S::AttachDuckDBDatabase { .. }
        | S::DetachDuckDBDatabase { .. }
        | S::Flush { .. }
        | S::Kill { .. }
        | S::OptimizeTable { .. }
        | S::LoadData { .. }
        | S::RenameTable(_)
        | S::UnlockTables
        | S::LockTables { .. }
        | S::StartTransaction { .. } => None,
        other => one(Op::Other {
            what: statement_kind(other),
        }),
    }
}

/// The data changes (`INSERT`/`UPDATE`/`DELETE`) in a query's CTEs and body.
fn query_dml(q: &ast::Query, out: &mut Vec<Op>, depth: u8) {
    if depth > 16 {
        return;
    }
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            query_dml(&cte.query, out, depth + 1);
        }
    }
    set_expr_dml(&q.body, out, depth);
}

fn set_expr_dml(e: &SetExpr, out: &mut Vec<Op>, depth: u8) {
    match e {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => {
            if let Some(mut ops) = lower_statement(s) {
                out.append(&mut ops);
            }
        }
        SetExpr::Merge(_) => out.push(Op::Other {
            what: "MERGE".into(),
        }),
        SetExpr::Query(q) => query_dml(q, out, depth + 1),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_dml(left, out, depth + 1);
            set_expr_dml(right, out, depth + 1);
        }
        _ => {}
    }
}

/// The leading keywords of a statement's display text (`CREATE DOMAIN`, `ALTER ROLE`).
fn statement_kind(s: &ast::Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .take(3)
        .collect();
    if words.is_empty() {
        "statement".into()
    } else {
        words.join(" ")
    }
}

fn lock_mode(m: &ast::LockTableMode) -> LockMode {
    use ast::LockTableMode as M;
    match m {
        M::AccessShare => LockMode::AccessShare,
        M::RowShare => LockMode::RowShare,
        M::RowExclusive => LockMode::RowExclusive,
        M::ShareUpdateExclusive => LockMode::ShareUpdateExclusive,
        M::Share => LockMode::Share,
        M::ShareRowExclusive => LockMode::ShareRowExclusive,
        M::Exclusive => LockMode::Exclusive,
        M::AccessExclusive => LockMode::AccessExclusive,
    }
}

fn drop_op(kind: ObjectType, n: &ObjectName, if_exists: bool, cascade: bool) -> Option<Op> {
    Some(match kind {
        ObjectType::Table => Op::DropTable {
            table: obj(n),
            if_exists,
            cascade,
        },
        ObjectType::View => Op::DropView {
            name: obj(n),
            materialized: false,
            if_exists,
        },
        ObjectType::MaterializedView => Op::DropView {
            name: obj(n),
            materialized: true,
            if_exists,
        },
        ObjectType::Index => Op::DropIndex {
            name: obj(n),
            concurrently: false,
            if_exists,
        },
        ObjectType::Sequence => Op::DropSequence { name: obj(n) },
        ObjectType::Schema => Op::DropSchema {
            name: last(n),
            cascade,
        },
        ObjectType::Database => Op::DropDatabase { name: last(n) },
        ObjectType::Type => Op::DropType { name: obj(n) },
        other => Op::Other {
            what: format!("DROP {other}"),
        },
    })
}

pub fn timeout_kind(name: &str) -> Option<TimeoutKind> {
    match name.to_ascii_lowercase().as_str() {
        "lock_timeout" => Some(TimeoutKind::Lock),
        "statement_timeout" => Some(TimeoutKind::Statement),
        _ => None,
    }
}

/// The value of `SET x = v` as text usable by [`parse_millis`].
fn set_value(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => Some(n.clone()),
            ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        ast::Expr::Identifier(i) if !i.value.eq_ignore_ascii_case("default") => {
            Some(i.value.clone())
        }
        _ => None,
    }
}

fn lower_set(set: &Set) -> Op {
    match set {
        Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        } => {
            // `SET foo.lock_timeout` is a custom (extension) setting, not lock_timeout.
            let name = variable.0.iter().map(part).collect::<Vec<_>>().join(".");
            if name.eq_ignore_ascii_case("timezone") || name.eq_ignore_ascii_case("time zone") {
                return Op::SetTimeZone {
                    zone: values.first().and_then(set_value).filter(|v| {
                        !v.eq_ignore_ascii_case("local") && !v.eq_ignore_ascii_case("default")
                    }),
                    local: matches!(scope, Some(ContextModifier::Local)),
                };
            }
            match timeout_kind(&name) {
                Some(timeout) => Op::SetTimeout {
                    timeout,
                    millis: values
                        .first()
                        .and_then(set_value)
                        .and_then(|v| parse_millis(&v)),
                    local: matches!(scope, Some(ContextModifier::Local)),
                },
                None => Op::Set { name },
            }
        }
        Set::SetTimeZone { local, value } => Op::SetTimeZone {
            zone: set_value(value)
                .filter(|v| !v.eq_ignore_ascii_case("local") && !v.eq_ignore_ascii_case("default")),
            local: *local,
        },
        Set::SetRole { .. } => Op::Set {
            name: "role".into(),
        },
        Set::SetSessionAuthorization(_) => Op::Set {
            name: "session_authorization".into(),
        },
        Set::SetTransaction { .. } => Op::Set {
            name: "transaction".into(),
        },
        _ => Op::Set {
            name: "session".into(),
        },
    }
}

/// `SELECT set_config('lock_timeout', '5s', true)` as a timeout setting.
fn set_config(q: &ast::Query) -> Option<Op> {
    let SetExpr::Select(sel) = &*q.body else {
        return None;
    };
    if !sel.from.is_empty() || sel.projection.len() != 1 {
        return None;
    }
    let e = match &sel.projection[0] {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    let ast::Expr::Function(f) = e else {
        return None;
    };
    if !last(&f.name).eq_ignore_ascii_case("set_config") {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<&ast::Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    if args.len() != 3 {
        return None;
    }
    let name = set_value(args[0])?;
    let timeout = timeout_kind(&name)?;
    let local =
        matches!(args[2], ast::Expr::Value(v) if matches!(v.value, ast::Value::Boolean(true)));
    Some(Op::SetTimeout {
        timeout,
        millis: set_value(args[1]).and_then(|v| parse_millis(&v)),
        local,
    })
}

fn alter_table_op(table: &ObjName, op: &AlterTableOperation) -> Option<Vec<Op>> {
    use AlterTableOperation as A;
    let t = || table.clone();
    let one = |op: Op| Some(vec![op]);
    let other = |what: &str| {
        Some(vec![Op::AlterTableOther {
            table: table.clone(),
            what: what.to_string(),
        }])
    };
    match op {
        A::AddConstraint {
            constraint: c,
            not_valid,
        } => one(Op::AddConstraint {
            table: t(),
            constraint: constraint(c, *not_valid)?,
        }),
        A::AddColumn {
            if_not_exists,
            column_def,
            column_position: None,
            ..
        } => one(Op::AddColumn {
            table: t(),
            column: column(table, column_def),
            if_not_exists: *if_not_exists,
        }),
        A::DropConstraint {
            if_exists,
            name,
            drop_behavior,
        } => one(Op::DropConstraint {
            table: t(),
            name: fold(name),
            if_exists: *if_exists,
            cascade: matches!(drop_behavior, Some(DropBehavior::Cascade)),
        }),
        A::DropColumn {
            column_names,
            if_exists,
            drop_behavior,
            ..
        } => Some(
            column_names
                .iter()
                .map(|c| Op::DropColumn {
                    table: t(),
                    column: fold(c),
                    if_exists: *if_exists,
                    cascade: matches!(drop_behavior, Some(DropBehavior::Cascade)),
                })
                .collect(),
        ),
        A::RenameColumn {
            old_column_name,
            new_column_name,
        } => one(Op::RenameColumn {
            table: t(),
            column: fold(old_column_name),
            new_name: fold(new_column_name),
        }),
        A::RenameTable { table_name } => {
            let n = match table_name {
                RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => n,
            };
            one(Op::RenameTable {
                table: t(),
                new_name: last(n),
            })
        }
        A::RenameConstraint { old_name, new_name } => one(Op::RenameConstraint {
            table: t(),
            name: fold(old_name),
            new_name: fold(new_name),
        }),
        A::ValidateConstraint { name } => one(Op::ValidateConstraint {
            table: t(),
            name: fold(name),
        }),
        A::SetLogged => one(Op::SetLogged {
            table: t(),
            logged: true,
        }),
        A::SetUnlogged => one(Op::SetLogged {
            table: t(),
            logged: false,
        }),
        A::AlterColumn { column_name, op } => {
            let column = fold(column_name);
            one(match op {
                AlterColumnOperation::SetNotNull => Op::SetNotNull { table: t(), column },
                AlterColumnOperation::DropNotNull => Op::DropNotNull { table: t(), column },
                AlterColumnOperation::SetDefault { value } => Op::SetDefault {
                    table: t(),
                    column,
                    default: expr(value),
                },
                AlterColumnOperation::DropDefault => Op::DropDefault { table: t(), column },
                AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => Op::AlterColumnType {
                    table: t(),
                    column,
                    ty: normalize_type(&data_type.to_string()).ty,
                    using: using.as_ref().map(expr_text),
                    collate: None,
                },
                AlterColumnOperation::AddGenerated { .. } => Op::AddIdentity { table: t(), column },
            })
        }
        A::OwnerTo { .. } => other("OWNER TO"),
        A::EnableRowLevelSecurity => other("ENABLE ROW LEVEL SECURITY"),
        A::DisableRowLevelSecurity => other("DISABLE ROW LEVEL SECURITY"),
        A::ForceRowLevelSecurity => other("FORCE ROW LEVEL SECURITY"),
        A::NoForceRowLevelSecurity => other("NO FORCE ROW LEVEL SECURITY"),
        A::ReplicaIdentity { .. } => other("REPLICA IDENTITY"),
        A::EnableTrigger { .. } => other("ENABLE TRIGGER"),
        A::DisableTrigger { .. } => other("DISABLE TRIGGER"),
        A::EnableAlwaysTrigger { .. } => other("ENABLE ALWAYS TRIGGER"),
        A::EnableReplicaTrigger { .. } => other("ENABLE REPLICA TRIGGER"),
        A::EnableRule { .. } => other("ENABLE RULE"),
        A::DisableRule { .. } => other("DISABLE RULE"),
        A::EnableAlwaysRule { .. } => other("ENABLE ALWAYS RULE"),
        A::EnableReplicaRule { .. } => other("ENABLE REPLICA RULE"),
        A::SetOptionsParens { .. } => other("SET (storage parameters)"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Views: the relations a query reads

struct Relations {
    found: BTreeSet<ObjName>,
    ctes: BTreeSet<String>,
}

impl Visitor for Relations {
    type Break = ();
    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let o = obj(relation);
        if !(relation.0.len() == 1 && self.ctes.contains(&o.name)) {
            self.found.insert(o);
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_query(&mut self, query: &ast::Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(fold(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }
}

/// The tables and views a query reads (FROM, JOIN, subqueries), without CTE names.
pub fn relations(q: &ast::Query) -> Vec<ObjName> {
    let mut v = Relations {
        found: BTreeSet::new(),
        ctes: BTreeSet::new(),
    };
    let _ = q.visit(&mut v);
    v.found.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// WHERE selectivity

fn is_column(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => true,
        ast::Expr::Nested(i) => is_column(i),
        ast::Expr::Cast { expr, .. } => is_column(expr),
        _ => false,
    }
}

/// A value that does not depend on the row: literals, parameters, casts and arithmetic of
/// constants, and function calls whose arguments are constants (`now()`).
fn is_constant(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Value(_) | ast::Expr::TypedString(_) => true,
        ast::Expr::Nested(i) => is_constant(i),
        ast::Expr::Cast { expr, .. } => is_constant(expr),
        ast::Expr::UnaryOp { expr, .. } => is_constant(expr),
        ast::Expr::BinaryOp { left, right, .. } => is_constant(left) && is_constant(right),
        ast::Expr::Interval(_) => true,
        ast::Expr::Function(f) => match &f.args {
            ast::FunctionArguments::None => true,
            ast::FunctionArguments::List(l) => l.args.iter().all(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => is_constant(e),
                _ => false,
            }),
            ast::FunctionArguments::Subquery(_) => false,
        },
        ast::Expr::Identifier(i) => {
            // CURRENT_DATE and friends parse as identifiers.
            matches!(
                i.value.to_ascii_uppercase().as_str(),
                "CURRENT_DATE" | "CURRENT_TIMESTAMP" | "LOCALTIMESTAMP" | "CURRENT_TIME"
            )
        }
        _ => false,
    }
}

/// Whether a WHERE clause restricts rows by a key or a bounded range: `col = const`,
/// `col IN (consts)`, `col BETWEEN a AND b`, `col < const`, or a batch
/// `col IN (SELECT … LIMIT n)`. `col IS NULL` alone or `WHERE true` is not selective.
pub fn selective(e: &ast::Expr) -> bool {
    use ast::Expr as E;
    match e {
        E::Nested(i) => selective(i),
        E::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => selective(left) || selective(right),
            BinaryOperator::Or => selective(left) && selective(right),
            BinaryOperator::Eq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                (is_column(left) && is_constant(right)) || (is_constant(left) && is_column(right))
            }
            _ => false,
        },
        E::InList {
            expr,
            list,
            negated: false,
        } => is_column(expr) && !list.is_empty() && list.iter().all(is_constant),
        E::Between {
            expr,
            negated: false,
            low,
            high,
        } => is_column(expr) && is_constant(low) && is_constant(high),
        E::InSubquery {
            expr,
            subquery,
            negated: false,
        } => is_column(expr) && subquery.limit_clause.is_some(),
        _ => false,
    }
}

/// Normalises a type written as text (for the fallback).
pub fn type_from_text(text: &str) -> SqlType {
    let dialect = PostgreSqlDialect {};
    match Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_data_type())
    {
        Ok(dt) => normalize_type(&dt.to_string()).ty,
        Err(_) => normalize_type(text).ty,
    }
}
