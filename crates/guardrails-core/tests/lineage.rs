//! Lineage records on the emulator: signed with a real KMS ECDSA P-256 key, verified against the digest a model
//! package names; one byte changed, a swapped signature or another package's digest fail.

#![allow(clippy::unwrap_used)]

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use guardrails_core::lineage::{Lineage, LineageError};
use guardrails_core::state::StateStore;
use guardrails_core::{Classify, ErrorClass, ObjectRef, aws};
use testkit::{KmsBucket, emulator, lineage_record};

#[tokio::test]
async fn a_signed_record_verifies_and_any_change_to_it_does_not() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let s3 = aws::s3_client(&sdk);
    let state = StateStore::new(s3.clone(), &bucket.name);
    let lineage = Lineage::new(state.clone(), kms.clone(), &key_id, "lineage/");

    let stored = lineage.record(&lineage_record("job-1")).await.unwrap();
    assert_eq!(
        stored.record,
        ObjectRef::new(&bucket.name, "lineage/job-1.json")
    );
    let verified = lineage
        .verify("lineage/job-1.json", &stored.sha256)
        .await
        .unwrap();
    assert_eq!(verified, lineage_record("job-1"));

    // A retry for the same job keeps the first record, whatever it is asked to write now.
    let mut later = lineage_record("job-1");
    later.verdict.decision = "Rejected".to_owned();
    assert_eq!(lineage.record(&later).await.unwrap(), stored);

    // Another package's digest does not verify this record.
    let other = lineage.record(&lineage_record("job-2")).await.unwrap();
    let swapped = lineage
        .verify("lineage/job-1.json", &other.sha256)
        .await
        .unwrap_err();
    assert!(matches!(swapped, LineageError::Invalid(_)), "{swapped}");

    // One byte of the record changed (by someone able to write the bucket): refused, never retried.
    let mut bytes = state
        .read_bytes("lineage/job-1.json")
        .await
        .unwrap()
        .unwrap();
    let at = bytes.iter().position(|b| *b == b'3').unwrap();
    bytes[at] = b'9';
    s3.put_object()
        .bucket(&bucket.name)
        .key("lineage/job-1.json")
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    let tampered = lineage
        .verify("lineage/job-1.json", &stored.sha256)
        .await
        .unwrap_err();
    assert!(matches!(tampered, LineageError::Invalid(_)), "{tampered}");
    assert_eq!(tampered.class(), ErrorClass::NonRetryable);

    // A record rewritten whole with a digest to match, but signed by no one: KMS refuses the signature.
    let forged = state
        .read_bytes("lineage/job-2.json")
        .await
        .unwrap()
        .unwrap();
    let forged_digest = guardrails_core::lineage::sha256_hex(&forged);
    let mut signature: serde_json::Value = state
        .read::<serde_json::Value>("lineage/job-1.sig.json")
        .await
        .unwrap()
        .unwrap()
        .value;
    signature["sha256"] = forged_digest.clone().into();
    s3.put_object()
        .bucket(&bucket.name)
        .key("lineage/job-1.json")
        .body(forged.into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket.name)
        .key("lineage/job-1.sig.json")
        .body(signature.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    let unsigned = lineage
        .verify("lineage/job-1.json", &forged_digest)
        .await
        .unwrap_err();
    assert!(matches!(unsigned, LineageError::Invalid(_)), "{unsigned}");

    // No record at all is missing, not valid.
    let missing = lineage
        .verify("lineage/job-3.json", &stored.sha256)
        .await
        .unwrap_err();
    assert!(matches!(missing, LineageError::Missing(_)), "{missing}");
}

#[tokio::test]
async fn a_record_stored_by_an_attempt_that_died_before_signing_is_the_one_signed() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let state = StateStore::new(aws::s3_client(&sdk), &bucket.name);
    let lineage = Lineage::from_sdk(
        &sdk,
        state.clone(),
        testkit::signing_key(&sdk).await,
        "lineage/",
    );
    // The first attempt stored its record, then died: no signature.
    let first = lineage_record("job-1");
    let stored_bytes = serde_json::to_vec_pretty(&first).unwrap();
    assert!(
        state
            .create_bytes("lineage/job-1.json", stored_bytes)
            .await
            .unwrap()
    );

    // The retry composes a different record (another time, say); the stored one is signed and stays.
    let mut retry = lineage_record("job-1");
    retry.recorded_at = "2026-12-01T11:00:00Z".parse().unwrap();
    let stored = lineage.record(&retry).await.unwrap();
    let verified = lineage
        .verify("lineage/job-1.json", &stored.sha256)
        .await
        .unwrap();
    assert_eq!(verified, first);
}
