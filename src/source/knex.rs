//! Knex `migrations/*.js|ts`: `exports.up = function (knex) { … }` (or `export async
//! function up(knex: Knex)`), read with tree-sitter.
//!
//! Order: knex sorts the migration directory's files by name. Transactions: knex runs each
//! migration in its own transaction unless the file exports `config = { transaction:
//! false }`.
//!
//! Schema-builder calls (`createTable`, `alterTable`/`table`, `dropTable`, `renameTable`,
//! `raw`, schemas and extensions) are compiled to the SQL knex 3's PostgreSQL dialect
//! sends (`string` → `varchar(255)`, `increments` → `serial primary key`, index names
//! `<table>_<cols>_index`, …) and that SQL is lowered by the SQL path, so the operations
//! are exactly those of the statements knex runs (checked against knex itself in
//! `tests/frontend_knex.rs`). Anything else that touches `knex` (query builder data
//! changes, helpers, conditions) is reported as not analysed.

use super::files::{Entry, Inputs};
use super::host::HostStatement;
use super::js::{self, JsFile, Link, Value, Walker, lit, q};
use super::version::leading_digits;
use super::{Migration, Script, SourceError, file_migration};
use std::path::Path;
use tree_sitter::Node;

/// Evidence that `entries` are this framework's migrations, for layout detection.
pub(crate) fn detect(entries: &[Entry]) -> Option<String> {
    let n = entries
        .iter()
        .filter(|e| e.at_top() && js::is_script_name(e.file_name()))
        .filter(|e| std::fs::read_to_string(&e.path).is_ok_and(|t| looks_like_knex(&t)))
        .count();
    (n > 0).then(|| format!("{n} knex migration file(s) (exports.up with knex.schema)"))
}

/// Whether a file's text looks like a knex migration (cheap test before parsing).
fn looks_like_knex(text: &str) -> bool {
    let has_up = text.contains("exports.up")
        || text.contains("function up(")
        || text.contains("function up (")
        || text.contains("const up ")
        || text.contains("up:");
    has_up
        && (text.contains(".schema.") || text.contains(".schema\n") || text.contains("knex.raw"))
        && (text.contains("knex") || text.contains("Knex"))
        && !text.contains("queryInterface")
        && !text.contains("MigrationInterface")
}

/// Whether `dir` is a migration folder of this framework (for `lockstep lint .`).
pub(crate) fn is_folder(dir: &Path) -> bool {
    let Ok(read) = std::fs::read_dir(dir) else {
        return false;
    };
    read.flatten().any(|item| {
        let name = item.file_name();
        let name = name.to_string_lossy();
        js::is_script_name(&name)
            && item.path().is_file()
            && std::fs::read_to_string(item.path()).is_ok_and(|t| looks_like_knex(&t))
    })
}

/// Reads the migrations in apply order.
pub(crate) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut entries: Vec<Entry> = Vec::new();
    for entry in inputs.entries.clone() {
        if !entry.at_top() {
            continue;
        }
        if !js::is_script_name(entry.file_name()) {
            inputs.ignore(&entry.path, "not a .js/.ts file (knex loads only scripts)");
            continue;
        }
        entries.push(entry);
    }
    entries.sort_by(|a, b| a.file_name().cmp(b.file_name()));
    let mut migrations = Vec::new();
    for entry in entries {
        let text = inputs.text(&entry.path)?;
        let stem = stem(entry.file_name());
        let (version, name) = match leading_digits(&stem) {
            Some((v, rest)) => (
                v.to_string(),
                rest.trim_start_matches(['_', '-']).to_string(),
            ),
            None => (stem.clone(), stem.clone()),
        };
        let typescript = entry.file_name().ends_with(".ts");
        let read = read_file(&text, typescript);
        let Some(read) = read else {
            inputs.warn(format!(
                "{}: not read: tree-sitter could not parse the file",
                entry.path.display()
            ));
            continue;
        };
        let Some(up) = read.up else {
            inputs.ignore(&entry.path, "no `up` export (not a knex migration)");
            continue;
        };
        let up = Script::host(&entry.path, text.clone(), up.0, up.1);
        let down = read
            .down
            .map(|(range, calls)| Script::host(&entry.path, text.clone(), range, calls));
        migrations.push(file_migration(
            stem,
            version,
            name,
            up,
            down,
            read.in_transaction,
        ));
    }
    Ok(migrations)
}

fn stem(file: &str) -> String {
    for ext in [".ts", ".js", ".mjs", ".cjs"] {
        if let Some(s) = file.strip_suffix(ext) {
            return s.to_string();
        }
    }
    file.to_string()
}

/// What one knex file holds.
pub(crate) struct KnexFile {
    pub up: Option<(std::ops::Range<usize>, Vec<HostStatement>)>,
    pub down: Option<(std::ops::Range<usize>, Vec<HostStatement>)>,
    pub in_transaction: bool,
    /// Calls on `knex` seen and understood (corpus figures).
    pub calls: usize,
    pub understood: usize,
}

/// Reads one migration file's `up`, `down` and `config`.
pub(crate) fn read_file(text: &str, typescript: bool) -> Option<KnexFile> {
    let file = JsFile::new(text, typescript)?;
    let mut out = KnexFile {
        up: None,
        down: None,
        in_transaction: true,
        calls: 0,
        understood: 0,
    };
    for (name, node) in js::exports(&file) {
        match name.as_str() {
            "up" | "down" if js::is_function(node) => {
                let receivers: Vec<String> = js::params(&file, node)
                    .into_iter()
                    .take(1)
                    .flatten()
                    .collect();
                let receivers = if receivers.is_empty() {
                    vec!["knex".to_string()]
                } else {
                    receivers
                };
                let mut walker = Walker::new(&file, receivers);
                walker.function(node, &mut |w, call| knex_call(w, call));
                out.calls += walker.calls;
                out.understood += walker.understood;
                let body = node
                    .child_by_field_name("body")
                    .map(|b| b.byte_range())
                    .unwrap_or(node.byte_range());
                if name == "up" {
                    out.up = Some((body, walker.out));
                } else {
                    out.down = Some((body, walker.out));
                }
            }
            "config" => {
                if let Value::Object(_) = file.eval(node)
                    && file.eval(node).get_bool("transaction") == Some(false)
                {
                    out.in_transaction = false;
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// One call chain on `knex`: returns its statements, or `None` if not understood.
fn knex_call<'a>(w: &mut Walker<'a, '_>, call: Node<'a>) -> Option<Vec<HostStatement>> {
    let file = w.file;
    let (_, links) = file.chain(call)?;
    let span = call.byte_range();
    let first = links.first()?;
    match (first.name.as_str(), &first.args) {
        ("raw", Some(args)) if links.len() == 1 => raw(file, span, args),
        ("schema", None) => schema_chain(w, span, &links[1..]),
        _ => None,
    }
}

/// `knex.raw(sql)` / `knex.schema.raw(sql)`: SQL without bindings.
fn raw(
    file: &JsFile<'_>,
    span: std::ops::Range<usize>,
    args: &[Node<'_>],
) -> Option<Vec<HostStatement>> {
    let sql = file.eval(*args.first()?);
    if let Some(bindings) = args.get(1) {
        match file.eval(*bindings) {
            Value::Array(items) if items.is_empty() => {}
            _ => return None,
        }
    }
    js::raw_sql(span, &sql).map(|s| vec![s])
}

/// `knex.schema[.withSchema(s)].createTable(…).alterTable(…)…`.
fn schema_chain<'a>(
    w: &mut Walker<'a, '_>,
    span: std::ops::Range<usize>,
    links: &[Link<'a>],
) -> Option<Vec<HostStatement>> {
    let file = w.file;
    let mut schema: Option<String> = None;
    let mut out = Vec::new();
    let mut understood_any = false;
    for link in links {
        let args = link.args.as_ref()?;
        let arg = |i: usize| args.get(i).map(|a| file.eval(*a));
        let str_arg = |i: usize| arg(i).and_then(|v| v.as_str().map(str::to_string));
        let table_name = |name: &str| match &schema {
            Some(s) => format!("{}.{}", q(s), q(name)),
            None => wrap(name),
        };
        let sql: Vec<String> = match link.name.as_str() {
            "withSchema" => {
                schema = Some(str_arg(0)?);
                continue;
            }
            "raw" => {
                out.extend(raw(file, span.clone(), args)?);
                understood_any = true;
                continue;
            }
            "createTable" | "createTableIfNotExists" | "alterTable" | "table" => {
                let name = str_arg(0)?;
                let builder = *args.get(1)?;
                if !js::is_function(builder) {
                    return None;
                }
                let create = link.name.starts_with("create");
                let mut table = TableBuild::new(table_name(&name), name.clone(), create);
                table.read_builder(file, builder);
                let statements = table.sql(link.name == "createTableIfNotExists");
                let mut generated = js::generated(span.clone(), &statements);
                if !table.unknown.is_empty() {
                    for what in &table.unknown {
                        generated.push(js::not_analysed(span.clone(), what.clone()));
                    }
                    if create {
                        generated.push(HostStatement {
                            span: span.clone(),
                            body: super::host::HostBody::Ops(vec![
                                crate::ops::Op::UnknownDefinition {
                                    object: object_name(&schema, &name),
                                    reason: "part of the knex table builder was not read".into(),
                                },
                            ]),
                        });
                    }
                }
                out.extend(generated);
                understood_any = true;
                continue;
            }
            "dropTable" => vec![format!("drop table {}", table_name(&str_arg(0)?))],
            "dropTableIfExists" => {
                vec![format!("drop table if exists {}", table_name(&str_arg(0)?))]
            }
            "renameTable" => vec![format!(
                "alter table {} rename to {}",
                table_name(&str_arg(0)?),
                wrap(&str_arg(1)?)
            )],
            "createSchema" => vec![format!("create schema {}", q(&str_arg(0)?))],
            "createSchemaIfNotExists" => {
                vec![format!("create schema if not exists {}", q(&str_arg(0)?))]
            }
            "dropSchema" | "dropSchemaIfExists" => {
                let cascade = matches!(arg(1), Some(Value::Bool(true)));
                let if_exists = if link.name == "dropSchemaIfExists" {
                    "if exists "
                } else {
                    ""
                };
                vec![format!(
                    "drop schema {if_exists}{}{}",
                    q(&str_arg(0)?),
                    if cascade { " cascade" } else { "" }
                )]
            }
            "createExtension" => vec![format!("create extension {}", q(&str_arg(0)?))],
            "createExtensionIfNotExists" => vec![format!(
                "create extension if not exists {}",
                q(&str_arg(0)?)
            )],
            "dropExtension" => vec![format!("drop extension {}", q(&str_arg(0)?))],
            "dropExtensionIfExists" => {
                vec![format!("drop extension if exists {}", q(&str_arg(0)?))]
            }
            _ => return None,
        };
        understood_any = true;
        out.extend(js::generated(span.clone(), &sql));
    }
    understood_any.then_some(out)
}

fn object_name(schema: &Option<String>, name: &str) -> crate::ops::ObjName {
    match (schema, name.split_once('.')) {
        (Some(s), _) => crate::ops::ObjName::new(s.clone(), name),
        (None, Some((s, n))) => crate::ops::ObjName::new(s, n),
        (None, None) => crate::ops::ObjName::public(name),
    }
}

/// knex's identifier wrapping: `a.b` → `"a"."b"`.
fn wrap(name: &str) -> String {
    name.split('.').map(q).collect::<Vec<_>>().join(".")
}

/// A column of a table builder.
#[derive(Default)]
struct Col {
    name: String,
    /// knex's type name (`varchar(255)`, `serial primary key`, …).
    ty: String,
    /// The builder method (`bool` decides how defaults print).
    method: String,
    nullable: Option<bool>,
    default: Option<String>,
    comment: Option<String>,
    alter: bool,
    alter_nullable: bool,
    alter_type: bool,
    /// Statements the type itself needs first (`create type … as enum`).
    before: Vec<String>,
}

/// A `createTable` / `alterTable` callback, compiled as knex compiles it.
struct TableBuild {
    /// The quoted name (`"s"."t"`).
    quoted: String,
    /// The name as given (index names are built from it).
    raw: String,
    create: bool,
    columns: Vec<Col>,
    /// Table-level statements in call order (indexes, constraints, drops, renames).
    alter: Vec<Alter>,
    comment: Option<String>,
    /// What was not understood.
    unknown: Vec<String>,
}

enum Alter {
    Sql(String),
    Primary(Vec<String>, Option<String>),
}

impl TableBuild {
    fn new(quoted: String, raw: String, create: bool) -> Self {
        TableBuild {
            quoted,
            raw,
            create,
            columns: Vec::new(),
            alter: Vec::new(),
            comment: None,
            unknown: Vec::new(),
        }
    }

    fn index_name(&self, kind: &str, columns: &[String]) -> String {
        let table = self.raw.replace(['.', '-'], "_");
        q(&format!("{table}_{}_{kind}", columns.join("_")).to_lowercase())
    }

    fn read_builder(&mut self, file: &JsFile<'_>, builder: Node<'_>) {
        let Some(param) = js::params(file, builder).into_iter().next().flatten() else {
            self.unknown
                .push("table builder without a parameter".into());
            return;
        };
        let Some(body) = builder.child_by_field_name("body") else {
            return;
        };
        let mut exprs = Vec::new();
        if body.kind() == "statement_block" {
            let mut cursor = body.walk();
            for statement in body.named_children(&mut cursor) {
                match statement.kind() {
                    "comment" | "empty_statement" => {}
                    "expression_statement" | "return_statement" => {
                        if let Some(e) = statement.named_child(0) {
                            exprs.push(e);
                        }
                    }
                    _ => {
                        if file.mentions(statement, std::slice::from_ref(&param)) {
                            self.unknown.push(js::shorten(file.text(statement)));
                        }
                    }
                }
            }
        } else {
            exprs.push(body);
        }
        for expr in exprs {
            let expr = js::strip_wrappers(expr);
            match file.chain(expr) {
                Some((root, links)) if root == param && !links.is_empty() => {
                    if self.builder_call(file, &links).is_none() {
                        self.unknown
                            .push(format!("call {}", js::shorten(file.text(expr))));
                    }
                }
                _ => {
                    if file.mentions(expr, std::slice::from_ref(&param)) {
                        self.unknown.push(js::shorten(file.text(expr)));
                    }
                }
            }
        }
    }

    /// One `t.<method>(…).<modifier>(…)…` chain.
    fn builder_call(&mut self, file: &JsFile<'_>, links: &[Link<'_>]) -> Option<()> {
        let head = &links[0];
        let args: Vec<Value> = head.args.as_ref()?.iter().map(|a| file.eval(*a)).collect();
        let s = |i: usize| args.get(i).and_then(|v| v.as_str().map(str::to_string));
        let cols = |i: usize| args.get(i).and_then(Value::str_list);
        let name_opt = |i: usize| -> Option<Option<String>> {
            match args.get(i) {
                None | Some(Value::Undefined) | Some(Value::Null) => Some(None),
                Some(Value::Str { text, .. }) => Some(Some(text.clone())),
                _ => None,
            }
        };
        let rest = &links[1..];
        match head.name.as_str() {
            "primary" if rest.is_empty() => {
                let name = match args.get(1) {
                    Some(Value::Object(_)) => {
                        if args[1].get("deferrable").is_some() {
                            return None;
                        }
                        args[1].get_str("constraintName").map(str::to_string)
                    }
                    _ => name_opt(1)?,
                };
                self.alter.push(Alter::Primary(cols(0)?, name));
            }
            "unique" if rest.is_empty() => {
                let columns = cols(0)?;
                let (name, use_constraint) = match args.get(1) {
                    Some(o @ Value::Object(_)) => {
                        if o.get("deferrable").is_some() || o.get("predicate").is_some() {
                            return None;
                        }
                        (
                            o.get_str("indexName").map(str::to_string),
                            o.get_bool("useConstraint").unwrap_or(true),
                        )
                    }
                    _ => (name_opt(1)?, true),
                };
                let name = name
                    .map(|n| q(&n))
                    .unwrap_or_else(|| self.index_name("unique", &columns));
                let list = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
                self.alter.push(Alter::Sql(if use_constraint {
                    format!(
                        "alter table {} add constraint {name} unique ({list})",
                        self.quoted
                    )
                } else {
                    format!("create unique index {name} on {} ({list})", self.quoted)
                }));
            }
            "index" if rest.is_empty() => {
                let columns = cols(0)?;
                let name = name_opt(1)?
                    .map(|n| q(&n))
                    .unwrap_or_else(|| self.index_name("index", &columns));
                let (unique, using) = match args.get(2) {
                    None => (false, None),
                    Some(Value::Str { text, .. }) => (false, Some(text.clone())),
                    Some(o @ Value::Object(_)) => {
                        if o.get("predicate").is_some() {
                            return None;
                        }
                        (
                            o.get_str("indexType")
                                .is_some_and(|t| t.eq_ignore_ascii_case("unique")),
                            o.get_str("storageEngineIndexType").map(str::to_string),
                        )
                    }
                    _ => return None,
                };
                let list = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
                self.alter.push(Alter::Sql(format!(
                    "create{} index {name} on {}{} ({list})",
                    if unique { " unique" } else { "" },
                    self.quoted,
                    using.map(|u| format!(" using {u}")).unwrap_or_default()
                )));
            }
            "foreign" => {
                let columns = cols(0)?;
                let key = name_opt(1)?;
                self.foreign(file, columns, key, rest)?;
            }
            "dropColumn" | "dropColumns" => {
                let mut names = Vec::new();
                for a in &args {
                    names.extend(a.str_list()?);
                }
                if names.is_empty() || !rest.is_empty() {
                    return None;
                }
                let drops: Vec<String> = names
                    .iter()
                    .map(|c| format!("drop column {}", q(c)))
                    .collect();
                self.alter.push(Alter::Sql(format!(
                    "alter table {} {}",
                    self.quoted,
                    drops.join(", ")
                )));
            }
            "dropTimestamps" if rest.is_empty() => {
                let camel = matches!(args.first(), Some(Value::Bool(true)));
                let (c, u) = if camel {
                    ("createdAt", "updatedAt")
                } else {
                    ("created_at", "updated_at")
                };
                self.alter.push(Alter::Sql(format!(
                    "alter table {} drop column {}, drop column {}",
                    self.quoted,
                    q(c),
                    q(u)
                )));
            }
            "renameColumn" if rest.is_empty() => {
                self.alter.push(Alter::Sql(format!(
                    "alter table {} rename {} to {}",
                    self.quoted,
                    q(&s(0)?),
                    q(&s(1)?)
                )));
            }
            "dropIndex" if rest.is_empty() => {
                let columns = cols(0).unwrap_or_default();
                let name = name_opt(1)?
                    .map(|n| q(&n))
                    .unwrap_or_else(|| self.index_name("index", &columns));
                self.alter.push(Alter::Sql(format!("drop index {name}")));
            }
            "dropUnique" | "dropForeign" if rest.is_empty() => {
                let kind = if head.name == "dropUnique" {
                    "unique"
                } else {
                    "foreign"
                };
                let columns = cols(0).unwrap_or_default();
                let name = name_opt(1)?
                    .map(|n| q(&n))
                    .unwrap_or_else(|| self.index_name(kind, &columns));
                self.alter.push(Alter::Sql(format!(
                    "alter table {} drop constraint {name}",
                    self.quoted
                )));
            }
            "dropPrimary" if rest.is_empty() => {
                let name = name_opt(0)?.unwrap_or_else(|| format!("{}_pkey", self.raw));
                self.alter.push(Alter::Sql(format!(
                    "alter table {} drop constraint {}",
                    self.quoted,
                    q(&name)
                )));
            }
            "setNullable" | "dropNullable" if rest.is_empty() => {
                let action = if head.name == "setNullable" {
                    "drop not null"
                } else {
                    "set not null"
                };
                self.alter.push(Alter::Sql(format!(
                    "alter table {} alter column {} {action}",
                    self.quoted,
                    q(&s(0)?)
                )));
            }
            "comment" if rest.is_empty() => {
                self.comment = Some(s(0)?);
            }
            "timestamps" if rest.is_empty() => {
                let (use_ts, now, camel) = match args.first() {
                    Some(o @ Value::Object(_)) => (
                        o.get_bool("useTimestamps").unwrap_or(false),
                        o.get_bool("defaultToNow").unwrap_or(false),
                        o.get_bool("useCamelCase").unwrap_or(false),
                    ),
                    _ => {
                        let b = |i: usize| matches!(args.get(i), Some(Value::Bool(true)));
                        (b(0), b(1), b(2))
                    }
                };
                let _ = use_ts; // timestamp and datetime are both timestamptz on PostgreSQL
                for name in if camel {
                    ["createdAt", "updatedAt"]
                } else {
                    ["created_at", "updated_at"]
                } {
                    self.columns.push(Col {
                        name: name.into(),
                        ty: "timestamptz".into(),
                        method: "timestamp".into(),
                        nullable: now.then_some(false),
                        default: now.then(|| "default CURRENT_TIMESTAMP".into()),
                        ..Col::default()
                    });
                }
            }
            _ => return self.column(file, &args, links),
        }
        Some(())
    }

    /// `t.foreign(cols).references(…).inTable(…).onDelete(…)` and the same after a column.
    fn foreign(
        &mut self,
        file: &JsFile<'_>,
        columns: Vec<String>,
        mut key: Option<String>,
        links: &[Link<'_>],
    ) -> Option<()> {
        let mut references: Option<Vec<String>> = None;
        let mut in_table: Option<String> = None;
        let mut on_delete = None;
        let mut on_update = None;
        for link in links {
            let args: Vec<Value> = link.args.as_ref()?.iter().map(|a| file.eval(*a)).collect();
            let s = || args.first().and_then(|v| v.as_str().map(str::to_string));
            match link.name.as_str() {
                "references" => {
                    let r = args.first()?.str_list()?;
                    if r.len() == 1 && r[0].contains('.') {
                        let (t, c) = r[0].rsplit_once('.')?;
                        in_table.get_or_insert(t.to_string());
                        references = Some(vec![c.to_string()]);
                    } else {
                        references = Some(r);
                    }
                }
                "inTable" => in_table = Some(s()?),
                "onDelete" => on_delete = Some(s()?),
                "onUpdate" => on_update = Some(s()?),
                "withKeyName" => key = Some(s()?),
                _ => return None,
            }
        }
        let (Some(references), Some(in_table)) = (references, in_table) else {
            return None;
        };
        let name = key
            .map(|k| q(&k))
            .unwrap_or_else(|| self.index_name("foreign", &columns));
        let list = |c: &[String]| c.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ");
        self.alter.push(Alter::Sql(format!(
            "alter table {} add constraint {name} foreign key ({}) references {} ({}){}{}",
            self.quoted,
            list(&columns),
            wrap(&in_table),
            list(&references),
            on_update
                .map(|a| format!(" on update {a}"))
                .unwrap_or_default(),
            on_delete
                .map(|a| format!(" on delete {a}"))
                .unwrap_or_default(),
        )));
        Some(())
    }

    /// A column: `t.string('name', 100).notNullable().defaultTo('x').unique()…`.
    fn column(&mut self, file: &JsFile<'_>, args: &[Value], links: &[Link<'_>]) -> Option<()> {
        let method = links[0].name.as_str();
        let s = |i: usize| args.get(i).and_then(|v| v.as_str().map(str::to_string));
        let num = |i: usize| match args.get(i) {
            Some(Value::Num(n)) => Some(Some(*n)),
            None | Some(Value::Undefined) => Some(None),
            Some(Value::Null) => Some(None),
            _ => None,
        };
        let mut before = Vec::new();
        let increments_pk = |i: usize| match args.get(i) {
            Some(o @ Value::Object(_)) => o.get_bool("primaryKey").unwrap_or(true),
            Some(_) => true,
            None => true,
        };
        let (name, ty) = match method {
            "increments" | "bigIncrements" | "bigincrements" => {
                let name = s(0).unwrap_or_else(|| "id".into());
                let base = if method == "increments" {
                    "serial"
                } else {
                    "bigserial"
                };
                let pk =
                    increments_pk(1) && !self.alter.iter().any(|a| matches!(a, Alter::Primary(..)));
                (
                    name,
                    format!("{base}{}", if pk { " primary key" } else { "" }),
                )
            }
            "integer" | "mediumint" => (s(0)?, "integer".into()),
            "bigInteger" | "bigint" => (s(0)?, "bigint".into()),
            "smallint" | "tinyint" => (s(0)?, "smallint".into()),
            "float" => (s(0)?, "real".into()),
            "double" => (s(0)?, "double precision".into()),
            "decimal" => {
                if matches!(args.get(1), Some(Value::Null)) {
                    (s(0)?, "decimal".into())
                } else {
                    let p = num(1)?.unwrap_or(8.0);
                    let sc = num(2)?.unwrap_or(2.0);
                    (
                        s(0)?,
                        format!("decimal({}, {})", js::js_number(p), js::js_number(sc)),
                    )
                }
            }
            "string" => {
                let len = num(1)?.unwrap_or(255.0);
                (s(0)?, format!("varchar({})", js::js_number(len)))
            }
            "text" => (s(0)?, "text".into()),
            "boolean" => (s(0)?, "boolean".into()),
            "date" => (s(0)?, "date".into()),
            "time" => (s(0)?, "time".into()),
            "datetime" | "timestamp" => {
                let (use_tz, precision) = match args.get(1) {
                    None | Some(Value::Undefined) => (true, None),
                    Some(Value::Bool(without)) => (!without, num(2)?),
                    Some(o @ Value::Object(_)) => {
                        (o.get_bool("useTz").unwrap_or(true), o.get_num("precision"))
                    }
                    _ => return None,
                };
                let p = precision
                    .map(|p| format!("({})", js::js_number(p)))
                    .unwrap_or_default();
                (
                    s(0)?,
                    format!("{}{p}", if use_tz { "timestamptz" } else { "timestamp" }),
                )
            }
            "binary" => (s(0)?, "bytea".into()),
            "json" => (s(0)?, "json".into()),
            "jsonb" => (s(0)?, "jsonb".into()),
            "uuid" => {
                let pk = match args.get(1) {
                    Some(o @ Value::Object(_)) => o.get_bool("primaryKey").unwrap_or(false),
                    _ => false,
                };
                (
                    s(0)?,
                    format!("uuid{}", if pk { " primary key" } else { "" }),
                )
            }
            "specificType" => (s(0)?, s(1)?),
            "enu" | "enum" => {
                let name = s(0)?;
                let values = args.get(1)?.str_list()?;
                let quoted: Vec<String> = values.iter().map(|v| lit(v)).collect();
                match args.get(2) {
                    Some(o @ Value::Object(_)) if o.get_bool("useNative") == Some(true) => {
                        let enum_name = o.get_str("enumName")?;
                        let full = match o.get_str("schemaName") {
                            Some(sch) => format!("{}.{}", q(sch), q(enum_name)),
                            None => q(enum_name),
                        };
                        if o.get_bool("existingType") != Some(true) {
                            before.push(format!(
                                "create type {full} as enum ({})",
                                quoted.join(", ")
                            ));
                        }
                        (name, full)
                    }
                    None | Some(Value::Undefined) => (
                        name.clone(),
                        format!("text check ({} in ({}))", q(&name), quoted.join(", ")),
                    ),
                    _ => return None,
                }
            }
            _ => return None,
        };
        let mut col = Col {
            name,
            ty,
            method: method.to_string(),
            before,
            ..Col::default()
        };
        let mut pending_foreign: Option<usize> = None;
        let mut i = 1;
        while i < links.len() {
            let link = &links[i];
            let margs: Vec<Value> = link.args.as_ref()?.iter().map(|a| file.eval(*a)).collect();
            let ms = |j: usize| margs.get(j).and_then(|v| v.as_str().map(str::to_string));
            match link.name.as_str() {
                "notNullable" => col.nullable = Some(false),
                "nullable" => col.nullable = Some(true),
                "unsigned" | "first" | "after" | "collate" if link.name != "collate" => {}
                "defaultTo" => {
                    col.default = Some(self.format_default(margs.first()?, &col.method)?);
                }
                "comment" => col.comment = Some(ms(0)?),
                // An increments column is the primary key already; knex adds no second one.
                "primary" if col.ty.ends_with(" primary key") => {}
                "primary" => {
                    let name = match margs.first() {
                        Some(o @ Value::Object(_)) => {
                            o.get_str("constraintName").map(str::to_string)
                        }
                        Some(Value::Str { text, .. }) => Some(text.clone()),
                        None => None,
                        _ => return None,
                    };
                    self.alter
                        .push(Alter::Primary(vec![col.name.clone()], name));
                }
                "unique" => {
                    let name = match margs.first() {
                        Some(o @ Value::Object(_)) => {
                            if o.get("predicate").is_some() || o.get("deferrable").is_some() {
                                return None;
                            }
                            o.get_str("indexName").map(str::to_string)
                        }
                        Some(Value::Str { text, .. }) => Some(text.clone()),
                        None => None,
                        _ => return None,
                    };
                    let name = name
                        .map(|n| q(&n))
                        .unwrap_or_else(|| self.index_name("unique", &[col.name.clone()]));
                    self.alter.push(Alter::Sql(format!(
                        "alter table {} add constraint {name} unique ({})",
                        self.quoted,
                        q(&col.name)
                    )));
                }
                "index" => {
                    let name = match margs.first() {
                        Some(Value::Str { text, .. }) => q(text),
                        None => self.index_name("index", &[col.name.clone()]),
                        _ => return None,
                    };
                    if margs.len() > 1 {
                        return None;
                    }
                    self.alter.push(Alter::Sql(format!(
                        "create index {name} on {} ({})",
                        self.quoted,
                        q(&col.name)
                    )));
                }
                "references" => {
                    // The rest of the chain belongs to the foreign key.
                    pending_foreign = Some(i);
                    break;
                }
                "alter" => {
                    col.alter = true;
                    let o = margs.first();
                    col.alter_nullable =
                        o.and_then(|o| o.get_bool("alterNullable")).unwrap_or(true);
                    col.alter_type = o.and_then(|o| o.get_bool("alterType")).unwrap_or(true);
                }
                _ => return None,
            }
            i += 1;
        }
        if let Some(start) = pending_foreign {
            // Modifiers after `.references(…)` that are column modifiers are not followed.
            self.foreign(file, vec![col.name.clone()], None, &links[start..])?;
        }
        self.columns.push(col);
        Some(())
    }

    /// knex's `formatDefault` for PostgreSQL.
    fn format_default(&self, value: &Value, method: &str) -> Option<String> {
        Some(
            match value {
                Value::Null => "null".into(),
                Value::Bool(b) if method == "boolean" => format!("'{}'", if *b { 1 } else { 0 }),
                Value::Num(n) if method == "boolean" => {
                    format!("'{}'", if *n != 0.0 { 1 } else { 0 })
                }
                Value::Bool(b) => lit(if *b { "true" } else { "false" }),
                Value::Num(n) => lit(&js::js_number(*n)),
                Value::Str { text, .. } if method == "boolean" => {
                    format!(
                        "'{}'",
                        if text == "false" || text.is_empty() {
                            0
                        } else {
                            1
                        }
                    )
                }
                Value::Str { text, .. } => lit(text),
                Value::Path {
                    path,
                    args: Some(args),
                } => {
                    let last = path.rsplit('.').next().unwrap_or("");
                    let second = path.rsplit('.').nth(1).unwrap_or("");
                    match (second, last) {
                        ("fn", "now") => match args.first() {
                            Some(Value::Num(p)) => {
                                format!("CURRENT_TIMESTAMP({})", js::js_number(*p))
                            }
                            None => "CURRENT_TIMESTAMP".into(),
                            _ => return None,
                        },
                        ("fn", "uuid") => "gen_random_uuid()".into(),
                        (_, "raw") if args.len() == 1 => args[0].as_str()?.to_string(),
                        _ => return None,
                    }
                }
                Value::Object(_) | Value::Array(_) if matches!(method, "json" | "jsonb") => {
                    return None;
                }
                _ => return None,
            }
            .to_string(),
        )
        .map(|d| format!("default {d}"))
    }

    /// `"name" type [not null|null] [default …]`.
    fn column_sql(c: &Col) -> String {
        let mut sql = format!("{} {}", q(&c.name), c.ty);
        match c.nullable {
            Some(false) => sql.push_str(" not null"),
            Some(true) => sql.push_str(" null"),
            None => {}
        }
        if let Some(d) = &c.default {
            sql.push(' ');
            sql.push_str(d);
        }
        sql
    }

    /// The statements knex sends for this builder, in its order.
    fn sql(&self, if_not_exists: bool) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            out.extend(c.before.iter().cloned());
        }
        let added: Vec<&Col> = self.columns.iter().filter(|c| !c.alter).collect();
        let altered: Vec<&Col> = self.columns.iter().filter(|c| c.alter).collect();
        if self.create {
            let mut parts: Vec<String> = added.iter().map(|c| Self::column_sql(c)).collect();
            let mut body = parts.join(", ");
            if let Some(Alter::Primary(cols, name)) =
                self.alter.iter().find(|a| matches!(a, Alter::Primary(..)))
            {
                let name = name.clone().unwrap_or_else(|| format!("{}_pkey", self.raw));
                let list = cols.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
                body.push_str(&format!(", constraint {} primary key ({list})", q(&name)));
            }
            parts.clear();
            out.push(format!(
                "create table {}{} ({body})",
                if if_not_exists { "if not exists " } else { "" },
                self.quoted
            ));
            if let Some(comment) = &self.comment {
                out.push(format!(
                    "comment on table {} is {}",
                    self.quoted,
                    lit(comment)
                ));
            }
        } else if !added.is_empty() {
            let adds: Vec<String> = added
                .iter()
                .map(|c| format!("add column {}", Self::column_sql(c)))
                .collect();
            out.push(format!("alter table {} {}", self.quoted, adds.join(", ")));
        }
        for c in &altered {
            let col = q(&c.name);
            let t = &self.quoted;
            out.push(format!("alter table {t} alter column {col} drop default"));
            if c.alter_nullable {
                out.push(format!("alter table {t} alter column {col} drop not null"));
            }
            if c.alter_type {
                let cast = if c.method == "enu" || c.method == "enum" {
                    "::text::"
                } else {
                    "::"
                };
                out.push(format!(
                    "alter table {t} alter column {col} type {} using ({col}{cast}{})",
                    c.ty, c.ty
                ));
            }
            if let Some(d) = &c.default {
                out.push(format!("alter table {t} alter column {col} set {d}"));
            }
            if c.alter_nullable && c.nullable == Some(false) {
                out.push(format!("alter table {t} alter column {col} set not null"));
            }
        }
        for c in added.iter().chain(altered.iter()) {
            if let Some(comment) = &c.comment {
                out.push(format!(
                    "comment on column {}.{} is {}",
                    self.quoted,
                    q(&c.name),
                    lit(comment)
                ));
            }
        }
        for a in &self.alter {
            match a {
                Alter::Sql(sql) => out.push(sql.clone()),
                Alter::Primary(cols, name) if !self.create => {
                    let name = name.clone().unwrap_or_else(|| format!("{}_pkey", self.raw));
                    let list = cols.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
                    out.push(format!(
                        "alter table {} add constraint {} primary key ({list})",
                        self.quoted,
                        q(&name)
                    ));
                }
                Alter::Primary(..) => {}
            }
        }
        if !self.create
            && let Some(comment) = &self.comment
        {
            out.push(format!(
                "comment on table {} is {}",
                self.quoted,
                lit(comment)
            ));
        }
        out
    }
}
