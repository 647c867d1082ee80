//! model-gate: the training workflow's quality gate. Given a finished training job, it reads the job's final
//! metrics and the champion (the newest Approved package of the group), and answers Approved,
//! PendingManualApproval (a person approves in the registry) or Rejected, with reasons; the workflow registers
//! the model package with that status, and the signed lineage record (with the run's baseline) it names. The
//! approval of a version in the registry is signed by deploy, as it handles that approval.
//!
//! `main.rs` wires configuration and the client; [`handler`] runs one request; [`registry`] reads SageMaker;
//! [`verdict`] decides, free of AWS types.

pub mod config;
pub mod handler;
pub mod registry;
pub mod verdict;

pub use config::{Config, STAGE};
pub use handler::{GateError, GateRequest, GateResponse, ModelGate};
