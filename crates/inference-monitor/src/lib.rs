//! inference-monitor: the project's own model monitor on AWS, over the `text-monitor` engine.
//!
//! - **Hourly, over real-time data capture** ([`hourly`]): on a schedule, the last complete hour's captured
//!   requests and answers are judged against the serving version's baseline (input drift of the texts,
//!   prediction quality), and the label window's capture is joined with the ground truth that arrived (model
//!   quality with confidence intervals, per-segment recall disparity). One report per hour in the state bucket;
//!   the gauges the drift alarms watch, none below the minimum sample.
//! - **A large hour, in parts** ([`fanout`]): an hour with more capture than `PART_BYTES` is planned in parts and
//!   handed to a Step Functions Distributed Map, whose items invoke the function to read one part each; its last
//!   state merges them and judges the hour as the hourly run would have.
//! - **Per batch** ([`handler`]): each batch transform output's confidence, low-confidence share, the share of
//!   the catch-all label ("Otros") and the population stability index of the label mix against the training
//!   data's; with `GROUND_TRUTH_URI` in batch serving, the batch's answers kept by record id.
//! - **Ground truth in batch serving** ([`batch_truth`]): each upload joins the label window's ground truth with
//!   the kept answers of the version serving now, and judges model quality as the hourly run does.
//!
//! `main.rs` wires configuration and the clients; [`handler`] and [`hourly`] read S3 and the serving version's
//! lineage; [`window`] and the `text-monitor` crate decide, free of AWS types.

pub mod batch_truth;
pub mod config;
pub mod fanout;
pub mod handler;
pub mod hourly;
pub mod window;

pub use config::{Config, Hourly, STAGE};
pub use fanout::Task;
pub use handler::{InferenceMonitor, Input, MonitorError, Outcome};
