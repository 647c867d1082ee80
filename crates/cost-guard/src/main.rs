//! Lambda entry point: configuration, clients, runtime.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use cost_guard::{Config, CostGuard, STAGE};
use guardrails_core::{Env, HandlerError, aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use metrics_cloudwatch_embedded::lambda::service::run;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let config = Config::from_env(&Env::process())?;
    let metrics = telemetry::init_metrics(&config.common.metrics_namespace, STAGE)?;
    metrics::describe_gauge!(
        cost_guard::handler::COST_USD,
        metrics::Unit::Count,
        "USD per day"
    );
    let sdk = aws::load_sdk_config().await;
    let guard = Arc::new(CostGuard::from_sdk(&sdk, config)?);

    run(
        metrics,
        service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
            let guard = Arc::clone(&guard);
            async move {
                guard
                    .handle(event.payload)
                    .await
                    .map_err(HandlerError::from)
            }
        }),
    )
    .await
}
