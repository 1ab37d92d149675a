//! What officers use to find their way around: the lake's tables and
//! columns in plain words, a table's sample rows and the exact spellings of
//! its text values, one indicator evaluated in the terminal, and its plan.
//!
//! Everything here reads; nothing writes to the lake or the outputs.

use std::collections::BTreeMap;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;

use crate::config::Config;
use crate::engine::{self, Engine};
use crate::evaluation::ResultRow;
use crate::lake::Lake;
use crate::schema::ColumnType;

/// Errors exploring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such table.
    #[error("there is no table `{name}` in the lake{hint}")]
    UnknownTable {
        /// What was asked for.
        name: String,
        /// ". Did you mean ...?" or the list of tables.
        hint: String,
    },
    /// The lake could not be read.
    #[error(transparent)]
    Lake(#[from] crate::lake::Error),
    /// A query failed.
    #[error(transparent)]
    Engine(#[from] engine::Error),
}

/// A column type in words an officer uses.
pub fn type_words(t: ColumnType) -> &'static str {
    match t {
        ColumnType::String => "text",
        ColumnType::Int => "whole number",
        ColumnType::Float => "number",
        ColumnType::Bool => "yes/no",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "date and time",
    }
}

/// An Arrow type in the same words (for views, which have no declaration).
pub fn arrow_words(t: &datafusion::arrow::datatypes::DataType) -> &'static str {
    use datafusion::arrow::datatypes::DataType::*;
    match t {
        Utf8 | LargeUtf8 | Utf8View => "text",
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => "whole number",
        Float16 | Float32 | Float64 | Decimal128(..) | Decimal256(..) => "number",
        Boolean => "yes/no",
        Date32 | Date64 => "date",
        Timestamp(..) => "date and time",
        // Text of few values is read as a dictionary of text.
        Dictionary(_, values) => arrow_words(values),
        _ => "other",
    }
}

/// One column as `tables` and `describe` show it.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// Type in words.
    pub kind: &'static str,
    /// Every row has a value (declared `required`).
    pub required: bool,
}

/// One table or view.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Name to use in SQL.
    pub name: String,
    /// A built-in view rather than a landed table.
    pub view: bool,
    /// Rows (tables only).
    pub rows: Option<u64>,
    /// First and last month with data.
    pub months: Option<(String, String)>,
    /// The `safer.toml` source that lands it.
    pub source: Option<String>,
    /// Whether that source's data is stale.
    pub stale: Option<bool>,
    /// Columns.
    pub columns: Vec<ColumnInfo>,
}

/// Every lake table and built-in view, sorted by name.
pub async fn tables(
    cfg: Option<&Config>,
    lake: &Lake,
    engine: &Engine,
) -> Result<Vec<TableInfo>, Error> {
    let freshness = match cfg {
        Some(c) => crate::sources::freshness(c, lake, chrono::Local::now().date_naive())?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for m in lake.datasets()? {
        let source = cfg.and_then(|c| {
            c.sources
                .iter()
                .find(|s| s.tables().contains(&m.dataset))
                .map(|s| s.name().to_string())
        });
        let stale = source
            .as_ref()
            .and_then(|s| freshness.iter().find(|f| &f.source == s))
            .filter(|f| f.max_lag_months.is_some())
            .map(|f| f.stale);
        out.push(TableInfo {
            name: m.dataset.clone(),
            view: false,
            rows: Some(m.rows()),
            months: m.month_range(),
            source: source.or_else(|| builtin_source(&m.dataset).map(String::from)),
            stale,
            columns: m
                .columns
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name.clone(),
                    kind: type_words(c.ty),
                    required: c.required,
                })
                .collect(),
        });
    }
    for name in engine.tables() {
        if out.iter().any(|t| &t.name == name) {
            continue;
        }
        let df = engine.plan(&format!("SELECT * FROM {name}")).await?;
        out.push(TableInfo {
            name: name.clone(),
            view: true,
            rows: None,
            months: None,
            source: Some("shared view (queries/_views)".into()),
            stale: None,
            columns: df
                .schema()
                .fields()
                .iter()
                .map(|f| ColumnInfo {
                    name: f.name().clone(),
                    kind: arrow_words(f.data_type()),
                    required: false,
                })
                .collect(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn builtin_source(table: &str) -> Option<&'static str> {
    match table {
        crate::lake::QUARANTINE_DATASET => Some("rows refused by every source"),
        crate::evaluation::results::TABLE => Some("evaluated indicators, per run"),
        "geography_crosswalk" => Some("built-in geography"),
        _ => None,
    }
}

/// A table described: its columns, some rows, and the values of its
/// low-cardinality text columns with counts.
#[derive(Debug, Clone)]
pub struct Description {
    /// The table.
    pub table: TableInfo,
    /// Column names of the sample.
    pub sample_header: Vec<String>,
    /// A few rows, as text.
    pub sample: Vec<Vec<String>>,
    /// For text columns with at most [`MAX_DISTINCT`] values: each value and
    /// its row count, commonest first.
    pub values: BTreeMap<String, Vec<(String, u64)>>,
}

/// Text columns with more distinct values than this are not listed.
pub const MAX_DISTINCT: usize = 30;

/// Describe one table or view.
pub async fn describe(
    cfg: Option<&Config>,
    lake: &Lake,
    engine: &Engine,
    name: &str,
    sample_rows: usize,
) -> Result<Description, Error> {
    let all = tables(cfg, lake, engine).await?;
    let Some(table) = all.iter().find(|t| t.name == name).cloned() else {
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        let hint = match closest(name, &names) {
            Some(c) => format!(". Did you mean `{c}`?"),
            None if names.is_empty() => {
                ". The lake is empty: run `safer ingest` (or `safer demo`) to land data".into()
            }
            None => format!(". Tables: {}", names.join(", ")),
        };
        return Err(Error::UnknownTable {
            name: name.to_string(),
            hint,
        });
    };
    let (schema, batches) = engine
        .query(&format!("SELECT * FROM {name} LIMIT {sample_rows}"))
        .await?;
    let sample_header = schema.fields().iter().map(|f| f.name().clone()).collect();
    let sample = strings(&batches);
    let mut values = BTreeMap::new();
    for c in table.columns.iter().filter(|c| c.kind == "text") {
        let sql = format!(
            "SELECT \"{0}\", COUNT(*) AS n FROM {name} GROUP BY \"{0}\" ORDER BY n DESC, \"{0}\" LIMIT {1}",
            c.name,
            MAX_DISTINCT + 1
        );
        let (_, batches) = engine.query(&sql).await?;
        let rows = strings(&batches);
        if rows.len() <= MAX_DISTINCT {
            values.insert(
                c.name.clone(),
                rows.into_iter()
                    .map(|r| (r[0].clone(), r[1].parse().unwrap_or(0)))
                    .collect(),
            );
        }
    }
    Ok(Description {
        table,
        sample_header,
        sample,
        values,
    })
}

/// Batches as rows of text, `NULL` for a missing value.
pub fn strings(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                (0..b.num_columns())
                    .map(|c| {
                        if b.column(c).is_null(r) {
                            "NULL".to_string()
                        } else {
                            array_value_to_string(b.column(c), r).unwrap_or_default()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

/// The closest of `candidates` to `word`, if it is close enough to be a
/// likely typo (edit distance at most a third of the word, and at most 3).
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Edit distance between two strings.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Lay rows out as an aligned text table with a header rule.
pub fn text_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i].saturating_sub(c.chars().count())));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Write a query result as a workbook: a header row, then numbers as
/// numbers, yes/no as booleans and dates as dates, so it can be filtered
/// and summed in a spreadsheet.
pub fn result_workbook(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    path: &std::path::Path,
) -> Result<(), std::io::Error> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Date32Type};
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let xerr = |e: rust_xlsxwriter::XlsxError| std::io::Error::other(e.to_string());
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, f) in schema.fields().iter().enumerate() {
        ws.write_string_with_format(0, c as u16, f.name(), &bold)
            .map_err(xerr)?;
    }
    let mut row: u32 = 1;
    for b in batches {
        for r in 0..b.num_rows() {
            for c in 0..b.num_columns() {
                let col = b.column(c);
                if col.is_null(r) {
                    continue;
                }
                let cc = c as u16;
                match col.data_type() {
                    DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
                    | DataType::UInt64
                    | DataType::Float32
                    | DataType::Float64 => {
                        let v =
                            datafusion::arrow::compute::cast(&col.slice(r, 1), &DataType::Float64)
                                .ok()
                                .map(|a| {
                                    a.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                                        .value(0)
                                });
                        match v {
                            Some(v) => ws.write_number(row, cc, v).map_err(xerr)?,
                            None => ws
                                .write_string(
                                    row,
                                    cc,
                                    array_value_to_string(col, r).unwrap_or_default(),
                                )
                                .map_err(xerr)?,
                        };
                    }
                    DataType::Boolean => {
                        ws.write_boolean(row, cc, col.as_boolean().value(r))
                            .map_err(xerr)?;
                    }
                    DataType::Date32 => {
                        let d = col.as_primitive::<Date32Type>().value(r);
                        let day = crate::schema::from_date32(d).unwrap_or_default();
                        use chrono::Datelike;
                        match ExcelDateTime::from_ymd(
                            day.year() as u16,
                            day.month() as u8,
                            day.day() as u8,
                        ) {
                            Ok(x) => ws
                                .write_datetime_with_format(row, cc, &x, &date)
                                .map_err(xerr)?,
                            Err(_) => ws.write_string(row, cc, day.to_string()).map_err(xerr)?,
                        };
                    }
                    _ => {
                        ws.write_string(row, cc, array_value_to_string(col, r).unwrap_or_default())
                            .map_err(xerr)?;
                    }
                }
            }
            row += 1;
            if row >= 1_048_576 {
                return Err(std::io::Error::other(
                    "more rows than a worksheet holds (1,048,576); add a LIMIT or use --format csv",
                ));
            }
        }
    }
    ws.autofit();
    let bytes = wb.save_to_buffer().map_err(xerr)?;
    crate::lake::atomic_write(path, &bytes).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Which rows of one indicator's evaluation `safer query` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryPeriod {
    /// Months.
    Month,
    /// Quarters.
    Quarter,
    /// The reporting year (financial or calendar, as the indicator says).
    Year,
    /// Rolling twelve months.
    Rolling12,
}

impl QueryPeriod {
    fn matches(self, period_type: &crate::evaluation::periods::PeriodType) -> bool {
        use crate::evaluation::periods::PeriodType as P;
        match self {
            QueryPeriod::Month => *period_type == P::Month,
            QueryPeriod::Quarter => *period_type == P::Quarter,
            QueryPeriod::Year => matches!(period_type, P::FinancialYear | P::CalendarYear),
            QueryPeriod::Rolling12 => *period_type == P::Rolling12,
        }
    }
}

/// The rows `safer query` prints: with an area, that area's last twelve
/// periods of the type; without, every area for the latest complete period.
pub fn pick_rows<'a>(
    rows: &'a [ResultRow],
    period: QueryPeriod,
    area: Option<&str>,
) -> Vec<&'a ResultRow> {
    let mut v: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| period.matches(&r.period_type))
        .collect();
    match area {
        Some(a) => {
            v.retain(|r| r.area_code == a);
            v.sort_by_key(|r| r.period_end);
            let skip = v.len().saturating_sub(12);
            v.into_iter().skip(skip).collect()
        }
        None => {
            let latest = v.iter().filter(|r| r.complete).map(|r| r.period_end).max();
            v.retain(|r| Some(r.period_end) == latest);
            v.sort_by(|a, b| {
                level_rank(&a.area_level)
                    .cmp(&level_rank(&b.area_level))
                    .then(a.area_name.cmp(&b.area_name))
            });
            v
        }
    }
}

fn level_rank(level: &str) -> u8 {
    match level {
        "lancashire_14" => 0,
        "lancashire_12" => 1,
        "csp" => 2,
        "district" => 3,
        _ => 4,
    }
}

/// The evaluated rows as a terminal table.
pub fn render_results(rows: &[&ResultRow]) -> String {
    let fmt = |v: Option<f64>, unit: crate::evaluation::spec::Unit| {
        crate::outputs::fmt_value(v, false, unit)
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{} {}", r.area_code, r.area_name),
                format!(
                    "{}{}",
                    r.period_label,
                    if r.complete { "" } else { " (incomplete)" }
                ),
                fmt(r.value, r.unit),
                fmt(Some(r.numerator), crate::evaluation::spec::Unit::Count),
                fmt(r.previous_value, r.unit),
                fmt(r.sply_value, r.unit),
                fmt(r.target, r.unit),
                r.status
                    .map(|s| s.label().to_string())
                    .unwrap_or_else(|| "-".into()),
                r.direction_sply
                    .map(|d| d.label())
                    .unwrap_or_else(|| "-".into()),
                r.spc_variation
                    .map(|v| v.label().to_string())
                    .unwrap_or_else(|| "-".into()),
                if r.suppressed {
                    "yes".into()
                } else {
                    "no".into()
                },
            ]
        })
        .collect();
    text_table(
        &[
            "area",
            "period",
            "value",
            "count",
            "previous",
            "same period last year",
            "target",
            "RAG",
            "vs last year",
            "SPC",
            "suppressed in public",
        ],
        &table,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        let names = ["police_uk_street", "ons_lsoa_lookup", "force_crime"];
        assert_eq!(closest("police_uk_stret", &names), Some("police_uk_street"));
        assert_eq!(closest("force_crimes", &names), Some("force_crime"));
        assert_eq!(closest("marac", &names), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn tables_are_aligned() {
        let t = text_table(&["a", "long"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    long\n---  ----\nxyz  1\n");
    }
}
