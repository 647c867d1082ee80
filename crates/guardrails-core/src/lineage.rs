//! The lineage record of a model version: the files it trained on (the run's pins, by digest), the contract that
//! passed them, the image, hyperparameters and resources of its job, and the gate's verdict — signed with a KMS
//! asymmetric key, so that a later stage (deploy, an auditor) can refuse a package whose lineage is missing or was
//! altered.
//!
//! Two objects in the state bucket, each written once: `<job>.json`, the record as the exact bytes that were
//! signed (no canonical form to agree on), and `<job>.sig.json`, the SHA-256 of those bytes and KMS's ECDSA P-256
//! signature of that digest. The model package carries the record's location and digest in its customer metadata
//! ([`PACKAGE_RECORD`], [`PACKAGE_DIGEST`]). The JSON Schema of the record is `schemas/lineage-record.schema.json`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ContractRef;
use crate::error::{AwsError, Classify, ErrorClass};
use crate::ledger::Pins;
use crate::s3::ObjectRef;
use crate::state::{StateError, StateStore};

/// The record's format version.
pub const SCHEMA_VERSION: u32 = 1;
/// Default key prefix of lineage records in the state bucket (`LINEAGE_PREFIX`).
pub const DEFAULT_PREFIX: &str = "lineage/";
/// Customer-metadata key of a model package: `s3://…` of its lineage record.
pub const PACKAGE_RECORD: &str = "lineage";
/// Customer-metadata key of a model package: the hex SHA-256 of its lineage record.
pub const PACKAGE_DIGEST: &str = "lineage_sha256";
/// Customer-metadata key of a model package: the training job that made it.
pub const PACKAGE_JOB: &str = "training_job";
/// The signing algorithm (an `ECC_NIST_P256` key with `SIGN_VERIFY` usage).
const ALGORITHM: SigningAlgorithmSpec = SigningAlgorithmSpec::EcdsaSha256;

/// What made one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageRecord {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When the gate recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The training job.
    pub training: Training,
    /// The data it read.
    pub data: Data,
    /// The gate's verdict.
    pub verdict: Verdict,
    /// The baseline of the data (the merged profiles of the pinned files), by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::baseline::BaselineRef>,
}

/// The training job, as SageMaker describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Training {
    /// Job name (the fallback's ends in `-od`).
    pub job_name: String,
    /// Job ARN.
    pub job_arn: Option<String>,
    /// The training image as the job ran it.
    pub image: Option<String>,
    /// Hyperparameters.
    pub hyperparameters: BTreeMap<String, String>,
    /// Instance type and count.
    pub instance_type: Option<String>,
    /// Instances.
    pub instance_count: Option<i32>,
    /// Managed spot capacity.
    pub spot: bool,
    /// Where the model artifacts are.
    pub model_data_url: String,
    /// The image the version is registered to serve with (the workflow's `INFERENCE_IMAGE`): a package that
    /// serves another image does not verify. Absent from records signed before it was pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_image: Option<String>,
}

/// The data a job read: its pinned manifest and the files in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    /// The manifest the training channel read.
    pub manifest: ObjectRef,
    /// Hex SHA-256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// The pins it was made from.
    pub pins: ObjectRef,
    /// Hex SHA-256 of the pins' bytes (every file's key, version, size, rows and checksum).
    pub pins_sha256: String,
    /// Files.
    pub files: u64,
    /// Rows in them.
    pub rows: u64,
    /// The contracts that passed them.
    pub contracts: Vec<ContractRef>,
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// `Approved`, `PendingManualApproval` or `Rejected`.
    pub decision: String,
    /// Why not approved.
    pub reasons: Vec<String>,
    /// The job's final metrics.
    pub metrics: BTreeMap<String, f64>,
    /// The champion compared with.
    pub champion: Option<String>,
}

impl Data {
    /// The data facts of a run from its manifest and pins, as stored.
    pub fn from_pins(
        manifest: ObjectRef,
        manifest_bytes: &[u8],
        pins: ObjectRef,
        pins_bytes: &[u8],
        parsed: &Pins,
    ) -> Self {
        let mut contracts: Vec<ContractRef> = Vec::new();
        let copies = parsed.entries.iter().filter_map(|e| e.copy.as_ref());
        for contract in copies.filter_map(|c| c.contract.clone()) {
            if !contracts.contains(&contract) {
                contracts.push(contract);
            }
        }
        let pinned = parsed.entries.iter().filter(|e| e.copy.is_some());
        Data {
            manifest,
            manifest_sha256: sha256_hex(manifest_bytes),
            pins,
            pins_sha256: sha256_hex(pins_bytes),
            files: pinned.clone().count() as u64,
            rows: pinned.map(|e| e.rows).sum(),
            contracts,
        }
    }
}

/// Between a job's name and the time in the name of its approval records.
const APPROVAL_INFIX: &str = ".approved-";

/// The approval of a model version in the registry (by a person, or by the workflow when the gate approved),
/// signed like the lineage record it approves: `<prefix><job>.approved-<time>.json` and its `.sig.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The approved package.
    pub package_arn: String,
    /// The job that made it.
    pub training_job: String,
    /// Hex SHA-256 of the lineage record approved (verified before this was written).
    pub lineage_sha256: String,
    /// The gate's decision in that record: `PendingManualApproval` when a person had to decide.
    pub gate_decision: String,
    /// Who: the IAM identity or Studio user profile SageMaker recorded as the package's last modifier.
    pub approved_by: String,
    /// When SageMaker recorded the approval.
    pub approved_at: DateTime<Utc>,
    /// The approval description, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Approval {
    /// Its name in the store: the job and the approval's time, so each approval is kept once.
    pub fn name(&self) -> String {
        format!(
            "{}{APPROVAL_INFIX}{}",
            self.training_job,
            self.approved_at.format("%Y%m%dT%H%M%SZ")
        )
    }
}

/// The signature object beside a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// Hex SHA-256 of the record's bytes: what was signed.
    pub sha256: String,
    /// The KMS key that signed.
    pub key_id: String,
    /// `ECDSA_SHA_256`.
    pub algorithm: String,
    /// The signature, base64 (DER).
    pub signature: String,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a lineage could not be written or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// A KMS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The state bucket refused a read or write.
    #[error(transparent)]
    State(#[from] StateError),
    /// Something the record or its check needs is not there.
    #[error("lineage: {0} is missing")]
    Missing(String),
    /// The record, its signature or the package do not agree: altered, swapped or forged.
    #[error("lineage does not verify: {0}")]
    Invalid(String),
}

impl Classify for LineageError {
    fn class(&self) -> ErrorClass {
        match self {
            LineageError::Aws(e) => e.class,
            LineageError::State(e) => e.class(),
            LineageError::Missing(_) | LineageError::Invalid(_) => ErrorClass::NonRetryable,
        }
    }
}

/// Where a record was stored, and what identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The record object.
    pub record: ObjectRef,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// Writes and verifies lineage records in the state bucket with a KMS signing key.
#[derive(Debug, Clone)]
pub struct Lineage {
    state: StateStore,
    kms: aws_sdk_kms::Client,
    key_id: String,
    prefix: String,
}

impl Lineage {
    /// Records under `prefix` of the state bucket, signed with `key_id`.
    pub fn new(
        state: StateStore,
        kms: aws_sdk_kms::Client,
        key_id: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Lineage {
            state,
            kms,
            key_id: key_id.into(),
            prefix: prefix.into(),
        }
    }

    /// Records under `prefix` of `state`, signed with `key_id` through a KMS client from `sdk`.
    pub fn from_sdk(
        sdk: &aws_config::SdkConfig,
        state: StateStore,
        key_id: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Lineage::new(state, aws_sdk_kms::Client::new(sdk), key_id, prefix)
    }

    /// The signing key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Where records are in the state bucket.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The state bucket the records are in.
    pub fn state(&self) -> &StateStore {
        &self.state
    }

    fn keys(&self, job: &str) -> (String, String) {
        (
            format!("{}{job}.json", self.prefix),
            format!("{}{job}.sig.json", self.prefix),
        )
    }

    /// Signs and stores `record` once: a retry for the same job keeps the record first stored.
    ///
    /// # Errors
    /// KMS or the state bucket.
    pub async fn record(&self, record: &LineageRecord) -> Result<Stored, LineageError> {
        self.sign_once(&record.training.job_name, record).await
    }

    /// Signs and stores a person's (or the workflow's) approval of a model version, once per approval: the same
    /// approval delivered again is stored once.
    ///
    /// # Errors
    /// [`LineageError`] when the state bucket or KMS fails.
    pub async fn record_approval(&self, approval: &Approval) -> Result<Stored, LineageError> {
        self.sign_once(&approval.name(), approval).await
    }

    /// Stores `record` as `<prefix><name>.json` and signs it (`<name>.sig.json`), each once.
    async fn sign_once<T: Serialize>(
        &self,
        name: &str,
        record: &T,
    ) -> Result<Stored, LineageError> {
        let (record_key, signature_key) = self.keys(name);
        if let Some(existing) = self.state.read::<Signature>(&signature_key).await? {
            return Ok(Stored {
                record: self.state.at(&record_key),
                sha256: existing.value.sha256,
            });
        }
        let fresh = serde_json::to_vec_pretty(record)
            .map_err(|e| LineageError::Invalid(format!("the record does not serialize: {e}")))?;
        // An earlier attempt that stored the record but died before signing it: sign what is stored.
        let bytes = if self.state.create_bytes(&record_key, fresh.clone()).await? {
            fresh
        } else {
            self.state
                .read_bytes(&record_key)
                .await?
                .ok_or_else(|| LineageError::Missing(self.state.at(&record_key).uri()))?
        };
        let digest = sha256(&bytes);
        let sha256 = hex(&digest);
        let signature = self.sign(digest, &sha256).await?;
        self.state.create(&signature_key, &signature).await?;
        Ok(Stored {
            record: self.state.at(&record_key),
            sha256,
        })
    }

    /// KMS's signature of `digest` (the SHA-256 of the record, whose hex is `sha256`).
    async fn sign(&self, digest: Vec<u8>, sha256: &str) -> Result<Signature, LineageError> {
        let signed = self
            .kms
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(digest))
            .message_type(MessageType::Digest)
            .signing_algorithm(ALGORITHM)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Sign", &self.key_id, e))?;
        let signature = signed
            .signature()
            .ok_or_else(|| LineageError::Missing("the signature in KMS's answer".into()))?;
        Ok(Signature {
            sha256: sha256.to_owned(),
            key_id: signed.key_id().unwrap_or(&self.key_id).to_owned(),
            algorithm: ALGORITHM.as_str().to_owned(),
            signature: STANDARD.encode(signature.as_ref()),
        })
    }

    /// Verifies the record at `record_key` against its signature and the `expected` digest (the package's), and
    /// returns it.
    ///
    /// # Errors
    /// [`LineageError::Invalid`] when a byte of the record changed, the digest is not the package's, or KMS
    /// refuses the signature; [`LineageError::Missing`] when a part is absent.
    pub async fn verify(
        &self,
        record_key: &str,
        expected: &str,
    ) -> Result<LineageRecord, LineageError> {
        self.verify_as(record_key, Some(expected)).await
    }

    /// Reads a signed object of this store and checks its signature (and, when given, that its digest is
    /// `expected`), then reads it as a `T`.
    ///
    /// # Errors
    /// [`LineageError::Missing`] or [`LineageError::Invalid`] as [`Lineage::verify`].
    pub async fn verify_as<T: serde::de::DeserializeOwned>(
        &self,
        record_key: &str,
        expected: Option<&str>,
    ) -> Result<T, LineageError> {
        let job = record_key
            .strip_prefix(&self.prefix)
            .and_then(|k| k.strip_suffix(".json"))
            .ok_or_else(|| {
                LineageError::Invalid(format!("{record_key} is not a lineage record"))
            })?;
        let (_, signature_key) = self.keys(job);
        let bytes = self
            .state
            .read_bytes(record_key)
            .await?
            .ok_or_else(|| LineageError::Missing(self.state.at(record_key).uri()))?;
        let signature = self
            .state
            .read::<Signature>(&signature_key)
            .await?
            .ok_or_else(|| LineageError::Missing(self.state.at(&signature_key).uri()))?
            .value;
        let digest = sha256(&bytes);
        let actual = hex(&digest);
        if actual != signature.sha256 || expected.is_some_and(|e| e != actual) {
            return Err(LineageError::Invalid(format!(
                "the record's SHA-256 is {actual}, its signature covers {} and the package names {}",
                signature.sha256,
                expected.unwrap_or("nothing")
            )));
        }
        self.check_signature(digest, &signature).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LineageError::Invalid(format!("the record does not read: {e}")))
    }

    /// Verifies the lineage a model package's customer metadata names: the record must be in this store, match
    /// the package's digest, carry a valid signature, and be the record of the package's own training job.
    ///
    /// # Errors
    /// [`LineageError::Missing`] for a package without lineage; [`LineageError::Invalid`] for one whose lineage
    /// does not verify.
    pub async fn verify_package(
        &self,
        metadata: &HashMap<String, String>,
    ) -> Result<LineageRecord, LineageError> {
        let named = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| LineageError::Missing(format!("the package's {key} metadata")))
        };
        let (uri, digest) = (named(PACKAGE_RECORD)?, named(PACKAGE_DIGEST)?);
        let key = uri
            .strip_prefix(&format!("s3://{}/", self.state.bucket()))
            .ok_or_else(|| LineageError::Invalid(format!("{uri} is not in the state bucket")))?;
        let record = self.verify(key, digest).await?;
        if metadata.get(PACKAGE_JOB) != Some(&record.training.job_name) {
            return Err(LineageError::Invalid(format!(
                "the record is job {}'s, the package was made by {:?}",
                record.training.job_name,
                metadata.get(PACKAGE_JOB)
            )));
        }
        Ok(record)
    }

    /// The lineage record of `package`, as [`Lineage::verify_package`] checks it from the package's metadata, and
    /// then the package's own model: every inference container must serve the artifacts the record's job made.
    /// So a package that copied another version's metadata (lineage, digest, job) is refused, not taken for it.
    ///
    /// # Errors
    /// [`LineageError`] as [`Lineage::verify_package`]; `Invalid` when the package serves other artifacts.
    pub async fn verify_package_model(
        &self,
        package: &crate::registry::Package,
    ) -> Result<LineageRecord, LineageError> {
        let record = self.verify_package(&package.metadata).await?;
        if let Some(why) = serves_another(package, &record) {
            return Err(LineageError::Invalid(why));
        }
        Ok(record)
    }

    /// Every recorded approval of `job`'s model version, each signature checked, oldest first.
    ///
    /// # Errors
    /// [`LineageError`]: the listing fails, or an approval does not verify.
    pub async fn approvals(&self, job: &str) -> Result<Vec<Approval>, LineageError> {
        let prefix = format!("{}{job}{APPROVAL_INFIX}", self.prefix);
        let mut pages = self
            .state
            .client()
            .list_objects_v2()
            .bucket(self.state.bucket())
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut listed = std::collections::BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", &prefix, e))?;
            listed.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with(".json"))
                    .map(str::to_owned),
            );
        }
        let mut approvals = Vec::new();
        for key in listed.iter().filter(|k| !k.ends_with(".sig.json")) {
            // Stored, then the signer died before its signature: not an approval (yet). Signing the same approval
            // again finds this record and signs it (`sign_once`); until then it is passed over, not an error
            // that would block every later read of the job's approvals.
            let signature = format!("{}.sig.json", key.trim_end_matches(".json"));
            if !listed.contains(&signature) {
                tracing::warn!(%key, "an approval record without its signature is not counted");
                continue;
            }
            approvals.push(self.verify_as::<Approval>(key, None).await?);
        }
        approvals.sort_by_key(|a| a.approved_at);
        Ok(approvals)
    }

    /// KMS's check of `signature` over `digest`.
    async fn check_signature(
        &self,
        digest: Vec<u8>,
        signature: &Signature,
    ) -> Result<(), LineageError> {
        let raw = STANDARD
            .decode(&signature.signature)
            .map_err(|e| LineageError::Invalid(format!("the signature is not base64: {e}")))?;
        let verified = self
            .kms
            .verify()
            .key_id(&self.key_id)
            .message(Blob::new(digest))
            .message_type(MessageType::Digest)
            .signing_algorithm(ALGORITHM)
            .signature(Blob::new(raw))
            .send()
            .await;
        match verified {
            Ok(answer) if answer.signature_valid() => Ok(()),
            Ok(_) => Err(LineageError::Invalid(
                "KMS says the signature is not valid".into(),
            )),
            Err(e) => {
                let error = AwsError::from_sdk("Verify", &self.key_id, e);
                if error.code.as_deref() == Some("KMSInvalidSignatureException") {
                    Err(LineageError::Invalid(
                        "KMS says the signature is not valid".into(),
                    ))
                } else {
                    Err(error.into())
                }
            }
        }
    }
}

/// Why `package` does not serve what `record` vouches for: another model than the record's job made, or (when the
/// record pins it) another image; `None` when it serves exactly that. Every container counts, additional
/// inference specifications included: any of them could serve.
pub fn serves_another(
    package: &crate::registry::Package,
    record: &LineageRecord,
) -> Option<String> {
    let made = &record.training.model_data_url;
    if package.model_data_urls.is_empty() || package.model_data_urls.iter().any(|url| url != made) {
        return Some(format!(
            "{} serves {:?}, the lineage record's job {} made {made}",
            package.arn, package.model_data_urls, record.training.job_name
        ));
    }
    let pinned = record.training.inference_image.as_ref()?;
    if package.images.is_empty() || package.images.iter().any(|image| image != pinned) {
        return Some(format!(
            "{} serves with image {:?}, the lineage record pins {pinned}",
            package.arn, package.images
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
