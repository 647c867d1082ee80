//! drift-handler settings, read once at cold start.

use std::collections::BTreeMap;

use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::classify::{ActionPolicy, Actions, DriftKind, Rule};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::DRIFT_HANDLER;

/// drift-handler configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (the notice topic is required).
    pub common: CommonConfig,
    /// The model package group rolled back (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: String,
    /// The real-time endpoint deploy serves on (`ENDPOINT_NAME`), named in the notice and the Model Rolled Back
    /// event; deploy moves it when the rollback rejects the degraded version.
    pub endpoint: Option<String>,
    /// Extra classification rules (`DRIFT_RULES`, a JSON list of `{"namespace", "metricPrefix", "kind"}`),
    /// checked before the built-in ones.
    pub rules: Vec<Rule>,
    /// Actions per kind (`DRIFT_ACTIONS`, a JSON object of kind to `{"rollback": bool, "retrain": bool}`
    /// overriding the defaults).
    pub actions: ActionPolicy,
    /// The state bucket (`STATE_BUCKET`), where each alarm transition's job document lives.
    pub state_bucket: String,
    /// Their prefix (`MARKER_PREFIX`, default `drift-handler/`).
    pub marker_prefix: String,
    /// Linked from every notice (`RUNBOOK_URL`, default the README's runbook).
    pub runbook_url: String,
    /// The CloudWatch dashboard (`DASHBOARD_URL`), linked when set.
    pub dashboard_url: Option<String>,
}

/// The README's runbook section.
pub const DEFAULT_RUNBOOK: &str =
    "https://github.com/mlops-guardrails/mlops-guardrails#runbook-drift-alarms";

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        common.require_notice_topic()?;
        let rules: Vec<Rule> = env
            .parse_with("DRIFT_RULES", |json| {
                serde_json::from_str(json).map_err(|e| {
                    format!(
                        "expected a JSON list of {{\"namespace\", \"metricPrefix\", \"kind\"}}: {e}"
                    )
                })
            })?
            .unwrap_or_default();
        if let Some(rule) = rules
            .iter()
            .find(|r| r.namespace.is_none() && r.metric_prefix.is_none())
        {
            return Err(ConfigError::invalid(
                "DRIFT_RULES",
                format!("{rule:?}"),
                "a rule needs a namespace, a metricPrefix or both",
            ));
        }
        let overrides: Option<BTreeMap<DriftKind, Actions>> =
            env.parse_with("DRIFT_ACTIONS", |json| {
                serde_json::from_str(json).map_err(|e| {
                    format!("expected a JSON object of kind to {{\"rollback\": bool, \"retrain\": bool}}: {e}")
                })
            })?;
        let mut actions = ActionPolicy::default();
        actions.0.extend(overrides.unwrap_or_default());
        let state_bucket = common.require_state_bucket()?.to_owned();
        Ok(Config {
            common,
            model_package_group: env.required("MODEL_PACKAGE_GROUP")?,
            endpoint: env.optional("ENDPOINT_NAME"),
            rules,
            actions,
            state_bucket,
            marker_prefix: env.prefix_or("MARKER_PREFIX", "drift-handler/"),
            runbook_url: env
                .optional("RUNBOOK_URL")
                .unwrap_or_else(|| DEFAULT_RUNBOOK.to_owned()),
            dashboard_url: env.optional("DASHBOARD_URL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 4] = [
        ("EVENT_BUS_NAME", "bus"),
        (
            "NOTICE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:notices",
        ),
        ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
        ("STATE_BUCKET", "state"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        Config::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn defaults_and_overrides() {
        let config = with(&[]).unwrap();
        assert_eq!(config.endpoint, None);
        assert_eq!(config.actions, ActionPolicy::default());
        let config = with(&[
            ("ENDPOINT_NAME", "tickets-classifier"),
            ("DRIFT_ACTIONS", r#"{"data-drift": {"retrain": false}}"#),
            (
                "DRIFT_RULES",
                r#"[{"namespace": "Team/Drift", "kind": "data-drift"}]"#,
            ),
        ])
        .unwrap();
        assert_eq!(config.endpoint.as_deref(), Some("tickets-classifier"));
        assert!(!config.actions.for_kind(DriftKind::DataDrift).retrain);
        assert!(
            config.actions.for_kind(DriftKind::ModelQuality).rollback,
            "others keep defaults"
        );
        assert_eq!(config.rules.len(), 1);
    }

    #[test]
    fn bad_values_are_named() {
        let cases: [(&[(&str, &str)], &str); 3] = [
            (&[("DRIFT_RULES", r#"[{"kind": "bias"}]"#)], "DRIFT_RULES"),
            (
                &[("DRIFT_RULES", r#"[{"namespace": "x", "kind": "weird"}]"#)],
                "DRIFT_RULES",
            ),
            (
                &[("DRIFT_ACTIONS", r#"{"model-quality": {"rollbak": true}}"#)],
                "DRIFT_ACTIONS",
            ),
        ];
        for (extra, name) in cases {
            let error = with(extra).unwrap_err().to_string();
            assert!(error.contains(name), "{extra:?}: {error}");
        }
    }
}
