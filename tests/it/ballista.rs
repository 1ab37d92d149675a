//! Distributed queries on DataFusion Ballista (issue 10): a real scheduler
//! and two real executors, Ballista's own, started as local processes on
//! 127.0.0.1 (`safer scheduler`, `safer executor`), and every shipped
//! indicator's answer compared with the in-process engine's on the demo
//! project's lake.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use safer::config::QueryEngine;
use safer::engine::{Engine, EngineLimits};
use safer::lake::Lake;

use crate::common::{Server, free_port, to_strings};

fn wait_for_port(port: u16) {
    assert!(
        crate::common::wait_for_port(port, 60),
        "nothing listens on port {port} after 60 s"
    );
}

fn spawn(args: &[&str], log: &Path) -> Server {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    Server(
        Command::new(env!("CARGO_BIN_EXE_safer"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("safer starts"),
    )
}

/// A scheduler and two executors, each with its own work folder.
struct Cluster {
    port: u16,
    _procs: Vec<Server>,
}

fn start_cluster(dir: &Path) -> Cluster {
    let port = free_port();
    let p = port.to_string();
    let mut procs = vec![spawn(
        &["scheduler", "--port", &p],
        &dir.join("scheduler.log"),
    )];
    wait_for_port(port);
    for i in 0..2 {
        let (flight, grpc) = (free_port(), free_port());
        let work = dir.join(format!("executor-{i}"));
        procs.push(spawn(
            &[
                "executor",
                "--scheduler",
                &format!("127.0.0.1:{port}"),
                "--flight-port",
                &flight.to_string(),
                "--grpc-port",
                &grpc.to_string(),
                "--slots",
                "2",
                "--memory-mib",
                "1024",
                "--work-dir",
                work.to_str().unwrap(),
            ],
            &dir.join(format!("executor-{i}.log")),
        ));
        wait_for_port(flight);
        wait_for_port(grpc);
    }
    Cluster {
        port,
        _procs: procs,
    }
}

/// The demo project (three years, partner database included), landed.
async fn demo_project(dir: &Path) -> PathBuf {
    let root = dir.join("project");
    safer::demo::project::prepare(&safer::demo::project::DemoSetup {
        dir: root.clone(),
        seed: 11,
        years: 3,
        end_month: chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
    })
    .await
    .expect("demo project");
    let (code, out, err) = crate::project::safer(&["ingest"], &root);
    assert_eq!(code, 0, "ingest: {out}\n{err}");
    root
}

fn limits(root: &Path, engine: QueryEngine) -> EngineLimits {
    EngineLimits {
        views: Some(root.join("queries/_views")),
        worker: None,
        engine,
        ..EngineLimits::default()
    }
}

/// An engine whose queries run on the cluster at `port`.
async fn cluster_engine(lake: &Lake, root: &Path, port: u16) -> Engine {
    Engine::open(
        lake,
        limits(
            root,
            QueryEngine::Ballista {
                host: "127.0.0.1".into(),
                port,
            },
        ),
    )
    .await
    .expect("cluster engine")
}

/// Sorted rows: the cluster may return the groups in another order.
fn sorted(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = to_strings(batches);
    rows.sort();
    rows
}

/// Wait until the cluster runs a query (the executors have registered).
async fn ready(engine: &Engine) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match engine.query("SELECT count(*) FROM police_uk_street").await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("the cluster never answered: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_indicator_answers_the_same_on_a_ballista_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_project(tmp.path()).await;
    let cluster = start_cluster(tmp.path());
    let lake = Lake::open(root.join("lake")).unwrap();
    let here = Engine::open(&lake, limits(&root, QueryEngine::InProcess))
        .await
        .expect("in-process engine");
    let remote = cluster_engine(&lake, &root, cluster.port).await;
    ready(&remote).await;
    assert!(
        remote.view_problems().is_empty(),
        "{:?}",
        remote.view_problems()
    );

    let (indicators, problems) = safer::indicators::discover(&root.join("queries"));
    assert!(problems.is_empty(), "{problems:?}");
    assert!(
        indicators.len() >= 50,
        "the shipped catalogue has 52 indicators; found {}",
        indicators.len()
    );
    let mut compared = 0;
    let mut rows_compared = 0;
    for ind in &indicators {
        let a = here.query(&ind.sql).await;
        let b = remote.query(&ind.sql).await;
        match (a, b) {
            (Ok((sa, ba)), Ok((sb, bb))) => {
                let fa: Vec<_> = sa.fields().iter().map(|f| f.name().clone()).collect();
                let fb: Vec<_> = sb.fields().iter().map(|f| f.name().clone()).collect();
                assert_eq!(fa, fb, "{}: columns differ", ind.id);
                let (ra, rb) = (sorted(&ba), sorted(&bb));
                assert_eq!(ra.len(), rb.len(), "{}: row counts differ", ind.id);
                assert_eq!(ra, rb, "{}: answers differ", ind.id);
                compared += 1;
                rows_compared += ra.len();
            }
            (Err(a), Err(b)) => panic!("{} fails in both engines: {a} / {b}", ind.id),
            (Ok(_), Err(e)) => panic!("{} fails only on the cluster: {e}", ind.id),
            (Err(e), Ok(_)) => panic!("{} fails only in process: {e}", ind.id),
        }
    }
    assert_eq!(compared, indicators.len());
    // Three years of monthly rows for 12 districts and the county at
    // least, for most indicators: far more than a handful.
    assert!(rows_compared > 10_000, "only {rows_compared} rows compared");

    // The police table's total, worked from the landed files by the
    // independent Delta log replay, matches the cluster's count.
    let total = crate::common::read_parquet_dir(&root.join("lake/police_uk_street")).len();
    let (_, b) = remote
        .query("SELECT count(*) FROM police_uk_street")
        .await
        .unwrap();
    assert_eq!(to_strings(&b), vec![vec![total.to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_keeps_the_size_caps_and_the_cli_uses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("p");
    crate::project::make(&root, &["xlsx"], "");
    let (code, out, err) = crate::project::safer(&["ingest"], &root);
    assert_eq!(code, 0, "ingest: {out}\n{err}");
    let cluster = start_cluster(tmp.path());
    let lake = Lake::open(root.join("lake")).unwrap();
    let remote = cluster_engine(&lake, &root, cluster.port).await;
    ready(&remote).await;
    // repeat() over a column is evaluated by the executors, not folded
    // here: the cap must hold there too.
    let e = remote
        .query("SELECT max(length(repeat(crime_type, 100000000))) FROM police_uk_street")
        .await
        .expect_err("the executors refuse a 2 GB string");
    assert!(e.to_string().contains("repeat()"), "{e}");

    // safer.toml names the cluster: `safer sql` and `safer run` use it.
    let text = std::fs::read_to_string(root.join("safer.toml")).unwrap();
    std::fs::write(
        root.join("safer.toml"),
        format!("engine = \"ballista://127.0.0.1:{}\"\n{text}", cluster.port),
    )
    .unwrap();
    let (code, out, err) = crate::project::safer(
        &[
            "sql",
            "--format",
            "csv",
            "SELECT crime_type, count(*) AS n FROM police_uk_street GROUP BY crime_type ORDER BY crime_type",
        ],
        &root,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let here = crate::common::rows(
        &lake,
        "SELECT crime_type, count(*) AS n FROM police_uk_street GROUP BY crime_type ORDER BY crime_type",
    )
    .await;
    let expected: String = std::iter::once("crime_type,n".to_string())
        .chain(here.iter().map(|r| r.join(",")))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(out, expected);
    let (code, out, err) = crate::project::safer(&["run", "--no-ingest"], &root);
    assert_eq!(code, 0, "run on the cluster: {out}\n{err}");

    // A scheduler that is not there is named, with what to do.
    drop(cluster);
    let (code, out, err) = crate::project::safer(&["sql", "SELECT 1"], &root);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("Ballista scheduler at 127.0.0.1:") && err.contains("did not answer"),
        "{err}"
    );
}
