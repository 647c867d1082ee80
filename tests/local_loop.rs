//! The whole loop end to end: `make demo`'s story on the emulator, wired by `infra/template.yaml` itself, and the
//! same story failing when a rule's pattern in a copy of the template is broken.
//!
//! Each test provisions its own project (unique ProjectName, model package group and drift alarm prefix), so the
//! tests share this process's emulator without seeing each other's events.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
// its schema files are tests/event_schemas.rs's to check; here only the events' validation
mod event_schema;
mod schema_check;

use std::path::{Path, PathBuf};
use std::time::Duration;

use local_loop::story::{self, StoryFailure};
use local_loop::timeline::{Fact, format_entry};
use local_loop::{Local, default_template};
use testkit::unique_name;

/// Parameters that keep this test's resources apart from the others'.
fn own_project(prefix: &str) -> Vec<(String, String)> {
    let project = unique_name(prefix);
    vec![
        ("ProjectName".into(), project.clone()),
        ("ModelPackageGroupName".into(), format!("{project}-model")),
        ("DriftAlarmPrefix".into(), format!("{project}-drift-")),
        // The story injects one day of spend: in the first days of a month its month-end projection would add a
        // monthly breach to the daily one the tests count.
        ("MonthlyBudgetUsd".into(), "1000000".into()),
    ]
}

/// Cost Explorer answers are one queue per emulator: stories on the same emulator take turns injecting and
/// reading them.
static COST_EXPLORER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// No handler failed (an error, or an SQS batch with failed messages) and the runner had no trouble, but for what
/// the chapter that makes inference-monitor fail on purpose causes (its refusals and their redelivery), and every
/// upload left the raw bucket (only quarantined copies stay).
async fn assert_clean_run(local: &Local) {
    let entries = local.runtime.timeline.entries();
    let on_purpose = entries
        .iter()
        .position(|e| e.fact == Fact::Story && e.text == story::FAILS_ON_PURPOSE)
        .unwrap_or(entries.len());
    let monitor = local.function_id("inference-monitor");
    for (index, entry) in entries.iter().enumerate() {
        let expected = index > on_purpose
            && match &entry.fact {
                Fact::Invoked {
                    function,
                    result: Err(e),
                } => *function == monitor && e.contains("lineage"),
                Fact::Trouble => entry.actor == "inference-monitor",
                _ => false,
            };
        if expected {
            continue;
        }
        let failed = match &entry.fact {
            Fact::Invoked { result: Err(_), .. } | Fact::Trouble => true,
            Fact::Invoked {
                result: Ok(response),
                ..
            } => response["batchItemFailures"]
                .as_array()
                .is_some_and(|f| !f.is_empty()),
            _ => false,
        };
        assert!(!failed, "{}\n{}", format_entry(entry), timeline(local));
    }
    let s3 = guardrails_core::aws::s3_client(&local.sdk);
    let raw = local.runtime.stack.upload_bucket().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<String> = keys(&s3, &raw)
            .await
            .into_iter()
            .filter(|k| !k.starts_with("quarantine/"))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "uploads left in the raw bucket: {left:?}\n{}",
            timeline(local)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `rule` delivered anything.
fn delivered_by(local: &Local, rule: &str) -> bool {
    local
        .runtime
        .timeline
        .entries()
        .iter()
        .any(|e| matches!(&e.fact, Fact::Delivered { rule: r, .. } if r == rule))
}

/// Whether the runner sent an event of `detail_type`.
fn sent(local: &Local, detail_type: &str) -> bool {
    local
        .runtime
        .timeline
        .entries()
        .iter()
        .any(|e| matches!(&e.fact, Fact::Sent { detail_type: d } if d == detail_type))
}

fn timeline(local: &Local) -> String {
    local
        .runtime
        .timeline
        .entries()
        .iter()
        .map(format_entry)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A copy of the template with `from` replaced by `to` (which must occur), next to its state machine folder.
fn broken_template(from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(default_template()).unwrap();
    assert!(
        text.contains(from),
        "the template no longer has {from:?}: update this test"
    );
    let dir = std::env::temp_dir().join(unique_name("broken-template"));
    std::fs::create_dir_all(dir.join("statemachine")).unwrap();
    let original = default_template();
    let statemachines = original.parent().unwrap().join("statemachine");
    for entry in std::fs::read_dir(statemachines).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dir.join("statemachine").join(entry.file_name()),
        )
        .unwrap();
    }
    let path = dir.join("template.yaml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

async fn tell(
    template: &Path,
    project: &str,
    timeout: Duration,
) -> (Local, Result<story::Told, StoryFailure>) {
    let local = Local::start(template, &own_project(project), false)
        .await
        .unwrap();
    let _turn = COST_EXPLORER.lock().await;
    let told = story::tell(&local, timeout).await;
    (local, told)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_happens_through_the_template_wiring() {
    let (local, told) = tell(&default_template(), "e2e-story", Duration::from_secs(30)).await;
    let told = told.unwrap_or_else(|failure| panic!("{failure}\n{}", timeline(&local)));
    let group = local.parameter("ModelPackageGroupName");

    // The gate judged the metrics the training job reported; auto-approval is off in the template.
    assert_eq!(told.verdict, "PendingManualApproval");
    assert_eq!(
        told.rolled_back,
        (format!("{group}/2"), format!("{group}/1"))
    );
    assert!(
        told.reasons
            .iter()
            .any(|r| r.contains("the contract requires at least 10")),
        "{:?}",
        told.reasons
    );
    assert_eq!(told.breaches, 1);
    // The drifted batch breached the script and vocabulary checks at least; the altered record, the monitor's
    // error alarm.
    for check in ["scripts", "out-of-vocabulary"] {
        assert!(
            told.drifted.iter().any(|c| c == check),
            "{:?}",
            told.drifted
        );
    }
    assert!(
        told.error_alarm.ends_with("-inference-monitor-errors"),
        "{}",
        told.error_alarm
    );

    for rule in [
        "RawObjectCreatedRule",
        "TrainingTriggersRule",
        "DeployRegistryRule",
        "BatchInputRule",
        "InferenceMonitorRule",
        "DriftAlarmsRule",
        "CostGuardSchedule",
    ] {
        assert!(
            delivered_by(&local, rule),
            "{rule} delivered nothing\n{}",
            timeline(&local)
        );
    }
    assert_clean_run(&local).await;
    let entries = local.runtime.timeline.entries();
    // Every event the handlers published on the bus meets its schema (schemas/events/).
    let mut published = 0;
    for entry in &entries {
        let Fact::Published {
            detail_type,
            detail,
        } = &entry.fact
        else {
            continue;
        };
        let schema = event_schema::of_event(detail_type)
            .unwrap_or_else(|| panic!("no schema for the published {detail_type:?}"));
        let event = serde_json::json!({
            "version": "0", "id": "e2e", "detail-type": detail_type,
            "source": guardrails_core::domain::SOURCE, "account": "123456789012",
            "time": "2026-12-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": detail
        });
        event_schema::validate(&schema, &event).unwrap_or_else(|e| {
            panic!("a published {detail_type:?} does not meet its schema: {e}")
        });
        published += 1;
    }
    assert!(
        published >= 4,
        "{published} events published\n{}",
        timeline(&local)
    );
    // The retraining request met the cooldown since the run the good dataset started.
    assert!(
        entries
            .iter()
            .any(|e| matches!(&e.fact, Fact::Invoked { result: Ok(v), .. }
            if v["outcome"] == "skipped" && v["reason"] == "cooldown")),
        "{}",
        timeline(&local)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_rule_that_misses_the_registry_stops_the_story_at_the_first_deploy() {
    let template = broken_template(
        "        - Id: deploy\n          Arn: !GetAtt DeployFunction.Arn\n          DeadLetterConfig: { Arn: !GetAtt EventsDeadLetterQueue.Arn }\n          RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 3600 }\n\n  DeployRegistryPermission:",
        "        - Id: deploy\n          Arn: !GetAtt EventsDeadLetterQueue.Arn\n\n  DeployRegistryPermission:",
    );
    let (local, told) = tell(&template, "e2e-deploy", Duration::from_secs(10)).await;
    let failure = told.expect_err("the story passed with no registry rule to deploy");
    assert!(
        failure.step.contains("deploy makes version 1 serve"),
        "{failure}\n{}",
        timeline(&local)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_pattern_that_no_longer_matches_stops_the_story() {
    let template = broken_template(
        "detail-type: [Object Created]",
        "detail-type: [Object Uploaded]",
    );
    let (local, told) = tell(&template, "e2e-upload", Duration::from_secs(10)).await;
    let failure = told.expect_err("the story passed with a broken upload rule");
    assert!(
        failure
            .step
            .contains("RawObjectCreatedRule delivers Object Created"),
        "{failure}\n{}",
        timeline(&local)
    );
    // It stopped at the rule: the event was sent, the rule delivered nothing.
    assert!(sent(&local, "Object Created"), "{}", timeline(&local));
    assert!(
        !delivered_by(&local, "RawObjectCreatedRule"),
        "{}",
        timeline(&local)
    );
}

/// The story on a copy of the template with `from` replaced by `to` stops at the quarantine chapter's alarm,
/// naming it, after the quarantine itself happened.
async fn stops_at_the_quarantine_alarm(from: &str, to: &str, project: &str) {
    let template = broken_template(from, to);
    let (local, told) = tell(&template, project, Duration::from_secs(10)).await;
    let failure = told.expect_err("the story passed with a blinded alarm");
    assert!(
        failure.step.contains("…-quarantine-rate goes to ALARM"),
        "{failure}\n{}",
        timeline(&local)
    );
    assert!(sent(&local, "Object Created"), "{}", timeline(&local));
    assert!(
        timeline(&local).contains("Dataset quarantined"),
        "{}",
        timeline(&local)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_on_a_metric_no_handler_emits_stops_the_story_at_that_alarm() {
    stops_at_the_quarantine_alarm(
        "MetricName: FilesQuarantined\n",
        "MetricName: FilesQuarantine\n",
        "e2e-metric",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_threshold_out_of_reach_stops_the_story_at_that_alarm() {
    stops_at_the_quarantine_alarm(
        "Threshold: !Ref QuarantineRatePercent",
        "Threshold: 100",
        "e2e-threshold",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_alarm_pattern_that_no_longer_matches_stops_the_story() {
    let template = broken_template(
        "alarmName: [{ prefix: !Ref DriftAlarmPrefix }]",
        "alarmName: [{ prefix: !Sub \"${DriftAlarmPrefix}nothing-\" }]",
    );
    let (local, told) = tell(&template, "e2e-drift", Duration::from_secs(10)).await;
    let failure = told.expect_err("the story passed with a broken drift rule");
    assert!(
        failure
            .step
            .contains("DriftAlarmsRule delivers CloudWatch Alarm State Change"),
        "{failure}\n{}",
        timeline(&local)
    );
    // The chapters before it passed; the alarm was sent and the rule delivered nothing.
    assert!(
        delivered_by(&local, "TrainingTriggersRule"),
        "{}",
        timeline(&local)
    );
    // An input-drift alarm's own state change (the quarantine alarm's went out in chapter 2).
    let drift_sent = format!("alarm {}input-", local.parameter("DriftAlarmPrefix"));
    assert!(
        timeline(&local).contains(&drift_sent),
        "{}",
        timeline(&local)
    );
    assert!(
        !delivered_by(&local, "DriftAlarmsRule"),
        "{}",
        timeline(&local)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_training_run_reaches_the_topic_through_the_failure_rule() {
    // No model package group: the workflow started by a validated dataset cannot register.
    let local = Local::start(&default_template(), &own_project("e2e-fail"), false)
        .await
        .unwrap();
    local
        .emulator
        .set_training_metrics(&story::TRAINING_METRICS)
        .unwrap();
    let raw = local.runtime.stack.upload_bucket().unwrap().to_owned();
    guardrails_core::aws::s3_client(&local.sdk)
        .put_object()
        .bucket(&raw)
        .key(local.upload_key("tickets-good.csv"))
        .body(
            include_bytes!("../crates/local-loop/data/tickets-good.csv")
                .to_vec()
                .into(),
        )
        .send()
        .await
        .unwrap();
    let timeline = &local.runtime.timeline;
    let failed = timeline
        .wait_for(0, Duration::from_secs(30), |f| match f {
            Fact::Execution { name, status } if status == "FAILED" => Some(name.clone()),
            _ => None,
        })
        .await
        .unwrap_or_else(|| panic!("no execution failed\n{}", self::timeline(&local)));
    // The template's rule sends Step Functions' status change to the notifier: one critical notice, with the
    // attributes a filter policy routes on.
    let (notice, severity) = timeline
        .wait_for(0, Duration::from_secs(10), |f| match f {
            Fact::Notice {
                subject,
                severity,
                kind,
            } if kind == "workflow-failed" => Some((subject.clone(), severity.clone())),
            _ => None,
        })
        .await
        .unwrap_or_else(|| panic!("no notice of {failed}\n{}", self::timeline(&local)));
    assert_eq!(severity, "critical");
    assert!(
        notice.starts_with("[CRITICAL] Workflow ") && notice.contains(&failed[..20]),
        "{notice}"
    );
    assert!(
        delivered_by(&local, "WorkflowEndedRule"),
        "{}",
        self::timeline(&local)
    );
}

/// A small dataset the contract accepts, marked so it can be recognised wherever it lands.
fn forged_dataset() -> Vec<u8> {
    let labels = ["facturacion", "soporte", "ventas", "Otros"];
    let mut lines = String::new();
    for i in 0..12 {
        let row = serde_json::json!({
            "text": format!("FORGED guardrail state, row {i}"),
            "label": labels[i % 4],
            "rows": 1_000_000_000u64,
        });
        lines.push_str(&row.to_string());
        lines.push('\n');
    }
    lines.into_bytes()
}

/// Every object of `bucket` (all keys).
async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_at_every_state_path_change_nothing_the_guardrails_decide() {
    let local = Local::start(&default_template(), &own_project("e2e-forge"), false)
        .await
        .unwrap();
    let s3 = guardrails_core::aws::s3_client(&local.sdk);
    let stack = &local.runtime.stack;
    let raw = stack.upload_bucket().unwrap().to_owned();
    let state = stack.buckets["StateBucket"].clone();
    let ingested = stack.buckets["IngestedBucket"].clone();
    // Today's cost-guard marker (the story's schedule evaluates yesterday), the ledger claiming 10⁹ new rows,
    // the baseline, a drift transition and a validate-ingest job: where the state lived, and where it lives now
    // relative to its own bucket.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d");
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let paths = [
        format!("cost-guard/{yesterday}/total-over.json"),
        format!("trigger-training/new-data/{now}_1000000000_forged.json"),
        format!("ledger/tickets/{now}_1000000000_forged.json"),
        "baselines/tickets-classifier-1.json".to_owned(),
        "profiles/tickets/forged.json".to_owned(),
        format!("drift-handler/{}/x.json", local.drift_alarm_name()),
        "validate-ingest/0123.json".to_owned(),
    ];
    let reserved: Vec<String> = paths.iter().map(|p| format!("_guardrails/{p}")).collect();
    for key in reserved.iter().chain(&paths) {
        s3.put_object()
            .bucket(&raw)
            .key(key)
            .body(forged_dataset().into())
            .send()
            .await
            .unwrap();
    }
    // Every reserved upload is quarantined with its report.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let held = keys(&s3, &raw).await;
        let reports = reserved
            .iter()
            .filter(|k| held.contains(&format!("quarantine/{k}.report.json")))
            .count();
        if reports == reserved.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{reports} of {} reserved uploads quarantined\n{}",
            reserved.len(),
            timeline(&local)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let told = {
        let _turn = COST_EXPLORER.lock().await;
        story::tell(&local, Duration::from_secs(30)).await
    }
    .unwrap_or_else(|failure| panic!("{failure}\n{}", timeline(&local)));
    assert_clean_run(&local).await;

    // What the guardrails decided is what they decide without the forgeries.
    assert_eq!(told.breaches, 1, "the budget alert still goes out");
    assert_eq!(told.verdict, "PendingManualApproval");
    let group = local.parameter("ModelPackageGroupName");
    assert_eq!(
        told.rolled_back,
        (format!("{group}/2"), format!("{group}/1"))
    );
    // Nothing uploaded reached the state, and nothing reserved reached the training data.
    for key in keys(&s3, &state).await {
        let body = testkit::object_bytes(&s3, &state, &key).await;
        assert!(
            !String::from_utf8_lossy(&body).contains("FORGED"),
            "{key} holds uploaded data"
        );
    }
    // The ingested bucket's reserved prefix holds reports only, and none of a reserved upload.
    let ingested_keys = keys(&s3, &ingested).await;
    assert!(
        ingested_keys.iter().all(|k| !k.starts_with("_guardrails/")
            || (k.starts_with("_guardrails/reports/")
                && !k.starts_with("_guardrails/reports/_guardrails/")
                && k.ends_with(".report.json"))),
        "{ingested_keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_the_dataset_contract_is_notified() {
    let local = Local::start(&default_template(), &own_project("e2e-contract"), false)
        .await
        .unwrap();
    let contract = local.runtime.stack.parameters["DatasetContract"].clone();
    let sample = testkit::fixture("parameter-store-change.json");
    for name in ["/someone-else/parameter", contract.as_str()] {
        // The event Parameter Store puts on the default bus (the emulator does not emit it).
        let mut detail = sample["detail"].clone();
        detail["name"] = name.into();
        let event = local_loop::runtime::ServiceEvent {
            source: "aws.ssm",
            detail_type: sample["detail-type"].as_str().unwrap().to_owned(),
            detail,
            resources: vec![format!(
                "arn:aws:ssm:us-east-1:123456789012:parameter{name}"
            )],
            time: None,
        };
        assert!(local.runtime.send("ssm", "parameter changed", event).await);
    }
    let notice = local
        .runtime
        .timeline
        .wait_for(0, Duration::from_secs(15), |f| match f {
            Fact::Notice { subject, kind, .. } if kind == "contract-changed" => {
                Some(subject.clone())
            }
            _ => None,
        })
        .await
        .unwrap_or_else(|| panic!("no notice of the contract change\n{}", timeline(&local)));
    assert!(
        notice.starts_with("[WARNING] Dataset contract") && notice.contains("(Update)"),
        "{notice}"
    );
    let notices = local
        .runtime
        .timeline
        .entries()
        .iter()
        .filter(|e| matches!(&e.fact, Fact::Notice { .. }))
        .count();
    assert_eq!(
        notices,
        1,
        "only the contract's change\n{}",
        timeline(&local)
    );
}

/// Whether the S3 error is a refusal by IAM (not any other failure).
fn denied<E: std::fmt::Debug>(result: &Result<E, String>) -> bool {
    matches!(result, Err(e) if e.contains("AccessDenied") || e.contains("403"))
}

async fn put(sdk: &aws_config::SdkConfig, bucket: &str, key: &str) -> Result<(), String> {
    guardrails_core::aws::s3_client(sdk)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(b"{}".to_vec().into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_happens_with_every_function_held_to_its_own_role() {
    let local = Local::start_enforcing_iam(&default_template(), &own_project("e2e-iam"), false)
        .await
        .unwrap();
    assert!(local.emulator.enforces_iam());
    let told = story::tell(&local, Duration::from_secs(30))
        .await
        .unwrap_or_else(|failure| panic!("{failure}\n{}", timeline(&local)));
    assert_eq!(told.breaches, 1);
    assert_clean_run(&local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_writes_only_its_own_state_and_no_persona_writes_any() {
    let local = Local::start_enforcing_iam(&default_template(), &own_project("e2e-roles"), false)
        .await
        .unwrap();
    let stack = &local.runtime.stack;
    let state = stack.buckets["StateBucket"].clone();
    // What each function may write in the state bucket; trigger-training reads the ledger and pins manifests,
    // model-gate signs lineage records and merges baselines, inference-monitor only reads them.
    let writes: [(&str, &[&str]); 6] = [
        (
            "validate-ingest",
            &["validate-ingest/", "ledger/", "profiles/"],
        ),
        ("trigger-training", &["manifests/"]),
        ("model-gate", &["lineage/", "baselines/"]),
        ("drift-handler", &["drift-handler/"]),
        ("inference-monitor", &[]),
        ("cost-guard", &["cost-guard/"]),
    ];
    let every_prefix: Vec<&str> = writes.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    for (binary, own) in writes {
        let spec = &stack.functions[&local.function_id(binary)];
        let role = spec.role_arn.as_deref().unwrap();
        let acting = local_loop::iam::acting_as(&local.sdk, role, "probe")
            .await
            .unwrap();
        for prefix in &every_prefix {
            let result = put(&acting, &state, &format!("{prefix}probe.json")).await;
            if own.contains(prefix) {
                assert!(result.is_ok(), "{binary} writes {prefix}: {result:?}");
            } else {
                assert!(
                    denied(&result),
                    "{binary} must not write {prefix}: {result:?}"
                );
            }
        }
    }

    // The data engineer, held to the template's persona policy: uploads, nothing else.
    let engineer = persona(&local, "DataEngineerPolicy").await;
    let raw = stack.upload_bucket().unwrap();
    assert!(
        put(&engineer, raw, "tickets/upload.csv").await.is_ok(),
        "uploads"
    );
    for (bucket, key) in [
        (&state, "cost-guard/2026-12-01/total-over.json"),
        (&stack.buckets["IngestedBucket"], "tickets/forged.csv"),
    ] {
        let result = put(&engineer, bucket, key).await;
        assert!(
            denied(&result),
            "the data engineer must not write {bucket}/{key}: {result:?}"
        );
    }
    let contract = &stack.parameters["DatasetContract"];
    let ssm = aws_sdk_ssm::Client::new(&engineer);
    assert!(
        ssm.get_parameter().name(contract).send().await.is_ok(),
        "reads the contract"
    );
    let replaced = ssm
        .put_parameter()
        .name(contract)
        .value("{}")
        .overwrite(true)
        .send()
        .await;
    let refusal = replaced
        .map(|_| ())
        .map_err(|e| aws_sdk_ssm::error::DisplayErrorContext(e).to_string());
    assert!(
        denied(&refusal),
        "the data engineer must not replace the contract: {refusal:?}"
    );

    // A posture suppression is the admin's to write, and no one else's.
    let suppression = format!(
        "/{}/posture-audit/suppressions/probe",
        local.parameter("ProjectName")
    );
    let write = |sdk: aws_config::SdkConfig| {
        let name = suppression.clone();
        async move {
            aws_sdk_ssm::Client::new(&sdk)
                .put_parameter()
                .name(name)
                .value(r#"{"check": "s3-no-versioning", "resource": "arn:aws:s3:::b", "reason": "r", "expires": "2027-01-01"}"#)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_ssm::error::DisplayErrorContext(e).to_string())
        }
    };
    let by_engineer = write(engineer).await;
    assert!(denied(&by_engineer), "{by_engineer:?}");
    let by_admin = write(persona(&local, "AdminPolicy").await).await;
    assert!(by_admin.is_ok(), "{by_admin:?}");
}

/// Credentials of a new user held to the template's persona policy `logical_id`.
async fn persona(local: &Local, logical_id: &str) -> aws_config::SdkConfig {
    let stack = &local.runtime.stack;
    let resources = local.template.resources().unwrap();
    let persona = resources
        .iter()
        .find(|r| r.logical_id == logical_id)
        .unwrap();
    let document = local
        .template
        .resolve(&persona.properties["PolicyDocument"], stack)
        .unwrap();
    let iam = aws_sdk_iam::Client::new(&local.sdk);
    let user = unique_name("persona");
    iam.create_user().user_name(&user).send().await.unwrap();
    iam.put_user_policy()
        .user_name(&user)
        .policy_name(logical_id)
        .policy_document(local_loop::iam::judged_policy(&document).to_string())
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    local
        .sdk
        .to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(
                key.access_key_id(),
                key.secret_access_key(),
                None,
                None,
                "persona",
            ),
        ))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_missing_a_permission_fails_its_function() {
    // Without s3:DeleteObjectVersion the raw version cannot be deleted: validate-ingest fails (and is retried)
    // instead of claiming the upload done.
    let template = broken_template(
        "Action: [s3:GetObject, s3:GetObjectVersion, s3:DeleteObjectVersion]",
        "Action: [s3:GetObject, s3:GetObjectVersion, s3:DeleteObject]",
    );
    let local = Local::start_enforcing_iam(&template, &own_project("e2e-perm"), false)
        .await
        .unwrap();
    let raw = local.runtime.stack.upload_bucket().unwrap().to_owned();
    let s3 = guardrails_core::aws::s3_client(&local.sdk);
    s3.put_object()
        .bucket(&raw)
        .key(local.upload_key("lote.jsonl"))
        .body(forged_dataset().into())
        .send()
        .await
        .unwrap();
    let function = local.function_id("validate-ingest");
    let error = local
        .runtime
        .timeline
        .wait_for(0, Duration::from_secs(20), |f| match f {
            Fact::Invoked {
                function: f,
                result: Ok(response),
            } if *f == function && !response["batchItemFailures"].as_array()?.is_empty() => {
                Some(response.clone())
            }
            Fact::Invoked {
                function: f,
                result: Err(e),
            } if *f == function => Some(serde_json::json!(e)),
            _ => None,
        })
        .await;
    assert!(
        error.is_some(),
        "validate-ingest did not fail without s3:DeleteObjectVersion\n{}",
        timeline(&local)
    );
    // It failed at the delete: the file was validated and announced, and its raw version is still there.
    let announced = local.runtime.timeline.entries().iter().any(|e| {
        matches!(&e.fact, Fact::Published { detail_type, .. } if detail_type == "Dataset Validated")
    });
    assert!(announced, "{}", timeline(&local));
    assert!(
        keys(&s3, &raw)
            .await
            .contains(&local.upload_key("lote.jsonl")),
        "the raw version must still exist"
    );
}

/// One event on the default bus, as the service would put it.
fn service_event(
    source: &'static str,
    sample: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> local_loop::runtime::ServiceEvent {
    let sample = testkit::fixture(sample);
    let mut detail = sample["detail"].clone();
    edit(&mut detail);
    local_loop::runtime::ServiceEvent {
        source,
        detail_type: sample["detail-type"].as_str().unwrap().to_owned(),
        detail,
        resources: vec![],
        time: None,
    }
}

/// Every alarm of the template going off, and every rule that notifies, each with the event its service sends:
/// each reaches a subscriber of the topic as a notice with `severity` and `kind` attributes whose message is the
/// schema's, and names the alarm or job it is about. Another team's failed job notifies no one.
#[tokio::test]
async fn every_alarm_and_notifying_rule_reaches_the_topic_as_a_notice() {
    let local = Local::start(&default_template(), &own_project("e2e-notices"), false)
        .await
        .unwrap();
    let project = local.parameter("ProjectName");
    let topic = local.runtime.stack.topics["NoticeTopic"].clone();
    let subscriber = testkit::TopicProbe::attach(&local.sdk, &topic, None).await;
    let alarms = local.runtime.alarm_names();
    assert!(alarms.len() >= 30, "{alarms:?}");
    for alarm in &alarms {
        assert!(local.runtime.alarm(alarm, false).await, "{alarm}");
    }
    let machine = local.runtime.stack.state_machines["TrainingStateMachine"].clone();
    let execution = format!(
        "{}:workflow-failed",
        machine.replace(":stateMachine:", ":execution:")
    );
    let group = local.parameter("ModelPackageGroupName");
    let contract = local.runtime.stack.parameters["DatasetContract"].clone();
    let tagged = serde_json::json!({ "project": project });
    let events = [
        service_event("aws.sagemaker", "sagemaker-training-job-failed.json", |d| {
            d["TrainingJobName"] = "tickets-training-failed".into();
            d["Tags"] = tagged.clone();
        }),
        service_event(
            "aws.sagemaker",
            "sagemaker-transform-job-completed.json",
            |d| {
                d["TransformJobName"] = format!("{project}-transform-failed").into();
                d["TransformJobStatus"] = "Failed".into();
                // The sample is tagged for the default project: the tag decides whose a job is.
                d["Tags"] = tagged.clone();
                d["FailureReason"] = "ClientError: the input was not JSON Lines".into();
            },
        ),
        service_event("aws.glue", "glue-job-failed.json", |d| {
            d["jobName"] = format!("{project}-glue-failed").into();
        }),
        // Not the project's: the rule's pattern leaves it out.
        service_event("aws.glue", "glue-job-failed.json", |d| {
            d["jobName"] = "another-team-glue-failed".into();
        }),
        service_event("aws.states", "step-functions-execution-failed.json", |d| {
            d["stateMachineArn"] = machine.clone().into();
            d["name"] = "workflow-failed".into();
            d["executionArn"] = execution.clone().into();
        }),
        service_event(
            "aws.sagemaker",
            "sagemaker-model-package-approved.json",
            |d| {
                d["ModelPackageGroupName"] = group.clone().into();
                d["ModelPackageArn"] =
                    format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/7")
                        .into();
                d["ModelApprovalStatus"] = "PendingManualApproval".into();
            },
        ),
        service_event("aws.ssm", "parameter-store-change.json", |d| {
            d["name"] = contract.clone().into();
        }),
    ];
    for event in events {
        assert!(local.runtime.send("test", "event", event).await);
    }
    // One notice per alarm and per event of the project (drift-handler's for the drift alarms), each read as it
    // arrives until every one is named (drift-handler's come later, and some alarms lead to more than one).
    let mut wanted: Vec<String> = alarms.clone();
    wanted.extend([
        "tickets-training-failed".to_owned(),
        format!("{project}-transform-failed"),
        format!("{project}-glue-failed"),
        execution.clone(),
        contract.clone(),
    ]);
    let mut about: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let named =
        |about: &[String], name: &str| about.iter().any(|d| d.contains(&format!("\"{name}\"")));
    while !wanted.iter().all(|name| named(&about, name)) && tokio::time::Instant::now() < deadline {
        for notice in subscriber.notices(1, Duration::from_secs(5)).await {
            about.push(notice_details(&notice));
        }
    }
    for name in &wanted {
        assert!(
            named(&about, name),
            "no notice names {name}\n{}",
            timeline(&local)
        );
    }
    assert!(
        about.iter().any(|d| d.contains("PendingManualApproval")),
        "{about:?}"
    );
    assert!(
        !about.iter().any(|d| d.contains("another-team")),
        "{about:?}"
    );
}

/// A notice as a subscriber receives it, checked: `severity` and `kind` attributes (a kind the notifier has a
/// name for), a default message that validates against the schema. Returns its details (JSON text).
fn notice_details(notice: &serde_json::Value) -> String {
    let attributes = &notice["MessageAttributes"];
    let (severity, kind) = (
        attributes["severity"]["Value"].as_str().unwrap_or_default(),
        attributes["kind"]["Value"].as_str().unwrap_or_default(),
    );
    assert!(
        ["info", "warning", "critical"].contains(&severity) && !kind.is_empty(),
        "{notice}"
    );
    assert_ne!(kind, "alarm-unclassified", "{notice}");
    let message: serde_json::Value =
        serde_json::from_str(notice["Message"].as_str().unwrap()).unwrap();
    schema_check::validate("notice.schema.json", &message)
        .unwrap_or_else(|e| panic!("{e}\n{message}"));
    message["metadata"]["additionalContext"]["details"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The SMS subscription's filter policy, as the template writes it, on a subscriber of the emulator's topic: only
/// critical notices arrive, and the notifier's own fallback alarm (CloudWatch's message, no attributes).
#[tokio::test]
async fn the_sms_subscription_receives_only_critical_notices() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let template: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sms = &template["Resources"]["NoticeSmsSubscription"]["Properties"];
    assert_eq!(
        (&sms["Protocol"], &sms["FilterPolicyScope"]),
        (&"sms".into(), &"MessageAttributes".into())
    );
    let policy = serde_json::to_string(&sms["FilterPolicy"]).unwrap();
    let sdk = testkit::emulator().sdk_config().await;
    let everything = testkit::TopicProbe::create(&sdk).await;
    let phone = testkit::TopicProbe::attach(&sdk, &everything.topic_arn, Some(&policy)).await;
    let notifier = guardrails_core::Notifier::from_sdk(&sdk, &everything.topic_arn);
    for severity in [
        guardrails_core::Severity::Info,
        guardrails_core::Severity::Warning,
        guardrails_core::Severity::Critical,
    ] {
        let notice = guardrails_core::Notice {
            severity,
            kind: guardrails_core::NoticeKind::FunctionFailing,
            title: format!("a {} notice", severity.as_str()),
            body: "Body.".into(),
            details: serde_json::json!({}),
        };
        notifier.send(&notice).await.unwrap();
    }
    // The fallback alarm's own message, as CloudWatch publishes it: no attributes.
    aws_sdk_sns::Client::new(&sdk)
        .publish()
        .topic_arn(&everything.topic_arn)
        .message(r#"{"AlarmName":"p-notifier-errors","NewStateValue":"ALARM"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        everything.notices(4, Duration::from_secs(10)).await.len(),
        4
    );
    let texted: Vec<String> = phone
        .notices(3, Duration::from_secs(3))
        .await
        .iter()
        .map(|n| {
            n["Subject"]
                .as_str()
                .or(n["Message"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(texted.len(), 2, "{texted:?}");
    assert!(
        texted.iter().any(|t| t == "[CRITICAL] a critical notice"),
        "{texted:?}"
    );
    assert!(
        texted.iter().any(|t| t.contains("p-notifier-errors")),
        "{texted:?}"
    );
}

/// Silence is an incident: with no upload for `SilentUploadHours` periods (2 here; a period is 2 s locally) the
/// heartbeat alarm goes off on validate-ingest's missing metric and the notifier pages (critical,
/// `pipeline-silent`); the first upload brings it back to OK, with a recovery notice.
#[tokio::test]
async fn a_silent_pipeline_raises_its_heartbeat_alarm_and_an_upload_clears_it() {
    let mut parameters = own_project("e2e-silent");
    parameters.push(("SilentUploadHours".into(), "2".into()));
    // The heartbeat flaps on the loop's 2-second periods; each change is asserted on its own, not in a digest.
    parameters.push(("AlarmDigestSeconds".into(), "0".into()));
    let local = Local::start(&default_template(), &parameters, false)
        .await
        .unwrap();
    let alarm = format!("{}-silent-uploads", local.parameter("ProjectName"));
    let timeline = &local.runtime.timeline;
    let paged = |wanted: &'static str| {
        let alarm = alarm.clone();
        move |fact: &Fact| match fact {
            Fact::Notice {
                subject,
                severity,
                kind,
            } if kind == "pipeline-silent" && severity == wanted && subject.contains(&alarm) => {
                Some(subject.clone())
            }
            _ => None,
        }
    };
    let page = timeline
        .wait_for(0, Duration::from_secs(30), paged("critical"))
        .await
        .unwrap_or_else(|| panic!("no page for {alarm}\n{}", self::timeline(&local)));
    assert!(
        page.starts_with("[CRITICAL] A stage that should have run has not"),
        "{page}"
    );
    let raw = local.runtime.stack.upload_bucket().unwrap().to_owned();
    put_file(&local, &raw, "tickets-good.csv").await;
    timeline
        .wait_for(0, Duration::from_secs(30), paged("info"))
        .await
        .unwrap_or_else(|| panic!("{alarm} did not recover\n{}", self::timeline(&local)));
}

async fn put_file(local: &Local, bucket: &str, file: &str) {
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/local-loop/data")
            .join(file),
    )
    .unwrap();
    guardrails_core::aws::s3_client(&local.sdk)
        .put_object()
        .bucket(bucket)
        .key(local.upload_key(file))
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// Slack through the template's wiring: the forwarder's subscription to the notice topic, its secret and its
/// on-failure destination. With the webhook set in the secret (no redeploy), a quarantine notice arrives on a real
/// HTTP server as blocks; when the webhook keeps failing, the forwarder's retries, then Lambda's, give up and the
/// notice waits in the events dead-letter queue as Lambda's failure record.
#[tokio::test]
async fn notices_reach_slack_and_a_webhook_that_keeps_failing_leaves_them_in_the_dead_letter_queue()
{
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let mut parameters = own_project("e2e-slack");
    // Only the quarantine notices reach Slack: the quarantine-rate alarm (a share above 100 %) never goes off.
    parameters.push(("QuarantineRatePercent".into(), "100".into()));
    let local = Local::start(&default_template(), &parameters, false)
        .await
        .unwrap();
    let project = local.parameter("ProjectName");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(500).set_body_string("rollup_error"))
        .mount(&server)
        .await;
    aws_sdk_secretsmanager::Client::new(&local.sdk)
        .put_secret_value()
        .secret_id(format!("{project}/notification-webhook"))
        .secret_string(serde_json::json!({"url": format!("{}/hook", server.uri())}).to_string())
        .send()
        .await
        .unwrap();
    let raw = local.runtime.stack.upload_bucket().unwrap().to_owned();
    let forwarder = local.function_id("slack-forwarder");
    let failed = |fact: &Fact| match fact {
        Fact::Invoked {
            function,
            result: Err(e),
        } if *function == forwarder => Some(e.clone()),
        _ => None,
    };

    put_file(&local, &raw, "tickets-bad.csv").await;
    let posted = wait_for_posts(&server, 1).await;
    let header = posted[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        header.starts_with(":large_orange_circle: Dataset quarantined"),
        "{header}\n{}",
        timeline(&local)
    );
    let context = posted[0]["blocks"][2]["elements"][0]["text"]
        .as_str()
        .unwrap();
    assert!(context.contains("`dataset-quarantined`"), "{context}");
    assert!(
        context.contains(&format!("#dashboards/dashboard/{project}|Dashboard>")),
        "{context}"
    );

    // From now on the webhook answers 500: three posts per invocation, three invocations, then the destination.
    put_file(&local, &raw.clone(), "tickets-bad.csv").await;
    let error = local
        .runtime
        .timeline
        .wait_for(0, Duration::from_secs(60), failed)
        .await
        .unwrap_or_else(|| panic!("the forwarder never failed\n{}", timeline(&local)));
    assert!(error.contains("HTTP 500 rollup_error"), "{error}");
    assert!(
        !error.contains("/hook"),
        "the webhook URL is a credential: {error}"
    );
    // The quarantine notice's failure record: Lambda writes it after the third invocation, so every post of that
    // notice has been made by then.
    let queue = &local.runtime.stack.queues["EventsDeadLetterQueue"];
    let sqs = aws_sdk_sqs::Client::new(&local.sdk);
    let kind = |r: &serde_json::Value| {
        r["requestPayload"]["Records"][0]["Sns"]["MessageAttributes"]["kind"]["Value"].clone()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let record = loop {
        let bodies = testkit::drain_queue(&sqs, queue, 1, Duration::from_secs(5)).await;
        let found = bodies
            .iter()
            .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
            .find(|r| kind(r) == "dataset-quarantined");
        if let Some(record) = found {
            break record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failure record of the quarantine notice\n{}",
            timeline(&local)
        );
    };
    assert!(
        record["requestContext"]["functionArn"]
            .as_str()
            .is_some_and(|arn| arn.contains(&format!("{project}-slack-forwarder"))),
        "{record}"
    );
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    let posts = server.received_requests().await.unwrap_or_default();
    let quarantined = posts
        .iter()
        .filter(|r| {
            r.body_json::<serde_json::Value>().unwrap()["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("[WARNING] Dataset quarantined"))
        })
        .count();
    assert_eq!(
        quarantined, 10,
        "1 post, then 3 invocations of 3 failed posts"
    );
}

/// The webhook bodies `server` received, once there are `at_least` (or after 60 s).
async fn wait_for_posts(server: &wiremock::MockServer, at_least: usize) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let received = server.received_requests().await.unwrap_or_default();
        if received.len() >= at_least || tokio::time::Instant::now() > deadline {
            return received.iter().map(|r| r.body_json().unwrap()).collect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
