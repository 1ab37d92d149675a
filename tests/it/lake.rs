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

/// The year's file and its bytes, as the newest version lists it.
fn year_file(lake: &Lake, year: &str) -> (std::path::PathBuf, Vec<u8>) {
    let m = lake.manifest(police_uk::TABLE).unwrap().unwrap();
    let path = lake
        .dataset_dir(police_uk::TABLE)
        .join(&m.files[&format!("year={year}")].path);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// Each row group's row count and its column chunks' encoded bytes, and
/// a check that the page index points at each chunk's first data page.
fn row_groups(path: &std::path::Path, bytes: &[u8]) -> Vec<(i64, Vec<Vec<u8>>)> {
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
    let file = std::fs::File::open(path).unwrap();
    let meta = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Required)
        .parse_and_finish(&file)
        .unwrap();
    let offsets = meta.offset_index().expect("a page index");
    meta.row_groups()
        .iter()
        .enumerate()
        .map(|(i, rg)| {
            let chunks = rg
                .columns()
                .iter()
                .enumerate()
                .map(|(c, chunk)| {
                    assert_eq!(
                        offsets[i][c].page_locations()[0].offset,
                        chunk.data_page_offset(),
                        "row group {i}, column {c}: the page index is out of place"
                    );
                    let (start, len) = chunk.byte_range();
                    bytes[start as usize..(start + len) as usize].to_vec()
                })
                .collect();
            (rg.num_rows(), chunks)
        })
        .collect()
}

#[tokio::test]
async fn a_new_month_carries_the_year_over_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let write = |month: &str, places: &[&str]| {
        let dir = data.join(month);
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::from(
            "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n",
        );
        for p in places {
            text += &format!(
                ",{month},Lancashire Constabulary,Lancashire Constabulary,-2.479310,53.748100,On or near {p},E01012600,Blackburn with Darwen 001A,Anti-social behaviour,,\n"
            );
        }
        std::fs::write(dir.join(format!("{month}-lancashire-street.csv")), text).unwrap();
    };
    let land = |lake: &Lake| {
        let mut problems = Vec::new();
        land_police_uk(lake, &data, None, None, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    };
    let by_month = "SELECT CAST(month AS VARCHAR) AS m, count(*) FROM police_uk_street GROUP BY month ORDER BY m";

    write("2025-01", &["Mill Road", "King Street", "Park Lane"]);
    land(&lake);
    let (path, bytes) = year_file(&lake, "2025");
    let january = row_groups(&path, &bytes);
    assert_eq!(january.len(), 1);
    assert_eq!(january[0].0, 3);

    // February: its two rows are encoded; January's row group is copied
    // as it was, byte for byte.
    write("2025-02", &["High Street", "Mill Road"]);
    land(&lake);
    let (path, bytes) = year_file(&lake, "2025");
    let both = row_groups(&path, &bytes);
    assert_eq!(both.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(both[1], january[0], "January's row group was re-encoded");
    assert_eq!(
        crate::common::rows(&lake, by_month).await,
        vec![vec!["2025-01-01", "3"], vec!["2025-02-01", "2"]]
    );
    // A filter the statistics and page index take part in.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM police_uk_street WHERE location = 'On or near Mill Road'"
        )
        .await,
        "2"
    );

    // A corrected January replaces its three rows with one. February's
    // row group holds none of January's rows and is copied; the copied
    // January row group is read, and all of its rows drop out.
    write("2025-01", &["Church Lane"]);
    land(&lake);
    let (path, bytes) = year_file(&lake, "2025");
    let corrected = row_groups(&path, &bytes);
    assert_eq!(
        corrected.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(corrected[1], both[0], "February's row group was re-encoded");
    assert_eq!(
        crate::common::rows(&lake, by_month).await,
        vec![vec!["2025-01-01", "1"], vec!["2025-02-01", "2"]]
    );
    assert_eq!(
        crate::common::rows(
            &lake,
            "SELECT location FROM police_uk_street WHERE month = DATE '2025-01-01'"
        )
        .await,
        vec![vec!["On or near Church Lane"]]
    );
}
