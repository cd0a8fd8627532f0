//! circular-foreign-keys: foreign keys on NOT NULL columns that make tables reference each
//! other in a cycle, so no table of it can receive a row on its own. Cycles with a nullable
//! link are a deliberate model (insert with NULL, fill it in later) and are not reported.

use super::foreign_keys::declared;
use super::new_columns::judged;
use super::{Emitter, EndContext};
use crate::catalog::Catalog;
use crate::ops::ObjName;
use petgraph::algo::{astar, tarjan_scc};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, HashSet};

pub struct Rule;

/// The graph of required foreign keys: an edge from each referencing table to the table
/// it references, for keys whose columns are all NOT NULL. Self-references are left out: a
/// table referencing itself is a tree, not a cycle (and a root row may reference itself).
struct FkGraph {
    graph: DiGraph<ObjName, ()>,
    nodes: BTreeMap<ObjName, NodeIndex>,
}

impl FkGraph {
    /// The part of the graph reachable from `seeds`. A cycle through an edge `a → b` only
    /// involves tables reachable from `a`, so this subgraph answers every question asked
    /// about the script's own foreign keys exactly as the whole graph would, while costing
    /// what the reachable tables cost instead of the whole schema (long histories).
    /// Each table's outgoing edges are added in the order of its constraints, as a build
    /// over the whole catalog would add them, so path searches break ties the same way.
    fn reachable_from<'a>(catalog: &Catalog, seeds: impl Iterator<Item = &'a ObjName>) -> FkGraph {
        let mut g = FkGraph {
            graph: DiGraph::new(),
            nodes: BTreeMap::new(),
        };
        let mut seen: HashSet<ObjName> = HashSet::new();
        let mut queue: Vec<ObjName> = Vec::new();
        for s in seeds {
            if seen.insert(s.clone()) {
                queue.push(s.clone());
            }
        }
        while let Some(name) = queue.pop() {
            let Some(t) = catalog.tables.get(&name) else {
                continue;
            };
            for (_, fk) in t.foreign_keys() {
                // Only a key on NOT NULL columns forces its row to have a partner: a cycle
                // with one nullable link is filled by inserting that side with NULL first.
                let required = !fk.columns.is_empty()
                    && fk
                        .columns
                        .iter()
                        .all(|c| t.column(c).is_some_and(|col| col.not_null));
                if required && fk.ref_table != t.name {
                    let a = g.node(&t.name);
                    let b = g.node(&fk.ref_table);
                    g.graph.update_edge(a, b, ());
                    if seen.insert(fk.ref_table.clone()) {
                        queue.push(fk.ref_table.clone());
                    }
                }
            }
        }
        g
    }

    fn node(&mut self, name: &ObjName) -> NodeIndex {
        if let Some(n) = self.nodes.get(name) {
            return *n;
        }
        let n = self.graph.add_node(name.clone());
        self.nodes.insert(name.clone(), n);
        n
    }

    /// The cycle closed by the edge `from → to`, as table names from `from` back to `from`.
    fn cycle_through(&self, from: &ObjName, to: &ObjName) -> Option<Vec<ObjName>> {
        let (&a, &b) = (self.nodes.get(from)?, self.nodes.get(to)?);
        self.graph.find_edge(a, b)?;
        let (_, path) = astar(&self.graph, b, |n| n == a, |_| 1u32, |_| 0u32)?;
        let mut names = vec![from.clone()];
        names.extend(path.into_iter().map(|n| self.graph[n].clone()));
        Some(names)
    }
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/circular-foreign-keys.yaml")
    }

    fn check_end(&self, cx: &EndContext, out: &mut Emitter) {
        if !judged(cx.direction) {
            return;
        }
        let fks = declared(cx.statements);
        if fks.is_empty() {
            return;
        }
        let g = FkGraph::reachable_from(cx.catalog, fks.iter().map(|fk| &fk.table));
        let mut component = BTreeMap::new();
        for (i, scc) in tarjan_scc(&g.graph).into_iter().enumerate() {
            for n in scc {
                component.insert(n, i);
            }
        }
        // Report each cycle once, at the last statement of the script that added an edge of
        // it: that statement closes the cycle.
        let mut reported = HashSet::new();
        for fk in fks.iter().rev() {
            if fk.table == fk.ref_table {
                continue;
            }
            let Some(names) = g.cycle_through(&fk.table, &fk.ref_table) else {
                continue;
            };
            let Some(comp) = g.nodes.get(&fk.table).and_then(|n| component.get(n)) else {
                continue;
            };
            if !reported.insert(*comp) {
                continue;
            }
            let cycle = names
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" → ");
            out.emit(
                fk.span.clone(),
                None,
                format!(
                    "foreign keys on NOT NULL columns form a cycle: {cycle}; no row can be \
                     inserted into one of these tables before a row exists in the next, so \
                     rows go in only together, in one statement (WITH … INSERT)"
                ),
                Some(format!(
                    "the foreign key from {} to {} closes the cycle",
                    fk.table, fk.ref_table
                )),
                Some(
                    "break the cycle: make one of the columns nullable (insert with NULL, \
                     then fill it in), make one of the keys DEFERRABLE INITIALLY DEFERRED so \
                     both rows can be written in one transaction, or drop one of the keys"
                        .into(),
                ),
            );
        }
    }
}
