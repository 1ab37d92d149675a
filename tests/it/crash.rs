//! Crash safety, proven (issue 7).
//!
//! `safer run` is killed with SIGKILL at random moments of the ingest and
//! of the outputs, and aborted at named points between the steps of a
//! landing and of a publish. After every kill: every lake table reads, each
//! with either its old or its new row count; `latest.json` names a complete
//! pack whose files match their `manifest.json` hashes and nothing else is
//! in that folder; no browser profile is left in the temp folder. The next
//! run then completes with the same numbers as an uninterrupted run. A full
//! disk (a small tmpfs) gives a clear error and publishes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::project::{self, copy_tree};

/// Months of police data held back to make the "new" state.
const NEW_MONTHS: [&str; 4] = ["2026-06", "2026-07", "2026-08", "2026-09"];

struct Setup {
    root: PathBuf,
    tmpdir: PathBuf,
    /// Old lake, ledger and outputs (data to May 2026, pack for May).
    old: PathBuf,
    /// New lake and ledger, outputs with only the May pack.
    new_a: PathBuf,
    /// New lake and ledger, outputs with the May and September packs.
    new_b: PathBuf,
    old_counts: BTreeMap<String, u64>,
    new_counts: BTreeMap<String, u64>,
    reference: Vec<Vec<String>>,
    ingest_secs: f64,
    outputs_secs: f64,
}

/// Publish again from the lake as it is, computing the figures and building
/// every pack afresh: the runs these tests kill and check are about
/// landing and publishing, not about keeping or reusing.
const REPUBLISH: &[&str] = &[
    "run",
    "--only",
    "outputs",
    "--rebuild-outputs",
    "--recompute",
];

fn run(root: &Path, tmpdir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_safer"));
    cmd.args(args)
        .current_dir(root)
        .env_remove("SAFER_LOG")
        .env("TMPDIR", tmpdir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Replace `root`'s lake, ledger and outputs with a saved state.
fn restore(root: &Path, from: &Path) {
    for d in ["lake", "ledger", "outputs"] {
        let _ = std::fs::remove_dir_all(root.join(d));
        copy_tree(&from.join(d), &root.join(d));
    }
}

fn save(root: &Path, to: &Path) {
    for d in ["lake", "ledger", "outputs"] {
        copy_tree(&root.join(d), &to.join(d));
    }
}

/// Rows in every lake table, read through the engine (so only what the
/// manifests reference is seen). Panics if any table cannot be read.
fn counts(lake: &Path) -> BTreeMap<String, u64> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lake = safer::lake::Lake::open(lake).unwrap();
        let tables: Vec<String> = lake
            .datasets()
            .expect("every manifest reads")
            .into_iter()
            .map(|m| m.dataset)
            .collect();
        let mut out = BTreeMap::new();
        for t in tables {
            let n = crate::common::scalar(&lake, &format!("SELECT COUNT(*) FROM {t}")).await;
            out.insert(t, n.parse().unwrap());
        }
        out
    })
}

fn results_of(lake: &Path, run_id: &str) -> Vec<Vec<String>> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lake = safer::lake::Lake::open(lake).unwrap();
        let mut rows = crate::common::rows(
            &lake,
            &format!(
                "SELECT indicator_id, area_code, period_type, period_start, period_end, value,
                        numerator, previous_value, sply_value, rag, spc_variation, suppressed
                 FROM indicator_results WHERE run_id = '{run_id}'"
            ),
        )
        .await;
        rows.sort();
        rows
    })
}

fn setup(tmp: &Path) -> Setup {
    let formats: &[&str] = if crate::outputs::tool("chromium").is_some() {
        &["html", "pdf", "xlsx"]
    } else {
        assert!(
            std::env::var("SAFER_REQUIRE_TOOLS").is_err(),
            "Chromium is required in CI"
        );
        &["html", "xlsx"]
    };
    let root = project::make(&tmp.join("project"), formats, "");
    let tmpdir = tmp.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let held = tmp.join("held");
    std::fs::create_dir_all(&held).unwrap();
    for m in NEW_MONTHS {
        std::fs::rename(root.join("data/police-uk").join(m), held.join(m)).unwrap();
    }
    let (code, out) = run(&root, &tmpdir, &["run"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let old = tmp.join("state-old");
    save(&root, &old);
    let old_counts = counts(&root.join("lake"));
    for m in NEW_MONTHS {
        std::fs::rename(held.join(m), root.join("data/police-uk").join(m)).unwrap();
    }
    // The uninterrupted runs: ingest, then outputs.
    let t = Instant::now();
    let (code, out) = run(&root, &tmpdir, &["run", "--only", "ingest"], &[]);
    let ingest_secs = t.elapsed().as_secs_f64();
    assert_eq!(code, Some(0), "{out}");
    let new_counts = counts(&root.join("lake"));
    assert!(new_counts["police_uk_street"] > old_counts["police_uk_street"]);
    let new_a = tmp.join("state-new-a");
    save(&root, &new_a);
    let t = Instant::now();
    let (code, out) = run(&root, &tmpdir, REPUBLISH, &[]);
    let outputs_secs = t.elapsed().as_secs_f64();
    assert_eq!(code, Some(0), "{out}");
    let reference = results_of(&root.join("lake"), &project::run_id_of(&out).unwrap());
    if formats.contains(&"pdf") {
        let pdf = root.join("outputs/committee-pack/2026-09/committee-pack-2026-09.pdf");
        assert!(pdf.is_file(), "the PDF is part of what is killed: {out}");
    }
    assert!(reference.len() > 1000, "{}", reference.len());
    let new_b = tmp.join("state-new-b");
    save(&root, &new_b);
    eprintln!("uninterrupted: ingest {ingest_secs:.2} s, outputs {outputs_secs:.2} s");
    Setup {
        root,
        tmpdir,
        old,
        new_a,
        new_b,
        old_counts,
        new_counts,
        reference,
        ingest_secs,
        outputs_secs,
    }
}

/// Start `safer run ...`, SIGKILL it after `after`.
fn kill_after(s: &Setup, args: &[&str], after: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(args)
        .current_dir(&s.root)
        .env_remove("SAFER_LOG")
        .env("TMPDIR", &s.tmpdir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// Every lake table reads, each with its old or its new count.
fn check_lake(s: &Setup, context: &str) {
    let now = counts(&s.root.join("lake"));
    for (t, n) in &now {
        if t == "indicator_results" {
            continue; // grows by one run's rows per run; checked by reading it
        }
        let old = s.old_counts.get(t).copied().unwrap_or(0);
        let new = s.new_counts.get(t).copied().unwrap_or(0);
        assert!(
            *n == old || *n == new,
            "{context}: table {t} has {n} rows, neither the old {old} nor the new {new}"
        );
    }
}

/// `latest.json` names a complete pack: every file in its manifest is
/// there with that hash, and nothing else is in the folder.
fn check_pack(s: &Setup, context: &str) -> (String, String) {
    check_pack_in(&s.root.join("outputs"), &s.tmpdir, context)
}

fn check_pack_in(outputs: &Path, tmpdir: &Path, context: &str) -> (String, String) {
    let base = outputs.join("committee-pack");
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.join("latest.json")).unwrap()).unwrap();
    let dir = base.join(latest["dir"].as_str().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap())
            .unwrap_or_else(|e| panic!("{context}: manifest unreadable: {e}"));
    let mut listed: Vec<String> = vec!["manifest.json".into()];
    for f in manifest["files"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{context}: {name} missing: {e}"));
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&bytes)),
            "{context}: {name} does not match its manifest"
        );
        listed.push(name.to_string());
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    listed.sort();
    assert_eq!(
        present, listed,
        "{context}: stray files in the published pack"
    );
    assert_eq!(manifest["period"], latest["period"], "{context}");
    let _ = tmpdir;
    (
        latest["period"].as_str().unwrap().to_string(),
        manifest["run_id"].as_str().unwrap().to_string(),
    )
}

/// The next run after a kill completes, leaves nothing behind, and gives
/// the same numbers as the uninterrupted run.
fn check_recovery(s: &Setup, args: &[&str], context: &str) {
    let (code, out) = run(&s.root, &s.tmpdir, args, &[]);
    assert_eq!(code, Some(0), "{context}: the next run failed:\n{out}");
    assert_eq!(
        counts(&s.root.join("lake")).get("police_uk_street"),
        s.new_counts.get("police_uk_street")
    );
    if args.contains(&"outputs") {
        let run_id = project::run_id_of(&out).unwrap();
        assert_eq!(
            results_of(&s.root.join("lake"), &run_id),
            s.reference,
            "{context}: numbers differ from the uninterrupted run"
        );
        let (period, pack_run) = check_pack(s, context);
        assert_eq!(period, "2026-09");
        assert_eq!(pack_run, run_id, "{context}: latest pack is this run's");
        let leftovers: Vec<String> = std::fs::read_dir(s.root.join("outputs/committee-pack"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{context}: {leftovers:?}");
    }
    // Nothing of the browser is left in the temp folder: the next run
    // removes a killed run's scratch folder.
    let stray: Vec<String> = std::fs::read_dir(&s.tmpdir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(stray.is_empty(), "{context}: left in TMPDIR: {stray:?}");
    // The killed run is not left "running" in the ledger.
    let (_, out) = run(&s.root, &s.tmpdir, &["runs", "--last", "50"], &[]);
    assert!(!out.contains(" running "), "{context}:\n{out}");
}

#[test]
fn kill_9_at_any_moment_leaves_the_lake_and_the_packs_sound() {
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(tmp.path());
    let mut rng = fastrand::Rng::with_seed(20270328);
    let mut kills = 0;

    // Named points: a crash exactly between the steps of a landing and of
    // a publish.
    for point in ["lake:before-commit", "lake:after-commit"] {
        restore(&s.root, &s.old);
        let (code, out) = run(
            &s.root,
            &s.tmpdir,
            &["run", "--only", "ingest"],
            &[("SAFER_FAULT_CRASH_AT", point)],
        );
        assert_eq!(
            code, None,
            "{point}: the process should have aborted:\n{out}"
        );
        kills += 1;
        check_lake(&s, point);
        check_recovery(&s, &["run", "--only", "ingest"], point);
    }
    for (point, state) in [
        ("publish:workbook-written", &s.new_a),
        ("publish:staged", &s.new_b),
        ("publish:swapped", &s.new_a),
        ("publish:swapped", &s.new_b),
    ] {
        restore(&s.root, state);
        let (code, out) = run(
            &s.root,
            &s.tmpdir,
            REPUBLISH,
            &[("SAFER_FAULT_CRASH_AT", point)],
        );
        assert_eq!(
            code, None,
            "{point}: the process should have aborted:\n{out}"
        );
        kills += 1;
        check_lake(&s, point);
        let (period, _) = check_pack(&s, point);
        if std::ptr::eq(state, &s.new_b) {
            assert_eq!(period, "2026-09", "{point}: this month's pack, old or new");
        }
        check_recovery(&s, REPUBLISH, point);
    }

    // Random SIGKILLs during the ingest.
    for i in 0..28 {
        restore(&s.root, &s.old);
        let after = Duration::from_secs_f64(rng.f64() * (s.ingest_secs * 1.1));
        kill_after(&s, &["run", "--only", "ingest"], after);
        kills += 1;
        let context = format!("ingest kill {i} after {after:?}");
        check_lake(&s, &context);
        check_pack(&s, &context);
        check_recovery(&s, &["run", "--only", "ingest"], &context);
    }

    // Random SIGKILLs during the outputs (which evaluate first, landing
    // results in the lake), over a folder without and with this month's
    // pack (a plain rename, and an exchange of two folders).
    for i in 0..24 {
        let state = if i % 2 == 0 { &s.new_a } else { &s.new_b };
        restore(&s.root, state);
        let after = Duration::from_secs_f64(rng.f64() * (s.outputs_secs * 1.1));
        kill_after(&s, REPUBLISH, after);
        kills += 1;
        let context = format!("outputs kill {i} after {after:?}");
        check_lake(&s, &context);
        let (period, _) = check_pack(&s, &context);
        if i % 2 == 1 {
            assert_eq!(period, "2026-09", "{context}");
        }
        if i % 4 == 3 || i == 23 {
            check_recovery(&s, REPUBLISH, &context);
        }
    }
    assert!(kills >= 50, "{kills}");

    // After all that, a run without --rebuild-outputs may keep the pack it
    // finds: what it keeps is whole and matches its manifest.
    let (code, out) = run(&s.root, &s.tmpdir, &["run", "--only", "outputs"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let (period, pack_run) = check_pack(&s, "a run that may keep the pack");
    assert_eq!(period, "2026-09");
    let this_run = project::run_id_of(&out).unwrap();
    assert!(
        pack_run == this_run || out.contains(&format!("built by run {pack_run}")),
        "the pack is this run's or named as kept: {out}"
    );
}

/// Unmounts on drop, however the test ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn small_disk(at: &Path, size: &str) -> Option<Mount> {
    std::fs::create_dir_all(at).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("SAFER_REQUIRE_TOOLS").is_err(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root?)");
        return None;
    }
    Some(Mount(at.to_path_buf()))
}

/// Fill a filesystem up to all but `leave` bytes.
fn fill(dir: &Path, leave: u64) {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    let avail: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let f = std::fs::File::create(dir.join("filler")).unwrap();
    use std::io::Write;
    let mut w = std::io::BufWriter::new(f);
    let block = vec![7u8; 4096];
    let mut left = avail.saturating_sub(leave);
    while left >= 4096 {
        if w.write_all(&block).is_err() {
            break;
        }
        left -= 4096;
    }
    let _ = w.flush();
}

#[test]
fn a_full_disk_is_a_clear_error_and_nothing_is_published_or_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(_outputs_disk) = small_disk(&tmp.path().join("small-outputs"), "8m") else {
        return;
    };
    let Some(_lake_disk) = small_disk(&tmp.path().join("small-lake"), "64m") else {
        return;
    };
    let outputs = tmp.path().join("small-outputs/outputs");
    let lake = tmp.path().join("small-lake/lake");
    let root = project::make(
        &tmp.path().join("project"),
        &["html", "xlsx"],
        &format!(
            "\n[paths]\nlake = \"{}\"\noutputs = \"{}\"\n",
            lake.display(),
            outputs.display()
        ),
    );
    // Output definitions live in the outputs folder.
    copy_tree(&root.join("outputs"), &outputs);
    let held = tmp.path().join("held");
    std::fs::create_dir_all(&held).unwrap();
    for m in NEW_MONTHS {
        std::fs::rename(root.join("data/police-uk").join(m), held.join(m)).unwrap();
    }
    let tmpdir = tmp.path().join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let (code, out) = run(&root, &tmpdir, &["run"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let before = counts(&lake);
    let pack = std::fs::read(outputs.join("committee-pack/latest.json")).unwrap();

    // The outputs disk is full: the publish fails, says so, and the last
    // good pack stays exactly as it was.
    fill(&outputs, 16 * 1024);
    let (code, out) = run(&root, &tmpdir, REPUBLISH, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    assert!(
        out.contains(&outputs.display().to_string()),
        "names the path: {out}"
    );
    assert_eq!(
        std::fs::read(outputs.join("committee-pack/latest.json")).unwrap(),
        pack
    );
    let (period, _) = check_pack_in(&outputs, &tmpdir, "after a full outputs disk");
    assert_eq!(period, "2026-05");
    let leftovers: Vec<String> = std::fs::read_dir(outputs.join("committee-pack"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The lake disk is full: new months cannot land; the lake is as it was.
    for m in NEW_MONTHS {
        std::fs::rename(held.join(m), root.join("data/police-uk").join(m)).unwrap();
    }
    fill(&lake, 16 * 1024);
    let (code, out) = run(&root, &tmpdir, &["run", "--only", "ingest"], &[]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    let without_results = |mut c: BTreeMap<String, u64>| {
        c.remove("indicator_results");
        c
    };
    assert_eq!(
        without_results(counts(&lake)),
        without_results(before.clone())
    );
    // Space freed: the next run lands everything.
    std::fs::remove_file(lake.join("filler")).unwrap();
    let (code, out) = run(&root, &tmpdir, &["run", "--only", "ingest"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(counts(&lake)["police_uk_street"] > before["police_uk_street"]);
}
