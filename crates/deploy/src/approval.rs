//! A model version approved in the registry, by a person or by the workflow on the gate's verdict: the approval
//! (who, when, which lineage record) is signed and kept beside the lineage record, so a version a person approved
//! can be told from one nobody did. Signed by deploy as it handles the approval's own event, before it decides
//! what serves: the approval is on record by the time it is needed. What to do is decided here, free of AWS types.

use chrono::{DateTime, Utc};
pub use guardrails_core::aws_events::{Modifier, PackageStateChange};
use guardrails_core::lineage;
use guardrails_core::registry::Package;

/// Who approved and when, as the event tells it: never the registry's current last editor, who may have changed
/// the package after the approval. `unknown` when the event names no one; the time falls back to the registry's.
pub fn approver(change: &PackageStateChange, now: &Package) -> (String, Option<DateTime<Utc>>) {
    let who = change
        .last_modified_by
        .as_ref()
        .and_then(Modifier::name)
        .unwrap_or_else(|| "unknown".to_owned());
    (who, change.last_modified_time.or(now.modified_at))
}

/// Why a change needs no approval record (`Err`), or `Ok` when it does: the package is in `group`, approved now,
/// and was registered by the workflow (it names its lineage record).
///
/// # Errors
/// The reason to sign nothing.
pub fn needs_record(now: &Package, group: &str) -> Result<(), String> {
    if group != now.group {
        return Err(format!("{} is not in group {group}", now.arn));
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

    fn package(status: &str, group: &str, lineage: bool) -> Package {
        let mut metadata = std::collections::HashMap::new();
        if lineage {
            metadata.insert(
                lineage::PACKAGE_RECORD.to_owned(),
                "s3://state/lineage/j.json".to_owned(),
            );
        }
        Package {
            arn: format!("arn:aws:sagemaker:us-east-1:1:model-package/{group}/2"),
            group: group.to_owned(),
            status: status.to_owned(),
            metadata,
            ..Package::default()
        }
    }

    #[test]
    fn the_approver_is_the_events_account_never_the_registrys_last_editor() {
        let change = |by: Option<serde_json::Value>| -> PackageStateChange {
            let mut detail = serde_json::json!({"ModelPackageArn": "a", "ModelPackageGroupName": "g",
                "LastModifiedTime": "2026-11-21T09:12:43Z"});
            if let Some(by) = by {
                detail["LastModifiedBy"] = by;
            }
            serde_json::from_value(detail).unwrap()
        };
        let mut now = package("Approved", "g", true);
        now.modified_by = Some("later-editor".to_owned());
        #[rustfmt::skip]
        let table = [
            (Some(serde_json::json!({"IamIdentity": {"Arn": "arn:aws:sts::1:assumed-role/MLEngineer/ana"},
                                     "UserProfileName": "ana"})), "arn:aws:sts::1:assumed-role/MLEngineer/ana"),
            (Some(serde_json::json!({"UserProfileName": "ana"})), "ana"),
            (Some(serde_json::json!({})), "unknown"),
            (None, "unknown"),
        ];
        for (by, expected) in table {
            let (who, when) = approver(&change(by.clone()), &now);
            assert_eq!(who, expected, "{by:?}");
            assert_eq!(when, Some("2026-11-21T09:12:43Z".parse().unwrap()));
        }
    }

    #[test]
    fn only_approved_packages_of_the_group_with_a_lineage_are_recorded() {
        #[rustfmt::skip]
        let table = [
            (package("Approved", "tickets", true), "tickets", None),
            (package("Approved", "other", true), "tickets", Some("not in group")),
            (package("Rejected", "tickets", true), "tickets", Some("is Rejected now")),
            (package("PendingManualApproval", "tickets", true), "tickets", Some("is PendingManualApproval")),
            (package("Approved", "tickets", false), "tickets", Some("not registered by the training workflow")),
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
