//! `--format sarif` is valid SARIF 2.1.0: validated against the OASIS JSON schema (the copy
//! that ships inside the serde-sarif crate we build with, found in cargo's registry).

use std::path::PathBuf;
use std::process::Command;

/// The SARIF 2.1.0 schema from the serde-sarif package sources cargo downloaded.
fn sarif_schema() -> serde_json::Value {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let src = home.join("registry").join("src");
    for index in std::fs::read_dir(&src).expect("cargo registry sources") {
        let index = index.unwrap().path();
        for pkg in std::fs::read_dir(&index).unwrap() {
            let pkg = pkg.unwrap().path();
            let name = pkg.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("serde-sarif-") {
                let schema = pkg.join("src").join("schema.json");
                if let Ok(text) = std::fs::read_to_string(&schema) {
                    // The published schema's `language` pattern has a stray `]` that ECMA
                    // regex reads as a literal but the validator's regex engine rejects;
                    // use the pattern it means (a two-letter code with optional region).
                    let text = text.replace(
                        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
                        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
                    );
                    return serde_json::from_str(&text).expect("schema is JSON");
                }
            }
        }
    }
    panic!(
        "serde-sarif sources with schema.json not found under {}",
        src.display()
    );
}

#[test]
fn sarif_output_validates_against_the_schema() {
    let schema = sarif_schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for folder in ["diesel", "goose", "plain"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "lint",
                "--format",
                "sarif",
                &format!("migrations-examples/{folder}"),
            ])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{folder}: {errors:#?}");
        let run = &doc["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert!(rules.len() > 40, "every rule's metadata is included");
        let results = run["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{folder}: findings are reported");
        // Every result names a rule that the driver describes, with a location.
        for r in results {
            let id = r["ruleId"].as_str().unwrap();
            assert!(rules.iter().any(|x| x["id"] == id), "{id} not in rules");
            assert!(
                r["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_i64()
                    .unwrap()
                    >= 1
            );
        }
        assert!(
            rules
                .iter()
                .all(|r| r["help"]["text"].as_str().is_some_and(|t| !t.is_empty()))
        );
    }
}

#[test]
fn a_broken_document_fails_the_schema() {
    // Guard against a validator that accepts anything.
    let schema = sarif_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let bad = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {}}]});
    assert!(validator.iter_errors(&bad).next().is_some());
}
