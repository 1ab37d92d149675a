//! `safer status`: one screen for whoever gets the phone call.
//!
//! Last run per schedule and how it ended, the next fire times, how fresh
//! each source is against what it declares, the indicators failing in the
//! latest run, where the latest good pack of each output is, and whether a
//! run is going right now. Built here as data; the CLI prints it.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::lake::Lake;
use crate::ledger::lock::{self, Holder};
use crate::ledger::{Ledger, RunStatus, RunSummary};
use crate::scheduler::schedule;
use crate::sources::{self, SourceFreshness};

/// One schedule's line.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleStatus {
    /// Name.
    pub name: String,
    /// Cron expression and zone, as written.
    pub when: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Its newest run.
    pub last: Option<RunSummary>,
    /// Its next fire times: local with offset, and UTC.
    pub next: Vec<(String, String)>,
}

/// One output's latest good pack.
#[derive(Debug, Clone, Serialize)]
pub struct PackStatus {
    /// Output name.
    pub output: String,
    /// Reporting period.
    pub period: String,
    /// Folder.
    pub dir: PathBuf,
    /// Run that wrote it.
    pub run_id: Option<String>,
    /// When that run started.
    pub run_time: Option<String>,
}

/// Everything `safer status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Organisation.
    pub organisation: String,
    /// Where the ledger is.
    pub ledger: String,
    /// A run holding the lock right now, if any.
    pub running: Option<Holder>,
    /// Schedules.
    pub schedules: Vec<ScheduleStatus>,
    /// Problems reading the schedules folder.
    pub schedule_problems: Vec<String>,
    /// Runs of no schedule file (`manual`, `demo`), newest first.
    pub other_runs: Vec<RunSummary>,
    /// Source freshness, against today.
    pub freshness: Vec<SourceFreshness>,
    /// Source tests whose latest check failed.
    pub source_tests: Vec<crate::sources::checks::Outcome>,
    /// Indicators failing in the newest run that measured them, with why.
    pub failing_indicators: Vec<(String, String)>,
    /// The run those came from.
    pub indicators_run: Option<String>,
    /// Latest good pack per output.
    pub packs: Vec<PackStatus>,
    /// What needs a person, in words (empty: all well).
    pub attention: Vec<String>,
}

/// Build the status at `now`.
pub async fn build(cfg: &Config, ledger: &Ledger, now: DateTime<Utc>) -> Status {
    let mut attention = Vec::new();
    let latest = ledger.latest_per_schedule().await.unwrap_or_else(|e| {
        attention.push(format!("the ledger could not be read: {e}"));
        Vec::new()
    });
    let (loaded, schedule_problems) = match schedule::load_dir(&cfg.resolve(&cfg.paths.schedules)) {
        Ok(s) => (s, Vec::new()),
        Err(e) => (Vec::new(), e.iter().map(ToString::to_string).collect()),
    };
    for p in &schedule_problems {
        attention.push(format!("schedule file problem: {p}"));
    }
    let running = lock::current_holder(ledger.dir());
    // A run the ledger still calls running while no process holds the
    // lock was stopped (killed, or the machine went down).
    for r in latest.iter().filter(|r| r.status == RunStatus::Running) {
        if running.as_ref().is_none_or(|h| h.run_id != r.run_id) {
            attention.push(format!(
                "run {} ({} for {}) was stopped before it finished; the next run marks it abandoned and tidies up",
                r.run_id, r.schedule, r.logical_date
            ));
        }
    }
    let mut schedules = Vec::new();
    for s in &loaded {
        let last = latest.iter().find(|r| r.schedule == s.name).cloned();
        // A schedule that has run before should have finished its latest
        // night (allowing it an hour to run): if not, the service may be
        // down or the night failed.
        if s.enabled
            && last.is_some()
            && let Some(fire) =
                s.latest_at_or_before(now - chrono::Duration::hours(1), chrono::Duration::days(7))
        {
            let night = s.logical_date(fire);
            let done = ledger.completed(&s.name, night).await.ok().flatten();
            let going = running.as_ref().is_some_and(|h| h.schedule == s.name);
            if done.is_none() && !going {
                attention.push(format!(
                    "schedule {} should have run at {} but no run finished for {night}: is `safer serve` running? (`systemctl status safer`)",
                    s.name,
                    s.local(fire)
                ));
            }
        }
        if let Some(l) = &last
            && l.status.needs_attention()
        {
            attention.push(format!(
                "the last {} run ({}, for {}) ended {}: see `safer runs show {}`",
                s.name, l.run_id, l.logical_date, l.status, l.run_id
            ));
        }
        let mut next = Vec::new();
        let mut t = now;
        for _ in 0..3 {
            match s.next_after(t) {
                Some(n) => {
                    next.push((
                        s.local(n),
                        n.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    ));
                    t = n;
                }
                None => break,
            }
        }
        schedules.push(ScheduleStatus {
            name: s.name.clone(),
            when: format!("{} ({})", s.cron_text, s.tz),
            enabled: s.enabled,
            last,
            next,
        });
    }
    let other_runs: Vec<RunSummary> = latest
        .iter()
        .filter(|r| !loaded.iter().any(|s| s.name == r.schedule))
        .cloned()
        .collect();

    let mut source_tests = Vec::new();
    let freshness = match Lake::open(cfg.lake_dir())
        .map_err(|e| e.to_string())
        .and_then(|lake| {
            source_tests = sources::checks::latest(&lake)
                .into_iter()
                .filter(|o| !o.passed)
                .collect();
            sources::freshness(cfg, &lake, now.date_naive()).map_err(|e| e.to_string())
        }) {
        Ok(f) => f,
        Err(e) => {
            attention.push(format!("the lake could not be read: {e}"));
            Vec::new()
        }
    };
    for f in freshness.iter().filter(|f| f.stale) {
        attention.push(format!("stale data: {}", f.describe()));
    }

    for t in &source_tests {
        attention.push(format!("source test: {}", t.describe()));
    }

    // Failing indicators: from the newest run that ran them.
    let mut failing_indicators = Vec::new();
    let mut indicators_run = None;
    if let Ok(recent) = ledger.recent(20, false).await {
        for r in recent {
            if let Ok(Some(rec)) = ledger.get(&r.run_id).await
                && !rec.indicators.is_empty()
            {
                failing_indicators = rec
                    .failed_indicators()
                    .map(|i| (i.id.clone(), i.error.clone().unwrap_or_default()))
                    .collect();
                indicators_run = Some(rec.run_id.clone());
                break;
            }
        }
    }
    if !failing_indicators.is_empty() {
        attention.push(format!(
            "{} indicator(s) failing: `safer check` shows where",
            failing_indicators.len()
        ));
    }

    let mut packs = Vec::new();
    let outputs_dir = cfg.resolve(&cfg.paths.outputs);
    if let Ok(entries) = std::fs::read_dir(&outputs_dir) {
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for base in dirs {
            if let Some(l) = crate::outputs::read_latest(&base) {
                let dir = base.join(&l.dir);
                let manifest: Option<serde_json::Value> = std::fs::read(dir.join("manifest.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                packs.push(PackStatus {
                    output: base
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    period: l.period,
                    dir,
                    run_id: manifest
                        .as_ref()
                        .and_then(|m| m["run_id"].as_str().map(String::from)),
                    run_time: manifest
                        .as_ref()
                        .and_then(|m| m["run_time"].as_str().map(String::from)),
                });
            }
        }
    }
    Status {
        organisation: cfg.organisation.name.clone(),
        ledger: ledger.location().to_string(),
        running,
        schedules,
        schedule_problems,
        other_runs,
        freshness,
        source_tests,
        failing_indicators,
        indicators_run,
        packs,
        attention,
    }
}

impl Status {
    /// The screen, as text.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let line = |o: &mut String, s: String| {
            o.push_str(&s);
            o.push('\n');
        };
        line(&mut o, format!("safer status: {}", self.organisation));
        line(
            &mut o,
            if self.attention.is_empty() {
                "All well: nothing needs attention.".into()
            } else {
                format!("{} thing(s) need attention:", self.attention.len())
            },
        );
        for a in &self.attention {
            line(&mut o, format!("  ! {a}"));
        }
        line(&mut o, String::new());
        match &self.running {
            Some(h) => line(&mut o, format!("Running now: {h}")),
            None => line(&mut o, "Running now: nothing".into()),
        }
        line(&mut o, String::new());
        line(&mut o, "Schedules:".into());
        if self.schedules.is_empty() {
            line(&mut o, "  none (add schedules/*.toml)".into());
        }
        for s in &self.schedules {
            let last = match &s.last {
                Some(r) => format!(
                    "last run {} for {}: {}{}",
                    r.run_id,
                    r.logical_date,
                    r.status,
                    if r.status == RunStatus::Running {
                        String::new()
                    } else {
                        r.finished
                            .as_ref()
                            .map(|f| format!(" at {f}"))
                            .unwrap_or_default()
                    }
                ),
                None => "never run".into(),
            };
            line(
                &mut o,
                format!(
                    "  {:<16} {}{}; {last}",
                    s.name,
                    s.when,
                    if s.enabled { "" } else { " (disabled)" }
                ),
            );
            for (local, utc) in &s.next {
                line(&mut o, format!("  {:<16}   next {local}  ({utc})", ""));
            }
        }
        for r in &self.other_runs {
            line(
                &mut o,
                format!(
                    "  {:<16} last run {} for {}: {}",
                    r.schedule, r.run_id, r.logical_date, r.status
                ),
            );
        }
        line(&mut o, String::new());
        line(&mut o, "Data freshness (newest month landed):".into());
        for f in &self.freshness {
            let newest = match (f.newest_month, f.rows) {
                (Some(m), _) => m.format("%b %Y").to_string(),
                (None, 0) => "nothing".into(),
                (None, _) => "no dates".into(),
            };
            let rule = match (f.max_lag_months, f.expected_from) {
                (Some(l), Some(e)) => format!(
                    "should reach {} (at most {l} month(s) behind)",
                    e.format("%b %Y")
                ),
                _ => "not checked".into(),
            };
            line(
                &mut o,
                format!(
                    "  {:<28} {:<9} {:<6} {rule}",
                    f.source,
                    newest,
                    if f.stale { "STALE" } else { "ok" }
                ),
            );
        }
        if !self.source_tests.is_empty() {
            line(&mut o, String::new());
            line(&mut o, "Source tests failing (`safer sql \"SELECT * FROM source_test_failures\"` shows examples):".into());
            for t in &self.source_tests {
                line(&mut o, format!("  {}", t.describe()));
            }
        }
        line(&mut o, String::new());
        match &self.indicators_run {
            Some(run) if self.failing_indicators.is_empty() => {
                line(&mut o, format!("Indicators: none failing (run {run})."))
            }
            Some(run) => {
                line(&mut o, format!("Indicators failing in run {run}:"));
                for (id, e) in &self.failing_indicators {
                    line(&mut o, format!("  {id}: {e}"));
                }
            }
            None => line(&mut o, "Indicators: no run has measured them yet.".into()),
        }
        line(&mut o, String::new());
        line(&mut o, "Latest good packs:".into());
        if self.packs.is_empty() {
            line(&mut o, "  none yet".into());
        }
        for p in &self.packs {
            line(
                &mut o,
                format!(
                    "  {:<24} {}  {}{}",
                    p.output,
                    p.period,
                    p.dir.display(),
                    p.run_id
                        .as_ref()
                        .map(|r| format!("  (run {r})"))
                        .unwrap_or_default()
                ),
            );
        }
        line(&mut o, String::new());
        line(&mut o, format!("Ledger: {}", self.ledger));
        o
    }
}
