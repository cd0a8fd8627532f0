//! The CI formats of `lockstep lint`: GitLab Code Quality (`codeclimate`) validated against
//! a JSON schema written from GitLab's documented fields, JUnit XML checked against the
//! structure the JUnit XSD requires, and the markdown PR comment (balanced `<details>`,
//! Mermaid flowcharts whose lines are all valid basic syntax, the phased plan of an unsafe
//! migration).

use quick_xml::Reader;
use quick_xml::events::Event;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;

fn lint(args: &[&str], cwd: &Path) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .current_dir(cwd)
        .arg("lint")
        .args(args)
        .output()
        .expect("run lockstep");
    assert!(
        out.status.code() != Some(2) && out.status.code().is_some(),
        "lockstep lint {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("UTF-8 output"),
        out.status.code().unwrap_or(-1),
    )
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Number of findings as the JSON report counts them.
fn finding_count(folder: &str, cwd: &Path) -> usize {
    let (json, _) = lint(&["--format", "json", folder], cwd);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    doc["findings"].as_array().expect("findings").len()
}

/// A plain folder whose SQL carries markup meant to break each format.
fn hostile_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(
        db.join("001_create.sql"),
        "CREATE TABLE \"</details>\" (id bigint PRIMARY KEY, \"a]]>&<x>\" text);\n",
    )
    .unwrap();
    std::fs::write(
        db.join("002_index.sql"),
        "-- \"quotes\" & <tags> ```\nCREATE INDEX \"i\"\"</testsuite>\" ON \"</details>\" (\"a]]>&<x>\");\n\
         ALTER TABLE \"</details>\" ADD COLUMN \"n`x\" int NOT NULL DEFAULT 0;\n",
    )
    .unwrap();
    dir
}

// ---------------------------------------------------------------- codeclimate

fn codeclimate_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("tests/schemas/codeclimate.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn codeclimate_validates_against_gitlab_fields() {
    let validator = codeclimate_validator();
    for folder in ["diesel", "goose", "plain"] {
        let path = format!("migrations-examples/{folder}");
        let (out, _) = lint(&["--format", "codeclimate", &path], repo());
        let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{folder}: {errors:#?}");
        let issues = doc.as_array().unwrap();
        assert_eq!(issues.len(), finding_count(&path, repo()), "{folder}");
        // GitLab matches issues between pipelines by fingerprint: they must be unique.
        let fps: HashSet<&str> = issues
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap())
            .collect();
        assert_eq!(fps.len(), issues.len(), "{folder}: duplicate fingerprints");
        for i in issues {
            let p = i["location"]["path"].as_str().unwrap();
            assert!(
                repo().join(p).is_file(),
                "{p} is a path from the repository root"
            );
        }
    }
    // The diesel example has an error (CREATE INDEX on users, 48 M rows).
    let (out, _) = lint(
        &["--format", "codeclimate", "migrations-examples/diesel"],
        repo(),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let idx = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check_name"] == "create-index-non-concurrently")
        .expect("create-index finding");
    assert_eq!(idx["severity"], "critical");
    assert_eq!(idx["location"]["lines"]["begin"], 2);
    assert!(
        idx["location"]["path"]
            .as_str()
            .unwrap()
            .ends_with("2024-03-02-101500_users_email_idx/up.sql")
    );
}

#[test]
fn codeclimate_schema_rejects_what_gitlab_rejects() {
    let v = codeclimate_validator();
    let ok = serde_json::json!([{"description": "d", "check_name": "c", "fingerprint": "f",
        "severity": "major", "location": {"path": "a.sql", "lines": {"begin": 1}}}]);
    assert!(v.is_valid(&ok));
    for bad in [
        serde_json::json!([{"description": "d", "check_name": "c", "fingerprint": "f",
            "severity": "error", "location": {"path": "a.sql", "lines": {"begin": 1}}}]),
        serde_json::json!([{"description": "d", "check_name": "c",
            "severity": "major", "location": {"path": "a.sql", "lines": {"begin": 1}}}]),
        serde_json::json!([{"description": "d", "check_name": "c", "fingerprint": "f",
            "severity": "major", "location": {"path": "a.sql", "lines": {"begin": 0}}}]),
        serde_json::json!({"description": "not an array"}),
    ] {
        assert!(!v.is_valid(&bad), "{bad}");
    }
}

// ---------------------------------------------------------------- junit

/// An XML element with attributes and children (text is not needed by the checks).
#[derive(Debug)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<El>,
}

fn parse_xml(xml: &str) -> El {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<El> = vec![El {
        name: "#document".into(),
        attrs: BTreeMap::new(),
        children: Vec::new(),
    }];
    let el = |e: &quick_xml::events::BytesStart| El {
        name: AsRef::<str>::as_ref(&e.name()).to_string(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                (
                    AsRef::<str>::as_ref(&a.key).to_string(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("valid escapes")
                        .into_owned(),
                )
            })
            .collect(),
        children: Vec::new(),
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(el(&e)),
            Event::Empty(e) => {
                let child = el(&e);
                stack.last_mut().unwrap().children.push(child);
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().expect("balanced").children.push(done);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    stack.pop().unwrap()
}

/// Checks the structure the JUnit XSD requires; returns (tests, failures) summed over suites.
fn check_junit(xml: &str) -> (usize, usize, El) {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let doc = parse_xml(xml);
    assert_eq!(doc.children.len(), 1, "one root element");
    let root = doc.children.into_iter().next().unwrap();
    assert_eq!(root.name, "testsuites");
    let num = |e: &El, a: &str| -> usize {
        e.attrs
            .get(a)
            .unwrap_or_else(|| panic!("<{}> lacks {a}", e.name))
            .parse()
            .unwrap_or_else(|_| panic!("<{}> {a} is not a count", e.name))
    };
    let (mut tests, mut failures) = (0, 0);
    let mut ids = HashSet::new();
    for suite in &root.children {
        assert_eq!(suite.name, "testsuite");
        for a in ["package", "id", "name", "timestamp", "hostname"] {
            assert!(
                suite.attrs.get(a).is_some_and(|v| !v.is_empty()),
                "testsuite lacks {a}"
            );
        }
        assert!(
            ids.insert(suite.attrs["id"].clone()),
            "suite ids are unique"
        );
        let ts = &suite.attrs["timestamp"];
        // xs:dateTime without a zone, as the XSD's pattern wants.
        assert_eq!(ts.len(), 19, "{ts}");
        assert_eq!(&ts[4..5], "-");
        assert_eq!(&ts[10..11], "T");
        let time: f64 = suite.attrs["time"].parse().expect("time is a decimal");
        assert!(time >= 0.0);
        // Sequence: properties, testcase*, system-out, system-err.
        let names: Vec<&str> = suite.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"properties"), "{names:?}");
        assert_eq!(names[names.len() - 2..], ["system-out", "system-err"]);
        let cases = &suite.children[1..suite.children.len() - 2];
        let mut failed = 0;
        for c in cases {
            assert_eq!(c.name, "testcase");
            for a in ["name", "classname", "time"] {
                assert!(c.attrs.contains_key(a), "testcase lacks {a}");
            }
            assert!(c.children.len() <= 1, "one failure or error at most");
            if let Some(f) = c.children.first() {
                assert!(f.name == "failure" || f.name == "error", "{}", f.name);
                assert!(f.attrs.contains_key("type"), "failure lacks type");
                failed += 1;
            }
        }
        assert_eq!(num(suite, "tests"), cases.len());
        assert_eq!(num(suite, "failures"), failed);
        assert_eq!(num(suite, "errors"), 0);
        tests += cases.len();
        failures += failed;
    }
    assert_eq!(num(&root, "tests"), tests);
    assert_eq!(num(&root, "failures"), failures);
    (tests, failures, root)
}

#[test]
fn junit_has_the_required_structure_and_fails_at_the_threshold() {
    let (xml, code) = lint(&["--format", "junit", "migrations-examples/diesel"], repo());
    assert_eq!(code, 1, "errors make lint exit 1");
    let (tests, fail_errors, root) = check_junit(&xml);
    // A suite per migration that has statements, a case per statement.
    let (json, _) = lint(&["--format", "json", "migrations-examples/diesel"], repo());
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let statements: usize = doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["statements"].as_array().unwrap().len())
        .sum();
    assert!(
        tests >= statements,
        "{tests} cases for {statements} statements"
    );
    assert!(fail_errors >= 1);
    let failing: Vec<&El> = root
        .children
        .iter()
        .flat_map(|s| &s.children)
        .filter(|c| c.children.first().is_some_and(|f| f.name == "failure"))
        .collect();
    assert!(
        failing.iter().any(|c| c.children[0].attrs["type"]
            .contains("create-index-non-concurrently")
            && c.name == "testcase"
            && c.attrs["name"].contains("CREATE INDEX users_email_idx")),
        "{xml}"
    );
    // With --fail-on info every finding fails its statement: more failures, same tests.
    let (xml_info, _) = lint(
        &[
            "--format",
            "junit",
            "--fail-on",
            "info",
            "migrations-examples/diesel",
        ],
        repo(),
    );
    let (tests_info, fail_info, _) = check_junit(&xml_info);
    assert_eq!(tests_info, tests);
    assert!(fail_info > fail_errors, "{fail_info} vs {fail_errors}");
}

#[test]
fn junit_stays_well_formed_with_hostile_names() {
    let dir = hostile_folder();
    let (xml, _) = lint(&["--format", "junit", "db"], dir.path());
    let (tests, failures, root) = check_junit(&xml);
    assert!(tests >= 3);
    assert!(failures >= 1, "{xml}");
    // The index statement's text comes back intact after unescaping.
    let names: Vec<&String> = root
        .children
        .iter()
        .flat_map(|s| &s.children)
        .filter_map(|c| c.attrs.get("name"))
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.contains("CREATE INDEX \"i\"\"</testsuite>\"")),
        "{names:?}"
    );
}

// ---------------------------------------------------------------- markdown

/// Checks the Mermaid flowchart basics: a `flowchart` header, every line a node, a
/// subgraph opening or `end`, or an edge between defined ids; labels quoted with no raw
/// quote inside; subgraphs balanced. Returns the number of step nodes.
fn check_mermaid(block: &str) -> usize {
    let mut lines = block.lines();
    let header = lines.next().unwrap_or("");
    assert!(
        header == "flowchart TD" || header == "flowchart LR",
        "{header}"
    );
    let mut ids: HashSet<String> = HashSet::new();
    let mut depth = 0i32;
    let mut nodes = 0;
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    let quoted = |s: &str| {
        s.len() >= 2 && s.starts_with('"') && s.ends_with('"') && !s[1..s.len() - 1].contains('"')
    };
    for raw in lines {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line == "end" {
            depth -= 1;
            assert!(depth >= 0, "end without subgraph");
            continue;
        }
        if let Some(rest) = line.strip_prefix("subgraph ") {
            let (id, label) = rest.split_once('[').expect("subgraph id[\"label\"]");
            assert!(ident(id), "{line}");
            assert!(quoted(label.strip_suffix(']').expect("]")), "{line}");
            ids.insert(id.to_string());
            depth += 1;
            continue;
        }
        if let Some((a, b)) = line.split_once(" --> ") {
            assert!(
                ids.contains(a) && ids.contains(b),
                "edge to undefined id: {line}"
            );
            continue;
        }
        let split = line
            .find(['[', '{'])
            .unwrap_or_else(|| panic!("not a node: {line}"));
        let (id, shape) = line.split_at(split);
        assert!(ident(id), "{line}");
        let label = [("[(", ")]"), ("{{", "}}"), ("[", "]")]
            .iter()
            .find_map(|(o, c)| shape.strip_prefix(o).and_then(|s| s.strip_suffix(c)))
            .unwrap_or_else(|| panic!("unknown shape: {line}"));
        assert!(quoted(label), "label not quoted: {line}");
        ids.insert(id.to_string());
        if id.starts_with('s') {
            nodes += 1;
        }
    }
    assert_eq!(depth, 0, "unbalanced subgraphs");
    nodes
}

/// `<details>` open and close in balance, each followed by a `<summary>`, never nested
/// inside a code block; returns the mermaid blocks.
fn check_markdown(md: &str) -> Vec<String> {
    let mut depth = 0i32;
    let mut fence: Option<String> = None;
    let mut mermaid: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut expect_summary = false;
    for line in md.lines() {
        let t = line.trim_start();
        if let Some(f) = &fence {
            if t.starts_with(f.as_str()) && t.trim_matches('`').is_empty() {
                fence = None;
                if let Some(b) = current.take() {
                    mermaid.push(b);
                }
            } else if let Some(b) = &mut current {
                b.push_str(line);
                b.push('\n');
            }
            continue;
        }
        if t.starts_with("```") {
            let ticks = t.chars().take_while(|c| *c == '`').count();
            fence = Some("`".repeat(ticks));
            if t[ticks..].trim() == "mermaid" {
                current = Some(String::new());
            }
            continue;
        }
        if expect_summary {
            assert!(
                t.starts_with("<summary>") && t.ends_with("</summary>"),
                "{t}"
            );
            expect_summary = false;
        }
        if t.starts_with("<details") {
            assert!(t == "<details>" || t == "<details open>", "{t}");
            depth += 1;
            expect_summary = true;
        } else if t == "</details>" {
            depth -= 1;
            assert!(depth >= 0, "</details> without <details>");
        } else {
            assert!(
                !t.contains("<details") && !t.contains("</details"),
                "stray details tag: {t}"
            );
        }
    }
    assert!(fence.is_none(), "unclosed code block");
    assert_eq!(depth, 0, "unbalanced <details>");
    mermaid
}

#[test]
fn markdown_groups_findings_and_draws_the_plan() {
    let (md, code) = lint(
        &["--format", "markdown", "migrations-examples/diesel"],
        repo(),
    );
    assert_eq!(code, 1);
    let blocks = check_markdown(&md);
    assert!(!blocks.is_empty(), "an unsafe migration gets a plan:\n{md}");
    for b in &blocks {
        assert!(check_mermaid(b) >= 1, "{b}");
    }
    // Grouped by migration, in apply order (as the JSON report lists migrations), each
    // migration with findings under one heading, none without.
    let heads: Vec<&str> = md.lines().filter(|l| l.starts_with("### ")).collect();
    let (json, _) = lint(&["--format", "json", "migrations-examples/diesel"], repo());
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut order: Vec<String> = Vec::new();
    for m in doc["migrations"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap().to_string();
        let has = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["migration"] == id.as_str());
        if has && !order.contains(&id) {
            order.push(id);
        }
    }
    assert!(order.len() >= 2, "{json}");
    assert!(order.iter().any(|m| m.ends_with("users_email_idx")));
    assert_eq!(heads.len(), order.len(), "{heads:?} vs {order:?}");
    for (h, m) in heads.iter().zip(&order) {
        assert!(h.ends_with(m.as_str()), "{h} should be {m}: {heads:?}");
    }
    // The users_email_idx plan builds the index concurrently.
    assert!(md.contains("CREATE INDEX CONCURRENTLY"), "{md}");
    assert!(md.contains("Phase 1: "), "{md}");
    // Every finding is listed once.
    let items = md.lines().filter(|l| l.starts_with("- **")).count();
    assert_eq!(
        items,
        finding_count("migrations-examples/diesel", repo()),
        "{md}"
    );
}

#[test]
fn markdown_stays_structured_with_hostile_names() {
    let dir = hostile_folder();
    let (md, _) = lint(&["--format", "markdown", "db"], dir.path());
    let blocks = check_markdown(&md);
    for b in &blocks {
        check_mermaid(b);
    }
    assert!(md.contains("&lt;/details&gt;"), "{md}");
}

#[test]
fn the_checkers_catch_broken_documents() {
    // Guards against checks that accept anything.
    let broken = [
        "<details>\n<summary>x</summary>\n",
        "</details>\n",
        "<details>\nno summary\n</details>\n",
        "```mermaid\nflowchart TD\n  s1[\"a\"]\n  s1 --> s2\n```\n",
        "```mermaid\nflowchart TD\n  subgraph p1[\"x\"]\n```\n",
        "```mermaid\nflowchart TD\n  s1[\"a \"b\" c\"]\n```\n",
    ];
    for doc in broken {
        let r = std::panic::catch_unwind(|| {
            for b in check_markdown(doc) {
                check_mermaid(&b);
            }
        });
        assert!(r.is_err(), "accepted: {doc:?}");
    }
    let bad_junit = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"1\" failures=\"0\"><testsuite name=\"x\"/></testsuites>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite>",
    ];
    for doc in bad_junit {
        assert!(
            std::panic::catch_unwind(|| check_junit(doc)).is_err(),
            "{doc}"
        );
    }
}
