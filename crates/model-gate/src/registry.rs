//! What the gate reads from SageMaker: the finished training job, the champion package, and a package as it is now.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{S3DataType, TrainingJobStatus};
use guardrails_core::registry::{self, Package};
use guardrails_core::{AwsError, Classify, ErrorClass};

use crate::verdict::Champion;

/// A training job the gate cannot judge.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Still running or stopping: the same request may succeed later.
    #[error("training job {name} is {status}, not Completed")]
    NotFinished {
        /// Job name.
        name: String,
        status: String,
    },
    /// Failed or stopped: there is no model to judge.
    #[error("training job {name} ended {status}: {reason}")]
    Unsuccessful {
        /// Job name.
        name: String,
        status: String,
        /// SageMaker's failure reason.
        reason: String,
    },
    /// Completed without model artifacts.
    #[error("training job {name} completed without model artifacts")]
    NoArtifacts {
        /// Job name.
        name: String,
    },
    /// The SageMaker call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classify for JobError {
    fn class(&self) -> ErrorClass {
        match self {
            JobError::NotFinished { .. } => ErrorClass::Retryable,
            JobError::Unsuccessful { .. } | JobError::NoArtifacts { .. } => {
                ErrorClass::NonRetryable
            }
            JobError::Aws(e) => e.class(),
        }
    }
}

/// A completed training job, as the gate needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedJob {
    /// Job name.
    pub name: String,
    /// Final metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// Where the model is.
    pub model_data_url: String,
    /// Billable training time, or end − start.
    pub training_seconds: Option<f64>,
    /// What made it, as SageMaker describes the job.
    pub facts: JobFacts,
}

/// The parts of a job description its lineage records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFacts {
    /// Job ARN.
    pub arn: Option<String>,
    /// The training image.
    pub image: Option<String>,
    /// Hyperparameters.
    pub hyperparameters: BTreeMap<String, String>,
    /// Instance type.
    pub instance_type: Option<String>,
    /// Instances.
    pub instance_count: Option<i32>,
    /// Managed spot capacity.
    pub spot: bool,
    /// The first channel's source when it is a manifest file (`S3DataType: ManifestFile`).
    pub manifest: Option<String>,
}

impl JobFacts {
    fn of(job: &DescribeTrainingJobOutput) -> Self {
        let source = job
            .input_data_config()
            .first()
            .and_then(|c| c.data_source())
            .and_then(|d| d.s3_data_source());
        let manifest = source
            .filter(|s| s.s3_data_type() == Some(&S3DataType::ManifestFile))
            .and_then(|s| s.s3_uri())
            .map(str::to_owned);
        let resources = job.resource_config();
        JobFacts {
            arn: job.training_job_arn().map(str::to_owned),
            image: job
                .algorithm_specification()
                .and_then(|a| a.training_image())
                .map(str::to_owned),
            hyperparameters: job
                .hyper_parameters()
                .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            instance_type: resources
                .and_then(|r| r.instance_type())
                .map(|t| t.as_str().to_owned()),
            instance_count: resources.and_then(|r| r.instance_count()),
            spot: job.enable_managed_spot_training().unwrap_or(false),
            manifest,
        }
    }
}

/// SageMaker reads: training jobs and the model registry.
#[derive(Debug, Clone)]
pub struct Registry {
    jobs: Client,
    packages: Client,
}

impl Registry {
    /// Reads both through `sagemaker`.
    pub fn new(sagemaker: Client) -> Self {
        Registry {
            jobs: sagemaker.clone(),
            packages: sagemaker,
        }
    }

    /// Reads jobs and packages through different clients: tests take the registry from the emulator and job
    /// states it cannot produce (InProgress, Failed, custom metrics) from a mock.
    pub fn with_clients(jobs: Client, packages: Client) -> Self {
        Registry { jobs, packages }
    }

    /// The job, if it completed.
    ///
    /// # Errors
    /// [`JobError`]: retryable while it runs, not when it failed or is unknown.
    pub async fn finished_job(&self, name: &str) -> Result<FinishedJob, JobError> {
        let job = self
            .jobs
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTrainingJob", name, e))?;
        let status = job.training_job_status();
        match status {
            Some(TrainingJobStatus::Completed) => {}
            Some(TrainingJobStatus::Failed | TrainingJobStatus::Stopped) => {
                return Err(JobError::Unsuccessful {
                    name: name.to_owned(),
                    status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: job.failure_reason().unwrap_or("no reason given").to_owned(),
                });
            }
            other => {
                return Err(JobError::NotFinished {
                    name: name.to_owned(),
                    status: other.map_or("unknown", |s| s.as_str()).to_owned(),
                });
            }
        }
        let metrics = job
            .final_metric_data_list()
            .iter()
            .filter_map(|m| Some((m.metric_name()?.to_owned(), f64::from(m.value()?))))
            .collect();
        let training_seconds = job.training_time_in_seconds().map(f64::from).or_else(|| {
            let (start, end) = (job.training_start_time()?, job.training_end_time()?);
            Some((end.as_secs_f64() - start.as_secs_f64()).max(0.0))
        });
        let model_data_url = job
            .model_artifacts()
            .and_then(|a| a.s3_model_artifacts())
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| JobError::NoArtifacts {
                name: name.to_owned(),
            })?;
        Ok(FinishedJob {
            name: name.to_owned(),
            metrics,
            model_data_url,
            training_seconds,
            facts: JobFacts::of(&job),
        })
    }

    /// The package as the registry describes it now.
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn package(&self, arn: &str) -> Result<Package, AwsError> {
        registry::describe(&self.packages, arn).await
    }

    /// The newest Approved package of `group` with the F1 recorded at its registration under `f1_metric`
    /// (the gate records it in the package's customer metadata).
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn champion(
        &self,
        group: &str,
        f1_metric: &str,
    ) -> Result<Option<Champion>, AwsError> {
        let Some(approved) = registry::newest_approved(&self.packages, group).await? else {
            return Ok(None);
        };
        let f1 = approved
            .metadata
            .get(f1_metric)
            .and_then(|v| v.parse::<f64>().ok());
        Ok(Some(Champion {
            package_arn: approved.arn,
            f1,
        }))
    }
}
