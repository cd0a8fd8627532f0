//! `lockstep rules` and `lockstep explain RULE`.

use super::EXIT_ERROR;
use std::process::ExitCode;

pub fn list() -> ExitCode {
    let metas = lockstep_metas();
    let w = metas.iter().map(|m| m.id.len()).max().unwrap_or(10);
    println!("{:<w$}  {:<8}  {:<11}  title", "id", "severity", "category");
    for m in metas {
        println!(
            "{:<w$}  {:<8}  {:<11}  {}",
            m.id,
            m.severity.as_str(),
            m.category.as_str(),
            m.title
        );
    }
    ExitCode::SUCCESS
}

fn lockstep_metas() -> Vec<&'static crate::rules::RuleMeta> {
    crate::rules::metas().iter().map(|(_, m)| m).collect()
}

pub fn explain(id: &str) -> ExitCode {
    if let Some(ids) = crate::rules::aliases::alias(id) {
        println!("{id} is a name for: {}\n", ids.join(", "));
        for real in ids {
            if let Some(m) = crate::rules::meta(real) {
                println!("{}", render(m));
            }
        }
        return ExitCode::SUCCESS;
    }
    let Some(m) = crate::rules::meta(id) else {
        let known: Vec<&str> = lockstep_metas().iter().map(|m| m.id.as_str()).collect();
        let close: Vec<&&str> = known
            .iter()
            .filter(|k| k.contains(id) || id.contains(**k))
            .collect();
        eprintln!("error: unknown rule `{id}`");
        if !close.is_empty() {
            eprintln!(
                "did you mean: {}",
                close
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        eprintln!("`lockstep rules` lists every rule");
        return ExitCode::from(EXIT_ERROR);
    };
    print!("{}", render(m));
    ExitCode::SUCCESS
}

/// The full documentation of one rule, as `lockstep explain` prints it.
pub fn render(m: &crate::rules::RuleMeta) -> String {
    let indent = |s: &str| {
        s.trim_end()
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = String::new();
    out.push_str(&format!("{}: {}\n\n", m.id, m.title));
    out.push_str(&format!(
        "severity: {}    category: {}    PostgreSQL: {}{}\n\n",
        m.severity.as_str(),
        m.category.as_str(),
        m.pg_versions,
        if m.size_aware {
            "    size-aware: error on large tables, warning on small or unknown ones"
        } else {
            ""
        }
    ));
    out.push_str(&format!("{}\n\n", m.summary.trim()));
    out.push_str(&format!(
        "Why it matters:\n{}\n\n",
        indent(&wrap(m.why.trim(), 88))
    ));
    out.push_str(&format!(
        "What to do instead:\n{}\n\n",
        indent(m.instead.trim())
    ));
    if !m.setup.trim().is_empty() {
        out.push_str(&format!(
            "Given (earlier migration):\n{}\n\n",
            indent(&m.setup)
        ));
    }
    out.push_str(&format!("Bad:\n{}\n\n", indent(&m.bad)));
    out.push_str(&format!("Good:\n{}\n", indent(&m.good)));
    out
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for para in text.split("\n\n") {
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push_str("\n\n");
    }
    out.trim_end().to_string()
}
