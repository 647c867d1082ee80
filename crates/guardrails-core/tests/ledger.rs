//! The ledger on the emulator: what a run pins is every entry up to its start, oldest first, and an entry that does
//! not read stops the pinning instead of being skipped.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use guardrails_core::ledger::{Copy, Entry, Ledger, LedgerError};
use guardrails_core::{Classify, ErrorClass, ObjectRef, aws};
use testkit::{KmsBucket, emulator};

fn entry(id: &str, time: DateTime<Utc>, rows: u64) -> Entry {
    Entry {
        id: id.to_owned(),
        time,
        dataset: "tickets".to_owned(),
        rows,
        copy: Some(Copy {
            object: ObjectRef::new("ingested", format!("tickets/{id}/a.csv")),
            bytes: 10,
            sha256: Some("c2hhMjU2".to_owned()),
            contract: None,
            profile: None,
        }),
    }
}

#[tokio::test]
async fn entries_up_to_a_second_are_read_back_in_order_and_a_bad_one_is_an_error() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let s3 = aws::s3_client(&sdk);
    let ledger = Ledger::new(s3.clone(), &bucket.name, "ledger/");
    let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
    let written = [
        entry("a", start - Duration::minutes(5), 100),
        entry("b", start, 200),
        entry("c", start + Duration::seconds(1), 300),
    ];
    for e in &written {
        assert!(ledger.record(e).await.unwrap());
        assert!(
            !ledger.record(e).await.unwrap(),
            "a second record is refused"
        );
    }
    // Another dataset's entry never mixes in.
    let mut other = entry("o", start - Duration::minutes(1), 7);
    other.dataset = "emails".to_owned();
    ledger.record(&other).await.unwrap();

    let pinned = ledger.entries("tickets", start).await.unwrap();
    assert_eq!(
        pinned,
        written[..2],
        "up to and including the start's second"
    );
    assert_eq!(
        ledger
            .entries("tickets", start - Duration::hours(1))
            .await
            .unwrap(),
        []
    );
    assert_eq!(ledger.rows_since("tickets", None).await.unwrap(), 600);

    s3.put_object()
        .bucket(&bucket.name)
        .key("ledger/tickets/2026-12-01T09:00:00Z_5_garbage.json")
        .body(b"not an entry".to_vec().into())
        .send()
        .await
        .unwrap();
    let error = ledger.entries("tickets", start).await.unwrap_err();
    assert!(matches!(error, LedgerError::Corrupt { .. }), "{error}");
    assert_eq!(error.class(), ErrorClass::NonRetryable);
}
