//! Where an uploaded object goes, decided without any AWS type so it can be tested as a table.

use guardrails_core::ObjectRef;

/// Dataset name for keys without a top-level prefix.
pub const DEFAULT_DATASET: &str = "default";

/// The largest object a single `CopyObject` can copy (larger ones need a multipart copy).
pub const MAX_SINGLE_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// An object announced by an S3 notification, its key already decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The S3 event name, e.g. `ObjectCreated:Put`.
    pub event_name: String,
    /// The uploaded object (and version, on versioned buckets).
    pub object: ObjectRef,
    /// Size in bytes as the notification reports it.
    pub size: u64,
    /// ETag as the notification reports it.
    pub etag: Option<String>,
}

/// What to do with one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Copy it to `destination` and announce it under `dataset`.
    Ingest {
        /// The dataset (the key's first path segment), a bounded metric dimension.
        dataset: String,
        /// Where the copy goes.
        destination: ObjectRef,
    },
    /// Not a dataset upload: nothing to do.
    Skip {
        /// Why, for the log.
        reason: String,
    },
    /// A dataset upload this stage cannot handle.
    Reject {
        /// Why, for the error.
        reason: String,
    },
}

/// The dataset an object belongs to: the raw bucket is laid out as `<dataset>/<file>`.
pub fn dataset_name(key: &str) -> &str {
    match key.split_once('/') {
        Some((first, _)) if !first.is_empty() => first,
        _ => DEFAULT_DATASET,
    }
}

/// Decides what to do with an upload; the copy keeps the key, in the ingested bucket.
pub fn decide(upload: &Upload, ingested_bucket: &str) -> Decision {
    if !upload.event_name.starts_with("ObjectCreated:") {
        return Decision::Skip {
            reason: format!("event {} is not an upload", upload.event_name),
        };
    }
    if upload.object.key.ends_with('/') {
        return Decision::Skip {
            reason: "folder marker".to_owned(),
        };
    }
    if upload.size > MAX_SINGLE_COPY_BYTES {
        return Decision::Reject {
            reason: format!(
                "{} is {} bytes; objects over 5 GiB need a multipart copy, which this stage does not do yet",
                upload.object.uri(),
                upload.size
            ),
        };
    }
    Decision::Ingest {
        dataset: dataset_name(&upload.object.key).to_owned(),
        destination: ObjectRef::new(ingested_bucket, upload.object.key.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(event_name: &str, key: &str, size: u64) -> Upload {
        Upload {
            event_name: event_name.to_owned(),
            object: ObjectRef::new("raw", key),
            size,
            etag: None,
        }
    }

    #[test]
    fn dataset_is_the_first_path_segment() {
        let table = [
            ("tickets/2026/a.csv", "tickets"),
            ("tickets/a b.csv", "tickets"),
            ("a.csv", DEFAULT_DATASET),
            ("/a.csv", DEFAULT_DATASET),
        ];
        for (key, dataset) in table {
            assert_eq!(dataset_name(key), dataset, "{key}");
        }
    }

    #[test]
    fn decisions() {
        let ingest = |dataset: &str, key: &str| Decision::Ingest {
            dataset: dataset.to_owned(),
            destination: ObjectRef::new("ingested", key),
        };
        let table = [
            (
                upload("ObjectCreated:Put", "tickets/a.csv", 10),
                ingest("tickets", "tickets/a.csv"),
            ),
            (
                upload("ObjectCreated:CompleteMultipartUpload", "b.jsonl", 10),
                ingest(DEFAULT_DATASET, "b.jsonl"),
            ),
            (
                upload("ObjectRemoved:Delete", "tickets/a.csv", 0),
                Decision::Skip {
                    reason: "event ObjectRemoved:Delete is not an upload".into(),
                },
            ),
            (
                upload("ObjectCreated:Put", "tickets/", 0),
                Decision::Skip {
                    reason: "folder marker".into(),
                },
            ),
        ];
        for (upload, expected) in table {
            assert_eq!(decide(&upload, "ingested"), expected, "{upload:?}");
        }
        assert!(matches!(
            decide(
                &upload("ObjectCreated:Put", "big.csv", MAX_SINGLE_COPY_BYTES + 1),
                "ingested"
            ),
            Decision::Reject { .. }
        ));
    }
}
