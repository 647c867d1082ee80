//! The training state machine, as trigger-training sees it: which executions ran, and starting one.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use guardrails_core::AwsError;

use crate::policy::History;

/// The training state machine.
#[derive(Debug, Clone)]
pub struct Workflow {
    sfn: Client,
    state_machine_arn: String,
}

/// What the history holds besides [`History`]: when the last successful training started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// What the policy needs.
    pub history: History,
    /// Start of the newest SUCCEEDED execution: data after it is new.
    pub last_success_start: Option<DateTime<Utc>>,
}

/// The result of StartExecution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new execution, with its ARN.
    New(String),
    /// An execution of that name exists (a concurrent delivery of the same event won).
    AlreadyExists,
}

impl Workflow {
    /// The state machine at `state_machine_arn`.
    pub fn new(sfn: Client, state_machine_arn: impl Into<String>) -> Self {
        Workflow {
            sfn,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The ARN an execution named `name` has (or would have).
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }

    /// What the policy needs to decide for the execution `name`.
    ///
    /// # Errors
    /// The classified Step Functions error.
    pub async fn snapshot(&self, name: &str) -> Result<Snapshot, AwsError> {
        let arn = self.execution_arn(name);
        let already_started = match self
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeExecution", arn, e);
                if error.code.as_deref() == Some("ExecutionDoesNotExist") {
                    false
                } else {
                    return Err(error);
                }
            }
        };
        let running = self.newest(Some(ExecutionStatus::Running)).await?;
        let last = self.newest(None).await?;
        let succeeded = self.newest(Some(ExecutionStatus::Succeeded)).await?;
        Ok(Snapshot {
            history: History {
                already_started,
                running: running.map(|(name, _, _)| name),
                last_start: last.as_ref().map(|(_, start, _)| *start),
                last_failed: last.is_some_and(|(_, _, status)| {
                    matches!(
                        status,
                        ExecutionStatus::Failed
                            | ExecutionStatus::TimedOut
                            | ExecutionStatus::Aborted
                    )
                }),
            },
            last_success_start: succeeded.map(|(_, start, _)| start),
        })
    }

    /// Name, start and status of the newest execution with `status` (any status when `None`). Step Functions
    /// lists newest first.
    async fn newest(
        &self,
        status: Option<ExecutionStatus>,
    ) -> Result<Option<(String, DateTime<Utc>, ExecutionStatus)>, AwsError> {
        let page = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .set_status_filter(status)
            .max_results(1)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListExecutions", &self.state_machine_arn, e))?;
        Ok(page.executions().first().map(|e| {
            let start = e.start_date();
            let start =
                DateTime::from_timestamp(start.secs(), start.subsec_nanos()).unwrap_or_default();
            (e.name().to_owned(), start, e.status().clone())
        }))
    }

    /// Starts the execution `name` with `input` (JSON).
    ///
    /// # Errors
    /// The classified Step Functions error, except `ExecutionAlreadyExists`.
    pub async fn start(&self, name: &str, input: String) -> Result<Started, AwsError> {
        match self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(output) => Ok(Started::New(output.execution_arn().to_owned())),
            Err(e) => {
                let error = AwsError::from_sdk("StartExecution", self.execution_arn(name), e);
                if error.code.as_deref() == Some("ExecutionAlreadyExists") {
                    Ok(Started::AlreadyExists)
                } else {
                    Err(error)
                }
            }
        }
    }
}
