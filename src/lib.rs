//! lockstep: a zero-downtime migration linter and planner for PostgreSQL.
//!
//! The pipeline (see ARCHITECTURE.md): [`source`] → [`parse`] → [`catalog`] → [`locks`] →
//! [`rules`] → [`report`], driven by [`analyze`].

pub mod analyze;
pub mod baseline;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod graph;
pub mod live;
pub mod lockfile;
pub mod locks;
pub mod lsp;
pub mod ops;
pub mod parse;
pub mod pg;
pub mod pgnames;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod rules;
pub mod settings;
pub mod source;
pub mod suppress;
