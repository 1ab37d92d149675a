//! Fault injection for the crash-safety tests.
//!
//! `SAFER_FAULT_CRASH_AT=<point>` makes the process abort (no destructors,
//! no buffered writes flushed: as good as `kill -9`) when it reaches the
//! named point, so the tests can kill a run exactly between two steps of a
//! publish or a landing, besides killing it at random moments. The points
//! are the places where a crash is most likely to leave something wrong;
//! the tests prove it does not. Unset (always, outside tests), a point is a
//! single environment lookup on a path that runs a handful of times a run.

/// The environment variable that names a crash point.
pub const CRASH_AT_ENV: &str = "SAFER_FAULT_CRASH_AT";

/// Abort here if the crash point is `name`.
pub fn crash_point(name: &str) {
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|v| v == name) {
        eprintln!("fault injection: aborting at {name}");
        std::process::abort();
    }
}

/// The environment variable that names a point to pause at.
pub const PAUSE_AT_ENV: &str = "SAFER_FAULT_PAUSE_AT";

/// The file whose appearance ends a pause (`SAFER_FAULT_PAUSE_FILE`).
pub const PAUSE_FILE_ENV: &str = "SAFER_FAULT_PAUSE_FILE";

/// Wait here, if the pause point is `name`, until the pause file exists
/// (at most ten minutes): the concurrency tests hold one writer just
/// before its commit while another commits, so the race they test happens
/// every time rather than by chance. The pausing process creates
/// `<pause file>.reached` so the test knows it has got there.
pub fn pause_point(name: &str) {
    if std::env::var_os(PAUSE_AT_ENV).is_none_or(|v| v != name) {
        return;
    }
    let Some(file) = std::env::var_os(PAUSE_FILE_ENV).map(std::path::PathBuf::from) else {
        return;
    };
    let mut reached = file.clone().into_os_string();
    reached.push(".reached");
    let _ = std::fs::write(&reached, b"");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !file.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
