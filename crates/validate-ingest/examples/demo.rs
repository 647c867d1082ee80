//! `make demo`: the ingest stage on the local emulator, with no AWS account, told step by step.
//!
//! Starts the emulator; creates the raw and ingested buckets (SSE-KMS), the dataset contract in SSM, the
//! notice topic (read through a queue) and the project bus (read through a rule's queue); then runs the real
//! validate-ingest handler on the production path — an SQS batch of EventBridge "Object Created" events — for a
//! good dataset, a bad one, and a redelivery. Exits non-zero unless every step really happened.

#![allow(clippy::unwrap_used)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use guardrails_core::domain::SOURCE;
use guardrails_core::{CommonConfig, EventPublisher, Notifier, aws, telemetry};
use serde_json::{Value, json};
use testkit::{BusProbe, KmsBucket, TopicProbe, emulator};
use validate_ingest::handler::{ContractSource, Response, describe_metrics};
use validate_ingest::store::Store;
use validate_ingest::{Config, Ingest, STAGE};

const NAMESPACE: &str = "MlopsGuardrails";
const GOOD_KEY: &str = "tickets/datos de facturación 2026-11.csv";
const BAD_KEY: &str = "tickets/lote manual 2026-11.csv";
const CONTRACT_PARAMETER: &str = "/mlops-guardrails/dataset-contract";

fn step(what: &str, detail: impl AsRef<str>) {
    println!("  {what:<12} {}", detail.as_ref());
}

fn fail(what: &str) -> ExitCode {
    println!("  FAILED       {what}");
    println!("demo failed");
    ExitCode::FAILURE
}

/// An SQS batch (the sample from `events/`) carrying one EventBridge "Object Created" event for the upload.
fn sqs_batch(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let mut created: Value = serde_json::from_str(include_str!(
        "../../../events/eventbridge-s3-object-created.json"
    ))
    .unwrap();
    created["detail"]["bucket"]["name"] = bucket.into();
    created["detail"]["object"]["key"] = key.replace(' ', "+").into();
    created["detail"]["object"]["size"] = size.into();
    created["detail"]["object"]["etag"] = etag.into();
    let mut batch: Value = serde_json::from_str(include_str!(
        "../../../events/sqs-eventbridge-s3-object-created.json"
    ))
    .unwrap();
    let records = batch["Records"].as_array_mut().unwrap();
    records.truncate(1);
    records[0]["body"] = created.to_string().into();
    batch
}

async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &'static str) -> String {
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body.as_bytes()))
        .send()
        .await
        .unwrap();
    put.e_tag().unwrap().trim_matches('"').to_owned()
}

fn failed_messages(response: &Response) -> usize {
    match response {
        Response::Batch(batch) => batch.batch_item_failures.len(),
        Response::Summary(_) => 0,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    println!("mlops-guardrails demo: the ingest stage on the local emulator (no AWS account)\n");

    let emulator = emulator();
    step(
        "emulator",
        format!("moto server at {}", emulator.endpoint()),
    );
    let sdk = emulator.sdk_config().await;
    let raw = KmsBucket::create(&sdk, "raw").await;
    let ingested = KmsBucket::create(&sdk, "ingested").await;
    let topic = TopicProbe::create(&sdk).await;
    let bus = BusProbe::create(&sdk, &json!({"source": [SOURCE]})).await;
    let contract = include_str!("data/dataset-contract.json");
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(CONTRACT_PARAMETER)
        .value(contract)
        .overwrite(true)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    step(
        "created",
        format!(
            "buckets {} and {} (SSE-KMS), contract {CONTRACT_PARAMETER} in SSM, notice topic, bus with a rule -> SQS",
            raw.name, ingested.name
        ),
    );

    let metrics = telemetry::init_metrics(NAMESPACE, STAGE).unwrap();
    describe_metrics();
    let config = Config {
        common: CommonConfig {
            metrics_namespace: NAMESPACE.into(),
            event_bus_name: bus.bus_name.clone(),
            notice_topic_arn: Some(topic.topic_arn.clone()),
        },
        ingested_bucket: ingested.name.clone(),
        quarantine_bucket: None,
        quarantine_prefix: "quarantine/".into(),
        marker_prefix: "_guardrails/markers/".into(),
        contract_parameter: CONTRACT_PARAMETER.into(),
        contract_cache: Duration::from_secs(300),
        delete_raw: true,
    };
    let s3 = aws::s3_client(&sdk);
    let handler = Ingest::new(
        Store::new(s3.clone()),
        EventPublisher::from_sdk(&sdk, &bus.bus_name),
        Notifier::from_sdk(&sdk, &topic.topic_arn),
        ContractSource::new(
            aws_sdk_ssm::Client::new(&sdk),
            CONTRACT_PARAMETER,
            Duration::from_secs(300),
        ),
        config,
    );

    // 1. A good dataset.
    let good = include_str!("data/tickets-sample.csv");
    let etag = upload(&s3, &raw.name, GOOD_KEY, good).await;
    step(
        "uploaded",
        format!("s3://{}/{GOOD_KEY} ({} bytes)", raw.name, good.len()),
    );
    let batch = sqs_batch(&raw.name, GOOD_KEY, good.len(), &etag);
    let response = handler.handle(batch.clone()).await;
    if !matches!(&response, Ok(r) if failed_messages(r) == 0) {
        return fail(&format!("the SQS batch failed: {response:?}"));
    }
    step(
        "invoked",
        "validate-ingest with an SQS batch wrapping the EventBridge Object Created event",
    );
    let events = bus.events(1, Duration::from_secs(10)).await;
    let Some(validated) = events
        .iter()
        .find(|e| e["detail-type"] == "Dataset Validated")
    else {
        return fail("no Dataset Validated event reached the rule's queue");
    };
    let detail = &validated["detail"];
    step(
        "validated",
        format!(
            "{} rows, labels {}, against contract {}",
            detail["rows"], detail["labelCounts"], detail["contract"]["name"]
        ),
    );
    step(
        "copied",
        format!(
            "s3://{}/{} with its report {}",
            ingested.name,
            detail["ingested"]["key"].as_str().unwrap_or_default(),
            detail["report"]["key"].as_str().unwrap_or_default()
        ),
    );
    if s3
        .head_object()
        .bucket(&raw.name)
        .key(GOOD_KEY)
        .send()
        .await
        .is_ok()
    {
        return fail("the raw object should be gone once its copy is safe");
    }
    step(
        "published",
        "Dataset Validated on the bus; the raw object deleted after the copy",
    );

    // 2. A bad dataset.
    let bad = include_str!("data/tickets-bad.csv");
    let etag = upload(&s3, &raw.name, BAD_KEY, bad).await;
    step(
        "uploaded",
        format!("s3://{}/{BAD_KEY} ({} bytes)", raw.name, bad.len()),
    );
    let response = handler
        .handle(sqs_batch(&raw.name, BAD_KEY, bad.len(), &etag))
        .await;
    if !matches!(&response, Ok(r) if failed_messages(r) == 0) {
        return fail(&format!("the SQS batch failed: {response:?}"));
    }
    let events = bus.events(1, Duration::from_secs(10)).await;
    let Some(quarantined) = events
        .iter()
        .find(|e| e["detail-type"] == "Dataset Quarantined")
    else {
        return fail("no Dataset Quarantined event reached the rule's queue");
    };
    step(
        "quarantined",
        format!(
            "s3://{}/{}",
            raw.name,
            quarantined["detail"]["quarantined"]["key"]
                .as_str()
                .unwrap_or_default()
        ),
    );
    for reason in quarantined["detail"]["reasons"]
        .as_array()
        .into_iter()
        .flatten()
    {
        step("  reason", reason.as_str().unwrap_or_default());
    }
    let notices = topic.notices(1, Duration::from_secs(10)).await;
    let Some(notice) = notices.first() else {
        return fail("no quarantine notice reached the topic");
    };
    step(
        "notified",
        format!(
            "SNS {:?} (severity={}, kind={})",
            notice["Subject"].as_str().unwrap_or_default(),
            notice["MessageAttributes"]["severity"]["Value"]
                .as_str()
                .unwrap_or_default(),
            notice["MessageAttributes"]["kind"]["Value"]
                .as_str()
                .unwrap_or_default()
        ),
    );

    // 3. The first message again, as SQS may deliver it.
    let response = handler.handle(batch).await;
    if !matches!(&response, Ok(r) if failed_messages(r) == 0) {
        return fail(&format!("the redelivery failed: {response:?}"));
    }
    if !bus.events(1, Duration::from_secs(2)).await.is_empty() {
        return fail("a redelivered message was announced twice");
    }
    step(
        "redelivered",
        "the first message again: recognised by its marker, nothing copied or announced twice",
    );

    let Some(doc) = testkit::emf_documents(metrics)
        .into_iter()
        .find(|d| d["FilesProcessed"] == 2)
    else {
        return fail("no EMF metrics for the two files");
    };
    step(
        "metrics",
        format!(
            "FilesProcessed={} FilesQuarantined={} RowsIngested={} ValidationErrors={} (EMF, namespace {NAMESPACE}, Dataset={})",
            doc["FilesProcessed"],
            doc["FilesQuarantined"],
            doc["RowsIngested"],
            doc["ValidationErrors"],
            doc["Dataset"]
        ),
    );
    println!(
        "demo passed in {:.1} s: 1 dataset ingested, 1 quarantined with a notice, 1 redelivery ignored",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
