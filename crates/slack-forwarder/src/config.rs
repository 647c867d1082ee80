//! slack-forwarder settings, read once at cold start.

use std::time::Duration;

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::SLACK_FORWARDER;

/// slack-forwarder configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings.
    pub common: CommonConfig,
    /// The Secrets Manager secret holding the webhook URL (`WEBHOOK_SECRET_ID`, its ARN or name).
    pub secret_id: String,
    /// How long a read of the secret is trusted (`WEBHOOK_CACHE_SECONDS`, default 300). A webhook that answers
    /// "revoked" (403, 404, 410) makes the next post re-read it at once, so a rotation takes effect without
    /// waiting for this.
    pub secret_ttl: Duration,
    /// The dashboard each message links (`DASHBOARD_URL`), when known.
    pub dashboard_url: Option<String>,
    /// Posts of one message before the invocation fails (`POST_ATTEMPTS`, default 3); Lambda's own retries and
    /// then the on-failure destination follow.
    pub attempts: u32,
    /// The wait after the first failed post, doubled after each (`POST_BACKOFF_MS`, default 500).
    pub backoff: Duration,
    /// The least time between two posts (`POST_INTERVAL_MS`, default 1000: Slack takes about one message per
    /// second per webhook).
    pub interval: Duration,
    /// The longest a post may take (`POST_TIMEOUT_MS`, default 10000).
    pub timeout: Duration,
}

fn millis(env: &Env, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(env.parse_or(name, default)?))
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let attempts: u32 = env.parse_or("POST_ATTEMPTS", 3)?;
        if attempts == 0 {
            return Err(ConfigError::invalid(
                "POST_ATTEMPTS",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Config {
            common: CommonConfig::from_env(env)?,
            secret_id: env.required("WEBHOOK_SECRET_ID")?,
            secret_ttl: Duration::from_secs(env.parse_or("WEBHOOK_CACHE_SECONDS", 300)?),
            dashboard_url: env.optional("DASHBOARD_URL"),
            attempts,
            backoff: millis(env, "POST_BACKOFF_MS", 500)?,
            interval: millis(env, "POST_INTERVAL_MS", 1000)?,
            timeout: millis(env, "POST_TIMEOUT_MS", 10_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_the_secret_and_defaults_the_rest() {
        let error = Config::from_env(&Env::from_pairs([])).unwrap_err();
        assert!(error.to_string().contains("WEBHOOK_SECRET_ID"), "{error}");
        let config = Config::from_env(&Env::from_pairs([("WEBHOOK_SECRET_ID", "p/hook")])).unwrap();
        assert_eq!(
            (config.attempts, config.secret_ttl, config.interval),
            (3, Duration::from_secs(300), Duration::from_secs(1))
        );
        let zero = Config::from_env(&Env::from_pairs([
            ("WEBHOOK_SECRET_ID", "p/hook"),
            ("POST_ATTEMPTS", "0"),
        ]))
        .unwrap_err();
        assert!(zero.to_string().contains("POST_ATTEMPTS"), "{zero}");
    }
}
