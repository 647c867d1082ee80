//! model-gate settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::verdict::Thresholds;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::MODEL_GATE;

/// The names the training job reports its final metrics under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricNames {
    /// Validation F1 (`F1_METRIC`, default `validation:weighted_f1`: multiclass text classification reports
    /// weighted F1).
    pub f1: String,
    /// Validation accuracy (`ACCURACY_METRIC`, default `validation:accuracy`).
    pub accuracy: String,
    /// Training F1 (`TRAIN_F1_METRIC`, default `train:weighted_f1`).
    pub train_f1: String,
    /// Epochs run (`EPOCH_METRIC`, default `epoch`), reported when the job emits it.
    pub epochs: String,
}

/// model-gate configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings.
    pub common: CommonConfig,
    /// Metric names.
    pub metrics: MetricNames,
    /// `MIN_F1` (0.80), `MIN_ACCURACY` (0.80), `MAX_OVERFIT_GAP` (0.05), `CHAMPION_TOLERANCE` (0.01),
    /// `AUTO_APPROVE` (false: a person approves).
    pub thresholds: Thresholds,
    /// The group to compare against when the request names none (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: Option<String>,
    /// The state bucket: runs' manifests are read there, lineage records written (`STATE_BUCKET`).
    pub state_bucket: String,
    /// The KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs lineage records (`LINEAGE_KEY_ID`).
    pub lineage_key_id: String,
    /// Where lineage records go in the state bucket (`LINEAGE_PREFIX`, default `lineage/`).
    pub lineage_prefix: String,
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
            state_bucket,
            lineage_key_id: env.required("LINEAGE_KEY_ID")?,
            lineage_prefix: env
                .prefix_or("LINEAGE_PREFIX", guardrails_core::lineage::DEFAULT_PREFIX),
            metrics: MetricNames {
                f1: env.optional_or("F1_METRIC", "validation:weighted_f1"),
                accuracy: env.optional_or("ACCURACY_METRIC", "validation:accuracy"),
                train_f1: env.optional_or("TRAIN_F1_METRIC", "train:weighted_f1"),
                epochs: env.optional_or("EPOCH_METRIC", "epoch"),
            },
            thresholds: Thresholds {
                min_f1: env.fraction_or("MIN_F1", 0.80)?,
                min_accuracy: env.fraction_or("MIN_ACCURACY", 0.80)?,
                max_overfit_gap: env.fraction_or("MAX_OVERFIT_GAP", 0.05)?,
                champion_tolerance: env.fraction_or("CHAMPION_TOLERANCE", 0.01)?,
                auto_approve: env.parse_or("AUTO_APPROVE", false)?,
            },
            model_package_group: env.optional("MODEL_PACKAGE_GROUP"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [(&str, &str); 2] = [("STATE_BUCKET", "state"), ("LINEAGE_KEY_ID", "key")];

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        Env::from_pairs(REQUIRED.iter().chain(extra).copied())
    }

    #[test]
    fn defaults_and_named_errors() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.metrics.f1, "validation:weighted_f1");
        assert_eq!(config.metrics.train_f1, "train:weighted_f1");
        assert_eq!(config.thresholds.min_f1, 0.80);
        assert!(!config.thresholds.auto_approve);
        assert_eq!(config.lineage_prefix, "lineage/");
        for (var, value) in [
            ("MIN_F1", "80"),
            ("MAX_OVERFIT_GAP", "-0.1"),
            ("AUTO_APPROVE", "yes"),
        ] {
            let error = Config::from_env(&env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(var), "{error}");
        }
        for (missing, _) in REQUIRED {
            let without = Env::from_pairs(REQUIRED.into_iter().filter(|(k, _)| *k != missing));
            assert_eq!(
                Config::from_env(&without),
                Err(ConfigError::Missing { name: missing }),
                "a gate without {missing} would register models without lineage"
            );
        }
    }
}
