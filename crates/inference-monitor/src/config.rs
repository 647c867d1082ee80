//! inference-monitor settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

use text_monitor::prediction::Fields;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::INFERENCE_MONITOR;

/// inference-monitor configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings.
    pub common: CommonConfig,
    /// The model package group whose serving version (the newest Approved) the batches come from
    /// (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: String,
    /// The `Model` metric dimension (`MODEL_NAME`, default the group): one value per deployment, so bounded.
    pub model: String,
    /// The state bucket, where each version's lineage record and baseline are kept (`STATE_BUCKET`).
    pub state_bucket: String,
    /// The KMS key lineage records are signed with, to verify them (`LINEAGE_KEY_ID`).
    pub lineage_key_id: String,
    /// Where lineage records are in the state bucket (`LINEAGE_PREFIX`, default `lineage/`).
    pub lineage_prefix: String,
    /// Output files are the keys ending with this (`OUTPUT_SUFFIX`, default `.out`, SageMaker's).
    pub output_suffix: String,
    /// The catch-all label (`OTHER_LABEL`, default `Otros`).
    pub other_label: String,
    /// Below this confidence a prediction is "low confidence" (`LOW_CONFIDENCE`, default 0.5).
    pub low_confidence: f64,
    /// Field names (`LABEL_FIELD`, `CONFIDENCE_FIELD`, `PROBABILITIES_FIELD`, `PROBABILITY_TOLERANCE`).
    pub fields: Fields,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let state_bucket = common.require_state_bucket()?.to_owned();
        let model_package_group = env.required("MODEL_PACKAGE_GROUP")?;
        Ok(Config {
            common,
            model: env.optional_or("MODEL_NAME", &model_package_group),
            model_package_group,
            state_bucket,
            lineage_key_id: env.required("LINEAGE_KEY_ID")?,
            lineage_prefix: env
                .prefix_or("LINEAGE_PREFIX", guardrails_core::lineage::DEFAULT_PREFIX),
            output_suffix: env.optional_or("OUTPUT_SUFFIX", ".out"),
            other_label: env.optional_or("OTHER_LABEL", "Otros"),
            low_confidence: env.fraction_or("LOW_CONFIDENCE", 0.5)?,
            fields: Fields {
                label: env.optional_or("LABEL_FIELD", "label"),
                confidence: env.optional_or("CONFIDENCE_FIELD", "confidence"),
                probabilities: env.optional_or("PROBABILITIES_FIELD", "probabilities"),
                tolerance: env.fraction_or("PROBABILITY_TOLERANCE", 0.01)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_named_errors() {
        let base = [
            ("EVENT_BUS_NAME", "bus"),
            ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
            ("LINEAGE_KEY_ID", "alias/lineage"),
            ("STATE_BUCKET", "b"),
        ];
        let config = Config::from_env(&Env::from_pairs(base)).unwrap();
        assert_eq!(
            (config.other_label.as_str(), config.low_confidence),
            ("Otros", 0.5)
        );
        assert_eq!(config.fields, Fields::default());
        assert_eq!(
            config.model, "tickets-classifier",
            "the metric dimension defaults to the group"
        );
        let mut bad = base.to_vec();
        bad.push(("LOW_CONFIDENCE", "50"));
        let error = Config::from_env(&Env::from_pairs(bad))
            .unwrap_err()
            .to_string();
        assert!(error.contains("LOW_CONFIDENCE"), "{error}");
        let error = Config::from_env(&Env::from_pairs(base[..3].to_vec()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("STATE_BUCKET"), "{error}");
        let error = Config::from_env(&Env::from_pairs([base[0], base[1], base[3]]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("LINEAGE_KEY_ID"), "{error}");
    }
}
