//! trigger-training against the emulator's Step Functions, S3, ECR and SNS: starts, duplicates, one at a time,
//! new rows counted since the last successful training, and images refused on their scan.

#![allow(clippy::unwrap_used)]

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Duration, Utc};
use guardrails_core::image::{ImageGate, ScanSeverity};
use guardrails_core::ledger::{Copy, Entry, Ledger};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, Notifier, ObjectRef, aws};
use serde_json::{Value, json};
use testkit::{KmsBucket, TopicProbe, emulator, scanned_image, unique_name};
use trigger_training::manifest::Manifests;
use trigger_training::policy::SkipReason;
use trigger_training::workflow::Workflow;
use trigger_training::{Config, Outcome, TriggerTraining};

/// Stays RUNNING for the whole test: the emulator really executes definitions.
const WAITING: &str =
    r#"{"StartAt": "Train", "States": {"Train": {"Type": "Wait", "Seconds": 600, "End": true}}}"#;
/// Succeeds at once.
const INSTANT: &str = r#"{"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": true}}}"#;

struct World {
    sfn: aws_sdk_sfn::Client,
    machine: String,
    function: TriggerTraining,
    ledger: Ledger,
    state: StateStore,
    notices: TopicProbe,
}

async fn world(definition: &str, min_new_rows: &str) -> World {
    let clean: &[(&str, &str, &str)] = &[("CVE-2026-0001", "LOW", "zlib")];
    world_with_image(definition, min_new_rows, clean).await
}

/// A world whose training image's last scan found `findings` (CVE, severity, package).
async fn world_with_image(
    definition: &str,
    min_new_rows: &str,
    findings: &[(&str, &str, &str)],
) -> World {
    let sdk = emulator().sdk_config().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let machine = sfn
        .create_state_machine()
        .name(unique_name("training"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/training-workflow")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let ledger = KmsBucket::create(&sdk, "ingested").await;
    let image = scanned_image(&sdk, &unique_name("nlp"), "1", findings).await;
    let notices = TopicProbe::create(&sdk).await;
    let config = Config::from_env(&Env::from_pairs([
        ("EVENT_BUS_NAME", "unused"),
        ("STATE_MACHINE_ARN", machine.as_str()),
        ("TRAINING_DATASET", "tickets"),
        ("STATE_BUCKET", ledger.name.as_str()),
        ("TRAINING_IMAGE", image.as_str()),
        ("NOTICE_TOPIC_ARN", notices.topic_arn.as_str()),
        ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
        ("TRAINING_DATA_URI", "s3://ingested/tickets/"),
        ("OUTPUT_URI", "s3://artifacts/models/"),
        ("MIN_NEW_ROWS", min_new_rows),
    ]))
    .unwrap();
    let ledger = Ledger::new(
        aws::s3_client(&sdk),
        &config.state_bucket,
        &config.ledger_prefix,
    );
    let state = StateStore::new(aws::s3_client(&sdk), &config.state_bucket);
    let manifests = Manifests::new(state.clone(), &config.manifest_prefix);
    let function = TriggerTraining::new(
        Workflow::new(sfn.clone(), &machine),
        ledger.clone(),
        manifests,
        ImageGate::from_sdk(&sdk, config.image_scan_block),
        Notifier::from_sdk(&sdk, notices.topic_arn.clone()),
        config,
    );
    World {
        sfn,
        machine,
        function,
        ledger,
        state,
        notices,
    }
}

impl World {
    /// A validated dataset as validate-ingest leaves it: its rows in the ledger, then its event on the bus.
    async fn dataset_validated(&self, id: &str, rows: u64, time: DateTime<Utc>) -> Value {
        let event = dataset_validated(id, rows, time);
        let dataset = event["detail"]["dataset"].as_str().unwrap();
        let entry = Entry {
            id: id.to_owned(),
            time,
            dataset: dataset.to_owned(),
            rows,
            copy: Some(Copy {
                object: ObjectRef::new("ingested", format!("{dataset}/{id}/data.csv")),
                bytes: 1024,
                sha256: None,
                contract: None,
                profile: None,
            }),
        };
        self.ledger.record(&entry).await.unwrap();
        event
    }

    /// The manifest the execution's training channel reads.
    async fn manifest_of(&self, execution_arn: &str) -> Value {
        let input = self.input_of(execution_arn).await;
        let source = &input["training"]["input_data_config"][0]["DataSource"]["S3DataSource"];
        assert_eq!(source["S3DataType"], "ManifestFile");
        let uri = source["S3Uri"].as_str().unwrap();
        let key = uri
            .strip_prefix(&format!("s3://{}/", self.state.bucket()))
            .unwrap();
        self.state.read::<Value>(key).await.unwrap().unwrap().value
    }
}

fn dataset_validated(id: &str, rows: u64, time: DateTime<Utc>) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Dataset Validated", "source": "mlops.guardrails",
        "account": "123456789012", "time": time.to_rfc3339(), "region": "us-east-1", "resources": [],
        "detail": {
            "dataset": "tickets",
            "source": {"bucket": "raw", "key": format!("tickets/{id}.csv")},
            "ingested": {"bucket": "ingested", "key": format!("tickets/{id}.csv")},
            "bytes": 1024, "rows": rows
        }
    })
}

fn retraining_requested(id: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Retraining Requested", "source": "mlops.guardrails",
        "account": "123456789012", "time": Utc::now().to_rfc3339(), "region": "us-east-1", "resources": [],
        "detail": {"cause": "model-quality", "reason": "weighted_f1 fell below 0.80"}
    })
}

impl World {
    async fn executions(&self) -> Vec<(String, ExecutionStatus)> {
        self.sfn
            .list_executions()
            .state_machine_arn(&self.machine)
            .send()
            .await
            .unwrap()
            .executions()
            .iter()
            .map(|e| (e.name().to_owned(), e.status().clone()))
            .collect()
    }

    /// Waits until no execution runs (the emulator executes in the background).
    async fn settle(&self) {
        for _ in 0..100 {
            if self
                .executions()
                .await
                .iter()
                .all(|(_, s)| *s != ExecutionStatus::Running)
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("executions still running: {:?}", self.executions().await);
    }

    async fn input_of(&self, execution_arn: &str) -> Value {
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap();
        serde_json::from_str(described.input().unwrap()).unwrap()
    }
}

#[tokio::test]
async fn starts_once_per_event_and_one_at_a_time() {
    let world = world(WAITING, "1000").await;
    let event = world
        .dataset_validated(&unique_name("evt"), 5000, Utc::now())
        .await;

    let first = world.function.handle(event.clone(), "req-1").await.unwrap();
    let Outcome::Started {
        execution_name,
        execution_arn,
        training_job_name,
    } = &first
    else {
        panic!("expected a start, got {first:?}");
    };
    let input = world.input_of(execution_arn).await;
    assert_eq!(input["training"]["job_name"], json!(training_job_name));
    assert_eq!(input["trigger"]["kind"], "data");
    assert_eq!(input["model"]["package_group"], "tickets-classifier");
    let id = event["id"].as_str().unwrap();
    let pinned = json!([{"prefix": "s3://ingested/tickets/"}, format!("{id}/data.csv")]);
    assert_eq!(world.manifest_of(execution_arn).await, pinned);

    // A file validated while the run goes on is not added to it, even by a retry of the same execution.
    world
        .dataset_validated(&unique_name("later"), 5000, Utc::now())
        .await;
    let again = world.function.handle(event, "req-2").await.unwrap();
    assert_eq!(
        again,
        Outcome::Duplicate {
            execution_name: execution_name.clone()
        }
    );
    assert_eq!(world.manifest_of(execution_arn).await, pinned);

    // Another trigger while one runs: skipped, with the running execution named.
    let drift = world
        .function
        .handle(retraining_requested(&unique_name("drift")), "req-3")
        .await
        .unwrap();
    assert!(
        matches!(&drift, Outcome::Skipped { reason: SkipReason::Running { execution }, .. } if execution == execution_name),
        "{drift:?}"
    );
    let manual = world
        .function
        .handle(json!({"reason": "relabelled data"}), "req-4")
        .await
        .unwrap();
    assert!(matches!(manual, Outcome::Skipped { .. }), "{manual:?}");

    assert_eq!(
        world.executions().await,
        [(execution_name.clone(), ExecutionStatus::Running)]
    );
}

#[tokio::test]
async fn new_rows_accumulate_until_the_minimum_and_reset_after_success() {
    let world = world(INSTANT, "1000").await;
    let now = Utc::now();

    let small = world
        .function
        .handle(
            world
                .dataset_validated(&unique_name("a"), 600, now - Duration::minutes(10))
                .await,
            "r1",
        )
        .await
        .unwrap();
    assert!(
        matches!(
            small,
            Outcome::Skipped {
                reason: SkipReason::NotEnoughRows {
                    new_rows: 600,
                    min_new_rows: 1000
                },
                ..
            }
        ),
        "{small:?}"
    );

    let second_id = unique_name("b");
    let second = world
        .dataset_validated(&second_id, 600, now - Duration::minutes(5))
        .await;
    let started = world.function.handle(second.clone(), "r2").await.unwrap();
    assert!(matches!(started, Outcome::Started { .. }), "{started:?}");
    // The execution succeeds at once; the same event again is still one execution.
    world.settle().await;
    assert_eq!(world.executions().await[0].1, ExecutionStatus::Succeeded);
    let redelivered = world.function.handle(second, "r3").await.unwrap();
    assert!(
        matches!(redelivered, Outcome::Duplicate { .. }),
        "{redelivered:?}"
    );

    // After that successful training only rows that arrived later count.
    let later = world
        .function
        .handle(
            world
                .dataset_validated(&unique_name("c"), 600, now + Duration::minutes(1))
                .await,
            "r4",
        )
        .await
        .unwrap();
    assert!(
        matches!(
            later,
            Outcome::Skipped {
                reason: SkipReason::NotEnoughRows { new_rows: 600, .. },
                ..
            }
        ),
        "{later:?}"
    );

    // Another dataset never counts, and is said to be another dataset.
    let mut other = dataset_validated(&unique_name("d"), 50_000, now + Duration::minutes(2));
    other["detail"]["dataset"] = json!("emails");
    let other = world.function.handle(other, "r5").await.unwrap();
    assert!(
        matches!(
            other,
            Outcome::Skipped {
                reason: SkipReason::OtherDataset { .. },
                ..
            }
        ),
        "{other:?}"
    );
    assert_eq!(world.executions().await.len(), 1);
}

#[tokio::test]
async fn retraining_respects_the_cooldown_and_a_person_does_not_have_to() {
    let world = world(INSTANT, "1000").await;
    // Nothing validated yet: nothing to train on, whoever asks.
    let empty = world
        .function
        .handle(retraining_requested(&unique_name("drift")), "r0")
        .await
        .unwrap();
    assert!(
        matches!(
            empty,
            Outcome::Skipped {
                reason: SkipReason::NoValidatedData { .. },
                ..
            }
        ),
        "{empty:?}"
    );
    world
        .dataset_validated(&unique_name("data"), 5000, Utc::now() - Duration::hours(1))
        .await;
    let first = world
        .function
        .handle(retraining_requested(&unique_name("drift")), "r1")
        .await
        .unwrap();
    assert!(matches!(first, Outcome::Started { .. }), "{first:?}");
    world.settle().await;

    let second = world
        .function
        .handle(retraining_requested(&unique_name("drift")), "r2")
        .await
        .unwrap();
    assert!(
        matches!(
            second,
            Outcome::Skipped {
                reason: SkipReason::Cooldown { .. },
                ..
            }
        ),
        "{second:?}"
    );

    let manual = json!({"reason": "new labelling guide", "requestId": unique_name("ticket")});
    let by_hand = world.function.handle(manual.clone(), "r3").await.unwrap();
    assert!(matches!(by_hand, Outcome::Started { .. }), "{by_hand:?}");
    world.settle().await;
    let twice = world.function.handle(manual, "r4").await.unwrap();
    assert!(matches!(twice, Outcome::Duplicate { .. }), "{twice:?}");
    assert_eq!(world.executions().await.len(), 2);
}

#[tokio::test]
async fn after_a_failed_run_new_data_waits_for_the_cooldown() {
    let world = world(
        r#"{"StartAt": "Train", "States": {"Train": {"Type": "Fail", "Error": "TrainingFailed"}}}"#,
        "1000",
    )
    .await;
    let now = Utc::now();
    let first = world
        .function
        .handle(
            world
                .dataset_validated(&unique_name("a"), 5000, now - Duration::minutes(5))
                .await,
            "r1",
        )
        .await
        .unwrap();
    assert!(matches!(first, Outcome::Started { .. }), "{first:?}");
    world.settle().await;
    assert_eq!(world.executions().await[0].1, ExecutionStatus::Failed);

    let next = world
        .function
        .handle(
            world
                .dataset_validated(&unique_name("b"), 5000, now + Duration::minutes(1))
                .await,
            "r2",
        )
        .await
        .unwrap();
    assert!(
        matches!(
            next,
            Outcome::Skipped {
                reason: SkipReason::Cooldown { .. },
                ..
            }
        ),
        "{next:?}"
    );
}

#[tokio::test]
async fn rows_an_event_claims_are_not_counted_only_the_ledger_is() {
    // A person allowed to invoke the function could send any "Dataset Validated": it counts nothing by itself.
    let world = world(WAITING, "1000").await;
    let forged = dataset_validated(&unique_name("forged"), 1_000_000_000, Utc::now());
    let outcome = world.function.handle(forged, "r1").await.unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Skipped {
                reason: SkipReason::NotEnoughRows { new_rows: 0, .. },
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(world.executions().await.is_empty());
}

#[tokio::test]
async fn an_image_with_a_critical_finding_stops_training_with_a_notice() {
    let findings = [
        ("CVE-2026-1111", "CRITICAL", "openssl"),
        ("CVE-2026-2222", "HIGH", "glibc"),
        ("CVE-2026-3333", "LOW", "zlib"),
    ];
    let world = world_with_image(WAITING, "10", &findings).await;
    let event = world
        .dataset_validated(&unique_name("evt"), 5000, Utc::now())
        .await;

    let outcome = world.function.handle(event, "req-1").await.unwrap();
    let Outcome::Skipped { reason, message } = &outcome else {
        panic!("expected the image refused, got {outcome:?}");
    };
    assert_eq!(reason.as_str(), "image-refused");
    assert!(message.contains("1 CRITICAL"), "{message}");
    assert!(
        world.executions().await.is_empty(),
        "no execution starts on a refused image"
    );

    let notices = world
        .notices
        .notices(1, std::time::Duration::from_secs(5))
        .await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "image-refused"
    );
    assert_eq!(
        notices[0]["MessageAttributes"]["severity"]["Value"],
        "warning"
    );
    let message: Value = serde_json::from_str(notices[0]["Message"].as_str().unwrap()).unwrap();
    let description = message["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("CRITICAL CVE-2026-1111 in openssl")
            && !description.contains("CVE-2026-2222"),
        "the notice names the findings at or above the limit (CRITICAL by default): {description}"
    );
}

#[tokio::test]
async fn an_image_never_scanned_or_outside_the_registry_is_refused_too() {
    let sdk = emulator().sdk_config().await;
    let cases = [
        (
            format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/{}:9",
                unique_name("never")
            ),
            "not-scanned",
        ),
        (
            "public.ecr.aws/lambda/provided:al2023".to_owned(),
            "not-in-registry",
        ),
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/nlp:1".to_owned(),
            "not-in-registry",
        ),
    ];
    let gate = ImageGate::from_sdk(&sdk, ScanSeverity::Critical);
    for (image, expected) in cases {
        let refusal = gate.check(&image).await.unwrap().unwrap_err();
        assert_eq!(refusal.as_str(), expected, "{image}: {refusal}");
    }
    // A HIGH finding passes the default limit, and is refused when the limit is HIGH.
    let high = scanned_image(
        &sdk,
        &unique_name("nlp"),
        "2",
        &[("CVE-2026-4444", "HIGH", "glibc")],
    )
    .await;
    assert_eq!(gate.check(&high).await.unwrap(), Ok(()));
    let strict = ImageGate::from_sdk(&sdk, ScanSeverity::High);
    assert_eq!(
        strict.check(&high).await.unwrap().unwrap_err().as_str(),
        "findings"
    );
}
