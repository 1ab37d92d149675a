//! The SQL engine: a DataFusion session over the lake, read-only and limited.
//!
//! Officers' SQL may only read. Every statement is parsed first and anything
//! but a query (SELECT, WITH, VALUES, EXPLAIN of a query) is refused before
//! planning; DataFusion's own `SQLOptions` then forbid DDL, DML and `SET`
//! again as a second fence. No file-reading table functions or URL tables
//! are registered, so a query can see only lake tables. Memory is capped per
//! session and time per query.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::DataFrame;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;

use crate::lake::{Lake, Manifest};
use crate::schema::INPUT_COLUMN;

pub mod cluster;
pub mod filters;
pub mod grouping;
pub mod guard;
pub mod join_bounds;
pub mod per_value;
pub mod shared;
pub mod text_ids;
pub mod worker;

/// Whether queries go to a cluster rather than run here.
fn ctx_is_remote(limits: &EngineLimits) -> bool {
    !matches!(limits.engine, crate::config::QueryEngine::InProcess)
}

/// Errors from planning or running SQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The statement is not a read-only query.
    #[error("{message}")]
    NotReadOnly {
        /// What was refused and why.
        message: String,
        /// Where, if known (1-based line and column in the SQL text).
        location: Option<(u64, u64)>,
    },
    /// DataFusion refused or failed the query.
    #[error("{message}")]
    Sql {
        /// DataFusion's message, first line.
        message: String,
        /// Where, if known.
        location: Option<(u64, u64)>,
    },
    /// The query ran past its time limit.
    #[error("the query did not finish within {0} s (limits.query_timeout_secs)")]
    Timeout(u64),
    /// The query is nested too deep or has too many operators to plan
    /// safely.
    #[error("{message}")]
    TooComplex {
        /// What crossed which line.
        message: String,
        /// Where.
        location: Option<(u64, u64)>,
    },
    /// The result is larger than a query may return.
    #[error("{0}")]
    TooLarge(String),
    /// The query worker process failed or was stopped.
    #[error("{0}")]
    Worker(String),
    /// The Ballista cluster could not be reached or could not run the query.
    #[error("{0}")]
    Cluster(String),
    /// The lake could not be read.
    #[error(transparent)]
    Lake(#[from] crate::lake::Error),
}

impl Error {
    /// Line and column (1-based) in the SQL text, where known.
    pub fn location(&self) -> Option<(u64, u64)> {
        match self {
            Error::NotReadOnly { location, .. }
            | Error::Sql { location, .. }
            | Error::TooComplex { location, .. } => *location,
            _ => None,
        }
    }

    fn from_df(e: DataFusionError) -> Self {
        let location = e
            .diagnostic()
            .and_then(|d| d.span)
            .map(|s| (s.start.line, s.start.column))
            .filter(|(l, _)| *l > 0)
            .or_else(|| find_line_column(&e.to_string()));
        let raw = e.strip_backtrace();
        let message = match e.diagnostic() {
            Some(d) => d.message.clone(),
            None if raw.contains("Resources exhausted") || raw.contains("Failed to allocate") => {
                let pool = raw
                    .split("pool_size: ")
                    .nth(1)
                    .and_then(|r| r.split(')').next())
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default();
                format!(
                    "the query needs more memory than limits.query_memory_mib allows{pool} and was stopped; filter or aggregate earlier (a WHERE before a join, a GROUP BY), or raise the limit"
                )
            }
            None => plain(&raw),
        };
        let message = parser_words(&message);
        Error::Sql { message, location }
    }
}

/// The sqlparser's `ParserError("Expected: X, found: Y at Line: ...")` and
/// `TokenizerError(...)` as sentences.
fn parser_words(msg: &str) -> String {
    let inner = |prefix: &str| {
        msg.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix("\")"))
            .map(|r| match r.find(" at Line: ") {
                Some(i) => r[..i].to_string(),
                None => r.to_string(),
            })
    };
    if let Some(r) = inner("ParserError(\"") {
        if let Some(rest) = r.strip_prefix("Expected: ")
            && let Some((want, found)) = rest.split_once(", found: ")
        {
            let found = if found == "EOF" {
                "the end of the query".to_string()
            } else {
                format!("`{found}`")
            };
            return format!("syntax error: expected {want} here, but found {found}");
        }
        return format!("syntax error: {r}");
    }
    if let Some(r) = inner("TokenizerError(\"") {
        if r.starts_with("Unterminated string literal") {
            return "this text is not closed: a closing ' is missing (to put a ' inside text, write it twice: 'Children''s Services')".into();
        }
        return format!("the query cannot be read: {r}");
    }
    msg.to_string()
}

/// The line of `text` at `line` with a marker under `column`, for people:
///
/// ```text
///    10 |        crime_typo AS area_code
///       |        ^
/// ```
pub fn snippet(text: &str, line: u64, column: u64) -> String {
    let Some(src) = text.lines().nth(line.saturating_sub(1) as usize) else {
        return String::new();
    };
    let n = line.to_string();
    let pad = " ".repeat(n.len());
    let indent: String = src
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!(" {n} | {src}\n {pad} | {indent}^")
}

/// Where a query ends (for errors at "the end of the query").
fn end_of(sql: &str) -> (u64, u64) {
    let lines: Vec<&str> = sql.trim_end().lines().collect();
    let line = lines.len().max(1);
    let col = lines.last().map(|l| l.chars().count() + 1).unwrap_or(1);
    (line as u64, col as u64)
}

/// DataFusion's message without its internal prefixes
/// (`Execution error: `, `Error during planning: `, ...).
fn plain(msg: &str) -> String {
    let mut m = msg.trim();
    loop {
        let before = m;
        for p in [
            "Execution error: ",
            "Error during planning: ",
            "SQL error: ",
            "Arrow error: ",
            "External error: ",
            "Resources exhausted: ",
            "This feature is not implemented: ",
            "Invalid argument error: ",
        ] {
            if let Some(rest) = m.strip_prefix(p) {
                m = rest;
            }
        }
        if m == before {
            break;
        }
    }
    m.to_string()
}

/// Find `Line: N, Column: M` in a parser message.
fn find_line_column(msg: &str) -> Option<(u64, u64)> {
    let i = msg.find("Line: ")?;
    let rest = &msg[i + 6..];
    let line: u64 = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let j = rest.find("Column: ")?;
    let col: u64 = rest[j + 8..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((line, col))
}

/// A view file that could not be registered.
#[derive(Debug, Clone)]
pub struct ViewProblem {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, where known.
    pub location: Option<(u64, u64)>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ViewProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (l, c) = self.location.unwrap_or((1, 1));
        write!(f, "{}:{l}:{c}: {}", self.path.display(), self.message)
    }
}

/// Limits for one engine.
#[derive(Debug, Clone)]
pub struct EngineLimits {
    /// Memory pool size in bytes; also the most a query's result may hold.
    pub memory_bytes: usize,
    /// Per-query wall time.
    pub timeout: Duration,
    /// Folder for spill files (default: `.spill` in the lake). Each engine
    /// spills into a `pid-<n>` folder of its own, removed when it closes,
    /// and the next engine removes those of processes that have gone.
    pub spill_dir: Option<PathBuf>,
    /// Most bytes a query may spill to disk.
    pub spill_bytes: u64,
    /// Run queries in a worker process started from this executable (see
    /// [`worker`]), so the limits are enforced from outside. `None`: in
    /// this process.
    pub worker: Option<PathBuf>,
    /// Folder of shared SQL views (`queries/_views/*.sql`), registered
    /// before any query runs.
    pub views: Option<PathBuf>,
    /// Where queries run: here (through [`worker`]) or on a Ballista
    /// cluster, whose executors hold the memory limit.
    pub engine: crate::config::QueryEngine,
}

impl EngineLimits {
    /// The same limits, with queries run in this process.
    pub fn in_process(&self) -> EngineLimits {
        EngineLimits {
            worker: None,
            ..self.clone()
        }
    }
}

/// Most rows a query may return (indicator queries return one row per
/// month and area: thousands).
pub const MAX_RESULT_ROWS: usize = 5_000_000;

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            memory_bytes: 1 << 30,
            timeout: Duration::from_secs(120),
            spill_dir: None,
            spill_bytes: 4 << 30,
            worker: worker::worker_exe(),
            views: None,
            engine: crate::config::QueryEngine::InProcess,
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The session first (its disk manager removes its own folder), then
        // this process's spill folder if no other engine is using it.
        // SAFETY: `ctx` is not used after this.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.ctx) };
        let _ = std::fs::remove_dir(&self.spill);
    }
}

/// Remove spill folders of processes that no longer exist.
fn tidy_spill(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("pid-")
            .and_then(|p| p.parse::<u32>().ok())
            && !crate::ledger::lock::pid_alive(pid)
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A read-only DataFusion session with every lake table registered.
pub struct Engine {
    view_problems: Vec<ViewProblem>,
    /// Column names of every table and view, for suggestions.
    columns: Vec<(String, Vec<String>)>,
    ctx: std::mem::ManuallyDrop<SessionContext>,
    spill: PathBuf,
    limits: EngineLimits,
    tables: Vec<String>,
    versions: std::collections::BTreeMap<String, u64>,
    lake_location: String,
    worker: tokio::sync::Mutex<Option<worker::Worker>>,
}

impl Engine {
    /// Open a session over the lake.
    pub async fn open(lake: &Lake, limits: EngineLimits) -> Result<Engine, Error> {
        use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
        let spill_root = limits
            .spill_dir
            .clone()
            .unwrap_or_else(|| lake.root().join(".spill"));
        tidy_spill(&spill_root);
        let spill = spill_root.join(format!("pid-{}", std::process::id()));
        std::fs::create_dir_all(&spill).map_err(|source| crate::lake::Error::Io {
            path: spill.clone(),
            source,
        })?;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory_bytes, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default()
                    .with_mode(DiskManagerMode::Directories(vec![spill]))
                    .with_max_temp_directory_size(limits.spill_bytes),
            )
            .build_arc()
            .map_err(Error::from_df)?;
        // No information_schema: `safer tables` and `describe` say what
        // exists in words, and the engine's settings are not officers'
        // business.
        let mut config = SessionConfig::new()
            .with_information_schema(false)
            .with_default_catalog_and_schema("safer", "lake");
        // Spans let planning errors (unknown column, wrong type) point at
        // the line and column in the officer's file, not just parse errors.
        config.options_mut().sql_parser.collect_spans = true;
        // A GROUP BY whose first rows find many groups (every location and
        // LSOA, say: millions of groups at national scale) gains nothing
        // from aggregating each partition before the repartition, and the
        // partial hash table doubles the memory. DataFusion skips that step
        // only past 80% distinct; at 10% the peer benchmark's query 09 ran
        // in half the time and two thirds of the memory, and the other
        // queries (few groups) are untouched (docs/performance.md).
        config
            .options_mut()
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 0.1;
        // `SELECT DISTINCT month ... ORDER BY month DESC LIMIT 12` (the
        // latest twelve months, a pattern in every rolling indicator) is
        // planned by default as a top-k grouping that keeps a heap of the
        // twelve best months seen so far and costs about 28 ns a row; the
        // plain hash grouping costs about 6. Over the national lake the
        // distinct months took 0.35 s that way against 0.07 s
        // (DataFusion's Python package 55), and the peer benchmark's
        // queries 06 and 07 0.9 s against 0.6 s (`safer sql`,
        // docs/performance.md). The top-k grouping saves memory
        // only where a LIMIT keeps a few of millions of groups, which the
        // memory limit and spilling already cover.
        config.options_mut().optimizer.enable_topk_aggregation = false;
        let mut limits = limits;
        let ctx = match &limits.engine {
            crate::config::QueryEngine::InProcess => SessionContext::new_with_state(
                datafusion::execution::SessionStateBuilder::new()
                    .with_config(config)
                    .with_runtime_env(runtime)
                    .with_default_features()
                    .with_analyzer_rules(grouping::analyzer_rules())
                    .with_physical_optimizer_rule(Arc::new(filters::CheapConditionsFirst))
                    .with_physical_optimizer_rule(Arc::new(per_value::EvaluateOncePerValue))
                    .with_physical_optimizer_rule(Arc::new(join_bounds::NoBoundsOnDictionaryKeys))
                    .build(),
            ),
            crate::config::QueryEngine::Ballista { host, port } => {
                // The executors run the plans, under their own memory
                // limit; this process only plans and collects the answer.
                limits.worker = None;
                cluster::remote(host, *port, config, runtime).await?
            }
        };
        let remote = ctx_is_remote(&limits);
        guard::install(&ctx);
        if let Some(r) = lake.remote() {
            // Tables on object storage are read where they are.
            ctx.register_object_store(&r.url, r.store());
        }
        let mut tables = Vec::new();
        let mut versions = std::collections::BTreeMap::new();
        for m in lake.datasets()? {
            if let Some(v) = m.version {
                versions.insert(m.dataset.clone(), v);
            }
            let provider = table_for(lake, &m, &ctx, remote).await?;
            ctx.register_table(m.dataset.as_str(), provider)
                .map_err(Error::from_df)?;
            tables.push(m.dataset.clone());
        }
        let view_problems = match &limits.views {
            Some(dir) => register_views(&ctx, dir, &mut tables).await,
            None => Vec::new(),
        };
        let mut columns = Vec::new();
        for t in &tables {
            if let Ok(p) = ctx.table_provider(t.as_str()).await {
                columns.push((
                    t.clone(),
                    p.schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect(),
                ));
            }
        }
        Ok(Engine {
            columns,
            view_problems,
            ctx: std::mem::ManuallyDrop::new(ctx),
            spill: spill_root.join(format!("pid-{}", std::process::id())),
            limits,
            tables,
            versions,
            lake_location: lake.location(),
            worker: tokio::sync::Mutex::new(None),
        })
    }

    /// The Delta version of every lake table this session reads, so a run
    /// can record exactly what it measured and be rebuilt from it.
    pub fn table_versions(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.versions
    }

    /// View files that could not be registered.
    pub fn view_problems(&self) -> &[ViewProblem] {
        &self.view_problems
    }

    /// Names of the registered tables.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The underlying session, for registering derived tables (results).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plan a read-only query.
    pub async fn plan(&self, sql: &str) -> Result<DataFrame, Error> {
        check_read_only(sql).map_err(|e| self.enrich(e, sql))?;
        let opts = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        self.ctx
            .sql_with_options(sql, opts)
            .await
            .map_err(|e| self.enrich(Error::from_df(e), sql))
    }

    /// Add what helps an officer to a planning error: a suggestion for a
    /// misspelt table, column or function, and a position for errors at
    /// the end of the query.
    fn enrich(&self, e: Error, sql: &str) -> Error {
        let Error::Sql { message, location } = e else {
            return e;
        };
        let quoted = |prefix: &str| {
            message
                .strip_prefix(prefix)
                .and_then(|r| r.split('\'').next())
                .map(str::to_string)
        };
        let mut message = message.clone();
        let mut location = location;
        if let Some(t) = quoted("table '") {
            let t = t.rsplit('.').next().unwrap_or(&t).to_string();
            let names: Vec<&str> = self.tables.iter().map(String::as_str).collect();
            message = match crate::explore::closest(&t, &names) {
                Some(c) => format!(
                    "there is no table `{t}`; did you mean `{c}`? (`safer tables` lists them)"
                ),
                None if names.is_empty() => {
                    format!("there is no table `{t}`: the lake is empty; run `safer ingest` first")
                }
                None => format!("there is no table `{t}` (`safer tables` lists them)"),
            };
        } else if let Some(c) = quoted("column '") {
            let c = c.rsplit('.').next().unwrap_or(&c).to_string();
            let cols: Vec<&String> = self.columns.iter().flat_map(|(_, c)| c).collect();
            let names: Vec<&str> = cols.iter().map(|c| c.as_str()).collect();
            message = match crate::explore::closest(&c, &names) {
                Some(s) if s != c => format!(
                    "there is no column `{c}`; did you mean `{s}`? (`safer describe TABLE` lists a table's columns)"
                ),
                _ => format!(
                    "there is no column `{c}` in the tables this query reads (`safer describe TABLE` lists a table's columns)"
                ),
            };
        } else if let Some(f) = quoted("Invalid function '") {
            let state = self.ctx.state();
            let mut names: Vec<&str> = state
                .scalar_functions()
                .keys()
                .map(String::as_str)
                .collect();
            names.extend(state.aggregate_functions().keys().map(String::as_str));
            names.extend(state.window_functions().keys().map(String::as_str));
            message = match crate::explore::closest(&f, &names) {
                Some(s) => format!("there is no function `{f}`; did you mean `{s}`?"),
                None => format!("there is no function `{f}`"),
            };
        }
        if message.contains("the end of the query") {
            location = Some(end_of(sql));
        }
        Error::Sql { message, location }
    }

    /// Run a read-only query and collect its (small) result, within the limits.
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
        self.query_limited(sql, None).await
    }

    /// As [`Engine::query`], keeping at most `limit` rows. With a worker
    /// (the default for the `safer` program) the query runs there, under a
    /// wall-clock deadline and an address-space limit enforced from this
    /// process; otherwise here.
    pub async fn query_limited(
        &self,
        sql: &str,
        limit: Option<usize>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
        let Some(exe) = self.limits.worker.clone() else {
            return self.query_here(sql, limit).await;
        };
        let mut slot = self.worker.lock().await;
        let w = match slot.take() {
            Some(w) => w,
            None => worker::Worker::spawn(&exe, &self.lake_location, &self.versions, &self.limits)
                .map_err(|e| Error::Worker(format!("could not start the query worker: {e}")))?,
        };
        let pid = w.pid();
        let req = worker::Request {
            sql: sql.to_string(),
            limit,
        };
        let secs = self.limits.timeout.as_secs();
        let handle = tokio::task::spawn_blocking(move || w.roundtrip(&req, secs));
        // The worker stops its own query at the limit when it can; this
        // deadline, a little later, is for when it cannot.
        let deadline = self.limits.timeout + Duration::from_secs(2);
        match tokio::time::timeout(deadline, handle).await {
            Ok(Ok((back, result))) => {
                *slot = back;
                result
            }
            Ok(Err(join)) => Err(Error::Worker(format!(
                "internal error talking to the query worker (this is a bug): {join}"
            ))),
            Err(_) => {
                // SAFETY: sending SIGKILL to our own child, by its pid.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
                Err(Error::Timeout(secs))
            }
        }
    }

    /// Run a query in this process, as a task of its own: a panic inside
    /// the engine becomes an error for this query instead of ending the
    /// process. The result is bounded: at most [`MAX_RESULT_ROWS`] rows and
    /// the memory limit in bytes.
    pub async fn query_here(
        &self,
        sql: &str,
        limit: Option<usize>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
        let mut df = self.plan(sql).await?;
        if let Some(n) = limit {
            df = df.limit(0, Some(n)).map_err(Error::from_df)?;
        }
        let schema: SchemaRef = plain_strings(&Arc::new(df.schema().as_arrow().clone()));
        let max_bytes = self.limits.memory_bytes;
        let out_schema = schema.clone();
        let share = !ctx_is_remote(&self.limits);
        let run = async move {
            // A summary the query reads twice (this year against last) is
            // worked out once, inside the time limit (`shared`); the held
            // answers may take an eighth of the memory limit. Sharing looks
            // at the optimised plan, so two copies that differ (a filter
            // pushed into one) are each worked out as written.
            let mut stream = if share {
                let (state, plan) = df.into_parts();
                let plan = state.optimize(&plan).map_err(Error::from_df)?;
                let plan = shared::work_out_once(&state, plan, max_bytes / 8)
                    .await
                    .map_err(Error::from_df)?;
                let physical = state
                    .query_planner()
                    .create_physical_plan(&plan, &state)
                    .await
                    .map_err(Error::from_df)?;
                datafusion::physical_plan::execute_stream(physical, state.task_ctx())
                    .map_err(Error::from_df)?
            } else {
                df.execute_stream().await.map_err(Error::from_df)?
            };
            let mut out = Vec::new();
            let (mut rows, mut bytes) = (0usize, 0usize);
            while let Some(b) = stream.next().await {
                let b = to_plain_strings(b.map_err(Error::from_df)?, &out_schema)?;
                rows += b.num_rows();
                bytes += b.get_array_memory_size();
                if rows > MAX_RESULT_ROWS || bytes > max_bytes {
                    return Err(Error::TooLarge(format!(
                        "the query returns more than {} rows or {} MiB, more than a query may return; an indicator returns one row per month and area, so add a WHERE or GROUP BY (or LIMIT, to look at a sample)",
                        MAX_RESULT_ROWS,
                        max_bytes / (1024 * 1024)
                    )));
                }
                out.push(b);
                // Let the time limit (and a cancelled run) take effect
                // between batches even when every batch is ready at once.
                tokio::task::yield_now().await;
            }
            Ok::<_, Error>(out)
        };
        let mut task = tokio::spawn(run);
        let answer = tokio::time::timeout(self.limits.timeout, &mut task).await;
        // What the query freed goes back to the system before the next one
        // (`lake::give_back_freed_memory`).
        crate::lake::give_back_freed_memory();
        match answer {
            Ok(Ok(r)) => r.map(|b| (schema, b)),
            Ok(Err(join)) => Err(Error::Sql {
                message: format!("internal error in the SQL engine (this is a bug): {join}"),
                location: None,
            }),
            Err(_) => {
                task.abort();
                Err(Error::Timeout(self.limits.timeout.as_secs()))
            }
        }
    }
}

/// `schema` with string views and dictionaries as plain strings: what the
/// engine's answers carry. Text of few values is read as a dictionary and
/// some functions return views, but everything after the engine (results,
/// workbooks, packs, tests) reads answers as plain strings.
fn plain_strings(schema: &SchemaRef) -> SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let plain = |t: &DataType| match t {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::Dictionary(_, v) => Some(match v.as_ref() {
            DataType::Utf8View | DataType::Utf8 => DataType::Utf8,
            other => other.clone(),
        }),
        _ => None,
    };
    if !schema
        .fields()
        .iter()
        .any(|f| plain(f.data_type()).is_some())
    {
        return schema.clone();
    }
    Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| match plain(f.data_type()) {
                Some(t) => f.as_ref().clone().with_data_type(t),
                None => f.as_ref().clone(),
            })
            .collect::<Vec<Field>>(),
        schema.metadata().clone(),
    ))
}

/// One answer batch in `schema` (from [`plain_strings`]).
fn to_plain_strings(b: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, Error> {
    if b.schema().fields() == schema.fields() {
        return Ok(b);
    }
    let columns = b
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::from_df(e.into()))?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::from_df(e.into()))
}

/// Refuse anything that is not a single read-only query, and anything too
/// deep to plan safely.
pub fn check_read_only(sql: &str) -> Result<(), Error> {
    guard::check_shape(sql)?;
    let statements = DFParser::parse_sql(sql).map_err(Error::from_df)?;
    if statements.len() != 1 {
        return Err(Error::NotReadOnly {
            message: format!(
                "an indicator or query is exactly one SELECT statement; this has {}",
                statements.len()
            ),
            location: if statements.len() > 1 {
                second_statement(sql)
            } else {
                None
            },
        });
    }
    let ok = match &statements[0] {
        DFStatement::Statement(s) => match s.as_ref() {
            Statement::Query(_) => true,
            Statement::Explain { statement, .. } => {
                matches!(statement.as_ref(), Statement::Query(_))
            }
            _ => false,
        },
        DFStatement::Explain(e) => matches!(
            e.statement.as_ref(),
            DFStatement::Statement(s) if matches!(s.as_ref(), Statement::Query(_))
        ),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let (word, location) = guard::statement_word(sql);
        Err(Error::NotReadOnly {
            message: format!(
                "only read-only queries (SELECT or WITH) are allowed; `{word}` is refused"
            ),
            location,
        })
    }
}

/// Where the second statement starts: just after the first top-level `;`.
fn second_statement(sql: &str) -> Option<(u64, u64)> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut after = false;
    for t in tokens {
        match t.token {
            Token::SemiColon => after = true,
            Token::Whitespace(_) => {}
            _ if after => return Some((t.span.start.line, t.span.start.column)),
            _ => {}
        }
    }
    None
}

/// Register every view in `dir` whose tables have landed. Views may read
/// each other: files are tried again until no more can be registered.
/// A view that fails is reported with its file, line and column; one whose
/// tables are not in the lake (no STATS19 landed yet, say) is left out.
async fn register_views(
    ctx: &SessionContext,
    dir: &std::path::Path,
    tables: &mut Vec<String>,
) -> Vec<ViewProblem> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(e) => e
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    let mut pending: Vec<(PathBuf, String, String, Vec<String>)> = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let sql = match std::fs::read_to_string(&f) {
            Ok(s) => s,
            Err(e) => {
                problems.push(ViewProblem {
                    path: f,
                    location: None,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let meta = crate::indicators::parse_header(&f, &sql).unwrap_or_default();
        let name = meta.get("view").cloned().unwrap_or_else(|| {
            f.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let needs: Vec<String> = meta
            .get("tables")
            .map(|t| t.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default();
        pending.push((f, name, sql, needs));
    }
    loop {
        let mut progress = false;
        let mut still = Vec::new();
        let mut last_errors = Vec::new();
        for (f, name, sql, needs) in pending {
            if !needs.iter().all(|t| tables.contains(t)) {
                still.push((f, name, sql, needs));
                continue;
            }
            let planned = match check_read_only(&sql) {
                Ok(()) => ctx
                    .sql_with_options(
                        &sql,
                        SQLOptions::new()
                            .with_allow_ddl(false)
                            .with_allow_dml(false)
                            .with_allow_statements(false),
                    )
                    .await
                    .map_err(Error::from_df),
                Err(e) => Err(e),
            };
            match planned.and_then(|df| {
                ctx.register_table(name.as_str(), df.into_view())
                    .map_err(Error::from_df)
            }) {
                Ok(_) => {
                    tables.push(name.clone());
                    progress = true;
                }
                Err(e) => {
                    last_errors.push(ViewProblem {
                        path: f.clone(),
                        location: e.location(),
                        message: format!("view `{name}`: {e}"),
                    });
                    still.push((f, name, sql, needs));
                }
            }
        }
        pending = still;
        if !progress || pending.is_empty() {
            problems.extend(last_errors);
            break;
        }
    }
    problems
}

/// A table provider for one dataset: exactly the manifest's files, `_input`
/// hidden behind a projection so `SELECT *` shows the documented columns.
///
/// On a Ballista cluster the plan travels to the scheduler and executors,
/// so every table must be one that DataFusion's plan encoding knows: the
/// view is inlined into the plan, the Parquet files travel as a list of
/// paths, and an empty table is a projection of typed NULLs over no rows
/// (an in-memory table cannot travel).
async fn table_for(
    lake: &Lake,
    m: &Manifest,
    ctx: &SessionContext,
    remote: bool,
) -> Result<Arc<dyn TableProvider>, Error> {
    // Plain strings, not string views: views were a quarter faster on the
    // peer benchmark, but a TopK or sort over them accounts the whole
    // buffers each view points into, and a national GROUP BY that fits the
    // default 1 GiB with plain strings was stopped for memory with views
    // (docs/performance.md). Text declared with few values is read as a
    // dictionary, as its files' Arrow hint says (`schema::read_schema`);
    // a file landed before the hint existed is cast to it as it is read.
    let schema = crate::schema::read_schema(&m.columns);
    let dir = lake.dataset_dir(&m.dataset);
    if remote && m.files.is_empty() {
        return cluster::empty_table(ctx, &schema);
    }
    let raw: Arc<dyn TableProvider> = if m.files.is_empty() {
        Arc::new(MemTable::try_new(schema.clone(), vec![vec![]]).map_err(Error::from_df)?)
    } else {
        let table_url = lake.table_url(&m.dataset)?;
        let urls = m
            .files
            .values()
            .map(|f| {
                if lake.remote().is_some() {
                    let u = table_url.join(&f.path).map_err(|e| {
                        crate::lake::Error::Internal(format!("file URL {}: {e}", f.path))
                    })?;
                    return ListingTableUrl::parse(u.as_str()).map_err(Error::from_df);
                }
                let p: PathBuf = std::path::absolute(dir.join(&f.path)).map_err(|source| {
                    crate::lake::Error::Io {
                        path: dir.join(&f.path),
                        source,
                    }
                })?;
                ListingTableUrl::parse(p.to_string_lossy()).map_err(Error::from_df)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema.clone());
        Arc::new(ListingTable::try_new(config).map_err(Error::from_df)?)
    };
    let df = ctx.read_table(raw).map_err(Error::from_df)?;
    let df = df.drop_columns(&[INPUT_COLUMN]).map_err(Error::from_df)?;
    Ok(df.into_view())
}

/// A query's answer as a printed table, for the engine's unit tests.
#[cfg(test)]
async fn test_text(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_pass() {
        assert!(check_read_only("SELECT 1").is_ok());
        assert!(check_read_only("WITH a AS (SELECT 1 AS x) SELECT x FROM a").is_ok());
        for bad in [
            "DROP TABLE police_uk_street",
            "CREATE TABLE x AS SELECT 1",
            "INSERT INTO x VALUES (1)",
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "SET datafusion.execution.batch_size = 1",
            "SELECT 1; DROP TABLE x",
        ] {
            assert!(check_read_only(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn parser_errors_have_positions() {
        let e = check_read_only("SELECT month\nFROM t\nWHERE month = = 3").unwrap_err();
        assert!(e.location().is_some(), "{e:?}");
    }
}
