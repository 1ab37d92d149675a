//! The results table: one row per indicator × area × period type × period,
//! landed in the lake as `indicator_results` so outputs and history read
//! the same figures. Each run is its own input unit (`run-<id>`), so history
//! accumulates and a rerun never rewrites an older run's figures.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};

use super::ResultRow;
use crate::lake::{self, InputEntry, Lake, Landing};
use crate::schema::{Column, ColumnType, date32};

/// Lake table name.
pub const TABLE: &str = "indicator_results";

/// Marks the results unit of a run that read the lake as it was.
pub const PINNED: &str = "(lake as it was)";

/// Declared columns of the results table.
pub fn columns() -> Vec<Column> {
    use ColumnType::*;
    let c = Column::new;
    vec![
        c("run_id", String),
        c("indicator_id", String),
        c("sql_hash", String),
        c("area_code", String),
        c("area_name", String),
        c("area_level", String),
        c("period_type", String),
        c("period_label", String),
        c("period_start", Date),
        c("period_end", Date),
        c("complete", Bool),
        c("numerator", Float),
        c("denominator", Float),
        c("population", Float),
        c("population_year", Int),
        c("population_note", String),
        c("value", Float),
        c("unit", String),
        c("polarity", String),
        c("previous_value", Float),
        c("sply_value", Float),
        c("direction_previous", String),
        c("direction_sply", String),
        c("target", Float),
        c("rag", String),
        c("status", String),
        c("spc_variation", String),
        c("spc_rules", String),
        c("spc_mean", Float),
        c("spc_lower", Float),
        c("spc_upper", Float),
        c("spc_assurance", String),
        c("suppressed", Bool),
        c("previous_suppressed", Bool),
        c("sply_suppressed", Bool),
        c("provisional", Bool),
    ]
}

/// Rows as one Arrow batch (with the `_input` column for the lake).
pub fn to_batch(rows: &[ResultRow], unit: &str) -> Result<RecordBatch, lake::Error> {
    macro_rules! s {
        ($f:ident) => {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.$f.as_str()),
            )) as ArrayRef
        };
    }
    macro_rules! os {
        ($f:ident) => {
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.$f.as_deref()))) as ArrayRef
        };
    }
    macro_rules! of {
        ($f:ident) => {
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.$f))) as ArrayRef
        };
    }
    macro_rules! b {
        ($f:ident) => {
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.$f)))) as ArrayRef
        };
    }
    let cols: Vec<ArrayRef> = vec![
        s!(run_id),
        s!(indicator_id),
        s!(sql_hash),
        s!(area_code),
        s!(area_name),
        s!(area_level),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.period_type.name()),
        )),
        s!(period_label),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| date32(r.period_start)),
        )),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| date32(r.period_end)),
        )),
        b!(complete),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.numerator),
        )),
        of!(denominator),
        of!(population),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r.population_year.map(i64::from)),
        )),
        os!(population_note),
        of!(value),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.unit.label()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.polarity.label()),
        )),
        of!(previous_value),
        of!(sply_value),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.direction_previous.map(|d| d.label())),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.direction_sply.map(|d| d.label())),
        )),
        of!(target),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.status.map(|s| s.colour().name())),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.status.map(|s| s.name())),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.spc_variation.map(|v| v.label())),
        )),
        os!(spc_rules),
        of!(spc_mean),
        of!(spc_lower),
        of!(spc_upper),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.spc_assurance.map(|a| a.label())),
        )),
        b!(suppressed),
        b!(previous_suppressed),
        b!(sply_suppressed),
        b!(provisional),
        lake::input_column(unit, rows.len()),
    ];
    RecordBatch::try_new(crate::schema::lake_schema(&columns()), cols)
        .map_err(|e| lake::Error::Internal(e.to_string()))
}

/// How many runs' results the table keeps by default: a month of nightly
/// runs and a few by hand. Without a limit a nightly service would rewrite
/// an ever-growing file every night; each run's packs and ledger record
/// stay whatever happens to its rows here.
pub const KEEP_RUNS: usize = 35;

/// The newest run whose figures a version of the results table holds, less
/// `except` (a run's own unit) and runs that read a pinned lake: its unit
/// and input entry. What a restatement note compares with, and the only
/// run whose saved figures a later run may take.
pub fn newest_run<'m>(
    m: &'m lake::Manifest,
    except: Option<&str>,
) -> Option<(&'m String, &'m InputEntry)> {
    let landed = |e: &InputEntry| {
        chrono::DateTime::parse_from_rfc3339(&e.landed_at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    m.inputs
        .iter()
        .filter(|(u, e)| {
            u.starts_with("run-")
                && except.is_none_or(|x| u.trim_start_matches("run-") != x)
                && !e.origin.ends_with(PINNED)
        })
        .max_by(|a, b| landed(a.1).cmp(&landed(b.1)).then(a.0.cmp(b.0)))
}

/// Land a run's results as a new unit of the results table, keeping the
/// newest `keep` runs (this one included).
pub fn land(
    lake: &Lake,
    run_id: &str,
    rows: &[ResultRow],
    keep: usize,
    table_versions: &std::collections::BTreeMap<String, u64>,
) -> Result<u64, lake::Error> {
    let unit = format!("run-{run_id}");
    let mut landing = Landing::begin(lake, TABLE, columns())?;
    landing.replace_unit(&unit);
    // Run ids sort by time; drop the oldest beyond the limit.
    let mut older: Vec<String> = landing
        .previous()
        .inputs
        .keys()
        .filter(|k| k.starts_with("run-") && **k != unit)
        .cloned()
        .collect();
    older.sort();
    let excess = older.len().saturating_sub(keep.max(1) - 1);
    for old in older.iter().take(excess) {
        landing.replace_unit(old);
    }
    // Each run's rows are a partition (a file) of their own. Landing a run
    // then writes only its rows, and dropping the oldest run removes its
    // file. In one shared partition every landing copied every kept run's
    // rows: half a million rows a run for a ten-year county, so 17 million
    // copied a night once 35 runs were kept.
    let partition = format!("run={run_id}");
    for chunk in rows.chunks(64 * 1024) {
        landing.write(&partition, &to_batch(chunk, &unit)?)?;
    }
    let months: Vec<String> = rows
        .iter()
        .map(|r| r.period_end.format("%Y-%m").to_string())
        .collect();
    landing.record_input(
        &unit,
        InputEntry {
            table_versions: table_versions.clone(),
            min_month: months.iter().min().cloned(),
            max_month: months.iter().max().cloned(),
            ..InputEntry::whole(
                // A run that read the lake as it was says so: its figures
                // are a rebuild, not news, and restatement notes skip it.
                if lake.pin().is_some() {
                    format!("run:{run_id} {PINNED}")
                } else {
                    format!("run:{run_id}")
                },
                String::new(),
                &partition,
                rows.len() as u64,
                // To the millisecond: a later run's restatement check reads
                // each table as it was at this moment, and a landing in the
                // same second must not count as already seen.
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
        },
    );
    Ok(landing.commit()?.total_rows)
}
