//! Outputs: what a run leaves for people to read.
//!
//! `outputs/*.toml` declares each output (indicators, audience, formats,
//! template cells). Each lands in `outputs/<name>/<period>/` with a
//! `manifest.json` beside it, and `outputs/<name>/latest.json` points at the
//! newest good one. Everything for one output is built in a staging folder
//! and renamed into place whole; the pointer moves last, so a failed or
//! partial run never replaces the last good pack.

pub(crate) mod fingerprint;
pub use fingerprint::{figures_digest, view_fingerprint};
use fingerprint::{output_fingerprint, unchanged_pack};
pub mod pack;
pub mod pdf;
pub mod svg;
pub mod xlsx;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::evaluation::ResultRow;
use crate::evaluation::periods::PeriodType;
use crate::evaluation::spec::Unit;
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

/// Everything an output needs to know about a run. Owned, so the outputs
/// can be built on a blocking thread.
#[derive(Debug)]
pub struct RunView {
    /// Organisation name.
    pub organisation: String,
    /// Run id.
    pub run_id: String,
    /// When the run started (RFC 3339).
    pub run_time: String,
    /// Latest month with data across the indicators.
    pub latest_month: Option<NaiveDate>,
    /// Freshness per dataset.
    pub freshness: Vec<Freshness>,
    /// Freshness per source against what each declares.
    pub sources: Vec<crate::sources::SourceFreshness>,
    /// The tables each shared view reads, so an indicator built on a view
    /// is flagged when the view's sources are late.
    pub view_tables: BTreeMap<String, Vec<String>>,
    /// Notes about an indicator's figures, by id (a change of basis).
    pub notes: BTreeMap<String, String>,
    /// Source tests whose latest check failed (the pack's data-quality note).
    pub data_checks: Vec<crate::sources::checks::Outcome>,
    /// Indicator results.
    pub series: Vec<Series>,
    /// Evaluated results (indicator × area × period).
    pub results: Vec<crate::evaluation::ResultRow>,
    /// Figures published before for a complete period that have moved
    /// since (a source revised its data).
    pub restatements: Vec<crate::diff::Change>,
    /// [`figures_digest`] of `series` and `results`, when the run already
    /// has it (figures saved or reused); `None` works it out.
    pub figures_digest: Option<String>,
}

impl RunView {
    /// The run that computed the figures: every result carries it. This
    /// run, or on a night with nothing new the run whose figures it
    /// reports.
    pub fn figures_run_id(&self) -> &str {
        self.results
            .first()
            .map_or(self.run_id.as_str(), |r| r.run_id.as_str())
    }

    /// `January 2025`, or `no data`.
    pub fn period_label(&self) -> String {
        self.latest_month
            .map(|m| m.format("%B %Y").to_string())
            .unwrap_or_else(|| "no data".into())
    }
}

/// What a public output says for an indicator that could not be produced.
pub const NOT_AVAILABLE: &str = "not available this period: the figures could not be produced, and the performance team has the reason";

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

impl Format {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
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
    /// The cell of the total this figure is part of ("of which aged under
    /// 25"): it is taken for the total's period and checked not to exceed
    /// it.
    #[serde(default)]
    pub subset_of: Option<String>,
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
    /// `all` (the default): every indicator in full. `exceptions`: the
    /// members' pack, with only the indicators in exception in full and the
    /// rest in the headline table.
    #[serde(default)]
    pub detail: Detail,
    /// Areas shown beside the district table as labelled comparators, not
    /// as part of the headline area (the unitary neighbours Blackburn with
    /// Darwen and Blackpool for Lancashire-12).
    #[serde(default)]
    pub comparators: Vec<String>,
}

/// How much of each indicator a pack shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Every indicator in full.
    #[default]
    All,
    /// Only indicators in exception in full.
    Exceptions,
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
            detail: Detail::All,
            comparators: Vec::new(),
        }
    }

    /// Whether an indicator belongs in this output.
    pub fn includes(&self, id: &str, theme: &str) -> bool {
        (self.indicators.is_empty() || self.indicators.iter().any(|i| i == id))
            && (self.themes.is_empty() || self.themes.iter().any(|t| t.eq_ignore_ascii_case(theme)))
    }

    /// Whether this output may contain `ind`: it is selected, and a public
    /// output never holds an indicator whose disclosure is internal,
    /// whatever the definition says (`safer check` reports the attempt).
    pub fn admits(&self, ind: &Indicator) -> bool {
        self.includes(&ind.id, &ind.theme)
            && !(self.audience == Audience::Public && is_internal(ind))
    }
}

/// True for an indicator marked `disclosure: internal`. When the header has
/// other problems the key is read as written: left out means public (the
/// default, so a failed indicator is still listed as not available), and a
/// value other than `public` (a typo of internal) is not published.
pub fn is_internal(ind: &Indicator) -> bool {
    match crate::evaluation::spec::Spec::from_indicator(ind) {
        Ok(spec) => spec.disclosure == crate::evaluation::spec::Disclosure::Internal,
        Err(_) => ind
            .meta
            .get("disclosure")
            .is_some_and(|d| !d.trim().eq_ignore_ascii_case("public")),
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
pub fn fmt_value(v: Option<f64>, hidden: bool, unit: Unit) -> String {
    if hidden {
        return SUPPRESSED.into();
    }
    let Some(v) = v else {
        return "-".into();
    };
    if unit == Unit::Percentage {
        format!("{v:.1}%")
    } else if matches!(unit, Unit::Rate { .. }) {
        format!("{v:.2}")
    } else if (v - v.round()).abs() < 1e-9 {
        crate::evaluation::spec::thousands(v.round())
    } else {
        format!("{v:.1}")
    }
}

/// How a rated year's status was reached, in words a member can check:
/// "2025-26: 36.3 against a target of 40 (higher is better); missed by 3.7,
/// more than the tolerance of 2". With `hidden`, the figures are left out
/// (the value or its comparison is suppressed) and only the rule is given.
pub fn status_words(
    y: &ResultRow,
    spec: &crate::evaluation::spec::Spec,
    hidden: bool,
) -> Option<String> {
    use crate::evaluation::rag::{RagRule, Status, Target};
    let target = y.target?;
    let status = y.status?;
    let f = |v: f64| fmt_value(Some(v), false, y.unit);
    let tol = RagRule::tolerance_amount(spec.tolerance, target);
    let tol_words = tol.map(|t| format!("the tolerance of {}", f(t)));
    let how = match &spec.target {
        Some(Target::ChangeVsSply(p)) => match y.sply_value {
            Some(sply) if !hidden => format!(
                "a target of {} (last year's {} {} {}%)",
                f(target),
                f(sply),
                if *p >= 0.0 { "plus" } else { "less" },
                p.abs()
            ),
            _ => format!("a target of {p:+}% on the same period last year"),
        },
        _ => format!("a target of {}", f(target)),
    };
    if hidden {
        return Some(format!(
            "{}: rated against {how}; figures suppressed to protect individuals.",
            y.period_label
        ));
    }
    let value = y.value?;
    let gap = (value - target).abs();
    let polarity = spec.polarity.label();
    let result = match status {
        Status::OnTarget => "met".to_string(),
        Status::WithinTolerance => format!(
            "missed by {}, within {}",
            f(gap),
            tol_words.clone().unwrap_or_else(|| "the tolerance".into())
        ),
        Status::MissedImproving | Status::MissedNotImproving => format!(
            "missed by {}{}",
            f(gap),
            tol_words
                .map(|t| format!(", more than {t}"))
                .unwrap_or_default()
        ),
    };
    // A target beaten by half as much again (or, lower being better, by
    // half) no longer stretches anyone: say so for its owner.
    let slack = status == Status::OnTarget
        && target.abs() > 1e-9
        && match spec.polarity {
            crate::evaluation::spc::Polarity::HigherIsBetter => value >= target * 1.5,
            crate::evaluation::spc::Polarity::LowerIsBetter => value <= target * 0.5,
            crate::evaluation::spc::Polarity::Monitor => false,
        };
    Some(format!(
        "{}: {} against {how} ({polarity}); {result}.{}",
        y.period_label,
        f(value),
        if slack {
            " The target is beaten by a wide margin: its owner may wish to review it."
        } else {
            ""
        }
    ))
}

fn typed_unit(ind: &Indicator) -> Option<Unit> {
    crate::evaluation::spec::Spec::from_indicator(ind)
        .ok()
        .map(|s| s.unit)
}

/// Where a district's rate lies against the funnel around the county's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funnel {
    /// Above the upper 99.8% limit.
    Above,
    /// Within the limits.
    Within,
    /// Below the lower limit.
    Below,
}

impl Funnel {
    /// Words for the district table.
    pub fn label(self) -> &'static str {
        match self {
            Funnel::Above => "significantly higher",
            Funnel::Within => "within the limits",
            Funnel::Below => "significantly lower",
        }
    }
}

/// A district's place in the 99.8% Poisson funnel around the county rate:
/// z = (observed - expected) / sqrt(expected), beyond 3.09 either side.
pub fn funnel(d: &ResultRow, county: &ResultRow) -> Option<Funnel> {
    let (Some(rate), Unit::Rate { per }, Some(pop)) = (county.value, county.unit, d.population)
    else {
        return None;
    };
    let expected = rate * pop / per;
    if expected <= 0.0 {
        return None;
    }
    let z = (d.numerator - expected) / expected.sqrt();
    Some(if z > 3.09 {
        Funnel::Above
    } else if z < -3.09 {
        Funnel::Below
    } else {
        Funnel::Within
    })
}

/// Districts whose count lies outside the 99.8% Poisson funnel limits
/// around what the headline area's rate predicts for their population, on
/// the bad side by polarity: a test of significance, not a raw comparison.
/// z = (observed - expected) / sqrt(expected), |z| > 3.09.
pub fn funnel_outliers<'a>(
    districts: &[&'a ResultRow],
    county: &ResultRow,
    polarity: crate::evaluation::spc::Polarity,
) -> Vec<&'a ResultRow> {
    use crate::evaluation::spc::Polarity;
    let (Some(county_rate), Unit::Rate { per }) = (county.value, county.unit) else {
        return Vec::new();
    };
    districts
        .iter()
        .copied()
        .filter(|d| {
            let Some(pop) = d.population else {
                return false;
            };
            let expected = county_rate * pop / per;
            if expected <= 0.0 {
                return false;
            }
            let z = (d.numerator - expected) / expected.sqrt();
            match polarity {
                Polarity::LowerIsBetter => z > 3.09,
                Polarity::HigherIsBetter => z < -3.09,
                Polarity::Monitor => false,
            }
        })
        .collect()
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
    /// When the headline area's comparison with last year cannot be
    /// published (a small count), the same rolling year for the wider area
    /// (pan-Lancashire) if its comparison can: what can be said.
    pub wider: Option<&'a ResultRow>,
    /// Latest complete reporting year.
    pub year: Option<&'a ResultRow>,
    /// Latest complete month.
    pub month: Option<&'a ResultRow>,
    /// (class, words) status.
    pub status: (&'static str, &'static str),
    /// The rated status of the latest complete reporting year.
    pub rated: Option<crate::evaluation::rag::Status>,
    /// Why the figures start late or are not comparable, if they are not.
    pub basis_note: Option<String>,
    /// The headline area's figures published before for a complete period
    /// that have moved since, newest period first.
    pub restated: Vec<&'a crate::diff::Change>,
    /// The indicator's evaluation settings, when its header reads.
    pub spec: Option<crate::evaluation::spec::Spec>,
    /// How the status was reached, in words: the rated period, value,
    /// target (with its arithmetic when it is set against last year),
    /// tolerance and the gap. `None` when there is no target.
    pub status_detail: Option<String>,
    /// The latest month's SPC variation.
    pub variation: Option<crate::evaluation::spc::Variation>,
    /// (class, kind) latest SPC variation.
    pub spc: (&'static str, &'static str),
    /// Why the data is out of date, if it is.
    pub stale: Option<String>,
    /// Districts of the headline area whose latest month shows
    /// special-cause concern on their own chart.
    pub districts_concern: Vec<String>,
    /// Districts whose rate over the latest rolling year lies outside the
    /// 99.8% funnel limits around the headline area's rate, on the bad side.
    /// Shown beside the district table, not a reason for an exception: with
    /// large counts a lasting difference between places is always
    /// "significant", and it is not news each month.
    pub districts_outlying: Vec<String>,
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
        if self.rated == Some(crate::evaluation::rag::Status::MissedNotImproving) {
            v.push("red: target missed, not improving".into());
        }
        if self.variation == Some(crate::evaluation::spc::Variation::Concern) {
            v.push("special-cause concern in the latest month".into());
        }
        if let Some(s) = &self.stale {
            v.push(s.clone());
        }
        if !self.districts_concern.is_empty() {
            v.push(format!(
                "special-cause concern in the latest month in {}",
                self.districts_concern.join(", ")
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
    /// The run that computed the figures: `run_id`, or on a night with
    /// nothing new the run whose figures this one reports.
    pub figures_run_id: &'a str,
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
    /// Freshness per source.
    pub sources: &'a [crate::sources::SourceFreshness],
    /// Failing source tests.
    pub data_checks: &'a [crate::sources::checks::Outcome],
    /// The tables each view reads.
    pub view_tables: &'a BTreeMap<String, Vec<String>>,
    /// Notes about an indicator's figures, by id.
    pub notes: &'a BTreeMap<String, String>,
    /// Published figures that have moved since.
    pub restatements: &'a [crate::diff::Change],
    /// Indicators in this output.
    pub series: Vec<&'a Series>,
    /// Results for those indicators.
    pub results: Vec<&'a ResultRow>,
    /// The same results by indicator id. Every lookup is for one
    /// indicator, and scanning all results for each one made a ten-year
    /// pack quadratic: 16 s of a 26 s nightly run went on those scans.
    by_indicator: HashMap<&'a str, Vec<&'a ResultRow>>,
    /// Officer commentary by indicator id.
    pub commentary: HashMap<String, String>,
}

/// Officer commentary for the month, by indicator id, for the indicators
/// `def` admits: `outputs/commentary/<YYYY-MM>/<indicator id>.md`.
pub(crate) fn commentary_for(
    def: &OutputDef,
    view: &RunView,
    commentary_dir: &Path,
) -> HashMap<String, String> {
    let mut commentary = HashMap::new();
    let Some(p) = view.latest_month.map(|m| m.format("%Y-%m").to_string()) else {
        return commentary;
    };
    for s in view.series.iter().filter(|s| def.admits(&s.indicator)) {
        let f = commentary_dir
            .join(&p)
            .join(format!("{}.md", s.indicator.id));
        if let Ok(text) = std::fs::read_to_string(&f)
            && !text.trim().is_empty()
        {
            commentary.insert(s.indicator.id.clone(), text);
        }
    }
    commentary
}

impl<'a> PackData<'a> {
    /// Assemble the data for one output.
    pub fn new(def: &'a OutputDef, view: &'a RunView, commentary_dir: &Path) -> PackData<'a> {
        let mut series: Vec<&Series> = view
            .series
            .iter()
            .filter(|s| def.admits(&s.indicator))
            .collect();
        // Within a priority, indicators of one `group` (a count and its
        // rate, the five hate crime strands) sit together, in catalogue
        // order otherwise.
        let mut theme_rank: Vec<&str> = Vec::new();
        for s in &series {
            if !theme_rank.contains(&s.indicator.theme.as_str()) {
                theme_rank.push(&s.indicator.theme);
            }
        }
        let first_of_group: HashMap<(&str, &str), usize> = {
            let mut m = HashMap::new();
            for (k, s) in series.iter().enumerate() {
                if let Some(g) = s.indicator.meta.get("group") {
                    m.entry((s.indicator.theme.as_str(), g.as_str()))
                        .or_insert(k);
                }
            }
            m
        };
        let order: HashMap<&str, (usize, usize, usize)> = series
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let t = theme_rank
                    .iter()
                    .position(|x| *x == s.indicator.theme)
                    .unwrap_or(0);
                let g = s
                    .indicator
                    .meta
                    .get("group")
                    .and_then(|g| first_of_group.get(&(s.indicator.theme.as_str(), g.as_str())))
                    .copied()
                    .unwrap_or(k);
                (s.indicator.id.as_str(), (t, g, k))
            })
            .collect();
        series.sort_by_key(|s| order.get(s.indicator.id.as_str()).copied());
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
        let mut by_indicator: HashMap<&str, Vec<&ResultRow>> = HashMap::new();
        for r in &results {
            by_indicator
                .entry(r.indicator_id.as_str())
                .or_default()
                .push(r);
        }
        let commentary = commentary_for(def, view, commentary_dir);
        PackData {
            def,
            public: def.audience == Audience::Public,
            organisation: view.organisation.clone(),
            run_id: &view.run_id,
            figures_run_id: view.figures_run_id(),
            run_time: &view.run_time,
            period_label: view.period_label(),
            reporting_month: view.latest_month,
            headline_area,
            headline_area_name,
            freshness: &view.freshness,
            sources: &view.sources,
            view_tables: &view.view_tables,
            notes: &view.notes,
            restatements: &view.restatements,
            data_checks: &view.data_checks,
            series,
            results,
            by_indicator,
            commentary,
        }
    }

    /// The results of one indicator, in the order they were evaluated.
    pub fn rows_of(&self, id: &str) -> &[&'a ResultRow] {
        self.by_indicator.get(id).map_or(&[], Vec::as_slice)
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

    fn latest(&self, id: &str, area: &str, kinds: &[PeriodType]) -> Option<&'a ResultRow> {
        self.rows_of(id)
            .iter()
            .filter(|r| r.area_code == area && r.complete && kinds.contains(&r.period_type))
            .max_by_key(|r| r.period_end)
            .copied()
    }

    /// Items, one per indicator, in catalogue order.
    pub fn items(&self) -> Vec<Item<'a>> {
        self.series
            .iter()
            .map(|s| {
                let id = &s.indicator.id;
                let rolling = self.latest(id, &self.headline_area, &[PeriodType::Rolling12]);
                let year = self.latest(
                    id,
                    &self.headline_area,
                    &[PeriodType::FinancialYear, PeriodType::CalendarYear],
                );
                let month = self.latest(id, &self.headline_area, &[PeriodType::Month]);
                let typed_polarity = rolling
                    .map(|r| r.polarity)
                    .or_else(|| crate::evaluation::spc::Polarity::parse(&s.indicator.polarity))
                    .unwrap_or_default();
                let polarity = typed_polarity.label().to_string();
                let status = pack::status_of(year, typed_polarity);
                let rated = year.and_then(|y| y.status);
                let spec = crate::evaluation::spec::Spec::from_indicator(&s.indicator).ok();
                let status_detail = year.zip(spec.as_ref()).and_then(|(y, spec)| {
                    status_words(y, spec, self.public && (y.suppressed || y.sply_suppressed))
                });
                let variation = month.and_then(|m| m.spc_variation);
                let spc = pack::spc_class(variation);
                // Freshness comes from the sources, as each declares it
                // (police.uk about two months behind, STATS19 once a year),
                // not from the points: a count with no events lately
                // (homicides) is not stale.
                let mut tables: Vec<&str> = s
                    .indicator
                    .meta
                    .get("tables")
                    .map(|list| list.split(',').map(str::trim).collect())
                    .unwrap_or_default();
                let through_views: Vec<&str> = tables
                    .iter()
                    .filter_map(|t| self.view_tables.get(*t))
                    .flatten()
                    .map(String::as_str)
                    .collect();
                tables.extend(through_views);
                let stale = self
                    .sources
                    .iter()
                    .filter(|f| f.stale && f.tables.iter().any(|t| tables.contains(&t.as_str())))
                    .map(|f| match (f.newest_month, f.expected_from) {
                        (Some(n), Some(e)) => format!(
                            "out of date: {} data only to end of {} (it should reach {} by now)",
                            f.source,
                            n.format("%B %Y"),
                            e.format("%B %Y")
                        ),
                        _ => format!("out of date: no {} data has landed", f.source),
                    })
                    .next();
                // A district is an exception on its own chart's signal,
                // never on a raw rise in a small count. Suppressed months
                // are not named in a public pack.
                let districts_concern: Vec<String> = self
                    .district_months(id)
                    .into_iter()
                    .filter(|r| !(self.public && r.suppressed))
                    .filter(|r| r.spc_variation == Some(crate::evaluation::spc::Variation::Concern))
                    .map(|r| r.area_name.clone())
                    .collect();
                // For a rate: a funnel test of each district against the
                // headline area's rate over the latest rolling year.
                let districts_outlying = rolling
                    .filter(|_| matches!(typed_unit(&s.indicator), Some(Unit::Rate { .. })))
                    .map(|county| {
                        funnel_outliers(&self.districts(id), county, typed_polarity)
                            .into_iter()
                            .filter(|r| !(self.public && r.suppressed))
                            .map(|r| r.area_name.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let wider = rolling
                    .filter(|r| self.public && (r.suppressed || r.sply_suppressed))
                    .filter(|_| self.headline_area != LANCASHIRE_14_CODE)
                    .and_then(|r| {
                        self.rows_of(id)
                            .iter()
                            .find(|w| {
                                w.area_code == LANCASHIRE_14_CODE
                                    && w.period_type == r.period_type
                                    && w.period_end == r.period_end
                                    && !w.suppressed
                                    && !w.sply_suppressed
                                    && w.direction_sply.is_some()
                            })
                            .copied()
                    });
                Item {
                    wider,
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
                    // A public pack says an indicator is missing, never the
                    // engine's message (file paths, SQL): that is in the
                    // ledger for officers.
                    error: s.error.as_ref().map(|e| {
                        if self.public {
                            NOT_AVAILABLE.to_string()
                        } else {
                            e.clone()
                        }
                    }),
                    rolling,
                    year,
                    month,
                    status,
                    rated,
                    basis_note: self.notes.get(id).cloned(),
                    restated: {
                        let mut r: Vec<&crate::diff::Change> = self
                            .restatements
                            .iter()
                            .filter(|c| {
                                &c.indicator_id == id
                                    && c.area_code == self.headline_area
                                    && !(self.public && c.suppressed)
                            })
                            .collect();
                        r.sort_by(|a, b| {
                            a.period_type
                                .cmp(&b.period_type)
                                .then(b.period_label.cmp(&a.period_label))
                        });
                        r
                    },
                    spec,
                    status_detail,
                    variation,
                    spc,
                    stale,
                    districts_concern,
                    districts_outlying,
                    meta: &s.indicator.meta,
                }
            })
            .collect()
    }

    /// The headline area's complete months for an indicator, oldest first.
    pub fn months(&self, id: &str) -> Vec<&'a ResultRow> {
        let mut v: Vec<&ResultRow> = self
            .rows_of(id)
            .iter()
            .filter(|r| {
                r.area_code == self.headline_area
                    && r.period_type == PeriodType::Month
                    && r.complete
            })
            .copied()
            .collect();
        v.sort_by_key(|r| r.period_start);
        v
    }

    /// True if district `code` lies in the headline area: a district table
    /// lists the output's own districts (Lancashire-12 has no Blackburn
    /// with Darwen or Blackpool), so its rows add up to its total row.
    pub fn in_headline_area(&self, code: &str) -> bool {
        crate::geography::district_by_code(code).is_some_and(|d| {
            crate::geography::Crosswalk::ancestors(d)
                .iter()
                .any(|a| a.code == self.headline_area)
        })
    }

    /// The latest complete rows of `kind` for each district of the headline
    /// area.
    fn latest_districts(&self, id: &str, kind: PeriodType) -> Vec<&'a ResultRow> {
        let rows: Vec<&ResultRow> = self
            .rows_of(id)
            .iter()
            .filter(|r| {
                r.area_level == "district"
                    && r.period_type == kind
                    && r.complete
                    && self.in_headline_area(&r.area_code)
            })
            .copied()
            .collect();
        let Some(latest) = rows.iter().map(|r| r.period_end).max() else {
            return Vec::new();
        };
        rows.into_iter()
            .filter(|r| r.period_end == latest)
            .collect()
    }

    /// The latest month row of each district of the headline area.
    pub fn district_months(&self, id: &str) -> Vec<&'a ResultRow> {
        self.latest_districts(id, PeriodType::Month)
    }

    /// The row of `area` for the same indicator and period as `like`.
    fn same_period(&self, like: &ResultRow, area: &str) -> Option<&'a ResultRow> {
        self.rows_of(&like.indicator_id)
            .iter()
            .find(|r| {
                r.area_code == area
                    && r.period_type == like.period_type
                    && r.period_start == like.period_start
                    && r.period_end == like.period_end
            })
            .copied()
    }

    /// The output's comparator areas' rows for the same period as `like`.
    pub fn comparators_for(&self, like: &ResultRow) -> Vec<&'a ResultRow> {
        self.def
            .comparators
            .iter()
            .filter_map(|code| self.same_period(like, code))
            .collect()
    }

    /// The headline area's row for the same period as a district table.
    pub fn total_for(&self, like: &ResultRow) -> Option<&'a ResultRow> {
        self.same_period(like, &self.headline_area)
    }

    /// District rows (of the headline area) of the latest complete rolling
    /// 12 months, by name.
    pub fn districts(&self, id: &str) -> Vec<&'a ResultRow> {
        let mut v = self.latest_districts(id, PeriodType::Rolling12);
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
    /// The run that computed the figures and landed them in the results
    /// table: this run, or on a night with nothing new the run whose
    /// figures it reports (`figures_from` in the ledger).
    figures_run_id: &'a str,
    run_time: &'a str,
    software_version: &'static str,
    /// What the pack was built from (`output_fingerprint`: the run's
    /// [`view_fingerprint`], the definition, the commentary): a later run
    /// with the same keeps this pack instead of printing it again.
    content_sha256: &'a str,
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
    /// The run whose pack was kept because this run's would have said the
    /// same thing (`None`: the pack was built by this run).
    pub kept_from: Option<String>,
}

/// The file an output writes in `format`: `<output>-<period>.<ext>`.
fn file_name(stem: &str, format: Format) -> String {
    format!("{stem}.{}", format.extension())
}

/// Prefix of the folders an output is built in. Readers never look inside
/// one; [`recover`] removes any a killed run left behind.
pub const STAGING_PREFIX: &str = ".staging-";

/// Prefix of the folder a superseded pack is moved to when the filesystem
/// cannot swap two folders in one step.
const OLD_PREFIX: &str = ".old-";

/// The pointer file naming the newest good pack of an output.
pub const LATEST_FILE: &str = "latest.json";

/// Build and publish one output: every file into a staging folder, then
/// the folder swapped into place whole and the `latest.json` pointer moved.
///
/// The order is what makes a kill at any moment safe. The staging folder is
/// complete, manifest last, before anything a reader sees changes. The swap
/// is one `renameat2(RENAME_EXCHANGE)`, so `<period>/` always exists and is
/// always a complete pack with a matching manifest (the old one until the
/// swap, the new one after). `latest.json` names a period folder, not a run,
/// so it is right on both sides of the swap; it moves only forward, so
/// rebuilding an older month (`--as-of`) does not make it point backwards.
///
/// `view_fp` is [`view_fingerprint`] of `view`. When the published pack for
/// the period was built from the same (a night with no new data), it is
/// kept as it is, with its own run id, and nothing is printed again;
/// `rebuild` builds it anyway.
pub fn write_output(
    outputs_dir: &Path,
    commentary_dir: &Path,
    def: &OutputDef,
    view: &RunView,
    view_fp: &str,
    rebuild: bool,
) -> Result<Written, Error> {
    let period = view
        .latest_month
        .map(|m| m.format("%Y-%m").to_string())
        .unwrap_or_else(|| "no-data".into());
    let base = outputs_dir.join(&def.name);
    let stem = format!("{}-{}", def.name, period);
    // The keep check needs only the commentary: indexing half a million
    // results for a pack that is then kept was most of a quiet night's
    // outputs step.
    let fp = output_fingerprint(
        view_fp,
        def,
        &commentary_for(def, view, commentary_dir),
        &view.run_id,
    );
    let dest = base.join(&period);
    if !rebuild && let Some(run) = unchanged_pack(&dest, &fp, def, &stem) {
        let mut files: Vec<PathBuf> = def
            .formats
            .iter()
            .map(|f| dest.join(file_name(&stem, *f)))
            .collect();
        files.push(dest.join("manifest.json"));
        return Ok(Written {
            files,
            notes: Vec::new(),
            kept_from: Some(run),
        });
    }
    let data = PackData::new(def, view, commentary_dir);
    let staging = base.join(format!("{STAGING_PREFIX}{}", view.run_id));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = (|| -> Result<Vec<String>, Error> {
        let mut notes = Vec::new();
        if def.formats.contains(&Format::Xlsx) {
            let bytes = xlsx::build(view, &data)?;
            crate::lake::atomic_write(&staging.join(file_name(&stem, Format::Xlsx)), &bytes)?;
        }
        crate::faults::crash_point("publish:workbook-written");
        let wants_html = def.formats.contains(&Format::Html) || def.formats.contains(&Format::Pdf);
        if wants_html {
            let html = pack::build(&data);
            crate::lake::atomic_write(
                &staging.join(file_name(&stem, Format::Html)),
                html.as_bytes(),
            )?;
            if def.formats.contains(&Format::Pdf) {
                let r = pdf::render(
                    &staging.join(file_name(&stem, Format::Html)),
                    &staging.join(file_name(&stem, Format::Pdf)),
                );
                match r {
                    Ok(()) => {}
                    Err(e) => notes.push(format!(
                        "PDF not produced: {e}. The HTML pack and workbook are complete."
                    )),
                }
            }
            if !def.formats.contains(&Format::Html) {
                let _ = std::fs::remove_file(staging.join(file_name(&stem, Format::Html)));
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
    match finish_staging(&base, &staging, &period, def, view, &fp, notes) {
        Ok(w) => Ok(w),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn finish_staging(
    base: &Path,
    staging: &Path,
    period: &str,
    def: &OutputDef,
    view: &RunView,
    content_sha256: &str,
    notes: Vec<String>,
) -> Result<Written, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    // Manifest: every file with its hash, inputs, queries.
    let mut files = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(staging)
        .map_err(io(staging))?
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in &names {
        // Files written by other programs (the browser's PDF) are made
        // durable here, before the manifest that vouches for them.
        std::fs::File::open(p)
            .and_then(|f| f.sync_all())
            .map_err(io(p))?;
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
        period: period.to_string(),
        run_id: &view.run_id,
        figures_run_id: view.figures_run_id(),
        run_time: &view.run_time,
        software_version: env!("CARGO_PKG_VERSION"),
        content_sha256,
        files,
        inputs: &view.freshness,
        queries: view
            .series
            .iter()
            .filter(|s| def.admits(&s.indicator))
            .map(|s| QueryRef {
                id: &s.indicator.id,
                // Relative to queries/: no machine paths in a published file.
                path: format!(
                    "{}/{}",
                    s.indicator.theme,
                    s.indicator
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                sha256: &s.indicator.sql_hash,
                status: if s.error.is_some() { "failed" } else { "ok" },
            })
            .collect(),
        notes: notes.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Json(e.to_string()))?;
    crate::lake::atomic_write(&staging.join("manifest.json"), &json)?;
    crate::lake::sync_dir(staging)?;
    crate::faults::crash_point("publish:staged");

    // Swap the staging folder in whole.
    let dest = base.join(period);
    if dest.exists() {
        match exchange(staging, &dest) {
            Ok(()) => {
                crate::lake::sync_dir(base)?;
                crate::faults::crash_point("publish:swapped");
                // `staging` now holds the superseded pack.
                let _ = std::fs::remove_dir_all(staging);
            }
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL)
                    || e.raw_os_error() == Some(libc::ENOSYS) =>
            {
                // No atomic exchange on this filesystem: two renames, with
                // `recover` putting the old pack back if we die between them.
                let old = base.join(format!("{OLD_PREFIX}{}", view.run_id));
                std::fs::rename(&dest, &old).map_err(io(&dest))?;
                crate::faults::crash_point("publish:old-moved");
                if let Err(e) = std::fs::rename(staging, &dest) {
                    let _ = std::fs::rename(&old, &dest);
                    return Err(Error::Io {
                        path: dest,
                        source: e,
                    });
                }
                crate::lake::sync_dir(base)?;
                let _ = std::fs::remove_dir_all(&old);
            }
            Err(e) => {
                return Err(Error::Io {
                    path: dest,
                    source: e,
                });
            }
        }
    } else {
        std::fs::rename(staging, &dest).map_err(io(&dest))?;
        crate::lake::sync_dir(base)?;
        crate::faults::crash_point("publish:swapped");
    }
    // The pointer only moves forward in time.
    let latest_path = base.join(LATEST_FILE);
    let current = read_latest(base).map(|l| l.period);
    if current
        .as_deref()
        .is_none_or(|c| period_order(c) <= period_order(period))
    {
        let latest = serde_json::json!({
            "period": period,
            "dir": period,
            "manifest": format!("{period}/manifest.json"),
        });
        crate::lake::atomic_write(&latest_path, latest.to_string().as_bytes())?;
    }
    let mut out = Written {
        files: names
            .iter()
            .filter_map(|p| p.file_name().map(|n| dest.join(n)))
            .collect(),
        notes,
        kept_from: None,
    };
    out.files.push(dest.join("manifest.json"));
    Ok(out)
}

/// What `latest.json` says.
#[derive(Debug, Clone, Deserialize)]
pub struct Latest {
    /// Reporting period, `YYYY-MM`.
    pub period: String,
    /// Folder under the output's folder.
    pub dir: String,
}

/// Read an output's `latest.json`.
pub fn read_latest(base: &Path) -> Option<Latest> {
    let text = std::fs::read_to_string(base.join(LATEST_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Swap two directory entries in one step (Linux `renameat2` with
/// `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them
    // against the working directory as rename(2) would.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Tidy what killed runs left behind: staging folders in the outputs
/// folder and browser scratch folders in the system temp folder are
/// removed; a pack moved aside by the two-rename
/// fallback is put back when its period folder is missing. Call only while
/// holding the run lock (no staging folder then belongs to a live run).
/// Returns a note for each thing done.
pub fn recover(outputs_dir: &Path) -> Vec<String> {
    let mut notes: Vec<String> = pdf::remove_stale_scratch()
        .into_iter()
        .map(|p| {
            format!(
                "removed {}, a browser scratch folder left by a run that was stopped",
                p.display()
            )
        })
        .collect();
    let Ok(entries) = std::fs::read_dir(outputs_dir) else {
        return notes;
    };
    for base in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let Ok(inner) = std::fs::read_dir(&base) else {
            continue;
        };
        let mut leftovers: Vec<PathBuf> = inner.flatten().map(|e| e.path()).collect();
        leftovers.sort();
        for p in leftovers {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with(STAGING_PREFIX) {
                if std::fs::remove_dir_all(&p).is_ok() {
                    notes.push(format!(
                        "removed {}, left by a run that was stopped while writing",
                        p.display()
                    ));
                }
            } else if name.starts_with(OLD_PREFIX) {
                let period = std::fs::read(p.join("manifest.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v["period"].as_str().map(String::from));
                match period {
                    Some(period) if !base.join(&period).exists() => {
                        if std::fs::rename(&p, base.join(&period)).is_ok() {
                            notes.push(format!(
                                "put back {}/{period}, moved aside by a run that was stopped while publishing",
                                base.display()
                            ));
                        }
                    }
                    _ => {
                        let _ = std::fs::remove_dir_all(&p);
                    }
                }
            }
        }
        // A run killed between renaming a new month's pack into place and
        // moving the pointer leaves `latest.json` on the month before. Every
        // period folder is complete (it only appears by a rename of a
        // finished staging folder), so the newest one is the latest pack.
        if let Some(newest) = newest_period(&base) {
            let current = read_latest(&base).map(|l| l.period);
            if current
                .as_deref()
                .is_none_or(|c| period_order(c) < period_order(&newest))
            {
                let latest = serde_json::json!({
                    "period": newest,
                    "dir": newest,
                    "manifest": format!("{newest}/manifest.json"),
                });
                if crate::lake::atomic_write(&base.join(LATEST_FILE), latest.to_string().as_bytes())
                    .is_ok()
                {
                    notes.push(format!(
                        "{}: latest.json moved on to {newest}, which a stopped run had published",
                        base.display()
                    ));
                }
            }
        }
    }
    notes
}

/// Periods in time order: a pack made before any data (`no-data`) comes
/// before every month.
fn period_order(p: &str) -> (bool, &str) {
    (p != "no-data", p)
}

/// The newest `YYYY-MM` folder of an output that holds a manifest.
fn newest_period(base: &Path) -> Option<String> {
    std::fs::read_dir(base)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_period = name.len() == 7
                && name.as_bytes()[4] == b'-'
                && name
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| i == 4 || b.is_ascii_digit());
            (is_period && e.path().join("manifest.json").is_file()).then_some(name)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::period_order;

    #[test]
    fn a_pack_before_any_data_never_outranks_a_month() {
        assert!(period_order("no-data") < period_order("2019-01"));
        assert!(period_order("2026-09") < period_order("2026-10"));
        assert!(period_order("2026-12") < period_order("2027-01"));
    }
}
