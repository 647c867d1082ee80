//! deploy: the one path by which a model version comes to serve, for a release and a rollback alike.
//!
//! On every registry change of the project's model package group (and on a person's "Deploy Requested") it
//! signs the approval the change reports ([`approval`]), then makes the newest Approved version serve — once its
//! lineage record verifies against the package and the gate's approval or a person's signed one is on record —
//! through the group's serving record (`guardrails_core::serving`) and a SageMaker model made from the package
//! ([`model`]). Anything else is refused with a critical notice and what serves is unchanged. A rollback is a
//! rejection in the registry: the newest Approved version before it then serves by the same rule.
//!
//! `main.rs` runs the [`Deploy`] function; [`handler`] handles one event; [`decide`] decides, free of AWS types.

pub mod approval;
pub mod config;
pub mod decide;
pub mod endpoint;
pub mod handler;
pub mod model;
mod realtime;

pub use config::{Config, STAGE};
pub use handler::{Deploy, DeployError, Outcome, Trigger};
