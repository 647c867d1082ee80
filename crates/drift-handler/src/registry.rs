//! The SageMaker side of a rollback: the registry's approved and recently rejected versions, and the rejection.
//! What serves moves through deploy, which acts on the rejection (the endpoint too, in real-time).

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, ModelPackageSortBy, SortOrder};
use chrono::{DateTime, Utc};
use guardrails_core::AwsError;

use crate::rollback::Package;

/// How many of the newest rejected versions are searched for an earlier attempt at the same transition.
const RECENT_REJECTIONS: i32 = 10;

/// SageMaker calls of the rollback.
#[derive(Debug, Clone)]
pub struct Registry {
    sagemaker: Client,
}

fn time(t: Option<&aws_sdk_sagemaker::primitives::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

impl Registry {
    /// Calls through `sagemaker`.
    pub fn new(sagemaker: Client) -> Self {
        Registry { sagemaker }
    }

    /// Every Approved version of `group`, newest first.
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn approved(&self, group: &str) -> Result<Vec<Package>, AwsError> {
        let mut items = self
            .sagemaker
            .list_model_packages()
            .model_package_group_name(group)
            .model_approval_status(ModelApprovalStatus::Approved)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .into_paginator()
            .items()
            .send();
        let mut packages = Vec::new();
        while let Some(summary) = items.next().await {
            let summary = summary.map_err(|e| AwsError::from_sdk("ListModelPackages", group, e))?;
            if let Some(arn) = summary.model_package_arn() {
                packages.push(Package {
                    arn: arn.to_owned(),
                    created: time(summary.creation_time()),
                });
            }
        }
        Ok(packages)
    }

    /// The newest rejected versions with their approval descriptions: drift-handler's own rejections name the
    /// alarm transition and the version they restored.
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn recent_rejections(
        &self,
        group: &str,
    ) -> Result<Vec<(Package, Option<String>)>, AwsError> {
        let recent = self
            .sagemaker
            .list_model_packages()
            .model_package_group_name(group)
            .model_approval_status(ModelApprovalStatus::Rejected)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .max_results(RECENT_REJECTIONS)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListModelPackages", group, e))?;
        let mut out = Vec::new();
        for summary in recent.model_package_summary_list() {
            if let Some(arn) = summary.model_package_arn() {
                out.push(self.describe(arn).await?);
            }
        }
        Ok(out)
    }

    /// A version and its approval description.
    async fn describe(&self, arn: &str) -> Result<(Package, Option<String>), AwsError> {
        let p = self
            .sagemaker
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeModelPackage", arn, e))?;
        Ok((
            Package {
                arn: arn.to_owned(),
                created: time(p.creation_time()),
            },
            p.approval_description().map(str::to_owned),
        ))
    }

    /// Sets a version to Rejected with `description` (which names the alarm transition).
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn reject(&self, arn: &str, description: &str) -> Result<(), AwsError> {
        self.sagemaker
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(ModelApprovalStatus::Rejected)
            .approval_description(description)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateModelPackage", arn, e))?;
        Ok(())
    }
}
