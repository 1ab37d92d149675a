//! One atomic change to one dataset: replace some input units, add new rows,
//! quarantine bad ones, then commit one Delta version.
//!
//! A `Landing` is begun against the dataset's newest version. Readers say
//! which input units they are (re)landing; each partition they write holds
//! the old partition's rows minus those units, so a corrected month
//! replaces exactly that month and everything else is carried over (row
//! groups that hold none of those units as they were encoded). Nothing
//! the old version points at is touched: the commit adds the new files and
//! removes the old ones from the log, and the old files stay on disk for
//! time travel until vacuumed.
//!
//! Commits are optimistic. If another writer committed first and touched
//! none of this landing's partitions, the landing is rebased on its version
//! (their inputs kept, ours added) and committed again; if both rewrote a
//! partition, this landing is refused whole with [`Error::Conflict`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use parquet::file::writer::SerializedFileWriter;

use super::delta::{self, CommitError, LogFile, NewFile};
use super::manifest::partition_of;
use super::{
    Error, FileEntry, InputEntry, Lake, Manifest, QUARANTINE_DATASET, now_rfc3339, sync_dir,
    unique_suffix,
};
use crate::schema::{Column, INPUT_COLUMN, lake_schema, read_schema, same_declaration};

/// Rows per Parquet row group: large enough for good compression and few
/// footers, small enough that a writer's buffer stays bounded (~tens of MB).
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// A row that failed validation, kept with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    /// Input unit the row belongs to.
    pub input: String,
    /// File (or source) it came from.
    pub file: String,
    /// 1-based line number in the file (0 where there is no line, e.g. SQL).
    pub line: u64,
    /// Why it was refused.
    pub reason: String,
    /// The raw record as read, for the officer who fixes it.
    pub record: String,
}

/// What a committed landing changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LandingSummary {
    /// Partitions rewritten.
    pub partitions_written: Vec<String>,
    /// Rows now in the dataset.
    pub total_rows: u64,
    /// Quarantine rows written for this landing.
    pub quarantined: u64,
    /// Old rows replaced by new rows with the same key (upserts).
    pub superseded: u64,
}

/// An in-progress change to one dataset.
#[derive(Debug)]
pub struct Landing {
    lake: Lake,
    dataset: String,
    dir: PathBuf,
    columns: Vec<Column>,
    schema: SchemaRef,
    old: Manifest,
    replaced: HashSet<String>,
    full_refresh: bool,
    /// The declaration changes only which text is read as a dictionary:
    /// every old file is rewritten once with the new hint, from the file
    /// (no input is read again), so the table is read one way throughout.
    rehint: bool,
    writers: BTreeMap<String, PartitionWriter>,
    inputs: BTreeMap<String, InputEntry>,
    quarantine: Vec<QuarantineRow>,
    watermark: Option<String>,
    key: Vec<String>,
    merge: Option<KeyMerge>,
    superseded: u64,
    /// Units of this dataset with rows in the quarantine table.
    quarantined_units: HashSet<String>,
}

impl Landing {
    /// Begin a change to `dataset` with the given declared columns.
    ///
    /// If the declared columns differ from what the dataset was landed with,
    /// old rows cannot be carried over, so the landing becomes a full rebuild:
    /// every input is treated as new.
    pub fn begin(lake: &Lake, dataset: &str, columns: Vec<Column>) -> Result<Landing, Error> {
        let dir = lake.dataset_dir(dataset);
        let old = lake.latest(dataset)?;
        let full_refresh = matches!(&old, Some(m) if !same_declaration(&m.columns, &columns));
        if full_refresh {
            tracing::warn!(
                dataset,
                "Declared columns changed; rebuilding the dataset from its inputs."
            );
        }
        let rehint = !full_refresh
            && matches!(&old, Some(m) if read_schema(&m.columns) != read_schema(&columns)
                && !m.files.is_empty());
        if rehint {
            tracing::info!(
                dataset,
                "Text of few values is read differently now; rewriting the table's files once (no input is read again)."
            );
        }
        let old = old.unwrap_or_else(|| Manifest {
            dataset: dataset.to_string(),
            columns: columns.clone(),
            ..Manifest::default()
        });
        Ok(Landing {
            lake: lake.clone(),
            dataset: dataset.to_string(),
            dir,
            schema: lake_schema(&columns),
            columns,
            watermark: old.watermark.clone(),
            key: old.key.clone(),
            merge: None,
            superseded: 0,
            quarantined_units: if dataset == QUARANTINE_DATASET
                || crate::sources::checks::is_bookkeeping(dataset)
            {
                HashSet::new()
            } else {
                let prefix = format!("{dataset}/");
                lake.latest(QUARANTINE_DATASET)?
                    .map(|m| {
                        m.inputs
                            .keys()
                            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            },
            old,
            replaced: HashSet::new(),
            full_refresh,
            rehint,
            writers: BTreeMap::new(),
            inputs: BTreeMap::new(),
            quarantine: Vec::new(),
        })
    }

    /// The Arrow schema batches must have (declared columns plus `_input`).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The dataset's manifest as it was when the landing began.
    pub fn previous(&self) -> &Manifest {
        &self.old
    }

    /// Drop every old row: this landing replaces the whole dataset.
    pub fn replace_all(&mut self) {
        self.full_refresh = true;
    }

    /// Whether an input unit with this fingerprint still needs landing: it
    /// is new or changed, or its quarantine rows never made it into the
    /// quarantine table (a crash between the two commits).
    pub fn is_new(&self, unit: &str, fingerprint: &str) -> bool {
        self.full_refresh
            || self.old.inputs.get(unit).is_none_or(|i| {
                i.fingerprint != fingerprint
                    || (i.rows_quarantined > 0 && !self.quarantined_units.contains(unit))
            })
    }

    /// Declare that `unit` is being (re)landed, so its old rows drop out.
    /// Call for every unit before opening partitions.
    pub fn replace_unit(&mut self, unit: &str) {
        self.replaced.insert(unit.to_string());
    }

    /// Merge on `key`: an old row whose key a new row of this landing
    /// carries is replaced by it, wherever it lies. Call before any write.
    pub fn merge_on(&mut self, key: &[String]) -> Result<(), Error> {
        if !self.writers.is_empty() {
            return Err(Error::Internal("merge_on after a write".into()));
        }
        if let Some(c) = key
            .iter()
            .find(|k| !self.columns.iter().any(|c| &c.name == *k))
        {
            return Err(Error::Internal(format!("key column `{c}` is not declared")));
        }
        self.key = key.to_vec();
        self.merge = Some(KeyMerge {
            columns: key.to_vec(),
            keys: HashSet::new(),
        });
        Ok(())
    }

    /// Set the watermark to record on commit.
    pub fn set_watermark(&mut self, watermark: Option<String>) {
        self.watermark = watermark;
    }

    /// Open a writer for a partition, pre-filled with the old partition's rows
    /// minus replaced units. Hand the writer back with [`Landing::adopt`].
    pub fn open_partition(&self, partition: &str) -> Result<PartitionWriter, Error> {
        self.opener().open(partition)
    }

    /// A thread-safe handle for opening partitions from parser threads.
    /// Take it after every [`Landing::replace_unit`] call.
    pub fn opener(&self) -> PartitionOpener {
        PartitionOpener {
            lake: self.lake.clone(),
            dataset: self.dataset.clone(),
            dir: self.dir.clone(),
            columns: self.columns.clone(),
            // A merge copies old rows at commit, once every new key is known.
            old_files: if self.full_refresh || self.merge.is_some() {
                BTreeMap::new()
            } else {
                self.old.files.clone()
            },
            replaced: self.replaced.clone(),
        }
    }

    /// Take back a writer opened with [`Landing::open_partition`].
    pub fn adopt(&mut self, writer: PartitionWriter) -> Result<(), Error> {
        if self.writers.contains_key(&writer.partition) {
            return Err(Error::Internal(format!(
                "partition {} of {} written twice in one landing",
                writer.partition, self.dataset
            )));
        }
        self.writers.insert(writer.partition.clone(), writer);
        Ok(())
    }

    /// Write a batch to a partition, opening it on first use.
    pub fn write(&mut self, partition: &str, batch: &RecordBatch) -> Result<(), Error> {
        if !self.writers.contains_key(partition) {
            let w = self.open_partition(partition)?;
            self.writers.insert(partition.to_string(), w);
        }
        if let Some(m) = self.merge.as_mut() {
            m.add(batch)?;
        }
        match self.writers.get_mut(partition) {
            Some(w) => w.write(batch),
            None => Err(Error::Internal("partition writer vanished".into())),
        }
    }

    /// Record an input unit's accounting (rows read = landed + quarantined).
    pub fn record_input(&mut self, unit: &str, entry: InputEntry) {
        self.inputs.insert(unit.to_string(), entry);
    }

    /// Add quarantined rows.
    pub fn quarantine(&mut self, rows: Vec<QuarantineRow>) {
        self.quarantine.extend(rows);
    }

    /// Finish every file, swap the manifests, then remove superseded files.
    pub fn commit(mut self) -> Result<LandingSummary, Error> {
        // Partitions that held replaced units but received no new rows still
        // need rewriting without those units.
        let mut affected: BTreeSet<String> = BTreeSet::new();
        if self.rehint {
            affected.extend(self.old.files.keys().cloned());
        }
        for unit in &self.replaced {
            if let Some(i) = self.old.inputs.get(unit) {
                affected.extend(i.partitions.iter().cloned());
            }
        }
        if let Some(merge) = self.merge.take() {
            // Old rows join the new ones now that every new key is known;
            // partitions no new row went to are rewritten only when they
            // hold a replaced unit or an old version of a new key.
            let mut superseded = 0u64;
            if !self.full_refresh {
                for (p, old) in &self.old.files {
                    let path = self.lake.local_file(&self.dataset, &old.path)?;
                    if !self.writers.contains_key(p)
                        && (affected.contains(p) || merge.touches(&path)?)
                    {
                        let w = PartitionWriter::create(&self.dir, p, &self.columns)?;
                        self.writers.insert(p.clone(), w);
                    }
                    if let Some(w) = self.writers.get_mut(p) {
                        superseded += w.copy_from(&path, &self.replaced, Some(&merge))?;
                    }
                }
            }
            for entry in self.inputs.values_mut() {
                entry.rows_superseded = superseded;
            }
            self.superseded = superseded;
        } else {
            for p in affected {
                if !self.writers.contains_key(&p) && !self.full_refresh {
                    let w = self.open_partition(&p)?;
                    self.writers.insert(p, w);
                }
            }
        }

        let mut files = if self.full_refresh {
            BTreeMap::new()
        } else {
            self.old.files.clone()
        };
        let mut summary = LandingSummary::default();
        let mut written: Vec<String> = Vec::new();
        for (partition, w) in std::mem::take(&mut self.writers) {
            summary.partitions_written.push(partition.clone());
            match w.finish()? {
                Some(entry) => {
                    written.push(entry.path.clone());
                    files.insert(partition, entry);
                }
                None => {
                    files.remove(&partition);
                }
            }
        }

        let mut inputs = if self.full_refresh {
            BTreeMap::new()
        } else {
            self.old.inputs.clone()
        };
        for unit in &self.replaced {
            inputs.remove(unit);
        }
        inputs.append(&mut self.inputs);

        // Source tests see the table as it will be. A refusal removes the
        // new files; the old version and everything it points at stay.
        if let Some(checks) = self.lake.checks().cloned()
            && let Err(e) = checks.gate(&self.lake, &self.dataset, &self.old, &files, &inputs)
        {
            self.discard(&written);
            return Err(e);
        }

        summary.quarantined = self.quarantine.len() as u64;
        let manifest = Manifest {
            dataset: self.dataset.clone(),
            columns: self.columns.clone(),
            files,
            inputs,
            watermark: self.watermark.clone(),
            updated_at: now_rfc3339(),
            key: self.key.clone(),
            version: self.old.version,
        };
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        // On object storage the new files go up before the commit that
        // names them; a failed upload leaves nothing committed.
        for rel in &written {
            if let Err(e) = self.lake.publish_file(&self.dataset, rel) {
                self.discard(&written);
                return Err(e);
            }
        }
        crate::faults::crash_point("lake:before-commit");
        crate::faults::pause_point("lake:before-commit");
        let committed = match self.commit_version(manifest) {
            Ok(m) => m,
            Err(e) => match self.committed_anyway(&written) {
                // The log entry was written although the call failed (a
                // timeout after the write, say): the landing stands.
                Some(m) => m,
                None => {
                    self.discard(&written);
                    return Err(e);
                }
            },
        };
        crate::faults::crash_point("lake:after-commit");
        // Quarantine after the data: a refused data commit leaves the
        // quarantine table alone (no rows for a landing that never was). A
        // crash in between leaves a unit whose quarantine rows are missing;
        // the next landing sees that and lands the unit again
        // ([`Landing::is_new`]).
        if self.dataset != QUARANTINE_DATASET
            && !crate::sources::checks::is_bookkeeping(&self.dataset)
        {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.commit_quarantine() {
                    Ok(()) => break,
                    Err(Error::Conflict { .. }) if attempt < 5 => continue,
                    Err(e) => {
                        return Err(Error::Internal(format!(
                            "`{}` landed, but its {} quarantined row(s) could not be recorded ({e}); the next import of the same files records them",
                            self.dataset,
                            self.quarantine.len()
                        )));
                    }
                }
            }
        }
        summary.total_rows = committed.rows();
        summary.superseded = self.superseded;
        remove_temp_files(&self.dir);
        Ok(summary)
    }

    /// The newest version, if it lists every file this landing wrote: the
    /// commit happened although it reported an error.
    fn committed_anyway(&self, written: &[String]) -> Option<Manifest> {
        if written.is_empty() {
            return None;
        }
        let latest = self.lake.latest(&self.dataset).ok()??;
        let live: HashSet<&str> = latest.files.values().map(|f| f.path.as_str()).collect();
        written
            .iter()
            .all(|w| live.contains(w.as_str()))
            .then_some(latest)
    }

    /// Remove files this landing wrote and did not commit (best effort: a
    /// file left behind wastes space but is never read; vacuum removes it).
    fn discard(&self, written: &[String]) {
        for rel in written {
            self.lake.discard_file(&self.dataset, rel);
        }
    }

    /// Commit `manifest` as the next version, rebasing on other writers'
    /// commits where they touched none of the same partitions.
    fn commit_version(&self, mut manifest: Manifest) -> Result<Manifest, Error> {
        let mut base = self.old.clone();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (adds, removes) = file_changes(&base, &manifest, self.full_refresh);
            let operation = if self.full_refresh {
                "rebuild"
            } else {
                "landing"
            };
            let result = delta::block_on(delta::commit(
                &self.lake,
                &self.dataset,
                base.version,
                &self.schema,
                manifest.properties()?,
                &adds,
                &removes,
                operation,
                true,
            ));
            match result {
                Ok(v) => {
                    manifest.version = Some(v);
                    return Ok(manifest);
                }
                Err(CommitError::Failed(e)) => return Err(e),
                Err(CommitError::Conflict) => {
                    let conflict = |why: &str| Error::Conflict {
                        dataset: self.dataset.clone(),
                        why: why.to_string(),
                    };
                    let Some(latest) = self.lake.latest(&self.dataset)? else {
                        return Err(conflict("the table could not be read back"));
                    };
                    // A rebase would skip what this landing decided against
                    // the old version: a key merge (the other writer may
                    // hold the same keys elsewhere) and the source tests.
                    let tested = self
                        .lake
                        .checks()
                        .is_some_and(|c| c.has_tests(&self.dataset));
                    let refusal = if attempts >= 8 {
                        Some("other writers kept committing first (8 attempts)")
                    } else if self.full_refresh
                        || !same_declaration(&latest.columns, &manifest.columns)
                    {
                        Some("this landing rebuilds the whole table")
                    } else if !self.key.is_empty() {
                        Some(
                            "this landing merges on a key, which must be matched against the newest rows",
                        )
                    } else if tested {
                        Some("this landing's source tests ran against the version it started from")
                    } else {
                        None
                    };
                    if let Some(why) = refusal {
                        return Err(conflict(why));
                    }
                    // Rebase only when every partition this landing wrote
                    // is as it was when the landing began.
                    let touched: BTreeSet<String> = adds
                        .iter()
                        .map(|a| partition_of(&a.path))
                        .chain(removes.iter().map(|r| partition_of(&r.path)))
                        .collect();
                    let unchanged = touched.iter().all(|p| {
                        base.files.get(p).map(|f| &f.path) == latest.files.get(p).map(|f| &f.path)
                    });
                    if !unchanged {
                        return Err(conflict("both changed the same partitions"));
                    }
                    tracing::info!(
                        dataset = %self.dataset,
                        version = ?latest.version,
                        "Another writer committed first; rebasing this landing on its version."
                    );
                    let mut files = latest.files.clone();
                    for p in &touched {
                        match manifest.files.get(p) {
                            Some(f) => files.insert(p.clone(), f.clone()),
                            None => files.remove(p),
                        };
                    }
                    let mut inputs = latest.inputs.clone();
                    for unit in &self.replaced {
                        inputs.remove(unit);
                    }
                    for (unit, entry) in &manifest.inputs {
                        if !self.old.inputs.contains_key(unit) || self.replaced.contains(unit) {
                            inputs.insert(unit.clone(), entry.clone());
                        }
                    }
                    manifest.files = files;
                    manifest.inputs = inputs;
                    if manifest.watermark.is_none() {
                        manifest.watermark = latest.watermark.clone();
                    }
                    base = latest;
                }
            }
        }
    }

    fn commit_quarantine(&self) -> Result<(), Error> {
        let partition = format!("dataset={}", self.dataset);
        // Only units that have quarantine rows now, or had before, touch
        // the quarantine table: a landing with nothing to quarantine and no
        // old rows to withdraw leaves it alone (and cannot clash there with
        // another writer).
        let prefix = format!("{}/", self.dataset);
        let old_units: HashSet<String> = self
            .lake
            .latest(QUARANTINE_DATASET)?
            .map(|m| {
                m.inputs
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let replaced: HashSet<String> = if self.full_refresh {
            // Every old quarantine row of this dataset goes with the old data.
            old_units
        } else {
            self.replaced
                .iter()
                .filter(|u| old_units.contains(*u))
                .cloned()
                .collect()
        };
        if self.quarantine.is_empty() && replaced.is_empty() {
            return Ok(());
        }
        let mut q = Landing::begin(&self.lake, QUARANTINE_DATASET, quarantine_columns())?;
        for unit in &replaced {
            q.replace_unit(&quarantine_unit(&self.dataset, unit));
        }
        let mut w = q.open_partition(&partition)?;
        let landed_at = now_rfc3339();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for chunk in self.quarantine.chunks(8192) {
            w.write(&quarantine_batch(&self.dataset, chunk, &landed_at)?)?;
            for r in chunk {
                *counts.entry(r.input.clone()).or_default() += 1;
            }
        }
        q.adopt(w)?;
        for (input, n) in counts {
            q.record_input(
                &quarantine_unit(&self.dataset, &input),
                InputEntry {
                    origin: format!("{}:{}", self.dataset, input),
                    fingerprint: String::new(),
                    partitions: vec![partition.clone()],
                    rows_read: n,
                    rows_landed: n,
                    rows_quarantined: 0,
                    rows_superseded: 0,
                    table_versions: Default::default(),
                    min_month: None,
                    max_month: None,
                    landed_at: landed_at.clone(),
                    stat: None,
                },
            );
        }
        q.commit().map(|_| ())
    }
}

fn quarantine_unit(dataset: &str, unit: &str) -> String {
    format!("{dataset}/{unit}")
}

/// Columns of the quarantine table.
pub fn quarantine_columns() -> Vec<Column> {
    use crate::schema::ColumnType::*;
    vec![
        Column::new("dataset", String),
        Column::new("file", String),
        Column::new("line", Int),
        Column::new("reason", String),
        Column::new("record", String),
        Column::new("quarantined_at", String),
    ]
}

fn quarantine_batch(dataset: &str, rows: &[QuarantineRow], at: &str) -> Result<RecordBatch, Error> {
    let schema = lake_schema(&quarantine_columns());
    let n = rows.len();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![dataset; n])),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.file.as_str()),
        )),
        Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(
            rows.iter().map(|r| r.line as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.record.as_str()),
        )),
        Arc::new(StringArray::from(vec![at; n])),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| quarantine_unit(dataset, &r.input)),
        )),
    ];
    RecordBatch::try_new(schema, cols).map_err(|e| Error::Internal(e.to_string()))
}

/// Fold each crowded partition's files into one, in one commit that
/// changes no data. Returns the partitions compacted.
pub(super) fn compact(
    lake: &Lake,
    table: &str,
    snapshot: &delta::Snapshot,
    crowded: Vec<(String, Vec<LogFile>)>,
) -> Result<Vec<String>, Error> {
    let dir = lake.dataset_dir(table);
    let columns: Vec<Column> = super::manifest::snapshot_columns(snapshot)
        .and_then(Result::ok)
        .ok_or_else(|| Error::Manifest {
            path: dir.clone(),
            message: "table property safer.columns is missing or unreadable".into(),
        })?;
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    let mut written = Vec::new();
    let mut done = Vec::new();
    for (partition, files) in crowded {
        let mut w = PartitionWriter::create(&dir, &partition, &columns)?;
        for f in &files {
            w.copy_from(&lake.local_file(table, &f.path)?, &HashSet::new(), None)?;
        }
        if let Some(entry) = w.finish()? {
            lake.publish_file(table, &entry.path)?;
            written.push(entry.path.clone());
            adds.push(NewFile {
                path: entry.path,
                size: entry.bytes,
                rows: entry.rows,
            });
        }
        removes.extend(files);
        done.push(partition);
    }
    let result = delta::block_on(delta::commit(
        lake,
        table,
        Some(snapshot.version),
        &lake_schema(&columns),
        Vec::new(),
        &adds,
        &removes,
        "optimize",
        false,
    ));
    match result {
        Ok(_) => Ok(done),
        Err(e) => {
            for rel in &written {
                lake.discard_file(table, rel);
            }
            Err(match e {
                CommitError::Conflict => Error::Conflict {
                    dataset: table.to_string(),
                    why: "optimize rewrote files it had just read".into(),
                },
                CommitError::Failed(e) => e,
            })
        }
    }
}

/// The log actions that turn `base` into `next`: files to add and files to
/// remove, compared by path.
fn file_changes(
    base: &Manifest,
    next: &Manifest,
    full_refresh: bool,
) -> (Vec<NewFile>, Vec<LogFile>) {
    let next_paths: HashSet<&str> = next.files.values().map(|f| f.path.as_str()).collect();
    let base_paths: HashSet<&str> = base.files.values().map(|f| f.path.as_str()).collect();
    let removes = base
        .files
        .values()
        .filter(|f| full_refresh || !next_paths.contains(f.path.as_str()))
        .map(|f| LogFile {
            path: f.path.clone(),
            size: f.bytes,
            rows: f.rows,
        })
        .collect();
    let adds = next
        .files
        .values()
        .filter(|f| !base_paths.contains(f.path.as_str()))
        .map(|f| NewFile {
            path: f.path.clone(),
            size: f.bytes,
            rows: f.rows,
        })
        .collect();
    (adds, removes)
}

/// How old a temp file must be before a landing takes it for a dead
/// writer's leftover. Younger ones may belong to a writer still at work
/// (another process landing other partitions of the same table).
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Remove temp files left in the table's partition folders by writers that
/// died. Committed files, current or superseded, are vacuum's business.
fn remove_temp_files(dir: &Path) {
    let Ok(parts) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for part in parts.flatten() {
        let p = part.path();
        if !p.is_dir() || part.file_name() == delta::LOG_DIR {
            continue;
        }
        let Ok(files) = std::fs::read_dir(&p) else {
            continue;
        };
        for f in files.flatten() {
            let stale = f
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP);
            if stale && f.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
}

/// Opens partition writers; shareable across parser threads.
#[derive(Debug, Clone)]
pub struct PartitionOpener {
    lake: Lake,
    dataset: String,
    dir: PathBuf,
    columns: Vec<Column>,
    old_files: BTreeMap<String, FileEntry>,
    replaced: HashSet<String>,
}

impl PartitionOpener {
    /// A writer for `partition` that carries over the old rows that stay
    /// ([`PartitionWriter::carry_over`]).
    pub fn open(&self, partition: &str) -> Result<PartitionWriter, Error> {
        let mut w = PartitionWriter::create(&self.dir, partition, &self.columns)?;
        if let Some(old) = self.old_files.get(partition) {
            let path = self.lake.local_file(&self.dataset, &old.path)?;
            w.carry_over(&path, &self.replaced)?;
        }
        Ok(w)
    }
}

/// Writes one partition's new Parquet file under a temporary name.
pub struct PartitionWriter {
    partition: String,
    dir: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
    rows: u64,
    /// The Arrow schema written.
    schema: SchemaRef,
    /// Old row groups to append as they are, after the new rows.
    spliced: Vec<Splice>,
}

/// Row groups of an old file that keep every row: their encoded bytes go
/// into the new file unread.
struct Splice {
    path: PathBuf,
    file: File,
    metadata: Arc<ParquetMetaData>,
    row_groups: Vec<usize>,
}

impl std::fmt::Debug for PartitionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionWriter")
            .field("partition", &self.partition)
            .field("tmp", &self.tmp)
            .field("rows", &self.rows)
            .finish()
    }
}

impl PartitionWriter {
    fn create(dataset_dir: &Path, partition: &str, columns: &[Column]) -> Result<Self, Error> {
        let dir = dataset_dir.join(partition);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let tmp = dir.join(format!(".part-{}.parquet.tmp", unique_suffix()));
        let file = File::create(&tmp).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(|e| Error::Internal(format!("zstd level: {e}")))?,
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        // Batches arrive as plain text and are written as such; the Arrow
        // schema the file carries for its readers is the read schema, which
        // asks for text of few values as dictionaries. Both describe the
        // same Parquet column (a dictionary-encoded UTF-8 byte array), so
        // the hint costs nothing here and saves copying every row's text
        // on every query. Readers that do not want it skip it (`copy_from`).
        add_encoded_arrow_schema_to_metadata(&read_schema(columns), &mut props);
        let options = ArrowWriterOptions::new()
            .with_properties(props)
            .with_skip_arrow_metadata(true);
        let schema = lake_schema(columns);
        let writer =
            ArrowWriter::try_new_with_options(file, schema.clone(), options).map_err(|e| {
                Error::Parquet {
                    path: tmp.clone(),
                    message: e.to_string(),
                }
            })?;
        Ok(PartitionWriter {
            partition: partition.to_string(),
            dir,
            tmp,
            writer: Some(writer),
            rows: 0,
            schema,
            spliced: Vec::new(),
        })
    }

    /// The partition this writer fills.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Append a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| Error::Internal("write after finish".into()))?;
        w.write(batch).map_err(|e| Error::Parquet {
            path: self.tmp.clone(),
            message: e.to_string(),
        })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Carry an old file's rows over, minus those whose `_input` is in
    /// `drop`. A row group whose `_input` statistics show it holds none of
    /// the dropped units is appended as it is at [`Self::finish`], its
    /// encoded bytes copied unread: landing one new month into a year's
    /// file then costs a copy of the year, not a decode and re-encode of
    /// it. Other row groups, and every row group of a file written with
    /// another Parquet schema, are read and filtered as [`Self::copy_from`]
    /// does.
    fn carry_over(&mut self, old: &Path, drop: &HashSet<String>) -> Result<(), Error> {
        let perr = |e: &dyn std::fmt::Display| Error::Parquet {
            path: old.to_path_buf(),
            message: e.to_string(),
        };
        let file = open_old(old)?;
        let options = ArrowReaderOptions::new()
            .with_skip_arrow_metadata(true)
            .with_page_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load(&file, options).map_err(|e| perr(&e))?;
        let metadata = Arc::clone(meta.metadata());
        let own = ArrowSchemaConverter::new()
            .convert(&self.schema)
            .map_err(|e| perr(&e))?;
        let same_schema =
            metadata.file_metadata().schema_descr().root_schema() == own.root_schema();
        let input_col = own.columns().iter().position(|c| c.name() == INPUT_COLUMN);
        let (mut keep, mut read): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        for (i, rg) in metadata.row_groups().iter().enumerate() {
            let untouched = drop.is_empty()
                || input_col.is_some_and(|c| none_within(rg.column(c).statistics(), drop));
            if same_schema && untouched {
                keep.push(i);
            } else {
                read.push(i);
            }
        }
        if !read.is_empty() {
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                file.try_clone().map_err(|source| Error::Io {
                    path: old.to_path_buf(),
                    source,
                })?,
                meta,
            )
            .with_row_groups(read)
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| perr(&e))?;
            self.copy_batches(old, reader, drop, None)?;
        }
        if !keep.is_empty() {
            self.rows += keep
                .iter()
                .map(|&i| metadata.row_group(i).num_rows() as u64)
                .sum::<u64>();
            self.spliced.push(Splice {
                path: old.to_path_buf(),
                file,
                metadata,
                row_groups: keep,
            });
        }
        Ok(())
    }

    /// Copy an old file's rows, skipping those whose `_input` is in `drop`
    /// and, when merging on a key, those whose key a new row carries.
    /// Returns how many rows the key replaced.
    fn copy_from(
        &mut self,
        old: &Path,
        drop: &HashSet<String>,
        merge: Option<&KeyMerge>,
    ) -> Result<u64, Error> {
        let perr = |e: &dyn std::fmt::Display| Error::Parquet {
            path: old.to_path_buf(),
            message: e.to_string(),
        };
        let file = open_old(old)?;
        // Plain text, whatever the file's hint says: the rows go straight
        // back into a writer that takes plain text (see `create`).
        let plain = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, plain)
            .map_err(|e| perr(&e))?
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| perr(&e))?;
        self.copy_batches(old, reader, drop, merge)
    }

    /// Write `reader`'s rows but those of a dropped unit or a merged key;
    /// returns how many rows the key replaced.
    fn copy_batches(
        &mut self,
        old: &Path,
        reader: ParquetRecordBatchReader,
        drop: &HashSet<String>,
        merge: Option<&KeyMerge>,
    ) -> Result<u64, Error> {
        let perr = |e: &dyn std::fmt::Display| Error::Parquet {
            path: old.to_path_buf(),
            message: e.to_string(),
        };
        let mut superseded = 0u64;
        for batch in reader {
            let batch = batch.map_err(|e| perr(&e))?;
            let by_key = match merge {
                Some(m) if !m.keys.is_empty() => Some(m.matches(&batch)?),
                _ => None,
            };
            let batch = if drop.is_empty() && by_key.is_none() {
                batch
            } else {
                let input = batch
                    .column_by_name(INPUT_COLUMN)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .ok_or_else(|| perr(&"no _input column"))?;
                let keep: BooleanArray = input
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let unit_dropped = v.is_some_and(|v| drop.contains(v));
                        let key_dropped = by_key.as_ref().is_some_and(|k| k[i]);
                        if key_dropped && !unit_dropped {
                            superseded += 1;
                        }
                        Some(!(unit_dropped || key_dropped))
                    })
                    .collect();
                filter_record_batch(&batch, &keep).map_err(|e| perr(&e))?
            };
            self.write(&batch)?;
        }
        Ok(superseded)
    }

    /// Close, fsync and rename into place. Returns `None` (and removes the
    /// temp file) when the partition ended up empty.
    fn finish(mut self) -> Result<Option<FileEntry>, Error> {
        let w = self
            .writer
            .take()
            .ok_or_else(|| Error::Internal("finish twice".into()))?;
        let perr = |e: parquet::errors::ParquetError| Error::Parquet {
            path: self.tmp.clone(),
            message: e.to_string(),
        };
        if self.spliced.is_empty() {
            w.close().map_err(perr)?;
        } else {
            let (mut fw, _) = w.into_serialized_writer().map_err(perr)?;
            for s in std::mem::take(&mut self.spliced) {
                splice(&mut fw, &s).map_err(|e| Error::Parquet {
                    path: s.path.clone(),
                    message: e.to_string(),
                })?;
            }
            fw.close().map_err(perr)?;
        }
        if self.rows == 0 {
            let _ = std::fs::remove_file(&self.tmp);
            return Ok(None);
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&self.tmp))?;
        let name = format!("part-{}.parquet", unique_suffix());
        let dest = self.dir.join(&name);
        std::fs::rename(&self.tmp, &dest).map_err(io(&dest))?;
        sync_dir(&self.dir)?;
        let bytes = std::fs::metadata(&dest).map_err(io(&dest))?.len();
        Ok(Some(FileEntry {
            path: format!("{}/{}", self.partition, name),
            rows: self.rows,
            bytes,
        }))
    }
}

/// An old file to carry rows over from.
fn open_old(old: &Path) -> Result<File, Error> {
    File::open(old).map_err(|source| Error::Io {
        path: old.to_path_buf(),
        source,
    })
}

/// Append `s`'s row groups to `fw` as they are encoded, with their
/// statistics and page index; the column chunks' offsets are moved to where
/// they land.
fn splice(
    fw: &mut SerializedFileWriter<File>,
    s: &Splice,
) -> Result<(), parquet::errors::ParquetError> {
    for &i in &s.row_groups {
        let rg = s.metadata.row_group(i);
        let mut out = fw.next_row_group()?;
        for (c, chunk) in rg.columns().iter().enumerate() {
            let column_index = s
                .metadata
                .column_index()
                .and_then(|x| x.get(i)?.get(c).cloned())
                .filter(|x| !matches!(x, ColumnIndexMetaData::NONE));
            let offset_index = s
                .metadata
                .offset_index()
                .and_then(|x| x.get(i)?.get(c).cloned());
            out.append_column(
                &s.file,
                ColumnCloseResult {
                    bytes_written: chunk.compressed_size() as u64,
                    rows_written: rg.num_rows() as u64,
                    metadata: chunk.clone(),
                    bloom_filter: None,
                    column_index,
                    offset_index,
                },
            )?;
        }
        out.close()?;
    }
    Ok(())
}

/// Whether a row group's `_input` statistics show that none of `units` is
/// among its values. No statistics prove nothing. Parquet may shorten long
/// minima and maxima, but only ever to bounds that still enclose every
/// value, so a unit outside them is not in the row group.
fn none_within(stats: Option<&Statistics>, units: &HashSet<String>) -> bool {
    let Some(Statistics::ByteArray(s)) = stats else {
        return false;
    };
    let (Some(min), Some(max)) = (s.min_opt(), s.max_opt()) else {
        return false;
    };
    let (min, max) = (min.data(), max.data());
    units
        .iter()
        .all(|u| u.as_bytes() < min || u.as_bytes() > max)
}

impl Drop for PartitionWriter {
    fn drop(&mut self) {
        // An abandoned writer (error part way) leaves no temp file behind.
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An upsert in progress: the key columns and every key the new rows carry.
/// Old rows with one of those keys are left out when their partition is
/// rewritten, so an updated source row replaces its old version (a MERGE,
/// done copy-on-write: one commit removes the old file and adds the new).
#[derive(Debug, Default)]
struct KeyMerge {
    columns: Vec<String>,
    keys: HashSet<String>,
}

impl KeyMerge {
    /// The key of every row of a batch, as text (columns joined by a unit
    /// separator; a null is a NUL so it never equals an empty string).
    fn row_keys(&self, batch: &RecordBatch) -> Result<Vec<String>, Error> {
        use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
        let options = FormatOptions::default();
        let mut arrays = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            let a = batch
                .column_by_name(c)
                .ok_or_else(|| Error::Internal(format!("key column `{c}` is not in the table")))?;
            arrays.push(a.clone());
        }
        let mut formatters = Vec::with_capacity(self.columns.len());
        for a in &arrays {
            formatters.push(
                ArrayFormatter::try_new(a.as_ref(), &options)
                    .map_err(|e| Error::Internal(format!("key column: {e}")))?,
            );
        }
        let mut out = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let mut k = String::new();
            for (j, (a, f)) in arrays.iter().zip(&formatters).enumerate() {
                if j > 0 {
                    k.push('\u{1f}');
                }
                if a.is_null(i) {
                    k.push('\0');
                } else {
                    k.push_str(&f.value(i).to_string());
                }
            }
            out.push(k);
        }
        Ok(out)
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let keys = self.row_keys(batch)?;
        self.keys.extend(keys);
        Ok(())
    }

    /// For each row of an old batch: does a new row carry its key?
    fn matches(&self, batch: &RecordBatch) -> Result<Vec<bool>, Error> {
        Ok(self
            .row_keys(batch)?
            .iter()
            .map(|k| self.keys.contains(k))
            .collect())
    }

    /// Whether any row of an old file carries a new key (reads only the
    /// key columns).
    fn touches(&self, path: &Path) -> Result<bool, Error> {
        use parquet::arrow::ProjectionMask;
        let perr = |e: &dyn std::fmt::Display| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if self.keys.is_empty() {
            return Ok(false);
        }
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| perr(&e))?;
        let roots: Vec<usize> = self
            .columns
            .iter()
            .filter_map(|c| builder.schema().index_of(c).ok())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| perr(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| perr(&e))?;
            if self.matches(&batch)?.into_iter().any(|m| m) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A batch-building helper for readers: the `_input` column for `n` rows.
pub fn input_column(unit: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from(vec![unit; n]))
}
