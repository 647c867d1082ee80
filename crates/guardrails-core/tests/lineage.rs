//! Lineage records on the emulator: signed with a real KMS ECDSA P-256 key, verified against the digest a model
//! package names; one byte changed, a swapped signature or another package's digest fail.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use guardrails_core::domain::ContractRef;
use guardrails_core::lineage::{Data, Lineage, LineageError, LineageRecord, Training, Verdict};
use guardrails_core::state::StateStore;
use guardrails_core::{Classify, ErrorClass, ObjectRef, aws};
use testkit::{KmsBucket, emulator};

fn record(job: &str) -> LineageRecord {
    LineageRecord {
        schema_version: 1,
        recorded_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        training: Training {
            job_name: job.to_owned(),
            job_arn: Some(format!(
                "arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}"
            )),
            image: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp@sha256:00ff".to_owned()),
            hyperparameters: BTreeMap::from([("epochs".to_owned(), "3".to_owned())]),
            instance_type: Some("ml.g5.xlarge".to_owned()),
            instance_count: Some(1),
            spot: true,
            model_data_url: format!("s3://artifacts/models/{job}/output/model.tar.gz"),
        },
        data: Data {
            manifest: ObjectRef::new("state", "manifests/x.manifest"),
            manifest_sha256: "11".repeat(32),
            pins: ObjectRef::new("state", "manifests/x.pins.json"),
            pins_sha256: "22".repeat(32),
            files: 2,
            rows: 2000,
            contracts: vec![ContractRef {
                name: Some("tickets-v1".to_owned()),
                version: 1,
            }],
        },
        verdict: Verdict {
            decision: "Approved".to_owned(),
            reasons: Vec::new(),
            metrics: BTreeMap::from([("validation:weighted_f1".to_owned(), 0.87)]),
            champion: None,
        },
    }
}

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

    let stored = lineage.record(&record("job-1")).await.unwrap();
    assert_eq!(
        stored.record,
        ObjectRef::new(&bucket.name, "lineage/job-1.json")
    );
    let verified = lineage
        .verify("lineage/job-1.json", &stored.sha256)
        .await
        .unwrap();
    assert_eq!(verified, record("job-1"));

    // A retry for the same job keeps the first record, whatever it is asked to write now.
    let mut later = record("job-1");
    later.verdict.decision = "Rejected".to_owned();
    assert_eq!(lineage.record(&later).await.unwrap(), stored);

    // Another package's digest does not verify this record.
    let other = lineage.record(&record("job-2")).await.unwrap();
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
