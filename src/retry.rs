//! Retries with exponential backoff and jitter, for transient source errors.
//!
//! A partner database that refuses a connection at 01:30 because it is
//! being backed up is usually back at 01:35; a wrong password is wrong every
//! time. So only errors a source marks transient are retried (connection
//! refused or reset, a timeout, "too many connections"), never permanent
//! ones (authentication, bad SQL, a missing file), and the wait doubles each
//! time with random jitter so that several sources do not retry in lock-step.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a step retries transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Extra attempts after the first (0: no retries).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry, in seconds; doubled for each further one.
    #[serde(default = "default_backoff")]
    pub backoff_seconds: f64,
    /// The longest wait, in seconds.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_seconds: f64,
}

fn default_retries() -> u32 {
    3
}
fn default_backoff() -> f64 {
    30.0
}
fn default_max_backoff() -> f64 {
    600.0
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: default_retries(),
            backoff_seconds: default_backoff(),
            max_backoff_seconds: default_max_backoff(),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        retries: 0,
        backoff_seconds: 0.0,
        max_backoff_seconds: 0.0,
    };

    /// The wait before retry number `n` (1 for the first retry): the
    /// exponential step, capped, times a random factor in [0.5, 1.0]
    /// ("equal jitter"), so the wait is never less than half the step.
    pub fn delay(&self, n: u32) -> Duration {
        let step = self.step(n).min(86_400.0);
        Duration::try_from_secs_f64(step * (0.5 + 0.5 * fastrand::f64())).unwrap_or_default()
    }

    /// The un-jittered wait before retry `n`.
    pub fn step(&self, n: u32) -> f64 {
        let exp = 2f64.powi(n.saturating_sub(1).min(30) as i32);
        let step = (self.backoff_seconds.max(0.0) * exp).min(self.max_backoff_seconds.max(0.0));
        if step.is_finite() { step } else { 0.0 }
    }

    /// Problems with the numbers, in words.
    pub fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !(self.backoff_seconds.is_finite()
            && self.backoff_seconds >= 0.0
            && self.backoff_seconds <= 86_400.0)
        {
            v.push(
                "retry.backoff_seconds must be a number of seconds from 0 to 86400 (a day)".into(),
            );
        }
        if !(self.max_backoff_seconds.is_finite()
            && self.max_backoff_seconds >= 0.0
            && self.max_backoff_seconds <= 86_400.0)
        {
            v.push(
                "retry.max_backoff_seconds must be a number of seconds from 0 to 86400 (a day)"
                    .into(),
            );
        }
        if self.retries > 20 {
            v.push("retry.retries above 20 would keep a failing night going for hours".into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jitter_stays_within_half() {
        let p = RetryPolicy {
            retries: 5,
            backoff_seconds: 10.0,
            max_backoff_seconds: 60.0,
        };
        assert_eq!(p.step(1), 10.0);
        assert_eq!(p.step(2), 20.0);
        assert_eq!(p.step(3), 40.0);
        assert_eq!(p.step(4), 60.0, "capped");
        assert_eq!(p.step(40), 60.0, "no overflow");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = p.delay(2).as_secs_f64();
            assert!((10.0..=20.0).contains(&d), "{d}");
            seen.insert((d * 1000.0) as u64);
        }
        assert!(seen.len() > 50, "jitter varies the wait");
    }
}
