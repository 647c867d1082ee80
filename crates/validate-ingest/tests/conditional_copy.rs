//! The copy is pinned to the bytes the notification announced (`x-amz-copy-source-if-match`). The emulator
//! ignores that header, so S3's answer for a replaced object (412 PreconditionFailed) comes from
//! `aws-smithy-mocks`; the bus is the emulator's, to show nothing is announced.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use aws_sdk_s3::error::ErrorMetadata;
use aws_sdk_s3::operation::copy_object::CopyObjectError;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use guardrails_core::{CommonConfig, EventPublisher};
use testkit::{BusProbe, emulator};
use validate_ingest::{Config, Ingest};

const ANNOUNCED_ETAG: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn object_replaced_since_the_notification_is_skipped_and_not_announced() {
    let sdk = emulator().sdk_config().await;
    let bus = BusProbe::create(&sdk, &serde_json::json!({"source": ["mlops.guardrails"]})).await;
    let copy = mock!(aws_sdk_s3::Client::copy_object)
        .match_requests(|req| req.copy_source_if_match() == Some(ANNOUNCED_ETAG))
        .then_error(|| {
            CopyObjectError::generic(
                ErrorMetadata::builder()
                    .code("PreconditionFailed")
                    .message("At least one of the pre-conditions you specified did not hold")
                    .build(),
            )
        });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&copy]);
    let config = Config {
        common: CommonConfig {
            metrics_namespace: "GuardrailsTest".into(),
            event_bus_name: bus.bus_name.clone(),
            notice_topic_arn: None,
        },
        ingested_bucket: "ingested".into(),
    };
    let ingest = Ingest::new(s3, EventPublisher::from_sdk(&sdk, &bus.bus_name), config);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/s3-object-created.json"
    );
    let event: S3Event = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        event.records[0].s3.object.e_tag.as_deref(),
        Some(ANNOUNCED_ETAG)
    );

    let summary = ingest.handle(event).await.unwrap();

    assert_eq!(copy.num_calls(), 1, "the copy carried the announced ETag");
    assert!(summary.ingested.is_empty());
    assert_eq!(summary.skipped.len(), 1, "{summary:?}");
    assert!(
        summary.skipped[0]
            .reason
            .contains("changed after this notification"),
        "{summary:?}"
    );
    assert!(bus.events(1, Duration::from_secs(2)).await.is_empty());
}
