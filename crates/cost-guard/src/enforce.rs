//! Enforcement: stop the project's in-progress SageMaker training, processing and transform jobs. Each job is
//! handled on its own: a failed stop is reported and the rest go on.

use aws_sdk_sagemaker::types::{ProcessingJobStatus, TrainingJobStatus, TransformJobStatus};
use guardrails_core::AwsError;
use serde::Serialize;

/// What happened to one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobAction {
    /// `training`, `processing` or `transform`.
    pub kind: &'static str,
    /// The job name.
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
        for kind in ["training", "processing", "transform"] {
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

    /// (name, ARN) of the in-progress jobs of one kind, all pages.
    async fn in_progress(&self, kind: &'static str) -> Result<Vec<(String, String)>, AwsError> {
        let mut jobs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = match kind {
                "training" => {
                    let out = self
                        .sagemaker
                        .list_training_jobs()
                        .status_equals(TrainingJobStatus::InProgress)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("ListTrainingJobs", "SageMaker", e))?;
                    let page: Vec<(String, String)> = out
                        .training_job_summaries()
                        .iter()
                        .map(|j| {
                            (
                                j.training_job_name().unwrap_or_default().to_owned(),
                                j.training_job_arn().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    (page, out.next_token().map(str::to_owned))
                }
                "processing" => {
                    let out = self
                        .sagemaker
                        .list_processing_jobs()
                        .status_equals(ProcessingJobStatus::InProgress)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("ListProcessingJobs", "SageMaker", e))?;
                    let page = out
                        .processing_job_summaries()
                        .iter()
                        .map(|j| {
                            (
                                j.processing_job_name().unwrap_or_default().to_owned(),
                                j.processing_job_arn().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    (page, out.next_token().map(str::to_owned))
                }
                _ => {
                    let out = self
                        .sagemaker
                        .list_transform_jobs()
                        .status_equals(TransformJobStatus::InProgress)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("ListTransformJobs", "SageMaker", e))?;
                    let page = out
                        .transform_job_summaries()
                        .iter()
                        .map(|j| {
                            (
                                j.transform_job_name().unwrap_or_default().to_owned(),
                                j.transform_job_arn().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    (page, out.next_token().map(str::to_owned))
                }
            };
            jobs.extend(page);
            match next {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(jobs),
            }
        }
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

    async fn stop(&self, kind: &'static str, name: String, dry_run: bool) -> JobAction {
        if dry_run {
            return JobAction {
                kind,
                name,
                outcome: "would stop".to_owned(),
            };
        }
        let result = match kind {
            "training" => self
                .sagemaker
                .stop_training_job()
                .training_job_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("StopTrainingJob", &name, e)),
            "processing" => self
                .sagemaker
                .stop_processing_job()
                .processing_job_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("StopProcessingJob", &name, e)),
            _ => self
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
        tracing::warn!(kind, job = %name, %outcome, "enforcement");
        JobAction {
            kind,
            name,
            outcome,
        }
    }
}
