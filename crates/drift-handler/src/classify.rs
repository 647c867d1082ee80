//! What an alarm transition means and what to do about it: plain Rust, no AWS types.
//!
//! Drift alarms may come from any namespace — Model Monitor's, the project's own inference-monitor, or a team's
//! own detector — so the kind is decided by built-in rules for the known namespaces plus configured ones.

use std::collections::BTreeMap;

use guardrails_core::Severity;
use guardrails_core::domain::RetrainingCause;
use guardrails_core::metric::{
    BIAS_VIOLATION, INPUT_DRIFT_VIOLATION, MODEL_QUALITY_VIOLATION, PREDICTION_QUALITY,
};
use serde::{Deserialize, Serialize};

pub use guardrails_core::alarm::{AlarmFacts, AlarmState};

/// What drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// Input data moved away from the training baseline.
    DataDrift,
    /// Model quality (F1, accuracy …) against ground truth fell.
    ModelQuality,
    /// A bias metric drifted.
    Bias,
    /// Feature attribution drifted.
    FeatureAttribution,
    /// Prediction confidence or the label mix moved (inference-monitor).
    PredictionQuality,
    /// Not recognised: notified, never acted on.
    Unknown,
}

impl DriftKind {
    /// The kebab-case name (metric dimension, notice kind suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::DataDrift => "data-drift",
            DriftKind::ModelQuality => "model-quality",
            DriftKind::Bias => "bias",
            DriftKind::FeatureAttribution => "feature-attribution",
            DriftKind::PredictionQuality => "prediction-quality",
            DriftKind::Unknown => "unknown",
        }
    }

    /// The kind of the notice it makes.
    pub fn notice_kind(self) -> guardrails_core::NoticeKind {
        use guardrails_core::NoticeKind as K;
        match self {
            DriftKind::DataDrift => K::DriftDataDrift,
            DriftKind::ModelQuality => K::DriftModelQuality,
            DriftKind::Bias => K::DriftBias,
            DriftKind::FeatureAttribution => K::DriftFeatureAttribution,
            DriftKind::PredictionQuality => K::DriftPredictionQuality,
            DriftKind::Unknown => K::DriftUnknown,
        }
    }

    /// The retraining cause it gives, if any.
    pub fn cause(self) -> Option<RetrainingCause> {
        match self {
            DriftKind::DataDrift => Some(RetrainingCause::DataDrift),
            DriftKind::ModelQuality => Some(RetrainingCause::ModelQuality),
            DriftKind::Bias => Some(RetrainingCause::Bias),
            DriftKind::FeatureAttribution => Some(RetrainingCause::FeatureAttribution),
            DriftKind::PredictionQuality => Some(RetrainingCause::PredictionQuality),
            DriftKind::Unknown => None,
        }
    }
}

/// A configured rule: alarms on metrics in `namespace` (any when absent) whose name starts with
/// `metric_prefix` (any when absent) are of `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Exact namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Metric name prefix.
    #[serde(default)]
    pub metric_prefix: Option<String>,
    pub kind: DriftKind,
}

/// Classifies an alarm: configured rules first (in order), then Model Monitor's namespaces
/// (`aws/sagemaker/{Endpoints,ModelMonitoring}/{data,model,bias,explainability}-metrics`), Model Monitor's
/// `feature_baseline_drift_*` metrics in any namespace, and inference-monitor's metrics in `own_namespace` (its
/// input-drift, model-quality and bias verdicts, and its prediction-quality gauges).
pub fn classify(facts: &AlarmFacts, rules: &[Rule], own_namespace: &str) -> DriftKind {
    let namespace = facts.namespace.as_deref().unwrap_or_default();
    let metric = facts.metric.as_deref().unwrap_or_default();
    for rule in rules {
        let namespace_matches = rule.namespace.as_deref().is_none_or(|n| n == namespace);
        let metric_matches = rule
            .metric_prefix
            .as_deref()
            .is_none_or(|p| metric.starts_with(p));
        if namespace_matches
            && metric_matches
            && (rule.namespace.is_some() || rule.metric_prefix.is_some())
        {
            return rule.kind;
        }
    }
    // AWS pages spell Model Monitor's namespaces several ways (a leading slash, Endpoint or Endpoints, -metric
    // or -metrics): accept them all.
    let trimmed = namespace.trim_start_matches('/');
    let model_monitor = [
        "aws/sagemaker/Endpoints/",
        "aws/sagemaker/Endpoint/",
        "aws/sagemaker/ModelMonitoring/",
    ]
    .iter()
    .find_map(|prefix| trimmed.strip_prefix(prefix))
    .map(|rest| rest.trim_end_matches('s'));
    match model_monitor {
        Some("data-metric") => return DriftKind::DataDrift,
        Some("model-metric") => return DriftKind::ModelQuality,
        Some("bias-metric") => return DriftKind::Bias,
        Some("explainability-metric") => return DriftKind::FeatureAttribution,
        _ => {}
    }
    if metric.starts_with("feature_baseline_drift_") {
        return DriftKind::DataDrift;
    }
    if namespace != own_namespace {
        return DriftKind::Unknown;
    }
    match metric {
        m if m == INPUT_DRIFT_VIOLATION.name => DriftKind::DataDrift,
        m if m == MODEL_QUALITY_VIOLATION.name => DriftKind::ModelQuality,
        m if m == BIAS_VIOLATION.name => DriftKind::Bias,
        m if PREDICTION_QUALITY.iter().any(|p| p.name == m) => DriftKind::PredictionQuality,
        _ => DriftKind::Unknown,
    }
}

/// What a kind of drift sets off, besides the notice every drift gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Actions {
    /// Roll back to the previous approved model.
    #[serde(default)]
    pub rollback: bool,
    /// Ask for retraining.
    #[serde(default)]
    pub retrain: bool,
}

/// The configured actions per kind; [`ActionPolicy::default`] is the documented default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPolicy(pub BTreeMap<DriftKind, Actions>);

impl Default for ActionPolicy {
    /// Model quality → rollback and retraining; data drift, bias and prediction quality → retraining; feature
    /// attribution and unknown → notice only.
    fn default() -> Self {
        let both = Actions {
            rollback: true,
            retrain: true,
        };
        let retrain = Actions {
            rollback: false,
            retrain: true,
        };
        ActionPolicy(BTreeMap::from([
            (DriftKind::ModelQuality, both),
            (DriftKind::DataDrift, retrain),
            (DriftKind::Bias, retrain),
            (DriftKind::PredictionQuality, retrain),
            (DriftKind::FeatureAttribution, Actions::default()),
        ]))
    }
}

impl ActionPolicy {
    /// What `kind` sets off; unknown alarms never act.
    pub fn for_kind(&self, kind: DriftKind) -> Actions {
        if kind == DriftKind::Unknown {
            return Actions::default();
        }
        self.0.get(&kind).copied().unwrap_or_default()
    }
}

/// The response to a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Logged only (INSUFFICIENT_DATA, or OK without a preceding ALARM).
    LogOnly,
    /// ALARM → OK: a recovery notice.
    Recovered,
    /// Entered ALARM: a notice of this severity, and the actions.
    Drifted {
        /// Notice severity: critical when the model is rolled back, warning otherwise.
        severity: Severity,
        actions: Actions,
    },
}

/// Decides the response to a classified transition.
pub fn respond(facts: &AlarmFacts, kind: DriftKind, policy: &ActionPolicy) -> Response {
    match (facts.state, facts.previous) {
        (AlarmState::Alarm, Some(AlarmState::Alarm)) => Response::LogOnly,
        (AlarmState::Alarm, _) => {
            let actions = policy.for_kind(kind);
            Response::Drifted {
                severity: if actions.rollback {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                actions,
            }
        }
        (AlarmState::Ok, Some(AlarmState::Alarm)) => Response::Recovered,
        _ => Response::LogOnly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(namespace: &str, metric: &str, state: AlarmState, previous: AlarmState) -> AlarmFacts {
        AlarmFacts {
            name: "alarm".into(),
            state,
            previous: Some(previous),
            since: "2026-11-21T03:10:45.341Z".parse().unwrap(),
            reason: String::new(),
            description: None,
            namespace: Some(namespace.into()),
            metric: Some(metric.into()),
            dimensions: BTreeMap::new(),
            threshold: None,
            value: None,
        }
    }

    #[test]
    fn classification_table() {
        use DriftKind::*;
        let rules = vec![
            Rule {
                namespace: Some("Team/TextDrift".into()),
                metric_prefix: Some("embedding_".into()),
                kind: DataDrift,
            },
            Rule {
                namespace: None,
                metric_prefix: Some("macro_f1".into()),
                kind: ModelQuality,
            },
        ];
        #[rustfmt::skip]
        let table = [
            ("aws/sagemaker/Endpoints/data-metrics",               "feature_baseline_drift_text_length", DataDrift),
            ("aws/sagemaker/ModelMonitoring/data-metrics",         "feature_baseline_drift_text_length", DataDrift),
            ("/aws/sagemaker/Endpoints/data-metric",               "missing_column_check",               DataDrift),
            ("/aws/sagemaker/Endpoint/model-metrics",              "f1",                                 ModelQuality),
            ("aws/sagemaker/Endpoints/data-metrics",               "missing_column_check",               DataDrift),
            ("Custom/Whatever",                                    "feature_baseline_drift_label",       DataDrift),
            ("aws/sagemaker/Endpoints/model-metrics",              "weighted_f1",                        ModelQuality),
            ("aws/sagemaker/ModelMonitoring/model-metrics",        "accuracy",                           ModelQuality),
            ("aws/sagemaker/Endpoints/bias-metrics",               "DPPL",                               Bias),
            ("aws/sagemaker/ModelMonitoring/explainability-metrics", "feature_attribution_drift",        FeatureAttribution),
            ("MlopsGuardrails",                                    "AvgConfidence",                      PredictionQuality),
            ("MlopsGuardrails",                                    "LabelPSI",                           PredictionQuality),
            ("MlopsGuardrails",                                    "InputDriftViolation",                DataDrift),
            ("MlopsGuardrails",                                    "ModelQualityViolation",              ModelQuality),
            ("MlopsGuardrails",                                    "BiasViolation",                      Bias),
            ("MlopsGuardrails",                                    "WeightedF1",                         Unknown),
            ("OtherNamespace",                                     "ModelQualityViolation",              Unknown),
            ("MlopsGuardrails",                                    "FilesQuarantined",                   Unknown),
            ("OtherNamespace",                                     "AvgConfidence",                      Unknown),
            ("Team/TextDrift",                                     "embedding_cosine",                   DataDrift),
            ("Team/TextDrift",                                     "latency",                            Unknown),
            ("Team/Quality",                                       "macro_f1_daily",                     ModelQuality),
            ("AWS/EC2",                                            "CPUUtilization",                     Unknown),
        ];
        for (namespace, metric, expected) in table {
            let f = facts(namespace, metric, AlarmState::Alarm, AlarmState::Ok);
            assert_eq!(
                classify(&f, &rules, "MlopsGuardrails"),
                expected,
                "{namespace} {metric}"
            );
        }
        let mut no_metric = facts("", "", AlarmState::Alarm, AlarmState::Ok);
        no_metric.namespace = None;
        no_metric.metric = None;
        assert_eq!(
            classify(&no_metric, &rules, "MlopsGuardrails"),
            Unknown,
            "metric math alarm"
        );
    }

    #[test]
    fn response_table() {
        use AlarmState::*;
        use DriftKind::*;
        let policy = ActionPolicy::default();
        let drifted = |severity, rollback, retrain| Response::Drifted {
            severity,
            actions: Actions { rollback, retrain },
        };
        #[rustfmt::skip]
        let table = [
            (ModelQuality,       Alarm,            Ok,               drifted(Severity::Critical, true, true)),
            (ModelQuality,       Alarm,            InsufficientData, drifted(Severity::Critical, true, true)),
            (DataDrift,          Alarm,            Ok,               drifted(Severity::Warning, false, true)),
            (Bias,               Alarm,            Ok,               drifted(Severity::Warning, false, true)),
            (PredictionQuality,  Alarm,            Ok,               drifted(Severity::Warning, false, true)),
            (FeatureAttribution, Alarm,            Ok,               drifted(Severity::Warning, false, false)),
            (Unknown,            Alarm,            Ok,               drifted(Severity::Warning, false, false)),
            (ModelQuality,       Ok,               Alarm,            Response::Recovered),
            (DataDrift,          Ok,               Alarm,            Response::Recovered),
            (ModelQuality,       Ok,               InsufficientData, Response::LogOnly),
            (ModelQuality,       InsufficientData, Alarm,            Response::LogOnly),
            (ModelQuality,       InsufficientData, Ok,               Response::LogOnly),
        ];
        for (kind, state, previous, expected) in table {
            let f = facts("n", "m", state, previous);
            assert_eq!(
                respond(&f, kind, &policy),
                expected,
                "{kind:?} {previous:?} → {state:?}"
            );
        }
        let custom = ActionPolicy(BTreeMap::from([(
            Unknown,
            Actions {
                rollback: true,
                retrain: true,
            },
        )]));
        assert_eq!(
            respond(&facts("n", "m", Alarm, Ok), Unknown, &custom),
            drifted(Severity::Warning, false, false),
            "unknown alarms are never acted on, whatever the configuration says"
        );
    }

    #[test]
    fn transition_keys_name_the_alarm_and_the_moment() {
        let f = facts("n", "m", AlarmState::Alarm, AlarmState::Ok);
        assert_eq!(f.transition_key(), "alarm@2026-11-21T03:10:45.341Z");
    }
}
