//! The project file, `safer.toml`: organisation, paths, limits and sources.
//!
//! Pipeline facts live here; runtime knobs are command-line flags. Unknown
//! keys are rejected so a typo is an error, not a silently ignored setting.
//! Secrets never appear in this file: a database source names the
//! environment variable that holds its connection string.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::schema::Column;

/// File name looked for in the working directory.
pub const CONFIG_FILE: &str = "safer.toml";

/// A configuration problem, with the file it is in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Config file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}: {message}")]
    Parse {
        /// Config file.
        path: PathBuf,
        /// What is wrong, with line and column from the TOML parser.
        message: String,
    },
    /// The file parsed but some settings are wrong; every problem is listed.
    #[error("{path}: {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    Invalid {
        /// Config file.
        path: PathBuf,
        /// Each problem in words.
        problems: Vec<String>,
    },
}

/// The whole project configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who the returns are for.
    pub organisation: Organisation,
    /// Where things live, relative to the config file.
    #[serde(default)]
    pub paths: Paths,
    /// Where indicator queries run: in this process (the default), or on a
    /// DataFusion Ballista cluster (`engine = "ballista://host:50050"`).
    #[serde(default)]
    pub engine: QueryEngine,
    /// Resource limits for officers' SQL and for sources.
    #[serde(default)]
    pub limits: Limits,
    /// Data sources, landed in order by `safer ingest`.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Where the run ledger lives.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Who is told when a run fails, is partial or finds stale data.
    #[serde(default)]
    pub alerts: crate::alerts::AlertsConfig,
    /// Directory of the config file; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The reporting organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Name printed on every output, e.g. "Lancashire County Council".
    pub name: String,
    /// Police force file name part for police.uk files (e.g. `lancashire`).
    #[serde(default)]
    pub force: Option<String>,
}

/// Project paths.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// The Parquet lake.
    #[serde(default = "default_lake")]
    pub lake: PathBuf,
    /// Officers' indicator SQL.
    #[serde(default = "default_queries")]
    pub queries: PathBuf,
    /// Generated outputs.
    #[serde(default = "default_outputs")]
    pub outputs: PathBuf,
    /// Run ledger (the SQLite file, the run lock and the JSON-lines export).
    #[serde(default = "default_ledger")]
    pub ledger: PathBuf,
    /// Schedules for `safer serve` (`*.toml`).
    #[serde(default = "default_schedules")]
    pub schedules: PathBuf,
}

/// The run ledger's database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Environment variable holding a PostgreSQL URL for the ledger. Unset:
    /// a SQLite file, `ledger.db`, in `paths.ledger`.
    #[serde(default)]
    pub url_env: Option<String>,
}

fn default_lake() -> PathBuf {
    "lake".into()
}
fn default_queries() -> PathBuf {
    "queries".into()
}
fn default_outputs() -> PathBuf {
    "outputs".into()
}
fn default_ledger() -> PathBuf {
    "ledger".into()
}
fn default_schedules() -> PathBuf {
    "schedules".into()
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            lake: default_lake(),
            queries: default_queries(),
            outputs: default_outputs(),
            ledger: default_ledger(),
            schedules: default_schedules(),
        }
    }
}

/// Where indicator queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum QueryEngine {
    /// DataFusion in this process (in a worker process of this program, so
    /// the limits hold from outside).
    #[default]
    InProcess,
    /// A DataFusion Ballista scheduler, whose executors read the lake where
    /// it lies (`safer scheduler` and `safer executor` start them).
    Ballista {
        /// The scheduler's host name or address.
        host: String,
        /// Its gRPC port (Ballista's default is 50050).
        port: u16,
    },
}

/// Ballista's scheduler port when a `ballista://` address names none.
pub const BALLISTA_DEFAULT_PORT: u16 = 50050;

impl TryFrom<String> for QueryEngine {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() || t == "in-process" || t == "datafusion" {
            return Ok(QueryEngine::InProcess);
        }
        let Some(rest) = t.strip_prefix("ballista://") else {
            return Err(format!(
                "engine = \"{t}\" is not an engine safer knows: use \"in-process\" (the default) or \"ballista://HOST:PORT\" for a Ballista scheduler"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>().map_err(|_| {
                    format!("engine = \"{t}\": the port `{p}` is not a number from 1 to 65535")
                })?,
            ),
            None => (rest, BALLISTA_DEFAULT_PORT),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!(
                "engine = \"{t}\": write the scheduler as ballista://HOST:PORT, for example ballista://10.0.0.5:50050"
            ));
        }
        Ok(QueryEngine::Ballista {
            host: host.to_string(),
            port,
        })
    }
}

impl From<QueryEngine> for String {
    fn from(e: QueryEngine) -> String {
        e.to_string()
    }
}

impl std::fmt::Display for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryEngine::InProcess => f.write_str("in-process"),
            QueryEngine::Ballista { host, port } => write!(f, "ballista://{host}:{port}"),
        }
    }
}

/// Resource limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory one indicator query may use, in MiB.
    #[serde(default = "default_query_memory")]
    pub query_memory_mib: usize,
    /// Time one indicator query may take, in seconds.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// Time to connect to a partner database, in seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Time one database source may take overall, in seconds.
    #[serde(default = "default_source_timeout")]
    pub source_timeout_secs: u64,
}

fn default_query_memory() -> usize {
    1024
}
fn default_query_timeout() -> u64 {
    120
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_source_timeout() -> u64 {
    900
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            query_memory_mib: default_query_memory(),
            query_timeout_secs: default_query_timeout(),
            connect_timeout_secs: default_connect_timeout(),
            source_timeout_secs: default_source_timeout(),
        }
    }
}

/// One data source. `kind` selects the reader.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A folder of data.police.uk street-level files.
    PoliceUk(FileSource),
    /// A folder of DfT STATS19 collision, vehicle and casualty files.
    Stats19(FileSource),
    /// ONS mid-year population estimates (MYEB2 layout).
    OnsPopulation(FileSource),
    /// CSV files with a declared schema.
    Csv(CsvSource),
    /// A SELECT against a partner database.
    Sql(SqlSource),
}

impl Source {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            Source::PoliceUk(s) | Source::Stats19(s) | Source::OnsPopulation(s) => &s.name,
            Source::Csv(s) => &s.name,
            Source::Sql(s) => &s.name,
        }
    }

    /// How many whole months behind the reporting date this source's newest
    /// month may be before it counts as stale: declared with
    /// `max_lag_months`, else the publisher's usual lag for the published
    /// formats (police.uk about two months, so 3; STATS19 once a year, in
    /// September for the year before, so 21). `None`: not checked.
    pub fn max_lag_months(&self) -> Option<u32> {
        let declared = match self {
            Source::PoliceUk(s) | Source::Stats19(s) | Source::OnsPopulation(s) => s.max_lag_months,
            Source::Csv(s) => s.max_lag_months,
            Source::Sql(s) => s.max_lag_months,
        };
        declared.or(match self {
            Source::PoliceUk(_) => Some(3),
            Source::Stats19(_) => Some(21),
            _ => None,
        })
    }

    /// The lake tables this source lands.
    pub fn tables(&self) -> Vec<String> {
        match self {
            Source::PoliceUk(_) => vec![crate::sources::police_uk::TABLE.to_string()],
            Source::Stats19(_) => crate::sources::stats19::TABLES
                .iter()
                .map(|(_, d)| d.to_string())
                .collect(),
            Source::OnsPopulation(_) => vec![crate::sources::ons::TABLE.to_string()],
            Source::Csv(s) => vec![s.table.clone()],
            Source::Sql(s) => vec![s.table.clone()],
        }
    }

    /// The source's data tests.
    pub fn tests(&self) -> &[SourceTest] {
        match self {
            Source::PoliceUk(s) | Source::Stats19(s) | Source::OnsPopulation(s) => &s.tests,
            Source::Csv(s) => &s.tests,
            Source::Sql(s) => &s.tests,
        }
    }

    /// The kind, as written in config.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::PoliceUk(_) => "police_uk",
            Source::Stats19(_) => "stats19",
            Source::OnsPopulation(_) => "ons_population",
            Source::Csv(_) => "csv",
            Source::Sql(_) => "sql",
        }
    }
}

/// A data test on a landed table, as dbt has them. Declared under its
/// source as `[[sources.tests]]`; it runs on the table as it would be after
/// each landing, before the landing is committed, so an `error` test that
/// fails leaves the previous good data in place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceTest {
    /// What is tested.
    pub test: TestKind,
    /// The table, for a source that lands several (STATS19); default: the
    /// source's only table.
    #[serde(default)]
    pub table: Option<String>,
    /// The column tested (not_null, unique, accepted_values, relationships).
    #[serde(default)]
    pub column: Option<String>,
    /// For `unique` over a combination: the columns that together must be
    /// unique (instead of `column`).
    #[serde(default)]
    pub columns: Vec<String>,
    /// For `accepted_values`: every value the column may hold.
    #[serde(default)]
    pub values: Vec<String>,
    /// For `relationships`: `table.column` every value must appear in.
    #[serde(default)]
    pub to: Option<String>,
    /// For `row_count_change`: the largest fall against the previous load,
    /// in per cent of its rows.
    #[serde(default)]
    pub max_drop_pct: Option<f64>,
    /// For `row_count_change`: the largest rise, in per cent.
    #[serde(default)]
    pub max_rise_pct: Option<f64>,
    /// For `freshness`: how many whole months the newest month may lag the
    /// reporting date.
    #[serde(default)]
    pub max_lag_months: Option<u32>,
    /// `error` (the default, as in dbt): a failure refuses the landing;
    /// `warn`: recorded, shown in `status` and the pack's data-quality note.
    #[serde(default)]
    pub severity: Severity,
}

/// The kinds of source test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// No row has a missing value in `column`.
    NotNull,
    /// No two rows share a value of `column` (or of `columns` together).
    Unique,
    /// Every value of `column` is one of `values` (missing values pass;
    /// pair with not_null).
    AcceptedValues,
    /// Every value of `column` appears in `to` (missing values pass).
    Relationships,
    /// The row count moved by no more than the bounds since the last load.
    RowCountChange,
    /// The newest month is no older than `max_lag_months`.
    Freshness,
}

impl TestKind {
    /// As written in safer.toml.
    pub fn name(self) -> &'static str {
        match self {
            TestKind::NotNull => "not_null",
            TestKind::Unique => "unique",
            TestKind::AcceptedValues => "accepted_values",
            TestKind::Relationships => "relationships",
            TestKind::RowCountChange => "row_count_change",
            TestKind::Freshness => "freshness",
        }
    }
}

/// What a failing source test does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Refuse the landing: the previous good data stays.
    #[default]
    Error,
    /// Land anyway; record and report the failure.
    Warn,
}

impl Severity {
    /// As written in safer.toml.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

impl SourceTest {
    /// The table it tests, given the tables its source lands: the declared
    /// `table`, else the source's first (and usually only) one.
    pub fn table_in(&self, tables: &[String]) -> String {
        self.table
            .clone()
            .or_else(|| tables.first().cloned())
            .unwrap_or_default()
    }

    /// A short name for reports: `unique(case_id)`, `row_count_change`.
    pub fn label(&self) -> String {
        let cols = if !self.columns.is_empty() {
            self.columns.join(", ")
        } else {
            self.column.clone().unwrap_or_default()
        };
        if cols.is_empty() {
            self.test.name().to_string()
        } else {
            format!("{}({cols})", self.test.name())
        }
    }

    /// Problems with the declaration, in words; `tables` are the source's
    /// tables and `columns(table)` gives a table's declared columns.
    fn problems(&self, source: &str, tables: &[String], out: &mut Vec<String>) {
        let at = format!("source `{source}`: test {}", self.label());
        match &self.table {
            Some(t) if !tables.contains(t) => out.push(format!(
                "{at}: table `{t}` is not one this source lands ({})",
                tables.join(", ")
            )),
            None if tables.len() > 1 => out.push(format!(
                "{at}: this source lands {}; say which with `table = \"...\"`",
                tables.join(", ")
            )),
            _ => {}
        }
        let needs_column = matches!(
            self.test,
            TestKind::NotNull | TestKind::AcceptedValues | TestKind::Relationships
        );
        if needs_column && self.column.is_none() {
            out.push(format!("{at}: set `column`"));
        }
        if self.test == TestKind::Unique && self.column.is_none() == self.columns.is_empty() {
            out.push(format!("{at}: set one of `column` and `columns`"));
        }
        if self.test == TestKind::AcceptedValues && self.values.is_empty() {
            out.push(format!("{at}: list the accepted `values`"));
        }
        if self.test == TestKind::Relationships {
            match self.to.as_deref().and_then(|t| t.split_once('.')) {
                Some((t, c)) if is_identifier(t) && is_identifier(c) => {}
                _ => out.push(format!(
                    "{at}: set `to = \"table.column\"`, the lookup every value must appear in"
                )),
            }
        }
        if self.test == TestKind::RowCountChange {
            if self.max_drop_pct.is_none() && self.max_rise_pct.is_none() {
                out.push(format!("{at}: set `max_drop_pct`, `max_rise_pct` or both"));
            }
            for (k, v) in [
                ("max_drop_pct", self.max_drop_pct),
                ("max_rise_pct", self.max_rise_pct),
            ] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    out.push(format!("{at}: `{k}` must be a percentage of 0 or more"));
                }
            }
        }
        if self.test == TestKind::Freshness && self.max_lag_months.is_none() {
            out.push(format!("{at}: set `max_lag_months`"));
        }
    }
}

/// A file drop of a published format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// Source name (for reports and the ledger).
    pub name: String,
    /// File or folder, relative to the config file.
    pub path: PathBuf,
    /// Months the newest data may lag the reporting date (see
    /// [`Source::max_lag_months`]).
    #[serde(default)]
    pub max_lag_months: Option<u32>,
    /// Data tests run on every landing (see [`SourceTest`]).
    #[serde(default)]
    pub tests: Vec<SourceTest>,
}

/// CSV files with declared columns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSource {
    /// Source name.
    pub name: String,
    /// File or folder of `.csv` files.
    pub path: PathBuf,
    /// Lake table to land into.
    pub table: String,
    /// Declared columns (matched to the header by `source` or `name`).
    pub columns: Vec<Column>,
    /// Partition by the year of this column (date, timestamp or int).
    #[serde(default)]
    pub partition_by: Option<String>,
    /// Extra strings meaning "no value".
    #[serde(default)]
    pub null_values: Vec<String>,
    /// Ignore undeclared columns instead of refusing the file.
    #[serde(default)]
    pub ignore_extra_columns: bool,
    /// Months the newest data may lag the reporting date.
    #[serde(default)]
    pub max_lag_months: Option<u32>,
    /// Data tests run on every landing (see [`SourceTest`]).
    #[serde(default)]
    pub tests: Vec<SourceTest>,
}

/// How a database source refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SqlMode {
    /// Replace the whole table each run.
    #[default]
    Full,
    /// Pull only rows whose watermark column is above the last landed value.
    Incremental,
}

/// A partner database query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSource {
    /// Source name.
    pub name: String,
    /// Environment variable holding the connection URL (with credentials).
    #[serde(default)]
    pub url_env: Option<String>,
    /// A connection URL without credentials (e.g. `sqlite://data/partner.sqlite`).
    /// A URL with a password here is refused: use `url_env`.
    #[serde(default)]
    pub url: Option<String>,
    /// Lake table to land into.
    pub table: String,
    /// The SELECT to run (the partner's schema, our column names).
    pub query: String,
    /// Declared result columns.
    pub columns: Vec<Column>,
    /// Full refresh or incremental.
    #[serde(default)]
    pub mode: SqlMode,
    /// Watermark column for incremental pulls (must be declared).
    #[serde(default)]
    pub watermark: Option<String>,
    /// Partition by the year of this column.
    #[serde(default)]
    pub partition_by: Option<String>,
    /// Columns that identify a row at the source (`key = "case_id"` or
    /// `key = ["force", "case_id"]`), incremental mode only: a pulled row
    /// replaces the lake's row with the same key, so a row updated at the
    /// source is held once, with its new values.
    #[serde(default, deserialize_with = "one_or_many")]
    pub key: Vec<String>,
    /// Months the newest data may lag the reporting date.
    #[serde(default)]
    pub max_lag_months: Option<u32>,
    /// Data tests run on every landing (see [`SourceTest`]).
    #[serde(default)]
    pub tests: Vec<SourceTest>,
}

impl Config {
    /// Load and validate a config file.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let problems = cfg.problems();
        if !problems.is_empty() {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(cfg)
    }

    /// Resolve a path relative to the config file.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The lake directory.
    pub fn lake_dir(&self) -> PathBuf {
        // An object-store URL is a location, not a path under the project.
        if crate::lake::store::is_url(&self.paths.lake.to_string_lossy()) {
            return self.paths.lake.clone();
        }
        self.resolve(&self.paths.lake)
    }

    /// Every problem with the settings, collected rather than first-only.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut names = std::collections::HashSet::new();
        let mut tables = std::collections::HashMap::new();
        for s in &self.sources {
            let name = s.name();
            if !names.insert(name.to_string()) {
                out.push(format!("source `{name}` is declared twice"));
            }
            let table = match s {
                Source::Csv(c) => Some(c.table.clone()),
                Source::Sql(c) => Some(c.table.clone()),
                _ => None,
            };
            if let Some(t) = table {
                if !is_identifier(&t) {
                    out.push(format!(
                        "source `{name}`: table `{t}` must be lower-case letters, digits and _"
                    ));
                }
                if let Some(other) = tables.insert(t.clone(), name.to_string()) {
                    out.push(format!(
                        "sources `{other}` and `{name}` both land table `{t}`"
                    ));
                }
            }
            for t in s.tests() {
                t.problems(name, &s.tables(), &mut out);
            }
            match s {
                Source::Csv(c) => {
                    check_columns(name, &c.columns, &mut out);
                    if let Some(p) = &c.partition_by
                        && !c.columns.iter().any(|x| &x.name == p)
                    {
                        out.push(format!(
                            "source `{name}`: partition_by `{p}` is not a declared column"
                        ));
                    }
                }
                Source::Sql(c) => {
                    check_columns(name, &c.columns, &mut out);
                    match (&c.url, &c.url_env) {
                        (None, None) => out.push(format!(
                            "source `{name}`: set `url_env` to the name of the environment variable holding the connection URL"
                        )),
                        (Some(_), Some(_)) => out.push(format!(
                            "source `{name}`: set only one of `url` and `url_env`"
                        )),
                        (Some(u), None) if url_has_password(u) => out.push(format!(
                            "source `{name}`: `url` contains a password; put the URL in an environment variable and name it in `url_env`"
                        )),
                        _ => {}
                    }
                    if c.mode == SqlMode::Incremental {
                        match &c.watermark {
                            None => out.push(format!(
                                "source `{name}`: mode = \"incremental\" needs `watermark`"
                            )),
                            Some(w) if !c.columns.iter().any(|x| &x.name == w) => {
                                out.push(format!(
                                    "source `{name}`: watermark `{w}` is not a declared column"
                                ))
                            }
                            _ => {}
                        }
                    }
                    if let Some(p) = &c.partition_by
                        && !c.columns.iter().any(|x| &x.name == p)
                    {
                        out.push(format!(
                            "source `{name}`: partition_by `{p}` is not a declared column"
                        ));
                    }
                    for k in &c.key {
                        if !c.columns.iter().any(|x| &x.name == k) {
                            out.push(format!(
                                "source `{name}`: key `{k}` is not a declared column"
                            ));
                        }
                    }
                    if !c.key.is_empty() && c.mode != SqlMode::Incremental {
                        out.push(format!(
                            "source `{name}`: `key` is for mode = \"incremental\" (a full refresh replaces every row anyway); remove it or make the source incremental"
                        ));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

fn check_columns(source: &str, cols: &[Column], out: &mut Vec<String>) {
    if cols.is_empty() {
        out.push(format!("source `{source}`: declare at least one column"));
    }
    let mut seen = std::collections::HashSet::new();
    for c in cols {
        if !is_identifier(&c.name) {
            out.push(format!(
                "source `{source}`: column `{}` must be lower-case letters, digits and _",
                c.name
            ));
        }
        if !seen.insert(&c.name) {
            out.push(format!(
                "source `{source}`: column `{}` is declared twice",
                c.name
            ));
        }
    }
}

/// Lower-case SQL identifier that needs no quoting.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// True if a URL carries a password (`scheme://user:pass@host`).
pub fn url_has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
        || url.contains("password=")
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_spotted() {
        assert!(url_has_password("postgres://u:secret@db/x"));
        assert!(url_has_password("mysql://h/db?password=x"));
        assert!(!url_has_password("postgres://u@db/x"));
        assert!(!url_has_password("sqlite://data/partner.sqlite"));
    }

    #[test]
    fn collects_every_problem_and_rejects_unknown_keys() {
        let text = r#"
[organisation]
name = "X"
[[sources]]
kind = "sql"
name = "a"
url = "postgres://u:pw@h/db"
table = "T"
query = "select 1"
mode = "incremental"
columns = [{ name = "id", type = "int" }]
"#;
        let cfg: Config = toml::from_str(text).unwrap();
        let p = cfg.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|x| x.contains("password")));
        assert!(p.iter().any(|x| x.contains("watermark")));
        assert!(p.iter().any(|x| x.contains("table `T`")));
        let bad = "[organisation]\nname = \"X\"\ncolour = \"red\"\n";
        assert!(toml::from_str::<Config>(bad).is_err());
    }
}
