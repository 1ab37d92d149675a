//! CSV with a declared schema: the `csv` source kind, and the engine under the
//! STATS19 and ONS readers.
//!
//! Columns are matched by header name (after renaming historical aliases), so
//! column order does not matter; a missing required column or an unexpected
//! one refuses the file whole. Each value is parsed to its declared type; a
//! value that does not parse quarantines the row with the column and value.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;

use super::Error;
use super::files::{
    Format, InputFile, Next, Parsed, Records, Sink, compare_header, header_fields, stray_quote,
    strip_bom,
};
use super::police_uk::record_text;
use crate::lake::{QuarantineRow, input_column};
use crate::schema::{Column, ColumnType, lake_schema};

const BATCH_ROWS: usize = 32 * 1024;

/// How to partition rows.
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionBy {
    /// Everything in one partition, `all`.
    None,
    /// `year=YYYY` from a date, timestamp or integer year column.
    Year(String),
}

/// A CSV layout with declared, typed columns.
#[derive(Debug, Clone)]
pub struct TypedCsv {
    columns: Vec<Column>,
    schema: SchemaRef,
    /// Old header name -> current column source name.
    aliases: HashMap<String, String>,
    /// Columns that may be absent from a file (land as null).
    optional: Vec<String>,
    /// Extra text that means "no value" besides the empty string.
    null_tokens: Vec<String>,
    partition_by: PartitionBy,
    /// Date column whose months are recorded in the manifest.
    month_column: Option<String>,
    /// Unknown columns are ignored instead of refusing the file.
    ignore_extra: bool,
    /// A year column that must match the year in the file's name (a
    /// one-year STATS19 file) and, optionally, a date column that must fall
    /// in that year.
    year_rule: Option<(String, Option<String>)>,
}

impl TypedCsv {
    /// A layout with these columns, everything else default.
    pub fn new(columns: Vec<Column>) -> Self {
        TypedCsv {
            schema: lake_schema(&columns),
            columns,
            aliases: HashMap::new(),
            optional: Vec::new(),
            null_tokens: Vec::new(),
            partition_by: PartitionBy::None,
            month_column: None,
            ignore_extra: false,
            year_rule: None,
        }
    }

    /// Rows whose `year` column differs from the year the file's input unit
    /// ends in (`collision-2023`), or whose `date` lies outside `year`, are
    /// quarantined: a one-year file holds that year only.
    pub fn with_year_rule(mut self, year: &str, date: Option<&str>) -> Self {
        self.year_rule = Some((year.to_string(), date.map(str::to_string)));
        self
    }

    /// Accept `old` in a header as the column whose source name is `new`.
    pub fn with_alias(mut self, old: &str, new: &str) -> Self {
        self.aliases.insert(old.to_string(), new.to_string());
        self
    }

    /// Columns (by source name) that older files lack.
    pub fn with_optional(mut self, names: &[&str]) -> Self {
        self.optional.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Treat these strings as null too (STATS19 writes `NULL`).
    pub fn with_null_tokens(mut self, tokens: &[&str]) -> Self {
        self.null_tokens = tokens.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Partition by the year of a column.
    pub fn with_partition(mut self, p: PartitionBy) -> Self {
        self.partition_by = p;
        self
    }

    /// Record the month range of this date column in the manifest.
    pub fn with_month_column(mut self, name: &str) -> Self {
        self.month_column = Some(name.to_string());
        self
    }

    /// Ignore columns that are not declared instead of refusing the file.
    pub fn ignoring_extra_columns(mut self, ignore: bool) -> Self {
        self.ignore_extra = ignore;
        self
    }

    /// Declared columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn canonical(&self, header: &str) -> String {
        self.aliases
            .get(header)
            .cloned()
            .unwrap_or_else(|| header.to_string())
    }

    /// Map each declared column to its index in this file's header.
    fn positions(&self, header: &[String]) -> Vec<Option<usize>> {
        let canon: Vec<String> = header.iter().map(|h| self.canonical(h)).collect();
        self.columns
            .iter()
            .map(|c| canon.iter().position(|h| h == c.source_name()))
            .collect()
    }
}

enum ColBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
}

impl ColBuilder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::String => ColBuilder::Str(StringBuilder::new()),
            ColumnType::Int => ColBuilder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Float => ColBuilder::Float(Float64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Bool => ColBuilder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            ColumnType::Date => ColBuilder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Timestamp => {
                ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS))
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Str(b) => Arc::new(b.finish()),
            ColBuilder::Int(b) => Arc::new(b.finish()),
            ColBuilder::Float(b) => Arc::new(b.finish()),
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Ts(b) => Arc::new(b.finish()),
        }
    }
}

/// One parsed cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Text.
    Str(String),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Date.
    Date(NaiveDate),
    /// Timestamp.
    Ts(NaiveDateTime),
}

/// Parse one text value to a declared type; `Err` says why not.
pub fn parse_value(col: &Column, raw: &str) -> Result<Value, String> {
    let v = raw.trim();
    let name = &col.name;
    Ok(match col.ty {
        ColumnType::String => Value::Str(v.to_string()),
        ColumnType::Int => Value::Int(
            v.parse::<i64>()
                .map_err(|_| format!("`{name}` `{v}` is not a whole number"))?,
        ),
        ColumnType::Float => Value::Float(
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("`{name}` `{v}` is not a number"))?,
        ),
        ColumnType::Bool => Value::Bool(match v.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "y" => true,
            "false" | "f" | "0" | "no" | "n" => false,
            _ => return Err(format!("`{name}` `{v}` is not true/false")),
        }),
        ColumnType::Date => {
            let fmt = col.format.as_deref().unwrap_or("%Y-%m-%d");
            Value::Date(
                NaiveDate::parse_from_str(v, fmt)
                    .map_err(|_| format!("`{name}` `{v}` is not a date ({fmt})"))?,
            )
        }
        ColumnType::Timestamp => {
            let parsed = match col.format.as_deref() {
                Some(fmt) => NaiveDateTime::parse_from_str(v, fmt).ok(),
                None => NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f"))
                    .ok(),
            };
            Value::Ts(parsed.ok_or_else(|| format!("`{name}` `{v}` is not a date and time"))?)
        }
    })
}

fn append(b: &mut ColBuilder, v: &Value) {
    match (b, v) {
        (ColBuilder::Str(b), Value::Str(s)) => b.append_value(s),
        (ColBuilder::Int(b), Value::Int(i)) => b.append_value(*i),
        (ColBuilder::Float(b), Value::Float(f)) => b.append_value(*f),
        (ColBuilder::Bool(b), Value::Bool(x)) => b.append_value(*x),
        (ColBuilder::Date(b), Value::Date(d)) => b.append_value(crate::schema::date32(*d)),
        (ColBuilder::Ts(b), Value::Ts(t)) => b.append_value(t.and_utc().timestamp_micros()),
        (ColBuilder::Str(b), _) => b.append_null(),
        (ColBuilder::Int(b), _) => b.append_null(),
        (ColBuilder::Float(b), _) => b.append_null(),
        (ColBuilder::Bool(b), _) => b.append_null(),
        (ColBuilder::Date(b), _) => b.append_null(),
        (ColBuilder::Ts(b), _) => b.append_null(),
    }
}

fn year_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Date(d) => Some(d.year() as i64),
        Value::Ts(t) => Some(t.year() as i64),
        _ => None,
    }
}

fn month_of(v: &Value) -> Option<String> {
    match v {
        Value::Date(d) => Some(d.format("%Y-%m").to_string()),
        Value::Ts(t) => Some(t.format("%Y-%m").to_string()),
        _ => None,
    }
}

struct Batch {
    builders: Vec<ColBuilder>,
    rows: usize,
}

impl Batch {
    fn new(columns: &[Column]) -> Self {
        Batch {
            builders: columns.iter().map(|c| ColBuilder::new(c.ty)).collect(),
            rows: 0,
        }
    }
    fn finish(&mut self, schema: &SchemaRef, unit: &str) -> Result<RecordBatch, Error> {
        let mut cols: Vec<ArrayRef> = self.builders.iter_mut().map(ColBuilder::finish).collect();
        cols.push(input_column(unit, self.rows));
        self.rows = 0;
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Internal(e.to_string()))
    }
}

impl Format for TypedCsv {
    fn check_header(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let found: Vec<String> = header_fields(path, bytes)?
            .iter()
            .map(|h| self.canonical(h))
            .collect();
        let required: Vec<&str> = self
            .columns
            .iter()
            .map(Column::source_name)
            .filter(|n| !self.optional.iter().any(|o| o == n))
            .collect();
        let optional: Vec<&str> = self.optional.iter().map(String::as_str).collect();
        if self.ignore_extra {
            let known: Vec<String> = found
                .iter()
                .filter(|f| required.contains(&f.as_str()) || optional.contains(&f.as_str()))
                .cloned()
                .collect();
            compare_header(path, &known, &required, &optional)
        } else {
            compare_header(path, &found, &required, &optional)
        }
    }

    fn parse(&self, file: &InputFile, bytes: &[u8], sink: &mut Sink) -> Result<Parsed, Error> {
        let file_name = file.path.display().to_string();
        let body = strip_bom(bytes);
        let mut records = Records::new(body);
        let mut rec = csv::ByteRecord::new();
        let header: Vec<String> = match records.next(&mut rec, |_| false) {
            Next::Record(_) => rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect(),
            _ => return Ok(Parsed::default()),
        };
        let width = header.len();
        let pos = self.positions(&header);
        let part_idx = match &self.partition_by {
            PartitionBy::None => None,
            PartitionBy::Year(c) => self.columns.iter().position(|x| &x.name == c),
        };
        let month_idx = self
            .month_column
            .as_ref()
            .and_then(|m| self.columns.iter().position(|x| &x.name == m));

        let file_year: Option<i64> = file
            .unit
            .rsplit_once('-')
            .map(|(_, y)| y)
            .filter(|y| y.len() == 4)
            .and_then(|y| y.parse().ok());
        let year_rule = self.year_rule.as_ref().map(|(y, d)| {
            (
                self.columns.iter().position(|c| &c.name == y),
                d.as_ref()
                    .and_then(|d| self.columns.iter().position(|c| &c.name == d)),
            )
        });

        let mut parsed = Parsed::default();
        let mut batches: HashMap<String, Batch> = HashMap::new();
        let mut values: Vec<Value> = Vec::with_capacity(self.columns.len());
        loop {
            // A record of the wrong width that ran over several lines is a
            // stray quote (a quoted field may hold a line break, but then
            // the width is right).
            let line = match records.next(&mut rec, |r| r.len() != width) {
                Next::End => break,
                Next::Record(line) => line,
                Next::StrayQuote {
                    line,
                    first_line,
                    swallowed,
                } => {
                    parsed.rows_read += 1;
                    parsed
                        .quarantine
                        .push(stray_quote(file, &file_name, first_line, line, swallowed));
                    continue;
                }
                Next::Unreadable { line, message } => {
                    parsed.rows_read += 1;
                    parsed.quarantine.push(QuarantineRow {
                        input: file.unit.clone(),
                        file: file_name.clone(),
                        line,
                        reason: message,
                        record: String::new(),
                    });
                    break;
                }
            };
            // A blank line at the end of a hand-edited file is not a row.
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                continue;
            }
            parsed.rows_read += 1;
            let quarantine = |reason: String, rec: &csv::ByteRecord| QuarantineRow {
                input: file.unit.clone(),
                file: file_name.clone(),
                line,
                reason,
                record: record_text(rec),
            };
            if rec.len() != width {
                parsed.quarantine.push(quarantine(
                    format!("expected {width} fields, found {}", rec.len()),
                    &rec,
                ));
                continue;
            }
            values.clear();
            let mut problem = None;
            for (col, p) in self.columns.iter().zip(&pos) {
                let raw = match p.and_then(|i| rec.get(i)) {
                    Some(raw) => match std::str::from_utf8(raw) {
                        Ok(s) if s.contains('\0') => {
                            problem = Some(format!("`{}` contains a NUL byte", col.name));
                            break;
                        }
                        Ok(s) => s,
                        Err(_) => {
                            problem = Some(format!("`{}` is not valid UTF-8", col.name));
                            break;
                        }
                    },
                    None => "",
                };
                let t = raw.trim();
                if t.is_empty() || self.null_tokens.iter().any(|n| n == t) {
                    if col.required {
                        problem = Some(format!("`{}` is blank but required", col.name));
                        break;
                    }
                    values.push(Value::Null);
                    continue;
                }
                match parse_value(col, t) {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        problem = Some(e);
                        break;
                    }
                }
            }
            if problem.is_none()
                && let Some((Some(yi), di)) = year_rule
                && let Value::Int(y) = values[yi]
            {
                let col = &self.columns[yi].name;
                if let Some(fy) = file_year
                    && y != fy
                {
                    problem = Some(format!("`{col}` {y} is not the year of this file ({fy})"));
                } else if let Some(Value::Date(d)) = di.map(|i| &values[i])
                    && i64::from(d.year()) != y
                {
                    problem = Some(format!(
                        "`{}` {} is not in `{col}` {y}",
                        self.columns[di.unwrap_or(0)].name,
                        d.format("%d/%m/%Y")
                    ));
                }
            }
            if let Some(reason) = problem {
                parsed.quarantine.push(quarantine(reason, &rec));
                continue;
            }
            let partition = match part_idx {
                None => "all".to_string(),
                Some(i) => match year_of(&values[i]) {
                    Some(y) => format!("year={y}"),
                    None => {
                        parsed.quarantine.push(quarantine(
                            format!(
                                "`{}` is blank, so the row has no year",
                                self.columns[i].name
                            ),
                            &rec,
                        ));
                        continue;
                    }
                },
            };
            if let Some(m) = month_idx.and_then(|i| month_of(&values[i])) {
                parsed.see_month(&m);
            }
            let batch = batches
                .entry(partition.clone())
                .or_insert_with(|| Batch::new(&self.columns));
            for (b, v) in batch.builders.iter_mut().zip(&values) {
                append(b, v);
            }
            batch.rows += 1;
            parsed.rows_landed += 1;
            if batch.rows >= BATCH_ROWS {
                sink.write(&partition, &batch.finish(&self.schema, &file.unit)?)?;
            }
            parsed.partitions.insert(partition);
        }
        let mut keys: Vec<String> = batches.keys().cloned().collect();
        keys.sort();
        for k in keys {
            if let Some(b) = batches.get_mut(&k)
                && b.rows > 0
            {
                sink.write(&k, &b.finish(&self.schema, &file.unit)?)?;
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typed_values() {
        let mut d = Column::new("d", ColumnType::Date);
        d.format = Some("%d/%m/%Y".into());
        assert_eq!(
            parse_value(&d, "29/02/2024").unwrap(),
            Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
        );
        assert!(parse_value(&d, "29/02/2023").is_err());
        let i = Column::new("n", ColumnType::Int);
        assert_eq!(parse_value(&i, "-1").unwrap(), Value::Int(-1));
        assert!(parse_value(&i, "1.5").unwrap_err().contains("`n` `1.5`"));
        let t = Column::new("t", ColumnType::Timestamp);
        assert!(parse_value(&t, "2024-03-01 10:11:12").is_ok());
        assert!(parse_value(&t, "2024-03-01T10:11:12.5").is_ok());
        let b = Column::new("b", ColumnType::Bool);
        assert_eq!(parse_value(&b, "Y").unwrap(), Value::Bool(true));
    }
}
