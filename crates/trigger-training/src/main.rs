//! Lambda entry point: configuration, clients, runtime.

use std::sync::Arc;

use guardrails_core::{Env, HandlerError, aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;
use serde_json::Value;
use trigger_training::{Config, STAGE, TriggerTraining};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    let sdk = aws::load_sdk_config().await;
    let function = Arc::new(TriggerTraining::from_sdk(&sdk, config));
    run(
        metrics,
        service_fn(move |event: LambdaEvent<Value>| {
            let function = Arc::clone(&function);
            async move {
                function
                    .handle(event.payload, &event.context.request_id)
                    .await
                    .map_err(HandlerError::from)
            }
        }),
    )
    .await
}
