//! The pinned training manifest: the exact validated copies one run trains on, taken from the ledger (which only
//! validate-ingest writes) when the run starts, and written once per execution, so a retry of the same execution
//! reads the same files and a file validated while it runs is not silently added.
//!
//! Two documents in the state bucket, both created with `If-None-Match: *`: `<execution>.pins.json` (every
//! entry: key, version, size, rows, SHA-256, contract — what the lineage record is built from) and
//! `<execution>.manifest` (SageMaker's `ManifestFile` format, which names keys under one prefix: the copies'
//! keys are unique per upload and never rewritten, so a key pins its bytes).

use chrono::{DateTime, Utc};
use guardrails_core::ObjectRef;
use guardrails_core::ledger::{Entry, Ledger, LedgerError, Pins};
use guardrails_core::state::{StateError, StateStore};
use serde_json::{Value, json};

/// A manifest that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The state bucket refused a write or a read.
    #[error(transparent)]
    State(#[from] StateError),
    /// A ledger entry names a copy outside the prefix training reads.
    #[error("ledger entry {id} names {uri}, outside TRAINING_DATA_URI {data_uri}")]
    OutsideData {
        /// The entry.
        id: String,
        /// Its copy.
        uri: String,
        /// The training data prefix.
        data_uri: String,
    },
    /// `TRAINING_DATA_URI` is not `s3://bucket/prefix/`.
    #[error("TRAINING_DATA_URI {0} is not s3://bucket/prefix/")]
    DataUri(String),
}

/// The manifest SageMaker reads: `[{"prefix": data_uri}, key relative to it, …]`. Entries written before the
/// ledger recorded copies are left out (their count is returned): they cannot be pinned.
///
/// # Errors
/// A copy outside `data_uri`.
pub fn manifest(data_uri: &str, entries: &[Entry]) -> Result<(Value, usize), ManifestError> {
    let (bucket, prefix) = data_uri
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| ManifestError::DataUri(data_uri.to_owned()))?;
    let mut body = vec![json!({ "prefix": data_uri })];
    let mut unpinned = 0;
    for entry in entries {
        let Some(copy) = &entry.copy else {
            unpinned += 1;
            continue;
        };
        let relative = (copy.object.bucket == bucket)
            .then(|| copy.object.key.strip_prefix(prefix))
            .flatten()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ManifestError::OutsideData {
                id: entry.id.clone(),
                uri: copy.object.uri(),
                data_uri: data_uri.to_owned(),
            })?;
        body.push(json!(relative));
    }
    Ok((Value::Array(body), unpinned))
}

/// Where manifests live: the state bucket, under a prefix of their own.
#[derive(Debug, Clone)]
pub struct Manifests {
    state: StateStore,
    prefix: String,
}

/// A run's pinned files and the manifest the training channel reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    /// The pins.
    pub pins: Pins,
    /// `s3://…/<execution>.manifest`.
    pub manifest: ObjectRef,
    /// Ledger entries left out because they predate pinning.
    pub unpinned: usize,
}

impl Manifests {
    /// Manifests under `prefix` of the state bucket.
    pub fn new(state: StateStore, prefix: impl Into<String>) -> Self {
        Manifests {
            state,
            prefix: prefix.into(),
        }
    }

    /// Pins the files of `dataset` for `execution`: the ledger's entries up to `now`, unless an earlier attempt
    /// of the same execution pinned them already (then those, whatever arrived since).
    ///
    /// # Errors
    /// The ledger, the state bucket, or a copy outside `data_uri`.
    pub async fn pin(
        &self,
        ledger: &Ledger,
        execution: &str,
        dataset: &str,
        data_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<Pinned, ManifestError> {
        let pins_key = format!("{}{execution}.pins.json", self.prefix);
        let pins = match self.state.read::<Pins>(&pins_key).await? {
            Some(stored) => stored.value,
            None => {
                let pins = Pins {
                    execution: execution.to_owned(),
                    dataset: dataset.to_owned(),
                    until: now,
                    entries: ledger.entries(dataset, now).await?,
                };
                match self.state.create(&pins_key, &pins).await? {
                    Some(_) => pins,
                    // A concurrent attempt pinned first: its files are the run's.
                    None => self
                        .state
                        .read::<Pins>(&pins_key)
                        .await?
                        .map_or(pins, |s| s.value),
                }
            }
        };
        let (body, unpinned) = manifest(data_uri, &pins.entries)?;
        let manifest_key = format!("{}{execution}.manifest", self.prefix);
        // Derived from the pins alone, so an existing manifest holds the same list.
        self.state.create(&manifest_key, &body).await?;
        Ok(Pinned {
            pins,
            manifest: self.state.at(&manifest_key),
            unpinned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails_core::ledger::Copy;

    fn entry(id: &str, bucket: &str, key: Option<&str>) -> Entry {
        Entry {
            id: id.to_owned(),
            time: "2026-12-01T10:00:00Z".parse().unwrap(),
            dataset: "tickets".to_owned(),
            rows: 10,
            copy: key.map(|key| Copy {
                object: ObjectRef::new(bucket, key),
                bytes: 100,
                sha256: None,
                contract: None,
                profile: None,
            }),
        }
    }

    #[test]
    fn the_manifest_lists_each_pinned_copy_relative_to_the_data_prefix() {
        let entries = [
            entry("a", "ingested", Some("tickets/0123/a.csv")),
            entry("old", "ingested", None),
            entry("b", "ingested", Some("tickets/4567/2026/b.csv")),
        ];
        let (body, unpinned) = manifest("s3://ingested/tickets/", &entries).unwrap();
        assert_eq!(
            body,
            json!([{"prefix": "s3://ingested/tickets/"}, "0123/a.csv", "4567/2026/b.csv"])
        );
        assert_eq!(unpinned, 1);
    }

    #[test]
    fn a_copy_outside_the_data_prefix_or_a_bad_prefix_is_refused() {
        let table = [
            (
                "s3://ingested/tickets/",
                entry("x", "other", Some("tickets/a.csv")),
            ),
            (
                "s3://ingested/tickets/",
                entry("x", "ingested", Some("orders/a.csv")),
            ),
            (
                "s3://ingested/tickets/",
                entry("x", "ingested", Some("tickets/")),
            ),
            (
                "ingested/tickets/",
                entry("x", "ingested", Some("tickets/a.csv")),
            ),
        ];
        for (data_uri, entry) in table {
            assert!(
                manifest(data_uri, std::slice::from_ref(&entry)).is_err(),
                "{data_uri} {entry:?}"
            );
        }
    }
}
