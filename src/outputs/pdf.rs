//! The PDF of the committee pack, printed by the system's headless Chromium.
//!
//! Why Chromium: the HTML pack is the primary, accessible output, and the
//! PDF must carry the same content. A browser prints that HTML faithfully
//! (the print stylesheet, the inline SVG charts, real text) and writes a
//! document outline from the headings, which an embedded Rust typesetter
//! would have to re-implement from scratch. The cost is a dependency on a
//! program: when Chromium is not installed the run says so plainly and still
//! produces the HTML and the workbook.

use std::path::{Path, PathBuf};

use std::process::Command;
use std::time::Duration;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Chromium found.
    #[error(
        "no headless Chromium found (install Debian's `chromium` package, or set SAFER_CHROMIUM to its path)"
    )]
    NoBrowser,
    /// Chromium ran but made no PDF.
    #[error("Chromium could not print the pack: {0}")]
    Failed(String),
}

/// The browser to use: `SAFER_CHROMIUM`, else the usual names on PATH.
pub fn find_browser() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SAFER_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Prefix of the scratch folders (browser profile and temp files) in the
/// system temp folder, followed by the owning process id.
const SCRATCH_PREFIX: &str = "safer-chromium-";

/// Print `html` to `pdf`.
///
/// The browser gets a scratch folder of its own, `safer-chromium-<pid>-*` in
/// the system temp folder, as its profile and its TMPDIR (so its sockets
/// and temp files go there too; the path stays short, as Unix sockets
/// need). It is removed afterwards; if safer is killed first, the browser
/// dies with it and the next run removes the folder
/// ([`remove_stale_scratch`]).
pub fn render(html: &Path, pdf: &Path) -> Result<(), Error> {
    let browser = find_browser().ok_or(Error::NoBrowser)?;
    let html = std::path::absolute(html).map_err(|e| Error::Failed(e.to_string()))?;
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    // Short names: Chromium puts a Unix socket under its TMPDIR, and socket
    // paths are limited to 107 bytes.
    let scratch = scratch_root().join(format!(
        "{SCRATCH_PREFIX}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let r = render_in(&browser, &html, pdf, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    r
}

/// Remove scratch folders left by safer processes that no longer exist.
/// Returns the folders removed.
pub fn remove_stale_scratch() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(scratch_root()) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = u32::try_from(pid).is_ok_and(crate::ledger::lock::pid_alive);
        if !alive && std::fs::remove_dir_all(e.path()).is_ok() {
            out.push(e.path());
        }
    }
    out
}

/// The system temp folder, or `/tmp` when that path is too long to leave
/// room for Chromium's socket path.
fn scratch_root() -> PathBuf {
    let t = std::env::temp_dir();
    if t.as_os_str().len() <= 48 || !Path::new("/tmp").is_dir() {
        t
    } else {
        PathBuf::from("/tmp")
    }
}

fn render_in(browser: &Path, html: &Path, pdf: &Path, scratch: &Path) -> Result<(), Error> {
    let profile = scratch.join("p");
    let tmp = scratch.join("t");
    std::fs::create_dir_all(&profile).map_err(|e| Error::Failed(e.to_string()))?;
    std::fs::create_dir_all(&tmp).map_err(|e| Error::Failed(e.to_string()))?;
    let mut cmd = Command::new(browser);
    // If safer is killed, the browser goes with it rather than printing
    // into a folder nobody will read. (PR_SET_PDEATHSIG fires when the
    // spawning thread exits; this thread waits for the child below.)
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            // SAFETY: prctl with PR_SET_PDEATHSIG is async-signal-safe.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.env("TMPDIR", &tmp);
    let mut child = cmd
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Failed(e.to_string()))?;
    // Drained on a thread: a chatty browser must not stall on a full pipe.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    // A browser that hangs must not hang the nightly run.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Failed("timed out after 120 s".into()));
            }
            Err(e) => return Err(Error::Failed(e.to_string())),
        }
    };
    let ok = std::fs::metadata(pdf).map(|m| m.len() > 0).unwrap_or(false);
    if status.success() && ok {
        Ok(())
    } else {
        let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        Err(Error::Failed(format!(
            "exit {status}: {}",
            err.lines().last().unwrap_or("no message")
        )))
    }
}
