//! The run ledger: every run and every step, in a database.
//!
//! Whoever gets the phone call reads this first: which schedule ran for
//! which night, which step failed and why, how many rows each source landed,
//! which indicators failed, which outputs were written, how fresh each
//! source is, and which version of safer did it. The database (a SQLite file
//! by default, PostgreSQL when `ledger.url_env` names a URL) is the source of
//! truth; `runs.jsonl` beside it is an export, one line per finished run,
//! for people who prefer `jq`. Nothing secret is recorded: source errors are
//! redacted before they get here.
//!
//! A run is keyed on schedule + logical date, so a restarted service does
//! not redo a night that already finished ([`Ledger::completed`]). The
//! cross-process lock that stops two runs overlapping is in [`lock`].

mod db;
pub mod lock;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use db::{Backend, Ledger, RunSummary};

use crate::sources::{SourceFreshness, SourceReport};

/// File name of the JSON-lines export inside the ledger directory.
pub const LEDGER_FILE: &str = "runs.jsonl";

/// File name of the SQLite ledger inside the ledger directory.
pub const SQLITE_FILE: &str = "ledger.db";

/// The schedule name recorded for a run started by hand (`safer run`).
pub const MANUAL: &str = "manual";

/// Errors from the ledger.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ledger database could not be opened or queried.
    #[error("run ledger ({backend}): {message}")]
    Database {
        /// SQLite or PostgreSQL.
        backend: Backend,
        /// What went wrong (connection strings are redacted).
        message: String,
    },
    /// The ledger is configured wrongly.
    #[error("run ledger: {0}")]
    Config(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Another run holds the lock.
    #[error(transparent)]
    Locked(#[from] lock::Held),
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going (or its process was killed; the next run marks it
    /// abandoned).
    Running,
    /// Everything ran.
    Ok,
    /// The run finished but something in it failed or is stale.
    Partial,
    /// A step failed so badly that nothing useful was produced.
    Failed,
    /// The process stopped (killed, shut down past its grace period) before
    /// the run finished. The lake and outputs are as the last completed
    /// write left them.
    Abandoned,
}

impl RunStatus {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// Parse a stored word.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "partial" => RunStatus::Partial,
            "failed" => RunStatus::Failed,
            "abandoned" => RunStatus::Abandoned,
            _ => return None,
        })
    }

    /// A run that finished its work: the night need not run again.
    pub fn is_complete(self) -> bool {
        matches!(self, RunStatus::Ok | RunStatus::Partial)
    }

    /// Something needs a person's attention.
    pub fn needs_attention(self) -> bool {
        !matches!(self, RunStatus::Ok | RunStatus::Running)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of the job, in the order they run. A later step reads what the
/// earlier ones produced: `outputs` needs the indicators evaluated, so
/// asking for outputs runs the indicators too (but not the ingest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Land every source in the lake.
    Ingest,
    /// Run the indicator SQL, evaluate it and land the results.
    Indicators,
    /// Write the packs and workbooks.
    Outputs,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 3] = [Step::Ingest, Step::Indicators, Step::Outputs];

    /// The word used in schedules, `--only` and the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Ingest => "ingest",
            Step::Indicators => "indicators",
            Step::Outputs => "outputs",
        }
    }

    /// Parse a step name.
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Started, not finished.
    Running,
    /// Everything in it worked.
    #[default]
    Ok,
    /// It finished, but some items in it failed (a source, an indicator).
    Partial,
    /// It failed as a whole.
    Failed,
    /// It took longer than the schedule's timeout and was abandoned.
    TimedOut,
    /// The service was stopped while it ran.
    Abandoned,
    /// Not run, because an earlier step failed (a source could not be
    /// landed, so nothing new would be published); its previous results and
    /// packs are untouched.
    Skipped,
}

impl StepStatus {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Ok => "ok",
            StepStatus::Partial => "partial",
            StepStatus::Failed => "failed",
            StepStatus::TimedOut => "timed_out",
            StepStatus::Abandoned => "abandoned",
            StepStatus::Skipped => "skipped",
        }
    }

    /// Parse a stored word.
    pub fn parse(s: &str) -> Option<StepStatus> {
        Some(match s {
            "running" => StepStatus::Running,
            "ok" => StepStatus::Ok,
            "partial" => StepStatus::Partial,
            "failed" => StepStatus::Failed,
            "timed_out" => StepStatus::TimedOut,
            "abandoned" => StepStatus::Abandoned,
            "skipped" => StepStatus::Skipped,
            _ => return None,
        })
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// Which step.
    pub step: Step,
    /// How it ended.
    pub status: StepStatus,
    /// Start (RFC 3339 UTC).
    pub started: String,
    /// End, once it has ended.
    pub finished: Option<String>,
    /// Rows landed (ingest), points measured (indicators) or files written
    /// (outputs).
    pub rows: u64,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Outcome of one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorStatus {
    /// Its query ran and it was evaluated.
    Ok,
    /// Its header or query failed; the others still ran.
    Failed,
}

/// Outcome of one indicator in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndicatorRecord {
    /// Indicator id.
    pub id: String,
    /// Query file.
    pub path: String,
    /// SHA-256 of the query file.
    pub sql_hash: String,
    /// Ok or failed.
    pub status: IndicatorStatus,
    /// Rows (points) produced.
    pub points: usize,
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds taken.
    pub seconds: f64,
}

/// One run: what was asked for and everything that happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// The schedule that fired it (`manual` for `safer run`, `demo`).
    pub schedule: String,
    /// The night it is for (the schedule's local date), so a restart does
    /// not redo a finished night.
    pub logical_date: NaiveDate,
    /// The reporting date asked for with `--as-of`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// The steps asked for.
    pub requested: Vec<Step>,
    /// Start (RFC 3339 UTC).
    pub started: String,
    /// End.
    pub finished: Option<String>,
    /// How it ended.
    pub status: RunStatus,
    /// safer's version.
    pub software_version: String,
    /// Process id that ran it.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The steps, as they ran.
    pub steps: Vec<StepRecord>,
    /// Source outcomes.
    pub sources: Vec<SourceReport>,
    /// Freshness of every source after the run.
    pub freshness: Vec<SourceFreshness>,
    /// Indicator outcomes.
    pub indicators: Vec<IndicatorRecord>,
    /// Output files written.
    pub outputs: Vec<String>,
    /// Outputs not written because the pack already published is the one
    /// this run would have built (a night with no new data): the output,
    /// its folder and the run that built it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_outputs: Vec<String>,
    /// The run whose figures this run reports, when nothing the indicators
    /// read had changed since it computed them (see [`crate::reuse`]);
    /// `None` when this run computed its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures_from: Option<String>,
    /// Problems that are not tied to one source or indicator.
    pub problems: Vec<String>,
    /// Things worth knowing that did not fail the run (a PDF engine that is
    /// not installed, say).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The Delta version of every lake table the indicators read: the run
    /// can be rebuilt from exactly this lake (`safer run --lake-as-of
    /// run:<id>`) and compared with another (`safer diff`).
    #[serde(default)]
    pub lake_versions: std::collections::BTreeMap<String, u64>,
    /// What the lake was pinned to, when the run read it as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake_as_of: Option<String>,
}

impl RunRecord {
    /// Sources whose newest data is older than they declare acceptable.
    pub fn stale_sources(&self) -> impl Iterator<Item = &SourceFreshness> {
        self.freshness.iter().filter(|f| f.stale)
    }

    /// Indicators that failed.
    pub fn failed_indicators(&self) -> impl Iterator<Item = &IndicatorRecord> {
        self.indicators
            .iter()
            .filter(|i| i.status == IndicatorStatus::Failed)
    }
}

/// Append a finished run to the JSON-lines export in `dir`.
pub fn export(dir: &Path, record: &RunRecord) -> std::io::Result<PathBuf> {
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

/// This machine's host name, for the ledger and the lock.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_words() {
        for s in [
            RunStatus::Running,
            RunStatus::Ok,
            RunStatus::Partial,
            RunStatus::Failed,
            RunStatus::Abandoned,
        ] {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for s in [
            StepStatus::Running,
            StepStatus::Ok,
            StepStatus::Partial,
            StepStatus::Failed,
            StepStatus::TimedOut,
            StepStatus::Abandoned,
            StepStatus::Skipped,
        ] {
            assert_eq!(StepStatus::parse(s.as_str()), Some(s));
        }
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        assert!(RunStatus::Partial.is_complete());
        assert!(!RunStatus::Abandoned.is_complete());
        assert!(!RunStatus::Failed.is_complete());
    }
}
