//! The lake: one Delta Lake table per dataset, of zstd-compressed Parquet.
//!
//! Layout: `lake/<dataset>/_delta_log/` (the transaction log) and
//! `lake/<dataset>/<partition>/part-<id>.parquet`, grouped in Hive-style
//! folders (`year=2024`). Each partition holds one file per version,
//! rewritten whole when any input in it changes, so a county's ten years of
//! police.uk data is ten files, not a hundred and twenty.
//!
//! Every landing is one Delta commit: new files are written and fsynced, then
//! one log entry adds them, removes the files they supersede and records the
//! bookkeeping. Readers follow the log, so an interrupted ingest leaves the
//! previous version readable; superseded files stay for time travel
//! (`safer run --as-of`) until `safer lake vacuum` removes them.

pub mod delta;
mod landing;
pub mod maintain;
mod manifest;
pub mod store;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use delta::At;
pub use landing::{
    Landing, LandingSummary, PartitionOpener, PartitionWriter, QuarantineRow, input_column,
    quarantine_columns,
};
pub use manifest::{FileEntry, FileStat, InputEntry, Manifest};

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
    /// The Delta log could not be read or written.
    #[error("{path}: Delta log: {message}")]
    Delta {
        /// Table directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another writer committed to the table while this landing was being
    /// written, and the two changes touch the same partitions.
    #[error(
        "`{dataset}` was changed by another writer while this landing was being written, and {why}; \
         nothing from this landing was committed, so run it again"
    )]
    Conflict {
        /// The table.
        dataset: String,
        /// Why the landing could not simply be applied on top.
        why: String,
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
    /// Object storage could not be reached or refused a request.
    #[error("{url}: object storage: {message}")]
    Store {
        /// The lake's URL (never credentials).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Partition workers were started on a lake an earlier safer wrote,
    /// which a whole ingest must convert first.
    #[error(
        "table `{0}` is still in the layout of an earlier safer; run `safer ingest` once (it converts the lake) before starting partition workers"
    )]
    NeedsConversion(String),
    /// A batch did not match the dataset's schema. This is a bug in a reader.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

/// A lake rooted at a directory.
#[derive(Debug, Clone)]
pub struct Lake {
    /// The lake folder; for a lake on object storage, the local cache.
    root: PathBuf,
    remote: Option<Arc<store::Remote>>,
    checks: Option<Arc<crate::sources::checks::Checks>>,
    pin: Option<Arc<Pin>>,
}

/// The lake as it was: what a pinned lake's readers see. Writers always
/// land on the newest version, whatever the pin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pin {
    /// Exactly these table versions (a past run's record); a table not
    /// named did not exist for that run.
    Versions(std::collections::BTreeMap<String, u64>),
    /// Every table as it was at this moment.
    Time(chrono::DateTime<chrono::Utc>),
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pin::Versions(v) => write!(f, "the table versions of a past run ({} tables)", v.len()),
            Pin::Time(t) => write!(
                f,
                "the lake as it was at {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// Held while a process writes to the lake; released on drop.
#[derive(Debug)]
pub struct LakeLock {
    _file: File,
}

impl Lake {
    /// Open (and create if needed) a lake: a directory, or an object-store
    /// URL (`s3://bucket/path`, `az://container/path`; see [`store`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<Lake, Error> {
        let root = root.into();
        let text = root.to_string_lossy().into_owned();
        let (root, remote) = if store::is_url(&text) {
            (
                store::cache_dir(&text),
                Some(Arc::new(store::Remote::open(&text)?)),
            )
        } else {
            (root, None)
        };
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Lake {
            root,
            remote,
            checks: None,
            pin: None,
        })
    }

    /// Where the lake is, as configured: its folder or its URL.
    pub fn location(&self) -> String {
        match &self.remote {
            Some(r) => r.url.to_string(),
            None => self.root.to_string_lossy().into_owned(),
        }
    }

    /// The object store behind a lake on object storage.
    pub fn remote(&self) -> Option<&store::Remote> {
        self.remote.as_deref()
    }

    /// The URL delta-rs and DataFusion know a table by, ending in `/`.
    pub fn table_url(&self, dataset: &str) -> Result<url::Url, Error> {
        match &self.remote {
            Some(r) => r.table_url(dataset),
            None => {
                let dir = self.dataset_dir(dataset);
                let abs = std::path::absolute(&dir).map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?;
                url::Url::from_directory_path(&abs)
                    .map_err(|()| Error::Internal(format!("{} is not absolute", abs.display())))
            }
        }
    }

    /// Options for delta-rs (credentials for a lake on object storage).
    pub fn storage_options(&self) -> std::collections::HashMap<String, String> {
        self.remote
            .as_ref()
            .map(|r| r.options().clone())
            .unwrap_or_default()
    }

    /// Whether a table has a Delta log.
    pub fn is_table(&self, dataset: &str) -> Result<bool, Error> {
        match &self.remote {
            Some(r) => r.is_table(dataset),
            None => Ok(delta::is_table(&self.dataset_dir(dataset))),
        }
    }

    /// A data file of a table on local disk: the file itself, or for a lake
    /// on object storage its cached copy, fetched if not yet cached (data
    /// files never change once written).
    pub fn local_file(&self, dataset: &str, rel: &str) -> Result<PathBuf, Error> {
        let local = self.dataset_dir(dataset).join(rel);
        if let Some(r) = &self.remote
            && !local.is_file()
        {
            r.download(dataset, rel, &local)?;
        }
        Ok(local)
    }

    /// Publish a file written under the table's local folder: on object
    /// storage, upload it; on disk it is already in place.
    pub fn publish_file(&self, dataset: &str, rel: &str) -> Result<(), Error> {
        match &self.remote {
            Some(r) => r.upload(&self.dataset_dir(dataset).join(rel), dataset, rel),
            None => Ok(()),
        }
    }

    /// Remove a file that was written but never committed.
    pub fn discard_file(&self, dataset: &str, rel: &str) {
        let local = self.dataset_dir(dataset).join(rel);
        if let Err(e) = std::fs::remove_file(&local)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %local.display(), error = %e, "Could not remove an uncommitted lake file.");
        }
        if let Some(r) = &self.remote
            && let Err(e) = r.delete(dataset, rel)
        {
            tracing::warn!(table = dataset, file = rel, error = %e, "Could not remove an uncommitted file from object storage.");
        }
    }

    /// The same lake, read as it was (see [`Pin`]).
    pub fn pinned(mut self, pin: Pin) -> Lake {
        self.pin = Some(Arc::new(pin));
        self
    }

    /// What the lake's readers are pinned to, if anything.
    pub fn pin(&self) -> Option<&Pin> {
        self.pin.as_deref()
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
        let lock = self.take_lock(false)?;
        // Whoever first writes to a lake an earlier safer wrote brings its
        // tables into the Delta log.
        maintain::convert_legacy(self)?;
        Ok(lock)
    }

    /// Take the lake's write lock shared, for partition workers (`safer
    /// ingest --partition`): any number of them land at once, each commit
    /// optimistic (a worker whose base moved is rebased or tries again),
    /// while a whole ingest, vacuum or optimize, which take the lock
    /// alone, wait for none of them and are refused while any runs. A lake
    /// in the old layout is converted by a whole ingest first.
    pub fn lock_shared(&self) -> Result<LakeLock, Error> {
        if let Some(t) = maintain::legacy_tables(self).into_iter().next() {
            return Err(Error::NeedsConversion(t));
        }
        self.take_lock(true)
    }

    /// The lock file `.lock`, locked alone or shared, or `Locked` at once.
    fn take_lock(&self, shared: bool) -> Result<LakeLock, Error> {
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
        let taken = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match taken {
            Ok(()) => Ok(LakeLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
            Err(std::fs::TryLockError::Error(source)) => Err(Error::Io { path, source }),
        }
    }

    /// The manifest of a dataset as its readers see it: the newest version,
    /// or the pinned one when the lake is pinned.
    pub fn manifest(&self, dataset: &str) -> Result<Option<Manifest>, Error> {
        match self.pin.as_deref() {
            None => self.latest(dataset),
            Some(Pin::Versions(v)) => match v.get(dataset) {
                Some(v) => self.manifest_at(dataset, At::Version(*v)),
                None => Ok(None),
            },
            Some(Pin::Time(t)) => self.manifest_at(dataset, At::Timestamp(*t)),
        }
    }

    /// The manifest of a dataset's newest version, whatever the pin: what a
    /// landing builds on.
    pub fn latest(&self, dataset: &str) -> Result<Option<Manifest>, Error> {
        Manifest::load_at(self, dataset, At::Latest)
    }

    /// The manifest of a dataset as of a version or moment.
    pub fn manifest_at(&self, dataset: &str, at: At) -> Result<Option<Manifest>, Error> {
        Manifest::load_at(self, dataset, at)
    }

    /// Every dataset, sorted by name, as of the given versions: a dataset
    /// named in `versions` is read at that version, one that is not is left
    /// out (it did not exist when they were recorded).
    pub fn datasets_at_versions(
        &self,
        versions: &std::collections::BTreeMap<String, u64>,
    ) -> Result<Vec<Manifest>, Error> {
        let mut out = Vec::new();
        for (dataset, v) in versions {
            if let Some(m) = self.manifest_at(dataset, At::Version(*v))? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Every dataset as it was at a moment, sorted by name.
    pub fn datasets_at_time(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Manifest>, Error> {
        let mut out = Vec::new();
        for name in self.table_names()? {
            if let Some(m) = self.manifest_at(&name, At::Timestamp(at))? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Names of the folders that hold a Delta table, sorted.
    pub fn table_names(&self) -> Result<Vec<String>, Error> {
        if let Some(r) = &self.remote {
            return r.table_names();
        }
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.root).map_err(|source| Error::Io {
            path: self.root.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            if delta::is_table(&entry.path()) {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every dataset as its readers see it (newest, or as pinned), sorted
    /// by name.
    pub fn datasets(&self) -> Result<Vec<Manifest>, Error> {
        let legacy = maintain::legacy_tables(self);
        if !legacy.is_empty() {
            tracing::warn!(
                tables = ?legacy,
                "These tables were written by an earlier safer and are not read until they are converted to Delta tables: the next `safer run`, `safer ingest` or `safer import` converts them."
            );
        }
        match self.pin.as_deref() {
            Some(Pin::Versions(v)) => return self.datasets_at_versions(v),
            Some(Pin::Time(t)) => return self.datasets_at_time(*t),
            None => {}
        }
        let mut out = Vec::new();
        for name in self.table_names()? {
            match self.manifest(&name) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => {}
                // A Delta table another tool put in the lake folder is not
                // safer's to read; it must not stop every run.
                Err(Error::Manifest { message, .. })
                    if message.contains("not written by safer") =>
                {
                    tracing::warn!(table = %name, "A Delta table in the lake folder was not written by safer; it is left out.");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The version of every table as its readers see it, for a run's record
    /// of what it read.
    pub fn versions(&self) -> Result<std::collections::BTreeMap<String, u64>, Error> {
        Ok(self
            .datasets()?
            .into_iter()
            .filter_map(|m| Some((m.dataset, m.version?)))
            .collect())
    }
}

/// Give the memory a landing freed back to the system.
///
/// glibc keeps what a thread frees in that thread's arena, for its next
/// allocation. A landing parses and encodes on its own threads and the
/// queries that follow allocate on the engine's, so a process that lands
/// and then queries (a nightly run, `safer bench --data`) held both at
/// once. Costs a few milliseconds; does nothing on other C libraries.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only returns free pages to
    // the system; glibc allows it from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
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
