//! batch-launcher: a file uploaded under the batch input prefix becomes a SageMaker batch transform job, run only
//! with the model that serves (the group's serving record, written by deploy) and only while that version is
//! still Approved; with nothing to serve, or a version no longer Approved, the input waits and a notice says why.
//! Input and output are joined line by line (`JoinSource: Input`), so the monitor reads each text, its prediction
//! and its record id together.
//!
//! `main.rs` runs the [`BatchLauncher`] function; [`handler`] handles one upload; [`decide`] decides, free of AWS
//! types.

pub mod config;
pub mod decide;
pub mod handler;

pub use config::{Config, STAGE};
pub use handler::{BatchLauncher, LaunchError, Outcome};
