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
