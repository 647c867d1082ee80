//! deploy settings, read once at cold start.

use guardrails_core::image::ScanSeverity;
use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::endpoint::EndpointSettings;

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
    /// Where the serving version runs.
    pub target: Target,
    /// A version whose image's last scan has a finding of this severity or above does not serve
    /// (`IMAGE_SCAN_BLOCK_SEVERITY`, default `CRITICAL`).
    pub image_scan_block: ScanSeverity,
}

/// Where the serving version runs (`SERVING`).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `batch` (the default): batch-launcher starts transform jobs with the serving record's model.
    Batch,
    /// `realtime`: the endpoint is moved to the serving version; the serving record changes once it is there.
    Endpoint(EndpointSettings),
}

impl Target {
    fn from_env(env: &Env, project: &str) -> Result<Self, ConfigError> {
        match env.optional("SERVING").as_deref() {
            None | Some("batch") => Ok(Target::Batch),
            Some("realtime") => Ok(Target::Endpoint(EndpointSettings {
                name: env.required("ENDPOINT_NAME")?,
                instance_type: env.optional_or("ENDPOINT_INSTANCE_TYPE", "ml.m5.large"),
                instance_count: env.parse_or("ENDPOINT_INSTANCE_COUNT", 1)?,
                capture_uri: env.required("CAPTURE_URI")?,
                kms_key_id: env.optional("KMS_KEY_ID"),
                rollback_alarms: env.list("ROLLBACK_ALARMS"),
                project: project.to_owned(),
                canary_percent: env.parse_or("CANARY_PERCENT", 10)?,
                canary_wait_seconds: env.parse_or("CANARY_WAIT_SECONDS", 600)?,
            })),
            Some(other) => Err(ConfigError::invalid(
                "SERVING",
                other,
                "expected batch or realtime",
            )),
        }
    }
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
        let project = env.project();
        let target = Target::from_env(env, &project)?;
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
                project,
            },
            target,
            image_scan_block: env.parse_or("IMAGE_SCAN_BLOCK_SEVERITY", ScanSeverity::Critical)?,
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
        assert_eq!(config.target, Target::Batch);
        let realtime = |extra: &[(&'static str, &'static str)]| {
            Config::from_env(&Env::from_pairs(all.iter().chain(extra).copied()))
        };
        let missing = realtime(&[("SERVING", "realtime"), ("ENDPOINT_NAME", "tickets")]);
        assert!(missing.unwrap_err().to_string().contains("CAPTURE_URI"));
        let endpoint = realtime(&[
            ("SERVING", "realtime"),
            ("ENDPOINT_NAME", "tickets"),
            ("CAPTURE_URI", "s3://artifacts/data-capture/"),
            ("ROLLBACK_ALARMS", "tickets-5xx, tickets-latency"),
        ])
        .unwrap();
        let Target::Endpoint(settings) = endpoint.target else {
            panic!("realtime reads as an endpoint");
        };
        assert_eq!(settings.rollback_alarms, ["tickets-5xx", "tickets-latency"]);
        assert_eq!((settings.canary_percent, settings.instance_count), (10, 1));
        assert!(realtime(&[("SERVING", "streaming")]).is_err());
    }
}
