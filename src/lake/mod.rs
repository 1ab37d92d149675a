//! The Parquet lake: partitioned, zstd-compressed datasets with a manifest each.
//!
//! Layout: `lake/<dataset>/<partition>/part-<id>.parquet` with Hive-style
//! partitions (`year=2024`) and `lake/<dataset>/_manifest.json`. Each partition
//! holds one file, rewritten whole when any input in it changes, so a county's
//! ten years of police.uk data is ten files, not a hundred and twenty.
//!
//! Every write is atomic: new files are written under a temporary name,
//! fsynced and renamed, then the manifest is swapped the same way, and only
//! then are superseded files removed. Readers follow the manifest, so an
//! interrupted ingest leaves the previous good state readable.

mod landing;
mod manifest;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use landing::{
    Landing, LandingSummary, PartitionOpener, PartitionWriter, QuarantineRow, input_column,
    quarantine_columns,
};
pub use manifest::{FileEntry, InputEntry, MANIFEST_FILE, Manifest};

/// Dataset that holds quarantined rows of every other dataset.
pub const QUARANTINE_DATASET: &str = "quarantine";

/// Errors from reading or writing the lake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Writing or reading Parquet failed.
    #[error("{path}: Parquet: {message}")]
    Parquet {
        /// File involved.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A manifest could not be read or written.
    #[error("{path}: manifest is unreadable: {message}")]
    Manifest {
        /// Manifest file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another safer process holds the lake.
    #[error("{path}: the lake is in use by another safer process")]
    Locked {
        /// Lock file.
        path: PathBuf,
    },
    /// Source tests with severity `error` failed: the landing was refused and
    /// the table is as it was.
    #[error(
        "`{dataset}`: {} source test(s) failed, so this landing was refused and the previous data kept: {}",
        failures.len(),
        failures.join("; ")
    )]
    TestsFailed {
        /// The table.
        dataset: String,
        /// Each failing test and what it found.
        failures: Vec<String>,
    },
    /// A batch did not match the dataset's schema. This is a bug in a reader.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

/// A lake rooted at a directory.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    checks: Option<Arc<crate::sources::checks::Checks>>,
}

/// Held while a process writes to the lake; released on drop.
#[derive(Debug)]
pub struct LakeLock {
    _file: File,
}

impl Lake {
    /// Open (and create if needed) a lake directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Lake, Error> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Lake { root, checks: None })
    }

    /// The same lake, with source tests run on every landing.
    pub fn with_checks(mut self, checks: Arc<crate::sources::checks::Checks>) -> Lake {
        self.checks = Some(checks);
        self
    }

    /// The source tests landings run, if any.
    pub fn checks(&self) -> Option<&Arc<crate::sources::checks::Checks>> {
        self.checks.as_ref()
    }

    /// The lake's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of one dataset.
    pub fn dataset_dir(&self, dataset: &str) -> PathBuf {
        self.root.join(dataset)
    }

    /// Take the lake's write lock, failing at once if another process has it.
    pub fn lock(&self) -> Result<LakeLock, Error> {
        let path = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(LakeLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
            Err(std::fs::TryLockError::Error(source)) => Err(Error::Io { path, source }),
        }
    }

    /// The manifest of a dataset, if it has landed.
    pub fn manifest(&self, dataset: &str) -> Result<Option<Manifest>, Error> {
        Manifest::load(&self.dataset_dir(dataset))
    }

    /// Every dataset with a manifest, sorted by name.
    pub fn datasets(&self) -> Result<Vec<Manifest>, Error> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.root).map_err(|source| Error::Io {
            path: self.root.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: self.root.clone(),
                source,
            })?;
            if !entry.path().is_dir() {
                continue;
            }
            if let Some(m) = Manifest::load(&entry.path())? {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.dataset.cmp(&b.dataset));
        Ok(out)
    }
}

/// Write a small file atomically: temp file, fsync, rename, fsync directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", unique_suffix()));
    let io = |source| Error::Io {
        path: tmp.clone(),
        source,
    };
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    sync_dir(dir)
}

/// fsync a directory so a rename inside it survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// A suffix unique within this machine for temp and part file names.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}{:x}",
        nanos,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
