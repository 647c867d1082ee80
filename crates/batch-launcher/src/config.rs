//! batch-launcher settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env};

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::BATCH_LAUNCHER;

/// batch-launcher configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (`NOTICE_TOPIC_ARN` and `STATE_BUCKET` required).
    pub common: CommonConfig,
    /// The model package group whose serving version runs (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: String,
    /// The state bucket, where the serving record is (`STATE_BUCKET`).
    pub state_bucket: String,
    /// Uploads under this prefix are batch input (`INPUT_PREFIX`, default `batch-input/`).
    pub input_prefix: String,
    /// Where jobs write, each under its own name (`OUTPUT_URI`, an `s3://bucket/prefix/`).
    pub output_uri: String,
    /// The job's instances (`INSTANCE_TYPE`, default `ml.m5.xlarge`; `INSTANCE_COUNT`, default 1).
    pub instance_type: String,
    /// How many.
    pub instance_count: i32,
    /// KMS key for the output and the instances' volumes (`KMS_KEY_ID`).
    pub kms_key_id: Option<String>,
    /// The input's and output's MIME type (`CONTENT_TYPE`, default `application/jsonlines`), one record per line.
    pub content_type: String,
    /// The `project` tag, which cost-guard and the monitor's rule select jobs by (`PROJECT`, default
    /// `mlops-guardrails`).
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
        let output_uri = env.parse_required_with("OUTPUT_URI", |uri| {
            if uri.starts_with("s3://") && uri.len() > 5 {
                Ok(if uri.ends_with('/') {
                    uri.to_owned()
                } else {
                    format!("{uri}/")
                })
            } else {
                Err("expected s3://bucket/prefix/")
            }
        })?;
        let instance_count: i32 = env.parse_or("INSTANCE_COUNT", 1)?;
        if instance_count < 1 {
            return Err(ConfigError::invalid(
                "INSTANCE_COUNT",
                instance_count.to_string(),
                "at least 1",
            ));
        }
        Ok(Config {
            common,
            model_package_group: env.required("MODEL_PACKAGE_GROUP")?,
            state_bucket,
            input_prefix: env.prefix_or("INPUT_PREFIX", "batch-input/"),
            output_uri,
            instance_type: env.optional_or("INSTANCE_TYPE", "ml.m5.xlarge"),
            instance_count,
            kms_key_id: env.optional("KMS_KEY_ID"),
            content_type: env.optional_or("CONTENT_TYPE", "application/jsonlines"),
            project: env.project(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, &str); 4] = [
        ("NOTICE_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
        ("STATE_BUCKET", "state"),
        ("MODEL_PACKAGE_GROUP", "tickets"),
        ("OUTPUT_URI", "s3://artifacts/batch-output"),
    ];

    #[test]
    fn defaults_and_each_required_variable_named_when_missing() {
        let config = Config::from_env(&Env::from_pairs(ALL)).unwrap();
        assert_eq!(config.output_uri, "s3://artifacts/batch-output/");
        assert_eq!(config.input_prefix, "batch-input/");
        assert_eq!(
            (config.instance_type.as_str(), config.instance_count),
            ("ml.m5.xlarge", 1)
        );
        for (name, _) in ALL {
            let pairs = ALL.iter().copied().filter(|(n, _)| *n != name);
            let error = Config::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .to_string();
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn malformed_values_are_refused_by_name() {
        for (name, value) in [
            ("OUTPUT_URI", "artifacts/batch-output"),
            ("INSTANCE_COUNT", "0"),
            ("INSTANCE_COUNT", "two"),
        ] {
            let pairs = ALL
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .chain([(name, value)]);
            let error = Config::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .to_string();
            assert!(error.contains(name), "{error}");
        }
    }
}
