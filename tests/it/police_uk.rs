//! The police.uk street reader on hand-written files with every quirk of the
//! real thing (issue 2). Expected counts are worked out from the fixture by
//! hand: see the comments beside each assertion.

use safer::lake::Lake;
use safer::sources::land_police_uk;

use crate::common::{fixture, rows, scalar};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";

#[tokio::test]
async fn lands_every_quirk_and_quarantines_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut problems = Vec::new();
    let r = land_police_uk(&lake, &fixture("police_uk"), None, None, &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // 2024-01: 10 data rows, 4 bad (wrong month, unknown type, bad id, 10 fields).
    // 2012-03: 3 data rows, all good.
    assert_eq!(r.inputs_landed, 2);
    assert_eq!(r.rows_read, 13);
    assert_eq!(r.rows_landed, 9);
    assert_eq!(r.rows_quarantined, 4);
    assert_eq!(r.rows_read, r.rows_landed + r.rows_quarantined);

    let t = "police_uk_street";
    assert_eq!(
        scalar(&lake, &format!("SELECT COUNT(*) FROM {t}")).await,
        "9"
    );
    // BOM stripped: the first column is found by name.
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT crime_type FROM {t} WHERE crime_id = '{A}'")
        )
        .await,
        "Shoplifting"
    );
    // ASB rows have a blank Crime ID (two in 2024-01, one in 2012-03), and
    // the two identical ASB rows are separate incidents: both kept.
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT COUNT(*) FROM {t} WHERE crime_id IS NULL")
        )
        .await,
        "3"
    );
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT COUNT(*) FROM {t} WHERE location = 'On or near Parking Area'")
        )
        .await,
        "2"
    );
    // A quoted location with a comma survives whole.
    assert_eq!(
        scalar(
            &lake,
            &format!(
                "SELECT lsoa_name FROM {t} WHERE location = 'On or near Church Street, Ormskirk'"
            )
        )
        .await,
        "West Lancashire 005A"
    );
    // No-location rows: blank coordinates and LSOA become nulls (both spellings).
    let nl = rows(
        &lake,
        &format!(
            "SELECT location, longitude, lsoa_code FROM {t} WHERE latitude IS NULL ORDER BY location"
        ),
    )
    .await;
    assert_eq!(
        nl,
        vec![
            vec!["No Location".to_string(), "NULL".into(), "NULL".into()],
            vec!["No location".to_string(), "NULL".into(), "NULL".into()],
        ]
    );
    // Out-of-force LSOAs are kept for the crosswalk to decide.
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT COUNT(*) FROM {t} WHERE lsoa_name = 'Ashfield 016D'")
        )
        .await,
        "1"
    );
    // Month is a DATE, first of the month; coordinates keep six decimals.
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT arrow_typeof(month) FROM {t} LIMIT 1")
        )
        .await,
        "Date32"
    );
    assert_eq!(
        scalar(&lake, &format!("SELECT MIN(month) FROM {t}")).await,
        "2012-03-01"
    );
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT longitude FROM {t} WHERE crime_id = '{A}'")
        )
        .await,
        "-2.703019"
    );
    // Pre-2013 names: one-to-one renamed, the split category kept as it was.
    let old = rows(
        &lake,
        &format!("SELECT crime_type FROM {t} WHERE month = DATE '2012-03-01' ORDER BY crime_type"),
    )
    .await;
    assert_eq!(
        old.into_iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
        vec![
            "Anti-social behaviour",
            "Public disorder and weapons",
            "Violence and sexual offences"
        ]
    );
    // Empty Context and outcome land as null, never as "".
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT COUNT(*) FROM {t} WHERE context IS NOT NULL")
        )
        .await,
        "0"
    );

    // Quarantine: file, line (header is line 1) and reason for each bad row.
    let q = rows(
        &lake,
        "SELECT line, reason FROM quarantine WHERE dataset = 'police_uk_street' ORDER BY line",
    )
    .await;
    let lines: Vec<&str> = q.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(lines, ["7", "8", "9", "10"]);
    assert!(
        q[0][1].contains("does not match the file's month 2024-01"),
        "{}",
        q[0][1]
    );
    assert!(q[1][1].contains("Jaywalking"), "{}", q[1][1]);
    assert!(q[2][1].contains("64 hexadecimal"), "{}", q[2][1]);
    assert!(
        q[3][1].contains("expected 12 fields, found 10"),
        "{}",
        q[3][1]
    );

    // One file per year partition, Hive-style.
    let m = lake.manifest(t).unwrap().unwrap();
    let parts: Vec<&String> = m.files.keys().collect();
    assert_eq!(parts, ["year=2012", "year=2024"]);
    let input = &m.inputs["2024-01-lancashire"];
    assert_eq!(
        (input.rows_read, input.rows_landed, input.rows_quarantined),
        (10, 6, 4)
    );
    assert_eq!(input.fingerprint.len(), 64);
}

#[tokio::test]
async fn refuses_a_file_with_wrong_columns_and_keeps_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut problems = Vec::new();
    land_police_uk(&lake, &fixture("police_uk"), None, None, &mut problems).unwrap();
    let before = crate::common::delta_log_state(&tmp.path().join("lake/police_uk_street"));

    let r = land_police_uk(&lake, &fixture("police_uk_bad"), None, None, &mut problems).unwrap();
    assert_eq!(r.inputs_refused, 1);
    assert_eq!(problems.len(), 1);
    let msg = &problems[0];
    assert!(msg.contains("2024-02-lancashire-street.csv"), "{msg}");
    assert!(msg.contains("missing columns: `Context`"), "{msg}");
    assert!(msg.contains("unexpected columns: `Notes`"), "{msg}");
    let after = crate::common::delta_log_state(&tmp.path().join("lake/police_uk_street"));
    assert_eq!(before, after, "a refused file must not change the dataset");
}

#[tokio::test]
async fn reimport_is_idempotent_and_a_corrected_month_replaces_that_month() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let drop = tmp.path().join("drop");
    copy_dir(&fixture("police_uk"), &drop);
    let mut problems = Vec::new();
    land_police_uk(&lake, &drop, None, None, &mut problems).unwrap();
    let m1 = lake.manifest("police_uk_street").unwrap().unwrap();

    // Same files again: nothing changes, not even the Parquet file names.
    let r = land_police_uk(&lake, &drop, None, None, &mut problems).unwrap();
    assert_eq!((r.inputs_landed, r.inputs_unchanged), (0, 2));
    let m2 = lake.manifest("police_uk_street").unwrap().unwrap();
    assert_eq!(m1.files, m2.files);
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );

    // A corrected 2024-01: the Shoplifting row withdrawn, a new Drugs row.
    correct_january(&drop);
    let r = land_police_uk(&lake, &drop, None, None, &mut problems).unwrap();
    assert_eq!((r.inputs_landed, r.inputs_unchanged), (1, 1));
    let m3 = lake.manifest("police_uk_street").unwrap().unwrap();
    // 2012 untouched (same file), 2024 rewritten.
    assert_eq!(m3.files["year=2012"], m1.files["year=2012"]);
    assert_ne!(m3.files["year=2024"].path, m1.files["year=2024"].path);
    assert_eq!(
        scalar(
            &lake,
            "SELECT COUNT(*) FROM police_uk_street WHERE month = DATE '2024-01-01'"
        )
        .await,
        "6"
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT COUNT(*) FROM police_uk_street WHERE crime_type = 'Shoplifting'"
        )
        .await,
        "0"
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT COUNT(*) FROM police_uk_street WHERE crime_type = 'Drugs'"
        )
        .await,
        "1"
    );
    // The old month's quarantine rows were replaced with the new file's (same 4).
    assert_eq!(
        scalar(
            &lake,
            "SELECT COUNT(*) FROM quarantine WHERE dataset = 'police_uk_street'"
        )
        .await,
        "4"
    );
    // The log lists exactly one file per partition; the superseded 2024
    // file stays on disk so the earlier version can still be read.
    let dir = tmp.path().join("lake/police_uk_street");
    let live = crate::common::delta_log_files(&dir);
    assert_eq!(live.len(), 2, "{live:?}");
    let on_disk = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert_eq!(on_disk(&dir.join("year=2024")), 2);

    // Time travel: the first version still holds the Shoplifting row and
    // not the Drugs one (9 rows), the newest holds the corrected month.
    let v1 = m1.version.unwrap();
    let v3 = m3.version.unwrap();
    assert!(v3 > v1, "{v1} then {v3}");
    let first = Lake::open(tmp.path().join("lake"))
        .unwrap()
        .pinned(safer::lake::Pin::Versions(
            [("police_uk_street".to_string(), v1)].into(),
        ));
    assert_eq!(
        scalar(
            &first,
            "SELECT COUNT(*) FROM police_uk_street WHERE crime_type = 'Shoplifting'"
        )
        .await,
        "1"
    );
    assert_eq!(
        scalar(&first, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );

    // Vacuum with no retention and no run needing the old version removes
    // the superseded file; the newest version reads the same.
    let done =
        safer::lake::maintain::vacuum(&lake, &Default::default(), std::time::Duration::ZERO, false)
            .unwrap();
    let street = done.iter().find(|t| t.table == "police_uk_street").unwrap();
    assert_eq!(street.files_removed.len(), 1, "{street:?}");
    assert!(
        street.files_removed[0].starts_with("year=2024/"),
        "{street:?}"
    );
    assert_eq!(on_disk(&dir.join("year=2024")), 1);
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );
}

/// Correct the fixture's 2024-01 file in a copied drop: the Shoplifting
/// row withdrawn, a Drugs row added (so the month keeps its row count).
pub fn correct_january(drop: &std::path::Path) {
    let f = drop.join("2024-01/2024-01-lancashire-street.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    let corrected: String = text
        .split_inclusive("\r\n")
        .filter(|l| !l.contains("Shoplifting"))
        .collect::<String>()
        + ",2024-01,Lancashire Constabulary,Lancashire Constabulary,,,No Location,,,Drugs,,\r\n";
    std::fs::write(&f, corrected).unwrap();
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A NUL byte and a stray quote, in a file written here: the NUL row is
/// quarantined with its reason; the quote's line is quarantined alone and
/// the lines it swallowed land (or not) on their own merits.
#[tokio::test]
async fn a_nul_byte_and_a_stray_quote_are_reported_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("police/2024-03");
    std::fs::create_dir_all(&dir).unwrap();
    let row = |loc: &str, ty: &str| {
        format!(
            ",2024-03,Lancashire Constabulary,Lancashire Constabulary,-2.70,53.76,{loc},E01025264,Preston 013B,{ty},,\n"
        )
    };
    let mut text = String::from(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n",
    );
    text.push_str(&row("On or near Fishergate", "Anti-social behaviour")); // line 2: good
    text.push_str(&row("On or near \0Market St", "Anti-social behaviour")); // 3: NUL
    text.push_str(&row("\"On or near Church St", "Anti-social behaviour")); // 4: stray quote
    for _ in 5..=21 {
        text.push_str(&row("On or near Park Road", "Anti-social behaviour")); // 5-21: good
    }
    text.push_str(&row("On or near Quay\"", "Anti-social behaviour")); // 22: closes the quote
    text.push_str(&row("On or near Ribble Way", "Anti-social behaviour")); // 23: good
    std::fs::write(dir.join("2024-03-lancashire-street.csv"), text).unwrap();

    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut problems = Vec::new();
    let r = land_police_uk(&lake, &tmp.path().join("police"), None, None, &mut problems).unwrap();
    // 22 data lines (2-23). The quote opened on line 4 closes on line 22,
    // so lines 5-22 (18) were swallowed. Quarantined: line 3 (NUL) and line
    // 4 (the quote). Read alone, line 22 has 12 fields (a quote inside a
    // field is an ordinary character) and lands. Landed: line 2, lines
    // 5-21 (17), 22 and 23 = 20.
    assert_eq!(r.rows_read, 22);
    assert_eq!(r.rows_landed, 20);
    assert_eq!(r.rows_quarantined, 2);
    let q = rows(
        &lake,
        "SELECT line, reason FROM quarantine WHERE dataset = 'police_uk_street' ORDER BY line",
    )
    .await;
    let lines: Vec<&str> = q.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(lines, ["3", "4"]);
    assert_eq!(q[0][1], "`Location` contains a NUL byte");
    assert_eq!(
        q[1][1],
        "unbalanced quote: a `\"` on this line is not closed, so the next 18 line(s) were read into this record; those lines are read on their own"
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT COUNT(*) FROM police_uk_street WHERE location = 'On or near Park Road'"
        )
        .await,
        "17"
    );
}

/// A file at the same path with the same size and modification time is
/// taken as unchanged without being read (the nightly run over a ten-year
/// delivery reads only the new month); a changed time makes it read,
/// hashed and, its bytes having changed, landed again.
#[tokio::test]
async fn size_and_time_unchanged_skip_the_hash_and_a_touch_reads_again() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let drop = tmp.path().join("drop");
    copy_dir(&fixture("police_uk"), &drop);
    let mut problems = Vec::new();
    land_police_uk(&lake, &drop, None, None, &mut problems).unwrap();
    let file = drop.join("2012-03/2012-03-lancashire-street.csv");
    let m = lake.manifest("police_uk_street").unwrap().unwrap();
    let entry = &m.inputs["2012-03-lancashire"];
    let meta = std::fs::metadata(&file).unwrap();
    let stat = entry.stat.expect("a landed file's size and time are kept");
    assert_eq!(stat.bytes, meta.len());

    // Same length, other bytes, and the old modification time put back:
    // the size and time say "unchanged", so the file is not read.
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replacen("Violent crime", "Violent crimX", 1);
    assert_ne!(edited, text, "the fixture has a `Violent crime` row");
    assert_eq!(edited.len(), text.len());
    std::fs::write(&file, &edited).unwrap();
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    f.set_modified(meta.modified().unwrap()).unwrap();
    f.sync_all().unwrap();
    let r = land_police_uk(&lake, &drop, None, None, &mut problems).unwrap();
    assert_eq!((r.inputs_landed, r.inputs_unchanged), (0, 2));

    // A new modification time: read, hashed, found changed, landed; the
    // misspelt crime type is quarantined with its reason.
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    f.set_modified(meta.modified().unwrap() + std::time::Duration::from_secs(60))
        .unwrap();
    f.sync_all().unwrap();
    let r = land_police_uk(&lake, &drop, None, None, &mut problems).unwrap();
    assert_eq!((r.inputs_landed, r.inputs_unchanged), (1, 1));
    assert_eq!(r.rows_quarantined, 1);
    assert!(problems.is_empty(), "{problems:?}");
}
