//! trigger-training: starts the training state machine when new valid data (`Dataset Validated`), a retraining
//! request (`Retraining Requested`) or a person asks — one execution at a time, never twice for one event.
//!
//! `main.rs` wires configuration and clients; [`handler`] turns an event into a decision and a start;
//! [`policy`] decides, free of AWS types; [`input`] builds the execution input;
//! [`workflow`] reads and starts executions; [`manifest`] pins the exact files a run trains on. New rows are
//! counted, and files pinned, from the ledger validate-ingest keeps (`guardrails_core::ledger`); this function
//! only reads it.

pub mod config;
pub mod handler;
pub mod input;
pub mod manifest;
pub mod policy;
pub mod workflow;

pub use config::{Config, STAGE};
pub use handler::{Outcome, TriggerError, TriggerTraining};
