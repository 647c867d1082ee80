//! Lambda entry point: configuration, client, runtime.

use std::sync::Arc;

use guardrails_core::{Env, HandlerError, aws, telemetry};
use inference_monitor::{Config, InferenceMonitor, STAGE};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    let sdk = aws::load_sdk_config().await;
    let monitor = Arc::new(InferenceMonitor::from_sdk(&sdk, config));
    run(
        metrics,
        service_fn(move |event: LambdaEvent<Value>| {
            let monitor = Arc::clone(&monitor);
            async move {
                monitor
                    .handle(event.payload)
                    .await
                    .map_err(HandlerError::from)
            }
        }),
    )
    .await
}
