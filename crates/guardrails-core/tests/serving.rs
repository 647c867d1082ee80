//! The serving record on the emulator: the first deploy, a release that replaces it (naming the version before),
//! a deploy that decided from a record since replaced (nothing written), and each change kept in the history
//! once announced.

#![allow(clippy::unwrap_used)]

use guardrails_core::serving::{Reason, Replaced, Serving, ServingRecord};
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
        model_name: format!("tickets-{version}"),
        baseline: None,
        approved_by: "model-gate".to_owned(),
        since: since.parse().unwrap(),
        reason: Reason::Release,
        previous: None,
    }
}

#[tokio::test]
async fn what_serves_changes_only_from_the_record_the_deploy_decided_from() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let serving = Serving::new(StateStore::new(aws::s3_client(&sdk), &bucket.name));
    assert_eq!(serving.current("tickets").await.unwrap(), None);

    let Replaced::Now(first) = serving
        .replace(None, record(1, "2026-12-01T10:00:00Z"))
        .await
        .unwrap()
    else {
        panic!("the first deploy must be written");
    };
    assert_eq!(first.previous, None);
    let Replaced::Now(second) = serving
        .replace(Some(&first), record(2, "2026-12-02T10:00:00Z"))
        .await
        .unwrap()
    else {
        panic!("a deploy from the current record must be written");
    };
    assert_eq!(second.previous.as_deref(), Some(first.package_arn.as_str()));
    // A deploy that decided when nothing served, or when version 1 did, finds version 2 in place: nothing written.
    for stale in [None, Some(&first)] {
        let got = serving
            .replace(stale, record(3, "2026-12-02T11:00:00Z"))
            .await
            .unwrap();
        assert_eq!(got, Replaced::Moved(Some(second.clone())));
    }
    assert_eq!(
        serving.current("tickets").await.unwrap(),
        Some(second.clone())
    );

    assert!(!serving.announced(&second).await.unwrap());
    serving.record_announced(&first).await.unwrap();
    serving.record_announced(&second).await.unwrap();
    serving.record_announced(&second).await.unwrap();
    assert!(serving.announced(&second).await.unwrap());
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
