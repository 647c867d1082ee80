//! `make demo`: the ingest slice on the local emulator, with no AWS account, told step by step.
//!
//! Starts the emulator, creates the raw and ingested buckets (SSE-KMS), the project bus and a rule that forwards
//! its events to a queue, uploads a sample dataset, invokes the real validate-ingest handler with the sample S3
//! notification from `events/`, and checks every outcome. Exits non-zero if any step did not really happen.

#![allow(clippy::unwrap_used)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_lambda_events::s3::S3Event;
use aws_sdk_s3::primitives::ByteStream;
use guardrails_core::domain::SOURCE;
use guardrails_core::{CommonConfig, EventPublisher, aws, telemetry};
use testkit::{BusProbe, KmsBucket, emulator};
use validate_ingest::handler::{BYTES_INGESTED, FILES_PROCESSED, describe_metrics};
use validate_ingest::{Config, Ingest, STAGE};

const KEY: &str = "tickets/datos de facturación 2026-11.csv";
const NAMESPACE: &str = "MlopsGuardrails";

fn step(what: &str, detail: impl AsRef<str>) {
    println!("  {what:<11} {}", detail.as_ref());
}

fn fail(what: &str) -> ExitCode {
    println!("  FAILED      {what}");
    println!("demo failed");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    println!("mlops-guardrails demo: validate-ingest on the local emulator (no AWS account)\n");

    let emulator = emulator();
    step(
        "emulator",
        format!("moto server at {}", emulator.endpoint()),
    );
    let sdk = emulator.sdk_config().await;
    let raw = KmsBucket::create(&sdk, "raw").await;
    let ingested = KmsBucket::create(&sdk, "ingested").await;
    let bus = BusProbe::create(&sdk, &serde_json::json!({"source": [SOURCE]})).await;
    step(
        "created",
        format!(
            "buckets {} and {} (SSE-KMS), bus {} with rule {} -> SQS",
            raw.name, ingested.name, bus.bus_name, bus.rule_name
        ),
    );

    let data = include_str!("data/tickets-sample.csv");
    let s3 = aws::s3_client(&sdk);
    let put = s3
        .put_object()
        .bucket(&raw.name)
        .key(KEY)
        .body(ByteStream::from_static(data.as_bytes()))
        .send()
        .await
        .unwrap();
    step(
        "uploaded",
        format!("s3://{}/{KEY} ({} bytes)", raw.name, data.len()),
    );

    // The notification S3 would send, from events/, pointed at this upload.
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/s3-object-created.json")).unwrap();
    let object = &mut event["Records"][0]["s3"];
    object["bucket"]["name"] = raw.name.clone().into();
    object["object"]["size"] = data.len().into();
    object["object"]["eTag"] = put.e_tag().unwrap().trim_matches('"').into();
    let raw_key = object["object"]["key"].as_str().unwrap().to_owned();
    let event: S3Event = serde_json::from_value(event).unwrap();

    let metrics = telemetry::init_metrics(NAMESPACE, STAGE).unwrap();
    describe_metrics();
    let config = Config {
        common: CommonConfig {
            metrics_namespace: NAMESPACE.into(),
            event_bus_name: bus.bus_name.clone(),
            notice_topic_arn: None,
        },
        ingested_bucket: ingested.name.clone(),
    };
    let handler = Ingest::new(
        s3.clone(),
        EventPublisher::from_sdk(&sdk, &bus.bus_name),
        config,
    );
    step(
        "invoked",
        format!("validate-ingest with events/s3-object-created.json (key arrives as {raw_key:?})"),
    );
    let summary = match handler.handle(event).await {
        Ok(summary) => summary,
        Err(e) => return fail(&format!("handler returned an error: {e}")),
    };

    let Ok(copy) = s3
        .head_object()
        .bucket(&ingested.name)
        .key(KEY)
        .send()
        .await
    else {
        return fail("no copy in the ingested bucket");
    };
    step(
        "copied",
        format!(
            "s3://{}/{KEY} ({} bytes, {} with the bucket's key)",
            ingested.name,
            copy.content_length().unwrap_or_default(),
            copy.server_side_encryption()
                .map(|s| s.as_str())
                .unwrap_or("unencrypted"),
        ),
    );
    if s3
        .head_object()
        .bucket(&raw.name)
        .key(KEY)
        .send()
        .await
        .is_err()
    {
        return fail("the raw object is gone");
    }
    step("kept", "the raw object, untouched");

    let events = bus.events(1, Duration::from_secs(10)).await;
    let Some(received) = events.first() else {
        return fail("no event reached the rule's queue");
    };
    step(
        "published",
        format!(
            "{} for dataset {}, received by rule {} on its queue",
            received["detail-type"], received["detail"]["dataset"], bus.rule_name
        ),
    );

    let mut emf = Vec::new();
    metrics.flush(&mut emf).unwrap();
    let emf = String::from_utf8(emf).unwrap();
    let Some(doc) = emf
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|d| d[FILES_PROCESSED] == 1)
    else {
        return fail("no EMF metrics were emitted");
    };
    step(
        "metrics",
        format!(
            "{FILES_PROCESSED}={} {BYTES_INGESTED}={} (EMF, namespace {NAMESPACE}, dimensions Stage={} Dataset={})",
            doc[FILES_PROCESSED], doc[BYTES_INGESTED], doc["Stage"], doc["Dataset"]
        ),
    );
    println!(
        "\n  the EMF line CloudWatch turns into those metrics:\n  {}",
        emf.trim_end()
    );
    println!(
        "demo passed: {} dataset ingested in {:.1} s",
        summary.ingested.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
