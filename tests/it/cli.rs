//! The command line end to end: demo, import, sql (issue 2).

use std::path::Path;
use std::process::Command;

use crate::common::fixture;

fn safer(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(args)
        .current_dir(dir)
        .env_remove("SAFER_LOG")
        .output()
        .expect("safer runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Data rows in every police.uk street CSV under `dir`, counted by reading
/// the files as plain CSV here, independently of safer's reader.
fn count_police_rows(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += count_police_rows(&p);
        } else if p.to_string_lossy().ends_with("-street.csv") {
            let mut r = csv::Reader::from_path(&p).unwrap();
            n += r.records().count() as u64;
        }
    }
    n
}

#[test]
fn demo_runs_the_whole_job_and_sql_reads_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();
    let (code, out, err) = safer(
        &[
            "demo",
            "--dir",
            d,
            "--years",
            "1",
            "--seed",
            "7",
            "--end-month",
            "2025-09",
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(dir.join("safer.toml").exists());
    assert!(
        dir.join("data/police-uk/2025-09/2025-09-lancashire-street.csv")
            .exists()
    );

    // Every police.uk row is accounted for: the lake holds exactly the rows
    // in the generated files (none are malformed in the demo).
    let expected = count_police_rows(&dir.join("data/police-uk"));
    assert!(
        expected > 100_000,
        "a year of Lancashire is ~150k rows, got {expected}"
    );
    let (code, out, err) = safer(
        &[
            "sql",
            "SELECT COUNT(*) AS n FROM police_uk_street",
            "--format",
            "csv",
        ],
        &dir,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("n\n{expected}"));

    // The internal return exists, reads back with an independent reader,
    // and its Lancashire-12 monthly figure matches a count made here from
    // the lake with SQL.
    let xlsx = dir.join("outputs/performance-return/2025-09/performance-return-2025-09.xlsx");
    assert!(xlsx.exists(), "{out}");
    use calamine::{DataType, Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let asb = wb.worksheet_range("Anti-social behaviour").unwrap();
    let row = asb
        .rows()
        .find(|r| r[0] == "Anti-social behaviour incidents")
        .expect("ASB incidents row");
    let (code, out, _) = safer(
        &[
            "sql",
            "SELECT COUNT(*) FROM police_uk_street s JOIN ons_lsoa_lookup l ON l.lsoa_code = s.lsoa_code \
             WHERE s.crime_type = 'Anti-social behaviour' AND s.month = DATE '2025-09-01' \
             AND l.lad_code LIKE 'E07%'",
            "--format",
            "csv",
        ],
        &dir,
    );
    assert_eq!(code, 0);
    let lancs12: f64 = out.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(row[3].to_string(), "Sep 2025");
    assert_eq!(row[4].as_f64(), Some(lancs12));
    // The whole catalogue is evaluated: every indicator is in the data
    // dictionary and none failed.
    let dict = wb.worksheet_range("Data dictionary").unwrap();
    assert!(
        dict.rows().count() > 35,
        "{} indicators",
        dict.rows().count() - 1
    );
    let prov = wb.worksheet_range("Provenance").unwrap();
    assert!(
        prov.rows().all(|r| r.len() < 4 || r[3] != "failed"),
        "an indicator failed"
    );

    // Running again in the folder repeats the work idempotently.
    let (code, out, err) = safer(&["ingest"], &dir);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("0 landed, 12 unchanged"), "{out}");

    // Secrets never reach the ledger; the run is recorded.
    let ledger = std::fs::read_to_string(dir.join("ledger/runs.jsonl")).unwrap();
    assert_eq!(ledger.lines().count(), 2);
}

#[test]
fn sql_is_read_only_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let l = lake.to_str().unwrap();
    let (code, out, err) = safer(
        &[
            "import",
            "police-uk",
            fixture("police_uk").to_str().unwrap(),
            "--lake",
            l,
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("rows read 13 = landed 9 + quarantined 4"),
        "{out}"
    );

    for bad in [
        "DROP TABLE police_uk_street",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
    ] {
        let (code, _, err) = safer(&["sql", bad, "--lake", l], tmp.path());
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("only read-only queries"), "{bad}: {err}");
    }
    let (code, _, err) = safer(
        &["sql", "SELECT crime_typ FROM police_uk_street", "--lake", l],
        tmp.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("crime_typ"), "{err}");
    let (code, _, err) = safer(
        &[
            "sql",
            "SELECT month\nFROM police_uk_street\nWHERE month = = 3",
            "--lake",
            l,
        ],
        tmp.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("<query>:3:"), "{err}");

    // JSON output, and a declared-schema CSV import.
    let (code, out, _) = safer(
        &[
            "sql",
            "SELECT crime_type FROM police_uk_street WHERE lsoa_name = 'Ashfield 016D'",
            "--lake",
            l,
            "--format",
            "json",
        ],
        tmp.path(),
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"[{"crime_type":"Vehicle crime"}]"#);
    let csv = tmp.path().join("lookup.csv");
    std::fs::write(&csv, "LSOA21CD,LSOA21NM,count\r\nE01025264,Preston 013B,4\r\nE01025430,West Lancashire 005A,x\r\n").unwrap();
    let (code, out, _) = safer(
        &[
            "import",
            "csv",
            csv.to_str().unwrap(),
            "--lake",
            l,
            "--table",
            "lookup",
            "--columns",
            "LSOA21CD!:string,LSOA21NM:string,count:int",
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("rows read 2 = landed 1 + quarantined 1"),
        "{out}"
    );
    let (_, out, _) = safer(
        &[
            "sql",
            "SELECT lsoa21cd, count FROM lookup",
            "--lake",
            l,
            "--format",
            "csv",
        ],
        tmp.path(),
    );
    assert_eq!(out.trim(), "lsoa21cd,count\nE01025264,4");
}

#[test]
fn a_broken_indicator_names_its_file_line_and_column_and_the_rest_still_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    crate::police_uk::copy_dir(&fixture("police_uk"), &root.join("data/police-uk"));
    std::fs::write(
        root.join("safer.toml"),
        "[organisation]\nname = \"Test Council\"\n\n[[sources]]\nname = \"police\"\nkind = \"police_uk\"\npath = \"data/police-uk\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("queries/test")).unwrap();
    std::fs::write(
        root.join("queries/test/good.sql"),
        format!(
            "{}SELECT month, 'E23000003' AS area_code, COUNT(*) AS numerator\nFROM police_uk_street GROUP BY month\n",
            crate::common::header("good", "police_uk_street")
        ),
    )
    .unwrap();
    // Line 10, column 8 is the misspelt column (the header is 8 lines).
    std::fs::write(
        root.join("queries/test/broken.sql"),
        format!(
            "{}SELECT month,\n       crime_typo AS area_code, COUNT(*) AS numerator\nFROM police_uk_street GROUP BY 1, 2\n",
            crate::common::header("broken", "police_uk_street")
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("queries/test/bad_header.sql"),
        "-- title: Bad header\n-- polarity: sideways\nSELECT 1\n",
    )
    .unwrap();
    // `safer check` finds every problem before anything runs: the bad
    // header, that file's query returning the wrong columns, and the
    // misspelt column with its position.
    let (code, out, _) = safer(&["ingest"], root);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = safer(&["check"], root);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("queries/test/broken.sql:10:8:"), "{out}");
    assert!(out.contains("polarity `sideways`"), "{out}");
    assert!(
        out.contains("bad_header.sql:1: the header needs `-- id: ...` (for this file, usually `-- id: bad_header`)"),
        "{out}"
    );
    assert!(out.contains("did you mean `crime_type`?"), "{out}");
    assert!(
        out.contains("must return month, area_code and numerator"),
        "{out}"
    );
    assert!(
        out.contains("3 indicator(s) checked, 9 problem(s)"),
        "{out}"
    );

    let (code, out, err) = safer(&["run"], root);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("queries/test/broken.sql:10:8:"), "{out}");
    assert!(out.contains("crime_typo"), "{out}");
    assert!(out.contains("polarity `sideways`"), "{out}");
    assert!(out.contains("good") && out.contains("points"), "{out}");
    let ledger = std::fs::read_to_string(root.join("ledger/runs.jsonl")).unwrap();
    assert!(ledger.contains("\"status\":\"partial\""));
    // The good indicator's results are in the lake with the run id.
    let (code, out, _) = safer(
        &[
            "sql",
            "SELECT COUNT(DISTINCT run_id), MIN(indicator_id) FROM indicator_results",
            "--format",
            "csv",
        ],
        root,
    );
    assert_eq!(code, 0);
    assert!(out.contains("1,good"), "{out}");
}

/// `import police-uk A B` lands the files of every folder in one landing
/// (one commit, one line of accounting), a folder named twice counts once,
/// and a second copy of the same force and month is reported, not landed
/// twice.
#[test]
fn police_uk_import_of_several_folders_is_one_landing() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let l = lake.to_str().unwrap();
    let (march, january) = (fixture("police_uk/2012-03"), fixture("police_uk/2024-01"));
    let (m, j) = (march.to_str().unwrap(), january.to_str().unwrap());
    let (code, out, err) = safer(&["import", "police-uk", m, j, m, "--lake", l], tmp.path());
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("police_uk_street"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    // The two fixture files hold 13 data rows between them, 4 of them bad.
    assert!(
        lines[0]
            .contains("2 landed, 0 unchanged, 0 refused; rows read 13 = landed 9 + quarantined 4"),
        "{out}"
    );

    // Another copy of the January file, in a folder of its own.
    let copy = tmp.path().join("resent/2024-01");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(
        january.join("2024-01-lancashire-street.csv"),
        copy.join("2024-01-lancashire-street.csv"),
    )
    .unwrap();
    let (code, out, _) = safer(
        &[
            "import",
            "police-uk",
            j,
            copy.to_str().unwrap(),
            "--lake",
            l,
        ],
        tmp.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("0 landed, 1 unchanged"), "{out}");
    assert!(
        out.contains("are both the police.uk file for 2024-01-lancashire; only the first is read"),
        "{out}"
    );
    let (code, out, err) = safer(
        &[
            "sql",
            "SELECT count(*) AS n FROM police_uk_street",
            "--format",
            "csv",
            "--lake",
            l,
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "n\n9");
}
