//! validate-ingest: every dataset uploaded to the raw bucket is checked against its dataset contract in one
//! streaming pass, copied to the ingested bucket or to quarantine with its report, announced once on the bus
//! (with a notice on quarantine) and counted in metrics.
//!
//! `main.rs` wires configuration and clients; [`handler`] turns notifications into calls and [`store`] does the
//! S3 side; [`routing`] and the `dataset_check` crate (the contract check itself, also a CLI) hold the
//! decisions, free of AWS types.

pub mod config;
pub mod handler;
pub mod job;
pub mod routing;
pub mod store;

pub use config::{Config, STAGE};
pub use handler::{Ingest, IngestError, Response};
