//! What the emulator tests share: a model package group, versions with signed lineage and a baseline as
//! model-gate leaves them, the function over the emulator.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use dataset_check::Profile;
use guardrails_core::baseline::{self, Baseline, Baselines, Summary};
use guardrails_core::lineage::{self, Lineage};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, aws};
use inference_monitor::{Config, InferenceMonitor};
use testkit::unique_name;

/// The model artifacts `job` made.
pub fn model_of(job: &str) -> String {
    format!("s3://artifacts/models/{job}/output/model.tar.gz")
}

/// What model-gate leaves for a version trained by `job` on data of these `labels`: its baseline and its signed
/// lineage record naming it, in the state bucket; returns the package metadata naming the record.
pub async fn trained(
    sdk: &aws::SdkConfig,
    state: &str,
    key: &str,
    job: &str,
    labels: &[(&str, u64)],
) -> BTreeMap<String, String> {
    let mut profile = Profile::empty();
    profile.labels = labels.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect();
    profile.texts = labels.iter().map(|(_, n)| n).sum();
    trained_on(sdk, state, key, job, profile).await
}

/// The same for a version whose training data had this `profile` (its record's validation weighted F1 is 0.87).
pub async fn trained_on(
    sdk: &aws::SdkConfig,
    state: &str,
    key: &str,
    job: &str,
    profile: Profile,
) -> BTreeMap<String, String> {
    let store = StateStore::new(aws::s3_client(sdk), state);
    let stored = Baselines::new(store.clone())
        .store(&Baseline {
            baseline_version: baseline::BASELINE_VERSION,
            training_job: job.to_owned(),
            dataset: "tickets".to_owned(),
            files: 1,
            unprofiled: Vec::new(),
            summary: Summary::of(&profile),
            profile,
        })
        .await
        .unwrap();
    let mut record = testkit::lineage_record(job);
    record.training.model_data_url = model_of(job);
    record.baseline = Some(stored);
    let signed = Lineage::from_sdk(sdk, store, key, lineage::DEFAULT_PREFIX)
        .record(&record)
        .await
        .unwrap();
    BTreeMap::from([
        (lineage::PACKAGE_RECORD.to_owned(), signed.record.uri()),
        (lineage::PACKAGE_DIGEST.to_owned(), signed.sha256),
        (lineage::PACKAGE_JOB.to_owned(), job.to_owned()),
    ])
}

/// A model package group on the emulator.
pub async fn group(sdk: &aws::SdkConfig) -> String {
    let name = unique_name("tickets");
    aws_sdk_sagemaker::Client::new(sdk)
        .create_model_package_group()
        .model_package_group_name(&name)
        .send()
        .await
        .unwrap();
    name
}

/// A version of `group` serving `job`'s model, with `metadata`; returns its ARN.
pub async fn register(
    sdk: &aws::SdkConfig,
    group: &str,
    status: ModelApprovalStatus,
    job: &str,
    metadata: &BTreeMap<String, String>,
) -> String {
    testkit::register_package(sdk, group, status, &model_of(job), metadata).await
}

/// The function on the emulator, over the state bucket `bucket`, with `extra` settings.
pub fn monitor_on(
    sdk: &aws::SdkConfig,
    bucket: &str,
    group: &str,
    key: &str,
    model: Option<&str>,
) -> InferenceMonitor {
    monitor_with(sdk, bucket, group, key, model, &[])
}

/// [`monitor_on`] with more settings.
pub fn monitor_with(
    sdk: &aws::SdkConfig,
    bucket: &str,
    group: &str,
    key: &str,
    model: Option<&str>,
    extra: &[(&str, &str)],
) -> InferenceMonitor {
    let mut env = vec![
        ("EVENT_BUS_NAME", "unused"),
        ("STATE_BUCKET", bucket),
        ("MODEL_PACKAGE_GROUP", group),
        ("LINEAGE_KEY_ID", key),
    ];
    env.extend(model.map(|m| ("MODEL_NAME", m)));
    env.extend(extra.iter().copied());
    let config = Config::from_env(&Env::from_pairs(env)).unwrap();
    let state = StateStore::new(aws::s3_client(sdk), bucket);
    InferenceMonitor::new(
        aws::s3_client(sdk),
        aws_sdk_sagemaker::Client::new(sdk),
        aws_sdk_sfn::Client::new(sdk),
        Lineage::from_sdk(sdk, state, key, &config.lineage_prefix),
        config,
    )
}

/// The EventBridge event in a sample, as Lambda hands it over.
pub fn event(value: serde_json::Value) -> EventBridgeEvent<serde_json::Value> {
    serde_json::from_value(value).unwrap()
}
