//! Unattended operation: schedule files, fire times that respect the
//! clocks changing, and `safer serve`.
//!
//! The scheduler only orchestrates. It decides *when*; the job itself is
//! `pipeline::run_job`, the same code `safer run` calls, so a scheduled
//! night and a hand-run night cannot behave differently.

pub mod clock;
pub mod schedule;
pub mod serve;

pub use clock::{Clock, ManualClock, SystemClock};
pub use schedule::{CatchUp, Schedule, ScheduleError};
pub use serve::{
    Control, Fire, PipelineRunner, Runner, ServeOptions, ServeReport, ServedRun, serve,
};
