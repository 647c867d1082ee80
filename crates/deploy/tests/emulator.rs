//! deploy against the emulator: an approved version whose lineage verifies serves, with the version before it
//! named; one a person approved serves with that person named; a tampered or unapproved one is refused with a
//! critical notice and what serves is unchanged; one no longer Approved is ignored.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use deploy::{Config, Deploy, Outcome};
use guardrails_core::function::Function;
use guardrails_core::lineage::{self, Approval, Lineage};
use guardrails_core::serving::Serving;
use guardrails_core::state::StateStore;
use guardrails_core::{Env, aws};
use serde_json::{Value, json};
use testkit::{KmsBucket, TopicProbe, emulator, fixture, unique_name};

struct World {
    sdk: aws::SdkConfig,
    state: StateStore,
    key: String,
    group: String,
    topic: TopicProbe,
    deploy: Deploy,
}

impl World {
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        let bucket = KmsBucket::create(&sdk, "state").await;
        let key = testkit::signing_key(&sdk).await;
        let topic = TopicProbe::create(&sdk).await;
        let group = unique_name("tickets");
        aws_sdk_sagemaker::Client::new(&sdk)
            .create_model_package_group()
            .model_package_group_name(&group)
            .send()
            .await
            .unwrap();
        let config = Config::from_env(&Env::from_pairs([
            ("NOTICE_TOPIC_ARN", topic.topic_arn.as_str()),
            ("STATE_BUCKET", bucket.name.as_str()),
            ("MODEL_PACKAGE_GROUP", group.as_str()),
            ("LINEAGE_KEY_ID", key.as_str()),
        ]))
        .unwrap();
        let deploy = Deploy::from_sdk(&sdk, config).unwrap();
        let state = StateStore::new(aws::s3_client(&sdk), &bucket.name);
        World {
            sdk,
            state,
            key,
            group,
            topic,
            deploy,
        }
    }

    fn lineage(&self) -> Lineage {
        Lineage::from_sdk(
            &self.sdk,
            self.state.clone(),
            &self.key,
            lineage::DEFAULT_PREFIX,
        )
    }

    /// A version trained by `job`, the gate's `decision` in its signed lineage record, registered `status`.
    async fn version(&self, job: &str, decision: &str, status: ModelApprovalStatus) -> String {
        let mut record = testkit::lineage_record(job);
        record.training.model_data_url = format!("s3://artifacts/models/{job}/output/model.tar.gz");
        record.verdict.decision = decision.to_owned();
        record.baseline = None;
        let signed = self.lineage().record(&record).await.unwrap();
        let metadata = BTreeMap::from([
            (lineage::PACKAGE_RECORD.to_owned(), signed.record.uri()),
            (lineage::PACKAGE_DIGEST.to_owned(), signed.sha256),
            (lineage::PACKAGE_JOB.to_owned(), job.to_owned()),
        ]);
        let model = record.training.model_data_url.clone();
        testkit::register_package(&self.sdk, &self.group, status, &model, &metadata).await
    }

    async fn approved(&self, package: &str, job: &str) -> Outcome {
        let mut event = fixture("model-approved.json");
        event["detail"]["modelPackageGroup"] = json!(self.group);
        event["detail"]["packageArn"] = json!(package);
        event["detail"]["trainingJob"] = json!(job);
        let event: EventBridgeEvent<Value> = serde_json::from_value(event).unwrap();
        self.deploy.handle(event).await.unwrap()
    }

    async fn serving(&self) -> Option<String> {
        Serving::new(self.state.clone())
            .current(&self.group)
            .await
            .unwrap()
            .map(|s| s.package_arn)
    }
}

#[tokio::test]
async fn approved_versions_serve_in_turn_and_a_person_is_named() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    let outcome = w.approved(&v1, "train-1").await;
    assert_eq!(
        outcome,
        Outcome::Deployed {
            package: v1.clone(),
            approved_by: "model-gate".to_owned(),
            previous: None
        }
    );
    assert_eq!(w.serving().await.as_deref(), Some(v1.as_str()));

    // Held by the gate, approved by a person, whose approval model-gate signed.
    let v2 = w
        .version(
            "train-2",
            "PendingManualApproval",
            ModelApprovalStatus::Approved,
        )
        .await;
    w.lineage()
        .record_approval(&Approval {
            schema_version: lineage::SCHEMA_VERSION,
            package_arn: v2.clone(),
            training_job: "train-2".to_owned(),
            lineage_sha256: "00".repeat(32),
            gate_decision: "PendingManualApproval".to_owned(),
            approved_by: "ana".to_owned(),
            approved_at: chrono::Utc::now(),
            description: None,
        })
        .await
        .unwrap();
    let outcome = w.approved(&v2, "train-2").await;
    assert_eq!(
        outcome,
        Outcome::Deployed {
            package: v2.clone(),
            approved_by: "ana".to_owned(),
            previous: Some(v1.clone())
        }
    );
    assert_eq!(w.serving().await.as_deref(), Some(v2.as_str()));
    let notices = w.topic.notices(2, std::time::Duration::from_secs(10)).await;
    let kinds: Vec<&Value> = notices
        .iter()
        .map(|n| &n["MessageAttributes"]["kind"]["Value"])
        .collect();
    assert_eq!(kinds, [&json!("model-deployed"), &json!("model-deployed")]);
}

#[tokio::test]
async fn a_tampered_or_unapproved_version_is_refused_and_what_serves_is_unchanged() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    w.approved(&v1, "train-1").await;

    // Held for a person, yet Approved in the registry with no signed approval.
    let v2 = w
        .version(
            "train-2",
            "PendingManualApproval",
            ModelApprovalStatus::Approved,
        )
        .await;
    let outcome = w.approved(&v2, "train-2").await;
    assert!(
        matches!(&outcome, Outcome::Refused { reason, .. } if reason.contains("no signed approval")),
        "{outcome:?}"
    );
    // Its lineage record altered after it was signed.
    let v3 = w
        .version("train-3", "Approved", ModelApprovalStatus::Approved)
        .await;
    let key = "lineage/train-3.json";
    let mut bytes = w.state.read_bytes(key).await.unwrap().unwrap();
    bytes[12] ^= 1;
    aws::s3_client(&w.sdk)
        .put_object()
        .bucket(w.state.bucket())
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    let outcome = w.approved(&v3, "train-3").await;
    assert!(
        matches!(&outcome, Outcome::Refused { reason, .. } if reason.contains("does not verify")),
        "{outcome:?}"
    );
    // No longer Approved when the event arrives.
    let v4 = w
        .version("train-4", "Approved", ModelApprovalStatus::Rejected)
        .await;
    let outcome = w.approved(&v4, "train-4").await;
    assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");

    assert_eq!(w.serving().await.as_deref(), Some(v1.as_str()), "unchanged");
    let notices = w.topic.notices(3, std::time::Duration::from_secs(10)).await;
    let refused: Vec<&Value> = notices
        .iter()
        .filter(|n| n["MessageAttributes"]["kind"]["Value"] == "deploy-refused")
        .collect();
    assert_eq!(refused.len(), 2, "{notices:?}");
    assert_eq!(
        refused[0]["MessageAttributes"]["severity"]["Value"],
        "critical"
    );
}
