//! notifier: the notices nothing else sends. CloudWatch alarm state changes of the project's alarms, failed
//! SageMaker and Glue jobs, training workflow executions that end badly, model package approval changes and
//! dataset contract changes each become one notice in the project's format (severity and kind attributes, the
//! readable e-mail, the chat notification, the runbook link), where raw alarm actions and rule input
//! transformers would publish plain text that no filter policy can route.
//!
//! `main.rs` runs it; [`event`] reads what EventBridge delivers; [`decide`] turns it into a notice or a reason to
//! stay quiet, free of AWS types; [`handler`] publishes.

pub mod config;
pub mod decide;
pub mod event;
pub mod handler;

pub use config::{Config, STAGE};
pub use handler::{Notify, NotifyError, Outcome};
