//! Shared library of the mlops-guardrails Lambda functions: configuration from the environment, the AWS SDK
//! configuration, JSON logs and EMF metrics, SNS notices, typed domain events on the project's bus, and error
//! classification, and the one shape every function has ([`Function`]). No handler logic lives here.

#![warn(missing_docs)]

pub mod alarm;
pub mod aws;
pub mod aws_events;
pub mod baseline;
pub mod config;
pub mod domain;
pub mod error;
pub mod function;
pub mod image;
pub mod ledger;
pub mod lineage;
pub mod metric;
pub mod monitor_report;
pub mod notice;
pub mod registry;
pub mod s3;
pub mod serving;
pub mod state;
pub mod telemetry;
pub mod traces;

pub use config::{CommonConfig, ConfigError, DEFAULT_PROJECT, Env, Network};
pub use domain::{DomainEvent, EventPublisher};
pub use error::{AwsError, Classify, ErrorClass, HandlerError};
pub use function::{Function, Invocation};
pub use notice::{Kind as NoticeKind, Notice, Notifier, Severity};
pub use s3::ObjectRef;
