//! `lockstep graph`: draw the replayed schema (tables, key columns, indexes, views and
//! the edges between them) as DOT, Mermaid or JSON, optionally at one migration with what
//! it changed marked.

use super::{EXIT_ERROR, print_error};
use crate::catalog::Catalog;
use crate::graph::SchemaGraph;
use crate::parse;
use crate::source::{Layout, Migration};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `lockstep graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (renders on GitHub in a ```mermaid block).
    Mermaid,
    /// Nodes, edges and foreign-key cycles as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Migration folders or files. Default: `migrations:` from lockstep.yaml.
    pub paths: Vec<PathBuf>,
    /// Draw the schema right after this migration (its id, version or a unique prefix of
    /// either) and mark what it added, changed and dropped. Default: after the last one,
    /// nothing marked.
    #[arg(long, value_name = "ID")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
    /// The migration framework's folder layout (default: detect it).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Configuration file (default: lockstep.yaml in this directory or a parent).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(args: &GraphArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The migration `--at` names: exact id or version first, else a unique prefix.
fn find_migration<'a>(migrations: &'a [Migration], at: &str) -> miette::Result<&'a Migration> {
    if let Some(m) = migrations.iter().find(|m| m.id == at || m.version == at) {
        return Ok(m);
    }
    let hits: Vec<&Migration> = migrations
        .iter()
        .filter(|m| m.id.starts_with(at) || m.version.starts_with(at))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(miette::miette!(
            help = "pass a migration id or version as `lockstep lint` lists them",
            "--at {at}: no such migration"
        )),
        many => Err(miette::miette!(
            "--at {at}: matches {} migrations ({}); give more of the id",
            many.len(),
            many.iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn replay(catalog: &mut Catalog, m: &Migration) {
    for stmt in parse::parse_script(&m.up) {
        for op in &stmt.ops {
            catalog.apply(op);
        }
    }
}

/// The graph of the folder's schema after `at` (or the last migration), with `at`'s
/// changes marked.
pub fn build(migrations: &[Migration], at: Option<&Migration>) -> SchemaGraph {
    let mut catalog = Catalog::new();
    for m in migrations {
        if at.is_some_and(|a| a.order == m.order) {
            let before = catalog.clone();
            replay(&mut catalog, m);
            return SchemaGraph::with_changes(&before, &catalog);
        }
        replay(&mut catalog, m);
    }
    SchemaGraph::build(&catalog)
}

fn run_inner(args: &GraphArgs) -> miette::Result<ExitCode> {
    let config = super::lint::load_config_for(args.config.as_deref(), &args.paths)?;
    let paths = super::lock::folder_paths(&args.paths, &config)?;
    let loaded = super::lock::load(&paths, args.layout, &config)?;
    let at = match &args.at {
        Some(a) => Some(find_migration(&loaded.migrations, a)?),
        None => None,
    };
    let graph = build(&loaded.migrations, at);
    let out = match args.format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
        GraphFormat::Json => {
            let v = graph.to_json(at.map(|m| m.id.as_str()));
            let mut s = serde_json::to_string_pretty(&v).map_err(|e| miette::miette!("{e}"))?;
            s.push('\n');
            s
        }
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
