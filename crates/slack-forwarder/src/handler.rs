//! One SNS delivery → one Slack post per notice, through the webhook the secret names.

use std::time::{Duration, Instant};

use aws_lambda_events::sns::{SnsEvent, SnsMessage};
use guardrails_core::aws::SdkConfig;
use guardrails_core::function::{Function, Invocation};
use guardrails_core::metric::{CHAT_POSTS, dimension};
use guardrails_core::{AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::config::{Config, STAGE};
use crate::message::{self, Incoming};
use crate::slack;
use crate::webhook::{self, Reply, SecretError, Webhook, WebhookUrl};

/// The forwarder, built once per cold start: its secret cache and its pace outlive invocations.
#[derive(Debug)]
pub struct Forward {
    secrets: aws_sdk_secretsmanager::Client,
    http: reqwest::Client,
    config: Config,
    /// The last read of the secret, and when.
    cached: Mutex<Option<(Webhook, Instant)>>,
    /// When the last post went out (posts are [`Config::interval`] apart).
    last_post: Mutex<Option<Instant>>,
}

/// What one delivery came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Notices posted.
    pub posted: usize,
    /// Notices not forwarded because no webhook is set.
    pub unconfigured: usize,
}

/// A notice that did not reach the channel.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The secret could not be read.
    #[error(transparent)]
    Secret(#[from] AwsError),
    /// The secret's value is not a usable webhook (an administrator must fix it).
    #[error(transparent)]
    SecretValue(#[from] SecretError),
    /// The webhook refused the message, or is revoked and the secret holds no other.
    #[error("the webhook at {host} refused the notice: HTTP {status} {answer}")]
    Refused {
        /// The webhook's host (the URL is a credential).
        host: String,
        /// The status.
        status: u16,
        /// Slack's one-word answer (`invalid_payload`, `no_service` …).
        answer: String,
    },
    /// The webhook did not take the notice after every attempt.
    #[error("the webhook at {host} did not take the notice after {attempts} attempt(s): {last}")]
    Unavailable {
        /// The webhook's host.
        host: String,
        /// Posts tried.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

impl Classify for ForwardError {
    fn class(&self) -> ErrorClass {
        match self {
            ForwardError::Secret(e) => e.class(),
            ForwardError::SecretValue(_) | ForwardError::Refused { .. } => ErrorClass::NonRetryable,
            ForwardError::Unavailable { .. } => ErrorClass::Retryable,
        }
    }
}

/// One post's result: the reply, and what to say of it.
struct Posted {
    reply: Reply,
    status: u16,
    answer: String,
}

/// Slack answers in a word or a sentence; more is not worth keeping.
const MAX_ANSWER_CHARS: usize = 200;

/// The TLS configuration of the webhook posts: rustls on aws-lc-rs, trusting Mozilla's roots as compiled into
/// `webpki-roots` (the set a browser trusts; Slack's certificate may come from any public authority). reqwest's
/// default would read and parse the platform's certificate store instead, 3-4 ms of every cold start (measured).
fn webhook_tls() -> Result<rustls::ClientConfig, ConfigError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::invalid("(TLS)", "rustls", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Forward {
    /// Builds the forwarder over a Secrets Manager client.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new(
        secrets: aws_sdk_secretsmanager::Client,
        config: Config,
    ) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(webhook_tls()?)
            .timeout(config.timeout)
            // A webhook does not redirect; following one would send the notice somewhere the secret never named.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::invalid("POST_TIMEOUT_MS", "", e.to_string()))?;
        Ok(Forward {
            secrets,
            http,
            config,
            cached: Mutex::new(None),
            last_post: Mutex::new(None),
        })
    }

    /// Posts every notice of the delivery.
    ///
    /// # Errors
    /// The first notice that could not be posted (the delivery is retried whole; Slack has no idempotency key,
    /// and SNS gives one record per delivery).
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, event: SnsEvent) -> Result<Outcome, ForwardError> {
        let mut outcome = Outcome {
            posted: 0,
            unconfigured: 0,
        };
        for record in event.records {
            let payload =
                slack::payload(&incoming(&record.sns), self.config.dashboard_url.as_deref());
            let result = self.deliver(&payload).await;
            let counted = match &result {
                Ok(true) => "posted",
                Ok(false) => "unconfigured",
                Err(_) => "failed",
            };
            metrics::counter!(CHAT_POSTS.name, dimension::OUTCOME => counted).increment(1);
            match result? {
                true => outcome.posted += 1,
                false => outcome.unconfigured += 1,
            }
        }
        Ok(outcome)
    }

    /// Posts one payload: `true` when posted, `false` when no webhook is set.
    #[tracing::instrument(skip_all)]
    async fn deliver(&self, payload: &serde_json::Value) -> Result<bool, ForwardError> {
        let (mut webhook, mut fresh) = self.webhook(false).await?;
        let mut attempt = 1;
        loop {
            let Webhook::Url(url) = &webhook else {
                tracing::warn!("no webhook is set in the secret: the notice is not forwarded");
                return Ok(false);
            };
            let posted = self.post(url, payload).await;
            match posted.reply {
                Reply::Delivered => return Ok(true),
                // A rotation revokes the old webhook: read the secret again, once, before giving up.
                Reply::Revoked if !fresh => {
                    tracing::info!(
                        status = posted.status,
                        "webhook revoked: re-reading the secret"
                    );
                    (webhook, fresh) = self.webhook(true).await?;
                }
                Reply::Revoked | Reply::Refused => {
                    return Err(ForwardError::Refused {
                        host: url.host().to_owned(),
                        status: posted.status,
                        answer: posted.answer,
                    });
                }
                Reply::Retry { after } => {
                    let last = if posted.status == 0 {
                        posted.answer
                    } else {
                        format!("HTTP {} {}", posted.status, posted.answer)
                    };
                    let wait = webhook::wait(attempt, self.config.backoff, after);
                    let Some(wait) = wait.filter(|_| attempt < self.config.attempts) else {
                        return Err(ForwardError::Unavailable {
                            host: url.host().to_owned(),
                            attempts: attempt,
                            last,
                        });
                    };
                    tracing::warn!(attempt, %last, wait_ms = wait.as_millis() as u64, "post failed: retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The webhook, from the cache while it is fresh (or read now when `reread`), and whether it was read by
    /// this call.
    #[tracing::instrument(skip_all)]
    async fn webhook(&self, reread: bool) -> Result<(Webhook, bool), ForwardError> {
        let mut cached = self.cached.lock().await;
        // "Not set" is never trusted from the cache: the first notices after an administrator sets the webhook
        // are posted, not skipped for the cache's lifetime.
        if let Some((webhook @ Webhook::Url(_), read_at)) = cached.as_ref()
            && !reread
            && read_at.elapsed() < self.config.secret_ttl
        {
            return Ok((webhook.clone(), false));
        }
        let id = &self.config.secret_id;
        let value = self
            .secrets
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetSecretValue", id, e))?;
        let webhook = webhook::parse_secret(value.secret_string().unwrap_or_default())?;
        *cached = Some((webhook.clone(), Instant::now()));
        Ok((webhook, true))
    }

    /// One post, after waiting for its turn.
    #[tracing::instrument(skip_all)]
    async fn post(&self, url: &WebhookUrl, payload: &serde_json::Value) -> Posted {
        let mut last_post = self.last_post.lock().await;
        let wait = webhook::pace(last_post.map(|t| t.elapsed()), self.config.interval);
        if wait > Duration::ZERO {
            tokio::time::sleep(wait).await;
        }
        let sent = self.http.post(url.url().clone()).json(payload).send().await;
        *last_post = Some(Instant::now());
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let answer = response.text().await.unwrap_or_default();
                Posted {
                    reply: webhook::classify(status, retry_after.as_deref()),
                    status,
                    answer: guardrails_core::notice::cut(answer.trim(), MAX_ANSWER_CHARS),
                }
            }
            // No answer (refused connection, timeout): worth another try. reqwest's message names the URL,
            // which is a credential: only the kind of failure is kept.
            Err(error) => Posted {
                reply: Reply::Retry { after: None },
                status: 0,
                answer: transport_failure(&error).to_owned(),
            },
        }
    }
}

fn transport_failure(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "no answer within the timeout"
    } else if error.is_connect() {
        "the connection failed"
    } else {
        "the request failed"
    }
}

/// What one SNS message says: its subject, body and `severity` and `kind` attributes, read by [`message::read`].
pub fn incoming(sns: &SnsMessage) -> Incoming {
    let attribute = |name: &str| sns.message_attributes.get(name).map(|a| a.value.as_str());
    message::read(
        sns.subject.as_deref(),
        &sns.message,
        attribute("severity"),
        attribute("kind"),
    )
}

impl Function for Forward {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = SnsEvent;
    type Response = Outcome;
    type Error = ForwardError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        Forward::new(aws_sdk_secretsmanager::Client::new(sdk), config)
    }

    fn describe_metrics() {
        metrics::describe_counter!(
            CHAT_POSTS.name,
            metrics::Unit::Count,
            "Notices the Slack forwarder handled, by outcome"
        );
    }

    async fn invoke(&self, event: SnsEvent, _: Invocation<'_>) -> Result<Outcome, ForwardError> {
        self.handle(event).await
    }

    fn describe(outcome: &Outcome) -> String {
        match (outcome.posted, outcome.unconfigured) {
            (0, 0) => "nothing to post".to_owned(),
            (posted, 0) => format!("{posted} notice(s) posted to Slack"),
            (_, skipped) => format!("{skipped} notice(s) not forwarded: no webhook is set"),
        }
    }
}
