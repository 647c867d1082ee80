//! validate-ingest against the emulator, through the real SDK: uploads, the contract in SSM, the sample events
//! from `events/`, and what really happened read back — copies, reports, events on a rule's queue, EMF
//! documents.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use guardrails_core::ledger::Ledger;
use guardrails_core::metric::{BYTES_INGESTED, FILES_PROCESSED, ROWS_INGESTED, VALIDATION_ERRORS};
use guardrails_core::state::StateStore;
use guardrails_core::{CommonConfig, ErrorClass, EventPublisher, HandlerError, aws, telemetry};
use serde_json::{Value, json};
use testkit::fixture;
use testkit::{BusProbe, Faults, KmsBucket, When, emf_documents, emulator, unique_name};
use validate_ingest::handler::{ContractSource, Response, describe_metrics};
use validate_ingest::store::Store;
use validate_ingest::{Config, Ingest, STAGE};

const KEY: &str = "tickets/datos de facturación 2026-11.csv";
const CONTRACT: &str = r#"{"version": 1, "name": "tickets-test", "labels": ["facturacion", "soporte", "ventas", "Otros"],
    "min_text_chars": 3, "max_text_chars": 500, "max_null_fraction": 0.1, "max_duplicate_fraction": 0.2,
    "min_rows": 5, "max_bytes": 104857600}"#;

fn valid_csv(rows: usize) -> String {
    let labels = ["facturacion", "soporte", "ventas", "Otros"];
    let mut csv = String::from("text,label\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "\"Consulta número {i}, sobre la factura\",{}\n",
            labels[i % 4]
        ));
    }
    csv
}

struct World {
    sdk: aws::SdkConfig,
    s3: aws_sdk_s3::Client,
    raw: KmsBucket,
    ingested: KmsBucket,
    state: KmsBucket,
    bus: BusProbe,
    parameter: String,
}

impl World {
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        let raw = KmsBucket::create(&sdk, "raw").await;
        let ingested = KmsBucket::create(&sdk, "ingested").await;
        let state = KmsBucket::create(&sdk, "state").await;
        let s3 = aws::s3_client(&sdk);
        // Versioned, so a second copy would show as a second version.
        enable_versioning(&s3, &ingested.name).await;
        let bus = BusProbe::create(&sdk, &json!({"source": ["mlops.guardrails"]})).await;
        let parameter = format!("/{}/contract", unique_name("guardrails"));
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name(&parameter)
            .value(CONTRACT)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
        World {
            sdk,
            s3,
            raw,
            ingested,
            state,
            bus,
            parameter,
        }
    }

    fn ingest_with(&self, store: Store, delete_raw: bool) -> Ingest {
        Ingest::new(
            store,
            StateStore::new(self.s3.clone(), &self.state.name),
            EventPublisher::from_sdk(&self.sdk, &self.bus.bus_name),
            self.contracts(),
            self.config(delete_raw),
        )
    }

    fn contracts(&self) -> ContractSource {
        ContractSource::new(
            aws_sdk_ssm::Client::new(&self.sdk),
            &self.parameter,
            Duration::from_secs(300),
        )
    }

    fn config(&self, delete_raw: bool) -> Config {
        Config {
            common: CommonConfig {
                metrics_namespace: "GuardrailsTest".into(),
                event_bus_name: Some(self.bus.bus_name.clone()),
                notice_topic_arn: None,
                state_bucket: Some(self.state.name.clone()),
                claim_lease: Duration::from_secs(330),
            },
            ingested_bucket: self.ingested.name.clone(),
            state_bucket: self.state.name.clone(),
            quarantine_bucket: None,
            quarantine_prefix: "quarantine/".into(),
            marker_prefix: "validate-ingest/".into(),
            ledger_prefix: "ledger/".into(),
            contract_parameter: self.parameter.clone(),
            contract_cache: Duration::from_secs(300),
            delete_raw,
        }
    }

    fn ingest(&self, delete_raw: bool) -> Ingest {
        self.ingest_with(Store::new(self.s3.clone()), delete_raw)
    }

    /// Uploads `body` to the raw bucket; returns its ETag (unquoted).
    async fn upload(&self, key: &str, body: Vec<u8>) -> String {
        let put = self
            .s3
            .put_object()
            .bucket(&self.raw.name)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        put.e_tag().unwrap().trim_matches('"').to_owned()
    }

    async fn exists(&self, bucket: &str, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> aws_sdk_s3::operation::get_object::GetObjectOutput {
        self.s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"))
    }

    /// The keys of the valid copies of `key` in the ingested bucket: `<dataset>/<identity>/<rest>`.
    async fn copies_of(&self, key: &str) -> Vec<String> {
        let (dataset, rest) = key.split_once('/').unwrap();
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.ingested.name)
            .prefix(format!("{dataset}/"))
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter(|k| {
                k.split_once('/')
                    .and_then(|(_, k)| k.split_once('/'))
                    .is_some_and(|(id, r)| id.len() == 16 && r == rest)
            })
            .map(str::to_owned)
            .collect()
    }

    /// The key of the one valid copy of `key`.
    async fn copy_key(&self, key: &str) -> String {
        let copies = self.copies_of(key).await;
        assert_eq!(copies.len(), 1, "one copy of {key}: {copies:?}");
        copies[0].clone()
    }

    async fn json_object(&self, bucket: &str, key: &str) -> Value {
        let object = self.get(bucket, key).await;
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
    }
}

/// URL-encodes a key the way S3 notifications do (`+` for spaces).
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The sample S3 notification, pointed at an upload.
fn s3_notification(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let mut event = fixture("s3-object-created.json");
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = bucket.into();
    s3["object"]["key"] = encode_key(key).into();
    s3["object"]["size"] = size.into();
    s3["object"]["eTag"] = etag.into();
    // The test buckets are not versioned: no version id (a versioned test sets its own).
    if let Some(object) = s3["object"].as_object_mut() {
        object.remove("versionId");
    }
    event
}

/// The sample EventBridge "Object Created" event, pointed at an upload.
fn object_created(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let mut event = fixture("eventbridge-s3-object-created.json");
    event["detail"]["bucket"]["name"] = bucket.into();
    event["detail"]["object"]["key"] = encode_key(key).into();
    event["detail"]["object"]["size"] = size.into();
    event["detail"]["object"]["etag"] = etag.into();
    if let Some(object) = event["detail"]["object"].as_object_mut() {
        object.remove("version-id");
    }
    event
}

fn summary(response: Response) -> Vec<Value> {
    match response {
        Response::Summary(handled) => handled
            .iter()
            .map(|h| serde_json::to_value(h).unwrap())
            .collect(),
        Response::Batch(batch) => panic!("expected a summary, got {batch:?}"),
    }
}

#[tokio::test]
async fn valid_upload_is_ingested_with_its_report_announced_counted_and_raw_deleted() {
    let w = World::new().await;
    let data = valid_csv(20);
    let etag = w.upload(KEY, data.clone().into_bytes()).await;
    let metrics = telemetry::init_metrics("GuardrailsTest", STAGE).unwrap();
    describe_metrics();

    let handled = summary(
        w.ingest(true)
            .handle(s3_notification(&w.raw.name, KEY, data.len(), &etag))
            .await
            .unwrap(),
    );
    assert_eq!(handled[0]["result"], "validated", "{handled:?}");

    // The copy, byte for byte, encrypted with the ingested bucket's key, under the dataset's prefix; its report
    // apart, under the reserved prefix, so that the prefix training reads holds data only.
    let copy_key = w.copy_key(KEY).await;
    let copy = w.get(&w.ingested.name, &copy_key).await;
    assert_eq!(copy.ssekms_key_id(), Some(w.ingested.key_arn.as_str()));
    assert_eq!(
        copy.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_bytes()
    );
    let report_key = format!("_guardrails/reports/{copy_key}.report.json");
    let report = w.json_object(&w.ingested.name, &report_key).await;
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["rows"], 20);
    assert_eq!(report["contract"]["name"], "tickets-test");
    // The raw object is gone only now that its copy exists.
    assert!(!w.exists(&w.raw.name, KEY).await, "raw object deleted");

    // The ledger pins the copy a training run would read: key, version, size and S3's own SHA-256 of it.
    let ledger = Ledger::new(w.s3.clone(), &w.state.name, "ledger/");
    let entries = ledger.entries("tickets", chrono::Utc::now()).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let pinned = entries[0].copy.as_ref().expect("the copy is recorded");
    assert_eq!((entries[0].rows, pinned.bytes), (20, data.len() as u64));
    assert_eq!(pinned.object.key, copy_key);
    let stored =
        w.s3.head_object()
            .bucket(&w.ingested.name)
            .key(&copy_key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    assert_eq!(pinned.object.version_id.as_deref(), stored.version_id());
    assert!(pinned.sha256.is_some());
    assert_eq!(pinned.sha256.as_deref(), stored.checksum_sha256());
    assert_eq!(pinned.contract.as_ref().unwrap().version, 1);
    // And its profile, from the same pass, in the state bucket where no uploader writes.
    let profile_key = pinned.profile.as_deref().expect("the profile is recorded");
    assert!(
        profile_key.starts_with("profiles/tickets/"),
        "{profile_key}"
    );
    let profile: dataset_check::Profile =
        serde_json::from_slice(&testkit::object_bytes(&w.s3, &w.state.name, profile_key).await)
            .unwrap();
    assert_eq!(profile.texts, 20);
    assert_eq!(profile.labels["facturacion"], 5);
    let top: Vec<(&str, u64)> = profile.vocabulary.top[..3]
        .iter()
        .map(|t| (t.token.as_str(), t.count))
        .collect();
    assert_eq!(top, [("consulta", 20), ("factura", 20), ("la", 20)]);

    let events = w.bus.events(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let detail = &events[0]["detail"];
    assert_eq!(events[0]["detail-type"], "Dataset Validated");
    assert_eq!(detail["dataset"], "tickets");
    assert_eq!(detail["ingested"]["key"], copy_key);
    assert_eq!(detail["rows"], 20);
    assert_eq!(detail["labelCounts"]["facturacion"], 5);
    assert_eq!(detail["report"]["key"], report_key);
    assert_eq!(detail["contract"]["version"], 1);

    let docs = emf_documents(metrics);
    let doc = docs
        .iter()
        .find(|d| d["Dataset"] == "tickets" && d[ROWS_INGESTED.name] == 20)
        .unwrap_or_else(|| panic!("no EMF document for the upload: {docs:?}"));
    assert_eq!(doc[FILES_PROCESSED.name], 1);
    assert_eq!(doc[BYTES_INGESTED.name], data.len());
    // A zero counter is left out of the EMF document (alarms treat missing data as zero).
    assert_eq!(
        doc.get(VALIDATION_ERRORS.name)
            .and_then(Value::as_u64)
            .unwrap_or(0),
        0
    );
    assert_eq!(doc["Stage"], STAGE);
    assert_eq!(doc["LatencyMs"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
        json!(["Stage", "Dataset"])
    );
}

#[tokio::test]
async fn invalid_upload_is_quarantined_with_report_and_event() {
    let w = World::new().await;
    let mut data = valid_csv(10);
    data.push_str("\"Una etiqueta inventada\",spam\n\"Otra más\",spam\n");
    let etag = w.upload(KEY, data.clone().into_bytes()).await;

    let handled = summary(
        w.ingest(true)
            .handle(object_created(&w.raw.name, KEY, data.len(), &etag))
            .await
            .unwrap(),
    );
    assert_eq!(handled[0]["result"], "quarantined", "{handled:?}");

    let quarantined = format!("quarantine/{KEY}");
    assert!(w.exists(&w.raw.name, &quarantined).await);
    assert!(w.copies_of(KEY).await.is_empty(), "not ingested");
    assert!(!w.exists(&w.raw.name, KEY).await, "raw moved to quarantine");
    let profiles =
        w.s3.list_objects_v2()
            .bucket(&w.state.name)
            .prefix("profiles/")
            .send()
            .await
            .unwrap();
    assert_eq!(
        profiles.key_count(),
        Some(0),
        "no profile of an invalid file"
    );
    let report = w
        .json_object(&w.raw.name, &format!("{quarantined}.report.json"))
        .await;
    assert_eq!(report["verdict"], "invalid");
    assert_eq!(report["failures"]["unknown_label"]["count"], 2);
    assert_eq!(
        report["failures"]["unknown_label"]["examples"][0]["value"],
        "spam"
    );

    let events = w.bus.events(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "Dataset Quarantined");
    assert_eq!(events[0]["detail"]["invalidRows"], 2);
    let reason = events[0]["detail"]["reasons"][0].as_str().unwrap();
    assert!(reason.starts_with("unknown_label: 2 rows"), "{reason}");
    // What the notifier's notice names (validate-ingest publishes none itself: storms become one digest there).
    assert_eq!(
        events[0]["detail"]["report"]["key"],
        format!("{quarantined}.report.json")
    );
    assert_eq!(events[0]["detail"]["quarantined"]["key"], quarantined);
}

#[tokio::test]
async fn redelivered_event_makes_no_second_copy_report_or_event() {
    let w = World::new().await;
    let data = valid_csv(8);
    let etag = w.upload(KEY, data.clone().into_bytes()).await;
    let ingest = w.ingest(false);
    let event = object_created(&w.raw.name, KEY, data.len(), &etag);

    let first = summary(ingest.handle(event.clone()).await.unwrap());
    let second = summary(ingest.handle(event).await.unwrap());

    assert_eq!(first[0]["result"], "validated");
    assert_eq!(second[0]["result"], "duplicate", "{second:?}");
    let copy = w.copy_key(KEY).await;
    for key in [
        copy.clone(),
        format!("_guardrails/reports/{copy}.report.json"),
    ] {
        let versions =
            w.s3.list_object_versions()
                .bucket(&w.ingested.name)
                .prefix(&key)
                .send()
                .await
                .unwrap();
        let exact = versions
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key.as_str()))
            .count();
        assert_eq!(exact, 1, "{key} written once");
    }
    assert_eq!(w.bus.events(2, Duration::from_secs(4)).await.len(), 1);
    assert!(
        w.exists(&w.raw.name, KEY).await,
        "DELETE_RAW=false keeps it"
    );
}

#[tokio::test]
async fn gzip_jsonl_is_checked_as_it_decompresses() {
    let w = World::new().await;
    let mut lines = String::new();
    for i in 0..12 {
        lines.push_str(
            &json!({"text": format!("Mensaje comprimido número {i}"), "label": "soporte", "id": i})
                .to_string(),
        );
        lines.push('\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, lines.as_bytes()).unwrap();
    let body = gz.finish().unwrap();
    let key = "tickets/lote 2.jsonl.gz";
    let etag = w.upload(key, body.clone()).await;

    let handled = summary(
        w.ingest(true)
            .handle(s3_notification(&w.raw.name, key, body.len(), &etag))
            .await
            .unwrap(),
    );

    assert_eq!(handled[0]["result"], "validated", "{handled:?}");
    let copy = w.copy_key(key).await;
    let report = w
        .json_object(
            &w.ingested.name,
            &format!("_guardrails/reports/{copy}.report.json"),
        )
        .await;
    assert_eq!(report["compression"], "gzip");
    assert_eq!(report["format"], "jsonl");
    assert_eq!(report["rows"], 12);
    assert_eq!(report["bytes_read"], body.len());
    assert_eq!(report["bytes_decoded"], lines.len());
}

#[tokio::test]
async fn sqs_batch_reports_only_the_messages_that_failed() {
    let w = World::new().await;
    let data = valid_csv(6);
    let etag = w.upload(KEY, data.clone().into_bytes()).await;
    let mut batch = fixture("sqs-eventbridge-s3-object-created.json");
    let good = object_created(&w.raw.name, KEY, data.len(), &etag);
    let missing_bucket = object_created(&unique_name("no-such-bucket"), KEY, 10, &etag);
    let records = batch["Records"].as_array_mut().unwrap();
    let template = records[0].clone();
    records.clear();
    for (id, body) in [
        ("good", good.to_string()),
        ("not-json", "{ this is not json".to_owned()),
        ("missing-bucket", missing_bucket.to_string()),
    ] {
        let mut record = template.clone();
        record["messageId"] = id.into();
        record["body"] = body.into();
        records.push(record);
    }

    let response = w.ingest(true).handle(batch).await.unwrap();

    let Response::Batch(batch) = response else {
        panic!("expected a batch response");
    };
    let mut failed: Vec<&str> = batch
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(failed, ["missing-bucket", "not-json"]);
    assert_eq!(
        w.copies_of(KEY).await.len(),
        1,
        "the good message was handled"
    );
    assert_eq!(w.bus.events(1, Duration::from_secs(10)).await.len(), 1);
}

#[tokio::test]
async fn object_replaced_after_its_notification_is_left_to_the_next_one() {
    let w = World::new().await;
    let data = valid_csv(6);
    w.upload(KEY, data.clone().into_bytes()).await;

    let handled = summary(
        w.ingest(true)
            .handle(s3_notification(
                &w.raw.name,
                KEY,
                data.len(),
                "0123456789abcdef0123456789abcdef",
            ))
            .await
            .unwrap(),
    );

    assert_eq!(handled[0]["result"], "skipped", "{handled:?}");
    assert!(w.copies_of(KEY).await.is_empty());
    assert!(w.exists(&w.raw.name, KEY).await, "the newer upload is kept");
    assert!(w.bus.events(1, Duration::from_secs(2)).await.is_empty());
}

#[tokio::test]
async fn files_above_the_single_copy_limit_are_copied_in_parts() {
    let w = World::new().await;
    let data = valid_csv(160_000); // about 7 MiB: two 5 MiB parts (S3's minimum part size).
    assert!(data.len() > 5 * 1024 * 1024);
    let etag = w.upload(KEY, data.clone().into_bytes()).await;
    let store = Store::with_copy_limits(w.s3.clone(), 5 * 1024 * 1024, 5 * 1024 * 1024);

    let handled = summary(
        w.ingest_with(store, true)
            .handle(s3_notification(&w.raw.name, KEY, data.len(), &etag))
            .await
            .unwrap(),
    );

    assert_eq!(handled[0]["result"], "validated", "{handled:?}");
    let copy = w.get(&w.ingested.name, &w.copy_key(KEY).await).await;
    assert!(
        copy.e_tag().unwrap().ends_with("-2\""),
        "multipart ETag: {:?}",
        copy.e_tag()
    );
    let bytes = copy.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.len(), data.len());
    assert!(bytes.as_ref() == data.as_bytes());
}

#[tokio::test]
async fn an_unusable_contract_is_a_non_retryable_error_naming_the_parameter() {
    let w = World::new().await;
    aws_sdk_ssm::Client::new(&w.sdk)
        .put_parameter()
        .name(&w.parameter)
        .value(r#"{"labels": []}"#)
        .overwrite(true)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let data = valid_csv(6);
    let etag = w.upload(KEY, data.clone().into_bytes()).await;

    let error = w
        .ingest(true)
        .handle(s3_notification(&w.raw.name, KEY, data.len(), &etag))
        .await
        .unwrap_err();

    let error = HandlerError::from(error);
    assert_eq!(error.class, ErrorClass::NonRetryable);
    assert!(error.message.contains(&w.parameter), "{error}");
    assert!(error.message.contains("at least one label"), "{error}");
    assert!(w.exists(&w.raw.name, KEY).await, "nothing lost");
}

impl World {
    /// The raw bucket versioned, as the template makes it.
    async fn version_raw(&self) {
        enable_versioning(&self.s3, &self.raw.name).await;
    }

    /// Uploads `body`; its version id.
    async fn upload_version(&self, key: &str, body: Vec<u8>) -> String {
        let put = self
            .s3
            .put_object()
            .bucket(&self.raw.name)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        put.version_id().unwrap().to_owned()
    }

    /// The handler with S3, SNS and EventBridge clients that fail as `faults` says.
    fn ingest_faulty(&self, faults: &Faults) -> Ingest {
        Ingest::new(
            Store::new(faults.s3(&self.sdk)),
            StateStore::new(faults.s3(&self.sdk), &self.state.name),
            EventPublisher::new(faults.events(&self.sdk), &self.bus.bus_name),
            self.contracts(),
            self.config(true),
        )
    }

    /// (versions, delete markers) of `key` in `bucket`.
    async fn versions(&self, bucket: &str, key: &str) -> (usize, usize) {
        let listed = self
            .s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .unwrap();
        let exact = |k: Option<&str>| k == Some(key);
        (
            listed.versions().iter().filter(|v| exact(v.key())).count(),
            listed
                .delete_markers()
                .iter()
                .filter(|m| exact(m.key()))
                .count(),
        )
    }
}

async fn enable_versioning(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// An S3 notification of a version of `key` in a versioned bucket.
fn versioned_notification(bucket: &str, key: &str, size: usize, version: &str) -> Value {
    let mut event = s3_notification(bucket, key, size, "");
    event["Records"][0]["s3"]["object"]["versionId"] = version.into();
    event["Records"][0]["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("eTag");
    event
}

#[tokio::test]
async fn after_a_failure_at_each_step_every_effect_happens_once_and_the_raw_version_is_deleted() {
    let w = World::new().await;
    w.version_raw().await;
    let mut data = valid_csv(10);
    data.push_str("\"Una etiqueta inventada\",spam\n");
    let version = w.upload_version(KEY, data.clone().into_bytes()).await;
    let event = versioned_notification(&w.raw.name, KEY, data.len(), &version);
    let faults = Faults::new();
    let ingest = w.ingest_faulty(&faults);

    // Each delivery fails at a later step; the next one resumes there.
    for (operation, step) in [
        ("PutEvents", "the announcement"),
        ("DeleteObject", "deleting the raw version"),
    ] {
        faults.fail(operation, When::BeforeSend, 1);
        let error = ingest.handle(event.clone()).await.unwrap_err();
        assert_eq!(
            HandlerError::from(error).class,
            ErrorClass::Retryable,
            "a failure of {step} is retried"
        );
    }
    let handled = summary(ingest.handle(event.clone()).await.unwrap());
    assert_eq!(handled[0]["result"], "quarantined", "{handled:?}");
    let again = summary(ingest.handle(event).await.unwrap());
    assert_eq!(again[0]["result"], "duplicate", "{again:?}");

    let quarantined = format!("quarantine/{KEY}");
    assert_eq!(
        w.versions(&w.raw.name, &quarantined).await,
        (1, 0),
        "copied once"
    );
    assert_eq!(
        w.versions(&w.raw.name, KEY).await,
        (0, 0),
        "the checked version is deleted for good, no delete marker left"
    );
    let events = w.bus.events(2, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1, "announced once: {events:?}");
}

#[tokio::test]
async fn a_failure_between_the_copy_and_its_record_announces_once() {
    let w = World::new().await;
    let faults = Faults::new();
    let ingest = w.ingest_faulty(&faults);
    // The 1st write to the state bucket claims the upload, the 2nd records the placed copy. Whether that write
    // took effect with its answer lost or never left, the release that follows the failure writes the claim's
    // progress (the copy is done), so the retry neither copies nor announces twice.
    for key in ["tickets/lost-answer.csv", "tickets/never-sent.csv"] {
        let when = if key.contains("lost") {
            When::AfterEffect
        } else {
            When::BeforeSend
        };
        let data = valid_csv(8);
        let etag = w.upload(key, data.clone().into_bytes()).await;
        let event = s3_notification(&w.raw.name, key, data.len(), &etag);
        faults.fail_nth("PutObject", &w.state.name, 2, when);
        ingest.handle(event.clone()).await.unwrap_err();
        let handled = summary(ingest.handle(event).await.unwrap());
        assert_eq!(handled[0]["result"], "validated", "{key}: {handled:?}");
        let copy = w.copy_key(key).await;
        assert_eq!(
            w.versions(&w.ingested.name, &copy).await.0,
            1,
            "{key}: copied once"
        );
        assert!(!w.exists(&w.raw.name, key).await, "{key}: raw deleted");
    }
    let events = w.bus.events(3, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 2, "each announced once: {events:?}");
}

#[tokio::test]
async fn uploads_under_the_reserved_prefix_are_quarantined_unread_and_change_no_state() {
    let w = World::new().await;
    let ingest = w.ingest(true);
    let forged = |n: u64| {
        let mut lines = String::new();
        for i in 0..12 {
            lines.push_str(
                &json!({"text": format!("forged state {i}"), "label": "soporte", "rows": n})
                    .to_string(),
            );
            lines.push('\n');
        }
        lines
    };
    for key in [
        "_guardrails/cost-guard/2026-11-30/total-over.json",
        "_guardrails/trigger-training/new-data/2026-12-01T00:00:00Z_1000000000_x.json",
        "_guardrails/inference-monitor/baseline.json",
        "_guardrails/drift-handler/alarm/2026-12-01T00-00-00.000Z.json",
        "_guardrails/markers/0123.json",
    ] {
        let body = forged(1_000_000_000);
        let etag = w.upload(key, body.clone().into_bytes()).await;
        let handled = summary(
            ingest
                .handle(s3_notification(&w.raw.name, key, body.len(), &etag))
                .await
                .unwrap(),
        );
        assert_eq!(handled[0]["result"], "quarantined", "{key}: {handled:?}");
        let detail = handled[0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("reserved for the guardrails"),
            "{key}: {detail}"
        );
        let listed =
            w.s3.list_objects_v2()
                .bucket(&w.ingested.name)
                .send()
                .await
                .unwrap();
        assert!(
            listed.contents().is_empty(),
            "{key} never reaches the ingested bucket: {:?}",
            listed.contents()
        );
    }
    // The state bucket holds only validate-ingest's own job documents.
    let listed =
        w.s3.list_objects_v2()
            .bucket(&w.state.name)
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("validate-ingest/")),
        "{keys:?}"
    );
}
