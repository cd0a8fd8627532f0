//! The step graph: dependencies decide the order, phases break ties.
//!
//! Edges come from three places: each recipe's own chain (index before the constraint
//! that uses it, backfill before validation, deploy before contract), and statement order
//! between steps on the same table (a later statement that touches a table an earlier
//! one backfilled or contracted runs after it, and is lifted into that phase). A cycle is
//! an error. Among the steps that are ready, the earliest phase runs first, then the
//! earliest statement: so safe statements keep their original order.

use super::recipes::Draft;
use super::{Phase, Plan, PlanError, Step, StepKind};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// Position of a draft in the rollout: deploy points sit just before the phase they open.
fn rank(d: &Draft) -> u8 {
    match (d.kind, d.phase) {
        (StepKind::Deploy, Phase::Expand) => 0,
        (_, Phase::Expand) => 0,
        (StepKind::Deploy, Phase::Backfill) => 1,
        (_, Phase::Backfill) => 2,
        (StepKind::Deploy, Phase::Contract) => 3,
        (_, Phase::Contract) => 4,
    }
}

/// Orders the drafts and numbers them into steps.
pub fn order(mut drafts: Vec<Draft>) -> Result<Vec<Step>, PlanError> {
    lift_by_statement_order(&mut drafts);
    let index: HashMap<String, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.clone(), i))
        .collect();
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..drafts.len()).map(|i| g.add_node(i)).collect();
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (j, d) in drafts.iter().enumerate() {
        for a in &d.after {
            if let Some(&i) = index.get(a) {
                edges.insert((i, j));
            }
        }
        // Statement order on a shared table.
        for (i, e) in drafts.iter().enumerate() {
            if e.statement < d.statement
                && (d.barrier || e.barrier || e.tables.iter().any(|t| d.tables.contains(t)))
            {
                edges.insert((i, j));
            }
        }
    }
    for &(i, j) in &edges {
        g.add_edge(nodes[i], nodes[j], ());
    }
    if let Err(cycle) = toposort(&g, None) {
        let at = drafts[g[cycle.node_id()]].title.clone();
        return Err(PlanError::Cycle(at));
    }
    // A phase never runs before a phase it depends on: carry phases along the edges.
    if let Ok(topo) = toposort(&g, None) {
        for n in topo {
            let i = g[n];
            if drafts[i].kind == StepKind::Deploy {
                continue;
            }
            let max_pred = g
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .map(|p| &drafts[g[p]])
                .filter(|p| p.kind != StepKind::Deploy)
                .map(|p| p.phase)
                .max();
            if let Some(p) = max_pred
                && p > drafts[i].phase
            {
                drafts[i].phase = p;
            }
        }
    }
    // Kahn's algorithm with (rank, statement, position) as priority.
    let mut indegree: Vec<usize> = nodes
        .iter()
        .map(|&n| {
            g.neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<(u8, usize, usize)>> = BinaryHeap::new();
    for (i, d) in drafts.iter().enumerate() {
        if indegree[i] == 0 {
            ready.push(Reverse((rank(d), d.statement, i)));
        }
    }
    let mut sequence = Vec::with_capacity(drafts.len());
    while let Some(Reverse((_, _, i))) = ready.pop() {
        sequence.push(i);
        for m in g.neighbors_directed(nodes[i], petgraph::Direction::Outgoing) {
            let j = g[m];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse((rank(&drafts[j]), drafts[j].statement, j)));
            }
        }
    }
    // Consecutive deploy points are one deploy.
    let mut steps: Vec<Step> = Vec::new();
    let mut id_of: HashMap<String, usize> = HashMap::new();
    for i in sequence {
        let d = &drafts[i];
        if d.kind == StepKind::Deploy
            && let Some(prev) = steps.last_mut().filter(|s| s.kind == StepKind::Deploy)
        {
            if !prev.title.contains(&d.title) {
                prev.title = format!("{}; {}", prev.title, d.title);
            }
            id_of.insert(d.key.clone(), prev.id);
            continue;
        }
        let id = steps.len() + 1;
        id_of.insert(d.key.clone(), id);
        steps.push(Step {
            id,
            phase: d.phase,
            kind: d.kind,
            title: d.title.clone(),
            statements: d.statements.clone(),
            transactional: d.transactional,
            locks: d.locks.clone(),
            lock_timeout_ms: d.lock_timeout_ms,
            retry: d.retry.clone(),
            requires_deploy: d.requires_deploy.clone(),
            depends_on: Vec::new(),
            backfill: d.backfill.clone(),
            notes: d.notes.clone(),
            from_statement: Some(d.statement),
        });
    }
    // Dependencies by id, including the implicit statement-order ones.
    for &(i, j) in &edges {
        let (Some(&a), Some(&b)) = (id_of.get(&drafts[i].key), id_of.get(&drafts[j].key)) else {
            continue;
        };
        if a != b
            && let Some(s) = steps.get_mut(b - 1)
            && !s.depends_on.contains(&a)
        {
            s.depends_on.push(a);
        }
    }
    for s in &mut steps {
        s.depends_on.sort_unstable();
    }
    Ok(steps)
}

/// A later statement's steps on a table never run in an earlier phase than an earlier
/// statement's steps on that table (an UPDATE then SET NOT NULL must validate after the
/// backfill). Steps that would are lifted: after a backfill into contract, after a
/// contract into contract.
fn lift_by_statement_order(drafts: &mut [Draft]) {
    for j in 0..drafts.len() {
        if drafts[j].kind == StepKind::Deploy {
            continue;
        }
        let earlier = drafts
            .iter()
            .filter(|e| {
                e.statement < drafts[j].statement
                    && e.kind != StepKind::Deploy
                    && (drafts[j].barrier
                        || e.barrier
                        || e.tables.iter().any(|t| drafts[j].tables.contains(t)))
            })
            .map(|e| e.phase)
            .max();
        if let Some(p) = earlier
            && p > drafts[j].phase
        {
            drafts[j].phase = if p == Phase::Backfill && drafts[j].kind == StepKind::Backfill {
                Phase::Backfill
            } else {
                Phase::Contract
            };
        }
    }
}

/// Escapes a label for DOT's double-quoted strings.
fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The plan's step graph in Graphviz DOT.
pub fn to_dot(plan: &Plan) -> String {
    let g = plan_graph(plan);
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
        dot_escape(&plan.migration)
    );
    for n in g.node_indices() {
        let s = &plan.steps[g[n]];
        let shape = match s.kind {
            StepKind::Deploy => ", shape=hexagon",
            StepKind::Backfill => ", shape=box3d",
            StepKind::Sql => "",
        };
        out.push_str(&format!(
            "  s{} [label=\"{}. [{}] {}\"{shape}];\n",
            s.id,
            s.id,
            s.phase.as_str(),
            dot_escape(&s.title)
        ));
    }
    for e in g.edge_indices() {
        if let Some((a, b)) = g.edge_endpoints(e) {
            out.push_str(&format!(
                "  s{} -> s{};\n",
                plan.steps[g[a]].id, plan.steps[g[b]].id
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// The plan's step graph as a Mermaid flowchart.
pub fn to_mermaid(plan: &Plan) -> String {
    let g = plan_graph(plan);
    let mut out = String::from("flowchart TD\n");
    for n in g.node_indices() {
        let s = &plan.steps[g[n]];
        let label = format!("{}. [{}] {}", s.id, s.phase.as_str(), s.title).replace('"', "#quot;");
        let (open, close) = match s.kind {
            StepKind::Deploy => ("{{", "}}"),
            StepKind::Backfill => ("[(", ")]"),
            StepKind::Sql => ("[", "]"),
        };
        out.push_str(&format!("  s{}{open}\"{label}\"{close}\n", s.id));
    }
    for e in g.edge_indices() {
        if let Some((a, b)) = g.edge_endpoints(e) {
            out.push_str(&format!(
                "  s{} --> s{}\n",
                plan.steps[g[a]].id, plan.steps[g[b]].id
            ));
        }
    }
    out
}

/// The steps as a petgraph graph (node weight: index into `plan.steps`).
pub fn plan_graph(plan: &Plan) -> DiGraph<usize, ()> {
    let mut g = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..plan.steps.len()).map(|i| g.add_node(i)).collect();
    for (j, s) in plan.steps.iter().enumerate() {
        for &dep in &s.depends_on {
            if let Some(&a) = dep.checked_sub(1).and_then(|i| nodes.get(i)) {
                g.add_edge(a, nodes[j], ());
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(key: &str, phase: Phase, statement: usize, after: &[&str]) -> Draft {
        Draft {
            key: key.into(),
            phase,
            kind: StepKind::Sql,
            title: key.into(),
            statements: vec![format!("-- {key}")],
            transactional: true,
            locks: Vec::new(),
            lock_timeout_ms: None,
            retry: None,
            requires_deploy: None,
            backfill: None,
            notes: Vec::new(),
            statement,
            after: after.iter().map(|s| s.to_string()).collect(),
            tables: Vec::new(),
            barrier: false,
        }
    }

    #[test]
    fn a_cycle_is_an_error() {
        let err = order(vec![
            draft("a", Phase::Expand, 1, &["b"]),
            draft("b", Phase::Expand, 1, &["a"]),
        ])
        .unwrap_err();
        assert!(matches!(err, PlanError::Cycle(_)));
    }

    #[test]
    fn dependencies_beat_phases_and_phases_beat_statement_order() {
        let steps = order(vec![
            draft("contract", Phase::Contract, 1, &[]),
            draft("expand2", Phase::Expand, 2, &[]),
            draft("expand1", Phase::Expand, 1, &["backfill"]),
            draft("backfill", Phase::Backfill, 3, &[]),
        ])
        .unwrap();
        let titles: Vec<&str> = steps.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["expand2", "backfill", "expand1", "contract"]);
        // expand1 runs after a backfill, so it is labelled as such.
        assert_eq!(steps[2].phase, Phase::Backfill);
        assert_eq!(steps[2].depends_on, vec![2]);
    }
}
