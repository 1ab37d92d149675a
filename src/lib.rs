//! safer: statutory community-safety performance returns and scrutiny packs.
//!
//! Data flows one way through the stages, one module each:
//!
//! ```text
//! sources  ->  lake  ->  engine/indicators  ->  evaluation  ->  outputs
//! (police.uk,  (Parquet,   (officers' SQL via     (periods, rates,  (xlsx, HTML
//!  STATS19,     manifests,  DataFusion, read-      RAG, SPC,         pack, PDF,
//!  ONS, SQL)    quarantine) only, limited)         suppression)      manifests)
//! ```
//!
//! [`pipeline`] holds the stage functions and the job that runs them under
//! the run lock, recording every run and step in the [`ledger`];
//! [`scheduler`] decides when (`safer serve`) and only orchestrates;
//! [`alerts`] tells someone when a run needs attention. [`cli`] is the
//! friendly edge. [`demo`] generates a synthetic county in the real
//! published formats so the whole path can run with nothing to set up;
//! [`bench`] times the county-scale job.
#![warn(missing_docs)]

pub mod alerts;
pub mod bench;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod diff;
pub mod docs;
pub mod engine;
pub mod evaluation;
pub mod explore;
pub mod faults;
pub mod geography;
pub mod indicators;
pub mod lake;
pub mod ledger;
pub mod outputs;
pub mod pipeline;
pub mod progress;
pub mod retry;
pub mod reuse;
pub mod scheduler;
pub mod schema;
pub mod sources;
pub mod status;
pub mod testing;
