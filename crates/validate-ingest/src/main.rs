//! Lambda entry point: configuration, clients, runtime.

use std::sync::Arc;

use guardrails_core::{Env, EventPublisher, HandlerError, Notifier, aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;
use validate_ingest::handler::{ContractSource, describe_metrics};
use validate_ingest::store::Store;
use validate_ingest::{Config, Ingest, STAGE};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    describe_metrics();
    let sdk = aws::load_sdk_config().await;
    let ingest = Arc::new(Ingest::new(
        Store::new(aws::s3_client(&sdk)),
        EventPublisher::from_sdk(&sdk, &config.common.event_bus_name),
        Notifier::from_sdk(&sdk, config.common.require_notice_topic()?),
        ContractSource::new(
            aws_sdk_ssm::Client::new(&sdk),
            &config.contract_parameter,
            config.contract_cache,
        ),
        config,
    ));

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
