//! `lockstep lsp`: a Language Server over stdio (`lsp-server` transport). For an open
//! migration file it replays the file's whole folder, with the editor's unsaved text in
//! place of the file, and publishes the findings of that file as diagnostics on open and
//! on every change. Code actions offer the fixes that are one statement (add
//! CONCURRENTLY, add NOT VALID, put a `SET lock_timeout` before the statement); hover on a
//! statement shows its lock facts.
//!
//! The folder is read from disk once and kept (re-read on save); an edit swaps in the
//! edited file's migration only. The replay itself runs over the whole history (the
//! analyser has no entry point that starts from a saved catalog).
//!
//! Messages are handled as JSON values: the server needs a handful of fields of each, and
//! this keeps it independent of the exact shape of the protocol's Rust types.

use crate::analyze::{Analysis, analyze};
use crate::config::Config;
use crate::rules::Direction;
use crate::settings::{Settings, Severity};
use crate::source::{self, Layout, Migration};
use lsp_server::{Connection, Message, Notification, Request, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A migration folder as read from disk.
struct Folder {
    layout: Layout,
    migrations: Vec<Migration>,
    settings: Settings,
}

/// An open document and what the last analysis said about it.
struct Document {
    path: PathBuf,
    text: String,
    /// Statements of the file (byte spans) with their lock facts, for hover.
    statements: Vec<(std::ops::Range<usize>, Vec<String>)>,
}

/// The server's state.
#[derive(Default)]
pub struct Server {
    folders: HashMap<PathBuf, Folder>,
    documents: HashMap<String, Document>,
}

/// Runs the server on stdin/stdout until the client says `exit`.
pub fn run() -> Result<(), String> {
    let (connection, io) = Connection::stdio();
    let caps = json!({
        "textDocumentSync": 1,
        "hoverProvider": true,
        "codeActionProvider": true,
    });
    connection
        .initialize(caps)
        .map_err(|e| format!("LSP initialize failed: {e}"))?;
    let mut server = Server::default();
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection
                    .handle_shutdown(&req)
                    .map_err(|e| format!("LSP shutdown: {e}"))?
                {
                    break;
                }
                let resp = server.request(&req);
                let _ = connection.sender.send(Message::Response(resp));
            }
            Message::Notification(n) => {
                for out in server.notification(&n) {
                    let _ = connection.sender.send(Message::Notification(out));
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(connection);
    io.join().map_err(|e| format!("LSP I/O: {e}"))?;
    Ok(())
}

/// `file:///a/b%20c.sql` → `/a/b c.sql`.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

/// LSP position (line, UTF-16 column) of a byte offset.
pub fn lsp_position(text: &str, offset: usize) -> Value {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let character: usize = text[start..offset].chars().map(char::len_utf16).sum();
    json!({"line": line, "character": character})
}

/// Byte offset of an LSP position.
pub fn byte_offset(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().unwrap_or(0) as usize;
    let character = pos["character"].as_u64().unwrap_or(0) as usize;
    let mut start = 0;
    for _ in 0..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let mut units = 0;
    for (i, c) in text[start..].char_indices() {
        if units >= character || c == '\n' {
            return start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}

fn range(text: &str, span: &std::ops::Range<usize>) -> Value {
    json!({"start": lsp_position(text, span.start), "end": lsp_position(text, span.end)})
}

impl Server {
    /// The folder that holds `path` as a migration (its directory, or the one above for
    /// layouts with a directory per migration), read once.
    fn folder_for(&mut self, path: &Path) -> Option<PathBuf> {
        let mut candidates = Vec::new();
        let mut dir = path.parent();
        for _ in 0..2 {
            let Some(d) = dir else { break };
            candidates.push(d.to_path_buf());
            dir = d.parent();
        }
        for c in candidates {
            if let Some(f) = self.folders.get(&c)
                && f.migrations.iter().any(|m| m.up.path == path)
            {
                return Some(c);
            }
            let config = Config::discover(&c)
                .and_then(|p| Config::load(&p).ok())
                .unwrap_or_default();
            let exclude = config.file.exclude.clone().unwrap_or_default();
            let Ok(loaded) = source::load(std::slice::from_ref(&c), config.layout, &exclude) else {
                continue;
            };
            let holds = loaded
                .migrations
                .iter()
                .any(|m| m.up.path == path || m.down.as_ref().is_some_and(|d| d.path == path));
            if holds {
                let mut settings = Settings::default();
                config.apply(&mut settings);
                settings.single_statement_autocommit = loaded.layout.implicit_transaction();
                settings.runner = Some(loaded.layout.name().to_string());
                self.folders.insert(
                    c.clone(),
                    Folder {
                        layout: loaded.layout,
                        migrations: loaded.migrations,
                        settings,
                    },
                );
                return Some(c);
            }
        }
        None
    }

    /// Analyses the folder of `uri` with the document's text and returns its diagnostics.
    fn diagnose(&mut self, uri: &str) -> Option<Notification> {
        let doc = self.documents.get(uri)?;
        let path = doc.path.clone();
        let text = doc.text.clone();
        let analysis: Analysis = match self.folder_for(&path) {
            Some(key) => {
                let folder = self.folders.get(&key)?;
                // The edited file's migration, read from the editor's text in the folder's layout.
                let edited = source::load_text(&path, &text, Some(folder.layout)).ok();
                let mut migrations: Vec<Migration> = folder.migrations.clone();
                if let Some(loaded) = edited
                    && let Some(new) = loaded.migrations.into_iter().next()
                    && let Some(slot) = migrations.iter_mut().find(|m| m.up.path == path)
                {
                    let (id, version, name, order) = (
                        slot.id.clone(),
                        slot.version.clone(),
                        slot.name.clone(),
                        slot.order,
                    );
                    *slot = Migration {
                        id,
                        version,
                        name,
                        order,
                        ..new
                    };
                }
                let settings = folder.settings.clone();
                analyze(&migrations, &settings, &|m: &Migration| {
                    m.up.path == path || m.down.as_ref().is_some_and(|d| d.path == path)
                })
            }
            None => {
                // A file on its own: analysed alone.
                let loaded = source::load_text(&path, &text, None).ok()?;
                analyze(&loaded.migrations, &Settings::default(), &|_| true)
            }
        };
        let doc = self.documents.get_mut(uri)?;
        doc.statements = analysis
            .scripts
            .iter()
            .filter(|s| s.path == path)
            .flat_map(|s| &s.statements)
            .map(|st| {
                let facts = st
                    .locks
                    .iter()
                    .map(|l| {
                        let mut f = format!("{} on {}", l.mode.as_str(), l.table.qualified());
                        if l.rewrite {
                            f.push_str(", rewrites the table");
                        }
                        if l.scan {
                            f.push_str(", reads every row");
                        }
                        f
                    })
                    .collect();
                (st.span.clone(), facts)
            })
            .collect();
        let diagnostics: Vec<Value> = analysis
            .findings
            .iter()
            .filter(|f| f.path == path)
            .map(|f| {
                let severity = match f.severity {
                    Severity::Error => 1,
                    Severity::Warning => 2,
                    Severity::Info => 3,
                };
                let mut rules: Vec<&str> = vec![f.rule.as_str()];
                rules.extend(f.notes.iter().map(|n| n.rule.as_str()));
                let mut message = f.message_with_notes();
                if f.direction == Direction::Down {
                    message.insert_str(0, "(down) ");
                }
                if let Some(h) = &f.help {
                    message.push_str("\nhelp: ");
                    message.push_str(h);
                }
                json!({
                    "range": range(&text, &f.span),
                    "severity": severity,
                    "code": f.rule,
                    "source": "lockstep",
                    "message": message,
                    "data": {"rules": rules, "start": f.span.start, "end": f.span.end},
                })
            })
            .collect();
        Some(Notification::new(
            "textDocument/publishDiagnostics".into(),
            json!({"uri": uri, "diagnostics": diagnostics}),
        ))
    }

    /// Handles a notification; returns what to send back.
    pub fn notification(&mut self, n: &Notification) -> Vec<Notification> {
        let p = &n.params;
        let uri = p["textDocument"]["uri"].as_str().unwrap_or("").to_string();
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Some(path) = uri_to_path(&uri) else {
                    return Vec::new();
                };
                let text = p["textDocument"]["text"].as_str().unwrap_or("").to_string();
                self.documents.insert(
                    uri.clone(),
                    Document {
                        path,
                        text,
                        statements: Vec::new(),
                    },
                );
                self.diagnose(&uri).into_iter().collect()
            }
            "textDocument/didChange" => {
                // Full sync: the last change holds the whole text.
                let Some(text) = p["contentChanges"]
                    .as_array()
                    .and_then(|c| c.last())
                    .and_then(|c| c["text"].as_str())
                else {
                    return Vec::new();
                };
                match self.documents.get_mut(&uri) {
                    Some(d) => d.text = text.to_string(),
                    None => return Vec::new(),
                }
                self.diagnose(&uri).into_iter().collect()
            }
            "textDocument/didSave" => {
                // Another file of the folder may have changed on disk: read it again.
                if let Some(d) = self.documents.get(&uri)
                    && let Some(dir) = d.path.parent()
                {
                    let dir = dir.to_path_buf();
                    self.folders
                        .retain(|k, _| k != &dir && Some(k.as_path()) != dir.parent());
                }
                self.diagnose(&uri).into_iter().collect()
            }
            "textDocument/didClose" => {
                self.documents.remove(&uri);
                vec![Notification::new(
                    "textDocument/publishDiagnostics".into(),
                    json!({"uri": uri, "diagnostics": []}),
                )]
            }
            _ => Vec::new(),
        }
    }

    /// Handles a request.
    pub fn request(&mut self, req: &Request) -> Response {
        let result = match req.method.as_str() {
            "textDocument/hover" => self.hover(&req.params),
            "textDocument/codeAction" => self.code_actions(&req.params),
            _ => {
                return Response::new_err(
                    req.id.clone(),
                    lsp_server::ErrorCode::MethodNotFound as i32,
                    format!("lockstep does not handle {}", req.method),
                );
            }
        };
        Response::new_ok(req.id.clone(), result)
    }

    fn hover(&self, p: &Value) -> Value {
        let uri = p["textDocument"]["uri"].as_str().unwrap_or("");
        let Some(doc) = self.documents.get(uri) else {
            return Value::Null;
        };
        let at = byte_offset(&doc.text, &p["position"]);
        let Some((span, facts)) = doc
            .statements
            .iter()
            .find(|(s, _)| s.start <= at && at <= s.end)
        else {
            return Value::Null;
        };
        let body = if facts.is_empty() {
            "**lockstep**: no lock on an existing table".to_string()
        } else {
            format!(
                "**lockstep** lock facts:\n\n{}",
                facts
                    .iter()
                    .map(|f| format!("- {f}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        };
        json!({
            "contents": {"kind": "markdown", "value": body},
            "range": range(&doc.text, span),
        })
    }

    fn code_actions(&self, p: &Value) -> Value {
        let uri = p["textDocument"]["uri"].as_str().unwrap_or("");
        let Some(doc) = self.documents.get(uri) else {
            return json!([]);
        };
        let mut actions = Vec::new();
        for d in p["context"]["diagnostics"].as_array().into_iter().flatten() {
            let (Some(start), Some(end)) = (d["data"]["start"].as_u64(), d["data"]["end"].as_u64())
            else {
                continue;
            };
            let span = start as usize..(end as usize).min(doc.text.len());
            let Some(stmt) = doc.text.get(span.clone()) else {
                continue;
            };
            let rules: Vec<&str> = d["data"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for rule in rules {
                if let Some((title, at, insert)) = fix(rule, stmt) {
                    let pos = lsp_position(&doc.text, span.start + at);
                    actions.push(json!({
                        "title": title,
                        "kind": "quickfix",
                        "diagnostics": [d],
                        "edit": {"changes": {uri: [{
                            "range": {"start": pos, "end": pos},
                            "newText": insert,
                        }]}},
                    }));
                }
            }
        }
        Value::Array(actions)
    }
}

/// The one-statement fix for `rule` on statement text `stmt`: a title, the byte offset in
/// `stmt` to insert at, and the text to insert.
pub fn fix(rule: &str, stmt: &str) -> Option<(String, usize, String)> {
    let upper = stmt.to_ascii_uppercase();
    let code_end = upper.trim_end().trim_end_matches(';').trim_end().len();
    match rule {
        "create-index-non-concurrently" | "drop-index-non-concurrently"
            if !upper.contains("CONCURRENTLY") =>
        {
            let at = upper.find("INDEX")? + "INDEX".len();
            Some((
                "lockstep: add CONCURRENTLY (the migration must not run in a transaction)".into(),
                at,
                " CONCURRENTLY".into(),
            ))
        }
        "add-foreign-key" | "add-check" | "add-constraint-validates"
            if !upper.contains("NOT VALID") =>
        {
            Some((
                "lockstep: add NOT VALID (then VALIDATE CONSTRAINT in a later migration)".into(),
                code_end,
                " NOT VALID".into(),
            ))
        }
        "missing-lock-timeout" => Some((
            "lockstep: SET lock_timeout before this statement".into(),
            0,
            "SET lock_timeout = '2s';\n".into(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_in_utf16() {
        let text = "SELECT 1;\nCREATE TABLE \"é😀\" (x int);\n";
        let off = text.find("(x").unwrap();
        let pos = lsp_position(text, off);
        // "CREATE TABLE \"é😀\" " is 18 UTF-16 units (the emoji counts two).
        assert_eq!(pos, json!({"line": 1, "character": 19}));
        assert_eq!(byte_offset(text, &pos), off);
    }

    #[test]
    fn fixes_insert_one_clause() {
        let s = "CREATE INDEX i ON t (c);";
        let (_, at, ins) = fix("create-index-non-concurrently", s).unwrap();
        assert_eq!(
            format!("{}{ins}{}", &s[..at], &s[at..]),
            "CREATE INDEX CONCURRENTLY i ON t (c);"
        );
        let s = "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id);\n";
        let (_, at, ins) = fix("add-foreign-key", s).unwrap();
        assert!(format!("{}{ins}{}", &s[..at], &s[at..]).contains("(id) NOT VALID;"));
        assert!(
            fix(
                "create-index-non-concurrently",
                "CREATE INDEX CONCURRENTLY i ON t (c)"
            )
            .is_none()
        );
        assert_eq!(
            uri_to_path("file:///a/b%20c.sql"),
            Some(PathBuf::from("/a/b c.sql"))
        );
    }
}
