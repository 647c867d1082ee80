//! The classification and the response over every alarm sample in `events/`: each namespace and state.

#![allow(clippy::unwrap_used)]

use drift_handler::alarm;
use drift_handler::classify::{ActionPolicy, DriftKind, Response, Rule, classify, respond};
use guardrails_core::Severity;

use testkit::fixture;

#[test]
fn every_alarm_sample_is_classified_and_answered() {
    let team_rule: Rule = serde_json::from_str(
        r#"{"namespace": "Team/TextDrift", "metricPrefix": "embedding_", "kind": "data-drift"}"#,
    )
    .unwrap();
    let policy = ActionPolicy::default();
    let drifted = |severity, rollback, retrain| Response::Drifted {
        severity,
        actions: drift_handler::classify::Actions { rollback, retrain },
    };
    #[rustfmt::skip]
    let table = [
        ("alarm-model-quality.json",          &[][..],               DriftKind::ModelQuality,       drifted(Severity::Critical, true, true)),
        ("alarm-model-quality-ok.json",       &[],                   DriftKind::ModelQuality,       Response::Recovered),
        ("alarm-insufficient-data.json",      &[],                   DriftKind::ModelQuality,       Response::LogOnly),
        ("alarm-data-drift.json",             &[],                   DriftKind::DataDrift,          drifted(Severity::Warning, false, true)),
        ("alarm-bias.json",                   &[],                   DriftKind::Bias,               drifted(Severity::Warning, false, true)),
        ("alarm-feature-attribution.json",    &[],                   DriftKind::FeatureAttribution, drifted(Severity::Warning, false, false)),
        ("alarm-prediction-confidence.json",  &[],                   DriftKind::PredictionQuality,  drifted(Severity::Warning, false, true)),
        ("alarm-input-drift.json",            &[],                   DriftKind::DataDrift,          drifted(Severity::Warning, false, true)),
        ("alarm-custom-detector.json",        &[],                   DriftKind::Unknown,            drifted(Severity::Warning, false, false)),
        ("alarm-custom-detector.json",        std::slice::from_ref(&team_rule),DriftKind::DataDrift,          drifted(Severity::Warning, false, true)),
    ];
    for (file, rules, kind, response) in table {
        let facts = alarm::parse(fixture(file))
            .and_then(alarm::read)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let classified = classify(&facts, rules, "MlopsGuardrails");
        assert_eq!(classified, kind, "{file}");
        assert_eq!(respond(&facts, classified, &policy), response, "{file}");
        assert!(
            facts.threshold.is_some(),
            "{file}: threshold from the reason data"
        );
    }
}
