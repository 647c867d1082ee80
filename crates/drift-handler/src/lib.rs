//! drift-handler: any drift alarm's state change (Model Monitor's namespaces, the project's inference-monitor,
//! or a team's own detector) → a notice with what drifted and what was done; model-quality drift rolls back to
//! the previous approved model by rejecting the serving version in the registry (deploy then serves the version
//! before it, on the endpoint too in real-time); drift asks for retraining.
//! Each transition is acted on once.
//!
//! `main.rs` wires configuration and clients; [`handler`] runs one transition; [`alarm`] (guardrails-core's) reads the event;
//! [`classify`] and [`rollback`] decide, free of AWS types; [`registry`] makes the SageMaker calls.

/// The alarm event reader, shared with the notifier.
pub use guardrails_core::alarm;
pub mod classify;
pub mod config;
pub mod handler;
pub mod registry;
pub mod rollback;

pub use config::{Config, STAGE};
pub use handler::{DriftError, DriftHandler, Outcome, Rollback};
