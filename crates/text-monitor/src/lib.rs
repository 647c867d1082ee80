//! text-monitor: the project's own model monitor for text classification, free of AWS types, shared by the
//! monitoring function and the tools people run. SageMaker Model Monitor is closed to new customers; this reads
//! what it read and judges as it judged, built for text and statistically careful.
//!
//! - [`prediction`] reads a model answer (a batch output line, or a record of a captured response);
//!   [`batch`] turns a batch of them into prediction quality without ground truth.
//! - [`capture`] reads SageMaker data capture and Model Monitor's ground truth, in every encoding.
//! - [`drift`] compares the input texts with the serving model's baseline profile (lengths, empty share,
//!   out-of-vocabulary rate, character classes, scripts, the tokens that moved).
//! - [`join`] joins ground truth to predictions by event id, in bounded memory.
//! - [`bias`] compares each class's recall across the segments ground truth names.
//! - [`quality`] judges the joined records: accuracy, F1 and per-class figures with confidence intervals.
//! - [`monitor`] is one run over capture and ground truth, to one report: the engine the monitoring function and
//!   the `text-monitor` CLI share.
//! - [`samples`] writes capture and ground-truth lines, for tests and benches.

pub mod batch;
pub mod bias;
pub mod capture;
pub mod drift;
pub mod join;
pub mod monitor;
pub mod prediction;
pub mod quality;
pub mod samples;
