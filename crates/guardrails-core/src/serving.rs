//! The serving record of a model package group: which version serves now, since when, who or what approved it,
//! and the lineage and baseline it serves with. It is the one place the deploy path writes (a release and a
//! rollback alike) and the monitors, drift-handler and the batch launcher read.
//!
//! Kept in the state bucket, where only the deploy function's role may write: `serving/<group>.json`, replaced by
//! conditional writes (two deploys racing are serialized), and each change appended once under
//! `serving/<group>/history/<since>-<version>.json`, which the lifecycle never expires.

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

    /// What serves `group` now; `None` before its first deploy.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails or the record does not read.
    pub async fn current(&self, group: &str) -> Result<Option<ServingRecord>, StateError> {
        Ok(self.state.read(&Self::key(group)).await?.map(|s| s.value))
    }

    /// Makes `next` the serving record of its group (its `previous` set from the record it replaces), unless that
    /// version serves already; then appends the change to the group's history, once. Returns the record as it
    /// stands.
    ///
    /// # Errors
    /// [`StateError`] when the state bucket fails or writers keep racing.
    pub async fn serve(&self, next: ServingRecord) -> Result<ServingRecord, StateError> {
        let key = Self::key(&next.group);
        let stands = self
            .state
            .update::<ServingRecord, _>(&key, |current| match current {
                Some(c) if c.package_arn == next.package_arn => Change::Keep,
                current => Change::Write(ServingRecord {
                    previous: current.map(|c| c.package_arn.clone()),
                    ..next.clone()
                }),
            })
            .await?
            .ok_or_else(|| StateError::Conflict {
                uri: self.state.at(&key).uri(),
            })?;
        let version = stands.package_arn.rsplit('/').next().unwrap_or("unknown");
        let history = format!(
            "{SERVING_PREFIX}{}/history/{}-{version}.json",
            stands.group,
            stands.since.format("%Y%m%dT%H%M%SZ")
        );
        self.state.create(&history, &stands).await?;
        Ok(stands)
    }
}
