//! One alarm transition: classify, act once (rollback, retraining request), notify.

use aws_sdk_s3::Client as S3;
use guardrails_core::aws::SdkConfig;
use guardrails_core::domain::{ModelRolledBack, RetrainingRequested};
use guardrails_core::notice::cut;
use guardrails_core::s3::put_if_absent;
use guardrails_core::{
    AwsError, Classify, ConfigError, ErrorClass, EventPublisher, Notice, Notifier, ObjectRef,
    Severity,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::alarm::{self, NotAnAlarm};
use crate::classify::{AlarmFacts, DriftKind, Response, classify, respond};
use crate::config::{Config, Serving};
use crate::registry::Registry;
use crate::rollback::{newest, target};

/// EMF counter of drift alarms entering ALARM, by `Kind`.
pub const DRIFT_ALARMS: &str = "DriftAlarms";
/// EMF counter of rollbacks, by `Result` (`rolled-back`, `refused`).
pub const ROLLBACKS: &str = "Rollbacks";

/// What became of a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Rollback {
    /// The degraded version is Rejected and the target serves.
    RolledBack {
        /// The degraded version.
        from: String,
        /// The version now serving.
        to: String,
        /// The endpoint updated (real-time).
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// Nothing changed, for this reason.
    Refused {
        /// Why.
        reason: String,
    },
    /// A call failed part-way; a retryable failure is retried by EventBridge and the rollback resumes.
    Failed {
        /// The error.
        error: String,
    },
}

/// What the function did; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Logged, nothing else (INSUFFICIENT_DATA and the like).
    LogOnly {
        /// The alarm.
        alarm: String,
    },
    /// This transition was handled before.
    Duplicate {
        /// The alarm.
        alarm: String,
    },
    /// ALARM → OK: a recovery notice.
    Recovered {
        /// The alarm.
        alarm: String,
        /// What had drifted.
        kind: DriftKind,
    },
    /// Entered ALARM.
    Drifted {
        /// The alarm.
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
}

impl Classify for DriftError {
    fn class(&self) -> ErrorClass {
        match self {
            DriftError::NotAnAlarm(_) => ErrorClass::NonRetryable,
            DriftError::Aws(e) => e.class(),
        }
    }
}

/// The function: configuration and clients, built once per container.
#[derive(Debug)]
pub struct DriftHandler {
    registry: Registry,
    s3: S3,
    notifier: Notifier,
    events: EventPublisher,
    config: Config,
}

impl DriftHandler {
    /// The function over its clients.
    pub fn new(
        registry: Registry,
        s3: S3,
        notifier: Notifier,
        events: EventPublisher,
        config: Config,
    ) -> Self {
        DriftHandler {
            registry,
            s3,
            notifier,
            events,
            config,
        }
    }

    /// The function as Lambda runs it: clients from `sdk`.
    ///
    /// # Errors
    /// No notice topic configured.
    pub fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        Ok(DriftHandler::new(
            Registry::new(aws_sdk_sagemaker::Client::new(sdk)),
            guardrails_core::aws::s3_client(sdk),
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            EventPublisher::from_sdk(sdk, &config.common.event_bus_name),
            config,
        ))
    }

    /// Handles one alarm state change. Every delivery of the same transition after the first that completed
    /// is a [`Outcome::Duplicate`]; a delivery after a partial failure resumes the same rollback (see
    /// [`Registry::recent_rejections`]) and may repeat its notice and events.
    ///
    /// # Errors
    /// [`DriftError`], classified; EventBridge retries a Lambda target's failed invocations.
    pub async fn handle(&self, event: Value) -> Result<Outcome, DriftError> {
        let facts = alarm::read(&event)?;
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
        let marker = self.marker(&facts);
        if self.exists(&marker).await? {
            tracing::info!(alarm = %facts.name, "transition handled before");
            return Ok(Outcome::Duplicate { alarm: facts.name });
        }

        let mut failure: Option<DriftError> = None;
        let outcome = match response {
            Response::Recovered => {
                self.notifier
                    .send(&self.recovery_notice(&facts, kind))
                    .await?;
                Outcome::Recovered {
                    alarm: facts.name.clone(),
                    kind,
                }
            }
            Response::Drifted { severity, actions } => {
                metrics::counter!(DRIFT_ALARMS, "Kind" => kind.as_str()).increment(1);
                let rollback = if actions.rollback {
                    // A failed rollback still notifies and asks for retraining before it is retried.
                    let rollback = match self.roll_back(&facts).await {
                        Ok(rollback) => rollback,
                        Err(error) => {
                            let rollback = Rollback::Failed {
                                error: error.to_string(),
                            };
                            failure = Some(error);
                            rollback
                        }
                    };
                    let result = match &rollback {
                        Rollback::RolledBack { .. } => "rolled-back",
                        Rollback::Refused { .. } => "refused",
                        Rollback::Failed { .. } => "failed",
                    };
                    metrics::counter!(ROLLBACKS, "Result" => result).increment(1);
                    Some(rollback)
                } else {
                    None
                };
                if actions.retrain
                    && let Some(cause) = kind.cause()
                {
                    self.events
                        .publish(
                            &RetrainingRequested {
                                cause,
                                reason: describe(&facts, kind),
                                alarm_name: Some(facts.name.clone()),
                                model_package_group: Some(self.config.model_package_group.clone()),
                            },
                            &[],
                        )
                        .await?;
                }
                let notice =
                    self.drift_notice(&facts, kind, severity, rollback.as_ref(), actions.retrain);
                self.notifier.send(&notice).await?;
                Outcome::Drifted {
                    alarm: facts.name.clone(),
                    kind,
                    rollback,
                    retraining_requested: actions.retrain && kind.cause().is_some(),
                }
            }
            Response::LogOnly => Outcome::LogOnly {
                alarm: facts.name.clone(),
            },
        };
        if let Some(error) = failure
            && error.class() == ErrorClass::Retryable
        {
            // No marker: the retry resumes the rollback.
            return Err(error);
        }
        let record =
            serde_json::to_vec(&json!({"transition": facts.transition_key(), "outcome": &outcome}))
                .unwrap_or_default();
        put_if_absent(&self.s3, &marker, record).await?;
        Ok(outcome)
    }

    /// Rolls back the serving version of the group to the newest approved one before it.
    async fn roll_back(&self, facts: &AlarmFacts) -> Result<Rollback, DriftError> {
        let group = &self.config.model_package_group;
        let key = facts.transition_key();
        let approved = self.registry.approved(group).await?;
        // An earlier delivery of this transition may have rejected the degraded version already.
        let rejections = self.registry.recent_rejections(group).await?;
        let earlier = rejections
            .iter()
            .find(|(_, d)| d.as_deref().is_some_and(|d| d.contains(&key)))
            .map(|(p, _)| p.clone());
        let (degraded, serving, endpoint) = match &self.config.serving {
            Serving::Batch => {
                let degraded = earlier.clone().or_else(|| newest(&approved).cloned());
                (degraded, None, None)
            }
            Serving::Realtime { endpoint, .. } => {
                let Some(endpoint) = endpoint
                    .clone()
                    .or_else(|| facts.dimensions.get("Endpoint").cloned())
                else {
                    return Ok(Rollback::Refused {
                        reason:
                            "no endpoint: set ENDPOINT_NAME or give the alarm an Endpoint dimension"
                                .into(),
                    });
                };
                let Some(serving) = self.registry.serving(&endpoint).await? else {
                    return Ok(Rollback::Refused {
                        reason: format!(
                            "endpoint {endpoint} serves a model that was not created from a model package: nothing to roll back in the registry"
                        ),
                    });
                };
                let degraded = earlier.clone().unwrap_or_else(|| serving.package.clone());
                (Some(degraded), Some(serving), Some(endpoint))
            }
        };
        let Some(degraded) = degraded else {
            return Ok(Rollback::Refused {
                reason: format!(
                    "{group} has no approved version: nothing serves, nothing to roll back"
                ),
            });
        };
        // One automatic step back per incident: the version an earlier rollback restored is not rolled back
        // further (an ALARM after INSUFFICIENT_DATA or a flapping alarm would otherwise walk down the registry).
        if earlier.is_none()
            && let Some((rejected, _)) = rejections.iter().find(|(_, d)| {
                d.as_deref()
                    .is_some_and(|d| d.contains(&format!("rolled back to {}.", degraded.arn)))
            })
        {
            return Ok(Rollback::Refused {
                reason: format!(
                    "{} is the version an earlier rollback (from {}) restored: not rolling back further automatically",
                    degraded.arn, rejected.arn
                ),
            });
        }
        let Some(to) = target(&approved, &degraded).cloned() else {
            return Ok(Rollback::Refused {
                reason: format!(
                    "{group} has no approved version older than {}: nothing changed, the degraded model still serves",
                    degraded.arn
                ),
            });
        };
        // Reject first, naming the transition: a retry after a later failure then finds it and resumes.
        if earlier.is_none() {
            let description = format!(
                "Rejected by drift-handler: alarm {} ({}) entered ALARM; rolled back to {}. Transition {key}.",
                facts.name,
                describe_metric(facts),
                to.arn
            );
            self.registry
                .reject(&degraded.arn, &cut(&description, 1024))
                .await?;
        }
        if let (Some(serving), Some(endpoint), Serving::Realtime { role_arn, .. }) =
            (&serving, &endpoint, &self.config.serving)
            && serving.package.arn != to.arn
        {
            let suffix = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()) as u32);
            let config = self
                .registry
                .point_endpoint(endpoint, serving, &to, role_arn, &suffix)
                .await?;
            tracing::info!(endpoint = %endpoint, endpoint_config = %config, "endpoint pointed at the rollback target");
        }
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

    fn marker(&self, facts: &AlarmFacts) -> ObjectRef {
        ObjectRef::new(
            &self.config.marker_bucket,
            format!(
                "{}{}/{}.json",
                self.config.marker_prefix,
                facts.name,
                facts.since.format("%Y-%m-%dT%H-%M-%S%.3fZ")
            ),
        )
    }

    async fn exists(&self, at: &ObjectRef) -> Result<bool, AwsError> {
        match self
            .s3
            .head_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let error = AwsError::from_sdk("HeadObject", at.uri(), e);
                if matches!(error.code.as_deref(), Some("NotFound" | "NoSuchKey")) {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
        }
    }

    fn links(&self) -> String {
        let mut links = format!("Runbook: {}", self.config.runbook_url);
        if let Some(dashboard) = &self.config.dashboard_url {
            links.push_str(&format!("\nDashboard: {dashboard}"));
        }
        links
    }

    fn drift_notice(
        &self,
        facts: &AlarmFacts,
        kind: DriftKind,
        severity: Severity,
        rollback: Option<&Rollback>,
        retrain: bool,
    ) -> Notice {
        let mut done = Vec::new();
        let mut severity = severity;
        match rollback {
            Some(Rollback::RolledBack { from, to, endpoint }) => done.push(format!(
                "Rolled back: {from} is now Rejected; {to} serves{}.",
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
                "Unknown alarm kind: notified only. Add a DRIFT_RULES entry to classify it."
                    .to_owned(),
            );
        }
        if done.is_empty() {
            done.push("No automatic action for this kind of drift.".to_owned());
        }
        // The subject is cut under 100 characters: what was done comes first.
        let title = match rollback {
            Some(Rollback::RolledBack { .. }) => format!("Rolled back: {}", headline(facts, kind)),
            Some(Rollback::Refused { .. }) => {
                format!("Rollback impossible: {}", headline(facts, kind))
            }
            Some(Rollback::Failed { .. }) => {
                format!("Rollback failed: {}", headline(facts, kind))
            }
            None => {
                let h = headline(facts, kind);
                let mut chars = h.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or(h)
            }
        };
        let body = format!(
            "Alarm {} entered ALARM at {}.\n{}\n\nWhat drifted: {} ({}).\nWhere: {}.\n{}\n\n{}\n\n{}",
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
            kind: format!("drift-{}", kind.as_str()),
            title,
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
            }),
        }
    }

    fn recovery_notice(&self, facts: &AlarmFacts, kind: DriftKind) -> Notice {
        Notice {
            severity: Severity::Info,
            kind: "drift-recovered".to_owned(),
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
