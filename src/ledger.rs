//! The run ledger: one JSON line per run, appended, never rewritten.
//!
//! Whoever gets the phone call reads this first: which sources landed what,
//! which indicators failed and why, which outputs were written, and how long
//! each step took. Nothing secret is recorded (source errors are redacted
//! before they get here).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sources::SourceReport;

/// File name of the ledger inside the ledger directory.
pub const LEDGER_FILE: &str = "runs.jsonl";

/// Outcome of one indicator in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndicatorRecord {
    /// Indicator id.
    pub id: String,
    /// Query file.
    pub path: String,
    /// SHA-256 of the query file.
    pub sql_hash: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Rows (points) produced.
    pub points: usize,
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds taken.
    pub seconds: f64,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// What ran (`run`, `ingest`, `demo`, a schedule name).
    pub job: String,
    /// Start (RFC 3339 UTC).
    pub started: String,
    /// End.
    pub finished: String,
    /// `ok`, `partial` (something failed, the rest ran) or `failed`.
    pub status: String,
    /// Source outcomes.
    pub sources: Vec<SourceReport>,
    /// Indicator outcomes.
    pub indicators: Vec<IndicatorRecord>,
    /// Output files written.
    pub outputs: Vec<String>,
    /// Problems that are not tied to one source or indicator.
    pub problems: Vec<String>,
    /// Things worth knowing that did not fail the run (a PDF engine that is
    /// not installed, say).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Append a record to the ledger in `dir`.
pub fn append(dir: &Path, record: &RunRecord) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(LEDGER_FILE);
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    // One write call per line: concurrent appenders cannot interleave a line.
    f.write_all(&line)?;
    f.sync_all()?;
    Ok(path)
}

/// The last `n` runs, newest last, as raw JSON values.
pub fn recent(dir: &Path, n: usize) -> std::io::Result<Vec<serde_json::Value>> {
    let path = dir.join(LEDGER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let all: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let skip = all.len().saturating_sub(n);
    Ok(all.into_iter().skip(skip).collect())
}
