//! The baseline of a model version: the merged profile of exactly the files it trained on, what the monitors
//! compare the text and predictions it serves against.
//!
//! validate-ingest profiles each valid file in its check's pass and stores the profile in the state bucket
//! (`profiles/<dataset>/<identity>.json`, named in the file's ledger entry); model-gate merges the profiles of a
//! run's pinned files into `baselines/<training job>.json`, written once, whose SHA-256 goes into the signed
//! lineage record and the model package's metadata ([`PACKAGE_BASELINE`], [`PACKAGE_BASELINE_DIGEST`]). No
//! data is read twice, and no uploader can write either prefix. The JSON Schema is
//! `schemas/baseline.schema.json`.

use std::collections::BTreeMap;

use dataset_check::profile::{CharClass, Profile, Script};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::{Classify, ErrorClass};
use crate::ledger::Pins;
use crate::lineage::sha256_hex;
use crate::s3::ObjectRef;
use crate::state::{StateError, StateStore};

/// The baseline format version.
pub const BASELINE_VERSION: u32 = 1;
/// Where validate-ingest keeps each valid file's profile in the state bucket.
pub const PROFILE_PREFIX: &str = "profiles/";
/// Where model-gate keeps each model version's baseline in the state bucket.
pub const BASELINE_PREFIX: &str = "baselines/";
/// Customer-metadata key of a model package: `s3://…` of its baseline.
pub const PACKAGE_BASELINE: &str = "baseline";
/// Customer-metadata key of a model package: the hex SHA-256 of its baseline.
pub const PACKAGE_BASELINE_DIGEST: &str = "baseline_sha256";

/// The profile key of a validated file.
pub fn profile_key(dataset: &str, identity: &str) -> String {
    format!("{PROFILE_PREFIX}{dataset}/{identity}.json")
}

/// What one model version's data looked like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// [`BASELINE_VERSION`].
    pub baseline_version: u32,
    /// The training job whose data this is.
    pub training_job: String,
    /// The dataset.
    pub dataset: String,
    /// Files whose profiles are merged here.
    pub files: u64,
    /// Pinned files whose profile is not in the baseline, with the reason.
    pub unprofiled: Vec<Unprofiled>,
    /// The figures people read; the monitors compare against `profile`.
    pub summary: Summary,
    /// The merged profile.
    pub profile: Profile,
}

/// A baseline's figures for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Valid rows.
    pub rows: u64,
    /// Share of rows per label.
    pub label_shares: BTreeMap<String, f64>,
    /// Share of rows with an empty text.
    pub empty_share: Option<f64>,
    /// Text length in characters: 5th, 25th, 50th, 75th and 95th percentiles.
    pub chars: Quantiles,
    /// Text length in tokens, the same percentiles.
    pub tokens: Quantiles,
    /// Share of characters per class.
    pub char_class_shares: BTreeMap<CharClass, f64>,
    /// Share of letters per script.
    pub script_shares: BTreeMap<Script, f64>,
    /// Distinct tokens, estimated from the sketch.
    pub distinct_tokens: u64,
    /// Chance that an unseen token passes for a seen one (how far an out-of-vocabulary rate is understated).
    pub sketch_false_positive_rate: f64,
}

/// Percentiles of a length, each the lower bound of its histogram bucket (exact below 16, within 1/8 above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantiles {
    /// 5th percentile.
    pub p5: Option<u64>,
    /// 25th.
    pub p25: Option<u64>,
    /// Median.
    pub p50: Option<u64>,
    /// 75th.
    pub p75: Option<u64>,
    /// 95th.
    pub p95: Option<u64>,
}

impl Quantiles {
    fn of(histogram: &dataset_check::profile::Histogram) -> Self {
        let q = |p| histogram.quantile(p);
        Quantiles {
            p5: q(0.05),
            p25: q(0.25),
            p50: q(0.50),
            p75: q(0.75),
            p95: q(0.95),
        }
    }
}

/// Each count's share of their total (empty when the total is 0).
pub fn shares<K: Ord + Clone>(counts: &BTreeMap<K, u64>) -> BTreeMap<K, f64> {
    let total: u64 = counts.values().sum();
    if total == 0 {
        return BTreeMap::new();
    }
    counts
        .iter()
        .map(|(k, n)| (k.clone(), *n as f64 / total as f64))
        .collect()
}

impl Summary {
    /// The figures of `profile`.
    pub fn of(profile: &Profile) -> Self {
        Summary {
            rows: profile.texts + profile.empty,
            label_shares: shares(&profile.labels),
            empty_share: profile.empty_share(),
            chars: Quantiles::of(&profile.chars),
            tokens: Quantiles::of(&profile.tokens),
            char_class_shares: shares(&profile.char_classes),
            script_shares: shares(&profile.scripts),
            distinct_tokens: profile.vocabulary.sketch.distinct_estimate(),
            sketch_false_positive_rate: profile.vocabulary.sketch.false_positive_rate(),
        }
    }
}

/// Why a baseline could not be built, stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The state bucket refused a read or write.
    #[error(transparent)]
    State(#[from] StateError),
    /// A profile or baseline is not what it should be (altered, of another version, or not there).
    #[error("baseline: {0}")]
    Invalid(String),
}

impl Classify for BaselineError {
    fn class(&self) -> ErrorClass {
        match self {
            BaselineError::State(e) => e.class(),
            BaselineError::Invalid(_) => ErrorClass::NonRetryable,
        }
    }
}

/// A stored baseline: where, and the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineRef {
    /// The baseline object.
    pub object: ObjectRef,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// A pinned file whose profile is not in the baseline, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unprofiled {
    /// The file.
    pub object: ObjectRef,
    /// Why: no profile was kept (validated before profiles were), or it is missing, unreadable or of another
    /// version.
    pub reason: String,
}

/// Profiles fetched at once while building a baseline: bounded, so a run of thousands of files neither holds
/// them all in memory nor fetches them one by one.
const FETCH_AT_ONCE: usize = 16;

/// The baselines and profiles in the state bucket.
#[derive(Debug, Clone)]
pub struct Baselines {
    state: StateStore,
}

impl Baselines {
    /// Baselines kept in `state`.
    pub fn new(state: StateStore) -> Self {
        Baselines { state }
    }

    fn key(training_job: &str) -> String {
        format!("{BASELINE_PREFIX}{training_job}.json")
    }

    /// The baseline of `training_job` stored by an earlier attempt, if one was: a retry uses it rather than
    /// merging every profile again.
    ///
    /// # Errors
    /// [`BaselineError::State`] when the state bucket fails.
    pub async fn stored(&self, training_job: &str) -> Result<Option<BaselineRef>, BaselineError> {
        let key = Self::key(training_job);
        Ok(self.state.read_bytes(&key).await?.map(|bytes| BaselineRef {
            object: self.state.at(&key),
            sha256: sha256_hex(&bytes),
        }))
    }

    /// Merges the profiles of the files `pins` lists, in pin order, into the baseline of `training_job`. A file
    /// whose profile is absent, missing, unreadable or of another version is listed under `unprofiled` with the
    /// reason (and logged), not fatal: one lost profile must not stop every later model from being registered.
    ///
    /// # Errors
    /// [`BaselineError::State`] when the state bucket fails in a way a retry may mend.
    pub async fn build(&self, training_job: &str, pins: &Pins) -> Result<Baseline, BaselineError> {
        let mut profile = Profile::empty();
        let (mut files, mut unprofiled) = (0, Vec::new());
        let copies: Vec<_> = pins
            .entries
            .iter()
            .filter_map(|e| e.copy.as_ref())
            .collect();
        for chunk in copies.chunks(FETCH_AT_ONCE) {
            let mut fetches = tokio::task::JoinSet::new();
            for (i, copy) in chunk.iter().enumerate() {
                let (state, key) = (self.state.clone(), copy.profile.clone());
                // In the caller's span: a spawned task starts with none, and its AWS call would leave the trace.
                fetches.spawn(
                    async move { (i, Self::fetch(&state, key.as_deref()).await) }.in_current_span(),
                );
            }
            let mut fetched: Vec<_> = fetches.join_all().await;
            fetched.sort_by_key(|(i, _)| *i);
            for (i, result) in fetched {
                let object = chunk[i].object.clone();
                match result?.map(|file| profile.merge(&file).map_err(|e| e.to_string())) {
                    Ok(Ok(())) => files += 1,
                    Ok(Err(reason)) | Err(reason) => {
                        tracing::warn!(file = %object.uri(), %reason, "a pinned file is not in the baseline");
                        unprofiled.push(Unprofiled { object, reason });
                    }
                }
            }
        }
        Ok(Baseline {
            baseline_version: BASELINE_VERSION,
            training_job: training_job.to_owned(),
            dataset: pins.dataset.clone(),
            files,
            unprofiled,
            summary: Summary::of(&profile),
            profile,
        })
    }

    /// One file's profile: `Ok(Err(reason))` when it cannot be had, `Err` only when the state bucket fails in a way
    /// a retry may mend.
    async fn fetch(
        state: &StateStore,
        key: Option<&str>,
    ) -> Result<Result<Profile, String>, BaselineError> {
        let Some(key) = key else {
            return Ok(Err("validated before profiles were kept".to_owned()));
        };
        let bytes = match state.read_bytes(key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(Err(format!("{key} is missing"))),
            // A retry may get it (throttling, a broken stream): fail the gate, which the workflow retries.
            Err(e) if e.class() == ErrorClass::Retryable => return Err(e.into()),
            // Denied, or a key it cannot decrypt: this file is left out, with the reason, not every later run.
            Err(e) => return Ok(Err(format!("{key} could not be read: {e}"))),
        };
        Ok(serde_json::from_slice(&bytes).map_err(|e| format!("{key} does not read: {e}")))
    }

    /// Stores `baseline` once at `baselines/<training job>.json`; a baseline stored before (by an attempt that
    /// died after writing it) is kept and its digest returned.
    ///
    /// # Errors
    /// [`BaselineError`] when the state bucket fails.
    pub async fn store(&self, baseline: &Baseline) -> Result<BaselineRef, BaselineError> {
        let key = Self::key(&baseline.training_job);
        let fresh = serde_json::to_vec(baseline)
            .map_err(|e| BaselineError::Invalid(format!("the baseline does not serialize: {e}")))?;
        if !self.state.create_bytes(&key, fresh.clone()).await? {
            // Stored by an earlier or concurrent attempt: that one is the baseline (read again if it raced).
            if let Some(stored) = self.stored(&baseline.training_job).await? {
                return Ok(stored);
            }
            return Err(BaselineError::State(StateError::Conflict {
                uri: self.state.at(&key).uri(),
            }));
        }
        Ok(BaselineRef {
            object: self.state.at(&key),
            sha256: sha256_hex(&fresh),
        })
    }

    /// The baseline `reference` names, checked against its digest (which a signed lineage record vouches for).
    ///
    /// # Errors
    /// [`BaselineError::Invalid`] when the object is outside the state bucket, missing, altered or unreadable.
    pub async fn load(&self, reference: &BaselineRef) -> Result<Baseline, BaselineError> {
        let invalid = |what: String| BaselineError::Invalid(what);
        let uri = reference.object.uri();
        if reference.object.bucket != self.state.bucket()
            || !reference.object.key.starts_with(BASELINE_PREFIX)
        {
            return Err(invalid(format!(
                "{uri} is not a baseline of the state bucket"
            )));
        }
        let bytes = self
            .state
            .read_bytes(&reference.object.key)
            .await?
            .ok_or_else(|| invalid(format!("{uri} is missing")))?;
        let actual = sha256_hex(&bytes);
        if actual != reference.sha256 {
            return Err(invalid(format!(
                "{uri} has SHA-256 {actual}, its lineage record names {}",
                reference.sha256
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{uri} does not read: {e}")))
    }
}
