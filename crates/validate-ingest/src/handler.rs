//! Turns an S3 upload notification into calls: copy to the ingested bucket, metrics, Dataset Validated.

use aws_lambda_events::s3::{S3Event, S3EventRecord};
use guardrails_core::domain::DatasetValidated;
use guardrails_core::s3::{KeyDecodeError, decode_notification_key};
use guardrails_core::{AwsError, Classify, ErrorClass, EventPublisher, ObjectRef};
use serde::Serialize;

use crate::config::Config;
use crate::routing::{Decision, Upload, decide};

/// Metric: files handled, by dataset.
pub const FILES_PROCESSED: &str = "FilesProcessed";
/// Metric: bytes copied to the ingested bucket, by dataset.
pub const BYTES_INGESTED: &str = "BytesIngested";
/// The one label (EMF dimension) ingest metrics carry besides `Stage`.
pub const DATASET_DIMENSION: &str = "Dataset";

/// Why an upload could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The notification lacks a field we need.
    #[error("S3 notification record {index} has no {field}")]
    MissingField {
        /// Record position in the event.
        index: usize,
        /// The missing field.
        field: &'static str,
    },
    /// The key does not decode.
    #[error(transparent)]
    Key(#[from] KeyDecodeError),
    /// This stage cannot handle the upload.
    #[error("cannot ingest: {0}")]
    Rejected(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classify for IngestError {
    fn class(&self) -> ErrorClass {
        match self {
            IngestError::Aws(e) => e.class(),
            IngestError::MissingField { .. } | IngestError::Key(_) | IngestError::Rejected(_) => {
                ErrorClass::NonRetryable
            }
        }
    }
}

/// What one invocation did (the Lambda response, useful for local invokes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Datasets copied and announced.
    pub ingested: Vec<DatasetValidated>,
    /// Objects left alone, with the reason.
    pub skipped: Vec<Skipped>,
}

/// An object the invocation left alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// `s3://bucket/key`.
    pub object: String,
    /// Why.
    pub reason: String,
}

/// The validate-ingest handler: clients built once per cold start, reused by every invocation.
pub struct Ingest {
    s3: aws_sdk_s3::Client,
    events: EventPublisher,
    config: Config,
}

impl Ingest {
    /// A handler using these clients and settings.
    pub fn new(s3: aws_sdk_s3::Client, events: EventPublisher, config: Config) -> Self {
        Ingest { s3, events, config }
    }

    /// Handles one S3 notification (which may carry several records).
    ///
    /// # Errors
    /// The first record that failed; records before it were ingested (copying again is harmless).
    pub async fn handle(&self, event: S3Event) -> Result<Summary, IngestError> {
        let mut summary = Summary {
            ingested: Vec::new(),
            skipped: Vec::new(),
        };
        for (index, record) in event.records.iter().enumerate() {
            let upload = upload_from_record(index, record)?;
            match decide(&upload, &self.config.ingested_bucket) {
                Decision::Skip { reason } => {
                    tracing::info!(object = %upload.object.uri(), %reason, "skipped");
                    summary.skipped.push(Skipped {
                        object: upload.object.uri(),
                        reason,
                    });
                }
                Decision::Reject { reason } => return Err(IngestError::Rejected(reason)),
                Decision::Ingest {
                    dataset,
                    destination,
                } => match self.ingest(&upload, dataset, destination).await? {
                    Some(validated) => summary.ingested.push(validated),
                    None => summary.skipped.push(Skipped {
                        object: upload.object.uri(),
                        reason: "the object changed after this notification; its own notification follows"
                            .to_owned(),
                    }),
                },
            }
        }
        Ok(summary)
    }

    /// Copies the upload and announces it. `None` when the object was replaced since the notification.
    async fn ingest(
        &self,
        upload: &Upload,
        dataset: String,
        mut destination: ObjectRef,
    ) -> Result<Option<DatasetValidated>, IngestError> {
        let mut copy = self
            .s3
            .copy_object()
            .copy_source(upload.object.copy_source())
            .bucket(&destination.bucket)
            .key(&destination.key);
        // Without a version id, the ETag pins the copy to the bytes this notification announced.
        if upload.object.version_id.is_none() {
            copy = copy.set_copy_source_if_match(upload.etag.clone());
        }
        let copied = match copy.send().await {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("CopyObject", upload.object.uri(), e);
                if error.code.as_deref() == Some("PreconditionFailed") {
                    tracing::info!(object = %upload.object.uri(), "object replaced since notification");
                    return Ok(None);
                }
                return Err(error.into());
            }
        };
        destination.version_id = copied.version_id().map(str::to_owned);

        let validated = DatasetValidated {
            dataset,
            source: upload.object.clone(),
            ingested: destination,
            bytes: upload.size,
            rows: None,
            report: None,
            label_counts: Default::default(),
        };
        self.events
            .publish(&validated, &[s3_arn(&validated.ingested)])
            .await?;

        let labels = [(DATASET_DIMENSION, validated.dataset.clone())];
        metrics::counter!(FILES_PROCESSED, &labels).increment(1);
        metrics::counter!(BYTES_INGESTED, &labels).increment(upload.size);
        tracing::info!(
            source = %validated.source.uri(),
            ingested = %validated.ingested.uri(),
            bytes = upload.size,
            "ingested"
        );
        Ok(Some(validated))
    }
}

/// Registers units for the EMF output; call once at cold start.
pub fn describe_metrics() {
    metrics::describe_counter!(FILES_PROCESSED, metrics::Unit::Count, "files handled");
    metrics::describe_counter!(BYTES_INGESTED, metrics::Unit::Bytes, "bytes ingested");
}

fn upload_from_record(index: usize, record: &S3EventRecord) -> Result<Upload, IngestError> {
    let missing = |field| IngestError::MissingField { index, field };
    let bucket = record
        .s3
        .bucket
        .name
        .clone()
        .ok_or_else(|| missing("s3.bucket.name"))?;
    let raw_key = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or_else(|| missing("s3.object.key"))?;
    Ok(Upload {
        event_name: record
            .event_name
            .clone()
            .ok_or_else(|| missing("eventName"))?,
        object: ObjectRef {
            bucket,
            key: decode_notification_key(raw_key)?,
            version_id: record
                .s3
                .object
                .version_id
                .clone()
                .filter(|v| !v.is_empty()),
        },
        // Deletes carry no size; a negative size cannot happen, treat it as unknown.
        size: record
            .s3
            .object
            .size
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
        etag: record.s3.object.e_tag.clone().filter(|e| !e.is_empty()),
    })
}

fn s3_arn(object: &ObjectRef) -> String {
    format!("arn:aws:s3:::{}/{}", object.bucket, object.key)
}
