//! notifier settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::NOTIFIER;

/// notifier configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (`NOTICE_TOPIC_ARN` required).
    pub common: CommonConfig,
    /// The project (`PROJECT`): its alarms are named `<project>-…`, its jobs tagged `project=<project>` or named
    /// `<project>-…`.
    pub project: String,
    /// Alarms named with this prefix are drift-handler's to announce (`DRIFT_ALARM_PREFIX`, empty for none).
    pub drift_alarm_prefix: Option<String>,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        common.require_notice_topic()?;
        Ok(Config {
            common,
            project: env.project(),
            drift_alarm_prefix: env.optional("DRIFT_ALARM_PREFIX"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_the_topic_and_defaults_the_project() {
        let error = Config::from_env(&Env::from_pairs([("PROJECT", "p")])).unwrap_err();
        assert!(error.to_string().contains("NOTICE_TOPIC_ARN"), "{error}");
        let config = Config::from_env(&Env::from_pairs([
            ("NOTICE_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:t"),
            ("DRIFT_ALARM_PREFIX", "p-drift-"),
        ]))
        .unwrap();
        assert_eq!(config.project, guardrails_core::config::DEFAULT_PROJECT);
        assert_eq!(config.drift_alarm_prefix.as_deref(), Some("p-drift-"));
    }
}
