//! The core publishers and error classification against the emulator, through the real SDK.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use guardrails_core::domain::{RetrainingCause, RetrainingRequested, SOURCE};
use guardrails_core::{AwsError, ErrorClass, EventPublisher, Notice, Notifier, Severity, aws};
use testkit::{BusProbe, TopicProbe, emulator};

#[tokio::test]
async fn notice_reaches_the_topic_with_subject_body_and_filter_attributes() {
    let sdk = emulator().sdk_config().await;
    let probe = TopicProbe::create(&sdk).await;
    let notifier = Notifier::from_sdk(&sdk, &probe.topic_arn);
    let notice = Notice {
        severity: Severity::Critical,
        kind: guardrails_core::NoticeKind::DriftModelQuality,
        title: "Rollback: tickets-classifier v7 → v6\nafter weighted_f1 alarm".into(),
        body: "weighted_f1 fell to 0.74 (threshold 0.80).".into(),
        details: serde_json::json!({"from": 7, "to": 6}),
    };

    let message_id = notifier.send(&notice).await.unwrap();

    let received = probe.notices(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let envelope = &received[0];
    assert_eq!(envelope["MessageId"], message_id.as_str());
    assert_eq!(
        envelope["Subject"],
        "[CRITICAL] Rollback: tickets-classifier v7 → v6 after weighted_f1 alarm"
    );
    // A queue is neither e-mail nor SMS: it receives the default message, the chat notification.
    let message: serde_json::Value =
        serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["source"], "custom");
    assert_eq!(
        message["content"]["description"],
        "weighted_f1 fell to 0.74 (threshold 0.80)."
    );
    let details = message["metadata"]["additionalContext"]["details"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(details).unwrap()["to"],
        6
    );
    let attributes = &envelope["MessageAttributes"];
    assert_eq!(attributes["severity"]["Value"], "critical");
    assert_eq!(attributes["kind"]["Value"], "drift-model-quality");
}

#[tokio::test]
async fn domain_event_reaches_a_rule_matching_source_and_detail_type() {
    let sdk = emulator().sdk_config().await;
    let probe = BusProbe::create(
        &sdk,
        &serde_json::json!({"source": [SOURCE], "detail-type": ["Retraining Requested"]}),
    )
    .await;
    let publisher = EventPublisher::from_sdk(&sdk, &probe.bus_name);
    let detail = RetrainingRequested {
        cause: RetrainingCause::ModelQuality,
        reason: "weighted_f1 below 0.80".into(),
        alarm_name: Some("drift-model-quality".into()),
        model_package_group: None,
    };

    publisher.publish(&detail, &[]).await.unwrap();

    let events = probe.events(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let parsed =
        guardrails_core::domain::envelope_from_value::<RetrainingRequested>(events[0].clone())
            .unwrap();
    assert_eq!(parsed.detail, detail);
}

#[tokio::test]
async fn publishing_to_a_missing_bus_is_a_classified_error() {
    let sdk = emulator().sdk_config().await;
    let publisher = EventPublisher::from_sdk(&sdk, testkit::unique_name("no-such-bus"));
    let detail = RetrainingRequested {
        cause: RetrainingCause::Manual,
        reason: "test".into(),
        alarm_name: None,
        model_package_group: None,
    };
    let error = publisher.publish(&detail, &[]).await.unwrap_err();
    assert_eq!(error.operation, "PutEvents");
    assert_eq!(error.class, ErrorClass::NonRetryable, "{error}");
}

#[tokio::test]
async fn sdk_errors_are_classified_by_cause() {
    // A service answer about the request (no such bucket) is permanent.
    let sdk = emulator().sdk_config().await;
    let s3 = aws::s3_client(&sdk);
    let bucket = testkit::unique_name("missing");
    let err = s3.head_bucket().bucket(&bucket).send().await.unwrap_err();
    let error = AwsError::from_sdk("HeadBucket", &bucket, err);
    assert_eq!(error.class, ErrorClass::NonRetryable, "{error}");

    // Nobody listening is transient: the SDK could not dispatch the request.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = sdk
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{closed}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let err = aws::s3_client(&unreachable)
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_err();
    let error = AwsError::from_sdk("HeadBucket", &bucket, err);
    assert_eq!(error.class, ErrorClass::Retryable, "{error}");
}

#[tokio::test]
async fn an_object_is_read_line_by_line_and_a_line_past_the_limit_is_skipped_not_held() {
    use guardrails_core::ObjectRef;
    use guardrails_core::s3::{Line, for_each_line};
    let sdk = emulator().sdk_config().await;
    let bucket = testkit::KmsBucket::create(&sdk, "lines").await;
    let s3 = aws::s3_client(&sdk);
    // Three lines, a blank one, one of 5,000 bytes with no break before the next, and a last without a break.
    let long = "x".repeat(5_000);
    let body = format!("{{\"a\": 1}}\n\n  \n{long}\n{{\"b\": 2}}\n{{\"c\": 3}}");
    s3.put_object()
        .bucket(&bucket.name)
        .key("capture/part-0.jsonl")
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
    let object = ObjectRef::new(&bucket.name, "capture/part-0.jsonl");
    let mut seen = Vec::new();
    for_each_line(&s3, &object, 1_024, |line| {
        seen.push(match line {
            Line::Text(text) => String::from_utf8_lossy(text).trim_end().to_owned(),
            Line::TooLong => "(too long)".to_owned(),
        });
    })
    .await
    .unwrap();
    assert_eq!(
        seen,
        [r#"{"a": 1}"#, "(too long)", r#"{"b": 2}"#, r#"{"c": 3}"#]
    );
    let missing = ObjectRef::new(&bucket.name, "capture/none.jsonl");
    let error = for_each_line(&s3, &missing, 1_024, |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        guardrails_core::Classify::class(&error),
        ErrorClass::NonRetryable,
        "{error}"
    );
}
