//! One event → at most one notice on the project's topic.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use guardrails_core::aws::SdkConfig;
use guardrails_core::function::{Function, Invocation};
use guardrails_core::metric::{NOTICES, dimension};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, NoticeKind, Notifier, Severity,
};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, STAGE};
use crate::decide::{Decision, Project, decide};
use crate::event::{self, Unreadable};

/// The notifier, built once per cold start.
#[derive(Debug)]
pub struct Notify {
    notifier: Notifier,
    project: Project,
}

/// What one event came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A notice was published.
    Notified {
        /// Its kind.
        kind: NoticeKind,
        /// How urgent.
        severity: Severity,
        /// Its title.
        title: String,
        /// The SNS message id.
        message_id: String,
    },
    /// Nothing to say, and why.
    Quiet {
        /// Why.
        reason: String,
    },
}

/// A failure to notify.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The event cannot be read (the same payload fails again: not retried).
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// Publishing failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classify for NotifyError {
    fn class(&self) -> ErrorClass {
        match self {
            NotifyError::Unreadable(_) => ErrorClass::NonRetryable,
            NotifyError::Aws(e) => e.class(),
        }
    }
}

impl Notify {
    /// Decides and, if there is something to say, publishes it.
    ///
    /// # Errors
    /// An unreadable event, or the publish's failure (retryable when SNS's is).
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<Outcome, NotifyError> {
        let region = event.region.clone().unwrap_or_default();
        let incoming = event::read(event)?;
        match decide(&incoming, &self.project, &region) {
            Decision::Quiet(reason) => {
                tracing::info!(%reason, "no notice");
                Ok(Outcome::Quiet { reason })
            }
            Decision::Notify(notice) => {
                let message_id = self.notifier.send(&notice).await?;
                metrics::counter!(NOTICES.name, dimension::SEVERITY => notice.severity.as_str())
                    .increment(1);
                Ok(Outcome::Notified {
                    kind: notice.kind,
                    severity: notice.severity,
                    title: notice.title,
                    message_id,
                })
            }
        }
    }
}

impl Function for Notify {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent<Value>;
    type Response = Outcome;
    type Error = NotifyError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        Ok(Notify {
            notifier: Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            project: Project {
                name: config.project,
                drift_alarm_prefix: config.drift_alarm_prefix,
            },
        })
    }

    fn describe_metrics() {
        metrics::describe_counter!(
            NOTICES.name,
            metrics::Unit::Count,
            "Notices the notifier published, by severity"
        );
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent<Value>,
        _: Invocation<'_>,
    ) -> Result<Outcome, NotifyError> {
        self.handle(event).await
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Notified {
                kind,
                severity,
                title,
                ..
            } => {
                format!("notice {kind} ({}): {title}", severity.as_str())
            }
            Outcome::Quiet { reason } => format!("quiet: {reason}"),
        }
    }
}
