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

/// `detail` of SageMaker's "SageMaker Transform Job State Change" event (the fields the project reads; the
/// event carries the whole DescribeTransformJob response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformJobStateChange {
    /// Job name.
    pub transform_job_name: String,
    /// `InProgress`, `Completed`, `Failed`, `Stopping` or `Stopped`.
    pub transform_job_status: String,
    /// Where the output went.
    #[serde(default)]
    pub transform_output: Option<TransformOutput>,
    /// Start, epoch milliseconds.
    #[serde(default)]
    pub transform_start_time: Option<EpochMillis>,
    /// End, epoch milliseconds.
    #[serde(default)]
    pub transform_end_time: Option<EpochMillis>,
    /// The job's tags (batch-launcher's name the model package that runs: `model-package`, `group/version`).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

impl TransformJobStateChange {
    /// The event's `detail-type`.
    pub const DETAIL_TYPE: &'static str = "SageMaker Transform Job State Change";

    /// How long the job ran, when both times are there and in order.
    pub fn seconds(&self) -> Option<f64> {
        let start = self.transform_start_time?.0;
        let end = self.transform_end_time?.0;
        (end >= start).then(|| (end - start) / 1000.0)
    }
}

/// The output of a transform job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformOutput {
    /// `s3://bucket/prefix/` of the output files.
    #[serde(rename = "S3OutputPath")]
    pub s3_output_path: String,
}

/// A time in epoch milliseconds, as SageMaker's events carry it: a number, or the same number as a string.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpochMillis(pub f64);

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(f64),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(n) => Ok(EpochMillis(n)),
            Either::Text(t) => t
                .trim()
                .parse()
                .map(EpochMillis)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_times_are_numbers_or_numeric_strings() {
        let table = [
            (
                serde_json::json!({"TransformStartTime": 1000, "TransformEndTime": 4000}),
                Some(3.0),
            ),
            (
                serde_json::json!({"TransformStartTime": "1000", "TransformEndTime": "4500"}),
                Some(3.5),
            ),
            (
                serde_json::json!({"TransformStartTime": 4000, "TransformEndTime": 1000}),
                None,
            ),
            (serde_json::json!({"TransformStartTime": 1000}), None),
        ];
        for (times, seconds) in table {
            let mut detail =
                serde_json::json!({"TransformJobName": "j", "TransformJobStatus": "Completed"});
            detail
                .as_object_mut()
                .unwrap()
                .extend(times.as_object().unwrap().clone());
            let change: TransformJobStateChange = serde_json::from_value(detail).unwrap();
            assert_eq!(change.seconds(), seconds, "{times}");
        }
        let bad = serde_json::json!({"TransformJobName": "j", "TransformJobStatus": "Completed", "TransformEndTime": "soon"});
        assert!(serde_json::from_value::<TransformJobStateChange>(bad).is_err());
    }
}

/// `detail` of SageMaker's "Model Package State Change" (sample `events/sagemaker-model-package-approved.json`), as
/// far as the guardrails read it: the package, and who changed it when, as SageMaker recorded that change. The
/// rest (status, model, metadata) is read from the registry again, since the event may be late; who and when are
/// the event's, so a later edit of the package is not taken for the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageStateChange {
    /// The package.
    #[serde(rename = "ModelPackageArn")]
    pub arn: String,
    /// Its group.
    #[serde(rename = "ModelPackageGroupName")]
    pub group: String,
    /// Who made the change.
    #[serde(default)]
    pub last_modified_by: Option<Modifier>,
    /// When.
    #[serde(default)]
    pub last_modified_time: Option<chrono::DateTime<chrono::Utc>>,
}

impl PackageStateChange {
    /// The `detail-type` SageMaker sends it with.
    pub const DETAIL_TYPE: &'static str = "SageMaker Model Package State Change";
}

/// The detail of SageMaker's "SageMaker Endpoint State Change": which endpoint. Its status in the event may be
/// older than the endpoint's (several events per change, in no guaranteed order), so the reader describes the
/// endpoint instead of trusting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointStateChange {
    /// The endpoint.
    pub endpoint_name: String,
    /// Its status as the event saw it (`IN_SERVICE`, `UPDATING`…).
    #[serde(default)]
    pub endpoint_status: Option<String>,
    /// The configuration it ran as the event saw it.
    #[serde(default)]
    pub endpoint_config_name: Option<String>,
}

impl EndpointStateChange {
    /// The `detail-type` SageMaker sends it with.
    pub const DETAIL_TYPE: &'static str = "SageMaker Endpoint State Change";
}

/// SageMaker's `UserContext`, as the event carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Modifier {
    /// The IAM identity.
    #[serde(default)]
    pub iam_identity: Option<IamIdentity>,
    /// A Studio user profile.
    #[serde(default)]
    pub user_profile_arn: Option<String>,
    /// Its name.
    #[serde(default)]
    pub user_profile_name: Option<String>,
}

/// An IAM identity in a `UserContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamIdentity {
    /// Its ARN.
    #[serde(default)]
    pub arn: Option<String>,
}

impl Modifier {
    /// The identity, most specific first.
    pub fn name(&self) -> Option<String> {
        self.iam_identity
            .as_ref()
            .and_then(|i| i.arn.clone())
            .or_else(|| self.user_profile_arn.clone())
            .or_else(|| self.user_profile_name.clone())
    }
}
