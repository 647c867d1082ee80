//! Storms become digests, on the emulator: the notifier's real S3 state, SQS schedule and SNS topic, the clock
//! passed in so a window passes without waiting for it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, TimeDelta, Utc};
use guardrails_core::state::StateStore;
use guardrails_core::{Classify, ErrorClass, Notifier, Severity, aws};
use notifier::decide::Project;
use notifier::digest::Windows;
use notifier::held::Digests;
use notifier::{Notify, Outcome};
use serde_json::{Value, json};
use testkit::{
    Faults, KmsBucket, TopicProbe, When, emulator, fixture, queue_with_arn, unique_name,
};

const WINDOWS: Windows = Windows {
    quarantine: TimeDelta::seconds(60),
    alarm: TimeDelta::seconds(600),
};

struct World {
    sdk: aws::SdkConfig,
    state: KmsBucket,
    topic: TopicProbe,
    queue_url: String,
    t0: DateTime<Utc>,
}

impl World {
    async fn new() -> Self {
        let sdk = emulator().sdk_config().await;
        let state = KmsBucket::create(&sdk, "state").await;
        let topic = TopicProbe::create(&sdk).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (queue_url, _) = queue_with_arn(&sqs, &unique_name("digests"), None)
            .await
            .unwrap();
        World {
            sdk,
            state,
            topic,
            queue_url,
            t0: "2026-12-03T06:00:00Z".parse().unwrap(),
        }
    }

    fn notify_with(&self, faults: &Faults) -> Notify {
        Notify::new(
            Notifier::new(faults.sns(&self.sdk), &self.topic.topic_arn),
            Digests::new(
                StateStore::new(faults.s3(&self.sdk), &self.state.name),
                aws_sdk_sqs::Client::new(&self.sdk),
                &self.queue_url,
                WINDOWS,
                Duration::from_secs(90),
            ),
            Project {
                name: "p".into(),
                drift_alarm_prefix: Some("p-drift-".into()),
            },
        )
    }

    fn notify(&self) -> Notify {
        self.notify_with(&Faults::new())
    }

    fn at(&self, seconds: f64) -> DateTime<Utc> {
        self.t0 + TimeDelta::milliseconds((seconds * 1000.0) as i64)
    }

    /// How many looks were scheduled so far (delayed on the queue, as SQS holds them; nothing reads this queue
    /// here), and the look the queue would deliver.
    async fn scheduled_looks(&self) -> (usize, SqsEvent) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let delayed = sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .unwrap()
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessagesDelayed))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        (delayed, look_event())
    }

    /// The waiting notices' keys.
    async fn waiting(&self) -> Vec<String> {
        aws::s3_client(&self.sdk)
            .list_objects_v2()
            .bucket(&self.state.name)
            .prefix("notifier/held/")
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    async fn notices(&self, at_least: usize) -> Vec<Value> {
        let wait = if at_least == 0 { 1 } else { 5 };
        self.topic
            .notices(at_least.max(1), Duration::from_secs(wait))
            .await
    }
}

/// The look the digest queue would deliver for the group of `group`.
fn look_event_for(group: Value) -> SqsEvent {
    serde_json::from_value(json!({"Records": [{
        "messageId": unique_name("look"),
        "body": group.to_string(),
        "eventSource": "aws:sqs",
    }]}))
    .unwrap()
}

fn look_event() -> SqsEvent {
    look_event_for(json!({"kind": "dataset-quarantined", "subject": "tickets"}))
}

fn quarantined(i: usize) -> EventBridgeEvent<Value> {
    let mut event = fixture("dataset-quarantined.json");
    event["id"] = format!("event-{i}").into();
    let at: DateTime<Utc> = "2026-12-03T06:00:00Z".parse().unwrap();
    event["time"] = (at + TimeDelta::milliseconds(i as i64 * 300))
        .to_rfc3339()
        .into();
    event["detail"]["source"]["key"] = format!("tickets/f{i}.csv").into();
    serde_json::from_value(event).unwrap()
}

fn alarm(state: &str, previous: &str, at: DateTime<Utc>) -> EventBridgeEvent<Value> {
    let mut event = fixture("alarm-insufficient-data.json");
    event["id"] = unique_name("alarm").into();
    event["time"] = at.to_rfc3339().into();
    event["detail"]["alarmName"] = "p-deploy-errors".into();
    event["detail"]["state"]["value"] = state.into();
    event["detail"]["previousState"]["value"] = previous.into();
    serde_json::from_value(event).unwrap()
}

fn attribute<'a>(notice: &'a Value, name: &str) -> &'a str {
    notice["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_storm_of_quarantines_is_one_notice_listing_them() {
    let w = World::new().await;
    let notify = w.notify();
    for i in 0..100 {
        let outcome = notify
            .handle_at(quarantined(i), w.at(i as f64 * 0.5))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Held { .. }), "{outcome:?}");
    }
    // A redelivered event is kept once.
    notify.handle_at(quarantined(7), w.at(51.0)).await.unwrap();
    assert_eq!(w.waiting().await.len(), 100);
    assert!(
        w.notices(0).await.is_empty(),
        "nothing sent while the window is open"
    );
    let (delayed, look) = w.scheduled_looks().await;
    assert!(
        delayed >= 100,
        "each kept notice schedules a look, delayed: {delayed}"
    );

    let early = notify.look_batch(look.clone(), w.at(30.0)).await;
    assert!(early.batch_item_failures.is_empty(), "{early:?}");
    assert!(w.notices(0).await.is_empty(), "not due at 30 s");
    assert_eq!(w.waiting().await.len(), 100);

    let due = notify.look_batch(look.clone(), w.at(60.0)).await;
    assert!(due.batch_item_failures.is_empty(), "{due:?}");
    let notices = w.notices(2).await;
    assert_eq!(notices.len(), 1, "one notice for the storm: {notices:?}");
    assert_eq!(attribute(&notices[0], "kind"), "dataset-quarantined");
    assert_eq!(attribute(&notices[0], "severity"), "warning");
    assert_eq!(
        notices[0]["Subject"],
        "[WARNING] 100 uploads of tickets quarantined"
    );
    // The default message (what this queue, like a chat channel, receives) says it whole.
    let chat: Value = serde_json::from_str(notices[0]["Message"].as_str().unwrap()).unwrap();
    let text = chat["content"]["description"].as_str().unwrap();
    assert!(
        text.contains("Dataset quarantined: tickets / f0.csv: 97 rows"),
        "{text}"
    );
    assert!(
        text.contains("… and 80 more …\n  - 06:00:29 Dataset quarantined: tickets / f99.csv"),
        "{text}"
    );
    assert!(!text.ends_with('…'), "not cut: {text}");
    assert!(w.waiting().await.is_empty(), "sent notices no longer wait");

    // The other looks scheduled by the storm find nothing.
    notify.look_batch(look, w.at(110.0)).await;
    assert!(w.notices(0).await.is_empty(), "sent once");

    // An event redelivered after its group left is kept again under its old name; the look finds that name's job
    // done and drops it unsent, and a newer quarantine still gets its own notice.
    notify.handle_at(quarantined(0), w.at(120.0)).await.unwrap();
    notify
        .handle_at(quarantined(500), w.at(121.0))
        .await
        .unwrap();
    let (_, look) = w.scheduled_looks().await;
    notify.look_batch(look.clone(), w.at(200.0)).await;
    assert_eq!(w.waiting().await.len(), 1, "the redelivered one is dropped");
    assert!(w.notices(0).await.is_empty(), "and not sent again");
    // The newer one (06:02:30) is due a window after it happened.
    notify.look_batch(look, w.at(215.0)).await;
    let newer = w.notices(2).await;
    assert_eq!(newer.len(), 1, "{newer:?}");
    assert_eq!(
        newer[0]["Subject"],
        "[WARNING] Dataset quarantined: tickets / f500.csv"
    );
    assert!(w.waiting().await.is_empty());
}

#[tokio::test]
async fn a_flapping_alarm_is_one_notice_per_window_and_its_last_word_arrives() {
    let w = World::new().await;
    let notify = w.notify();
    let first = notify
        .handle_at(alarm("ALARM", "OK", w.at(0.0)), w.at(0.0))
        .await
        .unwrap();
    assert!(
        matches!(first, Outcome::Notified { .. }),
        "the first page is not held: {first:?}"
    );
    assert_eq!(w.notices(1).await.len(), 1);
    for (seconds, state, previous) in [
        (60.0, "OK", "ALARM"),
        (120.0, "ALARM", "OK"),
        (180.0, "OK", "ALARM"),
    ] {
        let outcome = notify
            .handle_at(alarm(state, previous, w.at(seconds)), w.at(seconds))
            .await
            .unwrap();
        assert_eq!(
            outcome_due(&outcome),
            Some(w.at(600.0)),
            "held until a window after the last notice: {outcome:?}"
        );
    }
    assert!(w.notices(0).await.is_empty());
    let look = look_event_for(json!({"kind": "function-failing", "subject": "p-deploy-errors"}));
    notify.look_batch(look.clone(), w.at(400.0)).await;
    assert!(
        w.notices(0).await.is_empty(),
        "not due before the window is out"
    );
    notify.look_batch(look, w.at(600.0)).await;
    let digest = w.notices(2).await;
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert_eq!(
        digest[0]["Subject"],
        "[INFO] p-deploy-errors changed 3 times; latest: Recovered: p-deploy-errors"
    );
    assert_eq!(
        attribute(&digest[0], "severity"),
        "info",
        "its last word: recovered"
    );

    // A page after that recovery does not wait out the window: a page never waits.
    let page = notify
        .handle_at(alarm("ALARM", "OK", w.at(650.0)), w.at(650.0))
        .await
        .unwrap();
    assert!(
        matches!(
            page,
            Outcome::Notified {
                severity: Severity::Critical,
                ..
            }
        ),
        "{page:?}"
    );
    assert_eq!(w.notices(1).await.len(), 1);
    // Flapping on from there is held again: its recovery, then another page after a page.
    for (seconds, state, previous) in [(660.0, "OK", "ALARM"), (670.0, "ALARM", "OK")] {
        let outcome = notify
            .handle_at(alarm(state, previous, w.at(seconds)), w.at(seconds))
            .await
            .unwrap();
        assert_eq!(outcome_due(&outcome), Some(w.at(1250.0)), "{outcome:?}");
    }
}

/// A page that arrives while changes of the same alarm wait (the last notice was not a page) takes them along, at
/// once, as one notice headed by the page.
#[tokio::test]
async fn a_page_leaves_at_once_with_what_waited_before_it() {
    let w = World::new().await;
    let notify = w.notify();
    for (seconds, state, previous) in [(0.0, "OK", "ALARM"), (5.0, "INSUFFICIENT_DATA", "ALARM")] {
        notify
            .handle_at(alarm(state, previous, w.at(seconds)), w.at(seconds))
            .await
            .unwrap();
    }
    assert_eq!(
        w.notices(1).await.len(),
        1,
        "the first recovery left at once"
    );
    let page = notify
        .handle_at(alarm("ALARM", "INSUFFICIENT_DATA", w.at(10.0)), w.at(10.0))
        .await
        .unwrap();
    assert!(matches!(page, Outcome::Notified { .. }), "{page:?}");
    let sent = w.notices(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(attribute(&sent[0], "severity"), "critical");
    assert!(
        sent[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] p-deploy-errors changed 2 times; latest: A function fails"),
        "{sent:?}"
    );
    assert!(w.waiting().await.is_empty());
}

fn outcome_due(outcome: &Outcome) -> Option<DateTime<Utc>> {
    match outcome {
        Outcome::Held { due, .. } => Some(*due),
        _ => None,
    }
}

#[tokio::test]
async fn a_look_that_dies_is_finished_by_the_next_delivery_without_a_second_notice() {
    let w = World::new().await;
    let faults = Faults::new();
    let notify = w.notify_with(&faults);
    for i in 0..3 {
        notify
            .handle_at(quarantined(i), w.at(i as f64))
            .await
            .unwrap();
    }
    let (_, look) = w.scheduled_looks().await;

    // SNS refuses: nothing sent, the look is redelivered.
    faults.fail("Publish", When::BeforeSend, 1);
    let failed = notify.look_batch(look.clone(), w.at(61.0)).await;
    assert_eq!(failed.batch_item_failures.len(), 1, "{failed:?}");
    assert!(w.notices(0).await.is_empty());

    // The digest leaves, then clearing the waiting notices fails: redelivered, it only clears.
    faults.fail("DeleteObject", When::BeforeSend, 1);
    let failed = notify.look_batch(look.clone(), w.at(62.0)).await;
    assert_eq!(failed.batch_item_failures.len(), 1, "{failed:?}");
    assert_eq!(w.notices(1).await.len(), 1, "the digest left");
    assert_eq!(
        w.waiting().await.len(),
        2,
        "the one whose delete failed, and the oldest, deleted last"
    );

    let done = notify.look_batch(look, w.at(63.0)).await;
    assert!(done.batch_item_failures.is_empty(), "{done:?}");
    assert!(w.waiting().await.is_empty());
    assert!(w.notices(0).await.is_empty(), "not sent a second time");
}

#[tokio::test]
async fn a_broken_event_or_look_is_refused() {
    let w = World::new().await;
    let notify = w.notify();
    let error = notify
        .handle_at(
            serde_json::from_value(json!({
                "id": "x", "detail-type": "Dataset Quarantined", "source": "mlops.guardrails",
                "detail": {"dataset": "tickets"}
            }))
            .unwrap(),
            w.at(0.0),
        )
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NonRetryable, "{error}");
    let refused = notify
        .look_batch(
            look_event_for(json!({"kind": "no-such-kind", "subject": "x"})),
            w.at(0.0),
        )
        .await;
    assert_eq!(refused.batch_item_failures.len(), 1);
}
