//! The real-time endpoint of a release: an endpoint configuration for the serving version's model (data capture on,
//! to the monitor's prefix, with KMS), then the endpoint created, or updated blue/green (a canary share first) with
//! automatic rollback on the endpoint's alarms. What to do with the endpoint as it stands is decided in [`step`],
//! free of AWS types; [`ensure_config`] and [`move_to`] do it.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    Alarm, AutoRollbackConfig, BlueGreenUpdatePolicy, CapacitySize, CapacitySizeType,
    CaptureContentTypeHeader, CaptureMode, CaptureOption, DataCaptureConfig, DeploymentConfig,
    ProductionVariant, ProductionVariantInstanceType, Tag, TrafficRoutingConfig,
    TrafficRoutingConfigType,
};
use chrono::{DateTime, Utc};
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
    /// The `project` tag of the configuration and the endpoint, which cost-guard attributes cost by (`PROJECT`).
    pub project: String,
    /// The canary's share of the fleet, percent (`CANARY_PERCENT`, default 10).
    pub canary_percent: i32,
    /// How long the canary runs before the rest shifts (`CANARY_WAIT_SECONDS`, default 600).
    pub canary_wait_seconds: i32,
}

/// The endpoint as described, reduced to what the release depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// Its status (`InService`, `Updating`, `Failed`…), `None` when there is no such endpoint.
    pub status: Option<String>,
    /// The configuration it runs.
    pub config: Option<String>,
    /// Why its last change failed or rolled back, as SageMaker says.
    pub failure: Option<String>,
    /// When it last changed.
    pub modified: Option<DateTime<Utc>>,
}

/// What to do with the endpoint to have it run the configuration deploy wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No endpoint yet: create it.
    Create,
    /// In service on another configuration: move it.
    Update,
    /// In service on the configuration wanted: nothing to do.
    OnTarget,
    /// A change is under way (the status): its end, another endpoint event, decides.
    Busy(String),
    /// The move deploy started is undone: rolled back or failed, and why. Not retried unasked.
    Undone(String),
}

/// Whether deploy started moving the endpoint to the configuration wanted (its release record says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// It did not, or a person asked to try again.
    Never,
    /// It did, when the endpoint's last change was at this time (SageMaker's clock; `None`: no endpoint yet).
    Over(Option<DateTime<Utc>>),
}

/// The step for the endpoint as it `stands`, when deploy wants it on `ours`. An endpoint that changed since
/// deploy `started` moving it there and is not on `ours` is the outcome of that move: rolled back by its alarms,
/// or failed. Compared on SageMaker's own timestamps, so no clock skew makes a rollback look like a move never
/// made (which would start the same canary again and again).
pub fn step(stands: &Standing, ours: &str, started: Started) -> Step {
    let Some(status) = stands.status.as_deref() else {
        return Step::Create;
    };
    let on_ours = stands.config.as_deref() == Some(ours);
    let changed_since = matches!(started, Started::Over(seen) if seen != stands.modified);
    let why = || {
        format!(
            "endpoint is {status} on {}: {}",
            stands.config.as_deref().unwrap_or("no configuration"),
            stands
                .failure
                .as_deref()
                .unwrap_or(if status == "InService" {
                    "SageMaker gave no reason (an alarm rolled it back)"
                } else {
                    "SageMaker gave no reason"
                })
        )
    };
    match status {
        "InService" if on_ours => Step::OnTarget,
        // These take no update: a person deletes the endpoint (deploy creates it again) or mends it.
        "Failed" | "UpdateRollbackFailed" | "OutOfService" => Step::Undone(why()),
        "InService" if changed_since => Step::Undone(why()),
        "InService" => Step::Update,
        other => Step::Busy(other.to_owned()),
    }
}

/// How the endpoint moves to a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// A new endpoint.
    Create,
    /// A release: blue/green, the canary share first, rolled back automatically on the rollback alarms.
    Canary,
    /// Back to what serves (a rollback, or an endpoint moved by hand): blue/green, all traffic at once, no
    /// automatic rollback (to what was rejected).
    AllAtOnce,
}

/// The endpoint configuration deploy makes for `model` under `settings`: the model's name and a digest of the
/// settings, so a changed instance type or capture destination is a new configuration the endpoint moves to.
pub fn config_name(model: &str, settings: &EndpointSettings) -> String {
    let described = format!(
        "{}|{}|{}|{}",
        settings.instance_type,
        settings.instance_count,
        settings.capture_uri,
        settings.kms_key_id.as_deref().unwrap_or("")
    );
    let tail = format!(
        "-{:06x}",
        xxhash_rust::xxh3::xxh3_64(described.as_bytes()) & 0xff_ffff
    );
    let head: String = model
        .chars()
        .take(crate::model::MAX_NAME - tail.len())
        .collect();
    format!("{}{tail}", head.trim_end_matches('-'))
}

/// What an endpoint configuration runs and captures, as deploy compares it: the variants (model, instance type,
/// count), the capture (on, destination, sampling, key) and the volumes' key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Each production variant's model, instance type and count.
    pub variants: Vec<(String, String, i32)>,
    /// Capture enabled, destination, sampling percentage, key.
    pub capture: Option<(bool, String, i32, Option<String>)>,
    /// The instances' volumes' key.
    pub kms_key_id: Option<String>,
}

impl Shape {
    /// The configuration deploy makes for `model`.
    pub fn wanted(settings: &EndpointSettings, model: &str) -> Self {
        Shape {
            variants: vec![(
                model.to_owned(),
                settings.instance_type.clone(),
                settings.instance_count,
            )],
            capture: Some((
                true,
                settings.capture_uri.clone(),
                100,
                settings.kms_key_id.clone(),
            )),
            kms_key_id: settings.kms_key_id.clone(),
        }
    }
}

/// Makes the endpoint configuration `name` for the model `model` unless it exists: one production variant taking
/// all traffic, every request and response captured to the monitor's prefix. The name is predictable, so one
/// that exists must be the one deploy makes: `Ok(Err(why))` says how it differs (another model, no capture…).
///
/// # Errors
/// The classified SageMaker error.
pub async fn ensure_config(
    sagemaker: &Client,
    settings: &EndpointSettings,
    name: &str,
    model: &str,
) -> Result<Result<(), String>, AwsError> {
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
        // Captured as text, not base64 (SageMaker's default for a content type it is not told about): the monitor
        // reads either, a person reading the capture reads this.
        .capture_content_type_header(
            CaptureContentTypeHeader::builder()
                .json_content_types("application/json")
                .json_content_types("application/jsonlines")
                .csv_content_types("text/csv")
                .build(),
        )
        .build();
    let created = sagemaker
        .create_endpoint_config()
        .endpoint_config_name(name)
        .production_variants(variant)
        .data_capture_config(capture)
        .set_kms_key_id(settings.kms_key_id.clone())
        .tags(project_tag(settings))
        .send()
        .await;
    let error = match created {
        Ok(_) => return Ok(Ok(())),
        Err(e) => AwsError::from_sdk("CreateEndpointConfig", name, e),
    };
    // "Cannot create already existing endpoint configuration": an earlier attempt's, or someone else's.
    if !error.to_string().contains("already exist") {
        return Err(error);
    }
    let found = shape(sagemaker, name).await?;
    let wanted = Shape::wanted(settings, model);
    Ok(if found == wanted {
        Ok(())
    } else {
        Err(format!(
            "endpoint configuration {name} exists and is not the one deploy makes: it runs {found:?}, deploy makes \
             {wanted:?}"
        ))
    })
}

/// The configuration `name` as SageMaker describes it.
async fn shape(sagemaker: &Client, name: &str) -> Result<Shape, AwsError> {
    let d = sagemaker
        .describe_endpoint_config()
        .endpoint_config_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", name, e))?;
    Ok(Shape {
        variants: d
            .production_variants()
            .iter()
            .map(|v| {
                (
                    v.model_name().unwrap_or_default().to_owned(),
                    v.instance_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    v.initial_instance_count().unwrap_or_default(),
                )
            })
            .collect(),
        capture: d.data_capture_config().map(|c| {
            (
                c.enable_capture().unwrap_or(true),
                c.destination_s3_uri().unwrap_or_default().to_owned(),
                c.initial_sampling_percentage().unwrap_or_default(),
                c.kms_key_id().map(str::to_owned),
            )
        }),
        kms_key_id: d.kms_key_id().map(str::to_owned),
    })
}

fn project_tag(settings: &EndpointSettings) -> Tag {
    Tag::builder()
        .key("project")
        .value(&settings.project)
        .build()
}

/// The endpoint as it stands; all `None` when it does not exist.
///
/// # Errors
/// The classified SageMaker error other than "not found".
pub async fn describe(sagemaker: &Client, endpoint: &str) -> Result<Standing, AwsError> {
    match sagemaker
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
    {
        Ok(d) => Ok(Standing {
            status: d.endpoint_status().map(|s| s.as_str().to_owned()),
            config: d.endpoint_config_name().map(str::to_owned),
            failure: d.failure_reason().map(str::to_owned),
            modified: d
                .last_modified_time()
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
        }),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeEndpoint", endpoint, e);
            if error.to_string().contains("Could not find endpoint") {
                Ok(Standing::default())
            } else {
                Err(error)
            }
        }
    }
}

/// Creates the endpoint on `config`, or updates it blue/green: for a release the canary share of the fleet first,
/// the rest after `canary_wait_seconds`, rolled back automatically when one of the rollback alarms fires
/// meanwhile; otherwise all at once.
///
/// # Errors
/// The classified SageMaker error.
pub async fn move_to(
    sagemaker: &Client,
    settings: &EndpointSettings,
    config: &str,
    how: Move,
) -> Result<(), AwsError> {
    let endpoint = &settings.name;
    if how == Move::Create {
        sagemaker
            .create_endpoint()
            .endpoint_name(endpoint)
            .endpoint_config_name(config)
            .tags(project_tag(settings))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateEndpoint", endpoint, e))?;
        return Ok(());
    }
    let canary = how == Move::Canary;
    let routing = if canary {
        let size = CapacitySize::builder()
            .r#type(CapacitySizeType::CapacityPercent)
            .value(settings.canary_percent)
            .build();
        TrafficRoutingConfig::builder()
            .r#type(TrafficRoutingConfigType::Canary)
            .canary_size(size)
            .wait_interval_in_seconds(settings.canary_wait_seconds)
    } else {
        TrafficRoutingConfig::builder()
            .r#type(TrafficRoutingConfigType::AllAtOnce)
            .wait_interval_in_seconds(0)
    };
    let policy = BlueGreenUpdatePolicy::builder()
        .traffic_routing_configuration(routing.build())
        .termination_wait_in_seconds(if canary {
            settings.canary_wait_seconds
        } else {
            0
        })
        .build();
    let alarms: Vec<Alarm> = settings
        .rollback_alarms
        .iter()
        .filter(|_| canary)
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
    fn the_endpoint_moves_once_and_an_undone_release_is_not_retried() {
        let at = |s: i64| DateTime::from_timestamp(1_780_000_000 + s, 0);
        let over = |s: i64| Started::Over(at(s));
        let stands = |status: Option<&str>, config: Option<&str>, modified: i64| Standing {
            status: status.map(str::to_owned),
            config: config.map(str::to_owned),
            failure: None,
            modified: at(modified),
        };
        let rolled_back =
            "endpoint is InService on v1: SageMaker gave no reason (an alarm rolled it back)";
        #[rustfmt::skip]
        let table = [
            ("no endpoint",                           stands(None, None, 0),                    Started::Never,       Step::Create),
            ("no endpoint though one was started",    stands(None, None, 0),                    Started::Over(None),  Step::Create),
            ("in service on the old one",             stands(Some("InService"), Some("v1"), 0), Started::Never,       Step::Update),
            ("a start that died before its call",     stands(Some("InService"), Some("v1"), 0), over(0),              Step::Update),
            ("in service on ours",                    stands(Some("InService"), Some("v2"), 20), over(0),             Step::OnTarget),
            ("updating",                              stands(Some("Updating"), Some("v1"), 20), over(0),              Step::Busy("Updating".into())),
            ("creating",                              stands(Some("Creating"), None, 20),       Started::Over(None),  Step::Busy("Creating".into())),
            ("back on the old one after our start",   stands(Some("InService"), Some("v1"), 20), over(0),             Step::Undone(rolled_back.into())),
            ("a person asks again after a rollback",  stands(Some("InService"), Some("v1"), 20), Started::Never,      Step::Update),
            ("failed",                                stands(Some("Failed"), Some("v2"), 20),   Started::Never,       Step::Undone("endpoint is Failed on v2: SageMaker gave no reason".into())),
            ("its rollback failed",                   stands(Some("UpdateRollbackFailed"), Some("v1"), 20), over(0), Step::Undone("endpoint is UpdateRollbackFailed on v1: SageMaker gave no reason".into())),
            ("being deleted",                         stands(Some("Deleting"), Some("v1"), 20), Started::Never,       Step::Busy("Deleting".into())),
        ];
        for (case, stands, started, expected) in table {
            assert_eq!(step(&stands, "v2", started), expected, "{case}");
        }
    }

    #[test]
    fn a_configuration_is_named_by_its_model_and_settings() {
        let settings = EndpointSettings {
            name: "tickets".into(),
            instance_type: "ml.m5.large".into(),
            instance_count: 1,
            capture_uri: "s3://artifacts/data-capture/".into(),
            kms_key_id: None,
            rollback_alarms: vec![],
            project: "mlops-guardrails".into(),
            canary_percent: 10,
            canary_wait_seconds: 600,
        };
        let model = "tickets-classifier-v2-01234567";
        let name = config_name(model, &settings);
        assert!(
            name.starts_with("tickets-classifier-v2-01234567-") && name.len() == model.len() + 7
        );
        let bigger = EndpointSettings {
            instance_count: 2,
            ..settings.clone()
        };
        assert_ne!(
            config_name(model, &bigger),
            name,
            "new settings, new configuration"
        );
        assert!(config_name(&"x".repeat(63), &settings).len() <= 63);
    }
}
