//! One shape for every function: a [`Function`] is a stage name, a configuration read from the environment,
//! clients built once from the SDK configuration, and a handler from a typed event to a typed response. [`run`]
//! is the whole Lambda entry point (logs, traces, metrics, clients, runtime), [`invoke_json`] what a local runner
//! calls with a raw payload (both through [`invoke_traced`], which opens the invocation's span), and
//! [`partial_batch`] the SQS partial-batch answer for functions fed by a queue.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::config::{CommonConfig, ConfigError, Env};
use crate::error::{Classify, ErrorClass, HandlerError};
use crate::{aws, telemetry, traces};

/// What a handler knows about the invocation beyond its event.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The Lambda request id (the local loop makes its own): names side effects that must be idempotent.
    pub request_id: &'a str,
}

/// A pipeline stage's Lambda function.
pub trait Function: Sized + Send + Sync + 'static {
    /// The stage: the `Stage` dimension of every metric the function emits.
    const STAGE: &'static str;
    /// Its configuration, parsed once per cold start.
    type Config: Send;
    /// The event Lambda delivers.
    type Event: DeserializeOwned + Send + 'static;
    /// The answer Lambda returns (for Step Functions, the task's output).
    type Response: Serialize + Send + 'static;
    /// A failure that says whether it is worth retrying.
    type Error: Classify + Send + 'static;

    /// Reads the configuration from `env`.
    ///
    /// # Errors
    /// A missing or malformed variable, named.
    fn config(env: &Env) -> Result<Self::Config, ConfigError>;

    /// The settings every function shares (the metrics namespace among them).
    fn common(config: &Self::Config) -> &CommonConfig;

    /// Builds the clients from `sdk`.
    ///
    /// # Errors
    /// A setting the clients need is missing (e.g. a notice topic).
    fn from_sdk(sdk: &SdkConfig, config: Self::Config) -> Result<Self, ConfigError>;

    /// Registers the units and descriptions of the function's metrics (once, after the recorder is installed).
    fn describe_metrics() {}

    /// Handles one event: what the runtime calls (each function's own `handle` does the work).
    fn invoke(
        &self,
        event: Self::Event,
        invocation: Invocation<'_>,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>> + Send;

    /// The response in one line, for people watching the function run (the local loop's timeline).
    fn describe(response: &Self::Response) -> String {
        serde_json::to_string(response).unwrap_or_default()
    }
}

/// The Lambda entry point of `F`: JSON logs (and traces, when `OTEL_TRACES_EXPORTER` names an exporter), the EMF
/// recorder, the configuration, the clients (one line says how long each took), then the runtime until it stops.
/// A configuration error fails the cold start with a message that names the variable.
///
/// # Errors
/// A configuration or metrics-recorder error at start, or the runtime's own failure.
pub async fn run<F: Function>() -> Result<(), lambda_runtime::Error> {
    let clock = Instant::now();
    let traces = telemetry::init_tracing(F::STAGE);
    let logs = clock.elapsed();
    let env = Env::process();
    let config = F::config(&env)?;
    let metrics = telemetry::init_metrics(&F::common(&config).metrics_namespace, F::STAGE)?;
    F::describe_metrics();
    let configured = clock.elapsed();
    let sdk = aws::load_sdk_config(&env).await?;
    let sdk_loaded = clock.elapsed();
    let function = Arc::new(F::from_sdk(&sdk, config)?);
    log_ready([logs, configured, sdk_loaded, clock.elapsed()]);
    metrics_cloudwatch_embedded::lambda::service::run(
        metrics,
        // The payload arrives as JSON and is decoded here, not by the runtime, so that an event of the wrong
        // shape fails as `NonRetryable` like every other failure (the runtime would give it its own type).
        service_fn(move |event: LambdaEvent<Value>| {
            let function = Arc::clone(&function);
            let traces = traces.clone();
            async move {
                let answer = Box::pin(invoke_traced(
                    function.as_ref(),
                    event.payload,
                    &event.context.request_id,
                    event.context.xray_trace_id.as_deref(),
                ))
                .await;
                // Before the answer: Lambda may freeze the environment as soon as it has it.
                traces.flush().await;
                answer
            }
        }),
    )
    .await
}

/// Says, once per cold start, how long each step of the init took, in microseconds from `main` (the process's
/// start, its loading and the async runtime come before): the line `make coldstart` divides the init by, and
/// what to read when Lambda's `Init Duration` grows.
fn log_ready([logs, configured, sdk_loaded, ready]: [Duration; 4]) {
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        logs_us = micros(logs),
        config_us = micros(configured.saturating_sub(logs)),
        sdk_us = micros(sdk_loaded.saturating_sub(configured)),
        clients_us = micros(ready.saturating_sub(sdk_loaded)),
        init_us = micros(ready),
        "ready for the first event"
    );
}

/// Decodes `payload` and invokes `function` inside the invocation's span (a child of the X-Ray trace that
/// `xray_header` names, when there is one), the span marked failed when the handler fails.
///
/// # Errors
/// A payload of the wrong shape (non-retryable) or the handler's classified error.
pub async fn invoke_traced<F: Function>(
    function: &F,
    payload: Value,
    request_id: &str,
    xray_header: Option<&str>,
) -> Result<F::Response, HandlerError> {
    let span = traces::invocation_span(F::STAGE, request_id, xray_header);
    let answer = async {
        let event = decode::<F>(payload)?;
        // Boxed: a handler's future is deep, and the runtime's service nests it further.
        Box::pin(function.invoke(event, Invocation { request_id }))
            .await
            .map_err(HandlerError::from)
    }
    .instrument(span.clone())
    .await;
    if let Err(error) = &answer {
        traces::record_failure(&span, error.class.error_type());
    }
    answer
}

/// Builds `F` from an environment, as a cold start would.
///
/// # Errors
/// What [`Function::config`] or [`Function::from_sdk`] refuses.
pub fn build<F: Function>(env: &Env, sdk: &SdkConfig) -> Result<F, ConfigError> {
    F::from_sdk(sdk, F::config(env)?)
}

/// Invokes `function` with a raw JSON payload, as the Lambda runtime would: a payload that does not deserialize
/// into `F::Event` is a non-retryable error, the answer is the response as JSON and its one-line description.
///
/// # Errors
/// The handler's classified error.
pub async fn invoke_json<F: Function>(
    function: &F,
    payload: Value,
    request_id: &str,
) -> Result<(Value, String), HandlerError> {
    let response = invoke_traced(function, payload, request_id, None).await?;
    let line = F::describe(&response);
    let json = serde_json::to_value(&response).map_err(|e| HandlerError {
        class: ErrorClass::NonRetryable,
        message: format!("the response does not serialize: {e}"),
    })?;
    Ok((json, line))
}

/// The event in `payload`; one of the wrong shape is a non-retryable error (the same payload fails again).
fn decode<F: Function>(payload: Value) -> Result<F::Event, HandlerError> {
    serde_json::from_value(payload).map_err(|e| HandlerError {
        class: ErrorClass::NonRetryable,
        message: format!("the payload is not a {} event: {e}", F::STAGE),
    })
}

/// Whether a raw payload is an SQS batch (what an event source mapping delivers), for a function fed both by a
/// queue and by other sources.
pub fn is_sqs_batch(payload: &Value) -> bool {
    payload["Records"][0]["eventSource"] == "aws:sqs"
}

/// Handles an SQS batch message by message (`ReportBatchItemFailures`): a message whose handling fails is
/// logged with its class and listed in the answer, so only it is redelivered; the others are done.
pub async fn partial_batch<E, Fut>(
    records: Vec<SqsMessage>,
    mut each: impl FnMut(SqsMessage) -> Fut,
) -> SqsBatchResponse
where
    E: Classify,
    Fut: Future<Output = Result<(), E>>,
{
    let mut response = SqsBatchResponse::default();
    for record in records {
        let id = record.message_id.clone().unwrap_or_default();
        if let Err(error) = each(record).await {
            let error = HandlerError::from(error);
            tracing::error!(message_id = %id, class = error.class.error_type(), error = %error.message, "message failed");
            response.add_failure(id);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("message {0} failed")]
    struct Failed(u32);

    impl Classify for Failed {
        fn class(&self) -> ErrorClass {
            ErrorClass::Retryable
        }
    }

    /// A function that doubles a number and fails, retryably, on zero.
    struct Double;

    impl Function for Double {
        const STAGE: &'static str = "double";
        type Config = ();
        type Event = u32;
        type Response = u64;
        type Error = Failed;

        fn config(_: &Env) -> Result<(), ConfigError> {
            Ok(())
        }

        fn common(_: &()) -> &CommonConfig {
            unreachable!("not run on Lambda")
        }

        fn from_sdk(_: &SdkConfig, _: ()) -> Result<Self, ConfigError> {
            Ok(Double)
        }

        async fn invoke(&self, event: u32, _: Invocation<'_>) -> Result<u64, Failed> {
            match event {
                0 => Err(Failed(0)),
                n => Ok(u64::from(n) * 2),
            }
        }
    }

    #[tokio::test]
    async fn a_raw_payload_is_decoded_handled_and_described_or_refused_with_a_class() {
        let (response, line) = invoke_json(&Double, serde_json::json!(21), "r1")
            .await
            .unwrap();
        assert_eq!((response, line.as_str()), (serde_json::json!(42), "42"));

        let wrong = invoke_json(&Double, serde_json::json!({"n": 1}), "r2")
            .await
            .unwrap_err();
        assert_eq!(wrong.class, ErrorClass::NonRetryable);
        assert!(
            wrong
                .message
                .starts_with("the payload is not a double event"),
            "{}",
            wrong.message
        );

        let failed = invoke_json(&Double, serde_json::json!(0), "r3")
            .await
            .unwrap_err();
        assert_eq!(failed.class, ErrorClass::Retryable);
    }

    fn message(id: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(id.to_owned());
        message
    }

    #[tokio::test]
    async fn only_the_failed_messages_are_listed_and_every_message_is_tried() {
        let mut seen = Vec::new();
        let response = partial_batch(vec![message("a"), message("b"), message("c")], |record| {
            let body = record.body.unwrap_or_default();
            seen.push(body.clone());
            async move { if body == "b" { Err(Failed(2)) } else { Ok(()) } }
        })
        .await;
        assert_eq!(seen, ["a", "b", "c"]);
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["b"]);
    }
}
