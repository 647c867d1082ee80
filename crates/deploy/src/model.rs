//! The SageMaker model of a serving version: made from the package itself (SageMaker takes the image and the
//! model artifacts from it), named after the version and its lineage digest so a retry finds its own.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{ContainerDefinition, Tag, VpcConfig};
use guardrails_core::AwsError;

use crate::config::ModelSettings;

/// SageMaker's limit on a model name.
pub(crate) const MAX_NAME: usize = 63;

/// `<group>-v<n>-<first 8 hex of the lineage digest>`, the group cut so the whole fits SageMaker's 63 characters
/// and its pattern (letters, digits and hyphens, no hyphen first or last).
pub fn model_name(group: &str, number: u32, lineage_sha256: &str) -> String {
    let digest: String = lineage_sha256.chars().take(8).collect();
    let tail = format!("-v{number}-{digest}");
    let head: String = group
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(MAX_NAME - tail.len())
        .collect();
    format!("{}{tail}", head.trim_matches('-'))
}

/// Makes the model `name` from `package_arn` unless it exists (a retry, or the version served before). An existing
/// model of that name must be the one deploy makes: the package's, with the execution role deploy passes; `Err`
/// says what differs (the name is predictable, and another principal allowed to create models could take it).
///
/// # Errors
/// The classified SageMaker error.
pub async fn ensure(
    sagemaker: &Client,
    settings: &ModelSettings,
    name: &str,
    package_arn: &str,
) -> Result<Result<(), String>, AwsError> {
    let vpc = settings.network.as_ref().map(|n| {
        VpcConfig::builder()
            .set_subnets(Some(n.subnets.clone()))
            .set_security_group_ids(Some(n.security_groups.clone()))
            .build()
    });
    let tag = Tag::builder()
        .key("project")
        .value(&settings.project)
        .build();
    let created = sagemaker
        .create_model()
        .model_name(name)
        .execution_role_arn(&settings.role_arn)
        .containers(
            ContainerDefinition::builder()
                .model_package_name(package_arn)
                .build(),
        )
        .set_vpc_config(vpc)
        .enable_network_isolation(settings.network_isolation)
        .tags(tag)
        .send()
        .await;
    match created {
        Ok(_) => Ok(Ok(())),
        Err(e) => {
            let error = AwsError::from_sdk("CreateModel", name, e);
            // "Cannot create already existing model": made by an earlier attempt, if it is what deploy makes.
            if error.to_string().contains("already exist") {
                existing(sagemaker, settings, name, package_arn).await
            } else {
                Err(error)
            }
        }
    }
}

/// Whether the existing model `name` serves `package_arn` alone, with the configured execution role.
async fn existing(
    sagemaker: &Client,
    settings: &ModelSettings,
    name: &str,
    package_arn: &str,
) -> Result<Result<(), String>, AwsError> {
    let model = sagemaker
        .describe_model()
        .model_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeModel", name, e))?;
    let packages: Vec<Option<&str>> = model
        .primary_container()
        .into_iter()
        .chain(model.containers())
        .map(|c| c.model_package_name())
        .collect();
    if packages.is_empty() || packages.iter().any(|p| *p != Some(package_arn)) {
        return Ok(Err(format!(
            "its containers serve {packages:?}, not {package_arn} alone"
        )));
    }
    if model.execution_role_arn() != Some(settings.role_arn.as_str()) {
        return Ok(Err(format!(
            "its execution role is {:?}, not {}",
            model.execution_role_arn(),
            settings.role_arn
        )));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_sagemakers_rules() {
        let sha = "0123456789abcdef".repeat(4);
        #[rustfmt::skip]
        let table = [
            ("tickets", 2, "tickets-v2-01234567"),
            ("tickets_classifier.v2", 10, "tickets-classifier-v2-v10-01234567"),
            (&*"g".repeat(80), 3, &*format!("{}-v3-01234567", "g".repeat(51))),
            ("-edge-", 1, "edge-v1-01234567"),
        ];
        for (group, number, expected) in table {
            let name = model_name(group, number, &sha);
            assert_eq!(name, expected);
            assert!(name.len() <= MAX_NAME, "{name}");
        }
    }
}
