//! The template's functions, run in this process: each is the same [`Function`] its Lambda binary runs, built
//! the same way (`config` then `from_sdk`), configured from the environment the template gives it. A new
//! function is one line of [`REGISTRY`].

use std::future::Future;
use std::pin::Pin;

use aws_config::SdkConfig;
use guardrails_core::function::{self, Function};
use guardrails_core::{ConfigError, Env, HandlerError};
use serde_json::Value;

use crate::stack::FunctionSpec;

/// A handler's answer: its JSON response and the response in one line.
pub type Answer = Result<(Value, String), HandlerError>;

/// A function built for this process, its types erased so that one map holds them all.
trait Runnable: Send + Sync {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        request_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;
}

impl<F: Function> Runnable for F {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        request_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
        Box::pin(function::invoke_json(self, payload, request_id))
    }
}

type Build = fn(&Env, &SdkConfig) -> Result<Box<dyn Runnable>, ConfigError>;

fn build<F: Function>(env: &Env, sdk: &SdkConfig) -> Result<Box<dyn Runnable>, ConfigError> {
    Ok(Box::new(function::build::<F>(env, sdk)?))
}

/// Each function of the project: its binary (also its stage) and how to build it.
const REGISTRY: &[(&str, Build)] = &[
    (
        <validate_ingest::Ingest as Function>::STAGE,
        build::<validate_ingest::Ingest>,
    ),
    (
        <trigger_training::TriggerTraining as Function>::STAGE,
        build::<trigger_training::TriggerTraining>,
    ),
    (
        <model_gate::ModelGate as Function>::STAGE,
        build::<model_gate::ModelGate>,
    ),
    (<deploy::Deploy as Function>::STAGE, build::<deploy::Deploy>),
    (
        <batch_launcher::BatchLauncher as Function>::STAGE,
        build::<batch_launcher::BatchLauncher>,
    ),
    (
        <drift_handler::DriftHandler as Function>::STAGE,
        build::<drift_handler::DriftHandler>,
    ),
    (
        <inference_monitor::InferenceMonitor as Function>::STAGE,
        build::<inference_monitor::InferenceMonitor>,
    ),
    (
        <cost_guard::CostGuard as Function>::STAGE,
        build::<cost_guard::CostGuard>,
    ),
    (
        <notifier::Notify as Function>::STAGE,
        build::<notifier::Notify>,
    ),
    (
        <slack_forwarder::Forward as Function>::STAGE,
        build::<slack_forwarder::Forward>,
    ),
    (
        <posture_audit::PostureAudit as Function>::STAGE,
        build::<posture_audit::PostureAudit>,
    ),
    (
        <stage_report::StageReport as Function>::STAGE,
        build::<stage_report::StageReport>,
    ),
];

/// The binaries the local loop can run.
pub fn binaries() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(binary, _)| *binary)
}

/// One function's handler, built.
pub struct Handler(Box<dyn Runnable>);

/// A function that cannot be built from the template.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Its `CodeUri` names no binary of this workspace.
    #[error(
        "{function}: CodeUri points at {binary:?}, which is not one of the project's functions"
    )]
    UnknownBinary {
        /// Logical id.
        function: String,
        /// The binary named.
        binary: String,
    },
    /// Its environment does not configure it.
    #[error("{function}: {source}")]
    Config {
        /// Logical id.
        function: String,
        /// What is missing or malformed.
        source: ConfigError,
    },
}

impl Handler {
    /// Builds the handler of `spec` over clients from `sdk`.
    ///
    /// # Errors
    /// An unknown binary, or an environment its configuration refuses (the error names the variable).
    pub fn build(spec: &FunctionSpec, sdk: &SdkConfig) -> Result<Self, BuildError> {
        let (_, build) = REGISTRY
            .iter()
            .find(|(binary, _)| *binary == spec.binary)
            .ok_or_else(|| BuildError::UnknownBinary {
                function: spec.logical_id.clone(),
                binary: spec.binary.clone(),
            })?;
        let env = Env::from_pairs(
            spec.environment
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        build(&env, sdk)
            .map(Handler)
            .map_err(|source| BuildError::Config {
                function: spec.logical_id.clone(),
                source,
            })
    }

    /// Invokes the handler with `payload`, as the Lambda runtime would: the answer is its JSON response and
    /// that response in one line, the error what Lambda reports (`errorType` `Retryable`/`NonRetryable`).
    pub async fn invoke(&self, payload: Value, request_id: &str) -> Answer {
        self.0.invoke(payload, request_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_crate_of_the_workspace_is_registered_once() {
        let crates = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|dir| dir.join("src/main.rs").is_file())
            .filter(|dir| {
                std::fs::read_to_string(dir.join("src/main.rs"))
                    .unwrap()
                    .contains("function::run::<")
            })
            .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned());
        let mut crates: Vec<String> = crates.collect();
        crates.sort();
        let mut registered: Vec<&str> = binaries().collect();
        registered.sort();
        assert_eq!(crates, registered);
    }
}
