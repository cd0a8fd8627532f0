//! lockstep: a zero-downtime migration linter and planner for PostgreSQL.
//!
//! The pipeline (see ARCHITECTURE.md): [`source`] → [`parse`] → [`catalog`] → [`locks`] →
//! [`rules`] → [`report`], driven by [`analyze`].

pub mod catalog;
pub mod locks;
pub mod ops;
pub mod parse;
pub mod pg;
pub mod source;
pub mod analyze;
pub mod rules;
pub mod settings;
pub mod suppress;
pub mod report;
pub mod config;
pub mod cli;
pub mod plan;
pub mod live;
pub mod rollback;
pub mod graph;
pub mod lockfile;
