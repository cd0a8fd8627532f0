//! Alembic `versions/*.py`: revision files read statically.
//!
//! Order: `revision` / `down_revision` (a tuple for a merge) and `depends_on` form a
//! graph (petgraph); migrations come out in a topological order, ties broken by file path,
//! so branches and merges are ordered as Alembic allows and the same way every run.
//!
//! Each `op.*` call of `upgrade()` / `downgrade()` becomes one [`HostStatement`]: the SQL
//! Alembic's PostgreSQL dialect would emit for it is rendered (SQLAlchemy's type names,
//! quoting, constraint order) and lowered by the SQL parser, so its ops are exactly those
//! of `alembic upgrade --sql` (tests/frontend_alembic.rs checks this against Alembic).
//! `op.execute("…")` is raw SQL with spans inside the literal. Statements inside
//! `with op.get_context().autocommit_block():` run outside the migration's transaction:
//! the migration is then marked as not wrapped, and the `BEGIN` / `COMMIT` Alembic emits
//! around the block become ops. Loops, branches, helper calls, f-strings and unknown
//! types are reported as not analysed, never guessed.

use super::files::{Entry, Inputs};
use super::host::{HostBody, HostStatement};
use super::python::{Call, PyFile, Scope, Value, shorten};
use super::{Migration, MigrationKind, Script, SourceError};
use crate::ops::Op;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Whether the file text looks like an Alembic revision.
fn is_revision_text(text: &str) -> bool {
    text.contains("down_revision") && text.contains("revision")
}

fn is_candidate(entry: &Entry) -> bool {
    let name = entry.file_name();
    name.ends_with(".py")
        && name != "__init__.py"
        && (entry.explicit
            || entry.path.parent().and_then(|p| p.file_name()) == Some("versions".as_ref()))
}

/// Evidence that `entries` are this framework's migrations, for layout detection.
pub(crate) fn detect(entries: &[Entry]) -> Option<String> {
    let n = entries
        .iter()
        .filter(|e| is_candidate(e))
        .filter(|e| std::fs::read_to_string(&e.path).is_ok_and(|t| is_revision_text(&t)))
        .count();
    (n > 0).then(|| format!("{n} Alembic revision file(s) (`down_revision =`)"))
}

/// Whether `dir` is a migration folder of this framework (for `lockstep lint .`): a
/// `versions` folder of revision files, or the Alembic environment holding one
/// (`env.py` next to `versions/`).
pub(crate) fn is_folder(dir: &Path) -> bool {
    let has_revisions = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|read| {
            read.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".py")
                    && name != "__init__.py"
                    && std::fs::read_to_string(e.path()).is_ok_and(|t| is_revision_text(&t))
            })
        })
    };
    if dir.file_name().is_some_and(|n| n == "versions") {
        return has_revisions(dir);
    }
    dir.join("env.py").is_file() && has_revisions(&dir.join("versions"))
}

/// One revision file before ordering.
struct Revision {
    path: std::path::PathBuf,
    text: Arc<str>,
    revision: String,
    down: Vec<String>,
    depends_on: Vec<String>,
}

/// Reads the migrations in apply order.
pub(crate) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut entries: Vec<Entry> = inputs.entries.clone();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut revisions: Vec<Revision> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in entries {
        if !is_candidate(&entry) {
            let name = entry.file_name();
            if !(name.ends_with(".pyc") || name == "__init__.py") {
                inputs.ignore(&entry.path, "not an Alembic revision file (versions/*.py)");
            }
            continue;
        }
        let text = inputs.text(&entry.path)?;
        let Some(file) = PyFile::new(&text) else {
            inputs.ignore(&entry.path, "could not be parsed as Python");
            continue;
        };
        let scope = file.bindings(file.root());
        let value = |name: &str| -> Option<Value<'_>> {
            let node = scope.get(name).copied().flatten()?;
            Some(file.eval(node, &[&scope]))
        };
        let Some(revision) = value("revision").and_then(|v| v.as_str().map(str::to_string)) else {
            inputs.ignore(
                &entry.path,
                "no `revision = \"…\"` (not an Alembic revision)",
            );
            continue;
        };
        let ids = |v: Option<Value<'_>>| -> Vec<String> {
            match v {
                Some(v) => v.str_list().unwrap_or_default(),
                None => Vec::new(),
            }
        };
        let down = ids(value("down_revision"));
        let depends_on = ids(value("depends_on"));
        if let Some(first) = seen.get(&revision) {
            inputs.warn(format!(
                "{}: duplicate-version: revision {revision} is also defined by {}; the \
                 first is used",
                entry.path.display(),
                revisions[*first].path.display()
            ));
            continue;
        }
        seen.insert(revision.clone(), revisions.len());
        revisions.push(Revision {
            path: entry.path.clone(),
            text: text.clone(),
            revision,
            down,
            depends_on,
        });
    }
    let order = apply_order(&revisions, &mut inputs.warnings);
    let mut migrations = Vec::new();
    for i in order {
        migrations.push(migration(&revisions[i]));
    }
    Ok(migrations)
}

/// Topological order of the revision graph (parents before children), ties broken by
/// file path; a cycle (which Alembic refuses) is warned about and read in path order.
fn apply_order(revisions: &[Revision], warnings: &mut Vec<String>) -> Vec<usize> {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..revisions.len()).map(|i| graph.add_node(i)).collect();
    let index: HashMap<&str, usize> = revisions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.revision.as_str(), i))
        .collect();
    for (i, r) in revisions.iter().enumerate() {
        for parent in r.down.iter().chain(&r.depends_on) {
            if let Some(&p) = index.get(parent.as_str())
                && p != i
            {
                graph.update_edge(nodes[p], nodes[i], ());
            }
        }
    }
    let mut indegree: Vec<usize> = nodes
        .iter()
        .map(|n| {
            graph
                .neighbors_directed(*n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BTreeSet<usize> = (0..revisions.len()).filter(|i| indegree[*i] == 0).collect();
    let mut order = Vec::with_capacity(revisions.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for child in graph.neighbors_directed(nodes[i], petgraph::Direction::Outgoing) {
            let c = graph[child];
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() < revisions.len() {
        let rest: Vec<usize> = (0..revisions.len())
            .filter(|i| !order.contains(i))
            .collect();
        warnings.push(format!(
            "{}: the revisions' down_revision links form a cycle (Alembic refuses this); \
             {} revision(s) read in file order",
            revisions[rest[0]].path.display(),
            rest.len()
        ));
        order.extend(rest);
    }
    order
}

fn migration(rev: &Revision) -> Migration {
    let stem = rev
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    let name = stem
        .strip_prefix(&rev.revision)
        .map(|s| s.trim_start_matches('_').to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or(stem);
    let file = PyFile::new(&rev.text);
    let read = |fname: &str| -> Option<(std::ops::Range<usize>, Vec<HostStatement>, bool)> {
        let file = file.as_ref()?;
        let def = file.function(fname)?;
        let body = def.child_by_field_name("body")?;
        let module = file.bindings(file.root());
        let mut walk = Walk {
            file,
            module,
            out: Vec::new(),
            autocommit: false,
        };
        let local = file.bindings(body);
        walk.block(body, &local, None);
        Some((def.byte_range(), walk.out, walk.autocommit))
    };
    let (up_range, mut up_calls, autocommit) = read("upgrade").unwrap_or_else(|| {
        (
            0..rev.text.len(),
            vec![HostStatement {
                span: 0..0,
                body: HostBody::NotAnalysed {
                    what: "revision file without an upgrade() function".into(),
                },
            }],
            false,
        )
    });
    let down = read("downgrade");
    let down_autocommit = down.as_ref().is_some_and(|d| d.2);
    // With an autocommit block the migration is no longer one transaction: the parts
    // before and after the block run in the transactions Alembic's BEGIN/COMMIT delimit.
    let in_transaction = !autocommit;
    if autocommit {
        wrap_outside_blocks(&mut up_calls, up_range.clone());
    }
    let down = down.map(|(range, mut calls, _)| {
        if down_autocommit {
            wrap_outside_blocks(&mut calls, range.clone());
        } else if autocommit {
            wrap_all(&mut calls, range.clone());
        }
        Script::host(&rev.path, rev.text.clone(), range, calls)
    });
    Migration {
        id: rev.revision.clone(),
        version: rev.revision.clone(),
        name,
        order: 0,
        kind: MigrationKind::Versioned,
        up: Script::host(&rev.path, rev.text.clone(), up_range, up_calls),
        down,
        in_transaction,
    }
}

/// Marker ops the walk puts around an autocommit block (replaced by [`wrap_outside_blocks`]).
fn is_tx(call: &HostStatement) -> Option<&Op> {
    match &call.body {
        HostBody::Ops(ops) if ops.len() == 1 && matches!(ops[0], Op::Commit | Op::Begin) => {
            Some(&ops[0])
        }
        _ => None,
    }
}

/// In a script with autocommit blocks (which the walk delimits with COMMIT … BEGIN, as
/// Alembic's offline SQL does), the parts outside the blocks get the transaction the
/// framework opens for them: a BEGIN at the start and a COMMIT at the end of the function
/// when anything runs there. Empty BEGIN … COMMIT pairs are dropped.
fn wrap_outside_blocks(calls: &mut Vec<HostStatement>, range: std::ops::Range<usize>) {
    let begin = HostStatement {
        span: range.start..range.start,
        body: HostBody::Ops(vec![Op::Begin]),
    };
    let commit = HostStatement {
        span: range.end..range.end,
        body: HostBody::Ops(vec![Op::Commit]),
    };
    let mut all = Vec::with_capacity(calls.len() + 2);
    all.push(begin);
    all.append(calls);
    all.push(commit);
    // Drop BEGIN immediately followed by COMMIT (nothing ran in that transaction).
    let mut out: Vec<HostStatement> = Vec::with_capacity(all.len());
    for call in all {
        if matches!(is_tx(&call), Some(Op::Commit))
            && out
                .last()
                .is_some_and(|l| matches!(is_tx(l), Some(Op::Begin)))
        {
            out.pop();
            continue;
        }
        out.push(call);
    }
    *calls = out;
}

/// A script of a migration that is not wrapped, whose calls all run in one transaction.
fn wrap_all(calls: &mut Vec<HostStatement>, range: std::ops::Range<usize>) {
    if calls.is_empty() {
        return;
    }
    calls.insert(
        0,
        HostStatement {
            span: range.start..range.start,
            body: HostBody::Ops(vec![Op::Begin]),
        },
    );
    calls.push(HostStatement {
        span: range.end..range.end,
        body: HostBody::Ops(vec![Op::Commit]),
    });
}

/// The walk over a function body.
struct Walk<'t> {
    file: &'t PyFile<'t>,
    module: Scope<'t>,
    out: Vec<HostStatement>,
    /// An autocommit block was met.
    autocommit: bool,
}

/// `with op.batch_alter_table("t") as batch_op:`: the alias and the table it alters.
#[derive(Clone)]
struct Batch {
    alias: String,
    table: String,
    schema: Option<String>,
}

impl<'t> Walk<'t> {
    fn not_analysed(&mut self, node: tree_sitter::Node<'_>, what: String) {
        self.out.push(HostStatement {
            span: node.byte_range(),
            body: HostBody::NotAnalysed { what },
        });
    }

    fn block(&mut self, block: tree_sitter::Node<'t>, local: &Scope<'t>, batch: Option<&Batch>) {
        let mut cursor = block.walk();
        let stmts: Vec<_> = block.named_children(&mut cursor).collect();
        for stmt in stmts {
            self.statement(stmt, local, batch);
        }
    }

    fn statement(&mut self, stmt: tree_sitter::Node<'t>, local: &Scope<'t>, batch: Option<&Batch>) {
        let file = self.file;
        match stmt.kind() {
            "comment"
            | "pass_statement"
            | "import_statement"
            | "import_from_statement"
            | "future_import_statement"
            | "global_statement"
            | "nonlocal_statement" => {}
            "return_statement" if stmt.named_child_count() == 0 => {}
            "expression_statement" => {
                let Some(expr) = stmt.named_child(0) else {
                    return;
                };
                match expr.kind() {
                    // A docstring.
                    "string" | "concatenated_string" => {}
                    "call" => self.call_statement(expr, local, batch),
                    "assignment" => {
                        let Some(right) = expr.child_by_field_name("right") else {
                            return;
                        };
                        if self.is_definition(right, local) {
                            return;
                        }
                        if right.kind() == "call"
                            && let Some(call) = file.call(right, &[local, &self.module])
                            && self.sql_call(&call).is_some()
                        {
                            // `result = conn.execute("…")`: the SQL is still run.
                            self.call_statement(right, local, batch);
                            return;
                        }
                        self.not_analysed(
                            stmt,
                            format!("assignment `{}`", shorten(file.text(expr))),
                        );
                    }
                    _ => self
                        .not_analysed(stmt, format!("expression `{}`", shorten(file.text(expr)))),
                }
            }
            "with_statement" => self.with_statement(stmt, local, batch),
            other => {
                let what = match other {
                    "for_statement" | "while_statement" => "loop",
                    "if_statement" | "match_statement" => "conditional",
                    "try_statement" => "try block",
                    "function_definition" | "decorated_definition" => "nested function",
                    _ => "statement",
                };
                self.not_analysed(
                    stmt,
                    format!(
                        "{what} `{}` (Python code is not run)",
                        shorten(file.text(stmt))
                    ),
                );
            }
        }
    }

    /// A right-hand side that only defines something for later calls (a static value,
    /// the connection, a lightweight table for `bulk_insert`).
    fn is_definition(&self, right: tree_sitter::Node<'t>, local: &Scope<'t>) -> bool {
        let value = self.file.eval(right, &[local, &self.module]);
        if value.is_static() && !matches!(value, Value::Call(_)) {
            return true;
        }
        match value {
            Value::Call(c) => {
                matches!(
                    c.func.as_str(),
                    "op.get_bind" | "op.get_context" | "sa.MetaData" | "MetaData"
                ) || matches!(c.name(), "table" | "Table" | "column" | "inspect")
            }
            Value::Path(_) => true,
            _ => false,
        }
    }

    fn with_statement(
        &mut self,
        stmt: tree_sitter::Node<'t>,
        local: &Scope<'t>,
        batch: Option<&Batch>,
    ) {
        let file = self.file;
        let Some(body) = stmt.child_by_field_name("body") else {
            return;
        };
        let items: Vec<tree_sitter::Node<'t>> = stmt
            .named_children(&mut stmt.walk())
            .filter(|c| c.kind() == "with_clause")
            .flat_map(|c| {
                let mut cur = c.walk();
                c.named_children(&mut cur)
                    .filter(|i| i.kind() == "with_item")
                    .collect::<Vec<_>>()
            })
            .collect();
        if items.len() != 1 {
            self.not_analysed(stmt, format!("`{}`", shorten(file.text(stmt))));
            return;
        }
        let Some(value) = items[0].child_by_field_name("value") else {
            return;
        };
        let (expr, alias) = if value.kind() == "as_pattern" {
            let alias = value
                .child_by_field_name("alias")
                .map(|a| file.text(a).trim().to_string());
            (value.named_child(0).unwrap_or(value), alias)
        } else {
            (value, None)
        };
        let Some(call) = file.call(expr, &[local, &self.module]) else {
            self.not_analysed(stmt, format!("`{}`", shorten(file.text(stmt))));
            return;
        };
        if call.func.ends_with("get_context().autocommit_block") {
            self.autocommit = true;
            self.out.push(HostStatement {
                span: stmt.start_byte()..stmt.start_byte(),
                body: HostBody::Ops(vec![Op::Commit]),
            });
            self.block(body, local, batch);
            self.out.push(HostStatement {
                span: stmt.end_byte()..stmt.end_byte(),
                body: HostBody::Ops(vec![Op::Begin]),
            });
            return;
        }
        if call.func == "op.batch_alter_table" {
            let table = call.arg(0, "table_name").and_then(|v| v.as_str());
            let schema = match call.kw("schema") {
                None | Some(Value::None) => Some(None),
                Some(v) => v.as_str().map(|s| Some(s.to_string())),
            };
            // `recreate="always"` copies the table (the SQLite idiom); on PostgreSQL the
            // default only issues ALTERs.
            let recreate = call.kw("recreate").and_then(|v| v.as_str());
            if let (Some(table), Some(schema), Some(alias), None | Some("auto" | "never")) =
                (table, schema, alias, recreate)
            {
                let batch = Batch {
                    alias,
                    table: table.to_string(),
                    schema,
                };
                self.block(body, local, Some(&batch));
                return;
            }
        }
        self.not_analysed(stmt, format!("`{}`", shorten(file.text(stmt))));
    }

    /// `conn.execute(...)` / `op.execute(...)` / `op.get_bind().execute(...)`: the SQL.
    fn sql_call(&self, call: &Call<'t>) -> Option<()> {
        (call.name() == "execute" || call.name() == "exec_driver_sql").then_some(())
    }

    fn call_statement(
        &mut self,
        expr: tree_sitter::Node<'t>,
        local: &Scope<'t>,
        batch: Option<&Batch>,
    ) {
        let file = self.file;
        let Some(call) = file.call(expr, &[local, &self.module]) else {
            self.not_analysed(expr, format!("call `{}`", shorten(file.text(expr))));
            return;
        };
        let span = call.node.byte_range();
        let receiver = call.func.rsplit_once('.').map(|(r, _)| r).unwrap_or("");
        // Output only.
        if call.func == "print"
            || receiver.starts_with("log")
            || receiver.ends_with("logger")
            || receiver.ends_with("logging")
        {
            return;
        }
        if self.sql_call(&call).is_some() {
            let body = match call.args.first() {
                Some(v) if call.args.len() == 1 => sql_body(v),
                _ => None,
            };
            self.out.push(HostStatement {
                span,
                body: body.unwrap_or_else(|| HostBody::NotAnalysed {
                    what: format!("`{}` with SQL built at run time", shorten(file.text(expr))),
                }),
            });
            return;
        }
        let (method, batch) = match batch {
            Some(b) if receiver == b.alias => (call.name(), Some(b)),
            _ if receiver == "op" => (call.name(), None),
            _ => {
                self.not_analysed(
                    expr,
                    format!(
                        "call `{}` (not an Alembic operation)",
                        shorten(file.text(expr))
                    ),
                );
                return;
            }
        };
        let body = match render(method, &call, batch) {
            Ok(sql) => lower(&sql),
            Err(why) => HostBody::NotAnalysed {
                what: format!("`{}`: {why}", shorten(file.text(expr))),
            },
        };
        self.out.push(HostStatement { span, body });
    }
}

/// The SQL of `op.execute(...)`: a string or `sa.text("…")`.
fn sql_body(v: &Value<'_>) -> Option<HostBody> {
    let (text, verbatim_at) = match v {
        Value::Str { text, verbatim_at } => (text.clone(), *verbatim_at),
        Value::Call(c) if matches!(c.name(), "text") && c.args.len() == 1 => match &c.args[0] {
            // `sa.text` treats `\:` as an escaped colon and `:name` as a bind; offline
            // SQL keeps the rest as written.
            Value::Str { text, verbatim_at } => {
                let unescaped = text.replace("\\:", ":");
                let at = if unescaped == *text {
                    *verbatim_at
                } else {
                    None
                };
                (unescaped, at)
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(HostBody::Sql { text, verbatim_at })
}

/// Lowers rendered SQL through the SQL parser into one call's ops.
fn lower(statements: &[String]) -> HostBody {
    let mut ops = Vec::new();
    for sql in statements {
        for stmt in crate::parse::parse_sql(sql) {
            if stmt.parsed_by == crate::parse::ParsedBy::Unparsed {
                return HostBody::NotAnalysed {
                    what: format!("generated SQL not understood: {}", shorten(sql)),
                };
            }
            ops.extend(stmt.ops);
        }
    }
    HostBody::Ops(ops)
}

// ---------------------------------------------------------------------------------------
// Rendering: the SQL Alembic's PostgreSQL implementation emits for each operation.

type R<T> = Result<T, String>;

/// A quoted identifier (SQLAlchemy quotes only when needed; quoting always reads the same).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An identifier quoted only when SQLAlchemy would quote it (where the text is kept, as in
/// a type name).
fn sa_quote(name: &str) -> String {
    let legal = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if legal { name.to_string() } else { ident(name) }
}

fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", ident(s), ident(name)),
        None => ident(name),
    }
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn need_str<'a>(v: Option<&'a Value<'_>>, what: &str) -> R<&'a str> {
    match v {
        Some(Value::Str { text, .. }) => Ok(text),
        Some(other) => Err(format!("{what} is {}, not a literal", other.describe())),
        None => Err(format!("no {what}")),
    }
}

/// An optional name: a string, `op.f("name")`, or `None`.
fn opt_name(v: Option<&Value<'_>>) -> R<Option<String>> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(Value::Str { text, .. }) => Ok(Some(text.clone())),
        Some(Value::Call(c)) if c.name() == "f" && c.args.len() == 1 => {
            Ok(Some(need_str(c.args.first(), "name")?.to_string()))
        }
        Some(other) => Err(format!("name {} is not a literal", other.describe())),
    }
}

fn name_of(v: Option<&Value<'_>>, what: &str) -> R<String> {
    opt_name(v)?.ok_or_else(|| format!("no {what} (Alembic refuses `None` here at run time)"))
}

fn schema_kw(call: &Call<'_>, key: &str, batch: Option<&Batch>) -> R<Option<String>> {
    if let Some(b) = batch {
        return Ok(b.schema.clone());
    }
    match call.kw(key) {
        None | Some(Value::None) => Ok(None),
        Some(v) => Ok(Some(need_str(Some(v), "schema")?.to_string())),
    }
}

fn str_list(v: Option<&Value<'_>>, what: &str) -> R<Vec<String>> {
    v.and_then(|v| v.str_list())
        .ok_or_else(|| format!("{what} are not literal names"))
}

fn column_list(cols: &[String]) -> String {
    cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

/// Unknown keyword arguments of an operation are refused (they may change the SQL).
fn check_kwargs(call: &Call<'_>, known: &[&str]) -> R<()> {
    if call.splat {
        return Err("arguments passed with * or **".into());
    }
    for (k, _) in &call.kwargs {
        if !known.contains(&k.as_str()) && !k.starts_with("existing_") && k != "info" {
            return Err(format!("argument `{k}` is not read"));
        }
    }
    Ok(())
}

/// The SQL statements of one operation. `batch` supplies the table inside
/// `batch_alter_table` (its methods take no table argument).
fn render(method: &str, call: &Call<'_>, batch: Option<&Batch>) -> R<Vec<String>> {
    // Positional arguments shift by one inside a batch (no table name).
    let table_at = |i: usize, key: &str| -> R<String> {
        match batch {
            Some(b) => Ok(b.table.clone()),
            None => Ok(need_str(call.arg(i, key), "table name")?.to_string()),
        }
    };
    let shift = usize::from(batch.is_none());
    match method {
        "add_column" => {
            check_kwargs(
                call,
                &["schema", "if_not_exists", "insert_before", "insert_after"],
            )?;
            let table = table_at(0, "table_name")?;
            let schema = schema_kw(call, "schema", batch)?;
            let column = call
                .arg(shift, "column")
                .and_then(Value::as_call)
                .ok_or("the column is not a literal sa.Column(...)")?;
            let col = Column::read(column)?;
            let t = qualified(schema.as_deref(), &table);
            let ine = if call.kw_bool("if_not_exists") == Some(true) {
                "IF NOT EXISTS "
            } else {
                ""
            };
            let mut out = vec![format!(
                "ALTER TABLE {t} ADD COLUMN {ine}{}",
                col.spec(false)?
            )];
            if col.unique == Some(true) && col.index != Some(true) {
                out.push(format!("ALTER TABLE {t} ADD UNIQUE ({})", ident(&col.name)));
            }
            for fk in &col.fks {
                out.push(format!(
                    "ALTER TABLE {t} ADD {}",
                    fk.render(std::slice::from_ref(&col.name))
                ));
            }
            if col.index == Some(true) {
                out.push(col.index_sql(&table, schema.as_deref()));
            }
            if let Some(c) = &col.comment {
                out.push(format!(
                    "COMMENT ON COLUMN {t}.{} IS {}",
                    ident(&col.name),
                    literal(c)
                ));
            }
            Ok(out)
        }
        "drop_column" => {
            check_kwargs(call, &["schema", "if_exists", "cascade"])?;
            let table = table_at(0, "table_name")?;
            let schema = schema_kw(call, "schema", batch)?;
            let column = need_str(call.arg(shift, "column_name"), "column name")?;
            let ie = if call.kw_bool("if_exists") == Some(true) {
                "IF EXISTS "
            } else {
                ""
            };
            let cascade = if call.kw_bool("cascade") == Some(true) {
                " CASCADE"
            } else {
                ""
            };
            Ok(vec![format!(
                "ALTER TABLE {} DROP COLUMN {ie}{}{cascade}",
                qualified(schema.as_deref(), &table),
                ident(column)
            )])
        }
        "alter_column" => alter_column(call, batch, shift, &table_at(0, "table_name")?),
        "create_index" => {
            check_kwargs(
                call,
                &[
                    "schema",
                    "unique",
                    "if_not_exists",
                    "postgresql_concurrently",
                    "postgresql_where",
                    "postgresql_using",
                    "postgresql_include",
                    "postgresql_with",
                    "postgresql_ops",
                    "postgresql_nulls_not_distinct",
                    "quote",
                ],
            )?;
            let name = name_of(call.arg(0, "index_name"), "index name")?;
            let table = match batch {
                Some(b) => b.table.clone(),
                None => need_str(call.arg(1, "table_name"), "table name")?.to_string(),
            };
            let schema = schema_kw(call, "schema", batch)?;
            let columns = call.arg(1 + shift, "columns").ok_or("no columns")?;
            let items: Vec<&Value<'_>> = match columns {
                Value::List(items) => items.iter().collect(),
                one => vec![one],
            };
            let mut cols = Vec::new();
            for item in items {
                cols.push(match item {
                    Value::Str { text, .. } => ident(text),
                    Value::Call(c) if matches!(c.name(), "text" | "literal_column") => {
                        need_str(c.args.first(), "index expression")?.to_string()
                    }
                    Value::Call(c) if matches!(c.name(), "desc" | "asc") => format!(
                        "{} {}",
                        ident(need_str(c.args.first(), "index column")?),
                        c.name().to_ascii_uppercase()
                    ),
                    other => return Err(format!("index column {} is not read", other.describe())),
                });
            }
            let unique = if call.kw_bool("unique") == Some(true) {
                "UNIQUE "
            } else {
                ""
            };
            let conc = if call.kw_bool("postgresql_concurrently") == Some(true) {
                "CONCURRENTLY "
            } else {
                ""
            };
            let ine = if call.kw_bool("if_not_exists") == Some(true) {
                "IF NOT EXISTS "
            } else {
                ""
            };
            let using = match call.kw("postgresql_using") {
                None | Some(Value::None) => String::new(),
                Some(v) => format!(" USING {}", need_str(Some(v), "index method")?),
            };
            let include = match call.kw("postgresql_include") {
                None => String::new(),
                Some(v) => format!(
                    " INCLUDE ({})",
                    column_list(&str_list(Some(v), "included columns")?)
                ),
            };
            let where_ = match call.kw("postgresql_where") {
                None | Some(Value::None) => String::new(),
                Some(Value::Str { text, .. }) => format!(" WHERE {text}"),
                Some(Value::Call(c)) if c.name() == "text" => {
                    format!(" WHERE {}", need_str(c.args.first(), "index predicate")?)
                }
                Some(other) => {
                    return Err(format!("index predicate {} is not read", other.describe()));
                }
            };
            if call.kw("postgresql_ops").is_some() || call.kw("postgresql_with").is_some() {
                return Err("postgresql_ops / postgresql_with are not read".into());
            }
            Ok(vec![format!(
                "CREATE {unique}INDEX {conc}{ine}{} ON {}{using} ({}){include}{where_}",
                ident(&name),
                qualified(schema.as_deref(), &table),
                cols.join(", ")
            )])
        }
        "drop_index" => {
            check_kwargs(
                call,
                &[
                    "table_name",
                    "schema",
                    "if_exists",
                    "postgresql_concurrently",
                    // Options of the index being dropped: DROP INDEX does not use them.
                    "postgresql_using",
                    "postgresql_where",
                    "postgresql_ops",
                    "postgresql_include",
                    "unique",
                ],
            )?;
            let name = name_of(call.arg(0, "index_name"), "index name")?;
            let schema = schema_kw(call, "schema", batch)?;
            let conc = if call.kw_bool("postgresql_concurrently") == Some(true) {
                "CONCURRENTLY "
            } else {
                ""
            };
            let ie = if call.kw_bool("if_exists") == Some(true) {
                "IF EXISTS "
            } else {
                ""
            };
            Ok(vec![format!(
                "DROP INDEX {conc}{ie}{}",
                qualified(schema.as_deref(), &name)
            )])
        }
        "create_foreign_key" => {
            check_kwargs(
                call,
                &[
                    "onupdate",
                    "ondelete",
                    "deferrable",
                    "initially",
                    "match",
                    "source_schema",
                    "referent_schema",
                    "postgresql_not_valid",
                    "use_alter",
                ],
            )?;
            let name = opt_name(call.arg(0, "constraint_name"))?;
            let source = table_at(1, "source_table")?;
            let referent = need_str(call.arg(1 + shift, "referent_table"), "referenced table")?;
            let local = str_list(call.arg(2 + shift, "local_cols"), "local columns")?;
            let remote = str_list(call.arg(3 + shift, "remote_cols"), "remote columns")?;
            let src_schema = schema_kw(call, "source_schema", batch)?;
            let ref_schema = match call.kw("referent_schema") {
                None | Some(Value::None) => None,
                Some(v) => Some(need_str(Some(v), "schema")?.to_string()),
            };
            let fk = Fk {
                name,
                ref_table: qualified(ref_schema.as_deref(), referent),
                ref_columns: remote,
                ondelete: opt_str(call.kw("ondelete"))?,
                onupdate: opt_str(call.kw("onupdate"))?,
                deferrable: call.kw_bool("deferrable"),
                initially: opt_str(call.kw("initially"))?,
                not_valid: call.kw_bool("postgresql_not_valid") == Some(true),
            };
            Ok(vec![format!(
                "ALTER TABLE {} ADD {}",
                qualified(src_schema.as_deref(), &source),
                fk.render(&local)
            )])
        }
        "create_unique_constraint" | "create_primary_key" => {
            check_kwargs(call, &["schema", "deferrable", "initially"])?;
            let name = opt_name(call.arg(0, "constraint_name"))?;
            let table = table_at(1, "table_name")?;
            let columns = str_list(call.arg(1 + shift, "columns"), "columns")?;
            let schema = schema_kw(call, "schema", batch)?;
            let kind = if method == "create_primary_key" {
                "PRIMARY KEY"
            } else {
                "UNIQUE"
            };
            Ok(vec![format!(
                "ALTER TABLE {} ADD {}{kind} ({}){}",
                qualified(schema.as_deref(), &table),
                constraint_prefix(&name),
                column_list(&columns),
                deferrable(call.kw_bool("deferrable"), opt_str(call.kw("initially"))?)
            )])
        }
        "create_check_constraint" => {
            check_kwargs(call, &["schema", "postgresql_not_valid"])?;
            let name = opt_name(call.arg(0, "constraint_name"))?;
            let table = table_at(1, "table_name")?;
            let condition = match call.arg(1 + shift, "condition") {
                Some(Value::Str { text, .. }) => text.clone(),
                Some(Value::Call(c)) if c.name() == "text" => {
                    need_str(c.args.first(), "condition")?.to_string()
                }
                Some(other) => {
                    return Err(format!("condition {} is not a literal", other.describe()));
                }
                None => return Err("no condition".into()),
            };
            let schema = schema_kw(call, "schema", batch)?;
            let nv = if call.kw_bool("postgresql_not_valid") == Some(true) {
                " NOT VALID"
            } else {
                ""
            };
            Ok(vec![format!(
                "ALTER TABLE {} ADD {}CHECK ({condition}){nv}",
                qualified(schema.as_deref(), &table),
                constraint_prefix(&name)
            )])
        }
        "drop_constraint" => {
            check_kwargs(call, &["schema", "type_", "if_exists"])?;
            let name = name_of(call.arg(0, "constraint_name"), "constraint name")?;
            let table = table_at(1, "table_name")?;
            let schema = schema_kw(call, "schema", batch)?;
            let ie = if call.kw_bool("if_exists") == Some(true) {
                "IF EXISTS "
            } else {
                ""
            };
            Ok(vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT {ie}{}",
                qualified(schema.as_deref(), &table),
                ident(&name)
            )])
        }
        "create_table" if batch.is_none() => create_table(call),
        "drop_table" if batch.is_none() => {
            check_kwargs(call, &["schema", "if_exists"])?;
            let table = need_str(call.arg(0, "table_name"), "table name")?;
            let schema = schema_kw(call, "schema", None)?;
            let ie = if call.kw_bool("if_exists") == Some(true) {
                "IF EXISTS "
            } else {
                ""
            };
            Ok(vec![format!(
                "DROP TABLE {ie}{}",
                qualified(schema.as_deref(), table)
            )])
        }
        "rename_table" if batch.is_none() => {
            check_kwargs(call, &["schema"])?;
            let old = need_str(call.arg(0, "old_table_name"), "table name")?;
            let new = need_str(call.arg(1, "new_table_name"), "new table name")?;
            let schema = schema_kw(call, "schema", None)?;
            Ok(vec![format!(
                "ALTER TABLE {} RENAME TO {}",
                qualified(schema.as_deref(), old),
                ident(new)
            )])
        }
        "create_table_comment" | "drop_table_comment" if batch.is_none() => {
            check_kwargs(call, &["schema", "existing_comment"])?;
            let table = need_str(call.arg(0, "table_name"), "table name")?;
            let schema = schema_kw(call, "schema", None)?;
            let comment = if method == "create_table_comment" {
                literal(need_str(call.arg(1, "comment"), "comment")?)
            } else {
                "NULL".into()
            };
            Ok(vec![format!(
                "COMMENT ON TABLE {} IS {comment}",
                qualified(schema.as_deref(), table)
            )])
        }
        other => Err(format!("operation op.{other} is not read")),
    }
}

fn opt_str(v: Option<&Value<'_>>) -> R<Option<String>> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(v) => Ok(Some(need_str(Some(v), "option")?.to_string())),
    }
}

fn constraint_prefix(name: &Option<String>) -> String {
    match name {
        Some(n) => format!("CONSTRAINT {} ", ident(n)),
        None => String::new(),
    }
}

fn deferrable(deferrable: Option<bool>, initially: Option<String>) -> String {
    let mut out = String::new();
    match deferrable {
        Some(true) => out.push_str(" DEFERRABLE"),
        Some(false) => out.push_str(" NOT DEFERRABLE"),
        None => {}
    }
    if let Some(i) = initially {
        out.push_str(&format!(" INITIALLY {i}"));
    }
    out
}

/// A foreign key as SQLAlchemy renders it.
struct Fk {
    name: Option<String>,
    ref_table: String,
    ref_columns: Vec<String>,
    ondelete: Option<String>,
    onupdate: Option<String>,
    deferrable: Option<bool>,
    initially: Option<String>,
    not_valid: bool,
}

impl Fk {
    fn render(&self, local: &[String]) -> String {
        let mut s = format!(
            "{}FOREIGN KEY({}) REFERENCES {} ({})",
            constraint_prefix(&self.name),
            column_list(local),
            self.ref_table,
            column_list(&self.ref_columns)
        );
        if let Some(d) = &self.ondelete {
            s.push_str(&format!(" ON DELETE {d}"));
        }
        if let Some(u) = &self.onupdate {
            s.push_str(&format!(" ON UPDATE {u}"));
        }
        s.push_str(&deferrable(self.deferrable, self.initially.clone()));
        if self.not_valid {
            s.push_str(" NOT VALID");
        }
        s
    }

    /// `sa.ForeignKey("table.column", ondelete=…)`.
    fn from_column_arg(c: &Call<'_>) -> R<Fk> {
        check_kwargs(
            c,
            &[
                "ondelete",
                "onupdate",
                "name",
                "deferrable",
                "initially",
                "use_alter",
                "match",
            ],
        )?;
        let target = need_str(c.arg(0, "column"), "foreign key target")?;
        let parts: Vec<&str> = target.split('.').collect();
        let (table, column) = match parts.as_slice() {
            [t, c] => (ident(t), c.to_string()),
            [s, t, c] => (format!("{}.{}", ident(s), ident(t)), c.to_string()),
            _ => return Err(format!("foreign key target {target:?} is not table.column")),
        };
        Ok(Fk {
            name: opt_name(c.kw("name"))?,
            ref_table: table,
            ref_columns: vec![column],
            ondelete: opt_str(c.kw("ondelete"))?,
            onupdate: opt_str(c.kw("onupdate"))?,
            deferrable: c.kw_bool("deferrable"),
            initially: opt_str(c.kw("initially"))?,
            not_valid: false,
        })
    }
}

/// `op.alter_column`: PostgreSQL's implementation emits the type change first, then
/// nullability, default, comment, and the rename last.
fn alter_column(
    call: &Call<'_>,
    batch: Option<&Batch>,
    shift: usize,
    table: &str,
) -> R<Vec<String>> {
    check_kwargs(
        call,
        &[
            "nullable",
            "server_default",
            "new_column_name",
            "type_",
            "schema",
            "comment",
            "postgresql_using",
            "autoincrement",
        ],
    )?;
    let column = need_str(call.arg(shift, "column_name"), "column name")?;
    let schema = schema_kw(call, "schema", batch)?;
    let t = qualified(schema.as_deref(), table);
    let c = ident(column);
    let mut out = Vec::new();
    if let Some(ty) = call.kw("type_")
        && !matches!(ty, Value::None)
    {
        let ty = sa_type(ty)?;
        let using = match call.kw("postgresql_using") {
            None | Some(Value::None) => String::new(),
            Some(v) => format!(" USING {}", need_str(Some(v), "USING expression")?),
        };
        out.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} TYPE {}{using}",
            ty.sql
        ));
    }
    match call.kw("nullable") {
        None | Some(Value::None) => {}
        Some(Value::Bool(true)) => {
            out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"))
        }
        Some(Value::Bool(false)) => {
            out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"))
        }
        Some(other) => return Err(format!("nullable={} is not a literal", other.describe())),
    }
    match call.kw("server_default") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::None) => out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT")),
        Some(v) => out.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {}",
            server_default(v)?
        )),
    }
    match call.kw("comment") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::None) => out.push(format!("COMMENT ON COLUMN {t}.{c} IS NULL")),
        Some(v) => out.push(format!(
            "COMMENT ON COLUMN {t}.{c} IS {}",
            literal(need_str(Some(v), "comment")?)
        )),
    }
    match call.kw("new_column_name") {
        None | Some(Value::None) => {}
        Some(v) => out.push(format!(
            "ALTER TABLE {t} RENAME {c} TO {}",
            ident(need_str(Some(v), "new column name")?)
        )),
    }
    Ok(out)
}

/// A `server_default=` value as SQLAlchemy renders it.
fn server_default(v: &Value<'_>) -> R<String> {
    match v {
        Value::Str { text, .. } => Ok(literal(text)),
        Value::Call(c) => {
            let name = c.name();
            let func_path = c
                .func
                .rsplit_once(".func.")
                .map(|(_, f)| f)
                .or_else(|| c.func.strip_prefix("func."));
            if let Some(f) = func_path {
                if !c.args.is_empty() || !c.kwargs.is_empty() {
                    let args: R<Vec<String>> = c
                        .args
                        .iter()
                        .map(|a| match a {
                            Value::Str { text, .. } => Ok(literal(text)),
                            Value::Int(n) => Ok(n.to_string()),
                            Value::Call(t) if t.name() == "text" => {
                                Ok(need_str(t.args.first(), "text")?.to_string())
                            }
                            other => Err(format!("function argument {}", other.describe())),
                        })
                        .collect();
                    return Ok(format!("{f}({})", args?.join(", ")));
                }
                let lower = f.to_ascii_lowercase();
                return Ok(match lower.as_str() {
                    "current_timestamp" | "current_date" | "current_time" | "localtime"
                    | "localtimestamp" | "current_user" | "session_user" | "user" => {
                        lower.to_ascii_uppercase()
                    }
                    _ => format!("{f}()"),
                });
            }
            match name {
                "text" | "literal_column" => Ok(need_str(c.args.first(), "default")?.to_string()),
                "true" => Ok("true".into()),
                "false" => Ok("false".into()),
                "null" => Ok("NULL".into()),
                _ => Err(format!("server default {} is not read", v.describe())),
            }
        }
        other => Err(format!("server default {} is not read", other.describe())),
    }
}

/// A SQLAlchemy type as PostgreSQL DDL, and the enum type it needs created.
struct SaType {
    sql: String,
    /// `CREATE TYPE … AS ENUM` emitted before a `create_table` using it.
    create_enum: Option<(String, Vec<String>)>,
    integer: bool,
}

fn sa_type(v: &Value<'_>) -> R<SaType> {
    let (name, call) = match v {
        Value::Path(p) => (p.rsplit('.').next().unwrap_or(p), None),
        Value::Call(c) => (c.name(), Some(&**c)),
        other => return Err(format!("type {} is not read", other.describe())),
    };
    let plain = |s: &str| -> R<SaType> {
        Ok(SaType {
            sql: s.into(),
            create_enum: None,
            integer: false,
        })
    };
    let int = |i: usize, key: &str| -> R<Option<i64>> {
        match call.and_then(|c| c.arg(i, key)) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Int(n)) => Ok(Some(*n)),
            Some(other) => Err(format!(
                "type argument {} is not a literal",
                other.describe()
            )),
        }
    };
    let tz = || -> R<bool> {
        match call.and_then(|c| c.arg(0, "timezone")) {
            None | Some(Value::Bool(false)) => Ok(false),
            Some(Value::Bool(true)) => Ok(true),
            Some(other) => Err(format!("timezone={} is not a literal", other.describe())),
        }
    };
    if let Some(c) = call
        && c.kw("collation").is_some()
    {
        return Err("a type with a collation is not read".into());
    }
    match name {
        "Integer" | "INTEGER" | "INT" => Ok(SaType {
            sql: "INTEGER".into(),
            create_enum: None,
            integer: true,
        }),
        "BigInteger" | "BIGINT" => Ok(SaType {
            sql: "BIGINT".into(),
            create_enum: None,
            integer: true,
        }),
        "SmallInteger" | "SMALLINT" => Ok(SaType {
            sql: "SMALLINT".into(),
            create_enum: None,
            integer: true,
        }),
        "String" | "Unicode" | "VARCHAR" | "NVARCHAR" => match int(0, "length")? {
            Some(n) => plain(&format!("VARCHAR({n})")),
            None => plain("VARCHAR"),
        },
        "CHAR" | "NCHAR" => match int(0, "length")? {
            Some(n) => plain(&format!("CHAR({n})")),
            None => plain("CHAR"),
        },
        "Text" | "UnicodeText" | "TEXT" | "CITEXT" => {
            plain(if name == "CITEXT" { "CITEXT" } else { "TEXT" })
        }
        "Boolean" | "BOOLEAN" => plain("BOOLEAN"),
        "DateTime" | "TIMESTAMP" => plain(if tz()? {
            "TIMESTAMP WITH TIME ZONE"
        } else {
            "TIMESTAMP WITHOUT TIME ZONE"
        }),
        "Time" | "TIME" => plain(if tz()? {
            "TIME WITH TIME ZONE"
        } else {
            "TIME WITHOUT TIME ZONE"
        }),
        "Date" | "DATE" => plain("DATE"),
        "Interval" | "INTERVAL" => plain("INTERVAL"),
        "Float" | "FLOAT" => match int(0, "precision")? {
            Some(p) => plain(&format!("FLOAT({p})")),
            None => plain("FLOAT"),
        },
        "REAL" => plain("REAL"),
        "Double" | "DOUBLE_PRECISION" | "DOUBLE" => plain("DOUBLE PRECISION"),
        "Numeric" | "NUMERIC" | "DECIMAL" => match (int(0, "precision")?, int(1, "scale")?) {
            (Some(p), Some(s)) => plain(&format!("NUMERIC({p}, {s})")),
            (Some(p), None) => plain(&format!("NUMERIC({p})")),
            _ => plain("NUMERIC"),
        },
        "LargeBinary" | "BYTEA" | "BLOB" | "BINARY" | "VARBINARY" => plain("BYTEA"),
        "JSON" => plain("JSON"),
        "JSONB" => plain("JSONB"),
        "UUID" | "Uuid" => plain("UUID"),
        "INET" | "CIDR" | "MACADDR" | "MACADDR8" | "TSVECTOR" | "HSTORE" | "MONEY" | "OID"
        | "INT4RANGE" | "INT8RANGE" | "NUMRANGE" | "DATERANGE" | "TSRANGE" | "TSTZRANGE"
        | "XML" | "BIT" => plain(name),
        "ARRAY" => {
            let c = call.ok_or("ARRAY without an item type")?;
            let inner = sa_type(c.arg(0, "item_type").ok_or("ARRAY without an item type")?)?;
            let dims = match c.kw("dimensions") {
                None | Some(Value::None) => 1,
                Some(Value::Int(n)) => (*n).max(1) as usize,
                Some(other) => return Err(format!("dimensions={}", other.describe())),
            };
            plain(&format!("{}{}", inner.sql, "[]".repeat(dims)))
        }
        "Enum" | "ENUM" => {
            let c = call.ok_or("Enum without values")?;
            let mut values = Vec::new();
            for a in &c.args {
                values.push(
                    a.as_str()
                        .ok_or_else(|| format!("enum value {} is not a literal", a.describe()))?
                        .to_string(),
                );
            }
            if matches!(c.kw("native_enum"), Some(Value::Bool(false))) {
                let n = values.iter().map(|v| v.chars().count()).max().unwrap_or(0);
                return plain(&format!("VARCHAR({n})"));
            }
            let type_name = need_str(c.kw("name"), "enum name")?.to_string();
            if let Some(s) = c.kw("schema")
                && !matches!(s, Value::None)
            {
                return Err("an enum in another schema is not read".into());
            }
            let create = !matches!(c.kw("create_type"), Some(Value::Bool(false)));
            Ok(SaType {
                sql: sa_quote(&type_name),
                create_enum: create.then_some((type_name, values)),
                integer: false,
            })
        }
        other => Err(format!("type {other} is not read")),
    }
}

/// An `sa.Column(...)` as written.
struct Column {
    name: String,
    ty: SaType,
    nullable: bool,
    primary_key: bool,
    autoincrement: Option<bool>,
    default: Option<String>,
    identity: Option<bool>,
    computed: Option<(String, bool)>,
    unique: Option<bool>,
    index: Option<bool>,
    fks: Vec<Fk>,
    comment: Option<String>,
}

impl Column {
    fn read(c: &Call<'_>) -> R<Column> {
        if c.name() != "Column" {
            return Err(format!("{} is not sa.Column", c.func));
        }
        check_kwargs(
            c,
            &[
                "nullable",
                "server_default",
                "primary_key",
                "autoincrement",
                "unique",
                "index",
                "comment",
                "default",
                "onupdate",
                "server_onupdate",
                "doc",
                "key",
                "quote",
                "type_",
                "name",
                "insert_default",
                "sort_order",
                "system",
            ],
        )?;
        let name = need_str(c.arg(0, "name"), "column name")?.to_string();
        let ty_value = c
            .args
            .get(1)
            .or_else(|| c.kw("type_"))
            .ok_or("column without a type")?;
        let ty = sa_type(ty_value)?;
        let primary_key = c.kw_bool("primary_key") == Some(true);
        let mut fks = Vec::new();
        let mut identity = None;
        let mut computed = None;
        for extra in c.args.iter().skip(2) {
            let Some(x) = extra.as_call() else {
                return Err(format!("column argument {} is not read", extra.describe()));
            };
            match x.name() {
                "ForeignKey" => fks.push(Fk::from_column_arg(x)?),
                "Identity" => identity = Some(x.kw_bool("always") == Some(true)),
                "Computed" => {
                    let expr = match x.arg(0, "sqltext") {
                        Some(Value::Str { text, .. }) => text.clone(),
                        Some(Value::Call(t)) if t.name() == "text" => {
                            need_str(t.args.first(), "expression")?.to_string()
                        }
                        _ => return Err("computed expression is not a literal".into()),
                    };
                    // SQLAlchemy writes STORED only when `persisted=True` is given.
                    computed = Some((expr, x.kw_bool("persisted") == Some(true)));
                }
                other => return Err(format!("column argument {other}(…) is not read")),
            }
        }
        let nullable = match c.kw("nullable") {
            Some(Value::Bool(b)) => *b,
            None => !primary_key && identity.is_none(),
            Some(other) => return Err(format!("nullable={}", other.describe())),
        };
        let default = match c.kw("server_default") {
            None | Some(Value::None) => None,
            Some(v) => Some(server_default(v)?),
        };
        let comment = match c.kw("comment") {
            None | Some(Value::None) => None,
            Some(v) => Some(need_str(Some(v), "comment")?.to_string()),
        };
        let flag = |key: &str| -> R<Option<bool>> {
            match c.kw(key) {
                None | Some(Value::None) => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(other) => Err(format!("{key}={}", other.describe())),
            }
        };
        let autoincrement = match c.kw("autoincrement") {
            Some(Value::Str { text, .. }) if text == "auto" => None,
            _ => flag("autoincrement")?,
        };
        Ok(Column {
            name,
            ty,
            nullable,
            primary_key,
            autoincrement,
            default,
            identity,
            computed,
            unique: flag("unique")?,
            index: flag("index")?,
            fks,
            comment,
        })
    }

    /// The column in DDL; `serial` renders SQLAlchemy's SERIAL for the table's
    /// autoincrement column.
    fn spec(&self, serial: bool) -> R<String> {
        let ty = if serial {
            match self.ty.sql.as_str() {
                "INTEGER" => "SERIAL",
                "BIGINT" => "BIGSERIAL",
                "SMALLINT" => "SMALLSERIAL",
                other => other,
            }
            .to_string()
        } else {
            self.ty.sql.clone()
        };
        let mut s = format!("{} {ty}", ident(&self.name));
        if let Some(d) = &self.default {
            s.push_str(&format!(" DEFAULT {d}"));
        }
        if let Some(always) = self.identity {
            s.push_str(if always {
                " GENERATED ALWAYS AS IDENTITY"
            } else {
                " GENERATED BY DEFAULT AS IDENTITY"
            });
        }
        if let Some((expr, stored)) = &self.computed {
            s.push_str(&format!(" GENERATED ALWAYS AS ({expr})"));
            if *stored {
                s.push_str(" STORED");
            }
        }
        if !self.nullable {
            s.push_str(" NOT NULL");
        }
        Ok(s)
    }

    fn index_sql(&self, table: &str, schema: Option<&str>) -> String {
        format!(
            "CREATE {}INDEX {} ON {} ({})",
            if self.unique == Some(true) {
                "UNIQUE "
            } else {
                ""
            },
            ident(&format!(
                "ix_{}{table}_{}",
                schema.map(|s| format!("{s}_")).unwrap_or_default(),
                self.name
            )),
            qualified(schema, table),
            ident(&self.name)
        )
    }
}

/// `op.create_table("t", sa.Column(...), ..., sa.PrimaryKeyConstraint(...), ...)`.
fn create_table(call: &Call<'_>) -> R<Vec<String>> {
    check_kwargs(
        call,
        &[
            "schema",
            "comment",
            "if_not_exists",
            "postgresql_partition_by",
        ],
    )?;
    if call.kw("postgresql_partition_by").is_some() {
        return Err("partitioned tables are not read".into());
    }
    let table = need_str(call.args.first(), "table name")?.to_string();
    let schema = schema_kw(call, "schema", None)?;
    let t = qualified(schema.as_deref(), &table);
    let mut columns: Vec<Column> = Vec::new();
    let mut pk: Option<String> = None;
    let mut explicit: Vec<String> = Vec::new();
    let mut pk_columns: Vec<String> = Vec::new();
    let mut explicit_indexes: Vec<String> = Vec::new();
    for arg in call.args.iter().skip(1) {
        let Some(c) = arg.as_call() else {
            return Err(format!("table argument {} is not read", arg.describe()));
        };
        match c.name() {
            "Column" => columns.push(Column::read(c)?),
            "PrimaryKeyConstraint" => {
                check_kwargs(c, &["name"])?;
                let cols: R<Vec<String>> = c
                    .args
                    .iter()
                    .map(|a| {
                        a.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| "key column".to_string())
                    })
                    .collect();
                pk_columns = cols?;
                pk = Some(format!(
                    "{}PRIMARY KEY ({})",
                    constraint_prefix(&opt_name(c.kw("name"))?),
                    column_list(&pk_columns)
                ));
            }
            "UniqueConstraint" => {
                check_kwargs(
                    c,
                    &[
                        "name",
                        "deferrable",
                        "initially",
                        "postgresql_nulls_not_distinct",
                    ],
                )?;
                let cols: R<Vec<String>> = c
                    .args
                    .iter()
                    .map(|a| {
                        a.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| "unique column".to_string())
                    })
                    .collect();
                let nnd = if c.kw_bool("postgresql_nulls_not_distinct") == Some(true) {
                    " NULLS NOT DISTINCT"
                } else {
                    ""
                };
                explicit.push(format!(
                    "{}UNIQUE{nnd} ({}){}",
                    constraint_prefix(&opt_name(c.kw("name"))?),
                    column_list(&cols?),
                    deferrable(c.kw_bool("deferrable"), opt_str(c.kw("initially"))?)
                ));
            }
            "ForeignKeyConstraint" => {
                check_kwargs(
                    c,
                    &[
                        "name",
                        "ondelete",
                        "onupdate",
                        "deferrable",
                        "initially",
                        "use_alter",
                        "match",
                    ],
                )?;
                let local = str_list(c.arg(0, "columns"), "foreign key columns")?;
                let targets = str_list(c.arg(1, "refcolumns"), "referenced columns")?;
                let mut ref_table = None;
                let mut ref_cols = Vec::new();
                for target in &targets {
                    let (tbl, col) = target.rsplit_once('.').ok_or_else(|| {
                        format!("foreign key target {target:?} is not table.column")
                    })?;
                    let tbl = match tbl.split_once('.') {
                        Some((s, t)) => format!("{}.{}", ident(s), ident(t)),
                        None => ident(tbl),
                    };
                    if ref_table.as_ref().is_some_and(|r| *r != tbl) {
                        return Err("a foreign key to two tables".into());
                    }
                    ref_table = Some(tbl);
                    ref_cols.push(col.to_string());
                }
                let fk = Fk {
                    name: opt_name(c.kw("name"))?,
                    ref_table: ref_table.ok_or("foreign key without targets")?,
                    ref_columns: ref_cols,
                    ondelete: opt_str(c.kw("ondelete"))?,
                    onupdate: opt_str(c.kw("onupdate"))?,
                    deferrable: c.kw_bool("deferrable"),
                    initially: opt_str(c.kw("initially"))?,
                    not_valid: false,
                };
                explicit.push(fk.render(&local));
            }
            "CheckConstraint" => {
                check_kwargs(c, &["name"])?;
                let cond = match c.arg(0, "sqltext") {
                    Some(Value::Str { text, .. }) => text.clone(),
                    Some(Value::Call(t)) if t.name() == "text" => {
                        need_str(t.args.first(), "condition")?.to_string()
                    }
                    _ => return Err("check condition is not a literal".into()),
                };
                explicit.push(format!(
                    "{}CHECK ({cond})",
                    constraint_prefix(&opt_name(c.kw("name"))?)
                ));
            }
            "Index" => {
                check_kwargs(c, &["unique", "postgresql_where", "postgresql_using"])?;
                let name = name_of(c.args.first(), "index name")?;
                let cols: R<Vec<String>> = c
                    .args
                    .iter()
                    .skip(1)
                    .map(|a| {
                        a.as_str()
                            .map(ident)
                            .ok_or_else(|| "index column".to_string())
                    })
                    .collect();
                let using = match c.kw("postgresql_using") {
                    None => String::new(),
                    Some(v) => format!(" USING {}", need_str(Some(v), "index method")?),
                };
                let where_ = match c.kw("postgresql_where") {
                    None => String::new(),
                    Some(Value::Call(t)) if t.name() == "text" => {
                        format!(" WHERE {}", need_str(t.args.first(), "predicate")?)
                    }
                    Some(Value::Str { text, .. }) => format!(" WHERE {text}"),
                    Some(_) => return Err("index predicate is not a literal".into()),
                };
                explicit_indexes.push(format!(
                    "CREATE {}INDEX {} ON {t}{using} ({}){where_}",
                    if c.kw_bool("unique") == Some(true) {
                        "UNIQUE "
                    } else {
                        ""
                    },
                    ident(&name),
                    cols?.join(", ")
                ));
            }
            other => return Err(format!("table argument {other}(…) is not read")),
        }
    }
    // Column-level primary keys make the key when no PrimaryKeyConstraint was given.
    if pk.is_none() {
        pk_columns = columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.clone())
            .collect();
        if !pk_columns.is_empty() {
            pk = Some(format!("PRIMARY KEY ({})", column_list(&pk_columns)));
        }
    }
    // SQLAlchemy's autoincrement column: the one integer key column, not a foreign key,
    // without a default or identity (or any integer key column marked autoincrement=True).
    let serial_col: Option<&str> = {
        let keyed: Vec<&Column> = columns
            .iter()
            .filter(|c| pk_columns.contains(&c.name))
            .collect();
        let eligible = |c: &Column| {
            c.ty.integer && c.default.is_none() && c.identity.is_none() && c.computed.is_none()
        };
        if keyed.len() == 1 {
            let c = keyed[0];
            (eligible(c) && c.fks.is_empty() && c.autoincrement != Some(false)
                || eligible(c) && c.autoincrement == Some(true))
            .then_some(c.name.as_str())
        } else {
            keyed
                .iter()
                .find(|c| c.autoincrement == Some(true) && eligible(c))
                .map(|c| c.name.as_str())
        }
    };
    let mut out = Vec::new();
    for c in &columns {
        if let Some((name, values)) = &c.ty.create_enum {
            let stmt = format!(
                "CREATE TYPE {} AS ENUM ({})",
                ident(name),
                values
                    .iter()
                    .map(|v| literal(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !out.contains(&stmt) {
                out.push(stmt);
            }
        }
    }
    let mut parts: Vec<String> = Vec::new();
    for c in &columns {
        let mut spec = c.spec(serial_col == Some(c.name.as_str()))?;
        // Primary key columns are NOT NULL even when not written.
        if pk_columns.contains(&c.name) && c.nullable {
            spec.push_str(" NOT NULL");
        }
        parts.push(spec);
    }
    if let Some(pk) = pk {
        parts.push(pk);
    }
    parts.extend(explicit);
    for c in &columns {
        for fk in &c.fks {
            parts.push(fk.render(std::slice::from_ref(&c.name)));
        }
        if c.unique == Some(true) && c.index != Some(true) {
            parts.push(format!("UNIQUE ({})", ident(&c.name)));
        }
    }
    let ine = if call.kw_bool("if_not_exists") == Some(true) {
        "IF NOT EXISTS "
    } else {
        ""
    };
    out.push(format!("CREATE TABLE {ine}{t} ({})", parts.join(", ")));
    for c in &columns {
        if c.index == Some(true) {
            out.push(c.index_sql(&table, schema.as_deref()));
        }
    }
    out.extend(explicit_indexes);
    if let Some(comment) = call.kw("comment")
        && !matches!(comment, Value::None)
    {
        out.push(format!(
            "COMMENT ON TABLE {t} IS {}",
            literal(need_str(Some(comment), "comment")?)
        ));
    }
    for c in &columns {
        if let Some(comment) = &c.comment {
            out.push(format!(
                "COMMENT ON COLUMN {t}.{} IS {}",
                ident(&c.name),
                literal(comment)
            ));
        }
    }
    Ok(out)
}
