//! One upload: a stage report → validated, counted, judged against the stage's previous run, a notice on a
//! breach or a refusal, the reference moved on.
//!
//! State, all in the state bucket: a job document per report object (`stage-reports/jobs/<hash>.json`, the
//! discipline of `guardrails_core::state`: a redelivery does nothing, a retry finishes what a failure left) and
//! each stage's reference run (`stage-reports/<stage>/reference.json`). The verdict is kept in the job before
//! any effect, so a retry sends the notice the first delivery judged, even if the reference moved meanwhile.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::aws_events::ObjectCreatedDetail;
use guardrails_core::metric::{self, dimension};
use guardrails_core::s3::decode_notification_key;
use guardrails_core::state::{Begin, Change, Claim, StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, Notice,
    NoticeKind, Notifier, ObjectRef, Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Config, STAGE};
use crate::judge::{Judgment, judge};
use crate::report::{Invalid, MAX_REPORT_BYTES, Reader, Report, Stage, too_large};

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The report was valid and judged.
    Judged {
        /// The report.
        report: String,
        /// Its stage.
        stage: Stage,
        /// The limits passed, each said with its figures (a notice went out when any).
        breaches: Vec<String>,
        /// Whether it is now the stage's reference.
        reference: bool,
    },
    /// The report was refused, with a notice naming why.
    Invalid {
        /// The report.
        report: String,
        /// Why.
        errors: Vec<String>,
    },
    /// The report was handled before (a redelivery).
    Duplicate {
        /// The report.
        report: String,
    },
    /// Not a stage report, or gone before it was read.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why an upload could not be handled (each retried or not as its class says).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The event names a key that does not decode.
    #[error("unreadable key: {0}")]
    Key(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The state bucket could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The report's body broke off while it was read.
    #[error("reading {uri} failed: {reason}")]
    Read {
        /// The report.
        uri: String,
        /// What broke.
        reason: String,
    },
}

impl Classify for ReportError {
    fn class(&self) -> ErrorClass {
        match self {
            ReportError::Key(_) => ErrorClass::NonRetryable,
            ReportError::Aws(e) => e.class(),
            ReportError::State(e) => e.class(),
            ReportError::Read { .. } => ErrorClass::Retryable,
        }
    }
}

/// The effects of one report, recorded as each completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The verdict is kept.
    Judged,
    /// The notice went out (a breach, or a refusal).
    Notified,
    /// The reference was moved to this run (or a newer one was found there).
    Referenced,
}

/// What a report's job document keeps: the verdict, decided once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportJob {
    /// The verdict, once decided.
    pub verdict: Option<Verdict>,
}

/// A report's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Valid, and judged against the reference of its stage.
    Judged {
        /// The report.
        report: Box<Report>,
        /// The reference's job, if there was one.
        reference_job: Option<String>,
        /// The judgment.
        judgment: Judgment,
    },
    /// Refused.
    Invalid {
        /// The stage the document says, when it says one.
        stage: Option<Stage>,
        /// Why.
        invalid: Invalid,
    },
    /// The object was gone before it was read: deleted, or (without a version id) overwritten, so the version the
    /// event names is not there any more; the overwrite's own event judges what replaced it.
    Gone,
}

/// A stage's reference: its latest valid run, and where its report was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    /// The run.
    pub report: Report,
    /// Its report object.
    pub object: String,
    /// When it became the reference.
    pub since: DateTime<Utc>,
}

/// Where `stage`'s reference lives in the state bucket.
pub fn reference_key(stage: Stage) -> String {
    format!("stage-reports/{}/reference.json", stage.as_str())
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct StageReport {
    s3: aws_sdk_s3::Client,
    state: StateStore,
    notifier: Notifier,
    reader: Reader,
    config: Config,
}

impl Function for StageReport {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent<ObjectCreatedDetail>;
    type Response = Outcome;
    type Error = ReportError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let notifier = Notifier::from_sdk(sdk, config.common.require_notice_topic()?);
        Ok(StageReport::new(
            guardrails_core::aws::s3_client(sdk),
            notifier,
            config,
        ))
    }

    fn describe_metrics() {
        describe_metrics();
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent<ObjectCreatedDetail>,
        _: Invocation<'_>,
    ) -> Result<Outcome, ReportError> {
        Box::pin(self.handle(event.detail, Utc::now())).await
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Judged {
                report,
                stage,
                breaches,
                reference,
            } => {
                let moved = if *reference {
                    ", now the reference"
                } else {
                    ""
                };
                match breaches.as_slice() {
                    [] => format!("{} {report}: within limits{moved}", stage.as_str()),
                    b => format!("{} {report}: {}{moved}", stage.as_str(), b.join("; ")),
                }
            }
            Outcome::Invalid { report, errors } => {
                format!("refused {report}: {}", errors.join("; "))
            }
            Outcome::Duplicate { report } => format!("{report} handled before"),
            Outcome::Ignored { reason } => format!("ignored: {reason}"),
        }
    }
}

/// Registers the units of the function's metrics.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(metric::STAGE_REPORTS.name, Unit::Count, "stage reports");
    describe_counter!(metric::STAGE_BREACHES.name, Unit::Count, "limits passed");
    describe_histogram!(metric::STAGE_SECONDS.name, Unit::Seconds, "stage run time");
    describe_histogram!(
        metric::STAGE_NULL_PCT.name,
        Unit::Percent,
        "largest null share"
    );
}

impl StageReport {
    /// The function with these clients (S3 reads the reports and keeps the state).
    pub fn new(s3: aws_sdk_s3::Client, notifier: Notifier, config: Config) -> Self {
        StageReport {
            state: StateStore::new(s3.clone(), &config.state_bucket),
            s3,
            notifier,
            reader: Reader,
            config,
        }
    }

    /// Handles one upload at `now`.
    ///
    /// # Errors
    /// [`ReportError`], classified; an invalid report is an [`Outcome`], not an error.
    #[tracing::instrument(skip_all)]
    pub async fn handle(
        &self,
        upload: ObjectCreatedDetail,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ReportError> {
        let key = decode_notification_key(&upload.object.key)
            .map_err(|e| ReportError::Key(e.to_string()))?;
        if !key.ends_with(&self.config.report_suffix) {
            return Ok(Outcome::Ignored {
                reason: format!("{key} does not end with {}", self.config.report_suffix),
            });
        }
        let object = ObjectRef::new(&upload.bucket.name, &key);
        let uri = object.uri();
        // One job per object version: the same report delivered twice is one job; the same key written again is
        // another run.
        let version = upload
            .object
            .version_id
            .as_deref()
            .or(upload.object.etag.as_deref())
            .unwrap_or_default();
        let marker = format!(
            "stage-reports/jobs/{:016x}.json",
            xxhash_rust::xxh3::xxh3_64(format!("{uri}\n{version}").as_bytes())
        );
        let begun = self
            .state
            .begin(
                &marker,
                ReportJob::default(),
                now,
                self.config.common.claim_lease,
            )
            .await?;
        let mut claim = match begun {
            Begin::Finished(_) => {
                tracing::info!(report = %uri, "duplicate delivery: already handled");
                return Ok(Outcome::Duplicate { report: uri });
            }
            Begin::Claimed(claim) => claim,
        };
        let result = Box::pin(self.complete(&upload, &object, now, &mut claim)).await;
        let (outcome, verdict) = claim.conclude(result).await?;
        count(verdict.as_ref());
        Ok(outcome)
    }

    /// The effects not recorded yet, each recorded as it completes.
    #[tracing::instrument(skip_all)]
    async fn complete(
        &self,
        upload: &ObjectCreatedDetail,
        object: &ObjectRef,
        now: DateTime<Utc>,
        claim: &mut Claim<'_, Step, ReportJob>,
    ) -> Result<(Outcome, Option<Verdict>), ReportError> {
        let uri = object.uri();
        let verdict = match claim.data().verdict.clone() {
            Some(verdict) => verdict,
            None => {
                let verdict = self.assess(upload, object).await?;
                claim.data_mut().verdict = Some(verdict.clone());
                claim.record(Step::Judged).await?;
                verdict
            }
        };
        let outcome = match &verdict {
            Verdict::Gone => {
                tracing::info!(report = %uri, "gone before it was read");
                return Ok((
                    Outcome::Ignored {
                        reason: format!("{uri} was gone before it was read"),
                    },
                    None,
                ));
            }
            Verdict::Invalid { invalid, .. } => {
                tracing::warn!(report = %uri, errors = ?invalid.errors, "stage report refused");
                let notice = refused(&uri, invalid);
                claim
                    .step(Step::Notified, async || self.send(&notice).await)
                    .await?;
                Outcome::Invalid {
                    report: uri,
                    errors: invalid.errors.clone(),
                }
            }
            Verdict::Judged {
                report,
                reference_job,
                judgment,
            } => {
                if !judgment.breaches.is_empty() {
                    let notice = breached(&uri, report, reference_job.as_deref(), judgment);
                    claim
                        .step(Step::Notified, async || self.send(&notice).await)
                        .await?;
                }
                if judgment.becomes_reference {
                    claim
                        .step(Step::Referenced, async || {
                            self.move_reference(report, &uri, now).await
                        })
                        .await?;
                }
                tracing::info!(report = %uri, stage = report.stage.as_str(), breaches = judgment.breaches.len(), "stage report judged");
                Outcome::Judged {
                    report: uri,
                    stage: report.stage,
                    breaches: judgment.breaches.iter().map(|b| b.says.clone()).collect(),
                    reference: judgment.becomes_reference,
                }
            }
        };
        Ok((outcome, Some(verdict)))
    }

    /// Reads the report (bounded) and judges it against its stage's reference.
    #[tracing::instrument(skip_all)]
    async fn assess(
        &self,
        upload: &ObjectCreatedDetail,
        object: &ObjectRef,
    ) -> Result<Verdict, ReportError> {
        let refused = |invalid| {
            Ok(Verdict::Invalid {
                stage: None,
                invalid,
            })
        };
        match upload.object.size {
            Some(size) if size > MAX_REPORT_BYTES => return refused(too_large(size)),
            // A ranged read of an empty object is refused (416): say what it is instead.
            Some(0) => return refused(empty()),
            _ => {}
        }
        let version = match (&upload.object.version_id, &upload.object.etag) {
            (Some(id), _) => Some(Version::Id(id)),
            (None, Some(etag)) => Some(Version::Etag(etag)),
            (None, None) => None,
        };
        let bytes = match self.fetch(object, version).await? {
            Fetched::Bytes(bytes) => bytes,
            Fetched::Gone => return Ok(Verdict::Gone),
            Fetched::Empty => return refused(empty()),
        };
        let report = match self.reader.read(&bytes) {
            Ok(report) => report,
            Err(invalid) => {
                return Ok(Verdict::Invalid {
                    stage: said_stage(&bytes),
                    invalid,
                });
            }
        };
        let reference = self
            .state
            .read::<Reference>(&reference_key(report.stage))
            .await?
            .map(|stored| stored.value);
        let judgment = judge(
            reference.as_ref().map(|r| &r.report),
            &report,
            &self.config.limits,
        );
        Ok(Verdict::Judged {
            reference_job: reference.map(|r| r.report.job_id),
            report: Box::new(report),
            judgment,
        })
    }

    /// The report's first [`MAX_REPORT_BYTES`] + 1 bytes (one more than allowed, so an oversized one shows), of
    /// exactly the version the event names: its version id, or (on a bucket without versioning) its ETag, so an
    /// overwrite in between is read by its own event, not by this one.
    #[tracing::instrument(skip_all)]
    async fn fetch(
        &self,
        object: &ObjectRef,
        version: Option<Version<'_>>,
    ) -> Result<Fetched, ReportError> {
        let mut get = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .range(format!("bytes=0-{MAX_REPORT_BYTES}"));
        get = match version {
            Some(Version::Id(id)) => get.version_id(id),
            Some(Version::Etag(etag)) => get.if_match(format!("\"{}\"", etag.trim_matches('"'))),
            None => get,
        };
        let output = match get.send().await {
            Ok(output) => output,
            Err(e) => {
                let error = AwsError::from_sdk("GetObject", object.uri(), e);
                return match error.code.as_deref() {
                    Some("NoSuchKey" | "NoSuchVersion" | "PreconditionFailed") => Ok(Fetched::Gone),
                    Some("InvalidRange") => Ok(Fetched::Empty),
                    _ => Err(error.into()),
                };
            }
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| ReportError::Read {
                uri: object.uri(),
                reason: e.to_string(),
            })?
            .into_bytes();
        Ok(Fetched::Bytes(bytes.to_vec()))
    }

    /// Makes `report` its stage's reference, unless a run that finished later is there already (a concurrent
    /// report of a newer run).
    #[tracing::instrument(skip_all)]
    async fn move_reference(
        &self,
        report: &Report,
        uri: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ReportError> {
        self.state
            .update(
                &reference_key(report.stage),
                |current: Option<&Reference>| match current {
                    Some(c) if c.report.finished_at >= report.finished_at => Change::Keep,
                    _ => Change::Write(Reference {
                        report: report.clone(),
                        object: uri.to_owned(),
                        since: now,
                    }),
                },
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn send(&self, notice: &Notice) -> Result<(), ReportError> {
        self.notifier.send(notice).await?;
        Ok(())
    }
}

/// Which version of the report object to read.
#[derive(Debug, Clone, Copy)]
enum Version<'a> {
    /// On a versioned bucket.
    Id(&'a str),
    /// Without versioning: the content S3 announced.
    Etag(&'a str),
}

/// A report object, read.
enum Fetched {
    /// Its bytes, bounded.
    Bytes(Vec<u8>),
    /// That version is not there any more.
    Gone,
    /// It has no bytes.
    Empty,
}

/// An empty report.
fn empty() -> Invalid {
    Invalid {
        errors: vec![": the report is empty (0 bytes)".to_owned()],
    }
}

/// The stage a refused document names, when it names a known one (for the metric's dimension).
fn said_stage(bytes: &[u8]) -> Option<Stage> {
    #[derive(Deserialize)]
    struct Said {
        stage: Stage,
    }
    serde_json::from_slice::<Said>(bytes).ok().map(|s| s.stage)
}

/// The metrics of a report handled now (a duplicate or an ignored upload counts nothing).
fn count(verdict: Option<&Verdict>) {
    match verdict {
        Some(Verdict::Invalid { stage, .. }) => {
            let stage = stage.map_or("unknown", Stage::as_str);
            metrics::counter!(metric::STAGE_REPORTS.name, dimension::PIPELINE_STAGE => stage, dimension::RESULT => "invalid").increment(1);
        }
        Some(Verdict::Judged {
            report, judgment, ..
        }) => record(report, judgment),
        Some(Verdict::Gone) | None => {}
    }
}

/// A valid run's figures, per stage.
fn record(report: &Report, judgment: &Judgment) {
    let stage = report.stage.as_str();
    let labels = [(dimension::PIPELINE_STAGE, stage)];
    let result = if judgment.breaches.is_empty() {
        "accepted"
    } else {
        "breached"
    };
    metrics::counter!(metric::STAGE_REPORTS.name, dimension::PIPELINE_STAGE => stage, dimension::RESULT => result).increment(1);
    for breach in &judgment.breaches {
        metrics::counter!(metric::STAGE_BREACHES.name, dimension::PIPELINE_STAGE => stage, dimension::CHECK => breach.check.as_str()).increment(1);
    }
    metrics::counter!(metric::STAGE_ROWS_IN.name, &labels).increment(report.rows_in);
    metrics::counter!(metric::STAGE_ROWS_OUT.name, &labels).increment(report.rows_out);
    metrics::counter!(metric::STAGE_FAILED_BATCHES.name, &labels).increment(report.failed_batches);
    // A report's numbers are finite but may be any size; the ones past f64 after arithmetic (an overflowed
    // figure) are left out rather than written as a NaN that would break the EMF line.
    let histogram = |metric: &metric::Metric, value: f64| {
        if value.is_finite() {
            metrics::histogram!(metric.name, &labels).record(value);
        }
    };
    histogram(&metric::STAGE_SECONDS, report.seconds);
    histogram(&metric::STAGE_NULL_PCT, report.max_null_share() * 100.0);
    let figures = &judgment.figures;
    if let Some(e) = &report.embeddings {
        histogram(&metric::EMBEDDING_NORM_P50, e.norm_quantiles.p50);
    }
    if let Some(distance) = figures.mean_distance {
        histogram(&metric::EMBEDDING_MEAN_DISTANCE, distance);
    }
    if let Some(ratio) = figures.variance_ratio {
        histogram(&metric::EMBEDDING_VARIANCE_RATIO, ratio);
    }
    if let Some(c) = &report.clustering {
        histogram(&metric::CLUSTERS, c.clusters as f64);
        histogram(&metric::INTRA_CLUSTER_VARIANCE, c.total_intra_variance);
        if let Some(silhouette) = c.silhouette {
            histogram(&metric::SILHOUETTE, silhouette);
        }
    }
}

/// The notice about a run past its limits.
fn breached(
    uri: &str,
    report: &Report,
    reference_job: Option<&str>,
    judgment: &Judgment,
) -> Notice {
    let stage = report.stage.as_str();
    let checks: Vec<&str> = judgment.breaches.iter().map(|b| b.check.as_str()).collect();
    let mut body = format!(
        "Run {} of {stage} ({uri}, finished {}) passed {} limit(s):\n",
        report.job_id,
        report.finished_at.to_rfc3339(),
        judgment.breaches.len()
    );
    for breach in &judgment.breaches {
        body.push_str(&format!("- {}\n", breach.says));
    }
    body.push('\n');
    body.push_str(&match (reference_job, judgment.becomes_reference) {
        (Some(job), true) => format!(
            "Compared with run {job}, the stage's previous one. This run is now the reference: the next run is \
             compared with it."
        ),
        (Some(job), false) => format!(
            "Compared with run {job}, which finished no earlier than this one: the reference stays (a report of an \
             older run, or of the same run again, does not replace it)."
        ),
        (None, _) => "The stage's first run: it is now the reference.".to_owned(),
    });
    if !report.log.is_empty() {
        body.push_str("\n\nThe job's summary:\n");
        for line in report.log.iter().take(10) {
            body.push_str(&format!("  {line}\n"));
        }
    }
    Notice {
        severity: Severity::Warning,
        kind: NoticeKind::StageBreach,
        title: format!(
            "{stage} run {} passed limits: {}",
            report.job_id,
            checks.join(", ")
        ),
        body,
        details: json!({
            "report": uri,
            "stage": stage,
            "job": report.job_id,
            "reference": reference_job,
            "breaches": judgment.breaches,
            "figures": judgment.figures,
        }),
    }
}

/// The notice about a refused report.
fn refused(uri: &str, invalid: &Invalid) -> Notice {
    let mut body = format!(
        "The stage report {uri} does not meet the contract (schemas/stage-report.schema.json), so its run is \
         neither compared nor kept as a reference (it counts as an invalid report):\n"
    );
    for error in &invalid.errors {
        body.push_str(&format!("- {error}\n"));
    }
    body.push_str(
        "\nFix the job's report (tools/stage_report.py writes a valid one) and upload it again under a new \
         name, or run the job again.",
    );
    Notice {
        severity: Severity::Warning,
        kind: NoticeKind::StageReportInvalid,
        title: format!("Stage report refused: {uri}"),
        body,
        details: json!({"report": uri, "errors": invalid.errors}),
    }
}
