//! One upload: batch input → a transform job with the serving model, or a refusal with a notice.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sagemaker::types::{
    AssemblyType, BatchStrategy, DataProcessing, JoinSource, S3DataType, SplitType, Tag,
    TransformDataSource, TransformInput, TransformInstanceType, TransformOutput,
    TransformResources, TransformS3DataSource,
};
use guardrails_core::aws::SdkConfig;
use guardrails_core::aws_events::ObjectCreatedDetail;
use guardrails_core::domain::package_version;
use guardrails_core::metric::{BATCH_JOBS, dimension};
use guardrails_core::registry;
use guardrails_core::s3::decode_notification_key;
use guardrails_core::serving::{Serving, ServingRecord};
use guardrails_core::state::{StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, Notice,
    NoticeKind, Notifier, Severity,
};
use serde::Serialize;
use serde_json::json;

use crate::config::{Config, STAGE};
use crate::decide::{self, Launch, job_name, not_input};

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A job runs the serving model on the upload.
    Started {
        /// The job.
        job: String,
        /// The model it runs.
        model: String,
        /// The version it serves.
        package: String,
    },
    /// The upload's job was started before (a redelivery).
    AlreadyStarted {
        /// The job.
        job: String,
    },
    /// The upload waits, and a notice says why.
    Refused {
        /// The upload.
        input: String,
        /// Why.
        reason: String,
    },
    /// Not batch input.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why an upload could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The event names a key that does not decode.
    #[error("unreadable key: {0}")]
    Key(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The serving record could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Classify for LaunchError {
    fn class(&self) -> ErrorClass {
        match self {
            LaunchError::Key(_) => ErrorClass::NonRetryable,
            LaunchError::Aws(e) => e.class(),
            LaunchError::State(e) => e.class(),
        }
    }
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct BatchLauncher {
    sagemaker: aws_sdk_sagemaker::Client,
    serving: Serving,
    notifier: Notifier,
    config: Config,
}

impl Function for BatchLauncher {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent<ObjectCreatedDetail>;
    type Response = Outcome;
    type Error = LaunchError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let state = StateStore::new(guardrails_core::aws::s3_client(sdk), &config.state_bucket);
        Ok(BatchLauncher {
            sagemaker: aws_sdk_sagemaker::Client::new(sdk),
            serving: Serving::new(state),
            notifier: Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            config,
        })
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent<ObjectCreatedDetail>,
        _: Invocation<'_>,
    ) -> Result<Outcome, LaunchError> {
        let outcome = self.handle(event.detail).await?;
        let result = match &outcome {
            Outcome::Started { .. } => Some("started"),
            Outcome::Refused { .. } => Some("refused"),
            Outcome::AlreadyStarted { .. } | Outcome::Ignored { .. } => None,
        };
        if let Some(result) = result {
            metrics::counter!(BATCH_JOBS.name, dimension::RESULT => result).increment(1);
        }
        Ok(outcome)
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Started {
                job,
                model,
                package,
            } => format!("started {job} with {model} ({})", package_version(package)),
            Outcome::AlreadyStarted { job } => format!("{job} started before"),
            Outcome::Refused { input, reason } => format!("refused {input}: {reason}"),
            Outcome::Ignored { reason } => format!("ignored: {reason}"),
        }
    }
}

impl BatchLauncher {
    /// Handles one upload: batch input starts a job with the serving model, while that version is Approved.
    ///
    /// # Errors
    /// [`LaunchError`], classified.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, upload: ObjectCreatedDetail) -> Result<Outcome, LaunchError> {
        let bucket = upload.bucket.name;
        let key = decode_notification_key(&upload.object.key)
            .map_err(|e| LaunchError::Key(e.to_string()))?;
        if let Some(reason) = not_input(&key, upload.object.size, &self.config.input_prefix) {
            return Ok(Outcome::Ignored { reason });
        }
        let input = format!("s3://{bucket}/{key}");
        let group = &self.config.model_package_group;
        let current = self.serving.current(group).await?;
        let status = match &current {
            Some(c) => Some(
                registry::describe(&self.sagemaker, &c.package_arn)
                    .await?
                    .status,
            ),
            None => None,
        };
        let serving = current
            .as_ref()
            .zip(status.as_deref())
            .map(|(c, status)| decide::Serving {
                package: &c.package_arn,
                status,
            });
        match (decide::judge(serving), current) {
            (Launch::Start, Some(current)) => {
                let version = upload
                    .object
                    .version_id
                    .as_deref()
                    .or(upload.object.etag.as_deref());
                let job = job_name(&self.config.project, &key, version);
                self.start(&job, &input, &current).await
            }
            (Launch::Refuse(reason), _) => self.refuse(input, reason).await,
            // judge refuses when nothing serves: kept for the compiler, said the same way.
            (Launch::Start, None) => self.refuse(input, "nothing serves".to_owned()).await,
        }
    }

    /// Starts `job` on `input` with the serving model; a job of that name means a redelivery.
    #[tracing::instrument(skip_all)]
    async fn start(
        &self,
        job: &str,
        input: &str,
        serving: &ServingRecord,
    ) -> Result<Outcome, LaunchError> {
        // A redelivered upload finds its job. Any other failure of this read falls through to CreateTransformJob,
        // which refuses a name in use itself.
        if self
            .sagemaker
            .describe_transform_job()
            .transform_job_name(job)
            .send()
            .await
            .is_ok()
        {
            return Ok(Outcome::AlreadyStarted {
                job: job.to_owned(),
            });
        }
        let config = &self.config;
        // S3Prefix on the exact key: SageMaker has no single-object source besides a manifest, so a key that
        // extends this one (a.jsonl and a.jsonl.bak) is read too; upload each batch under its own name.
        let source = TransformS3DataSource::builder()
            .s3_data_type(S3DataType::S3Prefix)
            .s3_uri(input)
            .build();
        let transform_input = TransformInput::builder()
            .data_source(
                TransformDataSource::builder()
                    .s3_data_source(source)
                    .build(),
            )
            .content_type(&config.content_type)
            .split_type(SplitType::Line)
            .build();
        let output = TransformOutput::builder()
            .s3_output_path(format!("{}{job}/", config.output_uri))
            .accept(&config.content_type)
            .assemble_with(AssemblyType::Line)
            .set_kms_key_id(config.kms_key_id.clone())
            .build();
        let resources = TransformResources::builder()
            .instance_type(TransformInstanceType::from(config.instance_type.as_str()))
            .instance_count(config.instance_count)
            .set_volume_kms_key_id(config.kms_key_id.clone())
            .build();
        // Each output line is its input line with the prediction under SageMakerOutput: text, record id and
        // prediction read together by the monitor.
        let joined = DataProcessing::builder()
            .input_filter("$")
            .join_source(JoinSource::Input)
            .output_filter("$")
            .build();
        let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
        let created = self
            .sagemaker
            .create_transform_job()
            .transform_job_name(job)
            .model_name(&serving.model_name)
            .batch_strategy(BatchStrategy::MultiRecord)
            .transform_input(transform_input)
            .transform_output(output)
            .transform_resources(resources)
            .data_processing(joined)
            .tags(tag("project", &config.project))
            .tags(tag("model-package", package_version(&serving.package_arn)))
            .send()
            .await;
        if let Err(e) = created {
            let error = AwsError::from_sdk("CreateTransformJob", job, e);
            let message = error.to_string();
            // A redelivered upload: its job (named after it) exists.
            if message.contains("already exist") || message.contains("must be unique") {
                return Ok(Outcome::AlreadyStarted {
                    job: job.to_owned(),
                });
            }
            return Err(error.into());
        }
        tracing::info!(%job, model = %serving.model_name, package = %serving.package_arn, %input, "batch job started");
        Ok(Outcome::Started {
            job: job.to_owned(),
            model: serving.model_name.clone(),
            package: serving.package_arn.clone(),
        })
    }

    /// The input waits, and a notice says why.
    #[tracing::instrument(skip_all)]
    async fn refuse(&self, input: String, reason: String) -> Result<Outcome, LaunchError> {
        tracing::warn!(%input, %reason, "batch input not run");
        let notice = Notice {
            severity: Severity::Warning,
            kind: NoticeKind::BatchRefused,
            title: "Batch input not run".to_owned(),
            body: format!(
                "{input} was uploaded as batch input but no job was started: {reason}.\n\nOnce a version serves \
                 (Releases runbook), upload the file again under a new name to run it."
            ),
            details: json!({"input": input, "reason": reason}),
        };
        self.notifier.send(&notice).await?;
        Ok(Outcome::Refused { input, reason })
    }
}
