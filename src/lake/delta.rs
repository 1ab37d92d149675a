//! The Delta Lake transaction log behind every lake table (delta-rs).
//!
//! Each dataset directory is a Delta table: `_delta_log/` is the only record
//! of which Parquet files make up each version, so any Delta reader (DuckDB's
//! delta extension, the Python `deltalake` package, Spark, Synapse, Fabric)
//! sees exactly what safer's engine sees, and any past version stays readable
//! until it is vacuumed.
//!
//! safer writes the Parquet files itself (one file a partition, streamed,
//! faster than a general writer for this shape of data) and commits them as
//! add and remove actions. The bookkeeping the old `_manifest.json` held
//! (declared columns, every input unit with its fingerprint and accounting,
//! the watermark) rides in the table's configuration as `safer.*` properties,
//! so it changes in the same atomic commit as the files it describes. Other
//! engines ignore properties they do not know.
//!
//! delta-rs is asynchronous and most of the lake's callers are not, so
//! [`block_on`] runs a future to completion on the lake's one background
//! runtime, from a scoped thread: safe to call from plain code and from
//! inside tokio.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, Add, MetadataExt, Protocol, Remove, StructType};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTableBuilder, DeltaTableError};

use super::{Error, Lake};

/// Table property holding the declared columns (JSON).
pub const PROP_COLUMNS: &str = "safer.columns";
/// Table property holding every landed input unit (JSON).
pub const PROP_INPUTS: &str = "safer.inputs";
/// Table property holding the incremental watermark, when there is one.
pub const PROP_WATERMARK: &str = "safer.watermark";
/// Table property holding when safer last landed (RFC 3339).
pub const PROP_UPDATED_AT: &str = "safer.updatedAt";
/// Table property holding the key an incremental source merges on (JSON list).
pub const PROP_KEY: &str = "safer.key";
/// Table property naming the text columns read as dictionaries (JSON list).
/// Kept apart from `safer.columns` so that a safer from before it existed,
/// which refuses a column description it does not know, still reads the
/// table after a rollback (as plain text).
pub const PROP_FEW_VALUES: &str = "safer.fewValues";

/// Folder of the transaction log inside a table.
pub const LOG_DIR: &str = "_delta_log";

/// Which version of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The newest committed version.
    Latest,
    /// Exactly this version.
    Version(u64),
    /// The newest version committed at or before this moment.
    Timestamp(chrono::DateTime<chrono::Utc>),
}

/// One data file of a table version.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFile {
    /// Path relative to the table root, as the log records it.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows, from the file's statistics.
    pub rows: u64,
}

/// A table as of one version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The version read.
    pub version: u64,
    /// When that version was committed (milliseconds since the epoch).
    pub committed_at_ms: Option<i64>,
    /// Its data files.
    pub files: Vec<LogFile>,
    /// Its table properties.
    pub configuration: HashMap<String, String>,
}

/// A file written for a commit, to be added.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Path relative to the table root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows in the file.
    pub rows: u64,
}

/// Run a future to completion from synchronous code, inside or outside a
/// tokio runtime: on a scoped thread, driven by one long-lived background
/// runtime. One runtime for the whole process matters on object storage:
/// the store's pooled HTTP connections belong to the runtime that opened
/// them, and a runtime dropped after each call would strand them.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("safer-lake-io")
            .enable_all()
            .build()
            .expect("the lake's I/O runtime starts")
    });
    let handle = rt.handle().clone();
    std::thread::scope(|s| {
        s.spawn(move || handle.block_on(fut))
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Register delta-rs's S3 and Azure handlers, once.
fn handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        deltalake::aws::register_handlers(None);
        deltalake::azure::register_handlers(None);
    });
}

/// What error messages call a table: its folder, or its URL on object
/// storage (never credentials).
pub(super) fn place(lake: &Lake, dataset: &str) -> PathBuf {
    match lake.remote() {
        Some(_) => lake
            .table_url(dataset)
            .map(|u| PathBuf::from(u.to_string()))
            .unwrap_or_else(|_| PathBuf::from(dataset)),
        None => lake.dataset_dir(dataset),
    }
}

/// A delta-rs builder for a table, with the lake's storage options.
fn builder(lake: &Lake, dataset: &str) -> Result<DeltaTableBuilder, Error> {
    handlers();
    let dir = place(lake, dataset);
    let url = lake.table_url(dataset)?;
    Ok(DeltaTableBuilder::from_url(url)
        .map_err(delta_err(&dir))?
        .with_storage_options(lake.storage_options()))
}

fn delta_err(dir: &Path) -> impl Fn(DeltaTableError) -> Error + '_ {
    move |e| Error::Delta {
        path: dir.to_path_buf(),
        message: e.to_string(),
    }
}

/// The newest version of a table as delta-rs opens it (for vacuum and
/// checkpoints).
pub async fn open_table(lake: &Lake, dataset: &str) -> Result<deltalake::DeltaTable, Error> {
    let place = place(lake, dataset);
    builder(lake, dataset)?
        .load()
        .await
        .map_err(delta_err(&place))
}

/// Whether a directory holds a Delta table: a transaction log with at least
/// one commit or checkpoint in it. (A log folder with nothing in it is a
/// first landing that died before committing; nothing was ever readable.)
pub fn is_table(dir: &Path) -> bool {
    std::fs::read_dir(dir.join(LOG_DIR))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| is_log_entry(&e.file_name().to_string_lossy()))
        })
        .unwrap_or(false)
}

/// Whether a file name in `_delta_log` is a commit or a checkpoint
/// (`00000000000000000007.json`, `...99.checkpoint.parquet`), not a temp
/// file a writer left.
pub fn is_log_entry(name: &str) -> bool {
    let digits = name.chars().take_while(char::is_ascii_digit).count();
    digits == 20 && (name.ends_with(".json") || name.ends_with(".parquet"))
}

/// Read a table's files and properties at a version. `None` when the table
/// has never been committed, or did not exist yet at the moment asked for.
pub async fn load(lake: &Lake, dataset: &str, at: At) -> Result<Option<Snapshot>, Error> {
    let place = place(lake, dataset);
    let dir = place.as_path();
    if !lake.is_table(dataset)? {
        return Ok(None);
    }
    let builder = builder(lake, dataset)?;
    let builder = match at {
        At::Latest => builder,
        At::Version(v) => builder.with_version(v),
        At::Timestamp(t) => builder.with_timestamp(t),
    };
    let table = match builder.load().await {
        Ok(t) => t,
        Err(DeltaTableError::InvalidVersion(_)) if !matches!(at, At::Latest) => return Ok(None),
        // On object storage a log folder can hold only an abandoned
        // first commit's temp file: nothing was ever readable there.
        Err(DeltaTableError::NotATable(_)) if lake.remote().is_some() => return Ok(None),
        Err(e) => return Err(delta_err(dir)(e)),
    };
    let state = table.snapshot().map_err(delta_err(dir))?;
    let version = state.version();
    let committed_at_ms = state.version_timestamp(state.version());
    if let (At::Timestamp(t), Some(ms)) = (at, committed_at_ms)
        && ms > t.timestamp_millis()
    {
        // Even the oldest version is newer than the moment asked for.
        return Ok(None);
    }
    let log = state.snapshot().try_log_data().map_err(delta_err(dir))?;
    let mut files = Vec::new();
    for f in log.iter() {
        files.push(LogFile {
            path: f.path().into_owned(),
            size: f.size().max(0) as u64,
            rows: f.num_records().unwrap_or(0) as u64,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Some(Snapshot {
        version,
        committed_at_ms,
        files,
        configuration: state.metadata().configuration().clone(),
    }))
}

fn dfail(dir: &Path, e: impl Into<DeltaTableError>) -> CommitError {
    CommitError::Failed(delta_err(dir)(e.into()))
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Another writer committed a newer version first; nothing was written.
    Conflict,
    /// Anything else.
    Failed(Error),
}

/// The protocol safer's tables need: plain (1, 2), or (3, 7) with the
/// `timestampNtz` feature when a column is a timestamp without zone.
fn protocol_for(schema: &StructType) -> Result<Protocol, Error> {
    let ntz = deltalake::kernel::contains_timestampntz(schema.fields());
    let value = if ntz {
        serde_json::json!({
            "minReaderVersion": 3,
            "minWriterVersion": 7,
            "readerFeatures": ["timestampNtz"],
            "writerFeatures": ["timestampNtz"],
        })
    } else {
        serde_json::json!({ "minReaderVersion": 1, "minWriterVersion": 2 })
    };
    serde_json::from_value(value).map_err(|e| Error::Internal(format!("protocol: {e}")))
}

fn kernel_schema(schema: &SchemaRef) -> Result<StructType, Error> {
    schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| Error::Internal(format!("schema for the Delta log: {e}")))
}

/// Commit one version: remove `removes`, add `adds`, and set the table's
/// schema and `safer.*` properties (no properties: the metadata is left as
/// it is). `base` is the version the change was computed from; if another
/// writer has committed since, nothing is written and
/// [`CommitError::Conflict`] says so (the caller decides whether the change
/// can be rebased). `data_change` is false for a rewrite that changes no
/// rows (compaction). Returns the new version.
#[allow(clippy::too_many_arguments)]
pub async fn commit(
    lake: &Lake,
    dataset: &str,
    base: Option<u64>,
    schema: &SchemaRef,
    properties: Vec<(String, Option<String>)>,
    adds: &[NewFile],
    removes: &[LogFile],
    operation: &str,
    data_change: bool,
) -> Result<u64, CommitError> {
    let failed = |e: Error| CommitError::Failed(e);
    let place = place(lake, dataset);
    let dir = place.as_path();
    let kernel = kernel_schema(schema).map_err(failed)?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut actions: Vec<Action> = Vec::with_capacity(adds.len() + removes.len() + 2);

    let (table, delta_op) = match base {
        None => {
            if lake.remote().is_none() {
                std::fs::create_dir_all(dir.join(LOG_DIR)).map_err(|source| {
                    failed(Error::Io {
                        path: dir.join(LOG_DIR),
                        source,
                    })
                })?;
            }
            let config: Vec<(String, String)> = properties
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect();
            let metadata = deltalake::kernel::new_metadata(&kernel, Vec::<String>::new(), config)
                .map_err(|e| dfail(dir, e))?;
            let protocol = protocol_for(&kernel).map_err(failed)?;
            actions.push(Action::Protocol(protocol.clone()));
            actions.push(Action::Metadata(metadata.clone()));
            let table = builder(lake, dataset)
                .map_err(failed)?
                .build()
                .map_err(|e| dfail(dir, e))?;
            (
                table,
                DeltaOperation::Create {
                    mode: SaveMode::ErrorIfExists,
                    location: lake.table_url(dataset).map_err(failed)?,
                    protocol,
                    metadata,
                },
            )
        }
        Some(v) => {
            let table = builder(lake, dataset)
                .map_err(failed)?
                .with_version(v)
                .load()
                .await
                .map_err(|e| dfail(dir, e))?;
            if !properties.is_empty() {
                let state = table.snapshot().map_err(|e| dfail(dir, e))?;
                // A new timestamp column needs the timestampNtz feature: the
                // protocol moves up in the same commit as the schema.
                let needs_ntz = deltalake::kernel::contains_timestampntz(kernel.fields());
                let has_ntz = state.protocol().min_reader_version() >= 3
                    && serde_json::to_string(state.protocol())
                        .is_ok_and(|p| p.contains("timestampNtz"));
                if needs_ntz && !has_ntz {
                    actions.push(Action::Protocol(protocol_for(&kernel).map_err(failed)?));
                }
                let old = state.metadata().clone();
                let mut metadata = old.with_schema(&kernel).map_err(|e| dfail(dir, e))?;
                for (k, v) in properties {
                    metadata = match v {
                        Some(v) => metadata.add_config_key(k, v),
                        None => metadata.remove_config_key(&k),
                    }
                    .map_err(|e| dfail(dir, e))?;
                }
                actions.push(Action::Metadata(metadata));
            }
            (
                table,
                DeltaOperation::Write {
                    mode: SaveMode::Append,
                    partition_by: None,
                    predicate: Some(operation.to_string()),
                },
            )
        }
    };
    for r in removes {
        actions.push(Action::Remove(Remove {
            path: r.path.clone(),
            data_change,
            deletion_timestamp: Some(now),
            extended_file_metadata: Some(true),
            partition_values: Some(HashMap::new()),
            size: Some(r.size as i64),
            ..Default::default()
        }));
    }
    for a in adds {
        actions.push(Action::Add(Add {
            path: a.path.clone(),
            partition_values: HashMap::new(),
            size: a.size as i64,
            modification_time: now,
            data_change,
            stats: Some(format!("{{\"numRecords\":{}}}", a.rows)),
            ..Default::default()
        }));
    }
    let snapshot = match base {
        Some(_) => Some(table.snapshot().map_err(|e| dfail(dir, e))?),
        None => None,
    };
    // No post-commit work inside the commit: an error there (a checkpoint
    // upload that fails) would read as a failed commit although the log
    // entry is written. Checkpoints are written below, best effort.
    let properties = CommitProperties::default()
        .with_max_retries(0)
        .with_create_checkpoint(false)
        .with_cleanup_expired_logs(Some(false));
    let result = CommitBuilder::from(properties)
        .with_actions(actions)
        .with_app_metadata(HashMap::from([(
            "safer".to_string(),
            serde_json::Value::String(operation.to_string()),
        )]))
        .build(
            snapshot.map(|s| s as &dyn deltalake::kernel::transaction::TableReference),
            table.log_store(),
            delta_op,
        )
        .await;
    if let Ok(done) = &result {
        let v = done.version();
        // A checkpoint every 100 versions keeps opening a table quick
        // however long its history; the log itself is never trimmed, so
        // every version a run recorded stays loadable.
        if (v + 1) % CHECKPOINT_EVERY == 0
            && let Err(e) = checkpoint(lake, dataset, v).await
        {
            tracing::warn!(table = dataset, version = v, error = %e, "Could not write a checkpoint; the table reads as before, only more slowly. `safer lake optimize` writes one.");
        }
    }
    match result {
        Ok(done) => Ok(done.version()),
        Err(DeltaTableError::Transaction {
            source:
                TransactionError::VersionAlreadyExists(_)
                | TransactionError::MaxCommitAttempts(_)
                | TransactionError::CommitConflict(_),
        })
        | Err(DeltaTableError::VersionAlreadyExists(_)) => Err(CommitError::Conflict),
        Err(e) => Err(failed(delta_err(dir)(e))),
    }
}

/// Versions between checkpoints.
const CHECKPOINT_EVERY: u64 = 100;

/// Write a checkpoint of a table at `version`.
pub(super) async fn checkpoint(lake: &Lake, dataset: &str, version: u64) -> Result<(), Error> {
    let place = place(lake, dataset);
    let table = builder(lake, dataset)?
        .with_version(version)
        .load()
        .await
        .map_err(delta_err(&place))?;
    deltalake::checkpoints::create_checkpoint(&table, None)
        .await
        .map_err(delta_err(&place))
}

impl Snapshot {
    /// A property's value.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.configuration.get(key).map(String::as_str)
    }
}
