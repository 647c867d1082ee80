//! What the model-gate tests share: a finished job (from `aws-smithy-mocks`), the run it trained on (pinned in
//! the emulator's state bucket), the registry's groups and packages, and a gate over them.

#![allow(dead_code, clippy::unwrap_used)]

use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, TrainingJobStatus};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use guardrails_core::lineage::Lineage;
use guardrails_core::state::StateStore;
use guardrails_core::{Env, aws};
use model_gate::registry::Registry;
use model_gate::{Config, GateRequest, ModelGate};
use serde_json::json;
use testkit::{emulator, unique_name};

pub const JOB: &str = "tickets-classifier-20261121021410-ab12cd";
/// The state bucket of these tests, and the run the job trained on (its manifest and pins, as trigger-training
/// leaves them).
pub const STATE: &str = "model-gate-tests-state";
pub const RUN: &str = "data-run-1";

/// The finished job of these tests, trained on the run's pinned manifest.
pub fn job(status: TrainingJobStatus, metrics: &[(&str, f32)]) -> DescribeTrainingJobOutput {
    let manifest = format!("s3://{STATE}/manifests/{RUN}.manifest");
    testkit::training_job(JOB, status, Some(&manifest), metrics)
}

pub const GOOD: [(&str, f32); 4] = [
    ("validation:weighted_f1", 0.87),
    ("validation:accuracy", 0.88),
    ("train:weighted_f1", 0.90),
    ("epoch", 3.0),
];

/// A gate whose jobs come from `described` and whose registry is the emulator's.
pub async fn gate(described: DescribeTrainingJobOutput, auto_approve: &str) -> ModelGate {
    let sdk = emulator().sdk_config().await;
    let rule = mock!(aws_sdk_sagemaker::Client::describe_training_job)
        .then_output(move || described.clone());
    let jobs = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&rule]);
    let key = testkit::signing_key(&sdk).await;
    let s3 = aws::s3_client(&sdk);
    // Created once per process (creating an owned bucket again is a no-op in us-east-1).
    s3.create_bucket().bucket(STATE).send().await.unwrap();
    let pins = json!({"execution": RUN, "dataset": "tickets", "until": "2026-11-21T02:14:10Z",
        "entries": [{"id": "u1", "time": "2026-11-21T01:00:00Z", "dataset": "tickets", "rows": 1200,
            "copy": {"object": {"bucket": "ingested", "key": "tickets/0123456789abcdef/a.csv", "versionId": "v1"},
                     "bytes": 4096, "sha256": "c2hh", "contract": {"name": "tickets-v1", "version": 1}}}]});
    testkit::pinned_run(
        &sdk,
        STATE,
        RUN,
        &pins,
        "s3://ingested/tickets/",
        &["0123456789abcdef/a.csv"],
    )
    .await;
    let prefix = format!("{}/", unique_name("lineage"));
    let config = Config::from_env(&Env::from_pairs([
        ("EVENT_BUS_NAME", "unused"),
        ("AUTO_APPROVE", auto_approve),
        ("STATE_BUCKET", STATE),
        ("LINEAGE_KEY_ID", key.as_str()),
        ("LINEAGE_PREFIX", prefix.as_str()),
    ]))
    .unwrap();
    let state = StateStore::new(s3, STATE);
    ModelGate::new(
        Registry::with_clients(jobs, aws_sdk_sagemaker::Client::new(&sdk)),
        Lineage::from_sdk(&sdk, state.clone(), &key, &prefix),
        state,
        config,
    )
}

/// A group on the emulator with packages of (approval status, recorded F1), oldest first.
pub async fn group(packages: &[(ModelApprovalStatus, &str)]) -> (String, Vec<String>) {
    let sm = aws_sdk_sagemaker::Client::new(&emulator().sdk_config().await);
    let name = unique_name("tickets");
    sm.create_model_package_group()
        .model_package_group_name(&name)
        .send()
        .await
        .unwrap();
    let mut arns = Vec::new();
    for (status, f1) in packages {
        let f1 = std::collections::BTreeMap::from([(
            "validation:weighted_f1".to_owned(),
            (*f1).to_owned(),
        )]);
        arns.push(register_as(&name, status.clone(), &f1).await);
    }
    (name, arns)
}

/// An Approved package of `group` with `metadata`, as the workflow's Register step creates it.
pub async fn register(
    group: &str,
    metadata: &std::collections::BTreeMap<String, String>,
) -> String {
    register_as(group, ModelApprovalStatus::Approved, metadata).await
}

/// A package of `group` with `status` and `metadata`.
pub async fn register_as(
    group: &str,
    status: ModelApprovalStatus,
    metadata: &std::collections::BTreeMap<String, String>,
) -> String {
    let model = format!("s3://artifacts/models/{JOB}/output/model.tar.gz");
    testkit::register_package(
        &emulator().sdk_config().await,
        group,
        status,
        &model,
        metadata,
    )
    .await
}

pub fn request(group: &str) -> GateRequest {
    serde_json::from_value(json!({
        "training_job_arn": format!("arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}"),
        "model_package_group": group,
        "inference_image": testkit::PACKAGE_IMAGE,
    }))
    .unwrap()
}
