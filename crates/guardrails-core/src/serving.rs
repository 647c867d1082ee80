//! The serving record of a model package group: which version serves now, since when, who or what approved it,
//! and the lineage and baseline it serves with. It is the one place the deploy path writes (a release and a
//! rollback alike) and the monitors, drift-handler and the batch launcher read.
//!
//! Kept in the state bucket, where only the deploy function's role may write: `serving/<group>.json`, replaced by
//! conditional writes on the record the deploy decided from (two deploys racing cannot both win), and each change
//! kept once, after its notice went out, under `serving/<group>/history/<since>-<version>.json`, which the
//! lifecycle never expires.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::BaselineRef;
use crate::s3::ObjectRef;
use crate::state::{Change, StateError, StateStore};

/// The record's format version.
pub const SERVING_VERSION: u32 = 1;
/// Where serving records are in the state bucket.
pub const SERVING_PREFIX: &str = "serving/";

/// Why a version serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// It was approved and deployed.
    Release,
    /// The version after it drifted and it was deployed again.
    Rollback,
}

/// What serves a model package group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServingRecord {
    /// [`SERVING_VERSION`].
    pub serving_version: u32,
    /// The group.
    pub group: String,
    /// The version that serves.
    pub package_arn: String,
    /// The job that made it.
    pub training_job: String,
    /// Its lineage record, verified before it was made to serve.
    pub lineage: ObjectRef,
    /// Hex SHA-256 of that record.
    pub lineage_sha256: String,
    /// The SageMaker model made from the version, which batch transform jobs run.
    pub model_name: String,
    /// Its baseline, as the lineage record names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
    /// Who or what approved it: `model-gate` when the gate did, else the person in its signed approval record.
    pub approved_by: String,
    /// Since when it serves.
    pub since: DateTime<Utc>,
    /// Why.
    pub reason: Reason,
    /// The version that served before, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// A move of a real-time endpoint to one configuration: deploy writes it before the call, so the endpoint's next
/// state tells whether that move took. An endpoint changed since (its last-modified time is no longer
/// `endpoint_modified`) and not on the configuration was rolled back by its alarms or failed: that move is not
/// tried again until a person asks, and `undone` says why once the notice went out. `settled` once the endpoint
/// ran the configuration, or the call was refused outright: the record no longer speaks for the endpoint. One per
/// configuration, at `serving/<group>/releases/<configuration>.json`, which only deploy writes (and deploy runs
/// one at a time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The group.
    pub group: String,
    /// The version being released.
    pub package_arn: String,
    /// The endpoint.
    pub endpoint: String,
    /// The endpoint configuration it is moved to.
    pub endpoint_config: String,
    /// When deploy started moving it (before the call).
    pub started: DateTime<Utc>,
    /// The endpoint's last-modified time then, SageMaker's clock (`None`: no endpoint yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_modified: Option<DateTime<Utc>>,
    /// Why the endpoint is not on it, once that was announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone: Option<String>,
    /// The move is over: the endpoint ran the configuration, or SageMaker refused the call.
    #[serde(default)]
    pub settled: bool,
}

/// What [`Serving::replace`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Replaced {
    /// The new record stands (its `previous` set from the one it replaced).
    Now(ServingRecord),
    /// What serves is no longer what the caller decided from (a concurrent deploy moved it): nothing written.
    Moved(Option<ServingRecord>),
}

/// The serving records in the state bucket.
#[derive(Debug, Clone)]
pub struct Serving {
    state: StateStore,
}

impl Serving {
    /// Serving records kept in `state`.
    pub fn new(state: StateStore) -> Self {
        Serving { state }
    }

    fn key(group: &str) -> String {
        format!("{SERVING_PREFIX}{group}.json")
    }

    fn release_key(group: &str, endpoint_config: &str) -> String {
        format!("{SERVING_PREFIX}{group}/releases/{endpoint_config}.json")
    }

    /// The last move of the group's endpoint to `endpoint_config`, if deploy started one.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails or the document does not read.
    pub async fn release(
        &self,
        group: &str,
        endpoint_config: &str,
    ) -> Result<Option<Release>, StateError> {
        Ok(self
            .state
            .read(&Self::release_key(group, endpoint_config))
            .await?
            .map(|s| s.value))
    }

    /// Records `release` as the last move to its configuration, over whatever was there.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails.
    pub async fn record_release(&self, release: &Release) -> Result<(), StateError> {
        let key = Self::release_key(&release.group, &release.endpoint_config);
        self.state
            .update::<Release, _>(&key, |_| Change::Write(release.clone()))
            .await?;
        Ok(())
    }

    /// Where a change is kept once announced: `serving/<group>/history/<since>-<version>.json`.
    fn history_key(record: &ServingRecord) -> String {
        let version = record.package_arn.rsplit('/').next().unwrap_or("unknown");
        format!(
            "{SERVING_PREFIX}{}/history/{}-{version}.json",
            record.group,
            record.since.format("%Y%m%dT%H%M%SZ")
        )
    }

    /// What serves `group` now; `None` before its first deploy.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails or the record does not read.
    pub async fn current(&self, group: &str) -> Result<Option<ServingRecord>, StateError> {
        Ok(self.state.read(&Self::key(group)).await?.map(|s| s.value))
    }

    /// Makes `next` the serving record of its group, only if what serves is still `seen` (the record the caller
    /// decided from): two deploys deciding from the same state cannot both win, and a late one cannot replace a
    /// newer release. `previous` is set from the record replaced.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails or writers keep racing.
    pub async fn replace(
        &self,
        seen: Option<&ServingRecord>,
        next: ServingRecord,
    ) -> Result<Replaced, StateError> {
        let key = Self::key(&next.group);
        let mut written = None;
        let stands = self
            .state
            .update::<ServingRecord, _>(&key, |current| {
                written = None;
                if current != seen {
                    return Change::Keep;
                }
                let record = ServingRecord {
                    previous: current.map(|c| c.package_arn.clone()),
                    ..next.clone()
                };
                written = Some(record.clone());
                Change::Write(record)
            })
            .await?;
        Ok(match written {
            Some(record) => Replaced::Now(record),
            None => Replaced::Moved(stands),
        })
    }

    /// Whether the change to `record` was announced (kept in the group's history).
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails.
    pub async fn announced(&self, record: &ServingRecord) -> Result<bool, StateError> {
        Ok(self
            .state
            .read_bytes(&Self::history_key(record))
            .await?
            .is_some())
    }

    /// Keeps the change to `record` in its group's history, once: called after its notice went out, so a retry
    /// that finds the record in place but not in the history announces it again.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails.
    pub async fn record_announced(&self, record: &ServingRecord) -> Result<(), StateError> {
        self.state
            .create(&Self::history_key(record), record)
            .await?;
        Ok(())
    }
}
