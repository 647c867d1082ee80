//! What EventBridge delivers, read into [`Incoming`]: the detail type decides the shape, and an event of a type
//! the notifier has no rule for is refused by name (a rule pattern sent it something new).

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use guardrails_core::alarm::{self, AlarmFacts};
use guardrails_core::aws_events::EpochMillis;
use guardrails_core::domain::{DatasetQuarantined, DomainEvent};
use serde::Deserialize;
use serde_json::Value;

/// Something that may deserve a notice.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A CloudWatch alarm changed state.
    Alarm(AlarmFacts),
    /// A SageMaker, Glue or Batch job changed state.
    Job(JobChange),
    /// A Step Functions execution changed status.
    Workflow(WorkflowChange),
    /// A model package's approval changed.
    Package(PackageChange),
    /// A Parameter Store parameter changed.
    Parameter(ParameterChange),
    /// validate-ingest quarantined an upload (its Dataset Quarantined event on the project's bus).
    Quarantined(DatasetQuarantined),
}

/// The service a job ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobService {
    /// A SageMaker training job.
    Training,
    /// A SageMaker processing job.
    Processing,
    /// A SageMaker batch transform job.
    Transform,
    /// A Glue job run.
    Glue,
    /// An AWS Batch job (Batch on Fargate or EC2).
    Batch,
}

impl JobService {
    /// How a person names it.
    pub fn describe(self) -> &'static str {
        match self {
            JobService::Training => "SageMaker training job",
            JobService::Processing => "SageMaker processing job",
            JobService::Transform => "SageMaker transform job",
            JobService::Glue => "Glue job",
            JobService::Batch => "Batch job",
        }
    }

    /// The `JobType` dimension of the job metrics.
    pub fn job_type(self) -> &'static str {
        match self {
            JobService::Training => "training",
            JobService::Processing => "processing",
            JobService::Transform => "transform",
            JobService::Glue => "glue",
            JobService::Batch => "batch",
        }
    }
}

/// A job's state change: SageMaker's `<Kind>JobName`/`<Kind>JobStatus`/`FailureReason`/`Tags` and its start and
/// end times, Glue's `jobName`/`state`/`message` (no times), Batch's `jobName`/`status`/`statusReason`/`tags`/
/// `startedAt`/`stoppedAt`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobChange {
    /// Which service (set from the detail type).
    #[serde(skip, default = "training")]
    pub service: JobService,
    /// The job's name.
    #[serde(
        alias = "TrainingJobName",
        alias = "ProcessingJobName",
        alias = "TransformJobName"
    )]
    #[serde(alias = "jobName")]
    pub name: String,
    /// Its status as the service spells it (`Failed`, `FAILED`, `TIMEOUT` …).
    #[serde(
        alias = "TrainingJobStatus",
        alias = "ProcessingJobStatus",
        alias = "TransformJobStatus"
    )]
    #[serde(alias = "state", alias = "status")]
    pub status: String,
    /// Why it failed.
    #[serde(
        default,
        alias = "FailureReason",
        alias = "message",
        alias = "statusReason"
    )]
    pub reason: Option<String>,
    /// Its tags (SageMaker's events carry them; Glue's do not).
    #[serde(default, alias = "Tags")]
    pub tags: BTreeMap<String, String>,
    /// Glue's run id, Batch's job id.
    #[serde(default, alias = "jobRunId", alias = "jobId")]
    pub run_id: Option<String>,
    /// When it started running (a time that does not read is no time: the notice matters more than the
    /// duration).
    #[serde(
        default,
        deserialize_with = "lenient_millis",
        alias = "TrainingStartTime",
        alias = "ProcessingStartTime",
        alias = "TransformStartTime",
        alias = "startedAt"
    )]
    pub started: Option<EpochMillis>,
    /// When it ended.
    #[serde(
        default,
        deserialize_with = "lenient_millis",
        alias = "TrainingEndTime",
        alias = "ProcessingEndTime",
        alias = "TransformEndTime",
        alias = "stoppedAt"
    )]
    pub ended: Option<EpochMillis>,
}

/// An epoch-milliseconds time, or `None` for anything that does not read as one.
fn lenient_millis<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<EpochMillis>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

impl JobChange {
    /// How long it ran, when the event says (SageMaker's and Batch's do, Glue's do not).
    pub fn seconds(&self) -> Option<f64> {
        let (start, end) = (self.started?.0, self.ended?.0);
        (end >= start).then(|| (end - start) / 1000.0)
    }
}

fn training() -> JobService {
    JobService::Training
}

/// A Step Functions "Execution Status Change".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowChange {
    /// The execution's name.
    pub name: String,
    /// Its ARN.
    pub execution_arn: String,
    /// Its state machine.
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    /// The error name, when the execution failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Its cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// Its output as JSON text, when it succeeded (Step Functions leaves out one above 248 KiB).
    #[serde(default)]
    pub output: Option<String>,
}

/// A "SageMaker Model Package State Change".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageChange {
    /// The package.
    pub model_package_arn: String,
    /// Its group.
    pub model_package_group_name: String,
    /// `Approved`, `Rejected`, `PendingManualApproval`.
    #[serde(default)]
    pub model_approval_status: Option<String>,
}

/// A "Parameter Store Change".
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ParameterChange {
    /// The parameter.
    pub name: String,
    /// `Create`, `Update`, `Delete`, `LabelParameterVersion`.
    pub operation: String,
}

/// An event the notifier cannot read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// No rule of the notifier sends this detail type.
    #[error("the notifier has no notice for {0:?} events")]
    DetailType(String),
    /// The detail lacks what its type promises.
    #[error("{detail_type} detail unreadable: {message}")]
    Detail {
        /// The event's detail type.
        detail_type: String,
        /// The decoder's complaint.
        message: String,
    },
}

/// Reads `event` by its detail type.
///
/// # Errors
/// [`Unreadable`]: an unknown detail type or a detail of the wrong shape.
pub fn read(event: EventBridgeEvent<Value>) -> Result<Incoming, Unreadable> {
    let detail_type = event.detail_type.clone();
    let failed = |e: &dyn std::fmt::Display| Unreadable::Detail {
        detail_type: detail_type.clone(),
        message: e.to_string(),
    };
    let job = |service: JobService, detail: Value| {
        serde_json::from_value::<JobChange>(detail)
            .map(|job| Incoming::Job(JobChange { service, ..job }))
            .map_err(|e| failed(&e))
    };
    match detail_type.as_str() {
        alarm::DETAIL_TYPE => {
            let value = serde_json::to_value(&event).map_err(|e| failed(&e))?;
            let parsed = alarm::parse(value).map_err(|e| failed(&e))?;
            alarm::read(parsed)
                .map(Incoming::Alarm)
                .map_err(|e| failed(&e))
        }
        "SageMaker Training Job State Change" => job(JobService::Training, event.detail),
        "SageMaker Processing Job State Change" => job(JobService::Processing, event.detail),
        "SageMaker Transform Job State Change" => job(JobService::Transform, event.detail),
        "Glue Job State Change" => job(JobService::Glue, event.detail),
        "Batch Job State Change" => job(JobService::Batch, event.detail),
        "Step Functions Execution Status Change" => serde_json::from_value(event.detail)
            .map(Incoming::Workflow)
            .map_err(|e| failed(&e)),
        "SageMaker Model Package State Change" => serde_json::from_value(event.detail)
            .map(Incoming::Package)
            .map_err(|e| failed(&e)),
        "Parameter Store Change" => serde_json::from_value(event.detail)
            .map(Incoming::Parameter)
            .map_err(|e| failed(&e)),
        DatasetQuarantined::DETAIL_TYPE => serde_json::from_value(event.detail)
            .map(Incoming::Quarantined)
            .map_err(|e| failed(&e)),
        _ => Err(Unreadable::DetailType(detail_type)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixture;

    fn event(file: &str) -> EventBridgeEvent<Value> {
        serde_json::from_value(fixture(file)).unwrap()
    }

    #[test]
    fn reads_each_detail_type_it_has_a_rule_for() {
        let Incoming::Job(job) = read(event("sagemaker-training-job-failed.json")).unwrap() else {
            panic!("not a job");
        };
        assert_eq!(job.service, JobService::Training);
        assert_eq!(job.status, "Failed");
        assert!(job.reason.is_some());
        let Incoming::Job(glue) = read(event("glue-job-failed.json")).unwrap() else {
            panic!("not a job");
        };
        assert_eq!(
            (glue.service, glue.status.as_str()),
            (JobService::Glue, "FAILED")
        );
        assert!(glue.run_id.is_some());
        assert_eq!(glue.seconds(), None, "Glue's events carry no times");
        assert_eq!(
            job.seconds(),
            Some(553.574),
            "TrainingEndTime − TrainingStartTime"
        );
        let Incoming::Job(batch) = read(event("batch-job-succeeded.json")).unwrap() else {
            panic!("not a job");
        };
        assert_eq!(
            (batch.service, batch.status.as_str(), batch.seconds()),
            (JobService::Batch, "SUCCEEDED", Some(595.618))
        );
        assert_eq!(batch.tags["project"], "mlops-guardrails");
        assert_eq!(
            batch.run_id.as_deref(),
            Some("4c7a1e9b-3d2f-4a6b-8e5c-1f0d9b8a7c6e")
        );
        assert!(matches!(
            read(event("step-functions-execution-failed.json")).unwrap(),
            Incoming::Workflow(WorkflowChange { ref status, .. }) if status == "FAILED"
        ));
        assert!(matches!(
            read(event("sagemaker-model-package-approved.json")).unwrap(),
            Incoming::Package(_)
        ));
        assert!(matches!(
            read(event("parameter-store-change.json")).unwrap(),
            Incoming::Parameter(_)
        ));
        assert!(matches!(
            read(event("alarm-insufficient-data.json")).unwrap(),
            Incoming::Alarm(_)
        ));
        assert!(matches!(
            read(event("dataset-quarantined.json")).unwrap(),
            Incoming::Quarantined(DatasetQuarantined { ref dataset, .. }) if dataset == "tickets"
        ));
    }

    #[test]
    fn an_unknown_detail_type_or_a_broken_detail_is_refused_by_name() {
        let error = read(event("scheduled-event.json")).unwrap_err();
        assert!(error.to_string().contains("Scheduled Event"), "{error}");
        let mut broken = fixture("sagemaker-training-job-failed.json");
        broken["detail"] = serde_json::json!({"TrainingJobStatus": "Failed"});
        let error = read(serde_json::from_value(broken).unwrap()).unwrap_err();
        assert!(
            error.to_string().contains("missing field `name`"),
            "{error}"
        );
    }
}
