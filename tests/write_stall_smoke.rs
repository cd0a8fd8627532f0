//! The write-stall benchmark's logic on a tiny table: every case and variant runs, the
//! JSON has a row for each, and lockstep's plans never fail an application request.
//! No timing assertions: this checks the harness and the plans, not the machine.

#[allow(dead_code)]
#[path = "../bench/write_stall.rs"]
mod write_stall;

#[test]
fn every_case_runs_in_both_variants_and_the_plans_fail_no_request() {
    if lockstep::pg::find_bin_dir().is_err() {
        eprintln!("skipped: no PostgreSQL server binaries");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("results").join("write_stall.json");
    let cfg = write_stall::Config::small(2_000, out.clone());
    let report =
        write_stall::run_and_write(&cfg).unwrap_or_else(|e| panic!("benchmark failed: {e}"));

    let text = std::fs::read_to_string(&out).expect("the JSON file is written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let results = json["results"].as_array().expect("results list");
    assert_eq!(results.len(), 12, "6 cases × 2 variants");
    for case in write_stall::CASES.iter() {
        for variant in ["naive", "lockstep"] {
            let r = results
                .iter()
                .find(|r| r["case"] == case.id && r["variant"] == variant)
                .unwrap_or_else(|| panic!("no result for {} / {variant}", case.id));
            assert!(
                r["requests"].as_u64().unwrap_or(0) > 50,
                "{} / {variant}: the workload ran ({})",
                case.id,
                r["requests"]
            );
            if variant == "lockstep" {
                assert_eq!(
                    r["failed"], 0,
                    "{}: the plan made application requests fail: {}",
                    case.id, r["errors"]
                );
                assert!(
                    r["steps"].as_array().is_some_and(|s| !s.is_empty()),
                    "{}: plan steps are reported",
                    case.id
                );
            }
        }
    }
    // The markdown table: header, separator, one line per result.
    let table = write_stall::markdown(&report);
    assert_eq!(table.lines().count(), 2 + 12, "{table}");
    assert!(
        table.contains("| add unique constraint | lockstep |"),
        "{table}"
    );
}
