//! What officers use to explore (issue 8): `tables`, `describe`, `sql` from
//! an argument, a file or stdin, `query`, `explain`, `run --select`.
//! Expected figures are counted here from the CSV files themselves.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::project::{self, safer};

/// Police rows by (month, crime type, LSOA), read as plain CSV.
fn police_rows(root: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("data/police-uk")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with("-street.csv") {
                let mut r = csv::Reader::from_path(&p).unwrap();
                let h = r.headers().unwrap().clone();
                let col = |n: &str| h.iter().position(|x| x == n).unwrap();
                let (m, t, l) = (col("Month"), col("Crime type"), col("LSOA code"));
                for rec in r.records() {
                    let rec = rec.unwrap();
                    out.push((rec[m].to_string(), rec[t].to_string(), rec[l].to_string()));
                }
            }
        }
    }
    out
}

fn lsoas_of(root: &Path, district: &str) -> HashSet<String> {
    let mut r = csv::Reader::from_path(root.join("data/ons/lsoa21_to_lad.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let (l, d) = (
        h.iter().position(|x| x == "LSOA21CD").unwrap(),
        h.iter().position(|x| x == "LAD22CD").unwrap(),
    );
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[d] == district)
        .map(|x| x[l].to_string())
        .collect()
}

#[test]
fn officers_can_see_the_tables_their_columns_and_the_exact_spellings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, out, err) = safer(&["tables"], &root);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("The lake at") && out.contains("is empty"),
        "{out}"
    );
    let (code, _, err) = safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{err}");
    let rows = police_rows(&root);

    let (code, out, _) = safer(&["tables"], &root);
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("police_uk_street "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&format!(" {} ", rows.len())), "{line}");
    assert!(line.contains("2025-10 to 2026-09"), "{line}");
    assert!(line.contains(" police_uk "), "{line}");
    assert!(
        line.contains("month (date)") && line.contains("longitude (number)"),
        "{line}"
    );
    assert!(!line.contains("Utf8"), "types in words, not Arrow names");

    let (code, out, _) = safer(&["describe", "police_uk_street"], &root);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("month                  date    always"),
        "{out}"
    );
    assert!(
        out.contains("crime_id               text    may be empty"),
        "{out}"
    );
    let asb = rows
        .iter()
        .filter(|r| r.1 == "Anti-social behaviour")
        .count();
    assert!(
        out.lines()
            .any(|l| l.trim() == format!("{asb}  Anti-social behaviour")),
        "{out}"
    );
    let (code, _, err) = safer(&["describe", "police_uk_stret"], &root);
    assert_eq!(code, 2);
    assert!(err.contains("Did you mean `police_uk_street`?"), "{err}");
}

#[test]
fn sql_reads_from_an_argument_a_file_or_stdin_and_writes_nulls_and_workbooks() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, _, err) = safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{err}");
    let rows = police_rows(&root);

    // A query that starts with a comment.
    let (code, out, err) = safer(
        &[
            "sql",
            "-- how many\nSELECT COUNT(*) AS n FROM police_uk_street",
            "--format",
            "csv",
        ],
        &root,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("n\n{}\n", rows.len()));

    // From a file, with a row limit.
    std::fs::write(
        root.join("q.sql"),
        "SELECT month, COUNT(*) AS n\nFROM police_uk_street\nGROUP BY month\nORDER BY month\n",
    )
    .unwrap();
    let (code, out, _) = safer(
        &["sql", "-f", "q.sql", "--limit", "3", "--format", "csv"],
        &root,
    );
    assert_eq!(code, 0);
    let mut months: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *months.entry(r.0.clone()).or_default() += 1;
    }
    let mut keys: Vec<&String> = months.keys().collect();
    keys.sort();
    let expected: String = keys[..3]
        .iter()
        .map(|k| format!("{k}-01,{}\n", months[*k]))
        .collect();
    assert_eq!(out, format!("month,n\n{expected}"));

    // From stdin; JSON keeps missing values as null.
    let mut child = Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(["sql", "--format", "json"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT crime_type, context FROM police_uk_street ORDER BY crime_type LIMIT 1")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["context"], serde_json::Value::Null);
    assert!(v[0].as_object().unwrap().contains_key("context"));

    // A workbook, read back: header, then numbers as numbers.
    let (code, _, err) = safer(
        &[
            "sql",
            "-f",
            "q.sql",
            "--format",
            "xlsx",
            "--out",
            "months.xlsx",
        ],
        &root,
    );
    assert_eq!(code, 0, "{err}");
    use calamine::{Data, Reader};
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(root.join("months.xlsx")).unwrap();
    let sheet = wb.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.get((0, 1)), Some(&Data::String("n".into())));
    assert_eq!(
        sheet.get((1, 1)),
        Some(&Data::Float(months[keys[0]] as f64))
    );
    assert!(
        matches!(sheet.get((1, 0)), Some(Data::DateTime(_))),
        "{:?}",
        sheet.get((1, 0))
    );

    // `| head`: a closed pipe ends the output quietly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(["sql", "SELECT * FROM police_uk_street", "--format", "csv"])
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn one_indicator_can_be_run_evaluated_printed_and_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let pack = root.join("outputs/committee-pack/2026-09/manifest.json");
    let before = std::fs::read(&pack).unwrap();

    // Preston's ASB in August 2026, counted from the files.
    let preston = lsoas_of(&root, "E07000123");
    let expected = police_rows(&root)
        .iter()
        .filter(|r| r.0 == "2026-08" && r.1 == "Anti-social behaviour" && preston.contains(&r.2))
        .count();
    let (code, out, err) = safer(
        &[
            "query",
            "asb_incidents",
            "--area",
            "E07000123",
            "--period",
            "month",
        ],
        &root,
    );
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("Aug 2026"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = line
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells[0], "E07000123 Preston");
    assert_eq!(cells[2].replace(',', ""), expected.to_string(), "{line}");
    assert!(out.contains("suppressed in public"));
    // Without an area: every area for the latest rolling year.
    let (_, out, _) = safer(&["query", "asb_incidents"], &root);
    assert!(out.contains("12 months to Sep 2026"), "{out}");
    assert!(
        out.contains("Lancashire-12") && out.contains("Preston"),
        "{out}"
    );
    let (code, _, err) = safer(&["query", "asb_incident"], &root);
    assert_eq!(code, 2);
    assert!(err.contains("Did you mean `asb_incidents`?"), "{err}");

    let (code, out, _) = safer(&["explain", "asb_incidents"], &root);
    assert_eq!(code, 0);
    assert!(
        out.contains("== logical plan ==") && out.contains("== physical plan =="),
        "{out}"
    );

    // --select runs one indicator, without ingest, and leaves the pack.
    let (code, out, err) = safer(&["run", "--select", "asb_incidents", "--no-ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("asb_incidents"), "{out}");
    assert!(!out.contains("asb_rate"), "{out}");
    assert!(!out.contains("police_uk "), "no ingest: {out}");
    assert!(err.contains("outputs are left as they are"), "{err}");
    assert_eq!(
        std::fs::read(&pack).unwrap(),
        before,
        "the pack is untouched"
    );
    let (code, _, err) = safer(
        &["run", "--select", "no_such_indicator", "--no-ingest"],
        &root,
    );
    assert_eq!(code, 1);
    let _ = err;
}
