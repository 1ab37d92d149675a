//! Alerts: telling someone when a run fails, is partial or finds stale data.
//!
//! Three channels, any or all: a command (the run summary as JSON on its
//! stdin, for whatever paging tool the council uses), a webhook POST with
//! the same JSON (Teams, Slack, an incident tool), and an email through
//! SMTP. The URLs carry credentials and tokens, so they come from
//! environment variables named in `safer.toml`, never from the file. An
//! alert never contains a secret: besides source errors being redacted where
//! they arise, every alert is scrubbed of the value of every environment
//! variable the config names, and of any password inside those values.
//!
//! A channel that cannot deliver is logged and recorded as a warning on the
//! run; it never changes the run's outcome.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Source};
use crate::ledger::{RunRecord, RunStatus, StepStatus};

/// When to alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A step failed or timed out, or the run was abandoned.
    Failed,
    /// The run finished but something in it failed.
    Partial,
    /// A source's newest data is older than it declares acceptable.
    Stale,
}

/// `[alerts]` in `safer.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// What to alert on (default: all three).
    #[serde(default = "default_on")]
    pub on: Vec<Trigger>,
    /// A command and its arguments, run with the summary JSON on stdin,
    /// e.g. `["/usr/local/bin/page-oncall", "--team", "performance"]`.
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variable holding a webhook URL to POST the summary JSON
    /// to.
    #[serde(default)]
    pub webhook_url_env: Option<String>,
    /// Email through SMTP.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// Time each channel may take, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_on() -> Vec<Trigger> {
    vec![Trigger::Failed, Trigger::Partial, Trigger::Stale]
}
fn default_timeout() -> u64 {
    30
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            on: default_on(),
            command: Vec::new(),
            webhook_url_env: None,
            email: None,
            timeout_secs: default_timeout(),
        }
    }
}

/// Email alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Environment variable holding the SMTP URL:
    /// `smtp://user:password@host:587?tls=required` (STARTTLS),
    /// `smtps://user:password@host:465`, or `smtp://host:25` (plain).
    pub smtp_url_env: String,
    /// Sender, e.g. `safer <safer@lancashire.gov.uk>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

impl AlertsConfig {
    /// Whether any channel is configured.
    pub fn any(&self) -> bool {
        !self.command.is_empty() || self.webhook_url_env.is_some() || self.email.is_some()
    }
}

/// The summary every channel sends.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// One line for a subject or a pager.
    pub summary: String,
    /// Organisation.
    pub organisation: String,
    /// Run id.
    pub run_id: String,
    /// Schedule.
    pub schedule: String,
    /// The night it was for.
    pub logical_date: String,
    /// How the run ended.
    pub status: RunStatus,
    /// Why this alert was sent.
    pub triggers: Vec<Trigger>,
    /// Host it ran on.
    pub host: String,
    /// Steps that did not finish cleanly, with why.
    pub steps: Vec<String>,
    /// Sources that failed, with why.
    pub failed_sources: Vec<String>,
    /// Indicators that failed, with why.
    pub failed_indicators: Vec<String>,
    /// Sources whose data is stale.
    pub stale_sources: Vec<String>,
    /// Other problems.
    pub problems: Vec<String>,
    /// What to do next.
    pub next: String,
}

impl Alert {
    /// The alert for a run, or `None` when nothing in it matches `on`.
    pub fn for_run(cfg: &Config, r: &RunRecord) -> Option<Alert> {
        let mut triggers = Vec::new();
        let on = &cfg.alerts.on;
        if matches!(r.status, RunStatus::Failed | RunStatus::Abandoned)
            && on.contains(&Trigger::Failed)
        {
            triggers.push(Trigger::Failed);
        }
        let has_stale = r.stale_sources().next().is_some();
        let other_partial =
            r.steps.iter().any(|s| s.status != StepStatus::Ok) || !r.problems.is_empty();
        if r.status == RunStatus::Partial && other_partial && on.contains(&Trigger::Partial) {
            triggers.push(Trigger::Partial);
        }
        if has_stale && on.contains(&Trigger::Stale) {
            triggers.push(Trigger::Stale);
        }
        if triggers.is_empty() {
            return None;
        }
        let steps: Vec<String> = r
            .steps
            .iter()
            .filter(|s| s.status != StepStatus::Ok)
            .map(|s| match &s.error {
                Some(e) => format!("{} {}: {e}", s.step, s.status),
                None => format!("{} {}", s.step, s.status),
            })
            .collect();
        let stale: Vec<String> = r.stale_sources().map(|f| f.describe()).collect();
        let mut what = Vec::new();
        if !steps.is_empty() {
            what.push(steps.join("; "));
        }
        if !stale.is_empty() {
            what.push(format!("stale data: {}", stale.join("; ")));
        }
        if what.is_empty() && !r.problems.is_empty() {
            what.push(r.problems.join("; "));
        }
        let summary = format!(
            "safer {} run for {} {}: {}",
            r.schedule,
            r.logical_date,
            r.status,
            what.join(". ")
        );
        Some(Alert {
            summary: truncate(&summary, 400),
            organisation: cfg.organisation.name.clone(),
            run_id: r.run_id.clone(),
            schedule: r.schedule.clone(),
            logical_date: r.logical_date.to_string(),
            status: r.status,
            triggers,
            host: r.host.clone(),
            steps,
            failed_sources: r
                .sources
                .iter()
                .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.name)))
                .collect(),
            failed_indicators: r
                .failed_indicators()
                .map(|i| format!("{}: {}", i.id, i.error.as_deref().unwrap_or("failed")))
                .collect(),
            stale_sources: stale,
            problems: r.problems.clone(),
            next: format!(
                "On {}, run `safer runs show {}` for the details and `safer status` for the overall picture; docs/operations.md says what to do for each failure. The previous good data and packs are untouched.",
                r.host, r.run_id
            ),
        })
    }

    /// Every word of the alert with the secrets replaced.
    pub fn scrubbed(&self, secrets: &[String]) -> Alert {
        let f = |t: &String| scrub(t, secrets);
        let all = |v: &Vec<String>| v.iter().map(f).collect::<Vec<_>>();
        Alert {
            summary: f(&self.summary),
            organisation: f(&self.organisation),
            run_id: f(&self.run_id),
            schedule: f(&self.schedule),
            logical_date: f(&self.logical_date),
            status: self.status,
            triggers: self.triggers.clone(),
            host: f(&self.host),
            steps: all(&self.steps),
            failed_sources: all(&self.failed_sources),
            failed_indicators: all(&self.failed_indicators),
            stale_sources: all(&self.stale_sources),
            problems: all(&self.problems),
            next: f(&self.next),
        }
    }

    /// The alert as plain text, for email.
    pub fn text(&self) -> String {
        let mut t = format!(
            "{}\n\nOrganisation: {}\nSchedule: {}\nNight: {}\nStatus: {}\nRun: {}\nHost: {}\n",
            self.summary,
            self.organisation,
            self.schedule,
            self.logical_date,
            self.status,
            self.run_id,
            self.host
        );
        for (title, items) in [
            ("Steps", &self.steps),
            ("Failed sources", &self.failed_sources),
            ("Failed indicators", &self.failed_indicators),
            ("Stale sources", &self.stale_sources),
            ("Other problems", &self.problems),
        ] {
            if !items.is_empty() {
                t.push_str(&format!("\n{title}:\n"));
                for i in items {
                    t.push_str(&format!("  - {i}\n"));
                }
            }
        }
        t.push_str(&format!("\n{}\n", self.next));
        t
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The secret values the config points at: every environment variable a
/// source, the ledger or an alert channel names, and any password inside
/// them. Longest first, so a URL is replaced whole before its password.
pub fn secrets(cfg: &Config) -> Vec<String> {
    let mut vars: Vec<&str> = Vec::new();
    for s in &cfg.sources {
        if let Source::Sql(sql) = s
            && let Some(v) = &sql.url_env
        {
            vars.push(v);
        }
    }
    vars.extend(cfg.ledger.url_env.as_deref());
    vars.extend(cfg.alerts.webhook_url_env.as_deref());
    vars.extend(cfg.alerts.email.as_ref().map(|e| e.smtp_url_env.as_str()));
    let mut out = Vec::new();
    for v in vars {
        if let Ok(value) = std::env::var(v)
            && !value.is_empty()
        {
            if let Some(pw) = password_of(&value) {
                out.push(pw);
            }
            out.push(value);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn password_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    // Very short "passwords" would blank out ordinary words.
    (pw.len() >= 4).then(|| pw.to_string())
}

/// Replace every secret in `text`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut t = text.to_string();
    for s in secrets {
        t = t.replace(s.as_str(), "<redacted>");
    }
    t
}

/// Tell someone that a scheduled run could not start at all (so it is in
/// no ledger record of its own).
pub async fn send_could_not_start(
    cfg: &Config,
    schedule: &str,
    night: chrono::NaiveDate,
    run_id: &str,
    error: &str,
) {
    if !cfg.alerts.on.contains(&Trigger::Failed) {
        return;
    }
    let alert = Alert {
        summary: truncate(
            &format!("safer {schedule} run for {night} could not start: {error}"),
            400,
        ),
        organisation: cfg.organisation.name.clone(),
        run_id: run_id.to_string(),
        schedule: schedule.to_string(),
        logical_date: night.to_string(),
        status: RunStatus::Failed,
        triggers: vec![Trigger::Failed],
        host: crate::ledger::host_name(),
        steps: Vec::new(),
        failed_sources: Vec::new(),
        failed_indicators: Vec::new(),
        stale_sources: Vec::new(),
        problems: vec![error.to_string()],
        next: "Nothing ran, so the previous data and packs are untouched. Check the ledger database and `safer status`, then `safer run --schedule <name>` once it is fixed; docs/operations.md has more.".into(),
    };
    deliver(cfg, &alert, run_id, RunStatus::Failed).await;
}

/// One channel's delivery.
#[derive(Debug)]
pub struct Delivery {
    /// `command`, `webhook` or `email`.
    pub channel: &'static str,
    /// Delivered, or why not (already scrubbed).
    pub result: Result<(), String>,
}

/// Send the run's alert on every configured channel, if the run calls for
/// one. Channels run on a blocking thread each, with a timeout.
pub async fn send(cfg: &Config, record: &RunRecord) -> Vec<Delivery> {
    let Some(alert) = Alert::for_run(cfg, record) else {
        return Vec::new();
    };
    deliver(cfg, &alert, &record.run_id, record.status).await
}

async fn deliver(cfg: &Config, alert: &Alert, run_id: &str, status: RunStatus) -> Vec<Delivery> {
    if !cfg.alerts.any() {
        tracing::warn!(summary = %alert.summary, "No alert channel is configured; the failure is only in the ledger and the logs.");
        return Vec::new();
    }
    let secrets = secrets(cfg);
    // Scrub the words before they are encoded, so a secret with a quote or
    // a backslash in it cannot survive as its JSON-escaped form.
    let alert = alert.scrubbed(&secrets);
    let json = serde_json::to_string_pretty(&alert).unwrap_or_default();
    let text = alert.text();
    let subject = alert.summary.clone();
    let timeout = Duration::from_secs(cfg.alerts.timeout_secs.max(1));
    let mut out = Vec::new();
    if !cfg.alerts.command.is_empty() {
        let cmd = cfg.alerts.command.clone();
        let (json, run_id) = (json.clone(), run_id.to_string());
        let r = blocking(move || run_command(&cmd, &json, &run_id, status, timeout)).await;
        out.push(Delivery {
            channel: "command",
            result: r,
        });
    }
    if let Some(var) = &cfg.alerts.webhook_url_env {
        let r = match std::env::var(var) {
            Ok(url) => {
                let json = json.clone();
                blocking(move || post_webhook(&url, &json, timeout)).await
            }
            Err(_) => Err(format!("environment variable `{var}` is not set")),
        };
        out.push(Delivery {
            channel: "webhook",
            result: r,
        });
    }
    if let Some(email) = &cfg.alerts.email {
        let r = match std::env::var(&email.smtp_url_env) {
            Ok(url) => {
                let (email, subject, text) = (email.clone(), subject.clone(), text.clone());
                blocking(move || send_email(&url, &email, &subject, &text, timeout)).await
            }
            Err(_) => Err(format!(
                "environment variable `{}` is not set",
                email.smtp_url_env
            )),
        };
        out.push(Delivery {
            channel: "email",
            result: r,
        });
    }
    for d in &mut out {
        if let Err(e) = &mut d.result {
            *e = scrub(e, &secrets);
            tracing::error!(channel = d.channel, error = %e, "Alert not delivered.");
        } else {
            tracing::info!(channel = d.channel, "Alert sent.");
        }
    }
    out
}

async fn blocking<F>(f: F) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("internal error (this is a bug): {e}")))
}

fn run_command(
    cmd: &[String],
    json: &str,
    run_id: &str,
    status: RunStatus,
    timeout: Duration,
) -> Result<(), String> {
    let mut child = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .env("SAFER_RUN_ID", run_id)
        .env("SAFER_RUN_STATUS", status.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{}`: {e}", cmd[0]))?;
    if let Some(mut stdin) = child.stdin.take() {
        // On a thread: a command that reads late (or never) must not block
        // us past the timeout on a full pipe.
        let json = json.to_string();
        std::thread::spawn(move || {
            let _ = stdin.write_all(json.as_bytes());
        });
    }
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
                return Err(format!(
                    "`{}` exited with {status}: {}",
                    cmd[0],
                    err.lines().last().unwrap_or("no message")
                ));
            }
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{}` did not finish within {timeout:?}", cmd[0]));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn post_webhook(url: &str, json: &str, timeout: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(json.as_bytes())
        .map(|_| ())
        .map_err(|e| format!("webhook POST failed: {e}"))
}

fn send_email(
    url: &str,
    email: &EmailConfig,
    subject: &str,
    text: &str,
    timeout: Duration,
) -> Result<(), String> {
    use lettre::message::{Mailbox, header::ContentType};
    use lettre::{Message, SmtpTransport, Transport};
    let from: Mailbox = email
        .from
        .parse()
        .map_err(|e| format!("alerts.email.from `{}`: {e}", email.from))?;
    let mut b = Message::builder().from(from).subject(subject);
    for t in &email.to {
        let to: Mailbox = t
            .parse()
            .map_err(|e| format!("alerts.email.to `{t}`: {e}"))?;
        b = b.to(to);
    }
    let msg = b
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_string())
        .map_err(|e| format!("could not build the email: {e}"))?;
    let mailer = SmtpTransport::from_url(url)
        .map_err(|e| format!("SMTP URL: {e}"))?
        .timeout(Some(timeout))
        .build();
    mailer
        .send(&msg)
        .map(|_| ())
        .map_err(|e| format!("SMTP: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_removes_urls_and_their_passwords() {
        let secrets = {
            let mut v = vec![
                "postgres://council:hunter22@db/x".to_string(),
                "hunter22".to_string(),
            ];
            v.sort_by_key(|s| std::cmp::Reverse(s.len()));
            v
        };
        let t = scrub(
            "could not connect to postgres://council:hunter22@db/x (password hunter22)",
            &secrets,
        );
        assert!(!t.contains("hunter22"), "{t}");
        assert_eq!(t, "could not connect to <redacted> (password <redacted>)");
        assert_eq!(
            password_of("smtp://a:longpass@h:25"),
            Some("longpass".into())
        );
        assert_eq!(password_of("smtp://h:25"), None);
    }
}
