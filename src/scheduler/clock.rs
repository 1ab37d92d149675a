//! Time, behind a trait, so schedules can be tested with a driven clock.
//!
//! [`SystemClock`] waits with tokio-cron-scheduler: each wait is a one-shot
//! job at an absolute instant. Its ticker compares against the wall clock
//! twice a second, so a fire time is honoured even if the machine was
//! suspended or its clock was stepped while waiting (a plain monotonic sleep
//! of eleven hours would fire late after a suspend). The instants come from
//! `schedule`, which applies the time zone's rules night by night.
//!
//! [`ManualClock`] is for tests: waiting jumps straight to the instant
//! waited for, so a test can drive a year of nights in milliseconds, and
//! once a limit is passed it reports that the test is over.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the scheduler needs of time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Resolve at (or after) `t`. Returns `false` if the clock will never
    /// reach `t` (a test clock past its limit): the scheduler then stops.
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, bool>;
}

/// The real clock.
pub struct SystemClock {
    scheduler: tokio::sync::Mutex<Option<tokio_cron_scheduler::JobScheduler>>,
}

impl std::fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemClock")
    }
}

impl SystemClock {
    /// A clock backed by a started tokio-cron-scheduler.
    pub async fn new() -> SystemClock {
        let scheduler = match tokio_cron_scheduler::JobScheduler::new().await {
            Ok(s) => match s.start().await {
                Ok(()) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "tokio-cron-scheduler did not start; waiting with tokio timers.");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "tokio-cron-scheduler did not start; waiting with tokio timers.");
                None
            }
        };
        SystemClock {
            scheduler: tokio::sync::Mutex::new(scheduler),
        }
    }

    /// Stop the underlying scheduler.
    pub async fn shutdown(&self) {
        if let Some(mut s) = self.scheduler.lock().await.take() {
            let _ = s.shutdown().await;
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let wait = (t - Utc::now()).to_std().unwrap_or_default();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let tx = Arc::new(Mutex::new(Some(tx)));
            let added = {
                let guard = self.scheduler.lock().await;
                match guard.as_ref() {
                    Some(s) => {
                        let instant = std::time::Instant::now() + wait;
                        let tx = Arc::clone(&tx);
                        match tokio_cron_scheduler::Job::new_one_shot_at_instant(
                            instant,
                            move |_id, _sched| {
                                if let Some(tx) = tx.lock().ok().and_then(|mut g| g.take()) {
                                    let _ = tx.send(());
                                }
                            },
                        ) {
                            Ok(job) => s.add(job).await.map(Some).unwrap_or(None),
                            Err(_) => None,
                        }
                    }
                    None => None,
                }
            };
            match added {
                Some(id) => {
                    let _ = rx.await;
                    let guard = self.scheduler.lock().await;
                    if let Some(s) = guard.as_ref() {
                        let _ = s.remove(&id).await;
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
            // The ticker wakes at half-second granularity and may be early
            // by a fraction; never report a fire before its time.
            let left = (t - Utc::now()).to_std().unwrap_or_default();
            if !left.is_zero() {
                tokio::time::sleep(left).await;
            }
            true
        })
    }
}

/// A test clock: waiting moves time forward at once.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: DateTime<Utc>,
    limit: Option<DateTime<Utc>>,
}

impl ManualClock {
    /// Starting at `start`; waits beyond `limit` never finish.
    pub fn new(start: DateTime<Utc>, limit: Option<DateTime<Utc>>) -> ManualClock {
        ManualClock {
            inner: Arc::new(Mutex::new(ManualState { now: start, limit })),
        }
    }

    /// Move time to `t` (never backwards).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut s) = self.inner.lock()
            && t > s.now
        {
            s.now = t;
        }
    }

    /// Move time on by `d` (a run taking time, say).
    pub fn advance(&self, d: chrono::Duration) {
        let now = self.now();
        self.set(now + d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner
            .lock()
            .map(|s| s.now)
            .unwrap_or_else(|_| Utc::now())
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let Ok(mut s) = self.inner.lock() else {
                return false;
            };
            if s.limit.is_some_and(|l| t > l) {
                return false;
            }
            if t > s.now {
                s.now = t;
            }
            true
        })
    }
}
