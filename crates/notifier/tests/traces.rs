//! The spans of one invocation, on the emulator: the notifier handles an alarm that pages, through the same
//! `invoke_traced` its Lambda entry point calls, with the X-Ray trace header Lambda gives an actively traced
//! invocation; the spans are read back from an in-memory exporter.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_sdk_sqs::Client as Sqs;
use chrono::{TimeDelta, Utc};
use guardrails_core::function::invoke_traced;
use guardrails_core::state::StateStore;
use guardrails_core::{Notifier, traces};
use notifier::Notify;
use notifier::decide::Project;
use notifier::digest::Windows;
use notifier::held::Digests;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use testkit::{KmsBucket, TopicProbe, emulator, fixture, queue_with_arn, unique_name};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

/// What Lambda passes as `Lambda-Runtime-Trace-Id`: the trace it started, and its function segment, the parent.
const HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=16f3a795:0";

async fn notify() -> Notify {
    let sdk = emulator().sdk_config().await;
    let state = KmsBucket::create(&sdk, "state").await;
    let topic = TopicProbe::create(&sdk).await;
    let sqs = Sqs::new(&sdk);
    let (queue_url, _) = queue_with_arn(&sqs, &unique_name("digests"), None)
        .await
        .unwrap();
    Notify::new(
        Notifier::new(aws_sdk_sns::Client::new(&sdk), &topic.topic_arn),
        Digests::new(
            StateStore::new(aws_sdk_s3::Client::new(&sdk), &state.name),
            sqs,
            &queue_url,
            Windows {
                quarantine: TimeDelta::seconds(60),
                alarm: TimeDelta::seconds(600),
            },
            Duration::from_secs(90),
        ),
        Project {
            name: "p".into(),
            drift_alarm_prefix: Some("p-drift-".into()),
        },
    )
}

/// The span `span` descends from, one generation up.
fn parent<'a>(spans: &'a [SpanData], span: &SpanData) -> Option<&'a SpanData> {
    spans
        .iter()
        .find(|s| s.span_context.span_id() == span.parent_span_id)
}

/// The names of the spans above `span`, nearest first.
fn ancestors<'a>(spans: &'a [SpanData], span: &SpanData) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut up = parent(spans, span);
    while let Some(span) = up {
        names.push(span.name.as_ref());
        up = parent(spans, span);
    }
    names
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}: {:?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_ref()).collect()
}

/// A notifier on the emulator, and from now on this thread's spans, kept in the exporter: the world's own setup
/// calls are not traced, only what the test invokes.
async fn traced() -> (Notify, InMemorySpanExporter, DefaultGuard) {
    let notify = notify().await;
    let exporter = InMemorySpanExporter::default();
    let provider = traces::provider_with(exporter.clone(), "notifier");
    let subscriber = tracing_subscriber::registry().with(traces::layer(&provider));
    (
        notify,
        exporter,
        tracing::subscriber::set_default(subscriber),
    )
}

#[tokio::test]
async fn one_invocation_is_one_trace_of_its_steps_and_aws_calls_under_the_lambda_segment() {
    let (notify, exporter, _traced) = traced().await;
    let mut event = fixture("alarm-insufficient-data.json");
    event["id"] = unique_name("alarm").into();
    event["time"] = Utc::now().to_rfc3339().into();
    event["detail"]["alarmName"] = "p-deploy-errors".into();
    event["detail"]["state"]["value"] = "ALARM".into();
    event["detail"]["previousState"]["value"] = "OK".into();
    let answer = invoke_traced(&notify, event, "request-1", Some(HEADER))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&answer).unwrap()["outcome"],
        "notified",
        "{:?}",
        serde_json::to_value(&answer)
    );

    let spans = exporter.get_finished_spans().unwrap();
    // The invocation joins Lambda's trace, under the function segment the header names.
    let invocation = named(&spans, "notifier");
    assert_eq!(
        invocation.span_context.trace_id(),
        TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap()
    );
    assert_eq!(
        invocation.parent_span_id,
        SpanId::from_hex("53995c3f42cd8ad8").unwrap()
    );
    // Every span is in that trace, and every one but the invocation has its parent among them.
    for span in &spans {
        assert_eq!(
            span.span_context.trace_id(),
            invocation.span_context.trace_id(),
            "{}",
            span.name
        );
        if span.name != "notifier" {
            assert!(
                parent(&spans, span).is_some(),
                "{} has no parent in {:?}",
                span.name,
                names(&spans)
            );
        }
    }
    // The handler's steps: `handle` under the invocation, `handle_at` under `handle`.
    assert_eq!(ancestors(&spans, named(&spans, "handle")), ["notifier"]);
    assert_eq!(
        ancestors(&spans, named(&spans, "handle_at")),
        ["handle", "notifier"]
    );
    // The AWS call, the SDK's own span, under the step that made it, with what X-Ray reads to show it.
    let publish = named(&spans, "SNS.Publish");
    assert!(
        ancestors(&spans, publish).ends_with(&["handle_at", "handle", "notifier"]),
        "{:?}",
        ancestors(&spans, publish)
    );
    let attribute = |span: &SpanData, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute(publish, "rpc.system").as_deref(), Some("aws-api"));
    assert_eq!(attribute(publish, "rpc.method").as_deref(), Some("Publish"));
    assert_eq!(
        attribute(invocation, "faas.invocation_id").as_deref(),
        Some("request-1")
    );
    // The SDK's inner debug spans (attempts, serialization) stay out of the trace.
    assert!(
        !names(&spans)
            .iter()
            .any(|n| n.contains("attempt") || *n == "serialization"),
        "{:?}",
        names(&spans)
    );
}

#[tokio::test]
async fn a_failed_invocation_is_marked_failed() {
    let (notify, exporter, _traced) = traced().await;
    let refused = invoke_traced(
        &notify,
        serde_json::json!({"not": "an event"}),
        "request-2",
        Some(HEADER),
    )
    .await;
    assert!(refused.is_err());
    let spans = exporter.get_finished_spans().unwrap();
    let invocation = named(&spans, "notifier");
    assert!(
        matches!(
            invocation.status,
            opentelemetry::trace::Status::Error { .. }
        ),
        "{:?}",
        invocation.status
    );
}
