//! Runs read recorded lake versions (issue 10): `safer diff` names the
//! figures a revised month moved and why, `run --lake-as-of run:<id>`
//! reproduces a past run's figures exactly, and the next pack says which
//! published figures were restated.

use std::path::Path;

use crate::project::{self, run_id_of, safer};

/// Append `n` anti-social behaviour rows to a month's street file, in the
/// LSOA of its first row (so they count for that LSOA's district and the
/// county). Returns the LSOA.
fn add_asb_rows(root: &Path, month: &str, n: usize) -> String {
    let f = root.join(format!(
        "data/police-uk/{month}/{month}-lancashire-street.csv"
    ));
    let text = std::fs::read_to_string(&f).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    let lsoa_col = h.iter().position(|x| x == "LSOA code").unwrap();
    let name_col = h.iter().position(|x| x == "LSOA name").unwrap();
    let first = r.records().next().unwrap().unwrap();
    let (lsoa, name) = (first[lsoa_col].to_string(), first[name_col].to_string());
    let mut out = text.clone();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    for _ in 0..n {
        out.push_str(&format!(
            ",{month},Lancashire Constabulary,Lancashire Constabulary,-2.70,53.76,On or near Test Street,{lsoa},{name},Anti-social behaviour,,\n"
        ));
    }
    std::fs::write(&f, out).unwrap();
    lsoa
}

#[test]
fn a_revised_month_is_diffed_restated_and_the_old_run_reproduced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");

    let (code, out_a, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out_a}\n{err}");
    let run_a = run_id_of(&out_a).expect("run id");

    // The force re-delivers June 2026 with 40 more ASB incidents.
    add_asb_rows(&root, "2026-06", 40);
    let (code, out_b, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out_b}\n{err}");
    let run_b = run_id_of(&out_b).expect("run id");

    // The diff: June's county ASB count moved by exactly 40, because the
    // police data was revised; the SQL did not change.
    let (code, out, err) = safer(
        &[
            "diff",
            &run_a,
            &run_b,
            "--indicator",
            "asb_incidents",
            "--format",
            "json",
        ],
        &root,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        d["tables"]["police_uk_street"]["kind"], "revised_data",
        "{d}"
    );
    let county_months: Vec<&serde_json::Value> = d["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["area_code"] == "E10000017" && c["period_type"] == "month")
        .collect();
    assert_eq!(county_months.len(), 1, "{county_months:?}");
    let c = county_months[0];
    let moved = c["after"].as_f64().unwrap() - c["before"].as_f64().unwrap();
    assert!((moved - 40.0).abs() < 1e-9, "{c}");
    let reasons: Vec<&str> = c["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["revised_data"], "{c}");

    // The words say the same for the on-call person.
    let (_, text, _) = safer(
        &["diff", &run_a, &run_b, "--indicator", "asb_incidents"],
        &root,
    );
    assert!(text.contains("police_uk_street: revised data"), "{text}");

    // The new pack tells members the June figure was restated.
    let html = std::fs::read_to_string(
        root.join("outputs/committee-pack/2026-09/committee-pack-2026-09.html"),
    )
    .unwrap();
    let section = html
        .split(r#"id="asb_incidents""#)
        .nth(1)
        .expect("the ASB incidents section");
    let note = section
        .split("<dt>Revised figures</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .expect("a restatement note");
    let thousands = |v: f64| {
        let digits = format!("{}", v.round() as i64);
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    };
    let expected = format!(
        "{} was {}, now {}",
        c["period_label"].as_str().unwrap(),
        thousands(c["before"].as_f64().unwrap()),
        thousands(c["after"].as_f64().unwrap())
    );
    assert!(note.contains(&expected), "{note} should say {expected}");
    assert!(note.contains("re-sent or corrected"), "{note}");

    // Rebuilding from run A's recorded versions gives run A's figures
    // exactly: the diff between A and the rebuild is empty.
    let (code, out_c, err) = safer(
        &[
            "run",
            "--lake-as-of",
            &format!("run:{run_a}"),
            "--only",
            "indicators",
        ],
        &root,
    );
    assert_eq!(code, 0, "{out_c}\n{err}");
    let run_c = run_id_of(&out_c).expect("run id");
    let (code, out, err) = safer(&["diff", &run_a, &run_c, "--format", "json"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["changed"].as_array().unwrap().len(), 0, "{d}");
    assert!(d["unchanged"].as_u64().unwrap() > 100, "{d}");

    // A run that is not in the ledger is named plainly.
    let (code, _, err) = safer(&["run", "--lake-as-of", "run:nope"], &root);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no run `nope` in the ledger"), "{err}");
}

/// Vacuum keeps what the ledger still needs. Two runs read two versions of
/// the police table (a month re-sent between them). Keeping the versions
/// the ledger names since before the first run keeps both files; keeping
/// only the newest complete run's removes the file the first run read, and
/// nothing the second run reads.
#[tokio::test]
async fn vacuum_keeps_the_versions_runs_in_the_ledger_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let before_runs = chrono::Utc::now() - chrono::Duration::seconds(5);
    let (code, out_a, err) = safer(&["run", "--only", "ingest,indicators"], &root);
    assert_eq!(code, 0, "{out_a}\n{err}");
    add_asb_rows(&root, "2026-06", 3);
    let (code, out_b, err) = safer(&["run", "--only", "ingest,indicators"], &root);
    assert_eq!(code, 0, "{out_b}\n{err}");

    let cfg = project::config(&root);
    let ledger = safer::ledger::Ledger::open_for(&cfg).await.unwrap();
    let run_a = ledger
        .get(&run_id_of(&out_a).unwrap())
        .await
        .unwrap()
        .unwrap();
    let run_b = ledger
        .get(&run_id_of(&out_b).unwrap())
        .await
        .unwrap()
        .unwrap();
    let (va, vb) = (
        run_a.lake_versions["police_uk_street"],
        run_b.lake_versions["police_uk_street"],
    );
    assert!(
        vb > va,
        "the re-sent month made a new version: {va} then {vb}"
    );

    let lake = safer::lake::Lake::open(cfg.lake_dir()).unwrap();
    let files_of = |v: u64| -> Vec<String> {
        lake.manifest_at("police_uk_street", safer::lake::At::Version(v))
            .unwrap()
            .unwrap()
            .files
            .values()
            .map(|f| f.path.clone())
            .collect()
    };
    let (files_a, files_b) = (files_of(va), files_of(vb));
    let only_a: Vec<&String> = files_a.iter().filter(|f| !files_b.contains(f)).collect();
    assert_eq!(only_a.len(), 1, "the 2026 file was rewritten: {only_a:?}");

    // Both runs are in the window: nothing either read goes.
    let since = before_runs.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let keep = ledger.lake_versions_needed(&since).await.unwrap();
    assert!(keep["police_uk_street"].contains(&va) && keep["police_uk_street"].contains(&vb));
    let done =
        safer::lake::maintain::vacuum(&lake, &keep, std::time::Duration::ZERO, false).unwrap();
    let police = done.iter().find(|t| t.table == "police_uk_street").unwrap();
    assert!(police.files_removed.is_empty(), "{police:?}");
    let dir = cfg.lake_dir().join("police_uk_street");
    assert!(dir.join(only_a[0]).is_file());

    // A window after both runs: only the newest complete run is kept.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let keep = ledger.lake_versions_needed(&later).await.unwrap();
    assert!(!keep["police_uk_street"].contains(&va), "{keep:?}");
    assert!(keep["police_uk_street"].contains(&vb), "{keep:?}");
    let done =
        safer::lake::maintain::vacuum(&lake, &keep, std::time::Duration::ZERO, false).unwrap();
    let police = done.iter().find(|t| t.table == "police_uk_street").unwrap();
    assert_eq!(police.files_removed, vec![only_a[0].clone()], "{police:?}");
    for f in &files_b {
        assert!(dir.join(f).is_file(), "{f} is read by the newest run");
    }
    // The newest run's lake still reads the same.
    let pinned = lake
        .clone()
        .pinned(safer::lake::Pin::Versions(run_b.lake_versions.clone()));
    assert_eq!(
        crate::common::scalar(&pinned, "SELECT COUNT(*) FROM police_uk_street").await,
        crate::common::scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await
    );
}
