//! Officers' queries in a worker process, so that the time and memory
//! limits are enforced from outside and hold whatever the query does.
//!
//! Inside one process a query can only be stopped where it yields: a
//! nested-loop join that spends minutes on one batch, or an operator that
//! allocates without asking the memory pool, cannot be interrupted, and
//! with every worker thread busy even the timer that should stop it does
//! not fire. So `safer` runs queries in a child of itself (`safer
//! query-worker`, one per engine, reused for every query): the parent waits
//! for each answer with a wall-clock deadline and kills the child when it
//! passes; the child runs under an address-space limit, so a runaway
//! allocation ends the child, not the run. A killed or crashed worker is
//! replaced for the next query. The child dies with its parent
//! (`PR_SET_PDEATHSIG`).
//!
//! The protocol is one JSON line per request on the child's stdin, and per
//! answer one JSON header line on its stdout followed, for a result, by that
//! many bytes of Arrow IPC stream.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

use super::{EngineLimits, Error};

/// A query's answer: its schema and batches.
pub type Answer = (SchemaRef, Vec<RecordBatch>);

/// Address space the worker may use beyond the memory limit: the program,
/// thread stacks and allocator arenas reserve address space they never use.
const HEADROOM_BYTES: u64 = 3 << 30;

/// One request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The SQL.
    pub sql: String,
    /// Keep at most this many rows.
    pub limit: Option<usize>,
}

/// The header of one answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Header {
    /// A result of `bytes` bytes of Arrow IPC follows.
    Ok {
        /// Length of the IPC stream.
        bytes: usize,
    },
    /// The query failed.
    Failed {
        /// Which kind of failure.
        kind: String,
        /// The message.
        message: String,
        /// Where, if known.
        location: Option<(u64, u64)>,
    },
}

impl Header {
    fn from_error(e: &Error) -> Header {
        let kind = match e {
            Error::NotReadOnly { .. } => "not_read_only",
            Error::Sql { .. } => "sql",
            Error::Timeout(_) => "timeout",
            Error::TooComplex { .. } => "too_complex",
            Error::TooLarge(_) => "too_large",
            Error::Lake(_) | Error::Worker(_) | Error::Cluster(_) => "other",
        };
        Header::Failed {
            kind: kind.into(),
            message: e.to_string(),
            location: e.location(),
        }
    }

    fn into_error(kind: &str, message: String, location: Option<(u64, u64)>, secs: u64) -> Error {
        match kind {
            "not_read_only" => Error::NotReadOnly { message, location },
            "timeout" => Error::Timeout(secs),
            "too_complex" => Error::TooComplex { message, location },
            "too_large" => Error::TooLarge(message),
            _ => Error::Sql { message, location },
        }
    }
}

/// The running worker, seen from the parent.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Worker(pid {})", self.child.id())
    }
}

impl Worker {
    /// Start `exe query-worker` over `lake`, reading exactly the table
    /// versions the parent's session registered (so both see one lake even
    /// if a landing commits in between, and a pinned run stays pinned).
    pub fn spawn(
        exe: &Path,
        lake: &str,
        versions: &std::collections::BTreeMap<String, u64>,
        limits: &EngineLimits,
    ) -> std::io::Result<Worker> {
        // A folder is made absolute (the worker may start elsewhere); a
        // URL is passed as it is, its credentials through the environment.
        let lake: std::ffi::OsString = if crate::lake::store::is_url(lake) {
            lake.into()
        } else {
            std::path::absolute(lake)?.into_os_string()
        };
        let mut cmd = Command::new(exe);
        cmd.arg("query-worker")
            .arg("--lake")
            .arg(&lake)
            .arg("--versions")
            .arg(serde_json::to_string(versions).map_err(std::io::Error::other)?)
            .arg("--memory-bytes")
            .arg(limits.memory_bytes.to_string())
            .arg("--timeout-secs")
            .arg(limits.timeout.as_secs().to_string())
            .arg("--spill-bytes")
            .arg(limits.spill_bytes.to_string())
            .env("SAFER_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = &limits.spill_dir {
            cmd.arg("--spill-dir").arg(std::path::absolute(s)?);
        }
        if let Some(v) = &limits.views {
            cmd.arg("--views").arg(std::path::absolute(v)?);
        }
        let address_space = (limits.memory_bytes as u64).saturating_add(HEADROOM_BYTES);
        // SAFETY: prctl and setrlimit are async-signal-safe; nothing else
        // runs between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let lim = libc::rlimit {
                    rlim_cur: address_space as libc::rlim_t,
                    rlim_max: address_space as libc::rlim_t,
                };
                libc::setrlimit(libc::RLIMIT_AS, &lim);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?,
        );
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut e) = child.stderr.take() {
            let keep = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = e.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = keep.lock()
                        && s.len() < 64 * 1024
                    {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        Ok(Worker {
            child,
            stdin,
            stdout,
            stderr,
        })
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send one request and read its answer (blocking). The worker comes
    /// back if it is still usable.
    pub fn roundtrip(
        mut self,
        req: &Request,
        timeout_secs: u64,
    ) -> (Option<Worker>, Result<Answer, Error>) {
        let r = self.exchange(req, timeout_secs);
        match r {
            Ok(r) => (Some(self), r),
            Err(io) => {
                let why = self.death(io);
                (None, Err(why))
            }
        }
    }

    fn exchange(
        &mut self,
        req: &Request,
        timeout_secs: u64,
    ) -> std::io::Result<Result<Answer, Error>> {
        let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.stdin.write_all(&line)?;
        self.stdin.flush()?;
        let mut header = String::new();
        if self.stdout.read_line(&mut header)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the query worker stopped",
            ));
        }
        match serde_json::from_str::<Header>(header.trim()).map_err(std::io::Error::other)? {
            Header::Ok { bytes } => {
                let mut buf = vec![0u8; bytes];
                self.stdout.read_exact(&mut buf)?;
                let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(
                    std::io::Cursor::new(buf),
                    None,
                )
                .map_err(std::io::Error::other)?;
                let schema = reader.schema();
                let batches = reader
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(std::io::Error::other)?;
                Ok(Ok((schema, batches)))
            }
            Header::Failed {
                kind,
                message,
                location,
            } => Ok(Err(Header::into_error(
                &kind,
                message,
                location,
                timeout_secs,
            ))),
        }
    }

    /// Why the worker went away, in words.
    fn death(&mut self, io: std::io::Error) -> Error {
        let status = self.child.wait().ok();
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        use std::os::unix::process::ExitStatusExt;
        let signal = status.and_then(|s| s.signal());
        if stderr.contains("stack overflow") {
            return Error::TooComplex {
                message: "the query is too deeply nested for the SQL engine; simplify it (split it up with WITH)".into(),
                location: None,
            };
        }
        if stderr.contains("memory allocation") || stderr.contains("Cannot allocate memory") {
            return Error::Sql {
                message: "the query needed more memory than limits.query_memory_mib allows and was stopped".into(),
                location: None,
            };
        }
        Error::Worker(match signal {
            Some(9) => "the query was stopped".to_string(),
            Some(s) => format!(
                "the query worker ended with signal {s}: {}",
                last_line(&stderr)
            ),
            None => format!("the query worker stopped ({io}): {}", last_line(&stderr)),
        })
    }
}

fn last_line(s: &str) -> &str {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The safer executable to run workers with: `SAFER_WORKER_EXE`, else this
/// program when it is safer (not a test harness or another program using
/// the library, which then run queries in-process).
pub fn worker_exe() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SAFER_WORKER_EXE") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let exe = std::env::current_exe().ok()?;
    (exe.file_stem()? == "safer").then_some(exe)
}

/// The worker's side: answer requests on stdin until it closes.
pub async fn serve(
    lake: &Path,
    versions: Option<std::collections::BTreeMap<String, u64>>,
    limits: EngineLimits,
) -> std::io::Result<()> {
    let mut lake = crate::lake::Lake::open(lake).map_err(std::io::Error::other)?;
    if let Some(v) = versions {
        lake = lake.pinned(crate::lake::Pin::Versions(v));
    }
    let engine = match super::Engine::open(&lake, limits.in_process()).await {
        Ok(e) => Some(e),
        Err(e) => {
            // Every request will get this error.
            eprintln!("query worker: {e}");
            None
        }
    };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                write_header(
                    &mut out,
                    &Header::Failed {
                        kind: "other".into(),
                        message: format!("bad request: {e}"),
                        location: None,
                    },
                )?;
                continue;
            }
        };
        crate::faults::crash_point("worker:query");
        let result = match &engine {
            Some(engine) => engine.query_here(&req.sql, req.limit).await,
            None => Err(Error::Worker("the lake could not be opened".into())),
        };
        match result.and_then(|(schema, batches)| encode(&schema, &batches)) {
            Ok(bytes) => {
                write_header(&mut out, &Header::Ok { bytes: bytes.len() })?;
                out.write_all(&bytes)?;
            }
            Err(e) => write_header(&mut out, &Header::from_error(&e))?,
        }
        out.flush()?;
    }
    Ok(())
}

fn write_header(out: &mut impl Write, h: &Header) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(h).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

fn encode(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    {
        let mut w = datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut buf, schema)
            .map_err(|e| Error::Worker(e.to_string()))?;
        for b in batches {
            w.write(b).map_err(|e| Error::Worker(e.to_string()))?;
        }
        w.finish().map_err(|e| Error::Worker(e.to_string()))?;
    }
    Ok(buf)
}
