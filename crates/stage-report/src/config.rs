//! stage-report settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::judge::Limits;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::STAGE_REPORT;

/// stage-report configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (`NOTICE_TOPIC_ARN` and `STATE_BUCKET` required: the reference run of each stage and the
    /// per-report job documents live in the state bucket, where no job and no uploader can write).
    pub common: CommonConfig,
    /// The state bucket.
    pub state_bucket: String,
    /// Uploads whose key ends with this are stage reports (`REPORT_SUFFIX`, default `stage-report.json`; the
    /// template's rule matches the same suffix).
    pub report_suffix: String,
    /// The limits a run is judged by.
    pub limits: Limits,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        common.require_notice_topic()?;
        let state_bucket = common.require_state_bucket()?.to_owned();
        let defaults = Limits::default();
        let positive = |name: &'static str, default: f64| {
            let value: f64 = env.parse_or(name, default)?;
            if value.is_finite() && value > 0.0 {
                Ok(value)
            } else {
                Err(ConfigError::invalid(
                    name,
                    value.to_string(),
                    "a positive number",
                ))
            }
        };
        let variance_ratio = positive("VARIANCE_RATIO_LIMIT", defaults.variance_ratio)?;
        if variance_ratio <= 1.0 {
            return Err(ConfigError::invalid(
                "VARIANCE_RATIO_LIMIT",
                variance_ratio.to_string(),
                "a ratio above 1 (1.5 alarms at ×1.5 and ÷1.5)",
            ));
        }
        let limits = Limits {
            embedding_shift: env.fraction_or("EMBEDDING_SHIFT_LIMIT", defaults.embedding_shift)?,
            variance_ratio,
            cluster_count_change: positive(
                "CLUSTER_COUNT_CHANGE_LIMIT",
                defaults.cluster_count_change,
            )?,
            intra_variance_growth: positive(
                "INTRA_VARIANCE_GROWTH_LIMIT",
                defaults.intra_variance_growth,
            )?,
            null_share_growth: env
                .fraction_or("NULL_SHARE_GROWTH_LIMIT", defaults.null_share_growth)?,
            failed_batches: env.parse_or("FAILED_BATCHES_LIMIT", defaults.failed_batches)?,
        };
        // Blank counts as unset (`Env::optional`): the suffix is never empty, so not every upload is a report.
        let report_suffix = env.optional_or("REPORT_SUFFIX", "stage-report.json");
        Ok(Config {
            common,
            state_bucket,
            report_suffix,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, &str); 2] = [
        ("NOTICE_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
        ("STATE_BUCKET", "state"),
    ];

    #[test]
    fn defaults_and_each_required_variable_named_when_missing() {
        let config = Config::from_env(&Env::from_pairs(ALL)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.report_suffix, "stage-report.json");
        for (name, _) in ALL {
            let pairs = ALL.iter().copied().filter(|(n, _)| *n != name);
            let error = Config::from_env(&Env::from_pairs(pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(name), "{name}: {error}");
        }
    }

    #[test]
    fn limits_are_read_and_malformed_ones_refused_by_name() {
        let pairs = ALL.iter().copied().chain([
            ("EMBEDDING_SHIFT_LIMIT", "0.1"),
            ("VARIANCE_RATIO_LIMIT", "2"),
            ("FAILED_BATCHES_LIMIT", "3"),
        ]);
        let limits = Config::from_env(&Env::from_pairs(pairs))
            .unwrap_or_else(|e| panic!("{e}"))
            .limits;
        assert_eq!(
            (
                limits.embedding_shift,
                limits.variance_ratio,
                limits.failed_batches
            ),
            (0.1, 2.0, 3)
        );
        for (name, value) in [
            ("EMBEDDING_SHIFT_LIMIT", "1.5"),
            ("VARIANCE_RATIO_LIMIT", "0.9"),
            ("CLUSTER_COUNT_CHANGE_LIMIT", "0"),
            ("INTRA_VARIANCE_GROWTH_LIMIT", "-1"),
            ("NULL_SHARE_GROWTH_LIMIT", "x"),
            ("FAILED_BATCHES_LIMIT", "-1"),
        ] {
            let pairs = ALL.iter().copied().chain([(name, value)]);
            let error = Config::from_env(&Env::from_pairs(pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(name), "{name}={value}: {error}");
        }
    }
}
