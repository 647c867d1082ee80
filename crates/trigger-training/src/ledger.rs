//! The new-data ledger: one small S3 object per validated dataset, named by event time, so "rows since the last
//! successful training" is one listing that starts after that time. Written with `If-None-Match: *`, so a
//! redelivered event is counted once.

use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use guardrails_core::s3::put_if_absent;
use guardrails_core::{AwsError, ObjectRef};
use serde_json::json;

/// Key timestamps sort as text in time order (UTC, fixed width).
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The ledger under one bucket and prefix.
#[derive(Debug, Clone)]
pub struct Ledger {
    s3: Client,
    bucket: String,
    prefix: String,
}

impl Ledger {
    /// A ledger at `s3://bucket/prefix`.
    pub fn new(s3: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Ledger {
            s3,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// Records `rows` new rows announced at `time` by event `id`. Returns `false` when this event was recorded
    /// before.
    ///
    /// # Errors
    /// The classified S3 error.
    pub async fn record(
        &self,
        id: &str,
        time: DateTime<Utc>,
        dataset: &str,
        rows: u64,
    ) -> Result<bool, AwsError> {
        // `<time>_<rows>_<id>.json`: the listing alone gives the count, no object needs reading.
        let key = format!(
            "{}{}_{rows}_{id}.json",
            self.prefix,
            time.format(TIME_FORMAT)
        );
        let body = json!({ "eventId": id, "time": time, "dataset": dataset, "rows": rows });
        put_if_absent(
            &self.s3,
            &ObjectRef::new(&self.bucket, key),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Rows recorded strictly after the second `since` (all rows when `None`). An event in the same second as
    /// the training start is left out: its data was in the bucket before the event, so that training read it.
    ///
    /// # Errors
    /// The classified S3 error.
    pub async fn rows_since(&self, since: Option<DateTime<Utc>>) -> Result<u64, AwsError> {
        // '~' sorts after '_' and every digit: the listing starts after every key of that second.
        let start_after = since.map(|t| format!("{}{}~", self.prefix, t.format(TIME_FORMAT)));
        let mut rows = 0u64;
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .set_start_after(start_after.clone())
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk(
                        "ListObjectsV2",
                        format!("s3://{}/{}", self.bucket, self.prefix),
                        e,
                    )
                })?;
            for object in page.contents() {
                let rows_here = object
                    .key()
                    .and_then(|k| k.strip_prefix(self.prefix.as_str()))
                    .and_then(|name| name.split('_').nth(1))
                    .and_then(|n| n.parse::<u64>().ok());
                match rows_here {
                    Some(n) => rows = rows.saturating_add(n),
                    None => {
                        tracing::warn!(key = ?object.key(), "ledger entry without a row count ignored")
                    }
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(rows);
            }
        }
    }
}
