//! Ruby literals as a migration writes them: symbols, strings (with Ruby's escape rules,
//! heredocs, `%q{}`), numbers, booleans, arrays, hashes and `-> { "SQL" }` lambdas. What is
//! not a literal (a variable, a method call, an interpolated string) is kept as
//! [`Value::Dynamic`] with its source text, so the caller can say what it did not analyse.

use std::collections::HashMap;
use tree_sitter::Node;

/// A literal argument of a migration call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Sym(String),
    Str(RubyStr),
    Int(i64),
    Float(String),
    Bool(bool),
    Nil,
    Array(Vec<Value>),
    Hash(Vec<(String, Value)>),
    /// `-> { "now()" }`: Rails' way of writing a SQL expression as a default.
    Lambda(Option<String>),
    /// Anything computed at run time; the text is the Ruby source, for messages.
    Dynamic(String),
}

/// A string literal after Ruby's rules.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RubyStr {
    pub text: String,
    /// Where `text` starts in the file when it is there byte for byte.
    pub verbatim_at: Option<usize>,
}

impl Value {
    /// The text of a symbol or a string (`:users`, `"users"`).
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Value::Sym(s) => Some(s),
            Value::Str(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The value as a list of names (`:a`, `[:a, :b]`, `%i[a b]`).
    pub(crate) fn names(&self) -> Option<Vec<String>> {
        match self {
            Value::Array(items) => items.iter().map(|v| v.name().map(str::to_string)).collect(),
            other => other.name().map(|n| vec![n.to_string()]),
        }
    }

    pub(crate) fn is_truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }
}

/// Reads Ruby source nodes; `heredocs` maps a heredoc's opening (`<<~SQL`) to its body.
pub(crate) struct Reader<'a> {
    pub src: &'a str,
    heredocs: HashMap<usize, Node<'a>>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(src: &'a str, root: Node<'a>) -> Self {
        let mut starts = Vec::new();
        let mut bodies = Vec::new();
        collect_heredocs(root, &mut starts, &mut bodies);
        // Bodies follow their openings in the order the openings appear.
        let heredocs = starts.into_iter().zip(bodies).collect();
        Reader { src, heredocs }
    }

    pub(crate) fn text(&self, node: Node) -> &'a str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    /// The value of an argument node.
    pub(crate) fn value(&self, node: Node<'a>) -> Value {
        let text = self.text(node);
        match node.kind() {
            "simple_symbol" => Value::Sym(text.trim_start_matches(':').to_string()),
            "hash_key_symbol" => Value::Sym(text.to_string()),
            "delimited_symbol" => match self.string(node) {
                Some(s) => Value::Sym(s.text),
                None => Value::Dynamic(text.to_string()),
            },
            "string" | "chained_string" | "heredoc_beginning" => match self.string(node) {
                Some(s) => Value::Str(s),
                None => Value::Dynamic(text.to_string()),
            },
            "integer" => match text.replace('_', "").parse() {
                Ok(n) => Value::Int(n),
                Err(_) => Value::Dynamic(text.to_string()),
            },
            "float" => Value::Float(text.replace('_', "")),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "nil" => Value::Nil,
            "unary" => {
                let inner = node.child_by_field_name("operand");
                let op = node.child_by_field_name("operator").map(|o| self.text(o));
                match (op, inner.map(|n| self.value(n))) {
                    (Some("-"), Some(Value::Int(n))) => Value::Int(-n),
                    (Some("-"), Some(Value::Float(f))) => Value::Float(format!("-{f}")),
                    _ => Value::Dynamic(text.to_string()),
                }
            }
            "parenthesized_statements" => {
                let mut cursor = node.walk();
                let inner: Vec<Node> = node.named_children(&mut cursor).collect();
                match inner.as_slice() {
                    [one] => self.value(*one),
                    _ => Value::Dynamic(text.to_string()),
                }
            }
            "array" | "symbol_array" | "string_array" => {
                let mut cursor = node.walk();
                let mut items = Vec::new();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "comment" => {}
                        // `%i[a b]`, `%w[a b]`: words.
                        "bare_symbol" => items.push(Value::Sym(self.text(child).to_string())),
                        "bare_string" => items.push(Value::Str(RubyStr {
                            text: self.text(child).to_string(),
                            verbatim_at: None,
                        })),
                        _ => items.push(self.value(child)),
                    }
                }
                Value::Array(items)
            }
            "hash" => {
                let mut cursor = node.walk();
                let mut pairs = Vec::new();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "pair" => match self.pair(child) {
                            Some(p) => pairs.push(p),
                            None => return Value::Dynamic(text.to_string()),
                        },
                        "comment" => {}
                        _ => return Value::Dynamic(text.to_string()),
                    }
                }
                Value::Hash(pairs)
            }
            "lambda" => Value::Lambda(self.lambda_string(node)),
            _ => Value::Dynamic(text.to_string()),
        }
    }

    /// A `key: value` / `:key => value` / `"key" => value` pair.
    pub(crate) fn pair(&self, node: Node<'a>) -> Option<(String, Value)> {
        let key = node.child_by_field_name("key")?;
        let value = node.child_by_field_name("value")?;
        let key = match self.value(key) {
            Value::Sym(s) => s,
            Value::Str(s) => s.text,
            _ => return None,
        };
        Some((key, self.value(value)))
    }

    /// `-> { "now()" }` / `lambda { 'CURRENT_TIMESTAMP' }`: the string it returns.
    fn lambda_string(&self, node: Node<'a>) -> Option<String> {
        let body = node.child_by_field_name("body")?;
        let inner = body.child_by_field_name("body").unwrap_or(body);
        let mut cursor = inner.walk();
        let statements: Vec<Node> = inner
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .collect();
        match statements.as_slice() {
            [one] => match self.value(*one) {
                Value::Str(s) => Some(s.text),
                _ => None,
            },
            _ => None,
        }
    }

    /// The text of a string literal; `None` when it interpolates (`#{…}`).
    pub(crate) fn string(&self, node: Node<'a>) -> Option<RubyStr> {
        match node.kind() {
            "chained_string" => {
                let mut cursor = node.walk();
                let mut text = String::new();
                for part in node.named_children(&mut cursor) {
                    text.push_str(&self.string(part)?.text);
                }
                Some(RubyStr {
                    text,
                    verbatim_at: None,
                })
            }
            "heredoc_beginning" => {
                let body = *self.heredocs.get(&node.start_byte())?;
                let raw = !self.text(node).contains(['\'']);
                self.parts(body, raw, true)
            }
            _ => {
                let opening = self.text(node);
                // Single-quoted and %q strings process only \\ and \'.
                let single = opening.starts_with('\'') || opening.starts_with("%q");
                self.parts(node, !single, false)
            }
        }
    }

    /// Joins the content of a string or heredoc body, applying escapes.
    fn parts(&self, node: Node<'a>, double: bool, heredoc: bool) -> Option<RubyStr> {
        let mut cursor = node.walk();
        let mut text = String::new();
        let mut verbatim = true;
        let mut first: Option<usize> = None;
        let mut content_end: Option<usize> = None;
        for part in node.named_children(&mut cursor) {
            match part.kind() {
                "interpolation" => return None,
                "string_content" | "heredoc_content" => {
                    let raw = self.text(part);
                    first.get_or_insert(part.start_byte());
                    content_end = Some(part.end_byte());
                    if raw.contains('\\') {
                        verbatim = false;
                        text.push_str(&unescape(raw, double));
                    } else {
                        text.push_str(raw);
                    }
                }
                "escape_sequence" => {
                    verbatim = false;
                    first.get_or_insert(part.start_byte());
                    text.push_str(&unescape(self.text(part), true));
                }
                "heredoc_end" => {}
                _ => return None,
            }
        }
        if heredoc {
            // The body node starts at the end of the opening line; content runs to the
            // terminator. Keeping the indentation of `<<~` leaves the SQL unchanged.
            if verbatim && let (Some(start), Some(end)) = (first, content_end) {
                return Some(RubyStr {
                    text: self.src.get(start..end)?.to_string(),
                    verbatim_at: Some(start),
                });
            }
        }
        let verbatim_at = if verbatim {
            Some(first.unwrap_or(node.start_byte()))
        } else {
            None
        };
        Some(RubyStr { text, verbatim_at })
    }
}

fn collect_heredocs<'a>(node: Node<'a>, starts: &mut Vec<usize>, bodies: &mut Vec<Node<'a>>) {
    match node.kind() {
        "heredoc_beginning" => starts.push(node.start_byte()),
        "heredoc_body" => bodies.push(node),
        _ => {}
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_heredocs(child, starts, bodies);
    }
}

/// Ruby's backslash escapes: in double-quoted strings the usual ones; in single-quoted
/// strings only `\\` and `\'`.
fn unescape(raw: &str, double: bool) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            out.push('\\');
            break;
        };
        if !double {
            if next != '\\' && next != '\'' {
                out.push('\\');
            }
            out.push(next);
            continue;
        }
        match next {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            's' => out.push(' '),
            '0' => out.push('\0'),
            'e' => out.push('\u{1b}'),
            // A backslash-newline joins lines.
            '\n' => {}
            other => out.push(other),
        }
    }
    out
}
