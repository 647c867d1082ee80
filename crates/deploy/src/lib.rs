//! deploy: when a model version is approved (model-gate's "Model Approved", sent once it signed the approval),
//! verify it again — Approved now, its lineage record signed and of the model the package serves, the gate's
//! approval or a person's signed one — and make it the group's serving record (`guardrails_core::serving`), with
//! a notice; refuse it with a critical notice otherwise.
//!
//! `main.rs` runs the [`Deploy`] function; [`handler`] handles one event; [`decide`] decides, free of AWS types.

pub mod config;
pub mod decide;
pub mod handler;

pub use config::{Config, STAGE};
pub use handler::{Deploy, DeployError, Outcome};
