//! The SageMaker side of a rollback: the registry's approved versions, the endpoint's current model, and the
//! changes.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, ModelApprovalStatus, ModelPackageSortBy, ProductionVariant, SortOrder,
};
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

    /// The endpoint's current configuration and the model package its first variant serves; `None` when that
    /// model was not created from a model package (nothing in the registry to roll back).
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn serving(&self, endpoint: &str) -> Result<Option<Serving>, AwsError> {
        let described = self
            .sagemaker
            .describe_endpoint()
            .endpoint_name(endpoint)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpoint", endpoint, e))?;
        let config_name = described
            .endpoint_config_name()
            .unwrap_or_default()
            .to_owned();
        let config = self
            .sagemaker
            .describe_endpoint_config()
            .endpoint_config_name(&config_name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", &config_name, e))?;
        let variants = config.production_variants().to_vec();
        let model_name = variants
            .first()
            .and_then(|v| v.model_name())
            .unwrap_or_default()
            .to_owned();
        let model = self
            .sagemaker
            .describe_model()
            .model_name(&model_name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeModel", &model_name, e))?;
        let Some(package_arn) = model
            .primary_container()
            .and_then(|c| c.model_package_name())
            .or_else(|| {
                model
                    .containers()
                    .first()
                    .and_then(|c| c.model_package_name())
            })
            .map(str::to_owned)
        else {
            return Ok(None);
        };
        let (package, _) = self.describe(&package_arn).await?;
        Ok(Some(Serving {
            package,
            variants,
            kms_key_id: config.kms_key_id().map(str::to_owned),
            data_capture: config.data_capture_config().cloned(),
            async_inference: config.async_inference_config().cloned(),
            config_role_arn: config.execution_role_arn().map(str::to_owned),
            config_vpc: config.vpc_config().cloned(),
            model_vpc: model.vpc_config().cloned(),
            network_isolation: model.enable_network_isolation(),
        }))
    }

    /// Points `endpoint` at `target`: a new model from the package (with the current model's VPC and network
    /// isolation) and a copy of the current endpoint configuration using it (variants with their volume and
    /// timeouts, KMS key, data capture, async inference, role, VPC; not shadow variants), then UpdateEndpoint.
    /// `suffix` makes the new names unique per transition, so a retried rollback reuses them.
    ///
    /// # Errors
    /// The classified SageMaker error.
    pub async fn point_endpoint(
        &self,
        endpoint: &str,
        current: &Serving,
        target: &Package,
        role_arn: &str,
        suffix: &str,
    ) -> Result<String, AwsError> {
        let name = resource_name(endpoint, suffix);
        let created = self
            .sagemaker
            .create_model()
            .model_name(&name)
            .execution_role_arn(role_arn)
            .primary_container(
                ContainerDefinition::builder()
                    .model_package_name(&target.arn)
                    .build(),
            )
            .set_vpc_config(current.model_vpc.clone())
            .set_enable_network_isolation(current.network_isolation)
            .send()
            .await;
        if let Err(e) = created {
            let error = AwsError::from_sdk("CreateModel", &name, e);
            // A retry after a partial rollback finds its own model already there.
            if !error.to_string().contains("already exist") {
                return Err(error);
            }
        }
        let variants: Vec<ProductionVariant> = current
            .variants
            .iter()
            .map(|v| {
                ProductionVariant::builder()
                    .set_variant_name(v.variant_name().map(str::to_owned))
                    .model_name(&name)
                    .set_instance_type(v.instance_type().cloned())
                    .set_initial_instance_count(v.initial_instance_count())
                    .set_initial_variant_weight(v.initial_variant_weight())
                    .set_serverless_config(v.serverless_config().cloned())
                    .set_volume_size_in_gb(v.volume_size_in_gb())
                    .set_model_data_download_timeout_in_seconds(
                        v.model_data_download_timeout_in_seconds(),
                    )
                    .set_container_startup_health_check_timeout_in_seconds(
                        v.container_startup_health_check_timeout_in_seconds(),
                    )
                    .build()
            })
            .collect();
        let configured = self
            .sagemaker
            .create_endpoint_config()
            .endpoint_config_name(&name)
            .set_production_variants(Some(variants))
            .set_kms_key_id(current.kms_key_id.clone())
            .set_data_capture_config(current.data_capture.clone())
            .set_async_inference_config(current.async_inference.clone())
            .set_execution_role_arn(current.config_role_arn.clone())
            .set_vpc_config(current.config_vpc.clone())
            .send()
            .await;
        if let Err(e) = configured {
            let error = AwsError::from_sdk("CreateEndpointConfig", &name, e);
            if !error.to_string().contains("already exist") {
                return Err(error);
            }
        }
        self.sagemaker
            .update_endpoint()
            .endpoint_name(endpoint)
            .endpoint_config_name(&name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateEndpoint", endpoint, e))?;
        Ok(name)
    }
}

/// What a real-time endpoint serves now.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The model package behind its first variant.
    pub package: Package,
    /// Its production variants, copied into the rollback configuration.
    pub variants: Vec<ProductionVariant>,
    /// Its configuration's KMS key.
    pub kms_key_id: Option<String>,
    /// Its data capture (Model Monitor reads it: a rollback must keep it).
    pub data_capture: Option<aws_sdk_sagemaker::types::DataCaptureConfig>,
    /// Its asynchronous inference settings.
    pub async_inference: Option<aws_sdk_sagemaker::types::AsyncInferenceConfig>,
    /// Its configuration's execution role.
    pub config_role_arn: Option<String>,
    /// Its configuration's VPC.
    pub config_vpc: Option<aws_sdk_sagemaker::types::VpcConfig>,
    /// The current model's VPC, kept by the rollback model.
    pub model_vpc: Option<aws_sdk_sagemaker::types::VpcConfig>,
    /// The current model's network isolation, kept by the rollback model.
    pub network_isolation: Option<bool>,
}

/// `<endpoint>-rb-<suffix>`, within SageMaker's 63 characters.
fn resource_name(endpoint: &str, suffix: &str) -> String {
    let tail = format!("-rb-{suffix}");
    let head: String = endpoint.chars().take(63 - tail.len()).collect();
    format!("{}{tail}", head.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_names_fit() {
        assert_eq!(resource_name("tickets", "1a2b3c4d"), "tickets-rb-1a2b3c4d");
        let long = resource_name(&"e".repeat(80), "1a2b3c4d");
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("-rb-1a2b3c4d"));
    }
}
