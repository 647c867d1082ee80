//! deploy settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::DEPLOY;

/// deploy configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (`NOTICE_TOPIC_ARN` and `STATE_BUCKET` required).
    pub common: CommonConfig,
    /// The model package group it deploys (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: String,
    /// The state bucket: lineage records, approvals and the serving record (`STATE_BUCKET`).
    pub state_bucket: String,
    /// The KMS key lineage records are signed with, to verify them (`LINEAGE_KEY_ID`).
    pub lineage_key_id: String,
    /// Where lineage records are in the state bucket (`LINEAGE_PREFIX`, default `lineage/`).
    pub lineage_prefix: String,
    /// The SageMaker model made from each version serving.
    pub model: ModelSettings,
}

/// How the SageMaker model of a serving version is made.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// Its execution role (`SAGEMAKER_ROLE_ARN`), the only role deploy may pass.
    pub role_arn: String,
    /// Its VPC (`SUBNETS` and `SECURITY_GROUPS`), when set.
    pub network: Option<guardrails_core::Network>,
    /// No network access from its containers (`MODEL_NETWORK_ISOLATION`, default true); turn it off only for an
    /// inference image that must reach the network while it serves.
    pub network_isolation: bool,
    /// The `project` tag, which cost-guard attributes cost by (`PROJECT`, default `mlops-guardrails`).
    pub project: String,
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
            common,
            model_package_group: env.required("MODEL_PACKAGE_GROUP")?,
            state_bucket,
            lineage_key_id: env.required("LINEAGE_KEY_ID")?,
            lineage_prefix: env
                .prefix_or("LINEAGE_PREFIX", guardrails_core::lineage::DEFAULT_PREFIX),
            model: ModelSettings {
                role_arn: env.required("SAGEMAKER_ROLE_ARN")?,
                network: env.network()?,
                network_isolation: env.parse_or("MODEL_NETWORK_ISOLATION", true)?,
                project: env.optional_or("PROJECT", "mlops-guardrails"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_required_variable_is_named_when_missing() {
        let all = [
            ("NOTICE_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("STATE_BUCKET", "state"),
            ("MODEL_PACKAGE_GROUP", "tickets"),
            ("LINEAGE_KEY_ID", "alias/lineage"),
            ("SAGEMAKER_ROLE_ARN", "arn:aws:iam::1:role/sagemaker"),
        ];
        let config = Config::from_env(&Env::from_pairs(all)).unwrap();
        assert_eq!(config.lineage_prefix, "lineage/");
        assert!(config.model.network_isolation && config.model.network.is_none());
        for missing in 0..all.len() {
            let pairs: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, p)| *p)
                .collect();
            let error = Config::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .to_string();
            assert!(error.contains(all[missing].0), "{error}");
        }
    }
}
