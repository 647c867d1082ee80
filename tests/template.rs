//! The template's wiring that no validator checks: every alarm named with the drift prefix reaches drift-handler
//! (the rule's pattern uses the same prefix) and drift-handler classifies it as a kind it acts on.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use drift_handler::classify::{AlarmFacts, AlarmState, DriftKind, classify};
use serde_yaml::Value;

fn template() -> Value {
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The text of a `!Sub` (or a plain string).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(tagged) => text(&tagged.value),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn drift_alarms_reach_drift_handler_and_are_classified() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let drift_rule = &template["Resources"]["DriftAlarmsRule"]["Properties"]["EventPattern"];
    let prefix_ref = &drift_rule["detail"]["alarmName"][0]["prefix"];
    assert_eq!(
        text(prefix_ref),
        "DriftAlarmPrefix",
        "the rule matches the DriftAlarmPrefix parameter"
    );
    let own_namespace =
        text(&template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]);

    let mut drift_alarms = BTreeMap::new();
    for (name, resource) in resources {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let alarm_name = text(&resource["Properties"]["AlarmName"]);
        if !alarm_name.starts_with("${DriftAlarmPrefix}") {
            continue;
        }
        let p = &resource["Properties"];
        let facts = AlarmFacts {
            name: alarm_name,
            state: AlarmState::Alarm,
            previous: Some(AlarmState::Ok),
            since: "2026-11-22T00:00:00Z".parse().unwrap(),
            reason: String::new(),
            description: None,
            namespace: Some(text(&p["Namespace"])),
            metric: Some(text(&p["MetricName"])),
            dimensions: BTreeMap::new(),
            threshold: None,
            value: None,
        };
        drift_alarms.insert(
            name.as_str().unwrap().to_owned(),
            classify(&facts, &[], &own_namespace),
        );
    }
    assert_eq!(
        drift_alarms,
        BTreeMap::from([
            (
                "LabelMixDriftAlarm".to_owned(),
                DriftKind::PredictionQuality
            ),
            (
                "LowConfidenceDriftAlarm".to_owned(),
                DriftKind::PredictionQuality
            ),
            (
                "OtherShareDriftAlarm".to_owned(),
                DriftKind::PredictionQuality
            ),
        ])
    );
}

/// A scalar of the template as a number (YAML numbers and numeric strings alike).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn every_function_claim_outlives_its_timeout() {
    // A claim must not lapse while its delivery still runs (two deliveries would act), and should lapse soon
    // after a crash (the retry waits for it).
    let template = template();
    let globals = &template["Globals"]["Function"];
    let mut checked = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let p = &resource["Properties"];
        let timeout = number(&p["Timeout"])
            .or_else(|| number(&globals["Timeout"]))
            .unwrap();
        let lease = number(&p["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"])
            .or_else(|| number(&globals["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"]))
            .unwrap_or_else(|| panic!("{name:?} has no CLAIM_LEASE_SECONDS"));
        assert!(
            lease > timeout && lease <= timeout * 2,
            "{name:?}: lease {lease} s for a {timeout} s timeout"
        );
        checked += 1;
    }
    assert!(checked >= 6, "{checked} functions");
}
