//! Retries, alerts and stale data (issue 7): a partner database that is
//! down is retried and then fails its step, the lake and the packs are left
//! exactly as they were, and an alert reaches a command, a webhook (a
//! local HTTP listener) and an email (a local SMTP sink), none of them
//! carrying the password.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use safer::ledger::{Ledger, RunStatus, Step, StepStatus};
use safer::pipeline::{self, JobSpec};
use safer::retry::RetryPolicy;
use sqlx::Connection;

use crate::project;

/// A one-request-at-a-time HTTP listener on 127.0.0.1 that keeps every
/// POST body.
fn http_listener() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/safer", l.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut first = String::new();
            r.read_line(&mut first).unwrap_or(0);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap_or(());
            assert!(first.starts_with("POST /hooks/safer"), "{first}");
            keep.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let mut s = s;
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

/// A minimal SMTP sink on 127.0.0.1 that keeps every message's DATA.
fn smtp_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", l.local_addr().unwrap());
    let mails = Arc::new(Mutex::new(Vec::new()));
    let keep = mails.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(b"220 sink.test ESMTP\r\n");
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                    b"250-sink.test\r\n250 8BITMIME\r\n"
                } else if cmd.starts_with("DATA") {
                    let _ = w.write_all(b"354 go ahead\r\n");
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        data.push_str(&l);
                    }
                    keep.lock().unwrap().push(data);
                    b"250 queued\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (url, mails)
}

/// Every file under `dir` with its bytes, for before/after comparisons.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

async fn pg() -> Option<sqlx::PgConnection> {
    let url = std::env::var("SAFER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match sqlx::PgConnection::connect(&url).await {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(
                !crate::common::db_required(),
                "PostgreSQL is required (SAFER_REQUIRE_DB=1): {e}"
            );
            eprintln!("SKIPPED: PostgreSQL not reachable: {e}");
            None
        }
    }
}

const SECRET: &str = "hunter2-council-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_is_retried_fails_its_step_changes_nothing_and_alerts() {
    let Some(mut conn) = pg().await else { return };
    let u = crate::common::unique();
    let table = format!("alert_src_{u}");
    sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE TABLE {table} (id BIGINT NOT NULL, happened DATE NOT NULL)"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO {table} VALUES (1, '2026-07-03'), (2, '2026-08-09'), (3, '2026-09-10')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let (hook_url, hooks) = http_listener();
    let (smtp_url, mails) = smtp_sink();
    let tmp = tempfile::tempdir().unwrap();
    let alert_file = tmp.path().join("alert-stdin.json");
    let db_var = format!("SAFER_TEST_ALERT_DB_{u}");
    let hook_var = format!("SAFER_TEST_ALERT_HOOK_{u}");
    let smtp_var = format!("SAFER_TEST_ALERT_SMTP_{u}");
    let extra = format!(
        r#"
[[sources]]
name = "partner_cases"
kind = "sql"
url_env = "{db_var}"
table = "partner_cases"
query = "SELECT id, happened FROM {table}"
columns = [
  {{ name = "id", type = "int", required = true }},
  {{ name = "happened", type = "date", required = true }},
]

[alerts]
command = ["sh", "-c", "cat > '{}'"]
webhook_url_env = "{hook_var}"

[alerts.email]
smtp_url_env = "{smtp_var}"
from = "safer <safer@council.test>"
to = ["on-call@council.test"]
"#,
        alert_file.display()
    );
    let root = project::make(&tmp.path().join("p"), &["html", "xlsx"], &extra);
    // SAFETY: these variable names are unique to this test.
    unsafe {
        std::env::set_var(
            &db_var,
            format!("postgres://postgres:{SECRET}@127.0.0.1:5432/test"),
        );
        std::env::set_var(&hook_var, &hook_url);
        std::env::set_var(&smtp_var, &smtp_url);
    }
    let cfg = project::config(&root);
    let ledger = Ledger::open_for(&cfg).await.unwrap();
    let mut spec = JobSpec::manual();
    spec.today = NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
    spec.retry = RetryPolicy {
        retries: 2,
        backoff_seconds: 0.05,
        max_backoff_seconds: 0.2,
    };
    let good = pipeline::run_job(&cfg, &ledger, &spec).await.unwrap();
    assert_eq!(good.status, RunStatus::Ok, "{:?}", good.steps);
    assert!(hooks.lock().unwrap().is_empty(), "no alert for a good run");
    let lake_before = snapshot(&root.join("lake"));
    let outputs_before = snapshot(&root.join("outputs"));

    // The server "goes down": nothing listens on port 1.
    unsafe {
        std::env::set_var(
            &db_var,
            format!("postgres://postgres:{SECRET}@127.0.0.1:1/test"),
        );
    }
    let mut spec2 = spec.clone();
    spec2.run_id = pipeline::new_run_id();
    let t = std::time::Instant::now();
    let bad = pipeline::run_job(&cfg, &ledger, &spec2).await.unwrap();
    assert_eq!(bad.status, RunStatus::Failed);
    let src = bad
        .sources
        .iter()
        .find(|s| s.name == "partner_cases")
        .unwrap();
    assert_eq!(src.attempts, 3, "the first try and two retries");
    let err = src.error.as_deref().unwrap();
    assert!(
        err.contains("could not connect") && err.contains("after 3 attempts"),
        "{err}"
    );
    assert!(t.elapsed().as_secs_f64() >= 0.05, "it waited between tries");
    let steps: Vec<(Step, StepStatus)> = bad.steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(
        steps,
        vec![
            (Step::Ingest, StepStatus::Partial),
            (Step::Indicators, StepStatus::Skipped),
            (Step::Outputs, StepStatus::Skipped)
        ]
    );
    // Nothing changed: every lake file and every output byte for byte.
    assert_eq!(snapshot(&root.join("lake")), lake_before);
    assert_eq!(snapshot(&root.join("outputs")), outputs_before);

    // The alert, on all three channels, without the password.
    let hook = hooks.lock().unwrap().clone();
    assert_eq!(hook.len(), 1, "{hook:?}");
    let body: serde_json::Value = serde_json::from_str(&hook[0]).unwrap();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["run_id"], spec2.run_id.as_str());
    assert!(
        body["triggers"]
            .as_array()
            .unwrap()
            .contains(&"failed".into())
    );
    assert!(
        body["failed_sources"][0]
            .as_str()
            .unwrap()
            .starts_with("partner_cases: ")
    );
    assert!(
        body["summary"].as_str().unwrap().contains("ingest partial"),
        "{body}"
    );
    let stdin = std::fs::read_to_string(&alert_file).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdin).unwrap(),
        body
    );
    let mail = mails.lock().unwrap().clone();
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains("To: on-call@council.test"), "{}", mail[0]);
    assert!(mail[0].contains("partner_cases"), "{}", mail[0]);
    for text in [&hook[0], &stdin, &mail[0]] {
        assert!(!text.contains(SECRET), "secret in an alert: {text}");
        assert!(
            !text.contains("127.0.0.1:1/test"),
            "URL in an alert: {text}"
        );
    }
    let stored = ledger.get(&spec2.run_id).await.unwrap().unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains(SECRET));

    // A permanent error (no such database) is not retried.
    unsafe {
        std::env::set_var(
            &db_var,
            format!("postgres://postgres@127.0.0.1:5432/no_such_db_{u}"),
        );
    }
    let mut spec3 = spec.clone();
    spec3.run_id = pipeline::new_run_id();
    let r = pipeline::run_job(&cfg, &ledger, &spec3).await.unwrap();
    let src = r
        .sources
        .iter()
        .find(|s| s.name == "partner_cases")
        .unwrap();
    assert_eq!(src.attempts, 1, "{:?}", src.error);

    // Back up: the next run brings everything up to date.
    unsafe {
        std::env::set_var(
            &db_var,
            format!("postgres://postgres:{SECRET}@127.0.0.1:5432/test"),
        );
    }
    let mut spec4 = spec.clone();
    spec4.run_id = pipeline::new_run_id();
    let r = pipeline::run_job(&cfg, &ledger, &spec4).await.unwrap();
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.steps);
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_data_is_flagged_in_the_ledger_status_the_pack_and_an_alert() {
    let (hook_url, hooks) = http_listener();
    let u = crate::common::unique();
    let hook_var = format!("SAFER_TEST_STALE_HOOK_{u}");
    unsafe { std::env::set_var(&hook_var, &hook_url) };
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(
        tmp.path(),
        &["html"],
        &format!("\n[alerts]\non = [\"stale\"]\nwebhook_url_env = \"{hook_var}\"\n"),
    );
    let cfg = project::config(&root);
    let ledger = Ledger::open_for(&cfg).await.unwrap();
    let mut spec = JobSpec::manual();
    // Police data ends September 2026; by 1 June 2027 it should reach
    // March 2027 (at most 3 months behind).
    spec.today = NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    let r = pipeline::run_job(&cfg, &ledger, &spec).await.unwrap();
    assert_eq!(r.status, RunStatus::Ok, "stale data is not a failed run");
    let police = r
        .freshness
        .iter()
        .find(|f| f.source == "police_uk")
        .unwrap();
    assert!(police.stale);
    assert_eq!(police.newest_month, NaiveDate::from_ymd_opt(2026, 9, 1));
    assert_eq!(police.expected_from, NaiveDate::from_ymd_opt(2027, 3, 1));
    let ons = r
        .freshness
        .iter()
        .find(|f| f.source == "ons_lsoa_lookup")
        .unwrap();
    assert!(!ons.stale, "reference data has no freshness rule");
    let stored = ledger.get(&spec.run_id).await.unwrap().unwrap();
    assert!(
        stored
            .freshness
            .iter()
            .any(|f| f.source == "police_uk" && f.stale)
    );

    let hook = hooks.lock().unwrap().clone();
    assert_eq!(hook.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&hook[0]).unwrap();
    assert_eq!(body["triggers"], serde_json::json!(["stale"]));
    assert!(
        body["stale_sources"][0]
            .as_str()
            .unwrap()
            .contains("police_uk: data to end of September 2026; should reach March 2027"),
        "{body}"
    );
    let html = std::fs::read_to_string(
        root.join("outputs/committee-pack/2026-09/committee-pack-2026-09.html"),
    )
    .unwrap();
    assert!(
        html.contains("police_uk data only to end of September 2026"),
        "the pack says the data is late"
    );
}
