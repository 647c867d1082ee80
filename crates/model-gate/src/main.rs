//! Lambda entry point: configuration, client, runtime.

use std::sync::Arc;

use guardrails_core::{Env, HandlerError, aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;
use model_gate::{Config, GateRequest, ModelGate, STAGE};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    let sdk = aws::load_sdk_config().await;
    let gate = Arc::new(ModelGate::from_sdk(&sdk, config));
    run(
        metrics,
        service_fn(move |event: LambdaEvent<GateRequest>| {
            let gate = Arc::clone(&gate);
            async move { gate.handle(event.payload).await.map_err(HandlerError::from) }
        }),
    )
    .await
}
