//! validate-ingest settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = "validate-ingest";

/// validate-ingest configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Shared settings (bus, metrics namespace).
    pub common: CommonConfig,
    /// Where valid datasets are copied (`INGESTED_BUCKET`).
    pub ingested_bucket: String,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: CommonConfig::from_env(env)?,
            ingested_bucket: env.required("INGESTED_BUCKET")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingested_bucket_is_required() {
        let err = Config::from_env(&Env::from_pairs([("EVENT_BUS_NAME", "bus")])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                name: "INGESTED_BUCKET"
            }
        );
        let config = Config::from_env(&Env::from_pairs([
            ("EVENT_BUS_NAME", "bus"),
            ("INGESTED_BUCKET", "ingested"),
        ]))
        .unwrap();
        assert_eq!(config.ingested_bucket, "ingested");
    }
}
