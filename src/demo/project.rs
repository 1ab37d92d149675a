//! The demo project: generated data plus a `safer.toml`, the shipped
//! indicator SQL, output definitions and a nightly schedule, so every
//! command works on it with nothing to set up.

use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::lake;
use crate::pipeline::Error;

/// The project file `safer demo` writes.
pub const DEMO_CONFIG: &str = include_str!("demo_config.toml");

/// The nightly schedule `safer demo` writes into `schedules/`.
pub const DEMO_SCHEDULE: &str = include_str!("demo_schedule.toml");

/// Options for `safer demo`.
#[derive(Debug, Clone)]
pub struct DemoSetup {
    /// Folder for everything.
    pub dir: PathBuf,
    /// Random seed.
    pub seed: u64,
    /// Years of monthly data.
    pub years: u32,
    /// Last month of data (first day).
    pub end_month: chrono::NaiveDate,
}

/// Generate the demo folder (data, config, queries, outputs, schedules)
/// and return its config.
pub async fn prepare(setup: &DemoSetup) -> Result<Config, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&setup.dir).map_err(io(&setup.dir))?;
    // A demo is fresh data: drop the previous demo lake so an incremental
    // watermark from an older seed cannot hide the new rows.
    let lake_dir = setup.dir.join("lake");
    if lake_dir.exists() {
        std::fs::remove_dir_all(&lake_dir).map_err(io(&lake_dir))?;
    }
    let opts = super::DemoOptions {
        dir: setup.dir.clone(),
        seed: setup.seed,
        years: setup.years,
        end_month: setup.end_month,
        partner_db: true,
    };
    let data = super::generate(&opts).await?;
    tracing::info!(
        police_rows = data.police_rows,
        months = data.months,
        "Synthetic data generated."
    );
    copy_tree(
        &find_project_dir("queries"),
        &setup.dir.join("queries"),
        "sql",
    )?;
    copy_tree(
        &find_project_dir("outputs"),
        &setup.dir.join("outputs"),
        "toml",
    )?;
    let schedule = setup.dir.join("schedules/nightly.toml");
    if !schedule.exists() {
        lake::atomic_write(&schedule, DEMO_SCHEDULE.as_bytes())?;
    }
    let cfg_path = setup.dir.join(config::CONFIG_FILE);
    lake::atomic_write(&cfg_path, DEMO_CONFIG.as_bytes())?;
    Ok(Config::load(&cfg_path)?)
}

/// A folder of the project (`queries`, `outputs`): beside the working
/// directory, else in the source tree this binary was built from.
pub fn find_project_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Copy the files with extension `ext` under `from` into `to`.
fn copy_tree(from: &Path, to: &Path, ext: &str) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if !from.is_dir() {
        tracing::warn!(path = %from.display(), "Project folder not found; nothing copied.");
        return Ok(());
    }
    if std::fs::canonicalize(from).ok() == std::fs::canonicalize(to).ok() {
        return Ok(());
    }
    let mut stack = vec![from.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            let rel = p.strip_prefix(from).unwrap_or(&p);
            let dest = to.join(rel);
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::copy(&p, &dest).map_err(io(&dest))?;
            }
        }
    }
    Ok(())
}
