//! A night with nothing new: the indicators step takes the figures of the
//! run that last computed them instead of computing them again.
//!
//! The figures are a function of what the step reads: every lake table at
//! its version, the query files (indicators and shared views), the project
//! file, which indicators were asked for, the `--as-of` date, and the
//! program itself. When all of those are as the last run had them, running
//! the 52 queries, evaluating half a million rows, comparing them with the
//! same rows and landing them again gives the figures already landed, and
//! on a ten-year county that was most of a nightly run. So a run that
//! computed its figures cleanly saves them beside the ledger with a
//! fingerprint of those inputs ([`key`]); a run whose inputs have the same
//! fingerprint takes them ([`load`]), and its ledger record names the run
//! whose figures it reports (`figures_from`).
//!
//! Anything doubtful means computing afresh: a fingerprint that cannot be
//! worked out, a saved file that cannot be read or decoded, a results table
//! whose newest run is not the saved one (another machine ran, or the run
//! was pruned), a catalogue that no longer matches. A run with any failed
//! indicator or problem saves nothing, so a failure is retried every night
//! rather than remembered. `safer run --recompute` computes regardless.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, QueryEngine};
use crate::evaluation::{ResultRow, results};
use crate::indicators::{Indicator, Point};
use crate::lake::{Lake, Manifest};
use crate::outputs::Series;

/// Names the layout of the saved file. A program whose layout differs
/// never gets as far as the figures: the header says so first.
const FORMAT: &str = "safer saved figures v1";

/// The saved file, in the ledger folder. One file: only the newest run's
/// figures can be taken (they must be the results table's newest).
const FILE: &str = "figures.postcard.zst";

/// The start of the file, uncompressed, so a run whose inputs differ reads
/// a few bytes, not the figures.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    /// [`FORMAT`].
    format: String,
    /// The fingerprint of the inputs the figures came from ([`key`]).
    key: String,
    /// The run that computed and landed them.
    run_id: String,
}

/// The figures, zstd-compressed after the header: enough to hand the
/// outputs what computing would.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    /// The reporting month they end at.
    reporting_month: Option<NaiveDate>,
    /// Each indicator's id and measured points, in catalogue order.
    series: Vec<(String, Vec<Point>)>,
    /// The evaluated results.
    results: Vec<ResultRow>,
    /// Notes for members by indicator id (a change of basis).
    notes: BTreeMap<String, String>,
    /// [`crate::outputs::figures_digest`] of the series and results.
    figures_digest: String,
}

/// Figures taken from an earlier run.
#[derive(Debug)]
pub struct Reused {
    /// The run that computed them.
    pub run_id: String,
    /// The reporting month.
    pub reporting_month: Option<NaiveDate>,
    /// The series, each with this run's catalogue entry.
    pub series: Vec<Series>,
    /// The evaluated results, stamped with the run that computed them.
    pub results: Vec<ResultRow>,
    /// Notes by indicator id.
    pub notes: BTreeMap<String, String>,
    /// The digest of the series and results, worked out when they were
    /// saved.
    pub figures_digest: String,
}

fn path(cfg: &Config) -> PathBuf {
    cfg.resolve(&cfg.paths.ledger).join(FILE)
}

/// Where a run's figures wait until the run is recorded as finished: a run
/// killed after saving them never has them taken.
fn pending(cfg: &Config) -> PathBuf {
    cfg.resolve(&cfg.paths.ledger)
        .join(format!("{FILE}.pending"))
}

/// The longest header read before the figures: a format name, a hex
/// fingerprint and a run id.
const HEADER_MAX: usize = 1024;

/// The fingerprint of everything the indicators step reads, or `None` when
/// some part of it cannot be known or cannot be trusted to stay still
/// (then nothing is reused or saved).
///
/// `tables` are the lake's tables as the step would read them, each by its
/// version and the files that version is made of (a table deleted and
/// landed again starts its versions afresh; its files are new). The
/// results table is left out: it is what the step writes. The project
/// file is taken whole, so an edit anywhere in it (an alert address, say)
/// means one night computed afresh: cheaper than a wrong guess about which
/// settings reach the figures.
///
/// Never reused: SQL that reads the clock (`now()`, `current_date`, ...:
/// its answer moves with the date, not with the data) or the results table
/// itself, and queries run by another program (a Ballista cluster, a
/// worker program named by `SAFER_WORKER_EXE`), whose build this one
/// cannot see.
pub fn key(
    cfg: &Config,
    catalogue: &[Indicator],
    views_dir: &Path,
    select: &[String],
    as_of: Option<NaiveDate>,
    tables: &[Manifest],
) -> Option<String> {
    if !matches!(cfg.engine, QueryEngine::InProcess)
        || std::env::var_os("SAFER_WORKER_EXE").is_some()
    {
        return None;
    }
    if catalogue.iter().any(|i| moves_by_itself(&i.sql)) {
        return None;
    }
    let mut h = Sha256::new();
    let mut feed = |label: &str, bytes: &[u8]| {
        h.update(label.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    feed("format", FORMAT.as_bytes());
    feed(
        "build",
        crate::outputs::fingerprint::build_identity()?.as_bytes(),
    );
    feed("config", &serde_json::to_vec(cfg).ok()?);
    // The project's folder as the file system names it, and each file
    // within it, so `cd project && safer run` and `safer run --config
    // /path/to/project/safer.toml` (cron) fingerprint alike.
    let base = std::fs::canonicalize(&cfg.base_dir).ok()?;
    feed("base", base.to_string_lossy().as_bytes());
    let queries = std::fs::canonicalize(cfg.resolve(&cfg.paths.queries)).ok()?;
    let within = |p: &Path| -> Option<PathBuf> {
        let p = std::fs::canonicalize(p).ok()?;
        Some(p.strip_prefix(&queries).map(Path::to_path_buf).unwrap_or(p))
    };
    for ind in catalogue {
        feed("indicator", ind.id.as_bytes());
        feed("path", within(&ind.path)?.to_string_lossy().as_bytes());
        feed("sql", ind.sql_hash.as_bytes());
    }
    // The engine registers every file in the folder, readable or not, so a
    // file that cannot be read is a reason not to guess.
    let mut views: Vec<PathBuf> = std::fs::read_dir(views_dir)
        .into_iter()
        .flatten()
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .ok()?;
    views.sort();
    for v in views {
        feed("view", within(&v)?.to_string_lossy().as_bytes());
        if v.is_file() {
            let text = std::fs::read(&v).ok()?;
            if moves_by_itself(&String::from_utf8_lossy(&text)) {
                return None;
            }
            feed("text", &text);
        }
    }
    for s in select {
        feed("select", s.as_bytes());
    }
    feed(
        "as_of",
        as_of.map(|d| d.to_string()).unwrap_or_default().as_bytes(),
    );
    for m in tables.iter().filter(|m| m.dataset != results::TABLE) {
        feed("table", m.dataset.as_bytes());
        feed("version", &m.version?.to_le_bytes());
        for (partition, f) in &m.files {
            feed("partition", partition.as_bytes());
            feed("file", f.path.as_bytes());
        }
    }
    Some(hex::encode(h.finalize()))
}

/// SQL whose answer can change while the lake does not: it reads the clock,
/// or the results table that every run adds to. (A word in a comment counts
/// too; a night computed afresh is the safe side.)
pub fn moves_by_itself(sql: &str) -> bool {
    let sql = sql.to_ascii_lowercase();
    [
        "now(",
        "today(",
        "current_date",
        "current_time",
        "localtime",
        "utc_timestamp",
        "sysdate",
        "'now'",
        results::TABLE,
    ]
    .iter()
    .any(|w| sql.contains(w))
}

/// The run whose figures the results table holds as its newest: the only
/// run whose figures may be taken, since a night's restatement note
/// compares with that run and `safer diff` reads its figures from there.
fn newest_results_run(lake: &Lake) -> Option<String> {
    let m = lake.latest(results::TABLE).ok()??;
    results::newest_run(&m, None).map(|(u, _)| u.trim_start_matches("run-").to_string())
}

/// Open a saved figures file and read its header, leaving the file at the
/// start of the figures: a night whose inputs differ reads a kilobyte.
/// `Ok(None)` when the header cannot be read.
fn open_with_header(file: &Path) -> std::io::Result<Option<(std::fs::File, Header)>> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(file)?;
    let mut head = Vec::with_capacity(HEADER_MAX);
    (&mut f).take(HEADER_MAX as u64).read_to_end(&mut head)?;
    let Ok((header, after)) = postcard::take_from_bytes::<Header>(&head) else {
        return Ok(None);
    };
    f.seek(std::io::SeekFrom::Start((head.len() - after.len()) as u64))?;
    Ok(Some((f, header)))
}

/// The saved figures, when they came from inputs with this `key`, are the
/// results table's newest run, and cover exactly this `catalogue`.
pub fn load(cfg: &Config, lake: &Lake, key: &str, catalogue: &[Indicator]) -> Option<Reused> {
    use std::io::Read;
    let (mut f, header) = match open_with_header(&path(cfg)) {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            tracing::warn!("Saved figures have no readable header; computing afresh.");
            return None;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(error = %e, "Saved figures unreadable; computing afresh.");
            return None;
        }
    };
    if header.format != FORMAT || header.key != key {
        tracing::debug!("Inputs differ from the saved figures' run; computing afresh.");
        return None;
    }
    if newest_results_run(lake).as_deref() != Some(header.run_id.as_str()) {
        tracing::debug!(
            saved = %header.run_id,
            "The saved figures are not the results table's newest run; computing afresh."
        );
        return None;
    }
    let mut rest = Vec::new();
    if let Err(e) = f.read_to_end(&mut rest) {
        tracing::warn!(error = %e, "Saved figures unreadable; computing afresh.");
        return None;
    }
    let saved: Saved = match zstd::decode_all(rest.as_slice())
        .map_err(|e| e.to_string())
        .and_then(|raw| postcard::from_bytes(&raw).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Saved figures could not be decoded; computing afresh.");
            return None;
        }
    };
    if saved.series.len() != catalogue.len()
        || saved
            .series
            .iter()
            .zip(catalogue)
            .any(|((id, _), ind)| *id != ind.id)
    {
        return None;
    }
    let series = saved
        .series
        .into_iter()
        .zip(catalogue)
        .map(|((_, points), ind)| Series {
            indicator: ind.clone(),
            points,
            error: None,
        })
        .collect();
    Some(Reused {
        run_id: header.run_id,
        reporting_month: saved.reporting_month,
        series,
        results: saved.results,
        notes: saved.notes,
        figures_digest: saved.figures_digest,
    })
}

/// The figures of a cleanly computed and landed run, to save for the next
/// run with the same inputs.
pub struct ToSave<'a> {
    /// [`key`] of the inputs they came from.
    pub key: &'a str,
    /// The run that computed and landed them.
    pub run_id: &'a str,
    /// The reporting month.
    pub reporting_month: Option<NaiveDate>,
    /// The series, in catalogue order.
    pub series: &'a [Series],
    /// The evaluated results.
    pub results: &'a [ResultRow],
    /// Notes by indicator id.
    pub notes: &'a BTreeMap<String, String>,
    /// [`crate::outputs::figures_digest`] of `series` and `results`.
    pub figures_digest: &'a str,
}

/// Save the figures, pending until [`commit`] once the run is recorded as
/// finished. A failure to save costs the next night a computation, nothing
/// more, so it is logged, not raised.
pub fn save(cfg: &Config, f: &ToSave<'_>) {
    #[derive(Serialize)]
    struct SavedRef<'a> {
        reporting_month: Option<NaiveDate>,
        series: Vec<(&'a str, &'a [Point])>,
        results: &'a [ResultRow],
        notes: &'a BTreeMap<String, String>,
        figures_digest: &'a str,
    }
    let header = Header {
        format: FORMAT.into(),
        key: f.key.into(),
        run_id: f.run_id.into(),
    };
    let body = SavedRef {
        reporting_month: f.reporting_month,
        series: f
            .series
            .iter()
            .map(|s| (s.indicator.id.as_str(), s.points.as_slice()))
            .collect(),
        results: f.results,
        notes: f.notes,
        figures_digest: f.figures_digest,
    };
    let file = pending(cfg);
    let written = postcard::to_stdvec(&body)
        .map_err(|e| e.to_string())
        // Level 1: the ids, hashes and labels repeat on every row, so even
        // the fastest level takes the file to a tenth.
        .and_then(|raw| zstd::encode_all(raw.as_slice(), 1).map_err(|e| e.to_string()))
        .and_then(|z| {
            let mut out = postcard::to_stdvec(&header).map_err(|e| e.to_string())?;
            out.extend_from_slice(&z);
            std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))
                .map_err(|e| e.to_string())?;
            crate::lake::atomic_write(&file, &out).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::warn!(error = %e, "Could not save this run's figures; the next run computes afresh.");
        forget(cfg);
    }
}

/// Make `run_id`'s pending figures the ones a later run may take: called
/// once the ledger records the run as finished with its indicators step
/// ok. Pending figures of another run (one killed before it was recorded)
/// are dropped.
pub fn commit(cfg: &Config, run_id: &str) {
    let from = pending(cfg);
    let ours = match open_with_header(&from) {
        Ok(opened) => opened.is_some_and(|(_, h)| h.run_id == run_id),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => false,
    };
    let to = path(cfg);
    let done = if ours {
        std::fs::rename(&from, &to).and_then(|_| {
            crate::lake::sync_dir(to.parent().unwrap_or(Path::new(".")))
                .map_err(std::io::Error::other)
        })
    } else {
        std::fs::remove_file(&from)
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, "Could not put this run's saved figures in place; the next run computes afresh.");
        forget(cfg);
    }
}

/// Drop the saved figures (a run that did not compute cleanly): the next
/// run computes afresh.
pub fn forget(cfg: &Config) {
    for file in [path(cfg), pending(cfg)] {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "Could not remove the saved figures."),
        }
    }
}
