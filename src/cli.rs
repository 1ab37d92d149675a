//! Command line: parses arguments, calls the library, prints friendly reports.
//!
//! Exit codes: 0 success; 1 the job finished but something in it failed
//! (a source, an indicator, an output); 2 configuration or usage error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{CONFIG_FILE, Config, CsvSource};
use crate::engine::Engine;
use crate::lake::Lake;
use crate::ledger::RunRecord;
use crate::pipeline::{self, DemoSetup};
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
    /// Run the whole job once: ingest, indicators, outputs.
    Run,
    /// Land every source in safer.toml into the lake.
    Ingest,
    /// Check config, indicator headers, queries (planned against the lake) and
    /// output definitions, reporting every problem with its file and line.
    Check,
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
    /// Query the lake (read-only).
    Sql {
        /// One SELECT statement.
        query: String,
        /// Lake folder (default: from safer.toml, else ./lake).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
        format: SqlFormat,
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
    },
    /// Show recent runs from the ledger.
    Runs {
        /// How many.
        #[arg(long, default_value_t = 10)]
        last: usize,
    },
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
    /// JSON array of objects.
    Json,
}

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run the CLI; returns the exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Demo {
            dir,
            seed,
            years,
            end_month,
        } => demo(dir, seed, years, end_month).await,
        Command::Run => {
            let cfg = load_config(cli.config.as_deref())?;
            let record = pipeline::run(&cfg, "run").await?;
            print_run(&record);
            Ok(exit_code(&record))
        }
        Command::Check => {
            let cfg = load_config(cli.config.as_deref())?;
            let (n, problems) = pipeline::check(&cfg).await?;
            for p in &problems {
                println!("{p}");
            }
            println!("{n} indicator(s) checked, {} problem(s)", problems.len());
            Ok(if problems.is_empty() { 0 } else { 1 })
        }
        Command::Ingest => {
            let cfg = load_config(cli.config.as_deref())?;
            let record = pipeline::ingest(&cfg).await?;
            print_sources(&record.sources);
            Ok(exit_code(&record))
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
            lake,
            format,
        } => {
            let lake_dir = lake_dir(cli.config.as_deref(), lake)?;
            sql(&query, &lake_dir, format, cli.config.as_deref()).await
        }
        Command::Bench {
            dir,
            years,
            repeat,
            forces,
        } => bench(dir, years, repeat, forces).await,
        Command::Runs { last } => {
            let cfg = load_config(cli.config.as_deref())?;
            let dir = cfg.resolve(&cfg.paths.ledger);
            for r in crate::ledger::recent(&dir, last)? {
                println!(
                    "{}  {:<8} {:<8} indicators failed: {}  outputs: {}",
                    r["run_id"].as_str().unwrap_or("?"),
                    r["job"].as_str().unwrap_or("?"),
                    r["status"].as_str().unwrap_or("?"),
                    r["indicators"]
                        .as_array()
                        .map(|a| a.iter().filter(|i| i["status"] != "ok").count())
                        .unwrap_or(0),
                    r["outputs"].as_array().map(|a| a.len()).unwrap_or(0),
                );
            }
            Ok(0)
        }
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
    if r.status == "ok" { 0 } else { 1 }
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
    let cfg = pipeline::prepare_demo(&DemoSetup {
        dir: dir.clone(),
        seed,
        years,
        end_month,
    })
    .await?;
    let record = pipeline::run(&cfg, "demo").await?;
    print_run(&record);
    println!("\nThe demo project is in {}:", dir.display());
    println!("  safer.toml   project file (sources, paths)");
    println!("  data/        generated inputs in the published formats");
    println!("  lake/        the Parquet lake");
    println!("  outputs/     output definitions (*.toml) and, per output and month,");
    println!("               the committee pack (HTML, PDF), workbooks and manifests");
    println!("  ledger/      the run ledger");
    println!(
        "Try: cd {} && safer sql \"SELECT crime_type, COUNT(*) AS n FROM police_uk_street GROUP BY crime_type ORDER BY n DESC\"",
        dir.display()
    );
    Ok(exit_code(&record))
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
    println!("Indicators:");
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
        let (lake, path, csv_source) = (lake.clone(), p.clone(), csv_source.clone());
        let (r, probs) = tokio::task::spawn_blocking(move || {
            let mut problems = Vec::new();
            let r = match format {
                ImportFormat::PoliceUk => {
                    sources::land_police_uk(&lake, &path, None, &mut problems).map(|r| vec![r])
                }
                ImportFormat::Stats19 => sources::land_stats19(&lake, &path, &mut problems),
                ImportFormat::OnsPopulation => {
                    sources::land_ons_population(&lake, &path, &mut problems).map(|r| vec![r])
                }
                ImportFormat::Csv => match &csv_source {
                    Some(src) => {
                        sources::land_csv(&lake, src, &path, &mut problems).map(|r| vec![r])
                    }
                    None => Ok(Vec::new()),
                },
            };
            (r, problems)
        })
        .await
        .context("import task failed")?;
        problems.extend(probs);
        reports.extend(r.with_context(|| format!("importing {}", p.display()))?);
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
    let (schema, batches) = match engine.query(query).await {
        Ok(r) => r,
        Err(e) => {
            let at = e
                .location()
                .map(|(l, c)| format!("<query>:{l}:{c}: "))
                .unwrap_or_default();
            return Err(UsageError(format!("{at}{e}")).into());
        }
    };
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    match format {
        SqlFormat::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?;
            writeln!(out, "{text}")?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(out, "{rows} row(s)")?;
        }
        SqlFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            if batches.is_empty() {
                w.write(&datafusion::arrow::array::RecordBatch::new_empty(schema))?;
            }
            for b in &batches {
                w.write(b)?;
            }
        }
        SqlFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut out);
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
            writeln!(out)?;
        }
    }
    Ok(0)
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
