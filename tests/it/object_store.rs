//! The lake on object storage (issue 10), against real emulators started
//! here: Azurite (npm `azurite`, in tests/tools) for Azure Blob Storage and
//! moto's S3 server (PyPI `moto[server]`). `.ci/run` installs both, and
//! `SAFER_REQUIRE_TOOLS=1` turns a missing one into a failure.
//!
//! Each backend gets the same scenario, driven through the `safer` binary
//! with credentials in its environment only: land, read back, a writer
//! killed just before its commit (the old version stays), a corrected month
//! (a new version), and two writers in separate processes at once, each
//! with its own local cache as if on two machines (nothing is lost: the
//! later one is rebased, or refused and tried again from the newer version).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Server, fixture, free_port};
use crate::police_uk::copy_dir;

fn tools_required() -> bool {
    std::env::var("SAFER_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn skip_or_fail(what: &str) {
    assert!(!tools_required(), "{what} is required for this test");
    eprintln!("SKIPPED: {what} is not installed");
}

fn python(script: &str) -> bool {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .status()
        .is_ok_and(|s| s.success())
}

/// Run safer with the given environment; (exit code, stdout, stderr). A
/// process killed by a signal has no code (`None`).
fn safer(args: &[&str], dir: &Path, env: &[(String, String)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_safer"));
    cmd.args(args).current_dir(dir).env_remove("SAFER_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("safer runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn count(lake: &str, dir: &Path, env: &[(String, String)], sql: &str) -> String {
    let (code, out, err) = safer(&["sql", sql, "--lake", lake, "--format", "csv"], dir, env);
    assert_eq!(code, Some(0), "{sql}: {out}\n{err}");
    out.lines().nth(1).unwrap_or_default().to_string()
}

/// A month's street file with `rows` drugs offences, in its own folder.
fn month_drop(root: &Path, month: &str, rows: usize) -> PathBuf {
    let dir = root.join(format!("drop-{month}/{month}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\r\n",
    );
    for _ in 0..rows {
        text.push_str(&format!(
            ",{month},Lancashire Constabulary,Lancashire Constabulary,,,No Location,,,Drugs,,\r\n"
        ));
    }
    std::fs::write(dir.join(format!("{month}-lancashire-street.csv")), text).unwrap();
    root.join(format!("drop-{month}"))
}

/// The shared scenario on one backend.
fn scenario(lake: &str, env: &[(String, String)]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let with_cache = |name: &str| {
        let mut e = env.to_vec();
        e.push((
            "SAFER_LAKE_CACHE".into(),
            dir.join(name).to_string_lossy().into_owned(),
        ));
        e
    };
    let env_a = with_cache("cache-a");

    // Land the fixture: 9 street rows land (4 are quarantined).
    let drop = dir.join("drop");
    copy_dir(&fixture("police_uk"), &drop);
    let drop_s = drop.to_string_lossy().into_owned();
    let (code, out, err) = safer(
        &["import", "police-uk", &drop_s, "--lake", lake],
        dir,
        &env_a,
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(
        count(lake, dir, &env_a, "SELECT COUNT(*) FROM police_uk_street"),
        "9"
    );
    // Secrets never reach the output.
    for (k, v) in env {
        if k.contains("KEY") || k.contains("SECRET") {
            assert!(
                !out.contains(v.as_str()) && !err.contains(v.as_str()),
                "{k} leaked"
            );
        }
    }

    // A corrected 2024-01 (Shoplifting withdrawn, a Drugs row added); the
    // first attempt is killed just before its commit.
    crate::police_uk::correct_january(&drop);
    let mut crash_env = env_a.clone();
    crash_env.push(("SAFER_FAULT_CRASH_AT".into(), "lake:before-commit".into()));
    let (code, _, err) = safer(
        &["import", "police-uk", &drop_s, "--lake", lake],
        dir,
        &crash_env,
    );
    assert_eq!(code, None, "the writer should have been killed: {err}");
    let shoplifting = "SELECT COUNT(*) FROM police_uk_street WHERE crime_type = 'Shoplifting'";
    assert_eq!(
        count(lake, dir, &env_a, shoplifting),
        "1",
        "old version kept"
    );
    let (code, out, err) = safer(
        &["import", "police-uk", &drop_s, "--lake", lake],
        dir,
        &env_a,
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(count(lake, dir, &env_a, shoplifting), "0");
    assert_eq!(
        count(lake, dir, &env_a, "SELECT COUNT(*) FROM police_uk_street"),
        "9"
    );

    // Two writers from two processes with separate caches (two machines).
    // The first is held just before its commit while the second commits;
    // then it goes on. Different partitions (2012 and 2024): it is rebased
    // and lands. The same partition (both new months of 2025): it is
    // refused whole and lands on its next attempt.
    let env_b = with_cache("cache-b");
    for (m1, m2, n1, n2, same) in [
        ("2012-05", "2024-02", 2, 3, false),
        ("2025-01", "2025-02", 4, 5, true),
    ] {
        let d1 = month_drop(dir, m1, n1).to_string_lossy().into_owned();
        let d2 = month_drop(dir, m2, n2).to_string_lossy().into_owned();
        let pause = dir.join(format!("go-{m1}"));
        let mut held_env = env_a.clone();
        held_env.push(("SAFER_FAULT_PAUSE_AT".into(), "lake:before-commit".into()));
        held_env.push((
            "SAFER_FAULT_PAUSE_FILE".into(),
            pause.to_string_lossy().into_owned(),
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_safer"));
        cmd.args(["import", "police-uk", &d1, "--lake", lake])
            .current_dir(dir)
            .env_remove("SAFER_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &held_env {
            cmd.env(k, v);
        }
        let held = cmd.spawn().unwrap();
        let reached = dir.join(format!("go-{m1}.reached"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reached.exists() {
            assert!(
                Instant::now() < deadline,
                "the held writer never reached its commit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let (code, out, err) = safer(&["import", "police-uk", &d2, "--lake", lake], dir, &env_b);
        assert_eq!(code, Some(0), "the second writer: {out}\n{err}");
        std::fs::write(&pause, b"").unwrap();
        let out = held.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the held writer lands in the end: {err}"
        );
        if same {
            // Both rewrote 2025: the held writer lost the race, was refused
            // whole and landed on its next attempt, from the newer version.
            assert!(err.contains("trying again from the newer version"), "{err}");
        } else {
            // Different partitions: rebased, no second attempt.
            assert!(!err.contains("trying again"), "{err}");
        }
    }
    // 9 + 2 + 3 + 4 + 5 = 23, and each month has its own rows.
    assert_eq!(
        count(lake, dir, &env_a, "SELECT COUNT(*) FROM police_uk_street"),
        "23"
    );
    assert_eq!(
        count(
            lake,
            dir,
            &env_a,
            "SELECT COUNT(*) FROM police_uk_street WHERE month = DATE '2025-02-01'"
        ),
        "5"
    );
}

#[test]
fn the_lake_on_s3_through_moto() {
    if !python("import moto.server") {
        return skip_or_fail("moto's server (pip install 'moto[server]')");
    }
    let port = free_port();
    let _server = Server(
        Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(crate::common::wait_for_port(port, 30), "moto did not start");
    let endpoint = format!("http://127.0.0.1:{port}");
    let made = python(&format!(
        "import boto3\n\
         s3 = boto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='test-key', \
         aws_secret_access_key='test-secret-value', region_name='eu-west-2')\n\
         s3.create_bucket(Bucket='county-lake', CreateBucketConfiguration={{'LocationConstraint': 'eu-west-2'}})"
    ));
    assert!(made, "could not create the bucket");
    let env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", "test-key"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret-value"),
        ("AWS_REGION", "eu-west-2"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    scenario("s3://county-lake/lancashire", &env);

    // Another Delta engine reads the same table in the bucket: Python's
    // deltalake, with the same endpoint and keys.
    let has_deltalake = python("import deltalake");
    if !has_deltalake {
        return skip_or_fail("Python's deltalake package");
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import os, sys\n\
             from deltalake import DeltaTable\n\
             opts = {{'AWS_ENDPOINT_URL': '{endpoint}', 'AWS_ALLOW_HTTP': 'true', \
             'AWS_ACCESS_KEY_ID': 'test-key', 'AWS_SECRET_ACCESS_KEY': 'test-secret-value', \
             'AWS_REGION': 'eu-west-2'}}\n\
             t = DeltaTable('s3://county-lake/lancashire/police_uk_street', storage_options=opts)\n\
             print(t.to_pyarrow_table().num_rows)\n\
             sys.stdout.flush()\n\
             os._exit(0)\n"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The scenario left 23 rows (worked out there).
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "23");
}

#[test]
fn the_lake_on_azure_blob_through_azurite() {
    let bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/node_modules/.bin/azurite-blob");
    if !bin.exists() {
        return skip_or_fail("Azurite (npm ci in tests/tools)");
    }
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = Server(
        Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(data.path())
            .args(["--silent", "--skipApiVersionCheck"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        crate::common::wait_for_port(port, 30),
        "Azurite did not start"
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    // Azurite's documented development account and key.
    let made = python(&format!(
        "from azure.storage.blob import BlobServiceClient\n\
         conn = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
         AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;\
         BlobEndpoint={endpoint}/devstoreaccount1;'\n\
         BlobServiceClient.from_connection_string(conn).create_container('county-lake')"
    ));
    assert!(
        made,
        "could not create the container (pip install azure-storage-blob)"
    );
    let env: Vec<(String, String)> = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", endpoint.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    scenario("az://county-lake/lancashire", &env);
}
