//! Migrations written in a host language (Ruby, Python, TypeScript/JavaScript).
//!
//! An ORM front end (Rails, Django, Alembic, TypeORM, Knex, Sequelize) reads its files with a
//! real parser and hands the pipeline a list of [`HostStatement`]s per script: the byte span
//! of each migration call in the host file, and either the operations it performs (in the
//! same IR the SQL path produces, [`crate::ops::Op`]), the raw SQL it sends (`execute`,
//! `RunSQL`, `op.execute`, `queryRunner.query`, `knex.raw`, …), or a note that the call could
//! not be analysed. `parse::parse_script` turns these into ordinary statements; nothing after
//! the parser knows which language a migration was written in.

use crate::ops::Op;
use std::ops::Range;

/// One call of a host-language migration, in the order the framework runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostStatement {
    /// Byte span of the call in the host file (`Script::source`).
    pub span: Range<usize>,
    pub body: HostBody,
}

/// What one host-language call does.
#[derive(Debug, Clone, PartialEq)]
pub enum HostBody {
    /// The call performs these operations (a DSL method such as `add_column`, `AddField`,
    /// `op.create_index`). An empty list is a call with no schema effect.
    Ops(Vec<Op>),
    /// Raw SQL sent as written. It is split and parsed like a SQL file.
    Sql {
        /// The SQL text after the host language's string rules (escapes, concatenation of
        /// literals, heredoc indentation) were applied.
        text: String,
        /// Where `text[0]` is in the host file when the text appears there byte for byte
        /// (a literal without escapes): statement spans then point into the literal
        /// exactly. `None` when the text was rebuilt; statements then take `span`.
        verbatim_at: Option<usize>,
    },
    /// A call or a piece of code whose effect the reader cannot know statically (a helper
    /// method, a loop, a conditional, string interpolation, an unknown DSL call). It is
    /// reported as an `info` finding saying what was not analysed; it is never guessed.
    NotAnalysed {
        /// What was not analysed, in the framework's words (`call to helper add_timestamps_to`).
        what: String,
    },
}
