//! `safer test`: tests that sit beside each indicator.
//!
//! A test file is `queries/<theme>/<id>.test`, plain text an officer can
//! write by copying another: a few rows for each table the query reads, as
//! CSV, and the rows the query must return. Blocks start with a line of
//! their own and run to the next blank line:
//!
//! ```text
//! # Two ASB incidents in Preston in January, one in February elsewhere.
//! table police_uk_by_district
//! month,district_code,crime_type
//! 2026-01-01,E07000123,Anti-social behaviour
//! 2026-01-01,E07000123,Anti-social behaviour
//! 2026-01-01,E07000123,Burglary
//! 2026-02-01,E07000117,Anti-social behaviour
//!
//! expect
//! month,area_code,numerator
//! 2026-01-01,E07000123,2
//! 2026-02-01,E07000117,1
//! ```
//!
//! - `table NAME`: rows for a lake table or a shared view. Columns left out
//!   are empty; types come from the table's declaration, so `2026-01-01` is
//!   a date and `true` a yes/no. Shared views are built on the fixture
//!   tables when their tables are given instead.
//! - `expect`: the rows the query returns, in any order. Only the columns
//!   named are compared; numbers compare as numbers (`2` = `2.0`).
//! - `expect results` with `points` before it tests the evaluation: the
//!   `points` block is monthly `month,area_code,numerator[,denominator]`,
//!   and each `expect results` row names an `area_code`, `period_type`
//!   and `period_end` (the period's last month) and any of `value`,
//!   `previous`, `sply`, `target`, `rag`, `direction`, `spc`.
//! - `#` lines are comments.
//!
//! Each test runs in a fresh in-memory session that holds only its
//! fixtures: no lake, no other tables. `--complete` rewrites the `expect`
//! block with what the query returned, for the officer to review.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::execution::context::{SQLOptions, SessionContext};

use crate::config::Config;
use crate::indicators::{self, Indicator};
use crate::schema::{Column, ColumnType};

/// File extension of indicator tests.
pub const EXTENSION: &str = "test";

/// One block of a test file.
#[derive(Debug, Clone)]
struct Block {
    kind: BlockKind,
    line: usize,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum BlockKind {
    Table(String),
    Expect,
    Points,
    ExpectResults,
}

/// A parsed test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    path: PathBuf,
    text: String,
    blocks: Vec<Block>,
}

/// A problem with a test file or a failing test.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The test file.
    pub path: PathBuf,
    /// 1-based line, when it is about one.
    pub line: Option<usize>,
    /// What went wrong, possibly over several lines (a diff).
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

fn csv_line(line: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    r.records()
        .next()
        .and_then(Result::ok)
        .map(|rec| rec.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default()
}

impl TestFile {
    /// Read and parse a test file.
    pub fn load(path: &Path) -> Result<TestFile, Failure> {
        let text = std::fs::read_to_string(path).map_err(|e| Failure {
            path: path.to_path_buf(),
            line: None,
            message: e.to_string(),
        })?;
        let mut blocks: Vec<Block> = Vec::new();
        let mut current: Option<Block> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let n = i + 1;
            if line.starts_with('#') {
                continue;
            }
            if line.is_empty() {
                if let Some(b) = current.take() {
                    blocks.push(b);
                }
                continue;
            }
            match &mut current {
                None => {
                    let kind = if let Some(t) = line.strip_prefix("table ") {
                        BlockKind::Table(t.trim().to_string())
                    } else if line == "expect" {
                        BlockKind::Expect
                    } else if line == "points" {
                        BlockKind::Points
                    } else if line == "expect results" {
                        BlockKind::ExpectResults
                    } else {
                        return Err(Failure {
                            path: path.to_path_buf(),
                            line: Some(n),
                            message: format!(
                                "`{line}`: a block starts with `table NAME`, `expect`, `points` or `expect results`"
                            ),
                        });
                    };
                    current = Some(Block {
                        kind,
                        line: n,
                        header: Vec::new(),
                        rows: Vec::new(),
                    });
                }
                Some(b) if b.header.is_empty() => b.header = csv_line(line),
                Some(b) => {
                    let row = csv_line(line);
                    if row.len() != b.header.len() {
                        return Err(Failure {
                            path: path.to_path_buf(),
                            line: Some(n),
                            message: format!(
                                "this row has {} value(s) but the header above has {} column(s)",
                                row.len(),
                                b.header.len()
                            ),
                        });
                    }
                    b.rows.push((n, row));
                }
            }
        }
        if let Some(b) = current.take() {
            blocks.push(b);
        }
        Ok(TestFile {
            path: path.to_path_buf(),
            text,
            blocks,
        })
    }
}

/// Declared columns of every table a test may give rows for: the built-in
/// contracts (police.uk, STATS19, ONS, the geography), and the project's
/// CSV and SQL sources (the demo project's when there is none, since the
/// shipped indicators are written against it).
pub fn declared_tables(cfg: Option<&Config>) -> BTreeMap<String, Vec<Column>> {
    let mut out = BTreeMap::new();
    out.insert(
        crate::sources::police_uk::TABLE.to_string(),
        crate::sources::police_uk::columns(),
    );
    for (t, name) in crate::sources::stats19::TABLES {
        if let Some(f) = crate::sources::stats19::format(t) {
            out.insert(name.to_string(), f.columns().to_vec());
        }
    }
    out.insert(
        crate::sources::ons::TABLE.to_string(),
        crate::sources::ons::columns(),
    );
    let demo;
    let cfg = match cfg {
        Some(c) => c,
        None => {
            demo = toml::from_str::<Config>(crate::demo::project::DEMO_CONFIG).ok();
            match &demo {
                Some(d) => d,
                None => return out,
            }
        }
    };
    for s in &cfg.sources {
        match s {
            crate::config::Source::Csv(c) => {
                out.insert(c.table.clone(), c.columns.clone());
            }
            crate::config::Source::Sql(c) => {
                out.insert(c.table.clone(), c.columns.clone());
            }
            _ => {}
        }
    }
    out
}

/// A column's type from a view's schema.
fn from_arrow(t: &DataType) -> ColumnType {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => ColumnType::Int,
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => ColumnType::Float,
        DataType::Boolean => ColumnType::Bool,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => ColumnType::Date,
        _ => ColumnType::String,
    }
}

fn build_batch(
    path: &Path,
    block: &Block,
    columns: &[Column],
) -> Result<(SchemaRef, RecordBatch), Failure> {
    let fail = |line: usize, message: String| Failure {
        path: path.to_path_buf(),
        line: Some(line),
        message,
    };
    for h in &block.header {
        if !columns.iter().any(|c| &c.name == h) {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            let hint = crate::explore::closest(h, &names)
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| format!("its columns are {}", names.join(", ")));
            return Err(fail(
                block.line + 1,
                format!("the table has no column `{h}`; {hint}"),
            ));
        }
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.read_type(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for c in columns {
        let idx = block.header.iter().position(|h| h == &c.name);
        let mut values: Vec<Option<String>> = Vec::new();
        for (n, row) in &block.rows {
            let v = idx.map(|i| row[i].clone()).filter(|v| !v.is_empty());
            if let Some(v) = &v {
                check_value(c.ty, v).map_err(|m| fail(*n, format!("`{}`: {m}", c.name)))?;
            }
            values.push(v);
        }
        let a = if c.ty == ColumnType::Bool {
            let b: datafusion::arrow::array::BooleanArray = values
                .iter()
                .map(|v| {
                    v.as_ref().map(|v| {
                        matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "y" | "1")
                    })
                })
                .collect();
            Arc::new(b) as ArrayRef
        } else {
            let text: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(values));
            datafusion::arrow::compute::cast(&text, &c.read_type())
                .map_err(|e| fail(block.line, format!("`{}`: {e}", c.name)))?
        };
        arrays.push(a);
    }
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| fail(block.line, e.to_string()))?;
    Ok((schema, batch))
}

fn check_value(ty: ColumnType, v: &str) -> Result<(), String> {
    let ok = match ty {
        ColumnType::String => true,
        ColumnType::Int => v.parse::<i64>().is_ok(),
        ColumnType::Float => v.parse::<f64>().is_ok(),
        ColumnType::Bool => matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "y" | "n" | "1" | "0"
        ),
        ColumnType::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        ColumnType::Timestamp => {
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").is_ok()
                || chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{v}` is not {}", crate::explore::type_words(ty)))
    }
}

/// A value as the comparison sees it: numbers normalised (`2.0` is `2`,
/// at most six decimals), dates as `YYYY-MM-DD`, empty for NULL.
fn normal(v: &str) -> String {
    let v = v.trim();
    if v == "NULL" {
        return String::new();
    }
    if let Ok(x) = v.parse::<f64>()
        && (!v.starts_with('0') || v.starts_with("0.") || v == "0")
    {
        if (x - x.round()).abs() < 1e-9 {
            return format!("{}", x.round() as i64);
        }
        let s = format!("{x:.6}");
        return s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    // Timestamps at midnight (date_trunc) compare as dates.
    if let Some(d) = v.strip_suffix("T00:00:00") {
        return d.to_string();
    }
    v.to_string()
}

/// The outcome of one test file.
#[derive(Debug)]
pub struct Outcome {
    /// The indicator.
    pub id: String,
    /// The test file.
    pub path: PathBuf,
    /// `None`: passed.
    pub failure: Option<Failure>,
    /// With `--complete`: the file was rewritten.
    pub completed: bool,
}

/// Run the test of one indicator.
pub async fn run_one(
    ind: &Indicator,
    test: &TestFile,
    declared: &BTreeMap<String, Vec<Column>>,
    views_dir: Option<&Path>,
    complete: bool,
) -> Outcome {
    let r = run_inner(ind, test, declared, views_dir, complete).await;
    let (failure, completed) = match r {
        Ok(c) => (None, c),
        Err(f) => (Some(f), false),
    };
    Outcome {
        id: ind.id.clone(),
        path: test.path.clone(),
        failure,
        completed,
    }
}

async fn run_inner(
    ind: &Indicator,
    test: &TestFile,
    declared: &BTreeMap<String, Vec<Column>>,
    views_dir: Option<&Path>,
    complete: bool,
) -> Result<bool, Failure> {
    let path = &test.path;
    let fail = |line: Option<usize>, message: String| Failure {
        path: path.clone(),
        line,
        message,
    };
    let ctx = crate::engine::grouping::session();
    crate::engine::guard::install(&ctx);
    // The shared views, planned over empty tables of every declared table,
    // so their columns are known too.
    let views = load_views(views_dir);
    let mut schemas: BTreeMap<String, Vec<Column>> = declared.clone();
    {
        let probe = SessionContext::new();
        for (name, cols) in declared {
            let fields: Vec<Field> = cols
                .iter()
                .map(|c| Field::new(&c.name, c.read_type(), true))
                .collect();
            let t = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])
                .map_err(|e| fail(None, e.to_string()))?;
            let _ = probe.register_table(name.as_str(), Arc::new(t));
        }
        for _ in 0..views.len() {
            for (name, sql) in &views {
                if schemas.contains_key(name) {
                    continue;
                }
                if let Ok(df) = probe.sql(sql).await {
                    let cols = df
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| Column::new(f.name(), from_arrow(f.data_type())))
                        .collect();
                    let _ = probe.register_table(name.as_str(), df.into_view());
                    schemas.insert(name.clone(), cols);
                }
            }
        }
    }
    let mut given = Vec::new();
    for b in &test.blocks {
        if let BlockKind::Table(name) = &b.kind {
            let Some(cols) = schemas.get(name) else {
                let names: Vec<&str> = schemas.keys().map(String::as_str).collect();
                let hint = crate::explore::closest(name, &names)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                return Err(fail(
                    Some(b.line),
                    format!("there is no table or view `{name}`{hint}"),
                ));
            };
            let (schema, batch) = build_batch(path, b, cols)?;
            let t = MemTable::try_new(schema, vec![vec![batch]])
                .map_err(|e| fail(Some(b.line), e.to_string()))?;
            ctx.register_table(name.as_str(), Arc::new(t))
                .map_err(|e| fail(Some(b.line), e.to_string()))?;
            given.push(name.clone());
        }
    }
    // Views not given directly are built on the fixtures.
    for _ in 0..views.len() {
        for (name, sql) in &views {
            if given.contains(name) || ctx.table_exist(name.as_str()).unwrap_or(false) {
                continue;
            }
            if let Ok(df) = ctx.sql(sql).await {
                let _ = ctx.register_table(name.as_str(), df.into_view());
            }
        }
    }
    let mut completed_text: Option<String> = None;
    let expect = test.blocks.iter().find(|b| b.kind == BlockKind::Expect);
    if let Some(exp) = expect.or(complete.then_some(&Block {
        kind: BlockKind::Expect,
        line: 0,
        header: Vec::new(),
        rows: Vec::new(),
    })) {
        crate::engine::check_read_only(&ind.sql)
            .map_err(|e| fail(None, format!("{}: {e}", ind.path.display())))?;
        let df = ctx
            .sql_with_options(
                &ind.sql,
                SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false),
            )
            .await
            .map_err(|e| {
                let msg = e.strip_backtrace();
                let hint = if msg.contains("not found") {
                    " (give that table a `table` block in the test)"
                } else {
                    ""
                };
                fail(None, format!("{}: {msg}{hint}", ind.path.display()))
            })?;
        let batches = df.collect().await.map_err(|e| {
            fail(
                None,
                format!("{}: {}", ind.path.display(), e.strip_backtrace()),
            )
        })?;
        let names: Vec<String> = batches
            .first()
            .map(|b| {
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect()
            })
            .unwrap_or_default();
        let actual_rows = crate::explore::strings(&batches);
        if complete {
            let header = if exp.header.is_empty() {
                names.clone()
            } else {
                exp.header.clone()
            };
            completed_text = Some(render_expect(&header, &names, &actual_rows));
        } else {
            compare(path, exp, &names, &actual_rows)?;
        }
    }
    if let Some(points) = test.blocks.iter().find(|b| b.kind == BlockKind::Points) {
        let Some(exp) = test
            .blocks
            .iter()
            .find(|b| b.kind == BlockKind::ExpectResults)
        else {
            return Err(fail(
                Some(points.line),
                "a `points` block needs an `expect results` block after it".into(),
            ));
        };
        evaluate_block(ind, path, points, exp)?;
    }
    if let Some(text) = completed_text {
        let new = replace_expect(&test.text, &text);
        std::fs::write(path, new).map_err(|e| fail(None, e.to_string()))?;
        return Ok(true);
    }
    if expect.is_none() && !test.blocks.iter().any(|b| b.kind == BlockKind::Points) {
        return Err(fail(None, "the test has no `expect` block (run `safer test --complete` to fill one in for review)".into()));
    }
    Ok(false)
}

fn load_views(dir: Option<&Path>) -> Vec<(String, String)> {
    let Some(dir) = dir else { return Vec::new() };
    indicators::view_files(dir)
        .into_iter()
        .map(|v| (v.name, v.sql))
        .collect()
}

fn compare(
    path: &Path,
    exp: &Block,
    names: &[String],
    actual: &[Vec<String>],
) -> Result<(), Failure> {
    let mut idx = Vec::new();
    for h in &exp.header {
        match names.iter().position(|n| n == h) {
            Some(i) => idx.push(i),
            None => {
                return Err(Failure {
                    path: path.to_path_buf(),
                    line: Some(exp.line + 1),
                    message: format!(
                        "the query returns no column `{h}`; it returns {}",
                        names.join(", ")
                    ),
                });
            }
        }
    }
    let mut want: Vec<Vec<String>> = exp
        .rows
        .iter()
        .map(|(_, r)| r.iter().map(|v| normal(v)).collect())
        .collect();
    let mut got: Vec<Vec<String>> = actual
        .iter()
        .map(|r| idx.iter().map(|i| normal(&r[*i])).collect())
        .collect();
    want.sort();
    got.sort();
    if want == got {
        return Ok(());
    }
    let missing: Vec<&Vec<String>> = want.iter().filter(|w| !got.contains(w)).collect();
    let extra: Vec<&Vec<String>> = got.iter().filter(|g| !want.contains(g)).collect();
    let mut msg = if got.len() == want.len() {
        format!(
            "the query returned different rows from those the test expects ({} row(s) each):\n  {}\n",
            got.len(),
            exp.header.join(",")
        )
    } else {
        format!(
            "the query returned {} row(s) where the test expects {}:\n  {}\n",
            got.len(),
            want.len(),
            exp.header.join(",")
        )
    };
    for m in &missing {
        msg.push_str(&format!("- {}   (expected, not returned)\n", m.join(",")));
    }
    for x in &extra {
        msg.push_str(&format!("+ {}   (returned, not expected)\n", x.join(",")));
    }
    if missing.is_empty() && extra.is_empty() {
        msg.push_str("  (the same rows, but some are repeated a different number of times)\n");
    }
    Err(Failure {
        path: path.to_path_buf(),
        line: Some(exp.line),
        message: msg.trim_end().to_string(),
    })
}

fn render_expect(header: &[String], names: &[String], rows: &[Vec<String>]) -> String {
    let idx: Vec<usize> = header
        .iter()
        .filter_map(|h| names.iter().position(|n| n == h))
        .collect();
    let header: Vec<&String> = idx.iter().map(|i| &names[*i]).collect();
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| {
            idx.iter()
                .map(|i| normal(&r[*i]))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    let mut out = String::from("expect\n");
    out.push_str(
        &header
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// The text with its `expect` block replaced (or added at the end).
fn replace_expect(text: &str, block: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim() == "expect");
    match start {
        Some(s) => {
            let end = lines[s..]
                .iter()
                .position(|l| l.trim().is_empty())
                .map(|e| s + e)
                .unwrap_or(lines.len());
            let mut out: Vec<String> = lines[..s].iter().map(|l| l.to_string()).collect();
            out.push(block.trim_end().to_string());
            out.extend(lines[end..].iter().map(|l| l.to_string()));
            let mut t = out.join("\n");
            t.push('\n');
            t
        }
        None => format!("{}\n\n{}", text.trim_end(), block),
    }
}

fn evaluate_block(
    ind: &Indicator,
    path: &Path,
    points: &Block,
    exp: &Block,
) -> Result<(), Failure> {
    let fail = |line: usize, message: String| Failure {
        path: path.to_path_buf(),
        line: Some(line),
        message,
    };
    let spec = indicators::check_header(ind).map_err(|p| {
        fail(
            points.line,
            format!(
                "{}: the header has problems: {}",
                ind.path.display(),
                p.iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    })?;
    let col = |b: &Block, name: &str| b.header.iter().position(|h| h == name);
    let (Some(mi), Some(ai), Some(ni)) = (
        col(points, "month"),
        col(points, "area_code"),
        col(points, "numerator"),
    ) else {
        return Err(fail(
            points.line + 1,
            "`points` needs month, area_code and numerator columns".into(),
        ));
    };
    let di = col(points, "denominator");
    let mut pts = Vec::new();
    for (n, r) in &points.rows {
        let month = chrono::NaiveDate::parse_from_str(&r[mi], "%Y-%m-%d")
            .map_err(|_| fail(*n, format!("`{}` is not a date (YYYY-MM-DD)", r[mi])))?;
        let num: f64 = r[ni]
            .parse()
            .map_err(|_| fail(*n, format!("`{}` is not a number", r[ni])))?;
        pts.push(crate::indicators::Point {
            month,
            area_code: r[ai].clone(),
            numerator: num,
            denominator: di.and_then(|d| r[d].parse().ok()),
        });
    }
    let reporting = pts.iter().map(|p| p.month).max().unwrap_or_default();
    let ctx = crate::evaluation::Context {
        run_id: "test".into(),
        reporting_month: reporting,
        crosswalk: Default::default(),
        populations: Default::default(),
        threshold: crate::evaluation::suppress::DEFAULT_THRESHOLD,
        coverage: Default::default(),
    };
    let rows = crate::evaluation::evaluate(ind, &spec, &pts, &ctx);
    let (Some(ai), Some(ti), Some(ei)) = (
        col(exp, "area_code"),
        col(exp, "period_type"),
        col(exp, "period_end"),
    ) else {
        return Err(fail(
            exp.line + 1,
            "`expect results` needs area_code, period_type and period_end columns".into(),
        ));
    };
    let mut problems = Vec::new();
    for (n, r) in &exp.rows {
        let found = rows.iter().find(|x| {
            x.area_code == r[ai]
                && x.period_type.name() == r[ti]
                && x.period_end.format("%Y-%m-%d").to_string() == r[ei]
        });
        let Some(found) = found else {
            problems.push(format!(
                "line {n}: no result for {} {} ending {}",
                r[ai], r[ti], r[ei]
            ));
            continue;
        };
        for (i, h) in exp.header.iter().enumerate() {
            let actual = match h.as_str() {
                "area_code" | "period_type" | "period_end" => continue,
                "value" => found.value.map(|v| v.to_string()),
                "previous" => found.previous_value.map(|v| v.to_string()),
                "sply" => found.sply_value.map(|v| v.to_string()),
                "target" => found.target.map(|v| v.to_string()),
                "rag" => found.status.map(|s| s.colour().name().to_string()),
                "status" => found.status.map(|s| s.name().to_string()),
                "direction" => found.direction_sply.map(|d| d.label()),
                "spc" => found.spc_variation.map(|v| v.label().to_string()),
                "numerator" => Some(found.numerator.to_string()),
                other => {
                    problems.push(format!("line {n}: `{other}` is not a result column (value, previous, sply, target, rag, status, direction, spc)"));
                    continue;
                }
            }
            .unwrap_or_default();
            if normal(&actual) != normal(&r[i]) {
                problems.push(format!(
                    "line {n}: {} {} ending {}: {h} is `{}`, the test expects `{}`",
                    r[ai],
                    r[ti],
                    r[ei],
                    normal(&actual),
                    r[i]
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(exp.line, problems.join("\n")))
    }
}

/// Every indicator with its test file, and indicators that have none.
pub fn discover(catalogue: &[Indicator]) -> (Vec<(&Indicator, PathBuf)>, Vec<&Indicator>) {
    let mut with = Vec::new();
    let mut without = Vec::new();
    for ind in catalogue {
        let t = ind.path.with_extension(EXTENSION);
        if t.is_file() {
            with.push((ind, t));
        } else {
            without.push(ind);
        }
    }
    (with, without)
}

/// Create `<queries>/<theme>/<id>.sql` and its test for `safer new`. The
/// header lists every key with its allowed values (from the one key
/// table), so the file teaches the format.
pub fn scaffold(queries: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
    let Some((theme, id)) = name.split_once('/') else {
        return Err(format!(
            "`{name}`: give the folder and the id, e.g. `anti_social_behaviour/{name}`"
        ));
    };
    for (what, v) in [("folder", theme), ("id", id)] {
        if !crate::config::is_identifier(v) {
            return Err(format!(
                "the {what} `{v}` must be lower-case letters, digits and _"
            ));
        }
    }
    let (existing, _) = indicators::discover(queries);
    if let Some(other) = existing.iter().find(|i| i.id == id) {
        return Err(format!(
            "the id `{id}` is taken by {}; choose another",
            other.path.display()
        ));
    }
    let dir = queries.join(theme);
    let sql_path = dir.join(format!("{id}.sql"));
    let test_path = dir.join(format!("{id}.{EXTENSION}"));
    if sql_path.exists() || test_path.exists() {
        return Err(format!("{} already exists", sql_path.display()));
    }
    let mut sql = String::new();
    sql.push_str("-- A safer indicator. The `-- key: value` lines below say what it is;\n");
    sql.push_str("-- the query after them counts it, by month and area. `safer check`\n");
    sql.push_str("-- checks both, and `safer test` runs the test beside this file.\n");
    sql.push_str("-- The keys and the values each takes (docs/writing-indicators.md has more)\n");
    for k in crate::indicators::header::KEYS {
        let need = match k.need {
            crate::indicators::header::Need::Required => "needed",
            crate::indicators::header::Need::ForRates => "needed for a rate",
            crate::indicators::header::Need::Optional => "optional",
        };
        sql.push_str(&format!(
            "--   {} ({need}) = {}\n",
            k.name,
            k.values.replace(':', " -")
        ));
    }
    sql.push('\n');
    for k in crate::indicators::header::KEYS {
        let value = match k.name {
            "id" => id.to_string(),
            "title" => "A title a councillor understands".into(),
            "description" => "What is counted, in a sentence or two.".into(),
            _ => k.example.to_string(),
        };
        if k.need == crate::indicators::header::Need::Required
            || matches!(
                k.name,
                "basis" | "source" | "frequency" | "calendar" | "disclosure"
            )
        {
            sql.push_str(&format!("-- {}: {value}\n", k.name));
        }
    }
    sql.push_str(
        "SELECT month,\n       district_code AS area_code,\n       COUNT(*) AS numerator\nFROM police_uk_by_district\nWHERE crime_type = 'Anti-social behaviour'\nGROUP BY month, district_code\n",
    );
    let test = format!(
        "# The test for {id}. Give each table the query reads a few rows (only\n\
         # the columns it uses are needed), then list the rows the query must\n\
         # return, worked out by hand. `safer test {id}` runs it; `safer test\n\
         # {id} --complete` fills in `expect` from what the query returns, for\n\
         # you to check line by line before you keep it.\n\
         table police_uk_by_district\n\
         month,district_code,crime_type\n\
         2026-01-01,E07000123,Anti-social behaviour\n\
         2026-01-01,E07000123,Anti-social behaviour\n\
         2026-01-01,E07000123,Burglary\n\
         2026-02-01,E07000117,Anti-social behaviour\n\
         \n\
         expect\n\
         month,area_code,numerator\n\
         2026-01-01,E07000123,2\n\
         2026-02-01,E07000117,1\n"
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&sql_path, sql).map_err(|e| format!("{}: {e}", sql_path.display()))?;
    std::fs::write(&test_path, test).map_err(|e| format!("{}: {e}", test_path.display()))?;
    Ok((sql_path, test_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_people_read_them() {
        assert_eq!(normal("2.0"), "2");
        assert_eq!(normal("2"), "2");
        assert_eq!(normal("33.333333333"), "33.333333");
        assert_eq!(normal("NULL"), "");
        assert_eq!(normal("2026-01-01T00:00:00"), "2026-01-01");
        assert_eq!(normal("E07000123"), "E07000123");
        assert_eq!(normal("007"), "007", "codes with leading zeros stay text");
    }

    #[test]
    fn completing_replaces_only_the_expect_block() {
        let t = "table x\na\n1\n\nexpect\nn\n5\n\n# end\n";
        let r = replace_expect(t, "expect\nn\n1\n");
        assert_eq!(r, "table x\na\n1\n\nexpect\nn\n1\n\n# end\n");
    }
}
