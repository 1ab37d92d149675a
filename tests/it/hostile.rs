//! Hostile officers' SQL (issue 8): every limit holds, with a time bound
//! per case, and the read-only fence keeps holding across DataFusion
//! upgrades. Each case runs `safer sql` as its own process, so a crash (an
//! abort from a stack overflow) would show as a signal, not a failure
//! message; peak memory is sampled from /proc for safer and its query
//! worker together.

use std::path::Path;
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use crate::project;

struct Outcome {
    code: Option<i32>,
    stderr: String,
    seconds: f64,
    peak_mib: f64,
}

/// Resident memory of a process and all its descendants, in KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    rss + children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .map(tree_rss_kib)
        .sum::<u64>()
}

/// Run `safer sql`, sampling the memory of it and its query worker.
fn run_sql(root: &Path, sql: &str, tmpdir: &Path) -> Outcome {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(["sql", sql, "--format", "csv"])
        .current_dir(root)
        .env_remove("SAFER_LOG")
        .env("TMPDIR", tmpdir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut peak = 0u64;
    let status = loop {
        peak = peak.max(tree_rss_kib(pid));
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.code(),
        stderr: reader.join().unwrap(),
        seconds: t.elapsed().as_secs_f64(),
        peak_mib: peak as f64 / 1024.0,
    }
}

#[test]
fn hostile_queries_are_refused_or_stopped_within_their_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(
        tmp.path(),
        &["html"],
        "\n[limits]\nquery_timeout_secs = 5\nquery_memory_mib = 256\n",
    );
    let (code, out, err) = project::safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let tmpdir = tmp.path().join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let deep = format!("SELECT {} AS x", vec!["1"; 5001].join("+"));
    let nested = format!("SELECT {}1{} AS x", "(".repeat(300), ")".repeat(300));
    // (query, words the refusal must contain, time bound in seconds)
    let cases: Vec<(&str, &str, f64)> = vec![
        (&deep, "more than 1000 operators", 5.0),
        (&nested, "nests brackets more than 64 deep", 5.0),
        (
            "SELECT * FROM range(1, 9223372036854775807)",
            "more than 5000000 rows",
            20.0,
        ),
        (
            "SELECT COUNT(*) FROM range(1, 9223372036854775807)",
            "did not finish within 5 s",
            15.0,
        ),
        (
            "SELECT length(repeat('x', 2000000000))",
            "repeat() would build a text",
            5.0,
        ),
        // The crime type is read as a dictionary (text of few values):
        // its length is measured all the same.
        (
            "SELECT length(repeat(crime_type, 2000000000)) FROM police_uk_street",
            "repeat() would build a text",
            5.0,
        ),
        (
            "SELECT length(lpad('x', 2000000000))",
            "lpad() would build a text",
            5.0,
        ),
        (
            "SELECT unnest(range(1, 2000000000))",
            "range() would build a list",
            5.0,
        ),
        (
            "SELECT cardinality(array_repeat(1, 2000000000))",
            "array_repeat() would build a list",
            5.0,
        ),
        (
            "SELECT a.crime_id, b.crime_id FROM police_uk_street a CROSS JOIN police_uk_street b",
            "more than 5000000 rows",
            20.0,
        ),
        (
            "SELECT a.crime_id, b.crime_id FROM police_uk_street a CROSS JOIN police_uk_street b ORDER BY a.crime_id, b.crime_id",
            "",
            20.0,
        ),
        // A nested-loop join that spends seconds on every batch: stopped
        // from outside at the limit.
        (
            "SELECT SUM(a.longitude * b.latitude) FROM police_uk_street a CROSS JOIN police_uk_street b WHERE a.crime_type <> b.crime_type",
            "did not finish within 5 s",
            15.0,
        ),
        (
            "SELECT length(string_agg(a.crime_type || b.crime_type, ',')) FROM police_uk_street a CROSS JOIN police_uk_street b",
            "needs more memory than limits.query_memory_mib allows",
            20.0,
        ),
        (
            "-- id: x\n-- title: y\nCREATE TABLE t AS SELECT 1",
            "`CREATE TABLE` is refused",
            5.0,
        ),
        (
            "/* SELECT 1 */ DROP TABLE police_uk_street",
            "`DROP TABLE` is refused",
            5.0,
        ),
        (
            "INSERT INTO police_uk_street SELECT * FROM police_uk_street",
            "`INSERT INTO` is refused",
            5.0,
        ),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "`COPY` is refused", 5.0),
        (
            "SET datafusion.execution.batch_size = 1",
            "`SET` is refused",
            5.0,
        ),
        ("PREPARE p AS SELECT 1", "`PREPARE` is refused", 5.0),
        (
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "`CREATE EXTERNAL` is refused",
            5.0,
        ),
        (
            "SELECT 1; DROP TABLE police_uk_street",
            "exactly one SELECT statement",
            5.0,
        ),
        ("SELECT * FROM '/etc/passwd'", "", 5.0),
        ("SELECT * FROM read_csv('/etc/passwd')", "", 5.0),
        ("SELECT * FROM read_parquet('/etc/passwd')", "", 5.0),
        ("SELECT * FROM information_schema.df_settings", "", 5.0),
    ];
    for (sql, words, bound) in &cases {
        let o = run_sql(&root, sql, &tmpdir);
        let short: String = sql.chars().take(70).collect();
        assert!(
            o.code.is_some(),
            "{short}: the process was killed by a signal:\n{}",
            o.stderr
        );
        assert!(
            o.seconds < *bound,
            "{short}: took {:.1} s (bound {bound} s)",
            o.seconds
        );
        assert!(
            o.peak_mib < 1_500.0,
            "{short}: peak memory {:.0} MiB",
            o.peak_mib
        );
        if words.is_empty() {
            // Refused or stopped some way; never a panic or a crash.
            assert!(!o.stderr.contains("panicked"), "{short}: {}", o.stderr);
        } else {
            assert_ne!(o.code, Some(0), "{short}: should have been refused");
            assert!(
                o.stderr.contains(words),
                "{short}: expected `{words}` in:\n{}",
                o.stderr
            );
        }
        eprintln!(
            "{short}: exit {:?} in {:.2} s, {:.0} MiB",
            o.code, o.seconds, o.peak_mib
        );
    }
    // The file-reading functions and URL tables stay unavailable.
    for sql in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_csv('/etc/passwd')",
    ] {
        let o = run_sql(&root, sql, &tmpdir);
        assert_ne!(o.code, Some(0), "{sql} must not read files");
        assert!(!o.stderr.contains("root:x:0:0"), "{}", o.stderr);
    }
    // Nothing spilled into the system temp folder, and the project's spill
    // folders of finished processes are tidied by the next engine.
    let stray: Vec<_> = std::fs::read_dir(&tmpdir).unwrap().flatten().collect();
    assert!(stray.is_empty(), "{stray:?}");
    let _ = run_sql(&root, "SELECT 1", &tmpdir);
    let spill = root.join(".safer-tmp/spill");
    let left: Vec<String> = std::fs::read_dir(&spill)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // Only the last run's own (its engine and its worker's) remain.
    assert!(
        left.len() <= 2,
        "spill folders of finished processes remain: {left:?}"
    );
}

#[test]
fn a_nightly_run_survives_a_hostile_indicator_and_the_public_pack_does_not_quote_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(
        tmp.path(),
        &["html", "xlsx"],
        "\n[limits]\nquery_timeout_secs = 5\nquery_memory_mib = 256\n",
    );
    std::fs::write(
        root.join("queries/overall/deep.sql"),
        format!(
            "{}SELECT month, 'E10000017' AS area_code, {} AS numerator\nFROM police_uk_street GROUP BY month\n",
            crate::common::header("deep", "police_uk_street"),
            vec!["1"; 3000].join("+")
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("queries/overall/forever.sql"),
        format!(
            "{}SELECT DATE '2026-01-01' AS month, 'E10000017' AS area_code, COUNT(*) AS numerator\nFROM range(1, 9223372036854775807)\n",
            crate::common::header("forever", "police_uk_street")
        ),
    )
    .unwrap();
    let t = Instant::now();
    let (code, out, err) = project::safer(&["run"], &root);
    assert_eq!(code, 1, "partial: {out}\n{err}");
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
    assert!(
        out.contains("deep") && out.contains("more than 1000 operators"),
        "{out}"
    );
    assert!(
        out.contains("forever") && out.contains("did not finish within 5 s"),
        "{out}"
    );
    for good in ["asb_incidents", "total_recorded_crime"] {
        assert!(
            out.lines()
                .any(|l| l.contains(good) && l.contains("points")),
            "{good} still ran: {out}"
        );
    }
    let html = std::fs::read_to_string(
        root.join("outputs/committee-pack/2026-09/committee-pack-2026-09.html"),
    )
    .unwrap();
    assert!(
        html.contains("not available this period"),
        "flagged in the pack"
    );
    for leak in [
        "more than 1000 operators",
        "did not finish",
        "deep.sql",
        "query_timeout_secs",
        root.to_str().unwrap(),
    ] {
        assert!(!html.contains(leak), "the public pack shows `{leak}`");
    }
    let manifest =
        std::fs::read_to_string(root.join("outputs/committee-pack/2026-09/manifest.json")).unwrap();
    assert!(
        !manifest.contains(root.to_str().unwrap()),
        "no machine paths in the manifest"
    );
}

#[test]
fn a_crashed_query_worker_is_an_error_for_that_query_not_for_safer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, _, err) = project::safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = project::safer_env(
        &["sql", "SELECT COUNT(*) FROM police_uk_street"],
        &root,
        &[("SAFER_FAULT_CRASH_AT", "worker:query")],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("the query worker ended with signal 6"),
        "{err}"
    );
    let (code, out, _) = project::safer(
        &[
            "sql",
            "SELECT COUNT(*) AS n FROM police_uk_street",
            "--format",
            "csv",
        ],
        &root,
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("n\n"), "{out}");
}
