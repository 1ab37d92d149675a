//! Partition workers (issue 10): several `safer ingest --partition`
//! processes landing one police.uk delivery into one lake at the same time.
//! Workers in different years commit side by side; workers in the same
//! year rewrite one file, so one of them finds the other's commit first and
//! lands again from the newer version. Nothing is lost either way.

use std::process::{Command, Stdio};

use crate::project::{make, safer};

/// Data rows in every street file under `dir`, counted with the csv crate
/// (not through safer).
fn csv_rows(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with("-street.csv") {
                n += csv::Reader::from_path(&p).unwrap().records().count();
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_land_one_delivery_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = make(&tmp.path().join("p"), &["xlsx"], "");
    // The test data runs from 2025-10 to 2026-09: one worker for 2025, and
    // two that share the year=2026 partition.
    let parts = [
        "month=2025-10..2025-12",
        "month=2026-01..2026-05",
        "month=2026-06..2026-09",
    ];
    let children: Vec<_> = parts
        .iter()
        .map(|p| {
            Command::new(env!("CARGO_BIN_EXE_safer"))
                .args(["ingest", "--partition", p])
                .current_dir(&root)
                .env_remove("SAFER_LOG")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut landed = 0;
    for (c, p) in children.into_iter().zip(parts) {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{p}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("Partition {}", &p[6..])),
            "{stdout}"
        );
        assert!(
            stdout.contains(
                "Not partitioned, left to the whole ingest: ons_population, ons_lsoa_lookup"
            ),
            "{stdout}"
        );
        let n: usize = stdout
            .split_whitespace()
            .skip_while(|w| *w != "police_uk_street")
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no landed count in {stdout}"));
        landed += n;
    }
    // Twelve monthly files between them, each landed exactly once.
    assert_eq!(landed, 12);

    // Every row of every file is in the table or in quarantine.
    let lake = safer::lake::Lake::open(root.join("lake")).unwrap();
    let rows: usize = crate::common::scalar(&lake, "SELECT count(*) FROM police_uk_street")
        .await
        .parse()
        .unwrap();
    // The generated year has no bad rows; were there any, they would be in
    // quarantine, counted here.
    let quarantined: usize = if root.join("lake/quarantine").exists() {
        crate::common::scalar(
            &lake,
            "SELECT count(*) FROM quarantine WHERE dataset = 'police_uk_street'",
        )
        .await
        .parse()
        .unwrap()
    } else {
        0
    };
    assert_eq!(rows + quarantined, csv_rows(&root.join("data/police-uk")));

    // The whole ingest afterwards finds nothing new in police.uk.
    let (code, out, err) = safer(&["ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("police_uk_street") && l.contains(" 0 landed, 12 unchanged")),
        "{out}"
    );
}

#[test]
fn a_partition_worker_waits_for_nobody_and_is_refused_while_the_lake_is_held() {
    let tmp = tempfile::tempdir().unwrap();
    let root = make(&tmp.path().join("p"), &["xlsx"], "");
    std::fs::create_dir_all(root.join("lake")).unwrap();
    // Hold the lake's lock alone, as a whole ingest or a vacuum does.
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("lake/.lock"))
        .unwrap();
    lock.lock().unwrap();
    let (code, out, err) = safer(&["ingest", "--partition", "year=2026"], &root);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("in use by another safer process"), "{err}");
    drop(lock);
    let (code, out, err) = safer(&["ingest", "--partition", "year=2026"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("9 landed"), "{out}");
    let (code, _, err) = safer(&["ingest", "--partition", "county=lancs"], &root);
    assert_eq!(code, 2);
    assert!(err.contains("`county` is not a partition key"), "{err}");
}
