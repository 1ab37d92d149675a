//! SQL sources against real PostgreSQL and MariaDB servers and a SQLite file
//! (issue 2): land, compare the Parquet contents read back directly, pull
//! only new rows by watermark, and fail cleanly when a server is unreachable.

use std::path::Path;
use std::time::Duration;

use safer::config::{SqlMode, SqlSource};
use safer::lake::Lake;
use safer::schema::{Column, ColumnType};
use safer::sources::{self, sql};

use crate::common::{db_required, read_parquet_dir, scalar, unique};

fn pg_url() -> String {
    std::env::var("SAFER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn mysql_url() -> String {
    std::env::var("SAFER_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn source(table: &str, query: String, mode: SqlMode) -> SqlSource {
    use ColumnType::*;
    let mut id = Column::new("id", Int);
    id.required = true;
    SqlSource {
        name: format!("src_{table}"),
        url_env: None,
        url: None,
        table: table.to_string(),
        query,
        columns: vec![
            id,
            Column::new("district", String),
            Column::new("amount", Float),
            Column::new("happened", Date),
            Column::new("flagged", Bool),
            Column::new("updated_at", Timestamp),
        ],
        mode,
        watermark: (mode == SqlMode::Incremental).then(|| "updated_at".to_string()),
        partition_by: Some("happened".into()),
        max_lag_months: None,
        tests: Vec::new(),
        key: Vec::new(),
    }
}

async fn land(
    lake: &Lake,
    src: &SqlSource,
    url: &str,
) -> Result<sources::DatasetReport, sources::Error> {
    sql::land(
        lake,
        src,
        url,
        Path::new("."),
        None,
        Duration::from_secs(5),
        Duration::from_secs(60),
    )
    .await
}

/// The rows every backend is loaded with, as the lake must hold them
/// (written out by hand, not read from the program).
fn expected_first_three() -> Vec<Vec<String>> {
    let r = |v: [&str; 6]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        r([
            "1",
            "E07000123",
            "12.5",
            "2024-01-15",
            "true",
            "2024-02-01T10:00:00",
        ]),
        r([
            "2",
            "NULL",
            "NULL",
            "2024-02-20",
            "false",
            "2024-02-02T11:00:00",
        ]),
        r([
            "3",
            "E06000009",
            "7.25",
            "2023-12-31",
            "NULL",
            "2024-02-03T12:00:00",
        ]),
    ]
}

const INSERT_FIRST: &str = "INSERT INTO {t} (id, district, amount, happened, flagged, updated_at) VALUES \
    (1, 'E07000123', 12.50, '2024-01-15', TRUE, '2024-02-01 10:00:00'), \
    (2, NULL, NULL, '2024-02-20', FALSE, '2024-02-02 11:00:00'), \
    (3, 'E06000009', 7.25, '2023-12-31', NULL, '2024-02-03 12:00:00')";
const INSERT_MORE: &str = "INSERT INTO {t} (id, district, amount, happened, flagged, updated_at) VALUES \
    (4, 'E07000117', 1.00, '2024-03-01', TRUE, '2024-03-05 09:30:00'), \
    (5, 'E07000117', 2.00, '2024-03-02', FALSE, '2024-03-06 09:30:00')";

fn without_input(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|mut r| {
            r.pop();
            r
        })
        .collect()
}

/// The shared scenario: first pull, watermark pull, nothing-new pull, then
/// upserts on a key.
async fn scenario(url: &str, table: &str, exec: impl AsyncFn(&str)) {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let src = source(
        table,
        format!("SELECT id, district, amount, happened, flagged, updated_at FROM {table}"),
        SqlMode::Incremental,
    );
    exec(&INSERT_FIRST.replace("{t}", table)).await;

    let r = land(&lake, &src, url).await.unwrap();
    assert_eq!((r.rows_read, r.rows_landed, r.rows_quarantined), (3, 3, 0));
    let got = without_input(read_parquet_dir(&tmp.path().join("lake").join(table)));
    assert_eq!(got, expected_first_three());
    // Partitioned by the year of `happened`.
    let m = lake.manifest(table).unwrap().unwrap();
    assert_eq!(
        m.files.keys().collect::<Vec<_>>(),
        ["year=2023", "year=2024"]
    );
    assert_eq!(m.watermark.as_deref(), Some("2024-02-03 12:00:00.000000"));

    // Two newer rows: only they are pulled.
    exec(&INSERT_MORE.replace("{t}", table)).await;
    let r = land(&lake, &src, url).await.unwrap();
    assert_eq!(r.rows_read, 2, "only rows above the watermark are pulled");
    assert_eq!(r.total_rows, 5);
    assert_eq!(
        scalar(&lake, &format!("SELECT SUM(id) FROM {table}")).await,
        "15"
    );

    // Nothing new: nothing read, nothing rewritten.
    let files_before = lake.manifest(table).unwrap().unwrap().files;
    let r = land(&lake, &src, url).await.unwrap();
    assert_eq!((r.rows_read, r.inputs_unchanged), (0, 1));
    assert_eq!(lake.manifest(table).unwrap().unwrap().files, files_before);

    upserts(url, table, &exec).await;
}

/// Issue 10: an incremental source with a key merges on it. Rows 1-5 are
/// at the source (the scenario loaded them); row 2 is then updated (new
/// amount, and a date in another year, so it moves partition) and row 4
/// gets a new amount. The next pull reads just those two, and the lake
/// holds each id once, with the new values.
async fn upserts(url: &str, table: &str, exec: &impl AsyncFn(&str)) {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut src = source(
        &format!("{table}_keyed"),
        format!("SELECT id, district, amount, happened, flagged, updated_at FROM {table}"),
        SqlMode::Incremental,
    );
    src.key = vec!["id".into()];
    let r = land(&lake, &src, url).await.unwrap();
    assert_eq!((r.rows_read, r.total_rows), (5, 5));

    exec(&format!(
        "UPDATE {table} SET amount = 99.50, happened = '2023-06-01', updated_at = '2024-04-01 08:00:00' WHERE id = 2"
    ))
    .await;
    exec(&format!(
        "UPDATE {table} SET amount = 4.25, updated_at = '2024-04-01 09:00:00' WHERE id = 4"
    ))
    .await;
    let r = land(&lake, &src, url).await.unwrap();
    assert_eq!(r.rows_read, 2, "only the two updated rows are pulled");
    assert_eq!(r.total_rows, 5, "updated rows replace their old versions");

    let t = &src.table;
    // Worked by hand: 12.50 + 99.50 + 7.25 + 4.25 + 2.00 = 125.5.
    assert_eq!(
        scalar(&lake, &format!("SELECT SUM(amount) FROM {t}")).await,
        "125.5"
    );
    assert_eq!(
        scalar(&lake, &format!("SELECT COUNT(DISTINCT id) FROM {t}")).await,
        "5"
    );
    assert_eq!(
        scalar(
            &lake,
            &format!("SELECT CAST(happened AS VARCHAR) || ' ' || CAST(amount AS VARCHAR) FROM {t} WHERE id = 2")
        )
        .await,
        "2023-06-01 99.5"
    );
    // Read back through an independent replay of the Delta log, too.
    let got = without_input(read_parquet_dir(&tmp.path().join("lake").join(t)));
    let ids: Vec<&str> = got.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    // The row moved to 2023's partition; the pull's accounting says it
    // replaced two earlier rows.
    let m = lake.manifest(t).unwrap().unwrap();
    let pull = m
        .inputs
        .values()
        .find(|i| i.rows_read == 2)
        .expect("the second pull's unit");
    assert_eq!(pull.rows_superseded, 2);
    assert_eq!(m.key, ["id"]);
    let landed: u64 = m.inputs.values().map(|i| i.rows_landed).sum();
    let superseded: u64 = m.inputs.values().map(|i| i.rows_superseded).sum();
    assert_eq!(landed - superseded, m.rows());
}

/// An unreachable server: a clear error naming the source, no secret, and
/// the lake as it was.
async fn unreachable(bad_url: &str, table: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    safer::sources::land_police_uk(
        &lake,
        &crate::common::fixture("police_uk"),
        None,
        None,
        &mut Vec::new(),
    )
    .unwrap();
    let before = crate::common::delta_log_state(&tmp.path().join("lake/police_uk_street"));
    let src = source(table, format!("SELECT * FROM {table}"), SqlMode::Full);
    let e = land(&lake, &src, bad_url).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&format!("source `src_{table}`")), "{msg}");
    assert!(msg.contains("could not connect"), "{msg}");
    assert!(!msg.contains("hunter2"), "password leaked: {msg}");
    assert!(!msg.contains(bad_url), "URL leaked: {msg}");
    assert!(lake.manifest(table).unwrap().is_none());
    let after = crate::common::delta_log_state(&tmp.path().join("lake/police_uk_street"));
    assert_eq!(before, after);
}

#[tokio::test]
async fn postgres_incremental_and_unreachable() {
    let url = pg_url();
    let pool = match sqlx::PgPool::connect(&url).await {
        Ok(p) => p,
        Err(e) if !db_required() => {
            eprintln!("SKIPPED postgres test: {e} (set SAFER_REQUIRE_DB=1 to fail instead)");
            return;
        }
        Err(e) => panic!("PostgreSQL not reachable at {url}: {e}"),
    };
    let table = format!("pg_src_{}", unique());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id INTEGER PRIMARY KEY, district TEXT, amount NUMERIC(10,2), \
         happened DATE, flagged BOOLEAN, updated_at TIMESTAMP)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let p = pool.clone();
    scenario(&url, &table, async move |sql: &str| {
        sqlx::query(sql).execute(&p).await.unwrap();
    })
    .await;
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .unwrap();
    unreachable("postgres://postgres:hunter2@127.0.0.1:1/test", &table).await;
}

#[tokio::test]
async fn mariadb_incremental_and_bad_credentials() {
    let url = mysql_url();
    let pool = match sqlx::MySqlPool::connect(&url).await {
        Ok(p) => p,
        Err(e) if !db_required() => {
            eprintln!("SKIPPED MariaDB test: {e} (set SAFER_REQUIRE_DB=1 to fail instead)");
            return;
        }
        Err(e) => panic!("MariaDB not reachable at {url}: {e}"),
    };
    let table = format!("my_src_{}", unique());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, district VARCHAR(20), amount DECIMAL(10,2), \
         happened DATE, flagged BOOLEAN, updated_at DATETIME)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let p = pool.clone();
    scenario(&url, &table, async move |sql: &str| {
        sqlx::query(sql).execute(&p).await.unwrap();
    })
    .await;
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .unwrap();
    // Wrong password on a live server, then no server at all.
    unreachable("mysql://root:hunter2@127.0.0.1:3306/test", &table).await;
    unreachable("mysql://root:hunter2@127.0.0.1:1/test", &table).await;
}

#[tokio::test]
async fn sqlite_incremental_full_refresh_and_quarantine() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("partner.sqlite");
    let url = format!("sqlite://{}", db.display());
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    let table = "lite_src";
    sqlx::query(
        "CREATE TABLE lite_src (id INTEGER, district TEXT, amount REAL, happened TEXT, \
         flagged INTEGER, updated_at TEXT)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let p = pool.clone();
    scenario(&url, table, async move |sql: &str| {
        sqlx::query(sql).execute(&p).await.unwrap();
    })
    .await;

    // Full refresh: the table mirrors the source, deletions included; a row
    // with a null required id is quarantined, not dropped.
    let lake_dir = tmp.path().join("lake2");
    let lake = Lake::open(&lake_dir).unwrap();
    let src = source(
        "lite_full",
        "SELECT id, district, amount, happened, flagged, updated_at FROM lite_src".into(),
        SqlMode::Full,
    );
    sqlx::query("INSERT INTO lite_src VALUES (NULL, 'E07000120', 3.5, '2024-05-01', 1, '2024-05-02 00:00:00')")
        .execute(&pool)
        .await
        .unwrap();
    let r = land(&lake, &src, &url).await.unwrap();
    assert_eq!((r.rows_read, r.rows_landed, r.rows_quarantined), (6, 5, 1));
    assert_eq!(
        scalar(
            &lake,
            "SELECT reason FROM quarantine WHERE dataset = 'lite_full'"
        )
        .await,
        "`id` is null but required"
    );
    sqlx::query("DELETE FROM lite_src WHERE id IN (4, 5)")
        .execute(&pool)
        .await
        .unwrap();
    let r = land(&lake, &src, &url).await.unwrap();
    assert_eq!(r.total_rows, 3);
    assert_eq!(scalar(&lake, "SELECT SUM(id) FROM lite_full").await, "6");
    // Unchanged source: nothing rewritten.
    let r = land(&lake, &src, &url).await.unwrap();
    assert_eq!(r.inputs_unchanged, 1);

    // A query that lacks a declared column is refused with both lists named.
    let mut bad = src.clone();
    bad.query = "SELECT id, district FROM lite_src".into();
    let e = land(&lake, &bad, &url).await.unwrap_err().to_string();
    assert!(e.contains("lacks declared columns `amount`"), "{e}");
    assert_eq!(scalar(&lake, "SELECT COUNT(*) FROM lite_full").await, "3");
}

/// Move a file's modification time back, as if it had been still since.
fn settle(path: &Path, ago: Duration) -> std::time::SystemTime {
    let t = std::time::SystemTime::now() - ago;
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
    t
}

#[tokio::test]
async fn a_sqlite_file_untouched_since_its_last_pull_is_not_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("partner.sqlite");
    let url = format!("sqlite://{}", db.display());
    // Rollback journal, as many partner extracts are: every commit bumps
    // the change counter in the file header.
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete);
    let write = async |sql: &str| {
        let pool = sqlx::SqlitePool::connect_with(opts.clone()).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    };
    write(
        "CREATE TABLE t (id INTEGER, district TEXT, amount REAL, happened TEXT, \
         flagged INTEGER, updated_at TEXT)",
    )
    .await;
    write(
        "INSERT INTO t VALUES \
         (1, 'E07000117', 1.5, '2024-01-15', 1, '2024-02-01 10:00:00'), \
         (2, 'E07000118', 2.5, '2024-01-20', 0, '2024-02-01 10:00:00'), \
         (3, 'E07000119', 4.0, '2024-02-03', 0, '2024-02-05 09:00:00')",
    )
    .await;
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let probes = tmp.path().join("probes");
    let src = source(
        "probed",
        "SELECT id, district, amount, happened, flagged, updated_at FROM t".into(),
        SqlMode::Full,
    );
    let pull = async |src: &SqlSource| {
        sql::land(
            &lake,
            src,
            &url,
            Path::new("."),
            Some(&probes),
            Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    };

    settle(&db, Duration::from_secs(60));
    let r = pull(&src).await;
    assert_eq!((r.rows_read, r.inputs_landed), (3, 1));
    // Untouched: not read at all, and the table is as it was.
    let r = pull(&src).await;
    assert_eq!((r.rows_read, r.inputs_unchanged, r.total_rows), (0, 1, 3));

    // A write that keeps the file's size, with its old time put back, is
    // still seen: SQLite's change counter moved.
    let size = std::fs::metadata(&db).unwrap().len();
    let when = std::fs::metadata(&db).unwrap().modified().unwrap();
    write("UPDATE t SET amount = 9.5 WHERE id = 1").await;
    assert_eq!(std::fs::metadata(&db).unwrap().len(), size);
    std::fs::File::options()
        .write(true)
        .open(&db)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let r = pull(&src).await;
    assert_eq!((r.rows_read, r.inputs_landed), (3, 1));
    assert_eq!(
        scalar(&lake, "SELECT SUM(amount) FROM probed").await,
        "16.0"
    );

    // A file written moments ago is read every time until it has been
    // still for a while: its clock may not have ticked since the write.
    write("UPDATE t SET amount = 3.0 WHERE id = 2").await;
    for _ in 0..2 {
        let r = pull(&src).await;
        assert_eq!(r.rows_read, 3);
    }
    assert_eq!(
        scalar(&lake, "SELECT SUM(amount) FROM probed").await,
        "16.5"
    );

    // A changed query reads the file again, though the file is untouched.
    settle(&db, Duration::from_secs(30));
    assert_eq!(pull(&src).await.rows_read, 3);
    assert_eq!(pull(&src).await.rows_read, 0);
    let mut narrower = src.clone();
    narrower.query.push_str(" WHERE id < 3");
    let r = pull(&narrower).await;
    assert_eq!((r.rows_read, r.total_rows), (2, 2));

    // The table moved on without this source (another machine landed it):
    // the file is read again rather than trusted.
    assert_eq!(pull(&narrower).await.rows_read, 0);
    let r = pull(&src).await;
    assert_eq!(r.rows_read, 3);
    let landed_elsewhere = {
        let mut other = src.clone();
        other.name = "another_source_same_table".into();
        other.query.push_str(" WHERE id = 3");
        sql::land(
            &lake,
            &other,
            &url,
            Path::new("."),
            None,
            Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    };
    assert_eq!(landed_elsewhere.total_rows, 1);
    let r = pull(&src).await;
    assert_eq!((r.rows_read, r.total_rows), (3, 3));
}
