//! Lambda entry point: configuration, clients, runtime.

use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use guardrails_core::{Env, EventPublisher, HandlerError, aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;
use validate_ingest::{Config, Ingest, STAGE, handler::describe_metrics};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    describe_metrics();
    let sdk = aws::load_sdk_config().await;
    let events = EventPublisher::from_sdk(&sdk, &config.common.event_bus_name);
    let ingest = Arc::new(Ingest::new(aws::s3_client(&sdk), events, config));

    run(
        metrics,
        service_fn(move |event: LambdaEvent<S3Event>| {
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
