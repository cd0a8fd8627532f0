//! TypeORM `migrations/*.ts|js`: classes implementing `MigrationInterface` with `up` and
//! `down`, read with tree-sitter.
//!
//! Order: TypeORM sorts migrations by the timestamp at the end of the class name
//! (`CreateUsers1700000000001`). Transactions: every migration runs in a transaction
//! unless the class sets `transaction = false`.
//!
//! `queryRunner.query("…")` (string or template literal without `${}`, `+` of literals) is
//! raw SQL, with spans into the literal when it is written verbatim. The schema API calls
//! whose SQL depends only on their arguments (`createTable`, `dropTable`, `addColumn`,
//! `dropColumn`, `createIndex`, `dropIndex`, `createForeignKey`, `dropForeignKey`,
//! `createUniqueConstraint`, `createCheckConstraint`, …) are compiled to the SQL TypeORM's
//! PostgreSQL query runner sends (default names `PK_`/`UQ_`/`FK_`/`IDX_`/`CHK_` + SHA-1 as
//! its naming strategy makes them) and lowered by the SQL path. Calls whose SQL depends on
//! the live schema (`changeColumn`, `renameColumn`, `renameTable`) are reported as not
//! analysed.

use super::files::{Entry, Inputs};
use super::host::HostStatement;
use super::js::{self, JsFile, Value, Walker, q};
use super::{Migration, Script, SourceError, file_migration};
use std::path::Path;
use tree_sitter::Node;

/// Evidence that `entries` are this framework's migrations, for layout detection.
pub(crate) fn detect(entries: &[Entry]) -> Option<String> {
    let n = entries
        .iter()
        .filter(|e| js::is_script_name(e.file_name()))
        .filter(|e| std::fs::read_to_string(&e.path).is_ok_and(|t| looks_like_typeorm(&t)))
        .count();
    (n > 0).then(|| format!("{n} TypeORM migration class(es) (MigrationInterface)"))
}

fn looks_like_typeorm(text: &str) -> bool {
    text.contains("MigrationInterface") || (text.contains("queryRunner") && text.contains("class "))
}

/// Whether `dir` is a migration folder of this framework (for `lockstep lint .`).
pub(crate) fn is_folder(dir: &Path) -> bool {
    let Ok(read) = std::fs::read_dir(dir) else {
        return false;
    };
    read.flatten().any(|item| {
        let name = item.file_name();
        js::is_script_name(&name.to_string_lossy())
            && item.path().is_file()
            && std::fs::read_to_string(item.path()).is_ok_and(|t| looks_like_typeorm(&t))
    })
}

/// Reads the migrations in apply order.
pub(crate) fn collect(inputs: &mut Inputs) -> Result<Vec<Migration>, SourceError> {
    let mut found: Vec<(String, Migration)> = Vec::new();
    for entry in inputs.entries.clone() {
        if !js::is_script_name(entry.file_name()) {
            inputs.ignore(&entry.path, "not a .ts/.js file");
            continue;
        }
        let text = inputs.text(&entry.path)?;
        let typescript = entry.file_name().ends_with(".ts");
        let Some(classes) = read_file(&text, typescript) else {
            inputs.warn(format!(
                "{}: tree-sitter could not parse the file",
                entry.path.display()
            ));
            continue;
        };
        if classes.is_empty() {
            inputs.ignore(&entry.path, "no migration class (up/down methods)");
            continue;
        }
        for class in classes {
            let version = class_timestamp(&class.name).unwrap_or_default();
            let label = class
                .name
                .strip_suffix(version.as_str())
                .unwrap_or(&class.name)
                .to_string();
            let up = Script::host(&entry.path, text.clone(), class.up.0, class.up.1);
            let down = class
                .down
                .map(|(range, calls)| Script::host(&entry.path, text.clone(), range, calls));
            let migration = file_migration(
                class.name.clone(),
                version.clone(),
                label,
                up,
                down,
                class.in_transaction,
            );
            found.push((version, migration));
        }
    }
    // TypeORM compares the timestamps as numbers; equal lengths compare as text.
    found.sort_by(|a, b| {
        let key = |v: &str| (v.len(), v.to_string());
        key(&a.0).cmp(&key(&b.0)).then_with(|| a.1.id.cmp(&b.1.id))
    });
    Ok(found.into_iter().map(|(_, m)| m).collect())
}

/// The trailing 13-digit JavaScript timestamp of a migration class name.
fn class_timestamp(name: &str) -> Option<String> {
    let digits: String = name
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// One migration class.
pub(crate) struct TypeormClass {
    pub name: String,
    pub up: (std::ops::Range<usize>, Vec<HostStatement>),
    pub down: Option<(std::ops::Range<usize>, Vec<HostStatement>)>,
    pub in_transaction: bool,
}

/// Reads the migration classes of one file.
pub(crate) fn read_file(text: &str, typescript: bool) -> Option<Vec<TypeormClass>> {
    let file = JsFile::new(text, typescript)?;
    let mut out = Vec::new();
    let mut stack = vec![file.root()];
    while let Some(node) = stack.pop() {
        if matches!(node.kind(), "class_declaration" | "class")
            && let Some(class) = read_class(&file, node)
        {
            out.push(class);
            continue;
        }
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            stack.push(child);
        }
    }
    out.reverse();
    Some(out)
}

fn read_class(file: &JsFile<'_>, class: Node<'_>) -> Option<TypeormClass> {
    let name = file.text(class.child_by_field_name("name")?).to_string();
    let body = class.child_by_field_name("body")?;
    let mut up = None;
    let mut down = None;
    let mut in_transaction = true;
    let mut cursor = body.walk();
    for member in body.named_children(&mut cursor) {
        match member.kind() {
            "method_definition" => {
                let Some(method) = member.child_by_field_name("name") else {
                    continue;
                };
                let method = file.text(method);
                if method != "up" && method != "down" {
                    continue;
                }
                let receivers: Vec<String> = js::params(file, member)
                    .into_iter()
                    .take(1)
                    .flatten()
                    .collect();
                let receivers = if receivers.is_empty() {
                    vec!["queryRunner".into()]
                } else {
                    receivers
                };
                let mut walker = Walker::new(file, receivers);
                walker.function(member, &mut |w, call| runner_call(w, call));
                let range = member
                    .child_by_field_name("body")
                    .map(|b| b.byte_range())
                    .unwrap_or(member.byte_range());
                if method == "up" {
                    up = Some((range, walker.out));
                } else {
                    down = Some((range, walker.out));
                }
            }
            "public_field_definition" | "field_definition" => {
                let key = member
                    .child_by_field_name("name")
                    .or_else(|| member.child_by_field_name("property"));
                let value = member.child_by_field_name("value");
                if let (Some(key), Some(value)) = (key, value)
                    && file.text(key) == "transaction"
                    && matches!(file.eval(value), Value::Bool(false))
                {
                    in_transaction = false;
                }
            }
            _ => {}
        }
    }
    Some(TypeormClass {
        name,
        up: up?,
        down,
        in_transaction,
    })
}

/// One call on the query runner.
fn runner_call<'a>(w: &mut Walker<'a, '_>, call: Node<'a>) -> Option<Vec<HostStatement>> {
    let file = w.file;
    let (_, links) = file.chain(call)?;
    if links.len() != 1 {
        return None;
    }
    let link = &links[0];
    let args: Vec<Value> = link.args.as_ref()?.iter().map(|a| file.eval(*a)).collect();
    let span = call.byte_range();
    let sql: Vec<String> = match link.name.as_str() {
        "query" => {
            if let Some(params) = args.get(1) {
                match params {
                    Value::Array(items) if items.is_empty() => {}
                    Value::Undefined => {}
                    _ => return None,
                }
            }
            return js::raw_sql(span, args.first()?).map(|s| vec![s]);
        }
        "createTable" => create_table(args.first()?, args.get(1), args.get(2), args.get(3))?,
        "dropTable" => {
            let table = table_name(args.first()?)?;
            let if_exists = matches!(args.get(1), Some(Value::Bool(true)));
            if if_exists {
                // TypeORM asks the server whether the table exists and sends nothing if not.
                return None;
            }
            vec![format!("DROP TABLE {}", path(&table))]
        }
        "addColumn" => add_column(&table_name(args.first()?)?, args.get(1)?)?,
        "addColumns" => {
            let table = table_name(args.first()?)?;
            let Value::Array(columns) = args.get(1)? else {
                return None;
            };
            let mut out = Vec::new();
            for c in columns {
                out.extend(add_column(&table, c)?);
            }
            out
        }
        "dropColumn" => {
            let table = table_name(args.first()?)?;
            let column = match args.get(1)? {
                Value::Str { text, .. } => text.clone(),
                v @ Value::New { .. } => object_arg(v, "TableColumn")?.get_str("name")?.to_string(),
                _ => return None,
            };
            // TypeORM first drops the column's own indexes, uniques and checks it knows of;
            // for a plain column that is the one statement.
            vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                path(&table),
                q(&column)
            )]
        }
        "createIndex" => {
            let table = table_name(args.first()?)?;
            vec![index_sql(&table, object_arg(args.get(1)?, "TableIndex")?)?]
        }
        "dropIndex" => {
            let table = table_name(args.first()?)?;
            let (name, concurrent) = match args.get(1)? {
                Value::Str { text, .. } => (text.clone(), false),
                v @ Value::New { .. } => {
                    let o = object_arg(v, "TableIndex")?;
                    (
                        o.get_str("name")?.to_string(),
                        o.get_bool("isConcurrent") == Some(true),
                    )
                }
                _ => return None,
            };
            let schema = table
                .split_once('.')
                .map(|(s, _)| format!("{}.", q(s)))
                .unwrap_or_default();
            vec![format!(
                "DROP INDEX {}{schema}{}",
                if concurrent { "CONCURRENTLY " } else { "" },
                q(&name)
            )]
        }
        "createForeignKey" => {
            let table = table_name(args.first()?)?;
            vec![foreign_key_sql(
                &table,
                object_arg(args.get(1)?, "TableForeignKey")?,
                false,
            )?]
        }
        "dropForeignKey" | "dropUniqueConstraint" | "dropCheckConstraint" | "dropPrimaryKey" => {
            let table = table_name(args.first()?)?;
            let name = match args.get(1)? {
                Value::Str { text, .. } => text.clone(),
                v @ Value::New { .. } => object_arg(v, "")?.get_str("name")?.to_string(),
                _ => return None,
            };
            vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                path(&table),
                q(&name)
            )]
        }
        "createUniqueConstraint" => {
            let table = table_name(args.first()?)?;
            let o = object_arg(args.get(1)?, "TableUnique")?;
            let columns = o.get("columnNames")?.str_list()?;
            let name = match o.get_str("name") {
                Some(n) => n.to_string(),
                None => hashed_name("UQ_", &table, &columns, None, 27),
            };
            vec![format!(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                path(&table),
                q(&name),
                list(&columns)
            )]
        }
        "createCheckConstraint" => {
            let table = table_name(args.first()?)?;
            let o = object_arg(args.get(1)?, "TableCheck")?;
            let expression = o.get_str("expression")?;
            // TypeORM's generated CHK_ names do not follow a plain SHA-1 of the
            // expression (checked against TypeORM 0.3); an unnamed check is not guessed.
            let name = o.get_str("name")?.to_string();
            vec![format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({expression})",
                path(&table),
                q(&name)
            )]
        }
        "createSchema" => {
            let name = args.first()?.as_str()?;
            if matches!(args.get(1), Some(Value::Bool(true))) {
                vec![format!("CREATE SCHEMA IF NOT EXISTS {}", q(name))]
            } else {
                vec![format!("CREATE SCHEMA {}", q(name))]
            }
        }
        _ => return None,
    };
    Some(js::generated(span, &sql))
}

/// The object inside `new <class>({…})`, or the object literal itself.
fn object_arg<'v, 't>(value: &'v Value<'t>, class: &str) -> Option<&'v Value<'t>> {
    match value {
        Value::New { class: c, args } if class.is_empty() || c.ends_with(class) => args.first(),
        o @ Value::Object(_) => Some(o),
        _ => None,
    }
}

/// A table argument: a name, or `new Table({ name })`.
fn table_name(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Str { text, .. } => Some(text.clone()),
        v => object_arg(v, "Table")?.get_str("name").map(str::to_string),
    }
}

/// TypeORM's `escapePath`: `"schema"."table"` when a schema other than public is named.
fn path(table: &str) -> String {
    match table.split_once('.') {
        Some((schema, name)) if schema != "public" => format!("{}.{}", q(schema), q(name)),
        Some((_, name)) => q(name),
        None => q(table),
    }
}

fn list(columns: &[String]) -> String {
    columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
}

/// `<prefix><sha1(table_cols[_where])[..n]>`, the default naming strategy.
fn hashed_name(
    prefix: &str,
    table: &str,
    columns: &[String],
    where_: Option<&str>,
    n: usize,
) -> String {
    let mut sorted = columns.to_vec();
    sorted.sort();
    let mut key = format!("{}_{}", table.replacen('.', "_", 1), sorted.join("_"));
    if let Some(w) = where_ {
        key.push('_');
        key.push_str(w);
    }
    format!("{prefix}{}", &sha1_hex(key.as_bytes())[..n])
}

/// `buildCreateColumnSql`.
fn column_sql(table: &str, c: &Value<'_>) -> Option<String> {
    let name = c.get_str("name")?;
    let ty = c.get_str("type")?.to_string();
    let mut sql = q(name);
    let generated = c.get_bool("isGenerated") == Some(true);
    let strategy = c.get_str("generationStrategy").unwrap_or("increment");
    if c.get("asExpression").is_some() || c.get("enum").is_some() || c.get("enumName").is_some() {
        return None;
    }
    if ty == "enum" || ty == "simple-enum" {
        return None;
    }
    if generated && strategy != "uuid" {
        if strategy == "identity" {
            let how = c.get_str("generatedIdentity").unwrap_or("BY DEFAULT");
            sql.push_str(&format!(" {ty} GENERATED {how} AS IDENTITY"));
        } else {
            match ty.as_str() {
                "integer" | "int" | "int4" => sql.push_str(" SERIAL"),
                "smallint" | "int2" => sql.push_str(" SMALLSERIAL"),
                "bigint" | "int8" => sql.push_str(" BIGSERIAL"),
                _ => return None,
            }
        }
    }
    if !generated || ty == "uuid" {
        sql.push(' ');
        sql.push_str(&full_type(c, &ty)?);
    }
    if c.get("collation").is_some() || c.get("charset").is_some() {
        return None;
    }
    if c.get_bool("isNullable") != Some(true) {
        sql.push_str(" NOT NULL");
    }
    match c.get("default") {
        None | Some(Value::Null) | Some(Value::Undefined) => {
            if generated && strategy == "uuid" {
                sql.push_str(" DEFAULT uuid_generate_v4()");
            }
        }
        Some(Value::Str { text, .. }) => sql.push_str(&format!(" DEFAULT {text}")),
        Some(Value::Num(n)) => sql.push_str(&format!(" DEFAULT {}", js::js_number(*n))),
        Some(Value::Bool(b)) => sql.push_str(&format!(" DEFAULT {b}")),
        _ => return None,
    }
    let _ = table;
    Some(sql)
}

/// `createFullType`.
fn full_type(c: &Value<'_>, ty: &str) -> Option<String> {
    let num = |k: &str| match c.get(k) {
        Some(Value::Num(n)) => Some(Some(js::js_number(*n))),
        Some(Value::Str { text, .. }) if !text.is_empty() => Some(Some(text.clone())),
        None | Some(Value::Null) | Some(Value::Undefined) => Some(None),
        Some(Value::Str { .. }) => Some(None),
        _ => None,
    };
    let length = num("length")?;
    let precision = num("precision")?;
    let scale = num("scale")?;
    let mut out = ty.to_string();
    if let Some(l) = &length {
        out.push_str(&format!("({l})"));
    } else if let (Some(p), Some(s)) = (&precision, &scale) {
        out.push_str(&format!("({p},{s})"));
    } else if let Some(p) = &precision {
        out.push_str(&format!("({p})"));
    }
    let p = precision.map(|p| format!("({p})")).unwrap_or_default();
    match ty {
        "time without time zone" => out = format!("TIME{p}"),
        "time with time zone" => out = format!("TIME{p} WITH TIME ZONE"),
        "timestamp without time zone" => out = format!("TIMESTAMP{p}"),
        "timestamp with time zone" => out = format!("TIMESTAMP{p} WITH TIME ZONE"),
        _ => {}
    }
    if c.get_bool("isArray") == Some(true) {
        out.push_str(" array");
    }
    Some(out)
}

/// `addColumn(table, new TableColumn({…}))`.
fn add_column(table: &str, column: &Value<'_>) -> Option<Vec<String>> {
    let c = object_arg(column, "TableColumn")?;
    if c.get_bool("isPrimary") == Some(true) || c.get("comment").is_some() {
        // The primary key is rebuilt from the table's current key: depends on the schema.
        return None;
    }
    let mut out = vec![format!(
        "ALTER TABLE {} ADD {}",
        path(table),
        column_sql(table, c)?
    )];
    if c.get_bool("isUnique") == Some(true) {
        let name = c.get_str("name")?.to_string();
        let uq = hashed_name("UQ_", table, std::slice::from_ref(&name), None, 27);
        out.push(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
            path(table),
            q(&uq),
            q(&name)
        ));
    }
    Some(out)
}

/// `createIndexSql`.
fn index_sql(table: &str, o: &Value<'_>) -> Option<String> {
    let columns = o.get("columnNames")?.str_list()?;
    let where_ = o.get_str("where").filter(|w| !w.is_empty());
    let name = match o.get_str("name") {
        Some(n) => n.to_string(),
        None => hashed_name("IDX_", table, &columns, where_, 26),
    };
    Some(format!(
        "CREATE {}INDEX{} {} ON {} {}({}) {}",
        if o.get_bool("isUnique") == Some(true) {
            "UNIQUE "
        } else {
            ""
        },
        if o.get_bool("isConcurrent") == Some(true) {
            " CONCURRENTLY"
        } else {
            ""
        },
        q(&name),
        path(table),
        if o.get_bool("isSpatial") == Some(true) {
            "USING GiST "
        } else {
            ""
        },
        list(&columns),
        where_.map(|w| format!("WHERE {w}")).unwrap_or_default()
    ))
}

/// `createForeignKeySql` (or the constraint clause inside CREATE TABLE).
fn foreign_key_sql(table: &str, o: &Value<'_>, inline: bool) -> Option<String> {
    let columns = o.get("columnNames")?.str_list()?;
    let referenced = o.get("referencedColumnNames")?.str_list()?;
    let mut ref_table = o.get_str("referencedTableName")?.to_string();
    if let Some(schema) = o.get_str("referencedSchema") {
        ref_table = format!("{schema}.{ref_table}");
    }
    let name = match o.get_str("name") {
        Some(n) => n.to_string(),
        None => hashed_name("FK_", table, &columns, None, 27),
    };
    let mut sql = if inline {
        format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            q(&name),
            list(&columns),
            path(&ref_table),
            list(&referenced)
        )
    } else {
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}({})",
            path(table),
            q(&name),
            list(&columns),
            path(&ref_table),
            referenced
                .iter()
                .map(|c| q(c))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    if let Some(a) = o.get_str("onDelete") {
        sql.push_str(&format!(" ON DELETE {a}"));
    }
    if let Some(a) = o.get_str("onUpdate") {
        sql.push_str(&format!(" ON UPDATE {a}"));
    }
    if let Some(d) = o.get_str("deferrable") {
        sql.push_str(&format!(" DEFERRABLE {d}"));
    }
    Some(sql)
}

/// `createTable(new Table({…}), ifNotExists, createForeignKeys, createIndices)`.
fn create_table(
    table: &Value<'_>,
    if_not_exists: Option<&Value<'_>>,
    create_fks: Option<&Value<'_>>,
    create_indices: Option<&Value<'_>>,
) -> Option<Vec<String>> {
    if matches!(if_not_exists, Some(Value::Bool(true))) {
        // Sent only when the server says the table does not exist.
        return None;
    }
    let t = object_arg(table, "Table")?;
    let name = t.get_str("name")?.to_string();
    let Value::Array(columns) = t.get("columns")? else {
        return None;
    };
    if t.get("comment").is_some() || t.get("exclusions").is_some() {
        return None;
    }
    let mut defs = Vec::new();
    let mut primary = Vec::new();
    let mut uniques: Vec<(String, Vec<String>)> = Vec::new();
    let mut pk_name = None;
    for c in columns {
        let c = object_arg(c, "TableColumn")?;
        if c.get("comment").is_some() {
            return None;
        }
        defs.push(column_sql(&name, c)?);
        let col = c.get_str("name")?.to_string();
        if c.get_bool("isPrimary") == Some(true) {
            if pk_name.is_none() {
                pk_name = c.get_str("primaryKeyConstraintName").map(str::to_string);
            }
            primary.push(col.clone());
        }
        if c.get_bool("isUnique") == Some(true) {
            let n = hashed_name("UQ_", &name, std::slice::from_ref(&col), None, 27);
            uniques.push((n, vec![col]));
        }
    }
    let mut explicit_uniques: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(Value::Array(items)) = t.get("uniques") {
        for u in items {
            let u = object_arg(u, "TableUnique")?;
            if u.get("deferrable").is_some() {
                return None;
            }
            let cols = u.get("columnNames")?.str_list()?;
            let n = match u.get_str("name") {
                Some(n) => n.to_string(),
                None => hashed_name("UQ_", &name, &cols, None, 27),
            };
            explicit_uniques.push((n, cols));
        }
    }
    // Column uniques are added after the table's own, unless one covers the column already.
    for (n, cols) in uniques {
        if !explicit_uniques
            .iter()
            .any(|(_, c)| c.len() == 1 && c[0] == cols[0])
        {
            explicit_uniques.push((n, cols));
        }
    }
    let mut sql = format!("CREATE TABLE {} ({}", path(&name), defs.join(", "));
    if !explicit_uniques.is_empty() {
        let parts: Vec<String> = explicit_uniques
            .iter()
            .map(|(n, c)| format!("CONSTRAINT {} UNIQUE ({})", q(n), list(c)))
            .collect();
        sql.push_str(&format!(", {}", parts.join(", ")));
    }
    if let Some(Value::Array(checks)) = t.get("checks")
        && !checks.is_empty()
    {
        let mut parts = Vec::new();
        for ch in checks {
            let ch = object_arg(ch, "TableCheck")?;
            let expression = ch.get_str("expression")?;
            // See createCheckConstraint: unnamed checks are not guessed.
            let n = ch.get_str("name")?.to_string();
            parts.push(format!("CONSTRAINT {} CHECK ({expression})", q(&n)));
        }
        sql.push_str(&format!(", {}", parts.join(", ")));
    }
    let fks_on = !matches!(create_fks, Some(Value::Bool(false)));
    if let Some(Value::Array(fks)) = t.get("foreignKeys")
        && !fks.is_empty()
        && fks_on
    {
        let mut parts = Vec::new();
        for fk in fks {
            parts.push(foreign_key_sql(
                &name,
                object_arg(fk, "TableForeignKey")?,
                true,
            )?);
        }
        sql.push_str(&format!(", {}", parts.join(", ")));
    }
    if !primary.is_empty() {
        let n = pk_name.unwrap_or_else(|| hashed_name("PK_", &name, &primary, None, 27));
        sql.push_str(&format!(
            ", CONSTRAINT {} PRIMARY KEY ({})",
            q(&n),
            list(&primary)
        ));
    }
    sql.push(')');
    let mut out = vec![sql];
    if !matches!(create_indices, Some(Value::Bool(false)))
        && let Some(Value::Array(indices)) = t.get("indices")
    {
        for index in indices {
            out.push(index_sql(&name, object_arg(index, "TableIndex")?)?);
        }
    }
    Some(out)
}

/// SHA-1 as lower-case hex (TypeORM names constraints after it).
fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha1_matches_the_standard_vectors() {
        assert_eq!(
            super::sha1_hex(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            super::sha1_hex(b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
