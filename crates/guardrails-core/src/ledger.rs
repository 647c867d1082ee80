//! The new-data ledger: one small object per validated dataset, in the state bucket, named by the time it was
//! validated, so "rows since the last successful training" is one listing that starts after that time.
//!
//! validate-ingest writes it (the function that validated the rows), with `If-None-Match: *`, so a redelivery
//! counts once; trigger-training only reads it. An event on the bus claiming new rows (which a person allowed to
//! invoke trigger-training could forge) therefore changes no count: only a validated file does.

use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ContractRef;
use crate::error::AwsError;
use crate::s3::{ObjectRef, put_if_absent};

/// One validated file in the ledger: what a training run that includes it reads, pinned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The upload's identity (one per object version).
    pub id: String,
    /// When it was validated: its place in the ledger.
    pub time: DateTime<Utc>,
    /// The dataset.
    pub dataset: String,
    /// Its rows.
    pub rows: u64,
    /// The validated copy, with its version on a versioned bucket. Absent in entries written before copies were
    /// recorded: such an entry counts rows but cannot be trained on by manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<Copy>,
}

/// The validated copy of a file, as training reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Copy {
    /// Where (bucket, key, version).
    pub object: ObjectRef,
    /// Its size in bytes.
    pub bytes: u64,
    /// Base64 SHA-256 S3 computed while copying (a composite `…-N` checksum for a multipart copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The contract that passed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractRef>,
    /// The key of its text profile in the state bucket (see [`crate::baseline`]); absent in entries written
    /// before profiles were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The files of one training run, as trigger-training first pinned them (`manifests/<execution>.pins.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pins {
    /// The execution that trains on them.
    pub execution: String,
    /// The dataset.
    pub dataset: String,
    /// Files validated up to this second are in.
    pub until: DateTime<Utc>,
    /// The ledger entries, oldest first.
    pub entries: Vec<Entry>,
}

impl Pins {
    /// Rows in all files.
    pub fn rows(&self) -> u64 {
        self.entries.iter().map(|e| e.rows).sum()
    }
}

/// A ledger object that cannot be read as an [`Entry`].
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// An S3 call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// An entry's body broke off while it was read.
    #[error("ledger entry s3://{bucket}/{key} could not be read: {message}")]
    Read {
        /// The state bucket.
        bucket: String,
        /// The entry's key.
        key: String,
        /// Why.
        message: String,
    },
    /// An entry is not JSON of the entry's shape (it was written by something else, or altered).
    #[error("ledger entry s3://{bucket}/{key} is unreadable: {source}")]
    Corrupt {
        /// The state bucket.
        bucket: String,
        /// The entry's key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl crate::Classify for LedgerError {
    fn class(&self) -> crate::ErrorClass {
        match self {
            LedgerError::Aws(e) => e.class,
            LedgerError::Read { .. } => crate::ErrorClass::Retryable,
            LedgerError::Corrupt { .. } => crate::ErrorClass::NonRetryable,
        }
    }
}

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

    /// Records a validated file. Returns `false` when this upload was recorded before.
    ///
    /// # Errors
    /// The classified S3 error.
    pub async fn record(&self, entry: &Entry) -> Result<bool, AwsError> {
        // `<time>_<rows>_<id>.json`: the listing alone gives the count, no object needs reading.
        let key = format!(
            "{}{}_{}_{}.json",
            self.dataset_prefix(&entry.dataset),
            entry.time.format(TIME_FORMAT),
            entry.rows,
            entry.id
        );
        // An entry always serializes (strings, numbers and a time).
        let body = serde_json::to_vec(entry).unwrap_or_default();
        put_if_absent(&self.s3, &ObjectRef::new(&self.bucket, key), body).await
    }

    /// Every entry of `dataset` validated at or before the second `until`, oldest first: the files a training
    /// run started at `until` trains on. A file validated later is not in it, however long the run takes.
    ///
    /// # Errors
    /// The classified S3 error, or an entry that does not read.
    pub async fn entries(
        &self,
        dataset: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<Entry>, LedgerError> {
        let prefix = self.dataset_prefix(dataset);
        // '~' sorts after every character of a key's rest: the last key of that second sorts before it.
        let last = format!("{prefix}{}~", until.format(TIME_FORMAT));
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        // Keys list in order, so the listing stops at the first key past `until`.
        'listing: while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                AwsError::from_sdk("ListObjectsV2", format!("s3://{}/{prefix}", self.bucket), e)
            })?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                if *key > *last {
                    break 'listing;
                }
                keys.push(key.to_owned());
            }
        }
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            entries.push(self.read(key).await?);
        }
        Ok(entries)
    }

    async fn read(&self, key: String) -> Result<Entry, LedgerError> {
        let object = ObjectRef::new(&self.bucket, &key);
        let body = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", object.uri(), e))?
            .body
            .collect()
            .await
            .map_err(|e| LedgerError::Read {
                bucket: self.bucket.clone(),
                key: key.clone(),
                message: e.to_string(),
            })?
            .into_bytes();
        serde_json::from_slice(&body).map_err(|source| LedgerError::Corrupt {
            bucket: self.bucket.clone(),
            key,
            source,
        })
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
