//! Reading Python migration files (Alembic, Django) with tree-sitter.
//!
//! What is shared: parsing a file, string literals decoded as Python decodes them
//! (prefixes, escapes, implicit concatenation, `textwrap.dedent`), the *static* value of
//! an expression (literals, lists, tuples, dicts, dotted names, calls on dotted names with
//! their positional and keyword arguments), and names bound once to such a value (at
//! module level or at the top of the enclosing function). Nothing dynamic is guessed: an
//! f-string with a replacement field, a `%` format, a loop variable or a name bound twice
//! evaluates to [`Value::Unknown`].

use std::collections::HashMap;
use tree_sitter::{Node, Parser, Tree};

/// Parses `src` as Python. `None` only when tree-sitter cannot run; syntax errors become
/// ERROR nodes.
pub(crate) fn parse(src: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
    parser.set_language(&language).ok()?;
    parser.parse(src, None)
}

/// A static value of a Python expression.
#[derive(Debug, Clone)]
pub(crate) enum Value<'t> {
    Str {
        text: String,
        /// Offset of `text[0]` in the file when the literal holds it byte for byte.
        verbatim_at: Option<usize>,
    },
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    /// A list or a tuple.
    List(Vec<Value<'t>>),
    Dict(Vec<(Value<'t>, Value<'t>)>),
    /// A dotted name (`sa.Integer`, `models.CASCADE`, `settings.AUTH_USER_MODEL`).
    Path(String),
    /// A call on a dotted name (`sa.String(50)`, `models.CharField(max_length=20)`).
    Call(Box<Call<'t>>),
    /// Anything else: its source text, shortened.
    Unknown(String),
}

/// A call with its arguments evaluated.
#[derive(Debug, Clone)]
pub(crate) struct Call<'t> {
    /// The callee as a dotted path (`op.add_column`, `op.get_context().autocommit_block`).
    pub func: String,
    pub args: Vec<Value<'t>>,
    pub kwargs: Vec<(String, Value<'t>)>,
    /// `*args` or `**kwargs` was passed: the arguments are not all known.
    pub splat: bool,
    /// The call node (its span is the statement's).
    pub node: Node<'t>,
}

impl<'t> Call<'t> {
    /// The last part of the callee (`add_column` for `op.add_column`).
    pub fn name(&self) -> &str {
        self.func.rsplit('.').next().unwrap_or(&self.func)
    }
    /// A keyword argument.
    pub fn kw(&self, key: &str) -> Option<&Value<'t>> {
        self.kwargs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    /// Positional argument `i`, or else keyword `key`.
    pub fn arg(&self, i: usize, key: &str) -> Option<&Value<'t>> {
        self.args.get(i).or_else(|| self.kw(key))
    }
    /// A keyword argument as a boolean (`None` when absent or not a literal boolean).
    pub fn kw_bool(&self, key: &str) -> Option<bool> {
        match self.kw(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    /// Whether every argument is static.
    pub fn is_static(&self) -> bool {
        !self.splat
            && self.args.iter().all(Value::is_static)
            && self.kwargs.iter().all(|(_, v)| v.is_static())
    }
}

impl<'t> Value<'t> {
    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }
    /// The call, when the value is one.
    pub fn as_call(&self) -> Option<&Call<'t>> {
        match self {
            Value::Call(c) => Some(c),
            _ => None,
        }
    }
    /// Whether the value is fully static (no unknown part anywhere).
    pub fn is_static(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::List(items) => items.iter().all(Value::is_static),
            Value::Dict(items) => items.iter().all(|(k, v)| k.is_static() && v.is_static()),
            Value::Call(c) => c.is_static(),
            _ => true,
        }
    }
    /// A list of strings (`['a', 'b']`, a tuple) or one string as a one-element list.
    pub fn str_list(&self) -> Option<Vec<String>> {
        match self {
            Value::Str { text, .. } => Some(vec![text.clone()]),
            Value::List(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => None,
        }
    }
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Str { text, .. } => shorten(&format!("{text:?}")),
            Value::Int(n) => n.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::None => "None".into(),
            Value::List(_) | Value::Dict(_) => "a collection".into(),
            Value::Path(p) => p.clone(),
            Value::Call(c) => format!("{}(…)", c.func),
            Value::Unknown(s) => s.clone(),
        }
    }
}

/// Shortens source text for a message (first line, at most 80 characters).
pub(crate) fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(80).collect();
    if out.len() < line.len() || text.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

/// A parsed Python file and its text.
pub(crate) struct PyFile<'s> {
    pub src: &'s str,
    pub tree: Tree,
}

/// Names bound once at the top of a function body, with the value node.
pub(crate) type Scope<'t> = HashMap<String, Option<Node<'t>>>;

impl<'s> PyFile<'s> {
    /// Parses `src`; `None` only if tree-sitter could not run.
    pub fn new(src: &'s str) -> Option<PyFile<'s>> {
        Some(PyFile {
            src,
            tree: parse(src)?,
        })
    }

    /// The module node.
    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    /// The source text of a node.
    pub fn text(&self, node: Node<'_>) -> &'s str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    /// The module-level statements (decorated definitions unwrapped).
    pub fn top_statements(&self) -> Vec<Node<'_>> {
        let root = self.root();
        let mut cursor = root.walk();
        root.named_children(&mut cursor)
            .map(|n| {
                if n.kind() == "decorated_definition" {
                    n.child_by_field_name("definition").unwrap_or(n)
                } else {
                    n
                }
            })
            .collect()
    }

    /// A module-level `def name(...)`.
    pub fn function(&self, name: &str) -> Option<Node<'_>> {
        self.top_statements().into_iter().find(|n| {
            n.kind() == "function_definition"
                && n.child_by_field_name("name").map(|x| self.text(x)) == Some(name)
        })
    }

    /// Names assigned in `block`'s direct statements (`name = value`, also with a type
    /// annotation). A name assigned twice maps to `None` (not a constant).
    pub fn bindings<'t>(&'t self, block: Node<'t>) -> Scope<'t> {
        let mut scope: Scope<'t> = HashMap::new();
        let mut cursor = block.walk();
        for stmt in block.named_children(&mut cursor) {
            if stmt.kind() != "expression_statement" {
                continue;
            }
            let Some(assign) = stmt.named_child(0).filter(|a| a.kind() == "assignment") else {
                continue;
            };
            let (Some(left), Some(right)) = (
                assign.child_by_field_name("left"),
                assign.child_by_field_name("right"),
            ) else {
                continue;
            };
            if left.kind() != "identifier" {
                continue;
            }
            let name = self.text(left).to_string();
            scope
                .entry(name)
                .and_modify(|v| *v = None)
                .or_insert(Some(right));
        }
        // A name also assigned deeper down (in a loop, a branch) is not a constant.
        let mut stack: Vec<Node<'t>> = Vec::new();
        let mut cursor = block.walk();
        for stmt in block.named_children(&mut cursor) {
            if stmt.kind() != "expression_statement" {
                stack.push(stmt);
            }
        }
        while let Some(node) = stack.pop() {
            match node.kind() {
                "function_definition" | "class_definition" | "lambda" => continue,
                "assignment"
                | "augmented_assignment"
                | "for_statement"
                | "with_item"
                | "named_expression" => {
                    let target = node
                        .child_by_field_name("left")
                        .or_else(|| node.child_by_field_name("name"))
                        .or_else(|| node.child_by_field_name("alias"));
                    if let Some(t) = target {
                        self.mark_targets(t, &mut scope);
                    }
                    if node.kind() == "with_item"
                        && let Some(v) = node.child_by_field_name("value")
                        && v.kind() == "as_pattern"
                        && let Some(alias) = v.child_by_field_name("alias")
                    {
                        self.mark_targets(alias, &mut scope);
                    }
                }
                _ => {}
            }
            let mut c = node.walk();
            for child in node.named_children(&mut c) {
                stack.push(child);
            }
        }
        scope
    }

    fn mark_targets<'t>(&'t self, target: Node<'t>, scope: &mut Scope<'t>) {
        let mut stack = vec![target];
        while let Some(n) = stack.pop() {
            if n.kind() == "identifier" {
                scope.insert(self.text(n).to_string(), None);
            }
            let mut c = n.walk();
            for child in n.named_children(&mut c) {
                stack.push(child);
            }
        }
    }

    /// Evaluates the static part of an expression, resolving names through `scopes`
    /// (innermost first).
    pub fn eval<'t>(&'t self, node: Node<'t>, scopes: &[&Scope<'t>]) -> Value<'t> {
        self.eval_depth(node, scopes, 0)
    }

    fn unknown(&self, node: Node<'_>) -> Value<'static> {
        Value::Unknown(shorten(self.text(node)))
    }

    fn eval_depth<'t>(&'t self, node: Node<'t>, scopes: &[&Scope<'t>], depth: usize) -> Value<'t> {
        if depth > 40 {
            return self.unknown(node);
        }
        let d = depth + 1;
        match node.kind() {
            "string" => self.string(node).unwrap_or_else(|| self.unknown(node)),
            "concatenated_string" => {
                let mut text = String::new();
                let mut cursor = node.walk();
                for part in node.named_children(&mut cursor) {
                    if part.kind() == "comment" {
                        continue;
                    }
                    match self.string(part) {
                        Some(Value::Str { text: t, .. }) => text.push_str(&t),
                        _ => return self.unknown(node),
                    }
                }
                Value::Str {
                    text,
                    verbatim_at: None,
                }
            }
            "integer" => {
                let t = self.text(node).replace('_', "").to_ascii_lowercase();
                let n = if let Some(h) = t.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).ok()
                } else if let Some(o) = t.strip_prefix("0o") {
                    i64::from_str_radix(o, 8).ok()
                } else if let Some(b) = t.strip_prefix("0b") {
                    i64::from_str_radix(b, 2).ok()
                } else {
                    t.parse().ok()
                };
                n.map(Value::Int).unwrap_or_else(|| self.unknown(node))
            }
            "float" => self
                .text(node)
                .replace('_', "")
                .parse()
                .map(Value::Float)
                .unwrap_or_else(|_| self.unknown(node)),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "none" => Value::None,
            "unary_operator" => {
                let op = node.child_by_field_name("operator").map(|o| self.text(o));
                match (
                    op,
                    node.child_by_field_name("argument")
                        .map(|a| self.eval_depth(a, scopes, d)),
                ) {
                    (Some("-"), Some(Value::Int(n))) => Value::Int(-n),
                    (Some("-"), Some(Value::Float(n))) => Value::Float(-n),
                    _ => self.unknown(node),
                }
            }
            "not_operator" => match node
                .child_by_field_name("argument")
                .map(|a| self.eval_depth(a, scopes, d))
            {
                Some(Value::Bool(b)) => Value::Bool(!b),
                _ => self.unknown(node),
            },
            "parenthesized_expression" => match node.named_child(0) {
                Some(inner) if inner.kind() != "comment" => self.eval_depth(inner, scopes, d),
                _ => self.unknown(node),
            },
            "binary_operator" => {
                let op = node.child_by_field_name("operator").map(|o| self.text(o));
                let (Some(l), Some(r)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) else {
                    return self.unknown(node);
                };
                match (
                    op,
                    self.eval_depth(l, scopes, d),
                    self.eval_depth(r, scopes, d),
                ) {
                    (Some("+"), Value::Str { text: a, .. }, Value::Str { text: b, .. }) => {
                        Value::Str {
                            text: a + &b,
                            verbatim_at: None,
                        }
                    }
                    (Some("+"), Value::List(mut a), Value::List(b)) => {
                        a.extend(b);
                        Value::List(a)
                    }
                    _ => self.unknown(node),
                }
            }
            "list" | "tuple" => {
                let mut items = Vec::new();
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "comment" => continue,
                        "list_splat" => return self.unknown(node),
                        _ => items.push(self.eval_depth(child, scopes, d)),
                    }
                }
                Value::List(items)
            }
            "dictionary" => {
                let mut items = Vec::new();
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "comment" => continue,
                        "pair" => {
                            let (Some(k), Some(v)) = (
                                child.child_by_field_name("key"),
                                child.child_by_field_name("value"),
                            ) else {
                                return self.unknown(node);
                            };
                            items.push((
                                self.eval_depth(k, scopes, d),
                                self.eval_depth(v, scopes, d),
                            ));
                        }
                        _ => return self.unknown(node),
                    }
                }
                Value::Dict(items)
            }
            "identifier" => {
                let name = self.text(node);
                for scope in scopes {
                    match scope.get(name) {
                        Some(Some(value)) if value.id() != node.id() => {
                            return self.eval_depth(*value, scopes, d);
                        }
                        Some(_) => return Value::Unknown(name.to_string()),
                        None => {}
                    }
                }
                Value::Path(name.to_string())
            }
            "attribute" => match self.path_of(node) {
                Some(path) => Value::Path(path),
                None => self.unknown(node),
            },
            "call" => match self.call_depth(node, scopes, d) {
                Some(call) => {
                    // `textwrap.dedent("…")` is how long SQL is often written.
                    if matches!(call.func.as_str(), "dedent" | "textwrap.dedent")
                        && call.args.len() == 1
                        && let Some(text) = call.args[0].as_str()
                    {
                        return Value::Str {
                            text: dedent(text),
                            verbatim_at: None,
                        };
                    }
                    Value::Call(Box::new(call))
                }
                None => self.unknown(node),
            },
            _ => self.unknown(node),
        }
    }

    /// A call node with its callee path and evaluated arguments; `None` when the callee is
    /// not a dotted path (a subscript, a lambda).
    pub fn call<'t>(&'t self, node: Node<'t>, scopes: &[&Scope<'t>]) -> Option<Call<'t>> {
        self.call_depth(node, scopes, 0)
    }

    fn call_depth<'t>(
        &'t self,
        node: Node<'t>,
        scopes: &[&Scope<'t>],
        depth: usize,
    ) -> Option<Call<'t>> {
        if node.kind() != "call" {
            return None;
        }
        let function = node.child_by_field_name("function")?;
        let func = self.path_of(function)?;
        let arguments = node.child_by_field_name("arguments")?;
        let mut call = Call {
            func,
            args: Vec::new(),
            kwargs: Vec::new(),
            splat: false,
            node,
        };
        if arguments.kind() != "argument_list" {
            // A generator expression as the only argument.
            call.args.push(self.unknown(arguments));
            return Some(call);
        }
        let mut cursor = arguments.walk();
        for arg in arguments.named_children(&mut cursor) {
            match arg.kind() {
                "comment" => {}
                "keyword_argument" => {
                    let (Some(k), Some(v)) = (
                        arg.child_by_field_name("name"),
                        arg.child_by_field_name("value"),
                    ) else {
                        call.splat = true;
                        continue;
                    };
                    call.kwargs.push((
                        self.text(k).to_string(),
                        self.eval_depth(v, scopes, depth + 1),
                    ));
                }
                "list_splat" | "dictionary_splat" => call.splat = true,
                _ => call.args.push(self.eval_depth(arg, scopes, depth + 1)),
            }
        }
        Some(call)
    }

    /// The dotted path of a name, an attribute chain, or a chain through argument-less
    /// calls (`op.get_context().autocommit_block`).
    pub fn path_of(&self, node: Node<'_>) -> Option<String> {
        match node.kind() {
            "identifier" => Some(self.text(node).to_string()),
            "attribute" => {
                let object = node.child_by_field_name("object")?;
                let attr = node.child_by_field_name("attribute")?;
                Some(format!("{}.{}", self.path_of(object)?, self.text(attr)))
            }
            "call" => {
                let function = node.child_by_field_name("function")?;
                let args = node.child_by_field_name("arguments")?;
                if args.named_child_count() > 0 {
                    return None;
                }
                Some(format!("{}()", self.path_of(function)?))
            }
            _ => None,
        }
    }

    /// Decodes one string literal (`string` node). `None` for an f-string with a
    /// replacement field or an escape we do not decode.
    fn string<'t>(&self, node: Node<'_>) -> Option<Value<'t>> {
        if node.kind() != "string" {
            return None;
        }
        let raw = self.text(node);
        let prefix_len = raw.find(['\'', '"'])?;
        let prefix = raw[..prefix_len].to_ascii_lowercase();
        let rest = &raw[prefix_len..];
        let quote = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            &rest[..3]
        } else {
            &rest[..1]
        };
        if rest.len() < 2 * quote.len() || !rest.ends_with(quote) {
            return None;
        }
        let inner_start = node.start_byte() + prefix_len + quote.len();
        let inner = &rest[quote.len()..rest.len() - quote.len()];
        let raw_string = prefix.contains('r');
        if prefix.contains('f') || prefix.contains('t') {
            let mut cursor = node.walk();
            if node
                .named_children(&mut cursor)
                .any(|c| c.kind() == "interpolation")
            {
                return None;
            }
        }
        let mut text = if raw_string {
            inner.to_string()
        } else {
            decode_escapes(inner)?
        };
        if prefix.contains('f') {
            text = text.replace("{{", "{").replace("}}", "}");
        }
        let verbatim_at = (text == inner).then_some(inner_start);
        Some(Value::Str { text, verbatim_at })
    }
}

/// Python's escape sequences in a non-raw string.
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
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| chars.next()).collect();
                let code = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(code)?);
            }
            '0'..='7' => {
                let mut oct = e.to_string();
                while oct.len() < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                    oct.extend(chars.next());
                }
                out.push(char::from_u32(u32::from_str_radix(&oct, 8).ok()?)?);
            }
            'N' => return None,
            other => {
                // Python keeps an unknown escape as written.
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// `textwrap.dedent`: removes the common leading whitespace of the non-blank lines, and
/// turns whitespace-only lines into empty ones.
pub(crate) fn dedent(text: &str) -> String {
    let margin = text
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
        .fold(None::<&str>, |acc, ws| match acc {
            None => Some(ws),
            Some(a) => {
                let common = a
                    .bytes()
                    .zip(ws.bytes())
                    .take_while(|(x, y)| x == y)
                    .count();
                Some(&a[..common])
            }
        })
        .unwrap_or("");
    text.split('\n')
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                l.strip_prefix(margin).unwrap_or(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_src(src: &str) -> String {
        let file = PyFile::new(src).unwrap();
        let scope = file.bindings(file.root());
        let stmt = file.top_statements().pop().unwrap();
        let expr = stmt.named_child(0).unwrap();
        format!("{:?}", file.eval(expr, &[&scope]))
    }

    #[test]
    fn strings_decode_as_python_does() {
        assert!(eval_src("'a\\nb'").contains("text: \"a\\nb\""));
        assert!(eval_src("r'a\\nb'").contains("text: \"a\\\\nb\""));
        assert!(eval_src("'a' 'b'").contains("text: \"ab\""));
        assert!(eval_src("x = 1\nf'{x}'").starts_with("Unknown"));
        assert!(eval_src("f'a{{b}}'").contains("text: \"a{b}\""));
        assert!(eval_src("T = 'users'\nT").contains("text: \"users\""));
        assert!(eval_src("T = 'a'\nT = 'b'\nT").starts_with("Unknown"));
        assert!(eval_src("'%s' % 'x'").starts_with("Unknown"));
    }

    #[test]
    fn dedent_removes_common_margin() {
        assert_eq!(dedent("\n    a\n      b\n    "), "\na\n  b\n");
    }
}
