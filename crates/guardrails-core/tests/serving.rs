//! The serving record on the emulator: the first deploy, a release that replaces it (naming the version before),
//! the same version deployed again (nothing changes), and the history of every change kept once.

#![allow(clippy::unwrap_used)]

use guardrails_core::serving::{Reason, Serving, ServingRecord};
use guardrails_core::state::StateStore;
use guardrails_core::{ObjectRef, aws};
use testkit::{KmsBucket, emulator};

fn record(version: u32, since: &str) -> ServingRecord {
    ServingRecord {
        serving_version: guardrails_core::serving::SERVING_VERSION,
        group: "tickets".to_owned(),
        package_arn: format!(
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets/{version}"
        ),
        training_job: format!("train-{version}"),
        lineage: ObjectRef::new("state", format!("lineage/train-{version}.json")),
        lineage_sha256: guardrails_core::lineage::sha256_hex(format!("{version}").as_bytes()),
        baseline: None,
        approved_by: "model-gate".to_owned(),
        since: since.parse().unwrap(),
        reason: Reason::Release,
        previous: None,
    }
}

#[tokio::test]
async fn each_change_of_what_serves_is_recorded_once_with_what_served_before() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let serving = Serving::new(StateStore::new(aws::s3_client(&sdk), &bucket.name));
    assert_eq!(serving.current("tickets").await.unwrap(), None);

    let first = serving
        .serve(record(1, "2026-12-01T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(first.previous, None);
    let second = serving
        .serve(record(2, "2026-12-02T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(second.previous.as_deref(), Some(first.package_arn.as_str()));
    // Version 2 deployed again (a redelivered approval): it serves since the first time, unchanged.
    let again = serving
        .serve(record(2, "2026-12-02T11:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again, second);
    assert_eq!(serving.current("tickets").await.unwrap(), Some(second));

    let listed = aws::s3_client(&sdk)
        .list_objects_v2()
        .bucket(&bucket.name)
        .prefix("serving/tickets/history/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [
            "serving/tickets/history/20261201T100000Z-1.json",
            "serving/tickets/history/20261202T100000Z-2.json"
        ]
    );
}
