//! Unattended operation (issue 7): the job as stage functions on a
//! multi-thread runtime, the run lock, `serve` with a driven clock across
//! both 2027 clock changes, catch-up, shutdown, reload, `status`, `runs`,
//! `schedules` and JSON logs.

use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use safer::ledger::lock::{Holder, RunLock};
use safer::ledger::{Ledger, RunStatus, Step, StepStatus};
use safer::pipeline::{self, JobSpec};
use safer::scheduler::clock::BoxFuture;
use safer::scheduler::{
    Clock, Control, Fire, ManualClock, PipelineRunner, Runner, ServeOptions, schedule, serve,
};

use crate::project::{self, safer, safer_env};

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn options(root: &Path) -> ServeOptions {
    ServeOptions {
        schedules_dir: root.join("schedules"),
        grace: Duration::from_secs(30),
        catch_up_window: chrono::Duration::days(7),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_is_send_runs_on_a_multi_thread_runtime_and_records_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html", "xlsx"], "");
    let cfg = project::config(&root);
    let ledger = Ledger::open_for(&cfg).await.unwrap();
    let mut spec = JobSpec::manual();
    spec.today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let (c, l, s) = (cfg.clone(), ledger.clone(), spec.clone());
    // tokio::spawn only accepts a Send future: this line is the proof.
    let record = tokio::spawn(async move { pipeline::run_job(&c, &l, &s).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, RunStatus::Ok, "{:?}", record.problems);
    let stored = ledger.get(&spec.run_id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Ok);
    let steps: Vec<(Step, StepStatus)> = stored.steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(
        steps,
        vec![
            (Step::Ingest, StepStatus::Ok),
            (Step::Indicators, StepStatus::Ok),
            (Step::Outputs, StepStatus::Ok)
        ]
    );
    // Rows landed by the ingest step: the police rows in the files plus
    // the ONS tables, counted here by reading the files as plain CSV.
    let police = count_csv_rows(&root.join("data/police-uk"));
    let ingest = &stored.steps[0];
    assert!(ingest.rows > police, "{} vs {police}", ingest.rows);
    assert_eq!(stored.indicators.len(), project::QUERIES.len());
    assert!(stored.outputs.iter().any(|o| o.ends_with(".xlsx")));
    // The JSON-lines export has the same run.
    let export = std::fs::read_to_string(root.join("ledger/runs.jsonl")).unwrap();
    assert!(export.contains(&spec.run_id));
}

fn count_csv_rows(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += count_csv_rows(&p);
        } else if p.extension().is_some_and(|x| x == "csv") {
            n += csv::Reader::from_path(&p).unwrap().records().count() as u64;
        }
    }
    n
}

#[test]
fn a_second_run_while_one_holds_the_lock_refuses_and_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["xlsx"], "");
    let holder = Holder {
        pid: std::process::id(),
        host: "test-host".into(),
        started: "2026-12-03T01:30:02Z".into(),
        run_id: "20261203T013002Z-first".into(),
        schedule: "nightly".into(),
    };
    let lock = RunLock::acquire(&root.join("ledger"), &holder).unwrap();
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        err.contains(&format!("pid {} on test-host", std::process::id())),
        "{err}"
    );
    assert!(err.contains("started 2026-12-03T01:30:02Z"), "{err}");
    assert!(!root.join("lake/police_uk_street").exists(), "nothing ran");
    // status says who is running.
    let (_, out, _) = safer(&["status"], &root);
    assert!(out.contains("Running now: pid"), "{out}");
    drop(lock);
    let (code, out, err) = safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// A fire: its time, the clock's time when it ran, its night.
type Fired = (DateTime<Utc>, DateTime<Utc>, NaiveDate);

/// Records every fire, with the clock's time when it fired.
struct Recorder {
    clock: ManualClock,
    fired: Mutex<Vec<Fired>>,
}

impl Runner for Recorder {
    fn run(
        &self,
        fire: &Fire,
        _run_id: String,
        _stop: tokio::sync::watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<RunStatus, String>> {
        self.fired
            .lock()
            .unwrap()
            .push((fire.at, self.clock.now(), fire.logical_date));
        Box::pin(async { Ok(RunStatus::Ok) })
    }
}

#[tokio::test]
async fn a_0130_schedule_fires_once_a_night_at_the_right_time_across_both_2027_clock_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("schedules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("nightly.toml"),
        "cron = \"30 1 * * *\"\ntimezone = \"Europe/London\"\n",
    )
    .unwrap();
    let schedules = schedule::load_dir(&dir).unwrap();
    let ledger = Ledger::open(&tmp.path().join("ledger"), None)
        .await
        .unwrap();
    let clock = ManualClock::new(utc(2027, 3, 20, 12, 0), Some(utc(2027, 11, 10, 0, 0)));
    let recorder = Arc::new(Recorder {
        clock: clock.clone(),
        fired: Mutex::new(Vec::new()),
    });
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let report = serve(
        Arc::new(clock),
        ledger,
        recorder.clone(),
        ServeOptions {
            schedules_dir: dir,
            grace: Duration::from_secs(1),
            catch_up_window: chrono::Duration::days(7),
        },
        schedules,
        rx,
    )
    .await;
    let fired = recorder.fired.lock().unwrap().clone();
    // 21 March to 9 November 2027 inclusive: one fire a night.
    let first = NaiveDate::from_ymd_opt(2027, 3, 21).unwrap();
    let last = NaiveDate::from_ymd_opt(2027, 11, 9).unwrap();
    let nights = (last - first).num_days() + 1;
    assert_eq!(fired.len() as i64, nights);
    assert_eq!(report.runs.len() as i64, nights);
    // The UK rule, worked out by hand: BST (UTC+1) from 01:00 UTC on the
    // last Sunday of March (28th) to 01:00 UTC on the last Sunday of
    // October (31st). 01:30 local is 00:30 UTC in summer, 01:30 UTC in
    // winter; on 28 March 01:30 does not exist and the job runs at 02:00
    // BST (01:00 UTC), right after the change; on 31 October 01:30 happens
    // twice and the job runs at the first, 00:30 UTC.
    for (i, (at, clock_at, night)) in fired.iter().enumerate() {
        let date = first + chrono::Duration::days(i as i64);
        assert_eq!(*night, date);
        let expected = if date == NaiveDate::from_ymd_opt(2027, 3, 28).unwrap() {
            utc(2027, 3, 28, 1, 0)
        } else if date > NaiveDate::from_ymd_opt(2027, 3, 28).unwrap()
            && date <= NaiveDate::from_ymd_opt(2027, 10, 31).unwrap()
        {
            date.and_hms_opt(0, 30, 0).unwrap().and_utc()
        } else {
            date.and_hms_opt(1, 30, 0).unwrap().and_utc()
        };
        assert_eq!(*at, expected, "night {date}");
        assert_eq!(*clock_at, expected, "the clock was at the fire time");
    }
    let oct31: Vec<_> = fired
        .iter()
        .filter(|f| f.2 == NaiveDate::from_ymd_opt(2027, 10, 31).unwrap())
        .collect();
    assert_eq!(oct31.len(), 1, "not twice in the repeated hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_nightly_job_never_redoes_a_night_and_catches_up_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html", "xlsx"], "");
    let cfg = project::config(&root);
    let ledger = Ledger::open_for(&cfg).await.unwrap();
    let runner = Arc::new(PipelineRunner {
        cfg: cfg.clone(),
        ledger: ledger.clone(),
    });
    let go = |start, limit| {
        let (ledger, runner, root) = (ledger.clone(), runner.clone(), root.clone());
        async move {
            let (_tx, rx) = tokio::sync::mpsc::channel(1);
            serve(
                Arc::new(ManualClock::new(start, Some(limit))),
                ledger,
                runner,
                options(&root),
                schedule::load_dir(&root.join("schedules")).unwrap(),
                rx,
            )
            .await
        }
    };
    // The first night: fires at 01:30 GMT and runs the real job.
    let r = go(utc(2026, 12, 1, 20, 0), utc(2026, 12, 2, 12, 0)).await;
    assert_eq!(r.runs.len(), 1, "{:?}", r.runs);
    assert_eq!(r.runs[0].at, utc(2026, 12, 2, 1, 30));
    assert_eq!(r.runs[0].outcome, Ok(RunStatus::Ok));
    assert!(root.join("outputs/committee-pack/latest.json").exists());

    // status flags a night with no finished run (serve down on the 3rd and 4th).
    let st = safer::status::build(&cfg, &ledger, utc(2026, 12, 4, 9, 0)).await;
    assert!(
        st.attention
            .iter()
            .any(|a| a.contains("schedule nightly should have run at 2026-12-04T01:30:00+00:00")),
        "{:?}",
        st.attention
    );
    let st = safer::status::build(&cfg, &ledger, utc(2026, 12, 2, 9, 0)).await;
    assert!(
        !st.attention.iter().any(|a| a.contains("should have run")),
        "{:?}",
        st.attention
    );

    // Restarted at 02:00 the same night: the night is finished, nothing runs.
    let r = go(utc(2026, 12, 2, 2, 0), utc(2026, 12, 2, 12, 0)).await;
    assert!(r.runs.is_empty(), "{:?}", r.runs);

    // Down for three nights, back at 09:00 on the 5th: the latest missed
    // night runs once, not once per missed night.
    let r = go(utc(2026, 12, 5, 9, 0), utc(2026, 12, 5, 12, 0)).await;
    assert_eq!(r.runs.len(), 1, "{:?}", r.runs);
    assert_eq!(
        r.runs[0].logical_date,
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    );
    let nightly: Vec<_> = ledger
        .recent(50, false)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.schedule == "nightly")
        .collect();
    let nights: Vec<String> = nightly.iter().map(|r| r.logical_date.to_string()).collect();
    assert_eq!(nights, vec!["2026-12-05", "2026-12-02"]);

    // With catch_up = "none" nothing runs at start-up after a gap.
    std::fs::write(
        root.join("schedules/nightly.toml"),
        "cron = \"30 1 * * *\"\ncatch_up = \"none\"\n",
    )
    .unwrap();
    let r = go(utc(2026, 12, 9, 9, 0), utc(2026, 12, 9, 12, 0)).await;
    assert!(r.runs.is_empty(), "{:?}", r.runs);
}

fn pg_url() -> Option<String> {
    let url = std::env::var("SAFER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let ok = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_ok();
    if !ok {
        assert!(
            !crate::common::db_required(),
            "PostgreSQL is required (SAFER_REQUIRE_DB=1) but not reachable"
        );
        eprintln!("SKIPPED: PostgreSQL not reachable");
        return None;
    }
    Some(url)
}

/// A source that takes `secs` seconds on the real PostgreSQL server.
fn slow_source(secs: u32) -> String {
    format!(
        r#"
[[sources]]
name = "slow_partner"
kind = "sql"
url_env = "SAFER_TEST_SLOW_URL"
table = "slow_partner"
query = "SELECT CAST(1 AS BIGINT) AS id FROM (SELECT pg_sleep({secs})) AS s"
columns = [{{ name = "id", type = "int", required = true }}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_running_step_finish_or_abandons_it_after_the_grace_period() {
    let Some(url) = pg_url() else { return };
    // SAFETY: tests in this binary read this variable only through safer.
    unsafe { std::env::set_var("SAFER_TEST_SLOW_URL", &url) };
    for (sleep, grace, abandoned) in [(2u32, 30u64, false), (30, 1, true)] {
        let tmp = tempfile::tempdir().unwrap();
        let root = project::make(tmp.path(), &["xlsx"], &slow_source(sleep));
        let cfg = project::config(&root);
        let ledger = Ledger::open_for(&cfg).await.unwrap();
        let runner = Arc::new(PipelineRunner {
            cfg: cfg.clone(),
            ledger: ledger.clone(),
        });
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let clock = ManualClock::new(utc(2026, 12, 2, 1, 29), Some(utc(2026, 12, 3, 0, 0)));
        let serving = tokio::spawn(serve(
            Arc::new(clock),
            ledger.clone(),
            runner,
            ServeOptions {
                grace: Duration::from_secs(grace),
                ..options(&root)
            },
            schedule::load_dir(&root.join("schedules")).unwrap(),
            rx,
        ));
        // Wait until the run is in its ingest step, then ask it to stop.
        let started = std::time::Instant::now();
        loop {
            let runs = ledger.recent(1, false).await.unwrap();
            if let Some(r) = runs.first()
                && let Ok(Some(rec)) = ledger.get(&r.run_id).await
                && rec.steps.iter().any(|s| s.step == Step::Ingest)
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the run never started"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tx.send(Control::Stop).await.unwrap();
        let report = tokio::time::timeout(Duration::from_secs(90), serving)
            .await
            .expect("serve stops")
            .unwrap();
        assert_eq!(report.abandoned, abandoned);
        let run = ledger.recent(1, false).await.unwrap().remove(0);
        assert_eq!(run.status, RunStatus::Abandoned);
        let rec = ledger.get(&run.run_id).await.unwrap().unwrap();
        if abandoned {
            // Dropped mid-step: the step is marked abandoned and the lock is
            // free at once for the next run.
            assert_eq!(rec.steps[0].status, StepStatus::Abandoned);
            assert!(RunLock::acquire(&root.join("ledger"), &holder()).is_ok());
        } else {
            // The ingest step finished; nothing after it started.
            assert_eq!(rec.steps.len(), 1, "{:?}", rec.steps);
            assert_ne!(rec.steps[0].status, StepStatus::Running);
            assert!(
                rec.problems
                    .iter()
                    .any(|p| p.contains("stopped before the indicators step")),
                "{:?}",
                rec.problems
            );
        }
    }
}

fn holder() -> Holder {
    Holder {
        pid: std::process::id(),
        host: "t".into(),
        started: "now".into(),
        run_id: "next".into(),
        schedule: "manual".into(),
    }
}

#[test]
fn schedules_lists_fire_times_with_local_offset_and_utc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("schedules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("nightly.toml"), "cron = \"30 1 * * *\"\n").unwrap();
    std::fs::write(
        dir.join("weekly-return.toml"),
        "cron = \"0 6 * * 1\"\nsteps = [\"outputs\"]\noutputs = [\"performance-return\"]\n",
    )
    .unwrap();
    let (code, out, err) = safer(
        &[
            "schedules",
            "--dir",
            dir.to_str().unwrap(),
            "--from",
            "2027-10-29",
            "--until",
            "2027-11-02",
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{err}");
    // 1 November 2027 is a Monday.
    assert_eq!(
        out,
        "nightly\t2027-10-29T01:30:00+01:00\t2027-10-29T00:30:00Z\n\
         nightly\t2027-10-30T01:30:00+01:00\t2027-10-30T00:30:00Z\n\
         nightly\t2027-10-31T01:30:00+01:00\t2027-10-31T00:30:00Z\n\
         nightly\t2027-11-01T01:30:00+00:00\t2027-11-01T01:30:00Z\n\
         weekly-return\t2027-11-01T06:00:00+00:00\t2027-11-01T06:00:00Z\n"
    );
    // A broken schedule is an error naming the file, with exit code 2.
    std::fs::write(dir.join("broken.toml"), "cron = \"99 1 * * *\"\n").unwrap();
    let (code, out, err) = safer(&["schedules", "--dir", dir.to_str().unwrap()], tmp.path());
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("broken.toml"), "{err}");
    assert!(out.is_empty());
}

#[test]
fn status_runs_and_json_logs_tell_the_on_call_person_what_happened() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    // A broken indicator makes the run partial.
    std::fs::write(
        root.join("queries/overall/broken.sql"),
        format!(
            "{}SELECT month, nope AS area_code, COUNT(*) AS numerator\nFROM police_uk_street GROUP BY 1, 2\n",
            crate::common::header("broken", "police_uk_street")
        ),
    )
    .unwrap();
    let (code, out, err) = safer(&["-v", "run"], &root);
    assert_eq!(code, 1, "{out}\n{err}");
    let run_id = project::run_id_of(&out).expect("run id printed");
    // Logs on stderr are JSON lines when stderr is not a terminal, each
    // with its message and the run's span.
    let lines: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "Run started.")
    );
    assert!(lines.iter().any(|l| {
        l["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["run_id"] == run_id.as_str()))
    }));
    let (_, human, _) = safer(
        &["-v", "--log-format", "human", "run", "--only", "ingest"],
        &root,
    );
    assert!(!human.is_empty());

    let (code, out, _) = safer(&["runs", "--failed"], &root);
    assert_eq!(code, 0);
    assert!(out.contains(&run_id) && out.contains("partial"), "{out}");
    let (code, out, _) = safer(&["runs", "show", &run_id], &root);
    assert_eq!(code, 0, "{out}");
    for needle in [
        "status         partial",
        "ingest",
        "indicators  partial",
        "broken.sql:9:15",
        "rows read",
        "Outputs:",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    let (code, _, err) = safer(&["runs", "show", "no-such-run"], &root);
    assert_eq!(code, 2);
    assert!(err.contains("no run `no-such-run`"), "{err}");

    let (code, out, _) = safer(&["status"], &root);
    assert_eq!(code, 1, "something needs attention:\n{out}");
    for needle in [
        "nightly",
        "never run",
        "next 20",
        "police_uk",
        "Indicators failing in run",
        "broken",
        "committee-pack",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
}

/// Lines from a child's stderr, collected on a thread.
struct Lines {
    rx: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("`{needle}` never logged; saw:\n{}", self.seen.join("\n")),
            }
        }
    }
}

#[test]
fn serve_reloads_on_sighup_keeps_good_schedules_over_broken_ones_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["xlsx"], "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(["serve", "--log-format", "json"])
        .current_dir(&root)
        .env_remove("SAFER_LOG")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut lines = Lines {
        rx,
        seen: Vec::new(),
    };
    let next = lines.wait_for("Next fire time.");
    assert!(next.contains("\"schedule\":\"nightly\""), "{next}");
    assert!(next.contains("T01:30:00"), "{next}");
    let pid = child.id() as i32;
    // A broken file: the old schedules are kept, and the log says why.
    std::fs::write(
        root.join("schedules/nightly.toml"),
        "cron = \"30 25 * * *\"\n",
    )
    .unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let kept = lines.wait_for("keeping the previous schedules");
    assert!(kept.contains("nightly.toml"), "{kept}");
    // A good file: reloaded, with the new next fire time.
    std::fs::write(
        root.join("schedules/nightly.toml"),
        "cron = \"45 3 * * *\"\n",
    )
    .unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    lines.wait_for("Schedules reloaded.");
    let next = lines.wait_for(":45:00");
    assert!(next.contains("Next fire time."), "{next}");
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    lines.wait_for("Scheduler stopped.");
}

/// A second night with no new data keeps the pack the first built: the
/// same files, the first run's id in its manifest, and the run says so.
/// `--rebuild-outputs` builds it again.
#[test]
fn a_night_with_no_new_data_keeps_the_published_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html", "xlsx"], "");
    let dir = root.join("outputs/committee-pack/2026-09");
    let manifest_run = || -> String {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        m["run_id"].as_str().unwrap().to_string()
    };
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let first = project::run_id_of(&out).unwrap();
    assert_eq!(manifest_run(), first);
    let html = dir.join("committee-pack-2026-09.html");
    let built = std::fs::read(&html).unwrap();

    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let second = project::run_id_of(&out).unwrap();
    assert_ne!(second, first);
    assert!(
        out.contains("unchanged, kept: committee-pack (")
            && out.contains(&format!("built by run {first}")),
        "{out}"
    );
    assert_eq!(manifest_run(), first);
    assert_eq!(std::fs::read(&html).unwrap(), built);
    let (_, shown, _) = safer(&["runs", "show", &second], &root);
    assert!(shown.contains("Outputs unchanged"), "{shown}");
    // Kept, not written: its files are not listed as this run's.
    assert!(!shown.contains("committee-pack-2026-09.html"), "{shown}");

    let (code, out, err) = safer(&["run", "--rebuild-outputs"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let third = project::run_id_of(&out).unwrap();
    assert_eq!(manifest_run(), third);
    assert!(
        String::from_utf8(std::fs::read(&html).unwrap())
            .unwrap()
            .contains(&third)
    );
}

/// The count of figures `safer diff` compared and found equal, from its
/// summary line.
fn unchanged_figures(diff: &str) -> usize {
    let line = diff
        .lines()
        .find(|l| l.contains("figure(s) changed"))
        .unwrap_or_else(|| panic!("no summary in {diff}"));
    assert!(line.starts_with("0 figure(s) changed, "), "{diff}");
    line.split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_night_with_nothing_new_reports_the_figures_already_computed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let first = project::run_id_of(&out).unwrap();
    let computed =
        |out: &str| out.contains("Indicators:\n") && !out.contains("whose figures stand");
    assert!(out.contains("Indicators:\n"), "{out}");

    // Nothing changed: the first run's figures stand, and the run says so.
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let second = project::run_id_of(&out).unwrap();
    assert!(
        out.contains(&format!(
            "Indicators (unchanged: nothing they read had changed since run {first}, whose figures stand):"
        )),
        "{out}"
    );
    let (_, shown, _) = safer(&["runs", "show", &second], &root);
    assert!(
        shown.contains(&format!(
            "unchanged; nothing they read had changed since run {first}, so its figures stand"
        )),
        "{shown}"
    );
    // The same project named from elsewhere (as cron does) is the same
    // inputs.
    let cfg_path = root.join("safer.toml");
    let (code, out, err) = safer(&["run", "--config", cfg_path.to_str().unwrap()], tmp.path());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!computed(&out), "{out}");
    // Its figures are the first run's, and `safer diff` finds them.
    let (code, diff, err) = safer(&["diff", &first, &second], &root);
    assert_eq!(code, 0, "{diff}\n{err}");
    let compared = unchanged_figures(&diff);
    assert!(compared > 100, "{diff}");
    assert!(
        diff.contains(&format!("Run {second} computed no figures of its own")),
        "{diff}"
    );

    // A pack built on such a night names both runs: the one that built it
    // and the one whose figures it prints.
    let (code, out, err) = safer(&["run", "--rebuild-outputs"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let rebuilt = project::run_id_of(&out).unwrap();
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("outputs/committee-pack/2026-09/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(m["run_id"], rebuilt.as_str());
    assert_eq!(m["figures_run_id"], first.as_str());
    let html = std::fs::read_to_string(
        root.join("outputs/committee-pack/2026-09/committee-pack-2026-09.html"),
    )
    .unwrap();
    assert!(
        html.contains(&format!(
            "(run {rebuilt}; the figures are those computed by run {first},"
        )),
        "{html}"
    );

    // Figures a run saved but never saw recorded as finished (killed
    // between the two) are never taken.
    let saved = root.join("ledger/figures.postcard.zst");
    std::fs::rename(&saved, root.join("ledger/figures.postcard.zst.pending")).unwrap();
    let (_, out, _) = safer(&["run"], &root);
    assert!(computed(&out), "{out}");
    assert!(saved.is_file());

    // Computing afresh gives the same figures: the engine, not the saved
    // file, is the reference.
    let (code, out, err) = safer(&["run", "--recompute"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let third = project::run_id_of(&out).unwrap();
    assert!(computed(&out), "{out}");
    let (code, diff, err) = safer(&["diff", &second, &third], &root);
    assert_eq!(code, 0, "{diff}\n{err}");
    assert_eq!(unchanged_figures(&diff), compared, "{diff}");

    // Each thing the figures depend on, changed, makes the next run compute:
    // an indicator's SQL (a comment is enough: the file is what is hashed),
    // a shared view, and the project file.
    let sql = walk_sql(&root.join("queries"))
        .into_iter()
        .find(|p| !p.to_string_lossy().contains("_views"))
        .unwrap();
    let mut text = std::fs::read_to_string(&sql).unwrap();
    text.push_str("\n-- reviewed\n");
    std::fs::write(&sql, text).unwrap();
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(computed(&out), "{out}");
    let (_, out, _) = safer(&["run"], &root);
    assert!(!computed(&out), "{out}");

    // SQL that reads the clock is computed every night, whatever the lake.
    let mut text = std::fs::read_to_string(&sql).unwrap();
    let plain = text.clone();
    text.push_str("-- compared with current_date by hand\n");
    std::fs::write(&sql, &text).unwrap();
    for _ in 0..2 {
        let (_, out, _) = safer(&["run"], &root);
        assert!(computed(&out), "{out}");
    }
    std::fs::write(&sql, plain).unwrap();
    let (_, out, _) = safer(&["run"], &root);
    assert!(
        computed(&out),
        "nothing was saved by a clock-reading night: {out}"
    );
    let (_, out, _) = safer(&["run"], &root);
    assert!(!computed(&out), "{out}");

    std::fs::write(
        root.join("queries/_views/unused_view.sql"),
        "-- view: unused_view\n-- tables: police_uk_street\nSELECT 1 AS one\n",
    )
    .unwrap();
    let (_, out, _) = safer(&["run"], &root);
    assert!(computed(&out), "{out}");

    let cfg = root.join("safer.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replacen("[organisation]", "# edited\n[organisation]", 1);
    std::fs::write(&cfg, &text).unwrap();
    let (_, out, _) = safer(&["run"], &root);
    // A comment is not a setting: the settings are what is fingerprinted.
    assert!(!computed(&out), "{out}");
    text = text.replacen("[limits]", "[limits]\nquery_timeout_secs = 299", 1);
    if !text.contains("query_timeout_secs = 299") {
        text.push_str("\n[limits]\nquery_timeout_secs = 299\n");
    }
    std::fs::write(&cfg, &text).unwrap();
    let (code, out, err) = safer(&["run"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(computed(&out), "{out}");
}

fn walk_sql(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_sql(&p));
        } else if p.extension().is_some_and(|x| x == "sql") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn as_of_rebuilds_an_earlier_month_without_moving_latest_backwards() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, out, err) = safer(&["run"], &root);
    assert!(code == 0 || code == 1, "{out}\n{err}");
    let latest = std::fs::read_to_string(root.join("outputs/committee-pack/latest.json")).unwrap();
    assert!(latest.contains("\"period\":\"2026-09\""), "{latest}");
    // As at 15 August 2026 the last whole month is July.
    let (code, out, err) = safer_env(
        &["run", "--as-of", "2026-08-15", "--only", "outputs"],
        &root,
        &[],
    );
    assert!(code == 0 || code == 1, "{out}\n{err}");
    assert!(
        root.join("outputs/committee-pack/2026-07").is_dir(),
        "{out}"
    );
    let html = std::fs::read_to_string(
        root.join("outputs/committee-pack/2026-07/committee-pack-2026-07.html"),
    )
    .unwrap();
    assert!(html.contains("July 2026"), "the pack is for July");
    assert!(
        !html.contains("August 2026"),
        "nothing after the as-of date"
    );
    let latest = std::fs::read_to_string(root.join("outputs/committee-pack/latest.json")).unwrap();
    assert!(
        latest.contains("\"period\":\"2026-09\""),
        "latest stays on September: {latest}"
    );
    let (code, _, err) = safer(&["run", "--as-of", "15/08/2026"], &root);
    assert_eq!(code, 2);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn run_as_a_schedule_for_a_systemd_timer_never_redoes_a_finished_night() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    std::fs::write(
        root.join("schedules/nightly-ingest.toml"),
        "cron = \"15 0 * * *\"\nsteps = [\"ingest\"]\n",
    )
    .unwrap();
    let (code, out, err) = safer(&["run", "--schedule", "nightly-ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let first = project::run_id_of(&out).unwrap();
    let (code, out, _) = safer(&["run", "--schedule", "nightly-ingest"], &root);
    assert_eq!(code, 0);
    assert!(
        out.contains("already finished") && out.contains(&first),
        "{out}"
    );
    let (code, out, _) = safer(&["run", "--schedule", "nightly-ingest", "--force"], &root);
    assert_eq!(code, 0, "{out}");
    assert_ne!(project::run_id_of(&out).unwrap(), first);
    let (_, out, _) = safer(&["runs"], &root);
    assert_eq!(
        out.lines().filter(|l| l.contains("nightly-ingest")).count(),
        2,
        "{out}"
    );
    let (code, _, err) = safer(&["run", "--schedule", "weekly"], &root);
    assert_eq!(code, 2);
    assert!(err.contains("no schedule `weekly`"), "{err}");
}
