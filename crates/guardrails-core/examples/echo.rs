//! The floor `make coldstart` sets the functions beside: a bare `lambda_runtime` function that answers with its
//! event. No SDK, logs or metrics: what is left of a cold start is the runtime's own.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(event.payload)
        },
    ))
    .await
}
