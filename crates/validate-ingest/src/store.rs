//! The S3 side of ingest: streaming the object into the check, copying (multipart above the single-copy
//! limit), reports, and deleting the raw object once its copy is safe.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use guardrails_core::{AwsError, ObjectRef};
use tokio_util::io::SyncIoBridge;

use dataset_check::Contract;
use dataset_check::Report;
use dataset_check::profile::Profile;
use dataset_check::{SourceError, check_profiled};

/// Objects up to this size are copied with one `CopyObject`; S3 refuses larger ones.
pub const MAX_SINGLE_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Part size of a multipart copy: 512 MiB keeps a 5 TB object under S3's 10,000-part limit.
pub const COPY_PART_BYTES: u64 = 512 * 1024 * 1024;

/// What went wrong talking to S3 or reading the object.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An S3 call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The object stream broke while being checked.
    #[error(transparent)]
    Read(#[from] SourceError),
    /// The check task itself died.
    #[error("the check task failed: {0}")]
    Task(String),
    /// A report or marker could not be serialized.
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// A placed copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Its version, on a versioned bucket.
    pub version_id: Option<String>,
    /// Base64 SHA-256 of its bytes, as S3 computed it.
    pub sha256: Option<String>,
}

/// A file's check report and the profile of its valid texts, from the same pass.
#[derive(Debug)]
pub struct Checked {
    /// The report.
    pub report: Report,
    /// The profile (of no rows when the file is invalid).
    pub profile: Profile,
}

/// Whether the object is still the one the notification announced.
pub enum Fetched<T = Checked> {
    /// It is, and this is its check report (or what was made of it).
    Checked(Box<T>),
    /// It was replaced (ETag differs) or deleted since: its own notification covers the new one.
    Gone(String),
}

/// The S3 operations of the ingest stage.
#[derive(Debug, Clone)]
pub struct Store {
    s3: aws_sdk_s3::Client,
    /// Above this size copies are multipart (a parameter so tests can exercise it with small objects).
    single_copy_limit: u64,
    part_bytes: u64,
}

impl Store {
    /// S3 operations with the production copy limits.
    pub fn new(s3: aws_sdk_s3::Client) -> Self {
        Self::with_copy_limits(s3, MAX_SINGLE_COPY_BYTES, COPY_PART_BYTES)
    }

    /// S3 operations with other copy limits (tests use small ones).
    pub fn with_copy_limits(
        s3: aws_sdk_s3::Client,
        single_copy_limit: u64,
        part_bytes: u64,
    ) -> Self {
        Store {
            s3,
            single_copy_limit,
            part_bytes,
        }
    }

    /// Streams the object (the announced version or ETag) through the check and profile, never whole in memory.
    ///
    /// # Errors
    /// S3 failures other than "gone", and a stream that breaks mid-way (both retryable or not as classified).
    pub async fn fetch_and_check(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        contract: Arc<Contract>,
    ) -> Result<Fetched, StoreError> {
        let mut get = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone());
        if object.version_id.is_none() {
            get = get.set_if_match(etag.map(str::to_owned));
        }
        let output = match get.send().await {
            Ok(output) => output,
            Err(e) => {
                let error = AwsError::from_sdk("GetObject", object.uri(), e);
                return match error.code.as_deref() {
                    Some("PreconditionFailed") => Ok(Fetched::Gone(
                        "the object was replaced after this notification".to_owned(),
                    )),
                    Some("NoSuchKey" | "NoSuchVersion") => {
                        Ok(Fetched::Gone("the object no longer exists".to_owned()))
                    }
                    _ => Err(error.into()),
                };
            }
        };
        let reader = SyncIoBridge::new(output.body.into_async_read());
        let name = object.key.clone();
        let uri = object.uri();
        let checked = tokio::task::spawn_blocking(move || {
            check_profiled(reader, &name, &contract, None).map(|(mut report, profile)| {
                report.object = uri;
                Box::new(Checked { report, profile })
            })
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        Ok(Fetched::Checked(checked))
    }

    /// Copies `source` (of `size` bytes) to `destination`; multipart above the single-copy limit. Returns the
    /// copy's version id, on versioned buckets, and the SHA-256 S3 computed while copying (single copies; a
    /// multipart copy is pinned by its key and version only).
    ///
    /// # Errors
    /// The classified S3 error; a failed multipart copy is aborted so no parts linger.
    pub async fn copy(
        &self,
        source: &ObjectRef,
        size: u64,
        destination: &ObjectRef,
    ) -> Result<Copied, StoreError> {
        if size <= self.single_copy_limit {
            let out = self
                .s3
                .copy_object()
                .copy_source(source.copy_source())
                .bucket(&destination.bucket)
                .key(&destination.key)
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CopyObject", source.uri(), e))?;
            return Ok(Copied {
                version_id: out.version_id().map(str::to_owned),
                sha256: out
                    .copy_object_result()
                    .and_then(|r| r.checksum_sha256())
                    .map(str::to_owned),
            });
        }
        let upload = self
            .s3
            .create_multipart_upload()
            .bucket(&destination.bucket)
            .key(&destination.key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateMultipartUpload", destination.uri(), e))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        match self.copy_parts(source, size, destination, &upload_id).await {
            Ok(version_id) => Ok(Copied {
                version_id,
                sha256: None,
            }),
            Err(error) => {
                // Best effort: an abort failure must not hide the copy failure.
                let _ = self
                    .s3
                    .abort_multipart_upload()
                    .bucket(&destination.bucket)
                    .key(&destination.key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(error)
            }
        }
    }

    async fn copy_parts(
        &self,
        source: &ObjectRef,
        size: u64,
        destination: &ObjectRef,
        upload_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut parts = Vec::new();
        let mut start = 0u64;
        let mut number = 1i32;
        while start < size {
            let end = (start + self.part_bytes).min(size) - 1;
            let part = self
                .s3
                .upload_part_copy()
                .bucket(&destination.bucket)
                .key(&destination.key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(source.copy_source())
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UploadPartCopy", source.uri(), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(
                        part.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_owned),
                    )
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        let done = self
            .s3
            .complete_multipart_upload()
            .bucket(&destination.bucket)
            .key(&destination.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CompleteMultipartUpload", destination.uri(), e))?;
        Ok(done.version_id().map(str::to_owned))
    }

    /// Writes the report as JSON.
    ///
    /// # Errors
    /// The classified S3 error.
    pub async fn put_report(&self, at: &ObjectRef, report: &Report) -> Result<(), StoreError> {
        let body = serde_json::to_vec_pretty(report).map_err(|source| StoreError::Serialize {
            what: "the report",
            source,
        })?;
        self.s3
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", at.uri(), e))?;
        Ok(())
    }

    /// Deletes the raw object once its copy exists. On a versioned bucket that is the announced version, for
    /// good (`s3:DeleteObjectVersion`): a delete marker would hide a newer upload of the same key and keep the
    /// data anyway. A version or key already gone counts as deleted, so a retry finishes an interrupted delete.
    ///
    /// # Errors
    /// The classified S3 error.
    pub async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError> {
        let result = self
            .s3
            .delete_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let operation = if object.version_id.is_some() {
                    "DeleteObjectVersion"
                } else {
                    "DeleteObject"
                };
                let error = AwsError::from_sdk(operation, object.uri(), e);
                match error.code.as_deref() {
                    Some("NoSuchKey" | "NoSuchVersion") => Ok(()),
                    _ => Err(error.into()),
                }
            }
        }
    }
}
