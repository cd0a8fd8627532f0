//! Rules: one file per rule, each reading the operation IR, the catalog before the
//! statement, the lock facts and the transaction state — never the parser's AST.
//!
//! Every rule's documentation lives in `rules/<id>.yaml` (embedded at build time), and the
//! registry below is the single list of rules.

use crate::catalog::Catalog;
use crate::locks::{LockFact, LockMode};
use crate::ops::{ObjName, Op};
use crate::settings::{DownScripts, RuleLevel, Settings, Severity, SizeClass};
use crate::source::Migration;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

mod create_index_non_concurrently;
// Locking, rewrite and transaction rules, and their shared helpers.
mod add_check;
mod add_column_rewrite;
mod add_column_with_foreign_key;
mod add_constraint_validates;
mod add_exclusion_constraint;
mod add_foreign_key;
mod add_unique_or_primary_key_builds_index;
mod attach_partition_without_check;
mod column_type_rewrite;
mod concurrently_in_transaction;
mod create_trigger_on_existing_table;
mod detach_partition_non_concurrently;
mod drop_index_non_concurrently;
mod enum_add_value_in_transaction;
mod lock_table;
mod long_work_after_strong_lock;
mod missing_lock_timeout;
mod missing_statement_timeout;
mod nested_or_uncommitted_begin;
mod not_analysed;
mod refresh_materialized_view_non_concurrently;
mod reindex_non_concurrently;
mod schema_and_data_in_one_transaction;
mod set_logged_unlogged;
mod set_not_null_scan;
pub(crate) mod support;
mod truncate;
mod unbatched_data_migration;
mod unparsed_statement;
mod vacuum_full_or_cluster;
mod validate_in_same_transaction_as_add;
// Breaking and hygiene rules, and their shared helpers.
mod add_required_column;
pub mod aliases;
mod char_n;
mod circular_foreign_keys;
mod drop_column;
mod drop_not_null;
mod drop_table;
mod enum_value_rename;
mod foreign_key_without_index;
mod foreign_keys;
mod identifier_too_long;
mod json_over_jsonb;
mod missing_primary_key;
mod money_as_float;
mod narrowing_type_change;
mod new_columns;
mod prefer_bigint;
mod prefer_identity;
mod prefer_text;
mod prefer_timestamptz;
mod rename_column;
mod rename_table;
mod type_family;
mod unused_ignore;
// Rollback, history and dependency rules (findings of the first two groups come from
// crate::rollback and crate::lockfile).
mod dependent_objects;
mod down_does_not_restore;
mod drop_referenced_table;
mod edited_migration;
mod empty_down;
mod irreversible_change;
mod missing_down;
mod out_of_order_migration;
mod removed_migration;
// Statements that fail, and hazards peers catch (issue 19).
mod alter_domain_constraint;
mod commit_in_managed_transaction;
mod drop_database;
mod drop_schema_cascade;
mod statement_will_fail;

/// Every rule, in the order `lockstep rules` lists them.
pub fn registry() -> &'static [&'static dyn Rule] {
    &[
        &create_index_non_concurrently::Rule,
        // locking
        &drop_index_non_concurrently::Rule,
        &add_foreign_key::Rule,
        &add_column_with_foreign_key::Rule,
        &add_check::Rule,
        &add_constraint_validates::Rule,
        &add_unique_or_primary_key_builds_index::Rule,
        &add_exclusion_constraint::Rule,
        &set_not_null_scan::Rule,
        &missing_lock_timeout::Rule,
        &unbatched_data_migration::Rule,
        &refresh_materialized_view_non_concurrently::Rule,
        &reindex_non_concurrently::Rule,
        &attach_partition_without_check::Rule,
        &detach_partition_non_concurrently::Rule,
        &truncate::Rule,
        &not_analysed::Rule,
        &lock_table::Rule,
        &create_trigger_on_existing_table::Rule,
        // rewrite
        &add_column_rewrite::Rule,
        &column_type_rewrite::Rule,
        &vacuum_full_or_cluster::Rule,
        &set_logged_unlogged::Rule,
        // transaction
        &concurrently_in_transaction::Rule,
        &long_work_after_strong_lock::Rule,
        &validate_in_same_transaction_as_add::Rule,
        &schema_and_data_in_one_transaction::Rule,
        &nested_or_uncommitted_begin::Rule,
        &enum_add_value_in_transaction::Rule,
        &missing_statement_timeout::Rule,
        // parsing
        &unparsed_statement::Rule,
        // breaking
        &rename_column::Rule,
        &rename_table::Rule,
        &drop_column::Rule,
        &drop_table::Rule,
        &drop_not_null::Rule,
        &add_required_column::Rule,
        &narrowing_type_change::Rule,
        &enum_value_rename::Rule,
        // hygiene
        &foreign_key_without_index::Rule,
        &circular_foreign_keys::Rule,
        &prefer_bigint::Rule,
        &prefer_identity::Rule,
        &prefer_text::Rule,
        &prefer_timestamptz::Rule,
        &money_as_float::Rule,
        &json_over_jsonb::Rule,
        &char_n::Rule,
        &missing_primary_key::Rule,
        &identifier_too_long::Rule,
        &unused_ignore::Rule,
        // dependencies
        &dependent_objects::Rule,
        &drop_referenced_table::Rule,
        // rollback
        &missing_down::Rule,
        &empty_down::Rule,
        &down_does_not_restore::Rule,
        &irreversible_change::Rule,
        // history (lockstep.lock)
        &edited_migration::Rule,
        &removed_migration::Rule,
        &out_of_order_migration::Rule,
        // statements that fail, and peer parity
        &statement_will_fail::Rule,
        &commit_in_managed_transaction::Rule,
        &alter_domain_constraint::Rule,
        &drop_database::Rule,
        &drop_schema_cascade::Rule,
    ]
}

/// A rule's documentation, from `rules/<id>.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub category: Category,
    pub summary: String,
    pub why: String,
    /// The safe alternative, step by step.
    pub instead: String,
    /// SQL that fires the rule (run as the last migration after `setup`).
    pub bad: String,
    /// SQL that does not fire it.
    pub good: String,
    /// SQL run as earlier migrations before the examples (existing tables).
    #[serde(default)]
    pub setup: String,
    /// Whether the example migrations run in a transaction (default true).
    #[serde(default = "default_true")]
    pub example_in_transaction: bool,
    /// PostgreSQL major versions the rule applies to, e.g. "11-17" or "11".
    #[serde(default = "default_versions")]
    pub pg_versions: String,
    /// Size-aware: error on a large table, the configured lower severity on a small or
    /// unknown one (see `Settings`).
    #[serde(default)]
    pub size_aware: bool,
    /// What the examples are: SQL run inline (the default), or a description of a folder,
    /// for rules that judge more than one script (down scripts, lockstep.lock).
    #[serde(default)]
    pub example_scope: ExampleScope,
    /// Off unless `lockstep.yaml` gives the rule a level (`rules: {prefer-text: info}`):
    /// style preferences that reasonable schemas choose otherwise, which a reviewer would
    /// not ask every team to change.
    #[serde(default)]
    pub opt_in: bool,
}

/// How a rule's `bad`/`good` examples are exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExampleScope {
    /// `setup`, then `bad`/`good`, run as inline migrations: the tests check that `bad`
    /// fires and `good` does not.
    #[default]
    Statement,
    /// The rule compares a migration with its down script or with lockstep.lock, which an
    /// inline migration cannot show; `bad`/`good` are dbmate-style files (`-- migrate:up` /
    /// `-- migrate:down`) or a folder described in words, tested by the rule's own
    /// integration tests (tests/rollback.rs, tests/lockfile.rs).
    Folder,
}

fn default_true() -> bool {
    true
}
fn default_versions() -> String {
    "11-17".into()
}

impl RuleMeta {
    /// The severity the rule reports at under `settings`, or `None` when it is off (set
    /// `off` in the configuration, or opt-in and not enabled there).
    pub fn level(&self, settings: &Settings) -> Option<Severity> {
        match settings.rules.get(&self.id) {
            Some(RuleLevel::Off) => None,
            Some(RuleLevel::On(s)) => Some(*s),
            None if self.opt_in => None,
            None => Some(self.severity),
        }
    }

    /// Whether the rule applies on PostgreSQL `v`.
    pub fn applies_to(&self, v: u32) -> bool {
        let s = self.pg_versions.trim();
        match s.split_once('-') {
            Some((a, b)) => {
                let lo = a.trim().parse().unwrap_or(0);
                let hi = b.trim().parse().unwrap_or(u32::MAX);
                (lo..=hi).contains(&v)
            }
            None => s.parse::<u32>().map(|x| x == v).unwrap_or(true),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Locking,
    Rewrite,
    Breaking,
    Transaction,
    Rollback,
    Hygiene,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Locking => "locking",
            Category::Rewrite => "rewrite",
            Category::Breaking => "breaking",
            Category::Transaction => "transaction",
            Category::Rollback => "rollback",
            Category::Hygiene => "hygiene",
        }
    }
}

/// One rule. Implementations are unit structs named `Rule` in their own module.
pub trait Rule: Sync {
    /// The embedded `rules/<id>.yaml`.
    fn meta_yaml(&self) -> &'static str;
    /// Called for every operation of every statement of the linted migrations.
    fn check_op(&self, _cx: &OpContext, _out: &mut Emitter) {}
    /// Called once per statement (after its ops), for statement-level facts.
    fn check_statement(&self, _cx: &StatementContext, _out: &mut Emitter) {}
    /// Called at the end of each linted script.
    fn check_end(&self, _cx: &EndContext, _out: &mut Emitter) {}
}

/// Parsed metadata for every rule in the registry (parsed once). A rule whose YAML does not
/// parse is a build defect caught by the tests; here it is skipped rather than panicking.
pub fn metas() -> &'static [(&'static dyn Rule, RuleMeta)] {
    static METAS: OnceLock<Vec<(&'static dyn Rule, RuleMeta)>> = OnceLock::new();
    METAS.get_or_init(|| {
        registry()
            .iter()
            .filter_map(|r| {
                serde_yaml::from_str::<RuleMeta>(r.meta_yaml())
                    .ok()
                    .map(|m| (*r, m))
            })
            .collect()
    })
}

/// Looks a rule's metadata up by id.
pub fn meta(id: &str) -> Option<&'static RuleMeta> {
    metas().iter().map(|(_, m)| m).find(|m| m.id == id)
}

/// Transaction and session state at a point in a script.
#[derive(Debug, Clone, Default)]
pub struct TxState {
    /// Statements run inside a transaction block (the framework's or an explicit BEGIN).
    pub in_transaction: bool,
    /// An explicit BEGIN is open (span of the BEGIN).
    pub explicit_begin: Option<Range<usize>>,
    /// lock_timeout in effect, in ms (`Some(0)` means disabled).
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    /// ACCESS EXCLUSIVE locks on pre-existing tables taken earlier in the open transaction.
    pub strong_locks: Vec<(ObjName, Range<usize>)>,
    /// Schema changes on pre-existing tables earlier in the open transaction (span).
    pub schema_changes: Vec<Range<usize>>,
    /// Data changes earlier in the open transaction (span).
    pub data_changes: Vec<Range<usize>>,
    /// The first statement of the script that requested a write-blocking lock on an existing
    /// table with no lock_timeout in effect (one `SET lock_timeout` at the top fixes all).
    pub unguarded_lock: Option<Range<usize>>,
    /// CHECK / FOREIGN KEY constraints added NOT VALID earlier in the open transaction.
    pub not_valid_added: Vec<NotValidAdd>,
}

/// A constraint added `NOT VALID` in the open transaction, with the lock that ADD took
/// (held until commit).
#[derive(Debug, Clone)]
pub struct NotValidAdd {
    pub table: ObjName,
    /// The constraint's name (PostgreSQL's generated name when none was written).
    pub name: String,
    /// Span of the statement that added it.
    pub span: Range<usize>,
    /// The strongest lock that statement took on `table`.
    pub mode: LockMode,
}

impl TxState {
    /// A lock_timeout greater than zero is in effect.
    pub fn has_lock_timeout(&self) -> bool {
        self.lock_timeout_ms.is_some_and(|ms| ms > 0)
    }
    pub fn has_statement_timeout(&self) -> bool {
        self.statement_timeout_ms.is_some_and(|ms| ms > 0)
    }
}

/// Which script of a migration is being linted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// What every rule sees about the statement under analysis.
pub struct StatementContext<'a> {
    pub migration: &'a Migration,
    pub direction: Direction,
    pub path: &'a std::path::Path,
    pub source: &'a str,
    pub span: Range<usize>,
    pub statement: &'a crate::parse::Statement,
    /// Lock facts of all the statement's ops (tables created in this migration excluded).
    pub locks: &'a [LockFact],
    /// Lock facts per op, parallel to `statement.ops` (tables created in this migration
    /// excluded); lets a rule tell which subcommand of an ALTER TABLE rewrites.
    pub op_locks: &'a [Vec<LockFact>],
    /// Catalog before the statement.
    pub catalog: &'a Catalog,
    /// Transaction state before the statement.
    pub tx: &'a TxState,
    /// Tables created earlier in this migration (locks on them do not matter).
    pub created_here: &'a HashSet<ObjName>,
    pub settings: &'a Settings,
}

impl StatementContext<'_> {
    /// The table exists from an earlier migration (or outside them) — not created in this one.
    pub fn is_existing(&self, table: &ObjName) -> bool {
        !self.created_here.contains(table)
    }
    /// "users (48 M rows, 31 GB)" style.
    pub fn describe(&self, table: &ObjName) -> String {
        self.settings.describe_table(table)
    }
    /// The statement's text.
    pub fn text(&self) -> &str {
        self.source.get(self.span.clone()).unwrap_or("")
    }
    /// The strongest lock this statement takes on `table`, if any.
    pub fn strongest_lock_on(&self, table: &ObjName) -> Option<LockMode> {
        self.locks
            .iter()
            .filter(|f| &f.table == table)
            .map(|f| f.mode)
            .max()
    }
}

/// One operation within its statement.
pub struct OpContext<'a> {
    pub stmt: &'a StatementContext<'a>,
    pub op: &'a Op,
    /// Lock facts of this op (tables created in this migration excluded).
    pub locks: &'a [LockFact],
    /// Catalog before this op (earlier subcommands of the same ALTER applied).
    pub catalog: &'a Catalog,
}

impl<'a> std::ops::Deref for OpContext<'a> {
    type Target = StatementContext<'a>;
    fn deref(&self) -> &StatementContext<'a> {
        self.stmt
    }
}

/// The end of a script: the state left behind.
pub struct EndContext<'a> {
    pub migration: &'a Migration,
    pub direction: Direction,
    pub path: &'a std::path::Path,
    pub source: &'a str,
    /// Span of the whole script (findings at the end point at its last byte).
    pub script_range: Range<usize>,
    pub tx: &'a TxState,
    pub settings: &'a Settings,
    /// The schema the whole script leaves behind.
    pub catalog: &'a Catalog,
    /// The script's statements, in order (rules that judge the end state report at the
    /// statement that caused it).
    pub statements: &'a [crate::parse::Statement],
}

/// A problem found in a migration.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub migration: String,
    pub direction: Direction,
    pub path: std::path::PathBuf,
    pub span: Range<usize>,
    pub message: String,
    /// Short text shown under the statement (the lock fact).
    pub label: Option<String>,
    /// The safe alternative.
    pub help: Option<String>,
    /// Set when an ignore comment suppressed the finding.
    #[serde(skip)]
    pub suppressed: bool,
    /// Secondary facts about the same statement, folded into this finding by [`assemble`]
    /// (a missing statement_timeout, work done while a strong lock is held, further objects
    /// of the same rule).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// A size-aware rule judged a table whose size is not known (no `tables:` entry and no
    /// live database): the severity is the rule's own, not one chosen from a size.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub size_unknown: bool,
}

impl Finding {
    /// The message followed by its notes, on one line (`message (also [rule]: note; …)`),
    /// for the one-line formats.
    pub fn message_with_notes(&self) -> String {
        if self.notes.is_empty() {
            return self.message.clone();
        }
        let notes: Vec<String> = self
            .notes
            .iter()
            .map(|n| format!("[{}]: {}", n.rule, n.message))
            .collect();
        format!("{} (also {})", self.message, notes.join("; "))
    }
}

/// A secondary fact attached to a finding: what another rule (or the same rule about another
/// object) says about the same statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
}

/// Rules whose fact is secondary: it aggravates a hazard another rule names on the same
/// statement, so it becomes a note of that finding and stands alone only when nothing else
/// was said about the statement.
pub const SECONDARY_RULES: &[&str] = &[
    "missing-statement-timeout",
    "long-work-after-strong-lock",
    "missing-lock-timeout",
];

/// Whether `rule` runs on down scripts under `mode`: by default only the rollback rules and
/// the rules that say the down script fails outright (concurrently-in-transaction,
/// drop-referenced-table, dependent-objects, nested-or-uncommitted-begin) or could not be
/// read (unparsed-statement).
pub fn runs_on_down(meta: &RuleMeta, mode: DownScripts) -> bool {
    // Besides the rollback rules: what makes the down script fail outright, and a statement
    // the rollback check could not read.
    const FAILS_THE_DOWN: &[&str] = &[
        "concurrently-in-transaction",
        "drop-referenced-table",
        "dependent-objects",
        "nested-or-uncommitted-begin",
        "unparsed-statement",
    ];
    mode == DownScripts::Full
        || meta.category == Category::Rollback
        || FAILS_THE_DOWN.contains(&meta.id.as_str())
}

/// Every fact as a finding of its own: each note of a finding becomes a finding at the same
/// place (label and help left out). For callers that count facts per rule, as the analysis
/// did before [`assemble`] folded them.
pub fn expand_notes(findings: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in findings {
        let mut primary = f.clone();
        primary.notes.clear();
        out.push(primary);
        for n in &f.notes {
            out.push(Finding {
                rule: n.rule.clone(),
                severity: n.severity,
                message: n.message.clone(),
                label: None,
                help: None,
                notes: Vec::new(),
                ..f.clone()
            });
        }
    }
    out
}

/// One finding per hazard per statement. Findings on the same statement (same file and
/// span) are merged:
/// - several findings of one rule (a statement dropping or altering N objects) become one
///   finding that lists the others as notes;
/// - findings of [`SECONDARY_RULES`] become notes of the statement's primary finding when it
///   has one (the primary keeps the higher of the two severities).
///
/// The order of the remaining findings is kept.
pub fn assemble(findings: &mut Vec<Finding>) {
    use std::collections::HashMap;
    let mut by_stmt: HashMap<(std::path::PathBuf, usize, usize), Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        by_stmt
            .entry((f.path.clone(), f.span.start, f.span.end))
            .or_default()
            .push(i);
    }
    let mut drop = vec![false; findings.len()];
    let mut groups: Vec<Vec<usize>> = by_stmt.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    for group in groups {
        // Same rule, several objects: fold into the first of that rule.
        for (k, &i) in group.iter().enumerate() {
            if drop[i] {
                continue;
            }
            for &j in &group[k + 1..] {
                if !drop[j] && findings[j].rule == findings[i].rule {
                    drop[j] = true;
                    let other = findings[j].clone();
                    fold(&mut findings[i], other);
                }
            }
        }
        // Secondary facts: onto the strongest lock, rewrite or transaction finding of the
        // statement (a hygiene or breaking finding is about something else); with none, onto
        // the first-ranked secondary fact.
        let hazard = |f: &Finding| {
            meta(&f.rule).is_some_and(|m| {
                matches!(
                    m.category,
                    Category::Locking | Category::Rewrite | Category::Transaction
                )
            })
        };
        let rank = |f: &Finding| SECONDARY_RULES.iter().position(|r| *r == f.rule);
        let primary = group
            .iter()
            .copied()
            .filter(|&i| !drop[i] && rank(&findings[i]).is_none() && hazard(&findings[i]))
            .max_by_key(|&i| (findings[i].severity, std::cmp::Reverse(i)))
            .or_else(|| {
                group
                    .iter()
                    .copied()
                    .filter(|&i| !drop[i])
                    .filter_map(|i| rank(&findings[i]).map(|r| (r, i)))
                    .min()
                    .map(|(_, i)| i)
            });
        let Some(p) = primary else {
            continue;
        };
        for &j in &group {
            if j != p && !drop[j] && rank(&findings[j]).is_some() {
                drop[j] = true;
                let other = findings[j].clone();
                fold(&mut findings[p], other);
            }
        }
    }
    let mut k = 0;
    findings.retain(|_| {
        k += 1;
        !drop[k - 1]
    });
}

/// Attaches `other` (and its own notes) to `into` as notes. Of the same rule, its help is
/// kept too (each object's fix).
fn fold(into: &mut Finding, other: Finding) {
    if other.rule == into.rule
        && let Some(h) = &other.help
        && into
            .help
            .as_deref()
            .is_none_or(|mine| !mine.contains(h.as_str()))
    {
        into.help = Some(match into.help.take() {
            Some(mine) => format!("{mine}\n{h}"),
            None => h.clone(),
        });
    }
    into.severity = into.severity.max(other.severity);
    into.size_unknown |= other.size_unknown;
    into.notes.push(Note {
        rule: other.rule,
        severity: other.severity,
        message: other.message,
    });
    into.notes.extend(other.notes);
}

/// Collects findings for one rule, applying configured severities.
pub struct Emitter<'a> {
    meta: &'a RuleMeta,
    settings: &'a Settings,
    migration: &'a Migration,
    direction: Direction,
    path: &'a std::path::Path,
    pub(crate) out: &'a mut Vec<Finding>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(
        meta: &'a RuleMeta,
        settings: &'a Settings,
        migration: &'a Migration,
        direction: Direction,
        path: &'a std::path::Path,
        out: &'a mut Vec<Finding>,
    ) -> Self {
        Emitter {
            meta,
            settings,
            migration,
            direction,
            path,
            out,
        }
    }

    /// The configured severity for this rule, or `None` when it is off.
    fn base_severity(&self) -> Option<Severity> {
        self.meta.level(self.settings)
    }

    /// Reports a finding at `span`. For size-aware rules pass the table whose size decides.
    pub fn emit(
        &mut self,
        span: Range<usize>,
        table: Option<&ObjName>,
        message: String,
        label: Option<String>,
        help: Option<String>,
    ) {
        let Some(mut severity) = self.base_severity() else {
            return;
        };
        if self.direction == Direction::Down && !runs_on_down(self.meta, self.settings.down_scripts)
        {
            return;
        }
        let mut size_unknown = false;
        if self.meta.size_aware
            && let Some(t) = table
        {
            let class = self.settings.size_class(t);
            size_unknown = class == SizeClass::Unknown;
            if !self.settings.rules.contains_key(&self.meta.id) {
                severity = match class {
                    SizeClass::Large => severity,
                    SizeClass::Small => severity.min(self.settings.small_table_severity),
                    SizeClass::Unknown => severity.min(self.settings.unknown_table_severity),
                };
            }
        }
        self.out.push(Finding {
            rule: self.meta.id.clone(),
            severity,
            migration: self.migration.id.clone(),
            direction: self.direction,
            path: self.path.to_path_buf(),
            span,
            message,
            label,
            help,
            suppressed: false,
            notes: Vec::new(),
            size_unknown,
        });
    }
}
