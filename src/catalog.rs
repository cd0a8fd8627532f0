//! Catalog: an in-memory schema built by replaying every migration's operations in order.
//!
//! Each statement is analysed against the catalog as it stands *before* the statement runs;
//! the analyser then applies the statement's ops. Unknown objects (created outside the
//! migrations, or by statements we could not parse) are simply absent: rules treat
//! "unknown" as "existing table of unknown size", never as "new".

use crate::ops::{ColumnDef, ConstraintKind, Expr, Generated, ObjName, Op, SqlType, Volatility};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    pub not_null: bool,
    pub default: Option<Expr>,
    pub identity: bool,
    pub generated_stored: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableConstraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// Added `NOT VALID` and not validated since.
    pub not_valid: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Index {
    pub name: ObjName,
    pub table: ObjName,
    pub columns: Vec<String>,
    pub unique: bool,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub name: ObjName,
    pub columns: Vec<Column>,
    pub constraints: Vec<TableConstraint>,
    /// Parent when this is a partition.
    pub partition_of: Option<ObjName>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }
    /// The primary key columns, if the table has one.
    pub fn primary_key(&self) -> Option<&[String]> {
        self.constraints.iter().find_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey { columns, .. } => Some(columns.as_slice()),
            _ => None,
        })
    }
    /// Foreign keys declared on this table.
    pub fn foreign_keys(
        &self,
    ) -> impl Iterator<Item = (&TableConstraint, &crate::ops::ForeignKey)> {
        self.constraints.iter().filter_map(|c| match &c.kind {
            ConstraintKind::ForeignKey(fk) => Some((c, fk)),
            _ => None,
        })
    }
    /// A validated `CHECK (col IS NOT NULL)` exists (lets SET NOT NULL skip its scan, PG 12+).
    pub fn has_valid_not_null_check(&self, column: &str) -> bool {
        self.constraints.iter().any(|c| {
            !c.not_valid
                && matches!(&c.kind, ConstraintKind::Check { expr } if is_not_null_check(expr, column))
        })
    }
}

/// `col IS NOT NULL` (with optional parentheses and quoting), nothing more.
pub fn is_not_null_check(expr: &str, column: &str) -> bool {
    let norm: String = expr
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '"'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    norm == format!("{} is not null", column.to_ascii_lowercase())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    pub name: ObjName,
    pub materialized: bool,
    pub depends_on: Vec<ObjName>,
}

/// A persistent ordered map: cloning is O(1) and shares structure, so the analyser can keep
/// the schema before every statement (and before/after every migration) without copying it.
pub type Map<K, V> = imbl::OrdMap<K, V>;

/// The replayed schema.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    pub tables: Map<ObjName, Table>,
    pub indexes: Map<ObjName, Index>,
    pub views: Map<ObjName, View>,
    pub enums: Map<ObjName, Vec<String>>,
    /// How complete the replay's knowledge is; kept apart from the schema maps so that
    /// comparing two schemas (the rollback check) never compares what we know about them.
    #[serde(skip)]
    pub knowledge: Knowledge,
    /// Reverse lookups derived from `tables` and `indexes`, brought up to date when asked.
    #[serde(skip)]
    reverse: ReverseCell,
}

/// What the replay knows beyond the schema itself: which tables it knows in full, what the
/// migrations did to tables it never saw created, what it knows to be absent, and the
/// functions and extensions the history created.
///
/// Every statement whose schema effect is unknown (unparsed, a DO block with DDL) opens a
/// new *era*: facts recorded in an earlier era no longer prove anything, because that
/// statement may have changed any table (O(1): nothing is rewritten when an era opens).
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// Statements with an unknown schema effect so far.
    pub era: u32,
    /// Tables whose every column and constraint the replay saw created, with the era in
    /// which that was last true.
    pub full: Map<ObjName, u32>,
    /// Tables whose CREATE TABLE was not seen: what the migrations themselves did to them
    /// (columns retyped or added, constraints added and validated). Never a full definition.
    pub partial: Map<ObjName, Table>,
    /// Tables and indexes the history created and then dropped (or renamed away), with the era.
    pub absent: Map<ObjName, u32>,
    /// Functions created by the history, with their declared volatility (`None`: not
    /// declared, so VOLATILE).
    pub functions: Map<ObjName, Option<Volatility>>,
    /// Extensions created by the history.
    pub extensions: imbl::OrdSet<String>,
}

/// [`Reverse`] behind a lock so that `&Catalog` lookups can bring it up to date. The lock is
/// never contended (a catalog is used by one thread at a time); it only makes `Catalog`
/// shareable between threads as it was before.
#[derive(Debug, Default)]
struct ReverseCell(std::sync::Mutex<Reverse>);

impl Clone for ReverseCell {
    fn clone(&self) -> Self {
        // A poisoned lock still holds consistent maps: `sync` replaces them only whole.
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ReverseCell(std::sync::Mutex::new(inner.clone()))
    }
}

/// Reverse lookups (a table's indexes, the tables referencing a table), so that the
/// questions the lock model and rules ask per statement cost O(log n) instead of a scan of
/// the whole schema: over a long history that scan made linting quadratic.
///
/// Derived from the `tables` and `indexes` maps it keeps a copy of (O(1): persistent maps).
/// Before answering, it compares those copies with the catalog's current maps and applies
/// the difference (`diff` skips the nodes both share, so this costs what changed since the
/// last lookup, whoever changed the public maps). Syncing lazily, at lookups rather than at
/// every `apply`, matters: each kept copy makes the next write to a shared node copy it.
#[derive(Debug, Clone, Default)]
struct Reverse {
    tables: Map<ObjName, Table>,
    indexes: Map<ObjName, Index>,
    /// Table → the keys of its indexes.
    indexes_by_table: Map<ObjName, imbl::OrdSet<ObjName>>,
    /// Referenced table → the keys of the tables with a foreign key to it (itself included).
    referencing: Map<ObjName, imbl::OrdSet<ObjName>>,
}

impl Reverse {
    /// Brings the lookups up to date with `tables` and `indexes`, visiting only what changed.
    fn sync(&mut self, tables: &Map<ObjName, Table>, indexes: &Map<ObjName, Index>) {
        use imbl::ordmap::DiffItem;
        fn add(map: &mut Map<ObjName, imbl::OrdSet<ObjName>>, key: &ObjName, member: &ObjName) {
            map.entry(key.clone()).or_default().insert(member.clone());
        }
        fn remove(map: &mut Map<ObjName, imbl::OrdSet<ObjName>>, key: &ObjName, member: &ObjName) {
            if let Some(set) = map.get_mut(key) {
                set.remove(member);
                if set.is_empty() {
                    map.remove(key);
                }
            }
        }
        if !self.tables.ptr_eq(tables) {
            // (referenced table, referencing table) pairs that went away and that appeared.
            type Pairs = Vec<(ObjName, ObjName)>;
            let (mut gone, mut new): (Pairs, Pairs) = (Vec::new(), Vec::new());
            let refs = |k: &ObjName, t: &Table, out: &mut Pairs| {
                for (_, fk) in t.foreign_keys() {
                    out.push((fk.ref_table.clone(), k.clone()));
                }
            };
            for d in self.tables.diff(tables) {
                match d {
                    DiffItem::Add(k, t) => refs(k, t, &mut new),
                    DiffItem::Remove(k, t) => refs(k, t, &mut gone),
                    DiffItem::Update { old, new: n } => {
                        refs(old.0, old.1, &mut gone);
                        refs(n.0, n.1, &mut new);
                    }
                }
            }
            // Removals first: an updated table re-adds the references it still has.
            for (r, k) in &gone {
                remove(&mut self.referencing, r, k);
            }
            for (r, k) in &new {
                add(&mut self.referencing, r, k);
            }
            self.tables = tables.clone();
        }
        if !self.indexes.ptr_eq(indexes) {
            let (mut gone, mut new) = (Vec::new(), Vec::new());
            for d in self.indexes.diff(indexes) {
                match d {
                    DiffItem::Add(k, i) => new.push((i.table.clone(), k.clone())),
                    DiffItem::Remove(k, i) => gone.push((i.table.clone(), k.clone())),
                    DiffItem::Update { old, new: n } => {
                        gone.push((old.1.table.clone(), old.0.clone()));
                        new.push((n.1.table.clone(), n.0.clone()));
                    }
                }
            }
            for (t, k) in &gone {
                remove(&mut self.indexes_by_table, t, k);
            }
            for (t, k) in &new {
                add(&mut self.indexes_by_table, t, k);
            }
            self.indexes = indexes.clone();
        }
    }
}

/// `retain` for persistent maps (which lack one): removes the entries `keep` rejects.
fn retain_map<K: Ord + Clone, V: Clone>(map: &mut Map<K, V>, keep: impl Fn(&K, &V) -> bool) {
    let doomed: Vec<K> = map
        .iter()
        .filter(|(k, v)| !keep(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        map.remove(&k);
    }
}

/// Applies `f` to every value for which `touch` is true (cloning only those nodes).
fn update_map<K: Ord + Clone, V: Clone>(
    map: &mut Map<K, V>,
    touch: impl Fn(&V) -> bool,
    f: impl Fn(&mut V),
) {
    let keys: Vec<K> = map
        .iter()
        .filter(|(_, v)| touch(v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        if let Some(v) = map.get_mut(&k) {
            f(v);
        }
    }
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn table(&self, name: &ObjName) -> Option<&Table> {
        self.tables.get(name)
    }

    /// The table as far as the replay knows it: its full definition, or what the migrations
    /// did to it when its CREATE TABLE was not seen (columns and constraints it may have
    /// more of). For questions that only need *some* facts (is this column's type known,
    /// is there a validated CHECK), never for "this column does not exist".
    pub fn table_facts(&self, name: &ObjName) -> Option<&Table> {
        self.tables
            .get(name)
            .or_else(|| self.knowledge.partial.get(name))
    }

    /// The replay saw every column and constraint of `table` created, and no statement of
    /// unknown effect ran since: a column or constraint it does not list does not exist.
    pub fn knows_fully(&self, table: &ObjName) -> bool {
        self.tables.contains_key(table)
            && self.knowledge.full.get(table) == Some(&self.knowledge.era)
    }

    /// The history created `name` (a table or an index) and dropped it since, and no
    /// statement of unknown effect ran in between: it does not exist now.
    pub fn known_absent(&self, name: &ObjName) -> bool {
        self.knowledge.absent.get(name) == Some(&self.knowledge.era)
            && !self.tables.contains_key(name)
            && !self.indexes.contains_key(name)
    }

    /// `table` is no longer known in full (a statement about it was read only in part).
    pub fn forget_full(&mut self, table: &ObjName) {
        self.knowledge.full.remove(table);
    }

    /// Records a statement whose effect on the schema is unknown (unparsed, DDL in a DO
    /// block): everything known in full or known absent so far stops being proof.
    pub fn blind_spot(&mut self) {
        self.knowledge.era += 1;
    }

    /// The declared volatility of a function the history created: `Some(None)` when it was
    /// created without one (VOLATILE), `None` when the history did not create it.
    pub fn function_volatility(&self, name: &ObjName) -> Option<Option<Volatility>> {
        self.knowledge.functions.get(name).copied()
    }

    pub fn column(&self, table: &ObjName, column: &str) -> Option<&Column> {
        self.tables.get(table).and_then(|t| t.column(column))
    }

    /// Runs `f` on the reverse lookups, brought up to date with the catalog's maps.
    fn with_reverse<R>(&self, f: impl FnOnce(&Reverse) -> R) -> R {
        let mut r = self.reverse.0.lock().unwrap_or_else(|e| e.into_inner());
        r.sync(&self.tables, &self.indexes);
        f(&r)
    }

    /// Indexes on a table, in index-name order.
    pub fn indexes_on<'a>(&'a self, table: &'a ObjName) -> impl Iterator<Item = &'a Index> + 'a {
        let keys: Vec<ObjName> = self.with_reverse(|r| {
            r.indexes_by_table
                .get(table)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default()
        });
        keys.into_iter()
            .filter_map(move |k| self.indexes.get(&k))
            .filter(move |i| &i.table == table)
    }

    /// Tables with a foreign key to `table` (possibly `table` itself), in name order.
    pub fn tables_referencing<'a>(&'a self, table: &ObjName) -> Vec<&'a Table> {
        let keys: Vec<ObjName> = self.with_reverse(|r| {
            r.referencing
                .get(table)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default()
        });
        keys.iter()
            .filter_map(|k| self.tables.get(k))
            .filter(|t| t.foreign_keys().any(|(_, fk)| &fk.ref_table == table))
            .collect()
    }

    /// The table an index belongs to.
    pub fn index_table(&self, index: &ObjName) -> Option<&ObjName> {
        self.indexes.get(index).map(|i| &i.table)
    }

    /// Foreign keys on other tables that reference `table`: (referencing table, constraint name).
    pub fn referenced_by(&self, table: &ObjName) -> Vec<(ObjName, String)> {
        let mut out = Vec::new();
        for t in self.tables_referencing(table) {
            for (c, fk) in t.foreign_keys() {
                if &fk.ref_table == table && &t.name != table {
                    out.push((t.name.clone(), c.name.clone()));
                }
            }
        }
        out
    }

    /// Views that read `table`.
    pub fn views_on(&self, table: &ObjName) -> Vec<&View> {
        self.views
            .values()
            .filter(|v| v.depends_on.contains(table))
            .collect()
    }

    /// Applies one operation. Operations on unknown objects do not create them (the object
    /// was created outside the migrations we can see); what they tell about such a table is
    /// kept apart, in [`Knowledge::partial`].
    pub fn apply(&mut self, op: &Op) {
        self.note_knowledge(op);
        if let Some(t) = op.table()
            && !self.tables.contains_key(t)
            && tracks_partially(op)
        {
            // Replay the op on what we know of the table, then put it back aside.
            let t = t.clone();
            let known = self.knowledge.partial.remove(&t).unwrap_or_else(|| Table {
                name: t.clone(),
                columns: Vec::new(),
                constraints: Vec::new(),
                partition_of: None,
            });
            let mut known = known;
            if let Op::AlterColumnType { column, ty, .. } = op
                && known.column(column).is_none()
            {
                // The type a migration gave the column is known from now on.
                known.columns.push(Column {
                    name: column.clone(),
                    ty: ty.clone(),
                    not_null: false,
                    default: None,
                    identity: false,
                    generated_stored: false,
                });
            }
            self.tables.insert(t.clone(), known);
            self.apply_known(op);
            if let Some(known) = self.tables.remove(&t) {
                self.knowledge.partial.insert(t, known);
            }
            return;
        }
        self.apply_known(op);
    }

    /// Keeps [`Knowledge`] up to date with `op` (before the schema maps change).
    fn note_knowledge(&mut self, op: &Op) {
        let era = self.knowledge.era;
        let k = &mut self.knowledge;
        match op {
            Op::CreateTable {
                table,
                columns,
                if_not_exists,
                partition_of,
                as_select,
                ..
            } => {
                // IF NOT EXISTS over a table we never saw may keep an older definition;
                // columns of CREATE TABLE … AS / LIKE / INHERITS are not listed.
                let parent_full = partition_of
                    .as_ref()
                    .map(|p| self.tables.contains_key(p) && k.full.get(p) == Some(&era));
                let full = !as_select
                    && (!*if_not_exists || k.absent.get(table) == Some(&era))
                    && match parent_full {
                        Some(parent) => parent,
                        None => !columns.is_empty(),
                    };
                if self.tables.contains_key(table) {
                    // IF NOT EXISTS on a table we know: nothing changes.
                } else if full {
                    k.full.insert(table.clone(), era);
                } else {
                    k.full.remove(table);
                }
                k.partial.remove(table);
                k.absent.remove(table);
            }
            Op::DropTable { table, .. } | Op::DropView { name: table, .. } => {
                if self.tables.contains_key(table) || k.partial.contains_key(table) {
                    k.absent.insert(table.clone(), era);
                }
                k.full.remove(table);
                k.partial.remove(table);
            }
            Op::RenameTable { table, new_name }
            | Op::SetSchema {
                table,
                new_schema: new_name,
            } => {
                let new = match op {
                    Op::RenameTable { .. } => ObjName::new(table.schema.clone(), new_name.clone()),
                    _ => ObjName::new(new_name.clone(), table.name.clone()),
                };
                if let Some(e) = k.full.remove(table) {
                    k.full.insert(new.clone(), e);
                }
                if let Some(mut p) = k.partial.remove(table) {
                    p.name = new.clone();
                    k.partial.insert(new.clone(), p);
                }
                if self.tables.contains_key(table) {
                    k.absent.insert(table.clone(), era);
                }
                k.absent.remove(&new);
            }
            Op::CreateIndex {
                name: Some(name), ..
            } => {
                k.absent.remove(name);
            }
            Op::DropIndex { name, .. } if self.indexes.contains_key(name) => {
                k.absent.insert(name.clone(), era);
            }
            Op::RenameIndex { name, new_name } => {
                if self.indexes.contains_key(name) {
                    k.absent.insert(name.clone(), era);
                }
                k.absent
                    .remove(&ObjName::new(name.schema.clone(), new_name.clone()));
            }
            Op::CreateFunction { name, volatility } => {
                k.functions.insert(name.clone(), *volatility);
            }
            Op::DropFunction { name } => {
                k.functions.remove(name);
            }
            Op::CreateExtension { name } => {
                k.extensions.insert(name.to_ascii_lowercase());
            }
            Op::DropExtension { name } => {
                k.extensions.remove(&name.to_ascii_lowercase());
            }
            Op::DoBlock { contains_ddl: true } => k.era += 1,
            _ => {}
        }
    }

    fn apply_known(&mut self, op: &Op) {
        match op {
            Op::CreateTable {
                table,
                columns,
                constraints,
                partition_of,
                ..
            } => {
                let mut t = Table {
                    name: table.clone(),
                    columns: columns.iter().map(column_from_def).collect(),
                    constraints: Vec::new(),
                    partition_of: partition_of.clone(),
                };
                if let Some(parent) = partition_of.as_ref().and_then(|p| self.tables.get(p))
                    && t.columns.is_empty()
                {
                    t.columns = parent.columns.clone();
                }
                for col in columns {
                    for c in &col.constraints {
                        add_constraint(&mut t, c, &mut self.indexes);
                    }
                }
                for c in constraints {
                    add_constraint(&mut t, c, &mut self.indexes);
                }
                self.tables.insert(table.clone(), t);
            }
            Op::DropTable { table, .. } => {
                self.tables.remove(table);
                retain_map(&mut self.indexes, |_, i| &i.table != table);
            }
            Op::RenameTable { table, new_name } => {
                if let Some(mut t) = self.tables.remove(table) {
                    let new = ObjName::new(table.schema.clone(), new_name.clone());
                    t.name = new.clone();
                    update_map(
                        &mut self.indexes,
                        |i| &i.table == table,
                        |i| i.table = new.clone(),
                    );
                    update_map(
                        &mut self.tables,
                        |t| t.foreign_keys().any(|(_, fk)| &fk.ref_table == table),
                        |other| {
                            for c in other.constraints.iter_mut() {
                                if let ConstraintKind::ForeignKey(fk) = &mut c.kind
                                    && &fk.ref_table == table
                                {
                                    fk.ref_table = new.clone();
                                }
                            }
                        },
                    );
                    // Self-references move with the table.
                    for c in t.constraints.iter_mut() {
                        if let ConstraintKind::ForeignKey(fk) = &mut c.kind
                            && &fk.ref_table == table
                        {
                            fk.ref_table = new.clone();
                        }
                    }
                    self.tables.insert(new, t);
                }
            }
            Op::SetSchema { table, new_schema } => {
                if let Some(mut t) = self.tables.remove(table) {
                    let new = ObjName::new(new_schema.clone(), table.name.clone());
                    t.name = new.clone();
                    update_map(
                        &mut self.indexes,
                        |i| &i.table == table,
                        |i| i.table = new.clone(),
                    );
                    self.tables.insert(new, t);
                }
            }
            Op::AddColumn { table, column, .. } => {
                if let Some(t) = self.tables.get_mut(table) {
                    if t.column(&column.name).is_none() {
                        t.columns.push(column_from_def(column));
                    }
                    for c in &column.constraints {
                        add_constraint(t, c, &mut self.indexes);
                    }
                }
            }
            Op::DropColumn { table, column, .. } => {
                if let Some(t) = self.tables.get_mut(table) {
                    t.columns.retain(|c| &c.name != column);
                    t.constraints
                        .retain(|c| !constraint_columns(&c.kind).contains(column));
                }
                // PostgreSQL drops indexes that use the column.
                retain_map(&mut self.indexes, |_, i| {
                    !(&i.table == table && i.columns.contains(column))
                });
            }
            Op::RenameColumn {
                table,
                column,
                new_name,
            } => {
                if let Some(t) = self.tables.get_mut(table) {
                    if let Some(c) = t.column_mut(column) {
                        c.name = new_name.clone();
                    }
                    for c in t.constraints.iter_mut() {
                        rename_in_constraint(&mut c.kind, column, new_name);
                    }
                }
                update_map(
                    &mut self.indexes,
                    |i| &i.table == table && i.columns.contains(column),
                    |i| {
                        for c in i.columns.iter_mut() {
                            if c == column {
                                *c = new_name.clone();
                            }
                        }
                    },
                );
                update_map(
                    &mut self.tables,
                    |t| {
                        t.foreign_keys().any(|(_, fk)| {
                            &fk.ref_table == table && fk.ref_columns.contains(column)
                        })
                    },
                    |other| {
                        for c in other.constraints.iter_mut() {
                            if let ConstraintKind::ForeignKey(fk) = &mut c.kind
                                && &fk.ref_table == table
                            {
                                for rc in fk.ref_columns.iter_mut() {
                                    if rc == column {
                                        *rc = new_name.clone();
                                    }
                                }
                            }
                        }
                    },
                );
            }
            Op::AlterColumnType {
                table, column, ty, ..
            } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.ty = ty.clone();
                }
            }
            Op::SetNotNull { table, column } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.not_null = true;
                }
            }
            Op::DropNotNull { table, column } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.not_null = false;
                }
            }
            Op::SetDefault {
                table,
                column,
                default,
            } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.default = Some(default.clone());
                }
            }
            Op::DropDefault { table, column } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.default = None;
                }
            }
            Op::AddIdentity { table, column } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.identity = true;
                }
            }
            Op::DropIdentity { table, column } => {
                if let Some(c) = self
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.column_mut(column))
                {
                    c.identity = false;
                }
            }
            Op::AddConstraint { table, constraint } => {
                if let Some(t) = self.tables.get_mut(table) {
                    add_constraint(t, constraint, &mut self.indexes);
                }
            }
            Op::ValidateConstraint { table, name } => {
                if let Some(t) = self.tables.get_mut(table) {
                    for c in t.constraints.iter_mut() {
                        if &c.name == name {
                            c.not_valid = false;
                        }
                    }
                }
            }
            Op::DropConstraint { table, name, .. } => {
                if let Some(t) = self.tables.get_mut(table) {
                    t.constraints.retain(|c| &c.name != name);
                }
                // A constraint's backing index goes with it.
                let idx = ObjName::new(table.schema.clone(), name.clone());
                if self.indexes.get(&idx).is_some_and(|i| &i.table == table) {
                    self.indexes.remove(&idx);
                }
            }
            Op::RenameConstraint {
                table,
                name,
                new_name,
            } => {
                if let Some(t) = self.tables.get_mut(table) {
                    for c in t.constraints.iter_mut() {
                        if &c.name == name {
                            c.name = new_name.clone();
                        }
                    }
                }
            }
            Op::AttachPartition { table, partition } => {
                if let Some(p) = self.tables.get_mut(partition) {
                    p.partition_of = Some(table.clone());
                }
            }
            Op::DetachPartition { partition, .. } => {
                if let Some(p) = self.tables.get_mut(partition) {
                    p.partition_of = None;
                }
            }
            Op::CreateIndex {
                name,
                table,
                columns,
                unique,
                partial,
                ..
            } => {
                let name = name.clone().unwrap_or_else(|| {
                    let taken = |n: &str| {
                        self.indexes
                            .contains_key(&ObjName::new(table.schema.clone(), n.to_string()))
                    };
                    ObjName::new(
                        table.schema.clone(),
                        crate::pgnames::index_name(&table.name, columns, &taken),
                    )
                });
                self.indexes.insert(
                    name.clone(),
                    Index {
                        name,
                        table: table.clone(),
                        columns: columns.clone(),
                        unique: *unique,
                        partial: *partial,
                    },
                );
            }
            Op::DropIndex { name, .. } => {
                self.indexes.remove(name);
            }
            Op::RenameIndex { name, new_name } => {
                if let Some(mut i) = self.indexes.remove(name) {
                    i.name = ObjName::new(name.schema.clone(), new_name.clone());
                    self.indexes.insert(i.name.clone(), i);
                }
                // Renaming the index behind a primary key, unique or exclusion constraint
                // renames the constraint too (PostgreSQL keeps their names equal).
                let owner = self
                    .tables
                    .iter()
                    .find(|(t, table)| {
                        t.schema == name.schema
                            && table.constraints.iter().any(|c| {
                                c.name == name.name
                                    && matches!(
                                        c.kind,
                                        ConstraintKind::PrimaryKey { .. }
                                            | ConstraintKind::Unique { .. }
                                            | ConstraintKind::Exclusion
                                    )
                            })
                    })
                    .map(|(t, _)| t.clone());
                if let Some(t) = owner
                    && let Some(table) = self.tables.get_mut(&t)
                {
                    for c in table.constraints.iter_mut().filter(|c| c.name == name.name) {
                        c.name = new_name.clone();
                    }
                }
            }
            Op::CreateView {
                name,
                materialized,
                depends_on,
                ..
            } => {
                self.views.insert(
                    name.clone(),
                    View {
                        name: name.clone(),
                        materialized: *materialized,
                        depends_on: depends_on.clone(),
                    },
                );
            }
            Op::DropView { name, .. } => {
                self.views.remove(name);
            }
            Op::CreateEnum { name, values } => {
                self.enums.insert(name.clone(), values.clone());
            }
            Op::AddEnumValue { name, value } => {
                if let Some(v) = self.enums.get_mut(name)
                    && !v.contains(value)
                {
                    v.push(value.clone());
                }
            }
            Op::RenameEnumValue {
                name,
                value,
                new_value,
            } => {
                if let Some(v) = self.enums.get_mut(name) {
                    for x in v.iter_mut() {
                        if x == value {
                            *x = new_value.clone();
                        }
                    }
                }
            }
            Op::DropType { name } => {
                self.enums.remove(name);
            }
            Op::RenameType { name, new_name } => {
                let new = ObjName::new(name.schema.clone(), new_name.clone());
                if let Some(values) = self.enums.remove(name) {
                    self.enums.insert(new.clone(), values);
                }
                // Columns of the type follow it: PostgreSQL stores the type's oid.
                let (old_ty, new_ty) = (type_name(name), type_name(&new));
                let renamed = |ty: &SqlType| -> Option<SqlType> {
                    let base = ty.base();
                    let written = base.strip_prefix("public.").unwrap_or(base);
                    (written == old_ty || base == name.qualified())
                        .then(|| SqlType(format!("{new_ty}{}", &ty.0[base.len()..])))
                };
                update_map(
                    &mut self.tables,
                    |t| t.columns.iter().any(|c| renamed(&c.ty).is_some()),
                    |t| {
                        for c in t.columns.iter_mut() {
                            if let Some(ty) = renamed(&c.ty) {
                                c.ty = ty;
                            }
                        }
                    },
                );
            }
            _ => {}
        }
    }
}

/// Whether `table` may have a constraint called `name`: it has one, or the name has the
/// shape of one PostgreSQL generates (`…_check`, `…_fkey`, `…_key`, `…_pkey`, `…_excl`,
/// `…_not_null`), which the replay's naming may not reproduce exactly (a CHECK is named after
/// the first column it mentions).
pub fn may_have_constraint(catalog: &Catalog, table: &ObjName, name: &str) -> bool {
    let Some(t) = catalog.table(table) else {
        return true;
    };
    if t.constraints.iter().any(|c| c.name == name) {
        return true;
    }
    ["_check", "_fkey", "_key", "_pkey", "_excl", "_not_null"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Ops whose effect on a table whose CREATE TABLE was not seen is worth remembering.
fn tracks_partially(op: &Op) -> bool {
    matches!(
        op,
        Op::AddColumn { .. }
            | Op::DropColumn { .. }
            | Op::RenameColumn { .. }
            | Op::AlterColumnType { .. }
            | Op::SetNotNull { .. }
            | Op::DropNotNull { .. }
            | Op::SetDefault { .. }
            | Op::DropDefault { .. }
            | Op::AddConstraint { .. }
            | Op::ValidateConstraint { .. }
            | Op::DropConstraint { .. }
            | Op::RenameConstraint { .. }
    )
}

/// How a column of a user type names it: the bare name in `public`, `schema.name` elsewhere.
fn type_name(name: &ObjName) -> String {
    if name.schema == "public" {
        name.name.clone()
    } else {
        name.qualified()
    }
}

fn column_from_def(c: &ColumnDef) -> Column {
    let pk = c
        .constraints
        .iter()
        .any(|k| matches!(k.kind, ConstraintKind::PrimaryKey { .. }));
    Column {
        name: c.name.clone(),
        ty: c.ty.clone(),
        not_null: c.not_null || pk || matches!(c.generated, Some(Generated::Identity)) || c.serial,
        default: c.default.clone(),
        identity: matches!(c.generated, Some(Generated::Identity)),
        generated_stored: matches!(c.generated, Some(Generated::Stored(_))),
    }
}

/// The columns a constraint covers (on its own table).
pub fn constraint_columns(kind: &ConstraintKind) -> Vec<String> {
    match kind {
        ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } => {
            columns.clone()
        }
        ConstraintKind::ForeignKey(fk) => fk.columns.clone(),
        ConstraintKind::NotNull { column } => vec![column.clone()],
        ConstraintKind::Check { .. } | ConstraintKind::Exclusion => Vec::new(),
    }
}

fn rename_in_constraint(kind: &mut ConstraintKind, old: &str, new: &str) {
    let cols: Option<&mut Vec<String>> = match kind {
        ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } => {
            Some(columns)
        }
        ConstraintKind::ForeignKey(fk) => Some(&mut fk.columns),
        _ => None,
    };
    if let Some(cols) = cols {
        for c in cols.iter_mut() {
            if c == old {
                *c = new.to_string();
            }
        }
    }
}

/// The name PostgreSQL generates for an unnamed constraint.
pub fn default_constraint_name(table: &ObjName, kind: &ConstraintKind) -> String {
    let cols = constraint_columns(kind);
    let first = cols.first().cloned().unwrap_or_default();
    match kind {
        ConstraintKind::PrimaryKey { .. } => format!("{}_pkey", table.name),
        ConstraintKind::Unique { .. } => format!("{}_{}_key", table.name, cols.join("_")),
        ConstraintKind::ForeignKey(_) => format!("{}_{}_fkey", table.name, cols.join("_")),
        ConstraintKind::Check { .. } => format!("{}_check", table.name),
        ConstraintKind::Exclusion => format!("{}_excl", table.name),
        ConstraintKind::NotNull { .. } => format!("{}_{}_not_null", table.name, first),
    }
}

fn add_constraint(t: &mut Table, c: &crate::ops::Constraint, indexes: &mut Map<ObjName, Index>) {
    // PostgreSQL's own name when none was written (crate::pgnames), so a later DROP by
    // that name finds it.
    let name = c.name.clone().unwrap_or_else(|| {
        let backed = matches!(
            c.kind,
            ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
        );
        crate::pgnames::constraint_name(t, &c.kind, &|n: &str| {
            t.constraints.iter().any(|k| k.name == n)
                || (backed
                    && indexes.contains_key(&ObjName::new(t.name.schema.clone(), n.to_string())))
        })
    });
    match &c.kind {
        ConstraintKind::PrimaryKey {
            columns,
            using_index,
        }
        | ConstraintKind::Unique {
            columns,
            using_index,
        } => {
            let pk = matches!(c.kind, ConstraintKind::PrimaryKey { .. });
            if pk {
                for col in columns {
                    if let Some(cc) = t.column_mut(col) {
                        cc.not_null = true;
                    }
                }
            }
            let idx_name = ObjName::new(t.name.schema.clone(), name.clone());
            let mut cols = columns.clone();
            if let Some(ui) = using_index {
                // The index is renamed to the constraint's name.
                let old = ObjName::new(t.name.schema.clone(), ui.clone());
                if let Some(i) = indexes.remove(&old) {
                    cols = i.columns.clone();
                }
            }
            indexes.insert(
                idx_name.clone(),
                Index {
                    name: idx_name,
                    table: t.name.clone(),
                    columns: cols.clone(),
                    unique: true,
                    partial: false,
                },
            );
            let kind = if pk {
                ConstraintKind::PrimaryKey {
                    columns: cols,
                    using_index: None,
                }
            } else {
                ConstraintKind::Unique {
                    columns: cols,
                    using_index: None,
                }
            };
            t.constraints.push(TableConstraint {
                name,
                kind,
                not_valid: false,
            });
        }
        ConstraintKind::NotNull { column } => {
            if let Some(cc) = t.column_mut(column) {
                cc.not_null = true;
            }
        }
        _ => t.constraints.push(TableConstraint {
            name,
            kind: c.kind.clone(),
            not_valid: c.not_valid,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reverse lookups must answer exactly what a scan of the whole schema answers,
    /// in the same order, through creates, renames, drops and hand edits of the maps.
    fn assert_lookups_match_scan(cat: &Catalog, when: &str) {
        let mut names: Vec<ObjName> = cat.tables.keys().cloned().collect();
        names.extend(cat.indexes.values().map(|i| i.table.clone()));
        names.push(ObjName::new("public", "nowhere"));
        for t in &names {
            let fast: Vec<&ObjName> = cat.indexes_on(t).map(|i| &i.name).collect();
            let scan: Vec<&ObjName> = cat
                .indexes
                .values()
                .filter(|i| &i.table == t)
                .map(|i| &i.name)
                .collect();
            assert_eq!(fast, scan, "indexes on {t} {when}");
            let fast: Vec<&ObjName> = cat.tables_referencing(t).iter().map(|x| &x.name).collect();
            let scan: Vec<&ObjName> = cat
                .tables
                .values()
                .filter(|x| x.foreign_keys().any(|(_, fk)| &fk.ref_table == t))
                .map(|x| &x.name)
                .collect();
            assert_eq!(fast, scan, "tables referencing {t} {when}");
        }
    }

    #[test]
    fn reverse_lookups_follow_every_change() {
        let sql = "
            CREATE TABLE a (id bigint PRIMARY KEY, code text UNIQUE);
            CREATE TABLE b (id bigint PRIMARY KEY, a_id bigint REFERENCES a (id));
            CREATE TABLE c (id bigint PRIMARY KEY, b_id bigint, a_id bigint);
            ALTER TABLE c ADD CONSTRAINT c_b_fk FOREIGN KEY (b_id) REFERENCES b (id) NOT VALID;
            ALTER TABLE c ADD CONSTRAINT c_a_fk FOREIGN KEY (a_id) REFERENCES a (id);
            CREATE INDEX c_b_idx ON c (b_id);
            CREATE UNIQUE INDEX CONCURRENTLY c_a_key_idx ON c (a_id);
            ALTER TABLE c ADD CONSTRAINT c_a_key UNIQUE USING INDEX c_a_key_idx;
            ALTER INDEX c_b_idx RENAME TO c_b_id_idx;
            ALTER TABLE a RENAME TO aa;
            ALTER TABLE b RENAME COLUMN a_id TO aa_id;
            ALTER TABLE c DROP COLUMN b_id;
            ALTER TABLE c DROP CONSTRAINT c_a_fk;
            ALTER TABLE b SET SCHEMA archive;
            DROP INDEX c_b_id_idx;
            DROP TABLE c;
            CREATE TABLE c (id bigint PRIMARY KEY, aa_id bigint REFERENCES aa (id));
        ";
        let mut cat = Catalog::new();
        for (i, st) in crate::parse::parse_sql(sql).iter().enumerate() {
            for op in &st.ops {
                cat.apply(op);
            }
            assert_lookups_match_scan(&cat, &format!("after statement {i}"));
            // A snapshot taken now keeps answering for its own state.
            let snapshot = cat.clone();
            assert_lookups_match_scan(&snapshot, &format!("in the snapshot after {i}"));
        }
        // Hand edits of the public maps are seen too.
        let d = ObjName::new("public", "d");
        let mut t = cat
            .tables
            .get(&ObjName::new("public", "c"))
            .cloned()
            .unwrap();
        t.name = d.clone();
        cat.tables.insert(d.clone(), t);
        cat.indexes.insert(
            ObjName::new("public", "d_idx"),
            Index {
                name: ObjName::new("public", "d_idx"),
                table: d.clone(),
                columns: vec!["aa_id".into()],
                unique: false,
                partial: false,
            },
        );
        assert_lookups_match_scan(&cat, "after hand edits");
        assert_eq!(cat.indexes_on(&d).count(), 1);
        assert_eq!(
            cat.tables_referencing(&ObjName::new("public", "aa")).len(),
            3
        );
    }
}
