//! stage-report: the feature-engineering and clustering stages run in the team's own jobs (Glue, SageMaker
//! Processing, Batch/Fargate), which the guardrails cannot run but hold to a contract. Each job writes a small
//! JSON report beside its output (`schemas/stage-report.schema.json`, written by `tools/stage_report.py`); on its
//! upload this function validates it against the schema (an invalid report is a finding with the schema's
//! errors), emits its metrics per stage, and compares it with the stage's previous run: embedding mean shift
//! and variance ratio, cluster count change, intra-cluster variance growth, null share growth, failed batches.
//! A breach sends a notice with the figures.
//!
//! `main.rs` runs the [`StageReport`] function; [`handler`] handles one upload; [`report`] reads and validates a
//! report and [`judge`] compares two, free of AWS types.

pub mod config;
pub mod handler;
pub mod judge;
pub mod report;

pub use config::{Config, STAGE};
pub use handler::{Outcome, ReportError, StageReport};
