use lockstep::analyze::{analyze, inline_migration};
use lockstep::settings::Settings;
#[test]
fn print() {
    for (_, m) in lockstep::rules::metas() {
        let v = lockstep::locks::PG_VERSIONS.rev().find(|v| m.applies_to(*v)).unwrap();
        let migs = vec![inline_migration(0, "setup", &m.setup, true), inline_migration(1, "ex", &m.bad, m.example_in_transaction)];
        let s = Settings { pg_version: v, ..Default::default() };
        let a = analyze(&migs, &s, &|x| x.order == 1);
        println!("=== {} (bad)", m.id);
        for f in &a.findings { println!("  [{}:{}] {}\n      label: {}\n      help: {}", f.rule, f.severity, f.message, f.label.clone().unwrap_or_default(), f.help.clone().unwrap_or_default()); }
    }
}
