//! One gate request: read the finished job and the champion, judge, emit the metrics, answer the workflow.

use std::collections::BTreeMap;

use chrono::Utc;
use guardrails_core::aws::SdkConfig;
use guardrails_core::baseline::{self, BaselineError, BaselineRef, Baselines};
use guardrails_core::ledger::Pins;
use guardrails_core::lineage::{self, Lineage, LineageError, LineageRecord};
use guardrails_core::notice::cut;
use guardrails_core::state::{StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation,
};
use serde::{Deserialize, Serialize};

use crate::config::{Config, STAGE};
use crate::registry::{FinishedJob, JobError, Registry};
use crate::verdict::{Candidate, Decision, Score, Verdict, judge};
use guardrails_core::metric::{
    ACCURACY, EPOCHS, F1, GATE_VERDICTS, Metric, OVERFIT_GAP, TRAINING_SECONDS, dimension,
};

/// SageMaker's limits on what the workflow registers.
const MAX_DESCRIPTION: usize = 1024;
const MAX_METADATA_KEY: usize = 128;
const MAX_METADATA_VALUE: usize = 256;

/// The task's input: the training job (name or ARN — the workflow passes the ARN) and the group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateRequest {
    /// `arn:aws:sagemaker:…:training-job/<name>`.
    #[serde(default)]
    pub training_job_arn: Option<String>,
    #[serde(default)]
    pub training_job_name: Option<String>,
    /// The model package group (default from configuration).
    #[serde(default)]
    pub model_package_group: Option<String>,
    /// The image the workflow registers the version with, pinned in its lineage record (required: a record
    /// without it would let the package's image change unnoticed).
    pub inference_image: String,
}

/// The task's output, which the workflow's Choice and CreateModelPackage read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResponse {
    /// `Approved`, `PendingManualApproval` or `Rejected` (the registry's approval status).
    pub decision: Decision,
    /// Why not approved.
    pub reasons: Vec<String>,
    /// One paragraph for the registry description and the notice (≤ 1024 characters).
    pub summary: String,
    /// The judged job.
    pub training_job_name: String,
    /// Its model artifacts.
    pub model_data_url: String,
    /// Its final metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Customer metadata for the model package: the metrics (so the next gate can compare with this model)
    /// and the verdict.
    pub metadata: BTreeMap<String, String>,
    /// The champion compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion_arn: Option<String>,
}

/// Why the gate could not judge.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The input names no job or no group.
    #[error("bad gate request: {0}")]
    BadRequest(String),
    /// The job cannot be judged.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A SageMaker call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The baseline of the job's data could not be built or stored.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// The job's lineage could not be recorded (no pinned manifest, a signing failure).
    #[error(transparent)]
    Lineage(#[from] LineageError),
    /// The state bucket could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Classify for GateError {
    fn class(&self) -> ErrorClass {
        match self {
            GateError::BadRequest(_) => ErrorClass::NonRetryable,
            GateError::Job(e) => e.class(),
            GateError::Aws(e) => e.class(),
            GateError::Lineage(e) => e.class(),
            GateError::Baseline(e) => e.class(),
            GateError::State(e) => e.class(),
        }
    }
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct ModelGate {
    registry: Registry,
    lineage: Lineage,
    state: StateStore,
    config: Config,
}

impl Function for ModelGate {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = GateRequest;
    type Response = GateResponse;
    type Error = GateError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// SageMaker reads, the state bucket and the lineage signing key through clients from `sdk`.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let state = StateStore::new(guardrails_core::aws::s3_client(sdk), &config.state_bucket);
        let lineage = Lineage::from_sdk(
            sdk,
            state.clone(),
            &config.lineage_key_id,
            &config.lineage_prefix,
        );
        Ok(ModelGate::new(
            Registry::new(aws_sdk_sagemaker::Client::new(sdk)),
            lineage,
            state,
            config,
        ))
    }

    async fn invoke(
        &self,
        request: GateRequest,
        _: Invocation<'_>,
    ) -> Result<GateResponse, GateError> {
        self.handle(request).await
    }

    fn describe(response: &GateResponse) -> String {
        format!(
            "verdict {} for {}: {}",
            response.decision.as_str(),
            response.training_job_name,
            cut(&response.summary, 120)
        )
    }
}

impl ModelGate {
    /// The gate over its SageMaker reads, its lineage store and the state bucket the run's manifest is in.
    pub fn new(registry: Registry, lineage: Lineage, state: StateStore, config: Config) -> Self {
        ModelGate {
            registry,
            lineage,
            state,
            config,
        }
    }

    /// Where the gate keeps lineage records (for the checks that read them back).
    pub fn lineage_store(&self) -> &Lineage {
        &self.lineage
    }

    /// Judges the job the request names.
    ///
    /// # Errors
    /// [`GateError`], classified: `Retryable` while the job runs or SageMaker throttles.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: GateRequest) -> Result<GateResponse, GateError> {
        let name = job_name(&request)?;
        let group = self.group(request.model_package_group)?;
        let job = self.registry.finished_job(&name).await?;
        let champion = self
            .registry
            .champion(&group, &self.config.metrics.f1)
            .await?;

        let names = &self.config.metrics;
        let score = |metric: &str| Score::new(metric, job.metrics.get(metric).copied());
        let candidate = Candidate {
            f1: score(&names.f1),
            accuracy: score(&names.accuracy),
            train_f1: score(&names.train_f1),
        };
        let verdict = judge(&candidate, champion.as_ref(), &self.config.thresholds);

        let summary = summary(&verdict);
        let champion_arn = champion.map(|c| c.package_arn);
        let (stored, baseline) = self
            .record_lineage(
                &job,
                &verdict,
                champion_arn.as_deref(),
                Some(request.inference_image.clone()),
            )
            .await?;
        // Once nothing can fail: the workflow retries a failed gate, and a verdict counted before the failure
        // would be counted again.
        self.emit_metrics(&group, &candidate, &verdict, &job);
        let mut metadata = metadata(&job, &verdict);
        metadata.insert(lineage::PACKAGE_RECORD.into(), stored.record.uri());
        metadata.insert(lineage::PACKAGE_DIGEST.into(), stored.sha256);
        metadata.insert(baseline::PACKAGE_BASELINE.into(), baseline.object.uri());
        metadata.insert(baseline::PACKAGE_BASELINE_DIGEST.into(), baseline.sha256);
        tracing::info!(
            training_job = %job.name,
            group = %group,
            decision = verdict.decision.as_str(),
            reasons = ?verdict.reasons,
            "gate verdict"
        );
        Ok(GateResponse {
            decision: verdict.decision,
            reasons: verdict.reasons,
            summary,
            training_job_name: job.name,
            model_data_url: job.model_data_url,
            metrics: job.metrics,
            metadata,
            champion_arn,
        })
    }

    /// Signs and stores what made the model: the job, the files it read (its pinned manifest), the baseline of
    /// those files, the verdict. The baseline is stored first: the signed record names it by digest.
    #[tracing::instrument(skip_all)]
    async fn record_lineage(
        &self,
        job: &FinishedJob,
        verdict: &Verdict,
        champion: Option<&str>,
        inference_image: Option<String>,
    ) -> Result<(lineage::Stored, BaselineRef), GateError> {
        let (data, pins) = self.data_of(job).await?;
        let baselines = Baselines::new(self.state.clone());
        let baseline = match baselines.stored(&job.name).await? {
            Some(stored) => stored,
            None => {
                baselines
                    .store(&baselines.build(&job.name, &pins).await?)
                    .await?
            }
        };
        let facts = &job.facts;
        let record = LineageRecord {
            schema_version: lineage::SCHEMA_VERSION,
            recorded_at: Utc::now(),
            training: lineage::Training {
                job_name: job.name.clone(),
                job_arn: facts.arn.clone(),
                image: facts.image.clone(),
                hyperparameters: facts.hyperparameters.clone(),
                instance_type: facts.instance_type.clone(),
                instance_count: facts.instance_count,
                spot: facts.spot,
                model_data_url: job.model_data_url.clone(),
                inference_image,
            },
            data,
            verdict: lineage::Verdict {
                decision: verdict.decision.as_str().to_owned(),
                reasons: verdict.reasons.clone(),
                metrics: job.metrics.clone(),
                champion: champion.map(str::to_owned),
            },
            baseline: Some(baseline.clone()),
        };
        Ok((self.lineage.record(&record).await?, baseline))
    }

    /// The job's data: its training channel must be a manifest trigger-training pinned in the state bucket.
    #[tracing::instrument(skip_all)]
    async fn data_of(&self, job: &FinishedJob) -> Result<(lineage::Data, Pins), GateError> {
        let missing = |what: String| GateError::Lineage(LineageError::Missing(what));
        let uri = job.facts.manifest.as_deref().ok_or_else(|| {
            missing(format!(
                "a pinned manifest as the training channel of {}",
                job.name
            ))
        })?;
        let manifest_key = uri
            .strip_prefix(&format!("s3://{}/", self.state.bucket()))
            .filter(|k| k.ends_with(".manifest"))
            .ok_or_else(|| {
                missing(format!(
                    "a manifest of the state bucket (the job read {uri})"
                ))
            })?;
        let pins_key = format!("{}.pins.json", manifest_key.trim_end_matches(".manifest"));
        let read = async |key: &str| {
            self.state
                .read_bytes(key)
                .await?
                .ok_or_else(|| missing(self.state.at(key).uri()))
        };
        let manifest = read(manifest_key).await?;
        let pins_bytes = read(&pins_key).await?;
        let pins: Pins = serde_json::from_slice(&pins_bytes).map_err(|e| {
            GateError::Lineage(LineageError::Invalid(format!(
                "{pins_key} does not read: {e}"
            )))
        })?;
        let data = lineage::Data::from_pins(
            self.state.at(manifest_key),
            &manifest,
            self.state.at(&pins_key),
            &pins_bytes,
            &pins,
        );
        Ok((data, pins))
    }

    /// The model package group: the request's, else the configured one.
    fn group(&self, requested: Option<String>) -> Result<String, GateError> {
        requested
            .or_else(|| self.config.model_package_group.clone())
            .ok_or_else(|| {
                GateError::BadRequest(
                    "no model_package_group in the request and MODEL_PACKAGE_GROUP is not set"
                        .into(),
                )
            })
    }

    /// The candidate's scores and the job's figures as gauges (finite values only), and the verdict as a count,
    /// by group.
    fn emit_metrics(
        &self,
        group: &str,
        candidate: &Candidate,
        verdict: &Verdict,
        job: &FinishedJob,
    ) {
        let gauge = |metric: Metric, value: Option<f64>| {
            if let Some(v) = value.filter(|v| v.is_finite()) {
                metrics::gauge!(metric.name, dimension::MODEL_PACKAGE_GROUP => group.to_owned())
                    .set(v);
            }
        };
        gauge(F1, candidate.f1.value);
        gauge(ACCURACY, candidate.accuracy.value);
        gauge(OVERFIT_GAP, verdict.overfit_gap);
        gauge(TRAINING_SECONDS, job.training_seconds);
        gauge(
            EPOCHS,
            job.metrics.get(&self.config.metrics.epochs).copied(),
        );
        metrics::counter!(GATE_VERDICTS.name, dimension::MODEL_PACKAGE_GROUP => group.to_owned(), dimension::DECISION => verdict.decision.as_str())
            .increment(1);
    }
}

/// The registry description: the decision with its reasons and the checks passed, cut to SageMaker's limit.
fn summary(verdict: &Verdict) -> String {
    cut(
        &match verdict.decision {
            Decision::Approved => format!("Approved: {}.", verdict.passed.join("; ")),
            Decision::PendingManualApproval => format!(
                "Pending manual approval: {}. Passed: {}.",
                verdict.reasons.join("; "),
                verdict.passed.join("; ")
            ),
            Decision::Rejected => format!("Rejected: {}.", verdict.reasons.join("; ")),
        },
        MAX_DESCRIPTION,
    )
}

/// The package's customer metadata: the job's finite metrics, its name, the decision and its reasons, each cut
/// to SageMaker's limits.
fn metadata(job: &FinishedJob, verdict: &Verdict) -> BTreeMap<String, String> {
    let mut metadata: BTreeMap<String, String> = job
        .metrics
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| {
            (
                metadata_text(k, MAX_METADATA_KEY),
                metadata_text(&format!("{v}"), MAX_METADATA_VALUE),
            )
        })
        .collect();
    metadata.insert(
        lineage::PACKAGE_JOB.into(),
        metadata_text(&job.name, MAX_METADATA_VALUE),
    );
    metadata.insert("gate_decision".into(), verdict.decision.as_str().into());
    if !verdict.reasons.is_empty() {
        metadata.insert(
            "gate_reasons".into(),
            metadata_text(&verdict.reasons.join(" / "), MAX_METADATA_VALUE),
        );
    }
    metadata
}

/// The job name from the request: the name, or the ARN's last path segment.
fn job_name(request: &GateRequest) -> Result<String, GateError> {
    if let Some(name) = request
        .training_job_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        return Ok(name.to_owned());
    }
    request
        .training_job_arn
        .as_deref()
        .and_then(|arn| arn.split_once(":training-job/"))
        .map(|(_, name)| name.to_owned())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            GateError::BadRequest(format!(
                "expected training_job_name or a training job ARN, got {:?}",
                request.training_job_arn
            ))
        })
}

/// Customer metadata as SageMaker accepts it: letters, spaces, digits and `_.:/=+-@` only (anything else
/// becomes a space), at most `max` characters. CreateModelPackage refuses the whole package otherwise.
fn metadata_text(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as the workflow sends it, with `json`'s fields (the image always there unless `json` says null).
    fn request(json: serde_json::Value) -> Result<GateRequest, serde_json::Error> {
        let mut with_image = serde_json::json!({"inference_image": "nlp-serve:1"});
        if let (Some(all), Some(fields)) = (with_image.as_object_mut(), json.as_object()) {
            all.extend(fields.clone());
        }
        serde_json::from_value(with_image)
    }

    #[test]
    fn job_names_from_names_or_arns() {
        let by_arn = request(serde_json::json!({
            "training_job_arn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/tickets-20261121-ab12cd"
        }))
        .unwrap();
        assert_eq!(job_name(&by_arn).unwrap(), "tickets-20261121-ab12cd");
        let by_name = request(serde_json::json!({"training_job_name": "j1"})).unwrap();
        assert_eq!(job_name(&by_name).unwrap(), "j1");
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"training_job_arn": "arn:aws:s3:::bucket"}),
        ] {
            let error = job_name(&request(bad).unwrap()).unwrap_err();
            assert_eq!(error.class(), ErrorClass::NonRetryable);
            assert!(error.to_string().contains("training_job_name"), "{error}");
        }
        assert!(
            request(serde_json::json!({"job": "x"})).is_err(),
            "unknown fields are refused"
        );
        assert!(
            request(serde_json::json!({"training_job_name": "j1", "inference_image": null}))
                .is_err(),
            "a request without the image to pin is refused"
        );
    }

    #[test]
    fn metadata_is_what_sagemaker_accepts() {
        let reasons = "overfitting not checked; champion arn:aws:sagemaker:…/3 (F1 0.86) → \"x\"";
        let text = metadata_text(reasons, 40);
        assert_eq!(text.chars().count(), 40);
        assert!(
            text.chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)),
            "{text}"
        );
        assert_eq!(
            metadata_text("validation:weighted_f1", 128),
            "validation:weighted_f1"
        );
    }
}
