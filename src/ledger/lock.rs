//! The run lock: one run of a project at a time, across processes.
//!
//! An OS file lock (`flock`) on `ledger/run.lock`. The kernel drops it when
//! the holding process exits for any reason, `kill -9` included, so a lock
//! can never be left held by a dead process: a "stale" lock is only a file
//! whose contents still name the dead holder, and the next run takes it
//! over and says so. While held, the file names the holder (pid, host, start
//! time, run id), which is what a refused second run prints.
//!
//! When the ledger is PostgreSQL, a run also takes a session advisory lock
//! there (see `db`), so two machines sharing one ledger cannot overlap.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the lock inside the ledger directory.
pub const LOCK_FILE: &str = "run.lock";

/// Who holds (or held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When the run started (RFC 3339 UTC).
    pub started: String,
    /// The run id.
    pub run_id: String,
    /// The schedule (or `manual`).
    pub schedule: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {}, started {} (run {}, schedule {})",
            self.pid, self.host, self.started, self.run_id, self.schedule
        )
    }
}

/// Another run holds the lock.
#[derive(Debug, thiserror::Error)]
#[error(
    "another safer run is in progress: {}. This run was not started; it is safe to try again once that one has finished.",
    holder.as_ref().map(ToString::to_string).unwrap_or_else(|| format!("the lock {} is held by a process that did not say who it is", path.display()))
)]
pub struct Held {
    /// The holder, if the lock file says.
    pub holder: Option<Box<Holder>>,
    /// The lock file (or the advisory lock's description).
    pub path: PathBuf,
}

/// Errors taking the lock.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another run has it.
    #[error(transparent)]
    Held(#[from] Held),
    /// The lock file could not be opened or written.
    #[error("{path}: {source}")]
    Io {
        /// Lock file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// The run lock, released on drop.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// A previous holder that died without releasing cleanly.
    pub taken_over: Option<Holder>,
}

impl RunLock {
    /// Take the lock in `dir` for `holder`, failing at once if another
    /// process holds it.
    pub fn acquire(dir: &Path, holder: &Holder) -> Result<RunLock, Error> {
        let path = dir.join(LOCK_FILE);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes its name just after locking: give it a
                // moment so the refusal can say who it is.
                let mut holder = read_holder(&path);
                for _ in 0..10 {
                    if holder.is_some() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    holder = read_holder(&path);
                }
                return Err(Held {
                    holder: holder.map(Box::new),
                    path,
                }
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut old = String::new();
        let _ = file.read_to_string(&mut old);
        let taken_over = serde_json::from_str::<Holder>(old.trim()).ok();
        if let Some(h) = &taken_over {
            tracing::warn!(previous = %h, "Took over the run lock from a run that stopped without finishing.");
        }
        let json = serde_json::to_vec(holder).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(RunLock {
            file,
            path,
            taken_over,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Empty the file so the next holder does not think this run died.
        // The kernel releases the lock itself when the file is closed.
        let _ = self.file.set_len(0);
        let _ = self.file.sync_all();
    }
}

/// Who the lock file says holds it (also used by `safer status`).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Who holds the lock in `dir` right now, if anyone. Reads the lock file
/// without touching the lock (so `safer status` can never get in a run's
/// way): the holder empties the file when it lets go, so a holder named
/// there is running, unless it is on this host and its process is gone.
pub fn current_holder(dir: &Path) -> Option<Holder> {
    let h = read_holder(&dir.join(LOCK_FILE))?;
    if h.host == super::host_name() && !pid_alive(h.pid) {
        return None;
    }
    Some(h)
}

/// Whether a process with this id exists on this machine.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(run: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: crate::ledger::host_name(),
            started: "2027-01-01T01:30:00Z".into(),
            run_id: run.into(),
            schedule: "nightly".into(),
        }
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), &holder("a")).unwrap();
        let err = RunLock::acquire(dir.path(), &holder("b")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("run a"), "{text}");
        assert_eq!(
            current_holder(dir.path()).map(|h| h.run_id),
            Some("a".to_string())
        );
        drop(first);
        assert!(current_holder(dir.path()).is_none());
        let again = RunLock::acquire(dir.path(), &holder("c")).unwrap();
        assert!(again.taken_over.is_none(), "a clean release is not stale");
    }

    #[test]
    fn a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed run leaves: the file names it, nobody holds it.
        let dead = Holder {
            pid: 999_999,
            ..holder("dead")
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        assert!(
            current_holder(dir.path()).is_none(),
            "a dead holder is not running"
        );
        let lock = RunLock::acquire(dir.path(), &holder("new")).unwrap();
        assert_eq!(lock.taken_over, Some(dead));
        assert_eq!(read_holder(lock.path()).unwrap().run_id, "new");
    }
}
