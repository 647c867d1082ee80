//! Resources that tests create on the emulator, and probes that read back what was really published.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::unique_name;

/// An S3 bucket whose default encryption is SSE-KMS with its own customer managed key, as in production.
#[derive(Debug, Clone)]
pub struct KmsBucket {
    /// Bucket name.
    pub name: String,
    /// ARN of the KMS key the bucket encrypts with.
    pub key_arn: String,
}

impl KmsBucket {
    /// Creates a uniquely named bucket (name starts with `prefix`) and its KMS key.
    pub async fn create(sdk: &SdkConfig, prefix: &str) -> Self {
        let key = aws_sdk_kms::Client::new(sdk)
            .create_key()
            .description(format!("test key for {prefix}"))
            .send()
            .await
            .expect("create KMS key");
        let key_arn = key
            .key_metadata()
            .and_then(|m| m.arn())
            .expect("KMS key ARN")
            .to_owned();
        let name = unique_name(prefix);
        let s3 = guardrails_core::aws::s3_client(sdk);
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        encrypt_with_kms(&s3, &name, &key_arn, true)
            .await
            .expect("put bucket encryption");
        KmsBucket { name, key_arn }
    }

    /// Hardens the bucket as the project's template makes one: all four public access blocks, a TLS-only deny,
    /// versioning (its KMS default encryption it already has).
    pub async fn harden(&self, sdk: &SdkConfig) {
        let s3 = guardrails_core::aws::s3_client(sdk);
        let name = &self.name;
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .expect("put public access block");
        let tls_only = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "TlsOnly",
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        s3.put_bucket_policy()
            .bucket(name)
            .policy(tls_only.to_string())
            .send()
            .await
            .expect("put bucket policy");
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("put bucket versioning");
    }
}

/// A KMS key that signs, as the template's lineage key (`ECC_NIST_P256`, `SIGN_VERIFY`); its id.
pub async fn signing_key(sdk: &SdkConfig) -> String {
    aws_sdk_kms::Client::new(sdk)
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .expect("create signing key")
        .key_metadata()
        .expect("key metadata")
        .key_id()
        .to_owned()
}

/// Puts a run as trigger-training pins it in `bucket`: `<execution>.pins.json` (`pins`, JSON) and the SageMaker
/// manifest listing `keys` under `data_uri`, both under `manifests/`. Returns the manifest's `s3://` URI.
pub async fn pinned_run(
    sdk: &SdkConfig,
    bucket: &str,
    execution: &str,
    pins: &serde_json::Value,
    data_uri: &str,
    keys: &[&str],
) -> String {
    let s3 = guardrails_core::aws::s3_client(sdk);
    let mut manifest = vec![serde_json::json!({ "prefix": data_uri })];
    manifest.extend(keys.iter().map(|k| serde_json::json!(k)));
    for (key, body) in [
        (format!("manifests/{execution}.pins.json"), pins.to_string()),
        (
            format!("manifests/{execution}.manifest"),
            serde_json::Value::Array(manifest).to_string(),
        ),
    ] {
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }
    format!("s3://{bucket}/manifests/{execution}.manifest")
}

/// Sets a bucket's default encryption to SSE-KMS with `key_arn` (and S3 bucket keys when `bucket_key`).
///
/// # Errors
/// The SDK error, with its context.
pub async fn encrypt_with_kms(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key_arn: &str,
    bucket_key: bool,
) -> Result<(), String> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key_arn)
        .build()
        .map_err(|e| e.to_string())?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .bucket_key_enabled(bucket_key)
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

/// An SNS topic subscribed by an SQS queue: what the code publishes to the topic can be read from the queue.
#[derive(Debug, Clone)]
pub struct TopicProbe {
    /// The topic to hand to the code under test.
    pub topic_arn: String,
    /// The subscribed queue.
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl TopicProbe {
    /// Creates a uniquely named topic and queue and subscribes the queue (SNS envelope kept, so message
    /// attributes can be asserted).
    pub async fn create(sdk: &SdkConfig) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let (queue_url, queue_arn) = create_queue(&sqs, "notices").await;
        let sns = aws_sdk_sns::Client::new(sdk);
        let topic_arn = sns
            .create_topic()
            .name(unique_name("topic"))
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .expect("topic ARN")
            .to_owned();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe queue to topic");
        TopicProbe {
            topic_arn,
            queue_url,
            sqs,
        }
    }

    /// A queue subscribed to an existing topic, with `filter_policy` on the message attributes when given: what
    /// a subscriber with that policy receives.
    pub async fn attach(sdk: &SdkConfig, topic_arn: &str, filter_policy: Option<&str>) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let (queue_url, queue_arn) = create_queue(&sqs, "subscriber").await;
        let mut subscribe = aws_sdk_sns::Client::new(sdk)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn);
        if let Some(policy) = filter_policy {
            subscribe = subscribe
                .attributes("FilterPolicyScope", "MessageAttributes")
                .attributes("FilterPolicy", policy);
        }
        subscribe.send().await.expect("subscribe queue to topic");
        TopicProbe {
            topic_arn: topic_arn.to_owned(),
            queue_url,
            sqs,
        }
    }

    /// The SNS envelopes (`Subject`, `Message`, `MessageAttributes` …) received within `timeout`, returning
    /// early once `at_least` arrived. Pass a short timeout and expect none to assert that nothing was sent.
    pub async fn notices(&self, at_least: usize, timeout: Duration) -> Vec<Value> {
        drain_queue(&self.sqs, &self.queue_url, at_least, timeout)
            .await
            .iter()
            .map(|body| serde_json::from_str(body).expect("SNS envelope is JSON"))
            .collect()
    }
}

/// A custom EventBridge bus with one rule (the given pattern) targeting an SQS queue, so a test sees exactly the
/// events that the pattern matches.
#[derive(Debug, Clone)]
pub struct BusProbe {
    /// The bus to hand to the code under test.
    pub bus_name: String,
    /// The rule on that bus.
    pub rule_name: String,
    /// The rule's target queue.
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl BusProbe {
    /// Creates a uniquely named bus, a rule with `pattern` and its SQS target.
    pub async fn create(sdk: &SdkConfig, pattern: &Value) -> Self {
        let bus_name = unique_name("bus");
        let events = aws_sdk_eventbridge::Client::new(sdk);
        events
            .create_event_bus()
            .name(&bus_name)
            .send()
            .await
            .expect("create event bus");
        Self::on_bus(sdk, &bus_name, pattern).await
    }

    /// Adds a rule with `pattern` and an SQS target to an existing bus.
    pub async fn on_bus(sdk: &SdkConfig, bus_name: &str, pattern: &Value) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let (queue_url, queue_arn) = create_queue(&sqs, "bus-target").await;
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let rule_name = unique_name("rule");
        events
            .put_rule()
            .name(&rule_name)
            .event_bus_name(bus_name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("put rule");
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("probe")
            .arn(queue_arn)
            .build()
            .expect("target");
        let put = events
            .put_targets()
            .rule(&rule_name)
            .event_bus_name(bus_name)
            .targets(target)
            .send()
            .await
            .expect("put targets");
        assert_eq!(put.failed_entry_count(), 0, "put targets: {put:?}");
        BusProbe {
            bus_name: bus_name.to_owned(),
            rule_name,
            queue_url,
            sqs,
        }
    }

    /// The full EventBridge events (`source`, `detail-type`, `detail` …) the rule delivered within `timeout`,
    /// returning early once `at_least` arrived.
    pub async fn events(&self, at_least: usize, timeout: Duration) -> Vec<Value> {
        drain_queue(&self.sqs, &self.queue_url, at_least, timeout)
            .await
            .iter()
            .map(|body| serde_json::from_str(body).expect("EventBridge event is JSON"))
            .collect()
    }
}

/// Receives and deletes message bodies from a queue until `at_least` arrived or `timeout` passed.
pub async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    at_least: usize,
    timeout: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut bodies = Vec::new();
    while bodies.len() < at_least && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive message");
        for message in out.messages() {
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete message");
            }
            bodies.extend(message.body().map(str::to_owned));
        }
    }
    bodies
}

/// The bytes of `s3://bucket/key`, for asserting on what an object holds.
///
/// # Panics
/// When the object cannot be read, naming it.
pub async fn object_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
    object
        .body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e}"))
        .into_bytes()
        .to_vec()
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> (String, String) {
    queue_with_arn(sqs, &unique_name(prefix), None)
        .await
        .expect("create queue")
}

/// Creates (or finds) the queue `name`, with `visibility_seconds` when given, and returns its URL and ARN.
///
/// # Errors
/// The SDK error, with its context.
pub async fn queue_with_arn(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility_seconds: Option<u64>,
) -> Result<(String, String), String> {
    let context = |e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string();
    let mut create = sqs.create_queue().queue_name(name);
    if let Some(seconds) = visibility_seconds {
        create = create.attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string());
    }
    let url = create
        .send()
        .await
        .map_err(context)?
        .queue_url()
        .ok_or_else(|| format!("no URL for queue {name}"))?
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .ok_or_else(|| format!("no ARN for queue {name}"))?
        .to_owned();
    Ok((url, arn))
}

/// The inference image of the packages [`register_package`] makes, which [`lineage_record`] pins: in the
/// emulator's registry, so a test that deploys pushes and scans it first ([`crate::scanned_image`]).
pub const PACKAGE_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-serve:1";

/// A lineage record as model-gate writes one, for job `job`: the tests that sign, verify and validate records.
pub fn lineage_record(job: &str) -> guardrails_core::lineage::LineageRecord {
    use guardrails_core::lineage::{Data, LineageRecord, Training, Verdict, sha256_hex};
    let mut pins = guardrails_core::ObjectRef::new("state", "manifests/data-1.pins.json");
    pins.version_id = Some("v1".to_owned());
    LineageRecord {
        schema_version: 1,
        recorded_at: "2026-12-01T10:00:00Z".parse().expect("a time"),
        training: Training {
            job_name: job.to_owned(),
            job_arn: Some(format!(
                "arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}"
            )),
            image: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-train:1".to_owned()),
            hyperparameters: [("epochs".to_owned(), "3".to_owned())].into(),
            instance_type: Some("ml.g5.xlarge".to_owned()),
            instance_count: Some(1),
            spot: true,
            model_data_url: format!("s3://artifacts/models/{job}/output/model.tar.gz"),
            inference_image: Some(PACKAGE_IMAGE.to_owned()),
        },
        data: Data {
            manifest: guardrails_core::ObjectRef::new("state", "manifests/data-1.manifest"),
            manifest_sha256: sha256_hex(b"manifest"),
            pins,
            pins_sha256: sha256_hex(b"pins"),
            files: 2,
            rows: 2000,
            contracts: vec![guardrails_core::domain::ContractRef {
                name: Some("tickets-v1".to_owned()),
                version: 1,
            }],
        },
        verdict: Verdict {
            decision: "Approved".to_owned(),
            reasons: Vec::new(),
            metrics: [("validation:weighted_f1".to_owned(), 0.87)].into(),
            champion: None,
        },
        baseline: Some(guardrails_core::baseline::BaselineRef {
            object: guardrails_core::ObjectRef::new("state", format!("baselines/{job}.json")),
            sha256: sha256_hex(b"baseline"),
        }),
    }
}

/// A version of model package `group` with `status` and customer `metadata`, serving `model_data_url` (one
/// inference container the registry accepts); returns its ARN.
pub async fn register_package<'m>(
    sdk: &SdkConfig,
    group: &str,
    status: aws_sdk_sagemaker::types::ModelApprovalStatus,
    model_data_url: &str,
    metadata: impl IntoIterator<Item = (&'m String, &'m String)>,
) -> String {
    use aws_sdk_sagemaker::types::{InferenceSpecification, ModelPackageContainerDefinition};
    let container = ModelPackageContainerDefinition::builder()
        .image(PACKAGE_IMAGE)
        .model_data_url(model_data_url)
        .build();
    let mut create = aws_sdk_sagemaker::Client::new(sdk)
        .create_model_package()
        .model_package_group_name(group)
        .model_approval_status(status)
        .inference_specification(
            InferenceSpecification::builder()
                .containers(container)
                .supported_content_types("application/jsonlines")
                .supported_response_mime_types("application/jsonlines")
                .build(),
        );
    for (key, value) in metadata {
        create = create.customer_metadata_properties(key, value);
    }
    let created = create.send().await.expect("the registry takes the package");
    created
        .model_package_arn()
        .expect("a package ARN")
        .to_owned()
}

/// A training job `name` as DescribeTrainingJob reports it: with `status`, its training channel the pinned manifest
/// at `manifest` (none: a job that read something else), trained from 1,795,000,000 s for 2,400 s, its artifacts
/// at `s3://artifacts/models/<name>/output/model.tar.gz`, and these final `metrics`.
pub fn training_job(
    name: &str,
    status: aws_sdk_sagemaker::types::TrainingJobStatus,
    manifest: Option<&str>,
    metrics: &[(&str, f32)],
) -> aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput {
    use aws_sdk_sagemaker::primitives::DateTime;
    use aws_sdk_sagemaker::types::{
        Channel, DataSource, MetricData, ModelArtifacts, S3DataSource, S3DataType,
    };
    let channels: Vec<Channel> = manifest
        .map(|uri| {
            let source = S3DataSource::builder()
                .s3_data_type(S3DataType::ManifestFile)
                .s3_uri(uri)
                .build();
            Channel::builder()
                .channel_name("train")
                .data_source(DataSource::builder().s3_data_source(source).build())
                .build()
        })
        .into_iter()
        .collect();
    let mut out =
        aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput::builder()
            .training_job_name(name)
            .training_job_status(status)
            .set_input_data_config(Some(channels))
            .training_start_time(DateTime::from_secs(1_795_000_000))
            .training_end_time(DateTime::from_secs(1_795_002_400))
            .model_artifacts(
                ModelArtifacts::builder()
                    .s3_model_artifacts(format!("s3://artifacts/models/{name}/output/model.tar.gz"))
                    .build(),
            );
    for (metric, value) in metrics {
        out = out.final_metric_data_list(
            MetricData::builder()
                .metric_name(*metric)
                .value(*value)
                .timestamp(DateTime::from_secs(1_795_002_400))
                .build(),
        );
    }
    out.build()
}

/// The Lambda event SNS delivers to a function subscribed to a topic, for one envelope as an SQS subscriber
/// receives it (a [`TopicProbe`] notice): the same message, subject, attributes and ids.
pub fn sns_event(envelope: &Value, subscription_arn: &str) -> Value {
    serde_json::json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": envelope,
        }]
    })
}
