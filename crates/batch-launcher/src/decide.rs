//! Whether an upload is batch input, whether it may run, and the job's name: free of AWS types.

/// What to do with an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Start a job with the serving model.
    Start,
    /// Not now, loudly: the input waits and a notice says why.
    Refuse(String),
}

/// Why an upload is not batch input, or `None` when it is: under `prefix`, not a folder marker, not empty.
pub fn not_input(key: &str, size: Option<u64>, prefix: &str) -> Option<String> {
    if !key.starts_with(prefix) {
        return Some(format!("{key} is not under {prefix}"));
    }
    if key.ends_with('/') {
        return Some(format!("{key} is a folder marker"));
    }
    if size == Some(0) {
        return Some(format!("{key} is empty"));
    }
    None
}

/// What serves, as the launcher checks it: the serving record's version and its status in the registry now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving<'a> {
    /// The version.
    pub package: &'a str,
    /// Its approval status now.
    pub status: &'a str,
}

/// Only the version deploy made serve, and only while it is still Approved: a version rejected since (its
/// rollback not finished, or nothing to roll back to) runs no batch.
pub fn judge(serving: Option<Serving<'_>>) -> Launch {
    match serving {
        None => Launch::Refuse(
            "nothing serves: no version of the group has been deployed (approve one in the registry)".to_owned(),
        ),
        Some(s) if s.status != "Approved" => Launch::Refuse(format!(
            "{} serves but is {} now: only Approved versions run",
            s.package, s.status
        )),
        Some(_) => Launch::Start,
    }
}

/// SageMaker's limit on a job name.
const MAX_NAME: usize = 63;

/// `<project>-batch-<16 hex>`: the hash of the object (key and version, else ETag) names the job, so a
/// redelivered upload finds its job started instead of starting another; cut to SageMaker's 63 characters.
pub fn job_name(project: &str, key: &str, version: Option<&str>) -> String {
    let identity = format!("{key}\n{}", version.unwrap_or_default());
    let tail = format!(
        "-batch-{:016x}",
        xxhash_rust::xxh3::xxh3_64(identity.as_bytes())
    );
    let head: String = project
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(MAX_NAME - tail.len())
        .collect();
    format!("{}{tail}", head.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uploads_under_the_prefix_with_content_are_input() {
        #[rustfmt::skip]
        let table = [
            ("batch-input/2026-12-02/tickets.jsonl", Some(10), None),
            ("batch-input/tickets.jsonl",            None,     None),
            ("batch-output/job/tickets.jsonl.out",   Some(10), Some("not under")),
            ("batch-input-old/tickets.jsonl",        Some(10), Some("not under")),
            ("batch-input/2026-12-02/",              Some(0),  Some("folder marker")),
            ("batch-input/empty.jsonl",              Some(0),  Some("empty")),
        ];
        for (key, size, expected) in table {
            match (not_input(key, size, "batch-input/"), expected) {
                (None, None) => {}
                (Some(reason), Some(expected)) => assert!(reason.contains(expected), "{reason}"),
                (got, expected) => panic!("{key}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn only_an_approved_serving_version_runs() {
        let v2 = "arn:aws:sagemaker:us-east-1:1:model-package/tickets/2";
        let serving = |status| {
            Some(Serving {
                package: v2,
                status,
            })
        };
        #[rustfmt::skip]
        let table = [
            (serving("Approved"),              None),
            (serving("Rejected"),              Some("is Rejected now")),
            (serving("PendingManualApproval"), Some("is PendingManualApproval now")),
            (None,                             Some("nothing serves")),
        ];
        for (serving, refused) in table {
            match (judge(serving), refused) {
                (Launch::Start, None) => {}
                (Launch::Refuse(reason), Some(expected)) => {
                    assert!(reason.contains(expected), "{reason}")
                }
                (got, expected) => panic!("{serving:?}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn job_names_are_the_uploads_and_fit() {
        let a = job_name("mlops-guardrails", "batch-input/a.jsonl", Some("v1"));
        assert_eq!(
            a,
            job_name("mlops-guardrails", "batch-input/a.jsonl", Some("v1"))
        );
        assert_ne!(
            a,
            job_name("mlops-guardrails", "batch-input/a.jsonl", Some("v2"))
        );
        assert_ne!(
            a,
            job_name("mlops-guardrails", "batch-input/b.jsonl", Some("v1"))
        );
        assert!(
            a.starts_with("mlops-guardrails-batch-") && a.len() == 39,
            "{a}"
        );
        let long = job_name(&"p_".repeat(40), "k", None);
        assert!(long.len() <= 63 && !long.starts_with('-'), "{long}");
    }
}
