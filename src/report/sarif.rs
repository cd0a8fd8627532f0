//! `--format sarif`: SARIF 2.1.0 for GitHub code scanning, with every rule's metadata.

use super::{Files, ReportContext};
use crate::settings::Severity;
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, Region,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif,
    Tool, ToolComponent,
};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub fn render(cx: &ReportContext) -> String {
    let rules: Vec<ReportingDescriptor> = crate::rules::metas()
        .iter()
        .map(|(_, m)| {
            let help = format!(
                "{}\n\nWhy: {}\n\nInstead:\n{}",
                m.summary.trim(),
                m.why.trim(),
                m.instead.trim()
            );
            ReportingDescriptor::builder()
                .id(m.id.clone())
                .name(m.id.clone())
                .short_description(
                    MultiformatMessageString::builder()
                        .text(m.title.clone())
                        .build(),
                )
                .full_description(
                    MultiformatMessageString::builder()
                        .text(m.summary.trim().to_string())
                        .build(),
                )
                .help(MultiformatMessageString::builder().text(help).build())
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(serde_json::Value::from(level(m.severity)))
                        .build(),
                )
                .build()
        })
        .collect();
    let files = Files::new(cx.analysis);
    let fingerprints = crate::baseline::fingerprints(cx.analysis);
    let results: Vec<SarifResult> = cx
        .analysis
        .findings
        .iter()
        .zip(fingerprints)
        .map(|(f, fingerprint)| {
            let p = files.position(&f.path, &f.span);
            let region = Region::builder()
                .start_line(p.line as i64)
                .start_column(p.column as i64)
                .end_line(p.end_line as i64)
                .end_column(p.end_column as i64)
                .build();
            let location = Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(
                            ArtifactLocation::builder()
                                .uri(files.shown(&f.path).into_owned())
                                .build(),
                        )
                        .region(region)
                        .build(),
                )
                .build();
            let mut text = f.message_with_notes();
            if let Some(h) = &f.help {
                text.push_str(". ");
                text.push_str(h);
            }
            let lvl = match f.severity {
                Severity::Error => ResultLevel::Error,
                Severity::Warning => ResultLevel::Warning,
                Severity::Info => ResultLevel::Note,
            };
            SarifResult::builder()
                .rule_id(f.rule.clone())
                .level(lvl)
                .message(Message::builder().text(text).build())
                .locations(vec![location])
                .partial_fingerprints(std::collections::BTreeMap::from([(
                    "lockstep/v1".to_string(),
                    fingerprint,
                )]))
                .build()
        })
        .collect();
    let run = Run::builder()
        .tool(
            Tool::builder()
                .driver(
                    ToolComponent::builder()
                        .name("lockstep")
                        .semantic_version(env!("CARGO_PKG_VERSION"))
                        .rules(rules)
                        .build(),
                )
                .build(),
        )
        .results(results)
        .build();
    let log = Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(serde_json::Value::from("2.1.0"))
        .runs(vec![run])
        .build();
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
