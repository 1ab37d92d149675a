//! Column types and declared schemas shared by every source kind.
//!
//! A source declares its columns in `safer.toml` with these small type names;
//! the same names describe the built-in contracts (police.uk, STATS19). They map
//! onto Arrow types in one place so that the lake, the readers and the SQL
//! engine agree on what a column is.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

/// Name of the lake-internal column that records which input unit (file,
/// month, pull) a row came from. Replacing a corrected input removes exactly
/// the rows it landed before; tables expose it for provenance.
pub const INPUT_COLUMN: &str = "_input";

/// The type of a declared column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// true/false (also 1/0, yes/no, y/n in CSV).
    Bool,
    /// Calendar date (`YYYY-MM-DD`, or the format the source declares).
    Date,
    /// Date and time without zone (`YYYY-MM-DD HH:MM:SS`), stored as microseconds.
    Timestamp,
}

impl ColumnType {
    /// The Arrow type this column lands as.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// Short name as written in config.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }

    /// Parse a type name as written on the command line (`name:int`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "string" | "text" | "utf8" | "varchar" => ColumnType::String,
            "int" | "integer" | "bigint" | "int64" => ColumnType::Int,
            "float" | "double" | "real" | "float64" => ColumnType::Float,
            "bool" | "boolean" => ColumnType::Bool,
            "date" => ColumnType::Date,
            "timestamp" | "datetime" => ColumnType::Timestamp,
            _ => return None,
        })
    }
}

/// One declared column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name in the lake (snake_case by convention).
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Name in the source file or query result, when it differs from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A row with this column blank is quarantined.
    #[serde(default)]
    pub required: bool,
    /// chrono format for `date`/`timestamp` columns in CSV (default ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A text column whose values repeat (a force, a crime type, an
    /// outcome, an LSOA): queries read it as a dictionary, each distinct
    /// value once per row group with a small number per row, so a filter
    /// or a grouping looks at the few values instead of every row's text.
    /// It changes how the column is read, not what it holds, so turning it
    /// on or off never rebuilds a table (see [`same_declaration`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub few_values: bool,
}

impl Column {
    /// A nullable column with no renaming.
    pub fn new(name: &str, ty: ColumnType) -> Self {
        Column {
            name: name.to_string(),
            ty,
            source: None,
            required: false,
            format: None,
            few_values: false,
        }
    }

    /// Mark a text column as one whose values repeat (see `few_values`).
    pub fn few_values(mut self) -> Self {
        self.few_values = true;
        self
    }

    /// The Arrow type queries read this column as: the landed type, but a
    /// dictionary for text with few values.
    pub fn read_type(&self) -> DataType {
        if self.few_values && self.ty == ColumnType::String {
            read_as_dictionary()
        } else {
            self.ty.arrow()
        }
    }

    /// Mark the column as required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Name of the column in the input.
    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }
}

/// Days from 0001-01-01 (chrono's CE day 1) to 1970-01-01, Arrow's Date32 epoch.
const UNIX_EPOCH_DAYS_CE: i32 = 719_163;

/// A date as Arrow `Date32` (days since 1970-01-01).
pub fn date32(d: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_CE
}

/// An Arrow `Date32` back to a date.
pub fn from_date32(days: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_CE)
}

/// Arrow schema for declared columns, plus the trailing `_input` column.
pub fn lake_schema(columns: &[Column]) -> SchemaRef {
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.ty.arrow(), true))
        .collect();
    fields.push(Field::new(INPUT_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The Arrow schema queries read a table as: [`lake_schema`] with text of
/// few values as dictionaries. Files are written with this schema as their
/// Arrow hint (the Parquet bytes are the same either way), so the reader
/// hands the engine the Parquet dictionary pages as they are instead of
/// copying every row's text out of them.
pub fn read_schema(columns: &[Column]) -> SchemaRef {
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.read_type(), true))
        .collect();
    fields.push(Field::new(INPUT_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The dictionary type text of few values is read as.
pub fn read_as_dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Whether an answer's column holds text, however the engine carries it
/// (plain, a view, or a dictionary for text of few values).
pub fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

/// Whether two declarations describe the same rows: equal but perhaps for
/// how text is read (`few_values`). A table whose declaration changes only
/// that keeps its rows; any other change rebuilds it from its inputs.
pub fn same_declaration(a: &[Column], b: &[Column]) -> bool {
    let rows = |c: &Column| Column {
        few_values: false,
        ..c.clone()
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rows(x) == rows(y))
}

/// Parse `name:type,name:type` as given to `safer import csv --columns`.
pub fn parse_column_list(spec: &str) -> Result<Vec<Column>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, ty) = part
            .split_once(':')
            .ok_or_else(|| format!("column `{part}` needs a type, like `{part}:string`"))?;
        let ty = ColumnType::parse(ty).ok_or_else(|| {
            format!("column `{name}` has unknown type `{ty}` (use string, int, float, bool, date or timestamp)")
        })?;
        let (name, required) = match name.strip_suffix('!') {
            Some(n) => (n, true),
            None => (name, false),
        };
        let mut col = Column::new(&snake_case(name), ty);
        if col.name != name {
            col.source = Some(name.to_string());
        }
        col.required = required;
        out.push(col);
    }
    if out.is_empty() {
        return Err("no columns declared".into());
    }
    Ok(out)
}

/// `Crime ID` -> `crime_id`, `LSOA21CD` -> `lsoa21cd`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_police_headers() {
        assert_eq!(snake_case("Crime ID"), "crime_id");
        assert_eq!(snake_case("Last outcome category"), "last_outcome_category");
        assert_eq!(snake_case("LSOA code"), "lsoa_code");
    }

    #[test]
    fn parses_column_lists() {
        let cols = parse_column_list("LSOA21CD!:string, n:int").unwrap();
        assert_eq!(cols[0].name, "lsoa21cd");
        assert_eq!(cols[0].source.as_deref(), Some("LSOA21CD"));
        assert!(cols[0].required);
        assert_eq!(cols[1].ty, ColumnType::Int);
        assert!(parse_column_list("a").is_err());
        assert!(parse_column_list("a:blob").is_err());
    }

    #[test]
    fn few_values_changes_how_text_is_read_not_what_is_declared() {
        let plain = vec![
            Column::new("force", ColumnType::String),
            Column::new("n", ColumnType::Int),
        ];
        let few = vec![
            Column::new("force", ColumnType::String).few_values(),
            // Only text becomes a dictionary.
            Column::new("n", ColumnType::Int).few_values(),
        ];
        assert!(same_declaration(&plain, &few));
        let retyped = vec![
            Column::new("force", ColumnType::Int),
            Column::new("n", ColumnType::Int),
        ];
        assert!(!same_declaration(&plain, &retyped));
        assert!(!same_declaration(&plain, &plain[..1]));

        let read = read_schema(&few);
        assert_eq!(read.field(0).data_type(), &read_as_dictionary());
        assert_eq!(read.field(1).data_type(), &DataType::Int64);
        assert_eq!(read.field(2).name(), INPUT_COLUMN);
        // What lands (and what Delta records) is plain text.
        assert_eq!(lake_schema(&few).field(0).data_type(), &DataType::Utf8);
        assert!(is_text(&read_as_dictionary()));
        assert!(!is_text(&DataType::Int64));

        // Declared in safer.toml and kept in the table's properties; absent
        // when off, so older declarations read the same.
        let c: Column =
            serde_json::from_str(r#"{"name":"force","type":"string","few_values":true}"#).unwrap();
        assert!(c.few_values);
        let off = serde_json::to_string(&Column::new("force", ColumnType::String)).unwrap();
        assert!(!off.contains("few_values"), "{off}");
    }
}
