//! The model registry's events, as SageMaker sends them: every change of a package's approval status in a
//! watched group becomes a "SageMaker Model Package State Change" on the default bus, its detail the package as
//! DescribeModelPackage returns it. The emulator's registry sends none, so the loop watches it, as it watches
//! executions for Step Functions' status events.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::operation::describe_model_package::DescribeModelPackageOutput;
use serde_json::{Map, Value, json};

use crate::runtime::{Runtime, ServiceEvent};
use crate::timeline::Fact;

/// How often the group's packages are listed.
const REGISTRY_POLL: Duration = Duration::from_millis(250);

/// SageMaker's `detail-type` for a package's changes.
const DETAIL_TYPE: &str = guardrails_core::aws_events::PackageStateChange::DETAIL_TYPE;

impl Runtime {
    /// Watches `group`'s packages and announces each change of approval status (a new package included).
    pub async fn watch_registry(&self, group: String) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        loop {
            tokio::time::sleep(REGISTRY_POLL).await;
            let Ok(listed) = self
                .sagemaker()
                .list_model_packages()
                .model_package_group_name(&group)
                .send()
                .await
            else {
                continue;
            };
            for summary in listed.model_package_summary_list() {
                let (Some(arn), Some(status)) = (
                    summary.model_package_arn(),
                    summary.model_approval_status().map(|s| s.as_str()),
                ) else {
                    continue;
                };
                if seen.get(arn).map(String::as_str) == Some(status) {
                    continue;
                }
                if self.announce(arn, status).await {
                    seen.insert(arn.to_owned(), status.to_owned());
                }
            }
        }
    }

    /// Puts the package's state change on the default bus; false when it could not (tried again next time).
    async fn announce(&self, arn: &str, status: &str) -> bool {
        let Ok(package) = self
            .sagemaker()
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
        else {
            return false;
        };
        let event = ServiceEvent {
            source: "aws.sagemaker",
            detail_type: DETAIL_TYPE.into(),
            detail: detail(&package),
            resources: vec![arn.to_owned()],
            time: None,
        };
        let version = arn.rsplit('/').take(2).collect::<Vec<_>>();
        let name = version.iter().rev().copied().collect::<Vec<_>>().join("/");
        let sent = self
            .send(
                "sagemaker",
                &format!("model package {name} is {status}: {DETAIL_TYPE} to the default bus"),
                event,
            )
            .await;
        if !sent {
            self.timeline
                .record("runner", format!("{arn} not announced yet"), Fact::Trouble);
        }
        sent
    }
}

/// The event's detail: the package's fields as SageMaker names them (only those it has).
fn detail(p: &DescribeModelPackageOutput) -> Value {
    let time = |t: Option<&aws_sdk_sagemaker::primitives::DateTime>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
            .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
    };
    let text = |s: Option<&str>| s.map(|s| json!(s));
    let fields = [
        ("ModelPackageGroupName", text(p.model_package_group_name())),
        (
            "ModelPackageVersion",
            p.model_package_version().map(|v| json!(v)),
        ),
        ("ModelPackageArn", text(p.model_package_arn())),
        (
            "ModelPackageDescription",
            text(p.model_package_description()),
        ),
        ("CreationTime", time(p.creation_time())),
        (
            "ModelPackageStatus",
            text(p.model_package_status().map(|s| s.as_str())),
        ),
        (
            "ModelApprovalStatus",
            text(p.model_approval_status().map(|s| s.as_str())),
        ),
        ("ApprovalDescription", text(p.approval_description())),
        ("LastModifiedTime", time(p.last_modified_time())),
        (
            "CustomerMetadataProperties",
            p.customer_metadata_properties().map(|m| json!(m)),
        ),
    ];
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect::<Map<String, Value>>(),
    )
}

/// Approves package `arn` as a reviewer would in the registry. SageMaker keeps a package's metadata when an update
/// names none; the emulator replaces it, so the call sends it again (the lineage reference is in it).
///
/// # Errors
/// The classified SageMaker error.
pub async fn approve(
    sagemaker: &aws_sdk_sagemaker::Client,
    arn: &str,
    description: &str,
) -> Result<(), guardrails_core::AwsError> {
    let metadata = guardrails_core::registry::describe(sagemaker, arn)
        .await?
        .metadata;
    sagemaker
        .update_model_package()
        .model_package_arn(arn)
        .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::Approved)
        .approval_description(description)
        .set_customer_metadata_properties(Some(metadata))
        .send()
        .await
        .map_err(|e| guardrails_core::AwsError::from_sdk("UpdateModelPackage", arn, e))?;
    Ok(())
}
