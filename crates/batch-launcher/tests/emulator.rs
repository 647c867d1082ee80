//! batch-launcher against the emulator: an upload runs the serving version's model, joined input and output, once
//! per upload; a serving version rejected since, or nothing serving, runs nothing and says so; other keys are
//! not batch input.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sagemaker::types::{ContainerDefinition, JoinSource, ModelApprovalStatus, SplitType};
use batch_launcher::{BatchLauncher, Config, Outcome};
use guardrails_core::aws_events::ObjectCreatedDetail;
use guardrails_core::function::Function;
use guardrails_core::serving::{Reason, SERVING_VERSION, Serving, ServingRecord};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, ObjectRef, aws};
use serde_json::json;
use testkit::{KmsBucket, TopicProbe, emulator, fixture, unique_name};

struct World {
    sagemaker: aws_sdk_sagemaker::Client,
    state: StateStore,
    group: String,
    topic: TopicProbe,
    launcher: BatchLauncher,
    /// The `project` tag, which names the jobs: one per test (the emulator is shared).
    project: String,
}

impl World {
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        let bucket = KmsBucket::create(&sdk, "state").await;
        let topic = TopicProbe::create(&sdk).await;
        let group = unique_name("tickets");
        let project = unique_name("proj");
        let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
        sagemaker
            .create_model_package_group()
            .model_package_group_name(&group)
            .send()
            .await
            .unwrap();
        let config = Config::from_env(&Env::from_pairs([
            ("NOTICE_TOPIC_ARN", topic.topic_arn.as_str()),
            ("STATE_BUCKET", bucket.name.as_str()),
            ("MODEL_PACKAGE_GROUP", group.as_str()),
            ("OUTPUT_URI", "s3://artifacts/batch-output/"),
            ("KMS_KEY_ID", "alias/mlops-guardrails"),
            ("PROJECT", project.as_str()),
        ]))
        .unwrap();
        let launcher = BatchLauncher::from_sdk(&sdk, config).unwrap();
        let state = StateStore::new(aws::s3_client(&sdk), &bucket.name);
        World {
            sagemaker,
            state,
            group,
            topic,
            launcher,
            project,
        }
    }

    /// Version `n` registered `status`, its model made, and made the serving record as deploy would.
    async fn serving(&self, status: ModelApprovalStatus) -> ServingRecord {
        let sdk = emulator().sdk_config().await;
        let package = testkit::register_package(
            &sdk,
            &self.group,
            status,
            "s3://artifacts/models/train-2/output/model.tar.gz",
            &BTreeMap::<String, String>::new(),
        )
        .await;
        let model_name = unique_name("tickets-v2");
        self.sagemaker
            .create_model()
            .model_name(&model_name)
            .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker")
            .containers(
                ContainerDefinition::builder()
                    .model_package_name(&package)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let record = ServingRecord {
            serving_version: SERVING_VERSION,
            group: self.group.clone(),
            package_arn: package,
            training_job: "train-2".to_owned(),
            lineage: ObjectRef::new("state", "lineage/train-2.json"),
            lineage_sha256: "00".repeat(32),
            model_name,
            baseline: None,
            approved_by: "model-gate".to_owned(),
            since: chrono::Utc::now(),
            reason: Reason::Release,
            previous: None,
        };
        Serving::new(self.state.clone())
            .replace(None, record.clone())
            .await
            .unwrap();
        record
    }

    async fn uploaded(&self, key: &str, version: &str) -> Outcome {
        let mut event = fixture("eventbridge-s3-batch-input.json");
        event["detail"]["object"]["key"] = json!(key);
        event["detail"]["object"]["version-id"] = json!(version);
        let event: EventBridgeEvent<ObjectCreatedDetail> = serde_json::from_value(event).unwrap();
        self.launcher.handle(event.detail).await.unwrap()
    }
}

#[tokio::test]
async fn an_upload_runs_the_serving_model_once_with_input_and_output_joined() {
    let w = World::new().await;
    let serving = w.serving(ModelApprovalStatus::Approved).await;
    let key = "batch-input/2026-12-02/tickets+del+d%C3%ADa.jsonl";
    let outcome = w.uploaded(key, "v1").await;
    let Outcome::Started {
        job,
        model,
        package,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        (model, package),
        (&serving.model_name, &serving.package_arn)
    );
    let described = w
        .sagemaker
        .describe_transform_job()
        .transform_job_name(job)
        .send()
        .await
        .unwrap();
    assert_eq!(described.model_name(), Some(serving.model_name.as_str()));
    let input = described.transform_input().unwrap();
    assert_eq!(
        input
            .data_source()
            .and_then(|d| d.s3_data_source())
            .and_then(|s| s.s3_uri()),
        Some(
            "s3://mlops-guardrails-artifacts-123456789012/batch-input/2026-12-02/tickets del día.jsonl"
        )
    );
    assert_eq!(input.split_type(), Some(&SplitType::Line));
    let joined = described.data_processing().unwrap();
    assert_eq!(joined.join_source(), Some(&JoinSource::Input));
    let output = described.transform_output().unwrap();
    assert_eq!(
        output.s3_output_path(),
        Some(format!("s3://artifacts/batch-output/{job}/").as_str())
    );
    assert_eq!(output.kms_key_id(), Some("alias/mlops-guardrails"));

    // Delivered again: the same job, none other.
    assert_eq!(
        w.uploaded(key, "v1").await,
        Outcome::AlreadyStarted { job: job.clone() }
    );
    // The same key uploaded again (a new version) is a new batch.
    let again = w.uploaded(key, "v2").await;
    assert!(
        matches!(&again, Outcome::Started { job: other, .. } if other != job),
        "{again:?}"
    );
}

#[tokio::test]
async fn nothing_serving_or_a_version_rejected_since_runs_nothing_and_says_so() {
    let w = World::new().await;
    let outcome = w.uploaded("batch-input/a.jsonl", "v1").await;
    assert!(
        matches!(&outcome, Outcome::Refused { reason, .. } if reason.contains("nothing serves")),
        "{outcome:?}"
    );
    w.serving(ModelApprovalStatus::Rejected).await;
    let outcome = w.uploaded("batch-input/b.jsonl", "v1").await;
    assert!(
        matches!(&outcome, Outcome::Refused { reason, .. } if reason.contains("is Rejected now")),
        "{outcome:?}"
    );
    let notices = w.topic.notices(2, Duration::from_secs(10)).await;
    let kinds: Vec<_> = notices
        .iter()
        .map(|n| n["MessageAttributes"]["kind"]["Value"].clone())
        .collect();
    assert_eq!(kinds, [json!("batch-refused"), json!("batch-refused")]);
    let listed = w.sagemaker.list_transform_jobs().send().await.unwrap();
    assert!(
        listed.transform_job_summaries().iter().all(|j| !j
            .transform_job_name()
            .unwrap_or_default()
            .starts_with(&w.project)),
        "no job started"
    );

    let outcome = w.uploaded("batch-output/job/a.jsonl.out", "v1").await;
    assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");
}
