//! Enforcement: stop the project's in-progress SageMaker training, processing and transform jobs. Each job is
//! handled on its own: a failed stop is reported and the rest go on.

use aws_sdk_sagemaker::types::{ProcessingJobStatus, TrainingJobStatus, TransformJobStatus};
use std::fmt;

use guardrails_core::AwsError;
use serde::Serialize;

/// The kinds of SageMaker job enforcement stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Training jobs.
    Training,
    /// Processing jobs.
    Processing,
    /// Batch transform jobs.
    Transform,
}

impl JobKind {
    /// Every kind, in the order they are stopped.
    pub const ALL: [JobKind; 3] = [JobKind::Training, JobKind::Processing, JobKind::Transform];

    /// `training`, `processing` or `transform`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Training => "training",
            JobKind::Processing => "processing",
            JobKind::Transform => "transform",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobAction {
    /// The kind of job.
    pub kind: JobKind,
    pub name: String,
    /// `stopped`, `would stop` (dry run) or `failed: …`.
    pub outcome: String,
}

/// Stops jobs carrying the project's tag.
#[derive(Debug, Clone)]
pub struct Enforcer {
    sagemaker: aws_sdk_sagemaker::Client,
    tag_key: String,
    tag_value: String,
}

impl Enforcer {
    /// Jobs tagged `tag_key=tag_value` are the project's.
    pub fn new(sagemaker: aws_sdk_sagemaker::Client, tag_key: String, tag_value: String) -> Self {
        Enforcer {
            sagemaker,
            tag_key,
            tag_value,
        }
    }

    /// Stops (or, in a dry run, lists) every in-progress job of the project. Listing failures and stop
    /// failures are reported as actions; they never end the run.
    pub async fn stop_project_jobs(&self, dry_run: bool) -> Vec<JobAction> {
        let mut actions = Vec::new();
        for kind in JobKind::ALL {
            match self.in_progress(kind).await {
                Ok(jobs) => {
                    for (name, arn) in jobs {
                        match self.is_project_job(&arn).await {
                            Ok(true) => actions.push(self.stop(kind, name, dry_run).await),
                            Ok(false) => {}
                            Err(e) => actions.push(JobAction {
                                kind,
                                name,
                                outcome: format!("failed: {e}"),
                            }),
                        }
                    }
                }
                Err(e) => actions.push(JobAction {
                    kind,
                    name: "(listing)".to_owned(),
                    outcome: format!("failed: {e}"),
                }),
            }
        }
        actions
    }

    /// (name, ARN) of the in-progress jobs of one kind, every page (the SDK's paginators).
    async fn in_progress(&self, kind: JobKind) -> Result<Vec<(String, String)>, AwsError> {
        let mut jobs = Vec::new();
        match kind {
            JobKind::Training => {
                let mut items = self
                    .sagemaker
                    .list_training_jobs()
                    .status_equals(TrainingJobStatus::InProgress)
                    .into_paginator()
                    .items()
                    .send();
                while let Some(job) = items.next().await {
                    let job =
                        job.map_err(|e| AwsError::from_sdk("ListTrainingJobs", "SageMaker", e))?;
                    jobs.push(named(job.training_job_name(), job.training_job_arn()));
                }
            }
            JobKind::Processing => {
                let mut items = self
                    .sagemaker
                    .list_processing_jobs()
                    .status_equals(ProcessingJobStatus::InProgress)
                    .into_paginator()
                    .items()
                    .send();
                while let Some(job) = items.next().await {
                    let job =
                        job.map_err(|e| AwsError::from_sdk("ListProcessingJobs", "SageMaker", e))?;
                    jobs.push(named(job.processing_job_name(), job.processing_job_arn()));
                }
            }
            JobKind::Transform => {
                let mut items = self
                    .sagemaker
                    .list_transform_jobs()
                    .status_equals(TransformJobStatus::InProgress)
                    .into_paginator()
                    .items()
                    .send();
                while let Some(job) = items.next().await {
                    let job =
                        job.map_err(|e| AwsError::from_sdk("ListTransformJobs", "SageMaker", e))?;
                    jobs.push(named(job.transform_job_name(), job.transform_job_arn()));
                }
            }
        }
        Ok(jobs)
    }

    async fn is_project_job(&self, arn: &str) -> Result<bool, AwsError> {
        let tags = self
            .sagemaker
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTags", arn, e))?;
        Ok(tags.tags().iter().any(|t| {
            t.key() == Some(self.tag_key.as_str()) && t.value() == Some(self.tag_value.as_str())
        }))
    }

    async fn stop(&self, kind: JobKind, name: String, dry_run: bool) -> JobAction {
        if dry_run {
            return JobAction {
                kind,
                name,
                outcome: "would stop".to_owned(),
            };
        }
        let result = match kind {
            JobKind::Training => self
                .sagemaker
                .stop_training_job()
                .training_job_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("StopTrainingJob", &name, e)),
            JobKind::Processing => self
                .sagemaker
                .stop_processing_job()
                .processing_job_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("StopProcessingJob", &name, e)),
            JobKind::Transform => self
                .sagemaker
                .stop_transform_job()
                .transform_job_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("StopTransformJob", &name, e)),
        };
        let outcome = match result {
            Ok(()) => "stopped".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        tracing::warn!(kind = kind.as_str(), job = %name, %outcome, "enforcement");
        JobAction {
            kind,
            name,
            outcome,
        }
    }
}

/// A job's (name, ARN) from a summary's optional fields.
fn named(name: Option<&str>, arn: Option<&str>) -> (String, String) {
    (
        name.unwrap_or_default().to_owned(),
        arn.unwrap_or_default().to_owned(),
    )
}
