//! stage-report against the emulator: reports uploaded to a bucket, read back through S3, judged against the
//! reference kept in the state bucket, notices through SNS, metrics as EMF.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use guardrails_core::aws_events::ObjectCreatedDetail;
use guardrails_core::function::Function;
use guardrails_core::s3::encode_notification_key;
use guardrails_core::state::StateStore;
use guardrails_core::{Env, Notifier, aws, telemetry};
use serde_json::{Value, json};
use stage_report::handler::{Reference, reference_key};
use stage_report::report::Stage;
use stage_report::{Config, Outcome, STAGE, StageReport};
use testkit::{Faults, KmsBucket, TopicProbe, When, emf_documents, emulator, fixture};

struct World {
    s3: aws_sdk_s3::Client,
    state: StateStore,
    reports: KmsBucket,
    topic: TopicProbe,
    config: Config,
    sdk: aws::SdkConfig,
}

impl World {
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        let state = KmsBucket::create(&sdk, "state").await;
        let reports = KmsBucket::create(&sdk, "artifacts").await;
        let topic = TopicProbe::create(&sdk).await;
        let config = Config::from_env(&Env::from_pairs([
            ("NOTICE_TOPIC_ARN", topic.topic_arn.as_str()),
            ("STATE_BUCKET", state.name.as_str()),
        ]))
        .unwrap();
        World {
            s3: aws::s3_client(&sdk),
            state: StateStore::new(aws::s3_client(&sdk), &state.name),
            reports,
            topic,
            config,
            sdk,
        }
    }

    fn function(&self) -> StageReport {
        StageReport::from_sdk(&self.sdk, self.config.clone()).unwrap()
    }

    /// The function with S3 and SNS clients that fail as `faults` says.
    fn failing(&self, faults: &Faults) -> StageReport {
        StageReport::new(
            faults.s3(&self.sdk),
            Notifier::new(faults.sns(&self.sdk), &self.topic.topic_arn),
            self.config.clone(),
        )
    }

    /// Puts `body` at `key` and returns the event S3 would send for it.
    async fn upload(&self, key: &str, body: &[u8]) -> ObjectCreatedDetail {
        let put = self
            .s3
            .put_object()
            .bucket(&self.reports.name)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
        let mut event = fixture("eventbridge-s3-stage-report.json");
        let object = &mut event["detail"]["object"];
        object["key"] = json!(encode_notification_key(key));
        object["size"] = json!(body.len());
        object["etag"] = json!(put.e_tag().unwrap().trim_matches('"'));
        object.as_object_mut().unwrap().remove("version-id");
        event["detail"]["bucket"]["name"] = json!(self.reports.name);
        serde_json::from_value::<EventBridgeEvent<ObjectCreatedDetail>>(event)
            .unwrap()
            .detail
    }

    async fn handle(&self, function: &StageReport, detail: ObjectCreatedDetail) -> Outcome {
        function.handle(detail, Utc::now()).await.unwrap()
    }

    async fn reference(&self, stage: Stage) -> Option<Reference> {
        self.state
            .read::<Reference>(&reference_key(stage))
            .await
            .unwrap()
            .map(|s| s.value)
    }

    /// The job of the stage's reference run, which must exist.
    async fn reference_job(&self, stage: Stage) -> String {
        self.reference(stage).await.unwrap().report.job_id
    }

    async fn notices(&self, at_least: usize) -> Vec<Value> {
        let wait = if at_least == 0 { 2 } else { 10 };
        self.topic
            .notices(at_least.max(1), Duration::from_secs(wait))
            .await
    }
}

fn finished(hour: u32) -> String {
    format!("2026-12-01T{hour:02}:10:00Z")
}

/// A feature-engineering run finishing at `hour` whose embedding mean is `mean`.
fn embedded(job: &str, hour: u32, mean: [f64; 4]) -> Value {
    json!({
        "reportVersion": 1, "stage": "feature-engineering", "jobId": job,
        "startedAt": format!("2026-12-01T{hour:02}:00:00Z"), "finishedAt": finished(hour),
        "seconds": 600, "rowsIn": 1000, "rowsOut": 1000,
        "nullShare": {"text": 0.01}, "batches": 10, "failedBatches": 0,
        "embeddings": {"dimension": 4, "mean": mean, "variance": [0.25, 0.25, 0.25, 0.25],
            "normQuantiles": {"p05": 0.6, "p50": 1.0, "p95": 1.4}},
        "log": ["1000 texts embedded"]
    })
}

fn clustered(job: &str, hour: u32, clusters: usize) -> Value {
    json!({
        "reportVersion": 1, "stage": "clustering", "jobId": job,
        "startedAt": format!("2026-12-01T{hour:02}:00:00Z"), "finishedAt": finished(hour),
        "seconds": 60, "rowsIn": 1000, "rowsOut": 960, "nullShare": {}, "failedBatches": 0,
        "clustering": {"clusters": clusters, "sizes": vec![960 / clusters as u64; clusters],
            "intraVariance": vec![0.2; clusters], "totalIntraVariance": 0.2, "silhouette": 0.3}
    })
}

fn bytes(report: &Value) -> Vec<u8> {
    serde_json::to_vec(report).unwrap()
}

fn finished_at(reference: &Reference) -> DateTime<Utc> {
    reference.report.finished_at
}

#[tokio::test]
async fn runs_are_judged_against_the_previous_one_and_only_breaches_notify() {
    let collector = telemetry::init_metrics("MlopsGuardrails", STAGE).unwrap();
    let w = World::new().await;
    let f = w.function();
    let steady = [1.0, 0.0, 0.0, 0.0];

    // The first report of the stage sets the reference, with no notice.
    let first = w
        .upload(
            "features/d1/stage-report.json",
            &bytes(&embedded("fe-1", 2, steady)),
        )
        .await;
    let outcome = w.handle(&f, first.clone()).await;
    assert!(
        matches!(&outcome, Outcome::Judged { breaches, reference: true, stage: Stage::FeatureEngineering, .. } if breaches.is_empty()),
        "{outcome:?}"
    );
    let reference = w.reference(Stage::FeatureEngineering).await.unwrap();
    assert_eq!(reference.report.job_id, "fe-1");

    // A good run: metrics, no notice, and it becomes the reference.
    let good = w
        .upload(
            "features/d2/stage-report.json",
            &bytes(&embedded("fe-2", 3, [0.99, 0.05, 0.0, 0.0])),
        )
        .await;
    let outcome = w.handle(&f, good).await;
    assert!(
        matches!(&outcome, Outcome::Judged { breaches, reference: true, .. } if breaches.is_empty()),
        "{outcome:?}"
    );
    assert!(w.notices(0).await.is_empty(), "a good run notifies nobody");
    let documents = emf_documents(collector);
    let ours = |name: &str| {
        documents
            .iter()
            .filter(|d| d["PipelineStage"] == "feature-engineering" && d.get(name).is_some())
            .count()
    };
    for name in [
        "StageSeconds",
        "StageRowsOut",
        "StageNullPct",
        "EmbeddingMeanDistance",
        "EmbeddingVarianceRatio",
        "StageReports",
    ] {
        assert!(ours(name) > 0, "no {name} in {documents:?}");
    }

    // The mean turned by about 34° from the previous run's: a notice with the figures, and the run becomes the reference.
    let moved = w
        .upload(
            "features/d3/stage-report.json",
            &bytes(&embedded("fe-3", 4, [0.8, 0.6, 0.0, 0.0])),
        )
        .await;
    let outcome = w.handle(&f, moved.clone()).await;
    let Outcome::Judged { breaches, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert!(
        breaches[0].contains("cosine distance 0.1708"),
        "{breaches:?}"
    );
    let notices = w.notices(1).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "stage-breach"
    );
    let message = notices[0]["Message"].as_str().unwrap();
    assert!(
        message.contains("Run fe-3 of feature-engineering"),
        "{message}"
    );
    assert!(message.contains("Compared with run fe-2"), "{message}");
    assert!(
        message.contains("1000 texts embedded"),
        "the job's log lines: {message}"
    );

    // Delivered again: nothing more.
    assert!(matches!(
        w.handle(&f, moved).await,
        Outcome::Duplicate { .. }
    ));
    // A report of an older run, arriving late: judged, but the reference stays the newest run.
    let late = w
        .upload(
            "features/d0/stage-report.json",
            &bytes(&embedded("fe-0", 1, steady)),
        )
        .await;
    let outcome = w.handle(&f, late).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Judged {
                reference: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    let reference = w.reference(Stage::FeatureEngineering).await.unwrap();
    assert_eq!(
        (
            reference.report.job_id.as_str(),
            finished_at(&reference).to_rfc3339()
        ),
        ("fe-3", "2026-12-01T04:10:00+00:00".to_owned())
    );
    // The late run's mean is where fe-3's was not: it is a breach against fe-3, said as late.
    let notices = w.notices(1).await;
    assert!(
        notices[0]["Message"]
            .as_str()
            .unwrap()
            .contains("a report of an older run")
    );

    // Clustering has its own reference: the first run sets it, a collapse from 12 to 3 clusters notifies.
    w.handle(
        &f,
        w.upload(
            "clusters/d1/stage-report.json",
            &bytes(&clustered("cl-1", 2, 12)),
        )
        .await,
    )
    .await;
    let collapsed = w
        .upload(
            "clusters/d2/stage-report.json",
            &bytes(&clustered("cl-2", 3, 3)),
        )
        .await;
    let outcome = w.handle(&f, collapsed).await;
    assert!(
        matches!(&outcome, Outcome::Judged { breaches, .. } if breaches == &["clusters went from 12 to 3 (-75 %, limit ±50 %)"]),
        "{outcome:?}"
    );
    let notices = w.notices(1).await;
    assert!(
        notices[0]["Subject"]
            .as_str()
            .unwrap()
            .contains("clustering run cl-2 passed limits: cluster-count"),
        "{notices:?}"
    );
    assert_eq!(w.reference_job(Stage::FeatureEngineering).await, "fe-3");
}

#[tokio::test]
async fn an_invalid_report_is_refused_with_the_schema_errors_and_sets_nothing() {
    let w = World::new().await;
    let f = w.function();
    let mut report = embedded("fe-x", 2, [1.0, 0.0, 0.0, 0.0]);
    report["nullShare"]["text"] = json!(1.5);
    report["embeddings"]["mean"] = json!([1.0, 0.0]);
    report.as_object_mut().unwrap().remove("rowsIn");
    let upload = w
        .upload("features/bad/stage-report.json", &bytes(&report))
        .await;
    let outcome = w.handle(&f, upload).await;
    let Outcome::Invalid { errors, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    let all = errors.join("\n");
    assert!(all.contains("rowsIn"), "{all}");
    assert!(all.contains("/nullShare/text"), "{all}");
    let notices = w.notices(1).await;
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "stage-report-invalid"
    );
    assert!(
        notices[0]["Message"]
            .as_str()
            .unwrap()
            .contains("/nullShare/text")
    );
    assert!(
        w.reference(Stage::FeatureEngineering).await.is_none(),
        "an invalid report is no reference"
    );

    // Not JSON at all, and not a report key.
    let outcome = w
        .handle(
            &f,
            w.upload("features/nan/stage-report.json", b"{\"seconds\": NaN}")
                .await,
        )
        .await;
    assert!(
        matches!(&outcome, Outcome::Invalid { errors, .. } if errors[0].contains("allow_nan=False")),
        "{outcome:?}"
    );
    let outcome = w
        .handle(&f, w.upload("features/d1/part-0000.parquet", b"PAR1").await)
        .await;
    assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");
    // Empty: refused as such.
    let outcome = w
        .handle(&f, w.upload("features/empty/stage-report.json", b"").await)
        .await;
    assert!(
        matches!(&outcome, Outcome::Invalid { errors, .. } if errors[0].contains("empty")),
        "{outcome:?}"
    );
    // Overwritten before it was read: the version the event names is gone, and the overwrite's own event is the
    // one that judges what replaced it.
    let first = w
        .upload(
            "features/again/stage-report.json",
            &bytes(&embedded("fe-a", 2, [1.0, 0.0, 0.0, 0.0])),
        )
        .await;
    let second = w.upload("features/again/stage-report.json", b"{}").await;
    let outcome = w.handle(&f, first).await;
    assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");
    let outcome = w.handle(&f, second).await;
    assert!(matches!(outcome, Outcome::Invalid { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_notice_interrupted_by_a_failure_is_sent_once_by_the_retry_which_also_moves_the_reference()
 {
    let w = World::new().await;
    let f = w.function();
    w.handle(
        &f,
        w.upload(
            "features/d1/stage-report.json",
            &bytes(&embedded("fe-1", 2, [1.0, 0.0, 0.0, 0.0])),
        )
        .await,
    )
    .await;
    let faults = Faults::new();
    let failing = w.failing(&faults);
    let moved = w
        .upload(
            "features/d2/stage-report.json",
            &bytes(&embedded("fe-2", 3, [0.0, 1.0, 0.0, 0.0])),
        )
        .await;
    faults.fail("Publish", When::BeforeSend, 1);
    failing.handle(moved.clone(), Utc::now()).await.unwrap_err();
    assert_eq!(
        w.reference_job(Stage::FeatureEngineering).await,
        "fe-1",
        "not moved before the notice"
    );
    let outcome = failing.handle(moved.clone(), Utc::now()).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Judged { breaches, .. } if !breaches.is_empty()),
        "{outcome:?}"
    );
    assert_eq!(w.reference_job(Stage::FeatureEngineering).await, "fe-2");
    let notices = w.topic.notices(2, Duration::from_secs(5)).await;
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    assert!(matches!(
        w.handle(&f, moved).await,
        Outcome::Duplicate { .. }
    ));
}

#[tokio::test]
async fn a_delivery_that_dies_right_after_moving_the_reference_is_finished_by_the_retry_without_a_second_notice()
 {
    let w = World::new().await;
    let f = w.function();
    w.handle(
        &f,
        w.upload(
            "features/d1/stage-report.json",
            &bytes(&embedded("fe-1", 2, [1.0, 0.0, 0.0, 0.0])),
        )
        .await,
    )
    .await;
    let faults = Faults::new();
    let failing = w.failing(&faults);
    let moved = w
        .upload(
            "features/d2/stage-report.json",
            &bytes(&embedded("fe-2", 3, [0.0, 1.0, 0.0, 0.0])),
        )
        .await;
    // The reference is written, then the answer is lost: the delivery fails as if it died there.
    faults.fail_matching("PutObject", "reference.json", When::AfterEffect, 1);
    failing.handle(moved.clone(), Utc::now()).await.unwrap_err();
    assert_eq!(w.reference_job(Stage::FeatureEngineering).await, "fe-2");
    let outcome = failing.handle(moved, Utc::now()).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Judged { breaches, reference: true, .. } if !breaches.is_empty()),
        "{outcome:?}"
    );
    assert_eq!(w.reference_job(Stage::FeatureEngineering).await, "fe-2");
    let notices = w.topic.notices(2, Duration::from_secs(5)).await;
    assert_eq!(
        notices.len(),
        1,
        "the notice was recorded before the move: {notices:?}"
    );
}
