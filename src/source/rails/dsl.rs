//! The migration DSL: each ActiveRecord call is turned into the SQL Rails' PostgreSQL
//! adapter sends for it (per the migration's version), and that SQL is lowered with the SQL
//! path's own lowering, so the operations are the SQL path's by construction. For `change`
//! migrations each call also yields its inverse (Rails' `CommandRecorder`), or says why it
//! has none.

use super::names::{
    RailsVersion, check_name, foreign_key_name, index_name, pluralize, quote_ident, quote_literal,
    quote_table, singularize,
};
use super::ruby::{Reader, RubyStr, Value};
use crate::ops::Op;
use crate::source::host::{HostBody, HostStatement};
use std::ops::Range;
use tree_sitter::Node;

/// Which method body is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Change,
    Up,
    Down,
}

/// The statements read from one method body.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub up: Vec<HostStatement>,
    /// For `change`: the inverse of each call, in call order (run in reverse on rollback).
    pub down_groups: Vec<Vec<HostStatement>>,
    /// Why a `change` migration cannot be rolled back (the first irreversible call).
    pub irreversible: Option<String>,
    /// Calls read (for statistics): understood, and not analysed.
    pub calls: usize,
    pub not_analysed: usize,
}

/// A call's arguments: positional literals, keyword options, and what was not a literal.
struct Call<'a> {
    node: Node<'a>,
    name: String,
    args: Vec<Value>,
    opts: Vec<(String, Value)>,
    block: Option<Node<'a>>,
    block_param: Option<String>,
}

impl Call<'_> {
    fn arg(&self, i: usize) -> Option<&Value> {
        self.args.get(i)
    }
}

/// What a schema call does, up and down.
struct Effect {
    up: Vec<String>,
    down: Result<Vec<String>, String>,
}

type Gen = Result<Effect, String>;

fn opt_in<'v>(opts: &'v [(String, Value)], key: &str) -> Option<&'v Value> {
    opts.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn name_of(v: Option<&Value>, what: &str) -> Result<String, String> {
    match v {
        Some(Value::Sym(s)) => Ok(s.clone()),
        Some(Value::Str(s)) => Ok(s.text.clone()),
        Some(Value::Dynamic(text)) => Err(format!("{what} computed at run time (`{text}`)")),
        _ => Err(format!("{what} missing or not a name")),
    }
}

fn lower(sql: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for statement in crate::parse::parse_sql(sql) {
        if statement.parsed_by == crate::parse::ParsedBy::Unparsed {
            return Err(format!(
                "the SQL it stands for could not be read ({})",
                statement.error.unwrap_or_default()
            ));
        }
        ops.extend(statement.ops);
    }
    Ok(ops)
}

/// Reads method bodies of one migration file.
pub(crate) struct Walker<'r, 'a> {
    pub r: &'r Reader<'a>,
    pub version: RailsVersion,
    pub mode: Mode,
}

impl<'a> Walker<'_, 'a> {
    /// Reads the statements of a body node (`body_statement`, `block_body`, …).
    pub(crate) fn body(&self, node: Node<'a>, out: &mut Out) {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            self.statement(child, out);
        }
    }

    /// The statements of a `{ … }` / `do … end` block.
    fn block_body(&self, block: Node<'a>, out: &mut Out) {
        if let Some(body) = block.child_by_field_name("body") {
            self.body(body, out);
        }
    }

    fn not_analysed(&self, span: Range<usize>, what: String, out: &mut Out) {
        out.calls += 1;
        out.not_analysed += 1;
        out.up.push(HostStatement {
            span: span.clone(),
            body: HostBody::NotAnalysed { what: what.clone() },
        });
        if self.mode == Mode::Change {
            out.irreversible
                .get_or_insert_with(|| format!("{what} (its inverse is not known)"));
        }
    }

    fn first_line(&self, node: Node) -> String {
        let text = self.r.text(node);
        let line = text.lines().next().unwrap_or("").trim();
        if line.len() > 60 {
            let mut end = 60;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &line[..end])
        } else {
            line.to_string()
        }
    }

    fn statement(&self, node: Node<'a>, out: &mut Out) {
        match node.kind() {
            "comment" | "heredoc_body" | "empty_statement" => {}
            "call" | "identifier" => self.call(node, out),
            "assignment" | "operator_assignment" => {
                // A local holding a literal has no effect by itself; the call using it
                // is reported when its argument is not a literal.
                let right = node.child_by_field_name("right");
                if right.is_some_and(|r| !matches!(self.r.value(r), Value::Dynamic(_))) {
                    return;
                }
                self.not_analysed(
                    node.byte_range(),
                    format!("Ruby code `{}`", self.first_line(node)),
                    out,
                );
            }
            "if" | "unless" | "if_modifier" | "unless_modifier" | "case" | "ternary" => self
                .not_analysed(
                    node.byte_range(),
                    format!("conditional `{}`", self.first_line(node)),
                    out,
                ),
            "while" | "until" | "for" | "while_modifier" | "until_modifier" => self.not_analysed(
                node.byte_range(),
                format!("loop `{}`", self.first_line(node)),
                out,
            ),
            "begin" => {
                // begin … rescue: the main body runs; a rescue clause is a guess.
                self.not_analysed(
                    node.byte_range(),
                    format!("begin/rescue block `{}`", self.first_line(node)),
                    out,
                )
            }
            _ => self.not_analysed(
                node.byte_range(),
                format!("Ruby code `{}`", self.first_line(node)),
                out,
            ),
        }
    }

    fn parse_call(&self, node: Node<'a>) -> Result<Call<'a>, String> {
        let (name, args_node, block) = if node.kind() == "identifier" {
            (self.r.text(node).to_string(), None, None)
        } else {
            let method = node
                .child_by_field_name("method")
                .map(|m| self.r.text(m).to_string())
                .unwrap_or_default();
            (
                method,
                node.child_by_field_name("arguments"),
                node.child_by_field_name("block"),
            )
        };
        let mut args = Vec::new();
        let mut opts = Vec::new();
        if let Some(list) = args_node {
            let mut cursor = list.walk();
            let items: Vec<Node> = list
                .named_children(&mut cursor)
                .filter(|n| n.kind() != "comment")
                .collect();
            let count = items.len();
            for (i, item) in items.into_iter().enumerate() {
                match item.kind() {
                    "pair" => match self.r.pair(item) {
                        Some(p) => opts.push(p),
                        None => {
                            return Err(format!("option `{}` is computed", self.r.text(item)));
                        }
                    },
                    "splat_argument" | "hash_splat_argument" | "block_argument" => {
                        return Err(format!("argument `{}` is computed", self.r.text(item)));
                    }
                    "hash" if i + 1 == count => match self.r.value(item) {
                        Value::Hash(pairs) => opts.extend(pairs),
                        _ => return Err(format!("option `{}` is computed", self.r.text(item))),
                    },
                    _ => args.push(self.r.value(item)),
                }
            }
        }
        let block_param = block.and_then(|b| {
            let params = b.child_by_field_name("parameters")?;
            let mut cursor = params.walk();
            let first = params.named_children(&mut cursor).next()?;
            Some(self.r.text(first).to_string())
        });
        Ok(Call {
            node,
            name,
            args,
            opts,
            block,
            block_param,
        })
    }

    /// Whether a receiver stands for the migration's connection (`connection.execute`).
    fn is_connection(&self, receiver: Node) -> bool {
        let text = self.r.text(receiver);
        matches!(
            text,
            "connection" | "self" | "ActiveRecord::Base.connection" | "self.connection"
        )
    }

    fn call(&self, node: Node<'a>, out: &mut Out) {
        let span = node.byte_range();
        if node.kind() == "call"
            && let Some(receiver) = node.child_by_field_name("receiver")
            && !self.is_connection(receiver)
        {
            let method = node
                .child_by_field_name("method")
                .map(|m| self.r.text(m))
                .unwrap_or("");
            // Model.reset_column_information refreshes Ruby's cache; no SQL.
            if method == "reset_column_information" {
                return;
            }
            self.not_analysed(
                span,
                format!("Ruby code `{}` (a data migration?)", self.first_line(node)),
                out,
            );
            return;
        }
        let call = match self.parse_call(node) {
            Ok(call) => call,
            Err(why) => {
                let name = node
                    .child_by_field_name("method")
                    .map(|m| self.r.text(m))
                    .unwrap_or("call");
                self.not_analysed(span, format!("`{name}`: {why}"), out);
                return;
            }
        };
        match call.name.as_str() {
            "say" | "puts" | "print" | "p" | "pp" | "sleep" | "disable_ddl_transaction!" => {}
            "safety_assured" | "say_with_time" | "transaction" | "suppress_messages" => {
                if let Some(block) = call.block {
                    self.block_body(block, out);
                }
            }
            "reversible" => self.reversible(&call, out),
            "up_only" => {
                if self.mode != Mode::Down
                    && let Some(block) = call.block
                {
                    let mut inner = Out::default();
                    Walker {
                        mode: Mode::Up,
                        ..*self
                    }
                    .block_body(block, &mut inner);
                    out.calls += inner.calls;
                    out.not_analysed += inner.not_analysed;
                    out.up.extend(inner.up);
                }
            }
            "execute" | "exec_query" | "exec_update" | "exec_delete" | "exec_insert"
            | "select_all" | "select_one" | "select_value" | "select_values" | "select_rows"
            | "update" | "delete" | "insert" => self.execute(&call, out),
            "create_table" => self.create_table(&call, out),
            "change_table" => self.change_table(&call, out),
            _ => match self.schema_call(&call, None) {
                Some(Ok(effect)) => self.push(span, effect, out),
                Some(Err(why)) => self.not_analysed(span, format!("`{}`: {why}", call.name), out),
                None => self.not_analysed(
                    span,
                    format!(
                        "call to `{}` (not an ActiveRecord migration method)",
                        call.name
                    ),
                    out,
                ),
            },
        }
    }

    /// Lowers an effect's SQL and records it with the call's span.
    fn push(&self, span: Range<usize>, effect: Effect, out: &mut Out) {
        self.push_ops(span, effect, Vec::new(), out);
    }

    fn push_ops(&self, span: Range<usize>, effect: Effect, extra: Vec<Op>, out: &mut Out) {
        let mut up = Vec::new();
        for sql in &effect.up {
            match lower(sql) {
                Ok(ops) => up.push(ops),
                Err(why) => {
                    self.not_analysed(span, why, out);
                    return;
                }
            }
        }
        if let Some(last) = up.last_mut() {
            last.extend(extra);
        } else if !extra.is_empty() {
            up.push(extra);
        }
        out.calls += 1;
        out.up.extend(up.into_iter().map(|ops| HostStatement {
            span: span.clone(),
            body: HostBody::Ops(ops),
        }));
        if self.mode == Mode::Change {
            match effect.down {
                Ok(down) => {
                    let mut group = Vec::new();
                    for sql in &down {
                        match lower(sql) {
                            Ok(ops) => group.push(HostStatement {
                                span: span.clone(),
                                body: HostBody::Ops(ops),
                            }),
                            Err(why) => {
                                out.irreversible.get_or_insert(why);
                            }
                        }
                    }
                    out.down_groups.push(group);
                }
                Err(why) => {
                    out.irreversible.get_or_insert(why);
                }
            }
        }
    }

    fn reversible(&self, call: &Call<'a>, out: &mut Out) {
        let (Some(block), Some(dir)) = (call.block, call.block_param.as_deref()) else {
            self.not_analysed(
                call.node.byte_range(),
                "`reversible` without a `do |dir|` block".into(),
                out,
            );
            return;
        };
        let Some(body) = block.child_by_field_name("body") else {
            return;
        };
        let mut cursor = body.walk();
        let children: Vec<Node> = body.named_children(&mut cursor).collect();
        for child in children {
            let receiver = child
                .child_by_field_name("receiver")
                .map(|r| self.r.text(r));
            let method = child.child_by_field_name("method").map(|m| self.r.text(m));
            let inner_block = child.child_by_field_name("block");
            match (child.kind(), receiver, method, inner_block) {
                ("comment", ..) => {}
                ("call", Some(r), Some(which @ ("up" | "down")), Some(b)) if r == dir => {
                    let wanted = match self.mode {
                        Mode::Change | Mode::Up => "up",
                        Mode::Down => "down",
                    };
                    let mut inner = Out::default();
                    let mode = if self.mode == Mode::Down {
                        Mode::Down
                    } else {
                        Mode::Up
                    };
                    Walker { mode, ..*self }.block_body(b, &mut inner);
                    out.calls += inner.calls;
                    out.not_analysed += inner.not_analysed;
                    if which == wanted {
                        out.up.extend(inner.up);
                    } else if self.mode == Mode::Change {
                        // dir.down: runs on rollback, at this point of the reversed order.
                        out.down_groups.push(inner.up);
                    }
                }
                _ => self.statement(child, out),
            }
        }
    }

    fn execute(&self, call: &Call<'a>, out: &mut Out) {
        let span = call.node.byte_range();
        let sql = match call.arg(0) {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Dynamic(text)) => {
                self.not_analysed(
                    span,
                    format!("`{}` with SQL built at run time (`{text}`)", call.name),
                    out,
                );
                return;
            }
            _ => {
                self.not_analysed(span, format!("`{}` without a SQL string", call.name), out);
                return;
            }
        };
        let RubyStr { text, verbatim_at } = sql;
        out.calls += 1;
        out.up.push(HostStatement {
            span,
            body: HostBody::Sql { text, verbatim_at },
        });
        if self.mode == Mode::Change {
            out.irreversible
                .get_or_insert_with(|| format!("`{}` in `change` has no inverse", call.name));
        }
    }

    // ---- schema calls -------------------------------------------------------------

    /// The effect of a schema method; `table` is set inside `change_table` (the table is
    /// then not among the arguments). `None`: not a method we know.
    fn schema_call(&self, call: &Call<'a>, table: Option<&str>) -> Option<Gen> {
        let mut args: Vec<Value> = Vec::new();
        if let Some(t) = table {
            args.push(Value::Sym(t.to_string()));
        }
        args.extend(call.args.iter().cloned());
        let opts = &call.opts;
        let v = self.version;
        let g = Gen0 { v };
        let name = call.name.as_str();
        let result = match name {
            "add_column" => g.add_column(&args, opts),
            "remove_column" => g.remove_columns(&args[..args.len().min(2)], opts, args.get(2)),
            "remove_columns" => g.remove_columns(&args, opts, opt_in(opts, "type")),
            "change_column" => g.change_column(&args, opts),
            "change_column_null" => g.change_column_null(&args),
            "change_column_default" => g.change_column_default(&args, opts),
            "rename_column" => g.rename_column(&args),
            "add_index" => g.add_index(&args, opts),
            "remove_index" => g.remove_index(&args, opts),
            "rename_index" => g.rename_index(&args),
            "add_reference" | "add_belongs_to" => g.add_reference(&args, opts),
            "remove_reference" | "remove_belongs_to" => g.remove_reference(&args, opts),
            "add_foreign_key" => g.add_foreign_key(&args, opts),
            "remove_foreign_key" => g.remove_foreign_key(&args, opts),
            "validate_foreign_key" => g.validate_foreign_key(&args, opts),
            "add_check_constraint" => g.add_check(&args, opts),
            "remove_check_constraint" => g.remove_check(&args, opts),
            "validate_check_constraint" => g.validate_check(&args, opts),
            "add_timestamps" => g.add_timestamps(&args, opts),
            "remove_timestamps" => g.remove_timestamps(&args, opts),
            "rename_table" => g.rename_table(&args),
            "drop_table" => self.drop_table(call, &args, opts),
            "create_join_table" => g.create_join_table(&args, opts),
            "drop_join_table" => g.drop_join_table(&args, opts),
            "enable_extension" => g.extension(&args, true),
            "disable_extension" => g.extension(&args, false),
            "create_enum" => g.create_enum(&args),
            "drop_enum" => g.drop_enum(&args),
            "add_enum_value" => g.add_enum_value(&args, opts),
            "rename_enum" => g.rename_enum(&args, opts),
            "rename_enum_value" => g.rename_enum_value(&args, opts),
            "create_schema" => g.schema(&args, true),
            "drop_schema" => g.schema(&args, false),
            "change_column_comment" | "change_table_comment" => Ok(Effect {
                up: Vec::new(),
                down: Ok(Vec::new()),
            }),
            _ => return None,
        };
        Some(result)
    }

    fn drop_table(&self, call: &Call<'a>, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let g = Gen0 { v: self.version };
        let mut up = Vec::new();
        let names: Vec<String> = args
            .iter()
            .map(|a| name_of(Some(a), "table name"))
            .collect::<Result<_, _>>()?;
        if names.is_empty() {
            return Err("table name missing".into());
        }
        let if_exists = opt_in(opts, "if_exists").is_some_and(Value::is_truthy);
        let cascade = matches!(opt_in(opts, "force"), Some(Value::Sym(s)) if s == "cascade");
        for t in &names {
            up.push(format!(
                "DROP TABLE{} {}{}",
                if if_exists { " IF EXISTS" } else { "" },
                quote_table(t),
                if cascade { " CASCADE" } else { "" }
            ));
        }
        // With a block (the table's definition) it can be re-created on rollback.
        let down = match (call.block, names.as_slice()) {
            (Some(block), [t]) => {
                let table = self.table_definition(t, opts, block, call.block_param.as_deref());
                match table {
                    Ok((sqls, unknown)) if unknown.is_empty() => Ok(sqls),
                    Ok(_) => Err("the dropped table's definition holds Ruby code".into()),
                    Err(e) => Err(e),
                }
            }
            _ => Err(format!(
                "drop_table {} without the table's definition",
                names.join(", ")
            )),
        };
        let _ = g;
        Ok(Effect { up, down })
    }

    fn create_table(&self, call: &Call<'a>, out: &mut Out) {
        let span = call.node.byte_range();
        let table = match name_of(call.arg(0), "table name") {
            Ok(t) => t,
            Err(why) => {
                self.not_analysed(span, format!("`create_table`: {why}"), out);
                return;
            }
        };
        let result = match call.block {
            Some(block) => {
                self.table_definition(&table, &call.opts, block, call.block_param.as_deref())
            }
            None => Gen0 { v: self.version }
                .create_table_sql(&table, &call.opts, &TableDef::default())
                .map(|sqls| (sqls, Vec::new())),
        };
        match result {
            Ok((up, unknown)) => {
                let mut extra = Vec::new();
                if !unknown.is_empty() {
                    let what =
                        format!("create_table :{table}: {} in its block", unknown.join("; "));
                    extra.push(Op::UnknownDefinition {
                        object: object_name(&table),
                        reason: what.clone(),
                    });
                    extra.push(Op::NotAnalysed { what });
                    out.not_analysed += 1;
                }
                let drop = format!("DROP TABLE {}", quote_table(&table));
                self.push_ops(
                    span,
                    Effect {
                        up,
                        down: Ok(vec![drop]),
                    },
                    extra,
                    out,
                );
            }
            Err(why) => self.not_analysed(span, format!("`create_table :{table}`: {why}"), out),
        }
    }

    /// The SQL of `create_table` with a `do |t| … end` block, and what in the block was
    /// not understood (the table is then created with what was).
    fn table_definition(
        &self,
        table: &str,
        opts: &[(String, Value)],
        block: Node<'a>,
        param: Option<&str>,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let g = Gen0 { v: self.version };
        let mut def = TableDef::default();
        let mut unknown = Vec::new();
        if let (Some(body), Some(param)) = (block.child_by_field_name("body"), param) {
            let mut cursor = body.walk();
            let children: Vec<Node> = body.named_children(&mut cursor).collect();
            for child in children {
                if matches!(child.kind(), "comment" | "heredoc_body") {
                    continue;
                }
                let receiver = child
                    .child_by_field_name("receiver")
                    .map(|r| self.r.text(r));
                if child.kind() != "call" || receiver != Some(param) {
                    unknown.push(format!("`{}`", self.first_line(child)));
                    continue;
                }
                match self.parse_call(child) {
                    Ok(c) => {
                        if let Err(why) = g.table_member(table, &c.name, &c.args, &c.opts, &mut def)
                        {
                            unknown.push(format!("`{}` ({why})", self.first_line(child)));
                        }
                    }
                    Err(why) => unknown.push(format!("`{}` ({why})", self.first_line(child))),
                }
            }
        }
        let sqls = g.create_table_sql(table, opts, &def)?;
        Ok((sqls, unknown))
    }

    fn change_table(&self, call: &Call<'a>, out: &mut Out) {
        let span = call.node.byte_range();
        let table = match name_of(call.arg(0), "table name") {
            Ok(t) => t,
            Err(why) => {
                self.not_analysed(span, format!("`change_table`: {why}"), out);
                return;
            }
        };
        let (Some(block), Some(param)) = (call.block, call.block_param.as_deref()) else {
            return;
        };
        let Some(body) = block.child_by_field_name("body") else {
            return;
        };
        let mut cursor = body.walk();
        let children: Vec<Node> = body.named_children(&mut cursor).collect();
        for child in children {
            if matches!(child.kind(), "comment" | "heredoc_body") {
                continue;
            }
            let receiver = child
                .child_by_field_name("receiver")
                .map(|r| self.r.text(r));
            if child.kind() != "call" || receiver != Some(param) {
                self.statement(child, out);
                continue;
            }
            let inner_span = child.byte_range();
            let mut c = match self.parse_call(child) {
                Ok(c) => c,
                Err(why) => {
                    self.not_analysed(inner_span, format!("`change_table :{table}`: {why}"), out);
                    continue;
                }
            };
            // t.string :a, :b → add_column per name; other members map to the top-level
            // method of the same meaning.
            let method = match c.name.as_str() {
                "remove" => "remove_columns",
                "rename" => "rename_column",
                "index" => "add_index",
                "references" | "belongs_to" => "add_reference",
                "remove_references" | "remove_belongs_to" => "remove_reference",
                "timestamps" => "add_timestamps",
                "change" => "change_column",
                "change_default" => "change_column_default",
                "change_null" => "change_column_null",
                "foreign_key" => "add_foreign_key",
                "check_constraint" => "add_check_constraint",
                "column" => "add_column",
                other if is_column_type(other) => {
                    let ty = other.to_string();
                    let names = std::mem::take(&mut c.args);
                    for n in names {
                        let c2 = Call {
                            node: c.node,
                            name: "add_column".into(),
                            args: vec![n, Value::Sym(ty.clone())],
                            opts: c.opts.clone(),
                            block: None,
                            block_param: None,
                        };
                        self.member(&c2, &table, inner_span.clone(), out);
                    }
                    continue;
                }
                other => other,
            }
            .to_string();
            if (method == "add_reference" || method == "remove_reference") && c.args.len() > 1 {
                let names = std::mem::take(&mut c.args);
                for n in names {
                    let c2 = Call {
                        node: c.node,
                        name: method.clone(),
                        args: vec![n],
                        opts: c.opts.clone(),
                        block: None,
                        block_param: None,
                    };
                    self.member(&c2, &table, inner_span.clone(), out);
                }
                continue;
            }
            c.name = method;
            self.member(&c, &table, inner_span, out);
        }
    }

    fn member(&self, c: &Call<'a>, table: &str, span: Range<usize>, out: &mut Out) {
        match self.schema_call(c, Some(table)) {
            Some(Ok(effect)) => self.push(span, effect, out),
            Some(Err(why)) => self.not_analysed(span, format!("`{}`: {why}", c.name), out),
            None => self.not_analysed(
                span,
                format!("`change_table :{table}` member `{}`", c.name),
                out,
            ),
        }
    }
}

fn object_name(table: &str) -> crate::ops::ObjName {
    match table.split_once('.') {
        Some((s, t)) => crate::ops::ObjName::new(s, t),
        None => crate::ops::ObjName::public(table),
    }
}

/// Column types Rails' PostgreSQL adapter knows (`t.<type>` / `add_column … :<type>`),
/// plus PostGIS's.
pub(crate) fn is_column_type(name: &str) -> bool {
    matches!(
        name,
        "string"
            | "text"
            | "integer"
            | "bigint"
            | "float"
            | "decimal"
            | "numeric"
            | "datetime"
            | "timestamp"
            | "timestamptz"
            | "time"
            | "date"
            | "binary"
            | "blob"
            | "boolean"
            | "json"
            | "jsonb"
            | "uuid"
            | "inet"
            | "cidr"
            | "macaddr"
            | "hstore"
            | "ltree"
            | "citext"
            | "tsvector"
            | "interval"
            | "point"
            | "line"
            | "lseg"
            | "box"
            | "path"
            | "polygon"
            | "circle"
            | "xml"
            | "money"
            | "oid"
            | "bit"
            | "bit_varying"
            | "int4range"
            | "int8range"
            | "numrange"
            | "tsrange"
            | "tstzrange"
            | "daterange"
            | "serial"
            | "bigserial"
            | "enum"
            | "virtual"
            | "primary_key"
            | "geometry"
            | "geography"
            | "st_point"
            | "st_polygon"
            | "line_string"
            | "multi_polygon"
            | "multi_point"
            | "multi_line_string"
    )
}

/// Columns, indexes and constraints gathered from a `create_table` block.
#[derive(Default)]
struct TableDef {
    columns: Vec<String>,
    /// Columns named as primary key by `t.primary_key` or `primary_key: true`.
    has_primary_key: bool,
    constraints: Vec<String>,
    after: Vec<String>,
}

/// SQL generation for one Rails version.
#[derive(Clone, Copy)]
struct Gen0 {
    v: RailsVersion,
}

fn truthy(v: Option<&Value>) -> bool {
    v.is_some_and(Value::is_truthy)
}

fn int_opt(opts: &[(String, Value)], key: &str) -> Result<Option<i64>, String> {
    match opt_in(opts, key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(other) => Err(format!("`{key}:` is not a number ({other:?})")),
    }
}

impl Gen0 {
    /// The PostgreSQL type Rails creates for `type` with these options.
    fn sql_type(&self, ty: &str, opts: &[(String, Value)]) -> Result<String, String> {
        let limit = int_opt(opts, "limit")?;
        let precision_given = opt_in(opts, "precision").is_some();
        let precision = int_opt(opts, "precision")?;
        let scale = int_opt(opts, "scale")?;
        let with_precision = |base: &str, default: Option<u32>| {
            let p = if precision_given {
                precision
            } else {
                default.map(i64::from)
            };
            match p {
                Some(p) => format!("{base}({p})"),
                None => base.to_string(),
            }
        };
        let base = match ty {
            "string" => match limit {
                Some(n) => format!("character varying({n})"),
                None => "character varying".into(),
            },
            "text" => "text".into(),
            "integer" => match limit {
                Some(1 | 2) => "smallint".into(),
                None | Some(3 | 4) => "integer".into(),
                Some(5..=8) => "bigint".into(),
                Some(n) => return Err(format!("no integer with limit {n}")),
            },
            "bigint" => "bigint".into(),
            "float" => "float".into(),
            "decimal" | "numeric" => match (precision, scale) {
                (Some(p), Some(s)) => format!("decimal({p},{s})"),
                (Some(p), None) => format!("decimal({p})"),
                _ => "decimal".into(),
            },
            "datetime" | "timestamp" => with_precision("timestamp", self.v.datetime_precision()),
            "timestamptz" => with_precision("timestamptz", self.v.datetime_precision()),
            "time" => with_precision("time", None),
            "binary" | "blob" => "bytea".into(),
            "bit" => match limit {
                Some(n) => format!("bit({n})"),
                None => "bit".into(),
            },
            "bit_varying" => match limit {
                Some(n) => format!("bit varying({n})"),
                None => "bit varying".into(),
            },
            "enum" => match opt_in(opts, "enum_type") {
                Some(v) => name_of(Some(v), "enum_type")?,
                None => return Err("`enum` column without `enum_type:`".into()),
            },
            "primary_key" => {
                if self.v.key_is_bigint() {
                    "bigserial primary key".into()
                } else {
                    "serial primary key".into()
                }
            }
            "geometry" | "geography" | "st_point" | "st_polygon" | "line_string"
            | "multi_polygon" | "multi_point" | "multi_line_string" => {
                // PostGIS adapter: geometry(<Type>,srid) / geography(...).
                let kind = match ty {
                    "st_point" => "Point",
                    "st_polygon" => "Polygon",
                    "line_string" => "LineString",
                    "multi_polygon" => "MultiPolygon",
                    "multi_point" => "MultiPoint",
                    "multi_line_string" => "MultiLineString",
                    _ => "Geometry",
                };
                let base = if ty == "geography" || truthy(opt_in(opts, "geographic")) {
                    "geography"
                } else {
                    "geometry"
                };
                let srid = int_opt(opts, "srid")?.unwrap_or(0);
                format!("{base}({kind},{srid})")
            }
            other => other.to_string(),
        };
        Ok(if truthy(opt_in(opts, "array")) {
            format!("{base}[]")
        } else {
            base
        })
    }

    /// A default value as SQL (`None` for `nil`).
    fn default_sql(&self, v: &Value) -> Result<Option<String>, String> {
        Ok(Some(match v {
            Value::Nil => return Ok(None),
            Value::Str(s) => quote_literal(&s.text),
            Value::Sym(s) => quote_literal(s),
            Value::Int(n) => n.to_string(),
            Value::Float(f) => f.clone(),
            Value::Bool(true) => "TRUE".into(),
            Value::Bool(false) => "FALSE".into(),
            Value::Lambda(Some(sql)) => sql.clone(),
            Value::Lambda(None) => return Err("default lambda is not a SQL string".into()),
            Value::Array(items) if items.is_empty() => "'{}'".into(),
            Value::Hash(items) if items.is_empty() => "'{}'".into(),
            Value::Array(_) | Value::Hash(_) => {
                return Err("default is a non-empty Ruby array or hash".into());
            }
            Value::Dynamic(text) => return Err(format!("default computed at run time (`{text}`)")),
        }))
    }

    /// `"name" type [GENERATED …] [COLLATE …] [DEFAULT …] [NOT NULL] [PRIMARY KEY]`.
    fn column_sql(&self, name: &str, ty: &str, opts: &[(String, Value)]) -> Result<String, String> {
        let mut sql = format!("{} ", quote_ident(name));
        if ty == "virtual" {
            let inner = match opt_in(opts, "type") {
                Some(t) => name_of(Some(t), "virtual column type")?,
                None => return Err("virtual column without `type:`".into()),
            };
            sql.push_str(&self.sql_type(&inner, opts)?);
            let expr = match opt_in(opts, "as") {
                Some(Value::Str(s)) => s.text.clone(),
                _ => return Err("virtual column without an `as:` SQL string".into()),
            };
            if !truthy(opt_in(opts, "stored")) {
                return Err("virtual column that is not `stored: true`".into());
            }
            sql.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED"));
        } else {
            sql.push_str(&self.sql_type(ty, opts)?);
        }
        if let Some(c) = opt_in(opts, "collation") {
            sql.push_str(&format!(
                " COLLATE {}",
                quote_ident(&name_of(Some(c), "collation")?)
            ));
        }
        if let Some(d) = opt_in(opts, "default")
            && let Some(d) = self.default_sql(d)?
        {
            sql.push_str(&format!(" DEFAULT {d}"));
        }
        if matches!(opt_in(opts, "null"), Some(Value::Bool(false))) {
            sql.push_str(" NOT NULL");
        }
        if truthy(opt_in(opts, "primary_key")) && ty != "primary_key" {
            sql.push_str(" PRIMARY KEY");
        }
        Ok(sql)
    }

    // ---- create_table ----------------------------------------------------------------

    fn create_table_sql(
        &self,
        table: &str,
        opts: &[(String, Value)],
        def: &TableDef,
    ) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        if let Some(force) = opt_in(opts, "force")
            && force.is_truthy()
        {
            let cascade = matches!(force, Value::Sym(s) if s == "cascade");
            out.push(format!(
                "DROP TABLE IF EXISTS {}{}",
                quote_table(table),
                if cascade { " CASCADE" } else { "" }
            ));
        }
        let mut items = Vec::new();
        let id = opt_in(opts, "id");
        let pk = opt_in(opts, "primary_key");
        let composite = matches!(pk, Some(Value::Array(_)));
        if !matches!(id, Some(Value::Bool(false))) && !composite {
            let pk_name = match pk {
                Some(v) => name_of(Some(v), "primary_key")?,
                None => "id".into(),
            };
            let id_type = match id {
                None | Some(Value::Bool(true)) => "primary_key".to_string(),
                Some(v) => name_of(Some(v), "id type")?,
            };
            let column = match id_type.as_str() {
                "primary_key" => format!(
                    "{} {}",
                    quote_ident(&pk_name),
                    self.sql_type("primary_key", &[])?
                ),
                "bigint" | "bigserial" => {
                    format!("{} bigserial primary key", quote_ident(&pk_name))
                }
                "integer" | "serial" => format!("{} serial primary key", quote_ident(&pk_name)),
                "uuid" => {
                    let default = match opt_in(opts, "default") {
                        Some(d) => self.default_sql(d)?,
                        None => Some("gen_random_uuid()".to_string()),
                    };
                    let default = default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default();
                    format!(
                        "{} uuid{default} NOT NULL PRIMARY KEY",
                        quote_ident(&pk_name)
                    )
                }
                other => format!(
                    "{} {} NOT NULL PRIMARY KEY",
                    quote_ident(&pk_name),
                    self.sql_type(other, opts_for_id(opts).as_slice())?
                ),
            };
            items.push(column);
        }
        items.extend(def.columns.iter().cloned());
        if composite && let Some(cols) = pk.and_then(Value::names) {
            let cols: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
            items.push(format!("PRIMARY KEY ({})", cols.join(", ")));
        }
        items.extend(def.constraints.iter().cloned());
        let _ = def.has_primary_key;
        let mut head = String::from("CREATE");
        if truthy(opt_in(opts, "temporary")) {
            head.push_str(" TEMPORARY");
        }
        head.push_str(" TABLE");
        if truthy(opt_in(opts, "if_not_exists")) {
            head.push_str(" IF NOT EXISTS");
        }
        if let Some(Value::Str(query)) = opt_in(opts, "as") {
            out.push(format!("{head} {} AS {}", quote_table(table), query.text));
        } else {
            let mut sql = format!("{head} {} ({})", quote_table(table), items.join(", "));
            if let Some(Value::Str(o)) = opt_in(opts, "options")
                && o.text
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("PARTITION")
            {
                sql.push(' ');
                sql.push_str(&o.text);
            }
            out.push(sql);
        }
        out.extend(def.after.iter().cloned());
        Ok(out)
    }

    /// A `t.<something>` line inside `create_table`.
    fn table_member(
        &self,
        table: &str,
        method: &str,
        args: &[Value],
        opts: &[(String, Value)],
        def: &mut TableDef,
    ) -> Result<(), String> {
        match method {
            "column" => {
                let name = name_of(args.first(), "column name")?;
                let ty = name_of(args.get(1), "column type")?;
                self.table_column(table, &name, &ty, opts, def)
            }
            "timestamps" => {
                for c in ["created_at", "updated_at"] {
                    let o = self.timestamp_opts(opts, true);
                    def.columns.push(self.column_sql(c, "datetime", &o)?);
                }
                Ok(())
            }
            "references" | "belongs_to" => {
                for a in args {
                    let r = name_of(Some(a), "reference name")?;
                    let reference = self.reference(table, &r, opts)?;
                    for (c, ty, o) in &reference.columns {
                        def.columns.push(self.column_sql(c, ty, o)?);
                    }
                    if let Some(index) = reference.index {
                        def.after.push(index);
                    }
                    if let Some(fk) = reference.fk {
                        def.constraints.push(fk.inline);
                    }
                }
                Ok(())
            }
            "index" => {
                let cols = args
                    .first()
                    .and_then(Value::names)
                    .ok_or("index columns missing or computed")?;
                let (sql, _) = self.index_sql(table, &cols, opts)?;
                def.after.push(sql);
                Ok(())
            }
            "check_constraint" => {
                let expr = match args.first() {
                    Some(Value::Str(s)) => s.text.clone(),
                    _ => return Err("check expression missing or computed".into()),
                };
                let name = match opt_in(opts, "name") {
                    Some(n) => name_of(Some(n), "name")?,
                    None => check_name(table, &expr),
                };
                def.constraints
                    .push(format!("CONSTRAINT {} CHECK ({expr})", quote_ident(&name)));
                Ok(())
            }
            "foreign_key" => {
                let fk = self.foreign_key(table, args, opts)?;
                def.constraints.push(fk.inline);
                Ok(())
            }
            "primary_key" => {
                let name = name_of(args.first(), "primary key name")?;
                let ty = match args.get(1) {
                    Some(v) => name_of(Some(v), "primary key type")?,
                    None => "primary_key".into(),
                };
                def.has_primary_key = true;
                if ty == "primary_key" {
                    def.columns
                        .push(self.column_sql(&name, "primary_key", opts)?);
                } else {
                    let mut o = opts.to_vec();
                    o.push(("primary_key".into(), Value::Bool(true)));
                    o.push(("null".into(), Value::Bool(false)));
                    def.columns.push(self.column_sql(&name, &ty, &o)?);
                }
                Ok(())
            }
            ty if is_column_type(ty) => {
                if args.is_empty() {
                    return Err("column name missing".into());
                }
                for a in args {
                    let name = name_of(Some(a), "column name")?;
                    self.table_column(table, &name, ty, opts, def)?;
                }
                Ok(())
            }
            other => Err(format!("`{other}` is not a table definition method")),
        }
    }

    fn table_column(
        &self,
        table: &str,
        name: &str,
        ty: &str,
        opts: &[(String, Value)],
        def: &mut TableDef,
    ) -> Result<(), String> {
        def.columns.push(self.column_sql(name, ty, opts)?);
        // `index: true` / `index: { unique: true }` on a column.
        match opt_in(opts, "index") {
            Some(Value::Hash(index_opts)) => {
                let (sql, _) = self.index_sql(table, &[name.to_string()], index_opts)?;
                def.after.push(sql);
            }
            Some(v) if v.is_truthy() => {
                let (sql, _) = self.index_sql(table, &[name.to_string()], &[])?;
                def.after.push(sql);
            }
            _ => {}
        }
        Ok(())
    }

    fn timestamp_opts(&self, opts: &[(String, Value)], in_create: bool) -> Vec<(String, Value)> {
        let mut o: Vec<(String, Value)> = opts
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "null" | "default" | "precision"))
            .cloned()
            .collect();
        if opt_in(opts, "null").is_none() && self.v.timestamps_not_null() {
            o.push(("null".into(), Value::Bool(false)));
        }
        if opt_in(opts, "precision").is_none()
            && let Some(p) = self.v.timestamps_precision()
        {
            o.push(("precision".into(), Value::Int(i64::from(p))));
        }
        let _ = in_create;
        o
    }

    // ---- indexes ---------------------------------------------------------------------

    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] "name" ON "t" [USING m] (…)
    /// [INCLUDE (…)] [NULLS NOT DISTINCT] [WHERE …]` and the index name.
    fn index_sql(
        &self,
        table: &str,
        columns: &[String],
        opts: &[(String, Value)],
    ) -> Result<(String, String), String> {
        let name = match opt_in(opts, "name") {
            Some(n) => name_of(Some(n), "index name")?,
            None => index_name(table, columns, self.v),
        };
        let mut sql = String::from("CREATE");
        if truthy(opt_in(opts, "unique")) {
            sql.push_str(" UNIQUE");
        }
        sql.push_str(" INDEX");
        if concurrently(opts)? {
            sql.push_str(" CONCURRENTLY");
        }
        if truthy(opt_in(opts, "if_not_exists")) {
            sql.push_str(" IF NOT EXISTS");
        }
        sql.push_str(&format!(
            " {} ON {}",
            quote_ident(&name),
            quote_table(table)
        ));
        if let Some(using) = opt_in(opts, "using") {
            sql.push_str(&format!(" USING {}", name_of(Some(using), "using")?));
        }
        let order = opt_in(opts, "order");
        let opclass = opt_in(opts, "opclass");
        let cols: Vec<String> = if columns.len() == 1 && !is_plain_name(&columns[0]) {
            // An expression (`lower(email)`) is written as given.
            vec![columns[0].clone()]
        } else {
            columns
                .iter()
                .map(|c| {
                    let mut s = quote_ident(c);
                    match opclass {
                        Some(Value::Hash(h)) => {
                            if let Some(v) = opt_in(h, c).and_then(Value::name) {
                                s.push_str(&format!(" {v}"));
                            }
                        }
                        Some(v) => {
                            if let Some(v) = v.name() {
                                s.push_str(&format!(" {v}"));
                            }
                        }
                        None => {}
                    }
                    let dir = match order {
                        Some(Value::Hash(h)) => opt_in(h, c).and_then(Value::name),
                        Some(v) => v.name(),
                        None => None,
                    };
                    if let Some(dir) = dir {
                        s.push_str(&format!(" {}", dir.to_ascii_uppercase()));
                    }
                    s
                })
                .collect()
        };
        sql.push_str(&format!(" ({})", cols.join(", ")));
        if let Some(include) = opt_in(opts, "include") {
            let inc = include.names().ok_or("`include:` is computed")?;
            let inc: Vec<String> = inc.iter().map(|c| quote_ident(c)).collect();
            sql.push_str(&format!(" INCLUDE ({})", inc.join(", ")));
        }
        if truthy(opt_in(opts, "nulls_not_distinct")) {
            sql.push_str(" NULLS NOT DISTINCT");
        }
        if let Some(w) = opt_in(opts, "where") {
            match w {
                Value::Str(s) => sql.push_str(&format!(" WHERE {}", s.text)),
                _ => return Err("`where:` is not a SQL string".into()),
            }
        }
        Ok((sql, name))
    }

    fn drop_index_sql(
        &self,
        table: &str,
        name: &str,
        opts: &[(String, Value)],
    ) -> Result<String, String> {
        let mut sql = String::from("DROP INDEX");
        if concurrently(opts)? {
            sql.push_str(" CONCURRENTLY");
        }
        if truthy(opt_in(opts, "if_exists")) {
            sql.push_str(" IF EXISTS");
        }
        // The index lives in the table's schema.
        let qualified = match table.split_once('.') {
            Some((schema, _)) if !name.contains('.') => format!("{schema}.{name}"),
            _ => name.to_string(),
        };
        sql.push_str(&format!(" {}", quote_table(&qualified)));
        Ok(sql)
    }

    fn add_index(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let cols = args
            .get(1)
            .and_then(Value::names)
            .ok_or("index columns missing or computed")?;
        let (sql, name) = self.index_sql(&table, &cols, opts)?;
        let down_opts: Vec<(String, Value)> = opts
            .iter()
            .filter(|(k, _)| k == "algorithm")
            .cloned()
            .collect();
        Ok(Effect {
            up: vec![sql],
            down: Ok(vec![self.drop_index_sql(&table, &name, &down_opts)?]),
        })
    }

    fn remove_index(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let cols = match args.get(1) {
            Some(v) => Some(v.names().ok_or("index columns computed")?),
            None => opt_in(opts, "column")
                .map(|c| c.names().ok_or("`column:` is computed"))
                .transpose()?,
        };
        let name = match (opt_in(opts, "name"), &cols) {
            (Some(n), _) => name_of(Some(n), "index name")?,
            (None, Some(cols)) => index_name(&table, cols, self.v),
            (None, None) => return Err("neither columns nor `name:` given".into()),
        };
        let up = vec![self.drop_index_sql(&table, &name, opts)?];
        let down = match cols {
            Some(cols) => {
                let mut o: Vec<(String, Value)> = opts
                    .iter()
                    .filter(|(k, _)| k != "if_exists" && k != "column")
                    .cloned()
                    .collect();
                if opt_in(&o, "name").is_none() {
                    o.push((
                        "name".into(),
                        Value::Str(RubyStr {
                            text: name,
                            verbatim_at: None,
                        }),
                    ));
                }
                self.index_sql(&table, &cols, &o).map(|(s, _)| vec![s])
            }
            None => Err("remove_index by name only has no inverse (columns unknown)".into()),
        };
        Ok(Effect { up, down })
    }

    fn rename_index(&self, args: &[Value]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let old = name_of(args.get(1), "index name")?;
        let new = name_of(args.get(2), "new index name")?;
        let sql = |a: &str, b: &str| {
            let qualified = match table.split_once('.') {
                Some((schema, _)) => format!("{schema}.{a}"),
                None => a.to_string(),
            };
            format!(
                "ALTER INDEX {} RENAME TO {}",
                quote_table(&qualified),
                quote_ident(b)
            )
        };
        Ok(Effect {
            up: vec![sql(&old, &new)],
            down: Ok(vec![sql(&new, &old)]),
        })
    }

    // ---- columns -----------------------------------------------------------------------

    fn add_column(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let column = name_of(args.get(1), "column name")?;
        let ty = name_of(args.get(2), "column type")?;
        let mut o = opts.to_vec();
        if ty == "datetime" || ty == "timestamp" {
            // add_column keeps the version's datetime precision.
            o.retain(|(k, _)| k != "index");
        }
        let if_not_exists = truthy(opt_in(opts, "if_not_exists"));
        let up = format!(
            "ALTER TABLE {} ADD{} {}",
            quote_table(&table),
            if if_not_exists {
                " COLUMN IF NOT EXISTS"
            } else {
                ""
            },
            self.column_sql(&column, &ty, &o)?
        );
        let mut ups = vec![up];
        // change_table's `t.string :x, index: true` also indexes.
        match opt_in(opts, "index") {
            Some(Value::Hash(io)) => {
                ups.push(self.index_sql(&table, std::slice::from_ref(&column), io)?.0)
            }
            Some(v) if v.is_truthy() => ups.push(
                self.index_sql(&table, std::slice::from_ref(&column), &[])?
                    .0,
            ),
            _ => {}
        }
        Ok(Effect {
            up: ups,
            down: Ok(vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                quote_table(&table),
                quote_ident(&column)
            )]),
        })
    }

    /// `remove_column :t, :c[, :type]` / `remove_columns :t, :a, :b[, type: …]`.
    fn remove_columns(&self, args: &[Value], opts: &[(String, Value)], ty: Option<&Value>) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let columns: Vec<String> = args[1.min(args.len())..]
            .iter()
            .map(|c| name_of(Some(c), "column name"))
            .collect::<Result<_, _>>()?;
        if columns.is_empty() {
            return Err("column name missing".into());
        }
        let if_exists = truthy(opt_in(opts, "if_exists"));
        let drops: Vec<String> = columns
            .iter()
            .map(|c| {
                format!(
                    "DROP COLUMN{} {}",
                    if if_exists { " IF EXISTS" } else { "" },
                    quote_ident(c)
                )
            })
            .collect();
        let up = vec![format!(
            "ALTER TABLE {} {}",
            quote_table(&table),
            drops.join(", ")
        )];
        let down = match ty {
            Some(t) => {
                let ty = name_of(Some(t), "column type")?;
                let adds: Result<Vec<String>, String> = columns
                    .iter()
                    .map(|c| self.column_sql(c, &ty, opts).map(|s| format!("ADD {s}")))
                    .collect();
                adds.map(|a| {
                    vec![format!(
                        "ALTER TABLE {} {}",
                        quote_table(&table),
                        a.join(", ")
                    )]
                })
            }
            None => Err(format!(
                "remove_column :{table}, :{} without a type has no inverse",
                columns.join(", :")
            )),
        };
        Ok(Effect { up, down })
    }

    fn change_column(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let column = name_of(args.get(1), "column name")?;
        let ty = name_of(args.get(2), "column type")?;
        let col = quote_ident(&column);
        let mut parts = vec![format!(
            "ALTER COLUMN {col} TYPE {}",
            self.sql_type(&ty, opts)?
        )];
        if let Some(c) = opt_in(opts, "collation") {
            parts[0].push_str(&format!(
                " COLLATE {}",
                quote_ident(&name_of(Some(c), "collation")?)
            ));
        }
        match opt_in(opts, "using") {
            Some(Value::Str(s)) => parts[0].push_str(&format!(" USING {}", s.text)),
            Some(_) => return Err("`using:` is not a SQL string".into()),
            None => {}
        }
        if let Some(d) = opt_in(opts, "default") {
            parts.push(match self.default_sql(d)? {
                Some(d) => format!("ALTER COLUMN {col} SET DEFAULT {d}"),
                None => format!("ALTER COLUMN {col} DROP DEFAULT"),
            });
        }
        match opt_in(opts, "null") {
            Some(Value::Bool(false)) => parts.push(format!("ALTER COLUMN {col} SET NOT NULL")),
            Some(Value::Bool(true)) => parts.push(format!("ALTER COLUMN {col} DROP NOT NULL")),
            _ => {}
        }
        Ok(Effect {
            up: vec![format!(
                "ALTER TABLE {} {}",
                quote_table(&table),
                parts.join(", ")
            )],
            down: Err(format!(
                "change_column :{table}, :{column} has no inverse (the old type is not written)"
            )),
        })
    }

    fn change_column_null(&self, args: &[Value]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let column = name_of(args.get(1), "column name")?;
        let null = match args.get(2) {
            Some(Value::Bool(b)) => *b,
            _ => return Err("null flag missing or computed".into()),
        };
        let set = |null: bool| {
            format!(
                "ALTER TABLE {} ALTER COLUMN {} {} NOT NULL",
                quote_table(&table),
                quote_ident(&column),
                if null { "DROP" } else { "SET" }
            )
        };
        let mut up = Vec::new();
        if !null
            && let Some(d) = args.get(3)
            && let Some(d) = self.default_sql(d)?
        {
            up.push(format!(
                "UPDATE {} SET {}={d} WHERE {} IS NULL",
                quote_table(&table),
                quote_ident(&column),
                quote_ident(&column)
            ));
        }
        up.push(set(null));
        Ok(Effect {
            up,
            down: Ok(vec![set(!null)]),
        })
    }

    fn change_column_default(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let column = name_of(args.get(1), "column name")?;
        let sql = |v: &Value| -> Result<String, String> {
            Ok(match self.default_sql(v)? {
                Some(d) => format!(
                    "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {d}",
                    quote_table(&table),
                    quote_ident(&column)
                ),
                None => format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                    quote_table(&table),
                    quote_ident(&column)
                ),
            })
        };
        let (to, from) = match (args.get(2), opt_in(opts, "to"), opt_in(opts, "from")) {
            (Some(v), _, _) => (v.clone(), None),
            (None, Some(to), from) => (to.clone(), Some(from.cloned().unwrap_or(Value::Nil))),
            (None, None, Some(from)) => (Value::Nil, Some(from.clone())),
            (None, None, None) => return Err("default value missing".into()),
        };
        Ok(Effect {
            up: vec![sql(&to)?],
            down: match from {
                Some(from) => Ok(vec![sql(&from)?]),
                None => Err(format!(
                    "change_column_default :{table}, :{column} without `from:`/`to:` has no inverse"
                )),
            },
        })
    }

    fn rename_column(&self, args: &[Value]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let old = name_of(args.get(1), "column name")?;
        let new = name_of(args.get(2), "new column name")?;
        let sql = |a: &str, b: &str| {
            format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                quote_table(&table),
                quote_ident(a),
                quote_ident(b)
            )
        };
        Ok(Effect {
            up: vec![sql(&old, &new)],
            down: Ok(vec![sql(&new, &old)]),
        })
    }

    fn add_timestamps(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let o = self.timestamp_opts(opts, false);
        let adds: Vec<String> = ["created_at", "updated_at"]
            .iter()
            .map(|c| {
                self.column_sql(c, "datetime", &o)
                    .map(|s| format!("ADD {s}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Effect {
            up: vec![format!(
                "ALTER TABLE {} {}",
                quote_table(&table),
                adds.join(", ")
            )],
            down: Ok(vec![format!(
                "ALTER TABLE {} DROP COLUMN \"updated_at\", DROP COLUMN \"created_at\"",
                quote_table(&table)
            )]),
        })
    }

    fn remove_timestamps(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let add = self.add_timestamps(args, opts)?;
        Ok(Effect {
            up: vec![format!(
                "ALTER TABLE {} DROP COLUMN \"updated_at\", DROP COLUMN \"created_at\"",
                quote_table(&table)
            )],
            down: Ok(add.up),
        })
    }

    // ---- references and foreign keys -------------------------------------------------

    /// The columns, index and foreign key of `references :name`.
    fn reference(
        &self,
        table: &str,
        name: &str,
        opts: &[(String, Value)],
    ) -> Result<Reference, String> {
        let polymorphic = truthy(opt_in(opts, "polymorphic"));
        let ty = match opt_in(opts, "type") {
            Some(t) => name_of(Some(t), "reference type")?,
            None if self.v.key_is_bigint() => "bigint".into(),
            None => "integer".into(),
        };
        let mut col_opts: Vec<(String, Value)> = opts
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "null" | "default" | "limit" | "array" | "comment"
                )
            })
            .cloned()
            .collect();
        if ty == "uuid" {
            col_opts.retain(|(k, _)| k != "limit");
        }
        let id_col = format!("{name}_id");
        let mut columns = Vec::new();
        if polymorphic {
            let mut type_opts: Vec<(String, Value)> = col_opts
                .iter()
                .filter(|(k, _)| k == "null")
                .cloned()
                .collect();
            if let Some(Value::Hash(p)) = opt_in(opts, "polymorphic") {
                type_opts.extend(p.iter().cloned());
            }
            columns.push((format!("{name}_type"), "string".to_string(), type_opts));
        }
        columns.push((id_col.clone(), ty, col_opts));
        let index_cols: Vec<String> = columns.iter().map(|(c, _, _)| c.clone()).collect();
        let index = match opt_in(opts, "index") {
            Some(Value::Hash(io)) => Some(self.index_sql(table, &index_cols, io)?.0),
            Some(v) if !v.is_truthy() => None,
            Some(_) => Some(self.index_sql(table, &index_cols, &[])?.0),
            None if self.v.references_indexed() => Some(self.index_sql(table, &index_cols, &[])?.0),
            None => None,
        };
        let fk = match opt_in(opts, "foreign_key") {
            Some(v) if v.is_truthy() => {
                if polymorphic {
                    return Err("a polymorphic reference cannot have a foreign key".into());
                }
                let mut fk_opts: Vec<(String, Value)> = match v {
                    Value::Hash(h) => h.clone(),
                    _ => Vec::new(),
                };
                let to = match opt_in(&fk_opts, "to_table") {
                    Some(t) => name_of(Some(t), "to_table")?,
                    None => pluralize(name),
                };
                fk_opts.retain(|(k, _)| k != "to_table");
                if opt_in(&fk_opts, "column").is_none() {
                    fk_opts.push(("column".into(), Value::Sym(id_col.clone())));
                }
                Some(self.foreign_key(table, &[Value::Sym(to)], &fk_opts)?)
            }
            _ => None,
        };
        Ok(Reference { columns, index, fk })
    }

    fn add_reference(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let table = name_of(args.first(), "table name")?;
        let name = name_of(args.get(1), "reference name")?;
        let r = self.reference(&table, &name, opts)?;
        let mut up = Vec::new();
        for (c, ty, o) in &r.columns {
            up.push(format!(
                "ALTER TABLE {} ADD {}",
                quote_table(&table),
                self.column_sql(c, ty, o)?
            ));
        }
        up.extend(r.index);
        let mut down = Vec::new();
        if let Some(fk) = r.fk {
            down.push(fk.drop);
            up.push(fk.alter);
        }
        let drops: Vec<String> = r
            .columns
            .iter()
            .map(|(c, _, _)| format!("DROP COLUMN {}", quote_ident(c)))
            .collect();
        down.push(format!(
            "ALTER TABLE {} {}",
            quote_table(&table),
            drops.join(", ")
        ));
        Ok(Effect { up, down: Ok(down) })
    }

    fn remove_reference(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let add = self.add_reference(args, opts)?;
        let down = add.down?;
        Ok(Effect {
            up: down,
            down: Ok(add.up),
        })
    }

    /// `add_foreign_key :from, :to, column:, primary_key:, name:, on_delete:, validate:`.
    fn foreign_key(
        &self,
        from: &str,
        args: &[Value],
        opts: &[(String, Value)],
    ) -> Result<ForeignKeySql, String> {
        let to = name_of(args.first(), "referenced table")?;
        let columns = match opt_in(opts, "column") {
            Some(c) => c.names().ok_or("`column:` is computed")?,
            None => vec![format!(
                "{}_id",
                singularize(to.rsplit('.').next().unwrap_or(&to))
            )],
        };
        let primary = match opt_in(opts, "primary_key") {
            Some(p) => p.names().ok_or("`primary_key:` is computed")?,
            None => vec!["id".to_string()],
        };
        let name = match opt_in(opts, "name") {
            Some(n) => name_of(Some(n), "name")?,
            None => foreign_key_name(from, &columns),
        };
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let refs: Vec<String> = primary.iter().map(|c| quote_ident(c)).collect();
        let mut clause = format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            quote_ident(&name),
            cols.join(", "),
            quote_table(&to),
            refs.join(", ")
        );
        for (key, word) in [("on_delete", "ON DELETE"), ("on_update", "ON UPDATE")] {
            if let Some(action) = opt_in(opts, key) {
                let action = match action.name() {
                    Some("cascade") => "CASCADE",
                    Some("nullify") => "SET NULL",
                    Some("restrict") => "RESTRICT",
                    Some("set_default") => "SET DEFAULT",
                    Some("no_action") => "NO ACTION",
                    _ => return Err(format!("`{key}:` is not an action Rails knows")),
                };
                clause.push_str(&format!(" {word} {action}"));
            }
        }
        if let Some(d) = opt_in(opts, "deferrable") {
            match d.name() {
                Some("immediate") => clause.push_str(" DEFERRABLE INITIALLY IMMEDIATE"),
                Some("deferred") => clause.push_str(" DEFERRABLE INITIALLY DEFERRED"),
                _ if d.is_truthy() => clause.push_str(" DEFERRABLE"),
                _ => {}
            }
        }
        let not_valid = matches!(opt_in(opts, "validate"), Some(Value::Bool(false)));
        let alter = format!(
            "ALTER TABLE {} ADD {clause}{}",
            quote_table(from),
            if not_valid { " NOT VALID" } else { "" }
        );
        let drop = format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            quote_table(from),
            quote_ident(&name)
        );
        Ok(ForeignKeySql {
            inline: clause,
            alter,
            drop,
            name,
        })
    }

    fn add_foreign_key(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let from = name_of(args.first(), "table name")?;
        let fk = self.foreign_key(&from, &args[1.min(args.len())..], opts)?;
        let mut up = fk.alter;
        if truthy(opt_in(opts, "if_not_exists")) {
            // Rails checks the catalog first; the statement is the same when it runs.
            up = up.clone();
        }
        Ok(Effect {
            up: vec![up],
            down: Ok(vec![fk.drop]),
        })
    }

    fn remove_foreign_key(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let from = name_of(args.first(), "table name")?;
        let name = match (opt_in(opts, "name"), args.get(1)) {
            (Some(n), _) => name_of(Some(n), "name")?,
            (None, Some(_)) | (None, None)
                if opt_in(opts, "column").is_some() || args.len() > 1 =>
            {
                let to_args: Vec<Value> = match args.get(1) {
                    Some(v) => vec![v.clone()],
                    None => vec![Value::Sym("_".into())],
                };
                self.foreign_key(&from, &to_args, opts)?.name
            }
            _ => return Err("neither the referenced table, `column:` nor `name:` given".into()),
        };
        let up = vec![format!(
            "ALTER TABLE {}{} DROP CONSTRAINT{} {}",
            "",
            quote_table(&from),
            if truthy(opt_in(opts, "if_exists")) {
                " IF EXISTS"
            } else {
                ""
            },
            quote_ident(&name)
        )];
        let down = match args.get(1) {
            Some(_) => {
                let mut o: Vec<(String, Value)> = opts
                    .iter()
                    .filter(|(k, _)| k != "if_exists")
                    .cloned()
                    .collect();
                if opt_in(&o, "name").is_none() {
                    o.push(("name".into(), Value::Sym(name.clone())));
                }
                self.foreign_key(&from, &args[1..], &o)
                    .map(|fk| vec![fk.alter])
            }
            None => Err("remove_foreign_key without the referenced table has no inverse".into()),
        };
        Ok(Effect { up, down })
    }

    fn validate_foreign_key(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let from = name_of(args.first(), "table name")?;
        let name = match opt_in(opts, "name") {
            Some(n) => name_of(Some(n), "name")?,
            None => {
                if args.len() < 2 && opt_in(opts, "column").is_none() {
                    return Err("neither the referenced table, `column:` nor `name:` given".into());
                }
                let to = match args.get(1) {
                    Some(v) => vec![v.clone()],
                    None => vec![Value::Sym("_".into())],
                };
                self.foreign_key(&from, &to, opts)?.name
            }
        };
        Ok(Effect {
            up: vec![format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                quote_table(&from),
                quote_ident(&name)
            )],
            down: Ok(Vec::new()),
        })
    }

    fn check_parts(
        &self,
        args: &[Value],
        opts: &[(String, Value)],
    ) -> Result<(String, Option<String>, String), String> {
        let table = name_of(args.first(), "table name")?;
        let expr = match args.get(1) {
            Some(Value::Str(s)) => Some(s.text.clone()),
            Some(_) => return Err("check expression is not a SQL string".into()),
            None => None,
        };
        let name = match (opt_in(opts, "name"), &expr) {
            (Some(n), _) => name_of(Some(n), "name")?,
            (None, Some(e)) => check_name(&table, e),
            (None, None) => return Err("neither an expression nor `name:` given".into()),
        };
        Ok((table, expr, name))
    }

    fn add_check(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let (table, expr, name) = self.check_parts(args, opts)?;
        let expr = expr.ok_or("check expression missing")?;
        let not_valid = matches!(opt_in(opts, "validate"), Some(Value::Bool(false)));
        Ok(Effect {
            up: vec![format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({expr}){}",
                quote_table(&table),
                quote_ident(&name),
                if not_valid { " NOT VALID" } else { "" }
            )],
            down: Ok(vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                quote_table(&table),
                quote_ident(&name)
            )]),
        })
    }

    fn remove_check(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let (table, expr, name) = self.check_parts(args, opts)?;
        let up = vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT{} {}",
            quote_table(&table),
            if truthy(opt_in(opts, "if_exists")) {
                " IF EXISTS"
            } else {
                ""
            },
            quote_ident(&name)
        )];
        let down = match expr {
            Some(e) => Ok(vec![format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({e})",
                quote_table(&table),
                quote_ident(&name)
            )]),
            None => Err("remove_check_constraint without the expression has no inverse".into()),
        };
        Ok(Effect { up, down })
    }

    fn validate_check(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let (table, _, name) = self.check_parts(args, opts)?;
        Ok(Effect {
            up: vec![format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                quote_table(&table),
                quote_ident(&name)
            )],
            down: Ok(Vec::new()),
        })
    }

    // ---- tables, extensions, types -----------------------------------------------------

    fn rename_table(&self, args: &[Value]) -> Gen {
        let old = name_of(args.first(), "table name")?;
        let new = name_of(args.get(1), "new table name")?;
        let sql = |a: &str, b: &str| {
            format!(
                "ALTER TABLE {} RENAME TO {}",
                quote_table(a),
                quote_ident(b)
            )
        };
        Ok(Effect {
            up: vec![sql(&old, &new)],
            down: Ok(vec![sql(&new, &old)]),
        })
    }

    fn join_table_name(
        &self,
        args: &[Value],
        opts: &[(String, Value)],
    ) -> Result<(String, String, String), String> {
        let a = name_of(args.first(), "table name")?;
        let b = name_of(args.get(1), "table name")?;
        let name = match opt_in(opts, "table_name") {
            Some(n) => name_of(Some(n), "table_name")?,
            None => {
                let mut pair = [a.clone(), b.clone()];
                pair.sort();
                pair.join("_")
            }
        };
        Ok((name, a, b))
    }

    fn create_join_table(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let (name, a, b) = self.join_table_name(args, opts)?;
        let ty = if self.v.key_is_bigint() {
            "bigint"
        } else {
            "integer"
        };
        let col_opts: Vec<(String, Value)> = match opt_in(opts, "column_options") {
            Some(Value::Hash(h)) => h.clone(),
            _ => vec![("null".into(), Value::Bool(false))],
        };
        let mut o = col_opts;
        if opt_in(&o, "null").is_none() {
            o.push(("null".into(), Value::Bool(false)));
        }
        let cols = [
            self.column_sql(&format!("{}_id", singularize(&a)), ty, &o)?,
            self.column_sql(&format!("{}_id", singularize(&b)), ty, &o)?,
        ];
        Ok(Effect {
            up: vec![format!(
                "CREATE TABLE {} ({})",
                quote_table(&name),
                cols.join(", ")
            )],
            down: Ok(vec![format!("DROP TABLE {}", quote_table(&name))]),
        })
    }

    fn drop_join_table(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let create = self.create_join_table(args, opts)?;
        Ok(Effect {
            up: create.down?,
            down: Ok(create.up),
        })
    }

    fn extension(&self, args: &[Value], enable: bool) -> Gen {
        let name = name_of(args.first(), "extension name")?;
        let create = format!("CREATE EXTENSION IF NOT EXISTS {}", quote_ident(&name));
        let drop = format!("DROP EXTENSION IF EXISTS {} CASCADE", quote_ident(&name));
        Ok(if enable {
            Effect {
                up: vec![create],
                down: Ok(vec![drop]),
            }
        } else {
            Effect {
                up: vec![drop],
                down: Ok(vec![create]),
            }
        })
    }

    fn create_enum(&self, args: &[Value]) -> Gen {
        let name = name_of(args.first(), "enum name")?;
        let values = args
            .get(1)
            .and_then(Value::names)
            .ok_or("enum values missing or computed")?;
        let values: Vec<String> = values.iter().map(|v| quote_literal(v)).collect();
        Ok(Effect {
            up: vec![format!(
                "CREATE TYPE {} AS ENUM ({})",
                quote_table(&name),
                values.join(", ")
            )],
            down: Ok(vec![format!("DROP TYPE {}", quote_table(&name))]),
        })
    }

    fn drop_enum(&self, args: &[Value]) -> Gen {
        let name = name_of(args.first(), "enum name")?;
        let up = vec![format!("DROP TYPE {}", quote_table(&name))];
        let down = match args.get(1) {
            Some(_) => self.create_enum(args).map(|e| e.up),
            None => Err("drop_enum without its values has no inverse".into()),
        };
        Ok(Effect {
            up,
            down: down.map_err(|e| e.to_string()),
        })
    }

    fn add_enum_value(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let name = name_of(args.first(), "enum name")?;
        let value = name_of(args.get(1), "enum value")?;
        let mut sql = format!("ALTER TYPE {} ADD VALUE", quote_table(&name));
        if truthy(opt_in(opts, "if_not_exists")) {
            sql.push_str(" IF NOT EXISTS");
        }
        sql.push_str(&format!(" {}", quote_literal(&value)));
        for key in ["before", "after"] {
            if let Some(v) = opt_in(opts, key) {
                sql.push_str(&format!(
                    " {} {}",
                    key.to_ascii_uppercase(),
                    quote_literal(&name_of(Some(v), key)?)
                ));
            }
        }
        Ok(Effect {
            up: vec![sql],
            down: Err(
                "add_enum_value has no inverse (PostgreSQL cannot drop an enum value)".into(),
            ),
        })
    }

    fn rename_enum(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let name = name_of(args.first(), "enum name")?;
        let to = match (args.get(1), opt_in(opts, "to")) {
            (Some(v), _) | (None, Some(v)) => name_of(Some(v), "new name")?,
            _ => return Err("new name missing".into()),
        };
        let sql = |a: &str, b: &str| {
            format!("ALTER TYPE {} RENAME TO {}", quote_table(a), quote_ident(b))
        };
        Ok(Effect {
            up: vec![sql(&name, &to)],
            down: Ok(vec![sql(&to, &name)]),
        })
    }

    fn rename_enum_value(&self, args: &[Value], opts: &[(String, Value)]) -> Gen {
        let name = name_of(args.first(), "enum name")?;
        let from = name_of(opt_in(opts, "from"), "`from:`")?;
        let to = name_of(opt_in(opts, "to"), "`to:`")?;
        let sql = |a: &str, b: &str| {
            format!(
                "ALTER TYPE {} RENAME VALUE {} TO {}",
                quote_table(&name),
                quote_literal(a),
                quote_literal(b)
            )
        };
        Ok(Effect {
            up: vec![sql(&from, &to)],
            down: Ok(vec![sql(&to, &from)]),
        })
    }

    fn schema(&self, args: &[Value], create: bool) -> Gen {
        let name = name_of(args.first(), "schema name")?;
        let c = format!("CREATE SCHEMA {}", quote_ident(&name));
        let d = format!("DROP SCHEMA {}", quote_ident(&name));
        Ok(if create {
            Effect {
                up: vec![c],
                down: Ok(vec![d]),
            }
        } else {
            Effect {
                up: vec![d],
                down: Ok(vec![c]),
            }
        })
    }
}

/// A column a reference adds: name, Rails type, options.
type RefColumn = (String, String, Vec<(String, Value)>);

struct Reference {
    /// (name, Rails type, options) per column.
    columns: Vec<RefColumn>,
    index: Option<String>,
    fk: Option<ForeignKeySql>,
}

struct ForeignKeySql {
    /// `CONSTRAINT … FOREIGN KEY …` as written inside CREATE TABLE.
    inline: String,
    /// `ALTER TABLE … ADD CONSTRAINT …`.
    alter: String,
    drop: String,
    name: String,
}

/// `algorithm: :concurrently`.
fn concurrently(opts: &[(String, Value)]) -> Result<bool, String> {
    match opt_in(opts, "algorithm") {
        None | Some(Value::Nil) => Ok(false),
        Some(v) => match v.name() {
            Some("concurrently") => Ok(true),
            Some("default") => Ok(false),
            _ => Err("`algorithm:` is not :concurrently".into()),
        },
    }
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The options of `create_table` that describe a non-default id column's type.
fn opts_for_id(opts: &[(String, Value)]) -> Vec<(String, Value)> {
    opts.iter()
        .filter(|(k, _)| matches!(k.as_str(), "limit" | "precision" | "scale"))
        .cloned()
        .collect()
}
