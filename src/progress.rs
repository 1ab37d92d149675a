//! Progress bars for people at a terminal, never in logs.
//!
//! Bars are drawn only when the process was started interactively with
//! human-readable logs (main decides and calls [`set_interactive`]); under
//! `serve`, systemd, cron or a pipe every bar is hidden, so logs stay clean
//! lines.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

static INTERACTIVE: AtomicBool = AtomicBool::new(false);

/// Turn bars on (stderr is a terminal and logs are human-readable).
pub fn set_interactive(on: bool) {
    INTERACTIVE.store(on, Ordering::Relaxed);
}

/// A bar of `len` steps labelled `what`, hidden unless interactive.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !INTERACTIVE.load(Ordering::Relaxed) || len < 2 {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{prefix:>11} [{bar:30}] {pos}/{len} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len)
        .with_style(style)
        .with_prefix(what.to_string())
}
