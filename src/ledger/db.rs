//! The ledger database: SQLite by default, PostgreSQL when configured.
//!
//! Both speak the same SQL here (TEXT, BIGINT, DOUBLE PRECISION and
//! `INSERT ... ON CONFLICT`), written once with `?` placeholders that are
//! renumbered to `$n` for PostgreSQL. Times are RFC 3339 text, which sorts
//! correctly and reads the same in both. Migrations are numbered and
//! recorded in `safer_schema_migrations`; each runs once, in a transaction.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::lock::{Held, Holder};
use super::{Error, RunRecord, RunStatus, SQLITE_FILE, StepRecord};

/// Which database holds the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// A SQLite file in the ledger directory.
    Sqlite,
    /// A PostgreSQL database named by `ledger.url_env`.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool, Box<PgConnectOptions>),
}

/// The run ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: Pool,
    dir: PathBuf,
    /// Where it is, for people (never the connection string).
    location: String,
}

/// One line of `safer runs`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Schedule.
    pub schedule: String,
    /// Logical date.
    pub logical_date: NaiveDate,
    /// Status.
    pub status: RunStatus,
    /// Start.
    pub started: String,
    /// End.
    pub finished: Option<String>,
    /// Version that ran it.
    pub software_version: String,
}

/// One migration: a version, what it does, its statements.
struct Migration {
    version: i64,
    description: &'static str,
    statements: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "runs, steps, outputs, source freshness, indicators",
    statements: &[
        "CREATE TABLE IF NOT EXISTS safer_runs (
                run_id TEXT PRIMARY KEY,
                schedule TEXT NOT NULL,
                logical_date TEXT NOT NULL,
                as_of TEXT,
                status TEXT NOT NULL,
                started TEXT NOT NULL,
                finished TEXT,
                pid BIGINT NOT NULL,
                host TEXT NOT NULL,
                software_version TEXT NOT NULL,
                detail TEXT NOT NULL
            )",
        "CREATE INDEX IF NOT EXISTS safer_runs_by_night ON safer_runs (schedule, logical_date)",
        "CREATE TABLE IF NOT EXISTS safer_run_steps (
                run_id TEXT NOT NULL REFERENCES safer_runs (run_id),
                step TEXT NOT NULL,
                status TEXT NOT NULL,
                started TEXT NOT NULL,
                finished TEXT,
                rows_done BIGINT NOT NULL,
                error TEXT,
                seconds DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (run_id, step)
            )",
        "CREATE TABLE IF NOT EXISTS safer_run_outputs (
                run_id TEXT NOT NULL REFERENCES safer_runs (run_id),
                path TEXT NOT NULL,
                PRIMARY KEY (run_id, path)
            )",
        "CREATE TABLE IF NOT EXISTS safer_source_freshness (
                run_id TEXT NOT NULL REFERENCES safer_runs (run_id),
                source TEXT NOT NULL,
                newest_month TEXT,
                max_lag_months BIGINT,
                stale BIGINT NOT NULL,
                PRIMARY KEY (run_id, source)
            )",
        "CREATE TABLE IF NOT EXISTS safer_indicator_runs (
                run_id TEXT NOT NULL REFERENCES safer_runs (run_id),
                indicator_id TEXT NOT NULL,
                status TEXT NOT NULL,
                points BIGINT NOT NULL,
                sql_hash TEXT NOT NULL,
                error TEXT,
                seconds DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (run_id, indicator_id)
            )",
        "CREATE TABLE IF NOT EXISTS safer_run_lock (
                id BIGINT PRIMARY KEY,
                holder TEXT NOT NULL
            )",
    ],
}];

/// `?` placeholders as PostgreSQL's `$1, $2, ...` (our statements have no
/// `?` inside literals).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Run `$body` with `$pool` bound to the concrete pool and `$q` turning a
/// `?`-placeholder statement into the backend's dialect.
macro_rules! on_pool {
    ($self:expr, |$pool:ident, $q:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => {
                let $q = |s: &str| s.to_string();
                $body
            }
            Pool::Postgres($pool, _) => {
                let $q = |s: &str| numbered(s);
                $body
            }
        }
    };
}

/// The advisory lock key (two int4s) for "one safer run at a time".
const ADVISORY_KEY: (i32, i32) = (0x5afe, 0x0001);

/// A PostgreSQL session advisory lock, released when dropped (the server
/// releases it when the session ends, however it ends).
#[derive(Debug)]
pub struct AdvisoryLock {
    _conn: sqlx::PgConnection,
}

impl Ledger {
    /// Open the ledger: the SQLite file in `dir`, or PostgreSQL at `url`.
    /// Applies any migrations not yet applied.
    pub async fn open(dir: &Path, url: Option<&str>) -> Result<Ledger, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let ledger = match url {
            None => {
                let path = dir.join(SQLITE_FILE);
                let opts = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(opts)
                    .await
                    .map_err(|e| Error::Database {
                        backend: Backend::Sqlite,
                        message: format!("{}: {e}", path.display()),
                    })?;
                Ledger {
                    pool: Pool::Sqlite(pool),
                    dir: dir.to_path_buf(),
                    location: path.display().to_string(),
                }
            }
            Some(url) => {
                let redact = |e: sqlx::Error| Error::Database {
                    backend: Backend::Postgres,
                    message: crate::sources::sql::redact(&e.to_string(), url),
                };
                let opts = PgConnectOptions::from_str(url)
                    .map_err(redact)?
                    .application_name("safer ledger");
                let pool = PgPoolOptions::new()
                    .max_connections(3)
                    .acquire_timeout(Duration::from_secs(15))
                    .connect_with(opts.clone())
                    .await
                    .map_err(redact)?;
                let location = format!(
                    "PostgreSQL database {} on {}",
                    opts.get_database().unwrap_or("(default)"),
                    opts.get_host()
                );
                Ledger {
                    pool: Pool::Postgres(pool, Box::new(opts)),
                    dir: dir.to_path_buf(),
                    location,
                }
            }
        };
        ledger.migrate().await?;
        Ok(ledger)
    }

    /// Open the ledger a project's config describes.
    pub async fn open_for(cfg: &crate::config::Config) -> Result<Ledger, Error> {
        let dir = cfg.resolve(&cfg.paths.ledger);
        match &cfg.ledger.url_env {
            None => Ledger::open(&dir, None).await,
            Some(var) => {
                let url = std::env::var(var).map_err(|_| {
                    Error::Config(format!(
                        "ledger.url_env names `{var}`, which is not set; set it to the PostgreSQL URL, or remove url_env to use the SQLite ledger"
                    ))
                })?;
                Ledger::open(&dir, Some(&url)).await
            }
        }
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(..) => Backend::Postgres,
        }
    }

    /// Where the ledger is, in words (never the connection string).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The ledger directory (the lock and the JSON-lines export live here).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, e: sqlx::Error) -> Error {
        Error::Database {
            backend: self.backend(),
            message: e.to_string(),
        }
    }

    async fn migrate(&self) -> Result<(), Error> {
        on_pool!(self, |pool, q| {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS safer_schema_migrations (
                    version BIGINT PRIMARY KEY,
                    description TEXT NOT NULL,
                    applied_at TEXT NOT NULL
                )",
            )
            .execute(pool)
            .await
            .map_err(|e| self.err(e))?;
            for m in MIGRATIONS {
                let done: Option<i64> = sqlx::query_scalar(&q(
                    "SELECT version FROM safer_schema_migrations WHERE version = ?",
                ))
                .bind(m.version)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?;
                if done.is_some() {
                    continue;
                }
                let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
                for s in m.statements {
                    sqlx::query(s)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                }
                sqlx::query(&q(
                    "INSERT INTO safer_schema_migrations (version, description, applied_at)
                     VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING",
                ))
                .bind(m.version)
                .bind(m.description)
                .bind(crate::lake::now_rfc3339())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                tx.commit().await.map_err(|e| self.err(e))?;
                tracing::info!(
                    version = m.version,
                    description = m.description,
                    "Ledger migrated."
                );
            }
            Ok(())
        })
    }

    /// The migrations applied, oldest first.
    pub async fn migrations(&self) -> Result<Vec<i64>, Error> {
        on_pool!(self, |pool, _q| {
            sqlx::query_scalar("SELECT version FROM safer_schema_migrations ORDER BY version")
                .fetch_all(pool)
                .await
                .map_err(|e| self.err(e))
        })
    }

    /// Record that a run has started.
    pub async fn begin(&self, r: &RunRecord) -> Result<(), Error> {
        let detail = serde_json::to_string(r).unwrap_or_default();
        on_pool!(self, |pool, q| {
            sqlx::query(&q("INSERT INTO safer_runs
                (run_id, schedule, logical_date, as_of, status, started, finished, pid, host, software_version, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(&r.run_id)
            .bind(&r.schedule)
            .bind(r.logical_date.to_string())
            .bind(r.as_of.map(|d| d.to_string()))
            .bind(r.status.as_str())
            .bind(&r.started)
            .bind(&r.finished)
            .bind(i64::from(r.pid))
            .bind(&r.host)
            .bind(&r.software_version)
            .bind(detail)
            .execute(pool)
            .await
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// Record a step starting or ending.
    pub async fn step(&self, run_id: &str, s: &StepRecord) -> Result<(), Error> {
        on_pool!(self, |pool, q| {
            sqlx::query(&q("INSERT INTO safer_run_steps
                (run_id, step, status, started, finished, rows_done, error, seconds)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, step) DO UPDATE SET
                  status = excluded.status, finished = excluded.finished,
                  rows_done = excluded.rows_done, error = excluded.error,
                  seconds = excluded.seconds"))
            .bind(run_id)
            .bind(s.step.as_str())
            .bind(s.status.as_str())
            .bind(&s.started)
            .bind(&s.finished)
            .bind(s.rows as i64)
            .bind(&s.error)
            .bind(s.seconds)
            .execute(pool)
            .await
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// Record how a run ended, with its steps, outputs, freshness and
    /// indicators.
    pub async fn finish(&self, r: &RunRecord) -> Result<(), Error> {
        for s in &r.steps {
            self.step(&r.run_id, s).await?;
        }
        let detail = serde_json::to_string(r).unwrap_or_default();
        on_pool!(self, |pool, q| {
            let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
            sqlx::query(&q(
                "UPDATE safer_runs SET status = ?, finished = ?, detail = ? WHERE run_id = ?",
            ))
            .bind(r.status.as_str())
            .bind(&r.finished)
            .bind(detail)
            .bind(&r.run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            for o in &r.outputs {
                sqlx::query(&q(
                    "INSERT INTO safer_run_outputs (run_id, path) VALUES (?, ?)
                    ON CONFLICT (run_id, path) DO NOTHING",
                ))
                .bind(&r.run_id)
                .bind(o)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            for f in &r.freshness {
                sqlx::query(&q("INSERT INTO safer_source_freshness
                    (run_id, source, newest_month, max_lag_months, stale) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (run_id, source) DO NOTHING"))
                .bind(&r.run_id)
                .bind(&f.source)
                .bind(f.newest_month.map(|m| m.format("%Y-%m").to_string()))
                .bind(f.max_lag_months.map(i64::from))
                .bind(i64::from(f.stale))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            for i in &r.indicators {
                sqlx::query(&q("INSERT INTO safer_indicator_runs
                    (run_id, indicator_id, status, points, sql_hash, error, seconds)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (run_id, indicator_id) DO NOTHING"))
                .bind(&r.run_id)
                .bind(&i.id)
                .bind(match i.status {
                    super::IndicatorStatus::Ok => "ok",
                    super::IndicatorStatus::Failed => "failed",
                })
                .bind(i.points as i64)
                .bind(&i.sql_hash)
                .bind(&i.error)
                .bind(i.seconds)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            tx.commit().await.map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// Runs left `running` by a process that died: marked abandoned. Call
    /// only while holding the run lock (so none of them can be alive).
    pub async fn abandon_unfinished(&self, except: &str) -> Result<Vec<String>, Error> {
        let now = crate::lake::now_rfc3339();
        on_pool!(self, |pool, q| {
            let ids: Vec<String> = sqlx::query_scalar(&q(
                "SELECT run_id FROM safer_runs WHERE status = 'running' AND run_id <> ?",
            ))
            .bind(except)
            .fetch_all(pool)
            .await
            .map_err(|e| self.err(e))?;
            for id in &ids {
                sqlx::query(&q(
                    "UPDATE safer_runs SET status = 'abandoned', finished = ? WHERE run_id = ?",
                ))
                .bind(&now)
                .bind(id)
                .execute(pool)
                .await
                .map_err(|e| self.err(e))?;
                sqlx::query(&q(
                    "UPDATE safer_run_steps SET status = 'abandoned', finished = ?
                     WHERE run_id = ? AND status = 'running'",
                ))
                .bind(&now)
                .bind(id)
                .execute(pool)
                .await
                .map_err(|e| self.err(e))?;
            }
            Ok(ids)
        })
    }

    /// Mark one run abandoned (the scheduler dropped it at shutdown).
    pub async fn abandon_run(&self, run_id: &str) -> Result<(), Error> {
        let now = crate::lake::now_rfc3339();
        on_pool!(self, |pool, q| {
            sqlx::query(&q(
                "UPDATE safer_runs SET status = 'abandoned', finished = ?
                 WHERE run_id = ? AND status = 'running'",
            ))
            .bind(&now)
            .bind(run_id)
            .execute(pool)
            .await
            .map_err(|e| self.err(e))?;
            sqlx::query(&q(
                "UPDATE safer_run_steps SET status = 'abandoned', finished = ?
                 WHERE run_id = ? AND status = 'running'",
            ))
            .bind(&now)
            .bind(run_id)
            .execute(pool)
            .await
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn summary_from(status: &str, row: SummaryRow) -> Option<RunSummary> {
        Some(RunSummary {
            run_id: row.0,
            schedule: row.1,
            logical_date: NaiveDate::parse_from_str(&row.2, "%Y-%m-%d").ok()?,
            status: RunStatus::parse(status)?,
            started: row.3,
            finished: row.4,
            software_version: row.5,
        })
    }

    async fn summaries(&self, where_sql: &str, binds: &[&str]) -> Result<Vec<RunSummary>, Error> {
        let sql = format!(
            "SELECT run_id, schedule, logical_date, started, finished, software_version, status
             FROM safer_runs {where_sql}"
        );
        on_pool!(self, |pool, q| {
            let sql = q(&sql);
            let mut query = sqlx::query(&sql);
            for b in binds {
                query = query.bind(*b);
            }
            let rows = query.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::new();
            for row in rows {
                let get = |i: usize| row.try_get::<String, _>(i);
                let status: String = get(6).map_err(|e| self.err(e))?;
                let r = (
                    get(0).map_err(|e| self.err(e))?,
                    get(1).map_err(|e| self.err(e))?,
                    get(2).map_err(|e| self.err(e))?,
                    get(3).map_err(|e| self.err(e))?,
                    row.try_get::<Option<String>, _>(4)
                        .map_err(|e| self.err(e))?,
                    get(5).map_err(|e| self.err(e))?,
                );
                out.extend(Self::summary_from(&status, r));
            }
            Ok(out)
        })
    }

    /// The finished (ok or partial) run of a schedule for a night, if any.
    pub async fn completed(
        &self,
        schedule: &str,
        logical_date: NaiveDate,
    ) -> Result<Option<RunSummary>, Error> {
        let date = logical_date.to_string();
        Ok(self
            .summaries(
                "WHERE schedule = ? AND logical_date = ? AND status IN ('ok', 'partial')
                 ORDER BY started DESC, run_id DESC",
                &[schedule, &date],
            )
            .await?
            .into_iter()
            .next())
    }

    /// Whether a schedule has any run for this night or an earlier one (so
    /// a missed or failed night can be told apart from a schedule that is
    /// new).
    pub async fn ran_before(&self, schedule: &str, logical_date: NaiveDate) -> Result<bool, Error> {
        let date = logical_date.to_string();
        Ok(!self
            .summaries(
                "WHERE schedule = ? AND logical_date <= ?",
                &[schedule, &date],
            )
            .await?
            .is_empty())
    }

    /// The newest `n` runs, newest first; only those that need attention
    /// when `failed_only`.
    pub async fn recent(&self, n: usize, failed_only: bool) -> Result<Vec<RunSummary>, Error> {
        let filter = if failed_only {
            "WHERE status IN ('failed', 'partial', 'abandoned')"
        } else {
            ""
        };
        let mut v = self
            .summaries(&format!("{filter} ORDER BY started DESC, run_id DESC"), &[])
            .await?;
        v.truncate(n);
        Ok(v)
    }

    /// The lake table versions the ledger still needs kept readable: those
    /// read by any run started at or after `since` (RFC 3339), and by the
    /// newest complete run of each schedule however old, so its pack can
    /// always be rebuilt. Table -> versions.
    pub async fn lake_versions_needed(
        &self,
        since: &str,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeSet<u64>>, Error> {
        let rows: Vec<(String, String, String, String)> = on_pool!(self, |pool, _q| {
            sqlx::query_as(
                "SELECT schedule, started, status, detail FROM safer_runs ORDER BY started DESC, run_id DESC",
            )
            .fetch_all(pool)
            .await
            .map_err(|e| self.err(e))?
        });
        let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<u64>> =
            Default::default();
        let mut newest_complete: std::collections::HashSet<String> = Default::default();
        for (schedule, started, status, detail) in rows {
            let complete = RunStatus::parse(&status).is_some_and(RunStatus::is_complete);
            let wanted =
                started.as_str() >= since || (complete && newest_complete.insert(schedule.clone()));
            if !wanted {
                continue;
            }
            let Ok(record) = serde_json::from_str::<RunRecord>(&detail) else {
                continue;
            };
            for (table, v) in record.lake_versions {
                out.entry(table).or_default().insert(v);
            }
        }
        Ok(out)
    }

    /// The newest run of each schedule.
    pub async fn latest_per_schedule(&self) -> Result<Vec<RunSummary>, Error> {
        let all = self
            .summaries("ORDER BY schedule, started DESC, run_id DESC", &[])
            .await?;
        let mut out: Vec<RunSummary> = Vec::new();
        for r in all {
            if out.last().is_none_or(|l| l.schedule != r.schedule) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The newest run of a schedule that completed (ok or partial).
    pub async fn last_complete(&self, schedule: &str) -> Result<Option<RunSummary>, Error> {
        Ok(self
            .summaries(
                "WHERE schedule = ? AND status IN ('ok', 'partial') ORDER BY started DESC, run_id DESC",
                &[schedule],
            )
            .await?
            .into_iter()
            .next())
    }

    /// One run in full: its record with the steps as the ledger has them
    /// now (a run still going, or killed, has only the steps it reached).
    pub async fn get(&self, run_id: &str) -> Result<Option<RunRecord>, Error> {
        let (detail, status, finished): (String, String, Option<String>) =
            match on_pool!(self, |pool, q| {
                sqlx::query_as(&q(
                    "SELECT detail, status, finished FROM safer_runs WHERE run_id = ?",
                ))
                .bind(run_id)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?
            }) {
                Some(r) => r,
                None => return Ok(None),
            };
        let Ok(mut record) = serde_json::from_str::<RunRecord>(&detail) else {
            return Err(Error::Database {
                backend: self.backend(),
                message: format!("run {run_id}: the stored record is unreadable"),
            });
        };
        record.status = RunStatus::parse(&status).unwrap_or(record.status);
        record.finished = finished;
        let steps: Vec<StepRow> = on_pool!(self, |pool, q| {
            sqlx::query_as(&q(
                "SELECT step, status, started, finished, rows_done, error, seconds
                 FROM safer_run_steps WHERE run_id = ? ORDER BY started, step",
            ))
            .bind(run_id)
            .fetch_all(pool)
            .await
            .map_err(|e| self.err(e))?
        });
        let mut from_db: Vec<StepRecord> = steps
            .into_iter()
            .filter_map(|(step, status, started, finished, rows, error, seconds)| {
                Some(StepRecord {
                    step: super::Step::parse(&step)?,
                    status: super::StepStatus::parse(&status)?,
                    started,
                    finished,
                    rows: rows.max(0) as u64,
                    error,
                    seconds,
                })
            })
            .collect();
        from_db.sort_by_key(|s| s.step);
        if !from_db.is_empty() {
            record.steps = from_db;
        }
        Ok(Some(record))
    }

    /// Take the PostgreSQL advisory lock (no-op for SQLite, where the file
    /// lock is enough). Fails at once when another session holds it.
    pub async fn advisory_lock(&self, holder: &Holder) -> Result<Option<AdvisoryLock>, Error> {
        let Pool::Postgres(pool, opts) = &self.pool else {
            return Ok(None);
        };
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(
            &opts
                .as_ref()
                .clone()
                .application_name(&format!("safer run {}", holder.run_id)),
        )
        .await
        .map_err(|e| self.err(e))?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(ADVISORY_KEY.0)
            .bind(ADVISORY_KEY.1)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        if !got {
            let text: Option<String> =
                sqlx::query_scalar("SELECT holder FROM safer_run_lock WHERE id = 1")
                    .fetch_optional(pool)
                    .await
                    .map_err(|e| self.err(e))?;
            return Err(Held {
                holder: text.and_then(|t| serde_json::from_str(&t).ok().map(Box::new)),
                path: PathBuf::from(format!("the advisory lock in {}", self.location)),
            }
            .into());
        }
        sqlx::query(
            "INSERT INTO safer_run_lock (id, holder) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder",
        )
        .bind(serde_json::to_string(holder).unwrap_or_default())
        .execute(&mut conn)
        .await
        .map_err(|e| self.err(e))?;
        Ok(Some(AdvisoryLock { _conn: conn }))
    }
}

type SummaryRow = (String, String, String, String, Option<String>, String);
type StepRow = (
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    f64,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("UPDATE t SET a = ?, b = ? WHERE c = ?"),
            "UPDATE t SET a = $1, b = $2 WHERE c = $3"
        );
    }
}
