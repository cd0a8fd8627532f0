//! `lockstep lsp` driven by a real client session over stdio: initialize, didOpen of the
//! newest migration of a folder (diagnostics that depend on the replayed history), hover
//! (lock facts), a code action (add CONCURRENTLY), didChange applying it (the diagnostic
//! goes away), shutdown and exit.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

struct Client {
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait(|m| m["id"] == id)
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message matching `pred` (others are skipped), within 60 s.
    fn wait(&self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self
                .messages
                .recv_timeout(Duration::from_secs(60))
                .expect("the server answered in time");
            if pred(&m) {
                return m;
            }
        }
    }

    fn diagnostics(&self) -> Vec<Value> {
        let m = self.wait(|m| m["method"] == "textDocument/publishDiagnostics");
        m["params"]["diagnostics"].as_array().unwrap().clone()
    }
}

fn read_messages(out: impl Read + Send + 'static) -> Receiver<Value> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        loop {
            let mut len = None;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    len = v.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; len.expect("Content-Length header")];
            if r.read_exact(&mut body).is_err() {
                return;
            }
            if tx
                .send(serde_json::from_slice(&body).expect("JSON"))
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

#[test]
fn a_client_session_gets_diagnostics_fixes_and_hover() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(
        db.join("001_users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    )
    .unwrap();
    // Saved on disk: a harmless version. The editor holds the unsafe one.
    std::fs::write(db.join("002_email_idx.sql"), "SELECT 1;\n").unwrap();
    // users is 48 M rows: the diagnostic must say so, which needs the config and replay.
    std::fs::write(
        dir.path().join("lockstep.yaml"),
        "tables:\n  users: { rows: 48_000_000 }\n",
    )
    .unwrap();
    let path = db.join("002_email_idx.sql");
    let uri = format!("file://{}", path.display());

    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .arg("lsp")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut client = Client {
        stdin: child.stdin.take().unwrap(),
        messages: read_messages(child.stdout.take().unwrap()),
        next_id: 0,
    };
    let init = client.request(
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", dir.path().display()), "capabilities": {}}),
    );
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["hoverProvider"], true, "{init}");
    assert_eq!(caps["codeActionProvider"], true);
    client.notify("initialized", json!({}));

    let text = "-- users by e-mail\nCREATE INDEX users_email_idx ON users (email);\n";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": text}}),
    );
    let diags = client.diagnostics();
    let idx = diags
        .iter()
        .find(|d| d["code"] == "create-index-non-concurrently")
        .unwrap_or_else(|| panic!("{diags:#?}"))
        .clone();
    assert_eq!(idx["severity"], 1, "an error");
    assert_eq!(idx["range"]["start"], json!({"line": 1, "character": 0}));
    let msg = idx["message"].as_str().unwrap();
    assert!(
        msg.contains("48 M rows"),
        "the folder's config was used: {msg}"
    );

    // Hover on the statement: its lock.
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 5}}),
    );
    let value = hover["result"]["contents"]["value"].as_str().unwrap_or("");
    assert!(value.contains("SHARE on public.users"), "{hover}");

    // The quick fix inserts CONCURRENTLY after INDEX.
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": idx["range"],
            "context": {"diagnostics": [idx]},
        }),
    );
    let list = actions["result"].as_array().unwrap();
    let add = list
        .iter()
        .find(|a| a["title"].as_str().unwrap_or("").contains("CONCURRENTLY"))
        .unwrap_or_else(|| panic!("{actions}"));
    let edit = &add["edit"]["changes"][&uri][0];
    assert_eq!(edit["newText"], " CONCURRENTLY");
    assert_eq!(edit["range"]["start"], json!({"line": 1, "character": 12}));

    // Applying it: the finding is gone.
    let fixed = "-- users by e-mail\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n";
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    let diags = client.diagnostics();
    assert!(
        !diags
            .iter()
            .any(|d| d["code"] == "create-index-non-concurrently"),
        "{diags:#?}"
    );

    let shutdown = client.request("shutdown", Value::Null);
    assert!(shutdown.get("error").is_none(), "{shutdown}");
    client.notify("exit", Value::Null);
    drop(client);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
