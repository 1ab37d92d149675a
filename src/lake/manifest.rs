//! The per-dataset manifest: what one version of a table holds.
//!
//! A `Manifest` is read from the table's Delta log (see [`super::delta`]):
//! its files are the version's add actions, and its columns, input units and
//! watermark are the `safer.*` table properties committed with them. Readers
//! register exactly the files a version lists, never a directory listing, so
//! a crash between writing a new Parquet file and committing leaves an orphan
//! file that nobody reads, not duplicated rows.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Error;
use super::delta::{
    self, At, PROP_COLUMNS, PROP_FEW_VALUES, PROP_INPUTS, PROP_KEY, PROP_UPDATED_AT, PROP_WATERMARK,
};
use crate::schema::Column;

/// Everything the lake knows about one dataset.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Dataset (and table) name.
    pub dataset: String,
    /// Declared columns, excluding `_input`.
    pub columns: Vec<Column>,
    /// One Parquet file per partition, keyed by partition (`year=2024`, `all`).
    pub files: BTreeMap<String, FileEntry>,
    /// Every input unit landed, keyed by unit (`2024-01`, `collision-2023`, a pull id).
    pub inputs: BTreeMap<String, InputEntry>,
    /// Highest watermark value landed, for incremental SQL sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    /// When safer last landed into the table (RFC 3339, UTC).
    pub updated_at: String,
    /// Columns an incremental source merges on, when it declares a key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// The Delta table version this was read from (`None` before the first
    /// commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// One Parquet file of the dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path relative to the dataset directory (`year=2024/part-....parquet`).
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// One input unit: a file, a month, or one incremental pull.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputEntry {
    /// Where it came from (file path or `source:name`), never a connection string.
    pub origin: String,
    /// SHA-256 of the input bytes (or of the pulled rows), hex.
    pub fingerprint: String,
    /// Partitions this unit's rows went to.
    pub partitions: Vec<String>,
    /// Data rows read from the input.
    pub rows_read: u64,
    /// Rows that landed in the table.
    pub rows_landed: u64,
    /// Rows sent to quarantine with a reason.
    pub rows_quarantined: u64,
    /// Earlier rows this unit replaced by carrying their key (upserts), so
    /// the table holds the sum of rows landed less the sum superseded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_superseded: u64,
    /// For a run's results: the version of every table the run read, so a
    /// later run can say exactly what changed since (restatement notes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub table_versions: BTreeMap<String, u64>,
    /// Earliest month (`YYYY-MM`) in the landed rows, where the data has months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_month: Option<String>,
    /// Latest month (`YYYY-MM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_month: Option<String>,
    /// When it landed (RFC 3339, UTC).
    pub landed_at: String,
    /// For a file: its size and modification time when it was hashed. A
    /// file at the same path with the same size and time is taken as
    /// unchanged without reading it again, as `make` and `git` do; touching
    /// a file makes the next landing read and hash it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<FileStat>,
}

impl InputEntry {
    /// An input unit whose `rows` rows all landed in one partition, with
    /// nothing quarantined or superseded and no months, versions or file
    /// times to record; callers that have them set them over this.
    pub fn whole(
        origin: String,
        fingerprint: String,
        partition: &str,
        rows: u64,
        landed_at: String,
    ) -> InputEntry {
        InputEntry {
            origin,
            fingerprint,
            partitions: vec![partition.to_string()],
            rows_read: rows,
            rows_landed: rows,
            rows_quarantined: 0,
            rows_superseded: 0,
            table_versions: BTreeMap::new(),
            min_month: None,
            max_month: None,
            landed_at,
            stat: None,
        }
    }
}

/// A file's size and modification time, to see that it has not changed
/// without reading it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time, nanoseconds since 1970 (UTC).
    pub modified_ns: u64,
}

impl FileStat {
    /// The file's size and modification time, if the file system gives them.
    pub fn of(path: &std::path::Path) -> Option<FileStat> {
        let m = std::fs::metadata(path).ok()?;
        let modified = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(FileStat {
            bytes: m.len(),
            modified_ns: u64::try_from(modified.as_nanos()).ok()?,
        })
    }
}

impl Manifest {
    /// Read a dataset as of a version or a moment, or `None` if it had not
    /// landed by then.
    pub fn load_at(lake: &super::Lake, dataset: &str, at: At) -> Result<Option<Manifest>, Error> {
        let Some(snapshot) = delta::block_on(delta::load(lake, dataset, at))? else {
            return Ok(None);
        };
        // Messages name the table where it is: its folder, or its URL.
        let mut m = Manifest::from_snapshot(&delta::place(lake, dataset), &snapshot)?;
        m.dataset = dataset.to_string();
        Ok(Some(m))
    }

    /// The manifest a Delta snapshot describes.
    pub fn from_snapshot(dataset_dir: &Path, s: &delta::Snapshot) -> Result<Manifest, Error> {
        let bad = |what: &str, e: &dyn std::fmt::Display| Error::Manifest {
            path: dataset_dir.to_path_buf(),
            message: format!("table property {what}: {e}"),
        };
        let dataset = dataset_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let json = |key: &str| -> Result<Option<serde_json::Value>, Error> {
            s.property(key)
                .map(|v| serde_json::from_str(v).map_err(|e| bad(key, &e)))
                .transpose()
        };
        let columns = match snapshot_columns(s) {
            Some(Ok(c)) => c,
            Some(Err((key, e))) => return Err(bad(key, &e)),
            None => {
                return Err(bad(
                    PROP_COLUMNS,
                    &"missing: this Delta table was not written by safer",
                ));
            }
        };
        let inputs: BTreeMap<String, InputEntry> = match json(PROP_INPUTS)? {
            Some(v) => serde_json::from_value(v).map_err(|e| bad(PROP_INPUTS, &e))?,
            None => BTreeMap::new(),
        };
        let key: Vec<String> = match json(PROP_KEY)? {
            Some(v) => serde_json::from_value(v).map_err(|e| bad(PROP_KEY, &e))?,
            None => Vec::new(),
        };
        let mut files = BTreeMap::new();
        for f in &s.files {
            let partition = partition_of(&f.path);
            let entry = FileEntry {
                path: f.path.clone(),
                rows: f.rows,
                bytes: f.size,
            };
            if let Some(other) = files.insert(partition.clone(), entry) {
                return Err(Error::Manifest {
                    path: dataset_dir.to_path_buf(),
                    message: format!(
                        "partition {partition} has more than one file ({} and {}); \
                         run `safer lake optimize` to compact it",
                        other.path, f.path
                    ),
                });
            }
        }
        Ok(Manifest {
            dataset,
            columns,
            files,
            inputs,
            watermark: s.property(PROP_WATERMARK).map(str::to_string),
            updated_at: s.property(PROP_UPDATED_AT).unwrap_or_default().to_string(),
            key,
            version: Some(s.version),
        })
    }

    /// The `safer.*` table properties that record this manifest.
    pub fn properties(&self) -> Result<Vec<(String, Option<String>)>, Error> {
        let enc = |v: serde_json::Result<String>| {
            v.map_err(|e| Error::Internal(format!("encoding table properties: {e}")))
        };
        // `few_values` goes in a property of its own (see PROP_FEW_VALUES).
        let declared: Vec<Column> = self
            .columns
            .iter()
            .map(|c| Column {
                few_values: false,
                ..c.clone()
            })
            .collect();
        let few: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.few_values)
            .map(|c| c.name.as_str())
            .collect();
        Ok(vec![
            (
                PROP_COLUMNS.to_string(),
                Some(enc(serde_json::to_string(&declared))?),
            ),
            (
                PROP_FEW_VALUES.to_string(),
                (!few.is_empty())
                    .then(|| enc(serde_json::to_string(&few)))
                    .transpose()?,
            ),
            (
                PROP_INPUTS.to_string(),
                Some(enc(serde_json::to_string(&self.inputs))?),
            ),
            (PROP_WATERMARK.to_string(), self.watermark.clone()),
            (PROP_UPDATED_AT.to_string(), Some(self.updated_at.clone())),
            (
                PROP_KEY.to_string(),
                (!self.key.is_empty())
                    .then(|| enc(serde_json::to_string(&self.key)))
                    .transpose()?,
            ),
        ])
    }

    /// Total rows across all files.
    pub fn rows(&self) -> u64 {
        self.files.values().map(|f| f.rows).sum()
    }

    /// Earliest and latest month over all inputs, for freshness reporting.
    pub fn month_range(&self) -> Option<(String, String)> {
        let min = self
            .inputs
            .values()
            .filter_map(|i| i.min_month.clone())
            .min()?;
        let max = self
            .inputs
            .values()
            .filter_map(|i| i.max_month.clone())
            .max()?;
        Some((min, max))
    }
}

/// The partition folder of a file path relative to the table root
/// (`year=2024/part-1.parquet` is in `year=2024`; a file at the root is in
/// `all`).
pub(super) fn partition_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => "all".to_string(),
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The declared columns a snapshot records: `safer.columns`, with the text
/// columns named in `safer.fewValues` marked as such. `None` when the table
/// has no `safer.columns` (not written by safer); the error names the
/// property that did not parse.
pub fn snapshot_columns(
    s: &delta::Snapshot,
) -> Option<Result<Vec<Column>, (&'static str, String)>> {
    let parse = || -> Result<Vec<Column>, (&'static str, String)> {
        let text = s.property(PROP_COLUMNS).unwrap_or_default();
        let mut columns: Vec<Column> =
            serde_json::from_str(text).map_err(|e| (PROP_COLUMNS, e.to_string()))?;
        if let Some(few) = s.property(PROP_FEW_VALUES) {
            let few: Vec<String> =
                serde_json::from_str(few).map_err(|e| (PROP_FEW_VALUES, e.to_string()))?;
            for c in &mut columns {
                c.few_values = few.contains(&c.name);
            }
        }
        Ok(columns)
    };
    s.property(PROP_COLUMNS).map(|_| parse())
}
