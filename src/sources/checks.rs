//! Source tests, as dbt has them: not null, unique, accepted values,
//! relationships, row-count change and freshness, declared per source in
//! `safer.toml` as `[[sources.tests]]`.
//!
//! They run inside the landing, on the table as it would be once the
//! landing is committed and before the manifest swap, so a failing `error`
//! test refuses the landing and the previous good data stays exactly as it
//! was. A failing `warn` test lets the data land. Either way every outcome
//! is kept in the lake table `source_test_results` (one row per test, the
//! latest check of each table) and up to [`EXAMPLES`] failing rows per test
//! in `source_test_failures`, like dbt's `store_failures`, so an officer can
//! look at them with `safer sql`; `status` and the pack's data-quality note
//! read the results table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::{Config, Severity, SourceTest, TestKind};
use crate::lake::{self, FileEntry, InputEntry, Lake, Manifest, input_column};
use crate::schema::{Column, ColumnType, INPUT_COLUMN};

/// Lake table with the latest outcome of every source test.
pub const RESULTS_DATASET: &str = "source_test_results";
/// Lake table with example failing rows of every failing source test.
pub const FAILURES_DATASET: &str = "source_test_failures";
/// Failing rows kept per test.
pub const EXAMPLES: usize = 100;

/// True for the tables this module writes (no tests, no quarantine).
pub fn is_bookkeeping(dataset: &str) -> bool {
    dataset == RESULTS_DATASET || dataset == FAILURES_DATASET
}

/// How one test came out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The table tested.
    pub dataset: String,
    /// The test's label, e.g. `unique(case_id)`.
    pub test: String,
    /// Its declared severity.
    pub severity: Severity,
    /// Whether it passed.
    pub passed: bool,
    /// Rows (or values) that failed it.
    pub failing: u64,
    /// What was found, in words.
    pub detail: String,
    /// When it ran (RFC 3339).
    pub checked_at: String,
}

impl Outcome {
    /// One line for people.
    pub fn describe(&self) -> String {
        let state = match (self.passed, self.severity) {
            (true, _) => "passed",
            (false, Severity::Warn) => "failed (warning; the data landed)",
            (false, Severity::Error) => "failed (error; the landing was refused)",
        };
        format!("{} {}: {state}: {}", self.dataset, self.test, self.detail)
    }
}

/// The tests of every configured source, and what they found in this run.
#[derive(Debug)]
pub struct Checks {
    tests: BTreeMap<String, Vec<SourceTest>>,
    reference: NaiveDate,
    outcomes: Mutex<Vec<Outcome>>,
}

impl Checks {
    /// The tests declared in `cfg`, with `reference` (the reporting date)
    /// for freshness.
    pub fn new(cfg: &Config, reference: NaiveDate) -> Arc<Checks> {
        let mut tests: BTreeMap<String, Vec<SourceTest>> = BTreeMap::new();
        for s in &cfg.sources {
            let tables = s.tables();
            for t in s.tests() {
                let table = t.table_in(&tables);
                tests.entry(table).or_default().push(t.clone());
            }
        }
        Arc::new(Checks {
            tests,
            reference,
            outcomes: Mutex::new(Vec::new()),
        })
    }

    /// Every outcome recorded so far in this run.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Whether `dataset` has source tests (a landing checked against one
    /// version is not rebased onto another).
    pub(crate) fn has_tests(&self, dataset: &str) -> bool {
        self.tests.get(dataset).is_some_and(|t| !t.is_empty())
    }

    /// Run `dataset`'s tests on the files and inputs a landing is about to
    /// commit. Records the outcomes in the lake, then refuses the landing if
    /// an `error` test failed.
    pub(crate) fn gate(
        &self,
        lake: &Lake,
        dataset: &str,
        old: &Manifest,
        files: &BTreeMap<String, FileEntry>,
        inputs: &BTreeMap<String, InputEntry>,
    ) -> Result<(), lake::Error> {
        let Some(tests) = self.tests.get(dataset) else {
            return Ok(());
        };
        let dir = (lake, dataset);
        let checked_at = lake::now_rfc3339();
        let mut outcomes = Vec::new();
        let mut examples: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for t in tests {
            let mut ex = Vec::new();
            let (failing, detail) =
                match run_test(t, lake, dir, old, files, inputs, self.reference, &mut ex) {
                    Ok(r) => r,
                    Err(message) => (1, message),
                };
            let o = Outcome {
                dataset: dataset.to_string(),
                test: t.label(),
                severity: t.severity,
                passed: failing == 0,
                failing,
                detail,
                checked_at: checked_at.clone(),
            };
            if !o.passed {
                tracing::warn!(test = %o.test, dataset, severity = t.severity.name(), detail = %o.detail, "Source test failed.");
            }
            examples.push((o.test.clone(), ex));
            outcomes.push(o);
        }
        store(lake, dataset, &outcomes, &examples)?;
        if let Ok(mut all) = self.outcomes.lock() {
            all.extend(outcomes.iter().cloned());
        }
        let refused: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.passed && o.severity == Severity::Error)
            .map(|o| format!("{}: {}", o.test, o.detail))
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(lake::Error::TestsFailed {
                dataset: dataset.to_string(),
                failures: refused,
            })
        }
    }
}

/// Read `columns` of every file as text (`None` for a missing value),
/// calling `each(row_values, input)` per row.
fn scan(
    (lake, dataset): (&Lake, &str),
    files: &BTreeMap<String, FileEntry>,
    columns: &[&str],
    mut each: impl FnMut(&[Option<String>], &str),
) -> Result<(), String> {
    let opts = FormatOptions::default();
    for f in files.values() {
        let path = lake
            .local_file(dataset, &f.path)
            .map_err(|e| format!("cannot read the landed data: {e}"))?;
        let file = File::open(&path).map_err(|e| format!("cannot read the landed data: {e}"))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| format!("cannot read the landed data: {e}"))?;
        let schema = builder.schema().clone();
        let mut wanted: Vec<usize> = Vec::new();
        for c in columns.iter().chain(std::iter::once(&INPUT_COLUMN)) {
            match schema.index_of(c) {
                Ok(i) => wanted.push(i),
                Err(_) => {
                    let names: Vec<&str> = schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .filter(|n| *n != INPUT_COLUMN)
                        .collect();
                    return Err(format!(
                        "the table has no column `{c}` (it has {})",
                        names.join(", ")
                    ));
                }
            }
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| format!("cannot read the landed data: {e}"))?;
        for batch in reader {
            let batch = batch.map_err(|e| format!("cannot read the landed data: {e}"))?;
            let pick = |name: &str| -> Result<ArrayRef, String> {
                batch
                    .column_by_name(name)
                    .cloned()
                    .ok_or_else(|| format!("the table has no column `{name}`"))
            };
            let arrays: Vec<ArrayRef> =
                columns.iter().map(|c| pick(c)).collect::<Result<_, _>>()?;
            let formatters: Vec<ArrayFormatter> = arrays
                .iter()
                .map(|a| ArrayFormatter::try_new(a.as_ref(), &opts))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            let input = pick(INPUT_COLUMN)?;
            let input_fmt =
                ArrayFormatter::try_new(input.as_ref(), &opts).map_err(|e| e.to_string())?;
            let mut row = vec![None; columns.len()];
            for i in 0..batch.num_rows() {
                for (j, a) in arrays.iter().enumerate() {
                    row[j] = if a.is_null(i) {
                        None
                    } else {
                        Some(formatters[j].value(i).to_string())
                    };
                }
                each(&row, &input_fmt.value(i).to_string());
            }
        }
    }
    Ok(())
}

/// One test: `(failing rows, what was found)`; `Err` when the test could
/// not run at all (it then counts as failed).
#[allow(clippy::too_many_arguments)]
fn run_test(
    t: &SourceTest,
    lake: &Lake,
    dir: (&Lake, &str),
    old: &Manifest,
    files: &BTreeMap<String, FileEntry>,
    inputs: &BTreeMap<String, InputEntry>,
    reference: NaiveDate,
    examples: &mut Vec<(String, String)>,
) -> Result<(u64, String), String> {
    let column = t.column.as_deref().unwrap_or_default();
    let mut keep = |value: String, input: &str| {
        if examples.len() < EXAMPLES {
            examples.push((value, input.to_string()));
        }
    };
    match t.test {
        TestKind::NotNull => {
            let mut n = 0u64;
            scan(dir, files, &[column], |row, input| {
                if row[0].is_none() {
                    n += 1;
                    keep(String::new(), input);
                }
            })?;
            Ok((
                n,
                match n {
                    0 => format!("every row has a {column}"),
                    n => format!("{n} row(s) have no {column}"),
                },
            ))
        }
        TestKind::Unique => {
            let cols: Vec<&str> = if t.columns.is_empty() {
                vec![column]
            } else {
                t.columns.iter().map(String::as_str).collect()
            };
            let mut seen: HashMap<String, (u64, String)> = HashMap::new();
            scan(dir, files, &cols, |row, input| {
                if row.iter().any(Option::is_none) {
                    return;
                }
                let key = row
                    .iter()
                    .map(|v| v.as_deref().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" | ");
                let e = seen.entry(key).or_insert((0, input.to_string()));
                e.0 += 1;
            })?;
            let mut dups: Vec<(&String, &(u64, String))> =
                seen.iter().filter(|(_, (n, _))| *n > 1).collect();
            dups.sort();
            let rows: u64 = dups.iter().map(|(_, (n, _))| n).sum();
            for (k, (n, input)) in &dups {
                keep(format!("{k} ({n} rows)"), input);
            }
            let what = cols.join(", ");
            Ok((
                rows,
                match dups.len() {
                    0 => format!("no two rows share a {what}"),
                    d => format!("{d} value(s) of {what} appear more than once, on {rows} rows"),
                },
            ))
        }
        TestKind::AcceptedValues => {
            let accepted: HashSet<&str> = t.values.iter().map(String::as_str).collect();
            let mut n = 0u64;
            let mut found: BTreeMap<String, u64> = BTreeMap::new();
            scan(dir, files, &[column], |row, input| {
                if let Some(v) = &row[0]
                    && !accepted.contains(v.as_str())
                {
                    n += 1;
                    *found.entry(v.clone()).or_default() += 1;
                    keep(v.clone(), input);
                }
            })?;
            Ok((
                n,
                match n {
                    0 => format!("every {column} is one of the accepted values"),
                    n => format!(
                        "{n} row(s) have a {column} outside the accepted values: {}",
                        some_values(&found)
                    ),
                },
            ))
        }
        TestKind::Relationships => {
            let to = t.to.as_deref().unwrap_or_default();
            let (table, col) = to.split_once('.').unwrap_or((to, ""));
            let Some(m) = lake.latest(table).map_err(|e| e.to_string())? else {
                return Err(format!("the lookup table `{table}` has not landed"));
            };
            let mut known: HashSet<String> = HashSet::new();
            scan((lake, table), &m.files, &[col], |row, _| {
                if let Some(v) = &row[0] {
                    known.insert(v.clone());
                }
            })
            .map_err(|e| format!("{to}: {e}"))?;
            let mut n = 0u64;
            let mut missing: BTreeMap<String, u64> = BTreeMap::new();
            scan(dir, files, &[column], |row, input| {
                if let Some(v) = &row[0]
                    && !known.contains(v)
                {
                    n += 1;
                    *missing.entry(v.clone()).or_default() += 1;
                    keep(v.clone(), input);
                }
            })?;
            Ok((
                n,
                match n {
                    0 => format!("every {column} is in {to}"),
                    n => format!(
                        "{n} row(s) have a {column} that is not in {to}: {}",
                        some_values(&missing)
                    ),
                },
            ))
        }
        TestKind::RowCountChange => {
            let before = old.rows();
            let after: u64 = files.values().map(|f| f.rows).sum();
            if before == 0 {
                return Ok((0, format!("first load: {after} rows")));
            }
            let change = (after as f64 - before as f64) / before as f64 * 100.0;
            let too_low = t.max_drop_pct.is_some_and(|d| -change > d);
            let too_high = t.max_rise_pct.is_some_and(|r| change > r);
            let words = format!(
                "{before} rows before, {after} now ({}{:.1}%)",
                if change >= 0.0 { "+" } else { "" },
                change
            );
            if too_low {
                Ok((
                    before.saturating_sub(after),
                    format!(
                        "{words}; the fall is more than the {}% allowed",
                        t.max_drop_pct.unwrap_or_default()
                    ),
                ))
            } else if too_high {
                Ok((
                    after.saturating_sub(before),
                    format!(
                        "{words}; the rise is more than the {}% allowed",
                        t.max_rise_pct.unwrap_or_default()
                    ),
                ))
            } else {
                Ok((0, words))
            }
        }
        TestKind::Freshness => {
            let lag = t.max_lag_months.unwrap_or_default();
            let newest = inputs
                .values()
                .filter_map(|i| i.max_month.as_deref())
                .filter_map(crate::sources::police_uk::parse_month)
                .max();
            let r = i64::from(reference.year()) * 12 + i64::from(reference.month0());
            let i = r - i64::from(lag);
            let expected =
                NaiveDate::from_ymd_opt(i.div_euclid(12) as i32, i.rem_euclid(12) as u32 + 1, 1)
                    .unwrap_or(reference);
            match newest {
                None => Ok((1, "no dated rows landed".into())),
                Some(n) if n < expected => Ok((
                    1,
                    format!(
                        "data to end of {}; should reach {} or later (at most {lag} month(s) behind {})",
                        n.format("%B %Y"),
                        expected.format("%B %Y"),
                        reference.format("%-d %B %Y")
                    ),
                )),
                Some(n) => Ok((0, format!("data to end of {}", n.format("%B %Y")))),
            }
        }
    }
}

/// The first five offending values with their counts: `'extreme' (1), ...`.
fn some_values(found: &BTreeMap<String, u64>) -> String {
    let shown: Vec<String> = found
        .iter()
        .take(5)
        .map(|(v, c)| format!("'{v}' ({c})"))
        .collect();
    format!(
        "{}{}",
        shown.join(", "),
        if found.len() > 5 { ", ..." } else { "" }
    )
}

fn results_columns() -> Vec<Column> {
    use ColumnType::*;
    vec![
        Column::new("dataset", String).required(),
        Column::new("test", String).required(),
        Column::new("severity", String).required(),
        Column::new("outcome", String).required(),
        Column::new("failing_rows", Int).required(),
        Column::new("detail", String).required(),
        Column::new("checked_at", String).required(),
    ]
}

fn failures_columns() -> Vec<Column> {
    use ColumnType::*;
    vec![
        Column::new("dataset", String).required(),
        Column::new("test", String).required(),
        Column::new("value", String),
        Column::new("landed_from", String).required(),
        Column::new("checked_at", String).required(),
    ]
}

fn text(values: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// Replace `dataset`'s rows in the two bookkeeping tables.
fn store(
    lake: &Lake,
    dataset: &str,
    outcomes: &[Outcome],
    examples: &[(String, Vec<(String, String)>)],
) -> Result<(), lake::Error> {
    let unit = dataset.to_string();
    let partition = format!("dataset={dataset}");
    let checked_at = outcomes
        .first()
        .map(|o| o.checked_at.clone())
        .unwrap_or_default();

    let outcome_word = |o: &Outcome| match (o.passed, o.severity) {
        (true, _) => "pass",
        (false, Severity::Warn) => "warn",
        (false, Severity::Error) => "fail",
    };
    let n = outcomes.len();
    let mut l = lake::Landing::begin(lake, RESULTS_DATASET, results_columns())?;
    l.replace_unit(&unit);
    let batch = RecordBatch::try_new(
        l.schema(),
        vec![
            text(outcomes.iter().map(|o| o.dataset.clone())),
            text(outcomes.iter().map(|o| o.test.clone())),
            text(outcomes.iter().map(|o| o.severity.name().to_string())),
            text(outcomes.iter().map(|o| outcome_word(o).to_string())),
            Arc::new(Int64Array::from_iter_values(
                outcomes.iter().map(|o| o.failing as i64),
            )),
            text(outcomes.iter().map(|o| o.detail.clone())),
            text(outcomes.iter().map(|o| o.checked_at.clone())),
            input_column(&unit, n),
        ],
    )
    .map_err(|e| lake::Error::Internal(e.to_string()))?;
    l.write(&partition, &batch)?;
    l.record_input(&unit, entry(dataset, n as u64, &partition, &checked_at));
    l.commit()?;

    let rows: Vec<(&String, &(String, String))> = examples
        .iter()
        .flat_map(|(test, ex)| ex.iter().map(move |e| (test, e)))
        .collect();
    let mut l = lake::Landing::begin(lake, FAILURES_DATASET, failures_columns())?;
    l.replace_unit(&unit);
    if !rows.is_empty() {
        let batch = RecordBatch::try_new(
            l.schema(),
            vec![
                text(rows.iter().map(|_| dataset.to_string())),
                text(rows.iter().map(|(t, _)| (*t).clone())),
                Arc::new(StringArray::from_iter(rows.iter().map(|(_, (v, _))| {
                    if v.is_empty() { None } else { Some(v.clone()) }
                }))),
                text(rows.iter().map(|(_, (_, i))| i.clone())),
                text(rows.iter().map(|_| checked_at.clone())),
                input_column(&unit, rows.len()),
            ],
        )
        .map_err(|e| lake::Error::Internal(e.to_string()))?;
        l.write(&partition, &batch)?;
        l.record_input(
            &unit,
            entry(dataset, rows.len() as u64, &partition, &checked_at),
        );
    }
    l.commit()?;
    Ok(())
}

fn entry(dataset: &str, rows: u64, partition: &str, at: &str) -> InputEntry {
    InputEntry::whole(
        format!("source tests of {dataset}"),
        String::new(),
        partition,
        rows,
        at.to_string(),
    )
}

/// The latest outcome of every source test, from the lake (for `status`
/// and the pack). Empty when no test has run.
pub fn latest(lake: &Lake) -> Vec<Outcome> {
    let Ok(Some(m)) = lake.manifest(RESULTS_DATASET) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let cols = [
        "dataset",
        "test",
        "severity",
        "outcome",
        "failing_rows",
        "detail",
        "checked_at",
    ];
    let r = scan((lake, RESULTS_DATASET), &m.files, &cols, |row, _| {
        let v = |i: usize| row[i].clone().unwrap_or_default();
        out.push(Outcome {
            dataset: v(0),
            test: v(1),
            severity: if v(2) == "warn" {
                Severity::Warn
            } else {
                Severity::Error
            },
            passed: v(3) == "pass",
            failing: v(4).parse().unwrap_or(0),
            detail: v(5),
            checked_at: v(6),
        });
    });
    if let Err(e) = r {
        tracing::warn!(error = %e, "Could not read the source test results.");
    }
    out.sort_by(|a, b| (&a.dataset, &a.test).cmp(&(&b.dataset, &b.test)));
    out
}
