//! slack-forwarder against the emulator's Secrets Manager and a real HTTP server on 127.0.0.1 standing in for
//! Slack: a notice published to a real topic arrives as blocks; server errors and rate limits are retried; the
//! last failed attempt fails the invocation as retryable (Lambda's retries and the on-failure destination
//! follow: the local loop shows the record there); a rotated secret is read again when the old webhook answers
//! "revoked"; no webhook set is no failure; a refused payload is not retried.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_lambda_events::sns::SnsEvent;
use guardrails_core::{Classify, Env, ErrorClass, Notice, NoticeKind, Notifier, Severity};
use serde_json::Value;
use slack_forwarder::{Config, Forward, ForwardError, Outcome};
use testkit::{TopicProbe, emulator, sns_event, unique_name};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DASHBOARD: &str = "https://console.aws.amazon.com/cloudwatch/home#dashboards:name=p";

struct World {
    secrets: aws_sdk_secretsmanager::Client,
    secret: String,
    server: MockServer,
    forward: Forward,
    topic: TopicProbe,
    notifier: Notifier,
}

impl World {
    /// A secret holding `{"url": <server>/hook}`, the forwarder reading it, and a topic to publish notices to.
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        let server = MockServer::start().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let secret = unique_name("webhook");
        secrets
            .create_secret()
            .name(&secret)
            .secret_string(webhook_json(&server, "/hook"))
            .send()
            .await
            .unwrap();
        let topic = TopicProbe::create(&sdk).await;
        World {
            forward: forwarder(&secrets, &secret),
            notifier: Notifier::from_sdk(&sdk, topic.topic_arn.clone()),
            secrets,
            secret,
            server,
            topic,
        }
    }

    /// Publishes `notice` to the topic and hands what SNS delivered to the forwarder.
    async fn forward(&self, notice: &Notice) -> Result<Outcome, ForwardError> {
        self.notifier.send(notice).await.unwrap();
        let envelope = self.topic.notices(1, Duration::from_secs(10)).await;
        assert_eq!(envelope.len(), 1, "one notice on the topic");
        let event = sns_event(&envelope[0], "arn:aws:sns:us-east-1:1:t:sub");
        let event: SnsEvent = serde_json::from_value(event).unwrap();
        self.forward.handle(event).await
    }

    async fn rotate(&self, value: &str) {
        self.secrets
            .put_secret_value()
            .secret_id(&self.secret)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }

    /// A new forwarder (a cold start: nothing cached).
    fn restart(self) -> Self {
        World {
            forward: forwarder(&self.secrets, &self.secret),
            ..self
        }
    }

    /// The bodies the server received at `at`, in order.
    async fn received(&self, at: &str) -> Vec<Value> {
        let requests = self.server.received_requests().await.unwrap();
        requests
            .iter()
            .filter(|r| r.url.path() == at)
            .map(|r| r.body_json().unwrap())
            .collect()
    }
}

fn forwarder(secrets: &aws_sdk_secretsmanager::Client, secret: &str) -> Forward {
    let config = Config::from_env(&Env::from_pairs([
        ("WEBHOOK_SECRET_ID", secret),
        ("DASHBOARD_URL", DASHBOARD),
        ("POST_BACKOFF_MS", "20"),
        ("POST_INTERVAL_MS", "0"),
    ]))
    .unwrap();
    Forward::new(secrets.clone(), config).unwrap()
}

fn webhook_json(server: &MockServer, at: &str) -> String {
    serde_json::json!({"url": format!("{}{at}", server.uri()), "token": "generated"}).to_string()
}

fn answer(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(body)
}

async fn respond(world: &World, at: &str, times: u64, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(response)
        .up_to_n_times(times)
        .mount(&world.server)
        .await;
}

fn quarantined() -> Notice {
    Notice {
        severity: Severity::Warning,
        kind: NoticeKind::DatasetQuarantined,
        title: "Dataset quarantined: tickets <2026-12>.csv".into(),
        body: "Row 3 broke the contract: label \"spam\" is not allowed.".into(),
        details: serde_json::json!({"key": "raw/tickets.csv", "errors": 1}),
    }
}

fn texts(payload: &Value) -> Vec<String> {
    payload["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["text"]["text"]
                .as_str()
                .or_else(|| b["elements"][0]["text"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_notice_from_the_topic_is_posted_as_blocks_with_its_runbook_and_dashboard() {
    let world = World::new().await;
    respond(&world, "/hook", 1, answer(200, "ok")).await;
    let outcome = world.forward(&quarantined()).await.unwrap();
    assert_eq!(outcome.posted, 1);
    let posted = world.received("/hook").await;
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0]["text"], "[WARNING] Dataset quarantined: tickets &lt;2026-12&gt;.csv",
        "the notification text is mrkdwn too: what an uploader named is escaped"
    );
    let texts = texts(&posted[0]);
    assert_eq!(
        texts[0],
        ":large_orange_circle: Dataset quarantined: tickets <2026-12>.csv"
    );
    assert_eq!(
        texts[1],
        "Row 3 broke the contract: label \"spam\" is not allowed."
    );
    assert_eq!(
        texts[2],
        format!(
            "*warning*  ·  `dataset-quarantined`  ·  <{}|Runbook>  ·  <{DASHBOARD}|Dashboard>",
            NoticeKind::DatasetQuarantined.runbook()
        )
    );
    assert!(texts[3].contains("raw/tickets.csv"), "{}", texts[3]);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_until_the_post_goes_through() {
    let world = World::new().await;
    respond(&world, "/hook", 1, answer(500, "rollup_error")).await;
    let limited = answer(429, "rate_limited").insert_header("Retry-After", "1");
    respond(&world, "/hook", 1, limited).await;
    respond(&world, "/hook", 1, answer(200, "ok")).await;
    let started = std::time::Instant::now();
    let outcome = world.forward(&quarantined()).await.unwrap();
    // A lower bound only (a wait cannot be shorter than asked): the 429's Retry-After of 1 s was honoured, where
    // the backoff alone would have waited 40 ms.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(outcome.posted, 1);
    let posted = world.received("/hook").await;
    assert_eq!(posted.len(), 3, "a 500, a 429, then the post");
    assert!(
        posted.iter().all(|p| p == &posted[0]),
        "the same message each time"
    );
}

#[tokio::test]
async fn after_the_last_attempt_the_invocation_fails_as_retryable_without_naming_the_url() {
    let world = World::new().await;
    respond(&world, "/hook", 10, answer(503, "service unavailable")).await;
    let error = world.forward(&quarantined()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(
        matches!(error, ForwardError::Unavailable { attempts: 3, .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("HTTP 503 service unavailable"), "{text}");
    assert!(!text.contains("/hook"), "the URL is a credential: {text}");
    assert_eq!(world.received("/hook").await.len(), 3);
}

#[tokio::test]
async fn a_rotated_webhook_is_read_again_when_the_old_one_answers_revoked() {
    let world = World::new().await;
    respond(&world, "/hook", 1, answer(200, "ok")).await;
    respond(&world, "/hook", 10, answer(404, "no_service")).await;
    respond(&world, "/rotated", 10, answer(200, "ok")).await;
    // The first notice warms the cache (trusted for five minutes by default).
    world.forward(&quarantined()).await.unwrap();
    world.rotate(&webhook_json(&world.server, "/rotated")).await;
    let mut second = quarantined();
    second.title = "Second upload quarantined".into();
    let outcome = world.forward(&second).await.unwrap();
    assert_eq!(outcome.posted, 1);
    let old = world.received("/hook").await;
    let new = world.received("/rotated").await;
    assert_eq!(
        (old.len(), new.len()),
        (2, 1),
        "the old webhook refused, the new one took it"
    );
    assert_eq!(new[0]["text"], "[WARNING] Second upload quarantined");

    // Revoked, and the secret just read still names it: the notice is refused, not retried.
    world.rotate(&webhook_json(&world.server, "/hook")).await;
    let world = world.restart();
    let error = world.forward(&quarantined()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(error.to_string().contains("HTTP 404 no_service"), "{error}");
}

#[tokio::test]
async fn no_webhook_set_forwards_nothing_and_a_refused_payload_is_not_retried() {
    let world = World::new().await;
    world
        .rotate("{\"url\": \"https://example.invalid/replace-me\", \"token\": \"t\"}")
        .await;
    let outcome = world.forward(&quarantined()).await.unwrap();
    assert_eq!((outcome.posted, outcome.unconfigured), (0, 1));
    assert!(world.received("/hook").await.is_empty());

    world.rotate(&webhook_json(&world.server, "/hook")).await;
    let world = world.restart();
    respond(&world, "/hook", 10, answer(400, "invalid_payload")).await;
    let error = world.forward(&quarantined()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(error.to_string().contains("invalid_payload"), "{error}");
    assert_eq!(world.received("/hook").await.len(), 1);

    world
        .rotate("http://hooks.slack.com/services/T/B/token")
        .await;
    let world = world.restart();
    let error = world.forward(&quarantined()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable);
    assert!(error.to_string().contains("must use https"), "{error}");
    assert!(!error.to_string().contains("/services/"), "{error}");
}

#[tokio::test]
async fn a_webhook_that_cannot_be_reached_fails_as_retryable_without_naming_the_url() {
    let world = World::new().await;
    // A port nothing listens on: the connection is refused, each of the three attempts.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    world
        .rotate(&format!("http://127.0.0.1:{port}/services/T0/B0/token"))
        .await;
    let world = world.restart();
    let error = world.forward(&quarantined()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable);
    let text = error.to_string();
    assert!(text.contains("the connection failed"), "{text}");
    assert!(
        !text.contains("/services/") && !text.contains(&format!(":{port}")),
        "reqwest's own message names the URL, a credential: {text}"
    );
}
