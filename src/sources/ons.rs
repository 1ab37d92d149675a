//! ONS mid-year population estimates in the published "long by age, wide by
//! year" layout (MYEB2: `ladcode23,laname23,country,sex,age,population_2011,...`).
//!
//! Rates need population by district, sex, single year of age and year, so
//! the wide year columns are unpivoted into one row per year. The geography
//! vintage in the header (`ladcode21`, `ladcode23`, ...) is accepted as it
//! comes: ONS changes it with each boundary release.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::SchemaRef;

use super::Error;
use super::files::{Format, InputFile, LineCounter, Parsed, Sink, header_fields, strip_bom};
use super::police_uk::record_text;
use crate::lake::{QuarantineRow, input_column};
use crate::schema::{Column, ColumnType, lake_schema};

/// Lake table name.
pub const TABLE: &str = "ons_population";

/// Declared lake columns.
pub fn columns() -> Vec<Column> {
    use ColumnType::*;
    vec![
        Column::new("lad_code", String).required(),
        Column::new("lad_name", String),
        Column::new("sex", String).required(),
        Column::new("age", Int).required(),
        Column::new("year", Int).required(),
        Column::new("population", Int).required(),
    ]
}

/// The MYEB2 layout.
pub struct MidYearEstimates {
    schema: SchemaRef,
}

impl Default for MidYearEstimates {
    fn default() -> Self {
        MidYearEstimates {
            schema: lake_schema(&columns()),
        }
    }
}

struct Layout {
    code: usize,
    name: Option<usize>,
    sex: usize,
    age: usize,
    years: Vec<(usize, i64)>,
}

fn layout(path: &Path, header: &[String]) -> Result<Layout, Error> {
    let find =
        |pred: &dyn Fn(&str) -> bool| header.iter().position(|h| pred(&h.to_ascii_lowercase()));
    let code = find(&|h| h.starts_with("ladcode") || h == "code");
    let name = find(&|h| h.starts_with("laname") || h == "name");
    let sex = find(&|h| h == "sex");
    let age = find(&|h| h == "age");
    let years: Vec<(usize, i64)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            h.to_ascii_lowercase()
                .strip_prefix("population_")
                .and_then(|y| y.parse().ok())
                .map(|y| (i, y))
        })
        .collect();
    let mut missing = Vec::new();
    if code.is_none() {
        missing.push("`ladcodeNN`");
    }
    if sex.is_none() {
        missing.push("`sex`");
    }
    if age.is_none() {
        missing.push("`age`");
    }
    if years.is_empty() {
        missing.push("`population_YYYY`");
    }
    let known = |h: &str| {
        let h = h.to_ascii_lowercase();
        h.starts_with("ladcode")
            || h.starts_with("laname")
            || matches!(h.as_str(), "sex" | "age" | "country" | "code" | "name")
            || h.strip_prefix("population_")
                .is_some_and(|y| y.parse::<i64>().is_ok())
    };
    let unexpected: Vec<String> = header
        .iter()
        .filter(|h| !known(h))
        .map(|h| format!("`{h}`"))
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing columns: {}", missing.join(", ")));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected columns: {}", unexpected.join(", ")));
        }
        return Err(Error::Refused {
            path: path.to_path_buf(),
            reason: format!(
                "refused whole, nothing landed from it; {}",
                parts.join("; ")
            ),
        });
    }
    Ok(Layout {
        code: code.unwrap_or(0),
        name,
        sex: sex.unwrap_or(0),
        age: age.unwrap_or(0),
        years,
    })
}

impl Format for MidYearEstimates {
    fn check_header(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        layout(path, &header_fields(path, bytes)?).map(|_| ())
    }

    fn parse(&self, file: &InputFile, bytes: &[u8], sink: &mut Sink) -> Result<Parsed, Error> {
        let header = header_fields(&file.path, bytes)?;
        let l = layout(&file.path, &header)?;
        let body = strip_bom(bytes);
        let mut lines = LineCounter::new(body);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(body);
        let mut parsed = Parsed::default();
        let (mut code, mut name, mut sex) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let (mut age, mut year, mut pop) = (
            Int64Builder::new(),
            Int64Builder::new(),
            Int64Builder::new(),
        );
        let mut out_rows = 0usize;
        let mut rec = csv::StringRecord::new();
        loop {
            let more = rdr.read_record(&mut rec);
            let line = rec
                .position()
                .map(|p| lines.record_line(p.byte()))
                .unwrap_or(0);
            let bad = |reason: String, rec: &csv::StringRecord| QuarantineRow {
                input: file.unit.clone(),
                file: file.path.display().to_string(),
                line,
                reason,
                record: record_text(rec.as_byte_record()),
            };
            match more {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    parsed.rows_read += 1;
                    parsed
                        .quarantine
                        .push(bad(format!("unreadable CSV: {e}"), &rec));
                    continue;
                }
            }
            parsed.rows_read += 1;
            if rec.len() != header.len() {
                parsed.quarantine.push(bad(
                    format!("expected {} fields, found {}", header.len(), rec.len()),
                    &rec,
                ));
                continue;
            }
            let sex_v = match rec[l.sex].trim() {
                "1" | "M" | "m" | "Male" | "male" => "male",
                "2" | "F" | "f" | "Female" | "female" => "female",
                other => {
                    parsed
                        .quarantine
                        .push(bad(format!("`sex` `{other}` is not 1/2 or M/F"), &rec));
                    continue;
                }
            };
            let Ok(age_v) = rec[l.age].trim().trim_end_matches('+').parse::<i64>() else {
                parsed.quarantine.push(bad(
                    format!("`age` `{}` is not a whole number", &rec[l.age]),
                    &rec,
                ));
                continue;
            };
            let mut pops = Vec::with_capacity(l.years.len());
            let mut problem = None;
            for (i, y) in &l.years {
                match rec[*i].trim().replace(',', "").parse::<i64>() {
                    Ok(p) if p >= 0 => pops.push((*y, p)),
                    _ => {
                        problem = Some(format!(
                            "`population_{y}` `{}` is not a non-negative whole number",
                            &rec[*i]
                        ));
                        break;
                    }
                }
            }
            if let Some(p) = problem {
                parsed.quarantine.push(bad(p, &rec));
                continue;
            }
            let code_v = rec[l.code].trim();
            if code_v.is_empty() {
                parsed
                    .quarantine
                    .push(bad("`ladcode` is blank".into(), &rec));
                continue;
            }
            for (y, p) in pops {
                code.append_value(code_v);
                match l.name {
                    Some(n) => name.append_value(rec[n].trim()),
                    None => name.append_null(),
                }
                sex.append_value(sex_v);
                age.append_value(age_v);
                year.append_value(y);
                pop.append_value(p);
                out_rows += 1;
            }
            parsed.rows_landed += 1;
        }
        if out_rows > 0 {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(code.finish()),
                Arc::new(name.finish()),
                Arc::new(sex.finish()),
                Arc::new(age.finish()),
                Arc::new(year.finish()),
                Arc::new(pop.finish()),
                input_column(&file.unit, out_rows),
            ];
            let batch = RecordBatch::try_new(self.schema.clone(), cols)
                .map_err(|e| Error::Internal(e.to_string()))?;
            sink.write("all", &batch)?;
            parsed.partitions.insert("all".into());
        }
        if let (Some(first), Some(last)) = (l.years.first(), l.years.last()) {
            parsed.see_month(&format!("{}-06", first.1));
            parsed.see_month(&format!("{}-06", last.1));
        }
        Ok(parsed)
    }
}
