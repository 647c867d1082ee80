//! inference-monitor against the emulator's S3: a baseline from Dataset Validated, then a batch whose label mix
//! shifted, measured from the transform job's completion; the EMF documents carry the expected figures.

#![allow(clippy::unwrap_used)]

use aws_lambda_events::eventbridge::EventBridgeEvent;
use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use guardrails_core::{Env, aws, telemetry};
use inference_monitor::stats::Defect;
use inference_monitor::{Config, InferenceMonitor, Outcome, STAGE};
use serde_json::{Value, json};
use testkit::{KmsBucket, emf_documents, emulator, unique_name};

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

#[tokio::test]
async fn a_shifted_label_mix_is_measured_against_the_training_baseline() {
    let collector = telemetry::init_metrics("MlopsGuardrails", STAGE).unwrap();
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "artifacts").await;
    let model = unique_name("tickets");
    let monitor = InferenceMonitor::new(
        aws::s3_client(&sdk),
        Config::from_env(&Env::from_pairs([
            ("EVENT_BUS_NAME", "unused"),
            ("TRAINING_DATASET", "tickets"),
            ("STATE_BUCKET", bucket.name.as_str()),
            ("MODEL_NAME", model.as_str()),
        ]))
        .unwrap(),
    );

    // The training data: an even mix, in two validated datasets (the second one delivered twice).
    let mut validated = fixture("dataset-validated.json");
    validated["detail"]["labelCounts"] =
        json!({"facturacion": 125, "soporte": 125, "ventas": 125, "Otros": 125});
    monitor.handle(event(validated.clone())).await.unwrap();
    validated["id"] = json!("second-dataset");
    let baseline = monitor.handle(event(validated.clone())).await.unwrap();
    let again = monitor.handle(event(validated)).await.unwrap();
    let even: BTreeMap<String, u64> = ["Otros", "facturacion", "soporte", "ventas"]
        .into_iter()
        .map(|l| (l.to_owned(), 250))
        .collect();
    assert_eq!(baseline, Outcome::BaselineUpdated { label_counts: even });
    assert!(matches!(again, Outcome::Ignored { .. }), "{again:?}");

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
    let outcome = monitor.handle(event(completed)).await.unwrap();
    let Outcome::Monitored {
        files,
        summary,
        label_psi,
        batch_seconds,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
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

    // What CloudWatch would get, in the EMF log lines.
    let documents = emf_documents(collector);
    let ours: Vec<&Value> = documents
        .iter()
        .filter(|d| d["Model"] == json!(model))
        .collect();
    let value = |name: &str| {
        ours.iter()
            .find_map(|d| d.get(name).and_then(Value::as_f64))
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
}

#[tokio::test]
async fn one_output_file_from_an_upload_event_and_without_a_baseline() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "artifacts").await;
    let monitor = InferenceMonitor::new(
        aws::s3_client(&sdk),
        Config::from_env(&Env::from_pairs([
            ("EVENT_BUS_NAME", "unused"),
            ("TRAINING_DATASET", "tickets"),
            ("STATE_BUCKET", bucket.name.as_str()),
        ]))
        .unwrap(),
    );
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

fn monitor_on(sdk: &aws::SdkConfig, bucket: &str) -> InferenceMonitor {
    InferenceMonitor::new(
        aws::s3_client(sdk),
        Config::from_env(&Env::from_pairs([
            ("EVENT_BUS_NAME", "unused"),
            ("TRAINING_DATASET", "tickets"),
            ("STATE_BUCKET", bucket),
        ]))
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_validated_datasets_are_all_counted_in_the_baseline() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let monitor = std::sync::Arc::new(monitor_on(&sdk, &bucket.name));
    let mut deliveries = tokio::task::JoinSet::new();
    for n in 0..8 {
        let monitor = std::sync::Arc::clone(&monitor);
        let mut validated = fixture("dataset-validated.json");
        validated["id"] = json!(format!("dataset-{n}"));
        validated["detail"]["labelCounts"] = json!({"soporte": 10, "ventas": 1});
        deliveries.spawn(async move { monitor.handle(event(validated)).await });
    }
    for outcome in deliveries.join_all().await {
        assert!(
            matches!(outcome, Ok(Outcome::BaselineUpdated { .. })),
            "{outcome:?}"
        );
    }
    let stored = testkit::object_bytes(
        &aws::s3_client(&sdk),
        &bucket.name,
        "inference-monitor/baseline.json",
    )
    .await;
    let baseline: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(
        baseline["labelCounts"],
        json!({"soporte": 80, "ventas": 8}),
        "none lost"
    );
    assert_eq!(baseline["eventIds"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn an_unreadable_baseline_is_an_error_and_is_not_replaced() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let s3 = aws::s3_client(&sdk);
    s3.put_object()
        .bucket(&bucket.name)
        .key("inference-monitor/baseline.json")
        .body(ByteStream::from_static(b"{\"labelCounts\": {\"soporte\": "))
        .send()
        .await
        .unwrap();
    let monitor = monitor_on(&sdk, &bucket.name);

    let error = monitor
        .handle(event(fixture("dataset-validated.json")))
        .await
        .unwrap_err();
    let error = guardrails_core::HandlerError::from(error);
    assert_eq!(error.class, guardrails_core::ErrorClass::NonRetryable);
    assert!(error.message.contains("unreadable"), "{}", error.message);
    let body = testkit::object_bytes(&s3, &bucket.name, "inference-monitor/baseline.json").await;
    assert_eq!(
        body, b"{\"labelCounts\": {\"soporte\": ",
        "left for a person"
    );
}

/// The EventBridge event in a sample, as Lambda hands it over.
fn event(value: serde_json::Value) -> EventBridgeEvent<serde_json::Value> {
    serde_json::from_value(value).unwrap()
}
