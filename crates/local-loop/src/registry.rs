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
    /// Watches `group`'s packages and announces each change of approval status (a new package included), as the
    /// registry describes it when announced. A failing call is tried again after a growing pause (up to 8 s),
    /// noted once per failing streak.
    pub async fn watch_registry(&self, group: String) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut pause = REGISTRY_POLL;
        loop {
            tokio::time::sleep(pause).await;
            match self.poll_registry(&group, &mut seen).await {
                Ok(()) => pause = REGISTRY_POLL,
                Err(e) => {
                    if pause == REGISTRY_POLL {
                        self.timeline.record("runner", e, Fact::Trouble);
                    }
                    pause = (pause * 2).min(Duration::from_secs(8));
                }
            }
        }
    }

    /// One look at the group: every package whose status differs from the one last announced is announced.
    async fn poll_registry(
        &self,
        group: &str,
        seen: &mut BTreeMap<String, String>,
    ) -> Result<(), String> {
        let mut pages = self
            .sagemaker()
            .list_model_packages()
            .model_package_group_name(group)
            .into_paginator()
            .items()
            .send();
        let mut listed = Vec::new();
        while let Some(summary) = pages.next().await {
            let summary = summary.map_err(|e| format!("listing {group}'s packages: {e}"))?;
            listed.extend(summary.model_package_arn().map(str::to_owned));
        }
        for arn in listed {
            let package = self
                .sagemaker()
                .describe_model_package()
                .model_package_name(&arn)
                .send()
                .await
                .map_err(|e| format!("describing {arn}: {e}"))?;
            let status = package
                .model_approval_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            if seen.get(&arn) == Some(&status) {
                continue;
            }
            if !self.announce(&arn, &status, &package).await {
                return Err(format!("{arn} is {status}, not announced yet"));
            }
            seen.insert(arn, status);
        }
        Ok(())
    }

    /// Puts the package's state change on the default bus; false when the bus refused it.
    async fn announce(
        &self,
        arn: &str,
        status: &str,
        package: &DescribeModelPackageOutput,
    ) -> bool {
        let event = ServiceEvent {
            source: "aws.sagemaker",
            detail_type: DETAIL_TYPE.into(),
            detail: detail(package),
            resources: vec![arn.to_owned()],
            time: None,
        };
        let name: Vec<&str> = arn.rsplit('/').take(2).collect();
        let name = format!(
            "{}/{}",
            name.get(1).unwrap_or(&""),
            name.first().unwrap_or(&"")
        );
        self.send(
            "sagemaker",
            &format!("model package {name} is {status}: {DETAIL_TYPE} to the default bus"),
            event,
        )
        .await
    }
}

/// SageMaker's `UserContext` as the event carries it.
fn user(u: &aws_sdk_sagemaker::types::UserContext) -> Value {
    let mut out = Map::new();
    if let Some(arn) = u.iam_identity().and_then(|i| i.arn()) {
        out.insert("IamIdentity".into(), json!({"Arn": arn}));
    }
    for (key, value) in [
        ("UserProfileArn", u.user_profile_arn()),
        ("UserProfileName", u.user_profile_name()),
        ("DomainId", u.domain_id()),
    ] {
        if let Some(v) = value {
            out.insert(key.into(), json!(v));
        }
    }
    Value::Object(out)
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
        ("LastModifiedBy", p.last_modified_by().map(user)),
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
