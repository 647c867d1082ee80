//! One event → at most one notice on the project's topic, at once or gathered with others of its group; a
//! scheduled look (a message of the digest queue) sends a group that is due.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::function::{self, Function, Invocation};
use guardrails_core::metric::{JOB_RUNS, JOB_SECONDS, NOTICES, NOTICES_HELD, dimension};
use guardrails_core::state::{StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Notice, NoticeKind, Notifier,
    Severity,
};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, STAGE};
use crate::decide::{Decision, JobEnded, Project, decide, job_ended};
use crate::digest::{self, Group};
use crate::event::{self, Incoming, Unreadable};
use crate::held::{Digests, HeldError, Kept, Looked};

/// The notifier, built once per cold start.
#[derive(Debug)]
pub struct Notify {
    notifier: Notifier,
    digests: Digests,
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
    /// The notice waits for others of its group, to leave with them.
    Held {
        /// Its kind.
        kind: NoticeKind,
        /// Its title.
        title: String,
        /// When its group is due.
        due: DateTime<Utc>,
    },
    /// Nothing to say, and why.
    Quiet {
        /// Why.
        reason: String,
    },
}

/// What the function answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// To an EventBridge event.
    Event(Outcome),
    /// To a batch of the digest queue: the looks that failed, redelivered.
    Batch(SqsBatchResponse),
}

/// A failure to notify.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The event cannot be read (the same payload fails again: not retried).
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// A digest queue message that names no group.
    #[error("digest queue message unreadable: {0}")]
    Look(String),
    /// Publishing failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Keeping a notice or sending its group failed.
    #[error(transparent)]
    Held(#[from] HeldError),
}

impl From<StateError> for NotifyError {
    fn from(error: StateError) -> Self {
        NotifyError::Held(HeldError::State(error))
    }
}

impl Classify for NotifyError {
    fn class(&self) -> ErrorClass {
        match self {
            NotifyError::Unreadable(_) | NotifyError::Look(_) => ErrorClass::NonRetryable,
            NotifyError::Aws(e) | NotifyError::Held(HeldError::Aws(e)) => e.class(),
            NotifyError::Held(HeldError::State(e)) => e.class(),
        }
    }
}

fn count(notice: &Notice) {
    metrics::counter!(NOTICES.name, dimension::SEVERITY => notice.severity.as_str()).increment(1);
}

/// A project job's end: one run by type and result, and its duration when the event gave one. Recorded as the
/// event arrives (a redelivered event counts again: EventBridge delivers at least once).
fn record_job(ended: &JobEnded) {
    metrics::counter!(JOB_RUNS.name, dimension::JOB_TYPE => ended.job_type, dimension::RESULT => ended.result.as_str())
        .increment(1);
    if let Some(seconds) = ended.seconds {
        metrics::histogram!(JOB_SECONDS.name, dimension::JOB_TYPE => ended.job_type)
            .record(seconds);
    }
}

impl Notify {
    /// A notifier publishing with `notifier`, keeping grouped notices in `digests`, for `project`.
    pub fn new(notifier: Notifier, digests: Digests, project: Project) -> Self {
        Notify {
            notifier,
            digests,
            project,
        }
    }

    /// Decides and, if there is something to say, publishes it or keeps it with its group.
    ///
    /// # Errors
    /// An unreadable event, or the publish's or the state bucket's failure (retryable when theirs is).
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<Outcome, NotifyError> {
        self.handle_at(event, Utc::now()).await
    }

    /// [`Notify::handle`] at `now`.
    ///
    /// # Errors
    /// As [`Notify::handle`].
    #[tracing::instrument(skip_all)]
    pub async fn handle_at(
        &self,
        event: EventBridgeEvent<Value>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, NotifyError> {
        let region = event.region.clone().unwrap_or_default();
        let id = event.id.clone().unwrap_or_default();
        let time = event.time.unwrap_or(now);
        let incoming = event::read(event)?;
        if let Incoming::Job(job) = &incoming
            && let Some(ended) = job_ended(job, &self.project)
        {
            record_job(&ended);
        }
        let notice = match decide(&incoming, &self.project, &region) {
            Decision::Quiet(reason) => {
                tracing::info!(%reason, "no notice");
                return Ok(Outcome::Quiet { reason });
            }
            Decision::Notify(notice) => notice,
        };
        let Some(group) = digest::group_of(&incoming, &notice) else {
            return self.send(notice).await;
        };
        // An event without an id (a direct invocation) is named by its notice: the same notice is kept once.
        let id = if id.is_empty() {
            guardrails_core::lineage::sha256_hex(notice.title.as_bytes())
        } else {
            id
        };
        let (kind, title) = (notice.kind, notice.title.clone());
        match self
            .digests
            .arrive(&group, notice.clone(), (&id, time), now, &self.notifier)
            .await?
        {
            Kept::Sent(message_id) => {
                count(&notice);
                Ok(Outcome::Notified {
                    kind,
                    severity: notice.severity,
                    title,
                    message_id,
                })
            }
            Kept::Held(due) => {
                tracing::info!(%kind, %title, %due, group = %group.key(), "held for its group");
                metrics::counter!(NOTICES_HELD.name, dimension::KIND => kind.as_str()).increment(1);
                Ok(Outcome::Held { kind, title, due })
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn send(&self, notice: Notice) -> Result<Outcome, NotifyError> {
        let message_id = self.notifier.send(&notice).await?;
        count(&notice);
        Ok(Outcome::Notified {
            kind: notice.kind,
            severity: notice.severity,
            title: notice.title,
            message_id,
        })
    }

    /// Looks at the group each message names, sending the due ones; a failed look is redelivered alone.
    #[tracing::instrument(skip_all)]
    pub async fn look_batch(&self, batch: SqsEvent, now: DateTime<Utc>) -> SqsBatchResponse {
        function::partial_batch(batch.records, |message| self.look(message, now)).await
    }

    #[tracing::instrument(skip_all)]
    async fn look(&self, message: SqsMessage, now: DateTime<Utc>) -> Result<(), NotifyError> {
        let body = message.body.as_deref().unwrap_or_default();
        let group: Group =
            serde_json::from_str(body).map_err(|e| NotifyError::Look(e.to_string()))?;
        match self.digests.look(&group, now, &self.notifier).await? {
            Looked::Sent {
                count: n,
                notice,
                message_id,
            } => {
                if let Some(notice) = &notice {
                    count(notice);
                }
                tracing::info!(group = %group.key(), count = n, ?message_id, "sent the waiting notices as one");
            }
            Looked::Later(due) => tracing::info!(group = %group.key(), %due, "not due yet"),
            Looked::Nothing => tracing::info!(group = %group.key(), "nothing waits"),
        }
        Ok(())
    }
}

impl Function for Notify {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = Value;
    type Response = Response;
    type Error = NotifyError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let s3 = guardrails_core::aws::s3_client(sdk);
        Ok(Notify::new(
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            Digests::new(
                StateStore::new(s3, &config.state_bucket),
                aws_sdk_sqs::Client::new(sdk),
                &config.digest_queue_url,
                config.windows,
                config.common.claim_lease,
            ),
            Project {
                name: config.project,
                drift_alarm_prefix: config.drift_alarm_prefix,
            },
        ))
    }

    fn describe_metrics() {
        metrics::describe_counter!(
            NOTICES.name,
            metrics::Unit::Count,
            "Notices the notifier published, by severity (a digest counts once)"
        );
        metrics::describe_counter!(
            JOB_RUNS.name,
            metrics::Unit::Count,
            "The project's SageMaker, Glue and Batch jobs that ended, by type and result"
        );
        metrics::describe_histogram!(
            JOB_SECONDS.name,
            metrics::Unit::Seconds,
            "How long each of the project's jobs ran, by type"
        );
        metrics::describe_counter!(
            NOTICES_HELD.name,
            metrics::Unit::Count,
            "Notices kept to leave with others of their group, by kind"
        );
    }

    async fn invoke(&self, payload: Value, _: Invocation<'_>) -> Result<Response, NotifyError> {
        if function::is_sqs_batch(&payload) {
            let batch: SqsEvent = serde_json::from_value(payload)
                .map_err(|e| NotifyError::Look(format!("SQS event: {e}")))?;
            return Ok(Response::Batch(self.look_batch(batch, Utc::now()).await));
        }
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(payload).map_err(|e| Unreadable::Detail {
                detail_type: "(not an EventBridge event)".into(),
                message: e.to_string(),
            })?;
        Ok(Response::Event(self.handle(event).await?))
    }

    fn describe(response: &Response) -> String {
        match response {
            Response::Event(Outcome::Notified {
                kind,
                severity,
                title,
                ..
            }) => format!("notice {kind} ({}): {title}", severity.as_str()),
            Response::Event(Outcome::Held { kind, title, due }) => {
                format!("held {kind} until {}: {title}", due.format("%H:%M:%S"))
            }
            Response::Event(Outcome::Quiet { reason }) => format!("quiet: {reason}"),
            Response::Batch(batch) if batch.batch_item_failures.is_empty() => {
                "looked at the waiting notices".into()
            }
            Response::Batch(batch) => format!(
                "{} look(s) failed and stay on the queue",
                batch.batch_item_failures.len()
            ),
        }
    }
}
