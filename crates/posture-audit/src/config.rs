//! posture-audit settings (as a function), read once at cold start.

use std::time::Duration;

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::POSTURE_AUDIT;

/// posture-audit configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (`NOTICE_TOPIC_ARN`, `STATE_BUCKET` required).
    pub common: CommonConfig,
    /// Where the ledger of findings and the reports live (`STATE_BUCKET`, under `posture-audit/`).
    pub state_bucket: String,
    /// The longest one service may take (`SERVICE_TIMEOUT_SECONDS`, default 120).
    pub bound: Duration,
    /// The SSM path under which each parameter is one suppression (`SUPPRESSIONS_PATH`; none: no suppression).
    pub suppressions: Option<String>,
    /// The images the pipeline runs, whose last scans are judged (`PIPELINE_IMAGES`, comma-separated URIs).
    pub images: Vec<String>,
    /// Whether each run imports the ledger into Security Hub (`SECURITY_HUB_EXPORT`, default false).
    pub security_hub: bool,
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
            bound: Duration::from_secs(env.parse_or("SERVICE_TIMEOUT_SECONDS", 120)?),
            suppressions: env.optional("SUPPRESSIONS_PATH"),
            images: env.list("PIPELINE_IMAGES"),
            security_hub: env.parse_or("SECURITY_HUB_EXPORT", false)?,
            state_bucket,
            common,
        })
    }
}
