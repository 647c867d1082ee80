//! Typed `detail` of the AWS service events the project consumes through EventBridge that `aws_lambda_events`
//! has no type for. Use them as `EventBridgeEvent<Detail>`; each has a sample under `events/`.

use serde::{Deserialize, Serialize};

/// `detail` of S3's "Object Created" event (bucket with EventBridge notifications on).
///
/// As in S3 notifications, `object.key` is URL-encoded: decode it with
/// [`decode_notification_key`](crate::s3::decode_notification_key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ObjectCreatedDetail {
    /// Detail schema version.
    #[serde(default)]
    pub version: Option<String>,
    /// The bucket.
    pub bucket: BucketDetail,
    /// The object.
    pub object: ObjectDetail,
    /// S3 request id.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Account or service principal that made the request.
    #[serde(default)]
    pub requester: Option<String>,
    /// The API that created the object: PutObject, CopyObject, CompleteMultipartUpload, POST Object.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The bucket of an S3 event detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDetail {
    /// Bucket name.
    pub name: String,
}

/// The object of an S3 event detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ObjectDetail {
    /// Object key, URL-encoded.
    pub key: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// ETag.
    #[serde(default)]
    pub etag: Option<String>,
    /// Version id, on versioned buckets.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Orders events for the same key.
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// `detail` of SageMaker's "SageMaker Training Job State Change" event (fields we use; the event carries the
/// whole DescribeTrainingJob response).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrainingJobStateChange {
    /// Job name.
    pub training_job_name: String,
    /// Job ARN.
    #[serde(default)]
    pub training_job_arn: Option<String>,
    /// InProgress, Completed, Failed, Stopping, Stopped.
    pub training_job_status: String,
    /// The finer-grained status, e.g. `MaxRuntimeExceeded`.
    #[serde(default)]
    pub secondary_status: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// Job tags (project, trigger, dataset) when SageMaker includes them.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}
