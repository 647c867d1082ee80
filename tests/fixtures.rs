//! Every sample event under `events/` deserializes into the type its consumer uses, with the values the
//! handlers rely on. A fixture that drifts from its type fails here, not in a deployed Lambda.

#![allow(clippy::unwrap_used)]

mod schema_check;

use aws_lambda_events::cloudwatch_alarms::{
    CloudWatchAlarmData, CloudWatchAlarmStateValue, CloudWatchMetricAlarmConfiguration,
};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::SqsEvent;
use guardrails_core::aws_events::{ObjectCreatedDetail, TransformJobStateChange};
use guardrails_core::domain::{
    DatasetQuarantined, DatasetValidated, RetrainingCause, RetrainingRequested, parse_envelope,
};
use guardrails_core::s3::decode_notification_key;

const DECODED_KEY: &str = "tickets/datos de facturación 2026-11.csv";

use testkit::fixture_text as fixture;

type AlarmStateChange = EventBridgeEvent<CloudWatchAlarmData<CloudWatchMetricAlarmConfiguration>>;

#[test]
fn s3_notification_carries_a_url_encoded_key() {
    let event: S3Event = serde_json::from_str(&fixture("s3-object-created.json")).unwrap();
    let object = &event.records[0].s3.object;
    assert_eq!(
        event.records[0].event_name.as_deref(),
        Some("ObjectCreated:Put")
    );
    let raw = object.key.as_deref().unwrap();
    assert!(raw.contains('+') && raw.contains("%C3%B3"), "{raw}");
    assert_eq!(decode_notification_key(raw).unwrap(), DECODED_KEY);
    assert_eq!(object.size, Some(1024));
    // The raw bucket is versioned: the notification names the version validate-ingest checks and deletes.
    assert_eq!(
        object.version_id.as_deref(),
        Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    );
}

#[test]
fn eventbridge_object_created_detail_parses() {
    let event: EventBridgeEvent<ObjectCreatedDetail> =
        serde_json::from_str(&fixture("eventbridge-s3-object-created.json")).unwrap();
    assert_eq!(event.source, "aws.s3");
    assert_eq!(event.detail_type, "Object Created");
    assert_eq!(
        decode_notification_key(&event.detail.object.key).unwrap(),
        DECODED_KEY
    );
    assert_eq!(event.detail.object.size, Some(1024));
    assert_eq!(
        event.detail.object.version_id.as_deref(),
        Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    );
}

#[test]
fn sqs_batch_wraps_eventbridge_object_created_events() {
    let batch: SqsEvent =
        serde_json::from_str(&fixture("sqs-eventbridge-s3-object-created.json")).unwrap();
    assert_eq!(batch.records.len(), 2);
    let keys: Vec<String> = batch
        .records
        .iter()
        .map(|record| {
            assert!(record.message_id.is_some());
            let body = record.body.as_deref().unwrap();
            let event: EventBridgeEvent<ObjectCreatedDetail> = serde_json::from_str(body).unwrap();
            decode_notification_key(&event.detail.object.key).unwrap()
        })
        .collect();
    assert_eq!(keys, [DECODED_KEY, "tickets/lote 2.jsonl.gz"]);
}

#[test]
fn dataset_validated_is_a_typed_domain_event() {
    let event = parse_envelope::<DatasetValidated>(&fixture("dataset-validated.json")).unwrap();
    assert_eq!(event.detail.dataset, "tickets");
    assert_eq!(event.detail.ingested.key, DECODED_KEY);
    assert_eq!(event.detail.rows, Some(18));
    assert_eq!(event.detail.label_counts.values().sum::<u64>(), 18);
    assert_eq!(event.detail.contract.as_ref().map(|c| c.version), Some(1));
    assert!(event.detail.report.unwrap().key.ends_with(".report.json"));
}

/// validate-ingest's Dataset Quarantined reaches the notifier (`NotifierQuarantineRule`), which says it: one
/// notice naming the file, its top reasons and its report, valid against the notice schema, kept to leave with
/// the dataset's other quarantines of the window.
#[test]
fn dataset_quarantined_becomes_a_notice_naming_the_file_its_reasons_and_its_report() {
    use notifier::decide::{Decision, Project, decide};
    let event = parse_envelope::<DatasetQuarantined>(&fixture("dataset-quarantined.json")).unwrap();
    assert_eq!(event.detail.invalid_rows, 97);
    let envelope: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("dataset-quarantined.json")).unwrap();
    let incoming = notifier::event::read(envelope).unwrap();
    let project = Project {
        name: "mlops-guardrails".into(),
        drift_alarm_prefix: None,
    };
    let Decision::Notify(notice) = decide(&incoming, &project, "us-east-1") else {
        panic!("no notice");
    };
    assert_eq!(
        notice.title,
        "Dataset quarantined: tickets / export 2026-11-20.csv"
    );
    assert_eq!(notice.kind, guardrails_core::NoticeKind::DatasetQuarantined);
    assert!(
        notice.body.contains("97 rows (23.5%) have an empty text"),
        "{}",
        notice.body
    );
    assert!(
        notice
            .body
            .contains("quarantine/tickets/export 2026-11-20.csv.report.json"),
        "{}",
        notice.body
    );
    let message: serde_json::Value = serde_json::from_str(&notice.chat().to_string()).unwrap();
    schema_check::validate("notice.schema.json", &message).unwrap();
    let group = notifier::digest::group_of(&incoming, &notice).unwrap();
    assert_eq!(group.key(), "dataset-quarantined/tickets");
}

#[test]
fn retraining_requested_is_a_typed_domain_event() {
    let event =
        parse_envelope::<RetrainingRequested>(&fixture("retraining-requested.json")).unwrap();
    assert_eq!(event.detail.cause, RetrainingCause::ModelQuality);
    assert_eq!(
        event.detail.alarm_name.as_deref(),
        Some("mlops-guardrails-drift-model-quality-tickets")
    );
}

#[test]
fn alarm_state_changes_parse_with_metric_namespace_and_states() {
    let table = [
        (
            "alarm-data-drift.json",
            "aws/sagemaker/Endpoints/data-metrics",
            "feature_baseline_drift_text_length",
            CloudWatchAlarmStateValue::Alarm,
            CloudWatchAlarmStateValue::Ok,
        ),
        (
            "alarm-model-quality.json",
            "aws/sagemaker/Endpoints/model-metrics",
            "weighted_f1",
            CloudWatchAlarmStateValue::Alarm,
            CloudWatchAlarmStateValue::Ok,
        ),
        (
            "alarm-model-quality-ok.json",
            "aws/sagemaker/Endpoints/model-metrics",
            "weighted_f1",
            CloudWatchAlarmStateValue::Ok,
            CloudWatchAlarmStateValue::Alarm,
        ),
        (
            "alarm-insufficient-data.json",
            "aws/sagemaker/Endpoints/model-metrics",
            "weighted_f1",
            CloudWatchAlarmStateValue::InsufficientData,
            CloudWatchAlarmStateValue::Alarm,
        ),
        (
            "alarm-bias.json",
            "aws/sagemaker/Endpoints/bias-metrics",
            "DPPL",
            CloudWatchAlarmStateValue::Alarm,
            CloudWatchAlarmStateValue::Ok,
        ),
    ];
    for (file, namespace, metric, state, previous) in table {
        let event: AlarmStateChange =
            serde_json::from_str(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(event.source, "aws.cloudwatch", "{file}");
        assert_eq!(event.detail_type, "CloudWatch Alarm State Change", "{file}");
        let alarm = &event.detail;
        assert_eq!(alarm.state.as_ref().unwrap().value, state, "{file}");
        assert_eq!(
            alarm.previous_state.as_ref().unwrap().value,
            previous,
            "{file}"
        );
        let stat = &alarm.configuration.metrics[0].metric_stat;
        assert_eq!(stat.metric.namespace.as_deref(), Some(namespace), "{file}");
        assert_eq!(stat.metric.name, metric, "{file}");
        assert_eq!(
            stat.metric.dimensions.get("Endpoint").map(String::as_str),
            Some("tickets-classifier"),
            "{file}"
        );
    }
}

/// Alarms without an endpoint: batch monitoring, the project's inference-monitor, a team's own detector.
#[test]
fn alarms_from_other_namespaces_parse() {
    let table = [
        (
            "alarm-feature-attribution.json",
            "aws/sagemaker/ModelMonitoring/explainability-metrics",
            "MonitoringSchedule",
        ),
        (
            "alarm-prediction-confidence.json",
            "MlopsGuardrails",
            "Model",
        ),
        ("alarm-custom-detector.json", "Team/TextDrift", "Model"),
        ("alarm-input-drift.json", "MlopsGuardrails", "Check"),
    ];
    for (file, namespace, dimension) in table {
        let event: AlarmStateChange =
            serde_json::from_str(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let stat = &event.detail.configuration.metrics[0].metric_stat;
        assert_eq!(stat.metric.namespace.as_deref(), Some(namespace), "{file}");
        assert!(stat.metric.dimensions.contains_key(dimension), "{file}");
        assert_eq!(
            event.detail.state.as_ref().unwrap().value,
            CloudWatchAlarmStateValue::Alarm,
            "{file}"
        );
    }
}

/// SageMaker data capture in each encoding (JSON, CSV, BASE64), an answer given as probabilities, and a line cut
/// short; Model Monitor ground truth as CSV and as JSON with a segment field. Read as the monitor reads them.
#[test]
fn capture_and_ground_truth_samples_read_as_the_monitor_reads_them() {
    use text_monitor::capture::{LineDefect, Reading, read_capture, read_truth};
    let reading = Reading {
        segment_field: Some("channel".into()),
        ..Reading::default()
    };
    let captured: Vec<_> = fixture("data-capture.jsonl")
        .lines()
        .map(|line| read_capture(line.as_bytes(), &reading))
        .collect();
    let read: Vec<(String, String, String)> = captured
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .map(|c| {
            let answer = c.predictions[0].as_ref().map(|p| p.label.clone());
            (c.event_id.clone(), c.texts[0].clone(), answer.unwrap())
        })
        .collect();
    assert_eq!(read.len(), 4);
    assert_eq!(
        read[1].1, "La aplicación se cierra al iniciar sesión",
        "CSV request"
    );
    assert_eq!(
        read[2].1, "Quiero contratar el plan anual para mi empresa",
        "BASE64 request"
    );
    assert_eq!(read[3].2, "Otros", "the answer's top probability");
    assert_eq!(
        captured[4],
        Err(LineDefect::Malformed),
        "the line cut short"
    );
    let truth: Vec<_> = fixture("ground-truth.jsonl")
        .lines()
        .map(|line| read_truth(line.as_bytes(), &reading).unwrap())
        .collect();
    let ids: Vec<&str> = read.iter().map(|(id, ..)| id.as_str()).collect();
    let labelled: Vec<&str> = truth.iter().map(|t| t.event_id.as_str()).collect();
    assert_eq!(ids, labelled, "each captured request has its label");
    assert_eq!(truth[1].segment.as_deref(), Some("app"));
}

#[test]
fn scheduled_event_parses() {
    let event: EventBridgeEvent = serde_json::from_str(&fixture("scheduled-event.json")).unwrap();
    assert_eq!(event.source, "aws.events");
    assert_eq!(event.detail_type, "Scheduled Event");
    assert!(event.time.is_some());
}

/// The notice SNS delivers to the Slack forwarder: the SNS event Lambda receives, its message a notice of the
/// schema, read into the Slack message the forwarder posts (severity, kind and runbook from the notice).
#[test]
fn the_sns_notice_sample_becomes_the_slack_message_the_forwarder_posts() {
    use aws_lambda_events::sns::SnsEvent;
    let event: SnsEvent = serde_json::from_str(&fixture("sns-notice.json")).unwrap();
    let sns = &event.records[0].sns;
    let message: serde_json::Value = serde_json::from_str(&sns.message).unwrap();
    schema_check::validate("notice.schema.json", &message).unwrap();
    let incoming = slack_forwarder::handler::incoming(sns);
    assert_eq!(
        (incoming.severity, incoming.kind),
        (
            guardrails_core::Severity::Warning,
            Some(guardrails_core::NoticeKind::DatasetQuarantined)
        )
    );
    assert_eq!(
        incoming.title,
        format!("Dataset quarantined: {DECODED_KEY}")
    );
    assert_eq!(
        incoming.runbook.as_deref(),
        Some(
            guardrails_core::NoticeKind::DatasetQuarantined
                .runbook()
                .as_str()
        )
    );
    let payload = slack_forwarder::slack::payload(&incoming, None);
    let details = payload["blocks"][3]["text"]["text"].as_str().unwrap();
    assert!(details.contains("label-not-allowed"), "{details}");
    assert!(
        details.starts_with("```{") && details.ends_with("}```"),
        "{details}"
    );
}

/// A training run the gate rejected ends SUCCEEDED, its verdict in the output: the notifier says so (a warning:
/// nothing was registered), with the reasons; a run that registered a model stays quiet (its package's state
/// change speaks).
#[test]
fn a_rejected_run_becomes_a_model_rejected_notice() {
    use notifier::decide::{Decision, Project, decide};
    let project = Project {
        name: "mlops-guardrails".into(),
        drift_alarm_prefix: None,
    };
    let mut event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("step-functions-execution-rejected.json")).unwrap();
    let incoming = notifier::event::read(event.clone()).unwrap();
    let Decision::Notify(notice) = decide(&incoming, &project, "us-east-1") else {
        panic!("no notice");
    };
    assert_eq!(
        (notice.severity, notice.kind),
        (
            guardrails_core::Severity::Warning,
            guardrails_core::NoticeKind::ModelRejected
        )
    );
    assert_eq!(
        notice.title,
        "The gate rejected the model of tickets-classifier-20261122-0300"
    );
    assert!(
        notice.body.contains("worse than the champion"),
        "{}",
        notice.body
    );
    assert!(
        notice.body.contains("tickets: 1350 new rows"),
        "{}",
        notice.body
    );
    assert_eq!(
        notice.details["champion"],
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets-classifier/4"
    );

    let output = event.detail["output"]
        .as_str()
        .unwrap()
        .replace("\"Rejected\"", "\"PendingManualApproval\"");
    event.detail["output"] = output.into();
    let incoming = notifier::event::read(event).unwrap();
    assert!(matches!(
        decide(&incoming, &project, "us-east-1"),
        Decision::Quiet(_)
    ));
}

/// The failure samples, read as the notifier reads them: each is a critical notice of the project that names the
/// failed job or execution and carries the reason the service gave.
#[test]
fn failure_samples_become_the_notices_the_notifier_sends() {
    use notifier::decide::{Decision, Project, decide};
    let project = Project {
        name: "mlops-guardrails".into(),
        drift_alarm_prefix: Some("mlops-guardrails-drift-".into()),
    };
    for (file, names, reason) in [
        (
            "sagemaker-training-job-failed.json",
            "tickets-classifier-20261121-0300",
            "CUDA out of memory",
        ),
        (
            "glue-job-failed.json",
            "mlops-guardrails-prepare-tickets",
            "Access Denied",
        ),
        (
            "step-functions-execution-failed.json",
            "dataset-tickets-20261121-0300",
            "AlgorithmError",
        ),
    ] {
        let event: EventBridgeEvent<serde_json::Value> =
            serde_json::from_str(&fixture(file)).unwrap();
        let incoming = notifier::event::read(event).unwrap();
        let Decision::Notify(notice) = decide(&incoming, &project, "us-east-1") else {
            panic!("{file}: no notice");
        };
        assert_eq!(
            notice.severity,
            guardrails_core::Severity::Critical,
            "{file}"
        );
        assert!(notice.title.contains(names), "{file}: {}", notice.title);
        assert!(notice.body.contains(reason), "{file}: {}", notice.body);
    }
}

#[test]
fn manual_training_request_is_a_manual_trigger() {
    let event: serde_json::Value =
        serde_json::from_str(&fixture("manual-training-request.json")).unwrap();
    let trigger =
        trigger_training::handler::parse_trigger(&event, "lambda-request", chrono::Utc::now())
            .unwrap();
    assert_eq!(trigger.kind, trigger_training::policy::TriggerKind::Manual);
    assert_eq!(trigger.id, "ticket-4821");
    assert!(trigger.reason.starts_with("relabelled"));
}

#[test]
fn model_gate_request_names_the_job_by_arn() {
    let request: model_gate::GateRequest =
        serde_json::from_str(&fixture("model-gate-request.json")).unwrap();
    assert!(
        request
            .training_job_arn
            .unwrap()
            .contains(":training-job/tickets-classifier-")
    );
    assert_eq!(
        request.model_package_group.as_deref(),
        Some("tickets-classifier")
    );
}

#[test]
fn transform_job_completion_carries_output_path_and_times() {
    let event: EventBridgeEvent<TransformJobStateChange> =
        serde_json::from_str(&fixture("sagemaker-transform-job-completed.json")).unwrap();
    assert_eq!(event.detail_type, TransformJobStateChange::DETAIL_TYPE);
    let detail = &event.detail;
    assert_eq!(detail.transform_job_status, "Completed");
    let output = detail.transform_output.as_ref().unwrap();
    assert!(output.s3_output_path.starts_with("s3://"));
    assert_eq!(detail.seconds(), Some(663.0));
}

#[test]
fn parameter_store_change_names_the_parameter_and_operation() {
    let event: EventBridgeEvent =
        serde_json::from_str(&fixture("parameter-store-change.json")).unwrap();
    assert_eq!(event.source, "aws.ssm");
    assert_eq!(event.detail_type, "Parameter Store Change");
    assert_eq!(event.detail["name"], "/mlops-guardrails/dataset-contract");
    assert_eq!(event.detail["operation"], "Update");
}

#[test]
fn a_registry_change_an_endpoint_change_and_a_deploy_request_reach_deploy() {
    let event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("sagemaker-model-package-approved.json")).unwrap();
    let deploy::Trigger::Registry { change, at } = deploy::Trigger::read(event).unwrap() else {
        panic!("not read as a registry change");
    };
    assert_eq!(change.group, "tickets-classifier");
    assert!(
        change.arn.ends_with("model-package/tickets-classifier/2"),
        "{}",
        change.arn
    );
    assert!(at.is_some());
    let event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("deploy-requested.json")).unwrap();
    let deploy::Trigger::Requested(request) = deploy::Trigger::read(event).unwrap() else {
        panic!("not read as a deploy request");
    };
    assert!(
        request
            .model_package_arn
            .is_some_and(|arn| arn.ends_with("tickets-classifier/3"))
    );
    let event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("sagemaker-endpoint-in-service.json")).unwrap();
    let deploy::Trigger::Endpoint(change) = deploy::Trigger::read(event).unwrap() else {
        panic!("not read as an endpoint change");
    };
    assert_eq!(change.endpoint_name, "tickets-classifier");
    assert_eq!(change.endpoint_status.as_deref(), Some("IN_SERVICE"));
    // Anything else is refused, not ignored.
    let other: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("scheduled-event.json")).unwrap();
    assert!(deploy::Trigger::read(other).is_err());
}

#[test]
fn batch_input_reaches_batch_launcher_with_its_key_encoded() {
    let event: EventBridgeEvent<ObjectCreatedDetail> =
        serde_json::from_str(&fixture("eventbridge-s3-batch-input.json")).unwrap();
    assert_eq!(event.source, "aws.s3");
    let key = guardrails_core::s3::decode_notification_key(&event.detail.object.key).unwrap();
    assert_eq!(key, "batch-input/2026-12-02/tickets del día.jsonl");
    let reason = batch_launcher::decide::not_input(&key, event.detail.object.size, "batch-input/");
    assert_eq!(reason, None);
}

#[test]
fn a_stage_report_upload_reaches_stage_report_with_its_key_encoded() {
    let event: EventBridgeEvent<ObjectCreatedDetail> =
        serde_json::from_str(&fixture("eventbridge-s3-stage-report.json")).unwrap();
    assert_eq!(
        (event.source.as_str(), event.detail_type.as_str()),
        ("aws.s3", "Object Created")
    );
    let key = guardrails_core::s3::decode_notification_key(&event.detail.object.key).unwrap();
    assert_eq!(
        key,
        "features/2026-12-01/tickets embeddings/stage-report.json"
    );
    assert!(key.ends_with("stage-report.json"), "the rule's suffix");
}

/// The sample reports are what the schema and the function both accept, with the figures they show.
#[test]
fn the_sample_stage_reports_meet_the_contract_on_both_sides() {
    use stage_report::report::{Reader, Stage};
    let reader = Reader;
    for (name, stage) in [
        (
            "stage-report-feature-engineering.json",
            Stage::FeatureEngineering,
        ),
        ("stage-report-clustering.json", Stage::Clustering),
    ] {
        let text = fixture(name);
        schema_check::validate(
            "stage-report.schema.json",
            &serde_json::from_str(&text).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = reader
            .read(text.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(report.stage, stage, "{name}");
        if let Some(c) = &report.clustering {
            let clustered: u64 = c.sizes.iter().sum();
            let weighted: f64 = c
                .sizes
                .iter()
                .zip(&c.intra_variance)
                .map(|(&s, v)| s as f64 * v)
                .sum::<f64>()
                / clustered as f64;
            assert!(
                (weighted - c.total_intra_variance).abs() < 1e-3,
                "{name}: the total is the weighted mean"
            );
            assert_eq!(
                clustered, report.rows_out,
                "{name}: the rows clustered are the rows written"
            );
        }
    }
}

#[test]
fn the_monitor_hour_tasks_and_the_schedule_reach_inference_monitor_as_their_input() {
    use inference_monitor::{Input, Task};
    let hour = "2026-11-20T09:00:00Z".parse().unwrap();
    let input = |name| serde_json::from_str::<Input>(&fixture(name)).unwrap();
    assert!(matches!(
        input("monitor-read-part.json"),
        Input::Task(Task::ReadPart { part: 2, hour: h }) if h == hour
    ));
    assert!(matches!(
        input("monitor-judge.json"),
        Input::Task(Task::Judge { hour: h }) if h == hour
    ));
    assert!(matches!(
        input("scheduled-event.json"),
        Input::Event(e) if e.detail_type == "Scheduled Event"
    ));
    // What the state machine passes is what the function wrote into the execution's input.
    let written = serde_json::to_value(Task::ReadPart { hour, part: 2 }).unwrap();
    assert_eq!(
        written,
        serde_json::from_str::<serde_json::Value>(&fixture("monitor-read-part.json")).unwrap()
    );
}

#[test]
fn a_cloudtrail_record_of_a_bucket_policy_names_the_bucket_to_recheck() {
    use posture_audit::change::{ApiCall, DETAIL_TYPE, Target, target};
    let event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("cloudtrail-put-bucket-policy.json")).unwrap();
    assert_eq!(event.detail_type, DETAIL_TYPE);
    let call: ApiCall = serde_json::from_value(event.detail).unwrap();
    assert_eq!(
        target(&call),
        Some(Target::Bucket(
            "mlops-guardrails-artifacts-123456789012".into()
        ))
    );
}

#[test]
fn every_fixture_is_covered_by_a_test() {
    let tested = [
        "s3-object-created.json",
        "eventbridge-s3-object-created.json",
        "sqs-eventbridge-s3-object-created.json",
        "dataset-validated.json",
        "dataset-quarantined.json",
        "retraining-requested.json",
        "alarm-data-drift.json",
        "alarm-model-quality.json",
        "alarm-model-quality-ok.json",
        "scheduled-event.json",
        "sagemaker-training-job-failed.json",
        "glue-job-failed.json",
        "step-functions-execution-failed.json",
        "manual-training-request.json",
        "model-gate-request.json",
        "alarm-insufficient-data.json",
        "alarm-bias.json",
        "alarm-feature-attribution.json",
        "alarm-prediction-confidence.json",
        "alarm-custom-detector.json",
        "sagemaker-transform-job-completed.json",
        "parameter-store-change.json",
        "sagemaker-model-package-approved.json",
        "deploy-requested.json",
        "eventbridge-s3-batch-input.json",
        "sagemaker-endpoint-in-service.json",
        "alarm-input-drift.json",
        "data-capture.jsonl",
        "ground-truth.jsonl",
        "monitor-read-part.json",
        "monitor-judge.json",
        "sns-notice.json",
        "step-functions-execution-rejected.json",
        "cloudtrail-put-bucket-policy.json",
        "eventbridge-s3-stage-report.json",
        // Read by the notifier's own test (`event.rs`): a Batch job's end, its times and tags.
        "batch-job-succeeded.json",
        "stage-report-feature-engineering.json",
        "stage-report-clustering.json",
    ];
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") || name.ends_with(".jsonl"))
        .collect();
    present.sort();
    let mut tested: Vec<String> = tested.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(present, tested, "add a test for each new fixture");
}
