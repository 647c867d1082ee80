//! validate-ingest settings, read once at cold start.

use std::time::Duration;

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::VALIDATE_INGEST;

/// validate-ingest configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Shared settings (bus, metrics namespace, state bucket). Quarantines are said by the notifier, from the
    /// Dataset Quarantined event, so this function publishes no notice.
    pub common: CommonConfig,
    /// Where valid datasets are copied, with their report beside them (`INGESTED_BUCKET`).
    pub ingested_bucket: String,
    /// The guardrails' state bucket (`STATE_BUCKET`), where each upload's job document lives.
    pub state_bucket: String,
    /// Where invalid datasets go (`QUARANTINE_BUCKET`); unset: the bucket they were uploaded to.
    pub quarantine_bucket: Option<String>,
    /// Key prefix of quarantined copies (`QUARANTINE_PREFIX`, default `quarantine/`). Uploads under it are
    /// skipped, so quarantining into the raw bucket never loops.
    pub quarantine_prefix: String,
    /// Key prefix of the job documents in the state bucket (`MARKER_PREFIX`, default `validate-ingest/`).
    pub marker_prefix: String,
    /// Key prefix of the new-data ledger in the state bucket (`LEDGER_PREFIX`, default `ledger/`).
    pub ledger_prefix: String,
    /// The SSM parameter holding the dataset contract (`CONTRACT_PARAMETER`).
    pub contract_parameter: String,
    /// How long a container reuses the contract before reading it again (`CONTRACT_CACHE_SECONDS`, default 300).
    pub contract_cache: Duration,
    /// Delete the raw object once its copy exists (`DELETE_RAW`, default `true`); `false` keeps it.
    pub delete_raw: bool,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        common.require_event_bus()?;
        let state_bucket = common.require_state_bucket()?.to_owned();
        Ok(Config {
            common,
            ingested_bucket: env.required("INGESTED_BUCKET")?,
            state_bucket,
            quarantine_bucket: env.optional("QUARANTINE_BUCKET"),
            quarantine_prefix: env.prefix_or("QUARANTINE_PREFIX", "quarantine/"),
            marker_prefix: env.prefix_or("MARKER_PREFIX", "validate-ingest/"),
            ledger_prefix: env.prefix_or("LEDGER_PREFIX", guardrails_core::ledger::DEFAULT_PREFIX),
            contract_parameter: env.required("CONTRACT_PARAMETER")?,
            contract_cache: Duration::from_secs(env.parse_or("CONTRACT_CACHE_SECONDS", 300)?),
            delete_raw: env.parse_or("DELETE_RAW", true)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [(&str, &str); 4] = [
        ("EVENT_BUS_NAME", "bus"),
        ("INGESTED_BUCKET", "ingested"),
        ("STATE_BUCKET", "state"),
        ("CONTRACT_PARAMETER", "/mlops-guardrails/contract"),
    ];

    #[test]
    fn defaults() {
        let config = Config::from_env(&Env::from_pairs(REQUIRED)).unwrap();
        assert_eq!(config.quarantine_bucket, None);
        assert_eq!(config.quarantine_prefix, "quarantine/");
        assert_eq!(config.marker_prefix, "validate-ingest/");
        assert_eq!(config.contract_cache, Duration::from_secs(300));
        assert!(config.delete_raw);
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for (missing, _) in REQUIRED {
            let env = Env::from_pairs(REQUIRED.into_iter().filter(|(k, _)| *k != missing));
            assert_eq!(
                Config::from_env(&env),
                Err(ConfigError::Missing { name: missing }),
                "{missing}"
            );
        }
    }

    #[test]
    fn malformed_values_are_named_and_prefixes_get_a_slash() {
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("DELETE_RAW", "sometimes"));
        let error = Config::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(
            error.to_string().contains("DELETE_RAW=\"sometimes\""),
            "{error}"
        );

        let mut pairs = REQUIRED.to_vec();
        pairs.push(("QUARANTINE_PREFIX", "held"));
        pairs.push(("DELETE_RAW", "false"));
        let config = Config::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(config.quarantine_prefix, "held/");
        assert!(!config.delete_raw);
    }
}
