//! How long `lockstep lsp` takes to republish diagnostics after an edit of the newest
//! migration of a 400-migration folder (the target: under 100 ms).
//!
//! `cargo bench --bench lsp_republish` (release). Drives the server's handlers directly
//! (no stdio framing): one didOpen, then 20 didChange of the newest file, each returning
//! its publishDiagnostics; prints the median and the worst.

#[allow(dead_code)] // the generator has more than this bench uses
mod migration_gen;

use lockstep::lsp::Server;
use lsp_server::Notification;
use serde_json::json;
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("LSP_BENCH_MIGRATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let dir = tempfile::tempdir().expect("temp dir");
    let stats = migration_gen::write_folder(dir.path(), n, migration_gen::GenLayout::Plain, 7)
        .expect("generate");
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let newest = files.last().expect("a migration").clone();
    let text = std::fs::read_to_string(&newest).expect("read");
    let uri = format!("file://{}", newest.display());
    let mut server = Server::default();

    let t = Instant::now();
    let out = server.notification(&Notification::new(
        "textDocument/didOpen".into(),
        json!({"textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": text}}),
    ));
    assert_eq!(out.len(), 1, "one publishDiagnostics");
    let open = t.elapsed();

    let mut times = Vec::new();
    for i in 0..20 {
        let edited = format!("{text}\n-- edit {i}\nCREATE INDEX bench_idx_{i} ON t00001 (id);\n");
        let t = Instant::now();
        let out = server.notification(&Notification::new(
            "textDocument/didChange".into(),
            json!({"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [{"text": edited}]}),
        ));
        times.push(t.elapsed());
        assert_eq!(out.len(), 1);
    }
    times.sort();
    println!(
        "lsp_republish: {n} migrations ({} statements, {} KB): didOpen {:.1} ms; didChange of the newest: median {:.1} ms, worst {:.1} ms (20 edits)",
        stats.statements,
        stats.bytes / 1024,
        open.as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}
