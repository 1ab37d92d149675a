//! Sources: everything that lands data in the lake.
//!
//! File drops (police.uk, STATS19, ONS, declared CSV) share one landing path
//! in [`files`]; partner databases go through [`sql`]. A source that fails
//! leaves its tables exactly as they were; the report says why, without
//! secrets, and the other sources still run.
//!
//! Adding a source kind: a `config::Source` variant, a reader implementing
//! [`files::Format`] (or a module like [`sql`]), a branch in [`run`], and a
//! fixture test of every quirk the real format has.

pub mod checks;
pub mod files;
pub mod ons;
pub mod police_uk;
pub mod probe;
pub mod sql;
pub mod stats19;
pub mod typed_csv;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::config::{Config, CsvSource, Source};
use crate::lake::{self, Lake, LakeLock};
use crate::retry::RetryPolicy;
use files::{InputFile, find_files};
use typed_csv::{PartitionBy, TypedCsv};

/// Errors from a source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A whole file was refused (wrong columns, empty).
    #[error("{path}: {reason}")]
    Refused {
        /// File refused.
        path: PathBuf,
        /// Why, naming the columns.
        reason: String,
    },
    /// Writing to the lake failed.
    #[error(transparent)]
    Lake(#[from] lake::Error),
    /// Could not connect to a database (message already redacted).
    #[error("source `{source_name}`: could not connect: {message}")]
    Connect {
        /// Source name.
        source_name: String,
        /// Redacted driver message.
        message: String,
        /// Worth retrying (refused, reset, timed out), as opposed to wrong
        /// credentials or a database that does not exist.
        transient: bool,
    },
    /// The database rejected or failed the query (message redacted).
    #[error("source `{source_name}`: query failed: {message}")]
    Query {
        /// Source name.
        source_name: String,
        /// Redacted driver message.
        message: String,
        /// Worth retrying (connection lost mid-query, deadlock), as opposed
        /// to bad SQL.
        transient: bool,
    },
    /// The source took longer than its limit.
    #[error("source `{source_name}`: gave up after {secs} s (limits.source_timeout_secs)")]
    Timeout {
        /// Source name.
        source_name: String,
        /// Limit.
        secs: u64,
    },
    /// The source is configured wrongly.
    #[error("source `{source_name}`: {message}")]
    Config {
        /// Source name.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A bug in a reader.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl Error {
    /// Whether trying again later might work: a connection refused, reset
    /// or timed out, a server that is starting up or overloaded, or another
    /// writer that committed to the same table first (the next attempt
    /// starts from its version). Bad credentials, bad SQL, missing files and
    /// refused files are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { transient, .. } | Error::Query { transient, .. } => *transient,
            Error::Timeout { .. } => true,
            Error::Lake(lake::Error::Conflict { .. }) => true,
            _ => false,
        }
    }
}

/// What landing did to one dataset.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DatasetReport {
    /// Dataset (table) name.
    pub dataset: String,
    /// Inputs landed this time (new or changed).
    pub inputs_landed: u64,
    /// Inputs skipped because their fingerprint had not changed.
    pub inputs_unchanged: u64,
    /// Inputs refused whole.
    pub inputs_refused: u64,
    /// Data rows read from landed inputs.
    pub rows_read: u64,
    /// Rows landed.
    pub rows_landed: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Rows in the dataset afterwards.
    pub total_rows: u64,
    /// Where the landing's time went (not kept in the ledger: it is for
    /// benchmarks and `--log-level debug`, and differs on every run).
    #[serde(skip)]
    pub profile: IngestProfile,
}

/// Where a file landing's time went. Parsing and encoding run at the same
/// time on several threads, so they are CPU seconds (summed over the
/// threads) and together can exceed the wall time; fingerprinting and the
/// commit are wall seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct IngestProfile {
    /// Hashing every input file to find what changed (wall).
    pub fingerprint_s: f64,
    /// Reading the files, CSV parsing, validation and building Arrow
    /// columns (CPU seconds).
    pub parse_cpu_s: f64,
    /// Parquet encoding and writing, including copying the rows a rewritten
    /// partition keeps (CPU seconds).
    pub encode_cpu_s: f64,
    /// Closing the files (their last row groups are encoded here), syncing
    /// them to disk and the Delta commit (wall).
    pub commit_s: f64,
}

impl DatasetReport {
    /// An empty report for a dataset.
    pub fn new(dataset: &str) -> Self {
        DatasetReport {
            dataset: dataset.to_string(),
            ..Default::default()
        }
    }
}

/// What happened to one source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    /// Source name.
    pub name: String,
    /// Source kind.
    pub kind: String,
    /// Per-dataset accounting.
    pub datasets: Vec<DatasetReport>,
    /// Refused files and other per-input problems (the source still ran).
    pub problems: Vec<String>,
    /// Set when the source failed as a whole; its tables are unchanged.
    pub error: Option<String>,
    /// Attempts made (more than one when transient errors were retried).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Wall time in seconds.
    pub seconds: f64,
}

fn one() -> u32 {
    1
}

/// How fresh one source's data is against what it declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFreshness {
    /// Source name.
    pub source: String,
    /// The lake tables it lands.
    pub tables: Vec<String>,
    /// First day of the newest month landed, if any.
    pub newest_month: Option<NaiveDate>,
    /// Rows in its tables (reference data such as a lookup has rows but no
    /// months).
    #[serde(default)]
    pub rows: u64,
    /// How many months behind the reporting date it may be (`None`: not
    /// checked).
    pub max_lag_months: Option<u32>,
    /// The oldest newest-month that is still fresh.
    pub expected_from: Option<NaiveDate>,
    /// Older than declared: flagged in the ledger, `status`, the pack and
    /// an alert.
    pub stale: bool,
}

impl SourceFreshness {
    /// One line for people: `police_uk: data to end of August 2026; should reach October 2026 or later (at most 3 months behind)`.
    pub fn describe(&self) -> String {
        let newest = match (self.newest_month, self.rows) {
            (Some(m), _) => format!("data to end of {}", m.format("%B %Y")),
            (None, 0) => "no data landed".into(),
            (None, n) => format!("{n} rows of reference data (no dates)"),
        };
        match (self.stale, self.expected_from, self.max_lag_months) {
            (true, Some(e), Some(lag)) => format!(
                "{}: {newest}; should reach {} or later (at most {lag} month(s) behind)",
                self.source,
                e.format("%B %Y")
            ),
            _ => format!("{}: {newest}", self.source),
        }
    }
}

/// Freshness of every configured source against `reference` (today, or the
/// `--as-of` date): the newest month landed in its tables, and whether that
/// is more than `max_lag_months` whole months before the reference month.
pub fn freshness(
    cfg: &Config,
    lake: &Lake,
    reference: NaiveDate,
) -> Result<Vec<SourceFreshness>, lake::Error> {
    let manifests = lake.datasets()?;
    let ref_index = i64::from(reference.year()) * 12 + i64::from(reference.month0());
    Ok(cfg
        .sources
        .iter()
        .map(|s| {
            let tables = s.tables();
            let mine = || manifests.iter().filter(|m| tables.contains(&m.dataset));
            let newest = mine()
                .filter_map(|m| m.month_range())
                .filter_map(|(_, to)| police_uk::parse_month(&to))
                .max();
            let rows = mine().map(|m| m.rows()).sum();
            let max = s.max_lag_months();
            let expected_from = max.map(|lag| {
                let i = ref_index - i64::from(lag);
                NaiveDate::from_ymd_opt(i.div_euclid(12) as i32, i.rem_euclid(12) as u32 + 1, 1)
                    .unwrap_or(reference)
            });
            let stale = match (expected_from, newest) {
                (Some(e), Some(n)) => n < e,
                (Some(_), None) => true,
                (None, _) => false,
            };
            SourceFreshness {
                source: s.name().to_string(),
                tables,
                newest_month: newest,
                rows,
                max_lag_months: max,
                expected_from,
                stale,
            }
        })
        .collect())
}

impl SourceReport {
    /// True if anything needs a person's attention.
    pub fn failed(&self) -> bool {
        self.error.is_some() || !self.problems.is_empty()
    }
}

/// Land every police.uk street file under `path` (other files are ignored).
pub fn land_police_uk(
    lake: &Lake,
    path: &Path,
    force: Option<&str>,
    part: Option<&Partition>,
    problems: &mut Vec<String>,
) -> Result<DatasetReport, Error> {
    land_police_uk_from(lake, &[path.to_path_buf()], force, part, problems)
}

/// Land every police.uk street file under any of `roots` in one landing
/// (`safer import police-uk 2026-*`): one commit, and the files of every
/// root parsed in parallel, rather than one landing per folder.
///
/// A file named in two roots is landed once. Two different files for the
/// same force and month cannot both be right: the first is read and the
/// other reported.
pub fn land_police_uk_from(
    lake: &Lake,
    roots: &[PathBuf],
    force: Option<&str>,
    part: Option<&Partition>,
    problems: &mut Vec<String>,
) -> Result<DatasetReport, Error> {
    let mut paths = std::collections::BTreeSet::new();
    for root in roots {
        paths.extend(find_files(root, &|n| n.ends_with("-street.csv"))?);
    }
    let mut inputs: Vec<InputFile> = Vec::new();
    let mut units: std::collections::BTreeMap<String, PathBuf> = Default::default();
    for p in paths {
        match police_uk::input_file(&p) {
            Some(f)
                if force.is_none_or(|force| f.unit.ends_with(&format!("-{force}")))
                    && part.is_none_or(|part| part.keeps(&f.unit)) =>
            {
                if let Some(first) = units.get(&f.unit) {
                    problems.push(format!(
                        "{} and {} are both the police.uk file for {}; only the first is read",
                        first.display(),
                        p.display(),
                        f.unit
                    ));
                    continue;
                }
                units.insert(f.unit.clone(), p.clone());
                inputs.push(f)
            }
            Some(_) => {}
            None => problems.push(format!(
                "{}: not a police.uk street file name (expected YYYY-MM-<force>-street.csv); skipped",
                p.display()
            )),
        }
    }
    files::land(
        lake,
        police_uk::TABLE,
        police_uk::columns(),
        inputs,
        &police_uk::StreetFormat::default(),
        problems,
    )
}

/// One partition worker's share of the police.uk files (`safer ingest
/// --partition month=2024-01..2024-06 --partition force=merseyside`): the
/// files of these months and these forces. Files outside it are neither
/// landed nor removed, so several workers with disjoint partitions land
/// one delivery between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    /// First and last month, inclusive (first days); `None`: every month.
    pub months: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// Force names as in the file names (`merseyside`); empty: every force.
    pub forces: Vec<String>,
}

impl Partition {
    /// Parse `month=YYYY-MM`, `month=YYYY-MM..YYYY-MM`, `year=YYYY` and
    /// `force=NAME[,NAME...]` settings (each may be given once).
    pub fn parse(specs: &[String]) -> Result<Partition, String> {
        let mut part = Partition::default();
        for spec in specs {
            let Some((key, value)) = spec.split_once('=') else {
                return Err(format!(
                    "--partition {spec}: write KEY=VALUE, for example month=2024-01..2024-06, year=2024 or force=merseyside"
                ));
            };
            let value = value.trim();
            match key.trim() {
                "month" | "months" | "year" => {
                    if part.months.is_some() {
                        return Err(format!(
                            "--partition {spec}: the months are already given; give one range"
                        ));
                    }
                    let range = if key.trim() == "year" {
                        let y: i32 = value.parse().map_err(|_| {
                            format!("--partition {spec}: `{value}` is not a year (YYYY)")
                        })?;
                        match (
                            chrono::NaiveDate::from_ymd_opt(y, 1, 1),
                            chrono::NaiveDate::from_ymd_opt(y, 12, 1),
                        ) {
                            (Some(a), Some(b)) => (a, b),
                            _ => {
                                return Err(format!("--partition {spec}: `{value}` is not a year"));
                            }
                        }
                    } else {
                        let (a, b) = value.split_once("..").unwrap_or((value, value));
                        let month = |m: &str| {
                            police_uk::parse_month(m.trim()).ok_or_else(|| {
                                format!("--partition {spec}: `{m}` is not a month (YYYY-MM)")
                            })
                        };
                        (month(a)?, month(b)?)
                    };
                    if range.0 > range.1 {
                        return Err(format!(
                            "--partition {spec}: the range ends before it starts"
                        ));
                    }
                    part.months = Some(range);
                }
                "force" | "forces" => {
                    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                        if !f
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        {
                            return Err(format!(
                                "--partition {spec}: `{f}` is not a force as police.uk names its files (lower case, hyphens: avon-and-somerset)"
                            ));
                        }
                        part.forces.push(f.to_string());
                    }
                }
                other => {
                    return Err(format!(
                        "--partition {spec}: `{other}` is not a partition key; use month, year or force"
                    ));
                }
            }
        }
        if part.months.is_none() && part.forces.is_empty() {
            return Err("--partition needs month=, year= or force=".into());
        }
        Ok(part)
    }

    /// Whether the police.uk unit `YYYY-MM-<force>` is in this partition.
    pub fn keeps(&self, unit: &str) -> bool {
        let (month, force) = match (unit.get(..7), unit.get(8..)) {
            (Some(m), Some(f)) => (police_uk::parse_month(m), f),
            _ => return false,
        };
        let Some(month) = month else {
            return false;
        };
        self.months.is_none_or(|(a, b)| a <= month && month <= b)
            && (self.forces.is_empty() || self.forces.iter().any(|f| f == force))
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let months = match self.months {
            Some((a, b)) if a == b => a.format("%Y-%m").to_string(),
            Some((a, b)) => format!("{}..{}", a.format("%Y-%m"), b.format("%Y-%m")),
            None => "every month".into(),
        };
        let forces = if self.forces.is_empty() {
            "every force".to_string()
        } else {
            self.forces.join(", ")
        };
        write!(f, "{months}, {forces}")
    }
}

/// Land every STATS19 file under `path` into its three tables.
pub fn land_stats19(
    lake: &Lake,
    path: &Path,
    problems: &mut Vec<String>,
) -> Result<Vec<DatasetReport>, Error> {
    let paths = find_files(path, &|n| n.to_ascii_lowercase().ends_with(".csv"))?;
    let mut by_table: Vec<(&str, &str, Vec<InputFile>)> = stats19::TABLES
        .iter()
        .map(|(t, d)| (*t, *d, Vec::new()))
        .collect();
    for p in paths {
        match stats19::classify(&p) {
            Some((dataset, f)) => {
                if let Some(slot) = by_table.iter_mut().find(|(_, d, _)| *d == dataset) {
                    slot.2.push(f);
                }
            }
            None => problems.push(format!(
                "{}: not a STATS19 file name (expected dft-road-casualty-statistics-<table>-<year>.csv); skipped",
                p.display()
            )),
        }
    }
    let mut out = Vec::new();
    for (table, dataset, inputs) in by_table {
        if inputs.is_empty() {
            continue;
        }
        let Some(format) = stats19::format(table) else {
            continue;
        };
        out.push(files::land(
            lake,
            dataset,
            format.columns().to_vec(),
            inputs,
            &format,
            problems,
        )?);
    }
    Ok(out)
}

/// Land ONS mid-year estimates.
pub fn land_ons_population(
    lake: &Lake,
    path: &Path,
    problems: &mut Vec<String>,
) -> Result<DatasetReport, Error> {
    let inputs = csv_inputs(path)?;
    files::land(
        lake,
        ons::TABLE,
        ons::columns(),
        inputs,
        &ons::MidYearEstimates::default(),
        problems,
    )
}

/// Land CSV files with a declared schema.
pub fn land_csv(
    lake: &Lake,
    src: &CsvSource,
    path: &Path,
    problems: &mut Vec<String>,
) -> Result<DatasetReport, Error> {
    let mut format = TypedCsv::new(src.columns.clone())
        .ignoring_extra_columns(src.ignore_extra_columns)
        .with_null_tokens(
            &src.null_values
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
    if let Some(p) = &src.partition_by {
        format = format.with_partition(PartitionBy::Year(p.clone()));
    }
    if let Some(c) = src.columns.iter().find(|c| {
        matches!(
            c.ty,
            crate::schema::ColumnType::Date | crate::schema::ColumnType::Timestamp
        )
    }) {
        format = format.with_month_column(&c.name);
    }
    let inputs = csv_inputs(path)?;
    files::land(
        lake,
        &src.table,
        src.columns.clone(),
        inputs,
        &format,
        problems,
    )
}

/// Each `.csv` under `path` as an input unit named by its file name.
fn csv_inputs(path: &Path) -> Result<Vec<InputFile>, Error> {
    Ok(
        find_files(path, &|n| n.to_ascii_lowercase().ends_with(".csv"))?
            .into_iter()
            .map(|p| InputFile {
                unit: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: p,
                group: "all".into(),
            })
            .collect(),
    )
}

/// Run one configured source against the lake, retrying transient
/// failures by `retry`. Never panics, never returns an error: the report
/// carries the outcome. `guard` is the lake's write lock, shared with the
/// landing task so that an abandoned step keeps the lake locked until its
/// last write has finished. With `part` (a partition worker), a police.uk
/// source lands only that partition's files.
pub async fn run(
    cfg: &Config,
    lake: &Lake,
    source: &Source,
    retry: &RetryPolicy,
    guard: &Arc<LakeLock>,
    part: Option<&Partition>,
) -> SourceReport {
    let span = tracing::info_span!("source", name = source.name(), kind = source.kind());
    async {
        let started = std::time::Instant::now();
        let mut attempts = 0;
        let mut problems = Vec::new();
        let result = loop {
            attempts += 1;
            problems.clear();
            let r = run_once(cfg, lake, source, guard, part, &mut problems).await;
            match r {
                Err(e) if e.is_transient() && attempts <= retry.retries => {
                    let wait = retry.delay(attempts);
                    tracing::warn!(
                        error = %e,
                        attempt = attempts,
                        retry_in_secs = wait.as_secs_f64(),
                        "Source failed with a transient error; retrying."
                    );
                    tokio::time::sleep(wait).await;
                }
                other => break other,
            }
        };
        let mut report = SourceReport {
            name: source.name().to_string(),
            kind: source.kind().to_string(),
            datasets: Vec::new(),
            problems,
            error: None,
            attempts,
            seconds: 0.0,
        };
        match result {
            Ok(ds) => {
                for d in &ds {
                    tracing::info!(
                        dataset = %d.dataset,
                        inputs_landed = d.inputs_landed,
                        inputs_unchanged = d.inputs_unchanged,
                        rows_read = d.rows_read,
                        rows_landed = d.rows_landed,
                        rows_quarantined = d.rows_quarantined,
                        total_rows = d.total_rows,
                        "Dataset landed."
                    );
                }
                report.datasets = ds;
            }
            Err(e) => {
                let tried = if attempts > 1 {
                    format!(" (after {attempts} attempts)")
                } else {
                    String::new()
                };
                tracing::error!(error = %e, attempts, "Source failed; its tables are unchanged.");
                report.error = Some(format!("{e}{tried}"));
            }
        }
        report.seconds = started.elapsed().as_secs_f64();
        report
    }
    .instrument(span)
    .await
}

async fn run_once(
    cfg: &Config,
    lake: &Lake,
    source: &Source,
    guard: &Arc<LakeLock>,
    part: Option<&Partition>,
    problems: &mut Vec<String>,
) -> Result<Vec<DatasetReport>, Error> {
    match source {
        Source::Sql(s) => {
            let url = match (&s.url, &s.url_env) {
                (Some(u), _) => u.clone(),
                (None, Some(var)) => std::env::var(var).map_err(|_| Error::Config {
                    source_name: s.name.clone(),
                    message: format!("environment variable `{var}` is not set"),
                })?,
                (None, None) => {
                    return Err(Error::Config {
                        source_name: s.name.clone(),
                        message: "no url_env".into(),
                    });
                }
            };
            let probes = probe::dir(&cfg.resolve(&cfg.paths.ledger));
            sql::land(
                lake,
                s,
                &url,
                &cfg.base_dir,
                Some(&probes),
                Duration::from_secs(cfg.limits.connect_timeout_secs),
                Duration::from_secs(cfg.limits.source_timeout_secs),
            )
            .await
            .map(|r| vec![r])
        }
        other => {
            let (lake, cfg_base, source) = (lake.clone(), cfg.clone(), other.clone());
            let force = cfg.organisation.force.clone();
            let part = part.cloned();
            let guard = Arc::clone(guard);
            let span = tracing::Span::current();
            let joined = tokio::task::spawn_blocking(move || {
                let _e = span.enter();
                let _held = guard;
                let mut problems = Vec::new();
                let r = land_file_source(
                    &lake,
                    &cfg_base,
                    &source,
                    force.as_deref(),
                    part.as_ref(),
                    &mut problems,
                );
                (r, problems)
            })
            .await;
            match joined {
                Ok((r, p)) => {
                    problems.extend(p);
                    r
                }
                Err(e) => Err(Error::Internal(format!("landing task failed: {e}"))),
            }
        }
    }
}

fn land_file_source(
    lake: &Lake,
    cfg: &Config,
    source: &Source,
    force: Option<&str>,
    part: Option<&Partition>,
    problems: &mut Vec<String>,
) -> Result<Vec<DatasetReport>, Error> {
    let check = |p: &Path| -> Result<PathBuf, Error> {
        if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::Config {
                source_name: source.name().to_string(),
                message: format!("{} does not exist", p.display()),
            })
        }
    };
    match source {
        Source::PoliceUk(s) => {
            land_police_uk(lake, &check(&cfg.resolve(&s.path))?, force, part, problems)
                .map(|r| vec![r])
        }
        Source::Stats19(s) => land_stats19(lake, &check(&cfg.resolve(&s.path))?, problems),
        Source::OnsPopulation(s) => {
            land_ons_population(lake, &check(&cfg.resolve(&s.path))?, problems).map(|r| vec![r])
        }
        Source::Csv(s) => {
            land_csv(lake, s, &check(&cfg.resolve(&s.path))?, problems).map(|r| vec![r])
        }
        Source::Sql(_) => Err(Error::Internal("SQL source on the file path".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_commit_race_is_retried_and_a_refused_file_is_not() {
        let conflict = Error::Lake(lake::Error::Conflict {
            dataset: "police_uk_street".into(),
            why: "both changed the same partitions".into(),
        });
        assert!(conflict.is_transient());
        let locked = Error::Lake(lake::Error::Locked {
            path: "lake/.lock".into(),
        });
        assert!(!locked.is_transient());
    }

    #[test]
    fn a_partition_keeps_exactly_its_months_and_forces() {
        let p = Partition::parse(&[
            "month=2024-11..2025-02".to_string(),
            "force=merseyside,cumbria".to_string(),
        ])
        .unwrap();
        assert!(p.keeps("2024-11-merseyside"));
        assert!(p.keeps("2025-02-cumbria"));
        assert!(!p.keeps("2024-10-merseyside"), "a month before the range");
        assert!(!p.keeps("2025-03-cumbria"), "a month after it");
        assert!(!p.keeps("2025-01-lancashire"), "another force");
        // A force whose name ends like a chosen one is another force.
        assert!(!p.keeps("2025-01-west-cumbria"));
        assert_eq!(p.to_string(), "2024-11..2025-02, merseyside, cumbria");
        let y = Partition::parse(&["year=2024".to_string()]).unwrap();
        assert!(y.keeps("2024-01-avon-and-somerset") && y.keeps("2024-12-kent"));
        assert!(!y.keeps("2023-12-kent") && !y.keeps("2025-01-kent"));
        for bad in [
            "month=2024-13",
            "month=2025-02..2024-11",
            "county=lancs",
            "force=Merseyside",
            "2024",
        ] {
            let e = Partition::parse(&[bad.to_string()]).unwrap_err();
            assert!(e.starts_with(&format!("--partition {bad}")), "{bad}: {e}");
        }
    }
}
