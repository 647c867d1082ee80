//! What the state bucket keeps about one upload: its job document (see `guardrails_core::state`), below both
//! the handler and the store so the stored format lives in one place.

use chrono::{DateTime, Utc};
use guardrails_core::domain::{DatasetQuarantined, DatasetValidated};
use serde::{Deserialize, Serialize};

/// The verdict placed and announced for an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Verdict {
    /// Valid: copied to the ingested bucket.
    Validated(DatasetValidated),
    /// Invalid (or refused): copied to quarantine.
    Quarantined(DatasetQuarantined),
}

/// The job document's data: the verdict once the copy and report are placed; a note when nothing was to do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestJob {
    /// Set once the copy and its report exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The valid copy's SHA-256 as S3 computed it while copying, for the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The state-bucket key of a valid file's text profile, stored before the verdict was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// When the verdict was placed: the time its rows enter the new-data ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_at: Option<DateTime<Utc>>,
    /// Why the upload needed nothing (replaced or deleted before it was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The effects of handling an upload, recorded in its job as each completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IngestStep {
    /// The copy, its report and (when valid) its profile exist (the verdict is in the job).
    Placed,
    /// A valid file's rows are in the new-data ledger.
    Ledgered,
    /// Dataset Validated or Dataset Quarantined is on the bus.
    Published,
    /// The quarantine notice went out. No longer taken: the notifier says quarantines, from Dataset Quarantined,
    /// so that a storm is one notice. Kept so that job documents written before still read.
    Notified,
    /// The raw object version is deleted (when `DELETE_RAW` is on).
    RawRemoved,
}
