//! Landing a set of input files into one dataset: fingerprint, skip what is
//! unchanged, refuse files whose columns are wrong, parse the rest (in
//! parallel by partition group), quarantine bad rows and commit atomically.
//!
//! Each file format supplies only a header check and a row parser; the
//! accounting (rows read = rows landed + rows quarantined), idempotence and
//! atomicity live here once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use sha2::{Digest, Sha256};

use super::{DatasetReport, Error};
use crate::lake::{
    FileStat, InputEntry, Lake, Landing, PartitionOpener, PartitionWriter, QuarantineRow,
    now_rfc3339,
};
use crate::schema::Column;

/// One input file to land.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its unit key in the manifest: stable across corrected re-deliveries
    /// of the same data (e.g. `2024-01-lancashire` for a police.uk month).
    pub unit: String,
    /// Files with the same group are parsed on the same thread; different
    /// groups must write disjoint partitions.
    pub group: String,
}

/// What parsing one file produced.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Data rows read (excluding the header).
    pub rows_read: u64,
    /// Rows written to the dataset.
    pub rows_landed: u64,
    /// Rows refused, with reasons.
    pub quarantine: Vec<QuarantineRow>,
    /// Earliest month `YYYY-MM` landed.
    pub min_month: Option<String>,
    /// Latest month landed.
    pub max_month: Option<String>,
    /// Partitions the rows went to.
    pub partitions: BTreeSet<String>,
}

impl Parsed {
    /// Widen the month range with one landed month.
    pub fn see_month(&mut self, month: &str) {
        if self.min_month.as_deref().is_none_or(|m| month < m) {
            self.min_month = Some(month.to_string());
        }
        if self.max_month.as_deref().is_none_or(|m| month > m) {
            self.max_month = Some(month.to_string());
        }
    }
}

/// Where a parser sends its batches. Parsing and Parquet encoding run on
/// separate threads joined by a short channel, so one partition group keeps
/// two cores busy and the cores stay balanced when the groups (years) do
/// not divide evenly between them.
pub struct Sink {
    tx: std::sync::mpsc::SyncSender<(String, RecordBatch)>,
}

impl Sink {
    /// Write a batch of good rows into a partition.
    pub fn write(&mut self, partition: &str, batch: &RecordBatch) -> Result<(), Error> {
        self.tx
            .send((partition.to_string(), batch.clone()))
            .map_err(|_| Error::Internal("the Parquet writer stopped early".into()))
    }
}

/// CPU time the calling thread has used so far. Parsing and encoding are
/// measured with it rather than a clock on the wall, so neither counts the
/// time it waited for the other or for a free core.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    match (u64::try_from(t.tv_sec), u32::try_from(t.tv_nsec)) {
        (Ok(s), Ok(ns)) if ok => Duration::new(s, ns),
        _ => Duration::ZERO,
    }
}

/// A file format: checks headers and parses bytes into batches.
pub trait Format: Sync {
    /// Check the header line before anything is replaced; `Err` refuses the
    /// whole file with a message naming the columns.
    fn check_header(&self, path: &Path, bytes: &[u8]) -> Result<(), Error>;
    /// Parse a whole file, writing good rows to `sink`.
    fn parse(&self, file: &InputFile, bytes: &[u8], sink: &mut Sink) -> Result<Parsed, Error>;
    /// Where a file's rows go in its partition's file, relative to the
    /// other files of its group: files are landed in the order of this key.
    /// Rows a query groups together are then near each other in the file
    /// (see police.uk's). By default, the order they were found in.
    fn landing_order(&self, _file: &InputFile) -> Option<String> {
        None
    }
}

/// Line numbers from byte offsets. The csv crate's own line counter is off
/// by one on CRLF files (it ends a record at `\r` and reports the record
/// after it as starting on the `\n`), so quarantine line numbers are
/// counted here: 1 + newlines up to and including the record's first byte.
/// What [`Records::next`] read.
pub enum Next {
    /// A record, now in the caller's buffer, starting on this line.
    Record(u64),
    /// A record that a stray quote ran over several lines: its first line
    /// is to be quarantined (see [`stray_quote`]); the lines it swallowed
    /// come back one by one from the following calls.
    StrayQuote {
        /// Line of the quote.
        line: u64,
        /// The first line's text.
        first_line: String,
        /// How many lines it swallowed.
        swallowed: usize,
    },
    /// The rest of the file cannot be read as CSV.
    Unreadable {
        /// Where it went wrong.
        line: u64,
        /// Why.
        message: String,
    },
    /// No more records.
    End,
}

/// The records of a CSV body (header included, so positions match the
/// file), each with its 1-based line, splitting a record a stray quote ran
/// over several lines back into its lines. Shared by the published-format
/// and declared-CSV readers so both report a typo the same way.
///
/// A line with no quote and no carriage return before its end is split on
/// its commas here: that is what a CSV reader would make of it, and
/// finding the line's end, the quote and the commas with `memchr` costs
/// less than running every byte through the csv crate's state machine
/// (police.uk files, where one line in two hundred holds a quote, landed
/// a fifth faster; docs/performance.md). Any other line, and a record that
/// runs on over several lines, is read by the csv crate from that line's
/// start, so what the crate would make of it is what it becomes.
pub struct Records<'a> {
    body: &'a [u8],
    rdr: csv::Reader<std::io::Cursor<&'a [u8]>>,
    /// Where the next record's search starts.
    pos: usize,
    /// The 1-based line of the byte at `pos`.
    line: u64,
    pending: std::collections::VecDeque<(u64, csv::ByteRecord)>,
}

impl<'a> Records<'a> {
    /// Read `body` (BOM already stripped).
    pub fn new(body: &'a [u8]) -> Self {
        Records {
            body,
            rdr: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(std::io::Cursor::new(body)),
            pos: 0,
            line: 1,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Read the next record into `rec`. `suspect` says whether a record
    /// that ran over several lines is a stray quote (police.uk: always, no
    /// field holds a line break; declared CSV: when its width is wrong).
    pub fn next(
        &mut self,
        rec: &mut csv::ByteRecord,
        suspect: impl Fn(&csv::ByteRecord) -> bool,
    ) -> Next {
        match self.next_split(rec, suspect) {
            Split::Line(line, text) => {
                fill_record(rec, text);
                Next::Record(line)
            }
            Split::Other(next) => next,
        }
    }

    /// As [`Records::next`], but a line with no quote comes back as its
    /// text, unsplit and uncopied: a reader that knows its width splits it
    /// on commas in place ([`fill_record`] makes the record `next` would
    /// have made of it). Anything else is read into `rec`.
    pub fn next_split(
        &mut self,
        rec: &mut csv::ByteRecord,
        suspect: impl Fn(&csv::ByteRecord) -> bool,
    ) -> Split<'a> {
        if let Some((line, r)) = self.pending.pop_front() {
            *rec = r;
            return Split::Other(Next::Record(line));
        }
        let body = self.body;
        loop {
            let start = self.pos;
            if start >= body.len() {
                return Split::Other(Next::End);
            }
            let rest = &body[start..];
            let (text, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], start + i + 1),
                None => (rest, body.len()),
            };
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if memchr::memchr2(b'"', b'\r', text).is_some() {
                return Split::Other(self.read_with_csv(rec, suspect));
            }
            let line = self.line;
            self.pos = next;
            if body.get(next - 1) == Some(&b'\n') {
                self.line += 1;
            }
            if text.is_empty() {
                // A blank line is no record, as the csv crate reads it.
                continue;
            }
            return Split::Line(line, text);
        }
    }

    /// Read one record with the csv crate from `pos`, the start of a line.
    fn read_with_csv(
        &mut self,
        rec: &mut csv::ByteRecord,
        suspect: impl Fn(&csv::ByteRecord) -> bool,
    ) -> Next {
        // Blank lines before the record are skipped, as the crate would,
        // so that the line reported is the record's own.
        while let Some(&b) = self.body.get(self.pos) {
            match b {
                b'\n' => self.line += 1,
                b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let start = self.pos;
        let line = self.line;
        if start >= self.body.len() {
            return Next::End;
        }
        let mut at = csv::Position::new();
        at.set_byte(start as u64).set_line(line).set_record(0);
        if let Err(e) = self.rdr.seek(at) {
            return Next::Unreadable {
                line,
                message: format!("unreadable CSV: {e}"),
            };
        }
        match self.rdr.read_byte_record(rec) {
            Ok(false) => {
                self.pos = self.body.len();
                Next::End
            }
            Ok(true) => {
                let end = (self.rdr.position().byte() as usize).clamp(start, self.body.len());
                let span = &self.body[start..end];
                self.pos = end;
                self.line += memchr::memchr_iter(b'\n', span).count() as u64;
                if suspect(rec) && spans_lines(span) {
                    let swallowed = swallowed_lines(span, line);
                    let n = swallowed.len();
                    self.pending.extend(swallowed);
                    return Next::StrayQuote {
                        line,
                        first_line: first_line(span),
                        swallowed: n,
                    };
                }
                Next::Record(line)
            }
            // The csv crate only fails on I/O or invalid UTF-8 in string
            // mode; with byte records this is a broken quote at end of file.
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| {
                        let upto = (p.byte() as usize).clamp(start, self.body.len());
                        line + memchr::memchr_iter(b'\n', &self.body[start..upto]).count() as u64
                    })
                    .unwrap_or(line);
                self.pos = self.body.len();
                Next::Unreadable {
                    line,
                    message: format!("unreadable CSV: {e}"),
                }
            }
        }
    }
}

/// What [`Records::next_split`] read.
pub enum Split<'a> {
    /// A line with no quote, from its 1-based line number: its fields are
    /// what lies between its commas.
    Line(u64, &'a [u8]),
    /// Anything else, as [`Records::next`] reads it.
    Other(Next),
}

/// The record a line with no quote holds: its text split on commas.
pub fn fill_record(rec: &mut csv::ByteRecord, text: &[u8]) {
    rec.clear();
    let mut from = 0;
    for comma in memchr::memchr_iter(b',', text) {
        rec.push_field(&text[from..comma]);
        from = comma + 1;
    }
    rec.push_field(&text[from..]);
}

/// The lines after the first of a record that ran over several lines,
/// each read as a record of its own with its 1-based line number.
///
/// An unbalanced quote (`"On or near Main St,` with no closing quote) makes
/// a CSV reader carry on to the next quote, swallowing every line between
/// into one field. Splitting them back means the line with the stray quote
/// is quarantined alone and the lines it swallowed are judged on their own,
/// so one typo does not cost a page of good rows. `span` is the record's
/// bytes as read; `first_line` is its line.
fn swallowed_lines(span: &[u8], first_line: u64) -> Vec<(u64, csv::ByteRecord)> {
    let span = trim_start_newline(span);
    let mut out = Vec::new();
    for (i, raw) in span.split(|b| *b == b'\n').enumerate().skip(1) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(raw);
        let mut rec = csv::ByteRecord::new();
        if !matches!(rdr.read_byte_record(&mut rec), Ok(true)) {
            rec = csv::ByteRecord::from(vec![raw]);
        }
        out.push((first_line + i as u64, rec));
    }
    out
}

/// A record's bytes without the line breaks around it (on CRLF files a
/// record's position may be the `\n` that ends the line before it, and its
/// end the `\r\n` after it).
fn trim_start_newline(span: &[u8]) -> &[u8] {
    let mut s = span;
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// The first line of a record's bytes, for the quarantine table.
fn first_line(span: &[u8]) -> String {
    let s = trim_start_newline(span);
    let line = s.split(|b| *b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim_end().to_string()
}

/// The quarantine row for a record a stray quote ran over several lines:
/// the quote's own line, saying how many lines it swallowed (those are read
/// on their own).
pub fn stray_quote(
    file: &InputFile,
    file_name: &str,
    first_line: String,
    line: u64,
    swallowed: usize,
) -> crate::lake::QuarantineRow {
    crate::lake::QuarantineRow {
        input: file.unit.clone(),
        file: file_name.to_string(),
        line,
        reason: format!(
            "unbalanced quote: a `\"` on this line is not closed, so the next {swallowed} line(s) were read into this record; those lines are read on their own"
        ),
        record: first_line,
    }
}

/// True if a record read from `span` ran over more than one line.
fn spans_lines(span: &[u8]) -> bool {
    trim_start_newline(span).contains(&b'\n')
}

/// Offsets only grow, so the count is incremental and costs nothing for
/// good rows.
pub struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    /// Count lines in `bytes` (the same slice the CSV reader reads).
    pub fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// 1-based line of a record the csv crate says starts at `offset`.
    ///
    /// After blank lines the crate reports the record as starting where
    /// the blank lines start; the record's line is that of its first byte
    /// that is not a line break (a record cannot begin with a bare one).
    pub fn record_line(&mut self, offset: u64) -> u64 {
        let skip = self
            .bytes
            .get(offset as usize..)
            .map(|rest| {
                rest.iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .count()
            })
            .unwrap_or(0);
        self.line_at(offset + skip as u64)
    }

    /// 1-based line of the record starting at byte `offset`.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        // Include the byte at `offset`: on CRLF files it is the `\n` that
        // ends the previous line.
        let offset = (offset as usize + 1).min(self.bytes.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.bytes[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.offset = offset;
        self.line
    }
}

/// SHA-256 of a file, hex.
pub fn fingerprint_file(path: &Path) -> Result<String, Error> {
    let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Strip a UTF-8 byte-order mark, as Excel adds on save.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The first line of a file as header fields (BOM stripped, CSV-unquoted).
pub fn header_fields(path: &Path, bytes: &[u8]) -> Result<Vec<String>, Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(strip_bom(bytes));
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec.iter().map(|f| f.trim().to_string()).collect()),
        Ok(false) => Err(Error::Refused {
            path: path.to_path_buf(),
            reason: "the file is empty (no header line)".into(),
        }),
        Err(e) => Err(Error::Refused {
            path: path.to_path_buf(),
            reason: format!("the header line is not readable CSV: {e}"),
        }),
    }
}

/// Compare a header with the expected columns, naming what is missing and
/// what is unexpected. `optional` columns may be absent.
pub fn compare_header(
    path: &Path,
    found: &[String],
    required: &[&str],
    optional: &[&str],
) -> Result<(), Error> {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !found.iter().any(|f| f == c))
        .collect();
    let unexpected: Vec<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|f| !required.contains(f) && !optional.contains(f))
        .collect();
    let mut dupes: Vec<&str> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        if found[..i].contains(f) && !dupes.contains(&f.as_str()) {
            dupes.push(f);
        }
    }
    if missing.is_empty() && unexpected.is_empty() && dupes.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing columns: {}", quote_list(&missing)));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected columns: {}", quote_list(&unexpected)));
    }
    if !dupes.is_empty() {
        parts.push(format!("repeated columns: {}", quote_list(&dupes)));
    }
    Err(Error::Refused {
        path: path.to_path_buf(),
        reason: format!(
            "refused whole, nothing landed from it; {}",
            parts.join("; ")
        ),
    })
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Land `files` into `dataset`. Unchanged files are skipped, refused files
/// are reported in `problems` and leave their old rows in place.
pub fn land(
    lake: &Lake,
    dataset: &str,
    columns: Vec<Column>,
    files: Vec<InputFile>,
    format: &dyn Format,
    problems: &mut Vec<String>,
) -> Result<DatasetReport, Error> {
    let mut landing = Landing::begin(lake, dataset, columns)?;
    let mut report = DatasetReport::new(dataset);

    // Phase 1: fingerprint and check headers; decide what to (re)land.
    let mut todo: Vec<(InputFile, String)> = Vec::new();
    let t = Instant::now();
    let fingerprints = fingerprint_all(&files, landing.previous())?;
    report.profile.fingerprint_s = t.elapsed().as_secs_f64();
    let mut stats: BTreeMap<String, Option<FileStat>> = BTreeMap::new();
    for (file, (fp, stat)) in files.into_iter().zip(fingerprints) {
        stats.insert(file.unit.clone(), stat);
        if !landing.is_new(&file.unit, &fp) {
            report.inputs_unchanged += 1;
            continue;
        }
        let bytes = read_head(&file.path)?;
        if let Err(e) = format.check_header(&file.path, &bytes) {
            tracing::error!(dataset, file = %file.path.display(), error = %e, "Input file refused.");
            problems.push(e.to_string());
            report.inputs_refused += 1;
            continue;
        }
        todo.push((file, fp));
    }
    if todo.is_empty() {
        report.total_rows = landing.previous().rows();
        return Ok(report);
    }
    for (f, _) in &todo {
        landing.replace_unit(&f.unit);
    }

    // Phase 2: parse by group, in parallel, each group on its own writers.
    let mut groups: BTreeMap<String, Vec<(InputFile, String)>> = BTreeMap::new();
    for (f, fp) in todo {
        groups.entry(f.group.clone()).or_default().push((f, fp));
    }
    let groups: Vec<Vec<(InputFile, String)>> = groups
        .into_values()
        .map(|mut g| {
            // Stable: files with the same key keep the order they were found in.
            g.sort_by_cached_key(|(f, _)| format.landing_order(f));
            g
        })
        .collect();
    let results = parse_groups(&landing.opener(), groups, format);

    let mut parsed_all: Vec<(InputFile, String, Parsed)> = Vec::new();
    for r in results {
        let group = r?;
        for w in group.writers {
            landing.adopt(w)?;
        }
        parsed_all.extend(group.parsed);
        report.profile.parse_cpu_s += group.parse.as_secs_f64();
        report.profile.encode_cpu_s += group.encode.as_secs_f64();
    }

    let landed_at = now_rfc3339();
    for (file, fp, parsed) in parsed_all {
        report.inputs_landed += 1;
        report.rows_read += parsed.rows_read;
        report.rows_landed += parsed.rows_landed;
        report.rows_quarantined += parsed.quarantine.len() as u64;
        if parsed.rows_read != parsed.rows_landed + parsed.quarantine.len() as u64 {
            return Err(Error::Internal(format!(
                "{}: rows read {} != landed {} + quarantined {}",
                file.path.display(),
                parsed.rows_read,
                parsed.rows_landed,
                parsed.quarantine.len()
            )));
        }
        if !parsed.quarantine.is_empty() {
            tracing::warn!(
                dataset,
                file = %file.path.display(),
                rows = parsed.quarantine.len(),
                first_reason = %parsed.quarantine[0].reason,
                "Rows quarantined."
            );
        }
        landing.record_input(
            &file.unit,
            InputEntry {
                origin: file.path.display().to_string(),
                fingerprint: fp,
                partitions: parsed.partitions.iter().cloned().collect(),
                rows_read: parsed.rows_read,
                rows_landed: parsed.rows_landed,
                rows_quarantined: parsed.quarantine.len() as u64,
                rows_superseded: 0,
                table_versions: Default::default(),
                min_month: parsed.min_month.clone(),
                max_month: parsed.max_month.clone(),
                landed_at: landed_at.clone(),
                stat: stats.get(&file.unit).copied().flatten(),
            },
        );
        landing.quarantine(parsed.quarantine);
    }
    let t = Instant::now();
    let summary = landing.commit()?;
    report.profile.commit_s = t.elapsed().as_secs_f64();
    crate::lake::give_back_freed_memory();
    report.total_rows = summary.total_rows;
    tracing::debug!(
        dataset,
        fingerprint_s = report.profile.fingerprint_s,
        parse_cpu_s = report.profile.parse_cpu_s,
        encode_cpu_s = report.profile.encode_cpu_s,
        commit_s = report.profile.commit_s,
        "Where the landing's time went."
    );
    Ok(report)
}

/// Fingerprint every file, spread over the cores: hashing is a tenth of
/// the ingest time at county scale and needs no order.
///
/// A file at the path its unit last landed from, with the same size and
/// modification time, keeps its recorded fingerprint unread: a nightly run
/// over a ten-year delivery with one new month then reads one file, not
/// 120 (hashing the rest was most of that run's ingest time).
fn fingerprint_all(
    files: &[InputFile],
    previous: &crate::lake::Manifest,
) -> Result<Vec<(String, Option<FileStat>)>, Error> {
    let known = |f: &InputFile| -> (Option<FileStat>, Option<String>) {
        let stat = FileStat::of(&f.path);
        let same = previous.inputs.get(&f.unit).filter(|old| {
            stat.is_some() && old.stat == stat && old.origin == f.path.display().to_string()
        });
        (stat, same.map(|old| old.fingerprint.clone()))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, files.len().max(1));
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|f| match known(f) {
                            (stat, Some(fp)) => Ok((fp, stat)),
                            (stat, None) => fingerprint_file(&f.path).map(|fp| (fp, stat)),
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(files.len());
        for h in handles {
            match h.join() {
                Ok(r) => out.extend(r?),
                Err(_) => return Err(Error::Internal("fingerprint thread panicked".into())),
            }
        }
        Ok(out)
    })
}

/// What one partition group's parser and writer produced.
struct Group {
    writers: Vec<PartitionWriter>,
    parsed: Vec<(InputFile, String, Parsed)>,
    /// CPU time of the parser.
    parse: Duration,
    /// CPU time of the writer.
    encode: Duration,
}

type GroupResult = Result<Group, Error>;

fn parse_groups(
    opener: &PartitionOpener,
    groups: Vec<Vec<(InputFile, String)>>,
    format: &dyn Format,
) -> Vec<GroupResult> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(groups.len())
        .max(1);
    let queue = Mutex::new(groups.into_iter().enumerate().collect::<Vec<_>>());
    let results: Mutex<Vec<(usize, GroupResult)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some((i, group)) = next else { break };
                    let r = parse_group(opener, group, format);
                    if let Ok(mut out) = results.lock() {
                        out.push((i, r));
                    }
                }
            });
        }
    });
    let mut out = results.into_inner().unwrap_or_default();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

fn parse_group(
    opener: &PartitionOpener,
    group: Vec<(InputFile, String)>,
    format: &dyn Format,
) -> GroupResult {
    // One batch waiting is enough to keep both threads busy; the parser
    // keeps up with the writer, so a longer queue stays full and only
    // holds memory (four batches: 70-140 MB more at national scale).
    let (tx, rx) = std::sync::mpsc::sync_channel::<(String, RecordBatch)>(1);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<(Vec<PartitionWriter>, Duration), Error> {
            let mut writers: BTreeMap<String, PartitionWriter> = BTreeMap::new();
            for (partition, batch) in rx {
                if !writers.contains_key(&partition) {
                    let w = opener.open(&partition)?;
                    writers.insert(partition.clone(), w);
                }
                if let Some(w) = writers.get_mut(&partition) {
                    w.write(&batch)?;
                }
            }
            // A thread of its own: its whole CPU time is the writing.
            Ok((writers.into_values().collect(), thread_cpu()))
        });
        let started = thread_cpu();
        let mut sink = Sink { tx };
        let mut parsed = Vec::new();
        let mut failure = None;
        for (file, fp) in group {
            let bytes = match std::fs::read(&file.path) {
                Ok(b) => b,
                Err(source) => {
                    failure = Some(Error::Io {
                        path: file.path.clone(),
                        source,
                    });
                    break;
                }
            };
            match format.parse(&file, &bytes, &mut sink) {
                Ok(p) => parsed.push((file, fp, p)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let parse = thread_cpu().saturating_sub(started);
        drop(sink);
        let writers = writer
            .join()
            .map_err(|_| Error::Internal("Parquet writer thread panicked".into()))?;
        // The writer's own error explains a parser's "writer stopped early".
        let (writers, encode) = writers?;
        match failure {
            Some(e) => Err(e),
            None => Ok(Group {
                writers,
                parsed,
                parse,
                encode,
            }),
        }
    })
}

/// The first 64 KiB of a file: enough for any header line.
fn read_head(path: &Path) -> Result<Vec<u8>, Error> {
    let f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut buf = Vec::with_capacity(64 * 1024);
    f.take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(buf)
}

/// Every file under `root` (recursively, sorted) whose name satisfies `keep`.
pub fn find_files(root: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    if root.is_file() {
        out.push(root.to_path_buf());
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(keep) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_csv_offsets_on_lf_and_crlf() {
        for data in [
            &b"h\r\na\r\n\"x\r\ny\"\r\nb\r\n"[..],
            &b"h\na\n\"x\ny\"\nb\n"[..],
        ] {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(data);
            let mut lc = LineCounter::new(data);
            let mut rec = csv::ByteRecord::new();
            let mut lines = Vec::new();
            while r.read_byte_record(&mut rec).unwrap() {
                lines.push(lc.line_at(rec.position().unwrap().byte()));
            }
            // header, a, the two-line quoted field, b
            assert_eq!(lines, [1, 2, 3, 5], "{}", String::from_utf8_lossy(data));
        }
    }

    /// Every record and line `Records` gives, read the way the landing
    /// reads (no stray-quote splitting), against the csv crate reading the
    /// whole body as one stream with the line counted from its offsets:
    /// hand-picked bodies, then thousands of random ones built from the
    /// bytes that matter (commas, quotes, both line ends).
    #[test]
    fn records_match_the_csv_crate_on_any_body() {
        fn ours(body: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
            let mut records = Records::new(body);
            let mut rec = csv::ByteRecord::new();
            let mut out = Vec::new();
            while let Next::Record(line) = records.next(&mut rec, |_| false) {
                out.push((line, rec.iter().map(<[u8]>::to_vec).collect()));
            }
            out
        }
        fn crate_only(body: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(body);
            let mut lc = LineCounter::new(body);
            let mut rec = csv::ByteRecord::new();
            let mut out = Vec::new();
            while let Ok(true) = r.read_byte_record(&mut rec) {
                let line = lc.record_line(rec.position().map(|p| p.byte()).unwrap_or(0));
                out.push((line, rec.iter().map(<[u8]>::to_vec).collect()));
            }
            out
        }
        let fixed: [&[u8]; 12] = [
            b"h,i\na,b\n",
            b"h,i\r\na,\"b,c\"\r\nd,e\r\n",
            b"h\n\"x\ny\",1\n\"q\"\"r\",2\nlast",
            b"a,b\rc,d\re\n",
            b"\r\r\n\n a \n,\n\r",
            b"x,\"\"\r\n\"\"\n\n",
            b"a\"b,c\nd\n",
            b"\"open,never closed\nnext,line\n",
            b"one\r\r\ntwo\r\n\r\n\"3\"\r\n",
            b"",
            b"\n\n",
            b"p,\"q\"\r\n\"r\",s\r\nt",
        ];
        for body in fixed {
            assert_eq!(
                ours(body),
                crate_only(body),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let alphabet = b"ab,\"\r\n ";
        let mut seed: u64 = 0x5eed;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize + (seed >> 40 & 7) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            assert_eq!(
                ours(&body),
                crate_only(&body),
                "{:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn lines_after_blank_lines_are_the_records_own() {
        let lines = |body: &[u8]| {
            let mut records = Records::new(body);
            let mut rec = csv::ByteRecord::new();
            let mut out = Vec::new();
            while let Next::Record(line) = records.next(&mut rec, |_| false) {
                out.push(line);
            }
            out
        };
        // h on 1, blank 2 and 3, `a,,` on 4, `,` on 5, a lone CR on 6
        // (blank), a space on 7.
        assert_eq!(lines(b"h\n\n\na,,\n,\n\r\n \n"), [1, 4, 5, 7]);
        assert_eq!(lines(b"h\r\n\r\na\r\nb\r\n"), [1, 3, 4]);
        // A quoted field over two lines after a blank line starts on 3.
        assert_eq!(lines(b"h\n\n\"x\ny\",1\nb,2\n"), [1, 3, 5]);
        // Without blank lines, nothing moves.
        assert_eq!(lines(b"h\r\na\r\n\"q,r\",s\r\nb"), [1, 2, 3, 4]);
    }
}
