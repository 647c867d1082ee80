//! One trigger → one decision: record new data, read the state machine's history, decide, start.

use chrono::{DateTime, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::domain::{
    DatasetValidated, DomainEvent, RetrainingRequested, envelope_from_value,
};
use guardrails_core::image::{ImageGate, refusal_notice};
use guardrails_core::ledger::Ledger;
use guardrails_core::state::StateStore;
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, Notifier,
    Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Config, STAGE};
use crate::input::{Trigger, execution_input};
use crate::manifest::{ManifestError, Manifests};
use crate::policy::{Decision, SkipReason, TriggerKind, decide};
use crate::workflow::{Started, Workflow};
use guardrails_core::metric::{TRAINING_TRIGGERS, dimension};

/// A manual invocation: `{"reason": "…", "requestId": "…"}`. The request id names the execution, so invoking
/// twice with the same id starts one; without it, the Lambda request id is used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManualRequest {
    /// Why, for the notices and the job's tags.
    pub reason: String,
    /// Idempotency key of the request.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// What happened to a trigger; also the function's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// An execution started.
    Started {
        /// Its name (derived from the trigger).
        execution_name: String,
        /// Its ARN.
        execution_arn: String,
        /// The first training job's name.
        training_job_name: String,
    },
    /// The trigger was handled before.
    Duplicate {
        /// The execution it started.
        execution_name: String,
    },
    /// Not started.
    Skipped {
        #[serde(flatten)]
        reason: SkipReason,
        /// The same, as a sentence.
        message: String,
    },
}

impl Outcome {
    /// The metric dimension value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Started { .. } => "started",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Skipped { reason, .. } => reason.as_str(),
        }
    }
}

/// Why a trigger could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// Neither a known bus event nor a manual request.
    #[error("unrecognised trigger: {0}")]
    Unrecognised(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The execution input could not be serialized (never started with an empty input).
    #[error("cannot serialize the execution input: {0}")]
    Input(#[source] serde_json::Error),
    /// The run's files could not be pinned.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl Classify for TriggerError {
    fn class(&self) -> ErrorClass {
        match self {
            TriggerError::Unrecognised(_) | TriggerError::Input(_) => ErrorClass::NonRetryable,
            TriggerError::Aws(e) => e.class(),
            TriggerError::Manifest(ManifestError::Ledger(e)) => e.class(),
            TriggerError::Manifest(ManifestError::State(e)) => e.class(),
            TriggerError::Manifest(_) => ErrorClass::NonRetryable,
        }
    }
}

/// Reads a trigger from the function's event: `Dataset Validated`, `Retraining Requested`, or a
/// [`ManualRequest`] (`request_id` and `now` stand in for an event's id and time).
///
/// # Errors
/// [`TriggerError::Unrecognised`], saying what was expected.
pub fn parse_trigger(
    event: &Value,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Trigger, TriggerError> {
    let unrecognised = |why: String| TriggerError::Unrecognised(why);
    match event.get("detail-type").and_then(Value::as_str) {
        Some(DatasetValidated::DETAIL_TYPE) => {
            let e = envelope_from_value::<DatasetValidated>(event.clone())
                .map_err(|e| unrecognised(e.to_string()))?;
            let rows = e.detail.rows.unwrap_or(0);
            Ok(Trigger {
                reason: format!("{rows} new valid rows in {}", e.detail.ingested.uri()),
                kind: TriggerKind::NewData {
                    dataset: e.detail.dataset,
                    rows,
                },
                id: e
                    .id
                    .ok_or_else(|| unrecognised("event without an id".to_owned()))?,
                time: e.time.unwrap_or(now),
            })
        }
        Some(RetrainingRequested::DETAIL_TYPE) => {
            let e = envelope_from_value::<RetrainingRequested>(event.clone())
                .map_err(|e| unrecognised(e.to_string()))?;
            Ok(Trigger {
                reason: e.detail.reason,
                kind: TriggerKind::Retraining,
                id: e
                    .id
                    .ok_or_else(|| unrecognised("event without an id".to_owned()))?,
                time: e.time.unwrap_or(now),
            })
        }
        Some(other) => Err(unrecognised(format!(
            "detail-type {other:?}; expected {:?}, {:?} or a manual request",
            DatasetValidated::DETAIL_TYPE,
            RetrainingRequested::DETAIL_TYPE
        ))),
        None => {
            let request: ManualRequest = serde_json::from_value(event.clone()).map_err(|e| {
                unrecognised(format!(
                    "not a bus event, and not a manual request {{\"reason\": …, \"requestId\": …}}: {e}"
                ))
            })?;
            Ok(Trigger {
                kind: TriggerKind::Manual,
                id: request.request_id.unwrap_or_else(|| request_id.to_owned()),
                time: now,
                reason: request.reason,
            })
        }
    }
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct TriggerTraining {
    workflow: Workflow,
    ledger: Ledger,
    manifests: Manifests,
    images: ImageGate,
    notifier: Notifier,
    config: Config,
}

impl Function for TriggerTraining {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = Value;
    type Response = Outcome;
    type Error = TriggerError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// Clients from `sdk`, the state machine, ledger and manifests it is configured with.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let s3 = guardrails_core::aws::s3_client(sdk);
        Ok(TriggerTraining::new(
            Workflow::new(aws_sdk_sfn::Client::new(sdk), &config.state_machine_arn),
            Ledger::new(s3.clone(), &config.state_bucket, &config.ledger_prefix),
            Manifests::new(
                StateStore::new(s3, &config.state_bucket),
                &config.manifest_prefix,
            ),
            ImageGate::from_sdk(sdk, config.image_scan_block),
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            config,
        ))
    }

    async fn invoke(
        &self,
        event: Value,
        invocation: Invocation<'_>,
    ) -> Result<Outcome, TriggerError> {
        self.handle(event, invocation.request_id).await
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Started {
                execution_name,
                training_job_name,
                ..
            } => format!("started execution {execution_name} (training job {training_job_name})"),
            Outcome::Skipped { message, .. } => format!("skipped: {message}"),
            Outcome::Duplicate { execution_name } => {
                format!("duplicate of execution {execution_name}")
            }
        }
    }
}

impl TriggerTraining {
    /// The function over its clients: the image gate reads ECR's scans, the notifier tells of a refused image.
    pub fn new(
        workflow: Workflow,
        ledger: Ledger,
        manifests: Manifests,
        images: ImageGate,
        notifier: Notifier,
        config: Config,
    ) -> Self {
        TriggerTraining {
            workflow,
            ledger,
            manifests,
            images,
            notifier,
            config,
        }
    }

    /// Handles one invocation.
    ///
    /// # Errors
    /// See [`parse_trigger`] and [`TriggerTraining::run`].
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, event: Value, request_id: &str) -> Result<Outcome, TriggerError> {
        let trigger = parse_trigger(&event, request_id, Utc::now())?;
        self.run(&trigger, Utc::now()).await
    }

    /// Decides and, if so, starts the execution named after the trigger. New data is counted from the ledger,
    /// never from the event: the rows an event claims are not trusted (anyone allowed to invoke this function
    /// could claim any number).
    ///
    /// # Errors
    /// A classified S3 or Step Functions error (retrying is safe: every step is idempotent).
    #[tracing::instrument(skip_all)]
    pub async fn run(
        &self,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Outcome, TriggerError> {
        let name = trigger.execution_name();
        let snapshot = self.workflow.snapshot(&name).await?;
        let new_rows = match trigger.kind {
            TriggerKind::NewData { .. } => {
                self.ledger
                    .rows_since(&self.config.policy.dataset, snapshot.last_success_start)
                    .await?
            }
            _ => 0,
        };
        let decision = decide(
            &trigger.kind,
            &snapshot.history,
            new_rows,
            now,
            &self.config.policy,
        );
        let outcome = match decision {
            Decision::Duplicate => Outcome::Duplicate {
                execution_name: name,
            },
            Decision::Skip(reason) => Outcome::Skipped {
                message: reason.to_string(),
                reason,
            },
            Decision::Start => self.start(trigger, name, now).await?,
        };
        metrics::counter!(TRAINING_TRIGGERS.name, dimension::OUTCOME => outcome.as_str())
            .increment(1);
        match &outcome {
            Outcome::Skipped { message, .. } => tracing::info!(
                trigger = trigger.kind.as_str(),
                id = %trigger.id,
                new_rows,
                reason = %message,
                "training not started"
            ),
            other => tracing::info!(
                trigger = trigger.kind.as_str(),
                id = %trigger.id,
                new_rows,
                outcome = ?other,
                "trigger handled"
            ),
        }
        Ok(outcome)
    }
}

impl TriggerTraining {
    /// Checks the images' scans, pins the run's files, then starts the execution on them; a refused image or
    /// nothing to train on is a skip.
    #[tracing::instrument(skip_all)]
    async fn start(
        &self,
        trigger: &Trigger,
        name: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome, TriggerError> {
        let settings = &self.config.training;
        let images = [settings.image.clone(), settings.inference_image.clone()];
        if let Err(refusal) = self.images.check_all(&images).await? {
            let subject = format!("run {name} ({})", trigger.reason);
            self.notifier
                .send(&refusal_notice(
                    "Training",
                    &subject,
                    &refusal,
                    Severity::Warning,
                ))
                .await?;
            let reason = SkipReason::ImageRefused { refusal };
            return Ok(Outcome::Skipped {
                message: reason.to_string(),
                reason,
            });
        }
        let dataset = &self.config.policy.dataset;
        let pinned = self
            .manifests
            .pin(
                &self.ledger,
                &name,
                dataset,
                &self.config.training.data_uri,
                now,
            )
            .await?;
        if pinned.unpinned > 0 {
            tracing::warn!(
                unpinned = pinned.unpinned,
                "ledger entries from before pinning are not in the manifest"
            );
        }
        let files = pinned.pins.entries.len() - pinned.unpinned;
        if files == 0 {
            let reason = SkipReason::NoValidatedData {
                dataset: dataset.clone(),
            };
            return Ok(Outcome::Skipped {
                message: reason.to_string(),
                reason,
            });
        }
        let input = execution_input(trigger, dataset, &self.config.training, &pinned);
        let input_json = serde_json::to_string(&input).map_err(TriggerError::Input)?;
        Ok(match self.workflow.start(&name, input_json).await? {
            Started::New(execution_arn) => Outcome::Started {
                execution_name: name,
                execution_arn,
                training_job_name: input.training.job_name,
            },
            Started::AlreadyExists => Outcome::Duplicate {
                execution_name: name,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixture;

    fn now() -> DateTime<Utc> {
        "2026-11-22T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_outcome_reads_as_what_happened() {
        let started = Outcome::Started {
            execution_name: "new-data-1".into(),
            execution_arn: "arn".into(),
            training_job_name: "tickets-1".into(),
        };
        assert_eq!(
            TriggerTraining::describe(&started),
            "started execution new-data-1 (training job tickets-1)"
        );
        let duplicate = Outcome::Duplicate {
            execution_name: "new-data-1".into(),
        };
        assert_eq!(
            TriggerTraining::describe(&duplicate),
            "duplicate of execution new-data-1"
        );
    }

    #[test]
    fn bus_events_become_triggers() {
        let data = parse_trigger(&fixture("dataset-validated.json"), "req", now()).unwrap();
        assert_eq!(
            data.kind,
            TriggerKind::NewData {
                dataset: "tickets".to_owned(),
                rows: 18
            }
        );
        assert_eq!(data.id, "0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19");
        assert_eq!(
            data.time,
            "2026-11-21T02:14:10Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(
            data.reason.starts_with("18 new valid rows in s3://"),
            "{}",
            data.reason
        );

        let drift = parse_trigger(&fixture("retraining-requested.json"), "req", now()).unwrap();
        assert_eq!(drift.kind, TriggerKind::Retraining);
        assert!(drift.reason.contains("weighted_f1"), "{}", drift.reason);
    }

    #[test]
    fn manual_requests_and_their_ids() {
        let with_id = serde_json::json!({"reason": "relabelled", "requestId": "ticket-42"});
        let t = parse_trigger(&with_id, "lambda-req", now()).unwrap();
        assert_eq!(
            (t.kind, t.id.as_str(), t.time),
            (TriggerKind::Manual, "ticket-42", now())
        );
        let t = parse_trigger(&serde_json::json!({"reason": "x"}), "lambda-req", now()).unwrap();
        assert_eq!(t.id, "lambda-req");
    }

    #[test]
    fn unknown_input_is_refused_and_says_why() {
        let cases = [
            (serde_json::json!({"reasn": "typo"}), "manual request"),
            (serde_json::json!({}), "manual request"),
            (
                serde_json::json!({"detail-type": "Object Created", "source": "aws.s3"}),
                "Object Created",
            ),
            (
                serde_json::json!({"detail-type": "Dataset Validated", "source": "mlops.guardrails", "detail": {}}),
                "Dataset Validated",
            ),
        ];
        for (event, expected) in cases {
            let error = parse_trigger(&event, "r", now()).unwrap_err();
            assert_eq!(error.class(), ErrorClass::NonRetryable);
            assert!(error.to_string().contains(expected), "{event}: {error}");
        }
    }
}
