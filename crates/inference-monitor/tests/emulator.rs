//! inference-monitor against the emulator: the serving version's baseline (model-gate's, named in its package),
//! then a batch whose label mix shifted, measured from the transform job's completion; the EMF documents carry
//! the expected figures. A newer approved version brings its own baseline; an altered one is refused.

#![allow(clippy::unwrap_used)]

mod common;

use common::{event, group, monitor_on, register, trained};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use guardrails_core::{aws, telemetry};
use inference_monitor::{Outcome, STAGE};
use serde_json::{Value, json};
use testkit::{KmsBucket, emf_documents, emulator, unique_name};
use text_monitor::batch::Defect;

use testkit::fixture;

/// 1,000 predictions: half "Otros" (confidence 0.40), then facturacion 300 (0.90), soporte 150 (0.80), ventas 50
/// (0.95); and 3 bad lines.
fn shifted_output() -> String {
    let mut lines = Vec::new();
    for (label, n, confidence) in [
        ("Otros", 500, 0.40),
        ("facturacion", 300, 0.90),
        ("soporte", 150, 0.80),
        ("ventas", 50, 0.95),
    ] {
        for _ in 0..n {
            lines.push(json!({"label": label, "confidence": confidence}).to_string());
        }
    }
    lines.push("{not json".into());
    lines.push(r#"{"label": "ventas"}"#.into());
    lines.push(r#"{"probabilities": {"ventas": 0.9, "soporte": 0.9}}"#.into());
    lines.join("\n") + "\n"
}

const EVEN: [(&str, u64); 4] = [
    ("Otros", 250),
    ("facturacion", 250),
    ("soporte", 250),
    ("ventas", 250),
];

#[tokio::test]
async fn a_shifted_label_mix_is_measured_against_the_serving_versions_baseline() {
    let collector = telemetry::init_metrics("MlopsGuardrails", STAGE).unwrap();
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "artifacts").await;
    let model = unique_name("tickets");
    let group = group(&sdk).await;
    let key = testkit::signing_key(&sdk).await;
    let monitor = monitor_on(&sdk, &bucket.name, &group, &key, Some(&model));

    // The serving version trained on an even mix; a newer one, not approved, on exactly the batch's mix.
    let even = trained(&sdk, &bucket.name, &key, "train-1", &EVEN).await;
    let serving = register(
        &sdk,
        &group,
        ModelApprovalStatus::Approved,
        "train-1",
        &even,
    )
    .await;
    let shifted = [
        ("Otros", 500),
        ("facturacion", 300),
        ("soporte", 150),
        ("ventas", 50),
    ];
    let held = trained(&sdk, &bucket.name, &key, "train-2", &shifted).await;
    let newer = register(
        &sdk,
        &group,
        ModelApprovalStatus::PendingManualApproval,
        "train-2",
        &held,
    )
    .await;

    // The batch's output, and its completion event pointing at it.
    let s3 = aws::s3_client(&sdk);
    for (key, body) in [
        (
            "batch-output/2026-11-21/part-0001.jsonl.out",
            shifted_output(),
        ),
        ("batch-output/2026-11-21/_SUCCESS", String::new()),
    ] {
        s3.put_object()
            .bucket(&bucket.name)
            .key(key)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .unwrap();
    }
    let mut completed = fixture("sagemaker-transform-job-completed.json");
    completed["detail"]["TransformOutput"]["S3OutputPath"] =
        json!(format!("s3://{}/batch-output/2026-11-21/", bucket.name));
    let outcome = monitor.handle(event(completed.clone())).await.unwrap();
    let Outcome::Monitored {
        files,
        summary,
        label_psi,
        input_drift,
        batch_seconds,
        baseline_of,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(baseline_of.as_deref(), Some(serving.as_str()));
    assert_eq!(files.len(), 1, "only the .out file: {files:?}");
    assert_eq!(summary.predictions, 1000);
    assert_eq!(summary.defects[&Defect::Malformed], 1);
    assert_eq!(summary.defects[&Defect::MissingConfidence], 1);
    assert_eq!(summary.defects[&Defect::ProbabilitiesNotSummingToOne], 1);
    assert_eq!(summary.other_pct, Some(50.0));
    assert_eq!(summary.low_confidence_pct, Some(50.0));
    let avg = (500.0 * 0.40 + 300.0 * 0.90 + 150.0 * 0.80 + 50.0 * 0.95) / 1000.0;
    assert!((summary.avg_confidence.unwrap() - avg).abs() < 1e-9);
    assert!((summary.p10_confidence.unwrap() - 0.40).abs() <= 0.001);
    // PSI by hand: Σ (a − 0.25)·ln(a / 0.25) over a = 0.5, 0.3, 0.15, 0.05.
    let expected: f64 = [0.5f64, 0.3, 0.15, 0.05]
        .iter()
        .map(|a| (a - 0.25) * (a / 0.25).ln())
        .sum();
    let psi = label_psi.unwrap();
    assert!((psi - expected).abs() < 1e-9, "{psi} vs {expected}");
    assert!(psi > 0.2, "a significant shift: {psi}");
    assert_eq!(batch_seconds, Some(663.0));
    assert!(input_drift.is_empty(), "answers alone carry no text");

    // What CloudWatch would get, in the EMF log lines.
    let documents = emf_documents(collector);
    let ours: Vec<&Value> = documents
        .iter()
        .filter(|d| d["Model"] == json!(model))
        .collect();
    // A batch's values are sent once, as EMF value lists; its counters as numbers.
    let value = |name: &str| {
        ours.iter()
            .find_map(|d| match d.get(name)? {
                Value::Array(values) => values.first().and_then(Value::as_f64),
                other => other.as_f64(),
            })
            .unwrap_or_else(|| panic!("no {name} in {ours:?}"))
    };
    assert!((value("LabelPSI") - expected).abs() < 1e-9);
    assert_eq!(value("OtherPct"), 50.0);
    assert_eq!(value("LowConfidencePct"), 50.0);
    assert_eq!(value("BatchSeconds"), 663.0);
    assert!((value("AvgConfidence") - avg).abs() < 1e-9);
    assert_eq!(value("Predictions"), 1000.0);
    assert_eq!(value("BadPredictions"), 3.0);
    assert_eq!(ours[0]["Stage"], STAGE);

    // The next batch of the same version is compared with the baseline verified for the first: read once per
    // container, not per batch (gone from the bucket now, it is not read again).
    aws::s3_client(&sdk)
        .delete_object()
        .bucket(&bucket.name)
        .key("baselines/train-1.json")
        .send()
        .await
        .unwrap();
    let Outcome::Monitored {
        label_psi: again, ..
    } = monitor.handle(event(completed.clone())).await.unwrap()
    else {
        panic!("not monitored");
    };
    assert_eq!(again, Some(psi));

    // Once the newer version is approved, it serves, and the batch is compared with its own baseline. (The
    // metadata is sent again because the emulator's UpdateModelPackage replaces it; SageMaker keeps it.)
    let mut approve = aws_sdk_sagemaker::Client::new(&sdk)
        .update_model_package()
        .model_package_arn(&newer)
        .model_approval_status(ModelApprovalStatus::Approved);
    for (key, value) in &held {
        approve = approve.customer_metadata_properties(key, value);
    }
    approve.send().await.unwrap();
    let Outcome::Monitored {
        label_psi,
        baseline_of,
        ..
    } = monitor.handle(event(completed)).await.unwrap()
    else {
        panic!("not monitored");
    };
    assert_eq!(baseline_of.as_deref(), Some(newer.as_str()));
    assert!(label_psi.unwrap().abs() < 1e-9, "{label_psi:?}");
}

#[tokio::test]
async fn one_output_file_from_an_upload_event_and_without_a_baseline() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "artifacts").await;
    let group = group(&sdk).await;
    // The serving version was registered before baselines were kept: no LabelPSI, the rest measured.
    register(
        &sdk,
        &group,
        ModelApprovalStatus::Approved,
        "train-0",
        &BTreeMap::new(),
    )
    .await;
    let key = testkit::signing_key(&sdk).await;
    let monitor = monitor_on(&sdk, &bucket.name, &group, &key, None);
    let key = "batch-output/2026-11-22/lote de prueba.jsonl.out";
    aws::s3_client(&sdk)
        .put_object()
        .bucket(&bucket.name)
        .key(key)
        .body(ByteStream::from_static(
            b"{\"probabilities\": {\"ventas\": 0.2, \"Otros\": 0.8}}\n\n{\"label\": \"ventas\", \"confidence\": 0.3}\n",
        ))
        .send()
        .await
        .unwrap();
    let mut created = fixture("eventbridge-s3-object-created.json");
    created["detail"]["bucket"]["name"] = json!(bucket.name);
    created["detail"]["object"]["key"] = json!("batch-output/2026-11-22/lote+de+prueba.jsonl.out");
    let outcome = monitor.handle(event(created.clone())).await.unwrap();
    let Outcome::Monitored {
        summary,
        label_psi,
        batch_seconds,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(summary.predictions, 2, "the blank line is skipped");
    assert_eq!(summary.other_pct, Some(50.0));
    assert_eq!(
        (label_psi, batch_seconds),
        (None, None),
        "no baseline, no job times"
    );

    created["detail"]["object"]["key"] = json!("batch-input/2026-11-22/lote.jsonl");
    let ignored = monitor.handle(event(created)).await.unwrap();
    assert!(matches!(ignored, Outcome::Ignored { .. }), "{ignored:?}");
}

/// A batch output file in `bucket`, and its S3 "Object Created" event.
async fn one_output_file(sdk: &aws::SdkConfig, bucket: &str) -> EventBridgeEvent<Value> {
    let output = "batch-output/2026-11-23/a.jsonl.out";
    aws::s3_client(sdk)
        .put_object()
        .bucket(bucket)
        .key(output)
        .body(ByteStream::from_static(
            b"{\"label\": \"ventas\", \"confidence\": 0.9}\n",
        ))
        .send()
        .await
        .unwrap();
    let mut created = fixture("eventbridge-s3-object-created.json");
    created["detail"]["bucket"]["name"] = json!(bucket);
    created["detail"]["object"]["key"] = json!(output);
    event(created)
}

#[tokio::test]
async fn an_altered_baseline_or_borrowed_lineage_is_refused_not_compared_with() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let key = testkit::signing_key(&sdk).await;

    // A serving version whose baseline changed after it was signed.
    let group_a = group(&sdk).await;
    let metadata = trained(&sdk, &bucket.name, &key, "train-9", &EVEN).await;
    register(
        &sdk,
        &group_a,
        ModelApprovalStatus::Approved,
        "train-9",
        &metadata,
    )
    .await;
    let s3 = aws::s3_client(&sdk);
    let baseline_key = "baselines/train-9.json";
    let mut body = testkit::object_bytes(&s3, &bucket.name, baseline_key).await;
    let at = body.len() / 2;
    body[at] = if body[at] == b'1' { b'2' } else { b'1' };
    s3.put_object()
        .bucket(&bucket.name)
        .key(baseline_key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
    let error = monitor_on(&sdk, &bucket.name, &group_a, &key, None)
        .handle(one_output_file(&sdk, &bucket.name).await)
        .await
        .unwrap_err();
    let error = guardrails_core::HandlerError::from(error);
    assert_eq!(error.class, guardrails_core::ErrorClass::NonRetryable);
    assert!(error.message.contains("SHA-256"), "{}", error.message);

    // A serving version that copied another version's metadata (its lineage, digest and job) to borrow its
    // baseline: the record is of another model than the package serves.
    let group_b = group(&sdk).await;
    let other = trained(&sdk, &bucket.name, &key, "train-10", &EVEN).await;
    register(
        &sdk,
        &group_b,
        ModelApprovalStatus::Approved,
        "train-11",
        &other,
    )
    .await;
    let error = monitor_on(&sdk, &bucket.name, &group_b, &key, None)
        .handle(one_output_file(&sdk, &bucket.name).await)
        .await
        .unwrap_err();
    let error = guardrails_core::HandlerError::from(error);
    assert_eq!(error.class, guardrails_core::ErrorClass::NonRetryable);
    assert!(error.message.contains("train-10 made"), "{}", error.message);
}
