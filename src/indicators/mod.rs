//! The indicator catalogue: officers' SQL files under `queries/`, each with a
//! metadata header, run through the engine into monthly series per area.
//!
//! A file starts with `-- key: value` comment lines (id, title, theme, unit,
//! polarity, sources, ...) and continues with one SELECT returning `month`,
//! `area_code`, `numerator` and optionally `denominator`. The header is SQL
//! comments, so the whole file goes to DataFusion unchanged and its error
//! positions are positions in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, SchemaRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{self, Engine};

pub mod header;

/// Errors finding or running indicators.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The header is wrong.
    #[error("{path}:{line}: {message}")]
    Header {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The SQL failed; position is in the file.
    #[error("{path}:{line}:{column}: {message}")]
    Sql {
        /// File.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: u64,
        /// 1-based column (0 if unknown).
        column: u64,
        /// What went wrong.
        message: String,
    },
    /// The result does not have the required shape.
    #[error("{path}: {message}")]
    Shape {
        /// File.
        path: PathBuf,
        /// What is wrong with the result columns.
        message: String,
    },
}

/// Metadata and SQL of one indicator.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    /// Stable identifier (file stem unless the header says otherwise).
    pub id: String,
    /// Title for tables and packs.
    pub title: String,
    /// Theme (the folder under `queries/`).
    pub theme: String,
    /// Unit: `count`, `rate per 1,000`, `percentage`, ...
    pub unit: String,
    /// Polarity: `lower is better`, `higher is better` or `monitor`.
    pub polarity: String,
    /// Every header key, verbatim.
    pub meta: BTreeMap<String, String>,
    /// The line each header key is on.
    #[serde(skip)]
    pub lines: BTreeMap<String, usize>,
    /// File the indicator came from.
    pub path: PathBuf,
    /// The SQL text (the whole file).
    pub sql: String,
    /// SHA-256 of the file, hex: ties every figure to the SQL that made it.
    pub sql_hash: String,
}

/// One value of a monthly series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// First day of the month.
    pub month: NaiveDate,
    /// Area code (district, or a higher area).
    pub area_code: String,
    /// The counted value.
    pub numerator: f64,
    /// The denominator, for percentages.
    pub denominator: Option<f64>,
}

/// Find every `.sql` file under `dir`, sorted by path. Files that fail to
/// load are returned as errors beside the good ones, so one broken header
/// does not stop the rest of the catalogue.
pub fn discover(dir: &Path) -> (Vec<Indicator>, Vec<Error>) {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                // Shared views are not indicators.
                if p.file_name().is_none_or(|n| n != "_views") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "sql") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load(dir, &f) {
            Ok(i) => out.push(i),
            Err(e) => errors.push(e),
        }
    }
    let mut seen = BTreeMap::new();
    for i in &out {
        if let Some(prev) = seen.insert(i.id.clone(), i.path.clone()) {
            errors.push(Error::Header {
                path: i.path.clone(),
                line: 1,
                message: format!("id `{}` is also used by {}", i.id, prev.display()),
            });
        }
    }
    (out, errors)
}

/// Load one indicator file.
pub fn load(root: &Path, path: &Path) -> Result<Indicator, Error> {
    let sql = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (meta, lines) = parse_header_lines(path, &sql)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let get = |k: &str| meta.get(k).cloned();
    // Missing keys are reported by `header::problems` (check, and the run,
    // refuse the indicator); these stand-ins only keep the report readable.
    let id = get("id").unwrap_or_else(|| stem.clone());
    let folder = path
        .parent()
        .and_then(|p| p.strip_prefix(root).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "general".into());
    Ok(Indicator {
        title: get("title").unwrap_or_else(|| id.clone()),
        id,
        // Sections follow the Community Safety Agreement priorities.
        theme: get("priority").unwrap_or(folder),
        unit: get("unit").unwrap_or_else(|| "count".into()),
        polarity: get("polarity").unwrap_or_else(|| "monitor".into()),
        sql_hash: hex::encode(Sha256::digest(sql.as_bytes())),
        meta,
        lines,
        path: path.to_path_buf(),
        sql,
    })
}

/// Everything wrong with an indicator's header (unknown keys, missing
/// keys, bad values), each with its line; or its evaluation settings.
pub fn check_header(
    ind: &Indicator,
) -> Result<crate::evaluation::spec::Spec, Vec<header::Problem>> {
    let mut problems = header::problems(ind);
    match crate::evaluation::spec::Spec::from_indicator(ind) {
        Ok(spec) if problems.is_empty() => return Ok(spec),
        Ok(_) => {}
        Err(values) => {
            for message in values {
                // A value problem starts with its key's name.
                let line = header::KEYS
                    .iter()
                    .filter(|k| message.starts_with(k.name))
                    .max_by_key(|k| k.name.len())
                    .and_then(|k| ind.lines.get(k.name).copied())
                    .unwrap_or(1);
                problems.push(header::Problem { line, message });
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    Err(problems)
}

/// A shared view in `queries/_views/`, as its file says.
#[derive(Debug, Clone)]
pub struct ViewFile {
    /// The view's name (`-- view:`, else the file stem).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its header keys (`tables`, `description`, `basis_column`, ...).
    pub meta: BTreeMap<String, String>,
    /// The whole file.
    pub sql: String,
}

impl ViewFile {
    /// The tables the header says it reads.
    pub fn tables(&self) -> Vec<String> {
        self.meta
            .get("tables")
            .map(|t| t.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default()
    }
}

/// Every readable view file in `dir`, by file name. (The engine reads the
/// folder itself, to report a file it cannot read.)
pub fn view_files(dir: &Path) -> Vec<ViewFile> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let sql = std::fs::read_to_string(&path).ok()?;
            let meta = parse_header(&path, &sql).unwrap_or_default();
            let name = meta.get("view").cloned().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            Some(ViewFile {
                name,
                path,
                meta,
                sql,
            })
        })
        .collect()
}

/// Parse the header, keys and values only.
pub fn parse_header(path: &Path, sql: &str) -> Result<BTreeMap<String, String>, Error> {
    parse_header_lines(path, sql).map(|(m, _)| m)
}

/// Parse the leading `-- key: value` lines; `--` lines that follow a key and
/// have no colon-key continue its value. Returns the values and the line of
/// each key.
#[allow(clippy::type_complexity)]
pub fn parse_header_lines(
    path: &Path,
    sql: &str,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, usize>), Error> {
    let mut meta = BTreeMap::new();
    let mut lines = BTreeMap::new();
    let mut last: Option<String> = None;
    for (i, line) in sql.lines().enumerate() {
        let t = line.trim();
        let Some(body) = t.strip_prefix("--") else {
            if t.is_empty() {
                continue;
            }
            break;
        };
        // An indented line (`--   more words`) continues the key above,
        // even if it happens to contain a colon.
        let indented = body.starts_with("  ");
        let body = body.trim();
        if body.is_empty() {
            continue;
        }
        let key = body
            .split_once(':')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|_| !(indented && last.is_some()));
        match key {
            Some((k, v))
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()) =>
            {
                if meta.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(Error::Header {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: format!("`{k}` appears twice in the header"),
                    });
                }
                lines.insert(k.to_string(), i + 1);
                last = Some(k.to_string());
            }
            _ => match &last {
                Some(k) => {
                    if let Some(v) = meta.get_mut(k) {
                        v.push(' ');
                        v.push_str(body);
                    }
                }
                None => continue,
            },
        }
    }
    Ok((meta, lines))
}

/// Run one indicator: plan, execute, check the result's shape.
pub async fn run(engine: &Engine, ind: &Indicator) -> Result<Vec<Point>, Error> {
    let (schema, batches) = engine
        .query(&ind.sql)
        .await
        .map_err(|e| sql_error(ind, e))?;
    to_points(&ind.path, &schema, &batches)
}

fn sql_error(ind: &Indicator, e: engine::Error) -> Error {
    let (line, column) = e.location().unwrap_or((0, 0));
    Error::Sql {
        path: ind.path.clone(),
        line,
        column,
        message: e.to_string(),
    }
}

/// Convert a result to points, naming any missing or mistyped column.
pub fn to_points(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<Point>, Error> {
    let shape = |message: String| Error::Shape {
        path: path.to_path_buf(),
        message,
    };
    let idx = |name: &str| schema.index_of(name).ok();
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("`{}`", f.name()))
        .collect();
    let (Some(mi), Some(ai), Some(ni)) = (idx("month"), idx("area_code"), idx("numerator")) else {
        return Err(shape(format!(
            "the query must return `month`, `area_code` and `numerator` (and optionally `denominator`); it returns {}",
            names.join(", ")
        )));
    };
    let di = idx("denominator");
    let mut out = Vec::new();
    for b in batches {
        let month = cast(b.column(mi), &DataType::Date32)
            .map_err(|e| shape(format!("`month` must be a date: {e}")))?;
        let month = month.as_primitive::<Date32Type>();
        let area = cast(b.column(ai), &DataType::Utf8)
            .map_err(|e| shape(format!("`area_code` must be text: {e}")))?;
        let area = area.as_string::<i32>();
        let num = cast(b.column(ni), &DataType::Float64)
            .map_err(|e| shape(format!("`numerator` must be a number: {e}")))?;
        let num = num.as_primitive::<Float64Type>();
        let den = match di {
            Some(d) => Some(
                cast(b.column(d), &DataType::Float64)
                    .map_err(|e| shape(format!("`denominator` must be a number: {e}")))?,
            ),
            None => None,
        };
        for r in 0..b.num_rows() {
            if month.is_null(r) || area.is_null(r) {
                continue;
            }
            let Some(m) = crate::schema::from_date32(month.value(r)) else {
                continue;
            };
            out.push(Point {
                month: m,
                area_code: area.value(r).to_string(),
                numerator: if num.is_null(r) { 0.0 } else { num.value(r) },
                denominator: den.as_ref().and_then(|d| {
                    let d = d.as_primitive::<Float64Type>();
                    (!d.is_null(r)).then(|| d.value(r))
                }),
            });
        }
    }
    out.sort_by(|a, b| (a.month, &a.area_code).cmp(&(b.month, &b.area_code)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keys_and_continuations() {
        let sql = "-- id: asb\n-- title: ASB incidents\n-- description: Incidents\n--   reported to police.\n\nSELECT 1";
        let m = parse_header(Path::new("x.sql"), sql).unwrap();
        assert_eq!(m["id"], "asb");
        assert_eq!(m["description"], "Incidents reported to police.");
        let colon = "-- id: a\n-- description: Small\n--   numbers: suppressed.\nSELECT 1";
        let m = parse_header(Path::new("x.sql"), colon).unwrap();
        assert_eq!(m["description"], "Small numbers: suppressed.");
        assert!(!m.contains_key("numbers"));
        let dup = "-- id: a\n-- id: b\nSELECT 1";
        let e = parse_header(Path::new("x.sql"), dup).unwrap_err();
        assert!(e.to_string().contains("x.sql:2"), "{e}");
    }
}
