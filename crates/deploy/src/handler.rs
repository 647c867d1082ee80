//! One "Model Approved": verify the version again and make it serve, or refuse it with a critical notice.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use guardrails_core::aws::SdkConfig;
use guardrails_core::domain::{DomainEvent, ModelApproved, SOURCE};
use guardrails_core::lineage::{Lineage, LineageError, LineageRecord};
use guardrails_core::registry::{self, Package};
use guardrails_core::serving::{Reason, SERVING_VERSION, Serving, ServingRecord};
use guardrails_core::state::{StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, Notice,
    Notifier, ObjectRef, Severity,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Config, STAGE};
use crate::decide::{Decision, Facts, decide};

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The version serves (or already did).
    Deployed {
        /// The version.
        package: String,
        /// Who or what approved it.
        approved_by: String,
        /// The version that served before, if one did.
        previous: Option<String>,
    },
    /// The version does not serve, and a critical notice says why.
    Refused {
        /// The version.
        package: String,
        /// Why.
        reason: String,
    },
    /// Nothing to do, and why.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why an event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Not a "Model Approved" of the project's bus.
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Verifying the lineage failed for a reason a retry may mend (KMS or S3 throttled).
    #[error(transparent)]
    Lineage(#[from] LineageError),
    /// The serving record could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Classify for DeployError {
    fn class(&self) -> ErrorClass {
        match self {
            DeployError::Unrecognised(_) => ErrorClass::NonRetryable,
            DeployError::Aws(e) => e.class(),
            DeployError::Lineage(e) => e.class(),
            DeployError::State(e) => e.class(),
        }
    }
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct Deploy {
    sagemaker: aws_sdk_sagemaker::Client,
    lineage: Lineage,
    serving: Serving,
    notifier: Notifier,
    config: Config,
}

impl Function for Deploy {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent<Value>;
    type Response = Outcome;
    type Error = DeployError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// The registry, the state bucket, the lineage key and the topic through clients from `sdk`.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let state = StateStore::new(guardrails_core::aws::s3_client(sdk), &config.state_bucket);
        Ok(Deploy {
            sagemaker: aws_sdk_sagemaker::Client::new(sdk),
            lineage: Lineage::from_sdk(
                sdk,
                state.clone(),
                &config.lineage_key_id,
                &config.lineage_prefix,
            ),
            serving: Serving::new(state),
            notifier: Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            config,
        })
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent<Value>,
        _: Invocation<'_>,
    ) -> Result<Outcome, DeployError> {
        self.handle(event).await
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Deployed {
                package,
                approved_by,
                ..
            } => format!("{} serves (approved by {approved_by})", version(package)),
            Outcome::Refused { package, reason } => {
                format!("refused {}: {reason}", version(package))
            }
            Outcome::Ignored { reason } => format!("ignored: {reason}"),
        }
    }
}

/// `group/N` of a package ARN.
fn version(arn: &str) -> String {
    let mut parts = arn.rsplit('/');
    let n = parts.next().unwrap_or_default();
    format!("{}/{n}", parts.next().unwrap_or_default())
}

impl Deploy {
    /// Handles one "Model Approved" from the project's bus: the version is described and verified again (the
    /// event only says when), then made to serve, refused, or ignored.
    ///
    /// # Errors
    /// [`DeployError`], classified.
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<Outcome, DeployError> {
        if event.source != SOURCE || event.detail_type != ModelApproved::DETAIL_TYPE {
            return Err(DeployError::Unrecognised(format!(
                "{:?} from {:?}; expected {} ({SOURCE})",
                event.detail_type,
                event.source,
                ModelApproved::DETAIL_TYPE
            )));
        }
        let approved: ModelApproved = serde_json::from_value(event.detail).map_err(|e| {
            DeployError::Unrecognised(format!("{}: {e}", ModelApproved::DETAIL_TYPE))
        })?;
        if approved.model_package_group != self.config.model_package_group {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "{} is not in group {}",
                    approved.package_arn, self.config.model_package_group
                ),
            });
        }
        let package = registry::describe(&self.sagemaker, &approved.package_arn).await?;
        let record = match self.lineage.verify_package_model(&package).await {
            Ok(record) => record,
            Err(e @ (LineageError::Missing(_) | LineageError::Invalid(_))) => {
                return self.refuse(&package, e.to_string()).await;
            }
            Err(e) => return Err(e.into()),
        };
        let approvals: Vec<_> = self
            .lineage
            .approvals(&record.training.job_name)
            .await?
            .into_iter()
            .filter(|a| a.package_arn == package.arn)
            .collect();
        let facts = Facts {
            status: &package.status,
            gate_decision: &record.verdict.decision,
            approvals: &approvals,
        };
        match decide(facts) {
            Decision::Ignore(reason) => Ok(Outcome::Ignored { reason }),
            Decision::Refuse(reason) => self.refuse(&package, reason).await,
            Decision::Serve { approved_by } => self.serve(&package, &record, approved_by).await,
        }
    }

    /// Makes `package` the group's serving record and says so.
    async fn serve(
        &self,
        package: &Package,
        record: &LineageRecord,
        approved_by: String,
    ) -> Result<Outcome, DeployError> {
        let job = &record.training.job_name;
        let lineage_key = format!("{}{job}.json", self.lineage.prefix());
        let next = ServingRecord {
            serving_version: SERVING_VERSION,
            group: self.config.model_package_group.clone(),
            package_arn: package.arn.clone(),
            training_job: job.clone(),
            lineage: ObjectRef::new(&self.config.state_bucket, lineage_key),
            lineage_sha256: package
                .metadata
                .get(guardrails_core::lineage::PACKAGE_DIGEST)
                .cloned()
                .unwrap_or_default(),
            baseline: record.baseline.clone(),
            approved_by,
            since: Utc::now(),
            reason: Reason::Release,
            previous: None,
        };
        let stands = self.serving.serve(next).await?;
        self.notifier.send(&deployed_notice(&stands)).await?;
        tracing::info!(package = %stands.package_arn, previous = ?stands.previous, "serving");
        Ok(Outcome::Deployed {
            package: stands.package_arn,
            approved_by: stands.approved_by,
            previous: stands.previous,
        })
    }

    /// Refuses `package`, loudly.
    async fn refuse(&self, package: &Package, reason: String) -> Result<Outcome, DeployError> {
        tracing::warn!(package = %package.arn, %reason, "deploy refused");
        let notice = Notice {
            severity: Severity::Critical,
            kind: "deploy-refused".to_owned(),
            title: format!("Deploy refused: {}", version(&package.arn)),
            body: format!(
                "{} was approved in the registry but does not serve: {reason}\n\nWhat serves is unchanged. \
                 Check the version's lineage (`lineage verify {}`) and who approved it (CloudTrail).",
                package.arn, package.arn
            ),
            details: json!({"package": package.arn, "reason": reason}),
        };
        self.notifier.send(&notice).await?;
        Ok(Outcome::Refused {
            package: package.arn.clone(),
            reason,
        })
    }
}

fn deployed_notice(serving: &ServingRecord) -> Notice {
    Notice {
        severity: Severity::Info,
        kind: "model-deployed".to_owned(),
        title: format!("Model deployed: {} serves", version(&serving.package_arn)),
        body: format!(
            "{} now serves {} (approved by {}), trained by {}; before it: {}.",
            serving.package_arn,
            serving.group,
            serving.approved_by,
            serving.training_job,
            serving.previous.as_deref().unwrap_or("nothing")
        ),
        details: guardrails_core::notice::details(serving),
    }
}
