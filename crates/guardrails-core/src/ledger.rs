//! The new-data ledger: one small object per validated dataset, in the state bucket, named by the time it was
//! validated, so "rows since the last successful training" is one listing that starts after that time.
//!
//! validate-ingest writes it (the function that validated the rows), with `If-None-Match: *`, so a redelivery
//! counts once; trigger-training only reads it. An event on the bus claiming new rows (which a person allowed to
//! invoke trigger-training could forge) therefore changes no count: only a validated file does.

use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::AwsError;
use crate::s3::{ObjectRef, put_if_absent};

/// Key timestamps sort as text in time order (UTC, fixed width).
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Default key prefix of the ledger in the state bucket (`LEDGER_PREFIX`).
pub const DEFAULT_PREFIX: &str = "ledger/";

/// The ledger of every dataset under one bucket and prefix (`<prefix><dataset>/<time>_<rows>_<id>.json`).
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

    fn dataset_prefix(&self, dataset: &str) -> String {
        format!("{}{dataset}/", self.prefix)
    }

    /// Records `rows` new rows of `dataset`, validated at `time` (the upload identified by `id`). Returns
    /// `false` when this upload was recorded before.
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
            self.dataset_prefix(dataset),
            time.format(TIME_FORMAT)
        );
        let body = json!({ "id": id, "time": time, "dataset": dataset, "rows": rows });
        put_if_absent(
            &self.s3,
            &ObjectRef::new(&self.bucket, key),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Rows of `dataset` recorded strictly after the second `since` (all rows when `None`). A dataset validated
    /// in the same second as the training start is left out: it was in the bucket before, so that training read
    /// it.
    ///
    /// # Errors
    /// The classified S3 error.
    pub async fn rows_since(
        &self,
        dataset: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<u64, AwsError> {
        let prefix = self.dataset_prefix(dataset);
        // '~' sorts after '_' and every digit: the listing starts after every key of that second.
        let start_after = since.map(|t| format!("{prefix}{}~", t.format(TIME_FORMAT)));
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .set_start_after(start_after)
            .into_paginator()
            .send();
        let mut rows = 0u64;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                AwsError::from_sdk("ListObjectsV2", format!("s3://{}/{prefix}", self.bucket), e)
            })?;
            for object in page.contents() {
                match object.key().and_then(|k| rows_in(k, &prefix)) {
                    Some(n) => rows = rows.saturating_add(n),
                    None => {
                        tracing::warn!(key = ?object.key(), "ledger entry without a row count ignored");
                    }
                }
            }
        }
        Ok(rows)
    }
}

/// The row count a ledger key carries: `<prefix><time>_<rows>_<id>.json`.
fn rows_in(key: &str, prefix: &str) -> Option<u64> {
    key.strip_prefix(prefix)?.split('_').nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_count_is_read_from_the_key() {
        let table = [
            (
                "ledger/tickets/2026-12-01T10:00:00Z_1200_abc.json",
                Some(1200),
            ),
            ("ledger/tickets/2026-12-01T10:00:00Z_x_abc.json", None),
            ("ledger/other/2026-12-01T10:00:00Z_5_abc.json", None),
            ("ledger/tickets/garbage", None),
        ];
        for (key, rows) in table {
            assert_eq!(rows_in(key, "ledger/tickets/"), rows, "{key}");
        }
    }
}
