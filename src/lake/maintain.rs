//! Keeping the lake tidy: `safer lake vacuum` and `safer lake optimize`.
//!
//! Every landing leaves the files it superseded on disk, so any version a
//! run read can be read again (`safer run --lake-as-of run:<id>`, `safer
//! diff`). Vacuum removes what no wanted version needs: files superseded
//! longer ago than the retention, except those of the versions the ledger
//! still names, and orphans a crashed writer left (never committed). Optimize
//! folds a partition that holds several files (another Delta writer's
//! appends) into one and writes a checkpoint, so readers replay fewer log
//! entries.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use deltalake::operations::vacuum::VacuumMode;

use super::delta::{self, At};
use super::{Error, Lake};

/// What vacuum did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacuumed {
    /// The table.
    pub table: String,
    /// Versions kept readable because a run in the ledger read them.
    pub kept_versions: Vec<u64>,
    /// Files removed (paths relative to the table).
    pub files_removed: Vec<String>,
}

/// Vacuum every table: remove data files that neither the newest version
/// nor any version in `keep` (table -> versions a run read) needs, once
/// they have been superseded for longer than `retention`. A dry run lists
/// the files and removes nothing.
pub fn vacuum(
    lake: &Lake,
    keep: &BTreeMap<String, BTreeSet<u64>>,
    retention: Duration,
    dry_run: bool,
) -> Result<Vec<Vacuumed>, Error> {
    let mut out = Vec::new();
    for table in lake.table_names()? {
        let dir = lake.dataset_dir(&table);
        let kept: Vec<u64> = keep
            .get(&table)
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        let files = delta::block_on(async {
            let derr = |e: deltalake::DeltaTableError| Error::Delta {
                path: dir.clone(),
                message: e.to_string(),
            };
            let table = delta::open_table(lake, &table).await?;
            let versions: Vec<deltalake::kernel::Version> = kept
                .iter()
                .map(|v| *v as deltalake::kernel::Version)
                .collect();
            let (_, metrics) = table
                .vacuum()
                .with_retention_period(
                    chrono::Duration::from_std(retention)
                        .unwrap_or_else(|_| chrono::Duration::days(36500)),
                )
                .with_enforce_retention_duration(false)
                .with_keep_versions(&versions)
                .with_mode(VacuumMode::Full)
                .with_dry_run(dry_run)
                .await
                .map_err(derr)?;
            Ok::<_, Error>(metrics.files_deleted)
        })?;
        // Report paths relative to the table, never the machine's.
        let root = lake.table_url(&table)?.to_string();
        let abs = std::path::absolute(&dir).unwrap_or(dir.clone());
        let files_removed = files
            .into_iter()
            .map(|f| {
                if let Some(rel) = f.strip_prefix(&root) {
                    return rel.to_string();
                }
                let p = f.trim_start_matches("file://");
                std::path::Path::new(p)
                    .strip_prefix(&abs)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or(f.clone())
            })
            .collect();
        out.push(Vacuumed {
            table,
            kept_versions: kept,
            files_removed,
        });
    }
    Ok(out)
}

/// What optimize did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optimized {
    /// The table.
    pub table: String,
    /// Partitions whose files were folded into one.
    pub compacted: Vec<String>,
    /// Whether a checkpoint was written.
    pub checkpoint: bool,
}

/// Optimize every table: fold partitions holding several files into one
/// (a version that changes no data) and write a checkpoint.
pub fn optimize(lake: &Lake) -> Result<Vec<Optimized>, Error> {
    let mut out = Vec::new();
    for table in lake.table_names()? {
        let Some(snapshot) = delta::block_on(delta::load(lake, &table, At::Latest))? else {
            continue;
        };
        let mut by_partition: BTreeMap<String, Vec<delta::LogFile>> = BTreeMap::new();
        for f in &snapshot.files {
            by_partition
                .entry(super::manifest::partition_of(&f.path))
                .or_default()
                .push(f.clone());
        }
        let crowded: Vec<(String, Vec<delta::LogFile>)> = by_partition
            .into_iter()
            .filter(|(_, files)| files.len() > 1)
            .collect();
        let mut compacted = Vec::new();
        if !crowded.is_empty() {
            compacted = super::landing::compact(lake, &table, &snapshot, crowded)?;
        }
        let newest = match compacted.is_empty() {
            true => snapshot.version,
            false => delta::block_on(delta::load(lake, &table, At::Latest))?
                .map_or(snapshot.version, |s| s.version),
        };
        delta::block_on(delta::checkpoint(lake, &table, newest))?;
        out.push(Optimized {
            table,
            compacted,
            checkpoint: true,
        });
    }
    Ok(out)
}

/// The file an earlier safer kept each table's bookkeeping in.
pub const LEGACY_MANIFEST: &str = "_manifest.json";

/// Tables an earlier safer wrote (Parquet plus `_manifest.json`, no Delta
/// log), by name.
pub fn legacy_tables(lake: &Lake) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(lake.root()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join(LEGACY_MANIFEST).is_file() && !delta::is_table(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Bring tables an earlier safer wrote into the Delta log: one commit each
/// that adds exactly the files the old manifest listed, with its input
/// units and watermark as properties. The old manifest is kept beside it,
/// renamed `_manifest.json.converted`. Call with the lake's write lock held.
pub fn convert_legacy(lake: &Lake) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    for table in legacy_tables(lake) {
        let dir = lake.dataset_dir(&table);
        let path = dir.join(LEGACY_MANIFEST);
        let bytes = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let m: super::Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let adds: Vec<delta::NewFile> = m
            .files
            .values()
            .map(|f| delta::NewFile {
                path: f.path.clone(),
                size: f.bytes,
                rows: f.rows,
            })
            .collect();
        let schema = crate::schema::lake_schema(&m.columns);
        let result = delta::block_on(delta::commit(
            lake,
            &table,
            None,
            &schema,
            m.properties()?,
            &adds,
            &[],
            "convert",
            true,
        ));
        match result {
            Ok(_) => {}
            Err(delta::CommitError::Conflict) => {
                return Err(Error::Conflict {
                    dataset: table,
                    why: "another writer converted it at the same time".into(),
                });
            }
            Err(delta::CommitError::Failed(e)) => return Err(e),
        }
        let kept = dir.join(format!("{LEGACY_MANIFEST}.converted"));
        std::fs::rename(&path, &kept).map_err(|source| Error::Io { path, source })?;
        tracing::info!(table = %table, files = adds.len(), "Converted a table from the earlier lake layout to a Delta table.");
        done.push(table);
    }
    Ok(done)
}
