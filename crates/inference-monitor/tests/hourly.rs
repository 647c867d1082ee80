//! The monitor's drift signals against the emulator: SageMaker data capture and Model Monitor ground truth under
//! their hourly prefixes, judged against the serving version's signed baseline. An hour whose F1 fell (labels
//! arriving an hour late included) gives the model-quality violation; drifted texts the input-drift ones, in an
//! hour of capture and in a batch's output joined with its input alike; a small hour and an empty one give no
//! signal, only their counts; every hour's report is in the state bucket, written once.

#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use common::{event, group, monitor_with, register, trained_on};
use dataset_check::profile::Profiler;
use guardrails_core::{Classify, ErrorClass, aws, telemetry};
use inference_monitor::{InferenceMonitor, Input, Outcome, STAGE, Task};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use testkit::{
    Ended, KmsBucket, TaskError, TaskRunner, emf_documents, emulator, emulator_definition, fixture,
    fixture_text, unique_name,
};
use text_monitor::samples;

const LABELS: [&str; 4] = ["facturacion", "soporte", "ventas", "Otros"];

const WORDS: [&str; 24] = [
    "factura",
    "cobro",
    "pago",
    "tarjeta",
    "cuenta",
    "contraseña",
    "aplicación",
    "error",
    "plan",
    "precio",
    "oferta",
    "contrato",
    "envío",
    "pedido",
    "devolución",
    "reembolso",
    "llamada",
    "correo",
    "mensaje",
    "cliente",
    "servicio",
    "problema",
    "cambio",
    "ayuda",
];

/// The `i`-th ticket text of the training data's distribution: 4 to 16 of its words.
fn ticket(i: usize) -> String {
    let n = 4 + (i * 7) % 13;
    (0..n)
        .map(|j| WORDS[(i * 31 + j * 17) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A text of another distribution: long, English, words the training data never had.
fn drifted(i: usize) -> String {
    (0..40)
        .map(|j| format!("shipment{} delayed warehouse", (i + j) % 50))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A captured request and its answer, as SageMaker writes them (JSON encoding).
fn capture(event: &str, text: &str, label: &str) -> String {
    samples::capture(event, text, &samples::answer(label, 0.9))
}

/// Requests `range` of the training distribution; the model is right on three in five.
fn traffic(range: std::ops::Range<usize>, model: &str) -> (String, String) {
    let mut captured = String::new();
    let mut labels = String::new();
    for i in range {
        let id = format!("{model}-{i}");
        let label = LABELS[i % 4];
        let answer = if i % 5 < 3 {
            label
        } else {
            LABELS[(i + 1) % 4]
        };
        captured += &(capture(&id, &ticket(i), answer) + "\n");
        labels += &(samples::truth(&id, label) + "\n");
    }
    (captured, labels)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: String) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .unwrap();
}

/// `model`'s stored report of hour `hour` on 2026-12-02.
async fn report_of(s3: &aws_sdk_s3::Client, bucket: &str, model: &str, hour: &str) -> Value {
    let key = format!("monitor-reports/{model}/2026/12/02/{hour}.json");
    serde_json::from_slice(&testkit::object_bytes(s3, bucket, &key).await).unwrap()
}

/// The schedule's event, due at `time`.
fn schedule(time: &str) -> aws_lambda_events::eventbridge::EventBridgeEvent<Value> {
    let mut scheduled = fixture("scheduled-event.json");
    scheduled["time"] = json!(time);
    scheduled["resources"] =
        json!(["arn:aws:events:us-east-1:123456789012:rule/mlops-guardrails-monitor-hourly"]);
    event(scheduled)
}

/// The value `name` (with `check` as its `Check` dimension) emitted for `model`, if any: the largest, as the
/// alarms' `Maximum` reads them (a run's values are EMF value lists).
fn gauge(documents: &[Value], model: &str, name: &str, check: Option<&str>) -> Option<f64> {
    documents
        .iter()
        .filter(|d| d["Model"] == json!(model))
        .filter(|d| d.get("Check").and_then(Value::as_str) == check)
        .filter_map(|d| d.get(name))
        .flat_map(|v| match v {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
            other => other.as_f64().into_iter().collect::<Vec<_>>(),
        })
        .reduce(f64::max)
}

/// The training data's profile: 3,000 tickets, four even labels.
fn baseline_profile() -> dataset_check::Profile {
    let mut profiler = Profiler::default();
    for i in 0..3000 {
        let text = ticket(i);
        profiler.text(&text, text.chars().count() as u64);
    }
    let labels: BTreeMap<String, u64> = LABELS.iter().map(|l| ((*l).to_owned(), 750)).collect();
    profiler.finish(labels)
}

struct Setup {
    sdk: aws::SdkConfig,
    bucket: String,
    group: String,
    key: String,
}

impl Setup {
    /// The monitor for `model`, its capture under `data-capture/<model>/`, ground truth under
    /// `ground-truth/<model>/` when `labelled`.
    fn monitor(&self, model: &str, labelled: bool) -> InferenceMonitor {
        let capture = format!("s3://{}/data-capture/{model}/", self.bucket);
        let truth = format!("s3://{}/ground-truth/{model}", self.bucket);
        let mut extra = vec![
            ("CAPTURE_URI", capture.as_str()),
            ("LABEL_WINDOW_HOURS", "3"),
        ];
        if labelled {
            extra.push(("GROUND_TRUTH_URI", truth.as_str()));
        }
        monitor_with(
            &self.sdk,
            &self.bucket,
            &self.group,
            &self.key,
            Some(model),
            &extra,
        )
    }
}

#[tokio::test]
async fn each_hour_is_judged_once_against_the_serving_baseline_and_nothing_below_the_minimum_sample()
 {
    let collector = telemetry::init_metrics("MlopsGuardrails", STAGE).unwrap();
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "monitor").await.name.clone();
    let s3 = aws::s3_client(&sdk);
    let key = testkit::signing_key(&sdk).await;
    let group = group(&sdk).await;

    // The serving version trained on 3,000 tickets, four even labels; its record's validation F1 is 0.87.
    let metadata = trained_on(&sdk, &bucket, &key, "train-1", baseline_profile()).await;
    let serving = register(
        &sdk,
        &group,
        ModelApprovalStatus::Approved,
        "train-1",
        &metadata,
    )
    .await;
    let setup = Setup {
        sdk: sdk.clone(),
        bucket: bucket.clone(),
        group,
        key,
    };

    // A: the model right on 60 % of the texts it was trained for. Hour 08 is judged first (its labels have not
    // arrived); they arrive in hour 09's folder, and join hour 08's kept answers when hour 09 is judged. One label
    // is of a request older than the window. Hour 09 also holds the real-shaped capture sample (JSON,
    // CSV and BASE64 encodings, a probabilities answer, a broken line) and its labels.
    let a = unique_name("tickets-a");
    let (earlier, earlier_labels) = traffic(0..300, &a);
    let (hour, hour_labels) = traffic(300..900, &a);
    let captured = format!("data-capture/{a}/AllTraffic/2026/12/02");
    put(
        &s3,
        &bucket,
        &format!("{captured}/08/{a}-1-2026-12-02-08-00-00-000-0001.jsonl"),
        earlier,
    )
    .await;
    put(
        &s3,
        &bucket,
        &format!("{captured}/09/{a}-1-2026-12-02-09-00-00-000-0001.jsonl"),
        hour,
    )
    .await;
    put(
        &s3,
        &bucket,
        &format!("{captured}/09/{a}-1-2026-12-02-09-30-00-000-0002.jsonl"),
        fixture_text("data-capture.jsonl"),
    )
    .await;
    // A stray object under a year folder beside the variant hides no variant.
    put(
        &s3,
        &bucket,
        &format!("data-capture/{a}/2026/stray.jsonl"),
        "{}\n".into(),
    )
    .await;
    // The next hour's capture is not this run's.
    put(
        &s3,
        &bucket,
        &format!("{captured}/10/{a}-1-2026-12-02-10-00-00-000-0001.jsonl"),
        traffic(900..1900, &a).0,
    )
    .await;
    let labelled = format!("ground-truth/{a}/2026/12/02");
    put(
        &s3,
        &bucket,
        &format!("{labelled}/09/labels-0001.jsonl"),
        earlier_labels + &hour_labels,
    )
    .await;
    put(
        &s3,
        &bucket,
        &format!("{labelled}/09/labels-0002.jsonl"),
        fixture_text("ground-truth.jsonl") + &samples::truth(&format!("{a}-gone"), "ventas"),
    )
    .await;

    let monitor = setup.monitor(&a, true);
    let first = monitor
        .handle(schedule("2026-12-02T09:15:00Z"))
        .await
        .unwrap();
    assert!(
        matches!(&first, Outcome::Judged { violations, .. } if violations.is_empty()),
        "hour 08, no label yet: {first:?}"
    );
    let outcome = monitor
        .handle(schedule("2026-12-02T10:15:00Z"))
        .await
        .unwrap();
    let Outcome::Judged {
        hour,
        report,
        serving: judged,
        violations,
        verdict,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(hour.to_rfc3339(), "2026-12-02T09:00:00+00:00");
    assert_eq!(judged, serving);
    assert_eq!(violations, ["model-quality"], "{verdict}");
    let report_key = format!("monitor-reports/{a}/2026/12/02/09.json");
    assert_eq!(report, format!("s3://{bucket}/{report_key}"));
    let stored = report_of(&s3, &bucket, &a, "09").await;
    let body = &stored["report"];
    assert_eq!(
        body["capture"]["read"], 604,
        "600 texts and the four of the sample"
    );
    assert_eq!(body["capture"]["defects"]["malformed"], 1, "{body}");
    assert_eq!(
        (
            &stored["files"]["keptHours"],
            &stored["files"]["skippedHours"]
        ),
        (&json!(1), &json!(1)),
        "hour 08 kept, hour 07 never judged"
    );
    assert_eq!(
        body["modelQuality"]["join"]["matched"], 904,
        "hour 08's late labels joined"
    );
    assert_eq!(
        body["modelQuality"]["join"]["unmatched"], 1,
        "the label of a request out of the window"
    );
    assert_eq!(stored["files"]["capture"], 2);
    assert!(
        (stored["minF1"].as_f64().unwrap() - 0.82).abs() < 1e-9,
        "the serving version's 0.87 less 0.05"
    );
    let f1 = body["modelQuality"]["quality"]["weightedF1"]["estimate"]
        .as_f64()
        .unwrap();
    assert!(f1 < 0.7, "{f1}");

    let documents = emf_documents(collector);
    assert_eq!(
        gauge(&documents, &a, "ModelQualityViolation", None),
        Some(1.0)
    );
    assert!((gauge(&documents, &a, "WeightedF1", None).unwrap() - f1).abs() < 1e-9);
    assert!(gauge(&documents, &a, "WeightedF1UpperBound", None).unwrap() < 0.82);
    assert_eq!(gauge(&documents, &a, "LabelledRecords", None), Some(904.0));
    assert_eq!(gauge(&documents, &a, "MonitoredTexts", None), Some(604.0));
    for check in [
        "text-length-chars",
        "text-length-tokens",
        "empty-share",
        "out-of-vocabulary",
    ] {
        assert_eq!(
            gauge(&documents, &a, "InputDriftViolation", Some(check)),
            Some(0.0),
            "{check}: texts of the training distribution"
        );
    }
    assert!(gauge(&documents, &a, "LabelPSI", None).unwrap() < 0.1);

    // The same hour again (a duplicate delivery, or a retry after the invocation died before its metrics were
    // flushed): judged once, its values emitted again from the report.
    let again = monitor
        .handle(schedule("2026-12-02T10:59:00Z"))
        .await
        .unwrap();
    assert!(
        matches!(&again, Outcome::Ignored { reason } if reason.contains("already judged")),
        "{again:?}"
    );
    let documents = emf_documents(collector);
    assert_eq!(
        gauge(&documents, &a, "ModelQualityViolation", None),
        Some(1.0)
    );

    // The next hour (10) within the same window: hour 08's and 09's capture is gone, yet their late labels (still
    // in the window) join, to the answers kept when they were judged.
    s3.delete_object()
        .bucket(&bucket)
        .key(format!(
            "{captured}/09/{a}-1-2026-12-02-09-00-00-000-0001.jsonl"
        ))
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&bucket)
        .key(format!(
            "{captured}/08/{a}-1-2026-12-02-08-00-00-000-0001.jsonl"
        ))
        .send()
        .await
        .unwrap();
    let next = monitor
        .handle(schedule("2026-12-02T11:15:00Z"))
        .await
        .unwrap();
    assert!(matches!(&next, Outcome::Judged { .. }), "{next:?}");
    let stored = report_of(&s3, &bucket, &a, "10").await;
    assert_eq!(stored["files"]["keptHours"], 2, "{}", stored["files"]);
    assert_eq!(stored["report"]["capture"]["read"], 1000, "hour 10");
    assert_eq!(stored["report"]["modelQuality"]["join"]["matched"], 904);

    // A newer version serves: the answers the old one gave are not joined, so its labels do not judge the new.
    let metadata = trained_on(&sdk, &bucket, &setup.key, "train-2", baseline_profile()).await;
    register(
        &sdk,
        &setup.group,
        ModelApprovalStatus::Approved,
        "train-2",
        &metadata,
    )
    .await;
    let Outcome::Judged {
        violations,
        serving: judged,
        ..
    } = monitor
        .handle(schedule("2026-12-02T12:15:00Z"))
        .await
        .unwrap()
    else {
        panic!("not judged");
    };
    assert_ne!(judged, serving, "the newer version serves");
    assert!(violations.is_empty(), "{violations:?}");
    let stored = report_of(&s3, &bucket, &a, "11").await;
    assert_eq!(
        (
            &stored["files"]["keptHours"],
            &stored["files"]["skippedHours"]
        ),
        (&json!(0), &json!(2)),
        "hours 09 and 10 were answered by the version before"
    );
    assert_eq!(stored["report"]["modelQuality"]["join"]["matched"], 0);

    // B: texts of another distribution, no ground truth configured.
    let b = unique_name("tickets-b");
    let other_texts: String = (0..600)
        .map(|i| capture(&format!("{b}-{i}"), &drifted(i), "Otros") + "\n")
        .collect();
    put(
        &s3,
        &bucket,
        &format!("data-capture/{b}/AllTraffic/2026/12/02/09/{b}-1.jsonl"),
        other_texts,
    )
    .await;
    let Outcome::Judged { violations, .. } = setup
        .monitor(&b, false)
        .handle(schedule("2026-12-02T10:15:00Z"))
        .await
        .unwrap()
    else {
        panic!("not judged");
    };
    for check in [
        "text-length-chars",
        "text-length-tokens",
        "out-of-vocabulary",
    ] {
        assert!(
            violations.iter().any(|v| v == check),
            "{check} not in {violations:?}"
        );
    }
    let stored = report_of(&s3, &bucket, &b, "09").await;
    let top = stored["report"]["drift"]["topDriftingTokens"][0]["token"]
        .as_str()
        .unwrap();
    assert!(
        top.starts_with("shipment") || top == "delayed" || top == "warehouse",
        "{top}"
    );

    // E: a batch transform's output joined with its input (as batch-launcher starts jobs), of drifted texts.
    let e = unique_name("tickets-e");
    let joined: String = (0..600)
        .map(|i| json!({"id": format!("r{i}"), "text": drifted(i), "SageMakerOutput": {"label": "Otros", "confidence": 0.7}}).to_string() + "\n")
        .collect();
    let output = format!("batch-output/{e}/part-0001.jsonl.out");
    put(&s3, &bucket, &output, joined).await;
    let mut created = fixture("eventbridge-s3-object-created.json");
    created["detail"]["bucket"]["name"] = json!(bucket);
    created["detail"]["object"]["key"] = json!(output);
    let outcome = setup
        .monitor(&e, false)
        .handle(event(created))
        .await
        .unwrap();
    let Outcome::Monitored {
        input_drift,
        summary,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(summary.predictions, 600);
    assert!(
        input_drift.iter().any(|c| c == "out-of-vocabulary"),
        "{input_drift:?}"
    );
    let documents = emf_documents(collector);
    assert_eq!(
        gauge(
            &documents,
            &e,
            "InputDriftViolation",
            Some("out-of-vocabulary")
        ),
        Some(1.0)
    );

    // C: 50 texts, 20 answered wrong: under both minimum samples, nothing but the counts is emitted.
    let c = unique_name("tickets-c");
    let (few, few_labels) = traffic(0..50, &c);
    put(
        &s3,
        &bucket,
        &format!("data-capture/{c}/AllTraffic/2026/12/02/09/{c}-1.jsonl"),
        few,
    )
    .await;
    put(
        &s3,
        &bucket,
        &format!("ground-truth/{c}/2026/12/02/09/labels.jsonl"),
        few_labels,
    )
    .await;
    // D: an empty hour, whose first attempt died after keeping the hour's answers, before its report: the retry
    // finds them kept and finishes the hour.
    let d = unique_name("tickets-d");
    let kept = json!({"serving": serving, "answers": {"labels": [], "answers": [], "multiRecord": 0, "dropped": 0}});
    put(
        &s3,
        &bucket,
        &format!("monitor-reports/{d}/answers/2026/12/02/09.json"),
        kept.to_string(),
    )
    .await;
    for model in [&c, &d] {
        let outcome = setup
            .monitor(model, true)
            .handle(schedule("2026-12-02T10:15:00Z"))
            .await
            .unwrap();
        assert!(
            matches!(&outcome, Outcome::Judged { violations, .. } if violations.is_empty()),
            "{outcome:?}"
        );
    }
    let documents = emf_documents(collector);
    for (model, texts) in [(&c, 50.0), (&d, 0.0)] {
        assert_eq!(
            gauge(&documents, model, "MonitoredTexts", None),
            Some(texts)
        );
        let signals: Vec<String> = documents
            .iter()
            .filter(|doc| doc["Model"] == json!(model))
            .flat_map(|doc| {
                doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|m| m["Name"].as_str().map(str::to_owned))
            .filter(|name| name != "MonitoredTexts" && name != "LabelledRecords")
            .collect();
        assert!(signals.is_empty(), "{model}: {signals:?}");
        let stored = report_of(&s3, &bucket, model, "09").await;
        assert_eq!(stored["report"]["drift"]["texts"], texts as u64, "{model}");
    }
}

/// The fan-out state machine as the template deploys it, on the emulator, its tasks answered by `monitor`.
const MONITOR_HOUR: &str = include_str!("../../../infra/statemachine/monitor-hour.asl.json");
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:inference-monitor";

/// `a` and `b` equal, numbers up to the rounding of sums taken in another order (a part's sums are added to the
/// others', not its values one by one).
fn assert_same(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, v) in x {
                assert_same(v, &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                assert_same(v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{path}: {x} and {y}"
            );
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

/// `payload` handled by `monitor` as the Lambda runtime would hand it over.
async fn invoke(monitor: &InferenceMonitor, payload: Value) -> Result<Value, TaskError> {
    let handled = match serde_json::from_value::<Input>(payload) {
        Ok(Input::Task(task)) => monitor.task(task).await,
        Ok(Input::Event(event)) => monitor.handle(*event).await,
        Err(e) => panic!("a payload the function cannot take: {e}"),
    };
    handled
        .map(|outcome| serde_json::to_value(outcome).unwrap())
        .map_err(|e| TaskError {
            error_type: e.class().error_type().into(),
            message: e.to_string(),
        })
}

/// The hour's execution, its tasks answered by `monitor`, until it ends.
async fn run_hour(runner: &TaskRunner, execution: &str, monitor: &InferenceMonitor) -> Ended {
    runner
        .run(execution, std::time::Duration::from_secs(120), |payload| {
            invoke(monitor, payload)
        })
        .await
}

#[tokio::test]
async fn a_large_hour_read_in_parts_by_the_state_machine_is_judged_as_if_read_whole() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "monitor").await.name.clone();
    let s3 = aws::s3_client(&sdk);
    let key = testkit::signing_key(&sdk).await;
    let group = group(&sdk).await;
    let metadata = trained_on(&sdk, &bucket, &key, "train-1", baseline_profile()).await;
    register(
        &sdk,
        &group,
        ModelApprovalStatus::Approved,
        "train-1",
        &metadata,
    )
    .await;

    let runner = TaskRunner::create(&sdk).await;
    let mut definition = emulator_definition(
        MONITOR_HOUR,
        &[("InferenceMonitorFunctionArn", FUNCTION_ARN)],
    );
    assert_eq!(
        runner.rewrite(&mut definition, &[FUNCTION_ARN]),
        2,
        "ReadPart and Judge"
    );
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let machine = sfn
        .create_state_machine()
        .name(unique_name("monitor-hour"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/monitor-hour")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();

    // Hour 08: 300 requests (about 120 kB), read whole by both. Hour 09: 1,200 requests in four files of
    // the main variant and the real-shaped sample in a second one; with parts of 150 kB, four parts. Their labels
    // arrive in hour 09. The model is right on three in five: a model-quality violation.
    let a = unique_name("tickets-f");
    let (earlier, mut labels) = traffic(0..300, &a);
    let day = "2026/12/02";
    put(
        &s3,
        &bucket,
        &format!("data-capture/{a}/AllTraffic/{day}/08/0001.jsonl"),
        earlier,
    )
    .await;
    for file in 0..4 {
        let (captured, labelled) = traffic(300 + file * 300..600 + file * 300, &a);
        let key = format!("data-capture/{a}/AllTraffic/{day}/09/{file:04}.jsonl");
        put(&s3, &bucket, &key, captured).await;
        labels += &labelled;
    }
    let sample = format!("data-capture/{a}/Shadow/{day}/09/0001.jsonl");
    put(&s3, &bucket, &sample, fixture_text("data-capture.jsonl")).await;
    labels += &fixture_text("ground-truth.jsonl");
    put(
        &s3,
        &bucket,
        &format!("ground-truth/{a}/{day}/09/labels.jsonl"),
        labels,
    )
    .await;

    let capture = format!("s3://{bucket}/data-capture/{a}/");
    let truth = format!("s3://{bucket}/ground-truth/{a}/");
    let (whole_model, parts_model) = (format!("{a}-whole"), format!("{a}-parts"));
    let common = [
        ("CAPTURE_URI", capture.as_str()),
        ("GROUND_TRUTH_URI", truth.as_str()),
        ("LABEL_WINDOW_HOURS", "3"),
    ];
    let whole = monitor_with(&sdk, &bucket, &group, &key, Some(&whole_model), &common);
    let mut fanned = common.to_vec();
    fanned.extend([
        ("FAN_OUT_STATE_MACHINE_ARN", machine.as_str()),
        ("PART_BYTES", "150000"),
    ]);
    let parts = monitor_with(&sdk, &bucket, &group, &key, Some(&parts_model), &fanned);

    for monitor in [&whole, &parts] {
        let outcome = monitor
            .handle(schedule("2026-12-02T09:15:00Z"))
            .await
            .unwrap();
        assert!(
            matches!(outcome, Outcome::Judged { .. }),
            "hour 08 is small: {outcome:?}"
        );
    }
    let outcome = parts
        .handle(schedule("2026-12-02T10:15:00Z"))
        .await
        .unwrap();
    let Outcome::FannedOut {
        parts: count,
        execution,
        ..
    } = outcome
    else {
        panic!("hour 09 is large: {outcome:?}");
    };
    assert_eq!(
        count, 4,
        "three files alone, the fourth with the small sample"
    );
    // A repeated delivery finds the plan and the execution it started.
    let again = parts
        .handle(schedule("2026-12-02T10:15:00Z"))
        .await
        .unwrap();
    assert!(
        matches!(&again, Outcome::FannedOut { execution: e, parts: 4, .. } if *e == execution),
        "{again:?}"
    );
    let executions = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 1);

    let ended = run_hour(&runner, &execution, &parts).await;
    assert_eq!(
        ended.status,
        aws_sdk_sfn::types::ExecutionStatus::Succeeded,
        "{ended:?}"
    );
    let mut read: Vec<u64> = ended.payloads[..4]
        .iter()
        .map(|p| p["part"].as_u64().unwrap())
        .collect();
    read.sort_unstable();
    assert_eq!(
        (read, &ended.payloads[4]["task"]),
        (vec![0, 1, 2, 3], &json!("judge"))
    );
    let judged = &ended.output.as_ref().unwrap()["judged"];
    assert_eq!(judged["outcome"], "judged", "{judged}");
    assert_eq!(judged["violations"], json!(["model-quality"]), "{judged}");

    whole
        .handle(schedule("2026-12-02T10:15:00Z"))
        .await
        .unwrap();
    let (by_parts, read_whole) = (
        report_of(&s3, &bucket, &parts_model, "09").await,
        report_of(&s3, &bucket, &whole_model, "09").await,
    );
    for field in [
        "report",
        "violations",
        "gauges",
        "files",
        "verdict",
        "minF1",
        "labelPsi",
    ] {
        assert_same(&by_parts[field], &read_whole[field], field);
    }
    assert_eq!(by_parts["files"]["capture"], 5);
    assert_eq!(
        by_parts["files"]["keptHours"], 1,
        "hour 08's answers, kept when it was judged"
    );
    assert_eq!(by_parts["report"]["capture"]["read"], 1204);

    // Judged once: the schedule's redelivery and the judge's retry find the report.
    let late = parts
        .handle(schedule("2026-12-02T10:40:00Z"))
        .await
        .unwrap();
    assert!(
        matches!(&late, Outcome::Ignored { reason } if reason.contains("already judged")),
        "{late:?}"
    );
    let hour = "2026-12-02T09:00:00Z".parse().unwrap();
    let retried = parts.task(Task::Judge { hour }).await.unwrap();
    assert!(
        matches!(&retried, Outcome::Ignored { reason } if reason.contains("already judged")),
        "{retried:?}"
    );
    // A task for an hour that was never planned fails for good, naming what is missing.
    let error = parts
        .task(Task::ReadPart {
            hour: "2026-12-02T13:00:00Z".parse().unwrap(),
            part: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(error.to_string().contains("no plan"), "{error}");

    // Hour 10 is planned while version 1 serves; version 2 is released before its parts are read: they are not
    // judged against another version's baseline, the execution fails (the alarm's signal), and a redelivered
    // schedule event says the hour was not judged instead of reporting it handed over.
    for file in 0..2 {
        let key = format!("data-capture/{a}/AllTraffic/{day}/10/{file:04}.jsonl");
        put(
            &s3,
            &bucket,
            &key,
            traffic(2000 + file * 300..2300 + file * 300, &a).0,
        )
        .await;
    }
    let outcome = parts
        .handle(schedule("2026-12-02T11:15:00Z"))
        .await
        .unwrap();
    let Outcome::FannedOut { execution, .. } = outcome else {
        panic!("hour 10 is large: {outcome:?}");
    };
    let metadata = trained_on(&sdk, &bucket, &key, "train-2", baseline_profile()).await;
    register(
        &sdk,
        &group,
        ModelApprovalStatus::Approved,
        "train-2",
        &metadata,
    )
    .await;
    let ended = run_hour(&runner, &execution, &parts).await;
    assert_eq!(
        ended.status,
        aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{ended:?}"
    );
    let error = parts
        .handle(schedule("2026-12-02T11:20:00Z"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(error.to_string().contains("ended FAILED"), "{error}");
}
