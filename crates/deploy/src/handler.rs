//! One event: sign the approval it reports, then bring what serves in line with the registry — the newest
//! Approved version that verifies — or refuse, loudly.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::aws_events::{EndpointStateChange, PackageStateChange};
use guardrails_core::domain::{
    DeployRequested, DomainEvent, SOURCE, detail_from_value, package_version,
};
use guardrails_core::image::{ImageGate, Refusal, refusal_notice};
use guardrails_core::lineage::{self, Approval, Lineage, LineageError, LineageRecord};
use guardrails_core::metric::{DEPLOYS, dimension};
use guardrails_core::registry::{self, Package};
use guardrails_core::serving::{Reason, Replaced, SERVING_VERSION, Serving, ServingRecord};
use guardrails_core::state::{StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Function, Invocation, Notice,
    NoticeKind, Notifier, ObjectRef, Severity,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::approval;
use crate::config::{Config, STAGE, Target};
use crate::decide::{self, Facts, Plan, Version, version_number};
use crate::endpoint::Move;
use crate::model;
use crate::realtime::Wanted;

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The version now serves.
    Deployed {
        /// The version.
        package: String,
        /// Who or what approved it.
        approved_by: String,
        /// A release or a rollback.
        reason: Reason,
        /// The version that served before, if one did.
        previous: Option<String>,
    },
    /// The endpoint is moving to the version (created, or updated blue/green); the serving record changes when
    /// it is there.
    Releasing {
        /// The version.
        package: String,
        /// The endpoint.
        endpoint: String,
    },
    /// The newest Approved version serves already.
    Serving {
        /// The version.
        package: String,
    },
    /// A version may not serve, and a critical notice says why; what serves is unchanged.
    Refused {
        /// The version.
        package: String,
        /// Why.
        reason: String,
    },
    /// What serves is no longer Approved and nothing can replace it; a critical notice says so.
    Stranded {
        /// The version serving.
        package: String,
        /// Why.
        reason: String,
    },
    /// Nothing to do now, and why.
    Waiting {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// The `Result` dimension of the `Deploys` metric, for the outcomes that change or refuse what serves.
    pub fn result(&self) -> Option<&'static str> {
        match self {
            Outcome::Deployed {
                reason: Reason::Release,
                ..
            } => Some("deployed"),
            Outcome::Deployed {
                reason: Reason::Rollback,
                ..
            } => Some("rolled-back"),
            Outcome::Releasing { .. } => Some("releasing"),
            Outcome::Refused { .. } => Some("refused"),
            Outcome::Stranded { .. } => Some("stranded"),
            Outcome::Serving { .. } | Outcome::Waiting { .. } => None,
        }
    }
}

/// Why an event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Not a registry change or a deploy request.
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Reading or signing lineage failed for a reason a retry may mend (KMS or S3 throttled).
    #[error(transparent)]
    Lineage(#[from] LineageError),
    /// The serving record could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// Another deploy changed what serves while this one decided: the retry decides again from the new record.
    #[error("what serves {0} changed while deciding; deciding again")]
    Moved(String),
    /// The registry's listing lags the change being handled (a version just rejected still listed Approved, one
    /// just approved not listed yet): the retry decides from a listing that has caught up.
    #[error("the registry's listing lags: {0}; deciding again")]
    Lagging(String),
}

impl Classify for DeployError {
    fn class(&self) -> ErrorClass {
        match self {
            DeployError::Unrecognised(_) => ErrorClass::NonRetryable,
            DeployError::Aws(e) => e.class(),
            DeployError::Lineage(e) => e.class(),
            DeployError::State(e) => e.class(),
            DeployError::Moved(_) | DeployError::Lagging(_) => ErrorClass::Retryable,
        }
    }
}

/// What started the invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// The registry changed a version of some group (SageMaker's own event: no one else may send `aws.*`).
    Registry {
        /// The change.
        change: PackageStateChange,
        /// The event's time.
        at: Option<DateTime<Utc>>,
    },
    /// A person asked for a deploy through the project's bus.
    Requested(DeployRequested),
    /// An endpoint changed state (SageMaker's own event).
    Endpoint(EndpointStateChange),
}

impl Trigger {
    /// The trigger an EventBridge event carries.
    ///
    /// # Errors
    /// [`DeployError::Unrecognised`] for any other event or a malformed detail.
    pub fn read(event: EventBridgeEvent<Value>) -> Result<Self, DeployError> {
        let malformed =
            |e: serde_json::Error| DeployError::Unrecognised(format!("{}: {e}", event.detail_type));
        match (event.source.as_str(), event.detail_type.as_str()) {
            ("aws.sagemaker", PackageStateChange::DETAIL_TYPE) => Ok(Trigger::Registry {
                change: serde_json::from_value(event.detail.clone()).map_err(malformed)?,
                at: event.time,
            }),
            ("aws.sagemaker", EndpointStateChange::DETAIL_TYPE) => Ok(Trigger::Endpoint(
                serde_json::from_value(event.detail.clone()).map_err(malformed)?,
            )),
            (SOURCE, DeployRequested::DETAIL_TYPE) => Ok(Trigger::Requested(
                detail_from_value(event.detail.clone())
                    .map_err(|e| DeployError::Unrecognised(e.to_string()))?,
            )),
            (source, detail_type) => Err(DeployError::Unrecognised(format!(
                "{detail_type:?} from {source:?}; expected {} or {} (aws.sagemaker) or {} ({SOURCE})",
                PackageStateChange::DETAIL_TYPE,
                EndpointStateChange::DETAIL_TYPE,
                DeployRequested::DETAIL_TYPE
            ))),
        }
    }
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct Deploy {
    pub(crate) sagemaker: aws_sdk_sagemaker::Client,
    lineage: Lineage,
    images: ImageGate,
    pub(crate) serving: Serving,
    pub(crate) notifier: Notifier,
    pub(crate) config: Config,
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
            images: ImageGate::from_sdk(sdk, config.image_scan_block),
            notifier: Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            config,
        })
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent<Value>,
        _: Invocation<'_>,
    ) -> Result<Outcome, DeployError> {
        let outcome = self.handle(Trigger::read(event)?).await?;
        // Counted once its effects are done: a failed invocation retried counts once.
        if let Some(result) = outcome.result() {
            metrics::counter!(DEPLOYS.name, dimension::RESULT => result).increment(1);
        }
        Ok(outcome)
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Deployed {
                package,
                approved_by,
                reason: Reason::Release,
                ..
            } => format!(
                "{} serves (approved by {approved_by})",
                package_version(package)
            ),
            Outcome::Deployed {
                package, previous, ..
            } => format!(
                "rolled back: {} serves again, {} no longer",
                package_version(package),
                previous.as_deref().map_or("", package_version)
            ),
            Outcome::Releasing { package, endpoint } => {
                format!(
                    "endpoint {endpoint} is moving to {}",
                    package_version(package)
                )
            }
            Outcome::Serving { package } => format!("{} serves already", package_version(package)),
            Outcome::Refused { package, reason } => {
                format!("refused {}: {reason}", package_version(package))
            }
            Outcome::Stranded { reason, .. } => format!("stranded: {reason}"),
            Outcome::Waiting { reason } => format!("waiting: {reason}"),
        }
    }
}

/// A version deploy makes serve, as decided.
struct Serve<'a> {
    package: &'a Package,
    record: &'a LineageRecord,
    approved_by: String,
    reason: Reason,
    /// A person asked for it (Deploy Requested): a release the endpoint undid is tried again.
    asked: bool,
    /// The version serving now, when it is no longer Approved.
    withdrawn: Option<String>,
}

/// The newest Approved version as checked: the registry's view, and its verified record or why it fails.
struct Candidate {
    package: Package,
    record: Result<LineageRecord, String>,
    approvals: Vec<Approval>,
}

impl Deploy {
    /// Handles one trigger: a registry change of the group signs the approval it reports (a person's, or the
    /// workflow's on the gate's verdict), then what serves is brought in line with the registry.
    ///
    /// # Errors
    /// [`DeployError`], classified.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, trigger: Trigger) -> Result<Outcome, DeployError> {
        let group = &self.config.model_package_group;
        let (subject, requested, subject_now) = match &trigger {
            Trigger::Registry { change, at } => {
                if &change.group != group {
                    return Ok(Outcome::Waiting {
                        reason: format!("{} is not in group {group}", change.arn),
                    });
                }
                let (now, refused) = self.sign_approval(change, *at).await?;
                if let Some(refused) = refused {
                    return Ok(refused);
                }
                (Some(change.arn.as_str()), None, Some(now))
            }
            Trigger::Requested(request) => (None, Some(request), None),
            Trigger::Endpoint(change) => {
                let ours = match &self.config.target {
                    Target::Endpoint(settings) => settings.name == change.endpoint_name,
                    Target::Batch => false,
                };
                if !ours {
                    return Ok(Outcome::Waiting {
                        reason: format!(
                            "endpoint {} is not the one deploy serves",
                            change.endpoint_name
                        ),
                    });
                }
                (None, None, None)
            }
        };
        let newest = registry::newest_approved(&self.sagemaker, group).await?;
        if let Some(request) = requested
            && let Some(refused) = self.check_request(request, newest.as_ref()).await?
        {
            return Ok(refused);
        }
        if let Some(why) = decide::lagging(newest.as_ref(), subject_now.as_ref()) {
            return Err(DeployError::Lagging(why));
        }
        let candidate = match newest {
            Some(package) => Some(self.candidate(package).await?),
            None => None,
        };
        let asked = matches!(trigger, Trigger::Requested(_));
        self.reconcile(candidate, subject, asked).await
    }

    /// Signs the approval `change` reports, once per package, when the version is Approved now and was
    /// registered by the workflow. A version whose lineage does not verify is refused here, with a notice.
    #[tracing::instrument(skip_all)]
    async fn sign_approval(
        &self,
        change: &PackageStateChange,
        at: Option<DateTime<Utc>>,
    ) -> Result<(Package, Option<Outcome>), DeployError> {
        let now = registry::describe(&self.sagemaker, &change.arn).await?;
        let refused = self.sign_approval_of(change, at, &now).await?;
        Ok((now, refused))
    }

    #[tracing::instrument(skip_all)]
    async fn sign_approval_of(
        &self,
        change: &PackageStateChange,
        at: Option<DateTime<Utc>>,
        now: &Package,
    ) -> Result<Option<Outcome>, DeployError> {
        if let Err(reason) = approval::needs_record(now, &self.config.model_package_group) {
            tracing::info!(package = %change.arn, %reason, "no approval to sign");
            return Ok(None);
        }
        // The package must serve what the record's job made: one that copied another version's metadata is
        // refused, not signed as that version's approval.
        let record = match self.lineage.verify_package_model(now).await {
            Ok(record) => record,
            Err(e @ (LineageError::Missing(_) | LineageError::Invalid(_))) => {
                return Ok(Some(self.refuse(&now.arn, e.to_string()).await?));
            }
            Err(e) => return Err(e.into()),
        };
        if record.verdict.decision == "Rejected" {
            let reason = format!(
                "it is Approved, but the gate rejected job {}: its approval is not signed",
                record.training.job_name
            );
            return Ok(Some(self.refuse(&now.arn, reason).await?));
        }
        let job = &record.training.job_name;
        if self
            .lineage
            .approvals(job)
            .await?
            .iter()
            .any(|a| a.package_arn == now.arn)
        {
            // Signed by an earlier delivery, or by the first approval of a version edited since.
            return Ok(None);
        }
        let (approved_by, approved_at) = approval::approver(change, now);
        let approval = Approval {
            schema_version: lineage::SCHEMA_VERSION,
            package_arn: now.arn.clone(),
            training_job: job.clone(),
            lineage_sha256: digest(now),
            gate_decision: record.verdict.decision.clone(),
            approved_by,
            approved_at: approved_at.or(at).unwrap_or_else(Utc::now),
            description: now.description.clone(),
        };
        self.lineage.record_approval(&approval).await?;
        tracing::info!(package = %now.arn, approved_by = %approval.approved_by, "approval signed");
        Ok(None)
    }

    /// A person's request naming a version: refused unless it is the newest Approved one, which is what serves.
    #[tracing::instrument(skip_all)]
    async fn check_request(
        &self,
        request: &DeployRequested,
        newest: Option<&Package>,
    ) -> Result<Option<Outcome>, DeployError> {
        let Some(arn) = &request.model_package_arn else {
            return Ok(None);
        };
        if newest.is_some_and(|n| &n.arn == arn) {
            return Ok(None);
        }
        let by = request.requested_by.as_deref().unwrap_or("someone");
        let named = match registry::describe(&self.sagemaker, arn).await {
            Ok(named) => named,
            // Not a package of this account (a typo, another region): refused like any other, not retried.
            Err(e) if e.class() == ErrorClass::NonRetryable => {
                let reason = format!("{by} asked for it to serve, but it cannot be described: {e}");
                return Ok(Some(self.refuse(arn, reason).await?));
            }
            Err(e) => return Err(e.into()),
        };
        let why = if named.group != self.config.model_package_group {
            format!("it is not in group {}", self.config.model_package_group)
        } else if named.status != "Approved" {
            format!("it is {}: only Approved versions serve", named.status)
        } else {
            format!(
                "only the newest Approved version serves ({}); to serve this one, reject the versions after it \
                 in the registry",
                newest.map_or("none", |n| package_version(&n.arn))
            )
        };
        Ok(Some(
            self.refuse(arn, format!("{by} asked for it to serve, but {why}"))
                .await?,
        ))
    }

    /// The newest Approved version, checked: its lineage verified against the package, its approvals read.
    #[tracing::instrument(skip_all)]
    async fn candidate(&self, package: Package) -> Result<Candidate, DeployError> {
        let record = match self.lineage.verify_package_model(&package).await {
            Ok(record) => Ok(record),
            Err(e @ (LineageError::Missing(_) | LineageError::Invalid(_))) => Err(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        let approvals = match &record {
            Ok(record) => self
                .lineage
                .approvals(&record.training.job_name)
                .await?
                .into_iter()
                .filter(|a| a.package_arn == package.arn)
                .collect(),
            Err(_) => Vec::new(),
        };
        Ok(Candidate {
            package,
            record,
            approvals,
        })
    }

    /// Decides from what serves and the candidate, and acts.
    #[tracing::instrument(skip_all)]
    async fn reconcile(
        &self,
        candidate: Option<Candidate>,
        subject: Option<&str>,
        asked: bool,
    ) -> Result<Outcome, DeployError> {
        let group = &self.config.model_package_group;
        let current = self.serving.current(group).await?;
        let serving_status = match &current {
            Some(c)
                if candidate
                    .as_ref()
                    .is_none_or(|n| n.package.arn != c.package_arn) =>
            {
                registry::describe(&self.sagemaker, &c.package_arn)
                    .await?
                    .status
            }
            _ => "Approved".to_owned(),
        };
        let withdrawn = current
            .as_ref()
            .filter(|_| serving_status != "Approved")
            .map(|c| c.package_arn.clone());
        let serving = current.as_ref().map(|c| Version {
            arn: &c.package_arn,
            number: version_number(&c.package_arn).unwrap_or_default(),
            status: &serving_status,
        });
        let newest = candidate.as_ref().map(|c| {
            let version = Version {
                arn: &c.package.arn,
                number: version_number(&c.package.arn).unwrap_or_default(),
                status: &c.package.status,
            };
            let lineage = match &c.record {
                Ok(record) => decide::Lineage::Verified {
                    gate_decision: &record.verdict.decision,
                    approvals: &c.approvals,
                },
                Err(reason) => decide::Lineage::Invalid(reason),
            };
            (version, lineage)
        });
        let plan = decide::plan(Facts {
            serving,
            newest,
            subject,
        });
        tracing::info!(?plan, serving = ?current.as_ref().map(|c| &c.package_arn), "deploy plan");
        match (plan, candidate, current) {
            (
                Plan::Serve {
                    approved_by,
                    reason,
                },
                Some(c),
                current,
            ) => match c.record {
                Ok(record) => {
                    // The release and the rollback path alike: no version serves on an image refused by its scan.
                    if let Err(refusal) = self.images.check_all(&c.package.images).await? {
                        return self.refuse_image(&c.package.arn, &refusal).await;
                    }
                    let serve = Serve {
                        package: &c.package,
                        record: &record,
                        approved_by,
                        reason,
                        asked,
                        withdrawn: withdrawn.clone(),
                    };
                    self.serve(serve, current).await
                }
                Err(reason) => self.refuse(&c.package.arn, reason).await,
            },
            (Plan::Keep, _, Some(current)) => self.keep(current, asked).await,
            (Plan::Refuse(reason), Some(c), _) => self.refuse(&c.package.arn, reason).await,
            (Plan::Stranded(reason), _, Some(current)) => {
                self.stranded(&current.package_arn, reason).await
            }
            (Plan::Wait(reason), ..) => Ok(Outcome::Waiting { reason }),
            _ => Ok(Outcome::Waiting {
                reason: format!("no version of {group} is Approved"),
            }),
        }
    }

    /// Makes `package` serve: its SageMaker model, the endpoint on it (real-time), then the serving record (only
    /// over the one decided from), then the notice, then the history entry that says it was announced.
    #[tracing::instrument(skip_all)]
    async fn serve(
        &self,
        serve: Serve<'_>,
        seen: Option<ServingRecord>,
    ) -> Result<Outcome, DeployError> {
        let Serve {
            package,
            record,
            approved_by,
            reason,
            asked,
            withdrawn,
        } = serve;
        let group = &self.config.model_package_group;
        let lineage_sha256 = digest(package);
        let number = version_number(&package.arn).unwrap_or_default();
        let model_name = model::model_name(group, number, &lineage_sha256);
        if let Err(why) = model::ensure(
            &self.sagemaker,
            &self.config.model,
            &model_name,
            &package.arn,
        )
        .await?
        {
            // The name is predictable: a model someone else made under it is not served, loudly.
            let reason =
                format!("model {model_name} exists and is not the one deploy makes: {why}");
            return self.refuse(&package.arn, reason).await;
        }
        if let Target::Endpoint(settings) = &self.config.target {
            let how = match reason {
                Reason::Release => Move::Canary,
                Reason::Rollback => Move::AllAtOnce,
            };
            let wanted = Wanted {
                package: &package.arn,
                model: &model_name,
                how,
                asked,
                withdrawn: withdrawn.as_deref(),
            };
            if let Some(meanwhile) = self.release(settings, wanted).await? {
                return Ok(meanwhile);
            }
        }
        let job = &record.training.job_name;
        let next = ServingRecord {
            serving_version: SERVING_VERSION,
            group: group.clone(),
            package_arn: package.arn.clone(),
            training_job: job.clone(),
            lineage: ObjectRef::new(
                &self.config.state_bucket,
                format!("{}{job}.json", self.lineage.prefix()),
            ),
            lineage_sha256,
            model_name,
            baseline: record.baseline.clone(),
            approved_by,
            since: Utc::now(),
            reason,
            previous: None,
        };
        let stands = match self.serving.replace(seen.as_ref(), next).await? {
            Replaced::Now(stands) => stands,
            Replaced::Moved(_) => return Err(DeployError::Moved(group.clone())),
        };
        self.announce(&stands).await?;
        tracing::info!(package = %stands.package_arn, previous = ?stands.previous, ?reason, "serving");
        Ok(Outcome::Deployed {
            package: stands.package_arn,
            approved_by: stands.approved_by,
            reason,
            previous: stands.previous,
        })
    }

    /// The newest Approved version serves already: announced, unless an interrupted deploy left that undone; in
    /// real-time, the endpoint is brought back to it if it runs anything else (a release the registry withdrew
    /// while its canary ran, or a change by hand).
    #[tracing::instrument(skip_all)]
    async fn keep(&self, current: ServingRecord, asked: bool) -> Result<Outcome, DeployError> {
        if let Target::Endpoint(settings) = &self.config.target {
            let wanted = Wanted {
                package: &current.package_arn,
                model: &current.model_name,
                how: Move::AllAtOnce,
                asked,
                withdrawn: None,
            };
            if let Some(meanwhile) = self.release(settings, wanted).await? {
                return Ok(meanwhile);
            }
        }
        if !self.serving.announced(&current).await? {
            self.announce(&current).await?;
        }
        Ok(Outcome::Serving {
            package: current.package_arn,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn announce(&self, serving: &ServingRecord) -> Result<(), DeployError> {
        self.notifier.send(&deployed_notice(serving)).await?;
        self.serving.record_announced(serving).await?;
        Ok(())
    }

    /// Refuses `package`, loudly.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn refuse(
        &self,
        package: &str,
        reason: String,
    ) -> Result<Outcome, DeployError> {
        tracing::warn!(%package, %reason, "deploy refused");
        let notice = Notice {
            severity: Severity::Critical,
            kind: NoticeKind::DeployRefused,
            title: format!("Deploy refused: {}", package_version(package)),
            body: format!(
                "{package} does not serve: {reason}\n\nWhat serves is unchanged. Check the version's lineage \
                 (`lineage verify {package}`) and who changed it in the registry (CloudTrail)."
            ),
            details: json!({"package": package, "reason": reason}),
        };
        self.notifier.send(&notice).await?;
        Ok(Outcome::Refused {
            package: package.to_owned(),
            reason,
        })
    }

    /// Refuses `package` for its image, loudly: the notice names the image's findings.
    #[tracing::instrument(skip_all)]
    async fn refuse_image(&self, package: &str, refusal: &Refusal) -> Result<Outcome, DeployError> {
        tracing::warn!(%package, %refusal, "deploy refused: image");
        let subject = format!(
            "{} ({package}); what serves is unchanged",
            package_version(package)
        );
        let notice = refusal_notice("Deploy", &subject, refusal, Severity::Critical);
        self.notifier.send(&notice).await?;
        Ok(Outcome::Refused {
            package: package.to_owned(),
            reason: refusal.to_string(),
        })
    }

    /// The version serving is no longer Approved and nothing replaces it, loudly.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn stranded(
        &self,
        package: &str,
        reason: String,
    ) -> Result<Outcome, DeployError> {
        tracing::warn!(%package, %reason, "serving version stranded");
        let notice = Notice {
            severity: Severity::Critical,
            kind: NoticeKind::ServingNotApproved,
            title: format!("{} serves but is not Approved", package_version(package)),
            body: format!(
                "{reason}.\n\nBatch inference refuses to start with it. Approve a version in the registry (or \
                 approve this one again) to serve."
            ),
            details: json!({"package": package, "reason": reason}),
        };
        self.notifier.send(&notice).await?;
        Ok(Outcome::Stranded {
            package: package.to_owned(),
            reason,
        })
    }
}

/// The lineage digest a package names (checked against the record by `verify_package_model`).
fn digest(package: &Package) -> String {
    package
        .metadata
        .get(lineage::PACKAGE_DIGEST)
        .cloned()
        .unwrap_or_default()
}

fn deployed_notice(serving: &ServingRecord) -> Notice {
    let version = package_version(&serving.package_arn);
    let before = serving
        .previous
        .as_deref()
        .map_or("nothing", package_version);
    let (title, opening) = match serving.reason {
        Reason::Release => (
            format!("Model deployed: {version} serves"),
            format!(
                "{version} now serves {} (approved by {}).",
                serving.group, serving.approved_by
            ),
        ),
        Reason::Rollback => (
            format!("Model rolled back: {version} serves again"),
            format!(
                "{before} is no longer Approved, so {version}, the newest Approved version before it, serves {} \
                 again (approved by {}).",
                serving.group, serving.approved_by
            ),
        ),
    };
    Notice {
        severity: Severity::Info,
        kind: NoticeKind::ModelDeployed,
        title,
        body: format!(
            "{opening}\nModel: {} (trained by {}). Before it: {before}.",
            serving.model_name, serving.training_job
        ),
        details: guardrails_core::notice::details(serving),
    }
}
