//! model-gate with the model registry on the emulator and the training job from `aws-smithy-mocks` (the emulator
//! completes every job at once, with a fixed metric, and never reports InProgress or Failed).

#![allow(clippy::unwrap_used)]

use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, TrainingJobStatus};
use guardrails_core::lineage::Lineage;
use guardrails_core::{Classify, ErrorClass, aws, telemetry};
use model_gate::approval::ApprovalOutcome;
use model_gate::verdict::Decision;
use model_gate::{GateError, GateEvent, STAGE};
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

/// The registry's state change of `package` in `group`, as EventBridge delivers it to model-gate.
fn package_changed(
    group: &str,
    package: &str,
) -> aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> {
    let mut event = testkit::fixture("sagemaker-model-package-approved.json");
    event["detail"]["ModelPackageGroupName"] = json!(group);
    event["detail"]["ModelPackageArn"] = json!(package);
    match serde_json::from_value(event).unwrap() {
        GateEvent::PackageChanged(event) => event,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_persons_approval_is_signed_beside_the_lineage_once() {
    let (group, _) = group(&[]).await;
    let gate = gate(job(TrainingJobStatus::Completed, &GOOD), "false").await;
    let verdict = gate.handle(request(&group)).await.unwrap();
    assert_eq!(verdict.decision, Decision::PendingManualApproval);
    let package = register_as(
        &group,
        ModelApprovalStatus::PendingManualApproval,
        &verdict.metadata,
    )
    .await;
    let lineage = gate.lineage_store();

    // Still pending: nothing to record.
    let outcome = gate
        .approved(package_changed(&group, &package))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, ApprovalOutcome::Ignored { reason } if reason.contains("PendingManualApproval")),
        "{outcome:?}"
    );
    assert!(lineage.approvals(JOB).await.unwrap().is_empty());

    // A person approves (the metadata is sent again: the emulator's UpdateModelPackage replaces it).
    let mut approve = aws_sdk_sagemaker::Client::new(&emulator().sdk_config().await)
        .update_model_package()
        .model_package_arn(&package)
        .model_approval_status(ModelApprovalStatus::Approved)
        .approval_description("Reviewed by the ML lead.");
    for (key, value) in &verdict.metadata {
        approve = approve.customer_metadata_properties(key, value);
    }
    approve.send().await.unwrap();
    let outcome = gate
        .approved(package_changed(&group, &package))
        .await
        .unwrap();
    assert!(
        matches!(outcome, ApprovalOutcome::Recorded { .. }),
        "{outcome:?}"
    );
    // Delivered again (or the package edited while Approved): nothing more is signed.
    let again = gate
        .approved(package_changed(&group, &package))
        .await
        .unwrap();
    assert!(
        matches!(&again, ApprovalOutcome::Ignored { reason } if reason.contains("approved before")),
        "{again:?}"
    );
    let approvals = lineage.approvals(JOB).await.unwrap();
    assert_eq!(
        approvals.len(),
        1,
        "a redelivered event is one approval: {approvals:?}"
    );
    let approval = &approvals[0];
    assert_eq!(approval.package_arn, package);
    assert_eq!(approval.gate_decision, "PendingManualApproval");
    assert_eq!(
        approval.lineage_sha256,
        verdict.metadata[guardrails_core::lineage::PACKAGE_DIGEST]
    );
    assert_eq!(
        approval.description.as_deref(),
        Some("Reviewed by the ML lead.")
    );
    assert_eq!(
        approval.approved_by, "arn:aws:sts::123456789012:assumed-role/MLEngineer/ana.garcia",
        "who approved is the event's account, not the registry's last editor"
    );

    // An approval record with a byte changed no longer verifies.
    let s3 = aws::s3_client(&emulator().sdk_config().await);
    let key = format!("{}{}.json", lineage.prefix(), approval.name());
    let mut bytes = testkit::object_bytes(&s3, STATE, &key).await;
    bytes[5] ^= 1;
    s3.put_object()
        .bucket(STATE)
        .key(&key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    let error = lineage.approvals(JOB).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable, "{error}");

    // Another kind of event is refused, not ignored.
    let mut other = package_changed(&group, &package);
    other.detail_type = "SageMaker Endpoint State Change".to_owned();
    let error = gate.approved(other).await.unwrap_err();
    assert!(matches!(error, GateError::BadRequest(_)), "{error}");
}

#[tokio::test]
async fn an_approved_package_without_lineage_or_with_an_altered_one_gets_no_approval_record() {
    let (group, arns) = group(&[(ModelApprovalStatus::Approved, "0.80")]).await;
    let gate = gate(job(TrainingJobStatus::Completed, &GOOD), "true").await;
    let outcome = gate
        .approved(package_changed(&group, &arns[0]))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, ApprovalOutcome::Ignored { reason } if reason.contains("not registered by the training workflow")),
        "{outcome:?}"
    );
    let genuine = gate.handle(request(&group)).await.unwrap().metadata;
    let mut metadata = genuine.clone();
    metadata.insert(
        guardrails_core::lineage::PACKAGE_DIGEST.to_owned(),
        guardrails_core::lineage::sha256_hex(b"another record"),
    );
    let package = register(&group, &metadata).await;
    let error = gate
        .approved(package_changed(&group, &package))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable, "{error}");
    assert!(error.to_string().contains("does not verify"), "{error}");

    // The genuine metadata on a package that serves another model: refused, not signed as that job's approval.
    let sdk = emulator().sdk_config().await;
    let borrowed = testkit::register_package(
        &sdk,
        &group,
        ModelApprovalStatus::Approved,
        "s3://elsewhere/model.tar.gz",
        &genuine,
    )
    .await;
    let error = gate
        .approved(package_changed(&group, &borrowed))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable, "{error}");
    assert!(
        error.to_string().contains("s3://elsewhere/model.tar.gz"),
        "{error}"
    );
    let (ok, _, stderr) = lineage_cli(&borrowed, gate.lineage_store());
    assert!(!ok && stderr.contains("NOT verified"), "{stderr}");
}

#[tokio::test]
async fn an_approved_package_of_a_job_the_gate_rejected_is_not_signed() {
    let (group, _) = group(&[(ModelApprovalStatus::Approved, "0.95")]).await;
    let poor = [
        ("validation:weighted_f1", 0.70),
        ("validation:accuracy", 0.72),
        ("train:weighted_f1", 0.71),
    ];
    let gate = gate(job(TrainingJobStatus::Completed, &poor), "true").await;
    let verdict = gate.handle(request(&group)).await.unwrap();
    assert_eq!(verdict.decision, Decision::Rejected, "{verdict:?}");
    // Someone registers it Approved by hand, with the gate's own metadata.
    let package = register(&group, &verdict.metadata).await;
    let error = gate
        .approved(package_changed(&group, &package))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable, "{error}");
    assert!(error.to_string().contains("the gate rejected"), "{error}");
}
