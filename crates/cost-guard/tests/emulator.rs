//! cost-guard against the emulator with injected Cost Explorer results: what reaches the notice topic's queue
//! and the bus rule's queue, run after run. SageMaker (moto reports no job in progress and has no StopTrainingJob)
//! comes from `aws-smithy-mocks`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::operation::list_processing_jobs::ListProcessingJobsOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::operation::list_training_jobs::ListTrainingJobsOutput;
use aws_sdk_sagemaker::operation::list_transform_jobs::ListTransformJobsOutput;
use aws_sdk_sagemaker::types::{Tag, TrainingJobStatus, TrainingJobSummary};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::NaiveDate;
use cost_guard::budget::Budgets;
use cost_guard::enforce::Enforcer;
use cost_guard::explorer::CostExplorer;
use cost_guard::{Config, CostGuard, Enforce};
use guardrails_core::state::StateStore;
use guardrails_core::{CommonConfig, EventPublisher, Notifier, aws, telemetry};
use serde_json::{Value, json};
use testkit::{BusProbe, Faults, KmsBucket, TopicProbe, When, emf_documents, emulator};

/// Cost Explorer results are one queue per emulator: tests that inject them take turns.
static COST_EXPLORER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SAGEMAKER: &str = "Amazon SageMaker";
const S3: &str = "Amazon Simple Storage Service";
/// Fargate's spend, as Cost Explorer names it.
const FARGATE: &str = "Amazon Elastic Container Service";

/// A GetCostAndUsage answer grouped by SERVICE, one entry per day of `month_days` (day, [(service, usd)]).
fn by_service(month: &str, days: &[(u32, &[(&str, f64)])]) -> Value {
    let results: Vec<Value> = days
        .iter()
        .map(|(day, services)| {
            json!({
                "TimePeriod": {"Start": format!("{month}-{day:02}"), "End": format!("{month}-{:02}", day + 1)},
                "Total": {},
                "Groups": services.iter().map(|(s, usd)| json!({
                    "Keys": [s], "Metrics": {"UnblendedCost": {"Amount": usd.to_string(), "Unit": "USD"}}
                })).collect::<Vec<_>>(),
                "Estimated": *day == days.len() as u32
            })
        })
        .collect();
    json!({"ResultsByTime": results, "DimensionValueAttributes": []})
}

fn by_job(day: &str, next: &str, jobs: &[(&str, f64)]) -> Value {
    json!({"ResultsByTime": [{
        "TimePeriod": {"Start": day, "End": next},
        "Total": {},
        "Groups": jobs.iter().map(|(j, usd)| json!({
            "Keys": [format!("job${j}")], "Metrics": {"UnblendedCost": {"Amount": usd.to_string(), "Unit": "USD"}}
        })).collect::<Vec<_>>(),
        "Estimated": true
    }], "DimensionValueAttributes": []})
}

/// Queues Cost Explorer answers, in the order the run asks: month by service, then the day by job.
fn inject(results: &[Value]) {
    emulator()
        .post_json(
            "/moto-api/static/ce/cost-and-usage-results",
            &json!({"results": results}),
        )
        .unwrap();
}

struct World {
    sdk: aws::SdkConfig,
    topic: TopicProbe,
    bus: BusProbe,
    markers: KmsBucket,
}

impl World {
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        World {
            topic: TopicProbe::create(&sdk).await,
            bus: BusProbe::create(
                &sdk,
                &json!({"source": ["mlops.guardrails"], "detail-type": ["Budget Exceeded"]}),
            )
            .await,
            markers: KmsBucket::create(&sdk, "cost-markers").await,
            sdk,
        }
    }

    fn guard(&self, enforce: Enforce, enforcer: Option<Enforcer>) -> CostGuard {
        self.guard_with(enforce, enforcer, &Faults::new())
    }

    /// The guard with clients that fail as `faults` says (S3, SNS and EventBridge).
    fn guard_with(
        &self,
        enforce: Enforce,
        enforcer: Option<Enforcer>,
        faults: &Faults,
    ) -> CostGuard {
        let config = Config {
            common: CommonConfig {
                metrics_namespace: "GuardrailsTest".into(),
                event_bus_name: Some(self.bus.bus_name.clone()),
                notice_topic_arn: Some(self.topic.topic_arn.clone()),
                state_bucket: Some(self.markers.name.clone()),
                claim_lease: Duration::from_secs(90),
            },
            budgets: Budgets {
                daily_total: Some(100.0),
                monthly: Some(3000.0),
                per_service: BTreeMap::from([(SAGEMAKER.to_owned(), 60.0)]),
                warn_fraction: 0.8,
            },
            metric: "UnblendedCost".into(),
            cost_tag: Some(("project".into(), "mlops-guardrails".into())),
            job_tag_key: Some("job".into()),
            state_bucket: self.markers.name.clone(),
            marker_prefix: "cost-guard/".into(),
            enforce,
            hard_limit_usd: Some(110.0),
        };
        CostGuard::new(
            CostExplorer::new(
                aws_sdk_costexplorer::Client::new(&self.sdk),
                "UnblendedCost",
                config.cost_tag.clone(),
                config.job_tag_key.clone(),
            ),
            StateStore::new(faults.s3(&self.sdk), &self.markers.name),
            Notifier::new(faults.sns(&self.sdk), &self.topic.topic_arn),
            EventPublisher::new(faults.events(&self.sdk), &self.bus.bus_name),
            enforcer,
            config,
        )
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn over_budget_alerts_once_per_day_with_numbers_and_top_jobs() {
    let _turn = COST_EXPLORER.lock().await;
    let w = World::new().await;
    // 2026-11-03: SageMaker 120 (budget 60), S3 5: total 125 (budget 100).
    inject(&[
        by_service(
            "2026-11",
            &[
                (1, &[(SAGEMAKER, 20.0)]),
                (2, &[(SAGEMAKER, 22.0)]),
                (3, &[(SAGEMAKER, 120.0), (S3, 5.0)]),
            ],
        ),
        by_job(
            "2026-11-03",
            "2026-11-04",
            &[("tickets-classifier-0303", 110.0), ("", 15.0)],
        ),
    ]);
    let guard = w.guard(Enforce::Off, None);

    let report = guard.run(date("2026-11-04")).await.unwrap();

    assert_eq!(report.costs.day_total().usd, 125.0);
    assert_eq!(report.costs.month_to_date.usd, 167.0);
    assert_eq!(report.notified, ["total", SAGEMAKER]);
    let notices = w.topic.notices(2, Duration::from_secs(10)).await;
    assert_eq!(notices.len(), 2, "{notices:?}");
    let total = notices
        .iter()
        .find(|n| n["Subject"].as_str().unwrap().contains("Total spend"))
        .unwrap();
    assert_eq!(
        total["Subject"],
        "[CRITICAL] Total spend is over budget: $125.00 of $100.00 (2026-11-03)"
    );
    assert_eq!(total["MessageAttributes"]["kind"]["Value"], "budget-over");
    let message = total["Message"].as_str().unwrap();
    assert!(
        message.contains("tickets-classifier-0303: $110.00"),
        "{message}"
    );
    assert!(message.contains("(untagged): $15.00"), "{message}");
    assert!(
        message.contains("(estimated by Cost Explorer)"),
        "{message}"
    );
    let events = w.bus.events(2, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().any(|e| e["detail"]["scope"] == SAGEMAKER
        && e["detail"]["actualUsd"] == 120.0
        && e["detail"]["budgetUsd"] == 60.0));

    // The same day again (a retry, a second schedule): no second notice or event.
    let again = guard.run(date("2026-11-04")).await.unwrap();
    assert_eq!(again.breaches.len(), 2);
    assert!(again.notified.is_empty());
    assert!(w.topic.notices(1, Duration::from_secs(2)).await.is_empty());
    assert!(w.bus.events(1, Duration::from_secs(1)).await.is_empty());
}

#[tokio::test]
async fn an_alert_interrupted_by_a_failure_is_completed_by_the_retry_exactly_once() {
    let _turn = COST_EXPLORER.lock().await;
    let w = World::new().await;
    let faults = Faults::new();
    let guard = w.guard_with(Enforce::Off, None, &faults);
    // A day of its own: the emulator answers the same query with the same injected result.
    inject(&[
        by_service("2026-10", &[(3, &[(SAGEMAKER, 120.0), (S3, 5.0)])]),
        by_job(
            "2026-10-03",
            "2026-10-04",
            &[("tickets-classifier-1003", 110.0)],
        ),
    ]);

    // The first notice fails: the run fails (the schedule's retry comes); the other breach is still alerted.
    faults.fail("Publish", When::BeforeSend, 1);
    guard.run(date("2026-10-04")).await.unwrap_err();
    // Then Budget Exceeded fails after the resumed alert's notice went out.
    faults.fail("PutEvents", When::BeforeSend, 1);
    guard.run(date("2026-10-04")).await.unwrap_err();
    let last = guard.run(date("2026-10-04")).await.unwrap();
    assert_eq!(last.breaches.len(), 2);

    let notices = w.topic.notices(3, Duration::from_secs(5)).await;
    let subjects: Vec<&str> = notices
        .iter()
        .filter_map(|n| n["Subject"].as_str())
        .collect();
    assert_eq!(subjects.len(), 2, "one notice per breach: {subjects:?}");
    assert!(
        subjects.iter().any(|s| s.contains("Total spend")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains(SAGEMAKER)),
        "{subjects:?}"
    );
    let events = w.bus.events(3, Duration::from_secs(5)).await;
    let scopes: Vec<&str> = events
        .iter()
        .filter_map(|e| e["detail"]["scope"].as_str())
        .collect();
    assert_eq!(
        scopes.len(),
        2,
        "one Budget Exceeded per breach: {scopes:?}"
    );
    assert!(faults.calls("Publish") >= 3, "the failures really happened");
}

#[tokio::test]
async fn under_budget_sends_nothing() {
    let _turn = COST_EXPLORER.lock().await;
    let w = World::new().await;
    inject(&[
        by_service(
            "2026-11",
            &[
                (11, &[(SAGEMAKER, 10.0), (S3, 2.0)]),
                (
                    12,
                    &[
                        (SAGEMAKER, 12.0),
                        (S3, 2.0),
                        (FARGATE, 3.0),
                        ("Amazon Route 53", 0.5),
                    ],
                ),
            ],
        ),
        by_job(
            "2026-11-12",
            "2026-11-13",
            &[("tickets-classifier-1112", 12.0)],
        ),
    ]);

    let metrics = telemetry::init_metrics("GuardrailsTest", cost_guard::STAGE).unwrap();

    let report = w
        .guard(Enforce::Off, None)
        .run(date("2026-11-13"))
        .await
        .unwrap();

    assert_eq!(report.costs.day_total().usd, 17.5);
    // EMF: SageMaker, S3 and Fargate (billed as ECS) by name, a service off the named list as Other, the total.
    let docs = emf_documents(metrics);
    let cost = |service: &str| {
        docs.iter()
            .find(|d| d["Service"] == service)
            .map(|d| d["CostUsd"].clone())
    };
    assert_eq!(cost(SAGEMAKER), Some(json!(12.0)), "{docs:?}");
    assert_eq!(cost(S3), Some(json!(2.0)));
    assert_eq!(cost(FARGATE), Some(json!(3.0)));
    assert_eq!(cost("Other"), Some(json!(0.5)));
    assert_eq!(cost("Total"), Some(json!(17.5)));
    assert_eq!(
        cost("Amazon Route 53"),
        None,
        "a service off the named list is not its own metric stream"
    );
    assert!(report.breaches.is_empty(), "{:?}", report.breaches);
    assert!(w.topic.notices(1, Duration::from_secs(2)).await.is_empty());
    assert!(w.bus.events(1, Duration::from_secs(1)).await.is_empty());
}

#[tokio::test]
async fn dry_run_above_the_hard_limit_reports_and_stops_nothing() {
    let _turn = COST_EXPLORER.lock().await;
    let w = World::new().await;
    inject(&[
        by_service("2026-11", &[(20, &[(SAGEMAKER, 150.0)])]),
        by_job("2026-11-20", "2026-11-21", &[("runaway-hpo", 150.0)]),
    ]);
    let list = mock!(aws_sdk_sagemaker::Client::list_training_jobs).then_output(|| {
        ListTrainingJobsOutput::builder()
            .training_job_summaries(
                TrainingJobSummary::builder()
                    .training_job_name("runaway-hpo")
                    .training_job_arn(
                        "arn:aws:sagemaker:us-east-1:123456789012:training-job/runaway-hpo",
                    )
                    .creation_time(aws_sdk_sagemaker::primitives::DateTime::from_secs(
                        1_795_000_000,
                    ))
                    .training_job_status(TrainingJobStatus::InProgress)
                    .build(),
            )
            .build()
    });
    let processing = mock!(aws_sdk_sagemaker::Client::list_processing_jobs)
        .then_output(|| ListProcessingJobsOutput::builder().build());
    let transform = mock!(aws_sdk_sagemaker::Client::list_transform_jobs)
        .then_output(|| ListTransformJobsOutput::builder().build());
    let tags = mock!(aws_sdk_sagemaker::Client::list_tags).then_output(|| {
        ListTagsOutput::builder()
            .tags(
                Tag::builder()
                    .key("project")
                    .value("mlops-guardrails")
                    .build(),
            )
            .build()
    });
    let stop = mock!(aws_sdk_sagemaker::Client::stop_training_job).then_output(|| {
        aws_sdk_sagemaker::operation::stop_training_job::StopTrainingJobOutput::builder().build()
    });
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        [&list, &processing, &transform, &tags, &stop]
    );
    let enforcer = Enforcer::new(sagemaker, "project".into(), "mlops-guardrails".into());

    let report = w
        .guard(Enforce::DryRun, Some(enforcer))
        .run(date("2026-11-21"))
        .await
        .unwrap();

    assert_eq!(report.enforcement.len(), 1, "{:?}", report.enforcement);
    assert_eq!(report.enforcement[0].name, "runaway-hpo");
    assert_eq!(report.enforcement[0].outcome, "would stop");
    assert_eq!(stop.num_calls(), 0, "a dry run stops nothing");
    let notices = w.topic.notices(4, Duration::from_secs(10)).await;
    let enforcement = notices
        .iter()
        .find(|n| n["MessageAttributes"]["kind"]["Value"] == "cost-enforcement")
        .unwrap_or_else(|| panic!("no enforcement notice in {notices:?}"));
    let message = enforcement["Message"].as_str().unwrap();
    assert!(
        message.contains("Dry run: nothing was stopped"),
        "{message}"
    );
    assert!(
        message.contains("training job runaway-hpo: would stop"),
        "{message}"
    );
}
