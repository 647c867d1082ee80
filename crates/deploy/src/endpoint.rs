//! The real-time endpoint of a release: an endpoint configuration for the serving version's model (data capture on,
//! to the monitor's prefix, with KMS), then the endpoint created, or updated blue/green (a canary share first) with
//! automatic rollback on the endpoint's alarms. What to do with the endpoint as it stands is decided in [`step`],
//! free of AWS types; [`release`] does it.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    Alarm, AutoRollbackConfig, BlueGreenUpdatePolicy, CapacitySize, CapacitySizeType, CaptureMode,
    CaptureOption, DataCaptureConfig, DeploymentConfig, ProductionVariant,
    ProductionVariantInstanceType, TrafficRoutingConfig, TrafficRoutingConfigType,
};
use guardrails_core::AwsError;

/// How the serving version's endpoint is run.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSettings {
    /// The endpoint (`ENDPOINT_NAME`).
    pub name: String,
    /// Its instances (`ENDPOINT_INSTANCE_TYPE`, default `ml.m5.large`; `ENDPOINT_INSTANCE_COUNT`, default 1).
    pub instance_type: String,
    /// How many.
    pub instance_count: i32,
    /// Where requests and responses are captured for the monitor (`CAPTURE_URI`, an `s3://bucket/prefix/`).
    pub capture_uri: String,
    /// The capture's and the instances' volumes' key (`KMS_KEY_ID`).
    pub kms_key_id: Option<String>,
    /// The alarms whose ALARM rolls a release back (`ROLLBACK_ALARMS`, comma-separated).
    pub rollback_alarms: Vec<String>,
    /// The canary's share of the fleet, percent (`CANARY_PERCENT`, default 10).
    pub canary_percent: i32,
    /// How long the canary runs before the rest shifts (`CANARY_WAIT_SECONDS`, default 600).
    pub canary_wait_seconds: i32,
}

/// The endpoint as described, reduced to what the release depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing<'a> {
    /// Its status (`InService`, `Updating`, `Failed`…), `None` when there is no such endpoint.
    pub status: Option<&'a str>,
    /// The configuration it runs.
    pub config: Option<&'a str>,
    /// Why its last change failed or rolled back, as SageMaker says.
    pub failure: Option<&'a str>,
}

/// What to do with the endpoint for the configuration `ours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No endpoint yet: create it on `ours`.
    Create,
    /// In service on another configuration: update it, blue/green.
    Update,
    /// In service on `ours`: the release is done.
    OnTarget,
    /// A change is under way (the status): its end, another endpoint event, decides.
    Busy(String),
    /// This release was attempted and the endpoint is not on it: rolled back or failed, and why. Not retried.
    Undone(String),
}

/// The step for `standing`, when deploy wants it on `ours` and has (`attempted`) or has not started that before.
pub fn step(standing: Standing<'_>, ours: &str, attempted: bool) -> Step {
    let Some(status) = standing.status else {
        return if attempted {
            Step::Undone("the endpoint deploy created is gone".to_owned())
        } else {
            Step::Create
        };
    };
    let on_ours = standing.config == Some(ours);
    match status {
        "InService" if on_ours => Step::OnTarget,
        "InService" | "Failed" if attempted => Step::Undone(format!(
            "the endpoint is {status} on {} instead: {}",
            standing.config.unwrap_or("no configuration"),
            standing
                .failure
                .unwrap_or("no reason given (an alarm rolled it back)")
        )),
        "InService" => Step::Update,
        other => Step::Busy(other.to_owned()),
    }
}

/// Makes the endpoint configuration `name` for the model `model` unless it exists: one production variant taking
/// all traffic, every request and response captured to the monitor's prefix.
///
/// # Errors
/// The classified SageMaker error.
pub async fn ensure_config(
    sagemaker: &Client,
    settings: &EndpointSettings,
    name: &str,
    model: &str,
) -> Result<(), AwsError> {
    let variant = ProductionVariant::builder()
        .variant_name("AllTraffic")
        .model_name(model)
        .instance_type(ProductionVariantInstanceType::from(
            settings.instance_type.as_str(),
        ))
        .initial_instance_count(settings.instance_count)
        .initial_variant_weight(1.0)
        .build();
    let capture = DataCaptureConfig::builder()
        .enable_capture(true)
        .initial_sampling_percentage(100)
        .destination_s3_uri(&settings.capture_uri)
        .set_kms_key_id(settings.kms_key_id.clone())
        .capture_options(
            CaptureOption::builder()
                .capture_mode(CaptureMode::Input)
                .build(),
        )
        .capture_options(
            CaptureOption::builder()
                .capture_mode(CaptureMode::Output)
                .build(),
        )
        .build();
    let created = sagemaker
        .create_endpoint_config()
        .endpoint_config_name(name)
        .production_variants(variant)
        .data_capture_config(capture)
        .set_kms_key_id(settings.kms_key_id.clone())
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) => {
            let error = AwsError::from_sdk("CreateEndpointConfig", name, e);
            // "Cannot create already existing endpoint configuration": an earlier attempt's, the same.
            if error.to_string().contains("already exist") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

/// The endpoint as it stands: (status, configuration, failure reason); all `None` when it does not exist.
///
/// # Errors
/// The classified SageMaker error other than "not found".
pub async fn describe(
    sagemaker: &Client,
    endpoint: &str,
) -> Result<(Option<String>, Option<String>, Option<String>), AwsError> {
    match sagemaker
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
    {
        Ok(d) => Ok((
            d.endpoint_status().map(|s| s.as_str().to_owned()),
            d.endpoint_config_name().map(str::to_owned),
            d.failure_reason().map(str::to_owned),
        )),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeEndpoint", endpoint, e);
            if error.to_string().contains("Could not find endpoint") {
                Ok((None, None, None))
            } else {
                Err(error)
            }
        }
    }
}

/// Creates the endpoint on `config`, or updates it blue/green: the canary share of the fleet first, the rest
/// after `canary_wait_seconds`, rolled back automatically when one of the rollback alarms fires meanwhile.
///
/// # Errors
/// The classified SageMaker error.
pub async fn move_to(
    sagemaker: &Client,
    settings: &EndpointSettings,
    config: &str,
    create: bool,
) -> Result<(), AwsError> {
    let endpoint = &settings.name;
    if create {
        sagemaker
            .create_endpoint()
            .endpoint_name(endpoint)
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateEndpoint", endpoint, e))?;
        return Ok(());
    }
    let canary = CapacitySize::builder()
        .r#type(CapacitySizeType::CapacityPercent)
        .value(settings.canary_percent)
        .build();
    let routing = TrafficRoutingConfig::builder()
        .r#type(TrafficRoutingConfigType::Canary)
        .canary_size(canary)
        .wait_interval_in_seconds(settings.canary_wait_seconds)
        .build();
    let policy = BlueGreenUpdatePolicy::builder()
        .traffic_routing_configuration(routing)
        .termination_wait_in_seconds(settings.canary_wait_seconds)
        .build();
    let alarms: Vec<Alarm> = settings
        .rollback_alarms
        .iter()
        .map(|name| Alarm::builder().alarm_name(name).build())
        .collect();
    let deployment = DeploymentConfig::builder()
        .blue_green_update_policy(policy)
        .set_auto_rollback_configuration((!alarms.is_empty()).then(|| {
            AutoRollbackConfig::builder()
                .set_alarms(Some(alarms))
                .build()
        }))
        .build();
    sagemaker
        .update_endpoint()
        .endpoint_name(endpoint)
        .endpoint_config_name(config)
        .deployment_config(deployment)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateEndpoint", endpoint, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_moves_once_and_a_rollback_is_not_retried() {
        let standing = |status: Option<&'static str>, config: Option<&'static str>| Standing {
            status,
            config,
            failure: None,
        };
        #[rustfmt::skip]
        let table = [
            ("no endpoint",                  standing(None, None),                          false, Step::Create),
            ("in service on the old one",    standing(Some("InService"), Some("v1")),       false, Step::Update),
            ("in service on ours",           standing(Some("InService"), Some("v2")),       true,  Step::OnTarget),
            ("updating",                     standing(Some("Updating"), Some("v1")),        true,  Step::Busy("Updating".into())),
            ("creating",                     standing(Some("Creating"), None),              true,  Step::Busy("Creating".into())),
            ("rolled back after our update", standing(Some("InService"), Some("v1")),       true,  Step::Undone("the endpoint is InService on v1 instead: no reason given (an alarm rolled it back)".into())),
            ("failed after our update",      standing(Some("Failed"), Some("v1")),          true,  Step::Undone("the endpoint is Failed on v1 instead: no reason given (an alarm rolled it back)".into())),
            ("failed before any attempt",    standing(Some("Failed"), Some("v1")),          false, Step::Busy("Failed".into())),
            ("deleted after we created it",  standing(None, None),                          true,  Step::Undone("the endpoint deploy created is gone".into())),
        ];
        for (case, standing, attempted, expected) in table {
            assert_eq!(step(standing, "v2", attempted), expected, "{case}");
        }
    }
}
