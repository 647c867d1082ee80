//! validate-ingest: every dataset uploaded to the raw bucket is checked and copied to the ingested bucket (or,
//! once the dataset contract lands, to quarantine with a report), announced on the bus and counted in metrics.
//!
//! `main.rs` wires configuration and clients; [`handler`] turns an S3 notification into calls; [`routing`] holds
//! the decisions, free of AWS types.

pub mod config;
pub mod handler;
pub mod routing;

pub use config::{Config, STAGE};
pub use handler::{Ingest, IngestError, Summary};
