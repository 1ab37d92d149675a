//! The per-dataset manifest: the single source of truth for what a table holds.
//!
//! Readers register exactly the files a manifest lists, never a directory
//! listing, so a crash between writing a new Parquet file and swapping the
//! manifest leaves an orphan file that nobody reads, not duplicated rows.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Error, atomic_write};
use crate::schema::Column;

/// File name of a dataset's manifest inside its directory.
pub const MANIFEST_FILE: &str = "_manifest.json";

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
    /// When the manifest was last written (RFC 3339, UTC).
    pub updated_at: String,
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
    /// Earliest month (`YYYY-MM`) in the landed rows, where the data has months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_month: Option<String>,
    /// Latest month (`YYYY-MM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_month: Option<String>,
    /// When it landed (RFC 3339, UTC).
    pub landed_at: String,
}

impl Manifest {
    /// Read a dataset's manifest, or `None` if the dataset has never landed.
    pub fn load(dataset_dir: &Path) -> Result<Option<Manifest>, Error> {
        let path = dataset_dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Manifest {
                path,
                message: e.to_string(),
            })
    }

    /// Write the manifest atomically (temp file, fsync, rename, fsync dir).
    pub fn store(&self, dataset_dir: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Manifest {
            path: dataset_dir.join(MANIFEST_FILE),
            message: e.to_string(),
        })?;
        atomic_write(&dataset_dir.join(MANIFEST_FILE), &bytes)
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
