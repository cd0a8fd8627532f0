//! Reading TypeScript / JavaScript migration files for the Node ORM front ends (TypeORM,
//! Knex, Sequelize), with tree-sitter.
//!
//! What is shared: parsing a file, evaluating the *static* part of an expression (string
//! and template literals without `${}`, `+` of literals, numbers, booleans, arrays, object
//! literals, `A.B.C` paths and calls on them, `new X(...)`, file-level `const` bindings), the
//! member-call chains a migration makes on its receiver (`knex.schema.createTable(...)`),
//! and the walk over a method body that hands each receiver call to the framework and
//! reports everything else that touches the receiver as not analysed. Nothing dynamic is
//! ever guessed: an expression that is not static evaluates to [`Value::Unknown`].

use super::host::{HostBody, HostStatement};
use crate::ops::Op;
use std::collections::HashMap;
use tree_sitter::{Node, Parser, Tree};

/// A parsed file and its text.
pub(crate) struct JsFile<'s> {
    pub src: &'s str,
    pub tree: Tree,
    /// File-level `NAME = <value>` bindings whose name is bound once only (byte range of
    /// the value), so `createTable(TABLE, …)` with `const TABLE = 'users'` is read.
    consts: HashMap<String, std::ops::Range<usize>>,
}

/// Parses `src` as TypeScript (`.ts`) or JavaScript. `None` when tree-sitter gives up
/// (it does not on any input in practice; errors become ERROR nodes).
pub(crate) fn parse(src: &str, typescript: bool) -> Option<Tree> {
    let mut parser = Parser::new();
    let language: tree_sitter::Language = if typescript {
        tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()
    } else {
        tree_sitter_javascript::LANGUAGE.into()
    };
    parser.set_language(&language).ok()?;
    parser.parse(src, None)
}

/// Whether a file name is a script the Node frameworks load (`.d.ts` declarations and
/// source maps are not migrations).
pub(crate) fn is_script_name(name: &str) -> bool {
    (name.ends_with(".ts")
        || name.ends_with(".js")
        || name.ends_with(".mjs")
        || name.ends_with(".cjs"))
        && !name.ends_with(".d.ts")
        && !name.starts_with('.')
}

/// A static value of an expression.
#[derive(Debug, Clone)]
pub(crate) enum Value<'t> {
    Str {
        text: String,
        /// Offset of `text[0]` in the file when the literal holds it byte for byte.
        verbatim_at: Option<usize>,
    },
    /// A number as JavaScript would print it.
    Num(f64),
    Bool(bool),
    Null,
    Undefined,
    Array(Vec<Value<'t>>),
    Object(Vec<(String, Value<'t>)>),
    /// A dotted path (`Sequelize.STRING`, `knex.fn`), called when `args` is `Some`
    /// (`Sequelize.STRING(100)`, `knex.fn.now()`, `Sequelize.literal('x')`).
    Path {
        path: String,
        args: Option<Vec<Value<'t>>>,
    },
    /// `new Class(args)`.
    New {
        class: String,
        args: Vec<Value<'t>>,
    },
    /// A function or arrow function.
    Function(std::marker::PhantomData<Node<'t>>),
    /// Anything else: not static.
    Unknown,
}

impl<'t> Value<'t> {
    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }
    /// The property `key` of an object literal.
    pub fn get(&self, key: &str) -> Option<&Value<'t>> {
        match self {
            Value::Object(props) => props.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The property as a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
    /// The property as a boolean (absent → `None`).
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    /// The property as a number.
    pub fn get_num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Value::Num(n)) => Some(*n),
            _ => None,
        }
    }
    /// A list of strings (`['a', 'b']`) or one string as a one-element list.
    pub fn str_list(&self) -> Option<Vec<String>> {
        match self {
            Value::Str { text, .. } => Some(vec![text.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => None,
        }
    }
}

/// Formats a number as JavaScript's `String(n)` does for the values migrations use.
pub(crate) fn js_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl<'s> JsFile<'s> {
    /// Parses `src`; `None` only if tree-sitter could not run.
    pub fn new(src: &'s str, typescript: bool) -> Option<JsFile<'s>> {
        let tree = parse(src, typescript)?;
        let mut file = JsFile {
            src,
            tree,
            consts: HashMap::new(),
        };
        file.collect_consts();
        Some(file)
    }

    /// The root node.
    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    /// The source text of a node.
    pub fn text(&self, node: Node<'_>) -> &'s str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    fn collect_consts(&mut self) {
        let mut found: Vec<(String, std::ops::Range<usize>)> = Vec::new();
        let mut stack = vec![self.tree.root_node()];
        while let Some(node) = stack.pop() {
            if node.kind() == "variable_declarator"
                && let Some(name) = node.child_by_field_name("name")
                && name.kind() == "identifier"
            {
                let range = node
                    .child_by_field_name("value")
                    .map(|v| v.byte_range())
                    .unwrap_or(0..0);
                found.push((self.text(name).to_string(), range));
            }
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                stack.push(child);
            }
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (name, _) in &found {
            *counts.entry(name.clone()).or_default() += 1;
        }
        self.consts = found
            .into_iter()
            .filter(|(name, range)| counts.get(name) == Some(&1) && !range.is_empty())
            .collect();
    }
}

impl<'s> JsFile<'s> {
    /// Evaluates the static part of an expression.
    pub fn eval<'t>(&'t self, node: Node<'t>) -> Value<'t> {
        self.eval_depth(node, 0)
    }

    fn unknown(&self, _node: Node<'_>) -> Value<'static> {
        Value::Unknown
    }

    fn eval_depth<'t>(&'t self, node: Node<'t>, depth: usize) -> Value<'t> {
        if depth > 40 {
            return self.unknown(node);
        }
        let d = depth + 1;
        match node.kind() {
            "string" => {
                let raw = self.text(node);
                if raw.len() < 2 {
                    return self.unknown(node);
                }
                let inner = &raw[1..raw.len() - 1];
                match decode_escapes(inner) {
                    Some(text) => {
                        let verbatim_at = (text == inner).then_some(node.start_byte() + 1);
                        Value::Str { text, verbatim_at }
                    }
                    None => self.unknown(node),
                }
            }
            "template_string" => {
                let mut cursor = node.walk();
                if node
                    .named_children(&mut cursor)
                    .any(|c| c.kind() == "template_substitution")
                {
                    return self.unknown(node);
                }
                let raw = self.text(node);
                if raw.len() < 2 {
                    return self.unknown(node);
                }
                let inner = &raw[1..raw.len() - 1];
                // A template literal keeps its line breaks; `\r\n` is read as `\n`.
                let normalized = inner.replace("\r\n", "\n");
                match decode_escapes(&normalized) {
                    Some(text) => {
                        let verbatim_at = (text == inner).then_some(node.start_byte() + 1);
                        Value::Str { text, verbatim_at }
                    }
                    None => self.unknown(node),
                }
            }
            "number" => {
                let t = self.text(node).replace('_', "");
                let n = if let Some(hex) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
                    i64::from_str_radix(hex, 16).ok().map(|v| v as f64)
                } else {
                    t.parse::<f64>().ok()
                };
                n.map(Value::Num).unwrap_or_else(|| self.unknown(node))
            }
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "undefined" => Value::Undefined,
            "unary_expression" => {
                let op = node.child_by_field_name("operator").map(|o| self.text(o));
                let arg = node.child_by_field_name("argument");
                match (op, arg.map(|a| self.eval_depth(a, d))) {
                    (Some("-"), Some(Value::Num(n))) => Value::Num(-n),
                    (Some("!"), Some(Value::Bool(b))) => Value::Bool(!b),
                    (Some("!"), Some(Value::Num(n))) => Value::Bool(n == 0.0),
                    _ => self.unknown(node),
                }
            }
            "parenthesized_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression"
            | "type_assertion" => match node.named_child(0) {
                Some(inner) if inner.kind() != "type_annotation" => self.eval_depth(inner, d),
                _ => self.unknown(node),
            },
            "binary_expression" => {
                let op = node.child_by_field_name("operator").map(|o| self.text(o));
                let (Some(l), Some(r)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) else {
                    return self.unknown(node);
                };
                if op != Some("+") {
                    return self.unknown(node);
                }
                let left = self.eval_depth(l, d);
                let right = self.eval_depth(r, d);
                let piece = |v: &Value| match v {
                    Value::Str { text, .. } => Some(text.clone()),
                    Value::Num(n) => Some(js_number(*n)),
                    _ => None,
                };
                match (&left, &right) {
                    (Value::Num(a), Value::Num(b)) => Value::Num(a + b),
                    (Value::Str { .. }, _) | (_, Value::Str { .. }) => {
                        match (piece(&left), piece(&right)) {
                            (Some(a), Some(b)) => Value::Str {
                                text: a + &b,
                                verbatim_at: None,
                            },
                            _ => self.unknown(node),
                        }
                    }
                    _ => self.unknown(node),
                }
            }
            "array" => {
                let mut items = Vec::new();
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "comment" {
                        continue;
                    }
                    items.push(self.eval_depth(child, d));
                }
                Value::Array(items)
            }
            "object" => {
                let mut props = Vec::new();
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "pair" => {
                            let (Some(k), Some(v)) = (
                                child.child_by_field_name("key"),
                                child.child_by_field_name("value"),
                            ) else {
                                continue;
                            };
                            let key = match k.kind() {
                                "property_identifier" => self.text(k).to_string(),
                                "string" | "number" => match self.eval_depth(k, d) {
                                    Value::Str { text, .. } => text,
                                    Value::Num(n) => js_number(n),
                                    _ => return self.unknown(node),
                                },
                                _ => return self.unknown(node),
                            };
                            props.push((key, self.eval_depth(v, d)));
                        }
                        "shorthand_property_identifier" => {
                            let name = self.text(child).to_string();
                            let value = self.lookup(&name, d).unwrap_or(Value::Unknown);
                            props.push((name, value));
                        }
                        "comment" => {}
                        _ => return self.unknown(node),
                    }
                }
                Value::Object(props)
            }
            "identifier" => {
                let name = self.text(node);
                if name == "undefined" {
                    return Value::Undefined;
                }
                self.lookup(name, d).unwrap_or_else(|| Value::Path {
                    path: name.to_string(),
                    args: None,
                })
            }
            "member_expression" => match self.path_of(node) {
                Some(path) => Value::Path { path, args: None },
                None => self.unknown(node),
            },
            "call_expression" => {
                let Some(function) = node.child_by_field_name("function") else {
                    return self.unknown(node);
                };
                let path = match function.kind() {
                    "identifier" => Some(self.text(function).to_string()),
                    "member_expression" => self.path_of(function),
                    _ => None,
                };
                match path {
                    Some(path) => Value::Path {
                        path,
                        args: Some(
                            self.args(node)
                                .into_iter()
                                .map(|a| self.eval_depth(a, d))
                                .collect(),
                        ),
                    },
                    None => self.unknown(node),
                }
            }
            "new_expression" => {
                let class = node
                    .child_by_field_name("constructor")
                    .and_then(|c| match c.kind() {
                        "identifier" => Some(self.text(c).to_string()),
                        "member_expression" => self.path_of(c),
                        _ => None,
                    });
                match class {
                    Some(class) => Value::New {
                        class,
                        args: self
                            .args(node)
                            .into_iter()
                            .map(|a| self.eval_depth(a, d))
                            .collect(),
                    },
                    None => self.unknown(node),
                }
            }
            "arrow_function" | "function_expression" | "function" => {
                Value::Function(std::marker::PhantomData)
            }
            _ => self.unknown(node),
        }
    }

    /// The value bound to a file-level name used once.
    fn lookup<'t>(&'t self, name: &str, depth: usize) -> Option<Value<'t>> {
        let range = self.consts.get(name)?;
        let node = self
            .root()
            .descendant_for_byte_range(range.start, range.end)?;
        let value = self.eval_depth(node, depth);
        match value {
            Value::Function(_) | Value::Unknown => None,
            Value::Path { args: Some(_), .. } => None,
            v => Some(v),
        }
    }

    /// `a.b.c` as a dotted path, when every part is a plain name.
    pub fn path_of(&self, node: Node<'_>) -> Option<String> {
        match node.kind() {
            "identifier" | "this" => Some(self.text(node).to_string()),
            "member_expression" => {
                let object = node.child_by_field_name("object")?;
                let property = node.child_by_field_name("property")?;
                Some(format!("{}.{}", self.path_of(object)?, self.text(property)))
            }
            "parenthesized_expression" | "non_null_expression" | "as_expression" => {
                self.path_of(node.named_child(0)?)
            }
            _ => None,
        }
    }

    /// The argument nodes of a call or `new` (comments left out).
    pub fn args<'t>(&self, call: Node<'t>) -> Vec<Node<'t>> {
        let Some(args) = call.child_by_field_name("arguments") else {
            return Vec::new();
        };
        let mut cursor = args.walk();
        args.named_children(&mut cursor)
            .filter(|c| c.kind() != "comment")
            .collect()
    }

    /// The member-call chain of `node` from its root identifier:
    /// `knex.schema.withSchema('s').createTable('t', f)` →
    /// (`knex`, [schema, withSchema('s'), createTable('t', f)]). `None` when the chain does
    /// not start at a plain identifier (or `this`).
    pub fn chain<'t>(&self, node: Node<'t>) -> Option<(String, Vec<Link<'t>>)> {
        let mut links = Vec::new();
        let mut current = strip_wrappers(node);
        loop {
            match current.kind() {
                "call_expression" => {
                    let function = strip_wrappers(current.child_by_field_name("function")?);
                    if function.kind() != "member_expression" {
                        if function.kind() == "identifier" {
                            // A plain function call at the root: `raw('…')` is not a chain.
                            return None;
                        }
                        return None;
                    }
                    let property = function.child_by_field_name("property")?;
                    links.push(Link {
                        name: self.text(property).to_string(),
                        args: Some(self.args(current)),
                    });
                    current = strip_wrappers(function.child_by_field_name("object")?);
                }
                "member_expression" => {
                    let property = current.child_by_field_name("property")?;
                    links.push(Link {
                        name: self.text(property).to_string(),
                        args: None,
                    });
                    current = strip_wrappers(current.child_by_field_name("object")?);
                }
                "identifier" | "this" => {
                    links.reverse();
                    return Some((self.text(current).to_string(), links));
                }
                _ => return None,
            }
        }
    }

    /// Whether `node` mentions any of `names` as an identifier.
    pub fn mentions(&self, node: Node<'_>, names: &[String]) -> bool {
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if matches!(n.kind(), "identifier" | "shorthand_property_identifier")
                && names.iter().any(|name| name == self.text(n))
            {
                return true;
            }
            let mut cursor = n.walk();
            for child in n.named_children(&mut cursor) {
                stack.push(child);
            }
        }
        false
    }
}

/// One step of a member-call chain.
#[derive(Debug, Clone)]
pub(crate) struct Link<'t> {
    pub name: String,
    /// The call's arguments when the member is called.
    pub args: Option<Vec<Node<'t>>>,
}

/// Skips `await`, parentheses and TypeScript assertions around an expression.
pub(crate) fn strip_wrappers(node: Node<'_>) -> Node<'_> {
    let mut node = node;
    while matches!(
        node.kind(),
        "await_expression"
            | "parenthesized_expression"
            | "non_null_expression"
            | "as_expression"
            | "satisfies_expression"
    ) {
        match node.named_child(0) {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

/// JavaScript string escapes; `None` for an escape this reader does not decode.
fn decode_escapes(s: &str) -> Option<String> {
    if !s.contains('\\') {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' => out.push('\0'),
            '\n' => {}
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            'x' => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            'u' => {
                let code = if chars.peek() == Some(&'{') {
                    chars.next();
                    let h: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    u32::from_str_radix(&h, 16).ok()?
                } else {
                    let h: String = chars.by_ref().take(4).collect();
                    u32::from_str_radix(&h, 16).ok()?
                };
                out.push(char::from_u32(code)?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// The first line of a piece of source, at most 80 characters, for messages.
pub(crate) fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let mut short: String = line.chars().take(80).collect();
    if short.len() < line.len() || text.trim().lines().nth(1).is_some() {
        short.push('…');
    }
    short
}

/// A call that does something the front end does not know: reported, never guessed.
pub(crate) fn not_analysed(span: std::ops::Range<usize>, what: String) -> HostStatement {
    HostStatement {
        span,
        body: HostBody::NotAnalysed { what },
    }
}

/// Statements for SQL the framework would send for a DSL call: each statement of `sql`
/// is parsed by the SQL path (so the ops are exactly those of the same SQL in a `.sql`
/// file) and becomes one host statement at the call's span.
pub(crate) fn generated(span: std::ops::Range<usize>, sql: &[String]) -> Vec<HostStatement> {
    let mut out = Vec::new();
    for statement in sql {
        for parsed in crate::parse::parse_sql(statement) {
            let ops: Vec<Op> = parsed.ops;
            out.push(HostStatement {
                span: span.clone(),
                body: HostBody::Ops(ops),
            });
        }
    }
    out
}

/// Raw SQL sent by a call (`queryRunner.query`, `knex.raw`, `sequelize.query`).
pub(crate) fn raw_sql(span: std::ops::Range<usize>, value: &Value<'_>) -> Option<HostStatement> {
    match value {
        Value::Str { text, verbatim_at } => Some(HostStatement {
            span,
            body: HostBody::Sql {
                text: text.clone(),
                verbatim_at: *verbatim_at,
            },
        }),
        _ => None,
    }
}

/// Walks a function body in execution order. `on_call` is given every expression whose
/// member chain starts at one of `receivers` and returns what it does (or `None` when
/// the expression is not one the framework understands); anything else that mentions a
/// receiver (a helper call, a loop, a condition) is reported as not analysed.
pub(crate) struct Walker<'a, 's> {
    pub file: &'a JsFile<'s>,
    pub receivers: Vec<String>,
    pub out: Vec<HostStatement>,
    /// Receiver calls seen, and how many were understood (for the corpus figures).
    pub calls: usize,
    pub understood: usize,
}

impl<'a, 's> Walker<'a, 's> {
    pub fn new(file: &'a JsFile<'s>, receivers: Vec<String>) -> Self {
        Walker {
            file,
            receivers,
            out: Vec::new(),
            calls: 0,
            understood: 0,
        }
    }

    /// Walks the body of a function node (block or expression body).
    pub fn function<F>(&mut self, function: Node<'a>, on_call: &mut F)
    where
        F: FnMut(&mut Walker<'a, 's>, Node<'a>) -> Option<Vec<HostStatement>>,
    {
        let Some(body) = function.child_by_field_name("body") else {
            return;
        };
        if body.kind() == "statement_block" {
            self.block(body, on_call);
        } else {
            self.expression(body, on_call);
        }
    }

    fn block<F>(&mut self, block: Node<'a>, on_call: &mut F)
    where
        F: FnMut(&mut Walker<'a, 's>, Node<'a>) -> Option<Vec<HostStatement>>,
    {
        let mut cursor = block.walk();
        let children: Vec<Node<'a>> = block.named_children(&mut cursor).collect();
        for statement in children {
            self.statement(statement, on_call);
        }
    }

    fn statement<F>(&mut self, node: Node<'a>, on_call: &mut F)
    where
        F: FnMut(&mut Walker<'a, 's>, Node<'a>) -> Option<Vec<HostStatement>>,
    {
        match node.kind() {
            "comment" | "empty_statement" => {}
            "statement_block" => self.block(node, on_call),
            "expression_statement" | "return_statement" => {
                let mut cursor = node.walk();
                let exprs: Vec<Node<'a>> = node
                    .named_children(&mut cursor)
                    .filter(|c| c.kind() != "comment")
                    .collect();
                for expr in exprs {
                    self.expression(expr, on_call);
                }
            }
            "lexical_declaration" | "variable_declaration" => {
                let mut cursor = node.walk();
                let decls: Vec<Node<'a>> = node.named_children(&mut cursor).collect();
                for decl in decls {
                    if let Some(value) = decl.child_by_field_name("value") {
                        self.expression(value, on_call);
                    }
                }
            }
            "try_statement" => {
                // The try block runs; a catch only on failure (left out), a finally always.
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(body, on_call);
                }
                if let Some(finalizer) = node.child_by_field_name("finalizer") {
                    let mut cursor = finalizer.walk();
                    let blocks: Vec<Node<'a>> = finalizer.named_children(&mut cursor).collect();
                    for b in blocks {
                        self.statement(b, on_call);
                    }
                }
            }
            _ => self.unknown(node),
        }
    }

    /// Something that touches the database in a way not read statically.
    fn unknown(&mut self, node: Node<'a>) {
        if self.file.mentions(node, &self.receivers) {
            self.calls += 1;
            let what = match node.kind() {
                "if_statement" => format!("a conditional: {}", shorten(self.file.text(node))),
                "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                    format!("a loop: {}", shorten(self.file.text(node)))
                }
                _ => shorten(self.file.text(node)),
            };
            self.out.push(not_analysed(node.byte_range(), what));
        }
    }

    /// Walks one expression evaluated for its effect.
    pub fn expression<F>(&mut self, node: Node<'a>, on_call: &mut F)
    where
        F: FnMut(&mut Walker<'a, 's>, Node<'a>) -> Option<Vec<HostStatement>>,
    {
        let node = strip_wrappers(node);
        match node.kind() {
            "sequence_expression" => {
                let mut cursor = node.walk();
                let parts: Vec<Node<'a>> = node.named_children(&mut cursor).collect();
                for part in parts {
                    self.expression(part, on_call);
                }
                return;
            }
            "call_expression" => {}
            _ => return self.unknown(node),
        }
        // `Promise.all([a, b])`, `Promise.resolve()`.
        if let Some(function) = node.child_by_field_name("function")
            && let Some(path) = self.file.path_of(function)
            && (path == "Promise.all" || path == "Promise.allSettled")
        {
            for arg in self.file.args(node) {
                if arg.kind() == "array" {
                    let mut cursor = arg.walk();
                    let items: Vec<Node<'a>> = arg.named_children(&mut cursor).collect();
                    for item in items {
                        self.expression(item, on_call);
                    }
                } else {
                    self.unknown(arg);
                }
            }
            return;
        }
        let Some((root, links)) = self.file.chain(node) else {
            return self.unknown(node);
        };
        // `<chain>.then(fn)`: the chain, then the function's body.
        if let Some(last) = links.last()
            && (last.name == "then" || last.name == "catch" || last.name == "finally")
            && let Some(args) = &last.args
            && let Some(object) = node
                .child_by_field_name("function")
                .and_then(|f| f.child_by_field_name("object"))
        {
            let args = args.clone();
            let name = last.name.clone();
            self.expression(object, on_call);
            if name != "catch"
                && let Some(first) = args.first()
            {
                if matches!(
                    first.kind(),
                    "arrow_function" | "function_expression" | "function"
                ) {
                    self.function(*first, on_call);
                } else {
                    self.unknown(*first);
                }
            }
            return;
        }
        if !self.receivers.contains(&root) {
            return self.unknown(node);
        }
        self.calls += 1;
        match on_call(self, node) {
            Some(statements) => {
                self.understood += 1;
                self.out.extend(statements);
            }
            None => {
                let what = format!("call {}", shorten(self.file.text(node)));
                self.out.push(not_analysed(node.byte_range(), what));
            }
        }
    }
}

/// The parameter names of a function node, in order (destructured ones as `None`).
pub(crate) fn params(file: &JsFile<'_>, function: Node<'_>) -> Vec<Option<String>> {
    if let Some(p) = function.child_by_field_name("parameter") {
        return vec![Some(file.text(p).to_string())];
    }
    let Some(list) = function.child_by_field_name("parameters") else {
        return Vec::new();
    };
    let mut cursor = list.walk();
    list.named_children(&mut cursor)
        .filter(|c| c.kind() != "comment")
        .map(|p| {
            let p = match p.kind() {
                "required_parameter" | "optional_parameter" => {
                    p.child_by_field_name("pattern").unwrap_or(p)
                }
                "assignment_pattern" => p.child_by_field_name("left").unwrap_or(p),
                _ => p,
            };
            (p.kind() == "identifier").then(|| file.text(p).to_string())
        })
        .collect()
}

/// Double-quotes a SQL identifier as the frameworks do.
pub(crate) fn q(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A migration file's exported members (`exports.up = …`, `module.exports = { up, down }`,
/// `export async function up(…)`, `export const config = …`, `export default { … }`),
/// each with its value node (a function, a method definition, an object).
pub(crate) fn exports<'t>(file: &'t JsFile<'_>) -> Vec<(String, Node<'t>)> {
    let mut out = Vec::new();
    let root = file.root();
    let mut cursor = root.walk();
    for item in root.named_children(&mut cursor) {
        match item.kind() {
            "expression_statement" => {
                let Some(expr) = item.named_child(0) else {
                    continue;
                };
                if expr.kind() != "assignment_expression" {
                    continue;
                }
                let (Some(left), Some(right)) = (
                    expr.child_by_field_name("left"),
                    expr.child_by_field_name("right"),
                ) else {
                    continue;
                };
                let Some(path) = file.path_of(left) else {
                    continue;
                };
                if path == "module.exports" {
                    object_members(file, strip_wrappers(right), &mut out);
                } else if let Some(name) = path
                    .strip_prefix("module.exports.")
                    .or_else(|| path.strip_prefix("exports."))
                {
                    out.push((name.to_string(), strip_wrappers(right)));
                }
            }
            "export_statement" => {
                if let Some(decl) = item.child_by_field_name("declaration") {
                    match decl.kind() {
                        "function_declaration" | "generator_function_declaration" => {
                            if let Some(name) = decl.child_by_field_name("name") {
                                out.push((file.text(name).to_string(), decl));
                            }
                        }
                        "lexical_declaration" | "variable_declaration" => {
                            let mut c = decl.walk();
                            for d in decl.named_children(&mut c) {
                                if let (Some(name), Some(value)) = (
                                    d.child_by_field_name("name"),
                                    d.child_by_field_name("value"),
                                ) {
                                    out.push((file.text(name).to_string(), strip_wrappers(value)));
                                }
                            }
                        }
                        _ => {}
                    }
                } else if let Some(value) = item.child_by_field_name("value") {
                    // export default { up, down }
                    object_members(file, strip_wrappers(value), &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

/// The members of an object literal exported as a whole.
fn object_members<'t>(file: &'t JsFile<'_>, object: Node<'t>, out: &mut Vec<(String, Node<'t>)>) {
    if object.kind() != "object" {
        return;
    }
    let mut cursor = object.walk();
    for member in object.named_children(&mut cursor) {
        match member.kind() {
            "pair" => {
                if let (Some(k), Some(v)) = (
                    member.child_by_field_name("key"),
                    member.child_by_field_name("value"),
                ) {
                    let key = match file.eval(k) {
                        Value::Str { text, .. } => text,
                        _ => file.text(k).to_string(),
                    };
                    out.push((key, strip_wrappers(v)));
                }
            }
            "method_definition" => {
                if let Some(name) = member.child_by_field_name("name") {
                    out.push((file.text(name).to_string(), member));
                }
            }
            "shorthand_property_identifier" => {
                let name = file.text(member);
                if let Some(value) = top_level_binding(file, name) {
                    out.push((name.to_string(), value));
                }
            }
            _ => {}
        }
    }
}

/// The function or value a file-level declaration binds to `name`
/// (`async function up(…) {…}`, `const up = async (…) => …`).
pub(crate) fn top_level_binding<'t>(file: &'t JsFile<'_>, name: &str) -> Option<Node<'t>> {
    let root = file.root();
    let mut cursor = root.walk();
    for item in root.named_children(&mut cursor) {
        let item = if item.kind() == "export_statement" {
            match item.child_by_field_name("declaration") {
                Some(d) => d,
                None => continue,
            }
        } else {
            item
        };
        match item.kind() {
            "function_declaration" | "generator_function_declaration"
                if item
                    .child_by_field_name("name")
                    .is_some_and(|n| file.text(n) == name) =>
            {
                return Some(item);
            }
            "lexical_declaration" | "variable_declaration" => {
                let mut c = item.walk();
                for d in item.named_children(&mut c) {
                    if d.child_by_field_name("name")
                        .is_some_and(|n| file.text(n) == name)
                        && let Some(value) = d.child_by_field_name("value")
                    {
                        return Some(strip_wrappers(value));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a node is something with a body and parameters (a function of any kind).
pub(crate) fn is_function(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "arrow_function"
            | "function_expression"
            | "function"
            | "function_declaration"
            | "method_definition"
            | "generator_function_declaration"
    )
}
