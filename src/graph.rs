//! The schema graph: the replayed schema as a petgraph graph of tables, indexes and views,
//! with foreign-key, index-on and view-depends-on edges.
//!
//! Used by `lockstep graph` (DOT, Mermaid and JSON output, with what one migration changed
//! marked) and by the rules that need to know what depends on what: a cycle of foreign
//! keys, the objects that depend on a column being dropped or retyped, the tables that
//! reference a table being dropped.

use crate::catalog::{Catalog, Table, constraint_columns};
use crate::ops::{ConstraintKind, ObjName};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Table,
    View,
    MaterializedView,
    Index,
    UniqueIndex,
}

/// How the chosen migration changed an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    #[default]
    Unchanged,
    Added,
    Changed,
    /// Existed before the migration and not after (drawn from the earlier schema).
    Dropped,
}

/// A table, view or index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub kind: NodeKind,
    pub name: ObjName,
    /// Tables: primary-key columns and the columns used by foreign keys (either side).
    /// Indexes: the indexed columns. Views: empty.
    pub columns: Vec<String>,
    /// Tables: the primary-key columns (their index is not drawn as a node of its own).
    pub primary_key: Vec<String>,
    pub mark: Mark,
}

/// What an edge means. Edges point from the dependent object to what it depends on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EdgeKind {
    /// Referencing table → referenced table.
    ForeignKey {
        name: String,
        columns: Vec<String>,
        ref_columns: Vec<String>,
    },
    /// Index → its table.
    IndexOn,
    /// View → a table or view it reads.
    DependsOn,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    #[serde(flatten)]
    pub kind: EdgeKind,
    pub mark: Mark,
}

/// The schema graph.
#[derive(Debug, Clone, Default)]
pub struct SchemaGraph {
    pub graph: DiGraph<Node, Edge>,
    nodes: BTreeMap<(NodeKind, ObjName), NodeIndex>,
}

/// Nodes and edges of one catalog, keyed so two catalogs can be compared.
type EdgeKey = ((NodeKind, ObjName), (NodeKind, ObjName), String);

struct Elements {
    nodes: BTreeMap<(NodeKind, ObjName), Node>,
    edges: BTreeMap<EdgeKey, EdgeKind>,
}

/// The node kind a name refers to as the target of a view dependency.
fn relation_kind(cat: &Catalog, name: &ObjName) -> NodeKind {
    match cat.views.get(name) {
        Some(v) if v.materialized => NodeKind::MaterializedView,
        Some(_) => NodeKind::View,
        None => NodeKind::Table,
    }
}

/// The referenced columns of a foreign key: written ones, else the referenced table's
/// primary key.
fn ref_columns(cat: &Catalog, fk: &crate::ops::ForeignKey) -> Vec<String> {
    if !fk.ref_columns.is_empty() {
        return fk.ref_columns.clone();
    }
    cat.table(&fk.ref_table)
        .and_then(Table::primary_key)
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

fn elements(cat: &Catalog) -> Elements {
    let mut nodes = BTreeMap::new();
    let mut edges = BTreeMap::new();
    let mut key_columns: BTreeMap<ObjName, BTreeSet<String>> = BTreeMap::new();
    for t in cat.tables.values() {
        let cols = key_columns.entry(t.name.clone()).or_default();
        cols.extend(t.primary_key().unwrap_or_default().iter().cloned());
        for (c, fk) in t.foreign_keys() {
            key_columns
                .entry(t.name.clone())
                .or_default()
                .extend(fk.columns.iter().cloned());
            let refs = ref_columns(cat, fk);
            key_columns
                .entry(fk.ref_table.clone())
                .or_default()
                .extend(refs.iter().cloned());
            edges.insert(
                (
                    (NodeKind::Table, t.name.clone()),
                    (NodeKind::Table, fk.ref_table.clone()),
                    format!("fk:{}", c.name),
                ),
                EdgeKind::ForeignKey {
                    name: c.name.clone(),
                    columns: fk.columns.clone(),
                    ref_columns: refs,
                },
            );
        }
    }
    // Tables first, in column order, so a referenced table outside the replay still
    // appears (as a table with only the referenced columns).
    for (name, cols) in &key_columns {
        let order: Vec<String> = match cat.table(name) {
            Some(t) => t
                .columns
                .iter()
                .map(|c| c.name.clone())
                .filter(|c| cols.contains(c))
                .chain(cols.iter().filter(|c| t.column(c).is_none()).cloned())
                .collect(),
            None => cols.iter().cloned().collect(),
        };
        nodes.insert(
            (NodeKind::Table, name.clone()),
            Node {
                kind: NodeKind::Table,
                name: name.clone(),
                columns: order,
                primary_key: cat
                    .table(name)
                    .and_then(Table::primary_key)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
                mark: Mark::Unchanged,
            },
        );
    }
    for i in cat.indexes.values() {
        // A primary key's index is part of the table's drawing.
        let pk_index = cat.table(&i.table).is_some_and(|t| {
            t.constraints.iter().any(|c| {
                c.name == i.name.name && matches!(c.kind, ConstraintKind::PrimaryKey { .. })
            })
        });
        if pk_index {
            continue;
        }
        let kind = if i.unique {
            NodeKind::UniqueIndex
        } else {
            NodeKind::Index
        };
        nodes.insert(
            (kind, i.name.clone()),
            Node {
                kind,
                name: i.name.clone(),
                columns: i.columns.clone(),
                primary_key: Vec::new(),
                mark: Mark::Unchanged,
            },
        );
        edges.insert(
            (
                (kind, i.name.clone()),
                (NodeKind::Table, i.table.clone()),
                "index".into(),
            ),
            EdgeKind::IndexOn,
        );
        nodes
            .entry((NodeKind::Table, i.table.clone()))
            .or_insert_with(|| Node {
                kind: NodeKind::Table,
                name: i.table.clone(),
                columns: Vec::new(),
                primary_key: Vec::new(),
                mark: Mark::Unchanged,
            });
    }
    for v in cat.views.values() {
        let kind = relation_kind(cat, &v.name);
        nodes.insert(
            (kind, v.name.clone()),
            Node {
                kind,
                name: v.name.clone(),
                columns: Vec::new(),
                primary_key: Vec::new(),
                mark: Mark::Unchanged,
            },
        );
        for d in &v.depends_on {
            let dk = relation_kind(cat, d);
            nodes.entry((dk, d.clone())).or_insert_with(|| Node {
                kind: dk,
                name: d.clone(),
                columns: Vec::new(),
                primary_key: Vec::new(),
                mark: Mark::Unchanged,
            });
            edges.insert(
                ((kind, v.name.clone()), (dk, d.clone()), "view".into()),
                EdgeKind::DependsOn,
            );
        }
    }
    Elements { nodes, edges }
}

impl SchemaGraph {
    /// The graph of a schema, nothing marked.
    pub fn build(catalog: &Catalog) -> SchemaGraph {
        Self::assemble(elements(catalog), None)
    }

    /// The graph of `after`, with what changed since `before` marked: new objects as
    /// added, tables/indexes/views whose definition differs as changed, and objects of
    /// `before` that are gone as dropped (kept in the graph so the drawing shows them).
    pub fn with_changes(before: &Catalog, after: &Catalog) -> SchemaGraph {
        let mut now = elements(after);
        let then = elements(before);
        for (key, node) in now.nodes.iter_mut() {
            node.mark = if !then.nodes.contains_key(key) {
                Mark::Added
            } else if object_changed(before, after, key) {
                Mark::Changed
            } else {
                Mark::Unchanged
            };
        }
        let mut dropped_nodes = Vec::new();
        for (key, node) in &then.nodes {
            if !now.nodes.contains_key(key) {
                let mut n = node.clone();
                n.mark = Mark::Dropped;
                dropped_nodes.push((key.clone(), n));
            }
        }
        now.nodes.extend(dropped_nodes);
        let mut marks = BTreeMap::new();
        for (key, kind) in &now.edges {
            marks.insert(
                key.clone(),
                if then.edges.get(key) == Some(kind) {
                    Mark::Unchanged
                } else if then.edges.contains_key(key) {
                    Mark::Changed
                } else {
                    Mark::Added
                },
            );
        }
        for (key, kind) in then.edges {
            if let std::collections::btree_map::Entry::Vacant(slot) = now.edges.entry(key.clone()) {
                slot.insert(kind);
                marks.insert(key, Mark::Dropped);
            }
        }
        Self::assemble(now, Some(marks))
    }

    fn assemble(el: Elements, marks: Option<BTreeMap<EdgeKey, Mark>>) -> SchemaGraph {
        let mut g = SchemaGraph::default();
        for (key, node) in el.nodes {
            let n = g.graph.add_node(node);
            g.nodes.insert(key, n);
        }
        for (key, kind) in el.edges {
            let (Some(&a), Some(&b)) = (g.nodes.get(&key.0), g.nodes.get(&key.1)) else {
                continue;
            };
            let mark = marks
                .as_ref()
                .and_then(|m| m.get(&key).copied())
                .unwrap_or_default();
            g.graph.add_edge(a, b, Edge { kind, mark });
        }
        g
    }

    /// The node of a table, if the graph has it.
    pub fn table(&self, name: &ObjName) -> Option<NodeIndex> {
        self.nodes.get(&(NodeKind::Table, name.clone())).copied()
    }

    /// Every cycle of foreign keys between different tables (a table referencing itself is
    /// a tree, not a cycle), one per strongly connected component, each as the table names
    /// along the cycle, first name repeated at the end: `[a, b, a]`. Dropped foreign keys
    /// are not part of the schema and do not count.
    pub fn fk_cycles(&self) -> Vec<Vec<ObjName>> {
        let mut fk: DiGraph<NodeIndex, ()> = DiGraph::new();
        let mut map = BTreeMap::new();
        for e in self.graph.edge_references() {
            let live = e.weight().mark != Mark::Dropped;
            if matches!(e.weight().kind, EdgeKind::ForeignKey { .. })
                && live
                && e.source() != e.target()
            {
                let a = *map
                    .entry(e.source())
                    .or_insert_with(|| fk.add_node(e.source()));
                let b = *map
                    .entry(e.target())
                    .or_insert_with(|| fk.add_node(e.target()));
                fk.update_edge(a, b, ());
            }
        }
        let mut cycles = Vec::new();
        for scc in tarjan_scc(&fk) {
            if scc.len() < 2 {
                continue;
            }
            let members: BTreeSet<_> = scc.iter().copied().collect();
            // Start at the alphabetically first table so the output is stable.
            let Some(&start) = scc.iter().min_by_key(|n| &self.graph[fk[**n]].name) else {
                continue;
            };
            // Shortest way back to the start, through the component only.
            let mut prev = BTreeMap::new();
            let mut queue = VecDeque::from([start]);
            let mut closing = None;
            'bfs: while let Some(n) = queue.pop_front() {
                let mut next: Vec<_> = fk.neighbors(n).filter(|m| members.contains(m)).collect();
                next.sort_by_key(|m| &self.graph[fk[*m]].name);
                for m in next {
                    if m == start {
                        closing = Some(n);
                        break 'bfs;
                    }
                    if m != start && !prev.contains_key(&m) {
                        prev.insert(m, n);
                        queue.push_back(m);
                    }
                }
            }
            let Some(mut at) = closing else { continue };
            let mut path = vec![start];
            let mut back = vec![at];
            while at != start {
                match prev.get(&at) {
                    Some(&p) => {
                        if p != start {
                            back.push(p);
                        }
                        at = p;
                    }
                    None => break,
                }
            }
            back.reverse();
            path.extend(back.into_iter().filter(|n| *n != start));
            path.push(start);
            cycles.push(
                path.into_iter()
                    .map(|n| self.graph[fk[n]].name.clone())
                    .collect(),
            );
        }
        cycles.sort();
        cycles
    }

    /// DOT (Graphviz). Tables are boxes listing their key columns, indexes ellipses, views
    /// hexagons; added elements green, changed orange, dropped red and dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph schema {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
        );
        for n in self.graph.node_indices() {
            let node = &self.graph[n];
            let shape = match node.kind {
                NodeKind::Table => "box",
                NodeKind::View | NodeKind::MaterializedView => "hexagon",
                NodeKind::Index | NodeKind::UniqueIndex => "ellipse",
            };
            let mut label = node_title(node);
            if !node.columns.is_empty() {
                let sep = if node.kind == NodeKind::Table {
                    "\\n"
                } else {
                    " "
                };
                let cols = if node.kind == NodeKind::Table {
                    table_columns(node).join("\\n")
                } else {
                    format!("({})", node.columns.join(", "))
                };
                label = format!("{label}{sep}{cols}");
            }
            out.push_str(&format!(
                "  \"{}\" [shape={shape}, label=\"{}\"{}];\n",
                dot_escape(&node_id(node)),
                dot_escape_label(&label),
                dot_style(node.mark)
            ));
        }
        for e in self.graph.edge_references() {
            let (a, b) = (&self.graph[e.source()], &self.graph[e.target()]);
            let label = edge_label(&e.weight().kind);
            let style = match e.weight().kind {
                EdgeKind::ForeignKey { .. } => "",
                EdgeKind::IndexOn => ", arrowhead=none",
                EdgeKind::DependsOn => ", style=dotted",
            };
            out.push_str(&format!(
                "  \"{}\" -> \"{}\" [label=\"{}\"{style}{}];\n",
                dot_escape(&node_id(a)),
                dot_escape(&node_id(b)),
                dot_escape_label(&label),
                dot_style(e.weight().mark)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (renders on GitHub inside a ```mermaid block).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let mut ids = BTreeMap::new();
        for (i, n) in self.graph.node_indices().enumerate() {
            let node = &self.graph[n];
            let id = format!(
                "{}{i}",
                match node.kind {
                    NodeKind::Table => "t",
                    NodeKind::View | NodeKind::MaterializedView => "v",
                    NodeKind::Index | NodeKind::UniqueIndex => "i",
                }
            );
            let mut label = mermaid_escape(&node_title(node));
            if !node.columns.is_empty() {
                let cols: Vec<String> = if node.kind == NodeKind::Table {
                    table_columns(node)
                        .iter()
                        .map(|c| mermaid_escape(c))
                        .collect()
                } else {
                    node.columns.iter().map(|c| mermaid_escape(c)).collect()
                };
                if node.kind == NodeKind::Table {
                    label = format!("<b>{label}</b><br/>{}", cols.join("<br/>"));
                } else {
                    label = format!("{label}<br/>({})", cols.join(", "));
                }
            }
            let shaped = match node.kind {
                NodeKind::Table => format!("{id}[\"{label}\"]"),
                NodeKind::View | NodeKind::MaterializedView => format!("{id}{{{{\"{label}\"}}}}"),
                NodeKind::Index | NodeKind::UniqueIndex => format!("{id}([\"{label}\"])"),
            };
            out.push_str(&format!("  {shaped}\n"));
            ids.insert(n, id);
        }
        let mut link_styles: Vec<(usize, Mark)> = Vec::new();
        for (i, e) in self.graph.edge_references().enumerate() {
            let (Some(a), Some(b)) = (ids.get(&e.source()), ids.get(&e.target())) else {
                continue;
            };
            let label = mermaid_escape(&edge_label(&e.weight().kind));
            let arrow = match e.weight().kind {
                EdgeKind::ForeignKey { .. } => "-->",
                EdgeKind::IndexOn => "---",
                EdgeKind::DependsOn => "-.->",
            };
            if label.is_empty() {
                out.push_str(&format!("  {a} {arrow} {b}\n"));
            } else {
                out.push_str(&format!("  {a} {arrow}|\"{label}\"| {b}\n"));
            }
            if e.weight().mark != Mark::Unchanged {
                link_styles.push((i, e.weight().mark));
            }
        }
        let mut by_mark: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for n in self.graph.node_indices() {
            if let (Some(class), Some(id)) = (mark_class(self.graph[n].mark), ids.get(&n)) {
                by_mark.entry(class).or_default().push(id);
            }
        }
        if !by_mark.is_empty() || !link_styles.is_empty() {
            out.push_str("  classDef added fill:#d9f7d9,stroke:#2e7d32,stroke-width:2px\n");
            out.push_str("  classDef changed fill:#ffe8c2,stroke:#ef6c00,stroke-width:2px\n");
            out.push_str(
                "  classDef dropped fill:#fde0e0,stroke:#c62828,stroke-width:2px,stroke-dasharray:5 3\n",
            );
        }
        for (class, ids) in by_mark {
            out.push_str(&format!("  class {} {class}\n", ids.join(",")));
        }
        for (i, mark) in link_styles {
            let color = match mark {
                Mark::Added => "stroke:#2e7d32,stroke-width:2px",
                Mark::Changed => "stroke:#ef6c00,stroke-width:2px",
                _ => "stroke:#c62828,stroke-width:2px,stroke-dasharray:5 3",
            };
            out.push_str(&format!("  linkStyle {i} {color}\n"));
        }
        out
    }

    /// JSON: `{"nodes": [...], "edges": [...], "fk_cycles": [...]}`; node ids are
    /// `kind:schema.name`, edges refer to them.
    pub fn to_json(&self, at: Option<&str>) -> serde_json::Value {
        let nodes: Vec<serde_json::Value> = self
            .graph
            .node_indices()
            .map(|n| {
                let node = &self.graph[n];
                serde_json::json!({
                    "id": node_id(node),
                    "kind": node.kind,
                    "name": node.name.qualified(),
                    "columns": node.columns,
                    "primary_key": node.primary_key,
                    "mark": node.mark,
                })
            })
            .collect();
        let edges: Vec<serde_json::Value> = self
            .graph
            .edge_references()
            .map(|e| {
                let mut v = serde_json::to_value(e.weight()).unwrap_or_default();
                if let serde_json::Value::Object(m) = &mut v {
                    m.insert("from".into(), node_id(&self.graph[e.source()]).into());
                    m.insert("to".into(), node_id(&self.graph[e.target()]).into());
                }
                v
            })
            .collect();
        let cycles: Vec<Vec<String>> = self
            .fk_cycles()
            .into_iter()
            .map(|c| c.iter().map(ObjName::qualified).collect())
            .collect();
        serde_json::json!({
            "version": 1,
            "at": at,
            "nodes": nodes,
            "edges": edges,
            "fk_cycles": cycles,
        })
    }
}

/// Whether the object behind a node key has a different definition in the two catalogs.
fn object_changed(before: &Catalog, after: &Catalog, key: &(NodeKind, ObjName)) -> bool {
    let name = &key.1;
    match key.0 {
        NodeKind::Table => before.tables.get(name) != after.tables.get(name),
        NodeKind::View | NodeKind::MaterializedView => {
            before.views.get(name) != after.views.get(name)
        }
        NodeKind::Index | NodeKind::UniqueIndex => {
            before.indexes.get(name) != after.indexes.get(name)
        }
    }
}

/// A table's columns for labels, primary-key columns marked `PK`.
fn table_columns(n: &Node) -> Vec<String> {
    n.columns
        .iter()
        .map(|c| {
            if n.primary_key.contains(c) {
                format!("{c} PK")
            } else {
                c.clone()
            }
        })
        .collect()
}

fn node_title(n: &Node) -> String {
    let name = n.name.to_string();
    match n.kind {
        NodeKind::Table => name,
        NodeKind::View => format!("view {name}"),
        NodeKind::MaterializedView => format!("materialized view {name}"),
        NodeKind::Index => format!("index {name}"),
        NodeKind::UniqueIndex => format!("unique index {name}"),
    }
}

fn node_id(n: &Node) -> String {
    let kind = match n.kind {
        NodeKind::Table => "table",
        NodeKind::View => "view",
        NodeKind::MaterializedView => "materialized_view",
        NodeKind::Index | NodeKind::UniqueIndex => "index",
    };
    format!("{kind}:{}", n.name.qualified())
}

fn edge_label(k: &EdgeKind) -> String {
    match k {
        EdgeKind::ForeignKey {
            columns,
            ref_columns,
            ..
        } => {
            if ref_columns.is_empty() {
                columns.join(", ")
            } else {
                format!("{} → {}", columns.join(", "), ref_columns.join(", "))
            }
        }
        EdgeKind::IndexOn => String::new(),
        EdgeKind::DependsOn => "reads".into(),
    }
}

fn mark_class(m: Mark) -> Option<&'static str> {
    match m {
        Mark::Unchanged => None,
        Mark::Added => Some("added"),
        Mark::Changed => Some("changed"),
        Mark::Dropped => Some("dropped"),
    }
}

fn dot_style(m: Mark) -> &'static str {
    match m {
        Mark::Unchanged => "",
        Mark::Added => ", color=\"#2e7d32\", penwidth=2",
        Mark::Changed => ", color=\"#ef6c00\", penwidth=2",
        Mark::Dropped => ", color=\"#c62828\", style=dashed",
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Escapes a label that already contains `\n` line breaks meant for DOT.
fn dot_escape_label(s: &str) -> String {
    s.replace('"', "\\\"")
}

fn mermaid_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Something that depends on a table or column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    /// "index users_email_idx", "foreign key orders.orders_user_id_fkey", "view active_users".
    pub what: String,
    /// PostgreSQL refuses the drop unless CASCADE is given (views, foreign keys from other
    /// tables); otherwise the dependent is dropped along silently (indexes and constraints
    /// on the column itself).
    pub blocks_drop: bool,
    /// The dependency is certain (false for views, whose column use the replay does not know).
    pub certain: bool,
    /// The table or view that holds the dependency (the referencing table of a foreign key,
    /// the table of an index, the view).
    pub owner: ObjName,
}

/// Objects that depend on `table.column`: indexes and constraints using it (dropped with
/// it), foreign keys of other tables referencing it, and views reading the table (the
/// replay keeps a view's tables, not its columns, so those may or may not use it).
pub fn column_dependents(cat: &Catalog, table: &ObjName, column: &str) -> Vec<Dependent> {
    let mut out = Vec::new();
    let pk = cat
        .table(table)
        .and_then(Table::primary_key)
        .map(<[String]>::to_vec);
    if let Some(t) = cat.table(table) {
        for c in &t.constraints {
            let uses = constraint_columns(&c.kind).iter().any(|x| x == column)
                || matches!(&c.kind, ConstraintKind::Check { expr } if mentions(expr, column));
            if uses {
                let word = match c.kind {
                    ConstraintKind::PrimaryKey { .. } => "primary key",
                    ConstraintKind::Unique { .. } => "unique constraint",
                    ConstraintKind::Check { .. } => "check constraint",
                    ConstraintKind::ForeignKey(_) => "foreign key",
                    _ => "constraint",
                };
                out.push(Dependent {
                    what: format!("{word} {}", c.name),
                    blocks_drop: false,
                    certain: true,
                    owner: table.clone(),
                });
            }
        }
    }
    for i in cat.indexes_on(table) {
        let backs = cat
            .table(table)
            .is_some_and(|t| t.constraints.iter().any(|c| c.name == i.name.name));
        if i.columns.iter().any(|c| c == column) && !backs {
            out.push(Dependent {
                what: format!("index {}", i.name),
                blocks_drop: false,
                certain: true,
                owner: table.clone(),
            });
        }
    }
    for t in cat.tables.values() {
        for (c, fk) in t.foreign_keys() {
            if &fk.ref_table != table {
                continue;
            }
            let refs = if fk.ref_columns.is_empty() {
                pk.clone().unwrap_or_default()
            } else {
                fk.ref_columns.clone()
            };
            if refs.iter().any(|r| r == column) {
                out.push(Dependent {
                    what: format!(
                        "foreign key {}.{} ({})",
                        t.name,
                        c.name,
                        fk.columns.join(", ")
                    ),
                    blocks_drop: true,
                    certain: true,
                    owner: t.name.clone(),
                });
            }
        }
    }
    for v in cat.views_on(table) {
        out.push(Dependent {
            what: format!(
                "{} {}",
                if v.materialized {
                    "materialized view"
                } else {
                    "view"
                },
                v.name
            ),
            blocks_drop: true,
            certain: false,
            owner: v.name.clone(),
        });
    }
    // A self-referencing key can be listed as both a constraint and a reference.
    let mut seen = BTreeSet::new();
    out.retain(|d| seen.insert(d.what.clone()));
    out
}

/// Objects that depend on a whole table from outside it: foreign keys of other tables that
/// reference it and views that read it. PostgreSQL refuses to drop the table while they
/// exist, unless CASCADE drops them too.
pub fn table_dependents(cat: &Catalog, table: &ObjName) -> Vec<Dependent> {
    let mut out: Vec<Dependent> = cat
        .referenced_by(table)
        .into_iter()
        .map(|(t, c)| Dependent {
            what: format!("foreign key {t}.{c}"),
            blocks_drop: true,
            certain: true,
            owner: t,
        })
        .collect();
    for v in cat.views_on(table) {
        out.push(Dependent {
            what: format!(
                "{} {}",
                if v.materialized {
                    "materialized view"
                } else {
                    "view"
                },
                v.name
            ),
            blocks_drop: true,
            certain: true,
            owner: v.name.clone(),
        });
    }
    out
}

/// `expr` names `column` as a whole word (case-insensitive, quotes ignored).
fn mentions(expr: &str, column: &str) -> bool {
    let col = column.to_ascii_lowercase();
    expr.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_sql;

    fn replay(sql: &str) -> Catalog {
        let mut c = Catalog::new();
        for s in parse_sql(sql) {
            for op in &s.ops {
                c.apply(op);
            }
        }
        c
    }

    #[test]
    fn fk_cycle_is_named_from_its_first_table() {
        let c = replay(
            "CREATE TABLE teams (id bigint PRIMARY KEY, captain_id bigint);
             CREATE TABLE players (id bigint PRIMARY KEY, team_id bigint REFERENCES teams (id));
             ALTER TABLE teams ADD CONSTRAINT teams_captain_fk FOREIGN KEY (captain_id) REFERENCES players (id);
             CREATE TABLE nodes (id bigint PRIMARY KEY, parent_id bigint REFERENCES nodes (id));",
        );
        let cycles = SchemaGraph::build(&c).fk_cycles();
        let names: Vec<Vec<String>> = cycles
            .iter()
            .map(|c| c.iter().map(|n| n.to_string()).collect())
            .collect();
        assert_eq!(names, vec![vec!["players", "teams", "players"]]);
    }

    #[test]
    fn three_table_cycle_follows_the_edges() {
        let c = replay(
            "CREATE TABLE a (id int PRIMARY KEY, c_id int);
             CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));
             CREATE TABLE c (id int PRIMARY KEY, b_id int REFERENCES b (id));
             ALTER TABLE a ADD FOREIGN KEY (c_id) REFERENCES c (id);",
        );
        let cycles = SchemaGraph::build(&c).fk_cycles();
        let names: Vec<String> = cycles[0].iter().map(|n| n.to_string()).collect();
        assert_eq!(names, vec!["a", "c", "b", "a"]);
    }

    #[test]
    fn marks_added_and_dropped() {
        let before = replay(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);
             CREATE INDEX users_email_idx ON users (email);",
        );
        let mut after = before.clone();
        for s in parse_sql(
            "DROP INDEX users_email_idx;
             CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));",
        ) {
            for op in &s.ops {
                after.apply(op);
            }
        }
        let g = SchemaGraph::with_changes(&before, &after);
        let mark = |kind, name: &str| {
            g.graph
                .node_weights()
                .find(|n| n.kind == kind && n.name.name == name)
                .map(|n| n.mark)
        };
        assert_eq!(mark(NodeKind::Table, "orders"), Some(Mark::Added));
        assert_eq!(
            mark(NodeKind::Index, "users_email_idx"),
            Some(Mark::Dropped)
        );
        assert_eq!(mark(NodeKind::Table, "users"), Some(Mark::Unchanged));
        let m = g.to_mermaid();
        assert!(m.contains("classDef added"), "{m}");
        assert!(m.contains("user_id → id"), "{m}");
    }

    #[test]
    fn column_dependents_name_indexes_fks_and_views() {
        let c = replay(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text, CHECK (email <> ''));
             CREATE INDEX users_email_idx ON users (email);
             CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
             CREATE VIEW user_emails AS SELECT id, email FROM users;",
        );
        let email: Vec<String> = column_dependents(&c, &ObjName::public("users"), "email")
            .into_iter()
            .map(|d| d.what)
            .collect();
        assert_eq!(
            email,
            vec![
                "check constraint users_email_check",
                "index users_email_idx",
                "view user_emails"
            ]
        );
        let id: Vec<String> = column_dependents(&c, &ObjName::public("users"), "id")
            .into_iter()
            .map(|d| d.what)
            .collect();
        assert!(
            id.contains(&"foreign key orders.orders_user_id_fkey (user_id)".to_string()),
            "{id:?}"
        );
    }
}
