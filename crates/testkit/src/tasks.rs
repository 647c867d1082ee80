//! A state machine's Lambda tasks answered by handlers in the test's process: the emulator's Lambda only returns
//! canned answers, so the definition's tasks are rewritten ([`crate::asl::lambda_tasks_to_callbacks`]) to send
//! their payload to a queue and wait for the task token, and [`TaskRunner::run`] answers each with the handler's
//! result (shaped as the task's integration returns it) or its error, until the execution ends.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::asl::{DIRECT, lambda_tasks_to_callbacks};
use crate::{queue_with_arn, unique_name};

/// A function's error as the runtime reports it: its type (what `Retry` and `Catch` match) and message.
#[derive(Debug, Clone)]
pub struct TaskError {
    pub error_type: String,
    pub message: String,
}

/// A queue the rewritten tasks send their payloads to, and the clients that answer them.
#[derive(Debug, Clone)]
pub struct TaskRunner {
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    queue_url: String,
}

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Ended {
    pub status: ExecutionStatus,
    /// Its output when it succeeded.
    pub output: Option<Value>,
    /// The payloads the tasks were invoked with, in the order they were answered.
    pub payloads: Vec<Value>,
}

impl TaskRunner {
    /// A runner with its own queue.
    pub async fn create(sdk: &SdkConfig) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let (queue_url, _) = queue_with_arn(&sqs, &unique_name("tasks"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        TaskRunner {
            sqs,
            sfn: aws_sdk_sfn::Client::new(sdk),
            queue_url,
        }
    }

    /// Makes the Lambda tasks of `definition` that call one of `functions` wait for this runner; how many.
    pub fn rewrite(&self, definition: &mut Value, functions: &[&str]) -> usize {
        lambda_tasks_to_callbacks(definition, functions, &self.queue_url)
    }

    /// Answers the tasks with `handler` (given each payload) until `execution` ends or `timeout` passes (a
    /// panic naming the execution).
    pub async fn run<F, Fut>(&self, execution: &str, timeout: Duration, mut handler: F) -> Ended
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = Result<Value, TaskError>>,
    {
        let deadline = Instant::now() + timeout;
        let mut payloads = Vec::new();
        loop {
            let described = self
                .sfn
                .describe_execution()
                .execution_arn(execution)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{}", aws_sdk_sfn::error::DisplayErrorContext(e)));
            if described.status() != &ExecutionStatus::Running {
                return Ended {
                    status: described.status().clone(),
                    output: described
                        .output()
                        .and_then(|o| serde_json::from_str(o).ok()),
                    payloads,
                };
            }
            assert!(
                Instant::now() < deadline,
                "{execution} still running after {timeout:?}"
            );
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)));
            for message in received.messages() {
                let body: Value = serde_json::from_str(message.body().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("a task message that is not JSON: {e}"));
                let token = body["TaskToken"].as_str().unwrap_or_default().to_owned();
                payloads.push(body["Payload"].clone());
                self.answer(
                    &token,
                    body["Integration"] == DIRECT,
                    handler(body["Payload"].clone()).await,
                )
                .await;
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)));
            }
        }
    }

    async fn answer(&self, token: &str, direct: bool, result: Result<Value, TaskError>) {
        answer_task(&self.sfn, token, direct, result)
            .await
            .unwrap_or_else(|e| panic!("answering the task failed: {e}"));
    }
}

/// Answers the task of `token` as Lambda would: `lambda:invoke` wraps the response (`direct`: a task on the
/// function's ARN gets it bare); an error by its type, which `Retry` and `Catch` match.
///
/// # Errors
/// The call's error, with its context.
pub async fn answer_task(
    sfn: &aws_sdk_sfn::Client,
    token: &str,
    direct: bool,
    result: Result<Value, TaskError>,
) -> Result<(), String> {
    match result {
        Ok(response) => {
            let output = if direct {
                response
            } else {
                json!({"Payload": response, "StatusCode": 200, "ExecutedVersion": "$LATEST"})
            };
            sfn.send_task_success()
                .task_token(token)
                .output(output.to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_sfn::error::DisplayErrorContext(e).to_string())
        }
        Err(error) => {
            let cause = json!({"errorType": error.error_type, "errorMessage": error.message});
            sfn.send_task_failure()
                .task_token(token)
                .error(&error.error_type)
                .cause(cause.to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_sfn::error::DisplayErrorContext(e).to_string())
        }
    }
}
