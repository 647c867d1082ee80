//! Turns upload notifications into calls: check, copy to ingested or quarantine with the report, announce once,
//! count, and delete the raw object once its copy is safe.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::{S3Event, S3EventRecord};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use guardrails_core::aws::SdkConfig;
use guardrails_core::aws_events::ObjectCreatedDetail;
use guardrails_core::baseline;
use guardrails_core::domain::{ContractRef, DatasetQuarantined, DatasetValidated};
use guardrails_core::function::{self, Function, Invocation};
use guardrails_core::ledger::{self, Entry, Ledger};
use guardrails_core::metric::{
    BYTES_INGESTED, DUPLICATE_PCT, FILES_PROCESSED, FILES_QUARANTINED, LATENCY_MS, NULL_PCT,
    ROWS_INGESTED, VALIDATION_ERRORS, dimension,
};
use guardrails_core::s3::{KeyDecodeError, decode_notification_key};
use guardrails_core::state::{Begin, Claim, StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, EventPublisher, ObjectRef,
};
use serde::Serialize;

use crate::config::{Config, STAGE};
use crate::job::{IngestJob, IngestStep, Verdict};
use crate::routing::{Decision, Layout, Plan, Upload, decide};
use crate::store::{Fetched, Store, StoreError};
use dataset_check::Contract;
use dataset_check::Report;
use dataset_check::contract::ContractError;
use dataset_check::profile::Profile;

/// Registers units for the EMF output; call once at cold start.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(FILES_PROCESSED.name, Unit::Count, "files checked");
    describe_counter!(FILES_QUARANTINED.name, Unit::Count, "files quarantined");
    describe_counter!(VALIDATION_ERRORS.name, Unit::Count, "rows breaking a rule");
    describe_counter!(ROWS_INGESTED.name, Unit::Count, "rows ingested");
    describe_counter!(BYTES_INGESTED.name, Unit::Bytes, "bytes ingested");
    describe_histogram!(
        LATENCY_MS.name,
        Unit::Milliseconds,
        "check and placement time"
    );
    describe_histogram!(NULL_PCT.name, Unit::Percent, "null texts");
    describe_histogram!(DUPLICATE_PCT.name, Unit::Percent, "duplicate rows");
}

/// Why an upload could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The payload is none of the shapes this function is wired to.
    #[error("unrecognised event: {0}")]
    UnknownEvent(String),
    /// A notification lacks a field we need.
    #[error("notification is missing {0}")]
    MissingField(&'static str),
    /// The key does not decode.
    #[error(transparent)]
    Key(#[from] KeyDecodeError),
    /// The contract in SSM cannot be used.
    #[error("contract parameter {parameter}: {source}")]
    Contract {
        /// The SSM parameter.
        parameter: String,
        /// What is wrong.
        #[source]
        source: ContractError,
    },
    /// S3 or the object stream failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The upload's job document could not be claimed or updated.
    #[error(transparent)]
    State(#[from] StateError),
    /// Another AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classify for IngestError {
    fn class(&self) -> ErrorClass {
        match self {
            IngestError::Aws(e) | IngestError::Store(StoreError::Aws(e)) => e.class(),
            // A stream cut mid-way or a dying task: try again.
            IngestError::Store(StoreError::Read(_) | StoreError::Task(_)) => ErrorClass::Retryable,
            IngestError::State(e) => e.class(),
            IngestError::Store(StoreError::Serialize { .. })
            | IngestError::UnknownEvent(_)
            | IngestError::MissingField(_)
            | IngestError::Key(_)
            | IngestError::Contract { .. } => ErrorClass::NonRetryable,
        }
    }
}

/// What became of one upload in one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Valid: ingested and announced.
    Validated,
    /// Invalid or refused: quarantined and announced.
    Quarantined,
    /// An earlier delivery finished it.
    Duplicate,
    /// Not a dataset upload, or no longer there.
    Skipped,
}

/// What happened to one upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Handled {
    /// `s3://bucket/key` of the upload.
    pub object: String,
    /// What became of it.
    pub result: Disposition,
    /// Why, for skips and duplicates; the first reasons for quarantines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The verdict, when this delivery placed or announced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Verdict>,
}

/// The Lambda response: partial batch failures for SQS, a summary otherwise.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// For an SQS event source mapping with `ReportBatchItemFailures`.
    Batch(SqsBatchResponse),
    /// For direct S3 or EventBridge invocations (and local runs).
    Summary(Vec<Handled>),
}

/// The dataset contract from SSM, cached per container.
pub struct ContractSource {
    ssm: aws_sdk_ssm::Client,
    parameter: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Contract>)>>,
}

impl ContractSource {
    /// Reads `parameter` (a SecureString is decrypted), reusing it for `ttl`.
    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        ContractSource {
            ssm,
            parameter: parameter.into(),
            ttl,
            cached: Mutex::new(None),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn get(&self) -> Result<Arc<Contract>, IngestError> {
        {
            let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, contract)) = cached.as_ref()
                && at.elapsed() < self.ttl
            {
                return Ok(Arc::clone(contract));
            }
        }
        let output = self
            .ssm
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetParameter", &self.parameter, e))?;
        let json = output
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default();
        let contract =
            Arc::new(
                Contract::from_json(json).map_err(|source| IngestError::Contract {
                    parameter: self.parameter.clone(),
                    source,
                })?,
            );
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), Arc::clone(&contract)));
        Ok(contract)
    }
}

/// A verdict placed: the copy and its report exist.
#[derive(Debug)]
struct Placed {
    verdict: Verdict,
    /// The copy's SHA-256, as S3 computed it.
    sha256: Option<String>,
    /// The state-bucket key of a valid file's profile.
    profile: Option<String>,
}

/// The ledger entry of a validated file: the copy a training run reads, pinned by version and checksum.
fn ledger_entry(plan: &Plan, detail: &DatasetValidated, job: &IngestJob) -> Entry {
    Entry {
        id: plan.identity.clone(),
        time: job.placed_at.unwrap_or_else(Utc::now),
        dataset: detail.dataset.clone(),
        rows: detail.rows.unwrap_or(0),
        copy: Some(ledger::Copy {
            object: detail.ingested.clone(),
            bytes: detail.bytes,
            sha256: job.sha256.clone(),
            contract: detail.contract.clone(),
            profile: job.profile.clone(),
        }),
    }
}

/// The validate-ingest handler: clients built once per cold start, reused by every invocation.
pub struct Ingest {
    store: Store,
    state: StateStore,
    ledger: Ledger,
    events: EventPublisher,
    contracts: ContractSource,
    config: Config,
}

impl Function for Ingest {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = serde_json::Value;
    type Response = Response;
    type Error = IngestError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// Clients from `sdk`, the contract from the configured SSM parameter.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let s3 = guardrails_core::aws::s3_client(sdk);
        Ok(Ingest::new(
            Store::new(s3.clone()),
            StateStore::new(s3, &config.state_bucket),
            EventPublisher::from_sdk(sdk, config.common.require_event_bus()?),
            ContractSource::new(
                aws_sdk_ssm::Client::new(sdk),
                &config.contract_parameter,
                config.contract_cache,
            ),
            config,
        ))
    }

    fn describe_metrics() {
        describe_metrics();
    }

    async fn invoke(
        &self,
        payload: serde_json::Value,
        _: Invocation<'_>,
    ) -> Result<Response, IngestError> {
        self.handle(payload).await
    }

    fn describe(response: &Response) -> String {
        match response {
            Response::Batch(batch) if batch.batch_item_failures.is_empty() => {
                "handled the batch, no message failed".into()
            }
            Response::Batch(batch) => format!(
                "{} message(s) failed and stay on the queue",
                batch.batch_item_failures.len()
            ),
            Response::Summary(handled) => format!("handled {} upload(s)", handled.len()),
        }
    }
}

impl Ingest {
    /// A handler over these clients and settings.
    pub fn new(
        store: Store,
        state: StateStore,
        events: EventPublisher,
        contracts: ContractSource,
        config: Config,
    ) -> Self {
        let ledger = Ledger::new(
            state.client().clone(),
            state.bucket(),
            &config.ledger_prefix,
        );
        Ingest {
            store,
            state,
            ledger,
            events,
            contracts,
            config,
        }
    }

    /// Handles any payload the function is wired to: an SQS batch (the production path), a direct S3
    /// notification or a direct EventBridge "Object Created" event.
    ///
    /// # Errors
    /// For direct invocations, the first upload that failed (Lambda retries the event). An SQS batch never fails
    /// as a whole: failed messages are listed in the response and only they are redelivered.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, payload: serde_json::Value) -> Result<Response, IngestError> {
        if function::is_sqs_batch(&payload) {
            let batch: SqsEvent = serde_json::from_value(payload)
                .map_err(|e| IngestError::UnknownEvent(format!("SQS event: {e}")))?;
            return Ok(Response::Batch(self.handle_batch(batch).await));
        }
        let mut handled = Vec::new();
        for upload in uploads_from_body(payload)? {
            handled.push(Box::pin(self.process(upload)).await?);
        }
        Ok(Response::Summary(handled))
    }

    #[tracing::instrument(skip_all)]
    async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        function::partial_batch(batch.records, |record| async move {
            let body = record.body.as_deref().unwrap_or_default();
            let payload: serde_json::Value = serde_json::from_str(body)
                .map_err(|e| IngestError::UnknownEvent(format!("SQS body is not JSON: {e}")))?;
            for upload in uploads_from_body(payload)? {
                Box::pin(self.process(upload)).await?;
            }
            Ok::<(), IngestError>(())
        })
        .await
    }

    /// Handles one upload end to end: claims its job in the state bucket, checks it and places the copy and
    /// report, announces the verdict, deletes the raw version, recording each effect; a redelivery after a
    /// failure resumes with the effects still missing, one that finds the job finished does nothing.
    ///
    /// # Errors
    /// The classified failure; nothing is deleted unless its copy was made.
    #[tracing::instrument(skip_all)]
    pub async fn process(&self, upload: Upload) -> Result<Handled, IngestError> {
        let uri = upload.object.uri();
        let plan = match decide(&upload, self.layout()) {
            Decision::Skip { reason } => {
                tracing::info!(object = %uri, %reason, "skipped");
                return Ok(handled(&uri, Disposition::Skipped, Some(reason), None));
            }
            Decision::Process(plan) => plan,
        };
        let begun = self
            .state
            .begin(
                &plan.marker,
                IngestJob::default(),
                Utc::now(),
                self.config.common.claim_lease,
            )
            .await?;
        let mut claim = match begun {
            Begin::Finished(_) => {
                tracing::info!(object = %uri, "duplicate delivery: already handled");
                let detail = Some("already handled".to_owned());
                return Ok(handled(&uri, Disposition::Duplicate, detail, None));
            }
            Begin::Claimed(claim) => claim,
        };
        if claim.resumed() {
            tracing::info!(object = %uri, "resuming an upload an earlier delivery left unfinished");
        }
        // Boxed: the nested async steps otherwise make a future too deep for the compiler's layout query.
        let result = Box::pin(self.complete(&upload, &plan, &mut claim)).await;
        claim.conclude(result).await
    }

    /// The effects not recorded yet in the claim, each recorded as it completes.
    #[tracing::instrument(skip_all)]
    async fn complete(
        &self,
        upload: &Upload,
        plan: &Plan,
        claim: &mut Claim<'_, IngestStep, IngestJob>,
    ) -> Result<Handled, IngestError> {
        let uri = upload.object.uri();
        let verdict = match claim.data().verdict.clone() {
            Some(verdict) => verdict,
            None => match self.check_and_place(upload, plan).await? {
                Fetched::Gone(reason) => {
                    tracing::info!(object = %uri, %reason, "skipped");
                    claim.data_mut().skipped = Some(reason.clone());
                    return Ok(handled(&uri, Disposition::Skipped, Some(reason), None));
                }
                Fetched::Checked(placed) => {
                    let Placed {
                        verdict,
                        sha256,
                        profile,
                    } = *placed;
                    claim.data_mut().verdict = Some(verdict.clone());
                    claim.data_mut().sha256 = sha256;
                    claim.data_mut().profile = profile;
                    claim.data_mut().placed_at = Some(Utc::now());
                    claim.record(IngestStep::Placed).await?;
                    verdict
                }
            },
        };
        if let Verdict::Validated(detail) = &verdict {
            // Before the announcement: trigger-training counts the ledger when Dataset Validated arrives.
            let entry = ledger_entry(plan, detail, claim.data());
            claim
                .step(IngestStep::Ledgered, async || {
                    self.ledger.record(&entry).await?;
                    Ok::<(), IngestError>(())
                })
                .await?;
        }
        claim
            .step(IngestStep::Published, async || self.publish(&verdict).await)
            .await?;
        if self.config.delete_raw {
            claim
                .step(IngestStep::RawRemoved, async || {
                    Ok::<(), IngestError>(self.store.delete(&upload.object).await?)
                })
                .await?;
        }
        let (result, detail) = match &verdict {
            Verdict::Validated(_) => (Disposition::Validated, None),
            Verdict::Quarantined(q) => (Disposition::Quarantined, Some(q.reasons.join("; "))),
        };
        tracing::info!(object = %uri, ?result, "handled");
        Ok(handled(&uri, result, detail, Some(verdict)))
    }

    /// Checks the upload (unless its key is refused) and places its copy and report; counts it.
    #[tracing::instrument(skip_all)]
    async fn check_and_place(
        &self,
        upload: &Upload,
        plan: &Plan,
    ) -> Result<Fetched<Placed>, IngestError> {
        let started = Instant::now();
        let uri = upload.object.uri();
        let contract = self.contracts.get().await?;
        let (report, profile) = if let Some(reason) = &plan.refusal {
            let report = dataset_check::check::refused(&uri, &contract, upload.size, reason);
            (report, None)
        } else if upload.size > contract.max_bytes {
            let report = dataset_check::check::oversized(&uri, &contract, upload.size);
            (report, None)
        } else {
            match self
                .store
                .fetch_and_check(
                    &upload.object,
                    upload.etag.as_deref(),
                    Arc::clone(&contract),
                )
                .await?
            {
                Fetched::Checked(checked) => (checked.report, Some(checked.profile)),
                Fetched::Gone(reason) => return Ok(Fetched::Gone(reason)),
            }
        };
        let placed = self.place(upload, plan, &report, profile.as_ref()).await?;
        record_metrics(&plan.dataset, &report, upload.size, started.elapsed());
        Ok(Fetched::Checked(Box::new(placed)))
    }

    /// Copies the upload and its report where the verdict says, and keeps a valid file's profile. Idempotent: a
    /// retry overwrites the same keys (the profile, written once, is the same profile).
    #[tracing::instrument(skip_all)]
    async fn place(
        &self,
        upload: &Upload,
        plan: &Plan,
        report: &Report,
        profile: Option<&Profile>,
    ) -> Result<Placed, IngestError> {
        let valid = report.is_valid();
        let profile = match profile.filter(|_| valid) {
            Some(profile) => Some(self.keep_profile(plan, profile).await?),
            None => None,
        };
        let (mut copy, report_at) = if valid {
            (plan.ingested.clone(), plan.ingested_report())
        } else {
            (plan.quarantined.clone(), plan.quarantined_report())
        };
        let copied = self.store.copy(&upload.object, upload.size, &copy).await?;
        copy.version_id = copied.version_id;
        self.store.put_report(&report_at, report).await?;
        let verdict = if valid {
            Verdict::Validated(DatasetValidated {
                dataset: plan.dataset.clone(),
                source: upload.object.clone(),
                ingested: copy,
                bytes: upload.size,
                rows: Some(report.rows),
                report: Some(report_at),
                label_counts: report.label_counts.clone(),
                contract: Some(ContractRef {
                    name: report.contract.name.clone(),
                    version: report.contract.version,
                }),
            })
        } else {
            Verdict::Quarantined(DatasetQuarantined {
                dataset: plan.dataset.clone(),
                source: upload.object.clone(),
                quarantined: copy,
                report: report_at,
                bytes: upload.size,
                rows_checked: report.rows,
                invalid_rows: report.invalid_rows,
                reasons: report.reasons.iter().take(5).cloned().collect(),
            })
        };
        Ok(Placed {
            verdict,
            sha256: copied.sha256,
            profile,
        })
    }

    /// Stores a valid file's profile in the state bucket, once; returns its key.
    #[tracing::instrument(skip_all)]
    async fn keep_profile(&self, plan: &Plan, profile: &Profile) -> Result<String, IngestError> {
        let key = baseline::profile_key(&plan.dataset, &plan.identity);
        let bytes = serde_json::to_vec(profile).map_err(|source| StoreError::Serialize {
            what: "the profile",
            source,
        })?;
        self.state.create_bytes(&key, bytes).await?;
        Ok(key)
    }

    /// Publishes the verdict on the bus.
    #[tracing::instrument(skip_all)]
    async fn publish(&self, verdict: &Verdict) -> Result<(), IngestError> {
        match verdict {
            Verdict::Validated(detail) => {
                self.events
                    .publish(detail, &[s3_arn(&detail.ingested)])
                    .await?;
            }
            Verdict::Quarantined(detail) => {
                self.events
                    .publish(detail, &[s3_arn(&detail.quarantined)])
                    .await?;
            }
        }
        Ok(())
    }

    fn layout(&self) -> Layout<'_> {
        Layout {
            ingested_bucket: &self.config.ingested_bucket,
            quarantine_bucket: self.config.quarantine_bucket.as_deref(),
            quarantine_prefix: &self.config.quarantine_prefix,
            marker_prefix: &self.config.marker_prefix,
        }
    }
}

fn handled(
    object: &str,
    result: Disposition,
    detail: Option<String>,
    outcome: Option<Verdict>,
) -> Handled {
    Handled {
        object: object.to_owned(),
        result,
        detail,
        outcome,
    }
}

fn record_metrics(dataset: &str, report: &Report, size: u64, elapsed: Duration) {
    let labels = [(dimension::DATASET, dataset.to_owned())];
    metrics::counter!(FILES_PROCESSED.name, &labels).increment(1);
    metrics::counter!(VALIDATION_ERRORS.name, &labels).increment(report.invalid_rows);
    metrics::histogram!(LATENCY_MS.name, &labels).record(elapsed.as_secs_f64() * 1000.0);
    metrics::histogram!(NULL_PCT.name, &labels).record(report.null_fraction * 100.0);
    metrics::histogram!(DUPLICATE_PCT.name, &labels).record(report.duplicate_fraction * 100.0);
    if report.is_valid() {
        metrics::counter!(ROWS_INGESTED.name, &labels).increment(report.rows);
        metrics::counter!(BYTES_INGESTED.name, &labels).increment(size);
    } else {
        metrics::counter!(FILES_QUARANTINED.name, &labels).increment(1);
    }
}

fn s3_arn(object: &ObjectRef) -> String {
    format!("arn:aws:s3:::{}/{}", object.bucket, object.key)
}

/// The uploads a direct payload (or an SQS message body) announces: an S3 notification, an EventBridge
/// "Object Created" event, or S3's test event (none).
fn uploads_from_body(payload: serde_json::Value) -> Result<Vec<Upload>, IngestError> {
    if payload.get("Records").is_some() {
        let event: S3Event = serde_json::from_value(payload)
            .map_err(|e| IngestError::UnknownEvent(format!("S3 notification: {e}")))?;
        return event.records.iter().map(upload_from_record).collect();
    }
    if payload["detail-type"] == "Object Created" && payload["source"] == "aws.s3" {
        let event: EventBridgeEvent<ObjectCreatedDetail> = serde_json::from_value(payload)
            .map_err(|e| IngestError::UnknownEvent(format!("Object Created event: {e}")))?;
        let detail = event.detail;
        return Ok(vec![Upload {
            event_name: format!(
                "ObjectCreated:{}",
                detail.reason.as_deref().unwrap_or("PutObject")
            ),
            object: ObjectRef {
                bucket: detail.bucket.name,
                key: decode_notification_key(&detail.object.key)?,
                version_id: detail.object.version_id,
            },
            size: detail.object.size.unwrap_or(0),
            etag: detail.object.etag,
            sequencer: detail.object.sequencer,
        }]);
    }
    if payload["Event"] == "s3:TestEvent" {
        return Ok(Vec::new());
    }
    let shape: String = payload.to_string().chars().take(200).collect();
    Err(IngestError::UnknownEvent(shape))
}

fn upload_from_record(record: &S3EventRecord) -> Result<Upload, IngestError> {
    let object = &record.s3.object;
    Ok(Upload {
        event_name: record
            .event_name
            .clone()
            .ok_or(IngestError::MissingField("eventName"))?,
        object: ObjectRef {
            bucket: record
                .s3
                .bucket
                .name
                .clone()
                .ok_or(IngestError::MissingField("s3.bucket.name"))?,
            key: decode_notification_key(
                object
                    .key
                    .as_deref()
                    .ok_or(IngestError::MissingField("s3.object.key"))?,
            )?,
            version_id: object.version_id.clone().filter(|v| !v.is_empty()),
        },
        // Deletes carry no size; a negative size cannot happen, treat it as unknown.
        size: object.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        etag: object.e_tag.clone().filter(|e| !e.is_empty()),
        sequencer: object.sequencer.clone(),
    })
}
