//! The state discipline against the emulator's S3, through the real SDK: claims under concurrency, resuming
//! after a failure, a lapsed claim taken over, conditional updates that lose nothing, unreadable documents left
//! alone.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use guardrails_core::aws;
use guardrails_core::state::{Begin, Change, StateError, StateStore};
use serde::{Deserialize, Serialize};
use testkit::{KmsBucket, emulator};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Step {
    Notify,
    Announce,
}

const LEASE: Duration = Duration::from_secs(300);

async fn store() -> StateStore {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    StateStore::new(aws::s3_client(&sdk), bucket.name)
}

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error("the effect failed")]
    Effect,
    #[error(transparent)]
    State(#[from] StateError),
}

#[tokio::test]
async fn concurrent_deliveries_claim_once_and_a_finished_job_is_not_redone() {
    let store = store().await;
    let now = Utc::now();
    let (a, b) = tokio::join!(
        store.begin::<Step, String>("job.json", "a".into(), now, LEASE),
        store.begin::<Step, String>("job.json", "b".into(), now, LEASE),
    );
    let (claim, other) = match (a, b) {
        (Ok(Begin::Claimed(claim)), other) | (other, Ok(Begin::Claimed(claim))) => (claim, other),
        (a, b) => panic!("no delivery claimed the job: {a:?} {b:?}"),
    };
    assert!(
        matches!(other, Err(StateError::Busy { .. })),
        "the other delivery must find the claim held: {other:?}"
    );
    assert!(!claim.resumed());
    let job = claim.finish().await.unwrap();
    assert!(job.finished);

    let again = store
        .begin::<Step, String>("job.json", "c".into(), Utc::now(), LEASE)
        .await
        .unwrap();
    assert!(matches!(again, Begin::Finished(_)), "{again:?}");
}

#[tokio::test]
async fn a_retry_after_a_failure_does_only_the_effects_not_recorded() {
    let store = store().await;
    let notified = AtomicUsize::new(0);
    let announced = AtomicUsize::new(0);
    let attempt = async |fail_announce: bool| -> Result<bool, TestError> {
        let mut claim = match store
            .begin::<Step, ()>("resume.json", (), Utc::now(), LEASE)
            .await?
        {
            Begin::Finished(_) => return Ok(false),
            Begin::Claimed(claim) => claim,
        };
        let result = async {
            claim
                .step(Step::Notify, async || {
                    notified.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), TestError>(())
                })
                .await?;
            claim
                .step(Step::Announce, async || {
                    announced.fetch_add(1, Ordering::SeqCst);
                    if fail_announce {
                        Err(TestError::Effect)
                    } else {
                        Ok(())
                    }
                })
                .await?;
            Ok::<(), TestError>(())
        }
        .await;
        claim.conclude(result).await.map(|()| true)
    };

    assert!(matches!(attempt(true).await, Err(TestError::Effect)));
    // Released on failure: the retry resumes at once, without waiting for the lease.
    assert!(attempt(false).await.unwrap());
    assert!(!attempt(false).await.unwrap(), "finished: nothing more");

    assert_eq!(
        notified.load(Ordering::SeqCst),
        1,
        "recorded effects are not redone"
    );
    assert_eq!(
        announced.load(Ordering::SeqCst),
        2,
        "the failed effect is retried once"
    );
}

#[tokio::test]
async fn a_lapsed_claim_is_taken_over_and_its_old_holder_can_no_longer_record() {
    let store = store().await;
    let start = Utc::now();
    let Begin::Claimed(mut stale) = store
        .begin::<Step, ()>("lapsed.json", (), start, Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("first claim");
    };
    let still_held = store
        .begin::<Step, ()>(
            "lapsed.json",
            (),
            start + chrono::Duration::seconds(30),
            LEASE,
        )
        .await;
    assert!(matches!(still_held, Err(StateError::Busy { .. })));

    let later = start + chrono::Duration::seconds(61);
    let Begin::Claimed(fresh) = store
        .begin::<Step, ()>("lapsed.json", (), later, LEASE)
        .await
        .unwrap()
    else {
        panic!("a lapsed claim is free");
    };
    assert!(fresh.resumed());
    let error = stale.record(Step::Notify).await.unwrap_err();
    assert!(matches!(error, StateError::Conflict { .. }), "{error}");
    fresh.finish().await.unwrap();
}

#[tokio::test]
async fn concurrent_updates_are_all_kept() {
    let store = store().await;
    let mut updates = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = store.clone();
        updates.spawn(async move {
            store
                .update::<u64, _>("counter.json", |current| {
                    Change::Write(current.copied().unwrap_or(0) + 1)
                })
                .await
        });
    }
    for result in updates.join_all().await {
        result.unwrap();
    }
    let stored = store.read::<u64>("counter.json").await.unwrap().unwrap();
    assert_eq!(stored.value, 6, "no update lost");
}

#[tokio::test]
async fn an_unreadable_document_is_an_error_and_is_not_overwritten() {
    let store = store().await;
    store
        .client()
        .put_object()
        .bucket(store.bucket())
        .key("baseline.json")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"{\"labelCounts\": ",
        ))
        .send()
        .await
        .unwrap();

    let read = store.read::<serde_json::Value>("baseline.json").await;
    assert!(matches!(read, Err(StateError::Corrupt { .. })), "{read:?}");
    let update = store
        .update::<u64, _>("baseline.json", |_| Change::Write(1))
        .await;
    assert!(
        matches!(update, Err(StateError::Corrupt { .. })),
        "{update:?}"
    );
    let body = testkit::object_bytes(store.client(), store.bucket(), "baseline.json").await;
    assert_eq!(body, b"{\"labelCounts\": ", "left as it was");
}
