//! Schedule files (`schedules/*.toml`) and when they fire.
//!
//! A schedule is a cron expression in a named time zone. Fire times are
//! computed here, in the zone's real rules for each night, with croner's
//! daylight-saving handling: a wall-clock time that does not exist on the
//! night the clocks go forward (01:30 in a zone that jumps 01:00 -> 02:00)
//! fires straight after the change, and a time that happens twice on the
//! night they go back fires once, at its first occurrence. A job keeps its
//! local time all summer and all winter.
//!
//! Why not tokio-cron-scheduler's own cron jobs: it works out a zone's UTC
//! offset once, when a job is created, and keeps it (its issue #107), so a
//! 01:30 Europe/London job created in winter fires at 02:30 all summer. The
//! scheduler therefore hands tokio-cron-scheduler only absolute instants
//! computed here (see `clock`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};

use crate::ledger::Step;
use crate::retry::RetryPolicy;

/// What to do at start-up about a fire time missed while the service was
/// down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run the latest missed night once (never once per missed night).
    #[default]
    Latest,
    /// Wait for the next fire time.
    None,
}

/// A schedule file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    /// Name (default: the file stem).
    #[serde(default)]
    name: Option<String>,
    /// Five-field cron: minute hour day-of-month month day-of-week.
    cron: String,
    /// IANA time zone (default Europe/London).
    #[serde(default)]
    timezone: Option<String>,
    /// Steps: any of ingest, indicators, outputs (default: all three).
    #[serde(default)]
    steps: Option<Vec<String>>,
    /// Only these outputs (default: every declared output).
    #[serde(default)]
    outputs: Vec<String>,
    /// Missed-night policy.
    #[serde(default)]
    catch_up: CatchUp,
    /// Minutes one step may take before it is abandoned (default 120).
    #[serde(default)]
    timeout_minutes: Option<f64>,
    /// Retries for transient source errors.
    #[serde(default)]
    retry: RetryPolicy,
    /// `false` keeps the file but never fires it.
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// The default time zone: the council's.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Europe::London;

/// A loaded schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Name, unique across the folder.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The cron expression as written.
    pub cron_text: String,
    cron: Cron,
    /// Time zone the cron expression is read in.
    pub tz: Tz,
    /// Steps it runs.
    pub steps: Vec<Step>,
    /// Outputs it writes (empty: all).
    pub outputs: Vec<String>,
    /// Missed-night policy.
    pub catch_up: CatchUp,
    /// Time one step may take.
    pub timeout: Duration,
    /// Retries for transient source errors.
    pub retry: RetryPolicy,
    /// Whether it fires.
    pub enabled: bool,
}

/// A problem with one schedule file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ScheduleError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, in words.
    pub message: String,
}

impl Schedule {
    /// Parse one schedule file's text. Every problem is reported together.
    pub fn parse(path: &Path, text: &str) -> Result<Schedule, Vec<ScheduleError>> {
        let err = |message: String| ScheduleError {
            path: path.to_path_buf(),
            message,
        };
        let f: ScheduleFile = toml::from_str(text).map_err(|e| vec![err(e.to_string())])?;
        let mut problems = Vec::new();
        let name = f.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        if !crate::config::is_identifier(&name.replace('-', "_")) {
            problems.push(err(format!(
                "name `{name}` must be lower-case letters, digits, - and _"
            )));
        }
        let cron = match parse_cron(&f.cron) {
            Ok(c) => Some(c),
            Err(m) => {
                problems.push(err(m));
                None
            }
        };
        let tz_name = f.timezone.as_deref().unwrap_or("Europe/London");
        let tz = match Tz::from_str(tz_name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(err(format!(
                    "timezone `{tz_name}` is not an IANA time zone name (for example Europe/London)"
                )));
                None
            }
        };
        let mut steps = Vec::new();
        let asked = f
            .steps
            .unwrap_or_else(|| Step::ALL.iter().map(|s| s.as_str().to_string()).collect());
        if asked.is_empty() {
            problems.push(err(
                "steps is empty: list ingest, indicators and/or outputs".into(),
            ));
        }
        for s in asked {
            match Step::parse(&s) {
                Some(st) => steps.push(st),
                None => problems.push(err(format!(
                    "step `{s}` is not one of ingest, indicators, outputs"
                ))),
            }
        }
        let minutes = f.timeout_minutes.unwrap_or(120.0);
        if !(minutes.is_finite() && minutes > 0.0) {
            problems.push(err(
                "timeout_minutes must be a positive number of minutes".into()
            ));
        }
        for p in f.retry.problems() {
            problems.push(err(p));
        }
        match (cron, tz) {
            (Some(cron), Some(tz)) if problems.is_empty() => Ok(Schedule {
                name,
                path: path.to_path_buf(),
                cron_text: f.cron.trim().to_string(),
                cron,
                tz,
                steps,
                outputs: f.outputs,
                catch_up: f.catch_up,
                timeout: Duration::from_secs_f64(minutes * 60.0),
                retry: f.retry,
                enabled: f.enabled,
            }),
            _ => Err(problems),
        }
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut start = after.with_timezone(&self.tz);
        for _ in 0..48 {
            let t = self
                .cron
                .find_next_occurrence(&start, false)
                .ok()?
                .with_timezone(&Utc);
            if t > after {
                return Some(t);
            }
            // croner resolved a wall time that happens twice tonight to its
            // first occurrence, which is already past: this job had its
            // turn. Look on from an hour later.
            start += chrono::Duration::hours(1);
        }
        None
    }

    /// Every fire time in `[from, until)`.
    pub fn fires_between(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from - chrono::Duration::seconds(1);
        while let Some(n) = self.next_after(t) {
            if n >= until || out.len() >= 100_000 {
                break;
            }
            out.push(n);
            t = n;
        }
        out
    }

    /// The latest fire time at or before `at`, looking back at most
    /// `lookback`.
    pub fn latest_at_or_before(
        &self,
        at: DateTime<Utc>,
        lookback: chrono::Duration,
    ) -> Option<DateTime<Utc>> {
        let prev = self
            .cron
            .find_previous_occurrence(&at.with_timezone(&self.tz), true)
            .ok()?
            .with_timezone(&Utc);
        // Normalise through the forward rules, so the answer is a time
        // `next_after` would also give (one fire per night at clock changes).
        let canonical = self.next_after(prev - chrono::Duration::seconds(1))?;
        let t = if canonical <= at { canonical } else { prev };
        (t <= at && at - t <= lookback).then_some(t)
    }

    /// The night a fire time belongs to: its local date.
    pub fn logical_date(&self, fire: DateTime<Utc>) -> NaiveDate {
        fire.with_timezone(&self.tz).date_naive()
    }

    /// A fire time as local time with its offset, ISO 8601.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }
}

/// Parse a five-field cron expression (seconds are not accepted: a council
/// crontab has five fields).
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let fields = text.split_whitespace().count();
    if fields != 5 && !text.trim().starts_with('@') {
        return Err(format!(
            "cron `{}` has {fields} field(s); write five: minute hour day-of-month month day-of-week, e.g. \"30 1 * * *\" for 01:30 every night",
            text.trim()
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(text.trim())
        .map_err(|e| format!("cron `{}`: {e}", text.trim()))
}

/// Load every `*.toml` in `dir`, sorted by file name. A missing folder is
/// no schedules. Problems in any file are all returned, and then nothing is
/// loaded (so a reload with a broken file keeps the previous schedules).
pub fn load_dir(dir: &Path) -> Result<Vec<Schedule>, Vec<ScheduleError>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(vec![ScheduleError {
                path: dir.to_path_buf(),
                message: format!("the schedules folder cannot be read: {e}"),
            }]);
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut out: Vec<Schedule> = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) => {
                problems.push(ScheduleError {
                    path: p.clone(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        match Schedule::parse(&p, &text) {
            Ok(s) => {
                if let Some(other) = out.iter().find(|o| o.name == s.name) {
                    problems.push(ScheduleError {
                        path: p.clone(),
                        message: format!(
                            "schedule name `{}` is already used by {}",
                            s.name,
                            other.path.display()
                        ),
                    });
                } else {
                    out.push(s);
                }
            }
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn nightly(cron: &str) -> Schedule {
        Schedule::parse(
            Path::new("nightly.toml"),
            &format!("cron = \"{cron}\"\ntimezone = \"Europe/London\"\n"),
        )
        .unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn a_0130_job_across_both_2027_clock_changes() {
        // Europe/London 2027: clocks go forward at 01:00 UTC on 28 March
        // (01:00 GMT -> 02:00 BST) and back at 01:00 UTC on 31 October
        // (02:00 BST -> 01:00 GMT). Worked out from the EU rule (last Sunday
        // of March and October, 01:00 UTC), not from the code.
        let s = nightly("30 1 * * *");
        let fires = s.fires_between(utc(2027, 3, 26, 12, 0), utc(2027, 3, 29, 12, 0));
        assert_eq!(
            fires,
            vec![
                utc(2027, 3, 27, 1, 30), // 01:30 GMT
                utc(2027, 3, 28, 1, 0),  // 01:30 does not exist: 02:00 BST, just after the change
                utc(2027, 3, 29, 0, 30), // 01:30 BST
            ]
        );
        let fires = s.fires_between(utc(2027, 10, 29, 12, 0), utc(2027, 11, 1, 12, 0));
        assert_eq!(
            fires,
            vec![
                utc(2027, 10, 30, 0, 30), // 01:30 BST
                utc(2027, 10, 31, 0, 30), // 01:30 BST, the first of the two 01:30s; not again at 01:30 GMT
                utc(2027, 11, 1, 1, 30),  // 01:30 GMT
            ]
        );
        // Asking from inside the repeated hour, after the first 01:30, does
        // not fire the second one.
        assert_eq!(
            s.next_after(utc(2027, 10, 31, 1, 10)),
            Some(utc(2027, 11, 1, 1, 30))
        );
        // Every night of 2027 fires exactly once, at 01:30 local.
        let year = s.fires_between(utc(2027, 1, 1, 0, 0), utc(2028, 1, 1, 0, 0));
        assert_eq!(year.len(), 365);
        for t in &year {
            let local = t.with_timezone(&s.tz);
            let hm = local.format("%H:%M").to_string();
            if local.date_naive() == NaiveDate::from_ymd_opt(2027, 3, 28).unwrap() {
                assert_eq!(hm, "02:00");
            } else {
                assert_eq!(hm, "01:30", "{t}");
            }
        }
        assert_eq!(
            s.logical_date(utc(2027, 3, 28, 1, 0)),
            NaiveDate::from_ymd_opt(2027, 3, 28).unwrap()
        );
        assert_eq!(s.local(utc(2027, 7, 1, 0, 30)), "2027-07-01T01:30:00+01:00");
    }

    #[test]
    fn latest_missed_fire_is_found_once() {
        let s = nightly("30 1 * * *");
        let t = s.latest_at_or_before(utc(2027, 7, 3, 9, 0), chrono::Duration::days(7));
        assert_eq!(t, Some(utc(2027, 7, 3, 0, 30)));
        assert_eq!(
            s.latest_at_or_before(utc(2027, 7, 3, 0, 30), chrono::Duration::days(7)),
            Some(utc(2027, 7, 3, 0, 30)),
            "inclusive"
        );
        assert_eq!(
            s.latest_at_or_before(utc(2027, 10, 31, 3, 0), chrono::Duration::days(7)),
            Some(utc(2027, 10, 31, 0, 30)),
            "the night the clocks go back: the first 01:30"
        );
        assert_eq!(
            s.latest_at_or_before(utc(2027, 7, 3, 9, 0), chrono::Duration::hours(2)),
            None,
            "outside the look-back"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = Schedule::parse(
            Path::new("x.toml"),
            "cron = \"30 1 * *\"\ntimezone = \"Europe/Lancashire\"\nsteps = [\"publish\"]\n",
        )
        .unwrap_err();
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("has 4 field(s)"), "{text:?}");
        assert!(text[1].contains("Europe/Lancashire"), "{text:?}");
        assert!(text[2].contains("`publish`"), "{text:?}");
        let e = Schedule::parse(Path::new("x.toml"), "cron = \"30 1 * * *\"\ncolour = 1\n")
            .unwrap_err();
        assert!(e[0].message.contains("colour"), "{e:?}");
    }
}
