//! validate-ingest against the emulator, through the real SDK: upload, invoke with the sample event from
//! `events/`, then read back the copy, the published event and the EMF metrics.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use aws_sdk_s3::primitives::ByteStream;
use guardrails_core::{CommonConfig, ErrorClass, EventPublisher, HandlerError, aws, telemetry};
use testkit::{BusProbe, KmsBucket, emulator};
use validate_ingest::handler::{BYTES_INGESTED, FILES_PROCESSED, describe_metrics};
use validate_ingest::{Config, Ingest, STAGE};

const DECODED_KEY: &str = "tickets/datos de facturación 2026-11.csv";
const DATA: &str = "text,label\n\"No me llega la factura de octubre\",facturacion\n\"La app se cierra al abrir\",soporte\n";

struct World {
    sdk: aws::SdkConfig,
    raw: KmsBucket,
    ingested: KmsBucket,
    bus: BusProbe,
    ingest: Ingest,
}

async fn world() -> World {
    let sdk = emulator().sdk_config().await;
    let raw = KmsBucket::create(&sdk, "raw").await;
    let ingested = KmsBucket::create(&sdk, "ingested").await;
    let bus = BusProbe::create(
        &sdk,
        &serde_json::json!({"source": ["mlops.guardrails"], "detail-type": ["Dataset Validated"]}),
    )
    .await;
    let config = Config {
        common: CommonConfig {
            metrics_namespace: "GuardrailsTest".into(),
            event_bus_name: bus.bus_name.clone(),
            notice_topic_arn: None,
        },
        ingested_bucket: ingested.name.clone(),
    };
    let ingest = Ingest::new(
        aws::s3_client(&sdk),
        EventPublisher::from_sdk(&sdk, &bus.bus_name),
        config,
    );
    World {
        sdk,
        raw,
        ingested,
        bus,
        ingest,
    }
}

/// The sample notification from `events/`, pointed at this test's bucket and object.
fn sample_event(bucket: &str, size: usize, etag: Option<&str>) -> S3Event {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/s3-object-created.json"
    );
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let s3 = &mut json["Records"][0]["s3"];
    s3["bucket"]["name"] = bucket.into();
    s3["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
    s3["object"]["size"] = size.into();
    s3["object"]["eTag"] = etag.into();
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn upload_is_copied_announced_and_counted() {
    let w = world().await;
    let s3 = aws::s3_client(&w.sdk);
    let put = s3
        .put_object()
        .bucket(&w.raw.name)
        .key(DECODED_KEY)
        .body(ByteStream::from_static(DATA.as_bytes()))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().trim_matches('"').to_owned();
    let metrics = telemetry::init_metrics("GuardrailsTest", STAGE).unwrap();
    describe_metrics();

    let summary = w
        .ingest
        .handle(sample_event(&w.raw.name, DATA.len(), Some(&etag)))
        .await
        .unwrap();

    // The copy exists in the ingested bucket, byte for byte, encrypted with that bucket's key.
    let copy = s3
        .get_object()
        .bucket(&w.ingested.name)
        .key(DECODED_KEY)
        .send()
        .await
        .expect("the copy must exist under the decoded key");
    assert_eq!(
        copy.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(copy.ssekms_key_id(), Some(w.ingested.key_arn.as_str()));
    let body = copy.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), DATA.as_bytes());
    // The raw object is kept: nothing is deleted before its copy is safe (and this slice deletes nothing).
    s3.head_object()
        .bucket(&w.raw.name)
        .key(DECODED_KEY)
        .send()
        .await
        .expect("raw object kept");

    // Dataset Validated reached the rule's queue, with the decoded keys.
    let events = w.bus.events(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["source"], "mlops.guardrails");
    assert_eq!(event["detail-type"], "Dataset Validated");
    assert_eq!(event["detail"]["dataset"], "tickets");
    assert_eq!(event["detail"]["source"]["bucket"], w.raw.name.as_str());
    assert_eq!(event["detail"]["source"]["key"], DECODED_KEY);
    assert_eq!(
        event["detail"]["ingested"]["bucket"],
        w.ingested.name.as_str()
    );
    assert_eq!(event["detail"]["ingested"]["key"], DECODED_KEY);
    assert_eq!(event["detail"]["bytes"], DATA.len());
    assert_eq!(summary.ingested.len(), 1);

    // EMF: one document for the dataset with both counters and their units.
    let mut out = Vec::new();
    metrics.flush(&mut out).unwrap();
    let docs: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let doc = docs
        .iter()
        .find(|d| d["Dataset"] == "tickets")
        .unwrap_or_else(|| panic!("no EMF document for the dataset: {docs:?}"));
    assert_eq!(doc[FILES_PROCESSED], 1);
    assert_eq!(doc[BYTES_INGESTED], DATA.len());
    assert_eq!(doc["Stage"], STAGE);
    let spec = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(spec["Namespace"], "GuardrailsTest");
    assert_eq!(
        spec["Dimensions"][0],
        serde_json::json!(["Stage", "Dataset"])
    );
    let units: Vec<(String, String)> = spec["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap().to_owned(),
                m["Unit"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        units.contains(&(BYTES_INGESTED.to_owned(), "Bytes".to_owned())),
        "{units:?}"
    );
    assert!(
        units.contains(&(FILES_PROCESSED.to_owned(), "Count".to_owned())),
        "{units:?}"
    );
}

#[tokio::test]
async fn missing_object_is_a_non_retryable_error_and_announces_nothing() {
    let w = world().await;
    let error = w
        .ingest
        .handle(sample_event(&w.raw.name, 10, None))
        .await
        .unwrap_err();
    let error = HandlerError::from(error);
    assert_eq!(error.class, ErrorClass::NonRetryable, "{error}");
    assert!(error.message.contains("CopyObject"), "{error}");
    assert!(error.message.contains(DECODED_KEY), "{error}");
    assert!(
        w.bus.events(1, Duration::from_secs(2)).await.is_empty(),
        "no event for a failed copy"
    );
}
