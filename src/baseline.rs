//! Baselines: the findings a team has accepted on its existing history, recorded by
//! `lockstep baseline`, so `lint` reports only new ones.
//!
//! A finding is recognised by a fingerprint that survives edits elsewhere in the file:
//! rule, migration id, script direction, a hash of the statement's text with comments,
//! case and spacing normalised, and the occurrence index among findings sharing all of
//! those. Line numbers are not part of it, so adding a migration or a comment above a
//! statement does not turn old findings into new ones.

use crate::analyze::Analysis;
use crate::rules::{Direction, Finding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The default file name, looked up next to `lockstep.yaml` (or in the working directory).
pub const FILE_NAME: &str = "lockstep-baseline.json";

/// The file `lockstep baseline` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Format version (1).
    pub version: u32,
    pub findings: Vec<Entry>,
}

/// One recorded finding. Only `fingerprint` is matched; the rest is for people reading the
/// file in review.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub rule: String,
    pub migration: String,
    pub path: String,
    pub message: String,
}

/// Whitespace collapsed, `--` comments dropped, keywords and identifiers lowercased outside
/// string literals: the statement as far as its meaning goes.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut space = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\'' {
                in_str = false;
            }
            continue;
        }
        if c == '-' && chars.peek() == Some(&'-') {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            space = true;
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c == '\'' {
            in_str = true;
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of every finding of `analysis`, in the order of `analysis.findings`.
pub fn fingerprints(analysis: &Analysis) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Occurrence indexes count in file order, whatever order the findings are in.
    let mut order: Vec<usize> = (0..analysis.findings.len()).collect();
    order.sort_by_key(|&i| {
        let f = &analysis.findings[i];
        (f.path.clone(), f.span.start, i)
    });
    let mut out = vec![String::new(); analysis.findings.len()];
    for i in order {
        let f = &analysis.findings[i];
        let base = base_key(analysis, f);
        let n = seen.entry(base.clone()).or_insert(0);
        let mut h = Sha256::new();
        h.update(base.as_bytes());
        h.update(n.to_string().as_bytes());
        *n += 1;
        out[i] = hex(&h.finalize()[..12]);
    }
    out
}

fn base_key(analysis: &Analysis, f: &Finding) -> String {
    let text = analysis
        .sources
        .get(&f.path)
        .and_then(|s| s.get(f.span.clone()))
        .map(normalise)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    let dir = match f.direction {
        Direction::Up => "up",
        Direction::Down => "down",
    };
    format!(
        "{}\u{1f}{}\u{1f}{dir}\u{1f}{}\u{1f}",
        f.rule,
        f.migration,
        hex(&h.finalize())
    )
}

/// The baseline of the current findings.
pub fn of(analysis: &Analysis) -> Baseline {
    let fps = fingerprints(analysis);
    let mut findings: Vec<Entry> = analysis
        .findings
        .iter()
        .zip(fps)
        .map(|(f, fingerprint)| Entry {
            fingerprint,
            rule: f.rule.clone(),
            migration: f.migration.clone(),
            path: crate::report::display_path(&f.path),
            message: f.message.clone(),
        })
        .collect();
    // A stable file: ordered by migration, then rule and fingerprint, so re-running
    // `baseline` on an unchanged folder gives the same bytes.
    findings.sort_by(|a, b| {
        (&a.path, &a.migration, &a.rule, &a.fingerprint).cmp(&(
            &b.path,
            &b.migration,
            &b.rule,
            &b.fingerprint,
        ))
    });
    Baseline {
        version: 1,
        findings,
    }
}

/// Writes the baseline of `analysis` to `path`; returns how many findings it records.
pub fn write(path: &Path, analysis: &Analysis) -> Result<usize, String> {
    let b = of(analysis);
    let mut text = serde_json::to_string_pretty(&b).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(b.findings.len())
}

/// Reads a baseline file; the error names the file and, for bad JSON, the line and column.
pub fn load(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let b: Baseline = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a lockstep baseline: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if b.version != 1 {
        return Err(format!(
            "{}: baseline version {} is not supported (this lockstep writes version 1)",
            path.display(),
            b.version
        ));
    }
    Ok(b)
}

/// Drops the findings the baseline records (each recorded fingerprint hides one finding) and
/// counts them in `analysis.baselined`.
pub fn apply(analysis: &mut Analysis, baseline: &Baseline) {
    let mut left: HashMap<&str, usize> = HashMap::new();
    for e in &baseline.findings {
        *left.entry(e.fingerprint.as_str()).or_insert(0) += 1;
    }
    let fps = fingerprints(analysis);
    let mut keep = Vec::with_capacity(fps.len());
    for fp in &fps {
        match left.get_mut(fp.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                keep.push(false);
            }
            _ => keep.push(true),
        }
    }
    let before = analysis.findings.len();
    let mut i = 0;
    analysis.findings.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    analysis.baselined += before - analysis.findings.len();
}

/// Where the baseline lives by default: beside the configuration file, else in `dir`.
pub fn default_path(config: Option<&Path>, dir: &Path) -> PathBuf {
    match config.and_then(Path::parent) {
        Some(p) => p.join(FILE_NAME),
        None => dir.join(FILE_NAME),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_ignores_spacing_case_and_comments_but_not_literals() {
        assert_eq!(
            normalise("CREATE  INDEX idx\n  ON t (a); -- why"),
            normalise("create index idx on t (a);")
        );
        assert_ne!(normalise("SET x = 'A'"), normalise("SET x = 'a'"));
    }
}
