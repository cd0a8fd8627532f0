//! `--format junit`: JUnit XML for CI systems that show test reports (GitLab, Jenkins,
//! Azure, CircleCI). One `<testsuite>` per migration, one `<testcase>` per statement; a
//! statement with findings at or above `--fail-on` fails (one `<failure>` listing them all,
//! since the JUnit schema allows one per test case). Findings below the threshold are
//! listed in the suite's `<system-out>`.
//!
//! The document follows the structure the Ant JUnit XSD requires: `testsuites` holding
//! `testsuite` elements with `package`, `id`, `name`, `timestamp`, `hostname`, `tests`,
//! `failures`, `errors`, `time`, each with `properties`, its test cases, `system-out` and
//! `system-err` in that order.

use super::{ReportContext, display_path, finding_position};
use crate::analyze::AnalyzedScript;
use crate::rules::{Direction, Finding};
use crate::settings::Severity;
use std::fmt::Write as _;

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot carry (control
/// characters other than tab and newlines) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// One test case under construction.
struct Case<'a> {
    name: String,
    /// The script's file.
    classname: String,
    findings: Vec<&'a Finding>,
}

/// One suite: a migration (or the history checks that belong to none).
struct Suite<'a> {
    name: String,
    cases: Vec<Case<'a>>,
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

/// First line of a statement, shortened, for the test case name.
fn head(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .unwrap_or("");
    let mut s: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        s.push('…');
    }
    s
}

fn cases_of<'a>(
    cx: &ReportContext<'a>,
    script: &AnalyzedScript,
    findings: &mut Vec<&'a Finding>,
) -> Vec<Case<'a>> {
    let source = cx.analysis.sources.get(&script.path);
    let mut cases = Vec::new();
    for (i, st) in script.statements.iter().enumerate() {
        let text = source.and_then(|s| s.get(st.span.clone())).unwrap_or("");
        let line = source.map_or(1, |s| super::line_col(s, st.span.start).0);
        let (mine, rest): (Vec<&Finding>, Vec<&Finding>) = findings.drain(..).partition(|f| {
            f.path == script.path
                && f.direction == script.direction
                && f.span.start >= st.span.start
                && f.span.start < st.span.end.max(st.span.start + 1)
        });
        *findings = rest;
        cases.push(Case {
            classname: display_path(&script.path),
            name: format!(
                "{} statement {} (line {line}): {}",
                direction(script.direction),
                i + 1,
                head(text)
            ),
            findings: mine,
        });
    }
    cases
}

fn timestamp() -> String {
    // Reproducible builds' convention first, so a report can be compared byte for byte.
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    iso8601(secs)
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC, no zone suffix, as the JUnit XSD's pattern wants).
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let name = if ok {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

fn finding_text(cx: &ReportContext, f: &Finding) -> String {
    let p = finding_position(cx.analysis, f);
    let mut s = format!(
        "{}:{}:{}: {}[{}]: {}",
        display_path(&f.path),
        p.line,
        p.column,
        f.severity,
        f.rule,
        f.message_with_notes()
    );
    if let Some(h) = &f.help {
        s.push_str("\n  help: ");
        s.push_str(h);
    }
    s
}

/// Renders the report; statements with a finding at or above `fail_on` fail.
pub fn render(cx: &ReportContext, fail_on: Severity) -> String {
    let mut remaining: Vec<&Finding> = cx.analysis.findings.iter().collect();
    let mut suites: Vec<Suite> = Vec::new();
    for script in &cx.analysis.scripts {
        let cases = cases_of(cx, script, &mut remaining);
        match suites.iter_mut().find(|s| s.name == script.migration) {
            Some(s) => s.cases.extend(cases),
            None => suites.push(Suite {
                name: script.migration.clone(),
                cases,
            }),
        }
    }
    // Findings about a migration as a whole (rollback, history) and about files no script
    // covers: one test case per migration, or a suite of their own.
    let leftover = std::mem::take(&mut remaining);
    for f in leftover {
        let suite = match suites.iter_mut().position(|s| s.name == f.migration) {
            Some(i) => &mut suites[i],
            None => {
                let name = if f.migration.is_empty() {
                    "history".to_string()
                } else {
                    f.migration.clone()
                };
                match suites.iter().position(|s| s.name == name) {
                    Some(i) => &mut suites[i],
                    None => {
                        suites.push(Suite {
                            name,
                            cases: Vec::new(),
                        });
                        let last = suites.len() - 1;
                        &mut suites[last]
                    }
                }
            }
        };
        match suite
            .cases
            .iter_mut()
            .find(|c| c.name == "migration checks")
        {
            Some(c) => c.findings.push(f),
            None => suite.cases.push(Case {
                name: "migration checks".into(),
                classname: display_path(&f.path),
                findings: vec![f],
            }),
        }
    }

    let stamp = timestamp();
    let host = escape(&hostname());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let total_failures: usize = suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.findings.iter().any(|f| f.severity >= fail_on))
        .count();
    let _ = writeln!(
        out,
        "<testsuites name=\"lockstep\" tests=\"{total_tests}\" failures=\"{total_failures}\" errors=\"0\" time=\"0\">"
    );
    for (id, suite) in suites.iter().enumerate() {
        let failures = suite
            .cases
            .iter()
            .filter(|c| c.findings.iter().any(|f| f.severity >= fail_on))
            .count();
        let _ = writeln!(
            out,
            "  <testsuite package=\"lockstep\" id=\"{id}\" name=\"{}\" timestamp=\"{stamp}\" hostname=\"{host}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">",
            escape(&suite.name),
            suite.cases.len()
        );
        out.push_str("    <properties/>\n");
        let mut below: Vec<&Finding> = Vec::new();
        for case in &suite.cases {
            let failing: Vec<&&Finding> = case
                .findings
                .iter()
                .filter(|f| f.severity >= fail_on)
                .collect();
            below.extend(
                case.findings
                    .iter()
                    .copied()
                    .filter(|f| f.severity < fail_on),
            );
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                escape(&case.name),
                escape(&case.classname)
            );
            if failing.is_empty() {
                let _ = writeln!(out, "{open}/>");
                continue;
            }
            let rules: Vec<&str> = failing.iter().map(|f| f.rule.as_str()).collect();
            let body: Vec<String> = failing.iter().map(|f| finding_text(cx, f)).collect();
            let _ = writeln!(
                out,
                "{open}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                escape(&rules.join(",")),
                escape(&failing[0].message),
                escape(&body.join("\n"))
            );
        }
        if below.is_empty() {
            out.push_str("    <system-out/>\n");
        } else {
            let text: Vec<String> = below.iter().map(|f| finding_text(cx, f)).collect();
            let _ = writeln!(
                out,
                "    <system-out>{}</system-out>",
                escape(&text.join("\n"))
            );
        }
        out.push_str("    <system-err/>\n  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00");
        assert_eq!(iso8601(1_709_374_500), "2024-03-02T10:15:00");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00");
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
    }
}
