//! Rails (ActiveRecord) migrations: `db/migrate/<version>_<name>.rb`, applied in version
//! order, each a class `< ActiveRecord::Migration[x.y]` with `change` or `up`/`down`.
//!
//! The Ruby is parsed with tree-sitter (never matched with patterns). Each migration call
//! (`add_column`, `create_table … do |t|`, `add_index …, algorithm: :concurrently`) becomes
//! the SQL Rails' PostgreSQL adapter would send for the class's version, lowered by the SQL
//! path, so every later stage sees the same operations as for the SQL (see `rails/dsl.rs`).
//! `execute` sends its literal SQL through the SQL parser, with spans inside the literal when
//! it has no escapes. What cannot be known without running Ruby (loops, conditionals,
//! helper methods, interpolated SQL, model code) becomes one `not-analysed` info finding.
//!
//! Decisions:
//! - A `change` migration's down script is the inverse of its calls in reverse order, as
//!   Rails' `CommandRecorder` computes it; when a call has no inverse (`execute`,
//!   `change_column`, `remove_column` without a type) Rails raises `IrreversibleMigration`
//!   on rollback, so the migration has no down script.
//! - `disable_ddl_transaction!` makes the migration run outside a transaction.
//! - `safety_assured { … }` (strong_migrations) silences findings on the calls inside it,
//!   like a `-- safety-assured:start/end` block ([`safety_assured_blocks`]).

mod dsl;
mod names;
mod ruby;

use super::files::{Entry, Inputs};
use super::host::{HostBody, HostStatement};
use super::{Migration, Script, SourceError, file_migration};
use dsl::{Mode, Out, Walker};
use names::RailsVersion;
use ruby::Reader;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use tree_sitter::{Node, Parser, Tree};

/// `<digits>_<name>.rb` → (version, name).
fn split_name(file: &str) -> Option<(&str, &str)> {
    let stem = file.strip_suffix(".rb")?;
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let name = stem[digits..].strip_prefix('_')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((&stem[..digits], name))
}

/// A file name as `rails generate migration` writes it: 14 digits, `_`, the name, `.rb`.
fn is_generated_name(file: &str) -> bool {
    split_name(file).is_some_and(|(v, _)| v.len() == 14)
}

fn mentions_migration(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains("ActiveRecord::Migration"))
}

/// Evidence that `entries` are this framework's migrations, for layout detection.
pub(crate) fn detect(entries: &[Entry]) -> Option<String> {
    let named: Vec<&Entry> = entries
        .iter()
        .filter(|e| is_generated_name(e.file_name()))
        .collect();
    // Reading a handful is enough to tell a Rails folder from a coincidence of names.
    let confirmed = named
        .iter()
        .take(5)
        .filter(|e| mentions_migration(&e.path))
        .count();
    (confirmed > 0).then(|| {
        format!(
            "{} Ruby files named <14 digits>_<name>.rb with ActiveRecord::Migration classes",
            named.len()
        )
    })
}

/// Whether `dir` is a Rails migration folder (for `lockstep lint .`): a `migrate`
/// directory holding `<version>_<name>.rb` files with migration classes.
pub(crate) fn is_folder(dir: &Path) -> bool {
    if dir.file_name().and_then(|n| n.to_str()) != Some("migrate") {
        return false;
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        return false;
    };
    read.flatten()
        .filter(|item| item.file_name().to_str().is_some_and(is_generated_name))
        .take(5)
        .any(|item| mentions_migration(&item.path()))
}

/// Reads the migrations in apply order (by version, as Rails sorts them).
pub(crate) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut found = Vec::new();
    for entry in inputs.entries.clone() {
        let file = entry.file_name().to_string();
        let Some((version, name)) = split_name(&file) else {
            if file.ends_with(".rb") || file.ends_with(".sql") {
                inputs.ignore(&entry.path, "not named <version>_<name>.rb");
            }
            continue;
        };
        if !(entry.at_top() || entry.parent_name() == Some("migrate")) {
            inputs.ignore(&entry.path, "not in the migration folder itself");
            continue;
        }
        let text = inputs.text(&entry.path)?;
        let reading = read_migration(&text);
        let up = Script::host(&entry.path, text.clone(), reading.up_range, reading.up);
        let down = reading
            .down
            .map(|(range, calls)| Script::host(&entry.path, text.clone(), range, calls));
        let stem = file.trim_end_matches(".rb").to_string();
        found.push((
            version.trim_start_matches('0').to_string(),
            file_migration(
                stem,
                version.to_string(),
                name.to_string(),
                up,
                down,
                reading.in_transaction,
            ),
        ));
    }
    // Rails compares versions as integers.
    found.sort_by(|(a, ma), (b, mb)| {
        (a.len(), a.as_str(), &ma.id).cmp(&(b.len(), b.as_str(), &mb.id))
    });
    Ok(found.into_iter().map(|(_, m)| m).collect())
}

/// What one migration file says.
pub(crate) struct Reading {
    pub in_transaction: bool,
    pub up_range: Range<usize>,
    pub up: Vec<HostStatement>,
    /// The down script's range and calls; `None` when the migration cannot be rolled back.
    pub down: Option<(Range<usize>, Vec<HostStatement>)>,
    /// Migration calls read, and how many of them were not analysed.
    pub calls: usize,
    pub not_analysed: usize,
}

fn parse(text: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_ruby::LANGUAGE.into())
        .ok()?;
    parser.parse(text, None)
}

/// Reads one migration file. Never fails: what cannot be read is a not-analysed statement.
pub(crate) fn read_migration(text: &str) -> Reading {
    let whole = 0..text.len();
    let fail = |what: String| Reading {
        in_transaction: true,
        up_range: whole.clone(),
        up: vec![HostStatement {
            span: whole.clone(),
            body: HostBody::NotAnalysed { what },
        }],
        down: None,
        calls: 1,
        not_analysed: 1,
    };
    let Some(tree) = parse(text) else {
        return fail("the file could not be parsed as Ruby".into());
    };
    let root = tree.root_node();
    if root.has_error() {
        let line = first_error(root).map_or(0, |n| n.start_position().row + 1);
        return fail(format!("Ruby syntax error near line {line}"));
    }
    let reader = Reader::new(text, root);
    let Some((class, version)) = migration_class(&reader, root) else {
        return fail("no ActiveRecord::Migration class in the file".into());
    };
    let mut in_transaction = true;
    let mut methods: Vec<(String, Node)> = Vec::new();
    if let Some(body) = class.child_by_field_name("body") {
        let mut cursor = body.walk();
        for item in body.named_children(&mut cursor) {
            match item.kind() {
                "call" | "identifier" => {
                    let name = item
                        .child_by_field_name("method")
                        .map_or_else(|| reader.text(item), |m| reader.text(m));
                    if name == "disable_ddl_transaction!" {
                        in_transaction = false;
                    }
                }
                "method" | "singleton_method" => {
                    if let Some(name) = item.child_by_field_name("name") {
                        methods.push((reader.text(name).to_string(), item));
                    }
                }
                _ => {}
            }
        }
    }
    let method = |name: &str| methods.iter().find(|(n, _)| n == name).map(|(_, m)| *m);
    let walk = |node: Node, mode: Mode| {
        let mut out = Out::default();
        let walker = Walker {
            r: &reader,
            version,
            mode,
        };
        if let Some(body) = node.child_by_field_name("body") {
            walker.body(body, &mut out);
        }
        out
    };
    let class_range = class.byte_range();
    // Rails runs `change` when the class defines it, else `up` / `down`.
    if let Some(change) = method("change") {
        let out = walk(change, Mode::Change);
        let down = match &out.irreversible {
            Some(_) => None,
            None => Some((
                change.byte_range(),
                out.down_groups.into_iter().rev().flatten().collect(),
            )),
        };
        return Reading {
            in_transaction,
            up_range: change.byte_range(),
            up: out.up,
            down,
            calls: out.calls,
            not_analysed: out.not_analysed,
        };
    }
    let (up_range, up, mut calls, mut not_analysed) = match method("up") {
        Some(m) => {
            let out = walk(m, Mode::Up);
            (m.byte_range(), out.up, out.calls, out.not_analysed)
        }
        None => (class_range.clone(), Vec::new(), 0, 0),
    };
    // Without `def down`, ActiveRecord::Migration#down does nothing: rolling back succeeds
    // and changes nothing (an empty down script, not a missing one).
    let down = match method("down") {
        Some(m) if raises_irreversible(&reader, m) => None,
        Some(m) => {
            let out = walk(m, Mode::Down);
            calls += out.calls;
            not_analysed += out.not_analysed;
            Some((m.byte_range(), out.up))
        }
        None => Some((class_range.clone(), Vec::new())),
    };
    Reading {
        in_transaction,
        up_range,
        up,
        down,
        calls,
        not_analysed,
    }
}

/// `def down; raise ActiveRecord::IrreversibleMigration; end`: no rollback.
fn raises_irreversible(reader: &Reader, method: Node) -> bool {
    let Some(body) = method.child_by_field_name("body") else {
        return false;
    };
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|n| n.kind() != "comment");
    first.is_some_and(|n| {
        let text = reader.text(n);
        (text.starts_with("raise ") || text.starts_with("raise(") || text.starts_with("fail "))
            && text.contains("IrreversibleMigration")
    })
}

fn first_error(node: Node) -> Option<Node> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<Node> = node.children(&mut cursor).collect();
    children.into_iter().find_map(first_error)
}

/// The class that inherits from `ActiveRecord::Migration[x.y]` (or another `…Migration`
/// base), and its version.
fn migration_class<'a>(reader: &Reader<'a>, node: Node<'a>) -> Option<(Node<'a>, RailsVersion)> {
    let mut found = None;
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    for child in children {
        match child.kind() {
            "class" => {
                let superclass = child
                    .child_by_field_name("superclass")
                    .map(|s| reader.text(s))
                    .unwrap_or("");
                if superclass.contains("Migration") {
                    return Some((child, version_of(superclass)));
                }
            }
            "module" => {
                if let Some(body) = child.child_by_field_name("body")
                    && let Some(hit) = migration_class(reader, body)
                {
                    found = Some(hit);
                }
            }
            "body_statement" => {
                if let Some(hit) = migration_class(reader, child) {
                    found = Some(hit);
                }
            }
            _ => {}
        }
        if found.is_some() {
            break;
        }
    }
    found
}

/// `< ActiveRecord::Migration[7.1]` → 7.1; no brackets → 4.2 (Rails 4 and earlier).
fn version_of(superclass: &str) -> RailsVersion {
    let Some(open) = superclass.find('[') else {
        return if superclass.contains("ActiveRecord::Migration") {
            RailsVersion::LEGACY
        } else {
            RailsVersion::LATEST
        };
    };
    let inner = superclass[open + 1..].trim_end_matches([']', ' ', '\n']);
    let mut parts = inner.trim().split('.');
    let major = parts.next().and_then(|p| p.trim().parse().ok());
    let minor = parts
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    match major {
        Some(major) if superclass.contains("ActiveRecord::Migration") => {
            RailsVersion(major, minor).min(RailsVersion::LATEST)
        }
        _ => RailsVersion::LATEST,
    }
}

/// The byte ranges of `safety_assured { … }` blocks in a Ruby migration: findings on the
/// calls inside are silenced, as strong_migrations does.
pub(crate) fn safety_assured_blocks(source: &str) -> Vec<Range<usize>> {
    if !source.contains("safety_assured") {
        return Vec::new();
    }
    let Some(tree) = parse(source) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "call"
            && node.child_by_field_name("receiver").is_none()
            && node
                .child_by_field_name("method")
                .is_some_and(|m| source.get(m.byte_range()) == Some("safety_assured"))
            && let Some(block) = node.child_by_field_name("block")
        {
            out.push(block.byte_range());
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    out
}

/// The Rails way to do what a finding's help says in SQL terms, for findings in `.rb`
/// migrations; appended to the help text.
pub(crate) fn rails_help(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "create-index-non-concurrently" => {
            "in Rails: `add_index :table, :column, algorithm: :concurrently` in a migration \
             with `disable_ddl_transaction!` (for references: `add_reference …, index: \
             { algorithm: :concurrently }`)"
        }
        "drop-index-non-concurrently" => {
            "in Rails: `remove_index :table, :column, algorithm: :concurrently` in a migration \
             with `disable_ddl_transaction!`"
        }
        "concurrently-in-transaction" => {
            "in Rails: add `disable_ddl_transaction!` to the migration class (and keep the \
             concurrent call alone in it)"
        }
        "add-foreign-key" | "add-column-with-foreign-key" => {
            "in Rails: `add_foreign_key :from, :to, validate: false`, then \
             `validate_foreign_key :from, :to` in a later migration"
        }
        "add-check" | "add-constraint-validates" => {
            "in Rails: `add_check_constraint :table, \"expr\", name: \"…\", validate: false`, then \
             `validate_check_constraint :table, name: \"…\"` in a later migration"
        }
        "set-not-null-scan" => {
            "in Rails: `add_check_constraint :table, \"column IS NOT NULL\", name: \"…\", \
             validate: false`, `validate_check_constraint` in a later migration, then \
             `change_column_null :table, :column, false` and `remove_check_constraint`"
        }
        "column-type-rewrite" => {
            "in Rails: add a new column with `add_column`, backfill it in batches, switch \
             the application, then `remove_column` the old one"
        }
        _ => return None,
    })
}

/// Appends the Rails idiom to the help of findings in Ruby migrations.
pub(crate) fn add_rails_help(findings: &mut [crate::rules::Finding]) {
    for f in findings.iter_mut().filter(|f| is_ruby_migration(&f.path)) {
        if let Some(extra) = rails_help(&f.rule) {
            match &mut f.help {
                Some(help) => {
                    help.push_str("; ");
                    help.push_str(extra);
                }
                None => f.help = Some(extra.to_string()),
            }
        }
    }
}

/// Whether a file is a Ruby migration (for suppression and help in Rails' idiom).
pub(crate) fn is_ruby_migration(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("rb")
}

/// Reads a file and counts calls (for the corpus statistics): (calls, not analysed).
pub fn call_counts(text: &Arc<str>) -> (usize, usize) {
    let r = read_migration(text);
    (r.calls, r.not_analysed)
}
