//! trigger-training settings, read once at cold start.

use std::collections::BTreeMap;

use chrono::Duration;
use guardrails_core::image::ScanSeverity;
use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::policy::Policy;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::TRIGGER_TRAINING;

/// What every training job gets, whatever triggered it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSettings {
    /// Training container image (`TRAINING_IMAGE`).
    pub image: String,
    /// Image the registered model serves with (`INFERENCE_IMAGE`, default the training image).
    pub inference_image: String,
    /// Model package group the workflow registers into (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: String,
    /// Training data, an S3 prefix (`TRAINING_DATA_URI`, `s3://bucket/prefix/`).
    pub data_uri: String,
    /// MIME type of the training channel (`TRAINING_CONTENT_TYPE`, default `text/csv`).
    pub content_type: String,
    /// Where model artifacts go (`OUTPUT_URI`, `s3://bucket/prefix/`).
    pub output_uri: String,
    /// Spot checkpoints (`CHECKPOINT_URI`, default `<OUTPUT_URI>checkpoints/`).
    pub checkpoint_uri: String,
    /// Hyperparameters (`HYPERPARAMETERS`, a JSON object; values become strings as SageMaker wants).
    pub hyperparameters: BTreeMap<String, String>,
    /// Instance type of the first attempt (`INSTANCE_TYPE`, default `ml.g5.xlarge`).
    pub instance_type: String,
    /// Instance type of the on-demand fallback (`FALLBACK_INSTANCE_TYPE`, default `ml.g4dn.xlarge`).
    pub fallback_instance_type: String,
    /// Instances per job (`INSTANCE_COUNT`, default 1).
    pub instance_count: u32,
    /// Storage volume in GB (`VOLUME_SIZE_GB`, default 30).
    pub volume_size_gb: u32,
    /// First attempt on managed spot capacity (`USE_SPOT`, default true); the fallback is always on-demand.
    pub use_spot: bool,
    /// Training time limit (`MAX_RUNTIME_SECONDS`, default 14400).
    pub max_runtime_seconds: u32,
    /// Spot: training plus waiting for capacity (`MAX_WAIT_SECONDS`, default twice the runtime).
    pub max_wait_seconds: u32,
    /// KMS key for the output and the training volume (`KMS_KEY_ID`).
    pub kms_key_id: Option<String>,
    /// Private subnets for the jobs (`SUBNETS`, comma-separated; with `SECURITY_GROUPS`).
    pub subnets: Vec<String>,
    /// Security groups for the jobs (`SECURITY_GROUPS`, comma-separated).
    pub security_groups: Vec<String>,
    /// No network for the training containers (`TRAINING_NETWORK_ISOLATION`, default true): SageMaker still
    /// brings the data in and the model out.
    pub network_isolation: bool,
    /// Value of the `project` tag on every job (`PROJECT`, default `mlops-guardrails`), which cost-guard
    /// attributes cost by.
    pub project: String,
}

/// trigger-training configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings.
    pub common: CommonConfig,
    /// The training state machine (`STATE_MACHINE_ARN`).
    pub state_machine_arn: String,
    /// When to start (`TRAINING_DATASET`, `MIN_NEW_ROWS` default 1000, `RETRAIN_COOLDOWN_HOURS` default 24).
    pub policy: Policy,
    /// The state bucket, where the new-data ledger lives (`STATE_BUCKET`).
    pub state_bucket: String,
    /// The ledger's key prefix there (`LEDGER_PREFIX`, default `ledger/`), as validate-ingest writes it.
    pub ledger_prefix: String,
    /// Where each run's pinned manifest goes there (`MANIFEST_PREFIX`, default `manifests/`).
    pub manifest_prefix: String,
    /// The training job settings.
    pub training: TrainingSettings,
    /// Training refuses an image whose last scan has a finding of this severity or above
    /// (`IMAGE_SCAN_BLOCK_SEVERITY`, default `CRITICAL`).
    pub image_scan_block: ScanSeverity,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hyperparameters = env
            .parse_with("HYPERPARAMETERS", parse_hyperparameters)?
            .unwrap_or_default();
        let (subnets, security_groups) = env
            .network()?
            .map(|n| (n.subnets, n.security_groups))
            .unwrap_or_default();
        let output_uri = env.parse_required_with("OUTPUT_URI", s3_prefix)?;
        let checkpoint_uri = env
            .parse_with("CHECKPOINT_URI", s3_prefix)?
            .unwrap_or_else(|| format!("{output_uri}checkpoints/"));
        let (max_runtime_seconds, max_wait_seconds) = runtime_limits(env)?;
        let image = env.required("TRAINING_IMAGE")?;
        let cooldown_hours: u32 = env.parse_or("RETRAIN_COOLDOWN_HOURS", 24)?;
        let common = CommonConfig::from_env(env)?;
        let state_bucket = common.require_state_bucket()?.to_owned();
        Ok(Config {
            common,
            state_machine_arn: env.required("STATE_MACHINE_ARN")?,
            image_scan_block: env.parse_or("IMAGE_SCAN_BLOCK_SEVERITY", ScanSeverity::Critical)?,
            policy: Policy {
                dataset: env.required("TRAINING_DATASET")?,
                min_new_rows: env.parse_or("MIN_NEW_ROWS", 1000)?,
                cooldown: Duration::hours(i64::from(cooldown_hours)),
            },
            state_bucket,
            ledger_prefix: env.prefix_or("LEDGER_PREFIX", guardrails_core::ledger::DEFAULT_PREFIX),
            manifest_prefix: env.prefix_or("MANIFEST_PREFIX", "manifests/"),
            training: TrainingSettings {
                inference_image: env
                    .optional("INFERENCE_IMAGE")
                    .unwrap_or_else(|| image.clone()),
                image,
                model_package_group: env.required("MODEL_PACKAGE_GROUP")?,
                data_uri: env.parse_required_with("TRAINING_DATA_URI", s3_prefix)?,
                content_type: env
                    .optional("TRAINING_CONTENT_TYPE")
                    .unwrap_or_else(|| "text/csv".to_owned()),
                output_uri,
                checkpoint_uri,
                hyperparameters,
                instance_type: env
                    .optional("INSTANCE_TYPE")
                    .unwrap_or_else(|| "ml.g5.xlarge".to_owned()),
                fallback_instance_type: env
                    .optional("FALLBACK_INSTANCE_TYPE")
                    .unwrap_or_else(|| "ml.g4dn.xlarge".to_owned()),
                instance_count: env.parse_or("INSTANCE_COUNT", 1)?,
                volume_size_gb: env.parse_or("VOLUME_SIZE_GB", 30)?,
                use_spot: env.parse_or("USE_SPOT", true)?,
                max_runtime_seconds,
                max_wait_seconds,
                kms_key_id: env.optional("KMS_KEY_ID"),
                subnets,
                security_groups,
                network_isolation: env.parse_or("TRAINING_NETWORK_ISOLATION", true)?,
                project: env
                    .optional("PROJECT")
                    .unwrap_or_else(|| "mlops-guardrails".to_owned()),
            },
        })
    }
}

/// `s3://bucket/prefix/`, with the trailing slash added when it lacks one.
fn s3_prefix(value: &str) -> Result<String, &'static str> {
    if value.starts_with("s3://") && value.len() > 5 {
        Ok(if value.ends_with('/') {
            value.to_owned()
        } else {
            format!("{value}/")
        })
    } else {
        Err("expected s3://bucket/prefix/")
    }
}

/// `MAX_RUNTIME_SECONDS` and `MAX_WAIT_SECONDS` (default twice the runtime), no shorter than the runtime as
/// SageMaker refuses spot jobs otherwise.
fn runtime_limits(env: &Env) -> Result<(u32, u32), ConfigError> {
    let max_runtime_seconds: u32 = env.parse_or("MAX_RUNTIME_SECONDS", 14_400)?;
    let max_wait_seconds: u32 =
        env.parse_or("MAX_WAIT_SECONDS", max_runtime_seconds.saturating_mul(2))?;
    if max_wait_seconds < max_runtime_seconds {
        return Err(ConfigError::invalid(
            "MAX_WAIT_SECONDS",
            max_wait_seconds.to_string(),
            "must be at least MAX_RUNTIME_SECONDS (SageMaker refuses spot jobs otherwise)",
        ));
    }
    Ok((max_runtime_seconds, max_wait_seconds))
}

/// A JSON object of hyperparameters; numbers and booleans become their JSON text, as SageMaker takes strings.
fn parse_hyperparameters(json: &str) -> Result<BTreeMap<String, String>, String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("expected a JSON object: {e}"))?;
    object
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(s) => Ok((name, s)),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                Ok((name, value.to_string()))
            }
            other => Err(format!(
                "hyperparameter {name:?} must be a string, number or boolean, not {other}"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 8] = [
        ("EVENT_BUS_NAME", "bus"),
        (
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:training",
        ),
        ("TRAINING_DATASET", "tickets"),
        ("STATE_BUCKET", "state"),
        (
            "TRAINING_IMAGE",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp:1",
        ),
        ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
        ("TRAINING_DATA_URI", "s3://ingested/tickets"),
        ("OUTPUT_URI", "s3://artifacts/models/"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        Config::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn defaults() {
        let config = with(&[]).unwrap();
        assert_eq!(config.policy.min_new_rows, 1000);
        assert_eq!(config.policy.cooldown, Duration::hours(24));
        assert_eq!(config.ledger_prefix, "ledger/");
        assert_eq!(config.manifest_prefix, "manifests/");
        let t = &config.training;
        assert_eq!(t.data_uri, "s3://ingested/tickets/");
        assert_eq!(t.checkpoint_uri, "s3://artifacts/models/checkpoints/");
        assert_eq!(t.inference_image, t.image);
        assert!(t.use_spot);
        assert!(
            t.network_isolation,
            "training containers get no network by default"
        );
        assert_eq!(t.max_wait_seconds, 28_800);
        assert!(t.subnets.is_empty() && t.kms_key_id.is_none());
    }

    #[test]
    fn hyperparameters_become_strings() {
        let config = with(&[(
            "HYPERPARAMETERS",
            r#"{"epochs": 3, "lr": 2e-5, "model": "xlm-roberta-base", "fp16": true}"#,
        )])
        .unwrap();
        let h = &config.training.hyperparameters;
        assert_eq!(h["epochs"], "3");
        assert_eq!(h["lr"], "0.00002");
        assert_eq!(h["model"], "xlm-roberta-base");
        assert_eq!(h["fp16"], "true");
    }

    #[test]
    fn bad_values_are_named() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[("HYPERPARAMETERS", r#"{"layers": [1, 2]}"#)],
                "HYPERPARAMETERS",
            ),
            (&[("HYPERPARAMETERS", "epochs=3")], "HYPERPARAMETERS"),
            (&[("SUBNETS", "subnet-1")], "SECURITY_GROUPS"),
            (&[("MAX_WAIT_SECONDS", "60")], "MAX_WAIT_SECONDS"),
            (&[("MIN_NEW_ROWS", "many")], "MIN_NEW_ROWS"),
            (&[("CHECKPOINT_URI", "/tmp/ckpt")], "CHECKPOINT_URI"),
        ];
        for (extra, name) in cases {
            let error = with(extra).unwrap_err().to_string();
            assert!(error.contains(name), "{extra:?}: {error}");
        }
        let missing = Config::from_env(&Env::from_pairs(BASE[..7].to_vec())).unwrap_err();
        assert!(missing.to_string().contains("OUTPUT_URI"), "{missing}");
    }

    #[test]
    fn vpc_lists_are_trimmed() {
        let config = with(&[
            ("SUBNETS", "subnet-a, subnet-b,"),
            ("SECURITY_GROUPS", "sg-1"),
        ])
        .unwrap();
        assert_eq!(config.training.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!(config.training.security_groups, ["sg-1"]);
    }
}
