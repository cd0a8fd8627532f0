//! CREATE / DROP INDEX concurrently, with cleanup of INVALID leftovers.

use super::*;

/// Cleanup of an INVALID leftover, then the CONCURRENTLY build. Returns the build's key.
pub(super) fn build_index(
    cx: &mut Cx<'_>,
    phase: Phase,
    index: &ObjName,
    table: &ObjName,
    create_sql: &str,
    after: &[String],
) -> String {
    let cleanup = cx.ddl(
        phase,
        format!(
            "drop {} if a failed earlier build left it INVALID",
            obj(index)
        ),
        vec![invalid_index_cleanup(index)],
        table,
        LockMode::AccessExclusive,
        "instant, and only when an INVALID index is left over",
        after,
    );
    cx.concurrent(
        phase,
        format!(
            "build index {} on {} without blocking writes",
            obj(index),
            obj(table)
        ),
        create_sql.to_string(),
        table,
        &[cleanup],
    )
}

/// A DO block that drops `index` only when it exists and is INVALID (what a failed
/// CREATE INDEX CONCURRENTLY leaves behind), so a retry can rebuild it.
pub fn invalid_index_cleanup(index: &ObjName) -> String {
    let reg = literal(&obj(index));
    let body = format!(
        "\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass({reg}) AND NOT indisvalid) THEN\n    EXECUTE {};\n  END IF;\nEND\n",
        literal(&format!("DROP INDEX {}", obj(index)))
    );
    format!("DO {};", dollar_quote(&body))
}

pub(super) fn create_index(
    cx: &mut Cx<'_>,
    name: Option<&ObjName>,
    table: &ObjName,
    columns: &[String],
    concurrently: bool,
) {
    let index = name.cloned().unwrap_or_else(|| {
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut parts = vec![table.name.as_str()];
        parts.extend(cols);
        ObjName::new(table.schema.clone(), derived_name(&parts, "idx"))
    });
    let sql = if concurrently {
        format!("{};", cx.text.trim_end_matches(';').trim_end())
    } else {
        concurrent_create_sql(
            cx.text,
            if name.is_none() {
                Some(&index.name)
            } else {
                None
            },
        )
    };
    build_index(cx, Phase::Expand, &index, table, &sql, &[]);
}

/// Inserts CONCURRENTLY (and a name, for an unnamed index) after the INDEX keyword.
pub(super) fn concurrent_create_sql(text: &str, name: Option<&str>) -> String {
    let text = text.trim().trim_end_matches(';').trim_end();
    let lower = text.to_ascii_lowercase();
    let pos = find_word(&lower, "index").map(|p| p + "index".len());
    match pos {
        Some(p) => {
            let name_sql = name.map(|n| format!(" {}", ident(n))).unwrap_or_default();
            format!("{} CONCURRENTLY{name_sql}{};", &text[..p], &text[p..])
        }
        None => format!("{text};"),
    }
}

pub(super) fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_id = |c: char| c.is_alphanumeric() || c == '_';
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let at = start + pos;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_id) && !after.is_some_and(is_id) {
            return Some(at);
        }
        start = at + word.len();
    }
    None
}

pub(super) fn drop_index(
    cx: &mut Cx<'_>,
    op: &Op,
    name: &ObjName,
    concurrently: bool,
    if_exists: bool,
) {
    let table = cx.catalog.index_table(name).cloned();
    // An index that backs a constraint cannot be dropped CONCURRENTLY.
    let backs_constraint = table.as_ref().is_some_and(|t| {
        cx.catalog
            .table(t)
            .is_some_and(|tt| tt.constraints.iter().any(|c| c.name == name.name))
    });
    if concurrently || backs_constraint {
        cx.pass_through(std::slice::from_ref(op), None);
        return;
    }
    let t = table.unwrap_or_else(|| name.clone());
    cx.concurrent(
        Phase::Contract,
        format!("drop index {} without blocking reads or writes", obj(name)),
        format!(
            "DROP INDEX CONCURRENTLY {}{};",
            if if_exists { "IF EXISTS " } else { "" },
            obj(name)
        ),
        &t,
        &[],
    );
    let key = cx.out.last().map(|d| d.key.clone()).unwrap_or_default();
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == key) {
        d.phase = Phase::Expand;
        d.locks = vec![StepLock::new(
            &t,
            LockMode::ShareUpdateExclusive,
            "waits for running queries, reads and writes continue",
        )];
    }
}
