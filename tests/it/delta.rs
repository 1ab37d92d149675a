//! The lake as Delta tables (issue 10): another engine reads what safer
//! lands, every landing is a version, and a past version stays readable.
//!
//! The other engine is the Python `deltalake` package (delta-rs's Python
//! binding, from PyPI; `.ci/run` installs it). `SAFER_REQUIRE_TOOLS=1`
//! turns its absence into a failure; elsewhere the test says it skipped.

use std::path::Path;
use std::process::Command;

use safer::lake::{Lake, Pin};
use safer::sources::land_police_uk;

use crate::common::{fixture, input_entry, scalar};
use crate::police_uk::copy_dir;

fn python_has_deltalake() -> bool {
    Command::new("python3")
        .args(["-c", "import deltalake, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Count rows and sum a column with Python's deltalake, at a version.
fn python_reads(table: &Path, version: Option<u64>) -> String {
    let script = r#"
import sys, json
from deltalake import DeltaTable
path, version = sys.argv[1], sys.argv[2]
dt = DeltaTable(path) if version == "latest" else DeltaTable(path, version=int(version))
t = dt.to_pyarrow_table()
types = sorted(set(t.column("crime_type").to_pylist()))
print(json.dumps({"version": dt.version(), "rows": t.num_rows, "types": types,
                  "columns": t.column_names}))
# The package's thread pool can abort at interpreter exit ("terminate
# called without an active exception"); the answer is out, so leave now.
sys.stdout.flush()
import os
os._exit(0)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(table)
        .arg(version.map_or("latest".to_string(), |v| v.to_string()))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python deltalake failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn python_deltalake_reads_every_version_safer_landed() {
    if !python_has_deltalake() {
        assert!(
            std::env::var("SAFER_REQUIRE_TOOLS").is_err(),
            "Python's deltalake package is required (pip install deltalake pyarrow)"
        );
        eprintln!("SKIPPED: Python's deltalake package is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let drop = tmp.path().join("drop");
    copy_dir(&fixture("police_uk"), &drop);
    land_police_uk(&lake, &drop, None, None, &mut Vec::new()).unwrap();
    let v_first = lake
        .manifest("police_uk_street")
        .unwrap()
        .unwrap()
        .version
        .unwrap();

    // A corrected 2024-01: Shoplifting withdrawn, a Drugs row added.
    crate::police_uk::correct_january(&drop);
    land_police_uk(&lake, &drop, None, None, &mut Vec::new()).unwrap();

    let table = tmp.path().join("lake/police_uk_street");
    // The fixture has 9 street rows that land; the correction keeps 9
    // (one withdrawn, one added). Worked from the fixture by hand.
    let latest: serde_json::Value = serde_json::from_str(&python_reads(&table, None)).unwrap();
    assert_eq!(latest["rows"], 9);
    let types = latest["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t == "Drugs"), "{latest}");
    assert!(!types.iter().any(|t| t == "Shoplifting"), "{latest}");
    let first: serde_json::Value =
        serde_json::from_str(&python_reads(&table, Some(v_first))).unwrap();
    assert_eq!(first["rows"], 9);
    assert!(
        first["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "Shoplifting"),
        "{first}"
    );
    // The same columns safer's engine shows, plus `_input` (provenance).
    let cols: Vec<&str> = latest["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        cols.contains(&"crime_type") && cols.contains(&"_input"),
        "{cols:?}"
    );

    // safer agrees at both versions.
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );
    let pinned = lake.clone().pinned(Pin::Versions(
        [("police_uk_street".to_string(), v_first)].into(),
    ));
    assert_eq!(
        scalar(
            &pinned,
            "SELECT COUNT(*) FROM police_uk_street WHERE crime_type = 'Shoplifting'"
        )
        .await,
        "1"
    );
}

#[tokio::test]
async fn a_table_is_read_as_it_was_at_a_moment() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let before_anything = chrono::Utc::now() - chrono::Duration::seconds(5);
    land_police_uk(&lake, &fixture("police_uk"), None, None, &mut Vec::new()).unwrap();
    let after_first = chrono::Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // A later month lands.
    let drop = tmp.path().join("drop");
    copy_dir(&fixture("police_uk"), &drop);
    let dir = drop.join("2024-03");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("2024-03-lancashire-street.csv"),
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\r\n\
         ,2024-03,Lancashire Constabulary,Lancashire Constabulary,,,No Location,,,Drugs,,\r\n",
    )
    .unwrap();
    land_police_uk(&lake, &drop, None, None, &mut Vec::new()).unwrap();
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "10"
    );
    let then = lake.clone().pinned(Pin::Time(after_first));
    assert_eq!(
        scalar(&then, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );
    // Before the first landing the table did not exist at all.
    let never = lake.clone().pinned(Pin::Time(before_anything));
    assert!(
        never
            .datasets()
            .unwrap()
            .iter()
            .all(|m| m.dataset != "police_uk_street")
    );
}

/// A batch of `n` rows of a one-column table, all of one input unit.
fn batch(
    landing: &safer::lake::Landing,
    unit: &str,
    values: &[i64],
) -> datafusion::arrow::array::RecordBatch {
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use std::sync::Arc;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(values.to_vec())),
        safer::lake::input_column(unit, values.len()),
    ];
    datafusion::arrow::array::RecordBatch::try_new(landing.schema(), cols).unwrap()
}

/// Two writers start from the same version. Optimistic commits: when they
/// wrote different partitions the later one is rebased and both land; when
/// they rewrote the same partition the later one is refused whole, its
/// files removed, and the earlier one's rows are all there.
#[tokio::test]
async fn concurrent_writers_rebase_or_refuse_and_lose_nothing() {
    use safer::lake::Landing;
    use safer::schema::{Column, ColumnType};
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let cols = vec![Column::new("n", ColumnType::Int)];

    let mut first = Landing::begin(&lake, "t", cols.clone()).unwrap();
    first
        .write("year=2024", &batch(&first, "u0", &[1, 2, 3]))
        .unwrap();
    first.record_input("u0", input_entry("year=2024", 3));
    first.commit().unwrap();

    // Different partitions: both land.
    let mut a = Landing::begin(&lake, "t", cols.clone()).unwrap();
    let mut b = Landing::begin(&lake, "t", cols.clone()).unwrap();
    a.write("year=2025", &batch(&a, "ua", &[10, 20])).unwrap();
    a.record_input("ua", input_entry("year=2025", 2));
    b.write("year=2026", &batch(&b, "ub", &[100, 200, 300]))
        .unwrap();
    b.record_input("ub", input_entry("year=2026", 3));
    b.commit().unwrap();
    let summary = a.commit().unwrap();
    assert_eq!(summary.total_rows, 8);
    // 1+2+3 + 10+20 + 100+200+300 = 636, worked by hand.
    assert_eq!(scalar(&lake, "SELECT SUM(n) FROM t").await, "636");
    let m = lake.manifest("t").unwrap().unwrap();
    assert_eq!(
        m.inputs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["u0", "ua", "ub"]
    );
    assert_eq!(
        m.version,
        Some(2),
        "created at 0, b at 1, a rebased on b at 2"
    );

    // The same partition: the later writer is refused, nothing of it stays.
    let mut c = Landing::begin(&lake, "t", cols.clone()).unwrap();
    let mut d = Landing::begin(&lake, "t", cols.clone()).unwrap();
    c.write("year=2024", &batch(&c, "uc", &[1000])).unwrap();
    c.record_input("uc", input_entry("year=2024", 1));
    d.write("year=2024", &batch(&d, "ud", &[5000])).unwrap();
    d.record_input("ud", input_entry("year=2024", 1));
    d.commit().unwrap();
    let e = c.commit().unwrap_err();
    assert!(matches!(e, safer::lake::Error::Conflict { .. }), "{e}");
    assert!(e.to_string().contains("run it again"), "{e}");
    // d's row is in, c's is not: 636 + 5000.
    assert_eq!(scalar(&lake, "SELECT SUM(n) FROM t").await, "5636");
    // c's uncommitted file was removed: only committed files (live or
    // superseded by d) remain in 2024's folder.
    let dir = tmp.path().join("lake/t/year=2024");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "the first 2024 file and d's: {files:?}");
}

/// A lake an earlier safer wrote (Parquet plus `_manifest.json`) is brought
/// into the Delta log by the first writer, keeping its files, inputs and
/// accounting: re-importing the same files then changes nothing.
#[tokio::test]
async fn a_lake_from_the_earlier_layout_is_converted_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let new = Lake::open(tmp.path().join("new")).unwrap();
    land_police_uk(&new, &fixture("police_uk"), None, None, &mut Vec::new()).unwrap();

    // The old layout of both tables the import wrote: the same Parquet
    // files and a manifest each, no log.
    let mut manifests = Vec::new();
    for table in ["police_uk_street", "quarantine"] {
        let mut m = new.manifest(table).unwrap().unwrap();
        let old_dir = tmp.path().join("old").join(table);
        for f in m.files.values() {
            let dest = old_dir.join(&f.path);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(tmp.path().join("new").join(table).join(&f.path), &dest).unwrap();
        }
        m.version = None;
        std::fs::write(
            old_dir.join("_manifest.json"),
            serde_json::to_vec_pretty(&m).unwrap(),
        )
        .unwrap();
        manifests.push(m);
    }
    let m = manifests.remove(0);
    let old_dir = tmp.path().join("old/police_uk_street");

    let old = Lake::open(tmp.path().join("old")).unwrap();
    assert!(
        old.datasets().unwrap().is_empty(),
        "not read before converting"
    );
    drop(old.lock().unwrap());
    assert!(old_dir.join("_manifest.json.converted").is_file());
    assert_eq!(
        scalar(&old, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );
    let converted = old.manifest("police_uk_street").unwrap().unwrap();
    assert_eq!(converted.inputs, m.inputs);
    assert_eq!(converted.version, Some(0));
    let r = land_police_uk(&old, &fixture("police_uk"), None, None, &mut Vec::new()).unwrap();
    assert_eq!((r.inputs_landed, r.inputs_unchanged), (0, 2));
}

/// A table with a long history gets a checkpoint every 100 commits, and
/// every version stays readable across it.
#[tokio::test]
async fn a_long_history_is_checkpointed_and_stays_readable() {
    use safer::lake::Landing;
    use safer::schema::{Column, ColumnType};
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let cols = vec![Column::new("n", ColumnType::Int)];
    for i in 0..=100_i64 {
        let unit = format!("u{i:03}");
        let mut l = Landing::begin(&lake, "t", cols.clone()).unwrap();
        l.write("year=2024", &batch(&l, &unit, &[i])).unwrap();
        l.record_input(&unit, input_entry("year=2024", 1));
        l.commit().unwrap();
    }
    let log = tmp.path().join("lake/t/_delta_log");
    // delta-rs checkpoints the 100th version (version 99).
    assert!(
        log.join("00000000000000000099.checkpoint.parquet")
            .is_file(),
        "{:?}",
        std::fs::read_dir(&log)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".json"))
            .collect::<Vec<_>>()
    );
    // 0 + 1 + ... + 100 = 5050; version 5 held units 0..=5, sum 15.
    assert_eq!(scalar(&lake, "SELECT SUM(n) FROM t").await, "5050");
    let v5 = lake
        .clone()
        .pinned(Pin::Versions([("t".to_string(), 5)].into()));
    assert_eq!(scalar(&v5, "SELECT SUM(n) FROM t").await, "15");
    assert_eq!(lake.manifest("t").unwrap().unwrap().inputs.len(), 101);
}
