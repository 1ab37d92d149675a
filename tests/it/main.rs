//! Integration tests: one binary, one module per area.
//!
//! Database tests talk to real PostgreSQL and MariaDB servers. `.ci/run` sets
//! `SAFER_REQUIRE_DB=1`, which turns "server not reachable" into a failure;
//! elsewhere those tests print that they were skipped.

mod alerts;
mod ballista;
mod bench;
mod check;
mod cli;
mod common;
mod crash;
mod delta;
mod evaluation;
mod explore;
mod few_values;
mod hostile;
mod lake;
mod ledger;
mod object_store;
mod officers;
mod outputs;
mod partition;
mod police_uk;
mod project;
mod service;
mod source_tests;
mod sql_sources;
mod stats19;
mod time_travel;
