//! The model registry as the guardrails read it: which version of a group serves.

use std::collections::HashMap;

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, ModelPackageSortBy, SortOrder};

use crate::error::AwsError;

/// An Approved model package and its customer metadata (the gate's figures, lineage and baseline references).
#[derive(Debug, Clone, PartialEq)]
pub struct Approved {
    /// The package ARN.
    pub arn: String,
    /// Its customer metadata.
    pub metadata: HashMap<String, String>,
}

/// The newest Approved version of `group`: the one that serves, as batch inference picks it. `None` when no
/// version is approved.
///
/// # Errors
/// The classified SageMaker error.
pub async fn newest_approved(
    sagemaker: &Client,
    group: &str,
) -> Result<Option<Approved>, AwsError> {
    let listed = sagemaker
        .list_model_packages()
        .model_package_group_name(group)
        .model_approval_status(ModelApprovalStatus::Approved)
        .sort_by(ModelPackageSortBy::CreationTime)
        .sort_order(SortOrder::Descending)
        .max_results(1)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListModelPackages", group, e))?;
    let Some(arn) = listed
        .model_package_summary_list()
        .first()
        .and_then(|p| p.model_package_arn())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let package = sagemaker
        .describe_model_package()
        .model_package_name(&arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeModelPackage", &arn, e))?;
    let metadata = package
        .customer_metadata_properties()
        .cloned()
        .unwrap_or_default();
    Ok(Some(Approved { arn, metadata }))
}
