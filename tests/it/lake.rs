//! Atomicity of the lake: an interrupted write leaves the previous good
//! state readable (issue 2).

use safer::lake::{Lake, Landing};
use safer::sources::{land_police_uk, police_uk};

use crate::common::{fixture, scalar};

#[tokio::test]
async fn abandoned_landing_leaves_old_partition_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    land_police_uk(&lake, &fixture("police_uk"), None, None, &mut Vec::new()).unwrap();
    let manifest_before = lake.manifest(police_uk::TABLE).unwrap().unwrap();

    // Start replacing 2024-01 and write part of the new partition, then
    // "crash": the landing is dropped without commit.
    {
        let mut landing = Landing::begin(&lake, police_uk::TABLE, police_uk::columns()).unwrap();
        landing.replace_unit("2024-01-lancashire");
        let mut w = landing.open_partition("year=2024").unwrap();
        let batch = datafusion::arrow::array::RecordBatch::new_empty(landing.schema());
        w.write(&batch).unwrap();
        // The temp file exists while the write is in progress...
        let tmp_files = list(&tmp.path().join("lake/police_uk_street/year=2024"), ".tmp");
        assert_eq!(tmp_files, 1);
        drop(w);
        drop(landing);
    }
    // ...and nothing of it is visible or left behind.
    assert_eq!(
        list(&tmp.path().join("lake/police_uk_street/year=2024"), ".tmp"),
        0
    );
    assert_eq!(
        lake.manifest(police_uk::TABLE).unwrap().unwrap(),
        manifest_before
    );
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );
}

#[tokio::test]
async fn a_file_renamed_in_but_not_committed_is_never_read() {
    // A crash between renaming a new Parquet file into the partition and
    // committing leaves an orphan. Readers follow the Delta log, so the
    // orphan's rows must not be counted twice.
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    land_police_uk(&lake, &fixture("police_uk"), None, None, &mut Vec::new()).unwrap();
    let m = lake.manifest(police_uk::TABLE).unwrap().unwrap();
    let part = tmp
        .path()
        .join("lake/police_uk_street")
        .join(&m.files["year=2024"].path);
    let orphan = part.with_file_name("part-orphan.parquet");
    std::fs::copy(&part, &orphan).unwrap();
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "9"
    );
    // The next successful landing tidies the orphan away.
    land_police_uk(
        &lake,
        &fixture("police_uk_bad"),
        None,
        None,
        &mut Vec::new(),
    )
    .unwrap();
    let dir = tmp.path().join("lake/police_uk_street");
    let corrected = tmp.path().join("drop");
    crate::police_uk::copy_dir(&fixture("police_uk"), &corrected);
    let f = corrected.join("2024-01/2024-01-lancashire-street.csv");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes.extend_from_slice(b",2024-01,L,L,,,No Location,,,Drugs,,\r\n");
    std::fs::write(&f, bytes).unwrap();
    land_police_uk(&lake, &corrected, None, None, &mut Vec::new()).unwrap();
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "10"
    );
    // The orphan was never committed, so vacuum removes it (and the file
    // the correction superseded); what the log lists stays.
    assert!(orphan.exists());
    safer::lake::maintain::vacuum(&lake, &Default::default(), std::time::Duration::ZERO, false)
        .unwrap();
    assert!(!orphan.exists(), "orphan removed by vacuum");
    assert_eq!(list(&dir.join("year=2024"), ".parquet"), 1);
    assert_eq!(
        scalar(&lake, "SELECT COUNT(*) FROM police_uk_street").await,
        "10"
    );
}

#[test]
fn a_second_writer_is_refused_while_the_lake_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path()).unwrap();
    let _held = lake.lock().unwrap();
    let again = Lake::open(tmp.path()).unwrap();
    let e = again.lock().unwrap_err();
    assert!(
        e.to_string().contains("in use by another safer process"),
        "{e}"
    );
}

fn list(dir: &std::path::Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(suffix)
        })
        .count()
}
