//! Command line: parses arguments, calls the library, prints friendly reports.
//!
//! Exit codes: 0 success; 1 the job finished but something in it failed
//! (a source, an indicator, an output); 2 configuration or usage error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{CONFIG_FILE, Config, CsvSource};
use crate::demo::project::DemoSetup;
use crate::engine::Engine;
use crate::lake::Lake;
use crate::ledger::{Ledger, RunRecord, RunStatus, Step};
use crate::pipeline::{self, JobSpec};
use crate::schema::parse_column_list;
use crate::sources::{self, DatasetReport};

/// safer: community-safety performance returns and scrutiny packs.
#[derive(Debug, Parser)]
#[command(name = "safer", version, about, long_about = None)]
pub struct Cli {
    /// Project file (default: ./safer.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// More log detail (-v info, -vv debug). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format: human-readable lines, or JSON lines. Default: human at a
    /// terminal, JSON otherwise (systemd, cron, a pipe).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic Lancashire data set and run the whole job on it.
    Demo {
        /// Folder for the data, lake, outputs and safer.toml.
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
        /// Random seed (same seed, same data).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Years of monthly data.
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Last month of data, YYYY-MM (default: the month before last).
        #[arg(long)]
        end_month: Option<String>,
    },
    /// Run the job once: ingest, indicators, outputs. The same job `serve`
    /// runs, for system cron or a systemd timer.
    Run {
        /// Build the packs as at this date (YYYY-MM-DD): the periods end at
        /// the last whole month on or before it. For rebuilding last
        /// month's pack.
        #[arg(long)]
        as_of: Option<String>,
        /// Run only these steps (ingest, indicators, outputs; comma
        /// separated). `outputs` runs the indicators too, without ingest.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Run as this schedule from schedules/ (its steps, outputs, retries
        /// and timeout), keyed on the schedule and tonight's date: a night
        /// that already finished is not run again. For a systemd timer or
        /// system cron instead of `serve`.
        #[arg(long)]
        schedule: Option<String>,
        /// With --schedule: run even if tonight already finished.
        #[arg(long)]
        force: bool,
        /// Run only these indicators (ids, comma separated or repeated).
        /// The outputs are not rebuilt from a partial set unless asked for
        /// with --only outputs.
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        select: Vec<String>,
        /// Do not ingest: work from the lake as it is.
        #[arg(long)]
        no_ingest: bool,
        /// Read the lake as it was instead of as it is: `run:<RUN_ID>` (the
        /// exact table versions that run read, to rebuild its pack) or a
        /// moment (`2026-11-05`, the end of that day in UTC, or
        /// `2026-11-05T02:00:00Z`). Nothing is ingested.
        #[arg(long, value_name = "run:ID|TIME")]
        lake_as_of: Option<String>,
        /// Build every output afresh, even one whose published pack is
        /// already what this run would build (by default that pack is
        /// kept, with the run id it was built by).
        #[arg(long)]
        rebuild_outputs: bool,
        /// Run and evaluate every indicator, even when nothing they read
        /// (lake tables, query files, safer.toml, the program) has changed
        /// since the last run (by default that run's figures stand).
        #[arg(long)]
        recompute: bool,
    },
    /// Land every source in safer.toml into the lake (`run --only ingest`).
    Ingest {
        /// Be one of several workers landing a large police.uk delivery at
        /// once: land only these months and forces (`month=2024-01..2024-06`,
        /// `year=2024`, `force=merseyside,cumbria`; repeat for both). Other
        /// sources are left to the whole ingest; no run is recorded, and
        /// workers on one machine share the lake (docs/scale-out.md).
        #[arg(long, value_name = "KEY=VALUE")]
        partition: Vec<String>,
    },
    /// Run the schedules in schedules/*.toml until stopped (SIGTERM/SIGINT).
    /// SIGHUP reloads the schedules.
    Serve {
        /// Seconds a running step may go on after a stop signal before the
        /// run is abandoned.
        #[arg(long, default_value_t = 300)]
        grace_secs: u64,
        /// Days back to look for a night missed while safer was down.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i64).range(0..=366))]
        catch_up_days: i64,
    },
    /// List when each schedule fires in a window (default: the next seven
    /// days): schedule, local time with offset, UTC time.
    Schedules {
        /// Schedules folder (default: paths.schedules from safer.toml, else
        /// ./schedules).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Start of the window: YYYY-MM-DD (midnight UTC) or RFC 3339.
        #[arg(long)]
        from: Option<String>,
        /// End of the window (exclusive).
        #[arg(long)]
        until: Option<String>,
    },
    /// One screen for whoever is on call: last runs, next fire times, data
    /// freshness, failing indicators, latest packs. Exit 1 if something
    /// needs attention.
    Status,
    /// Check config, indicator headers, queries (planned against the lake),
    /// views, output definitions, commentary and schedules, reporting every
    /// problem with its file, line and column.
    Check {
        /// Output format: lines for people, or JSON for editors and CI.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Land files of a known format without editing config.
    Import {
        /// Format of the files.
        format: ImportFormat,
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Lake folder (default: from safer.toml, else ./lake).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Table to land into (csv only).
        #[arg(long)]
        table: Option<String>,
        /// Declared columns for csv, e.g. `LSOA21CD!:string,count:int` (`!` = required).
        #[arg(long)]
        columns: Option<String>,
        /// Partition csv rows by the year of this column.
        #[arg(long)]
        partition_by: Option<String>,
    },
    /// Query the lake (read-only). The query comes from the argument, a
    /// file (-f), or standard input.
    Sql {
        /// One SELECT statement (may start with a `--` comment). Omit it, or
        /// give `-`, to read standard input.
        #[arg(allow_hyphen_values = true)]
        query: Option<String>,
        /// Read the query from this file.
        #[arg(short = 'f', long = "file", conflicts_with = "query")]
        file: Option<PathBuf>,
        /// Lake folder (default: from safer.toml, else ./lake).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
        format: SqlFormat,
        /// File to write (needed for xlsx; other formats go to stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Every lake table and built-in view: columns, types, rows, months,
    /// source and freshness.
    Tables {
        /// Lake folder (default: from safer.toml, else ./lake).
        #[arg(long)]
        lake: Option<PathBuf>,
    },
    /// One table: its columns, a few rows, and the values of its text
    /// columns with counts (the exact spellings to use in SQL).
    Describe {
        /// Table or view name.
        table: String,
        /// Sample rows to show.
        #[arg(long, default_value_t = 5)]
        rows: usize,
        /// Lake folder (default: from safer.toml, else ./lake).
        #[arg(long)]
        lake: Option<PathBuf>,
    },
    /// Run one indicator through the whole evaluation and print the
    /// evaluated table (nothing is written).
    Query {
        /// Indicator id.
        id: String,
        /// Which periods.
        #[arg(long, value_enum, default_value_t = PeriodArg::Rolling12m)]
        period: PeriodArg,
        /// One area's last twelve periods (default: every area, latest period).
        #[arg(long)]
        area: Option<String>,
    },
    /// Run the tests beside the indicators (`queries/<theme>/<id>.test`),
    /// each in an isolated session with only its own rows.
    Test {
        /// Only these indicators (default: all).
        ids: Vec<String>,
        /// Fill in each test's `expect` block with what the query returns,
        /// for you to review before committing.
        #[arg(long)]
        complete: bool,
        /// Fail when an indicator has no test.
        #[arg(long)]
        require_all: bool,
    },
    /// Start a new indicator: its SQL file and its test, with comments that
    /// explain each part.
    New {
        /// `<theme>/<id>`, e.g. `anti_social_behaviour/asb_repeat_callers`.
        name: String,
    },
    /// Write the indicator dictionary (HTML and markdown) and the table
    /// dictionary.
    Docs {
        /// Folder to write into (default: docs/ beside safer.toml, or ./docs).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the DataFusion plan of one indicator's query.
    Explain {
        /// Indicator id.
        id: String,
    },
    /// Start a DataFusion Ballista scheduler, for `engine =
    /// "ballista://HOST:PORT"` in safer.toml (docs/scale-out.md). Runs until
    /// stopped.
    Scheduler {
        /// Address to listen on (0.0.0.0 for every interface).
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Port clients and executors connect to.
        #[arg(long, default_value_t = crate::config::BALLISTA_DEFAULT_PORT)]
        port: u16,
        /// Host name executors use to reach this scheduler (default: --bind).
        #[arg(long)]
        external_host: Option<String>,
    },
    /// Start a Ballista executor that runs query tasks for a scheduler
    /// (docs/scale-out.md). Runs until stopped.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Host name other executors use to fetch this one's shuffle data
        /// (default: --bind).
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port, for shuffle data.
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        /// gRPC port, for tasks.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (default: the number of cores).
        #[arg(long)]
        slots: Option<usize>,
        /// Memory all tasks together may use, in MiB; a task spills to disk
        /// past its share (default: most of this machine's memory).
        #[arg(long)]
        memory_mib: Option<u64>,
        /// Folder for shuffle and spill files (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// The lake, when it is on object storage (`s3://...`, `az://...`):
        /// tasks read its files in place, with credentials from this
        /// process's environment. Default: paths.lake from safer.toml. A
        /// lake on disk must be at the same path on every executor.
        #[arg(long)]
        lake: Option<String>,
    },
    /// Internal: answer queries for a parent safer process.
    #[command(hide = true)]
    QueryWorker {
        /// Lake folder.
        #[arg(long)]
        lake: PathBuf,
        /// Memory pool bytes.
        #[arg(long)]
        memory_bytes: usize,
        /// Per-query time limit.
        #[arg(long)]
        timeout_secs: u64,
        /// Spill folder.
        #[arg(long)]
        spill_dir: Option<PathBuf>,
        /// Most spill bytes.
        #[arg(long)]
        spill_bytes: u64,
        /// Shared views folder.
        #[arg(long)]
        views: Option<PathBuf>,
        /// Table versions to read (JSON object of table to version).
        #[arg(long)]
        versions: Option<String>,
    },
    /// Time police.uk CSV -> Parquet, ten queries and a workbook at county scale.
    Bench {
        /// Working folder (data is generated here once and reused).
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// Years of monthly police.uk data to generate.
        #[arg(long, default_value_t = 10)]
        years: u32,
        /// Times to repeat the timed job.
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// Forces to simulate (43 is England and Wales): each extra force is
        /// a hard link of the Lancashire files under another force name, so
        /// the rows are parsed again but no disk is used.
        #[arg(long, default_value_t = 1)]
        forces: u32,
        /// Do the peer benchmark's job instead (../shared/bench): land the
        /// police.uk files and lookups in this folder, run every query in
        /// --queries, write every result to one workbook in --out, and print
        /// the harness's JSON line.
        #[arg(long, requires = "queries", requires = "out")]
        data: Option<PathBuf>,
        /// With --data: the folder of query files.
        #[arg(long)]
        queries: Option<PathBuf>,
        /// With --data: the output folder (replaced).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show recent runs from the ledger, or one run in full.
    Runs {
        /// `show RUN_ID`: steps, timings, rows, errors, outputs of one run.
        #[command(subcommand)]
        action: Option<RunsAction>,
        /// How many.
        #[arg(long, default_value_t = 10)]
        last: usize,
        /// Only runs that failed, were partial or were abandoned.
        #[arg(long)]
        failed: bool,
    },
    /// The lake's Delta tables: their versions, vacuum and optimize.
    Lake {
        /// What to do.
        #[command(subcommand)]
        action: LakeAction,
    },
    /// The figures that changed between two runs, and why (new data,
    /// revised data, changed SQL, new population estimates).
    Diff {
        /// The earlier run's id.
        run_a: String,
        /// The later run's id.
        run_b: String,
        /// Only this indicator.
        #[arg(long)]
        indicator: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
}

/// `safer lake` subcommands.
#[derive(Debug, Subcommand)]
pub enum LakeAction {
    /// Every table's newest version, or one table's versions.
    History {
        /// A table to list the versions of.
        table: Option<String>,
    },
    /// Remove files no wanted version needs: superseded longer ago than
    /// --keep-days, unless a run in the ledger read them (those runs'
    /// versions stay readable), and orphans of crashed writers.
    Vacuum {
        /// Keep every version read by a run in the last this many days (and
        /// the newest complete run of each schedule, however old).
        #[arg(long, default_value_t = 35)]
        keep_days: u32,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fold partitions holding several files into one and write a
    /// checkpoint of every table's log.
    Optimize,
}

/// `safer runs` subcommands.
#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// One run in full.
    Show {
        /// The run id (as `safer runs` lists it).
        run_id: String,
    },
}

/// Log formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Output formats for `safer check`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CheckFormat {
    /// One line per finding.
    Text,
    /// A JSON object with every finding (file, line, column, severity, message).
    Json,
}

/// Period choices for `safer query`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PeriodArg {
    /// Months.
    Month,
    /// Quarters.
    Quarter,
    /// Financial (or calendar) years, as the indicator reports.
    #[value(name = "financial_year", alias = "year", alias = "calendar_year")]
    FinancialYear,
    /// Rolling twelve months.
    #[value(name = "rolling_12m")]
    Rolling12m,
}

/// Formats `safer import` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImportFormat {
    /// data.police.uk street-level CSVs.
    PoliceUk,
    /// DfT STATS19 collision/vehicle/casualty CSVs.
    Stats19,
    /// ONS mid-year population estimates (MYEB2).
    OnsPopulation,
    /// CSV with declared columns (--table, --columns).
    Csv,
}

/// Output formats for `safer sql`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SqlFormat {
    /// Aligned text table.
    Table,
    /// CSV with header.
    Csv,
    /// JSON array of objects (missing values as null).
    Json,
    /// A workbook (needs --out).
    Xlsx,
}

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code when another run holds the lock and nothing was done.
pub const EXIT_LOCKED: i32 = 3;

/// Run the CLI; returns the exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Demo {
            dir,
            seed,
            years,
            end_month,
        } => demo(dir, seed, years, end_month).await,
        Command::Run {
            as_of,
            only,
            schedule,
            force,
            select,
            no_ingest,
            lake_as_of,
            rebuild_outputs,
            recompute,
        } => {
            let cfg = load_config(cli.config.as_deref())?;
            let mut spec = JobSpec::manual();
            spec.rebuild_outputs = rebuild_outputs;
            spec.recompute = recompute;
            if let Some(text) = &lake_as_of {
                let ledger = Ledger::open_for(&cfg).await?;
                let pin = crate::pipeline::resolve_pin(&ledger, text)
                    .await
                    .map_err(UsageError)?;
                if only.is_empty() || only.iter().any(|o| o.trim() == "ingest") {
                    eprintln!(
                        "note: --lake-as-of reads the lake as it was, so nothing is ingested"
                    );
                }
                spec.steps.retain(|s| *s != Step::Ingest);
                spec.lake_pin = Some(pin);
            }
            if let Some(name) = &schedule {
                let dir = cfg.resolve(&cfg.paths.schedules);
                let all = load_schedules(&dir)?;
                let s = all.into_iter().find(|s| &s.name == name).ok_or_else(|| {
                    UsageError(format!(
                        "no schedule `{name}` in {}; `safer schedules` lists them",
                        dir.display()
                    ))
                })?;
                // The night is that of the schedule's latest fire time: a
                // timer that catches up after midnight runs the night it
                // missed, not tomorrow's.
                let now = chrono::Utc::now();
                let night = s
                    .latest_at_or_before(now, chrono::Duration::days(7))
                    .map(|t| s.logical_date(t))
                    .unwrap_or_else(|| now.with_timezone(&s.tz).date_naive());
                spec.schedule = s.name.clone();
                spec.logical_date = night;
                spec.today = night;
                spec.steps = s.steps.clone();
                spec.outputs = s.outputs.clone();
                spec.retry = s.retry;
                spec.step_timeout = Some(s.timeout);
                if !force {
                    let ledger = Ledger::open_for(&cfg).await?;
                    if let Some(done) = ledger.completed(&s.name, night).await? {
                        println!(
                            "The {} run for {night} already finished ({}, {}); nothing to do. Use --force to run it again.",
                            s.name, done.run_id, done.status
                        );
                        return Ok(0);
                    }
                }
            }
            if let Some(d) = as_of {
                let date = NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| UsageError(format!("--as-of `{d}` is not a date (YYYY-MM-DD)")))?;
                spec.as_of = Some(date);
                spec.logical_date = date;
            }
            if !only.is_empty() {
                let mut steps = Vec::new();
                for o in &only {
                    steps.push(Step::parse(o.trim()).ok_or_else(|| {
                        UsageError(format!(
                            "--only `{o}`: steps are ingest, indicators and outputs"
                        ))
                    })?);
                }
                spec.steps = steps;
            }
            if !select.is_empty() {
                spec.indicators = select;
                if only.is_empty() {
                    // A pack of some indicators must not replace the whole pack.
                    spec.steps.retain(|s| *s != Step::Outputs);
                    eprintln!(
                        "note: --select runs the chosen indicators only; the outputs are left as they are (add --only outputs to rebuild them from these indicators)"
                    );
                }
            }
            if no_ingest {
                spec.steps.retain(|s| *s != Step::Ingest);
            }
            if spec.steps.is_empty() {
                return Err(UsageError("nothing to run: every step was left out".into()).into());
            }
            run_job(&cfg, &spec).await
        }
        Command::Ingest { partition } if !partition.is_empty() => {
            let cfg = load_config(cli.config.as_deref())?;
            let part = sources::Partition::parse(&partition).map_err(UsageError)?;
            ingest_partition(&cfg, &part).await
        }
        Command::Ingest { .. } => {
            let cfg = load_config(cli.config.as_deref())?;
            let mut spec = JobSpec::manual();
            spec.steps = vec![Step::Ingest];
            run_job(&cfg, &spec).await
        }
        Command::Serve {
            grace_secs,
            catch_up_days,
        } => {
            let cfg = load_config(cli.config.as_deref())?;
            serve(cfg, grace_secs, catch_up_days).await
        }
        Command::Schedules { dir, from, until } => {
            let dir = match dir {
                Some(d) => d,
                None => {
                    let default = PathBuf::from(CONFIG_FILE);
                    let path = cli.config.as_deref().unwrap_or(&default);
                    if path.exists() {
                        let cfg = load_config(Some(path))?;
                        cfg.resolve(&cfg.paths.schedules)
                    } else {
                        PathBuf::from("schedules")
                    }
                }
            };
            schedules(&dir, from.as_deref(), until.as_deref())
        }
        Command::Status => {
            let cfg = load_config(cli.config.as_deref())?;
            let ledger = Ledger::open_for(&cfg).await?;
            let status = crate::status::build(&cfg, &ledger, chrono::Utc::now()).await;
            print!("{}", status.render());
            Ok(if status.attention.is_empty() { 0 } else { 1 })
        }
        Command::Check { format } => {
            let cfg = load_config(cli.config.as_deref())?;
            let report = crate::check::check(&cfg).await?;
            match format {
                CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                CheckFormat::Text => {
                    for f in &report.findings {
                        println!("{f}");
                        if let (Some(file), Some(l), Some(c)) = (&f.file, f.line, f.column)
                            && let Ok(text) = std::fs::read_to_string(file)
                        {
                            println!("{}", crate::engine::snippet(&text, l, c));
                        }
                    }
                    let warnings = report.findings.len() - report.errors();
                    println!(
                        "{} indicator(s) checked, {} problem(s){}",
                        report.indicators,
                        report.errors(),
                        if warnings > 0 {
                            format!(", {warnings} warning(s)")
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Ok(if report.errors() == 0 { 0 } else { 1 })
        }
        Command::Import {
            format,
            paths,
            lake,
            table,
            columns,
            partition_by,
        } => {
            let lake_dir = lake_dir(cli.config.as_deref(), lake)?;
            import(format, &paths, &lake_dir, table, columns, partition_by).await
        }
        Command::Sql {
            query,
            file,
            lake,
            format,
            out,
            limit,
        } => {
            let lake_dir = lake_dir(cli.config.as_deref(), lake)?;
            let text = match (query, file) {
                (_, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|e| UsageError(format!("{}: {e}", f.display())))?,
                (Some(q), None) if q != "-" => q,
                _ => {
                    use std::io::Read;
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .map_err(|e| UsageError(format!("reading the query from stdin: {e}")))?;
                    s
                }
            };
            if text.trim().is_empty() {
                return Err(UsageError(
                    "no query given: pass it as an argument, with -f FILE, or on stdin".into(),
                )
                .into());
            }
            sql(
                &text,
                &lake_dir,
                format,
                out.as_deref(),
                limit,
                cli.config.as_deref(),
            )
            .await
        }
        Command::Tables { lake } => {
            let (cfg, lake_dir) = config_and_lake(cli.config.as_deref(), lake)?;
            let lake = Lake::open(&lake_dir)?;
            let engine = Engine::open(&lake, Default::default()).await?;
            let tables = crate::explore::tables(cfg.as_ref(), &lake, &engine).await?;
            if tables.is_empty() {
                println!(
                    "The lake at {} is empty: run `safer ingest` to land the sources in safer.toml (or `safer demo` for a demo project).",
                    lake_dir.display()
                );
            }
            let rows: Vec<Vec<String>> = tables
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.rows
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "view".into()),
                        t.months
                            .as_ref()
                            .map(|(a, b)| format!("{a} to {b}"))
                            .unwrap_or_else(|| "-".into()),
                        t.source.clone().unwrap_or_else(|| "-".into()),
                        match t.stale {
                            Some(true) => "STALE".into(),
                            Some(false) => "ok".into(),
                            None => "-".into(),
                        },
                        t.columns
                            .iter()
                            .map(|c| format!("{} ({})", c.name, c.kind))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::explore::text_table(
                    &["table", "rows", "months", "source", "fresh", "columns"],
                    &rows
                )
            );
            Ok(0)
        }
        Command::Describe { table, rows, lake } => {
            let (cfg, lake_dir) = config_and_lake(cli.config.as_deref(), lake)?;
            let lake = Lake::open(&lake_dir)?;
            let engine = Engine::open(&lake, Default::default()).await?;
            let d = match crate::explore::describe(cfg.as_ref(), &lake, &engine, &table, rows).await
            {
                Ok(d) => d,
                Err(e @ crate::explore::Error::UnknownTable { .. }) => {
                    return Err(UsageError(e.to_string()).into());
                }
                Err(e) => return Err(e.into()),
            };
            print!("{}", render_description(&d));
            Ok(0)
        }
        Command::Query { id, period, area } => {
            let cfg = load_config(cli.config.as_deref())?;
            let (ind, rows) = pipeline::evaluate_one(&cfg, &id)
                .await
                .map_err(UsageError)?;
            let period = match period {
                PeriodArg::Month => crate::explore::QueryPeriod::Month,
                PeriodArg::Quarter => crate::explore::QueryPeriod::Quarter,
                PeriodArg::FinancialYear => crate::explore::QueryPeriod::Year,
                PeriodArg::Rolling12m => crate::explore::QueryPeriod::Rolling12,
            };
            let picked = crate::explore::pick_rows(&rows, period, area.as_deref());
            println!("{} ({}; {}; {})", ind.title, ind.id, ind.unit, ind.polarity);
            if picked.is_empty() {
                println!(
                    "No evaluated rows for that choice{}.",
                    area.map(|a| format!(" (area {a}: is it a district, CSP or county code?)"))
                        .unwrap_or_default()
                );
                return Ok(1);
            }
            print!("{}", crate::explore::render_results(&picked));
            Ok(0)
        }
        Command::Scheduler {
            bind,
            port,
            external_host,
        } => {
            crate::engine::cluster::run_scheduler(crate::engine::cluster::SchedulerOptions {
                bind,
                port,
                external_host,
            })
            .await?;
            Ok(0)
        }
        Command::Executor {
            scheduler,
            bind,
            external_host,
            flight_port,
            grpc_port,
            slots,
            memory_mib,
            work_dir,
            lake,
        } => {
            let (host, port) = match scheduler.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse::<u16>().map_err(|_| {
                        UsageError(format!("--scheduler {scheduler}: the port is not a number"))
                    })?,
                ),
                None => (scheduler.clone(), crate::config::BALLISTA_DEFAULT_PORT),
            };
            let lake = match lake {
                Some(l) => Some(l),
                None => {
                    let (_, l) = config_and_lake(cli.config.as_deref(), None)?;
                    Some(l.to_string_lossy().into_owned())
                }
            };
            crate::engine::cluster::run_executor(crate::engine::cluster::ExecutorOptions {
                scheduler_host: host,
                scheduler_port: port,
                bind,
                external_host,
                flight_port,
                grpc_port,
                slots,
                memory_bytes: memory_mib.map(|m| m * 1024 * 1024),
                work_dir,
                lake,
            })
            .await?;
            Ok(0)
        }
        Command::QueryWorker {
            lake,
            memory_bytes,
            timeout_secs,
            spill_dir,
            spill_bytes,
            views,
            versions,
        } => {
            let versions = match versions.as_deref().map(serde_json::from_str) {
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => anyhow::bail!("--versions: {e}"),
                None => None,
            };
            let limits = crate::engine::EngineLimits {
                memory_bytes,
                timeout: std::time::Duration::from_secs(timeout_secs),
                spill_dir,
                spill_bytes,
                worker: None,
                views,
                engine: Default::default(),
            };
            crate::engine::worker::serve(&lake, versions, limits).await?;
            Ok(0)
        }
        Command::Test {
            ids,
            complete,
            require_all,
        } => {
            let cfg = optional_config(cli.config.as_deref())?;
            let queries = match &cfg {
                Some(c) => c.resolve(&c.paths.queries),
                None => PathBuf::from("queries"),
            };
            test(cfg.as_ref(), &queries, &ids, complete, require_all).await
        }
        Command::New { name } => {
            let queries = match optional_config(cli.config.as_deref())? {
                Some(c) => c.resolve(&c.paths.queries),
                None => PathBuf::from("queries"),
            };
            let (sql, test) = crate::testing::scaffold(&queries, &name).map_err(UsageError)?;
            println!(
                "Created {}
    and {}",
                sql.display(),
                test.display()
            );
            println!(
                "Next: write the query, put a few rows in the test, then `safer test {}`.",
                name.rsplit('/').next().unwrap_or(&name)
            );
            Ok(0)
        }
        Command::Docs { out } => {
            let cfg = optional_config(cli.config.as_deref())?;
            let (queries, outputs, lake, base) = match &cfg {
                Some(c) => (
                    c.resolve(&c.paths.queries),
                    c.resolve(&c.paths.outputs),
                    c.lake_dir(),
                    c.base_dir.clone(),
                ),
                None => (
                    PathBuf::from("queries"),
                    PathBuf::from("outputs"),
                    PathBuf::from("lake"),
                    PathBuf::from("."),
                ),
            };
            let out = out.unwrap_or_else(|| base.join("docs"));
            let w = crate::docs::write(cfg.as_ref(), &queries, &outputs, &lake, &out)
                .await
                .map_err(UsageError)?;
            for f in &w.files {
                println!("{}", f.display());
            }
            Ok(0)
        }
        Command::Explain { id } => {
            let cfg = load_config(cli.config.as_deref())?;
            let (found, problems) = pipeline::catalogue(&cfg, std::slice::from_ref(&id));
            let Some(ind) = found.into_iter().next() else {
                return Err(UsageError(problems.join("; ")).into());
            };
            let lake = Lake::open(cfg.lake_dir())?;
            let engine = Engine::open(&lake, pipeline::engine_limits(&cfg)).await?;
            match engine.query(&format!("EXPLAIN {}", ind.sql)).await {
                Ok((_, batches)) => {
                    println!("{} ({})", ind.id, ind.path.display());
                    for row in crate::explore::strings(&batches) {
                        if let [kind, plan] = row.as_slice() {
                            println!("\n== {} ==\n{plan}", kind.replace('_', " "));
                        }
                    }
                    Ok(0)
                }
                Err(e) => {
                    let at = e
                        .location()
                        .map(|(l, c)| format!("{}:{l}:{c}: ", ind.path.display()))
                        .unwrap_or_default();
                    Err(UsageError(format!("{at}{e}")).into())
                }
            }
        }
        Command::Bench {
            data: Some(data),
            queries,
            out,
            ..
        } => {
            let (Some(queries), Some(out)) = (queries, out) else {
                return Err(UsageError("--data needs --queries and --out".into()).into());
            };
            let r = crate::bench::peer::run(&data, &queries, &out).await?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(0)
        }
        Command::Bench {
            dir,
            years,
            repeat,
            forces,
            ..
        } => bench(dir, years, repeat, forces).await,
        Command::Lake { action } => {
            let cfg = load_config(cli.config.as_deref())?;
            lake_command(&cfg, action).await
        }
        Command::Diff {
            run_a,
            run_b,
            indicator,
            format,
        } => {
            let cfg = load_config(cli.config.as_deref())?;
            let ledger = Ledger::open_for(&cfg).await?;
            let d = crate::diff::between(&cfg, &ledger, &run_a, &run_b, indicator.as_deref())
                .await
                .map_err(UsageError)?;
            match format {
                CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&d)?),
                CheckFormat::Text => print!("{}", crate::diff::render(&d)),
            }
            Ok(0)
        }
        Command::Runs {
            action,
            last,
            failed,
        } => {
            let cfg = load_config(cli.config.as_deref())?;
            let ledger = Ledger::open_for(&cfg).await?;
            match action {
                Some(RunsAction::Show { run_id }) => match ledger.get(&run_id).await? {
                    Some(r) => {
                        print!("{}", render_run(&r));
                        Ok(0)
                    }
                    None => Err(UsageError(format!(
                        "no run `{run_id}` in the ledger ({}); `safer runs` lists them",
                        ledger.location()
                    ))
                    .into()),
                },
                None => {
                    let runs = ledger.recent(last, failed).await?;
                    if runs.is_empty() {
                        println!(
                            "No {}runs in the ledger ({}).",
                            if failed { "failed " } else { "" },
                            ledger.location()
                        );
                    }
                    for r in runs {
                        println!(
                            "{}  {:<12} {}  {:<9} started {}  finished {}",
                            r.run_id,
                            r.schedule,
                            r.logical_date,
                            r.status,
                            r.started,
                            r.finished.as_deref().unwrap_or("-"),
                        );
                    }
                    Ok(0)
                }
            }
        }
    }
}

async fn test(
    cfg: Option<&Config>,
    queries: &Path,
    ids: &[String],
    complete: bool,
    require_all: bool,
) -> Result<i32> {
    let (mut catalogue, errors) = crate::indicators::discover(queries);
    for e in &errors {
        println!("FAIL  {e}");
    }
    if !ids.is_empty() {
        for id in ids {
            if !catalogue.iter().any(|i| &i.id == id) {
                return Err(
                    UsageError(format!("no indicator `{id}` in {}", queries.display())).into(),
                );
            }
        }
        catalogue.retain(|i| ids.contains(&i.id));
    }
    let declared = crate::testing::declared_tables(cfg);
    let views = queries.join(pipeline::VIEWS_DIR);
    let (with, without) = crate::testing::discover(&catalogue);
    let (mut passed, mut failed) = (0, 0);
    for (ind, path) in &with {
        let outcome = match crate::testing::TestFile::load(path) {
            Ok(t) => crate::testing::run_one(ind, &t, &declared, Some(&views), complete).await,
            Err(f) => crate::testing::Outcome {
                id: ind.id.clone(),
                path: path.clone(),
                failure: Some(f),
                completed: false,
            },
        };
        match (&outcome.failure, outcome.completed) {
            (None, true) => {
                passed += 1;
                println!(
                    "DONE  {}  ({} filled in: review it)",
                    outcome.id,
                    outcome.path.display()
                );
            }
            (None, false) => {
                passed += 1;
                println!("ok    {}", outcome.id);
            }
            (Some(f), _) => {
                failed += 1;
                println!("FAIL  {}\n{f}", outcome.id);
            }
        }
    }
    for ind in &without {
        println!(
            "{}  {}: no test (add {})",
            if require_all { "FAIL" } else { "skip" },
            ind.id,
            ind.path.with_extension(crate::testing::EXTENSION).display()
        );
    }
    let missing = if require_all { without.len() } else { 0 };
    println!(
        "{passed} passed, {failed} failed, {} without a test",
        without.len()
    );
    Ok(if failed + missing + errors.len() == 0 {
        0
    } else {
        1
    })
}

/// Run the job once under the lock and print what happened.
async fn run_job(cfg: &Config, spec: &JobSpec) -> Result<i32> {
    let ledger = Ledger::open_for(cfg).await?;
    match pipeline::run_job(cfg, &ledger, spec).await {
        Ok(record) => {
            print_run(&record);
            Ok(exit_code(&record))
        }
        Err(e) if e.is_locked() => {
            eprintln!("error: {e}");
            Ok(EXIT_LOCKED)
        }
        Err(e) => Err(e.into()),
    }
}

async fn serve(cfg: Config, grace_secs: u64, catch_up_days: i64) -> Result<i32> {
    use crate::scheduler::{self, PipelineRunner, ServeOptions, SystemClock};
    // Signals first: until a handler is installed, SIGHUP would end the
    // process (a `systemctl reload` right after start, say).
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    scheduler::serve::forward_signals(tx)
        .map_err(|e| anyhow::anyhow!("could not listen for signals: {e}"))?;
    let dir = cfg.resolve(&cfg.paths.schedules);
    let initial = load_schedules(&dir)?;
    let ledger = Ledger::open_for(&cfg).await?;
    let clock = std::sync::Arc::new(SystemClock::new().await);
    tracing::info!(
        organisation = %cfg.organisation.name,
        schedules = initial.len(),
        ledger = %ledger.location(),
        pid = std::process::id(),
        "safer serve started."
    );
    let runner = std::sync::Arc::new(PipelineRunner {
        cfg: cfg.clone(),
        ledger: ledger.clone(),
    });
    let report = scheduler::serve(
        clock.clone(),
        ledger,
        runner,
        ServeOptions {
            schedules_dir: dir,
            grace: std::time::Duration::from_secs(grace_secs),
            catch_up_window: chrono::Duration::days(catch_up_days.max(0)),
        },
        initial,
        rx,
    )
    .await;
    clock.shutdown().await;
    Ok(if report.abandoned { 1 } else { 0 })
}

/// The schedules in `dir`, or every problem in them as a usage error.
fn load_schedules(dir: &Path) -> Result<Vec<crate::scheduler::Schedule>> {
    crate::scheduler::schedule::load_dir(dir).map_err(|errs| {
        UsageError(
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .into()
    })
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(UsageError(format!(
        "`{s}` is not a date (YYYY-MM-DD) or a time (RFC 3339, e.g. 2027-03-28T00:00:00Z)"
    ))
    .into())
}

/// `safer schedules`: one line per fire time on stdout, nothing else there.
fn schedules(dir: &Path, from: Option<&str>, until: Option<&str>) -> Result<i32> {
    let from = match from {
        Some(f) => parse_instant(f)?,
        None => chrono::Utc::now(),
    };
    let until = match until {
        Some(u) => parse_instant(u)?,
        None => from + chrono::Duration::days(7),
    };
    if until <= from {
        return Err(UsageError("--until must be after --from".into()).into());
    }
    let loaded = load_schedules(dir)?;
    if loaded.is_empty() {
        eprintln!("No schedules in {}.", dir.display());
    }
    let mut lines = Vec::new();
    for s in loaded.iter().filter(|s| s.enabled) {
        for t in s.fires_between(from, until) {
            lines.push((t, s.name.clone(), s.local(t)));
        }
    }
    lines.sort();
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    for (t, name, local) in lines {
        if writeln!(
            out,
            "{name}\t{local}\t{}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
        .is_err()
        {
            break; // a closed pipe (`| head`) ends the listing quietly
        }
    }
    Ok(0)
}

/// `safer lake ...`.
async fn lake_command(cfg: &Config, action: LakeAction) -> Result<i32> {
    use crate::lake::{At, Lake, maintain};
    let lake = Lake::open(cfg.lake_dir())?;
    match action {
        LakeAction::History { table: None } => {
            let all = lake.datasets()?;
            if all.is_empty() {
                println!("The lake is empty: run `safer ingest` (or `safer demo`).");
            }
            for m in all {
                println!(
                    "{:<28} version {:>4}  {:>10} rows  {:>3} files  last landed {}",
                    m.dataset,
                    m.version.unwrap_or(0),
                    m.rows(),
                    m.files.len(),
                    m.updated_at
                );
            }
            Ok(0)
        }
        LakeAction::History { table: Some(t) } => {
            let Some(latest) = lake.latest(&t)? else {
                return Err(UsageError(format!(
                    "no table `{t}` in the lake; `safer lake history` lists them"
                ))
                .into());
            };
            let newest = latest.version.unwrap_or(0);
            println!("{t}: versions 0 to {newest}, newest first");
            for v in (0..=newest).rev() {
                match lake.manifest_at(&t, At::Version(v)) {
                    Ok(Some(m)) => {
                        let units: Vec<&String> = m
                            .inputs
                            .iter()
                            .filter(|(_, i)| i.landed_at == m.updated_at)
                            .map(|(k, _)| k)
                            .collect();
                        println!(
                            "  version {v:>4}  landed {}  {:>10} rows  {}",
                            m.updated_at,
                            m.rows(),
                            if units.is_empty() {
                                "(no new input units)".to_string()
                            } else {
                                format!("inputs landed: {}", summarise_units(&units))
                            }
                        );
                    }
                    Ok(None) => {}
                    Err(e) => println!("  version {v:>4}  cannot be read: {e}"),
                }
            }
            Ok(0)
        }
        LakeAction::Vacuum { keep_days, dry_run } => {
            if keep_days == 0 {
                // Files another machine has uploaded but not yet committed
                // look like orphans; a day's grace keeps them.
                return Err(UsageError(
                    "--keep-days must be at least 1: a younger uncommitted file may belong to a landing still at work".into(),
                )
                .into());
            }
            let ledger = Ledger::open_for(cfg).await?;
            let since = chrono::Utc::now() - chrono::Duration::days(i64::from(keep_days));
            let since_text = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let keep = ledger.lake_versions_needed(&since_text).await?;
            let _guard = lake.lock()?;
            let retention = std::time::Duration::from_secs(u64::from(keep_days) * 86_400);
            let done = maintain::vacuum(&lake, &keep, retention, dry_run)?;
            let mut removed = 0;
            for t in &done {
                removed += t.files_removed.len();
                println!(
                    "{:<28} {} {} file(s){}",
                    t.table,
                    if dry_run { "would remove" } else { "removed" },
                    t.files_removed.len(),
                    if t.kept_versions.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; kept versions {} readable for runs in the ledger",
                            summarise_versions(&t.kept_versions)
                        )
                    }
                );
            }
            println!(
                "{} {removed} file(s) superseded more than {keep_days} days ago and not needed by a run in the ledger.",
                if dry_run { "Would remove" } else { "Removed" }
            );
            Ok(0)
        }
        LakeAction::Optimize => {
            let _guard = lake.lock()?;
            for t in maintain::optimize(&lake)? {
                println!(
                    "{:<28} {}{}",
                    t.table,
                    if t.compacted.is_empty() {
                        "nothing to compact".to_string()
                    } else {
                        format!("compacted {}", t.compacted.join(", "))
                    },
                    if t.checkpoint {
                        "; checkpoint written"
                    } else {
                        ""
                    }
                );
            }
            Ok(0)
        }
    }
}

/// `a, b, c and 9 more`.
fn summarise_units(units: &[&String]) -> String {
    let shown: Vec<&str> = units.iter().take(4).map(|s| s.as_str()).collect();
    match units.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// `3, 7, 12` or `3 to 40 (12 versions)`.
fn summarise_versions(v: &[u64]) -> String {
    if v.len() <= 5 {
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    } else {
        format!(
            "{} to {} ({} versions)",
            v.first().copied().unwrap_or(0),
            v.last().copied().unwrap_or(0),
            v.len()
        )
    }
}

/// One run in full, for `safer runs show`.
pub fn render_run(r: &RunRecord) -> String {
    let mut o = String::new();
    let mut line = |s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    line(format!("Run {}", r.run_id));
    line(format!("  schedule       {}", r.schedule));
    line(format!("  night          {}", r.logical_date));
    if let Some(a) = r.as_of {
        line(format!("  as of          {a}"));
    }
    line(format!("  status         {}", r.status));
    line(format!("  started        {}", r.started));
    line(format!(
        "  finished       {}",
        r.finished.as_deref().unwrap_or("-")
    ));
    line(format!("  host, pid      {}, {}", r.host, r.pid));
    line(format!("  safer version  {}", r.software_version));
    if let Some(p) = &r.lake_as_of {
        line(format!("  lake read      {p}"));
    }
    if !r.lake_versions.is_empty() {
        let shown: Vec<String> = r
            .lake_versions
            .iter()
            .map(|(t, v)| format!("{t} v{v}"))
            .collect();
        line(format!(
            "  lake versions  {} (rebuild from them: safer run --lake-as-of run:{})",
            shown.join(", "),
            r.run_id
        ));
    }
    line(format!(
        "  steps asked    {}",
        r.requested
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    line("Steps:".into());
    for s in &r.steps {
        line(format!(
            "  {:<11} {:<10} {:>8.1} s  {:>9} row(s){}",
            s.step.as_str(),
            s.status.as_str(),
            s.seconds,
            s.rows,
            s.error
                .as_ref()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        ));
    }
    if !r.sources.is_empty() {
        line("Sources:".into());
        for s in &r.sources {
            match &s.error {
                Some(e) => line(format!("  {:<28} FAILED: {e}", s.name)),
                None => {
                    let (read, landed, q) = s.datasets.iter().fold((0, 0, 0), |a, d| {
                        (
                            a.0 + d.rows_read,
                            a.1 + d.rows_landed,
                            a.2 + d.rows_quarantined,
                        )
                    });
                    line(format!(
                        "  {:<28} rows read {read} = landed {landed} + quarantined {q}{}",
                        s.name,
                        if s.attempts > 1 {
                            format!(" ({} attempts)", s.attempts)
                        } else {
                            String::new()
                        }
                    ))
                }
            }
            for p in &s.problems {
                line(format!("    problem: {p}"));
            }
        }
    }
    if !r.freshness.is_empty() {
        line("Freshness:".into());
        for f in &r.freshness {
            line(format!(
                "  {}{}",
                if f.stale { "STALE " } else { "" },
                f.describe()
            ));
        }
    }
    let failed: Vec<_> = r.failed_indicators().collect();
    if let Some(from) = &r.figures_from {
        line(format!(
            "Indicators: {} unchanged; nothing they read had changed since run {from}, so its figures stand",
            r.indicators.len()
        ));
    } else if !r.indicators.is_empty() {
        line(format!(
            "Indicators: {} ran, {} failed",
            r.indicators.len(),
            failed.len()
        ));
        for i in failed {
            line(format!(
                "  {}: {}",
                i.id,
                i.error.as_deref().unwrap_or("failed")
            ));
        }
    }
    if !r.outputs.is_empty() {
        line("Outputs:".into());
        for f in &r.outputs {
            line(format!("  {f}"));
        }
    }
    if !r.kept_outputs.is_empty() {
        line("Outputs unchanged (the published pack is what this run would build; kept):".into());
        for k in &r.kept_outputs {
            line(format!("  {k}"));
        }
    }
    for p in &r.problems {
        line(format!("Problem: {p}"));
    }
    for w in &r.warnings {
        line(format!("Warning: {w}"));
    }
    o
}

/// The project file if there is one (`--config`, else `./safer.toml`):
/// officers' commands (`test`, `new`, `docs`) also work in a folder of
/// queries with no project, against the demo's tables.
fn optional_config(path: Option<&Path>) -> Result<Option<Config>> {
    let default = PathBuf::from(CONFIG_FILE);
    let path = path.unwrap_or(&default);
    if path.exists() {
        Ok(Some(load_config(Some(path))?))
    } else {
        Ok(None)
    }
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(CONFIG_FILE));
    if !path.exists() {
        return Err(UsageError(format!(
            "{} not found. Run `safer demo` to create a demo project, or pass --config.",
            path.display()
        ))
        .into());
    }
    Config::load(&path).map_err(|e| UsageError(e.to_string()).into())
}

/// The project config when there is one, and the lake folder.
fn config_and_lake(
    config: Option<&Path>,
    flag: Option<PathBuf>,
) -> Result<(Option<Config>, PathBuf)> {
    let default = PathBuf::from(CONFIG_FILE);
    let path = config.unwrap_or(&default);
    let cfg = if path.exists() {
        Some(load_config(Some(path))?)
    } else {
        None
    };
    let lake = match (flag, &cfg) {
        (Some(l), _) => l,
        (None, Some(c)) => c.lake_dir(),
        (None, None) => PathBuf::from("lake"),
    };
    Ok((cfg, lake))
}

fn render_description(d: &crate::explore::Description) -> String {
    let t = &d.table;
    let mut o = String::new();
    o.push_str(&format!(
        "{} ({}{})
",
        t.name,
        if t.view {
            "built-in view".to_string()
        } else {
            format!("{} rows", t.rows.unwrap_or(0))
        },
        t.months
            .as_ref()
            .map(|(a, b)| format!(", months {a} to {b}"))
            .unwrap_or_default()
    ));
    if let Some(s) = &t.source {
        o.push_str(&format!(
            "Source: {s}
"
        ));
    }
    o.push('\n');
    let cols: Vec<Vec<String>> = t
        .columns
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.kind.to_string(),
                if c.required {
                    "always".into()
                } else {
                    "may be empty".into()
                },
            ]
        })
        .collect();
    o.push_str(&crate::explore::text_table(
        &["column", "type", "value"],
        &cols,
    ));
    o.push_str(&format!("\nFirst {} row(s):\n", d.sample.len()));
    let header: Vec<&str> = d.sample_header.iter().map(String::as_str).collect();
    o.push_str(&crate::explore::text_table(&header, &d.sample));
    for (col, values) in &d.values {
        o.push_str(&format!("\nValues of {col} (rows):\n"));
        for (v, n) in values {
            o.push_str(&format!("  {n:>9}  {v}\n"));
        }
    }
    o
}

fn lake_dir(config: Option<&Path>, flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(l) = flag {
        return Ok(l);
    }
    let default = PathBuf::from(CONFIG_FILE);
    let path = config.unwrap_or(&default);
    if path.exists() {
        return Ok(load_config(Some(path))?.lake_dir());
    }
    Ok(PathBuf::from("lake"))
}

fn exit_code(r: &RunRecord) -> i32 {
    if r.status == RunStatus::Ok { 0 } else { 1 }
}

/// The month before last: the latest police.uk normally has.
fn default_end_month() -> NaiveDate {
    let today = chrono::Utc::now().date_naive();
    crate::outputs::xlsx::shift_months(
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today),
        -2,
    )
}

async fn demo(dir: PathBuf, seed: u64, years: u32, end_month: Option<String>) -> Result<i32> {
    if years == 0 || years > 30 {
        return Err(UsageError("--years must be between 1 and 30".into()).into());
    }
    let end_month = match end_month {
        Some(m) => crate::sources::police_uk::parse_month(&m)
            .ok_or_else(|| UsageError(format!("--end-month `{m}` is not YYYY-MM")))?,
        None => default_end_month(),
    };
    println!(
        "Generating {years} year(s) of synthetic Lancashire data (seed {seed}) in {} ...",
        dir.display()
    );
    let cfg = crate::demo::project::prepare(&DemoSetup {
        dir: dir.clone(),
        seed,
        years,
        end_month,
    })
    .await?;
    let ledger = Ledger::open_for(&cfg).await?;
    let mut spec = JobSpec::manual();
    spec.schedule = "demo".into();
    // The synthetic data is as fresh as real data would be two months
    // after its last month (police.uk publishes about two months behind).
    spec.today = crate::outputs::xlsx::shift_months(end_month, 2);
    let record = match pipeline::run_job(&cfg, &ledger, &spec).await {
        Ok(r) => r,
        Err(e) if e.is_locked() => {
            eprintln!("error: {e}");
            return Ok(EXIT_LOCKED);
        }
        Err(e) => return Err(e.into()),
    };
    print_run(&record);
    println!("\nThe demo project is in {}:", dir.display());
    println!("  safer.toml   project file (sources, paths)");
    println!("  data/        generated inputs in the published formats");
    println!("  lake/        the Parquet lake");
    println!("  outputs/     output definitions (*.toml) and, per output and month,");
    println!("               the committee pack (HTML, PDF), workbooks and manifests");
    println!("  schedules/   the nightly schedule for `safer serve`");
    println!("  ledger/      the run ledger (ledger.db) and the run lock");
    println!(
        "Try: cd {} && safer sql \"SELECT crime_type, COUNT(*) AS n FROM police_uk_street GROUP BY crime_type ORDER BY n DESC\"",
        dir.display()
    );
    Ok(exit_code(&record))
}

/// `safer ingest --partition`: this worker's share of the police.uk files,
/// under the lake's shared lock, each landing tried again (from the newer
/// version) when another worker committed first.
async fn ingest_partition(cfg: &Config, part: &sources::Partition) -> Result<i32> {
    let lake = Lake::open(cfg.lake_dir())?;
    let guard = std::sync::Arc::new(lake.lock_shared()?);
    let retry = crate::retry::RetryPolicy {
        retries: 8,
        backoff_seconds: 0.2,
        max_backoff_seconds: 5.0,
    };
    let police: Vec<&crate::config::Source> = cfg
        .sources
        .iter()
        .filter(|s| matches!(s, crate::config::Source::PoliceUk(_)))
        .collect();
    if police.is_empty() {
        return Err(UsageError(
            "--partition lands police.uk files, and safer.toml has no police_uk source".into(),
        )
        .into());
    }
    println!("Partition {part}:");
    let mut reports = Vec::new();
    for s in police {
        reports.push(sources::run(cfg, &lake, s, &retry, &guard, Some(part)).await);
    }
    print_sources(&reports);
    let others: Vec<&str> = cfg
        .sources
        .iter()
        .filter(|s| !matches!(s, crate::config::Source::PoliceUk(_)))
        .map(|s| s.name())
        .collect();
    if !others.is_empty() {
        println!(
            "Not partitioned, left to the whole ingest: {}",
            others.join(", ")
        );
    }
    Ok(if reports.iter().any(|r| r.failed()) {
        1
    } else {
        0
    })
}

fn print_sources(reports: &[crate::sources::SourceReport]) {
    println!("Sources:");
    for s in reports {
        match &s.error {
            Some(e) => println!("  {:<28} FAILED: {e}", s.name),
            None => {
                for d in &s.datasets {
                    print_dataset(&s.name, d);
                }
            }
        }
        for p in &s.problems {
            println!("    problem: {p}");
        }
    }
}

fn print_dataset(source: &str, d: &DatasetReport) {
    println!(
        "  {:<28} {:<28} {} landed, {} unchanged, {} refused; rows read {} = landed {} + quarantined {}; table now {} rows",
        source,
        d.dataset,
        d.inputs_landed,
        d.inputs_unchanged,
        d.inputs_refused,
        d.rows_read,
        d.rows_landed,
        d.rows_quarantined,
        d.total_rows
    );
}

fn print_run(r: &RunRecord) {
    print_sources(&r.sources);
    match &r.figures_from {
        Some(from) => println!(
            "Indicators (unchanged: nothing they read had changed since run {from}, whose figures stand):"
        ),
        None => println!("Indicators:"),
    }
    for i in &r.indicators {
        match &i.error {
            Some(e) => println!("  {:<40} FAILED: {e}", i.id),
            None => println!("  {:<40} {} points", i.id, i.points),
        }
    }
    for p in &r.problems {
        println!("Problem: {p}");
    }
    for w in &r.warnings {
        println!("Warning: {w}");
    }
    println!("Outputs:");
    for o in &r.outputs {
        println!("  {o}");
    }
    for k in &r.kept_outputs {
        println!("  unchanged, kept: {k}");
    }
    for f in r.stale_sources() {
        println!("Stale: {}", f.describe());
    }
    println!("Run {} finished: {}", r.run_id, r.status);
}

async fn import(
    format: ImportFormat,
    paths: &[PathBuf],
    lake_dir: &Path,
    table: Option<String>,
    columns: Option<String>,
    partition_by: Option<String>,
) -> Result<i32> {
    let lake = Lake::open(lake_dir)?;
    let _lock = lake.lock()?;
    let csv_source = match format {
        ImportFormat::Csv => {
            let table = table.ok_or_else(|| UsageError("csv import needs --table NAME".into()))?;
            if !crate::config::is_identifier(&table) {
                bail!(UsageError(format!(
                    "--table `{table}` must be lower-case letters, digits and _"
                )));
            }
            let spec = columns.ok_or_else(|| {
                UsageError("csv import needs --columns, e.g. --columns 'code!:string,n:int'".into())
            })?;
            let columns = parse_column_list(&spec).map_err(UsageError)?;
            Some(CsvSource {
                name: table.clone(),
                path: PathBuf::new(),
                table,
                columns,
                partition_by,
                null_values: Vec::new(),
                ignore_extra_columns: false,
                max_lag_months: None,
                tests: Vec::new(),
            })
        }
        _ => None,
    };
    let mut problems = Vec::new();
    let mut reports = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!(UsageError(format!("{} does not exist", p.display())));
        }
    }
    // police.uk files of every path land together (one commit, parsed in
    // parallel: `import police-uk 2026-*` is one landing, not one per
    // folder); the other formats land path by path.
    let batches: Vec<Vec<PathBuf>> = match format {
        ImportFormat::PoliceUk => vec![paths.to_vec()],
        _ => paths.iter().map(|p| vec![p.clone()]).collect(),
    };
    for batch in &batches {
        let label = batch
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        // Another writer (an import on another machine, on object storage)
        // may commit to the same table first. The landing is then refused
        // whole, and tried again from the newer version: a few times, with
        // a short random wait, before it is reported.
        const ATTEMPTS: u32 = 5;
        let mut attempt = 0;
        let (r, probs) = loop {
            attempt += 1;
            let (lake, roots, csv_source) = (lake.clone(), batch.clone(), csv_source.clone());
            let (r, probs) = tokio::task::spawn_blocking(move || {
                let mut problems = Vec::new();
                // Every format but police.uk has one path per batch (and
                // clap insists on at least one path).
                let Some(path) = roots.first() else {
                    return (Ok(Vec::new()), problems);
                };
                let r = match format {
                    ImportFormat::PoliceUk => {
                        sources::land_police_uk_from(&lake, &roots, None, None, &mut problems)
                            .map(|r| vec![r])
                    }
                    ImportFormat::Stats19 => sources::land_stats19(&lake, path, &mut problems),
                    ImportFormat::OnsPopulation => {
                        sources::land_ons_population(&lake, path, &mut problems).map(|r| vec![r])
                    }
                    ImportFormat::Csv => match &csv_source {
                        Some(src) => {
                            sources::land_csv(&lake, src, path, &mut problems).map(|r| vec![r])
                        }
                        None => Ok(Vec::new()),
                    },
                };
                (r, problems)
            })
            .await
            .context("import task failed")?;
            match &r {
                Err(sources::Error::Lake(crate::lake::Error::Conflict { dataset, why }))
                    if attempt < ATTEMPTS =>
                {
                    let wait = std::time::Duration::from_millis(
                        200 * 2u64.pow(attempt - 1) + fastrand::u64(0..200),
                    );
                    eprintln!(
                        "note: {label}: another writer committed to `{dataset}` first and {why}; nothing was committed, trying again from the newer version in {:.1} s",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => break (r, probs),
            }
        };
        problems.extend(probs);
        reports.extend(r.with_context(|| format!("importing {label}"))?);
    }
    for d in &reports {
        print_dataset("import", d);
    }
    for p in &problems {
        println!("  problem: {p}");
    }
    Ok(if problems.is_empty() { 0 } else { 1 })
}

async fn sql(
    query: &str,
    lake_dir: &Path,
    format: SqlFormat,
    out_path: Option<&Path>,
    limit: Option<usize>,
    config: Option<&Path>,
) -> Result<i32> {
    let lake = Lake::open(lake_dir)?;
    let limits = match config.map(Path::to_path_buf).or_else(|| {
        let p = PathBuf::from(CONFIG_FILE);
        p.exists().then_some(p)
    }) {
        Some(p) => pipeline::engine_limits(&Config::load(&p)?),
        None => Default::default(),
    };
    let engine = Engine::open(&lake, limits).await?;
    let (schema, batches) = match engine.query_limited(query, limit).await {
        Ok(r) => r,
        Err(e) => {
            let text = match e.location() {
                Some((l, c)) => format!(
                    "<query>:{l}:{c}: {e}\n{}",
                    crate::engine::snippet(query, l, c)
                ),
                None => e.to_string(),
            };
            return Err(UsageError(text.trim_end().to_string()).into());
        }
    };
    if format == SqlFormat::Xlsx {
        let Some(path) = out_path else {
            return Err(UsageError("--format xlsx needs --out FILE.xlsx".into()).into());
        };
        crate::explore::result_workbook(&schema, &batches, path)?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        eprintln!("{rows} row(s) written to {}", path.display());
        return Ok(0);
    }
    let mut sink: Box<dyn std::io::Write> = match out_path {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| UsageError(format!("{}: {e}", p.display())))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    match write_result(&mut sink, format, schema, &batches) {
        Ok(()) => Ok(0),
        // `safer sql ... | head`: the reader has what it wanted.
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}

fn write_result(
    out: &mut dyn std::io::Write,
    format: SqlFormat,
    schema: datafusion::arrow::datatypes::SchemaRef,
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<()> {
    match format {
        SqlFormat::Table | SqlFormat::Xlsx => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(out, "{text}")?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(out, "{rows} row(s)")?;
        }
        SqlFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                w.write(&datafusion::arrow::array::RecordBatch::new_empty(schema))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        SqlFormat::Json => {
            // Missing values are written as null, so every object has every
            // key in the same order.
            let mut w = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn bench(dir: PathBuf, years: u32, repeat: u32, forces: u32) -> Result<i32> {
    let end_month = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default();
    let data = dir.join("data/police-uk");
    let marker = dir.join(format!("data/.generated-{years}y"));
    if !marker.exists() {
        println!(
            "Generating {years} year(s) of police.uk files in {} (not timed) ...",
            dir.display()
        );
        crate::demo::generate(&crate::demo::DemoOptions {
            dir: dir.clone(),
            seed: 2026,
            years,
            end_month,
            partner_db: false,
        })
        .await?;
        std::fs::write(&marker, b"")?;
    }
    crate::bench::link_forces(&data, forces)?;
    let r = crate::bench::run(&data, &dir.join("work"), repeat).await?;
    println!(
        "rows {}  csv {:.0} MiB  parquet {:.1} MiB in {} file(s)  peak RSS {:.0} MiB",
        r.rows,
        r.csv_bytes as f64 / 1048576.0,
        r.parquet_bytes as f64 / 1048576.0,
        r.parquet_files,
        r.peak_rss_mib
    );
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9}",
        "run", "ingest", "queries", "workbook", "total"
    );
    for (i, t) in r.runs.iter().enumerate() {
        println!(
            "{:>6} {:>8.3}s {:>8.3}s {:>8.3}s {:>8.3}s",
            i + 1,
            t.ingest,
            t.queries,
            t.workbook,
            t.total
        );
    }
    let best = r.runs.iter().map(|t| t.total).fold(f64::INFINITY, f64::min);
    println!(
        "best total {best:.3}s; {:.0} rows/s ingest",
        r.rows as f64
            / r.runs
                .iter()
                .map(|t| t.ingest)
                .fold(f64::INFINITY, f64::min)
    );
    std::fs::write(
        dir.join("bench-report.json"),
        serde_json::to_vec_pretty(&r)?,
    )?;
    Ok(0)
}
