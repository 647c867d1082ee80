//! notifier: the notices nothing else sends. CloudWatch alarm state changes of the project's alarms, failed
//! SageMaker and Glue jobs, training workflow executions that end badly, model package approval changes and
//! dataset contract changes each become one notice in the project's format (severity and kind attributes, the
//! readable e-mail, the chat notification, the runbook link), where raw alarm actions and rule input
//! transformers would publish plain text that no filter policy can route.
//!
//! Quarantined uploads (validate-ingest's Dataset Quarantined events) are said here too. Storms become digests:
//! a dataset's quarantines gather for a window and leave as one notice, and an alarm's changes leave at most
//! once per window, its latest change heading the digest.
//!
//! `main.rs` runs it; [`event`] reads what EventBridge delivers; [`decide`] turns it into a notice or a reason to
//! stay quiet, and [`digest`] says which notices wait for their group and what a group's one notice says, both
//! free of AWS types; [`held`] keeps waiting notices in the state bucket and schedules looks on the digest
//! queue; [`handler`] publishes.

pub mod config;
pub mod decide;
pub mod digest;
pub mod event;
pub mod handler;
pub mod held;

pub use config::{Config, STAGE};
pub use handler::{Notify, NotifyError, Outcome, Response};
