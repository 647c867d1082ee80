//! One alarm transition: classify, act once (rollback, retraining request), notify.

use chrono::Utc;
use guardrails_core::aws::SdkConfig;
use guardrails_core::domain::{ModelRolledBack, RetrainingRequested, package_version};
use guardrails_core::notice::cut;
use guardrails_core::serving::Serving as ServingRecords;
use guardrails_core::state::{Begin, Claim, StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, EventPublisher, Function,
    Invocation, Notice, NoticeKind, Notifier, Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::alarm::{self, AlarmEvent, NotAnAlarm};
use crate::classify::{Actions, AlarmFacts, DriftKind, Response, classify, respond};
use crate::config::{Config, STAGE};
use crate::registry::Registry;
use crate::rollback::{Package, newest, target};
use guardrails_core::metric::{DRIFT_ALARMS, ROLLBACKS, dimension};
use guardrails_core::monitor_report::{self, Findings};

/// What became of a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Rollback {
    /// The degraded version is Rejected; deploy makes the target serve.
    RolledBack {
        /// The degraded version.
        from: String,
        /// The version deploy makes serve again.
        to: String,
        /// The endpoint deploy moves back (real-time).
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// Nothing changed, for this reason.
    Refused { reason: String },
    /// A call failed part-way; a retryable failure is retried by EventBridge and the rollback resumes.
    Failed { error: String },
}

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Logged, nothing else (INSUFFICIENT_DATA and the like).
    LogOnly { alarm: String },
    /// This transition was handled before.
    Duplicate { alarm: String },
    /// ALARM → OK: a recovery notice.
    Recovered {
        alarm: String,
        /// What had drifted.
        kind: DriftKind,
    },
    /// Entered ALARM.
    Drifted {
        alarm: String,
        /// What drifted.
        kind: DriftKind,
        /// The rollback, when the kind calls for one.
        #[serde(skip_serializing_if = "Option::is_none")]
        rollback: Option<Rollback>,
        /// Whether Retraining Requested was published.
        retraining_requested: bool,
    },
}

/// Why an alarm could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// Not an alarm state change.
    #[error(transparent)]
    NotAnAlarm(#[from] NotAnAlarm),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The transition's job document could not be claimed or updated.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Classify for DriftError {
    fn class(&self) -> ErrorClass {
        match self {
            DriftError::NotAnAlarm(_) => ErrorClass::NonRetryable,
            DriftError::Aws(e) => e.class(),
            DriftError::State(e) => e.class(),
        }
    }
}

/// The effects of one alarm transition, recorded in its job document as each completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftStep {
    /// The degraded version is Rejected in the registry (the pair is kept in the job).
    Rejected,
    /// The rollback reached its result (rolled back, refused, or failed for good), kept in the job.
    RolledBack,
    /// Retraining Requested is on the bus.
    RetrainingRequested,
    /// The notice that the rollback failed and is being retried went out.
    NotifiedFailure,
    /// The transition's notice went out.
    Notified,
}

/// A transition's job data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftJob {
    /// The version rejected and the one restored, once the reject is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<(Package, Package)>,
    /// The rollback's result, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct DriftHandler {
    registry: Registry,
    state: StateStore,
    notifier: Notifier,
    events: EventPublisher,
    config: Config,
}

impl Function for DriftHandler {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = AlarmEvent;
    type Response = Outcome;
    type Error = DriftError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        Ok(DriftHandler::new(
            Registry::new(aws_sdk_sagemaker::Client::new(sdk)),
            StateStore::new(guardrails_core::aws::s3_client(sdk), &config.state_bucket),
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            EventPublisher::from_sdk(sdk, config.common.require_event_bus()?),
            config,
        ))
    }

    async fn invoke(&self, event: AlarmEvent, _: Invocation<'_>) -> Result<Outcome, DriftError> {
        self.handle(event).await
    }

    fn describe(outcome: &Outcome) -> String {
        let words = |kind: &DriftKind| kind.as_str().replace('-', " ");
        let (kind, rollback) = match outcome {
            Outcome::LogOnly { alarm } => return format!("logged only ({alarm})"),
            Outcome::Duplicate { alarm } => return format!("duplicate ({alarm})"),
            Outcome::Recovered { kind, .. } => return format!("recovered ({})", words(kind)),
            Outcome::Drifted { kind, rollback, .. } => (kind, rollback),
        };
        let line = format!("drifted ({})", words(kind));
        match rollback {
            Some(Rollback::RolledBack { from, to, .. }) => format!(
                "{line}: rolled back {} → {}",
                package_version(from),
                package_version(to)
            ),
            Some(Rollback::Refused { reason }) => format!("{line}: rollback refused, {reason}"),
            Some(Rollback::Failed { error }) => format!("{line}: rollback failed, {error}"),
            None => line,
        }
    }
}

impl DriftHandler {
    /// The function over its clients.
    pub fn new(
        registry: Registry,
        state: StateStore,
        notifier: Notifier,
        events: EventPublisher,
        config: Config,
    ) -> Self {
        DriftHandler {
            registry,
            state,
            notifier,
            events,
            config,
        }
    }

    /// Handles one alarm state change, once per transition: its job document in the state bucket records each
    /// effect (rollback, retraining request, notice) as it completes. A delivery after a partial failure resumes
    /// with what is missing (the rollback itself resumes through [`Registry::recent_rejections`]); a concurrent
    /// delivery fails as retryable and later finds the transition handled ([`Outcome::Duplicate`]).
    ///
    /// # Errors
    /// [`DriftError`], classified; EventBridge retries a Lambda target's failed invocations.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, event: AlarmEvent) -> Result<Outcome, DriftError> {
        let facts = alarm::read(event)?;
        let kind = classify(
            &facts,
            &self.config.rules,
            &self.config.common.metrics_namespace,
        );
        let response = respond(&facts, kind, &self.config.actions);
        tracing::info!(alarm = %facts.name, state = ?facts.state, previous = ?facts.previous, kind = kind.as_str(), ?response, "alarm state change");
        if response == Response::LogOnly {
            return Ok(Outcome::LogOnly { alarm: facts.name });
        }
        let key = self.job_key(&facts);
        let lease = self.config.common.claim_lease;
        let mut claim = match self
            .state
            .begin(&key, DriftJob::default(), Utc::now(), lease)
            .await?
        {
            Begin::Finished(_) => {
                tracing::info!(alarm = %facts.name, "transition handled before");
                return Ok(Outcome::Duplicate { alarm: facts.name });
            }
            Begin::Claimed(claim) => claim,
        };
        // Boxed: the nested async steps otherwise make a future too deep for the compiler's layout query.
        let result = Box::pin(self.act(&facts, kind, response, &mut claim)).await;
        claim.conclude(result).await
    }

    #[tracing::instrument(skip_all)]
    async fn act(
        &self,
        facts: &AlarmFacts,
        kind: DriftKind,
        response: Response,
        claim: &mut Claim<'_, DriftStep, DriftJob>,
    ) -> Result<Outcome, DriftError> {
        match response {
            Response::Recovered => {
                let notice = self.recovery_notice(facts, kind);
                claim
                    .step(DriftStep::Notified, async || {
                        self.notifier.send(&notice).await?;
                        Ok::<(), DriftError>(())
                    })
                    .await?;
                Ok(Outcome::Recovered {
                    alarm: facts.name.clone(),
                    kind,
                })
            }
            Response::Drifted { severity, actions } => {
                self.drifted(facts, kind, severity, actions, claim).await
            }
            Response::LogOnly => Ok(Outcome::LogOnly {
                alarm: facts.name.clone(),
            }),
        }
    }

    /// Entered ALARM: roll back when the kind calls for it, ask for retraining, notify. A rollback that failed
    /// transiently is notified and returned as the error, so the retry tries it again and then notifies its end.
    #[tracing::instrument(skip_all)]
    async fn drifted(
        &self,
        facts: &AlarmFacts,
        kind: DriftKind,
        severity: Severity,
        actions: Actions,
        claim: &mut Claim<'_, DriftStep, DriftJob>,
    ) -> Result<Outcome, DriftError> {
        metrics::counter!(DRIFT_ALARMS.name, dimension::KIND => kind.as_str()).increment(1);
        let (rollback, failure) = if actions.rollback {
            let (rollback, failure) = self.rollback_step(facts, claim).await?;
            (Some(rollback), failure)
        } else {
            (None, None)
        };
        let retrain = actions.retrain && kind.cause().is_some();
        if let (true, Some(cause)) = (actions.retrain, kind.cause()) {
            let request = RetrainingRequested {
                cause,
                reason: describe(facts, kind),
                alarm_name: Some(facts.name.clone()),
                model_package_group: Some(self.config.model_package_group.clone()),
            };
            claim
                .step(DriftStep::RetrainingRequested, async || {
                    self.events.publish(&request, &[]).await?;
                    Ok::<(), DriftError>(())
                })
                .await?;
        }
        let findings = self.findings(facts).await;
        let notice = self.drift_notice(
            facts,
            kind,
            severity,
            rollback.as_ref(),
            actions.retrain,
            findings.as_ref(),
        );
        let step = match failure {
            Some(_) => DriftStep::NotifiedFailure,
            None => DriftStep::Notified,
        };
        claim
            .step(step, async || {
                self.notifier.send(&notice).await?;
                Ok::<(), DriftError>(())
            })
            .await?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Outcome::Drifted {
            alarm: facts.name.clone(),
            kind,
            rollback,
            retraining_requested: retrain,
        })
    }

    /// The rollback's result: the one recorded by an earlier delivery, or a new attempt's. A transient failure
    /// comes back as [`Rollback::Failed`] beside its error and is not recorded, so the retry attempts it again; a
    /// permanent one is recorded like any other result.
    #[tracing::instrument(skip_all)]
    async fn rollback_step(
        &self,
        facts: &AlarmFacts,
        claim: &mut Claim<'_, DriftStep, DriftJob>,
    ) -> Result<(Rollback, Option<DriftError>), DriftError> {
        if let Some(done) = &claim.data().rollback {
            return Ok((done.clone(), None));
        }
        let (rollback, failure) = match self.roll_back(facts, claim).await {
            Ok(rollback) => (rollback, None),
            Err(error) => {
                let failed = Rollback::Failed {
                    error: error.to_string(),
                };
                let retry = (error.class() == ErrorClass::Retryable).then_some(error);
                (failed, retry)
            }
        };
        let result = match &rollback {
            Rollback::RolledBack { .. } => "rolled-back",
            Rollback::Refused { .. } => "refused",
            Rollback::Failed { .. } => "failed",
        };
        metrics::counter!(ROLLBACKS.name, dimension::RESULT => result).increment(1);
        if failure.is_none() {
            claim.data_mut().rollback = Some(rollback.clone());
            claim.record(DriftStep::RolledBack).await?;
        }
        Ok((rollback, failure))
    }

    /// Rolls back the serving version of the group to the newest approved one before it.
    #[tracing::instrument(skip_all)]
    async fn roll_back(
        &self,
        facts: &AlarmFacts,
        claim: &mut Claim<'_, DriftStep, DriftJob>,
    ) -> Result<Rollback, DriftError> {
        // A delivery that already rejected the degraded version recorded the pair: resume from it, not from the
        // registry's listing, which may lag and name the next version down.
        if let Some((from, to)) = claim.data().rejected.clone() {
            return self.announce_rollback(facts, from, to).await;
        }
        let group = &self.config.model_package_group;
        let key = facts.transition_key();
        let approved = self.registry.approved(group).await?;
        // An earlier delivery of this transition may have rejected the degraded version already.
        let rejections = self.registry.recent_rejections(group).await?;
        let earlier = rejections
            .iter()
            .find(|(_, d)| d.as_deref().is_some_and(|d| d.contains(&key)))
            .map(|(p, _)| p.clone());
        let degraded = match self.degraded(&approved, earlier.as_ref()).await? {
            Ok(degraded) => degraded,
            Err(refused) => return Ok(refused),
        };
        let already_rejected = earlier.is_some();
        let to = match rollback_target(group, &approved, &rejections, &degraded, already_rejected) {
            Ok(to) => to.clone(),
            Err(refused) => return Ok(refused),
        };
        // Reject first, naming the transition: a retry after a later failure then finds it and resumes.
        if !already_rejected {
            self.reject(facts, &degraded, &to, &key).await?;
        }
        claim.data_mut().rejected = Some((degraded.clone(), to.clone()));
        claim.record(DriftStep::Rejected).await?;
        self.announce_rollback(facts, degraded, to).await
    }

    /// The version to roll back from: the one this transition already rejected, else the one deploy's serving
    /// record names (batch and real-time alike), else the newest Approved (before deploy's first record); the
    /// refusal when there is none.
    #[tracing::instrument(skip_all)]
    async fn degraded(
        &self,
        approved: &[Package],
        earlier: Option<&Package>,
    ) -> Result<OrRefused<Package>, DriftError> {
        let serving = match earlier {
            Some(package) => Some(package.clone()),
            None => match self.serving(approved).await? {
                Ok(serving) => serving,
                Err(refusal) => return Ok(Err(refusal)),
            },
        };
        match serving.or_else(|| newest(approved).cloned()) {
            Some(package) => Ok(Ok(package)),
            None => Ok(Err(Rollback::Refused {
                reason: format!(
                    "{} has no approved version: nothing serves, nothing to roll back",
                    self.config.model_package_group
                ),
            })),
        }
    }

    /// The version that serves: the group's serving record (deploy's), found among the Approved versions;
    /// `None` before deploy wrote one (the newest Approved serves then). A serving version no longer Approved is
    /// being replaced by deploy already: nothing more to reject.
    #[tracing::instrument(skip_all)]
    async fn serving(
        &self,
        approved: &[Package],
    ) -> Result<OrRefused<Option<Package>>, DriftError> {
        let group = &self.config.model_package_group;
        let Some(record) = ServingRecords::new(self.state.clone())
            .current(group)
            .await?
        else {
            return Ok(Ok(None));
        };
        match approved.iter().find(|p| p.arn == record.package_arn) {
            Some(package) => Ok(Ok(Some(package.clone()))),
            None => Ok(Err(Rollback::Refused {
                reason: format!(
                    "{} serves but is no longer Approved: deploy is replacing it already",
                    record.package_arn
                ),
            })),
        }
    }

    /// Rejects the degraded version in the registry, naming the alarm, the target and the transition, which a
    /// retry looks for to resume.
    #[tracing::instrument(skip_all)]
    async fn reject(
        &self,
        facts: &AlarmFacts,
        degraded: &Package,
        to: &Package,
        key: &str,
    ) -> Result<(), DriftError> {
        let description = format!(
            "Rejected by drift-handler: alarm {} ({}) entered ALARM; rolled back to {}. Transition {key}.",
            facts.name,
            describe_metric(facts),
            to.arn
        );
        self.registry
            .reject(&degraded.arn, &cut(&description, 1024))
            .await?;
        Ok(())
    }

    /// After the reject, which deploy acts on (the endpoint too, in real-time): announces Model Rolled Back.
    #[tracing::instrument(skip_all)]
    async fn announce_rollback(
        &self,
        facts: &AlarmFacts,
        degraded: Package,
        to: Package,
    ) -> Result<Rollback, DriftError> {
        let group = &self.config.model_package_group;
        let endpoint = self.config.endpoint.clone();
        self.events
            .publish(
                &ModelRolledBack {
                    model_package_group: group.clone(),
                    from_model_package_arn: degraded.arn.clone(),
                    to_model_package_arn: to.arn.clone(),
                    endpoint_name: endpoint.clone(),
                    alarm_name: facts.name.clone(),
                },
                &[degraded.arn.clone(), to.arn.clone()],
            )
            .await?;
        Ok(Rollback::RolledBack {
            from: degraded.arn,
            to: to.arn,
            endpoint,
        })
    }

    fn job_key(&self, facts: &AlarmFacts) -> String {
        format!(
            "{}{}/{}.json",
            self.config.marker_prefix,
            facts.name,
            facts.since.format("%Y-%m-%dT%H-%M-%S%.3fZ")
        )
    }

    fn links(&self) -> String {
        let mut links = format!("Runbook: {}", self.config.runbook_url);
        if let Some(dashboard) = &self.config.dashboard_url {
            links.push_str(&format!("\nDashboard: {dashboard}"));
        }
        links
    }

    /// The project monitor's findings behind an alarm on its own metrics: the report of the alarm's `Model` for
    /// the newest hour it rests on. Best effort: without a readable report the notice goes out without them.
    #[tracing::instrument(skip_all)]
    async fn findings(&self, facts: &AlarmFacts) -> Option<(String, Findings)> {
        if facts.namespace.as_deref() != Some(self.config.common.metrics_namespace.as_str()) {
            return None;
        }
        let model = facts.dimensions.get(dimension::MODEL)?;
        for hour in monitor_report::report_hours(facts.since) {
            let key = monitor_report::report_key(model, hour);
            match self.state.read::<Findings>(&key).await {
                Ok(Some(stored)) => return Some((self.state.at(&key).uri(), stored.value)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, key, "the monitor's report does not read: notice without its findings");
                    return None;
                }
            }
        }
        None
    }

    /// The notice for an alarm entering ALARM: what drifted, where, what the monitor found, and what was done
    /// about it.
    fn drift_notice(
        &self,
        facts: &AlarmFacts,
        kind: DriftKind,
        severity: Severity,
        rollback: Option<&Rollback>,
        retrain: bool,
        findings: Option<&(String, Findings)>,
    ) -> Notice {
        let (severity, done) = actions_taken(kind, severity, rollback, retrain);
        let found = findings
            .map(|(uri, f)| {
                format!(
                    "\n\nWhat the monitor found ({uri}):\n{}",
                    f.lines().join("\n")
                )
            })
            .unwrap_or_default();
        let body = format!(
            "Alarm {} entered ALARM at {}.\n{}\n\nWhat drifted: {} ({}).\nWhere: {}.\n{}{found}\n\n{}\n\n{}",
            facts.name,
            facts.since.to_rfc3339(),
            facts.reason,
            kind.as_str(),
            describe_metric(facts),
            where_(facts),
            facts.description.clone().unwrap_or_default(),
            done.join("\n"),
            self.links()
        );
        Notice {
            severity,
            kind: kind.notice_kind(),
            title: drift_title(facts, kind, rollback),
            body,
            details: json!({
                "alarm": facts.name,
                "kind": kind,
                "namespace": facts.namespace,
                "metric": facts.metric,
                "dimensions": facts.dimensions,
                "threshold": facts.threshold,
                "value": facts.value,
                "since": facts.since,
                "rollback": rollback,
                "retrainingRequested": retrain && kind.cause().is_some(),
                "modelPackageGroup": self.config.model_package_group,
                "runbook": self.config.runbook_url,
                "report": findings.map(|(uri, _)| uri),
                "findings": findings.map(|(_, f)| f.lines()),
            }),
        }
    }

    fn recovery_notice(&self, facts: &AlarmFacts, kind: DriftKind) -> Notice {
        Notice {
            severity: Severity::Info,
            kind: NoticeKind::DriftRecovered,
            title: format!("Recovered: {} ({})", facts.name, describe_metric(facts)),
            body: format!(
                "Alarm {} is back to OK at {} ({}).\n{}\n\nA rollback or retraining it caused stays in place; \
                 re-approve a version in the registry by hand if wanted.\n\n{}",
                facts.name,
                facts.since.to_rfc3339(),
                kind.as_str(),
                facts.reason,
                self.links()
            ),
            details: json!({"alarm": facts.name, "kind": kind, "value": facts.value, "threshold": facts.threshold}),
        }
    }
}

/// A rollback step's result, or the refusal that ends the rollback there.
type OrRefused<T> = Result<T, Rollback>;

/// The approved version to roll back to from `degraded`; the refusal when none is older, or when `degraded` is
/// the one an earlier rollback restored and this transition has not rejected it yet.
fn rollback_target<'a>(
    group: &str,
    approved: &'a [Package],
    rejections: &[(Package, Option<String>)],
    degraded: &Package,
    already_rejected: bool,
) -> OrRefused<&'a Package> {
    // One automatic step back per incident: the version an earlier rollback restored is not rolled back
    // further (an ALARM after INSUFFICIENT_DATA or a flapping alarm would otherwise walk down the registry).
    if !already_rejected
        && let Some((rejected, _)) = rejections.iter().find(|(_, d)| {
            d.as_deref()
                .is_some_and(|d| d.contains(&format!("rolled back to {}.", degraded.arn)))
        })
    {
        return Err(Rollback::Refused {
            reason: format!(
                "{} is the version an earlier rollback (from {}) restored: not rolling back further automatically",
                degraded.arn, rejected.arn
            ),
        });
    }
    target(approved, degraded).ok_or_else(|| Rollback::Refused {
        reason: format!(
            "{group} has no approved version older than {}: nothing changed, the degraded model still serves",
            degraded.arn
        ),
    })
}

/// One line per action taken (or not) for a drift notice, and its severity: critical when a rollback was refused
/// or failed, since then someone has to act by hand.
fn actions_taken(
    kind: DriftKind,
    severity: Severity,
    rollback: Option<&Rollback>,
    retrain: bool,
) -> (Severity, Vec<String>) {
    let mut done = Vec::new();
    let mut severity = severity;
    match rollback {
        Some(Rollback::RolledBack { from, to, endpoint }) => done.push(format!(
            "Rolled back: {from} is now Rejected; deploy makes {to} serve again{}.",
            endpoint
                .as_ref()
                .map(|e| format!(" on endpoint {e}"))
                .unwrap_or_default()
        )),
        Some(Rollback::Refused { reason }) => {
            severity = Severity::Critical;
            done.push(format!(
                "NOT rolled back: {reason}. Act by hand (see the runbook)."
            ));
        }
        Some(Rollback::Failed { error }) => {
            severity = Severity::Critical;
            done.push(format!(
                "Rollback FAILED part-way: {error}. It is retried when the error is transient; otherwise act by hand (see the runbook)."
            ));
        }
        None => {}
    }
    if retrain && kind.cause().is_some() {
        done.push("Retraining requested (trigger-training applies its cooldown).".to_owned());
    }
    if kind == DriftKind::Unknown {
        done.push(
            "Unknown alarm kind: notified only. Add a DRIFT_RULES entry to classify it.".to_owned(),
        );
    }
    if done.is_empty() {
        done.push("No automatic action for this kind of drift.".to_owned());
    }
    (severity, done)
}

/// A drift notice's subject, cut under 100 characters downstream: what was done comes first.
fn drift_title(facts: &AlarmFacts, kind: DriftKind, rollback: Option<&Rollback>) -> String {
    match rollback {
        Some(Rollback::RolledBack { .. }) => format!("Rolled back: {}", headline(facts, kind)),
        Some(Rollback::Refused { .. }) => {
            format!("Rollback impossible: {}", headline(facts, kind))
        }
        Some(Rollback::Failed { .. }) => format!("Rollback failed: {}", headline(facts, kind)),
        None => {
            let h = headline(facts, kind);
            let mut chars = h.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or(h)
        }
    }
}

/// "Model quality drift: weighted_f1 0.74 (threshold 0.8) on tickets-classifier".
fn describe(facts: &AlarmFacts, kind: DriftKind) -> String {
    let what = match kind {
        DriftKind::DataDrift => "Data drift",
        DriftKind::ModelQuality => "Model quality drift",
        DriftKind::Bias => "Bias drift",
        DriftKind::FeatureAttribution => "Feature attribution drift",
        DriftKind::PredictionQuality => "Prediction quality drift",
        DriftKind::Unknown => "Alarm",
    };
    format!("{what}: {} on {}", describe_metric(facts), where_(facts))
}

/// "model quality drift, weighted_f1 0.74 vs 0.8 on tickets-classifier": short enough for a subject.
fn headline(facts: &AlarmFacts, kind: DriftKind) -> String {
    let what = match kind {
        DriftKind::DataDrift => "data drift",
        DriftKind::ModelQuality => "model quality drift",
        DriftKind::Bias => "bias drift",
        DriftKind::FeatureAttribution => "feature attribution drift",
        DriftKind::PredictionQuality => "prediction quality drift",
        DriftKind::Unknown => "alarm",
    };
    let metric = facts.metric.clone().unwrap_or_else(|| facts.name.clone());
    let value = match (facts.value, facts.threshold) {
        (Some(v), Some(t)) => format!(" {v} vs {t}"),
        _ => String::new(),
    };
    let on = facts
        .dimensions
        .get("Endpoint")
        .map(|e| format!(" on {e}"))
        .unwrap_or_default();
    format!("{what}, {metric}{value}{on}")
}

fn describe_metric(facts: &AlarmFacts) -> String {
    let metric = facts.metric.clone().unwrap_or_else(|| facts.name.clone());
    match (facts.value, facts.threshold) {
        (Some(v), Some(t)) => format!("{metric} {v} (threshold {t})"),
        (None, Some(t)) => format!("{metric} (threshold {t})"),
        _ => metric,
    }
}

fn where_(facts: &AlarmFacts) -> String {
    let d = &facts.dimensions;
    match (d.get("Endpoint"), d.get("MonitoringSchedule")) {
        (Some(e), Some(s)) => format!("endpoint {e}, schedule {s}"),
        (Some(e), None) => format!("endpoint {e}"),
        (None, Some(s)) => format!("schedule {s}"),
        (None, None) => d
            .iter()
            .next()
            .map(|(k, v)| format!("{k} {v}"))
            .unwrap_or_else(|| format!("alarm {}", facts.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_reads_as_what_happened() {
        let from = "arn:aws:sagemaker:us-east-1:1:model-package/tickets/2";
        let to = "arn:aws:sagemaker:us-east-1:1:model-package/tickets/1";
        let drifted = |rollback| Outcome::Drifted {
            alarm: "a".into(),
            kind: DriftKind::ModelQuality,
            rollback,
            retraining_requested: false,
        };
        let table = [
            (
                drifted(Some(Rollback::RolledBack {
                    from: from.into(),
                    to: to.into(),
                    endpoint: None,
                })),
                "drifted (model quality): rolled back tickets/2 → tickets/1",
            ),
            (
                drifted(Some(Rollback::Refused {
                    reason: "no earlier Approved version".into(),
                })),
                "drifted (model quality): rollback refused, no earlier Approved version",
            ),
            (drifted(None), "drifted (model quality)"),
            (
                Outcome::Recovered {
                    alarm: "a".into(),
                    kind: DriftKind::DataDrift,
                },
                "recovered (data drift)",
            ),
            (Outcome::Duplicate { alarm: "a".into() }, "duplicate (a)"),
        ];
        for (outcome, line) in table {
            assert_eq!(DriftHandler::describe(&outcome), line);
        }
    }
}
