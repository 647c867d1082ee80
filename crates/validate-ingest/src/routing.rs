//! Where an uploaded object and its report go, decided without any AWS type so it can be tested as a table.

use guardrails_core::ObjectRef;

/// Dataset name for keys without a top-level prefix.
pub const DEFAULT_DATASET: &str = "default";

/// Suffix of a validation report.
pub const REPORT_SUFFIX: &str = ".report.json";

/// Where the reports of valid copies go in the ingested bucket: under the reserved prefix, which no upload can
/// reach, so that nothing but validated copies lives under a dataset's prefix (the prefix training reads).
pub const INGESTED_REPORTS: &str = "_guardrails/reports/";

/// Keys under this prefix are reserved for the guardrails: an upload there is quarantined unread, so no data
/// path can land where guardrail state once lived (or where a reader might look for it).
pub const RESERVED_PREFIX: &str = "_guardrails/";

/// An object announced by an S3 notification or event, its key already decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The S3 event name, e.g. `ObjectCreated:Put`.
    pub event_name: String,
    /// The uploaded object (and version, on versioned buckets).
    pub object: ObjectRef,
    /// Size in bytes as announced.
    pub size: u64,
    /// ETag as announced.
    pub etag: Option<String>,
    /// S3's ordering token for events on the same key.
    pub sequencer: Option<String>,
}

/// Where things go: the buckets and prefixes from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// Valid copies and their reports.
    pub ingested_bucket: &'a str,
    /// Quarantined copies; `None`: the upload's own bucket.
    pub quarantine_bucket: Option<&'a str>,
    /// Prefix of quarantined copies.
    pub quarantine_prefix: &'a str,
    /// Prefix of the job documents in the state bucket.
    pub marker_prefix: &'a str,
}

/// Every location one upload's processing touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The dataset (the key's first path segment), the metric dimension.
    pub dataset: String,
    /// A fixed-length name for this object version (see `version_identity`).
    pub identity: String,
    /// The key of this object version's job document in the state bucket.
    pub marker: String,
    /// The copy when valid: `<dataset>/<identity>/<rest of the key>`, a key no other upload can have, so a
    /// re-upload of the same file name never replaces bytes a training run pinned.
    pub ingested: ObjectRef,
    /// The copy when invalid.
    pub quarantined: ObjectRef,
    /// Why the upload is quarantined without being read (a reserved key), if it is.
    pub refusal: Option<String>,
}

impl Plan {
    /// The report of a valid copy: apart from the data, under [`INGESTED_REPORTS`].
    pub fn ingested_report(&self) -> ObjectRef {
        ObjectRef::new(
            self.ingested.bucket.clone(),
            format!("{INGESTED_REPORTS}{}{REPORT_SUFFIX}", self.ingested.key),
        )
    }

    /// The report of a quarantined copy: beside it, where whoever fixes the file looks.
    pub fn quarantined_report(&self) -> ObjectRef {
        ObjectRef::new(
            self.quarantined.bucket.clone(),
            format!("{}{REPORT_SUFFIX}", self.quarantined.key),
        )
    }
}

/// What to do with one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Check it and copy it where the verdict says.
    Process(Box<Plan>),
    /// Not a dataset upload (our own output, a folder placeholder, not a creation): leave it alone.
    Skip {
        /// Why, for the log and the response.
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

/// Decides what to do with an upload.
pub fn decide(upload: &Upload, layout: Layout<'_>) -> Decision {
    let key = upload.object.key.as_str();
    let skip = |reason: &str| Decision::Skip {
        reason: reason.to_owned(),
    };
    if !upload.event_name.starts_with("ObjectCreated:") {
        return Decision::Skip {
            reason: format!("event {} is not an upload", upload.event_name),
        };
    }
    if key.ends_with('/') {
        return skip("folder placeholder");
    }
    if key.ends_with(REPORT_SUFFIX) {
        return skip("a validation report");
    }
    let quarantine_bucket = layout.quarantine_bucket.unwrap_or(&upload.object.bucket);
    if upload.object.bucket == quarantine_bucket && key.starts_with(layout.quarantine_prefix) {
        return skip("already quarantined");
    }
    let refusal = key.starts_with(RESERVED_PREFIX).then(|| {
        format!(
            "the key is under {RESERVED_PREFIX}, which is reserved for the guardrails: upload datasets as <dataset>/<file>"
        )
    });
    let identity = version_identity(upload);
    let dataset = dataset_name(key);
    Decision::Process(Box::new(Plan {
        ingested: ObjectRef::new(layout.ingested_bucket, copy_key(key, dataset, &identity)),
        dataset: dataset.to_owned(),
        marker: format!("{}{identity}.json", layout.marker_prefix),
        identity,
        quarantined: ObjectRef::new(
            quarantine_bucket,
            format!("{}{key}", layout.quarantine_prefix),
        ),
        refusal,
    }))
}

/// The valid copy's key: the dataset, the first 16 characters of the upload's identity, then the key's rest
/// (`tickets/2026/a.csv` → `tickets/<id>/2026/a.csv`; `a.csv` → `default/<id>/a.csv`).
fn copy_key(key: &str, dataset: &str, identity: &str) -> String {
    let rest = match key.split_once('/') {
        Some((first, rest)) if first == dataset => rest,
        _ => key.trim_start_matches('/'),
    };
    format!("{dataset}/{}/{rest}", &identity[..16])
}

/// A fixed-length name for "this version of this object": the same for every redelivery of its event,
/// different for a re-upload. Uses the version id, else the ETag, else the sequencer.
fn version_identity(upload: &Upload) -> String {
    let version = upload
        .object
        .version_id
        .as_deref()
        .or(upload.etag.as_deref())
        .or(upload.sequencer.as_deref())
        .unwrap_or("");
    let identity = format!(
        "{}\0{}\0{version}\0{}",
        upload.object.bucket, upload.object.key, upload.size
    );
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(identity.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: Layout<'static> = Layout {
        ingested_bucket: "ingested",
        quarantine_bucket: None,
        quarantine_prefix: "quarantine/",
        marker_prefix: "validate-ingest/",
    };

    fn upload(event_name: &str, key: &str) -> Upload {
        Upload {
            event_name: event_name.to_owned(),
            object: ObjectRef::new("raw", key),
            size: 10,
            etag: Some("abc".to_owned()),
            sequencer: None,
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
    fn our_own_objects_and_non_uploads_are_skipped() {
        let table = [
            ("ObjectRemoved:Delete", "tickets/a.csv", "is not an upload"),
            ("ObjectCreated:Put", "tickets/", "folder placeholder"),
            (
                "ObjectCreated:Put",
                "tickets/a.csv.report.json",
                "a validation report",
            ),
            (
                "ObjectCreated:Copy",
                "quarantine/tickets/a.csv",
                "already quarantined",
            ),
        ];
        for (event, key, reason) in table {
            match decide(&upload(event, key), LAYOUT) {
                Decision::Skip { reason: got } => assert!(got.contains(reason), "{key}: {got}"),
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn quarantine_prefix_only_matters_in_the_quarantine_bucket() {
        let layout = Layout {
            quarantine_bucket: Some("held"),
            ..LAYOUT
        };
        assert!(matches!(
            decide(&upload("ObjectCreated:Put", "quarantine/a.csv"), layout),
            Decision::Process(_)
        ));
    }

    #[test]
    fn plan_places_copies_reports_and_marker() {
        let Decision::Process(plan) =
            decide(&upload("ObjectCreated:Put", "tickets/a b.csv"), LAYOUT)
        else {
            panic!("expected a plan");
        };
        assert_eq!(plan.dataset, "tickets");
        let id = &plan.identity[..16];
        assert_eq!(
            plan.ingested,
            ObjectRef::new("ingested", format!("tickets/{id}/a b.csv"))
        );
        assert_eq!(
            plan.quarantined,
            ObjectRef::new("raw", "quarantine/tickets/a b.csv")
        );
        assert_eq!(
            plan.ingested_report(),
            ObjectRef::new(
                "ingested",
                format!("_guardrails/reports/tickets/{id}/a b.csv.report.json")
            )
        );
        assert_eq!(
            plan.quarantined_report().key,
            "quarantine/tickets/a b.csv.report.json"
        );
        assert!(plan.marker.starts_with("validate-ingest/"));
        assert_eq!(plan.refusal, None);
    }

    #[test]
    fn uploads_under_the_reserved_prefix_are_refused_not_skipped() {
        for key in [
            "_guardrails/cost-guard/2026-12-01/total-over.json",
            "_guardrails/trigger-training/new-data/2026-12-01T00:00:00Z_1000000000_x.json",
            "_guardrails/inference-monitor/baseline.json",
            "_guardrails/markers/x.json",
        ] {
            let Decision::Process(plan) = decide(&upload("ObjectCreated:Put", key), LAYOUT) else {
                panic!("{key}: a reserved key must be quarantined, not skipped");
            };
            let reason = plan.refusal.unwrap_or_default();
            assert!(
                reason.contains("reserved for the guardrails"),
                "{key}: {reason}"
            );
        }
        let Decision::Process(plan) = decide(
            &upload("ObjectCreated:Put", "tickets/_guardrails/a.csv"),
            LAYOUT,
        ) else {
            panic!("a plan");
        };
        assert_eq!(plan.refusal, None, "only the top-level prefix is reserved");
    }

    #[test]
    fn every_copy_lies_under_its_dataset_and_a_reupload_never_shares_its_key() {
        let table = [
            ("tickets/2026/a.csv", "tickets/", "/2026/a.csv"),
            ("a.csv", "default/", "/a.csv"),
            ("/a.csv", "default/", "/a.csv"),
        ];
        for (key, dataset, rest) in table {
            let Decision::Process(plan) = decide(&upload("ObjectCreated:Put", key), LAYOUT) else {
                panic!("{key}");
            };
            let copy = &plan.ingested.key;
            assert!(
                copy.starts_with(dataset) && copy.ends_with(rest),
                "{key}: {copy}"
            );
            let mut again = upload("ObjectCreated:Put", key);
            again.etag = Some("a new upload".to_owned());
            let Decision::Process(second) = decide(&again, LAYOUT) else {
                panic!("{key}");
            };
            assert_ne!(second.ingested.key, *copy, "{key}");
        }
    }

    #[test]
    fn marker_is_stable_per_version_and_changes_with_a_new_upload() {
        let first = upload("ObjectCreated:Put", "tickets/a.csv");
        let redelivered = first.clone();
        let mut reuploaded = first.clone();
        reuploaded.etag = Some("def".to_owned());
        let marker = |u: &Upload| match decide(u, LAYOUT) {
            Decision::Process(plan) => plan.marker,
            other => panic!("{other:?}"),
        };
        assert_eq!(marker(&first), marker(&redelivered));
        assert_ne!(marker(&first), marker(&reuploaded));
    }
}
