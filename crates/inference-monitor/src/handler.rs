//! One event: a batch's output files → their statistics as EMF metrics; or new training data → the baseline.

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_s3::Client as S3;
use chrono::{DateTime, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::aws_events::{ObjectCreatedDetail, TransformJobStateChange};
use guardrails_core::domain::{DatasetValidated, DomainEvent, SOURCE};
use guardrails_core::s3::decode_notification_key;
use guardrails_core::state::{Change, StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, ObjectRef,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::{Config, STAGE};
use crate::parse::parse_line;
use crate::stats::{Batch, Summary, psi};
use guardrails_core::metric::{
    AVG_CONFIDENCE, BAD_PREDICTIONS, BATCH_SECONDS, LABEL_PSI, LOW_CONFIDENCE_PCT, OTHER_PCT,
    P10_CONFIDENCE, PREDICTIONS, dimension,
};

/// The events the function is wired to, told apart by `detail-type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// S3 "Object Created" in the output bucket.
    OutputFile(ObjectCreatedDetail),
    /// "SageMaker Transform Job State Change".
    TransformJob(TransformJobStateChange),
    /// "Dataset Validated" from the project's bus.
    DatasetValidated {
        /// The event id: the baseline counts each event once.
        id: Option<String>,
        /// The dataset's figures.
        detail: DatasetValidated,
    },
}

impl Trigger {
    /// The typed trigger in `event`.
    ///
    /// # Errors
    /// [`MonitorError::Unrecognised`]: another `detail-type`, a project event from another source, or a detail
    /// of the wrong shape.
    pub fn from_event(event: EventBridgeEvent<Value>) -> Result<Self, MonitorError> {
        let kind = event.detail_type;
        let malformed = |e: serde_json::Error| MonitorError::Unrecognised(format!("{kind}: {e}"));
        match kind.as_str() {
            "Object Created" if event.source == "aws.s3" => serde_json::from_value(event.detail)
                .map(Trigger::OutputFile)
                .map_err(malformed),
            TransformJobStateChange::DETAIL_TYPE if event.source == "aws.sagemaker" => {
                serde_json::from_value(event.detail)
                    .map(Trigger::TransformJob)
                    .map_err(malformed)
            }
            DatasetValidated::DETAIL_TYPE if event.source == SOURCE => {
                serde_json::from_value(event.detail)
                    .map(|detail| Trigger::DatasetValidated {
                        id: event.id,
                        detail,
                    })
                    .map_err(malformed)
            }
            _ => Err(MonitorError::Unrecognised(format!(
                "{kind:?} from {:?}; expected Object Created (aws.s3), {} (aws.sagemaker) or {} ({SOURCE})",
                event.source,
                TransformJobStateChange::DETAIL_TYPE,
                DatasetValidated::DETAIL_TYPE
            ))),
        }
    }
}

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A batch was measured.
    Monitored {
        /// The output files read.
        files: Vec<String>,
        /// The figures.
        summary: Summary,
        /// PSI of the label mix against the training baseline, when there is one.
        label_psi: Option<f64>,
        /// The transform job's duration, when the trigger was its completion.
        batch_seconds: Option<f64>,
    },
    /// The training label histogram grew by a validated dataset.
    BaselineUpdated {
        /// Rows per label now.
        label_counts: BTreeMap<String, u64>,
    },
    /// Nothing to do, and why.
    Ignored { reason: String },
}

/// Why an event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// Not an event this function takes.
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The baseline could not be read or updated (an unreadable one is never replaced silently).
    #[error(transparent)]
    State(#[from] StateError),
    /// Reading an output file failed part-way.
    #[error("reading {uri} failed: {source}")]
    Read {
        uri: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Classify for MonitorError {
    fn class(&self) -> ErrorClass {
        match self {
            MonitorError::Unrecognised(_) => ErrorClass::NonRetryable,
            MonitorError::Aws(e) => e.class(),
            MonitorError::State(e) => e.class(),
            MonitorError::Read { .. } => ErrorClass::Retryable,
        }
    }
}

/// The stored baseline: the training data's rows per label, and the events that built it (so a redelivered
/// Dataset Validated is not counted twice).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// Rows per label.
    pub label_counts: BTreeMap<String, u64>,
    /// The newest event ids added (at most 1,000).
    #[serde(default)]
    pub event_ids: Vec<String>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

const KEPT_EVENT_IDS: usize = 1000;

/// The function: configuration and client, built once per container.
#[derive(Debug)]
pub struct InferenceMonitor {
    s3: S3,
    state: StateStore,
    config: Config,
}

impl Function for InferenceMonitor {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent<Value>;
    type Response = Outcome;
    type Error = MonitorError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// S3 through a client from `sdk`.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        Ok(InferenceMonitor::new(
            guardrails_core::aws::s3_client(sdk),
            config,
        ))
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent<Value>,
        _: Invocation<'_>,
    ) -> Result<Outcome, MonitorError> {
        self.handle(event).await
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::BaselineUpdated { label_counts } => {
                format!("label baseline now {}", json!(label_counts))
            }
            Outcome::Ignored { reason } => format!("ignored: {reason}"),
            Outcome::Monitored {
                files,
                summary,
                label_psi,
                ..
            } => format!(
                "{} prediction(s) in {} file(s), label PSI {}",
                summary.predictions,
                files.len(),
                label_psi.map_or_else(
                    || "not computed (no baseline)".to_owned(),
                    |psi| format!("{psi:.3}")
                )
            ),
        }
    }
}

impl InferenceMonitor {
    /// The function over its client (output files and the state bucket alike).
    pub fn new(s3: S3, config: Config) -> Self {
        let state = StateStore::new(s3.clone(), &config.state_bucket);
        InferenceMonitor { s3, state, config }
    }

    /// Handles one EventBridge event: S3 "Object Created" of an output file, "SageMaker Transform Job State
    /// Change" (Completed: every output file of the job, with its duration), or "Dataset Validated" (baseline).
    ///
    /// # Errors
    /// [`MonitorError`], classified.
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<Outcome, MonitorError> {
        match Trigger::from_event(event)? {
            Trigger::OutputFile(detail) => self.output_file(detail).await,
            Trigger::TransformJob(detail) => self.transform_job(detail).await,
            Trigger::DatasetValidated { id, detail } => {
                self.dataset_validated(id.unwrap_or_default(), detail).await
            }
        }
    }

    /// One output file: measured alone, if it is an output file.
    async fn output_file(&self, detail: ObjectCreatedDetail) -> Result<Outcome, MonitorError> {
        let key = decode_notification_key(&detail.object.key)
            .map_err(|e| MonitorError::Unrecognised(e.to_string()))?;
        if !key.ends_with(&self.config.output_suffix) {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "{key} is not an output file (*{})",
                    self.config.output_suffix
                ),
            });
        }
        self.monitor(vec![ObjectRef::new(detail.bucket.name, key)], None)
            .await
    }

    /// A completed transform job: every output file under its output path, as one batch with its duration.
    async fn transform_job(&self, job: TransformJobStateChange) -> Result<Outcome, MonitorError> {
        if job.transform_job_status != "Completed" {
            return Ok(Outcome::Ignored {
                reason: format!("transform job status {}", job.transform_job_status),
            });
        }
        let output = job.transform_output.as_ref().ok_or_else(|| {
            MonitorError::Unrecognised(
                "transform job event without TransformOutput.S3OutputPath".into(),
            )
        })?;
        let files = self.output_files(&output.s3_output_path).await?;
        if files.is_empty() {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "no *{} file under {}",
                    self.config.output_suffix, output.s3_output_path
                ),
            });
        }
        self.monitor(files, job.seconds()).await
    }

    /// A validated dataset of the monitored training data: its labels join the baseline.
    async fn dataset_validated(
        &self,
        id: String,
        detail: DatasetValidated,
    ) -> Result<Outcome, MonitorError> {
        if detail.dataset != self.config.dataset || detail.label_counts.is_empty() {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "dataset {} is not the baseline's, or has no labels",
                    detail.dataset
                ),
            });
        }
        self.add_to_baseline(id, &detail.label_counts).await
    }

    /// Reads every file into one batch, then emits its metrics.
    async fn monitor(
        &self,
        files: Vec<ObjectRef>,
        batch_seconds: Option<f64>,
    ) -> Result<Outcome, MonitorError> {
        let mut batch = Batch::new(self.config.low_confidence, &self.config.other_label);
        for file in &files {
            self.read_into(file, &mut batch).await?;
        }
        let summary = batch.summary();
        let baseline = self.baseline().await?;
        let label_psi = baseline.and_then(|b| psi(&b.label_counts, &summary.label_counts));
        if label_psi.is_none() {
            tracing::warn!("no training baseline yet: LabelPSI not computed");
        }

        let model = self.config.model.clone();
        for (metric, value) in [
            AVG_CONFIDENCE,
            P10_CONFIDENCE,
            LOW_CONFIDENCE_PCT,
            OTHER_PCT,
            LABEL_PSI,
            BATCH_SECONDS,
        ]
        .into_iter()
        .zip([
            summary.avg_confidence,
            summary.p10_confidence,
            summary.low_confidence_pct,
            summary.other_pct,
            label_psi,
            batch_seconds,
        ]) {
            if let Some(v) = value {
                metrics::gauge!(metric.name, dimension::MODEL => model.clone()).set(v);
            }
        }
        metrics::counter!(PREDICTIONS.name, dimension::MODEL => model.clone())
            .increment(summary.predictions);
        let bad: u64 = summary.defects.values().sum();
        metrics::counter!(BAD_PREDICTIONS.name, dimension::MODEL => model).increment(bad);
        tracing::info!(files = files.len(), summary = %json!(summary), label_psi, batch_seconds, "batch monitored");
        Ok(Outcome::Monitored {
            files: files.iter().map(ObjectRef::uri).collect(),
            summary,
            label_psi,
            batch_seconds,
        })
    }

    /// Streams one JSON Lines file, line by line.
    async fn read_into(&self, file: &ObjectRef, batch: &mut Batch) -> Result<(), MonitorError> {
        let object = self
            .s3
            .get_object()
            .bucket(&file.bucket)
            .key(&file.key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", file.uri(), e))?;
        let mut reader = BufReader::new(object.body.into_async_read());
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .await
                .map_err(|source| MonitorError::Read {
                    uri: file.uri(),
                    source,
                })?;
            if read == 0 {
                return Ok(());
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_line(&line, &self.config.fields) {
                Ok(prediction) => batch.add(prediction),
                Err(defect) => batch.defect(defect),
            }
        }
    }

    /// The output files under an `s3://bucket/prefix`.
    async fn output_files(&self, uri: &str) -> Result<Vec<ObjectRef>, MonitorError> {
        let (bucket, prefix) = uri
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
            .ok_or_else(|| {
                MonitorError::Unrecognised(format!("output path {uri:?} is not s3://bucket/prefix"))
            })?;
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut files = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", uri, e))?;
            files.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with(&self.config.output_suffix))
                    .map(|k| ObjectRef::new(bucket, k)),
            );
        }
        Ok(files)
    }

    /// The baseline, `None` before the first validated dataset. An unreadable one is an error.
    async fn baseline(&self) -> Result<Option<Baseline>, MonitorError> {
        let stored = self
            .state
            .read::<Baseline>(&self.config.baseline_key)
            .await?;
        Ok(stored.map(|s| s.value))
    }

    /// Adds a validated dataset's label counts to the baseline, once per event. A conditional write: two
    /// concurrent updates are both counted, one after the other.
    async fn add_to_baseline(
        &self,
        event_id: String,
        counts: &BTreeMap<String, u64>,
    ) -> Result<Outcome, MonitorError> {
        let mut counted_before = false;
        let now = Utc::now();
        let baseline = self
            .state
            .update::<Baseline, _>(&self.config.baseline_key, |current| {
                match add_counts(current, &event_id, counts, now) {
                    Some(next) => Change::Write(next),
                    None => {
                        counted_before = true;
                        Change::Keep
                    }
                }
            })
            .await?
            .unwrap_or_default();
        if counted_before {
            return Ok(Outcome::Ignored {
                reason: format!("event {event_id} is already in the baseline"),
            });
        }
        Ok(Outcome::BaselineUpdated {
            label_counts: baseline.label_counts,
        })
    }
}

/// The baseline with `counts` added for `event_id`, or `None` when that event was added before.
fn add_counts(
    current: Option<&Baseline>,
    event_id: &str,
    counts: &BTreeMap<String, u64>,
    now: DateTime<Utc>,
) -> Option<Baseline> {
    let mut baseline = current.cloned().unwrap_or_default();
    if !event_id.is_empty() && baseline.event_ids.iter().any(|id| id == event_id) {
        return None;
    }
    for (label, n) in counts {
        let count = baseline.label_counts.entry(label.clone()).or_default();
        *count = count.saturating_add(*n);
    }
    baseline.event_ids.push(event_id.to_owned());
    let excess = baseline.event_ids.len().saturating_sub(KEPT_EVENT_IDS);
    baseline.event_ids.drain(..excess);
    baseline.updated_at = Some(now);
    Some(baseline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixture;

    fn trigger(sample: &str, change: impl FnOnce(&mut Value)) -> Result<Trigger, MonitorError> {
        let mut event = fixture(sample);
        change(&mut event);
        Trigger::from_event(serde_json::from_value(event).unwrap())
    }

    #[test]
    fn each_wired_event_is_its_trigger_and_nothing_else_is() {
        let same = |_: &mut Value| {};
        assert!(matches!(
            trigger("eventbridge-s3-object-created.json", same),
            Ok(Trigger::OutputFile(_))
        ));
        assert!(matches!(
            trigger("sagemaker-transform-job-completed.json", same),
            Ok(Trigger::TransformJob(job)) if job.seconds() == Some(663.0)
        ));
        assert!(matches!(
            trigger("dataset-validated.json", same),
            Ok(Trigger::DatasetValidated { id: Some(_), .. })
        ));
        type Change = fn(&mut Value);
        let refused: [(&str, Change); 3] = [
            // A "Dataset Validated" from anyone but the guardrails counts nothing.
            ("dataset-validated.json", |e| {
                e["source"] = "someone.else".into()
            }),
            ("scheduled-event.json", |_| {}),
            ("sagemaker-transform-job-completed.json", |e| {
                e["detail"]["TransformJobStatus"] = 7.into()
            }),
        ];
        for (sample, change) in refused {
            let result = trigger(sample, change);
            assert!(
                matches!(result, Err(MonitorError::Unrecognised(_))),
                "{sample}: {result:?}"
            );
        }
    }
}
