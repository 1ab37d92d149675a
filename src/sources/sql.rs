//! Partner databases through sqlx: PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! A source is a SELECT whose result columns are declared in config. Full
//! refresh replaces the table; incremental mode wraps the SELECT so only rows
//! whose watermark column is above the last landed value are pulled, and
//! appends them. Rows stream into the lake in batches, so a large extract
//! never sits in memory. Failures (server down, bad credentials, timeout)
//! leave the lake untouched and never show the connection string.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use sqlx::{Column as _, ConnectOptions, Row};

use super::typed_csv::{Value, parse_value};
use super::{DatasetReport, Error};
use crate::config::{SqlMode, SqlSource};
use crate::lake::{InputEntry, Lake, Landing, QuarantineRow, now_rfc3339, unique_suffix};
use crate::schema::{Column, ColumnType};

const BATCH_ROWS: usize = 8192;

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// MySQL or MariaDB (`mysql://`, `mariadb://`).
    MySql,
    /// SQLite (`sqlite://path`, `sqlite:path`).
    Sqlite,
}

impl Backend {
    /// The backend for a URL, by scheme.
    pub fn of(url: &str) -> Option<Backend> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            "sqlite" => Some(Backend::Sqlite),
            _ => None,
        }
    }
}

/// Remove anything secret from an error message: the URL itself, and any
/// password in it, wherever the driver may have echoed them.
pub fn redact(message: &str, url: &str) -> String {
    let mut out = message.replace(url, "<connection URL>");
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, pw)) = userinfo.split_once(':')
            && !pw.is_empty()
        {
            out = out.replace(pw, "<password>");
        }
    }
    out
}

/// Land one SQL source. `url` comes from the environment (or a credential-free
/// config value); `base_dir` resolves relative SQLite paths. With `probes`
/// (a folder), a SQLite database that looks as it did when last read is
/// not read again ([`super::probe`]).
pub async fn land(
    lake: &Lake,
    src: &SqlSource,
    url: &str,
    base_dir: &Path,
    probes: Option<&Path>,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<DatasetReport, Error> {
    let fut = land_inner(lake, src, url, base_dir, probes, connect_timeout);
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            source_name: src.name.clone(),
            secs: timeout.as_secs(),
        }),
    }
}

async fn land_inner(
    lake: &Lake,
    src: &SqlSource,
    url: &str,
    base_dir: &Path,
    probes: Option<&Path>,
    connect_timeout: Duration,
) -> Result<DatasetReport, Error> {
    let backend = Backend::of(url).ok_or_else(|| Error::Config {
        source_name: src.name.clone(),
        message:
            "the connection URL must start with postgres://, mysql://, mariadb:// or sqlite://"
                .into(),
    })?;
    let sqlite_file = (backend == Backend::Sqlite).then(|| {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        if Path::new(path).is_absolute() {
            Path::new(path).to_path_buf()
        } else {
            base_dir.join(path)
        }
    });
    let mut landing = Landing::begin(lake, &src.table, src.columns.clone())?;
    // Taken before the read: a write during it makes the next look differ.
    let look = match (probes, &sqlite_file) {
        (Some(_), Some(f)) => super::probe::look(src, f),
        _ => None,
    };
    if let (Some(dir), Some(look)) = (probes, &look)
        && super::probe::unchanged(dir, src, look, landing.previous().version)
    {
        tracing::debug!(source = %src.name, "Database file unchanged since it was last read; not read again.");
        let mut report = DatasetReport::new(&src.table);
        report.inputs_unchanged = 1;
        report.total_rows = landing.previous().rows();
        return Ok(report);
    }
    let watermark_col = match src.mode {
        SqlMode::Full => {
            landing.replace_all();
            None
        }
        SqlMode::Incremental => src
            .watermark
            .as_ref()
            .and_then(|w| src.columns.iter().find(|c| &c.name == w))
            .cloned(),
    };
    let since = match &watermark_col {
        Some(col) => match &landing.previous().watermark {
            Some(w) => Some(parse_value(col, w).map_err(|e| Error::Config {
                source_name: src.name.clone(),
                message: format!("stored watermark is unreadable: {e}"),
            })?),
            None => None,
        },
        None => None,
    };
    let query = build_query(src, backend, watermark_col.as_ref(), since.is_some());
    let unit = match src.mode {
        SqlMode::Full => "full".to_string(),
        SqlMode::Incremental => format!(
            "pull-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            unique_suffix()
        ),
    };
    if src.mode == SqlMode::Incremental && !src.key.is_empty() {
        landing.merge_on(&src.key)?;
    }
    let mut pull = Pull::new(&landing, src, &unit, watermark_col.as_ref());
    let connect_err = |e: sqlx::Error| Error::Connect {
        source_name: src.name.clone(),
        message: redact(&e.to_string(), url),
        transient: is_transient(&e),
    };
    let query_err = |e: sqlx::Error| Error::Query {
        source_name: src.name.clone(),
        message: redact(&e.to_string(), url),
        transient: is_transient(&e),
    };
    macro_rules! stream_rows {
        ($conn:expr, $decode:ident) => {{
            let mut conn = $conn;
            let mut q = sqlx::query(&query);
            if let Some(v) = &since {
                q = match v {
                    Value::Int(i) => q.bind(*i),
                    Value::Float(f) => q.bind(*f),
                    Value::Date(d) => q.bind(*d),
                    Value::Ts(t) => q.bind(*t),
                    Value::Bool(b) => q.bind(*b),
                    Value::Str(s) => q.bind(s.clone()),
                    Value::Null => q,
                };
            }
            let mut rows = q.fetch(&mut conn);
            let mut hints: Vec<u8> = Vec::new();
            while let Some(row) = rows.next().await {
                let row = row.map_err(query_err)?;
                if pull.names.is_none() {
                    pull.names = Some(check_result_columns(
                        src,
                        row.columns().iter().map(|c| c.name().to_string()).collect(),
                    )?);
                }
                pull.init_positions();
                let positions = &pull.pos;
                if hints.len() != positions.len() {
                    hints = vec![0u8; positions.len()];
                }
                let decoded: Result<Vec<Value>, String> = positions
                    .iter()
                    .zip(&src.columns)
                    .zip(hints.iter_mut())
                    .map(|((i, c), h)| $decode(&row, *i, c, h))
                    .collect();
                pull.push(decoded, &mut landing)?;
            }
        }};
    }
    match backend {
        Backend::Postgres => {
            let opts: sqlx::postgres::PgConnectOptions = url.parse().map_err(connect_err)?;
            // The statement log would echo the officer's SQL at WARN on every
            // long extract; our own tracing says what ran and how long.
            let opts = opts.disable_statement_logging();
            let conn = tokio::time::timeout(connect_timeout, opts.connect())
                .await
                .map_err(|_| timeout_connect(src, connect_timeout))?
                .map_err(connect_err)?;
            stream_rows!(conn, decode_pg);
        }
        Backend::MySql => {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let opts: sqlx::mysql::MySqlConnectOptions = url.parse().map_err(connect_err)?;
            let opts = opts.disable_statement_logging();
            let conn = tokio::time::timeout(connect_timeout, opts.connect())
                .await
                .map_err(|_| timeout_connect(src, connect_timeout))?
                .map_err(connect_err)?;
            stream_rows!(conn, decode_mysql);
        }
        Backend::Sqlite => {
            let full = sqlite_file.clone().unwrap_or_default();
            if !full.exists() {
                return Err(Error::Connect {
                    source_name: src.name.clone(),
                    message: format!("SQLite database {} does not exist", full.display()),
                    transient: false,
                });
            }
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&full)
                .read_only(true)
                // sqlx reads SQLite on a thread of its own and hands rows
                // over a channel of 50 by default, so the two threads took
                // turns row by row: a third of a nightly pull went on
                // waking them. A deeper channel lets the reader run ahead.
                .row_buffer_size(4096)
                .disable_statement_logging();
            let conn = tokio::time::timeout(connect_timeout, opts.connect())
                .await
                .map_err(|_| timeout_connect(src, connect_timeout))?
                .map_err(connect_err)?;
            stream_rows!(conn, decode_sqlite);
        }
    }
    let report = pull.finish(landing)?;
    if let Some(dir) = probes
        && sqlite_file.is_some()
    {
        let version = lake
            .latest(&src.table)
            .ok()
            .flatten()
            .and_then(|m| m.version);
        super::probe::record(dir, src, look.as_deref(), version);
    }
    Ok(report)
}

fn timeout_connect(src: &SqlSource, d: Duration) -> Error {
    Error::Connect {
        source_name: src.name.clone(),
        message: format!("no connection within {} s", d.as_secs()),
        transient: true,
    }
}

/// Whether a driver error is worth retrying. Connection-level failures
/// (refused, reset, timed out, the pool gave up) are; so are the server
/// saying it is starting, shutting down, overloaded or that the statement
/// lost a deadlock. Authentication failures, unknown databases and SQL
/// errors are not: they fail the same way every time.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                // Too many connections, server shutdown, lock wait timeout,
                // deadlock, server gone away, lost connection.
                return matches!(my.number(), 1040 | 1053 | 1205 | 1213 | 2006 | 2013);
            }
            let code = db.code().unwrap_or_default();
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // PostgreSQL: connection exceptions (08), insufficient
                // resources (53), shutting down / cannot connect now
                // (57P0x), serialization failure and deadlock (40001, 40P01).
                return code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(
                        code.as_ref(),
                        "57P01" | "57P02" | "57P03" | "40001" | "40P01"
                    );
            }
            // SQLite: the file is busy or locked by another writer.
            matches!(code.as_ref(), "5" | "6" | "517" | "262")
        }
        _ => false,
    }
}

/// The SQL actually sent: the officer's SELECT, wrapped with the watermark
/// filter in incremental mode.
pub fn build_query(src: &SqlSource, backend: Backend, wm: Option<&Column>, bound: bool) -> String {
    let base = src.query.trim().trim_end_matches(';');
    match (wm, bound) {
        (Some(col), true) => {
            let q = match backend {
                Backend::MySql => format!("`{}`", col.source_name()),
                _ => format!("\"{}\"", col.source_name()),
            };
            let p = if backend == Backend::Postgres {
                "$1"
            } else {
                "?"
            };
            format!("SELECT * FROM ({base}) AS safer_src WHERE {q} > {p}")
        }
        _ => base.to_string(),
    }
}

fn check_result_columns(src: &SqlSource, names: Vec<String>) -> Result<Vec<String>, Error> {
    let missing: Vec<String> = src
        .columns
        .iter()
        .filter(|c| !names.iter().any(|n| n == c.source_name()))
        .map(|c| format!("`{}`", c.source_name()))
        .collect();
    if missing.is_empty() {
        Ok(names)
    } else {
        Err(Error::Query {
            transient: false,
            source_name: src.name.clone(),
            message: format!(
                "the query result lacks declared columns {}; it returns {}",
                missing.join(", "),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// Accumulates pulled rows into batches and keeps the accounting.
struct Pull<'a> {
    src: &'a SqlSource,
    unit: String,
    wm_idx: Option<usize>,
    part_idx: Option<usize>,
    names: Option<Vec<String>>,
    pos: Vec<usize>,
    buf: Vec<Vec<Value>>,
    parts: std::collections::BTreeSet<String>,
    hasher: Sha256,
    rows_read: u64,
    rows_landed: u64,
    quarantine: Vec<QuarantineRow>,
    max_wm: Option<Value>,
    min_month: Option<String>,
    max_month: Option<String>,
    /// The same two months as (year, month), for comparing.
    min_ym: Option<(i32, u32)>,
    max_ym: Option<(i32, u32)>,
}

impl<'a> Pull<'a> {
    fn new(_landing: &Landing, src: &'a SqlSource, unit: &str, wm: Option<&Column>) -> Self {
        let idx = |name: &str| src.columns.iter().position(|c| c.name == name);
        Pull {
            src,
            unit: unit.to_string(),
            wm_idx: wm.and_then(|c| idx(&c.name)),
            part_idx: src.partition_by.as_deref().and_then(idx),
            names: None,
            pos: Vec::new(),
            buf: Vec::with_capacity(BATCH_ROWS),
            parts: Default::default(),
            hasher: Sha256::new(),
            rows_read: 0,
            rows_landed: 0,
            quarantine: Vec::new(),
            max_wm: None,
            min_month: None,
            max_month: None,
            min_ym: None,
            max_ym: None,
        }
    }

    fn init_positions(&mut self) {
        if self.pos.is_empty()
            && let Some(names) = &self.names
        {
            self.pos = self
                .src
                .columns
                .iter()
                .map(|c| names.iter().position(|n| n == c.source_name()).unwrap_or(0))
                .collect();
        }
    }

    fn push(
        &mut self,
        row: Result<Vec<Value>, String>,
        landing: &mut Landing,
    ) -> Result<(), Error> {
        self.rows_read += 1;
        let values = match row.and_then(|v| self.check_required(v)) {
            Ok(v) => v,
            Err(reason) => {
                self.quarantine.push(QuarantineRow {
                    input: self.unit.clone(),
                    file: format!("source:{}", self.src.name),
                    line: self.rows_read,
                    reason,
                    record: String::new(),
                });
                return Ok(());
            }
        };
        for v in &values {
            hash_value(&mut self.hasher, v);
        }
        if let Some(i) = self.wm_idx
            && !matches!(values[i], Value::Null)
            && self.max_wm.as_ref().is_none_or(|m| value_gt(&values[i], m))
        {
            self.max_wm = Some(values[i].clone());
        }
        for v in &values {
            // Compared as numbers, written as text only when they move:
            // formatting a month for every row was a visible share of a pull.
            let ym = match v {
                Value::Date(d) => Some((d.year(), d.month())),
                Value::Ts(t) => Some((t.year(), t.month())),
                _ => None,
            };
            if let Some(ym) = ym {
                let text = || format!("{:04}-{:02}", ym.0, ym.1);
                if self.min_ym.is_none_or(|x| ym < x) {
                    self.min_ym = Some(ym);
                    self.min_month = Some(text());
                }
                if self.max_ym.is_none_or(|x| ym > x) {
                    self.max_ym = Some(ym);
                    self.max_month = Some(text());
                }
                break;
            }
        }
        self.rows_landed += 1;
        self.buf.push(values);
        if self.buf.len() >= BATCH_ROWS {
            self.flush(landing)?;
        }
        Ok(())
    }

    fn check_required(&self, v: Vec<Value>) -> Result<Vec<Value>, String> {
        for (c, x) in self.src.columns.iter().zip(&v) {
            if c.required && matches!(x, Value::Null) {
                return Err(format!("`{}` is null but required", c.name));
            }
        }
        Ok(v)
    }

    fn flush(&mut self, landing: &mut Landing) -> Result<(), Error> {
        let rows = std::mem::take(&mut self.buf);
        let mut by_part: std::collections::BTreeMap<String, Vec<Vec<Value>>> = Default::default();
        for r in rows {
            let p = match self.part_idx.map(|i| &r[i]) {
                Some(Value::Date(d)) => format!("year={}", d.year()),
                Some(Value::Ts(t)) => format!("year={}", t.year()),
                Some(Value::Int(y)) => format!("year={y}"),
                Some(_) => "year=unknown".into(),
                None => "all".into(),
            };
            by_part.entry(p).or_default().push(r);
        }
        for (p, rows) in by_part {
            let batch = rows_to_batch(&self.src.columns, &rows, &self.unit, landing)?;
            landing.write(&p, &batch)?;
            self.parts.insert(p);
        }
        Ok(())
    }

    fn finish(mut self, mut landing: Landing) -> Result<DatasetReport, Error> {
        self.flush(&mut landing)?;
        let mut report = DatasetReport::new(&self.src.table);
        report.rows_read = self.rows_read;
        report.rows_landed = self.rows_landed;
        report.rows_quarantined = self.quarantine.len() as u64;
        if self.src.mode == SqlMode::Incremental && self.rows_read == 0 {
            // Nothing new: leave the lake exactly as it was.
            report.inputs_unchanged = 1;
            report.total_rows = landing.previous().rows();
            return Ok(report);
        }
        let fingerprint = hex::encode(self.hasher.finalize());
        if self.src.mode == SqlMode::Full
            && landing
                .previous()
                .inputs
                .get("full")
                .is_some_and(|i| i.fingerprint == fingerprint)
        {
            // Same rows as last time: nothing to rewrite.
            report.inputs_unchanged = 1;
            report.total_rows = landing.previous().rows();
            return Ok(report);
        }
        landing.replace_unit(&self.unit);
        if let Some(w) = &self.max_wm {
            landing.set_watermark(Some(value_text(w)));
        }
        landing.record_input(
            &self.unit,
            InputEntry {
                origin: format!("source:{}", self.src.name),
                fingerprint,
                partitions: self.parts.iter().cloned().collect(),
                rows_read: self.rows_read,
                rows_landed: self.rows_landed,
                rows_quarantined: self.quarantine.len() as u64,
                rows_superseded: 0,
                table_versions: Default::default(),
                min_month: self.min_month.clone(),
                max_month: self.max_month.clone(),
                landed_at: now_rfc3339(),
                stat: None,
            },
        );
        landing.quarantine(self.quarantine);
        let summary = landing.commit()?;
        crate::lake::give_back_freed_memory();
        report.inputs_landed = 1;
        report.total_rows = summary.total_rows;
        Ok(report)
    }
}

/// Feed a value to the fingerprint: a type tag then its bytes, so that
/// `1` and `"1"` or `NULL` and `""` never hash alike.
fn hash_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update([0u8]),
        Value::Str(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Int(i) => {
            h.update([2u8]);
            h.update(i.to_le_bytes());
        }
        Value::Float(f) => {
            h.update([3u8]);
            h.update(f.to_bits().to_le_bytes());
        }
        Value::Bool(b) => h.update([4u8, *b as u8]),
        Value::Date(d) => {
            h.update([5u8]);
            h.update(crate::schema::date32(*d).to_le_bytes());
        }
        Value::Ts(t) => {
            h.update([6u8]);
            h.update(t.and_utc().timestamp_micros().to_le_bytes());
        }
    }
}

fn value_gt(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x > y,
        (Value::Float(x), Value::Float(y)) => x > y,
        (Value::Date(x), Value::Date(y)) => x > y,
        (Value::Ts(x), Value::Ts(y)) => x > y,
        (Value::Str(x), Value::Str(y)) => x > y,
        _ => false,
    }
}

/// A watermark as stored in the manifest; parses back with `parse_value`.
fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Ts(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.clone(),
        Value::Null => String::new(),
    }
}

fn rows_to_batch(
    columns: &[Column],
    rows: &[Vec<Value>],
    unit: &str,
    landing: &Landing,
) -> Result<RecordBatch, Error> {
    use datafusion::arrow::array::*;
    use std::sync::Arc;
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 1);
    for (i, c) in columns.iter().enumerate() {
        let col = rows.iter().map(|r| &r[i]);
        let a: ArrayRef = match c.ty {
            ColumnType::String => Arc::new(StringArray::from_iter(col.map(|v| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            }))),
            ColumnType::Int => Arc::new(Int64Array::from_iter(col.map(|v| match v {
                Value::Int(x) => Some(*x),
                _ => None,
            }))),
            ColumnType::Float => Arc::new(Float64Array::from_iter(col.map(|v| match v {
                Value::Float(x) => Some(*x),
                _ => None,
            }))),
            ColumnType::Bool => Arc::new(BooleanArray::from_iter(col.map(|v| match v {
                Value::Bool(x) => Some(*x),
                _ => None,
            }))),
            ColumnType::Date => Arc::new(Date32Array::from_iter(col.map(|v| match v {
                Value::Date(d) => Some(crate::schema::date32(*d)),
                _ => None,
            }))),
            ColumnType::Timestamp => {
                Arc::new(TimestampMicrosecondArray::from_iter(col.map(|v| match v {
                    Value::Ts(t) => Some(t.and_utc().timestamp_micros()),
                    _ => None,
                })))
            }
        };
        arrays.push(a);
    }
    arrays.push(crate::lake::input_column(unit, rows.len()));
    RecordBatch::try_new(landing.schema(), arrays).map_err(|e| Error::Internal(e.to_string()))
}

/// Convert text from a database to the declared type (for TEXT-typed dates
/// in SQLite, numbers stored as text, and so on).
fn from_text(col: &Column, s: Option<String>) -> Result<Value, String> {
    match s {
        None => Ok(Value::Null),
        Some(s) if s.trim().is_empty() => Ok(Value::Null),
        Some(s) => parse_value(col, &s),
    }
}

fn mismatch(col: &Column, found: &str) -> String {
    format!(
        "`{}` declared as {} but the database returned {found}",
        col.name,
        col.ty.name()
    )
}

// Each backend decodes the same declared types from its own wire types. The
// bodies differ only in which Rust types the driver offers, so one macro
// writes all three rather than three near-copies.
macro_rules! decoder {
    ($fname:ident, $fname_inner:ident, $row:ty $(, $decimal:ident)?) => {
        fn $fname(row: &$row, i: usize, col: &Column, hint: &mut u8) -> Result<Value, String> {
            // Try the decoding that worked for this column last time first:
            // a failed `try_get` allocates an error, and an extract of a
            // million rows would pay that on every cell.
            if *hint != 0 {
                let h = *hint;
                if let Ok(v) = $fname_inner(row, i, col, h, hint) {
                    return Ok(v);
                }
                *hint = 0;
            }
            $fname_inner(row, i, col, 0, hint)
        }

        fn $fname_inner(
            row: &$row,
            i: usize,
            col: &Column,
            only: u8,
            hint: &mut u8,
        ) -> Result<Value, String> {
            let mut n: u8 = 0;
            macro_rules! try_as {
                ($t:ty, $f:expr) => {
                    n += 1;
                    if (only == 0 || only == n)
                        && let Ok(v) = row.try_get::<Option<$t>, _>(i)
                    {
                        *hint = n;
                        return Ok(v.map($f).unwrap_or(Value::Null));
                    }
                };
            }
            let type_name = row
                .columns()
                .get(i)
                .map(|c| sqlx::TypeInfo::name(sqlx::Column::type_info(c)).to_string())
                .unwrap_or_default();
            match col.ty {
                ColumnType::String => {
                    try_as!(String, Value::Str);
                    try_as!(i64, |x: i64| Value::Str(x.to_string()));
                    try_as!(i32, |x: i32| Value::Str(x.to_string()));
                    try_as!(f64, |x: f64| Value::Str(x.to_string()));
                    try_as!(NaiveDate, |d: NaiveDate| Value::Str(d.to_string()));
                }
                ColumnType::Int => {
                    try_as!(i64, Value::Int);
                    try_as!(i32, |x: i32| Value::Int(x as i64));
                    try_as!(i16, |x: i16| Value::Int(x as i64));
                    try_as!(i8, |x: i8| Value::Int(x as i64));
                    try_as!(bool, |x: bool| Value::Int(x as i64));
                    n += 1;
                    if (only == 0 || only == n)
                        && let Ok(v) = row.try_get::<Option<String>, _>(i)
                    {
                        *hint = n;
                        return from_text(col, v);
                    }
                }
                ColumnType::Float => {
                    try_as!(f64, Value::Float);
                    try_as!(f32, |x: f32| Value::Float(x as f64));
                    $(
                        // NUMERIC/DECIMAL: PostgreSQL and MySQL only.
                        let _ = stringify!($decimal);
                        try_as!(rust_decimal::Decimal, |x: rust_decimal::Decimal| {
                            Value::Float(x.to_string().parse().unwrap_or(f64::NAN))
                        });
                    )?
                    try_as!(i64, |x: i64| Value::Float(x as f64));
                    try_as!(i32, |x: i32| Value::Float(x as f64));
                    n += 1;
                    if (only == 0 || only == n)
                        && let Ok(v) = row.try_get::<Option<String>, _>(i)
                    {
                        *hint = n;
                        return from_text(col, v);
                    }
                }
                ColumnType::Bool => {
                    try_as!(bool, Value::Bool);
                    try_as!(i64, |x: i64| Value::Bool(x != 0));
                    try_as!(i32, |x: i32| Value::Bool(x != 0));
                    try_as!(i8, |x: i8| Value::Bool(x != 0));
                    n += 1;
                    if (only == 0 || only == n)
                        && let Ok(v) = row.try_get::<Option<String>, _>(i)
                    {
                        *hint = n;
                        return from_text(col, v);
                    }
                }
                ColumnType::Date => {
                    try_as!(NaiveDate, Value::Date);
                    try_as!(NaiveDateTime, |t: NaiveDateTime| Value::Date(t.date()));
                    n += 1;
                    if (only == 0 || only == n)
                        && let Ok(v) = row.try_get::<Option<String>, _>(i)
                    {
                        *hint = n;
                        let mut c = col.clone();
                        return from_text(&c, v.clone()).or_else(|_| {
                            c.ty = ColumnType::Timestamp;
                            match from_text(&c, v)? {
                                Value::Ts(t) => Ok(Value::Date(t.date())),
                                other => Ok(other),
                            }
                        });
                    }
                }
                ColumnType::Timestamp => {
                    try_as!(NaiveDateTime, Value::Ts);
                    try_as!(DateTime<Utc>, |t: DateTime<Utc>| Value::Ts(t.naive_utc()));
                    try_as!(NaiveDate, |d: NaiveDate| Value::Ts(
                        d.and_hms_opt(0, 0, 0).unwrap_or_default()
                    ));
                    n += 1;
                    if (only == 0 || only == n)
                        && let Ok(v) = row.try_get::<Option<String>, _>(i)
                    {
                        *hint = n;
                        return from_text(col, v);
                    }
                }
            }
            let _ = n;
            Err(mismatch(col, &type_name))
        }
    };
}

decoder!(decode_pg, decode_pg_inner, sqlx::postgres::PgRow, decimal);
decoder!(
    decode_mysql,
    decode_mysql_inner,
    sqlx::mysql::MySqlRow,
    decimal
);
decoder!(decode_sqlite, decode_sqlite_inner, sqlx::sqlite::SqliteRow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_urls_and_passwords() {
        let url = "postgres://council:hunter2@db.example/x";
        let msg = format!("failed to connect to {url}: password hunter2 rejected");
        let r = redact(&msg, url);
        assert!(!r.contains("hunter2"), "{r}");
        assert!(r.contains("<connection URL>"));
    }

    #[test]
    fn backends_by_scheme() {
        assert_eq!(Backend::of("postgresql://x"), Some(Backend::Postgres));
        assert_eq!(Backend::of("mariadb://x"), Some(Backend::MySql));
        assert_eq!(Backend::of("sqlite:data.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("oracle://x"), None);
    }
}
