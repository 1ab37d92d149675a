//! `safer serve`: the long-running scheduler.
//!
//! The loop only orchestrates: it works out which schedule is due next,
//! waits for it on the [`Clock`], checks the ledger so a finished night is
//! never redone, and hands the job to a [`Runner`] (in production, the same
//! `pipeline::run_job` that `safer run` calls). Runs happen one at a time;
//! a schedule that comes due while another runs goes next, once.
//!
//! Signals: SIGHUP reloads `schedules/` (a broken file keeps the previous
//! schedules and says why); SIGTERM or SIGINT stops taking new work, lets
//! the running step finish within the grace period, then abandons the run
//! (the ledger says so, the lake and outputs are as their last completed
//! write left them) and returns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{mpsc, watch};

use super::clock::{BoxFuture, Clock};
use super::schedule::{self, CatchUp, Schedule};
use crate::ledger::{Ledger, RunStatus};
use crate::pipeline::{self, JobSpec};

/// What the scheduler asks a runner to do.
#[derive(Debug, Clone)]
pub struct Fire {
    /// The schedule.
    pub schedule: Schedule,
    /// The fire time it is for.
    pub at: DateTime<Utc>,
    /// The night (local date of `at`).
    pub logical_date: NaiveDate,
    /// True when this is a missed night run at start-up.
    pub catch_up: bool,
}

/// Runs the job for a fire. `stop` turns true when the service is shutting
/// down: the job should not start another step.
pub trait Runner: Send + Sync {
    /// Run it; the outcome, or why it could not start.
    fn run(
        &self,
        fire: &Fire,
        run_id: String,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<RunStatus, String>>;
}

/// The production runner: the whole job, through `pipeline::run_job`.
#[derive(Debug, Clone)]
pub struct PipelineRunner {
    /// The project.
    pub cfg: crate::config::Config,
    /// Its ledger.
    pub ledger: Ledger,
}

impl Runner for PipelineRunner {
    fn run(
        &self,
        fire: &Fire,
        run_id: String,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<RunStatus, String>> {
        let stop_flag = stop.clone();
        let spec = JobSpec {
            run_id,
            schedule: fire.schedule.name.clone(),
            logical_date: fire.logical_date,
            as_of: None,
            steps: fire.schedule.steps.clone(),
            outputs: fire.schedule.outputs.clone(),
            indicators: Vec::new(),
            retry: fire.schedule.retry,
            step_timeout: Some(fire.schedule.timeout),
            stop: Some(stop_flag),
            today: fire.logical_date,
            lake_pin: None,
            rebuild_outputs: false,
            recompute: false,
        };
        Box::pin(async move {
            // A run that cannot start (the ledger database is restarting,
            // a run by hand still holds the lock) is tried again with the
            // schedule's backoff; if it still cannot, someone is told.
            let mut attempt = 0;
            loop {
                attempt += 1;
                match pipeline::run_job(&self.cfg, &self.ledger, &spec).await {
                    Ok(r) => return Ok(r.status),
                    Err(e) if attempt <= spec.retry.retries && !*stop.borrow() => {
                        let wait = spec.retry.delay(attempt);
                        tracing::warn!(error = %e, attempt, retry_in_secs = wait.as_secs_f64(), "The run could not start; trying again.");
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => {
                        let text = e.to_string();
                        crate::alerts::send_could_not_start(
                            &self.cfg,
                            &spec.schedule,
                            spec.logical_date,
                            &spec.run_id,
                            &format!("{text} (after {attempt} attempt(s))"),
                        )
                        .await;
                        return Err(text);
                    }
                }
            }
        })
    }
}

/// Requests from outside the loop (signals, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Re-read the schedules folder.
    Reload,
    /// Stop taking work; finish or abandon the running step; return.
    Stop,
}

/// Settings for [`serve`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The schedules folder (re-read on reload).
    pub schedules_dir: PathBuf,
    /// How long a running step may go on after a stop request.
    pub grace: Duration,
    /// How far back start-up looks for a missed night.
    pub catch_up_window: chrono::Duration,
}

/// One run a serve session started.
#[derive(Debug, Clone)]
pub struct ServedRun {
    /// Schedule.
    pub schedule: String,
    /// The fire time it was for.
    pub at: DateTime<Utc>,
    /// The night.
    pub logical_date: NaiveDate,
    /// How it ended, or why it could not start.
    pub outcome: Result<RunStatus, String>,
}

/// What a serve session did, for tests and the final log line.
#[derive(Debug, Default, Clone)]
pub struct ServeReport {
    /// Every run started.
    pub runs: Vec<ServedRun>,
    /// Fires skipped because the ledger already had that night finished.
    pub skipped: Vec<(String, NaiveDate)>,
    /// Whether a running job was abandoned at shutdown.
    pub abandoned: bool,
}

struct Due {
    next: Option<DateTime<Utc>>,
    catch_up: Option<DateTime<Utc>>,
}

/// Run the scheduler until a stop request (or, with a test clock, until its
/// limit). Returns what it did.
pub async fn serve(
    clock: Arc<dyn Clock>,
    ledger: Ledger,
    runner: Arc<dyn Runner>,
    opts: ServeOptions,
    initial: Vec<Schedule>,
    mut control: mpsc::Receiver<Control>,
) -> ServeReport {
    let mut report = ServeReport::default();
    let mut schedules = initial;
    let mut due = plan(&schedules, clock.now(), &ledger, &opts, true).await;
    log_plan(&schedules, &due);
    let (stop_tx, stop_rx) = watch::channel(false);

    loop {
        // Catch-up first (oldest first), then the earliest next fire.
        let pick = schedules
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| {
                let d = due.get(&s.name)?;
                d.catch_up
                    .map(|t| (t, true))
                    .or(d.next.map(|t| (t, false)))
                    .map(|(t, c)| (t, c, s.clone()))
            })
            .min_by_key(|(t, c, _)| (!*c, *t));
        let Some((at, is_catch_up, sched)) = pick else {
            tracing::warn!("No enabled schedules; waiting for a reload or a stop.");
            match control.recv().await {
                Some(Control::Reload) => {
                    reload(&mut schedules, &opts, &mut due, clock.now(), &ledger).await;
                    continue;
                }
                Some(Control::Stop) | None => break,
            }
        };
        if !is_catch_up {
            tokio::select! {
                reached = clock.sleep_until(at) => {
                    if !reached { break; }
                }
                c = control.recv() => match c {
                    Some(Control::Reload) => {
                        reload(&mut schedules, &opts, &mut due, clock.now(), &ledger).await;
                        continue;
                    }
                    Some(Control::Stop) | None => break,
                }
            }
        }
        let logical = sched.logical_date(at);
        // Advance this schedule before running, so a failure cannot make
        // it fire again for the same time.
        if let Some(d) = due.get_mut(&sched.name) {
            if is_catch_up {
                d.catch_up = None;
            } else {
                d.next = sched.next_after(at);
            }
        }
        match ledger.completed(&sched.name, logical).await {
            Ok(Some(done)) => {
                tracing::info!(schedule = %sched.name, night = %logical, run_id = %done.run_id, "That night already finished; not running it again.");
                report.skipped.push((sched.name.clone(), logical));
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(schedule = %sched.name, error = %e, "Could not read the ledger; running anyway (the run lock still stops overlaps).");
            }
        }
        let fire = Fire {
            schedule: sched.clone(),
            at,
            logical_date: logical,
            catch_up: is_catch_up,
        };
        let run_id = pipeline::new_run_id();
        tracing::info!(
            schedule = %sched.name,
            night = %logical,
            fire_time = %sched.local(at),
            catch_up = is_catch_up,
            run_id = %run_id,
            "Schedule fired."
        );
        let mut job = runner.run(&fire, run_id.clone(), stop_rx.clone());
        let mut stopping = false;
        let outcome = loop {
            tokio::select! {
                r = &mut job => break Some(r),
                c = control.recv(), if !stopping => match c {
                    Some(Control::Reload) => {
                        reload(&mut schedules, &opts, &mut due, clock.now(), &ledger).await;
                    }
                    Some(Control::Stop) | None => {
                        tracing::warn!(grace_secs = opts.grace.as_secs(), run_id = %run_id, "Stopping: no new steps will start; waiting for the running step to finish.");
                        let _ = stop_tx.send(true);
                        stopping = true;
                    }
                },
                _ = tokio::time::sleep(opts.grace), if stopping => break None,
            }
        };
        match outcome {
            Some(r) => {
                match &r {
                    Ok(status) => {
                        tracing::info!(schedule = %sched.name, run_id = %run_id, status = %status, "Run finished.")
                    }
                    Err(e) => {
                        tracing::error!(schedule = %sched.name, run_id = %run_id, error = %e, "Run could not start.")
                    }
                }
                report.runs.push(ServedRun {
                    schedule: sched.name.clone(),
                    at,
                    logical_date: logical,
                    outcome: r,
                });
                if stopping {
                    break;
                }
            }
            None => {
                drop(job);
                tracing::error!(run_id = %run_id, "The running step did not finish within the grace period; the run is abandoned. The lake and outputs are as their last completed write left them.");
                if let Err(e) = ledger.abandon_run(&run_id).await {
                    tracing::error!(error = %e, "Could not mark the run abandoned; the next run will.");
                }
                report.runs.push(ServedRun {
                    schedule: sched.name.clone(),
                    at,
                    logical_date: logical,
                    outcome: Ok(RunStatus::Abandoned),
                });
                report.abandoned = true;
                break;
            }
        }
        // Anything that came due while that ran goes next, once.
        let now = clock.now();
        for s in &schedules {
            if let Some(d) = due.get_mut(&s.name)
                && d.next.is_some_and(|n| n <= now)
            {
                tracing::warn!(schedule = %s.name, "Came due while another run was going; it runs now, once.");
                d.catch_up = d.next;
                d.next = s.next_after(now);
            }
        }
    }
    tracing::info!(runs = report.runs.len(), "Scheduler stopped.");
    report
}

async fn plan(
    schedules: &[Schedule],
    now: DateTime<Utc>,
    ledger: &Ledger,
    opts: &ServeOptions,
    at_start: bool,
) -> HashMap<String, Due> {
    let mut due = HashMap::new();
    for s in schedules {
        let mut catch_up = None;
        if at_start
            && s.enabled
            && s.catch_up == CatchUp::Latest
            && let Some(missed) = s.latest_at_or_before(now, opts.catch_up_window)
        {
            let night = s.logical_date(missed);
            // Only a schedule that was running before can have missed a
            // night; a new one starts with its next fire.
            let done = ledger.completed(&s.name, night).await.ok().flatten();
            let ran_before = ledger.ran_before(&s.name, night).await.unwrap_or(false);
            if done.is_none() && ran_before {
                tracing::warn!(schedule = %s.name, night = %night, missed = %s.local(missed), "A night was missed while safer was not running; it runs once now.");
                catch_up = Some(missed);
            }
        }
        due.insert(
            s.name.clone(),
            Due {
                next: s.next_after(now),
                catch_up,
            },
        );
    }
    due
}

fn log_plan(schedules: &[Schedule], due: &HashMap<String, Due>) {
    if schedules.is_empty() {
        tracing::warn!("No schedules found; add schedules/*.toml and send SIGHUP.");
    }
    for s in schedules {
        let next = due.get(&s.name).and_then(|d| d.next);
        match (s.enabled, next) {
            (false, _) => tracing::info!(schedule = %s.name, "Schedule is disabled."),
            (true, Some(t)) => tracing::info!(
                schedule = %s.name,
                cron = %s.cron_text,
                timezone = %s.tz,
                next_local = %s.local(t),
                next_utc = %t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "Next fire time."
            ),
            (true, None) => tracing::warn!(schedule = %s.name, "Schedule never fires."),
        }
    }
}

async fn reload(
    schedules: &mut Vec<Schedule>,
    opts: &ServeOptions,
    due: &mut HashMap<String, Due>,
    now: DateTime<Utc>,
    ledger: &Ledger,
) {
    match schedule::load_dir(&opts.schedules_dir) {
        Ok(new) => {
            tracing::info!(schedules = new.len(), "Schedules reloaded.");
            let mut fresh = plan(&new, now, ledger, opts, false).await;
            // Schedules that still exist keep a pending catch-up, and a fire
            // time already due (it came while another run was going, or a
            // moment before the reload) is not lost.
            for (name, d) in fresh.iter_mut() {
                if let Some(old) = due.get(name) {
                    d.catch_up = old.catch_up.or(old.next.filter(|n| *n <= now));
                }
            }
            *due = fresh;
            *schedules = new;
            log_plan(schedules, due);
        }
        Err(errors) => {
            for e in &errors {
                tracing::error!(problem = %e, "Schedule file is broken; keeping the previous schedules.");
            }
        }
    }
}

/// Forward SIGHUP, SIGTERM and SIGINT to a control channel.
pub fn forward_signals(tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            let c = tokio::select! {
                _ = hup.recv() => Control::Reload,
                _ = term.recv() => Control::Stop,
                _ = int.recv() => Control::Stop,
            };
            tracing::info!(signal = ?c, "Signal received.");
            if tx.send(c).await.is_err() {
                break;
            }
        }
    });
    Ok(())
}
