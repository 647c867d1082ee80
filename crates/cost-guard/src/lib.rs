//! cost-guard: once a day, the last complete day's cost per service and per job from Cost Explorer against the
//! budgets; one notice per breach (once per day and scope), Budget Exceeded on the bus, EMF cost metrics, and —
//! off by default, with a dry run — stopping the project's in-progress SageMaker jobs above a hard limit.
//!
//! `main.rs` wires configuration and clients; [`handler`] runs the day; [`explorer`] and [`enforce`] talk to
//! Cost Explorer and SageMaker; [`budget`] holds the verdict, free of AWS types.

pub mod budget;
pub mod config;
pub mod enforce;
pub mod explorer;
pub mod handler;

pub use config::{Config, Enforce, STAGE};
pub use handler::{CostGuard, CostGuardError, RunReport};
