//! model-gate with the model registry on the emulator and the training job from `aws-smithy-mocks` (the emulator
//! completes every job at once, with a fixed metric, and never reports InProgress or Failed).

#![allow(clippy::unwrap_used)]

use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, TrainingJobStatus};
use guardrails_core::lineage::Lineage;
use guardrails_core::{Classify, ErrorClass, aws, telemetry};
use model_gate::verdict::Decision;
use model_gate::{GateError, STAGE};
use serde_json::json;
use testkit::{emf_documents, emulator};

mod common;
use common::*;

/// `lineage verify <package>` against the emulator: (exit 0, stdout, stderr).
fn lineage_cli(package: &str, lineage: &Lineage) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lineage"))
        .args(["verify", package, "--state-bucket", STATE])
        .args(["--key-id", lineage.key_id(), "--prefix", lineage.prefix()])
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn approves_against_the_newest_approved_champion_and_emits_metrics() {
    let collector = telemetry::init_metrics("MlopsGuardrails", STAGE).unwrap();
    // The newest package is only pending: the champion is the approved one before it.
    let (group, arns) = group(&[
        (ModelApprovalStatus::Approved, "0.80"),
        (ModelApprovalStatus::Approved, "0.86"),
        (ModelApprovalStatus::PendingManualApproval, "0.99"),
    ])
    .await;
    let gate = gate(job(TrainingJobStatus::Completed, &GOOD), "true").await;
    let verdict = gate.handle(request(&group)).await.unwrap();

    assert_eq!(verdict.decision, Decision::Approved, "{verdict:?}");
    assert!(verdict.reasons.is_empty());
    assert_eq!(verdict.champion_arn.as_deref(), Some(arns[1].as_str()));
    assert!(
        verdict.summary.contains("vs champion 0.8600"),
        "{}",
        verdict.summary
    );
    assert_eq!(verdict.training_job_name, JOB);
    assert!(verdict.model_data_url.ends_with("/output/model.tar.gz"));
    assert_eq!(
        verdict.metadata["validation:weighted_f1"]
            .parse::<f64>()
            .unwrap() as f32,
        0.87
    );
    assert_eq!(verdict.metadata["gate_decision"], "Approved");
    // The package will carry its lineage: where the signed record is and its digest, which verifies.
    let record = &verdict.metadata[guardrails_core::lineage::PACKAGE_RECORD];
    let digest = &verdict.metadata[guardrails_core::lineage::PACKAGE_DIGEST];
    let key = record.strip_prefix(&format!("s3://{STATE}/")).unwrap();
    let lineage = gate.lineage_store();
    let verified = lineage.verify(key, digest).await.unwrap();
    assert_eq!(verified.training.job_name, JOB);
    assert_eq!((verified.data.files, verified.data.rows), (1, 1200));
    assert_eq!(
        verified.data.contracts[0].name.as_deref(),
        Some("tickets-v1")
    );
    assert_eq!(verified.verdict.decision, "Approved");
    assert_eq!(
        verified.training.inference_image.as_deref(),
        Some(testkit::PACKAGE_IMAGE),
        "the image the workflow registers the version with is pinned"
    );

    // Registered with that metadata, the package passes the auditors' `lineage verify`; an older package without
    // lineage, or this one after a byte of its record changed, does not.
    let package = register(&group, &verdict.metadata).await;
    let (ok, stdout, stderr) = lineage_cli(&package, lineage);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(JOB) && stderr.contains("verified"),
        "{stdout}\n{stderr}"
    );
    let (ok, _, stderr) = lineage_cli(&arns[0], lineage);
    assert!(!ok && stderr.contains("NOT verified"), "{stderr}");
    let s3 = aws::s3_client(&emulator().sdk_config().await);
    let mut bytes = testkit::object_bytes(&s3, STATE, key).await;
    bytes[10] ^= 1;
    s3.put_object()
        .bucket(STATE)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    let (ok, _, stderr) = lineage_cli(&package, lineage);
    assert!(!ok && stderr.contains("does not verify"), "{stderr}");

    let documents = emf_documents(collector);
    let ours: Vec<_> = documents
        .iter()
        .filter(|d| d["ModelPackageGroup"] == json!(group))
        .collect();
    let value = |name: &str| {
        ours.iter()
            .find_map(|d| d.get(name).and_then(|v| v.as_f64()))
            .unwrap_or_else(|| panic!("no {name} in {ours:?}"))
    };
    assert!((value("F1") - 0.87).abs() < 1e-6);
    assert!((value("Accuracy") - 0.88).abs() < 1e-6);
    assert!((value("OverfitGap") - 0.03).abs() < 1e-6);
    assert_eq!(value("TrainingSeconds"), 2400.0);
    assert_eq!(value("Epochs"), 3.0);
}

#[tokio::test]
async fn worse_than_the_champion_is_rejected_and_no_champion_waits_for_a_person() {
    let (strong, arns) = group(&[(ModelApprovalStatus::Approved, "0.93")]).await;
    let gate = gate(job(TrainingJobStatus::Completed, &GOOD), "false").await;
    let rejected = gate.handle(request(&strong)).await.unwrap();
    assert_eq!(rejected.decision, Decision::Rejected);
    assert!(
        rejected.reasons[0].starts_with(&format!("worse than the champion {}", arns[0])),
        "{:?}",
        rejected.reasons
    );
    assert!(
        rejected
            .summary
            .starts_with("Rejected: worse than the champion")
    );

    let (empty, _) = group(&[]).await;
    let pending = gate.handle(request(&empty)).await.unwrap();
    assert_eq!(pending.decision, Decision::PendingManualApproval);
    assert_eq!(pending.champion_arn, None);
    assert!(
        pending.summary.contains("a person approves"),
        "{}",
        pending.summary
    );
}

#[tokio::test]
async fn unfinished_failed_and_silent_jobs() {
    let (group, _) = group(&[]).await;

    let running = gate(job(TrainingJobStatus::InProgress, &[]), "true").await;
    let error = running.handle(request(&group)).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
    assert!(error.to_string().contains("InProgress"), "{error}");

    let failed = DescribeTrainingJobOutput::builder()
        .training_job_name(JOB)
        .training_job_status(TrainingJobStatus::Failed)
        .failure_reason("CapacityError: Unable to provision requested ML compute capacity")
        .build();
    let error = gate(failed, "true")
        .await
        .handle(request(&group))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(matches!(error, GateError::Job(_)));
    assert!(error.to_string().contains("CapacityError"), "{error}");

    let silent = gate(
        job(TrainingJobStatus::Completed, &[("train:progress", 100.0)]),
        "true",
    )
    .await;
    let verdict = silent.handle(request(&group)).await.unwrap();
    assert_eq!(verdict.decision, Decision::Rejected);
    assert!(
        verdict
            .reasons
            .iter()
            .any(|r| r == "the job did not report validation:weighted_f1")
    );
}

#[tokio::test]
async fn a_job_that_did_not_train_on_a_pinned_manifest_is_not_registered() {
    let (group, _) = group(&[]).await;
    let mut prefix_job = job(TrainingJobStatus::Completed, &GOOD);
    // A job that read a prefix (not a run trigger-training pinned): its data cannot be told, so no lineage.
    prefix_job.input_data_config = Some(Vec::new());
    let gate = gate(prefix_job, "true").await;
    let error = gate.handle(request(&group)).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(error.to_string().contains("pinned manifest"), "{error}");
}
