//! The audit as a function, on the emulator: a weakness is told once as new, stays quiet while open, and is told
//! once as resolved; the ledger and each run's report are in the state bucket. This test process has its own
//! emulator, so the account holds only what this file makes.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_sdk_s3::types::{
    BucketVersioningStatus, PublicAccessBlockConfiguration, VersioningConfiguration,
};
use chrono::{DateTime, TimeDelta, Utc};
use guardrails_core::state::StateStore;
use guardrails_core::{CommonConfig, Notifier, aws};
use posture_audit::handler::LEDGER;
use posture_audit::lifecycle::Ledger;
use posture_audit::{Config, PostureAudit};
use serde_json::{Value, json};
use testkit::{KmsBucket, TopicProbe, emulator};

fn message(notice: &Value) -> Value {
    serde_json::from_str(notice["Message"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_weakness_is_told_once_as_new_and_once_as_resolved() {
    let sdk = emulator().sdk_config().await;
    let state = KmsBucket::create(&sdk, "state").await;
    let topic = TopicProbe::create(&sdk).await;
    let s3 = aws::s3_client(&sdk);
    let weak = KmsBucket::create(&sdk, "weak").await.name;
    let arn = format!("arn:aws:s3:::{weak}");
    let function = PostureAudit::new(
        sdk.clone(),
        StateStore::new(s3.clone(), &state.name),
        Notifier::from_sdk(&sdk, &topic.topic_arn),
        Config {
            common: CommonConfig {
                metrics_namespace: "GuardrailsTest".into(),
                event_bus_name: None,
                notice_topic_arn: Some(topic.topic_arn.clone()),
                state_bucket: Some(state.name.clone()),
                claim_lease: Duration::from_secs(90),
            },
            state_bucket: state.name.clone(),
            bound: Duration::from_secs(60),
        },
    );
    let t0: DateTime<Utc> = "2026-12-03T05:30:00Z".parse().unwrap();

    let first = function.run_at(t0).await.unwrap();
    assert!(first.new >= 3, "{first:?}");
    let notices = topic.notices(1, Duration::from_secs(5)).await;
    assert_eq!(notices.len(), 1, "one notice per run: {notices:?}");
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "posture-finding"
    );
    let text = message(&notices[0])["content"]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains(&format!("s3-public-access-block-off {arn}")),
        "{text}"
    );
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    let mine: Vec<_> = ledger
        .open
        .values()
        .filter(|o| o.finding.resource == arn)
        .collect();
    assert_eq!(mine.len(), 3, "{mine:?}");
    assert!(mine.iter().all(|o| o.told && o.first_seen == t0));
    let report: Value = state_json(&s3, &state.name, &first.report).await;
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["resource"] == arn)
    );

    // Still open the next day: nothing to tell.
    let second = function.run_at(t0 + TimeDelta::days(1)).await.unwrap();
    assert_eq!((second.new, second.resolved), (0, 0), "{second:?}");
    assert!(topic.notices(1, Duration::from_secs(2)).await.is_empty());

    // Fixed: told once as resolved.
    s3.put_public_access_block()
        .bucket(&weak)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(&weak)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket(&weak)
        .policy(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn.clone(), format!("{arn}/*")], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let third = function.run_at(t0 + TimeDelta::days(2)).await.unwrap();
    assert_eq!((third.new, third.resolved), (0, 3), "{third:?}");
    let resolved = topic.notices(1, Duration::from_secs(5)).await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0]["MessageAttributes"]["severity"]["Value"],
        "info"
    );
    let text = message(&resolved[0])["content"]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("3 resolved"), "{text}");
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    assert!(ledger.open.values().all(|o| o.finding.resource != arn));
    assert!(ledger.resolved.is_empty(), "told, so dropped");
}

async fn state_json<T: serde::de::DeserializeOwned>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> T {
    serde_json::from_slice(&testkit::object_bytes(s3, bucket, key).await).unwrap()
}
