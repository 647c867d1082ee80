//! drift-handler in batch mode against the emulator's model registry, bus, topic and S3: what the registry holds
//! afterwards, what reached the bus rule's queue and the topic's queue, delivery after delivery.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_sdk_sagemaker::types::{
    InferenceSpecification, ModelApprovalStatus, ModelPackageContainerDefinition,
};
use drift_handler::classify::DriftKind;
use drift_handler::registry::Registry;
use drift_handler::{Config, DriftHandler, Outcome, Rollback};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, ErrorClass, EventPublisher, HandlerError, Notifier, aws};
use serde_json::json;
use testkit::fixture;
use testkit::{BusProbe, Faults, KmsBucket, TopicProbe, When, emulator, unique_name};

struct World {
    sagemaker: aws_sdk_sagemaker::Client,
    group: String,
    versions: Vec<String>,
    bus: BusProbe,
    notices: TopicProbe,
    handler: DriftHandler,
    faults: Faults,
    /// The state bucket.
    markers: String,
}

/// A group with `approved` Approved versions (v1 oldest), a bus rule on the project's events, a topic and a
/// marker bucket.
async fn world(approved: usize) -> World {
    world_on(approved, None).await
}

/// [`world`], serving on the real-time `endpoint` when given.
async fn world_on(approved: usize, endpoint: Option<&str>) -> World {
    let sdk = emulator().sdk_config().await;
    let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
    let group = unique_name("tickets");
    sagemaker
        .create_model_package_group()
        .model_package_group_name(&group)
        .send()
        .await
        .unwrap();
    let mut versions = Vec::new();
    for n in 1..=approved {
        let created = sagemaker
            .create_model_package()
            .model_package_group_name(&group)
            .model_approval_status(ModelApprovalStatus::Approved)
            .inference_specification(
                InferenceSpecification::builder()
                    .containers(
                        ModelPackageContainerDefinition::builder()
                            .image("nlp-serve:1")
                            .model_data_url(format!("s3://artifacts/v{n}/model.tar.gz"))
                            .build(),
                    )
                    .supported_content_types("application/jsonlines")
                    .supported_response_mime_types("application/jsonlines")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        versions.push(created.model_package_arn().unwrap().to_owned());
        // Creation times order the versions: keep them apart.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bus = BusProbe::create(&sdk, &json!({"source": ["mlops.guardrails"]})).await;
    let notices = TopicProbe::create(&sdk).await;
    let markers = KmsBucket::create(&sdk, "markers").await;
    let endpoint = endpoint.map(|e| ("ENDPOINT_NAME", e));
    let config = Config::from_env(&Env::from_pairs(endpoint.into_iter().chain([
        ("EVENT_BUS_NAME", bus.bus_name.as_str()),
        ("NOTICE_TOPIC_ARN", notices.topic_arn.as_str()),
        ("MODEL_PACKAGE_GROUP", group.as_str()),
        ("STATE_BUCKET", markers.name.as_str()),
        (
            "DASHBOARD_URL",
            "https://console.aws.amazon.com/cloudwatch/home#dashboards/dashboard/mlops-guardrails",
        ),
    ])))
    .unwrap();
    // Clients that fail only when a test scripts it.
    let faults = Faults::new();
    let handler = DriftHandler::new(
        Registry::new(sagemaker.clone()),
        StateStore::new(faults.s3(&sdk), &markers.name),
        Notifier::new(faults.sns(&sdk), &notices.topic_arn),
        EventPublisher::new(faults.events(&sdk), &bus.bus_name),
        config,
    );
    World {
        sagemaker,
        group,
        versions,
        bus,
        notices,
        handler,
        faults,
        markers: markers.name.clone(),
    }
}

impl World {
    /// Approval status and description of each version, v1 first.
    async fn registry(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        for arn in &self.versions {
            let p = self
                .sagemaker
                .describe_model_package()
                .model_package_name(arn)
                .send()
                .await
                .unwrap();
            out.push((
                p.model_approval_status().unwrap().as_str().to_owned(),
                p.approval_description().map(str::to_owned),
            ));
        }
        out
    }

    fn statuses(registry: &[(String, Option<String>)]) -> Vec<&str> {
        registry.iter().map(|(s, _)| s.as_str()).collect()
    }
}

const QUIET: Duration = Duration::from_millis(1500);
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn model_quality_alarm_rolls_back_once_requests_retraining_and_notifies() {
    let world = world(3).await;
    let alarm = fixture("alarm-model-quality.json");

    let outcome = world
        .handler
        .handle(alarm_event(alarm.clone()))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Drifted {
            alarm: "mlops-guardrails-drift-model-quality-tickets".into(),
            kind: DriftKind::ModelQuality,
            rollback: Some(Rollback::RolledBack {
                from: world.versions[2].clone(),
                to: world.versions[1].clone(),
                endpoint: None,
            }),
            retraining_requested: true,
        }
    );
    let registry = world.registry().await;
    assert_eq!(
        World::statuses(&registry),
        ["Approved", "Approved", "Rejected"]
    );
    let description = registry[2].1.as_deref().unwrap();
    assert!(
        description.contains("mlops-guardrails-drift-model-quality-tickets")
            && description.contains(&world.versions[1]),
        "{description}"
    );

    let events = world.bus.events(2, WAIT).await;
    let by_type = |t: &str| {
        events
            .iter()
            .find(|e| e["detail-type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {events:?}"))
    };
    let rolled_back = &by_type("Model Rolled Back")["detail"];
    assert_eq!(rolled_back["fromModelPackageArn"], json!(world.versions[2]));
    assert_eq!(rolled_back["toModelPackageArn"], json!(world.versions[1]));
    assert_eq!(rolled_back["modelPackageGroup"], json!(world.group));
    let retraining = &by_type("Retraining Requested")["detail"];
    assert_eq!(retraining["cause"], "model-quality");
    assert_eq!(
        retraining["alarmName"],
        "mlops-guardrails-drift-model-quality-tickets"
    );
    assert!(
        retraining["reason"]
            .as_str()
            .unwrap()
            .contains("weighted_f1 0.74 (threshold 0.8)")
    );

    let notices = world.notices.notices(1, WAIT).await;
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert_eq!(notice["MessageAttributes"]["severity"]["Value"], "critical");
    assert_eq!(
        notice["MessageAttributes"]["kind"]["Value"],
        "drift-model-quality"
    );
    let subject = notice["Subject"].as_str().unwrap();
    assert_eq!(
        subject,
        "[CRITICAL] Rolled back: model quality drift, weighted_f1 0.74 vs 0.8 on tickets-classifier"
    );
    let message = notice["Message"].as_str().unwrap();
    for expected in [
        "endpoint tickets-classifier, schedule tickets-model-quality",
        &format!("{} is now Rejected", world.versions[2]),
        "Retraining requested",
        "#runbook-drift-alarms",
        "Dashboard: https://console.aws.amazon.com/cloudwatch",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }

    // The same transition again: nothing more.
    let again = world.handler.handle(alarm_event(alarm)).await.unwrap();
    assert!(matches!(again, Outcome::Duplicate { .. }), "{again:?}");
    assert_eq!(
        World::statuses(&world.registry().await),
        ["Approved", "Approved", "Rejected"]
    );
    assert!(world.bus.events(1, QUIET).await.is_empty());
    assert!(world.notices.notices(1, QUIET).await.is_empty());

    // ALARM → OK: a recovery notice, the registry as it was.
    let recovered = world
        .handler
        .handle(alarm_event(fixture("alarm-model-quality-ok.json")))
        .await
        .unwrap();
    assert!(
        matches!(
            recovered,
            Outcome::Recovered {
                kind: DriftKind::ModelQuality,
                ..
            }
        ),
        "{recovered:?}"
    );
    let notices = world.notices.notices(1, WAIT).await;
    assert_eq!(notices[0]["MessageAttributes"]["severity"]["Value"], "info");
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "drift-recovered"
    );
    assert_eq!(
        World::statuses(&world.registry().await),
        ["Approved", "Approved", "Rejected"]
    );
}

#[tokio::test]
async fn a_retry_after_a_partial_rollback_resumes_instead_of_going_one_version_further() {
    let world = world(3).await;
    let alarm = fixture("alarm-model-quality.json");
    // An earlier delivery rejected v3 and failed before the rest.
    world
        .sagemaker
        .update_model_package()
        .model_package_arn(&world.versions[2])
        .model_approval_status(ModelApprovalStatus::Rejected)
        .approval_description(
            "Rejected by drift-handler: … Transition mlops-guardrails-drift-model-quality-tickets@2026-11-21T03:10:45.341Z.",
        )
        .send()
        .await
        .unwrap();

    let outcome = world.handler.handle(alarm_event(alarm)).await.unwrap();
    let Outcome::Drifted {
        rollback: Some(Rollback::RolledBack { from, to, .. }),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        (from, to),
        (world.versions[2].clone(), world.versions[1].clone())
    );
    assert_eq!(
        World::statuses(&world.registry().await),
        ["Approved", "Approved", "Rejected"]
    );
}

#[tokio::test]
async fn no_earlier_version_is_a_critical_notice_and_changes_nothing() {
    let world = world(1).await;
    let outcome = world
        .handler
        .handle(alarm_event(fixture("alarm-model-quality.json")))
        .await
        .unwrap();
    let Outcome::Drifted {
        rollback: Some(Rollback::Refused { reason }),
        retraining_requested,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(
        reason.contains("no approved version older than"),
        "{reason}"
    );
    assert!(retraining_requested);
    assert_eq!(World::statuses(&world.registry().await), ["Approved"]);

    let notices = world.notices.notices(1, WAIT).await;
    assert_eq!(
        notices[0]["MessageAttributes"]["severity"]["Value"],
        "critical"
    );
    assert!(
        notices[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] Rollback impossible: model quality drift")
    );
    assert!(
        notices[0]["Message"]
            .as_str()
            .unwrap()
            .contains("NOT rolled back")
    );
    let events = world.bus.events(1, WAIT).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail-type"], "Retraining Requested");
    assert!(
        world.bus.events(1, QUIET).await.is_empty(),
        "no Model Rolled Back"
    );
}

#[tokio::test]
async fn batch_rolls_back_the_version_deploy_made_serve_not_the_newest_approved_one() {
    rolls_back_the_version_deploy_made_serve(None).await;
}

/// In real-time too the rollback is the rejection alone: deploy moves the endpoint (the emulator has none here, so
/// any endpoint call would fail the handler).
#[tokio::test]
async fn realtime_rolls_back_in_the_registry_alone_and_names_the_endpoint_deploy_moves() {
    rolls_back_the_version_deploy_made_serve(Some("tickets-classifier")).await;
}

async fn rolls_back_the_version_deploy_made_serve(endpoint: Option<&str>) {
    use guardrails_core::serving::{Reason, SERVING_VERSION, Serving, ServingRecord};
    let world = world_on(3, endpoint).await;
    // deploy serves version 2: version 3 is Approved but was refused (its lineage did not verify).
    let sdk = emulator().sdk_config().await;
    let record = ServingRecord {
        serving_version: SERVING_VERSION,
        group: world.group.clone(),
        package_arn: world.versions[1].clone(),
        training_job: "train-2".to_owned(),
        lineage: guardrails_core::ObjectRef::new(&world.markers, "lineage/train-2.json"),
        lineage_sha256: "00".repeat(32),
        model_name: "tickets-v2-00000000".to_owned(),
        baseline: None,
        approved_by: "model-gate".to_owned(),
        since: chrono::Utc::now(),
        reason: Reason::Release,
        previous: None,
    };
    Serving::new(StateStore::new(
        guardrails_core::aws::s3_client(&sdk),
        &world.markers,
    ))
    .replace(None, record)
    .await
    .unwrap();
    let outcome = world
        .handler
        .handle(alarm_event(fixture("alarm-model-quality.json")))
        .await
        .unwrap();
    let Outcome::Drifted {
        rollback: Some(Rollback::RolledBack { from, to, .. }),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!((&from, &to), (&world.versions[1], &world.versions[0]));
    assert_eq!(
        World::statuses(&world.registry().await),
        ["Approved", "Rejected", "Approved"]
    );
    let events = world.bus.events(2, WAIT).await;
    let rolled_back = events
        .iter()
        .find(|e| e["detail-type"] == "Model Rolled Back")
        .unwrap();
    assert_eq!(
        rolled_back["detail"]["endpointName"].as_str(),
        endpoint,
        "{rolled_back}"
    );
}

#[tokio::test]
async fn data_drift_asks_for_retraining_only_and_insufficient_data_is_only_logged() {
    let world = world(2).await;
    let outcome = world
        .handler
        .handle(alarm_event(fixture("alarm-data-drift.json")))
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Drifted {
                kind: DriftKind::DataDrift,
                rollback: None,
                retraining_requested: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        World::statuses(&world.registry().await),
        ["Approved", "Approved"]
    );
    let events = world.bus.events(1, WAIT).await;
    assert_eq!(events[0]["detail"]["cause"], "data-drift");
    let notices = world.notices.notices(1, WAIT).await;
    assert_eq!(
        notices[0]["MessageAttributes"]["severity"]["Value"],
        "warning"
    );
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "drift-data-drift"
    );

    let mut insufficient = fixture("alarm-model-quality.json");
    insufficient["detail"]["state"]["value"] = json!("INSUFFICIENT_DATA");
    let outcome = world
        .handler
        .handle(alarm_event(insufficient))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::LogOnly { .. }), "{outcome:?}");
    assert!(world.notices.notices(1, QUIET).await.is_empty());
    assert!(world.bus.events(1, QUIET).await.is_empty());
}

#[tokio::test]
async fn the_monitors_own_alarm_carries_the_hours_findings_into_the_notice() {
    let world = world(1).await;
    // The monitor's report of the hour the alarm rests on (the alarm went off at 10:17, on hour 09's gauges).
    let report = json!({
        "reportVersion": 1, "model": "tickets-classifier", "hour": "2026-12-02T09:00:00Z",
        "violations": ["out-of-vocabulary"], "verdict": "1 violation(s): out-of-vocabulary (640 texts, 640 predictions, 0 labelled)",
        "report": {
            "drift": {
                "texts": 640, "judged": true,
                "checks": [{"check": "out-of-vocabulary", "observed": 0.412, "baseline": 0.0, "limit": 0.15, "violation": true}],
                "topDriftingTokens": [{"token": "shipment", "baselinePer10k": 0.5, "observedPer10k": 310.0}]
            },
            "modelQuality": {"quality": null}
        }
    });
    let state = StateStore::new(
        aws::s3_client(&emulator().sdk_config().await),
        &world.markers,
    );
    let key = "monitor-reports/tickets-classifier/2026/12/02/09.json";
    assert!(
        state
            .create_bytes(key, report.to_string().into_bytes())
            .await
            .unwrap()
    );
    let outcome = world
        .handler
        .handle(alarm_event(fixture("alarm-input-drift.json")))
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Drifted {
                kind: DriftKind::DataDrift,
                retraining_requested: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    let notices = world.notices.notices(1, WAIT).await;
    let message = notices[0]["Message"].as_str().unwrap();
    for expected in [
        "What the monitor found (s3://",
        "- out-of-vocabulary: 0.412 against 0.000 in training (limit 0.150)",
        "- top drifting tokens: shipment (0.5 → 310.0 per 10k)",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }

    // An alarm of another namespace names no report, even with a Model dimension.
    let mut other = fixture("alarm-input-drift.json");
    other["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["namespace"] =
        json!("Team/TextDrift");
    other["detail"]["state"]["timestamp"] = json!("2026-12-02T10:18:00.000+0000");
    world.handler.handle(alarm_event(other)).await.unwrap();
    let notices = world.notices.notices(1, WAIT).await;
    assert!(
        !notices[0]["Message"]
            .as_str()
            .unwrap()
            .contains("What the monitor found")
    );
}

#[tokio::test]
async fn a_new_alarm_does_not_roll_back_past_the_version_a_rollback_restored() {
    let world = world(3).await;
    let first = world
        .handler
        .handle(alarm_event(fixture("alarm-model-quality.json")))
        .await
        .unwrap();
    assert!(matches!(
        first,
        Outcome::Drifted {
            rollback: Some(Rollback::RolledBack { .. }),
            ..
        }
    ));
    world.notices.notices(1, WAIT).await;

    // The alarm went INSUFFICIENT_DATA overnight and is back in ALARM: a new transition.
    let mut again = fixture("alarm-model-quality.json");
    again["detail"]["previousState"]["value"] = json!("INSUFFICIENT_DATA");
    again["detail"]["state"]["timestamp"] = json!("2026-11-22T03:10:45.341+0000");
    let outcome = world.handler.handle(alarm_event(again)).await.unwrap();
    let Outcome::Drifted {
        rollback: Some(Rollback::Refused { reason }),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("an earlier rollback"), "{reason}");
    assert_eq!(
        World::statuses(&world.registry().await),
        ["Approved", "Approved", "Rejected"]
    );
}

#[tokio::test]
async fn concurrent_deliveries_of_one_transition_roll_back_and_notify_once() {
    let world = world(3).await;
    let alarm = fixture("alarm-model-quality.json");

    let (a, b) = tokio::join!(
        world.handler.handle(alarm_event(alarm.clone())),
        world.handler.handle(alarm_event(alarm.clone()))
    );
    let (done, other) = match (a, b) {
        (Ok(outcome), other) | (other, Ok(outcome)) => (outcome, other),
        (a, b) => panic!("neither delivery handled it: {a:?} {b:?}"),
    };
    assert!(matches!(done, Outcome::Drifted { .. }), "{done:?}");
    // The other one is retried by Lambda and then finds the transition handled.
    let error = HandlerError::from(other.unwrap_err());
    assert_eq!(error.class, ErrorClass::Retryable, "{error}");
    let retried = world.handler.handle(alarm_event(alarm)).await.unwrap();
    assert!(matches!(retried, Outcome::Duplicate { .. }), "{retried:?}");

    let registry = world.registry().await;
    assert_eq!(
        World::statuses(&registry),
        ["Approved", "Approved", "Rejected"],
        "one step back"
    );
    assert_eq!(world.notices.notices(2, QUIET).await.len(), 1, "one notice");
    assert_eq!(
        world.bus.events(3, QUIET).await.len(),
        2,
        "rolled back + retraining, once each"
    );
}

#[tokio::test]
async fn a_delivery_interrupted_after_the_rollback_is_finished_by_the_retry_without_a_second_rollback()
 {
    let world = world(3).await;
    let alarm = fixture("alarm-model-quality.json");

    world.faults.fail("Publish", When::BeforeSend, 1);
    let error = HandlerError::from(
        world
            .handler
            .handle(alarm_event(alarm.clone()))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.class, ErrorClass::Retryable, "{error}");
    let outcome = world
        .handler
        .handle(alarm_event(alarm.clone()))
        .await
        .unwrap();
    let Outcome::Drifted { rollback, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        rollback,
        Some(Rollback::RolledBack {
            from: world.versions[2].clone(),
            to: world.versions[1].clone(),
            endpoint: None,
        }),
        "the recorded rollback is reported, not redone"
    );

    let registry = world.registry().await;
    assert_eq!(
        World::statuses(&registry),
        ["Approved", "Approved", "Rejected"]
    );
    let notices = world.notices.notices(2, QUIET).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]["Subject"]
            .as_str()
            .unwrap()
            .contains("Rolled back")
    );
    let events = world.bus.events(3, QUIET).await;
    assert_eq!(events.len(), 2, "{events:?}");
}

#[tokio::test]
async fn a_rollback_failing_after_the_reject_is_notified_then_resumed_from_the_recorded_pair() {
    let world = world(3).await;
    let alarm = fixture("alarm-model-quality.json");

    // The reject succeeds, then announcing Model Rolled Back fails: the rollback is retryable.
    world.faults.fail("PutEvents", When::BeforeSend, 1);
    let error = HandlerError::from(
        world
            .handler
            .handle(alarm_event(alarm.clone()))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.class, ErrorClass::Retryable, "{error}");
    let outcome = world
        .handler
        .handle(alarm_event(alarm.clone()))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Drifted { rollback: Some(Rollback::RolledBack { from, to, .. }), .. }
            if *from == world.versions[2] && *to == world.versions[1]),
        "{outcome:?}"
    );
    let again = world.handler.handle(alarm_event(alarm)).await.unwrap();
    assert!(matches!(again, Outcome::Duplicate { .. }), "{again:?}");

    let registry = world.registry().await;
    assert_eq!(
        World::statuses(&registry),
        ["Approved", "Approved", "Rejected"],
        "one step back, not two"
    );
    let notices = world.notices.notices(3, QUIET).await;
    let subjects: Vec<&str> = notices
        .iter()
        .filter_map(|n| n["Subject"].as_str())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.contains("Rollback failed")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("Rolled back")),
        "{subjects:?}"
    );
    let events = world.bus.events(3, QUIET).await;
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["detail-type"].as_str())
        .collect();
    assert_eq!(
        kinds.len(),
        2,
        "rolled back and retraining, once each: {kinds:?}"
    );
}

/// The alarm state change in a sample, as the Lambda runtime hands it over.
fn alarm_event(value: serde_json::Value) -> drift_handler::alarm::AlarmEvent {
    drift_handler::alarm::parse(value).unwrap()
}
