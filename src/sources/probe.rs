//! Whether a SQLite partner database has been written to since it was last
//! read, so a night with nothing new does not read every row again to find
//! that out.
//!
//! A full-refresh source is fingerprinted row by row and left alone when
//! the rows are the same, but only after every row has been read: on the
//! demo county that was most of a nightly ingest with no new data. A
//! SQLite database is a file, so what it holds can be told from the file
//! itself: its size, its modification time, the change counter SQLite
//! keeps in its header (bumped on every commit in rollback mode), and the
//! size and time of its write-ahead log (where commits go in WAL mode until
//! they are copied in). The look is recorded beside the ledger with the
//! table version the pull left; the next pull of the same query skips the
//! database when the file looks the same and the table is still at that
//! version (another machine, or a restore, may have moved it).
//!
//! A file written in the last few seconds is never recorded: its time may
//! not have ticked since the last write (the "racily clean" case), so only
//! a file that has been still for a while can be trusted to look different
//! after a change. A query that reads the clock (`date('now')`) is always
//! run, and a new safer build reads every file again. Server databases
//! (PostgreSQL, MySQL) cannot be looked at this way and are always queried;
//! incremental mode is their cheap path. A database on a network share
//! whose client caches file times, or a tool that writes a file and puts
//! its old time back in WAL mode, can hide a change: delete
//! `ledger/source-probes/` (or `touch` the file) to have it read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SqlSource;

/// How long a file must have been still before its look is trusted.
const SETTLED: Duration = Duration::from_secs(5);

/// What a source's database file looked like when it was last read in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    /// The file's look ([`look`]).
    look: String,
    /// The table's version after that pull.
    table_version: u64,
}

/// Where the looks are kept: one small file per source.
pub fn dir(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("source-probes")
}

fn file(dir: &Path, src: &SqlSource) -> PathBuf {
    // Source names are free text: the file is named by their hash.
    let h = hex::encode(Sha256::digest(src.name.as_bytes()));
    dir.join(format!("{}.json", &h[..16]))
}

/// How a SQLite database file and its write-ahead log look now, together
/// with everything about the source that decides what a pull reads (its
/// query, columns and mode), or `None` when the file cannot be looked at
/// or has changed too recently to be trusted.
pub fn look(src: &SqlSource, db: &Path) -> Option<String> {
    // A query that reads the clock moves while the file stands still.
    if crate::reuse::moves_by_itself(&src.query) {
        return None;
    }
    // SQLite follows a link and keeps its log beside the real file.
    let db = &std::fs::canonicalize(db).ok()?;
    let now = SystemTime::now();
    let stat = |p: &Path| -> Option<Option<(u64, u128)>> {
        match std::fs::metadata(p) {
            Ok(m) => {
                let t = m.modified().ok()?;
                if now.duration_since(t).unwrap_or_default() < SETTLED {
                    return None;
                }
                let ns = t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_nanos();
                Some(Some((m.len(), ns)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(None),
            Err(_) => None,
        }
    };
    let main = stat(db)??;
    let with = |suffix: &str| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    let wal = stat(&with("-wal"))?;
    // A hot journal means a writer was part-way through: read it properly.
    if stat(&with("-journal"))?.is_some() {
        return None;
    }
    let mut header = [0u8; 100];
    std::fs::File::open(db)
        .and_then(|mut f| f.read_exact(&mut header))
        .ok()?;
    let counter = u32::from_be_bytes([header[24], header[25], header[26], header[27]]);
    // The source as declared, and the program that decodes its rows: an
    // upgrade that reads them differently reads them again.
    let source = serde_json::to_vec(src).ok()?;
    let mut h = Sha256::new();
    h.update(&source);
    h.update(crate::outputs::fingerprint::build_identity()?.as_bytes());
    h.update(db.to_string_lossy().as_bytes());
    Some(format!(
        "sqlite {} {} counter {counter} wal {:?} source {}",
        main.0,
        main.1,
        wal,
        hex::encode(h.finalize())
    ))
}

/// Whether the source was last read from a file that looked like `look`,
/// leaving the table at `table_version`.
pub fn unchanged(dir: &Path, src: &SqlSource, look: &str, table_version: Option<u64>) -> bool {
    let Ok(text) = std::fs::read(file(dir, src)) else {
        return false;
    };
    let Ok(seen) = serde_json::from_slice::<Seen>(&text) else {
        return false;
    };
    seen.look == look && Some(seen.table_version) == table_version
}

/// Record what the file looked like when this pull read it. A failure costs
/// the next night a full read, so it is logged, not raised.
pub fn record(dir: &Path, src: &SqlSource, look: Option<&str>, table_version: Option<u64>) {
    let path = file(dir, src);
    let (Some(look), Some(table_version)) = (look, table_version) else {
        // Nothing trustworthy to record: make sure an older look is not
        // trusted either.
        let _ = std::fs::remove_file(&path);
        return;
    };
    let seen = Seen {
        look: look.to_string(),
        table_version,
    };
    let written = std::fs::create_dir_all(dir)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::to_vec(&seen).map_err(|e| e.to_string()))
        .and_then(|b| crate::lake::atomic_write(&path, &b).map_err(|e| e.to_string()));
    if let Err(e) = written {
        tracing::warn!(source = %src.name, error = %e, "Could not record how the database file looked.");
        let _ = std::fs::remove_file(&path);
    }
}
