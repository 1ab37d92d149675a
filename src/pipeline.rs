//! The job: ingest -> indicators (measure, evaluate) -> outputs, as stage
//! functions with typed hand-offs, and [`run_job`], which runs the steps a
//! caller asks for under the run lock and records each in the ledger.
//!
//! `safer run`, `safer serve`, `safer demo`, `safer check` and `safer bench`
//! all call these functions; none re-implements a stage. Data flows one way:
//! each stage reads what the one before returned and nothing else.
//!
//! Every stage keeps going when one item fails (a source, an indicator, an
//! output) and records the failure; the run then ends `partial` (or
//! `failed` when a whole step failed) and the process exits non-zero so a
//! scheduler or a person notices. Spans are attached with
//! [`Instrument`](tracing::Instrument), never held across `.await`, so the
//! job's future is `Send` and can run on the scheduler's runtime.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use tracing::Instrument;

use crate::config::{self, Config};
use crate::engine::{Engine, EngineLimits};
use crate::evaluation::{self, ResultRow, spec::Spec};
use crate::indicators::{self, Indicator};
use crate::lake::{self, Lake, LakeLock, now_rfc3339, unique_suffix};
use crate::ledger::lock::{Holder, RunLock};
use crate::ledger::{
    self, IndicatorRecord, IndicatorStatus, Ledger, RunRecord, RunStatus, Step, StepRecord,
    StepStatus,
};
use crate::outputs::{self, Freshness, RunView, Series};
use crate::retry::RetryPolicy;
use crate::sources::{self, SourceFreshness, SourceReport};

/// Errors that stop a run before it can record anything useful.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// The lake cannot be opened or locked.
    #[error(transparent)]
    Lake(#[from] lake::Error),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
    /// The demo data could not be generated.
    #[error(transparent)]
    Demo(#[from] crate::demo::Error),
    /// The ledger could not be opened or written, or another run holds the
    /// lock.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// Some other file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

impl From<ledger::lock::Error> for Error {
    fn from(e: ledger::lock::Error) -> Self {
        match e {
            ledger::lock::Error::Held(h) => Error::Ledger(ledger::Error::Locked(h)),
            ledger::lock::Error::Io { path, source } => Error::Io { path, source },
        }
    }
}

impl Error {
    /// True when the run was refused because another holds the lock.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            Error::Ledger(ledger::Error::Locked(_)) | Error::Lake(lake::Error::Locked { .. })
        )
    }
}

/// A new run id: UTC time plus a unique suffix, sortable.
/// The part after the second is its milliseconds and a counter, so ids of
/// runs started in the same second still sort in the order they started.
pub fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let now = chrono::Utc::now();
    let suffix = unique_suffix();
    let tail = &suffix[suffix.len().saturating_sub(3)..];
    format!(
        "{}-{:03}{:02}{tail}",
        now.format("%Y%m%dT%H%M%SZ"),
        now.timestamp_subsec_millis(),
        N.fetch_add(1, Ordering::Relaxed) % 100
    )
}

/// The folder of shared views inside `queries/`.
pub const VIEWS_DIR: &str = "_views";

/// Engine limits from config.
pub fn engine_limits(cfg: &Config) -> EngineLimits {
    EngineLimits {
        memory_bytes: cfg.limits.query_memory_mib * 1024 * 1024,
        timeout: Duration::from_secs(cfg.limits.query_timeout_secs),
        spill_dir: Some(cfg.base_dir.join(".safer-tmp").join("spill")),
        views: Some(cfg.resolve(&cfg.paths.queries).join(VIEWS_DIR)),
        engine: cfg.engine.clone(),
        ..EngineLimits::default()
    }
}

// ---------------------------------------------------------------- ingest

/// What the ingest stage hands on.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// One report per configured source.
    pub sources: Vec<SourceReport>,
}

impl Ingested {
    /// Rows landed across every source.
    pub fn rows_landed(&self) -> u64 {
        self.sources
            .iter()
            .flat_map(|s| s.datasets.iter())
            .map(|d| d.rows_landed)
            .sum()
    }

    /// The step's status: ok, partial (some sources failed) or failed
    /// (every source failed).
    pub fn status(&self) -> StepStatus {
        let failed = self.sources.iter().filter(|s| s.failed()).count();
        if failed == 0 {
            StepStatus::Ok
        } else if failed == self.sources.len() && self.sources.iter().all(|s| s.error.is_some()) {
            StepStatus::Failed
        } else {
            StepStatus::Partial
        }
    }
}

/// Land every configured source, in order. Sources never abort each other;
/// transient failures are retried by `retry`. `guard` is the lake's write
/// lock: landing tasks hold a share of it, so a step abandoned on timeout
/// keeps the lake locked until its last write has finished.
pub async fn ingest(
    cfg: &Config,
    lake: &Lake,
    guard: &Arc<LakeLock>,
    retry: &RetryPolicy,
) -> Ingested {
    let bar = crate::progress::bar(cfg.sources.len() as u64, "ingest");
    let mut out = Vec::new();
    for s in &cfg.sources {
        bar.set_message(s.name().to_string());
        out.push(sources::run(cfg, lake, s, retry, guard, None).await);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ingested { sources: out }
}

// ---------------------------------------------------------------- indicators

/// The indicator catalogue to run: every file under `queries/`, or only
/// the ids in `select`. Load errors come back beside the good ones.
pub fn catalogue(cfg: &Config, select: &[String]) -> (Vec<Indicator>, Vec<String>) {
    let (mut found, errors) = indicators::discover(&cfg.resolve(&cfg.paths.queries));
    let mut problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
    if !select.is_empty() {
        for id in select {
            if !found.iter().any(|i| &i.id == id) {
                problems.push(format!(
                    "indicator `{id}` was asked for but no file has that id"
                ));
            }
        }
        found.retain(|i| select.contains(&i.id));
    }
    (found, problems)
}

/// What measuring hands on: each indicator's monthly points, its parsed
/// spec, and its ledger record.
#[derive(Debug, Default)]
pub struct Measured {
    /// One series per indicator, in catalogue order (failed ones empty).
    pub series: Vec<Series>,
    /// The spec of each indicator that ran, by index into `series`.
    pub specs: Vec<(usize, Spec)>,
    /// Ledger records.
    pub records: Vec<IndicatorRecord>,
}

/// Run every indicator's SQL. One failing does not stop the others. Points
/// after `last_month` (an `--as-of` run) are dropped.
pub async fn measure(
    engine: &Engine,
    catalogue: Vec<Indicator>,
    last_month: Option<NaiveDate>,
) -> Measured {
    let mut m = Measured::default();
    let bar = crate::progress::bar(catalogue.len() as u64, "indicators");
    for ind in catalogue {
        let t = Instant::now();
        let span = tracing::info_span!("indicator", id = %ind.id);
        bar.set_message(ind.id.clone());
        let result = async {
            match indicators::check_header(&ind) {
                Ok(spec) => indicators::run(engine, &ind).await.map(|p| (spec, p)),
                Err(problems) => Err(indicators::Error::Header {
                    path: ind.path.clone(),
                    line: problems.first().map(|p| p.line).unwrap_or(1),
                    message: problems
                        .iter()
                        .map(|p| p.message.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                }),
            }
        }
        .instrument(span.clone())
        .await;
        let seconds = t.elapsed().as_secs_f64();
        let (mut points, error) = span.in_scope(|| match result {
            Ok((spec, p)) => {
                tracing::info!(points = p.len(), seconds, "Indicator measured.");
                m.specs.push((m.series.len(), spec));
                (p, None)
            }
            Err(e) => {
                tracing::error!(error = %e, "Indicator failed; the others still run.");
                (Vec::new(), Some(e.to_string()))
            }
        });
        if let Some(last) = last_month {
            points.retain(|p| p.month <= last);
        }
        m.records.push(IndicatorRecord {
            id: ind.id.clone(),
            path: ind.path.display().to_string(),
            sql_hash: ind.sql_hash.clone(),
            status: if error.is_some() {
                IndicatorStatus::Failed
            } else {
                IndicatorStatus::Ok
            },
            points: points.len(),
            error: error.clone(),
            seconds,
        });
        m.series.push(Series {
            indicator: ind,
            points,
            error,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    m
}

/// What evaluation hands on to the outputs.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// The reporting month the periods end at.
    pub reporting_month: Option<NaiveDate>,
    /// The measured series (outputs chart them).
    pub series: Vec<Series>,
    /// Indicator records for the ledger.
    pub records: Vec<IndicatorRecord>,
    /// Evaluated results, indicator x area x period.
    pub results: Vec<ResultRow>,
    /// Freshness of every lake table, for covers and manifests.
    pub tables: Vec<Freshness>,
    /// Problems not tied to one indicator.
    pub problems: Vec<String>,
    /// Notes for members about an indicator's figures, by indicator id
    /// (a series that starts late because its basis changed).
    pub notes: std::collections::BTreeMap<String, String>,
    /// The Delta version of every lake table the indicators read.
    pub table_versions: std::collections::BTreeMap<String, u64>,
    /// Figures published before for a complete period that have moved
    /// since (a source revised its data), for the pack's restatement note.
    pub restatements: Vec<crate::diff::Change>,
    /// The run these figures were taken from, when nothing the indicators
    /// read had changed since it computed them ([`crate::reuse`]).
    pub figures_from: Option<String>,
    /// [`outputs::figures_digest`] of the series and results, when worked
    /// out already (saved or reused figures).
    pub figures_digest: Option<String>,
}

/// The reporting month: the latest month of the monthly police feed (the
/// backbone of the returns; annual sources such as STATS19 lag behind it),
/// else the latest month any indicator has, capped at the last month that
/// ended on or before `as_of`.
pub fn reporting_month(
    tables: &[Freshness],
    measured: &Measured,
    as_of: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let police_latest = tables
        .iter()
        .find(|f| f.dataset == sources::police_uk::TABLE)
        .and_then(|f| f.to.as_deref())
        .and_then(sources::police_uk::parse_month);
    let latest = police_latest.or_else(|| {
        measured
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.month))
            .max()
    });
    match (latest, as_of.map(last_complete_month)) {
        (Some(l), Some(cap)) => Some(l.min(cap)),
        (None, Some(cap)) => Some(cap),
        (l, None) => l,
    }
}

/// The first day of the last whole month that ended on or before `date`.
pub fn last_complete_month(date: NaiveDate) -> NaiveDate {
    let next = date.succ_opt().unwrap_or(date);
    let first = NaiveDate::from_ymd_opt(next.year(), next.month(), 1).unwrap_or(next);
    crate::outputs::xlsx::shift_months(first, -1)
}

/// Evaluate every measured indicator the same way and, when `land_results`,
/// land the results in the lake's `indicator_results` table.
pub async fn evaluate(
    cfg: &Config,
    lake: &Lake,
    engine: &Engine,
    measured: Measured,
    run_id: &str,
    as_of: Option<NaiveDate>,
    land_results: bool,
) -> Result<Evaluated, Error> {
    let mut problems = Vec::new();
    let t = Instant::now();
    let tables = table_freshness(lake)?;
    let reporting = reporting_month(&tables, &measured, as_of);
    let ctx = evaluation::Context {
        run_id: run_id.to_string(),
        reporting_month: reporting.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        crosswalk: load_crosswalk(engine).await,
        populations: load_populations(engine).await,
        threshold: evaluation::suppress::DEFAULT_THRESHOLD,
        coverage: coverage(cfg, lake, &measured.series),
    };
    let mut measured = measured;
    let mut ctx = ctx;
    let notes = apply_basis_breaks(cfg, engine, &mut measured, &mut ctx.coverage).await;
    flag_unknown_areas(&mut measured, &ctx.crosswalk);
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        "Evaluation context read (crosswalk, populations, coverage, changes of basis)."
    );
    let t = Instant::now();
    let results = evaluate_series(&measured, &ctx);
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        rows = results.len(),
        "Indicators evaluated."
    );
    let t = Instant::now();
    // Figures already published that have moved since: the pack says so.
    let restatements = if land_results && lake.pin().is_none() {
        match crate::diff::restatements(cfg, lake, &results, run_id, engine.table_versions()).await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "Could not compare with the previous run's figures.");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        "Compared with the figures already published."
    );
    if land_results && !results.is_empty() {
        match evaluation::results::land(
            lake,
            run_id,
            &results,
            evaluation::results::KEEP_RUNS,
            engine.table_versions(),
        ) {
            Ok(total) => tracing::info!(
                rows = results.len(),
                total,
                seconds = t.elapsed().as_secs_f64(),
                "Results landed."
            ),
            Err(e) => problems.push(format!("results table: {e}")),
        }
    }
    Ok(Evaluated {
        reporting_month: reporting,
        series: measured.series,
        records: measured.records,
        results,
        tables,
        problems,
        notes,
        table_versions: engine.table_versions().clone(),
        restatements,
        figures_from: None,
        figures_digest: None,
    })
}

/// A view may declare `basis_column`, a yes/no column saying whether a row
/// is on the current basis (KSI: the release gives DfT's severity
/// adjustment), and `basis_note`. When the data start with years on the old
/// basis, the indicators that read the view start at the first year of the
/// new one, so adjusted and unadjusted figures are never compared, and the
/// pack says why. `basis_affects` names the column the change touches
/// (`ksi`): an indicator that does not use it (road deaths count fatal
/// casualties, the same on either basis) keeps its whole series. Returns
/// the notes by indicator id.
async fn apply_basis_breaks(
    cfg: &Config,
    engine: &Engine,
    measured: &mut Measured,
    coverage: &mut std::collections::HashMap<String, (NaiveDate, NaiveDate)>,
) -> std::collections::BTreeMap<String, String> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    let mut notes = std::collections::BTreeMap::new();
    for v in indicators::view_files(&cfg.resolve(&cfg.paths.queries).join(VIEWS_DIR)) {
        let (view, meta) = (&v.name, &v.meta);
        let Some(col) = meta.get("basis_column") else {
            continue;
        };
        if !crate::config::is_identifier(view) || !crate::config::is_identifier(col) {
            continue;
        }
        let affects = meta.get("basis_affects").cloned();
        let uses = |sql: &str, word: &str| {
            sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w.eq_ignore_ascii_case(word))
        };
        let readers: Vec<usize> = measured
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.indicator
                    .meta
                    .get("tables")
                    .is_some_and(|t| t.split(',').any(|x| x.trim() == view))
                    && affects.as_deref().is_none_or(|a| uses(&s.indicator.sql, a))
            })
            .map(|(i, _)| i)
            .collect();
        if readers.is_empty() {
            continue;
        }
        let q = format!(
            "SELECT CAST(date_part('year', month) AS BIGINT) AS y, AVG(CASE WHEN {col} THEN 1.0 ELSE 0.0 END) AS share FROM {view} WHERE month IS NOT NULL GROUP BY 1 ORDER BY 1"
        );
        let Ok((_, batches)) = engine.query(&q).await else {
            continue;
        };
        let mut years: Vec<(i64, f64)> = Vec::new();
        for b in &batches {
            let (y, s) = (
                b.column(0).as_primitive::<Int64Type>(),
                b.column(1).as_primitive::<Float64Type>(),
            );
            for i in 0..b.num_rows() {
                if !y.is_null(i) && !s.is_null(i) {
                    years.push((y.value(i), s.value(i)));
                }
            }
        }
        // The break: the year after the last year mostly on the old basis,
        // if any new-basis year follows it.
        let Some(last_old) = years.iter().rev().find(|(_, s)| *s <= 0.5).map(|(y, _)| *y) else {
            continue;
        };
        if !years.iter().any(|(y, _)| *y > last_old) {
            continue;
        }
        let Some(start) = NaiveDate::from_ymd_opt(last_old as i32 + 1, 1, 1) else {
            continue;
        };
        let why = meta
            .get("basis_note")
            .cloned()
            .unwrap_or_else(|| "earlier data are on a different basis".into());
        for i in readers {
            let s = &mut measured.series[i];
            s.points.retain(|p| p.month >= start);
            if let Some(c) = coverage.get_mut(&s.indicator.id) {
                c.0 = c.0.max(start);
            }
            tracing::info!(id = %s.indicator.id, from = %start, "Series starts at a change of basis.");
            notes.insert(
                s.indicator.id.clone(),
                format!("Figures start in {}: {why}.", start.format("%B %Y")),
            );
        }
    }
    notes
}

/// The tables each view in `queries/_views/` reads, from its header.
pub fn view_tables(cfg: &Config) -> std::collections::BTreeMap<String, Vec<String>> {
    indicators::view_files(&cfg.resolve(&cfg.paths.queries).join(VIEWS_DIR))
        .into_iter()
        .map(|v| {
            let tables = v.tables();
            (v.name, tables)
        })
        .collect()
}

/// The months each indicator's sources cover: the intersection of the
/// month ranges of the event tables it reads (directly or through a view).
/// Event tables are those of sources whose freshness is checked; reference
/// data (population estimates, lookups) has no say. An indicator none of
/// whose tables has landed gets no entry.
pub fn coverage(
    cfg: &Config,
    lake: &Lake,
    series: &[crate::outputs::Series],
) -> std::collections::HashMap<String, (NaiveDate, NaiveDate)> {
    type Range = (NaiveDate, NaiveDate);
    let event_tables: std::collections::HashSet<String> = cfg
        .sources
        .iter()
        .filter(|s| s.max_lag_months().is_some())
        .flat_map(|s| s.tables())
        .collect();
    let mut ranges: std::collections::HashMap<String, Range> = Default::default();
    for m in lake.datasets().unwrap_or_default() {
        if !event_tables.contains(&m.dataset) {
            continue;
        }
        if let Some((a, b)) = m.month_range()
            && let (Some(a), Some(b)) = (
                sources::police_uk::parse_month(&a),
                sources::police_uk::parse_month(&b),
            )
        {
            ranges.insert(m.dataset.clone(), (a, b));
        }
    }
    let intersect = |tables: &mut dyn Iterator<Item = &str>,
                     ranges: &std::collections::HashMap<String, Range>| {
        tables
            .filter_map(|t| ranges.get(t.trim()).copied())
            .reduce(|(a1, b1), (a2, b2)| (a1.max(a2), b1.min(b2)))
            .filter(|(a, b)| a <= b)
    };
    // Views, as their headers declare the tables they read.
    for (name, tables) in view_tables(cfg) {
        if let Some(r) = intersect(&mut tables.iter().map(String::as_str), &ranges) {
            ranges.insert(name, r);
        }
    }
    series
        .iter()
        .filter_map(|s| {
            let tables = s.indicator.meta.get("tables")?;
            let r = intersect(&mut tables.split(','), &ranges)?;
            Some((s.indicator.id.clone(), r))
        })
        .collect()
}

/// An `area_code` that is no area code at all (`'Lancashire'`, a blank),
/// rather than a real code outside the county, which is rightly not
/// counted. An indicator whose every point has one fails, with the reason
/// in the ledger and "not available" in the pack, rather than publishing an
/// empty section; one with some is measured and the rest are logged.
fn flag_unknown_areas(measured: &mut Measured, crosswalk: &crate::geography::Crosswalk) {
    let known: std::collections::HashSet<String> = crate::geography::Crosswalk::all_areas()
        .into_iter()
        .map(|a| a.code)
        .collect();
    let gss = |c: &str| {
        c.len() == 9
            && c.as_bytes()[0].is_ascii_uppercase()
            && c.as_bytes()[1..].iter().all(u8::is_ascii_digit)
    };
    let mut failed = Vec::new();
    for (i, s) in measured.series.iter_mut().enumerate() {
        if s.points.is_empty() {
            continue;
        }
        let mut bad: std::collections::BTreeMap<String, usize> = Default::default();
        for p in &s.points {
            let c = p.area_code.as_str();
            if !(gss(c) || known.contains(c) || crosswalk.district_of(c).is_some()) {
                *bad.entry(c.to_string()).or_default() += 1;
            }
        }
        if bad.is_empty() {
            continue;
        }
        let n: usize = bad.values().sum();
        let examples: Vec<String> = bad.keys().take(3).map(|c| format!("'{c}'")).collect();
        let what = format!(
            "{n} of its {} rows have an area_code that is not an area code ({}); return district (E07...) or LSOA (E01...) codes",
            s.points.len(),
            examples.join(", ")
        );
        if n == s.points.len() {
            tracing::error!(id = %s.indicator.id, "{what}");
            s.error = Some(format!("{}: {what}", s.indicator.path.display()));
            s.points.clear();
            failed.push(i);
        } else {
            tracing::warn!(id = %s.indicator.id, "{what}; those rows are not counted");
        }
    }
    measured.specs.retain(|(i, _)| !failed.contains(i));
    for i in failed {
        let id = measured.series[i].indicator.id.clone();
        let error = measured.series[i].error.clone();
        if let Some(r) = measured.records.iter_mut().find(|r| r.id == id) {
            r.status = IndicatorStatus::Failed;
            r.error = error;
            r.points = 0;
        }
    }
}

/// Evaluation alone (no lake), for `bench` and tests.
///
/// Each indicator is evaluated on its own, so they are shared out among
/// the machine's cores (a ten-year county is half a million result rows
/// and seconds of work); the results come back in catalogue order whatever
/// finishes first.
pub fn evaluate_series(measured: &Measured, ctx: &evaluation::Context) -> Vec<ResultRow> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let jobs = &measured.specs;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let span = tracing::Span::current();
    let mut done: Vec<(usize, Vec<ResultRow>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let _e = span.enter();
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some((i, spec)) = jobs.get(k) else {
                            break;
                        };
                        let s = &measured.series[*i];
                        let rows = evaluation::evaluate(&s.indicator, spec, &s.points, ctx);
                        tracing::debug!(id = %s.indicator.id, rows = rows.len(), "Indicator results computed.");
                        mine.push((k, rows));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in a worker goes on up, as it would have
                // without the threads.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    });
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().flat_map(|(_, rows)| rows).collect()
}

/// The indicators step: open the engine on the lake as it is now, measure,
/// evaluate, land the results. When nothing the step reads has changed
/// since the run that last computed its figures cleanly, and `recompute`
/// is not asked for, that run's figures are taken instead ([`crate::reuse`]).
pub async fn indicators_step(
    cfg: &Config,
    lake: &Lake,
    run_id: &str,
    select: &[String],
    as_of: Option<NaiveDate>,
    recompute: bool,
) -> Result<Evaluated, Error> {
    let mut problems = Vec::new();
    if let Err(e) = crate::geography::land_crosswalk(lake) {
        problems.push(format!("geography crosswalk: {e}"));
    }
    let (catalogue, load_problems) = catalogue(cfg, select);
    for p in &load_problems {
        tracing::error!(error = %p, "Indicator file could not be loaded.");
    }
    // Only a clean catalogue over the lake as it is can be fingerprinted:
    // a pinned lake lands nothing, and a file that did not load is retried.
    let key = if problems.is_empty() && load_problems.is_empty() && lake.pin().is_none() {
        let views = cfg.resolve(&cfg.paths.queries).join(VIEWS_DIR);
        lake.datasets().ok().and_then(|tables| {
            let versions: std::collections::BTreeMap<String, u64> = tables
                .iter()
                .filter_map(|m| Some((m.dataset.clone(), m.version?)))
                .collect();
            crate::reuse::key(cfg, &catalogue, &views, select, as_of, &tables)
                .map(|k| (k, versions))
        })
    } else {
        None
    };
    if let Some((k, versions)) = &key
        && !recompute
        && let Some(r) = crate::reuse::load(cfg, lake, k, &catalogue)
    {
        tracing::info!(
            from = %r.run_id,
            "Nothing the indicators read has changed since that run; its figures stand."
        );
        let records = r
            .series
            .iter()
            .map(|s| IndicatorRecord {
                id: s.indicator.id.clone(),
                path: s.indicator.path.display().to_string(),
                sql_hash: s.indicator.sql_hash.clone(),
                status: IndicatorStatus::Ok,
                points: s.points.len(),
                error: None,
                seconds: 0.0,
            })
            .collect();
        return Ok(Evaluated {
            reporting_month: r.reporting_month,
            series: r.series,
            records,
            results: r.results,
            tables: table_freshness(lake)?,
            problems: Vec::new(),
            notes: r.notes,
            table_versions: versions.clone(),
            // The figures are those of the newest run in the results table,
            // which is what a restatement note compares with: nothing moved.
            restatements: Vec::new(),
            figures_from: Some(r.run_id),
            figures_digest: Some(r.figures_digest),
        });
    }
    let engine = Engine::open(lake, engine_limits(cfg)).await?;
    problems.extend(engine.view_problems().iter().map(ToString::to_string));
    problems.extend(load_problems);
    let last = as_of.map(last_complete_month);
    let measured = measure(&engine, catalogue, last).await;
    let mut evaluated = evaluate(cfg, lake, &engine, measured, run_id, as_of, true).await?;
    problems.append(&mut evaluated.problems);
    evaluated.problems = problems;
    let clean = evaluated.problems.is_empty()
        && evaluated
            .records
            .iter()
            .all(|r| r.status == IndicatorStatus::Ok);
    match key {
        // The engine read the versions the key was made from (the run holds
        // the lake lock), and the results were landed: the next run with
        // the same inputs may take them.
        Some((k, versions))
            if clean
                && !evaluated.results.is_empty()
                && versions
                    .iter()
                    .filter(|(t, _)| *t != evaluation::results::TABLE)
                    .all(|(t, v)| evaluated.table_versions.get(t) == Some(v)) =>
        {
            let t = Instant::now();
            evaluated.figures_digest =
                outputs::figures_digest(&evaluated.series, &evaluated.results);
            match &evaluated.figures_digest {
                Some(digest) => crate::reuse::save(
                    cfg,
                    &crate::reuse::ToSave {
                        key: &k,
                        run_id,
                        reporting_month: evaluated.reporting_month,
                        series: &evaluated.series,
                        results: &evaluated.results,
                        notes: &evaluated.notes,
                        figures_digest: digest,
                    },
                ),
                None => crate::reuse::forget(cfg),
            }
            tracing::debug!(
                seconds = t.elapsed().as_secs_f64(),
                "Figures saved for reuse."
            );
        }
        _ => crate::reuse::forget(cfg),
    }
    Ok(evaluated)
}

/// One indicator measured and evaluated against the lake as it is, nothing
/// landed: what `safer query` prints. The indicator's failure is an error.
pub async fn evaluate_one(cfg: &Config, id: &str) -> Result<(Indicator, Vec<ResultRow>), String> {
    let lake = Lake::open(cfg.lake_dir()).map_err(|e| e.to_string())?;
    let engine = Engine::open(&lake, engine_limits(cfg))
        .await
        .map_err(|e| e.to_string())?;
    let (found, problems) = catalogue(cfg, &[id.to_string()]);
    let Some(ind) = found.into_iter().next() else {
        let (all, _) = catalogue(cfg, &[]);
        let ids: Vec<&str> = all.iter().map(|i| i.id.as_str()).collect();
        let hint = crate::explore::closest(id, &ids)
            .map(|c| format!(" Did you mean `{c}`?"))
            .unwrap_or_default();
        return Err(format!(
            "{}{hint}",
            problems.first().cloned().unwrap_or_default()
        ));
    };
    let measured = measure(&engine, vec![ind.clone()], None).await;
    if let Some(e) = measured.records.first().and_then(|r| r.error.clone()) {
        return Err(e);
    }
    let e = evaluate(cfg, &lake, &engine, measured, "query", None, false)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(err) = e.records.first().and_then(|r| r.error.clone()) {
        return Err(err);
    }
    Ok((ind, e.results))
}

// ---------------------------------------------------------------- outputs

/// What publishing produced.
#[derive(Debug, Default)]
pub struct Published {
    /// Files now in place.
    pub files: Vec<String>,
    /// Things worth knowing that did not fail the run.
    pub warnings: Vec<String>,
    /// Outputs that failed (their previous version is untouched).
    pub problems: Vec<String>,
    /// Outputs whose published pack was kept, as `name period: run id`:
    /// this run would have built the same pack.
    pub kept: Vec<String>,
}

/// Write every declared output (or only those named in `only`). Runs on a
/// blocking thread: building workbooks and printing PDFs is CPU and process
/// work, not async work. With a `limit`, once it passes no further output
/// is started, and the one being written is finished and waited for, so
/// nothing is still writing after the step (and the run lock) has ended.
/// Returns what was published and whether the limit was hit.
///
/// A pack that this run would build exactly as it is published (the same
/// figures, words and files; only the run id and time would differ) is
/// kept, unless `rebuild` (see [`outputs::write_output`]).
pub async fn publish(
    cfg: &Config,
    view: RunView,
    only: &[String],
    limit: Option<Duration>,
    rebuild: bool,
) -> (Published, bool) {
    let outputs_dir = cfg.resolve(&cfg.paths.outputs);
    let commentary_dir = cfg.resolve(Path::new("commentary"));
    let only = only.to_vec();
    let span = tracing::Span::current();
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::clone(&cancel);
    let mut handle = tokio::task::spawn_blocking(move || {
        let _e = span.enter();
        publish_blocking(&outputs_dir, &commentary_dir, &view, &only, &stop, rebuild)
    });
    let (joined, timed_out) = match limit {
        Some(limit) => match tokio::time::timeout(limit, &mut handle).await {
            Ok(j) => (j, false),
            Err(_) => {
                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                tracing::warn!(
                    "Outputs step over its time limit: finishing the output being written, then stopping."
                );
                (handle.await, true)
            }
        },
        None => (handle.await, false),
    };
    let p = match joined {
        Ok(p) => p,
        Err(e) => Published {
            problems: vec![format!("outputs: internal error (this is a bug): {e}")],
            ..Default::default()
        },
    };
    (p, timed_out)
}

fn publish_blocking(
    outputs_dir: &Path,
    commentary_dir: &Path,
    view: &RunView,
    only: &[String],
    cancel: &std::sync::atomic::AtomicBool,
    rebuild: bool,
) -> Published {
    let mut p = Published::default();
    let defs = match outputs::load_definitions(outputs_dir) {
        Ok(d) => d,
        Err(e) => {
            p.problems.push(format!("output definitions: {e}"));
            return p;
        }
    };
    for name in only {
        if !defs.iter().any(|d| &d.name == name) {
            p.problems.push(format!(
                "output `{name}` was asked for but is not declared in outputs/"
            ));
        }
    }
    let defs: Vec<_> = defs
        .into_iter()
        .filter(|d| only.is_empty() || only.contains(&d.name))
        .collect();
    let view_fp = outputs::view_fingerprint(view);
    let bar = crate::progress::bar(defs.len() as u64, "outputs");
    for def in &defs {
        if cancel.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        let span = tracing::info_span!("output", name = %def.name);
        let _e = span.enter();
        bar.set_message(def.name.clone());
        match outputs::write_output(outputs_dir, commentary_dir, def, view, &view_fp, rebuild) {
            Ok(w) => {
                if let Some(run) = &w.kept_from {
                    tracing::info!(
                        built_by = %run,
                        "Output unchanged: this run would build the pack already published, so that pack is kept."
                    );
                    let dir = w
                        .files
                        .first()
                        .and_then(|f| f.parent())
                        .map(|d| d.display().to_string())
                        .unwrap_or_default();
                    p.kept
                        .push(format!("{} ({dir}): built by run {run}", def.name));
                } else {
                    for f in &w.files {
                        tracing::info!(path = %f.display(), "Output written.");
                    }
                    // Only what this run wrote: a kept pack is the run's
                    // `kept_outputs`, not its outputs.
                    p.files
                        .extend(w.files.iter().map(|f| f.display().to_string()));
                }
                for n in &w.notes {
                    tracing::warn!(note = %n, "Output incomplete.");
                    p.warnings.push(format!("output {}: {n}", def.name));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "Output failed; the previous output is untouched.");
                p.problems.push(format!("output {}: {e}", def.name));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    p
}

// ---------------------------------------------------------------- the job

/// What a caller asks the job to do.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// Run id (the caller makes it, so it can mark the run abandoned if it
    /// has to drop the job).
    pub run_id: String,
    /// Schedule name (`manual` for `safer run`).
    pub schedule: String,
    /// The night this run is for.
    pub logical_date: NaiveDate,
    /// Build the packs as at this date (the periods end at it).
    pub as_of: Option<NaiveDate>,
    /// Steps to run, in order.
    pub steps: Vec<Step>,
    /// Outputs to write (empty: all declared).
    pub outputs: Vec<String>,
    /// Indicators to run (empty: all).
    pub indicators: Vec<String>,
    /// Retries for transient source errors.
    pub retry: RetryPolicy,
    /// Time one step may take before it is abandoned.
    pub step_timeout: Option<Duration>,
    /// Turns true when the service is shutting down: no further step starts.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// Today, for freshness when there is no `as_of` (the demo sets the
    /// day its synthetic data would have been published).
    pub today: NaiveDate,
    /// Read the lake as it was (a past run's table versions, or a moment)
    /// instead of as it is; the ingest does not run.
    pub lake_pin: Option<crate::lake::Pin>,
    /// Build every output even where the published pack is already what
    /// this run would build (a new font for the PDF, say).
    pub rebuild_outputs: bool,
    /// Run and evaluate every indicator even when nothing they read has
    /// changed since the last run's figures (by default those stand).
    pub recompute: bool,
}

impl JobSpec {
    /// The whole job once, by hand, for today.
    pub fn manual() -> JobSpec {
        JobSpec {
            run_id: new_run_id(),
            schedule: ledger::MANUAL.into(),
            logical_date: chrono::Local::now().date_naive(),
            as_of: None,
            steps: Step::ALL.to_vec(),
            outputs: Vec::new(),
            indicators: Vec::new(),
            retry: RetryPolicy::default(),
            step_timeout: None,
            stop: None,
            today: chrono::Local::now().date_naive(),
            lake_pin: None,
            rebuild_outputs: false,
            recompute: false,
        }
    }
}

/// What `--lake-as-of` names: `run:<id>` (the table versions that run read,
/// from the ledger) or a moment (an RFC 3339 time, or a date meaning the
/// end of that day in UTC). The error is in words for the command line.
pub async fn resolve_pin(ledger: &Ledger, text: &str) -> Result<crate::lake::Pin, String> {
    use crate::lake::Pin;
    let text = text.trim();
    if let Some(id) = text.strip_prefix("run:") {
        let Some(run) = ledger.get(id).await.map_err(|e| e.to_string())? else {
            return Err(format!(
                "--lake-as-of: no run `{id}` in the ledger; `safer runs` lists them"
            ));
        };
        if run.lake_versions.is_empty() {
            return Err(format!(
                "--lake-as-of: run `{id}` recorded no table versions (it did not run the indicators, or it ran before safer kept them); give a time instead, such as {}",
                run.started
            ));
        }
        return Ok(Pin::Versions(run.lake_versions));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Pin::Time(t.with_timezone(&chrono::Utc)));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Ok(Pin::Time(t.and_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = d
            .and_hms_opt(23, 59, 59)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("--lake-as-of `{text}` is not a date"))?;
        return Ok(Pin::Time(end));
    }
    Err(format!(
        "--lake-as-of `{text}`: give run:<RUN_ID>, a date (2026-11-05) or a time (2026-11-05T02:00:00Z)"
    ))
}

/// Steps to run for a request: `outputs` needs the indicators evaluated, so
/// it brings them in; ingest only runs when asked for.
pub fn expand_steps(asked: &[Step]) -> Vec<Step> {
    let mut v: Vec<Step> = asked.to_vec();
    if v.contains(&Step::Outputs) && !v.contains(&Step::Indicators) {
        v.push(Step::Indicators);
    }
    v.sort();
    v.dedup();
    v
}

/// Run the job: take the run lock, record the run, run each step under its
/// timeout, record each step, compute source freshness, send alerts, and
/// record the outcome. Returns the record; `Err` only when the run could not
/// start (the lock is held, the ledger cannot be opened).
pub async fn run_job(cfg: &Config, ledger: &Ledger, spec: &JobSpec) -> Result<RunRecord, Error> {
    let span = tracing::info_span!("run", run_id = %spec.run_id, schedule = %spec.schedule);
    run_job_inner(cfg, ledger, spec).instrument(span).await
}

async fn run_job_inner(cfg: &Config, ledger: &Ledger, spec: &JobSpec) -> Result<RunRecord, Error> {
    let started = now_rfc3339();
    let holder = Holder {
        pid: std::process::id(),
        host: ledger::host_name(),
        started: started.clone(),
        run_id: spec.run_id.clone(),
        schedule: spec.schedule.clone(),
    };
    let run_lock = RunLock::acquire(ledger.dir(), &holder)?;
    let advisory = ledger.advisory_lock(&holder).await?;
    // The lake is locked for the whole run, so `safer import` cannot write
    // between the ingest and the indicators. Landing tasks hold a share of
    // it: a step abandoned on timeout keeps the lake locked until its last
    // write has finished.
    let mut lake = Lake::open(cfg.lake_dir())?.with_checks(sources::checks::Checks::new(
        cfg,
        spec.as_of.unwrap_or(spec.today),
    ));
    if let Some(pin) = &spec.lake_pin {
        lake = lake.pinned(pin.clone());
    }
    let lake_guard = Arc::new(lake.lock()?);
    let abandoned = ledger.abandon_unfinished(&spec.run_id).await?;
    if !abandoned.is_empty() {
        tracing::warn!(runs = ?abandoned, "Marked runs left unfinished by a stopped process as abandoned.");
    }
    let mut record = RunRecord {
        run_id: spec.run_id.clone(),
        schedule: spec.schedule.clone(),
        logical_date: spec.logical_date,
        as_of: spec.as_of,
        requested: spec.steps.clone(),
        started,
        finished: None,
        status: RunStatus::Running,
        software_version: env!("CARGO_PKG_VERSION").into(),
        pid: holder.pid,
        host: holder.host.clone(),
        steps: Vec::new(),
        sources: Vec::new(),
        freshness: Vec::new(),
        indicators: Vec::new(),
        outputs: Vec::new(),
        kept_outputs: Vec::new(),
        figures_from: None,
        problems: Vec::new(),
        warnings: Vec::new(),
        lake_versions: Default::default(),
        lake_as_of: lake.pin().map(ToString::to_string),
    };
    if let Some(h) = &run_lock.taken_over {
        record.warnings.push(format!(
            "the previous run ({h}) stopped without finishing; its lock was taken over"
        ));
    }
    ledger.begin(&record).await?;
    tracing::info!(organisation = %cfg.organisation.name, steps = ?spec.steps, "Run started.");

    // Leftovers of killed runs: staging folders, half-swapped packs.
    let outputs_dir = cfg.resolve(&cfg.paths.outputs);
    for note in outputs::recover(&outputs_dir) {
        tracing::warn!(note = %note, "Recovered an interrupted publish.");
        record.warnings.push(note);
    }

    let steps = expand_steps(&spec.steps);
    let mut evaluated: Option<Evaluated> = None;
    let mut stopped = false;
    // Set when a source failed: nothing new is published from a lake that
    // is missing a source's latest data.
    let mut held_back: Option<String> = None;
    for step in steps {
        if spec.stop.as_ref().is_some_and(|s| *s.borrow()) {
            tracing::warn!(step = %step, "Shutting down: this step and the rest are not started.");
            record.problems.push(format!(
                "the service was stopped before the {step} step; it and any later steps did not run"
            ));
            stopped = true;
            break;
        }
        if let Some(why) = &held_back {
            let rec = StepRecord {
                step,
                status: StepStatus::Skipped,
                started: now_rfc3339(),
                finished: Some(now_rfc3339()),
                rows: 0,
                error: Some(why.clone()),
                seconds: 0.0,
            };
            tracing::warn!(step = %step, reason = %why, "Step skipped.");
            if let Err(e) = ledger.step(&spec.run_id, &rec).await {
                tracing::error!(error = %e, "Could not record the skipped step in the ledger.");
            }
            record.steps.push(rec);
            continue;
        }
        let mut rec = StepRecord {
            step,
            status: StepStatus::Running,
            started: now_rfc3339(),
            finished: None,
            rows: 0,
            error: None,
            seconds: 0.0,
        };
        if let Err(e) = ledger.step(&spec.run_id, &rec).await {
            tracing::error!(error = %e, "Could not record the step start in the ledger.");
        }
        let t = Instant::now();
        let span = tracing::info_span!("step", step = %step);
        // The outputs step is the last to read the figures: it takes them,
        // rather than copying half a million rows.
        let figures = if step == Step::Outputs {
            evaluated.take()
        } else {
            None
        };
        let outcome =
            run_step(cfg, &lake, &lake_guard, spec, step, figures).instrument(span.clone());
        // The outputs step keeps its own time (its work is on a blocking
        // thread that must be stopped and waited for, not just left).
        let limit = spec.step_timeout.filter(|_| step != Step::Outputs);
        let outcome = match limit {
            Some(limit) => match tokio::time::timeout(limit, outcome).await {
                Ok(o) => o,
                Err(_) => StepOutcome::failed(
                    StepStatus::TimedOut,
                    format!(
                        "took longer than {} and was abandoned (the schedule's timeout_minutes); what it had landed before stays, nothing half-written is visible",
                        human_duration(limit)
                    ),
                ),
            },
            None => outcome.await,
        };
        rec.seconds = t.elapsed().as_secs_f64();
        rec.finished = Some(now_rfc3339());
        rec.status = outcome.status;
        rec.rows = outcome.rows;
        rec.error = outcome.error.clone();
        span.in_scope(|| match rec.status {
            StepStatus::Ok => {
                tracing::info!(seconds = rec.seconds, rows = rec.rows, "Step finished.")
            }
            s => tracing::error!(status = %s, error = ?rec.error, "Step did not finish cleanly."),
        });
        if let Err(e) = ledger.step(&spec.run_id, &rec).await {
            tracing::error!(error = %e, "Could not record the step end in the ledger.");
        }
        record.steps.push(rec);
        if step == Step::Ingest {
            let failed: Vec<&str> = outcome
                .sources
                .iter()
                .filter(|s| s.error.is_some())
                .map(|s| s.name.as_str())
                .collect();
            if !failed.is_empty() {
                held_back = Some(format!(
                    "not run because source(s) {} could not be landed; the previous results and packs are untouched. Once the source is back, the next run brings everything up to date (or `safer run --only outputs` publishes from the data as it is)",
                    failed.join(", ")
                ));
            }
        }
        if step == Step::Ingest && held_back.is_none() {
            match outcome.status {
                StepStatus::TimedOut => {
                    held_back = Some(
                        "not run because the ingest step timed out; the previous results and packs are untouched"
                            .into(),
                    )
                }
                StepStatus::Failed => {
                    held_back = Some(
                        "not run because the ingest step failed; the previous results and packs are untouched"
                            .into(),
                    )
                }
                _ => {}
            }
        }
        record.sources.extend(outcome.sources);
        record.problems.extend(outcome.problems);
        record.warnings.extend(outcome.warnings);
        record.outputs.extend(outcome.files);
        record.kept_outputs.extend(outcome.kept);
        if let Some(e) = outcome.evaluated {
            record.indicators = e.records.clone();
            record.figures_from = e.figures_from.clone();
            record.lake_versions = e.table_versions.clone();
            evaluated = Some(e);
        }
    }

    // Freshness of every source, against the reporting date.
    let reference = spec.as_of.unwrap_or(spec.today);
    match sources::freshness(cfg, &lake, reference) {
        Ok(f) => record.freshness = f,
        Err(e) => record.problems.push(format!("freshness: {e}")),
    }
    for f in record.stale_sources() {
        tracing::warn!(source = %f.source, newest = ?f.newest_month, max_lag_months = ?f.max_lag_months, "Source data is stale.");
    }
    record.status = if stopped {
        RunStatus::Abandoned
    } else {
        overall_status(&record)
    };
    record.finished = Some(now_rfc3339());

    // The outcome is recorded before anyone is told, so an alert never
    // describes a run the ledger does not have.
    match ledger.finish(&record).await {
        Err(e) => {
            tracing::error!(error = %e, "Could not record the run's end in the ledger.");
            record.problems.push(format!("ledger: {e}"));
        }
        // Figures saved by this run may be taken by a later one only now
        // that the ledger has the run, finished, with its indicators ok.
        Ok(())
            if record.figures_from.is_none()
                && !stopped
                && record
                    .steps
                    .iter()
                    .any(|s| s.step == Step::Indicators && s.status == StepStatus::Ok) =>
        {
            crate::reuse::commit(cfg, &record.run_id)
        }
        Ok(()) => {}
    }
    let deliveries = crate::alerts::send(cfg, &record).await;
    let mut undelivered = false;
    for d in deliveries {
        if let Err(e) = d.result {
            undelivered = true;
            record
                .warnings
                .push(format!("alert by {} not delivered: {e}", d.channel));
        }
    }
    if undelivered && let Err(e) = ledger.finish(&record).await {
        tracing::error!(error = %e, "Could not record the undelivered alert in the ledger.");
    }
    if let Err(e) = ledger::export(ledger.dir(), &record) {
        tracing::warn!(error = %e, "Could not append to the JSON-lines export.");
    }
    tracing::info!(status = %record.status, "Run finished.");
    drop(lake_guard);
    drop(advisory);
    drop(run_lock);
    Ok(record)
}

/// The run's status from its steps and problems. Stale data does not make
/// a run partial (the job did all it was asked); it is flagged on its own,
/// in the record, `safer status`, the pack, and an alert.
pub fn overall_status(r: &RunRecord) -> RunStatus {
    if r.steps.iter().any(|s| {
        matches!(
            s.status,
            StepStatus::Failed | StepStatus::TimedOut | StepStatus::Skipped
        )
    }) {
        RunStatus::Failed
    } else if r.steps.iter().any(|s| s.status != StepStatus::Ok) || !r.problems.is_empty() {
        RunStatus::Partial
    } else {
        RunStatus::Ok
    }
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} minute(s)", s / 60)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What one step produced, for the run record.
#[derive(Debug, Default)]
struct StepOutcome {
    status: StepStatus,
    rows: u64,
    error: Option<String>,
    sources: Vec<SourceReport>,
    problems: Vec<String>,
    warnings: Vec<String>,
    files: Vec<String>,
    kept: Vec<String>,
    evaluated: Option<Evaluated>,
}

impl StepOutcome {
    fn failed(status: StepStatus, error: String) -> StepOutcome {
        StepOutcome {
            status,
            problems: Vec::new(),
            error: Some(error),
            ..Default::default()
        }
    }
}

async fn run_step(
    cfg: &Config,
    lake: &Lake,
    guard: &Arc<LakeLock>,
    spec: &JobSpec,
    step: Step,
    evaluated: Option<Evaluated>,
) -> StepOutcome {
    match step {
        Step::Ingest if lake.pin().is_some() => StepOutcome {
            status: StepStatus::Skipped,
            error: Some(format!(
                "not run: this run reads {}, so nothing new is landed",
                lake.pin().map(ToString::to_string).unwrap_or_default()
            )),
            ..Default::default()
        },
        Step::Ingest => {
            let ingested = ingest(cfg, lake, guard, &spec.retry).await;
            let status = ingested.status();
            let failures: Vec<String> = ingested
                .sources
                .iter()
                .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.name)))
                .collect();
            StepOutcome {
                status,
                rows: ingested.rows_landed(),
                error: (!failures.is_empty()).then(|| failures.join("; ")),
                sources: ingested.sources,
                ..Default::default()
            }
        }
        Step::Indicators => {
            let r = indicators_step(
                cfg,
                lake,
                &spec.run_id,
                &spec.indicators,
                spec.as_of,
                spec.recompute,
            )
            .await;
            match r {
                Ok(e) => {
                    let failed = e
                        .records
                        .iter()
                        .filter(|r| r.status == IndicatorStatus::Failed)
                        .count();
                    let status = if e.records.is_empty() && !e.problems.is_empty() {
                        StepStatus::Failed
                    } else if failed > 0 || !e.problems.is_empty() {
                        StepStatus::Partial
                    } else {
                        StepStatus::Ok
                    };
                    StepOutcome {
                        status,
                        rows: e.records.iter().map(|r| r.points as u64).sum(),
                        error: (failed > 0).then(|| format!("{failed} indicator(s) failed")),
                        problems: e.problems.clone(),
                        evaluated: Some(e),
                        ..Default::default()
                    }
                }
                Err(e) => StepOutcome::failed(StepStatus::Failed, e.to_string()),
            }
        }
        Step::Outputs => {
            let Some(e) = evaluated else {
                return StepOutcome::failed(
                    StepStatus::Failed,
                    "not run: the indicators step did not finish, so there is nothing new to publish; the previous outputs are untouched".into(),
                );
            };
            let reference = spec.as_of.unwrap_or(spec.today);
            let view = RunView {
                organisation: cfg.organisation.name.clone(),
                run_id: spec.run_id.clone(),
                run_time: now_rfc3339(),
                latest_month: e.reporting_month,
                freshness: e.tables,
                sources: sources::freshness(cfg, lake, reference).unwrap_or_default(),
                view_tables: view_tables(cfg),
                notes: e.notes,
                data_checks: sources::checks::latest(lake)
                    .into_iter()
                    .filter(|o| !o.passed)
                    .collect(),
                series: e.series,
                results: e.results,
                restatements: e.restatements,
                figures_digest: e.figures_digest,
            };
            let (p, timed_out) = publish(
                cfg,
                view,
                &spec.outputs,
                spec.step_timeout,
                spec.rebuild_outputs,
            )
            .await;
            let status = if timed_out {
                StepStatus::TimedOut
            } else if p.problems.is_empty() {
                StepStatus::Ok
            } else if p.files.is_empty() && p.kept.is_empty() {
                StepStatus::Failed
            } else {
                StepStatus::Partial
            };
            let mut error = (!p.problems.is_empty()).then(|| p.problems.join("; "));
            if let (true, Some(limit)) = (timed_out, spec.step_timeout) {
                error = Some(format!(
                    "took longer than {} (the schedule's timeout_minutes); it finished the output it was writing and wrote no more. {} file(s) were published; outputs not reached keep their previous version",
                    human_duration(limit),
                    p.files.len()
                ));
            }
            StepOutcome {
                status,
                rows: p.files.len() as u64,
                error,
                problems: p.problems,
                warnings: p.warnings,
                files: p.files,
                kept: p.kept,
                ..Default::default()
            }
        }
    }
}

/// Freshness of every lake table, for covers and manifests.
pub fn table_freshness(lake: &Lake) -> Result<Vec<Freshness>, Error> {
    Ok(lake
        .datasets()?
        .into_iter()
        // The results table is what runs produce, not what they read: a
        // pack listing it among its data would name a different set of
        // runs every night, and no two nights' packs would be the same.
        .filter(|m| {
            m.dataset != lake::QUARANTINE_DATASET
                && m.dataset != evaluation::results::TABLE
                && !sources::checks::is_bookkeeping(&m.dataset)
        })
        .map(|m| {
            let range = m.month_range();
            Freshness {
                rows: m.rows(),
                from: range.as_ref().map(|r| r.0.clone()),
                to: range.map(|r| r.1),
                inputs: m
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.fingerprint.clone()))
                    .collect(),
                dataset: m.dataset,
            }
        })
        .collect())
}

/// The LSOA -> district lookup from the lake, if it has landed.
async fn load_crosswalk(engine: &Engine) -> crate::geography::Crosswalk {
    let sql = "SELECT lsoa_code, lad_code FROM ons_lsoa_lookup";
    let pairs = match engine.query(sql).await {
        Ok((_, batches)) => string_pairs(&batches),
        Err(e) => {
            tracing::warn!(error = %e, "No LSOA lookup in the lake; LSOA-level results cannot roll up.");
            Vec::new()
        }
    };
    crate::geography::Crosswalk::new(pairs)
}

fn string_pairs(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<(String, String)> {
    use datafusion::arrow::array::{Array, AsArray};
    let mut out = Vec::new();
    for b in batches {
        let (a, c) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
        );
        for i in 0..b.num_rows() {
            if !a.is_null(i) && !c.is_null(i) {
                out.push((a.value(i).to_string(), c.value(i).to_string()));
            }
        }
    }
    out
}

/// ONS mid-year estimates from the lake, if they have landed.
async fn load_populations(engine: &Engine) -> evaluation::Populations {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    let mut pops = evaluation::Populations::default();
    let sql = "SELECT lad_code, sex, age, year, population FROM ons_population";
    match engine.query(sql).await {
        Ok((_, batches)) => {
            for b in &batches {
                let code = b.column(0).as_string::<i32>();
                let sex = b.column(1).as_string::<i32>();
                let age = b.column(2).as_primitive::<Int64Type>();
                let year = b.column(3).as_primitive::<Int64Type>();
                let pop = b.column(4).as_primitive::<Int64Type>();
                for i in 0..b.num_rows() {
                    if code.is_null(i) || pop.is_null(i) {
                        continue;
                    }
                    pops.add(
                        code.value(i),
                        sex.value(i) == "female",
                        age.value(i),
                        year.value(i) as i32,
                        pop.value(i) as f64,
                    );
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "No population estimates in the lake; rates cannot be computed.")
        }
    }
    pops
}

/// Sources' freshness lines for a report.
pub fn stale_summary(f: &[SourceFreshness]) -> Vec<String> {
    f.iter().filter(|f| f.stale).map(|f| f.describe()).collect()
}
