//! Dev-only test kit: one AWS emulator (a moto server) per test process, reached through the real AWS SDK for
//! Rust, plus helpers that create uniquely named resources and read back what was really published.
//!
//! The emulator comes from the project's own virtualenv (`make setup` creates `.venv`). If it cannot start,
//! [`emulator`] panics with a message saying how to fix it: an emulator test never passes without an emulator.

#![allow(clippy::unwrap_used)] // a test kit reports setup failures by panicking, with context

pub mod asl;
mod faults;
mod images;
mod probes;
mod server;
mod tasks;

pub use asl::{emulator_definition, fail_state, try_emulator_definition};
pub use faults::{Faults, When};
pub use images::{push_image, scanned_image};
pub use probes::{
    BusProbe, KmsBucket, PACKAGE_IMAGE, TopicProbe, drain_queue, encrypt_with_kms, lineage_record,
    object_bytes, pinned_run, queue_with_arn, register_package, signing_key, sns_event,
    training_job,
};
pub use server::{
    Emulator, RUNNER_ACCESS_KEY, RUNNER_ARN, emulator, python_path, try_emulator, try_iam_emulator,
};
pub use tasks::{Ended, TaskError, TaskRunner, answer_task};

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Flushes the EMF collector and returns its documents, one JSON object per line it would print to CloudWatch
/// Logs. The recorder is process-wide: a test asserting on it should own the label values it looks for.
pub fn emf_documents(collector: &metrics_cloudwatch_embedded::Collector) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    collector.flush(&mut out).expect("flush EMF metrics");
    String::from_utf8(out)
        .expect("EMF output is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("EMF line is JSON"))
        .collect()
}

/// The text of a sample event under the repository's `events/` folder.
///
/// # Panics
/// When the file is missing, naming it.
pub fn fixture_text(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A sample event under `events/`, parsed.
///
/// # Panics
/// When the file is missing or not JSON, naming it.
pub fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// The region every emulator resource lives in.
pub const REGION: &str = "us-east-1";

/// The account id moto uses for the dummy credentials.
pub const ACCOUNT_ID: &str = "123456789012";

/// A name no other test (in this or a concurrent process) uses: `prefix-<pid>-<counter>-<nanos>`, lowercase and
/// at most 63 characters (the prefix is cut to 30), so it is valid for S3 buckets, SQS queues, SNS topics and
/// EventBridge buses alike.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let prefix: String = prefix.to_ascii_lowercase().chars().take(30).collect();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_fit_bucket_rules() {
        let long = "x".repeat(80);
        let names = [
            unique_name("Raw"),
            unique_name("Raw"),
            unique_name(&long),
            unique_name(&long),
        ];
        assert_ne!(names[0], names[1]);
        assert_ne!(names[2], names[3]);
        for name in names {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }
}
