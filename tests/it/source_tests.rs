//! Source tests declared in safer.toml: a warning lets the data land and is
//! recorded; an error refuses the landing and keeps the previous good data;
//! results and example failures are lake tables an officer can query; status
//! and the pack say so. Expected counts are worked out from the rows written
//! here by hand.

use std::path::Path;

use safer::lake::Lake;

use crate::common::rows;
use crate::project;

/// Two LSOA codes from the ONS lookup the project lands.
fn lsoas(root: &Path) -> (String, String) {
    let text = std::fs::read_to_string(root.join("data/ons/lsoa21_to_lad.csv")).unwrap();
    let mut codes = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().trim_matches('"').to_string());
    (codes.next().unwrap(), codes.next().unwrap())
}

fn source(tests: &str) -> String {
    format!(
        r#"
[[sources]]
name = "asb_cases"
kind = "csv"
path = "data/asb"
table = "asb_cases"
columns = [
  {{ name = "case_id", type = "string" }},
  {{ name = "opened_date", type = "date" }},
  {{ name = "lsoa_code", type = "string" }},
  {{ name = "risk_level", type = "string" }},
]
{tests}
"#
    )
}

/// Four good cases.
fn good(a: &str, b: &str) -> String {
    format!(
        "case_id,opened_date,lsoa_code,risk_level\nC1,2026-01-05,{a},standard\nC2,2026-01-06,{b},high\nC3,2026-02-01,{a},medium\nC4,2026-02-02,{b},standard\n"
    )
}

/// Five cases: C1 twice, one with no id, one outside the lookup, one with
/// a risk level that is not on the list.
fn bad(a: &str, b: &str) -> String {
    format!(
        "case_id,opened_date,lsoa_code,risk_level\nC1,2026-01-05,{a},standard\nC1,2026-01-07,{b},high\n,2026-02-01,{a},medium\nC5,2026-02-03,E01999999,standard\nC6,2026-02-04,{a},extreme\n"
    )
}

const ALL_TESTS: &str = r#"
[[sources.tests]]
test = "not_null"
column = "case_id"
severity = "SEV"

[[sources.tests]]
test = "unique"
column = "case_id"
severity = "SEV"

[[sources.tests]]
test = "accepted_values"
column = "risk_level"
values = ["standard", "medium", "high"]
severity = "SEV"

[[sources.tests]]
test = "relationships"
column = "lsoa_code"
to = "ons_lsoa_lookup.lsoa_code"
severity = "SEV"

[[sources.tests]]
test = "row_count_change"
max_drop_pct = 50
severity = "SEV"
"#;

fn setup(
    tests: &str,
    data: impl Fn(&str, &str) -> String,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], &source(tests));
    let (a, b) = lsoas(&root);
    std::fs::create_dir_all(root.join("data/asb")).unwrap();
    std::fs::write(root.join("data/asb/cases.csv"), data(&a, &b)).unwrap();
    (tmp, root)
}

fn results(lake: &Lake) -> Vec<Vec<String>> {
    futures_block(rows(
        lake,
        "SELECT test, severity, outcome, CAST(failing_rows AS VARCHAR) FROM source_test_results WHERE dataset = 'asb_cases' ORDER BY test",
    ))
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn warnings_land_the_data_and_are_recorded_with_examples() {
    let (_tmp, root) = setup(&ALL_TESTS.replace("SEV", "warn"), bad);
    let (code, out, err) = project::safer(&["ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let lake = Lake::open(root.join("lake")).unwrap();
    let n = futures_block(rows(&lake, "SELECT COUNT(*) FROM asb_cases"));
    assert_eq!(n, vec![v(&["5"])], "warnings do not stop the landing");
    assert_eq!(
        results(&lake),
        vec![
            v(&["accepted_values(risk_level)", "warn", "warn", "1"]),
            v(&["not_null(case_id)", "warn", "warn", "1"]),
            v(&["relationships(lsoa_code)", "warn", "warn", "1"]),
            v(&["row_count_change", "warn", "pass", "0"]),
            // One duplicated value, on two rows.
            v(&["unique(case_id)", "warn", "warn", "2"]),
        ]
    );
    let ex = futures_block(rows(
        &lake,
        "SELECT test, value FROM source_test_failures WHERE dataset = 'asb_cases' AND value IS NOT NULL ORDER BY test",
    ));
    assert_eq!(
        ex,
        vec![
            v(&["accepted_values(risk_level)", "extreme"]),
            v(&["relationships(lsoa_code)", "E01999999"]),
            v(&["unique(case_id)", "C1 (2 rows)"]),
        ]
    );
    // The officer can look at them with `safer sql`.
    let (code, out, err) = project::safer(
        &[
            "sql",
            "SELECT value FROM source_test_failures WHERE test = 'accepted_values(risk_level)'",
        ],
        &root,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("extreme"), "{out}");
    // The public pack's data-quality note names the check without showing
    // the data's values.
    let (code, out, err) = project::safer(
        &[
            "run",
            "--as-of",
            "2026-10-15",
            "--only",
            "indicators,outputs",
        ],
        &root,
    );
    assert!(code == 0 || code == 1, "{out}\n{err}");
    let html = std::fs::read_to_string(
        root.join("outputs/committee-pack/2026-09/committee-pack-2026-09.html"),
    )
    .unwrap();
    assert!(
        html.contains(r#"<h3 id="data-quality">Data quality</h3>"#),
        "no data-quality note"
    );
    assert!(
        html.contains("<li><strong>asb_cases</strong>, check accepted_values(risk_level): 1 row(s) failed (warning: the data was used).</li>"),
        "{}",
        &html[html.find("data-quality").unwrap_or(0)..]
    );
    assert!(!html.contains("extreme") && !html.contains("E01999999"));
    // Status needs attention and says which test, in words.
    let (code, out, _) = project::safer(&["status"], &root);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("asb_cases accepted_values(risk_level): failed (warning; the data landed): 1 row(s) have a risk_level outside the accepted values: 'extreme' (1)"),
        "{out}"
    );
}

#[test]
fn an_error_refuses_the_landing_and_keeps_the_previous_data() {
    let tests = r#"
[[sources.tests]]
test = "unique"
column = "case_id"

[[sources.tests]]
test = "not_null"
column = "case_id"
severity = "warn"
"#;
    let (_tmp, root) = setup(tests, good);
    let (code, out, err) = project::safer(&["ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let lake = Lake::open(root.join("lake")).unwrap();
    let ids = || {
        futures_block(rows(
            &lake,
            "SELECT case_id FROM asb_cases ORDER BY case_id",
        ))
    };
    assert_eq!(ids(), vec![v(&["C1"]), v(&["C2"]), v(&["C3"]), v(&["C4"])]);

    let (a, b) = lsoas(&root);
    std::fs::write(root.join("data/asb/cases.csv"), bad(&a, &b)).unwrap();
    let (code, out, err) = project::safer(&["ingest"], &root);
    assert_ne!(
        code, 0,
        "a refused landing is a failed source\n{out}\n{err}"
    );
    let all = format!("{out}\n{err}");
    assert!(
        all.contains("`asb_cases`: 1 source test(s) failed, so this landing was refused and the previous data kept: unique(case_id): 1 value(s) of case_id appear more than once, on 2 rows"),
        "{all}"
    );
    assert_eq!(
        ids(),
        vec![v(&["C1"]), v(&["C2"]), v(&["C3"]), v(&["C4"])],
        "previous data kept"
    );
    assert_eq!(
        results(&lake),
        vec![
            v(&["not_null(case_id)", "warn", "warn", "1"]),
            v(&["unique(case_id)", "error", "fail", "2"]),
        ]
    );
    // No file the refused landing wrote is left in the table's folder.
    let m = lake.manifest("asb_cases").unwrap().unwrap();
    let mut on_disk = Vec::new();
    for p in std::fs::read_dir(root.join("lake/asb_cases"))
        .unwrap()
        .flatten()
    {
        if p.path().is_dir() && p.file_name() != "_delta_log" {
            for f in std::fs::read_dir(p.path()).unwrap().flatten() {
                on_disk.push(f.path());
            }
        }
    }
    assert_eq!(on_disk.len(), m.files.len(), "{on_disk:?}");

    // Fixed at the source: the next ingest lands it and the failures go.
    std::fs::write(
        root.join("data/asb/cases.csv"),
        good(&a, &b).replace("C4,", "C9,"),
    )
    .unwrap();
    let (code, out, err) = project::safer(&["ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(ids(), vec![v(&["C1"]), v(&["C2"]), v(&["C3"]), v(&["C9"])]);
    assert_eq!(
        results(&lake),
        vec![
            v(&["not_null(case_id)", "warn", "pass", "0"]),
            v(&["unique(case_id)", "error", "pass", "0"]),
        ]
    );
    let left = futures_block(rows(
        &lake,
        "SELECT COUNT(*) FROM source_test_failures WHERE dataset = 'asb_cases'",
    ));
    assert_eq!(left, vec![v(&["0"])]);
}

#[test]
fn a_fall_in_rows_beyond_the_bound_is_refused() {
    let tests = "[[sources.tests]]\ntest = \"row_count_change\"\nmax_drop_pct = 40\n";
    let (_tmp, root) = setup(tests, good);
    assert_eq!(project::safer(&["ingest"], &root).0, 0);
    // 4 rows to 2: a fall of 50%, more than the 40% allowed.
    let (a, b) = lsoas(&root);
    let two: String = good(&a, &b)
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(root.join("data/asb/cases.csv"), two).unwrap();
    let (code, out, err) = project::safer(&["ingest"], &root);
    assert_ne!(code, 0);
    assert!(
        format!("{out}{err}").contains(
            "row_count_change: 4 rows before, 2 now (-50.0%); the fall is more than the 40% allowed"
        ),
        "{out}\n{err}"
    );
    let lake = Lake::open(root.join("lake")).unwrap();
    assert_eq!(
        futures_block(rows(&lake, "SELECT COUNT(*) FROM asb_cases")),
        vec![v(&["4"])]
    );
}

#[test]
fn check_names_a_test_column_the_table_does_not_have() {
    let tests = "[[sources.tests]]\ntest = \"not_null\"\ncolumn = \"case_idd\"\n\n[[sources.tests]]\ntest = \"accepted_values\"\ncolumn = \"risk_level\"\n";
    let (_tmp, root) = setup(tests, good);
    // A test without its values is a config error at load.
    let (code, _out, err) = project::safer(&["check"], &root);
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "source `asb_cases`: test accepted_values(risk_level): list the accepted `values`"
        ),
        "{err}"
    );
    std::fs::write(
        root.join("safer.toml"),
        project::config_text(&source(
            "[[sources.tests]]\ntest = \"not_null\"\ncolumn = \"case_idd\"\n",
        )),
    )
    .unwrap();
    let (code, out, err) = project::safer(&["check"], &root);
    assert_ne!(code, 0);
    assert!(
        out.contains("test not_null(case_idd) names column `case_idd`, which `asb_cases` does not have; did you mean `case_id`?"),
        "{out}\n{err}"
    );
}
