//! `safer bench --data DIR --out DIR`: the peer benchmark's job
//! (`../shared/bench/`), done by safer in one process, so the harness
//! (`run_bench.py --cmd 'safer=safer bench --data {data} --out {out}'`) puts
//! it beside DuckDB and pandas in one table.
//!
//! The job is the peers' job, through safer's real code paths: the street
//! files land as police.uk does in a nightly run, the two lookups land as
//! `safer import csv` lands them, every query file runs through the
//! read-only engine in this process, and every result goes into one
//! workbook written in constant-memory mode. The last stdout line is the
//! harness's JSON: `total_s`, `stages`, and per query `s`, `rows` and the
//! `fingerprint` that `common.py` computes, so the harness can check that
//! safer's answers are DuckDB's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::CsvSource;
use crate::engine::{Engine, EngineLimits};
use crate::lake::Lake;
use crate::schema::{Column, ColumnType};
use crate::sources;

/// One query's line in the harness's JSON.
#[derive(Debug, Clone, Serialize)]
pub struct QueryStat {
    /// Seconds from planning to the last batch.
    pub s: f64,
    /// Rows returned.
    pub rows: usize,
    /// `common.fingerprint` of the rows.
    pub fingerprint: String,
}

/// The harness's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    /// Always `safer`.
    pub peer: String,
    /// Seconds for the whole job.
    pub total_s: f64,
    /// Seconds per stage: `ingest_s`, `lookups_s`, `queries_s`, `xlsx_s`.
    pub stages: std::collections::BTreeMap<String, f64>,
    /// Per query file stem.
    pub queries: std::collections::BTreeMap<String, QueryStat>,
    /// Rows landed from the street files.
    pub rows: u64,
    /// Rows of the street files set aside in quarantine (`SELECT * FROM
    /// quarantine` in the lake says why).
    pub quarantined: u64,
    /// Peak resident set size of this process, MiB.
    pub peak_rss_mib: f64,
    /// Where the street files' ingest went: `fingerprint_s` and
    /// `commit_s` are wall seconds, `parse_cpu_s` and `encode_cpu_s` CPU
    /// seconds (they overlap; see [`sources::IngestProfile`]).
    pub ingest_profile: sources::IngestProfile,
}

/// The query files in `dir`, by stem, sorted as `common.load_queries` does.
fn query_files(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("--queries {}: {e}", dir.display()))?
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "sql") {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((stem, std::fs::read_to_string(&p)?));
        }
    }
    out.sort();
    if out.is_empty() {
        anyhow::bail!("no .sql files in {}", dir.display());
    }
    Ok(out)
}

fn lookup(table: &str, columns: Vec<Column>) -> CsvSource {
    CsvSource {
        name: table.into(),
        path: PathBuf::new(),
        table: table.into(),
        columns,
        partition_by: None,
        null_values: Vec::new(),
        ignore_extra_columns: false,
        max_lag_months: None,
        tests: Vec::new(),
    }
}

/// Run the peer job: land `data`, run every query in `queries`, write
/// `out/results.xlsx`.
pub async fn run(data: &Path, queries: &Path, out: &Path) -> anyhow::Result<PeerReport> {
    let files = query_files(queries)?;
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let lake = Lake::open(out.join("lake"))?;
    let mut stages = std::collections::BTreeMap::new();
    let start = Instant::now();

    let t = Instant::now();
    let (l, d) = (lake.clone(), data.to_path_buf());
    let mut problems = Vec::new();
    let report = tokio::task::spawn_blocking(move || {
        let r = sources::land_police_uk(&l, &d, None, None, &mut problems);
        (r, problems)
    })
    .await?;
    let (report, problems) = (report.0?, report.1);
    if let Some(p) = problems.first() {
        anyhow::bail!("landing the street files: {p}");
    }
    stages.insert("ingest_s".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    let lookups = data.join("lookups");
    for (file, src) in [
        (
            "lsoa_district.csv",
            // As a project would declare them: a district repeats (456
            // of them over 40,000 LSOAs), so it is read as a dictionary.
            lookup(
                "lsoa_district",
                vec![
                    Column::new("lsoa_code", ColumnType::String).required(),
                    Column::new("district", ColumnType::String).few_values(),
                ],
            ),
        ),
        (
            "population.csv",
            lookup(
                "population",
                vec![
                    Column::new("district", ColumnType::String).required(),
                    Column::new("year", ColumnType::Int),
                    Column::new("population", ColumnType::Int),
                ],
            ),
        ),
    ] {
        let (l, p) = (lake.clone(), lookups.join(file));
        tokio::task::spawn_blocking(move || sources::land_csv(&l, &src, &p, &mut Vec::new()))
            .await??;
    }
    stages.insert("lookups_s".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    // The limits an officer's query has by default (1 GiB before it
    // spills), in this process: what is measured is what they run with.
    let limits = EngineLimits {
        worker: None,
        ..EngineLimits::default()
    };
    let engine = Engine::open(&lake, limits).await?;
    let mut results = Vec::new();
    let mut stats = std::collections::BTreeMap::new();
    for (name, sql) in &files {
        let q = Instant::now();
        let (schema, batches) = engine
            .query(sql)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let s = q.elapsed().as_secs_f64();
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        stats.insert(
            name.clone(),
            QueryStat {
                s,
                rows,
                fingerprint: String::new(),
            },
        );
        results.push((name.clone(), schema, batches));
    }
    stages.insert("queries_s".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    write_workbook(&out.join("results.xlsx"), &results)?;
    stages.insert("xlsx_s".to_string(), t.elapsed().as_secs_f64());
    let total_s = start.elapsed().as_secs_f64();

    // After the timed job, as the peers do.
    for (name, _, batches) in &results {
        if let Some(s) = stats.get_mut(name) {
            s.fingerprint = fingerprint(batches);
        }
    }
    Ok(PeerReport {
        peer: "safer".into(),
        total_s,
        stages,
        queries: stats,
        rows: report.rows_landed,
        quarantined: report.rows_quarantined,
        peak_rss_mib: super::peak_rss_mib(),
        ingest_profile: report.profile,
    })
}

/// Every result into one workbook: an `about` sheet, then a sheet per
/// query with a bold header; dates as dates, floats to two places, missing
/// values blank. Constant-memory mode: rows go to disk as they are written.
fn write_workbook(
    path: &Path,
    results: &[(
        String,
        datafusion::arrow::datatypes::SchemaRef,
        Vec<RecordBatch>,
    )],
) -> anyhow::Result<()> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let num = Format::new().set_num_format("0.00");
    {
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name("about")?;
        ws.write_string_with_format(0, 0, "job", &bold)?;
        ws.write_string(0, 1, "safer bench (peer benchmark)")?;
        ws.write_string_with_format(1, 0, "queries", &bold)?;
        ws.write_number(1, 1, results.len() as f64)?;
    }
    for (name, schema, batches) in results {
        let ws = wb.add_worksheet_with_constant_memory()?;
        let sheet: String = name.chars().take(31).collect();
        ws.set_name(&sheet)?;
        for (c, f) in schema.fields().iter().enumerate() {
            ws.write_string_with_format(0, c as u16, f.name(), &bold)?;
        }
        let mut r: u32 = 1;
        for b in batches {
            for i in 0..b.num_rows() {
                for c in 0..b.num_columns() {
                    let a = b.column(c);
                    if a.is_null(i) {
                        continue;
                    }
                    let col = c as u16;
                    match a.data_type() {
                        DataType::Int64 => {
                            ws.write_number(
                                r,
                                col,
                                a.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                                    .value(i) as f64,
                            )?;
                        }
                        DataType::Int32 => {
                            ws.write_number(
                                r,
                                col,
                                f64::from(
                                    a.as_primitive::<datafusion::arrow::datatypes::Int32Type>()
                                        .value(i),
                                ),
                            )?;
                        }
                        DataType::Float64 => {
                            let v = a
                                .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                                .value(i);
                            if !v.is_nan() {
                                ws.write_number_with_format(r, col, v, &num)?;
                            }
                        }
                        DataType::Date32 => {
                            let d = a
                                .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                                .value(i);
                            if let Some(d) =
                                chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)
                            {
                                let d = d.date_naive();
                                use chrono::Datelike;
                                let x = ExcelDateTime::from_ymd(
                                    d.year() as u16,
                                    d.month() as u8,
                                    d.day() as u8,
                                )?;
                                ws.write_datetime_with_format(r, col, &x, &date)?;
                            }
                        }
                        _ => {
                            ws.write_string(r, col, canon(a.as_ref(), i))?;
                        }
                    }
                }
                r += 1;
            }
        }
    }
    wb.save(path)?;
    Ok(())
}

/// One cell as `common.canon` renders it: missing and NaN as empty,
/// integral numbers without a point, other floats to ten significant
/// digits as Python's `format(v, ".10g")`, dates as `YYYY-MM-DD`.
pub fn canon(a: &dyn Array, i: usize) -> String {
    use datafusion::arrow::datatypes as t;
    if a.is_null(i) {
        return String::new();
    }
    match a.data_type() {
        DataType::Boolean => (if a.as_boolean().value(i) {
            "true"
        } else {
            "false"
        })
        .into(),
        DataType::Int8 => a.as_primitive::<t::Int8Type>().value(i).to_string(),
        DataType::Int16 => a.as_primitive::<t::Int16Type>().value(i).to_string(),
        DataType::Int32 => a.as_primitive::<t::Int32Type>().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<t::Int64Type>().value(i).to_string(),
        DataType::UInt8 => a.as_primitive::<t::UInt8Type>().value(i).to_string(),
        DataType::UInt16 => a.as_primitive::<t::UInt16Type>().value(i).to_string(),
        DataType::UInt32 => a.as_primitive::<t::UInt32Type>().value(i).to_string(),
        DataType::UInt64 => a.as_primitive::<t::UInt64Type>().value(i).to_string(),
        DataType::Float32 => float(f64::from(a.as_primitive::<t::Float32Type>().value(i))),
        DataType::Float64 => float(a.as_primitive::<t::Float64Type>().value(i)),
        DataType::Decimal128(_, scale) => {
            let v = a.as_primitive::<t::Decimal128Type>().value(i);
            float(v as f64 / 10f64.powi(i32::from(*scale)))
        }
        DataType::Date32 => {
            let d = a.as_primitive::<t::Date32Type>().value(i);
            chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)
                .map(|d| d.date_naive().to_string())
                .unwrap_or_default()
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<t::TimestampSecondType>().value(i) * 1_000_000,
                TimeUnit::Millisecond => {
                    a.as_primitive::<t::TimestampMillisecondType>().value(i) * 1_000
                }
                TimeUnit::Microsecond => a.as_primitive::<t::TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => {
                    a.as_primitive::<t::TimestampNanosecondType>().value(i) / 1_000
                }
            };
            match chrono::DateTime::from_timestamp_micros(v) {
                Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.date_naive().to_string(),
                Some(dt) if dt.timestamp_subsec_micros() == 0 => {
                    dt.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string()
                }
                Some(dt) => dt.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                None => String::new(),
            }
        }
        _ => datafusion::arrow::util::display::array_value_to_string(a, i).unwrap_or_default(),
    }
}

/// A float as `common.canon` renders it.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        return String::new();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    python_g(v, 10)
}

/// Python's `format(v, ".{p}g")` for a finite `v`: `p` significant digits,
/// fixed notation when the exponent is from -4 to p-1, else scientific with
/// a two-digit exponent; trailing zeros removed.
pub fn python_g(v: f64, p: usize) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rounded to p significant digits first: the exponent is the rounded
    // value's, as Python decides it.
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp >= -4 && exp < p as i32 {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip(&format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    }
}

/// `common.fingerprint`: sha256 over the sorted rows, each the canonical
/// cells joined by U+001F and ended by a newline; the first 16 hex digits.
pub fn fingerprint(batches: &[RecordBatch]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let cells: Vec<String> = b.columns().iter().map(|a| canon(a.as_ref(), i)).collect();
            lines.push(cells.join("\u{1f}"));
        }
    }
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    /// Each expected string is what Python 3.11's `common.canon` printed
    /// for the same value (../shared/bench/common.py).
    #[test]
    fn floats_render_as_pythons_ten_significant_digits() {
        for (v, py) in [
            (1.0 / 3.0, "0.3333333333"),
            (123456789012.345, "1.23456789e+11"),
            (2.5e-7, "2.5e-07"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (1234567890.5, "1234567890"),
            (12345.678901234, "12345.6789"),
            (-0.1, "-0.1"),
            (2.5, "2.5"),
            (1e15, "1e+15"),
            (1e16 + 2.0, "1e+16"),
            (0.5, "0.5"),
            (100.0, "100"),
            (9999999999.5, "1e+10"),
        ] {
            assert_eq!(float(v), py, "{v:?}");
        }
    }

    /// The fingerprint Python's `common.fingerprint` gave for the same
    /// rows (dates, a missing value, integers, floats, NaN, non-ASCII).
    #[test]
    fn fingerprints_match_the_harness() {
        let day = |y, m, d| {
            (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
                - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days() as i32
        };
        let b = RecordBatch::try_from_iter(vec![
            (
                "month",
                Arc::new(Date32Array::from(vec![
                    Some(day(2024, 3, 1)),
                    Some(day(2024, 4, 1)),
                    Some(day(2023, 12, 1)),
                    None,
                    Some(day(2024, 1, 1)),
                ])) as _,
            ),
            (
                "area",
                Arc::new(StringArray::from(vec![
                    Some("Burnley"),
                    None,
                    Some("Pendle"),
                    Some("x"),
                    Some("é"),
                ])) as _,
            ),
            (
                "n",
                Arc::new(Float64Array::from(vec![12.0, 3.0, -7.0, 2.5e-7, f64::NAN])) as _,
            ),
            (
                "r",
                Arc::new(Float64Array::from(vec![
                    0.5,
                    1.0 / 3.0,
                    123456789012.345,
                    1e20,
                    2.5,
                ])) as _,
            ),
        ])
        .unwrap();
        assert_eq!(fingerprint(&[b]), "75f2eb81f1b52c52");
        let ints =
            RecordBatch::try_from_iter(vec![("n", Arc::new(Int64Array::from(vec![3, 1, 2])) as _)])
                .unwrap();
        assert_eq!(fingerprint(&[ints]), FINGERPRINT_1_2_3);
    }

    /// `common.fingerprint([(1,), (2,), (3,)])`.
    const FINGERPRINT_1_2_3: &str = "14c5e74c4b96ccef";
}
