//! safer: statutory community-safety performance returns and scrutiny packs.
//!
//! Data flows one way through the stages, one module each:
//!
//! ```text
//! sources  ->  lake  ->  engine/indicators  ->  outputs
//! (police.uk,  (Parquet,   (officers' SQL via     (xlsx returns,
//!  STATS19,     manifests,  DataFusion, read-      manifests)
//!  ONS, SQL)    quarantine) only, limited)
//! ```
//!
//! [`pipeline`] runs the stages in order and writes the [`ledger`]; [`cli`]
//! is the friendly edge. [`demo`] generates a synthetic county in the real
//! published formats so the whole path can run with nothing to set up.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod evaluation;
pub mod geography;
pub mod indicators;
pub mod lake;
pub mod ledger;
pub mod outputs;
pub mod pipeline;
pub mod schema;
pub mod sources;
