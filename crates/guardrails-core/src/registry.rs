//! The model registry as the guardrails read it: a package as it is now, and which version of a group serves.

use std::collections::HashMap;

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, ModelPackageSortBy, SortOrder, UserContext};
use chrono::{DateTime, Utc};

use crate::error::AwsError;

/// A model package as the registry describes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    /// The package ARN.
    pub arn: String,
    /// Its group.
    pub group: String,
    /// `Approved`, `PendingManualApproval` or `Rejected`.
    pub status: String,
    /// Its customer metadata (the gate's figures, lineage and baseline references).
    pub metadata: HashMap<String, String>,
    /// The model artifacts of every inference container (additional specifications included): what could serve;
    /// `""` for a container whose model comes from elsewhere.
    pub model_data_urls: Vec<String>,
    /// The image of every inference container (additional specifications included), in the same order.
    pub images: Vec<String>,
    /// Who changed it last: an IAM identity ARN, else a Studio user profile.
    pub modified_by: Option<String>,
    /// When.
    pub modified_at: Option<DateTime<Utc>>,
    /// The approval description.
    pub description: Option<String>,
}

fn who(user: Option<&UserContext>) -> Option<String> {
    user.and_then(|u| {
        u.iam_identity()
            .and_then(|i| i.arn())
            .or(u.user_profile_arn())
            .or(u.user_profile_name())
            .map(str::to_owned)
    })
}

fn time(t: Option<&aws_sdk_sagemaker::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// The package `arn` as the registry describes it now.
///
/// # Errors
/// The classified SageMaker error.
pub async fn describe(sagemaker: &Client, arn: &str) -> Result<Package, AwsError> {
    let p = sagemaker
        .describe_model_package()
        .model_package_name(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeModelPackage", arn, e))?;
    // Every container that could serve, additional inference specifications included; one without a model data
    // URL (a model from another source) is kept as "" so no check can pass it over.
    let containers = p
        .inference_specification()
        .map(|s| s.containers())
        .unwrap_or_default()
        .iter()
        .chain(
            p.additional_inference_specifications()
                .iter()
                .flat_map(|s| s.containers()),
        );
    Ok(Package {
        arn: p.model_package_arn().unwrap_or(arn).to_owned(),
        group: p.model_package_group_name().unwrap_or_default().to_owned(),
        status: p
            .model_approval_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        metadata: p
            .customer_metadata_properties()
            .cloned()
            .unwrap_or_default(),
        model_data_urls: containers
            .clone()
            .map(|c| c.model_data_url().unwrap_or_default().to_owned())
            .collect(),
        images: containers
            .map(|c| c.image().unwrap_or_default().to_owned())
            .collect(),
        modified_by: who(p.last_modified_by()).or_else(|| who(p.created_by())),
        modified_at: time(p.last_modified_time()).or_else(|| time(p.creation_time())),
        description: p.approval_description().map(str::to_owned),
    })
}

/// The newest Approved version of `group`: the one that serves, as batch inference picks it. `None` when no
/// version is approved.
///
/// # Errors
/// The classified SageMaker error.
pub async fn newest_approved(sagemaker: &Client, group: &str) -> Result<Option<Package>, AwsError> {
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
    match listed
        .model_package_summary_list()
        .first()
        .and_then(|p| p.model_package_arn())
    {
        Some(arn) => Ok(Some(describe(sagemaker, arn).await?)),
        None => Ok(None),
    }
}
