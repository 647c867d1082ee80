//! The template's functions, run in this process: each is the same handler its Lambda binary runs, built the
//! same way (`from_sdk`), configured from the environment the template gives it.

use aws_config::SdkConfig;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use guardrails_core::{ConfigError, Env, HandlerError};
use serde_json::Value;

use crate::stack::FunctionSpec;

/// One function's handler.
pub enum Function {
    /// validate-ingest.
    ValidateIngest(validate_ingest::Ingest),
    /// trigger-training.
    TriggerTraining(trigger_training::TriggerTraining),
    /// model-gate.
    ModelGate(model_gate::ModelGate),
    /// drift-handler.
    DriftHandler(drift_handler::DriftHandler),
    /// inference-monitor.
    InferenceMonitor(inference_monitor::InferenceMonitor),
    /// cost-guard.
    CostGuard(cost_guard::CostGuard),
}

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

impl Function {
    /// Builds the handler of `spec` over clients from `sdk`.
    ///
    /// # Errors
    /// An unknown binary, or an environment its configuration refuses (the error names the variable).
    pub fn build(spec: &FunctionSpec, sdk: &SdkConfig) -> Result<Self, BuildError> {
        let env = Env::from_pairs(
            spec.environment
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let config_error = |source| BuildError::Config {
            function: spec.logical_id.clone(),
            source,
        };
        Ok(match spec.binary.as_str() {
            "validate-ingest" => Function::ValidateIngest(
                validate_ingest::Ingest::from_sdk(
                    sdk,
                    validate_ingest::Config::from_env(&env).map_err(config_error)?,
                )
                .map_err(config_error)?,
            ),
            "trigger-training" => {
                Function::TriggerTraining(trigger_training::TriggerTraining::from_sdk(
                    sdk,
                    trigger_training::Config::from_env(&env).map_err(config_error)?,
                ))
            }
            "model-gate" => Function::ModelGate(model_gate::ModelGate::from_sdk(
                sdk,
                model_gate::Config::from_env(&env).map_err(config_error)?,
            )),
            "drift-handler" => Function::DriftHandler(
                drift_handler::DriftHandler::from_sdk(
                    sdk,
                    drift_handler::Config::from_env(&env).map_err(config_error)?,
                )
                .map_err(config_error)?,
            ),
            "inference-monitor" => {
                Function::InferenceMonitor(inference_monitor::InferenceMonitor::from_sdk(
                    sdk,
                    inference_monitor::Config::from_env(&env).map_err(config_error)?,
                ))
            }
            "cost-guard" => Function::CostGuard(
                cost_guard::CostGuard::from_sdk(
                    sdk,
                    cost_guard::Config::from_env(&env).map_err(config_error)?,
                )
                .map_err(config_error)?,
            ),
            other => {
                return Err(BuildError::UnknownBinary {
                    function: spec.logical_id.clone(),
                    binary: other.to_owned(),
                });
            }
        })
    }

    /// Invokes the handler with `payload`, as the Lambda runtime would; the answer is its JSON response, the
    /// error what Lambda reports (`errorType` `Retryable`/`NonRetryable` and the message).
    pub async fn invoke(&self, payload: Value, request_id: &str) -> Result<Value, HandlerError> {
        fn respond<T: serde::Serialize>(value: T) -> Value {
            serde_json::to_value(value).unwrap_or(Value::Null)
        }
        match self {
            Function::ValidateIngest(f) => f
                .handle(payload)
                .await
                .map(respond)
                .map_err(HandlerError::from),
            Function::TriggerTraining(f) => f
                .handle(payload, request_id)
                .await
                .map(respond)
                .map_err(HandlerError::from),
            Function::ModelGate(f) => {
                let request = serde_json::from_value(payload).map_err(bad_payload)?;
                f.handle(request)
                    .await
                    .map(respond)
                    .map_err(HandlerError::from)
            }
            Function::DriftHandler(f) => f
                .handle(payload)
                .await
                .map(respond)
                .map_err(HandlerError::from),
            Function::InferenceMonitor(f) => f
                .handle(payload)
                .await
                .map(respond)
                .map_err(HandlerError::from),
            Function::CostGuard(f) => {
                let event: EventBridgeEvent =
                    serde_json::from_value(payload).map_err(bad_payload)?;
                f.handle(event)
                    .await
                    .map(respond)
                    .map_err(HandlerError::from)
            }
        }
    }
}

/// The runtime's answer to a payload that does not deserialize into the handler's input type.
fn bad_payload(error: serde_json::Error) -> HandlerError {
    HandlerError {
        class: guardrails_core::ErrorClass::NonRetryable,
        message: format!("the payload does not deserialize: {error}"),
    }
}
