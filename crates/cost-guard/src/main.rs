//! Lambda entry point: configuration, clients, runtime.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use cost_guard::enforce::Enforcer;
use cost_guard::explorer::CostExplorer;
use cost_guard::{Config, CostGuard, Enforce, STAGE};
use guardrails_core::{Env, EventPublisher, HandlerError, Notifier, aws, telemetry};
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
    let explorer = CostExplorer::new(
        aws_sdk_costexplorer::Client::new(&sdk),
        config.metric.clone(),
        config.cost_tag.clone(),
        config.job_tag_key.clone(),
    );
    let enforcer = match (&config.enforce, &config.cost_tag) {
        (Enforce::Off, _) | (_, None) => None,
        (_, Some((key, value))) => Some(Enforcer::new(
            aws_sdk_sagemaker::Client::new(&sdk),
            key.clone(),
            value.clone(),
        )),
    };
    let guard = Arc::new(CostGuard::new(
        explorer,
        aws::s3_client(&sdk),
        Notifier::from_sdk(&sdk, config.common.require_notice_topic()?),
        EventPublisher::from_sdk(&sdk, &config.common.event_bus_name),
        enforcer,
        config,
    ));

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
