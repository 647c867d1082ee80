//! The real-time release's requests, as SageMaker receives them (from `aws-smithy-mocks`: the emulator has no
//! UpdateEndpoint): the endpoint configuration with data capture and KMS, the endpoint created, or updated blue/green
//! with a canary and automatic rollback on the alarms.

#![allow(clippy::unwrap_used)]

use aws_sdk_sagemaker::operation::create_endpoint::CreateEndpointOutput;
use aws_sdk_sagemaker::operation::create_endpoint_config::{
    CreateEndpointConfigError, CreateEndpointConfigOutput,
};
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::types::{CapacitySizeType, CaptureMode, TrafficRoutingConfigType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use deploy::endpoint::{EndpointSettings, Move, ensure_config, move_to};

fn settings(alarms: &[&str]) -> EndpointSettings {
    EndpointSettings {
        name: "tickets-classifier".to_owned(),
        instance_type: "ml.m5.large".to_owned(),
        instance_count: 2,
        capture_uri: "s3://artifacts/data-capture/".to_owned(),
        kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/data".to_owned()),
        rollback_alarms: alarms.iter().map(|a| (*a).to_owned()).collect(),
        project: "mlops-guardrails".to_owned(),
        canary_percent: 10,
        canary_wait_seconds: 600,
    }
}

#[tokio::test]
async fn the_configuration_captures_every_request_and_response_with_kms() {
    let config = mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
        .match_requests(|r| {
            let variant = &r.production_variants()[0];
            let capture = r.data_capture_config().unwrap();
            let modes: Vec<&CaptureMode> = capture
                .capture_options()
                .iter()
                .filter_map(|o| o.capture_mode())
                .collect();
            r.endpoint_config_name() == Some("tickets-classifier-v2-01234567")
                && variant.model_name() == Some("tickets-classifier-v2-01234567")
                && variant.initial_instance_count() == Some(2)
                && variant.instance_type().map(|t| t.as_str()) == Some("ml.m5.large")
                && capture.enable_capture() == Some(true)
                && capture.initial_sampling_percentage() == Some(100)
                && capture.destination_s3_uri() == Some("s3://artifacts/data-capture/")
                && capture.kms_key_id().is_some()
                && modes == [&CaptureMode::Input, &CaptureMode::Output]
                && capture.capture_content_type_header().is_some_and(|h| {
                    h.json_content_types()
                        .contains(&"application/jsonlines".to_owned())
                })
                && r.kms_key_id().is_some()
        })
        .then_output(|| CreateEndpointConfigOutput::builder().build());
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&config]);
    let name = "tickets-classifier-v2-01234567";
    ensure_config(&client, &settings(&[]), name, name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(config.num_calls(), 1, "the request as asserted");
}

#[tokio::test]
async fn an_update_is_blue_green_with_a_canary_and_rolls_back_on_the_alarms() {
    let update = mock!(aws_sdk_sagemaker::Client::update_endpoint)
        .match_requests(|r| {
            let deployment = r.deployment_config().unwrap();
            let policy = deployment.blue_green_update_policy().unwrap();
            let routing = policy.traffic_routing_configuration().unwrap();
            let canary = routing.canary_size().unwrap();
            let alarms: Vec<&str> = deployment
                .auto_rollback_configuration()
                .unwrap()
                .alarms()
                .iter()
                .filter_map(|a| a.alarm_name())
                .collect();
            r.endpoint_name() == Some("tickets-classifier")
                && r.endpoint_config_name() == Some("tickets-classifier-v2-01234567")
                && routing.r#type() == Some(&TrafficRoutingConfigType::Canary)
                && canary.r#type() == Some(&CapacitySizeType::CapacityPercent)
                && canary.value() == Some(10)
                && routing.wait_interval_in_seconds() == Some(600)
                && alarms == ["tickets-5xx", "tickets-latency"]
        })
        .then_output(|| UpdateEndpointOutput::builder().build());
    let create = mock!(aws_sdk_sagemaker::Client::create_endpoint)
        .match_requests(|r| {
            r.endpoint_name() == Some("tickets-classifier")
                && r.endpoint_config_name() == Some("tickets-classifier-v1-89abcdef")
        })
        .then_output(|| CreateEndpointOutput::builder().build());
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&update, &create]);
    let alarms = settings(&["tickets-5xx", "tickets-latency"]);
    move_to(
        &client,
        &alarms,
        "tickets-classifier-v2-01234567",
        Move::Canary,
    )
    .await
    .unwrap();
    move_to(
        &client,
        &alarms,
        "tickets-classifier-v1-89abcdef",
        Move::Create,
    )
    .await
    .unwrap();
    assert_eq!((update.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_move_back_shifts_all_traffic_at_once_and_is_not_rolled_back_to_what_was_withdrawn() {
    let update = mock!(aws_sdk_sagemaker::Client::update_endpoint)
        .match_requests(|r| {
            let deployment = r.deployment_config().unwrap();
            let routing = deployment
                .blue_green_update_policy()
                .and_then(|p| p.traffic_routing_configuration())
                .unwrap();
            r.endpoint_config_name() == Some("tickets-classifier-v1-89abcdef")
                && routing.r#type() == Some(&TrafficRoutingConfigType::AllAtOnce)
                && deployment.auto_rollback_configuration().is_none()
        })
        .then_output(|| UpdateEndpointOutput::builder().build());
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&update]);
    let alarms = settings(&["tickets-5xx", "tickets-latency"]);
    move_to(
        &client,
        &alarms,
        "tickets-classifier-v1-89abcdef",
        Move::AllAtOnce,
    )
    .await
    .unwrap();
    assert_eq!(update.num_calls(), 1, "the request as asserted");
}

/// SageMaker's answer to a configuration name already taken.
fn taken() -> CreateEndpointConfigError {
    CreateEndpointConfigError::generic(
        aws_sdk_sagemaker::error::ErrorMetadata::builder()
            .code("ValidationException")
            .message("Cannot create already existing endpoint configuration \"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/x\".")
            .build(),
    )
}

/// The configuration as SageMaker describes it, running `model` on `count` instances, capturing when `capture`.
fn described(model: &'static str, count: i32, capture: bool) -> DescribeEndpointConfigOutput {
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
        .variant_name("AllTraffic")
        .model_name(model)
        .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(count)
        .build();
    let mut out = DescribeEndpointConfigOutput::builder()
        .endpoint_config_name("x")
        .production_variants(variant)
        .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/data");
    if capture {
        out = out.data_capture_config(
            aws_sdk_sagemaker::types::DataCaptureConfig::builder()
                .enable_capture(true)
                .initial_sampling_percentage(100)
                .destination_s3_uri("s3://artifacts/data-capture/")
                .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/data")
                .build(),
        );
    }
    out.build()
}

#[tokio::test]
async fn a_configuration_under_the_predictable_name_is_used_only_if_it_is_the_one_deploy_makes() {
    let model = "tickets-classifier-v2-01234567";
    #[rustfmt::skip]
    let table = [
        ("an earlier attempt's",         described("tickets-classifier-v2-01234567", 2, true),  true),
        ("someone else's model",         described("someone-elses-model", 2, true),            false),
        ("no capture",                   described("tickets-classifier-v2-01234567", 2, false), false),
        ("other instances",              described("tickets-classifier-v2-01234567", 9, true),  false),
    ];
    for (case, found, usable) in table {
        let create = mock!(aws_sdk_sagemaker::Client::create_endpoint_config).then_error(taken);
        let describe = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config)
            .then_output(move || found.clone());
        let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&create, &describe]);
        let verdict = ensure_config(&client, &settings(&[]), "x", model)
            .await
            .unwrap();
        assert_eq!(verdict.is_ok(), usable, "{case}: {verdict:?}");
    }
}
