//! inference-monitor settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::parse::Fields;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::INFERENCE_MONITOR;

/// inference-monitor configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings.
    pub common: CommonConfig,
    /// The `Model` metric dimension (`MODEL_NAME`, default `model`): one value per deployment, so bounded.
    pub model: String,
    /// The dataset whose Dataset Validated events build the baseline (`TRAINING_DATASET`).
    pub dataset: String,
    /// The state bucket, where the baseline label histogram lives (`STATE_BUCKET`).
    pub state_bucket: String,
    /// The baseline's key there (`BASELINE_KEY`, default `inference-monitor/baseline.json`).
    pub baseline_key: String,
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
        Ok(Config {
            common,
            model: env.optional_or("MODEL_NAME", "model"),
            dataset: env.required("TRAINING_DATASET")?,
            state_bucket,
            baseline_key: env.optional_or("BASELINE_KEY", "inference-monitor/baseline.json"),
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
            ("TRAINING_DATASET", "tickets"),
            ("STATE_BUCKET", "b"),
        ];
        let config = Config::from_env(&Env::from_pairs(base)).unwrap();
        assert_eq!(
            (config.other_label.as_str(), config.low_confidence),
            ("Otros", 0.5)
        );
        assert_eq!(config.fields, Fields::default());
        let mut bad = base.to_vec();
        bad.push(("LOW_CONFIDENCE", "50"));
        let error = Config::from_env(&Env::from_pairs(bad))
            .unwrap_err()
            .to_string();
        assert!(error.contains("LOW_CONFIDENCE"), "{error}");
        let error = Config::from_env(&Env::from_pairs(base[..2].to_vec()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("STATE_BUCKET"), "{error}");
    }
}
