//! notifier settings, read once at cold start.

use chrono::TimeDelta;
use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::digest::Windows;
use crate::held::MAX_DELAY_SECONDS;

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
    /// How long notices wait to leave as one (`QUARANTINE_DIGEST_SECONDS`, default 60;
    /// `ALARM_DIGEST_SECONDS`, default 600; each at most 900, the longest SQS delays a message).
    pub windows: Windows,
    /// The queue a look at waiting notices is scheduled on (`DIGEST_QUEUE_URL`).
    pub digest_queue_url: String,
    /// Where waiting notices are kept (`STATE_BUCKET`, under `notifier/`).
    pub state_bucket: String,
}

fn window(env: &Env, name: &'static str, default: i64) -> Result<TimeDelta, ConfigError> {
    let seconds: i64 = env.parse_or(name, default)?;
    if !(0..=MAX_DELAY_SECONDS).contains(&seconds) {
        return Err(ConfigError::invalid(
            name,
            seconds.to_string(),
            "must be 0 to 900 seconds (the longest SQS delays a message)",
        ));
    }
    Ok(TimeDelta::seconds(seconds))
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
        Ok(Config {
            project: env.project(),
            drift_alarm_prefix: env.optional("DRIFT_ALARM_PREFIX"),
            windows: Windows {
                quarantine: window(env, "QUARANTINE_DIGEST_SECONDS", 60)?,
                alarm: window(env, "ALARM_DIGEST_SECONDS", 600)?,
            },
            digest_queue_url: env.required("DIGEST_QUEUE_URL")?,
            state_bucket,
            common,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDED: [(&str, &str); 3] = [
        ("NOTICE_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:t"),
        ("STATE_BUCKET", "p-state"),
        (
            "DIGEST_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/1/p-notice-digests",
        ),
    ];

    #[test]
    fn needs_the_topic_the_state_bucket_and_the_queue_and_defaults_the_rest() {
        for missing in NEEDED.map(|(name, _)| name) {
            let env = Env::from_pairs(NEEDED.into_iter().filter(|(name, _)| *name != missing));
            let error = Config::from_env(&env).unwrap_err();
            assert!(error.to_string().contains(missing), "{error}");
        }
        let config = Config::from_env(&Env::from_pairs(
            NEEDED
                .into_iter()
                .chain([("DRIFT_ALARM_PREFIX", "p-drift-")]),
        ))
        .unwrap();
        assert_eq!(config.project, guardrails_core::config::DEFAULT_PROJECT);
        assert_eq!(config.drift_alarm_prefix.as_deref(), Some("p-drift-"));
        assert_eq!(
            config.windows,
            Windows {
                quarantine: TimeDelta::seconds(60),
                alarm: TimeDelta::seconds(600)
            }
        );
    }

    #[test]
    fn a_window_longer_than_sqs_can_delay_is_refused() {
        for (value, ok) in [
            ("0", true),
            ("900", true),
            ("901", false),
            ("-1", false),
            ("x", false),
        ] {
            let env = Env::from_pairs(NEEDED.into_iter().chain([("ALARM_DIGEST_SECONDS", value)]));
            let result = Config::from_env(&env);
            assert_eq!(result.is_ok(), ok, "{value}: {result:?}");
            if let Err(error) = result {
                assert!(
                    error.to_string().contains("ALARM_DIGEST_SECONDS"),
                    "{error}"
                );
            }
        }
    }
}
