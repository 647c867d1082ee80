//! A model version approved in the registry, by a person or by the workflow on the gate's verdict: the approval
//! (who, when, which lineage record) is signed and kept beside the lineage record, so the deploy stage can tell a
//! version a person approved from one nobody did. What to do is decided here, free of AWS types.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use guardrails_core::lineage;
use serde::{Deserialize, Serialize};

/// The `detail-type` of the registry's events.
pub const DETAIL_TYPE: &str = "SageMaker Model Package State Change";

/// What the event names; everything else is read from the registry again (the event may be late).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PackageStateChange {
    /// The package.
    #[serde(rename = "ModelPackageArn")]
    pub arn: String,
    /// Its group.
    #[serde(rename = "ModelPackageGroupName")]
    pub group: String,
}

/// A package as the registry describes it now.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageNow {
    /// The package.
    pub arn: String,
    /// Its group.
    pub group: String,
    /// `Approved`, `PendingManualApproval` or `Rejected`.
    pub status: String,
    /// Its customer metadata (the lineage reference).
    pub metadata: HashMap<String, String>,
    /// Who changed it last: an IAM identity ARN or a Studio user profile.
    pub modified_by: Option<String>,
    /// When.
    pub modified_at: Option<DateTime<Utc>>,
    /// The approval description.
    pub description: Option<String>,
}

/// What the gate did with a registry change; also its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ApprovalOutcome {
    /// The approval is signed and stored.
    Recorded {
        /// The approved package.
        package: String,
        /// Who approved it.
        approved_by: String,
        /// The approval record.
        record: String,
    },
    /// Nothing to record, and why.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why a change needs no approval record (`Err`), or `Ok` when it does: the package is in `group` (when one is
/// configured), approved now, and was registered by the workflow (it names its lineage record).
///
/// # Errors
/// The reason to ignore the change.
pub fn needs_record(now: &PackageNow, group: Option<&str>) -> Result<(), String> {
    if group.is_some_and(|g| g != now.group) {
        return Err(format!("{} is not in group {group:?}", now.arn));
    }
    if now.status != "Approved" {
        return Err(format!("{} is {} now", now.arn, now.status));
    }
    if !now.metadata.contains_key(lineage::PACKAGE_RECORD) {
        return Err(format!(
            "{} names no lineage record: it was not registered by the training workflow",
            now.arn
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(status: &str, group: &str, lineage: bool) -> PackageNow {
        let mut metadata = HashMap::new();
        if lineage {
            metadata.insert(
                lineage::PACKAGE_RECORD.to_owned(),
                "s3://state/lineage/j.json".to_owned(),
            );
        }
        PackageNow {
            arn: format!("arn:aws:sagemaker:us-east-1:1:model-package/{group}/2"),
            group: group.to_owned(),
            status: status.to_owned(),
            metadata,
            modified_by: None,
            modified_at: None,
            description: None,
        }
    }

    #[test]
    fn only_approved_packages_of_the_group_with_a_lineage_are_recorded() {
        #[rustfmt::skip]
        let table = [
            (package("Approved", "tickets", true), Some("tickets"), None),
            (package("Approved", "tickets", true), None, None),
            (package("Approved", "other", true), Some("tickets"), Some("not in group")),
            (package("Rejected", "tickets", true), Some("tickets"), Some("is Rejected now")),
            (package("PendingManualApproval", "tickets", true), Some("tickets"), Some("is PendingManualApproval")),
            (package("Approved", "tickets", false), Some("tickets"), Some("not registered by the training workflow")),
        ];
        for (now, group, ignored) in table {
            match (needs_record(&now, group), ignored) {
                (Ok(()), None) => {}
                (Err(reason), Some(expected)) => assert!(reason.contains(expected), "{reason}"),
                (got, expected) => panic!("{now:?}: {got:?}, expected {expected:?}"),
            }
        }
    }
}
