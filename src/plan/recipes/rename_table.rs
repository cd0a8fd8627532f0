//! RENAME TABLE behind a compatibility view.

use super::*;

pub(super) fn rename_table(cx: &mut Cx<'_>, table: &ObjName, new_name: &str) {
    let old = obj(table);
    let new = ObjName::new(table.schema.clone(), new_name.to_string());
    let new_sql = obj(&new);
    let k = cx.ddl(
        Phase::Expand,
        format!("rename {old} to {new_sql} and leave a view under the old name"),
        vec![
            format!("ALTER TABLE {old} RENAME TO {};", ident(new_name)),
            format!("CREATE VIEW {old} AS SELECT * FROM {new_sql};"),
        ],
        table,
        LockMode::AccessExclusive,
        "instant (catalog only)",
        &[],
    );
    cx.note(
        &k,
        format!(
            "the view is a simple one, so the running application keeps reading and writing \
             through {old} (INSERT/UPDATE/DELETE pass to {new_sql})"
        ),
    );
    if let Some(d) = cx.out.iter_mut().find(|d| d.key == k) {
        d.tables.push(new.clone());
    }
    let d = cx.deploy(
        Phase::Contract,
        format!("the application uses {new_sql} instead of {old}"),
        &[k],
    );
    let c = cx.ddl(
        Phase::Contract,
        format!("drop the compatibility view {old}"),
        vec![format!("DROP VIEW {old};")],
        table,
        LockMode::AccessExclusive,
        "instant (the view only)",
        std::slice::from_ref(&d),
    );
    cx.requires(&c, &d);
}
