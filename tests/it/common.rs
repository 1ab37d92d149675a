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

/// Every row of a table's current version, read with the parquet crate
/// directly (not through the engine): the files come from replaying the
/// table's Delta log here, independently of safer's own log reader.
pub fn read_parquet_dir(dir: &Path) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for f in delta_log_files(dir) {
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

/// The data files of a Delta table's newest version, by replaying the JSON
/// commits in `_delta_log` (add minus remove, in version order). A second,
/// deliberately simple reader of the log for the tests to check against.
pub fn delta_log_files(dir: &Path) -> Vec<PathBuf> {
    let mut commits: Vec<PathBuf> = std::fs::read_dir(dir.join("_delta_log"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_stem()
                    .is_some_and(|s| s.to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    commits.sort();
    let mut live = std::collections::BTreeSet::new();
    for c in commits {
        for line in std::fs::read_to_string(&c).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(p) = v["add"]["path"].as_str() {
                live.insert(percent_decode(p));
            }
            if let Some(p) = v["remove"]["path"].as_str() {
                live.remove(&percent_decode(p));
            }
        }
    }
    live.into_iter().map(|p| dir.join(p)).collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(n) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(n);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A table's whole transaction log (file names and contents), to show a
/// refused landing committed nothing.
pub fn delta_log_state(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir.join("_delta_log"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The record of an input unit of `rows` rows landed into one partition,
/// for tests that drive a `Landing` by hand.
pub fn input_entry(partition: &str, rows: u64) -> safer::lake::InputEntry {
    safer::lake::InputEntry::whole(
        "test".into(),
        format!("fp-{partition}-{rows}"),
        partition,
        rows,
        "2026-12-06T00:00:00Z".into(),
    )
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

/// A child process (a server, an emulator), killed when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something listens on `port` within `secs` seconds.
pub fn wait_for_port(port: u16, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}
