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
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: CommonConfig::from_env(env)?,
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

    #[test]
    fn defaults_and_named_errors() {
        let config = Config::from_env(&Env::from_pairs([("EVENT_BUS_NAME", "bus")])).unwrap();
        assert_eq!(config.metrics.f1, "validation:weighted_f1");
        assert_eq!(config.metrics.train_f1, "train:weighted_f1");
        assert_eq!(config.thresholds.min_f1, 0.80);
        assert!(!config.thresholds.auto_approve);
        for (var, value) in [
            ("MIN_F1", "80"),
            ("MAX_OVERFIT_GAP", "-0.1"),
            ("AUTO_APPROVE", "yes"),
        ] {
            let error =
                Config::from_env(&Env::from_pairs([("EVENT_BUS_NAME", "bus"), (var, value)]))
                    .unwrap_err()
                    .to_string();
            assert!(error.contains(var), "{error}");
        }
    }
}
