//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use safer::engine::{Engine, EngineLimits};
use safer::lake::Lake;

/// Path of a fixture under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Run a query against a lake and return rows as strings ("NULL" for null).
pub async fn rows(lake: &Lake, sql: &str) -> Vec<Vec<String>> {
    let limits = EngineLimits {
        views: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/_views")),
        ..EngineLimits::default()
    };
    let engine = Engine::open(lake, limits).await.expect("engine opens");
    let (_, batches) = engine
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    to_strings(&batches)
}

/// Batches as rows of strings.
pub fn to_strings(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                (0..b.num_columns())
                    .map(|c| {
                        if b.column(c).is_null(r) {
                            "NULL".to_string()
                        } else {
                            array_value_to_string(b.column(c), r).unwrap_or_default()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

/// A single value from a query.
pub async fn scalar(lake: &Lake, sql: &str) -> String {
    let r = rows(lake, sql).await;
    assert_eq!(r.len(), 1, "{sql} returned {r:?}");
    r[0][0].clone()
}

/// Every Parquet file under a dataset directory, read with the parquet crate
/// directly (not through the engine), as rows of strings.
pub fn read_parquet_dir(dir: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for f in files {
        let file = std::fs::File::open(&f).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        out.extend(to_strings(&batches));
    }
    out.sort();
    out
}

/// Whether database tests must run (CI) or may be skipped.
pub fn db_required() -> bool {
    std::env::var("SAFER_REQUIRE_DB").is_ok_and(|v| v == "1")
}

/// A short unique suffix for table names, so parallel tests don't collide.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A complete indicator header (eight lines) for test indicators, so their
/// SQL starts on line 9.
pub fn header(id: &str, tables: &str) -> String {
    format!(
        "-- id: {id}\n-- title: {id}\n-- description: Test indicator.\n-- priority: Test\n-- tables: {tables}\n-- unit: count\n-- polarity: monitor\n-- owner: Tests\n"
    )
}
