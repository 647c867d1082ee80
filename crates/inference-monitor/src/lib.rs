//! inference-monitor: the quality of batch inference without ground truth. For each batch transform output it
//! measures average and p10 confidence, the low-confidence share, the share of the catch-all label ("Otros") and
//! the population stability index of the label mix against the training data's, and emits them as EMF metrics
//! that the drift alarms (and so drift-handler) watch.
//!
//! `main.rs` wires configuration and the client; [`handler`] reads the files and the baseline; the `text-monitor`
//! crate (its `prediction` and `batch` modules) decides, free of AWS types.

pub mod config;
pub mod handler;

pub use config::{Config, STAGE};
pub use handler::{InferenceMonitor, MonitorError, Outcome};
