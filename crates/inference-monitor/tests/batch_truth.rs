//! Model quality in batch serving, on the emulator: a completed batch keeps its answers by record id, and a
//! ground-truth upload joins them with the labels and judges the serving version's F1.

#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use chrono::Utc;
use common::{event, group, monitor_with, register, trained};
use guardrails_core::aws;
use inference_monitor::Outcome;
use serde_json::{Value, json};
use testkit::{KmsBucket, emulator, fixture, unique_name};

const EVEN: [(&str, u64); 4] = [
    ("Otros", 250),
    ("facturacion", 250),
    ("soporte", 250),
    ("ventas", 250),
];

/// The label the model gave record `i`.
fn answered(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "soporte"
    } else {
        "ventas"
    }
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, lines: Vec<Value>) {
    let body: Vec<String> = lines.iter().map(Value::to_string).collect();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.join("\n").into_bytes()))
        .send()
        .await
        .unwrap();
}

/// The S3 "Object Created" event of `key` in `bucket`, now.
fn created(bucket: &str, key: &str) -> Value {
    let mut created = fixture("eventbridge-s3-object-created.json");
    created["detail"]["bucket"]["name"] = json!(bucket);
    created["detail"]["object"]["key"] = json!(key);
    created["time"] = json!(Utc::now().to_rfc3339());
    created
}

#[tokio::test]
async fn ground_truth_judges_the_answers_the_serving_version_gave_in_its_batches() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "artifacts").await;
    let s3 = aws::s3_client(&sdk);
    let group = group(&sdk).await;
    let key = testkit::signing_key(&sdk).await;
    let truth_uri = format!("s3://{}/ground-truth/batch/", bucket.name);
    let monitor = monitor_with(
        &sdk,
        &bucket.name,
        &group,
        &key,
        Some(&unique_name("tickets")),
        &[("GROUND_TRUTH_URI", &truth_uri), ("MIN_LABELLED", "40")],
    );
    // Version 1 (validation F1 0.87 in its record: it must keep 0.82) serves.
    let v1 = trained(&sdk, &bucket.name, &key, "train-1", &EVEN).await;
    register(&sdk, &group, ModelApprovalStatus::Approved, "train-1", &v1).await;

    // Its batch of 60 records, each with its id, and the job's completion.
    let job = unique_name("batch");
    let output: Vec<Value> = (0..60)
        .map(|i| {
            json!({"id": format!("r-{i}"), "text": "No puedo iniciar sesión",
            "SageMakerOutput": {"label": answered(i), "confidence": 0.9}})
        })
        .collect();
    put(
        &s3,
        &bucket.name,
        &format!("batch-output/{job}/part.jsonl.out"),
        output,
    )
    .await;
    let mut completed = fixture("sagemaker-transform-job-completed.json");
    completed["detail"]["TransformJobName"] = json!(job);
    completed["detail"]["TransformOutput"]["S3OutputPath"] =
        json!(format!("s3://{}/batch-output/{job}/", bucket.name));
    completed["detail"]["TransformEndTime"] = json!(Utc::now().timestamp_millis());
    let measured = monitor.handle(event(completed.clone())).await.unwrap();
    assert!(
        matches!(measured, Outcome::Monitored { .. }),
        "{measured:?}"
    );
    // Measured again (a redelivery): the answers are kept once, nothing fails.
    monitor.handle(event(completed.clone())).await.unwrap();
    // A job another version ran (a rollback while it ran): measured, its answers not kept for version 1.
    let other = unique_name("batch");
    let wrong: Vec<Value> = (0..60)
        .map(|i| {
            json!({"id": format!("r-{i}"), "text": "Hola",
            "SageMakerOutput": {"label": "facturacion", "confidence": 0.9}})
        })
        .collect();
    put(
        &s3,
        &bucket.name,
        &format!("batch-output/{other}/part.jsonl.out"),
        wrong,
    )
    .await;
    let mut ran_by_another = completed;
    ran_by_another["detail"]["TransformJobName"] = json!(other);
    ran_by_another["detail"]["TransformOutput"]["S3OutputPath"] =
        json!(format!("s3://{}/batch-output/{other}/", bucket.name));
    ran_by_another["detail"]["Tags"]["model-package"] = json!(format!("{group}/9"));
    monitor.handle(event(ran_by_another)).await.unwrap();

    // The labels: right for the first 20 records, wrong for the other 40.
    let hour = Utc::now().format("%Y/%m/%d/%H");
    let labels: Vec<Value> = (0..60)
        .map(|i| {
            let label = if i < 20 { answered(i) } else { "facturacion" };
            json!({"id": format!("r-{i}"), "label": label})
        })
        .collect();
    let truth = format!("ground-truth/batch/{hour}/labels.jsonl");
    put(&s3, &bucket.name, &truth, labels.clone()).await;
    let judged = monitor
        .handle(event(created(&bucket.name, &truth)))
        .await
        .unwrap();
    let Outcome::Judged {
        violations, report, ..
    } = &judged
    else {
        panic!("{judged:?}");
    };
    assert_eq!(violations, &["model-quality"], "{judged:?}");
    let stored: Value = {
        let key = report.split_once(&format!("{}/", bucket.name)).unwrap().1;
        let got = s3
            .get_object()
            .bucket(&bucket.name)
            .key(key)
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap()
    };
    assert_eq!(
        stored["files"]["keptHours"], 1,
        "one batch joined, not the one another version ran: {stored}"
    );
    assert_eq!(stored["report"]["modelQuality"]["join"]["matched"], 60);

    // The same upload delivered again: its judgement's values emitted again, not judged twice.
    let again = monitor
        .handle(event(created(&bucket.name, &truth)))
        .await
        .unwrap();
    assert!(
        matches!(&again, Outcome::Ignored { reason } if reason.contains("already judged")),
        "{again:?}"
    );
    // The same key uploaded again (another version of the object): judged again.
    let mut replaced = created(&bucket.name, &truth);
    replaced["detail"]["object"]["version-id"] = json!("another-version");
    let rejudged = monitor.handle(event(replaced)).await.unwrap();
    assert!(matches!(&rejudged, Outcome::Judged { .. }), "{rejudged:?}");
    // Labels outside Model Monitor's hour folders are not read: the upload says where they go.
    put(
        &s3,
        &bucket.name,
        "ground-truth/batch/labels.jsonl",
        labels.clone(),
    )
    .await;
    let elsewhere = monitor
        .handle(event(created(
            &bucket.name,
            "ground-truth/batch/labels.jsonl",
        )))
        .await
        .unwrap();
    assert!(
        matches!(&elsewhere, Outcome::Ignored { reason } if reason.contains("yyyy/mm/dd/hh")),
        "{elsewhere:?}"
    );

    // Version 2 serves now: version 1's answers do not judge it.
    let v2 = trained(&sdk, &bucket.name, &key, "train-2", &EVEN).await;
    register(&sdk, &group, ModelApprovalStatus::Approved, "train-2", &v2).await;
    let later = format!("ground-truth/batch/{hour}/more-labels.jsonl");
    put(&s3, &bucket.name, &later, labels).await;
    let judged = monitor
        .handle(event(created(&bucket.name, &later)))
        .await
        .unwrap();
    let Outcome::Judged { violations, .. } = &judged else {
        panic!("{judged:?}");
    };
    assert!(violations.is_empty(), "{judged:?}");
}
