//! Lambda entry point: configuration, clients, runtime.

use std::sync::Arc;

use guardrails_core::{Env, HandlerError, aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;
use validate_ingest::handler::describe_metrics;
use validate_ingest::{Config, Ingest, STAGE};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    describe_metrics();
    let sdk = aws::load_sdk_config().await;
    let ingest = Arc::new(Ingest::from_sdk(&sdk, config)?);

    run(
        metrics,
        service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let ingest = Arc::clone(&ingest);
            async move {
                ingest
                    .handle(event.payload)
                    .await
                    .map_err(HandlerError::from)
            }
        }),
    )
    .await
}
