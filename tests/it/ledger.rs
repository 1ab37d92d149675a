//! The run ledger (issue 7): the same tests on SQLite and on the real
//! PostgreSQL server.

use chrono::NaiveDate;
use safer::ledger::lock::Holder;
use safer::ledger::{
    IndicatorRecord, IndicatorStatus, Ledger, RunRecord, RunStatus, Step, StepRecord, StepStatus,
};
use safer::sources::SourceFreshness;
use sqlx::Connection;

fn record(run_id: &str, schedule: &str, night: (i32, u32, u32)) -> RunRecord {
    RunRecord {
        run_id: run_id.into(),
        schedule: schedule.into(),
        logical_date: NaiveDate::from_ymd_opt(night.0, night.1, night.2).unwrap(),
        as_of: None,
        requested: Step::ALL.to_vec(),
        started: format!("{}-{:02}-{:02}T01:30:00Z", night.0, night.1, night.2),
        finished: None,
        status: RunStatus::Running,
        software_version: "test".into(),
        pid: 42,
        host: "h".into(),
        steps: Vec::new(),
        sources: Vec::new(),
        freshness: Vec::new(),
        indicators: Vec::new(),
        outputs: Vec::new(),
        kept_outputs: Vec::new(),
        figures_from: None,
        problems: Vec::new(),
        warnings: Vec::new(),
        lake_versions: Default::default(),
        lake_as_of: None,
    }
}

fn step(step: Step, status: StepStatus, rows: u64) -> StepRecord {
    StepRecord {
        step,
        status,
        started: "2027-01-01T01:30:00Z".into(),
        finished: Some("2027-01-01T01:31:00Z".into()),
        rows,
        error: (status != StepStatus::Ok).then(|| "source `x`: could not connect".into()),
        seconds: 60.0,
    }
}

/// Everything the service relies on, against one backend.
async fn exercise(ledger: &Ledger) {
    // Opening again applies no migration twice.
    assert_eq!(ledger.migrations().await.unwrap(), vec![1]);

    let mut a = record("run-a", "nightly", (2027, 1, 1));
    ledger.begin(&a).await.unwrap();
    ledger
        .step("run-a", &step(Step::Ingest, StepStatus::Running, 0))
        .await
        .unwrap();
    // A run in progress is not a finished night.
    let night = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    assert!(ledger.completed("nightly", night).await.unwrap().is_none());
    let got = ledger.get("run-a").await.unwrap().unwrap();
    assert_eq!(got.status, RunStatus::Running);
    assert_eq!(got.steps.len(), 1);
    assert_eq!(got.steps[0].status, StepStatus::Running);

    a.steps = vec![
        step(Step::Ingest, StepStatus::Ok, 1234),
        step(Step::Indicators, StepStatus::Partial, 52),
        step(Step::Outputs, StepStatus::Ok, 3),
    ];
    a.status = RunStatus::Partial;
    a.finished = Some("2027-01-01T01:40:00Z".into());
    a.outputs = vec!["outputs/pack/2026-10/pack.html".into()];
    a.indicators = vec![IndicatorRecord {
        id: "broken".into(),
        path: "queries/x/broken.sql".into(),
        sql_hash: "abc".into(),
        status: IndicatorStatus::Failed,
        points: 0,
        error: Some("queries/x/broken.sql:3:15: no column nope".into()),
        seconds: 0.1,
    }];
    a.freshness = vec![SourceFreshness {
        source: "police_uk".into(),
        tables: vec!["police_uk_street".into()],
        newest_month: NaiveDate::from_ymd_opt(2026, 7, 1),
        rows: 10,
        max_lag_months: Some(3),
        expected_from: NaiveDate::from_ymd_opt(2026, 10, 1),
        stale: true,
    }];
    ledger.finish(&a).await.unwrap();
    let done = ledger.completed("nightly", night).await.unwrap().unwrap();
    assert_eq!(done.run_id, "run-a");
    assert_eq!(done.status, RunStatus::Partial);
    let got = ledger.get("run-a").await.unwrap().unwrap();
    assert_eq!(got.steps.len(), 3);
    assert_eq!(got.steps[0].rows, 1234);
    assert_eq!(got.steps[1].status, StepStatus::Partial);
    assert_eq!(got.outputs, a.outputs);
    assert!(got.freshness[0].stale);
    assert_eq!(got.failed_indicators().count(), 1);

    // A run killed mid-way is marked abandoned by the next holder of the
    // lock, and its night is not finished.
    let b = record("run-b", "nightly", (2027, 1, 2));
    ledger.begin(&b).await.unwrap();
    ledger
        .step("run-b", &step(Step::Ingest, StepStatus::Running, 0))
        .await
        .unwrap();
    let c = record("run-c", "nightly", (2027, 1, 2));
    ledger.begin(&c).await.unwrap();
    let abandoned = ledger.abandon_unfinished("run-c").await.unwrap();
    assert_eq!(abandoned, vec!["run-b".to_string()]);
    let got = ledger.get("run-b").await.unwrap().unwrap();
    assert_eq!(got.status, RunStatus::Abandoned);
    assert_eq!(got.steps[0].status, StepStatus::Abandoned);
    assert!(
        ledger
            .completed("nightly", NaiveDate::from_ymd_opt(2027, 1, 2).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ledger
            .ran_before("nightly", NaiveDate::from_ymd_opt(2027, 1, 2).unwrap())
            .await
            .unwrap()
    );
    assert!(
        !ledger
            .ran_before("nightly", NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())
            .await
            .unwrap()
    );

    // Newest first; --failed keeps partial and abandoned.
    let mut m = record("run-d", "manual", (2027, 1, 3));
    ledger.begin(&m).await.unwrap();
    m.status = RunStatus::Ok;
    m.finished = Some("2027-01-03T02:00:00Z".into());
    ledger.finish(&m).await.unwrap();
    let ids: Vec<String> = ledger
        .recent(10, false)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(ids, vec!["run-d", "run-c", "run-b", "run-a"]);
    let failed: Vec<String> = ledger
        .recent(10, true)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(failed, vec!["run-b", "run-a"]);
    let latest: Vec<(String, String)> = ledger
        .latest_per_schedule()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.schedule, r.run_id))
        .collect();
    assert_eq!(
        latest,
        vec![
            ("manual".to_string(), "run-d".to_string()),
            ("nightly".to_string(), "run-c".to_string())
        ]
    );
    assert!(ledger.get("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn the_ledger_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(tmp.path(), None).await.unwrap();
    exercise(&ledger).await;
    drop(ledger);
    // Reopening applies nothing again and keeps everything.
    let again = Ledger::open(tmp.path(), None).await.unwrap();
    assert_eq!(again.migrations().await.unwrap(), vec![1]);
    assert_eq!(again.recent(10, false).await.unwrap().len(), 4);
    assert!(again.advisory_lock(&holder("x")).await.unwrap().is_none());
}

fn holder(run: &str) -> Holder {
    Holder {
        pid: 4242,
        host: "machine-a".into(),
        started: "2027-01-01T01:30:00Z".into(),
        run_id: run.into(),
        schedule: "nightly".into(),
    }
}

/// A fresh database on the test server, so tests cannot see each other.
async fn fresh_pg_database() -> Option<String> {
    let base = std::env::var("SAFER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            assert!(
                !crate::common::db_required(),
                "PostgreSQL is required (SAFER_REQUIRE_DB=1): {e}"
            );
            eprintln!("SKIPPED: PostgreSQL not reachable: {e}");
            return None;
        }
    };
    let name = format!("safer_ledger_{}", crate::common::unique());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (head, _) = base.rsplit_once('/').unwrap();
    Some(format!("{head}/{name}"))
}

#[tokio::test]
async fn the_ledger_on_postgresql_with_its_advisory_lock() {
    let Some(url) = fresh_pg_database().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(tmp.path(), Some(&url)).await.unwrap();
    assert_eq!(ledger.backend(), safer::ledger::Backend::Postgres);
    assert!(
        !ledger.location().contains("postgres://"),
        "no URL in words"
    );
    exercise(&ledger).await;
    // A second process (here: a second session) is refused while the
    // first holds the advisory lock, and is told who holds it.
    let other = Ledger::open(tmp.path(), Some(&url)).await.unwrap();
    let first = ledger.advisory_lock(&holder("first")).await.unwrap();
    assert!(first.is_some());
    let err = other.advisory_lock(&holder("second")).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("pid 4242 on machine-a"), "{text}");
    assert!(text.contains("run first"), "{text}");
    // The server releases it when the holder's session ends (however it
    // ends: a killed process's connection closes too).
    drop(first);
    let mut took = None;
    for _ in 0..50 {
        match other.advisory_lock(&holder("second")).await {
            Ok(l) => {
                took = l;
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert!(took.is_some(), "the lock was released");
}

#[test]
fn a_ledger_url_env_that_is_not_set_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(
        root.join("safer.toml"),
        "[organisation]\nname = \"T\"\n[ledger]\nurl_env = \"SAFER_TEST_LEDGER_URL_UNSET\"\n",
    )
    .unwrap();
    let (code, _, err) = crate::project::safer(&["runs"], root);
    assert_ne!(code, 0);
    assert!(
        err.contains("SAFER_TEST_LEDGER_URL_UNSET") && err.contains("not set"),
        "{err}"
    );
}
