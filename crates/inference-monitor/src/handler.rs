//! One event: a batch's output files → their statistics as EMF metrics, the label mix compared with the baseline
//! of the model version that serves.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_s3::Client as S3;
use aws_sdk_sagemaker::Client as SageMaker;
use aws_sdk_sfn::Client as Sfn;
use chrono::{DateTime, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::aws_events::{ObjectCreatedDetail, TransformJobStateChange};
use guardrails_core::baseline::{Baseline, BaselineError, Baselines};
use guardrails_core::lineage::{self, Lineage, LineageError};
use guardrails_core::registry::{self, Package};
use guardrails_core::s3::decode_notification_key;
use guardrails_core::state::StateStore;
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, ObjectRef,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::{Config, STAGE};
use dataset_check::profile::Profile;
use guardrails_core::metric::{
    AVG_CONFIDENCE, BAD_PREDICTIONS, BATCH_SECONDS, LABEL_PSI, LOW_CONFIDENCE_PCT, OTHER_PCT,
    P10_CONFIDENCE, PREDICTIONS, dimension,
};
use guardrails_core::s3::{self, Line};
use text_monitor::batch::{Summary, psi};
use text_monitor::monitor::{Monitor, Settings};

use crate::fanout::Task;

/// The tag batch-launcher puts on each transform job: the model package (`group/version`) that runs it.
const MODEL_PACKAGE_TAG: &str = "model-package";
use crate::hourly::FilesRead;
use crate::window::{Gauge, drift_gauges};

/// What the function is invoked with: an EventBridge event, or a task of the fan-out state machine (told apart
/// by its `task` field, which no EventBridge event has).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// A task of `infra/statemachine/monitor-hour.asl.json`.
    Task(Task),
    /// An event of the rules that target the function (boxed: it is ten times a task's size).
    Event(Box<EventBridgeEvent<Value>>),
}

/// The events the function is wired to, told apart by `detail-type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// S3 "Object Created" in the output bucket.
    OutputFile(ObjectCreatedDetail),
    /// "SageMaker Transform Job State Change".
    TransformJob(TransformJobStateChange),
    /// The hourly schedule's "Scheduled Event", at the time it was due.
    Schedule(DateTime<Utc>),
}

impl Trigger {
    /// The typed trigger in `event`.
    ///
    /// # Errors
    /// [`MonitorError::Unrecognised`]: another `detail-type` or source, or a detail of the wrong shape.
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
            "Scheduled Event" if event.source == "aws.events" => event
                .time
                .map(Trigger::Schedule)
                .ok_or_else(|| MonitorError::Unrecognised(format!("{kind} without a time"))),
            _ => Err(MonitorError::Unrecognised(format!(
                "{kind:?} from {:?}; expected Object Created (aws.s3), {} (aws.sagemaker) or Scheduled Event (aws.events)",
                event.source,
                TransformJobStateChange::DETAIL_TYPE,
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
        /// PSI of the label mix against the serving version's baseline, when there is one.
        label_psi: Option<f64>,
        /// The input-drift checks the batch's texts breached (texts are read from output joined with its input,
        /// and judged with at least `MIN_TEXTS` of them against a baseline).
        input_drift: Vec<String>,
        /// The serving model package whose baseline the batch was compared with.
        baseline_of: Option<String>,
        /// The transform job's duration, when the trigger was its completion.
        batch_seconds: Option<f64>,
    },
    /// An hour of real-time capture was judged, with the ground truth of its label window.
    Judged {
        /// The hour's start.
        hour: DateTime<Utc>,
        /// Where its report is, in the state bucket.
        report: String,
        /// The serving model package judged.
        serving: String,
        /// What breached (drift checks, `model-quality`, `bias`).
        violations: Vec<String>,
        /// The report's one line.
        verdict: String,
    },
    /// An hour too large for one invocation was planned in parts and handed to the fan-out state machine.
    FannedOut {
        /// The hour's start.
        hour: DateTime<Utc>,
        /// How many parts it is read in.
        parts: usize,
        /// The execution reading them.
        execution: String,
    },
    /// One part of a fanned-out hour was read and its statistics stored.
    PartRead {
        /// The hour's start.
        hour: DateTime<Utc>,
        /// The part.
        part: usize,
        /// What was read.
        files: FilesRead,
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
    /// The serving version's baseline is missing, altered or unreadable.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// The serving version's lineage record is missing, altered, or of another model.
    #[error(transparent)]
    Lineage(#[from] LineageError),
    /// Reading an output file failed.
    #[error(transparent)]
    Read(#[from] s3::ReadError),
    /// Reading or writing the state bucket (an hour's report) failed.
    #[error(transparent)]
    State(#[from] guardrails_core::state::StateError),
    /// A fanned-out hour cannot be read or judged as planned (no plan, a part missing, another version serving).
    #[error("fan-out: {0}")]
    FanOut(String),
    /// Another invocation is doing the same step right now: retried.
    #[error("contended: {0}")]
    Contended(String),
}

impl Classify for MonitorError {
    fn class(&self) -> ErrorClass {
        match self {
            MonitorError::Unrecognised(_) | MonitorError::FanOut(_) => ErrorClass::NonRetryable,
            MonitorError::Contended(_) => ErrorClass::Retryable,
            MonitorError::Aws(e) => e.class(),
            MonitorError::Baseline(e) => e.class(),
            MonitorError::Lineage(e) => e.class(),
            MonitorError::Read(e) => e.class(),
            MonitorError::State(e) => e.class(),
        }
    }
}

/// The function: configuration and client, built once per container.
#[derive(Debug)]
pub struct InferenceMonitor {
    pub(crate) s3: S3,
    sagemaker: SageMaker,
    /// Starts the fan-out state machine.
    pub(crate) sfn: Sfn,
    lineage: Lineage,
    baselines: Baselines,
    /// The state bucket: the hours' reports.
    pub(crate) state: StateStore,
    /// The last serving version verified, and what it was verified for.
    verified: Mutex<Option<(VerifiedKey, Serving)>>,
    pub(crate) config: Config,
}

/// What a verified baseline was verified for: the package, its lineage record's digest, the models and images it serves.
type VerifiedKey = (String, String, Vec<String>, Vec<String>);

impl Function for InferenceMonitor {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = Input;
    type Response = Outcome;
    type Error = MonitorError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// S3, the model registry and the lineage key through clients from `sdk`.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let s3 = guardrails_core::aws::s3_client(sdk);
        let lineage = Lineage::from_sdk(
            sdk,
            StateStore::new(s3.clone(), &config.state_bucket),
            &config.lineage_key_id,
            &config.lineage_prefix,
        );
        Ok(InferenceMonitor::new(
            s3,
            SageMaker::new(sdk),
            Sfn::new(sdk),
            lineage,
            config,
        ))
    }

    async fn invoke(&self, input: Input, _: Invocation<'_>) -> Result<Outcome, MonitorError> {
        match input {
            Input::Event(event) => self.handle(*event).await,
            Input::Task(task) => self.task(task).await,
        }
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Ignored { reason } => format!("ignored: {reason}"),
            Outcome::Judged { hour, verdict, .. } => format!("hour {hour}: {verdict}"),
            Outcome::FannedOut {
                hour,
                parts,
                execution,
            } => format!("hour {hour}: read in {parts} part(s) by {execution}"),
            Outcome::PartRead { hour, part, files } => format!(
                "hour {hour}, part {part}: {} capture file(s), {} byte(s)",
                files.capture, files.bytes
            ),
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
    /// The function over its clients: S3 (output files and the state bucket alike), the model registry, and the
    /// lineage store that vouches for each version's baseline.
    pub fn new(s3: S3, sagemaker: SageMaker, sfn: Sfn, lineage: Lineage, config: Config) -> Self {
        let state = StateStore::new(s3.clone(), &config.state_bucket);
        InferenceMonitor {
            baselines: Baselines::new(state.clone()),
            state,
            s3,
            sagemaker,
            sfn,
            lineage,
            verified: Mutex::new(None),
            config,
        }
    }

    /// Handles one EventBridge event: S3 "Object Created" of an output file, or "SageMaker Transform Job State
    /// Change" (Completed: every output file of the job, with its duration).
    ///
    /// # Errors
    /// [`MonitorError`], classified.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<Outcome, MonitorError> {
        let time = event.time.unwrap_or_else(Utc::now);
        match Trigger::from_event(event)? {
            Trigger::OutputFile(detail) => self.uploaded(detail, time).await,
            Trigger::TransformJob(detail) => self.transform_job(detail).await,
            Trigger::Schedule(time) => self.hourly(time).await,
        }
    }

    /// One uploaded file: ground truth in batch serving, joined with the kept answers; an output file, measured
    /// alone.
    #[tracing::instrument(skip_all)]
    async fn uploaded(
        &self,
        detail: ObjectCreatedDetail,
        time: DateTime<Utc>,
    ) -> Result<Outcome, MonitorError> {
        let key = decode_notification_key(&detail.object.key)
            .map_err(|e| MonitorError::Unrecognised(e.to_string()))?;
        let version = detail
            .object
            .version_id
            .or(detail.object.etag)
            .unwrap_or_default();
        let object = ObjectRef::new(detail.bucket.name, key);
        if let Some(truth) = &self.config.batch_truth
            && object.bucket == truth.ground_truth.bucket
            && object.key.starts_with(&truth.ground_truth.key)
        {
            return self.batch_truth(truth, object, &version, time).await;
        }
        let key = object.key;
        if !key.ends_with(&self.config.output_suffix) {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "{key} is not an output file (*{})",
                    self.config.output_suffix
                ),
            });
        }
        self.monitor(vec![ObjectRef::new(object.bucket, key)], None, None)
            .await
    }

    /// A completed transform job: every output file under its output path, as one batch with its duration.
    #[tracing::instrument(skip_all)]
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
        let ended = job
            .transform_end_time
            .and_then(|t| DateTime::from_timestamp_millis(t.0 as i64))
            .unwrap_or_else(Utc::now);
        let seconds = job.seconds();
        let ran = job.tags.get(MODEL_PACKAGE_TAG).cloned();
        self.monitor(files, seconds, Some((job.transform_job_name, ended, ran)))
            .await
    }

    /// Reads every file into one batch against the serving version's baseline, keeps the answers of a completed
    /// `job` (its name, end, and the package its tag says ran it) for the ground truth to come, then emits its
    /// metrics.
    #[tracing::instrument(skip_all)]
    async fn monitor(
        &self,
        files: Vec<ObjectRef>,
        batch_seconds: Option<f64>,
        job: Option<(String, DateTime<Utc>, Option<String>)>,
    ) -> Result<Outcome, MonitorError> {
        // The baseline before reading (the texts are judged against it as they stream) and before any metric: a
        // failed invocation is retried, and counters emitted before a failure would be counted again.
        let serving = self.serving().await?;
        let baseline = serving
            .as_ref()
            .and_then(|s| Some((s.package.clone(), s.baseline.clone()?)));
        let mut settings = self.config.settings.clone();
        // Answers wait for labels only where ground truth will be joined with them.
        let keep = self.config.batch_truth.is_some() && job.is_some() && serving.is_some();
        if !keep {
            settings.max_waiting = 0;
        }
        let empty = Profile::empty();
        let profile = judged_against(baseline.as_ref().map(|(_, b)| &**b), &mut settings, &empty);
        let mut monitor = Monitor::new(profile, &settings);
        for file in &files {
            self.read_into(file, &mut monitor).await?;
        }
        let answers = monitor.take_answers();
        if let (true, Some((job, ended, ran)), Some(serving)) = (keep, &job, &serving) {
            self.keep_batch_answers(job, *ended, ran.as_deref(), &serving.package, answers)
                .await?;
        }
        let report = monitor.finish();
        let summary = report.predictions.clone();
        let label_psi = baseline
            .as_ref()
            .and_then(|(_, b)| psi(&b.profile.labels, &summary.label_counts));
        let model = self.config.model.clone();
        let batch_values = [
            (AVG_CONFIDENCE, summary.avg_confidence),
            (P10_CONFIDENCE, summary.p10_confidence),
            (LOW_CONFIDENCE_PCT, summary.low_confidence_pct),
            (OTHER_PCT, summary.other_pct),
            (LABEL_PSI, label_psi),
            (BATCH_SECONDS, batch_seconds),
        ];
        emit(
            &model,
            batch_values
                .iter()
                .filter_map(|(metric, value)| value.map(|v| (metric.name, None, v))),
        );
        emit(&model, values(&drift_gauges(&report)));
        metrics::counter!(PREDICTIONS.name, dimension::MODEL => model.clone())
            .increment(summary.predictions);
        let bad: u64 = summary.defects.values().sum();
        metrics::counter!(BAD_PREDICTIONS.name, dimension::MODEL => model).increment(bad);
        let input_drift: Vec<String> = report
            .drift
            .violations()
            .map(|c| c.check.as_str().to_owned())
            .collect();
        tracing::info!(files = files.len(), summary = %json!(summary), label_psi, batch_seconds, ?input_drift, "batch monitored");
        Ok(Outcome::Monitored {
            files: files.iter().map(ObjectRef::uri).collect(),
            summary,
            label_psi,
            input_drift,
            batch_seconds,
            baseline_of: baseline.map(|(arn, _)| arn),
        })
    }

    /// Streams one JSON Lines file, line by line, in bounded memory.
    #[tracing::instrument(skip_all)]
    async fn read_into(
        &self,
        file: &ObjectRef,
        monitor: &mut Monitor<'_>,
    ) -> Result<(), MonitorError> {
        s3::for_each_line(&self.s3, file, s3::MAX_LINE, |line| match line {
            Line::Text(line) => monitor.batch_line(line),
            Line::TooLong => monitor.batch_defect(),
        })
        .await?;
        Ok(())
    }

    /// The output files under an `s3://bucket/prefix`.
    #[tracing::instrument(skip_all)]
    async fn output_files(&self, uri: &str) -> Result<Vec<ObjectRef>, MonitorError> {
        let prefix = ObjectRef::parse_uri(uri).ok_or_else(|| {
            MonitorError::Unrecognised(format!("output path {uri:?} is not s3://bucket/prefix"))
        })?;
        Ok(s3::list(&self.s3, &prefix)
            .await?
            .into_iter()
            .map(|(object, _)| object)
            .filter(|o| o.key.ends_with(&self.config.output_suffix))
            .collect())
    }

    /// The serving version (the group's newest Approved) as its signed lineage record describes it (the record
    /// verified, and of the model the package serves): its baseline, checked against the record's digest, and its
    /// gate metrics. `None`, with a warning, when no version is approved or the serving one names no lineage
    /// record; an altered or missing record or baseline is an error.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn serving(&self) -> Result<Option<Serving>, MonitorError> {
        let group = &self.config.model_package_group;
        let Some(serving) = registry::newest_approved(&self.sagemaker, group).await? else {
            tracing::warn!(group, "no Approved version: nothing to compare with");
            return Ok(None);
        };
        let Some(digest) = serving
            .metadata
            .get(lineage::PACKAGE_DIGEST)
            .filter(|_| serving.metadata.contains_key(lineage::PACKAGE_RECORD))
        else {
            tracing::warn!(package = %serving.arn, "the serving version names no lineage record: nothing to compare with");
            return Ok(None);
        };
        // The record and its baseline are written once and named by digest: verified once per container for the
        // same package, digest, model and image, not again for every output file or hour.
        let key = (
            serving.arn.clone(),
            digest.clone(),
            serving.model_data_urls.clone(),
            serving.images.clone(),
        );
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((_, verified)) = cached.filter(|(k, _)| *k == key) {
            return Ok(Some(verified));
        }
        let verified = self.verify(&serving).await?;
        *self.verified.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((key, verified.clone()));
        Ok(Some(verified))
    }

    /// The serving version's verified lineage record, and the baseline it names.
    #[tracing::instrument(skip_all)]
    async fn verify(&self, serving: &Package) -> Result<Serving, MonitorError> {
        let record = self.lineage.verify_package_model(serving).await?;
        let baseline = match record.baseline {
            Some(reference) => Some(Arc::new(self.baselines.load(&reference).await?)),
            None => {
                tracing::warn!(package = %serving.arn, "the serving version's lineage names no baseline: nothing to compare the inputs and label mix with");
                None
            }
        };
        Ok(Serving {
            package: serving.arn.clone(),
            baseline,
            metrics: Arc::new(record.verdict.metrics),
        })
    }
}

/// The profile texts are judged against: the serving version's baseline; without one, an empty profile and a
/// minimum sample no run reaches, so the texts are measured and never judged.
pub(crate) fn judged_against<'a>(
    baseline: Option<&'a Baseline>,
    settings: &mut Settings,
    empty: &'a Profile,
) -> &'a Profile {
    match baseline {
        Some(baseline) => &baseline.profile,
        None => {
            settings.limits.min_texts = u64::MAX;
            empty
        }
    }
}

/// Records each value under the `Model` dimension (and its `Check`, for the input-drift ones). Histograms, not
/// gauges: the EMF recorder sends a gauge's last value again at every flush of a warm container, so an hour's
/// verdict would reappear in hours too small to judge; a histogram's values are sent once.
pub(crate) fn emit<'a>(
    model: &str,
    values: impl IntoIterator<Item = (&'a str, Option<&'a str>, f64)>,
) {
    for (name, check, value) in values {
        let name = name.to_owned();
        match check {
            Some(check) => metrics::histogram!(name, dimension::MODEL => model.to_owned(), dimension::CHECK => check.to_owned())
                .record(value),
            None => metrics::histogram!(name, dimension::MODEL => model.to_owned()).record(value),
        }
    }
}

/// A report's values, as [`emit`] takes them.
pub(crate) fn values(gauges: &[Gauge]) -> impl Iterator<Item = (&str, Option<&str>, f64)> {
    gauges.iter().map(|g| (g.metric.name, g.check, g.value))
}

/// The serving version as the monitor compares with it, from its verified lineage record.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The model package's ARN.
    pub package: String,
    /// The baseline its record names, if any.
    pub baseline: Option<Arc<Baseline>>,
    /// The gate's metrics in its record (its validation F1 among them).
    pub metrics: Arc<BTreeMap<String, f64>>,
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
        type Change = fn(&mut Value);
        let refused: [(&str, Change); 4] = [
            // The baseline is no longer built from the bus: a Dataset Validated is not an input.
            ("dataset-validated.json", |_| {}),
            ("eventbridge-s3-object-created.json", |e| {
                e["source"] = "someone.else".into()
            }),
            ("scheduled-event.json", |e| {
                e["source"] = "someone.else".into()
            }),
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
