//! The job: sources -> lake -> indicators -> outputs, with a ledger record.
//!
//! Data flows one way. Each stage keeps going when one item fails (a source,
//! an indicator) and the failure is recorded; the run then ends `partial`
//! and the process exits non-zero so a scheduler or a person notices.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{self, Config};
use crate::engine::{Engine, EngineLimits};
use crate::evaluation::{self, spec::Spec};
use crate::indicators;
use crate::lake::{self, Lake, now_rfc3339, unique_suffix};
use crate::ledger::{self, IndicatorRecord, RunRecord};
use crate::outputs::{self, Freshness, RunView, Series};
use crate::sources::{self, SourceReport};

/// The project file `safer demo` writes.
pub const DEMO_CONFIG: &str = include_str!("demo_config.toml");

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
    /// Some other file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// A new run id: UTC time plus a unique suffix, sortable.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        &unique_suffix()[..8.min(unique_suffix().len())]
    )
}

/// Engine limits from config.
pub fn engine_limits(cfg: &Config) -> EngineLimits {
    EngineLimits {
        memory_bytes: cfg.limits.query_memory_mib * 1024 * 1024,
        timeout: Duration::from_secs(cfg.limits.query_timeout_secs),
    }
}

/// Land every configured source, in order. Sources never abort each other.
pub async fn ingest_sources(cfg: &Config, lake: &Lake) -> Vec<SourceReport> {
    let mut out = Vec::new();
    for s in &cfg.sources {
        out.push(sources::run(cfg, lake, s).await);
    }
    out
}

/// `safer ingest`: land every source and record the run.
pub async fn ingest(cfg: &Config) -> Result<RunRecord, Error> {
    let run_id = new_run_id();
    let started = now_rfc3339();
    let span = tracing::info_span!("run", run_id = %run_id, job = "ingest");
    let _e = span.enter();
    let lake = Lake::open(cfg.lake_dir())?;
    let _lock = lake.lock()?;
    let reports = ingest_sources(cfg, &lake).await;
    let status = if reports.iter().any(SourceReport::failed) {
        "partial"
    } else {
        "ok"
    };
    let record = RunRecord {
        run_id,
        job: "ingest".into(),
        started,
        finished: now_rfc3339(),
        status: status.into(),
        sources: reports,
        indicators: Vec::new(),
        outputs: Vec::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    write_ledger(cfg, &record);
    Ok(record)
}

/// `safer run`: ingest, evaluate every indicator, write outputs, record.
pub async fn run(cfg: &Config, job: &str) -> Result<RunRecord, Error> {
    let run_id = new_run_id();
    let started = now_rfc3339();
    let span = tracing::info_span!("run", run_id = %run_id, job);
    let _e = span.enter();
    tracing::info!(organisation = %cfg.organisation.name, "Run started.");
    let lake = Lake::open(cfg.lake_dir())?;
    let _lock = lake.lock()?;
    let reports = ingest_sources(cfg, &lake).await;

    let mut problems = Vec::new();
    if let Err(e) = crate::geography::land_crosswalk(&lake) {
        problems.push(format!("geography crosswalk: {e}"));
    }
    let engine = Engine::open(&lake, engine_limits(cfg)).await?;
    let queries_dir = cfg.resolve(&cfg.paths.queries);
    let (catalogue, load_errors) = indicators::discover(&queries_dir);
    for e in load_errors {
        tracing::error!(error = %e, "Indicator file could not be loaded.");
        problems.push(e.to_string());
    }
    let mut series = Vec::new();
    let mut records = Vec::new();
    let mut specs = Vec::new();
    for ind in catalogue {
        let t = Instant::now();
        let span = tracing::info_span!("indicator", id = %ind.id);
        let _e = span.enter();
        let result = match Spec::from_indicator(&ind) {
            Ok(spec) => indicators::run(&engine, &ind).await.map(|p| (spec, p)),
            Err(header) => Err(indicators::Error::Header {
                path: ind.path.clone(),
                line: 1,
                message: header.join("; "),
            }),
        };
        let seconds = t.elapsed().as_secs_f64();
        let (points, error) = match result {
            Ok((spec, p)) => {
                tracing::info!(points = p.len(), seconds, "Indicator evaluated.");
                specs.push((series.len(), spec));
                (p, None)
            }
            Err(e) => {
                tracing::error!(error = %e, "Indicator failed; the others still run.");
                (Vec::new(), Some(e.to_string()))
            }
        };
        records.push(IndicatorRecord {
            id: ind.id.clone(),
            path: ind.path.display().to_string(),
            sql_hash: ind.sql_hash.clone(),
            status: if error.is_some() { "failed" } else { "ok" }.into(),
            points: points.len(),
            error: error.clone(),
            seconds,
        });
        series.push(Series {
            indicator: ind,
            points,
            error,
        });
    }

    let freshness = freshness(&lake)?;
    // The reporting month is the latest month of the monthly police feed,
    // the backbone of the returns; annual sources (STATS19) lag behind it.
    let police_latest = freshness
        .iter()
        .find(|f| f.dataset == sources::police_uk::TABLE)
        .and_then(|f| f.to.as_deref())
        .and_then(sources::police_uk::parse_month);
    let latest_month = police_latest.or_else(|| {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.month))
            .max()
    });
    // Evaluate every indicator the same way and land the results.
    let reporting_month = latest_month.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let ctx = evaluation::Context {
        run_id: run_id.clone(),
        reporting_month,
        crosswalk: load_crosswalk(&engine).await,
        populations: load_populations(&engine).await,
        threshold: evaluation::suppress::DEFAULT_THRESHOLD,
    };
    let mut results = Vec::new();
    for (i, spec) in &specs {
        let s = &series[*i];
        let rows = evaluation::evaluate(&s.indicator, spec, &s.points, &ctx);
        tracing::debug!(id = %s.indicator.id, rows = rows.len(), "Indicator results computed.");
        results.extend(rows);
    }
    if !results.is_empty() {
        match evaluation::results::land(&lake, &run_id, &results) {
            Ok(total) => tracing::info!(rows = results.len(), total, "Results landed."),
            Err(e) => problems.push(format!("results table: {e}")),
        }
    }
    let view = RunView {
        organisation: cfg.organisation.name.clone(),
        run_id: &run_id,
        run_time: &started,
        latest_month,
        freshness,
        series,
        results,
    };
    let outputs_dir = cfg.resolve(&cfg.paths.outputs);
    let commentary_dir = cfg.resolve(Path::new("commentary"));
    let mut written = Vec::new();
    let mut warnings = Vec::new();
    match outputs::load_definitions(&outputs_dir) {
        Ok(defs) => {
            for def in &defs {
                let span = tracing::info_span!("output", name = %def.name);
                let _e = span.enter();
                match outputs::write_output(&outputs_dir, &commentary_dir, def, &view) {
                    Ok(w) => {
                        for p in &w.files {
                            tracing::info!(path = %p.display(), "Output written.");
                        }
                        for n in &w.notes {
                            tracing::warn!(note = %n, "Output incomplete.");
                            warnings.push(format!("output {}: {n}", def.name));
                        }
                        written.extend(w.files.iter().map(|p| p.display().to_string()));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Output failed; the previous output is untouched.");
                        problems.push(format!("output {}: {e}", def.name));
                    }
                }
            }
        }
        Err(e) => problems.push(format!("output definitions: {e}")),
    }

    let failed = reports.iter().any(SourceReport::failed)
        || records.iter().any(|r| r.status != "ok")
        || !problems.is_empty();
    let record = RunRecord {
        run_id,
        job: job.into(),
        started,
        finished: now_rfc3339(),
        status: if failed { "partial" } else { "ok" }.into(),
        sources: reports,
        indicators: records,
        outputs: written,
        problems,
        warnings,
    };
    tracing::info!(status = %record.status, "Run finished.");
    write_ledger(cfg, &record);
    Ok(record)
}

fn write_ledger(cfg: &Config, record: &RunRecord) {
    let dir = cfg.resolve(&cfg.paths.ledger);
    if let Err(e) = ledger::append(&dir, record) {
        tracing::error!(dir = %dir.display(), error = %e, "Could not append to the run ledger.");
    }
}

/// Freshness of every dataset, for covers and manifests.
pub fn freshness(lake: &Lake) -> Result<Vec<Freshness>, Error> {
    Ok(lake
        .datasets()?
        .into_iter()
        .filter(|m| m.dataset != lake::QUARANTINE_DATASET)
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

/// Options for `safer demo`.
#[derive(Debug, Clone)]
pub struct DemoSetup {
    /// Folder for everything.
    pub dir: PathBuf,
    /// Random seed.
    pub seed: u64,
    /// Years of monthly data.
    pub years: u32,
    /// Last month of data (first day).
    pub end_month: chrono::NaiveDate,
}

/// Generate the demo folder (data, config, queries) and return its config.
pub async fn prepare_demo(setup: &DemoSetup) -> Result<Config, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&setup.dir).map_err(io(&setup.dir))?;
    // A demo is fresh data: drop the previous demo lake so an incremental
    // watermark from an older seed cannot hide the new rows.
    let lake_dir = setup.dir.join("lake");
    if lake_dir.exists() {
        std::fs::remove_dir_all(&lake_dir).map_err(io(&lake_dir))?;
    }
    let opts = crate::demo::DemoOptions {
        dir: setup.dir.clone(),
        seed: setup.seed,
        years: setup.years,
        end_month: setup.end_month,
        partner_db: true,
    };
    let data = crate::demo::generate(&opts).await?;
    tracing::info!(
        police_rows = data.police_rows,
        months = data.months,
        "Synthetic data generated."
    );
    copy_tree(
        &find_project_dir("queries"),
        &setup.dir.join("queries"),
        "sql",
    )?;
    copy_tree(
        &find_project_dir("outputs"),
        &setup.dir.join("outputs"),
        "toml",
    )?;
    let cfg_path = setup.dir.join(config::CONFIG_FILE);
    lake::atomic_write(&cfg_path, DEMO_CONFIG.as_bytes())?;
    Ok(Config::load(&cfg_path)?)
}

/// A folder of the project (`queries`, `outputs`): beside the working
/// directory, else in the source tree this binary was built from.
pub fn find_project_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Copy the files with extension `ext` under `from` into `to`.
fn copy_tree(from: &Path, to: &Path, ext: &str) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if !from.is_dir() {
        tracing::warn!(path = %from.display(), "Project folder not found; nothing copied.");
        return Ok(());
    }
    if std::fs::canonicalize(from).ok() == std::fs::canonicalize(to).ok() {
        return Ok(());
    }
    let mut stack = vec![from.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            let rel = p.strip_prefix(from).unwrap_or(&p);
            let dest = to.join(rel);
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::copy(&p, &dest).map_err(io(&dest))?;
            }
        }
    }
    Ok(())
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

/// `safer check`: everything a nightly run would trip over, found before it
/// runs, all at once. Parses the config (already done by loading it), every
/// indicator header, plans every query against the lake as it is now and
/// checks the result columns, and reads every output definition. Sources
/// are not contacted. Returns the problems, each naming its file.
pub async fn check(cfg: &Config) -> Result<(usize, Vec<String>), Error> {
    let mut problems = Vec::new();
    let lake = Lake::open(cfg.lake_dir())?;
    let engine = Engine::open(&lake, engine_limits(cfg)).await?;
    let (catalogue, load_errors) = indicators::discover(&cfg.resolve(&cfg.paths.queries));
    problems.extend(load_errors.iter().map(ToString::to_string));
    for ind in &catalogue {
        if let Err(header) = Spec::from_indicator(ind) {
            for h in header {
                problems.push(format!("{}: header: {h}", ind.path.display()));
            }
        }
        match engine.plan(&ind.sql).await {
            Ok(df) => {
                let names: Vec<&str> = df
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                let missing: Vec<&str> = ["month", "area_code", "numerator"]
                    .into_iter()
                    .filter(|c| !names.contains(c))
                    .collect();
                if !missing.is_empty() {
                    problems.push(format!(
                        "{}: the query must return {}; it returns {}",
                        ind.path.display(),
                        missing.join(", "),
                        names.join(", ")
                    ));
                }
            }
            Err(e) => {
                let (line, col) = e.location().unwrap_or((0, 0));
                problems.push(format!("{}:{line}:{col}: {e}", ind.path.display()));
            }
        }
    }
    if let Err(e) = outputs::load_definitions(&cfg.resolve(&cfg.paths.outputs)) {
        problems.push(e.to_string());
    }
    Ok((catalogue.len(), problems))
}
