//! The trigger, the execution name derived from it, and the execution input of the training state machine.
//!
//! The input carries whole SageMaker request fragments (`ResourceConfig`, `StoppingCondition`, …) built here,
//! because Amazon States Language paths cannot leave out a field that is not configured (a KMS key, spot's
//! `MaxWaitTimeInSeconds`): Rust decides what is present, the definition only places it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::TrainingSettings;
use crate::manifest::Pinned;
use crate::policy::TriggerKind;

/// One request for training, from an event or a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// What asked.
    pub kind: TriggerKind,
    /// The event id (or the manual request id): names the execution, so a redelivery cannot start a second one.
    pub id: String,
    /// When it was asked (the event's time), used for names so that a redelivery builds the same input.
    pub time: DateTime<Utc>,
    /// A sentence for people: why.
    pub reason: String,
}

/// Longest Step Functions execution name.
const MAX_EXECUTION_NAME: usize = 80;
/// Longest SageMaker training job name, minus the fallback's `-od` suffix.
const MAX_JOB_BASE: usize = 60;

impl Trigger {
    /// The execution name: `<kind>-<id>`, cut to Step Functions' 80 characters, characters outside
    /// `[A-Za-z0-9-_]` replaced by `-`.
    pub fn execution_name(&self) -> String {
        let raw = format!("{}-{}", self.kind.as_str(), self.id);
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(MAX_EXECUTION_NAME)
            .collect()
    }

    /// The training job name: `<group>-<yyyymmddHHMMSS>-<hash of the trigger id>`, lower case (SageMaker ARNs
    /// lower-case names, so the name and its ARN agree), at most 60 characters of `[a-z0-9-]` so that the
    /// fallback's `-od` still fits SageMaker's 63.
    pub fn job_name(&self, model_package_group: &str) -> String {
        let hash = xxhash_rust::xxh3::xxh3_64(self.id.as_bytes()) & 0xff_ffff;
        let suffix = format!("-{}-{hash:06x}", self.time.format("%Y%m%d%H%M%S"));
        let mut group = String::new();
        for c in model_package_group.chars() {
            let c = if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            };
            if !(c == '-' && (group.is_empty() || group.ends_with('-'))) {
                group.push(c);
            }
        }
        let room = MAX_JOB_BASE - suffix.len();
        let group: String = group.chars().take(room).collect();
        let group = group.trim_end_matches('-');
        let group = if group.is_empty() { "model" } else { group };
        format!("{group}{suffix}")
    }
}

/// The execution input of `infra/statemachine/training.asl.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionInput {
    /// Why this training runs.
    pub trigger: TriggerInput,
    /// The training jobs (first attempt and fallback).
    pub training: TrainingInput,
    /// Where the model is registered.
    pub model: ModelInput,
}

/// The trigger, as the workflow and its notices show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerInput {
    /// `data`, `retrain` or `manual`.
    pub kind: &'static str,
    /// The event or request id.
    pub id: String,
    /// When it was asked.
    pub time: DateTime<Utc>,
    pub reason: String,
}

/// The SageMaker CreateTrainingJob fragments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingInput {
    /// The first attempt's job name.
    pub job_name: String,
    /// The on-demand fallback's job name.
    pub fallback_job_name: String,
    /// Training image.
    pub image: String,
    /// `HyperParameters`.
    pub hyperparameters: BTreeMap<String, String>,
    /// `InputDataConfig`.
    pub input_data_config: Value,
    /// `OutputDataConfig`.
    pub output_data_config: Value,
    /// `CheckpointConfig` (spot resumes from it).
    pub checkpoint_config: Value,
    /// The first attempt.
    pub primary: Attempt,
    /// The fallback, always on-demand.
    pub fallback: Attempt,
    /// `VpcConfig`, only when subnets are configured (the definition branches on its presence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<Value>,
    /// `EnableNetworkIsolation`.
    pub network_isolation: bool,
    /// `Tags`: project, trigger, dataset — cost-guard attributes cost by them.
    pub tags: Vec<Value>,
}

/// One training attempt's resources and limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// `ResourceConfig`.
    pub resource_config: Value,
    /// `StoppingCondition`.
    pub stopping_condition: Value,
    /// `EnableManagedSpotTraining`.
    pub use_spot: bool,
}

/// The registry side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInput {
    /// Model package group.
    pub package_group: String,
    /// Image the model serves with.
    pub inference_image: String,
}

/// Builds the execution input for a trigger that trains on `dataset`.
pub fn execution_input(
    trigger: &Trigger,
    dataset: &str,
    settings: &TrainingSettings,
    pinned: &Pinned,
) -> ExecutionInput {
    let job_name = trigger.job_name(&settings.model_package_group);
    // One folder per training: SageMaker resumes from what it finds there, so a new training must not find the
    // last one's checkpoints. The fallback shares it and resumes the first attempt's work.
    let checkpoint = format!("{}{job_name}/", settings.checkpoint_uri);
    let attempt = |instance_type: &str, use_spot: bool| {
        let mut resource = json!({
            "InstanceType": instance_type,
            "InstanceCount": settings.instance_count,
            "VolumeSizeInGB": settings.volume_size_gb,
        });
        let mut stopping = json!({ "MaxRuntimeInSeconds": settings.max_runtime_seconds });
        if let Some(key) = &settings.kms_key_id {
            resource["VolumeKmsKeyId"] = json!(key);
        }
        if use_spot {
            stopping["MaxWaitTimeInSeconds"] = json!(settings.max_wait_seconds);
        }
        Attempt {
            resource_config: resource,
            stopping_condition: stopping,
            use_spot,
        }
    };
    let mut output = json!({ "S3OutputPath": settings.output_uri });
    if let Some(key) = &settings.kms_key_id {
        output["KmsKeyId"] = json!(key);
    }
    let tag = |key: &str, value: &str| json!({ "Key": key, "Value": value });
    ExecutionInput {
        trigger: TriggerInput {
            kind: trigger.kind.as_str(),
            id: trigger.id.clone(),
            time: trigger.time,
            reason: trigger.reason.clone(),
        },
        training: TrainingInput {
            fallback_job_name: format!("{job_name}-od"),
            job_name,
            image: settings.image.clone(),
            hyperparameters: settings.hyperparameters.clone(),
            input_data_config: json!([{
                "ChannelName": "train",
                "ContentType": settings.content_type,
                "DataSource": { "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    "S3Uri": pinned.manifest.uri(),
                    "S3DataDistributionType": "FullyReplicated",
                }},
            }]),
            output_data_config: output,
            checkpoint_config: json!({ "S3Uri": checkpoint }),
            primary: attempt(&settings.instance_type, settings.use_spot),
            fallback: attempt(&settings.fallback_instance_type, false),
            vpc_config: (!settings.subnets.is_empty()).then(|| {
                json!({ "Subnets": settings.subnets, "SecurityGroupIds": settings.security_groups })
            }),
            network_isolation: settings.network_isolation,
            tags: vec![
                tag("project", &settings.project),
                tag("trigger", trigger.kind.as_str()),
                tag("dataset", dataset),
            ],
        },
        model: ModelInput {
            package_group: settings.model_package_group.clone(),
            inference_image: settings.inference_image.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned() -> Pinned {
        Pinned {
            pins: guardrails_core::ledger::Pins {
                execution: "new-data-e1".to_owned(),
                dataset: "tickets".to_owned(),
                until: "2026-11-21T02:14:10Z".parse().unwrap(),
                entries: Vec::new(),
            },
            manifest: guardrails_core::ObjectRef::new("state", "manifests/new-data-e1.manifest"),
            unpinned: 0,
        }
    }
    use crate::config::Config;
    use guardrails_core::Env;

    fn settings(extra: &[(&'static str, &'static str)]) -> TrainingSettings {
        let mut pairs = vec![
            ("EVENT_BUS_NAME", "bus"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1:stateMachine:t",
            ),
            ("TRAINING_DATASET", "tickets"),
            ("STATE_BUCKET", "state"),
            ("TRAINING_IMAGE", "img:1"),
            ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
            ("TRAINING_DATA_URI", "s3://ingested/tickets/"),
            ("OUTPUT_URI", "s3://artifacts/models/"),
        ];
        pairs.extend_from_slice(extra);
        Config::from_env(&Env::from_pairs(pairs)).unwrap().training
    }

    fn trigger(kind: TriggerKind, id: &str) -> Trigger {
        Trigger {
            kind,
            id: id.to_owned(),
            time: "2026-11-21T02:14:10Z".parse().unwrap(),
            reason: "new data".to_owned(),
        }
    }

    #[test]
    fn names_are_stable_valid_and_bounded() {
        let t = trigger(TriggerKind::Manual, "0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19");
        assert_eq!(
            t.execution_name(),
            "manual-0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19"
        );
        let job = t.job_name("tickets-classifier");
        assert!(
            job.starts_with("tickets-classifier-20261121021410-"),
            "{job}"
        );
        assert_eq!(job, t.job_name("tickets-classifier"), "deterministic");
        assert_ne!(
            job,
            trigger(TriggerKind::Manual, "other").job_name("tickets-classifier")
        );

        let odd = trigger(
            TriggerKind::Retraining,
            &format!("a b/c:{}", "x".repeat(100)),
        );
        let name = odd.execution_name();
        assert_eq!(name.len(), 80);
        assert!(name.starts_with("retrain-a-b-c-"), "{name}");
        for group in ["Tickets Classifier (ES) · v2", &"g".repeat(90), "--", ""] {
            let job = odd.job_name(group);
            assert!(job.len() <= 60, "{job}");
            assert!(
                job.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{job}"
            );
            assert!(!job.starts_with('-') && !job.contains("--"), "{job}");
        }
        assert!(
            odd.job_name("Tickets Classifier (ES)")
                .starts_with("tickets-classifier-es-2026")
        );
    }

    #[test]
    fn spot_first_attempt_on_demand_fallback() {
        let input = execution_input(
            &trigger(
                TriggerKind::NewData {
                    dataset: "tickets".to_owned(),
                    rows: 5000,
                },
                "e1",
            ),
            "tickets",
            &settings(&[("HYPERPARAMETERS", r#"{"epochs": 3}"#)]),
            &pinned(),
        );
        let json = serde_json::to_value(&input).unwrap();
        let t = &json["training"];
        assert_eq!(
            t["fallback_job_name"],
            format!("{}-od", input.training.job_name)
        );
        assert_eq!(t["primary"]["use_spot"], true);
        assert_eq!(
            t["primary"]["resource_config"]["InstanceType"],
            "ml.g5.xlarge"
        );
        assert_eq!(
            t["primary"]["stopping_condition"]["MaxWaitTimeInSeconds"],
            28_800
        );
        assert_eq!(t["fallback"]["use_spot"], false);
        assert_eq!(
            t["fallback"]["resource_config"]["InstanceType"],
            "ml.g4dn.xlarge"
        );
        assert!(
            t["fallback"]["stopping_condition"]
                .get("MaxWaitTimeInSeconds")
                .is_none()
        );
        assert_eq!(t["hyperparameters"]["epochs"], "3");
        let source = &t["input_data_config"][0]["DataSource"]["S3DataSource"];
        assert_eq!(source["S3DataType"], "ManifestFile");
        assert_eq!(source["S3Uri"], "s3://state/manifests/new-data-e1.manifest");
        assert!(t.get("vpc_config").is_none(), "no VPC unless configured");
        assert_eq!(t["network_isolation"], true);
        assert!(t["output_data_config"].get("KmsKeyId").is_none());
        assert_eq!(
            t["checkpoint_config"]["S3Uri"],
            format!(
                "s3://artifacts/models/checkpoints/{}/",
                input.training.job_name
            )
        );
        assert_eq!(
            t["tags"],
            json!([
                {"Key": "project", "Value": "mlops-guardrails"},
                {"Key": "trigger", "Value": "data"},
                {"Key": "dataset", "Value": "tickets"},
            ])
        );
        assert_eq!(json["trigger"]["time"], "2026-11-21T02:14:10Z");
        assert_eq!(json["model"]["package_group"], "tickets-classifier");
    }

    #[test]
    fn kms_vpc_and_on_demand_only() {
        let input = execution_input(
            &trigger(TriggerKind::Retraining, "e2"),
            "tickets",
            &settings(&[
                ("KMS_KEY_ID", "arn:aws:kms:us-east-1:1:key/k"),
                ("SUBNETS", "subnet-a,subnet-b"),
                ("SECURITY_GROUPS", "sg-1"),
                ("USE_SPOT", "false"),
            ]),
            &pinned(),
        );
        let t = serde_json::to_value(&input.training).unwrap();
        assert_eq!(
            t["output_data_config"]["KmsKeyId"],
            "arn:aws:kms:us-east-1:1:key/k"
        );
        assert_eq!(
            t["primary"]["resource_config"]["VolumeKmsKeyId"],
            "arn:aws:kms:us-east-1:1:key/k"
        );
        assert_eq!(t["vpc_config"]["Subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(t["vpc_config"]["SecurityGroupIds"], json!(["sg-1"]));
        assert_eq!(t["primary"]["use_spot"], false);
        assert!(
            t["primary"]["stopping_condition"]
                .get("MaxWaitTimeInSeconds")
                .is_none()
        );
        assert_eq!(t["tags"][1]["Value"], "retrain");
        assert_eq!(t["tags"][2]["Value"], "tickets");
    }
}
