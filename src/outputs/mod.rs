//! Outputs: what a run leaves for people to read.
//!
//! `outputs/*.toml` declares each output (indicators, audience, formats,
//! template cells). Each lands in `outputs/<name>/<period>/` with a
//! `manifest.json` beside it, and `outputs/<name>/latest.json` points at the
//! newest good one. Everything for one output is built in a staging folder
//! and renamed into place whole; the pointer moves last, so a failed or
//! partial run never replaces the last good pack.

pub mod pack;
pub mod pdf;
pub mod svg;
pub mod xlsx;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::evaluation::ResultRow;
use crate::geography::{LANCASHIRE_12_CODE, LANCASHIRE_14_CODE};

use crate::indicators::{Indicator, Point};

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
    /// An output definition is wrong.
    #[error("{path}: {message}")]
    Definition {
        /// The `.toml` file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
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

/// Shown in place of a suppressed figure.
pub const SUPPRESSED: &str = "[c]";

/// Who an output is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Public committee papers: small numbers suppressed everywhere.
    Public,
    /// Officers: everything shown.
    Internal,
}

/// File formats an output can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The returns workbook.
    Xlsx,
    /// The committee pack, HTML.
    Html,
    /// The committee pack, PDF (via headless Chromium).
    Pdf,
}

/// A statutory-return cell: which figure goes where.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateCell {
    /// Sheet name in the workbook.
    pub sheet: String,
    /// Cell reference, e.g. `C5`.
    pub cell: String,
    /// A label written to the left of the value.
    #[serde(default)]
    pub label: Option<String>,
    /// Indicator id.
    pub indicator: String,
    /// Area code (default Lancashire-14).
    #[serde(default)]
    pub area: Option<String>,
    /// Period type name (default `financial_year`), latest complete period.
    #[serde(default)]
    pub period: Option<String>,
}

/// One declared output, from `outputs/<name>.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputDef {
    /// Folder name under `outputs/` (defaults to the file stem).
    #[serde(default)]
    pub name: String,
    /// Title printed on the output.
    pub title: String,
    /// Public or internal.
    pub audience: Audience,
    /// What to produce.
    pub formats: Vec<Format>,
    /// Themes to include (empty: all).
    #[serde(default)]
    pub themes: Vec<String>,
    /// Indicator ids to include (empty: all in the themes).
    #[serde(default)]
    pub indicators: Vec<String>,
    /// Headline area code (default Lancashire-12, else Lancashire-14).
    #[serde(default)]
    pub headline_area: Option<String>,
    /// Statutory-return template cells (workbook only).
    #[serde(default)]
    pub cells: Vec<TemplateCell>,
}

impl OutputDef {
    /// The default when a project declares no outputs: an internal returns
    /// workbook of everything.
    pub fn default_returns() -> OutputDef {
        OutputDef {
            name: "indicator-returns".into(),
            title: "Community safety performance return".into(),
            audience: Audience::Internal,
            formats: vec![Format::Xlsx],
            themes: Vec::new(),
            indicators: Vec::new(),
            headline_area: None,
            cells: Vec::new(),
        }
    }

    /// Whether an indicator belongs in this output.
    pub fn includes(&self, id: &str, theme: &str) -> bool {
        (self.indicators.is_empty() || self.indicators.iter().any(|i| i == id))
            && (self.themes.is_empty() || self.themes.iter().any(|t| t.eq_ignore_ascii_case(theme)))
    }
}

/// Read every `*.toml` output definition in a folder, sorted by name.
pub fn load_definitions(dir: &Path) -> Result<Vec<OutputDef>, Error> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(vec![OutputDef::default_returns()]);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        let mut def: OutputDef = toml::from_str(&text).map_err(|e| Error::Definition {
            path: p.clone(),
            message: e.to_string(),
        })?;
        if def.name.is_empty() {
            def.name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        if def.formats.is_empty() {
            return Err(Error::Definition {
                path: p,
                message: "`formats` is empty: list xlsx, html and/or pdf".into(),
            });
        }
        out.push(def);
    }
    if out.is_empty() {
        out.push(OutputDef::default_returns());
    }
    Ok(out)
}

/// A value for display, `[c]` when hidden, `-` when missing.
pub fn fmt_value(v: Option<f64>, hidden: bool, unit: &str) -> String {
    if hidden {
        return SUPPRESSED.into();
    }
    let Some(v) = v else {
        return "-".into();
    };
    if unit == "percentage" {
        format!("{v:.1}%")
    } else if unit.starts_with("rate") {
        format!("{v:.2}")
    } else if (v - v.round()).abs() < 1e-9 {
        crate::evaluation::spec::thousands(v.round())
    } else {
        format!("{v:.1}")
    }
}

/// One indicator as an output shows it.
#[derive(Debug)]
pub struct Item<'a> {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Theme (section).
    pub theme: String,
    /// Description.
    pub description: String,
    /// Unit label.
    pub unit: String,
    /// Polarity label.
    pub polarity: String,
    /// Failure reason.
    pub error: Option<String>,
    /// Latest complete rolling 12 months (headline area).
    pub rolling: Option<&'a ResultRow>,
    /// Latest complete reporting year.
    pub year: Option<&'a ResultRow>,
    /// Latest complete month.
    pub month: Option<&'a ResultRow>,
    /// (class, words) status.
    pub status: (&'static str, &'static str),
    /// (class, kind) latest SPC variation.
    pub spc: (&'static str, &'static str),
    /// Why the data is out of date, if it is.
    pub stale: Option<String>,
    /// Districts worse than last year while the headline improved.
    pub districts_worse: Vec<String>,
    meta: &'a BTreeMap<String, String>,
}

impl Item<'_> {
    /// A header value.
    pub fn meta(&self, k: &str) -> Option<&str> {
        self.meta.get(k).map(String::as_str)
    }

    /// In the exception report?
    pub fn is_exception(&self) -> bool {
        !self.reasons().is_empty()
    }

    /// Why it is an exception.
    pub fn reasons(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(e) = &self.error {
            v.push(format!("failed: {e}"));
        }
        if self.status.0 == "red" {
            v.push("red: target missed, not improving".into());
        }
        if self.spc.0 == "red" {
            v.push("special-cause concern in the latest month".into());
        }
        if let Some(s) = &self.stale {
            v.push(s.clone());
        }
        if !self.districts_worse.is_empty() {
            v.push(format!(
                "worse than last year in {} while the headline figure is not",
                self.districts_worse.join(", ")
            ));
        }
        v
    }
}

/// Everything the pack and workbook builders read.
#[derive(Debug)]
pub struct PackData<'a> {
    /// The output definition.
    pub def: &'a OutputDef,
    /// Public (suppress) or internal.
    pub public: bool,
    /// Organisation.
    pub organisation: String,
    /// Run id.
    pub run_id: &'a str,
    /// Run time.
    pub run_time: &'a str,
    /// Reporting period label (`September 2025`).
    pub period_label: String,
    /// Reporting month.
    pub reporting_month: Option<NaiveDate>,
    /// Headline area code and name.
    pub headline_area: String,
    /// Its name.
    pub headline_area_name: String,
    /// Freshness per dataset.
    pub freshness: &'a [Freshness],
    /// Indicators in this output.
    pub series: Vec<&'a Series>,
    /// Results for those indicators.
    pub results: Vec<&'a ResultRow>,
    /// Officer commentary by indicator id.
    pub commentary: HashMap<String, String>,
}

impl<'a> PackData<'a> {
    /// Assemble the data for one output.
    pub fn new(def: &'a OutputDef, view: &'a RunView<'a>, commentary_dir: &Path) -> PackData<'a> {
        let series: Vec<&Series> = view
            .series
            .iter()
            .filter(|s| def.includes(&s.indicator.id, &s.indicator.theme))
            .collect();
        let ids: std::collections::HashSet<&str> =
            series.iter().map(|s| s.indicator.id.as_str()).collect();
        let results: Vec<&ResultRow> = view
            .results
            .iter()
            .filter(|r| ids.contains(r.indicator_id.as_str()))
            .collect();
        let headline_area = def.headline_area.clone().unwrap_or_else(|| {
            if results.iter().any(|r| r.area_code == LANCASHIRE_12_CODE) {
                LANCASHIRE_12_CODE.into()
            } else {
                LANCASHIRE_14_CODE.into()
            }
        });
        let headline_area_name = results
            .iter()
            .find(|r| r.area_code == headline_area)
            .map(|r| r.area_name.clone())
            .unwrap_or_else(|| headline_area.clone());
        let period = view.latest_month.map(|m| m.format("%Y-%m").to_string());
        let mut commentary = HashMap::new();
        if let Some(p) = &period {
            for s in &series {
                let f = commentary_dir
                    .join(p)
                    .join(format!("{}.md", s.indicator.id));
                if let Ok(text) = std::fs::read_to_string(&f)
                    && !text.trim().is_empty()
                {
                    commentary.insert(s.indicator.id.clone(), text);
                }
            }
        }
        PackData {
            def,
            public: def.audience == Audience::Public,
            organisation: view.organisation.clone(),
            run_id: view.run_id,
            run_time: view.run_time,
            period_label: view.period_label(),
            reporting_month: view.latest_month,
            headline_area,
            headline_area_name,
            freshness: &view.freshness,
            series,
            results,
            commentary,
        }
    }

    /// Themes in catalogue order, with an HTML id for each.
    pub fn themes(&self) -> Vec<(String, String)> {
        let mut seen: Vec<String> = Vec::new();
        for s in &self.series {
            if !seen.contains(&s.indicator.theme) {
                seen.push(s.indicator.theme.clone());
            }
        }
        seen.into_iter()
            .map(|t| (format!("theme-{}", slug(&t)), t))
            .collect()
    }

    fn latest(&self, id: &str, area: &str, kinds: &[&str]) -> Option<&'a ResultRow> {
        self.results
            .iter()
            .filter(|r| {
                r.indicator_id == id
                    && r.area_code == area
                    && r.complete
                    && kinds.contains(&r.period_type.as_str())
            })
            .max_by_key(|r| r.period_end)
            .copied()
    }

    /// Items, one per indicator, in catalogue order.
    pub fn items(&self) -> Vec<Item<'a>> {
        self.series
            .iter()
            .map(|s| {
                let id = &s.indicator.id;
                let rolling = self.latest(id, &self.headline_area, &["rolling_12_months"]);
                let year = self.latest(
                    id,
                    &self.headline_area,
                    &["financial_year", "calendar_year"],
                );
                let month = self.latest(id, &self.headline_area, &["month"]);
                let polarity = rolling
                    .map(|r| r.polarity.clone())
                    .unwrap_or_else(|| s.indicator.polarity.clone());
                let status = pack::status_of(year, &polarity);
                let spc = pack::spc_class(month.and_then(|m| m.spc_variation.as_deref()));
                let calendar_year = s
                    .indicator
                    .meta
                    .get("calendar")
                    .is_some_and(|c| c.contains("calendar"));
                // Freshness comes from the source tables, not the points: a
                // count with no events lately (homicides) is not stale.
                let source_latest = s.indicator.meta.get("sources").and_then(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter_map(|t| self.freshness.iter().find(|f| f.dataset == t))
                        .filter_map(|f| f.to.as_deref())
                        .filter_map(crate::sources::police_uk::parse_month)
                        .max()
                });
                let last_data = source_latest.or_else(|| s.points.iter().map(|p| p.month).max());
                let stale = match (last_data, self.reporting_month) {
                    (Some(last), Some(rep)) => {
                        let behind = crate::evaluation::periods::month_index(rep)
                            - crate::evaluation::periods::month_index(last);
                        // Annual releases (STATS19) lag by design: allow a year.
                        let allowed = if calendar_year { 21 } else { 3 };
                        (behind > allowed)
                            .then(|| format!("out of date: data only to {}", last.format("%b %Y")))
                    }
                    _ => None,
                };
                let headline_better = rolling
                    .and_then(|r| r.direction_sply.as_deref())
                    .is_some_and(|d| !d.contains("worse"));
                let districts_worse: Vec<String> = if headline_better {
                    self.districts(id)
                        .into_iter()
                        .filter(|r| !(self.public && (r.suppressed || r.sply_suppressed)))
                        .filter(|r| {
                            r.direction_sply
                                .as_deref()
                                .is_some_and(|d| d.contains("worse"))
                        })
                        // A district counts as struggling at 10% worse than last
                        // year: smaller moves are mostly noise in small areas.
                        .filter(|r| match (r.value, r.sply_value) {
                            (Some(v), Some(s)) if s.abs() > 1e-9 => ((v - s) / s).abs() >= 0.10,
                            _ => false,
                        })
                        .map(|r| r.area_name.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                Item {
                    id: id.clone(),
                    title: s.indicator.title.clone(),
                    theme: s.indicator.theme.clone(),
                    description: s
                        .indicator
                        .meta
                        .get("description")
                        .cloned()
                        .unwrap_or_default(),
                    unit: s.indicator.unit.clone(),
                    polarity,
                    error: s.error.clone(),
                    rolling,
                    year,
                    month,
                    status,
                    spc,
                    stale,
                    districts_worse,
                    meta: &s.indicator.meta,
                }
            })
            .collect()
    }

    /// The headline area's complete months for an indicator, oldest first.
    pub fn months(&self, id: &str) -> Vec<&'a ResultRow> {
        let mut v: Vec<&ResultRow> = self
            .results
            .iter()
            .filter(|r| {
                r.indicator_id == id
                    && r.area_code == self.headline_area
                    && r.period_type == "month"
                    && r.complete
            })
            .copied()
            .collect();
        v.sort_by_key(|r| r.period_start);
        v
    }

    /// District rows of the latest complete rolling 12 months.
    pub fn districts(&self, id: &str) -> Vec<&'a ResultRow> {
        let rows: Vec<&ResultRow> = self
            .results
            .iter()
            .filter(|r| {
                r.indicator_id == id
                    && r.area_level == "district"
                    && r.period_type == "rolling_12_months"
                    && r.complete
            })
            .copied()
            .collect();
        let Some(latest) = rows.iter().map(|r| r.period_end).max() else {
            return Vec::new();
        };
        let mut v: Vec<&ResultRow> = rows
            .into_iter()
            .filter(|r| r.period_end == latest)
            .collect();
        v.sort_by(|a, b| a.area_name.cmp(&b.area_name));
        v
    }
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Provenance written beside every output.
#[derive(Debug, Serialize)]
struct OutputManifest<'a> {
    output: &'a str,
    title: &'a str,
    audience: Audience,
    period: String,
    run_id: &'a str,
    run_time: &'a str,
    software_version: &'static str,
    files: Vec<FileRef>,
    inputs: &'a [Freshness],
    queries: Vec<QueryRef<'a>>,
    notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct FileRef {
    name: String,
    sha256: String,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct QueryRef<'a> {
    id: &'a str,
    path: String,
    sha256: &'a str,
    status: &'a str,
}

/// What writing one output produced.
#[derive(Debug, Default)]
pub struct Written {
    /// Files now in place.
    pub files: Vec<PathBuf>,
    /// Things a person should know (a missing PDF engine, say).
    pub notes: Vec<String>,
}

/// Build and publish one output: every file into a staging folder, then
/// the folder renamed into place and the `latest.json` pointer moved.
pub fn write_output(
    outputs_dir: &Path,
    commentary_dir: &Path,
    def: &OutputDef,
    view: &RunView<'_>,
) -> Result<Written, Error> {
    let period = view
        .latest_month
        .map(|m| m.format("%Y-%m").to_string())
        .unwrap_or_else(|| "no-data".into());
    let base = outputs_dir.join(&def.name);
    let staging = base.join(format!(".staging-{}", view.run_id));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = (|| -> Result<Vec<String>, Error> {
        let data = PackData::new(def, view, commentary_dir);
        let stem = format!("{}-{}", def.name, period);
        let mut notes = Vec::new();
        if def.formats.contains(&Format::Xlsx) {
            let bytes = xlsx::build(view, &data)?;
            crate::lake::atomic_write(&staging.join(format!("{stem}.xlsx")), &bytes)?;
        }
        let wants_html = def.formats.contains(&Format::Html) || def.formats.contains(&Format::Pdf);
        if wants_html {
            let html = pack::build(&data);
            crate::lake::atomic_write(&staging.join(format!("{stem}.html")), html.as_bytes())?;
            if def.formats.contains(&Format::Pdf) {
                match pdf::render(
                    &staging.join(format!("{stem}.html")),
                    &staging.join(format!("{stem}.pdf")),
                ) {
                    Ok(()) => {}
                    Err(e) => notes.push(format!(
                        "PDF not produced: {e}. The HTML pack and workbook are complete."
                    )),
                }
            }
            if !def.formats.contains(&Format::Html) {
                let _ = std::fs::remove_file(staging.join(format!("{stem}.html")));
            }
        }
        Ok(notes)
    })();
    let notes = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };

    // Manifest: every file with its hash, inputs, queries.
    let mut files = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&staging)
        .map_err(io(&staging))?
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in &names {
        let bytes = std::fs::read(p).map_err(io(p))?;
        use sha2::Digest;
        files.push(FileRef {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
        });
    }
    let manifest = OutputManifest {
        output: &def.name,
        title: &def.title,
        audience: def.audience,
        period: period.clone(),
        run_id: view.run_id,
        run_time: view.run_time,
        software_version: env!("CARGO_PKG_VERSION"),
        files,
        inputs: &view.freshness,
        queries: view
            .series
            .iter()
            .filter(|s| def.includes(&s.indicator.id, &s.indicator.theme))
            .map(|s| QueryRef {
                id: &s.indicator.id,
                path: s.indicator.path.display().to_string(),
                sha256: &s.indicator.sql_hash,
                status: if s.error.is_some() { "failed" } else { "ok" },
            })
            .collect(),
        notes: notes.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Json(e.to_string()))?;
    crate::lake::atomic_write(&staging.join("manifest.json"), &json)?;

    // Swap the staging folder in whole.
    let dest = base.join(&period);
    let old = base.join(format!(".old-{}", view.run_id));
    if dest.exists() {
        std::fs::rename(&dest, &old).map_err(io(&dest))?;
    }
    if let Err(e) = std::fs::rename(&staging, &dest) {
        if old.exists() {
            let _ = std::fs::rename(&old, &dest);
        }
        return Err(Error::Io {
            path: dest,
            source: e,
        });
    }
    let _ = std::fs::remove_dir_all(&old);
    crate::lake::sync_dir(&base)?;
    let latest = serde_json::json!({ "period": period, "dir": period, "run_id": view.run_id });
    crate::lake::atomic_write(&base.join("latest.json"), latest.to_string().as_bytes())?;
    let mut out = Written {
        files: names
            .iter()
            .filter_map(|p| p.file_name().map(|n| dest.join(n)))
            .collect(),
        notes,
    };
    out.files.push(dest.join("manifest.json"));
    Ok(out)
}
