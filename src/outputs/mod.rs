//! Outputs: what a run leaves for people to read.
//!
//! Each output lands in `outputs/<name>/<period>/` with a `manifest.json`
//! beside it, and `outputs/<name>/latest.json` points at the newest good one.
//! Files are written whole and renamed into place; the pointer moves last,
//! so a failed run never replaces the last good output.

pub mod xlsx;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use crate::indicators::{Indicator, Point};
use crate::lake::atomic_write;

/// Errors writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// rust_xlsxwriter refused something.
    #[error("workbook: {0}")]
    Xlsx(String),
    /// Writing a file failed.
    #[error(transparent)]
    Lake(#[from] crate::lake::Error),
    /// Serialising a manifest failed.
    #[error("manifest: {0}")]
    Json(String),
}

/// How fresh one dataset is.
#[derive(Debug, Clone, Serialize)]
pub struct Freshness {
    /// Dataset name.
    pub dataset: String,
    /// Rows in the lake.
    pub rows: u64,
    /// Earliest month.
    pub from: Option<String>,
    /// Latest month.
    pub to: Option<String>,
    /// Fingerprints of the inputs, for the provenance record.
    pub inputs: Vec<(String, String)>,
}

/// One indicator's result for this run.
#[derive(Debug, Clone)]
pub struct Series {
    /// The indicator.
    pub indicator: Indicator,
    /// Its monthly points.
    pub points: Vec<Point>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Everything an output needs to know about a run.
#[derive(Debug)]
pub struct RunView<'a> {
    /// Organisation name.
    pub organisation: String,
    /// Run id.
    pub run_id: &'a str,
    /// When the run started (RFC 3339).
    pub run_time: &'a str,
    /// Latest month with data across the indicators.
    pub latest_month: Option<NaiveDate>,
    /// Freshness per dataset.
    pub freshness: Vec<Freshness>,
    /// Indicator results.
    pub series: Vec<Series>,
    /// Evaluated results (indicator × area × period).
    pub results: Vec<crate::evaluation::ResultRow>,
}

impl RunView<'_> {
    /// `January 2025`, or `no data`.
    pub fn period_label(&self) -> String {
        self.latest_month
            .map(|m| m.format("%B %Y").to_string())
            .unwrap_or_else(|| "no data".into())
    }
}

/// Provenance written beside every output.
#[derive(Debug, Serialize)]
struct OutputManifest<'a> {
    output: &'a str,
    period: String,
    run_id: &'a str,
    run_time: &'a str,
    software_version: &'static str,
    files: Vec<String>,
    inputs: &'a [Freshness],
    queries: Vec<QueryRef<'a>>,
}

#[derive(Debug, Serialize)]
struct QueryRef<'a> {
    id: &'a str,
    path: String,
    sha256: &'a str,
    status: &'a str,
}

/// Write the returns workbook for a run; returns the paths written.
pub fn write_returns(outputs_dir: &Path, view: &RunView<'_>) -> Result<Vec<PathBuf>, Error> {
    let name = "indicator-returns";
    let period = view
        .latest_month
        .map(|m| m.format("%Y-%m").to_string())
        .unwrap_or_else(|| "no-data".into());
    let dir = outputs_dir.join(name).join(&period);
    let bytes = xlsx::build(view)?;
    let file_name = format!("{name}-{period}.xlsx");
    let xlsx_path = dir.join(&file_name);
    atomic_write(&xlsx_path, &bytes)?;

    let manifest = OutputManifest {
        output: name,
        period: period.clone(),
        run_id: view.run_id,
        run_time: view.run_time,
        software_version: env!("CARGO_PKG_VERSION"),
        files: vec![file_name],
        inputs: &view.freshness,
        queries: view
            .series
            .iter()
            .map(|s| QueryRef {
                id: &s.indicator.id,
                path: s.indicator.path.display().to_string(),
                sha256: &s.indicator.sql_hash,
                status: if s.error.is_some() { "failed" } else { "ok" },
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Json(e.to_string()))?;
    let manifest_path = dir.join("manifest.json");
    atomic_write(&manifest_path, &json)?;
    let latest =
        serde_json::json!({ "period": period, "dir": format!("{period}"), "run_id": view.run_id });
    atomic_write(
        &outputs_dir.join(name).join("latest.json"),
        latest.to_string().as_bytes(),
    )?;
    Ok(vec![xlsx_path, manifest_path])
}
