//! The real-time rollback: a new model from the target package, a copy of the endpoint's configuration using
//! it, UpdateEndpoint. SageMaker comes from `aws-smithy-mocks` (the emulator has no UpdateEndpoint); the bus,
//! topic and markers are the emulator's.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput;
use aws_sdk_sagemaker::operation::create_model::CreateModelOutput;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::describe_model::DescribeModelOutput;
use aws_sdk_sagemaker::operation::describe_model_package::DescribeModelPackageOutput;
use aws_sdk_sagemaker::operation::list_model_packages::ListModelPackagesOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::operation::update_model_package::UpdateModelPackageOutput;
use aws_sdk_sagemaker::primitives::DateTime;
use aws_sdk_sagemaker::types::{
    CaptureMode, CaptureOption, ContainerDefinition, DataCaptureConfig, ModelApprovalStatus,
    ModelPackageSummary, ProductionVariant, ProductionVariantInstanceType,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use drift_handler::registry::Registry;
use drift_handler::{Config, DriftHandler, Outcome, Rollback};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, EventPublisher, Notifier, aws};
use serde_json::{Value, json};
use testkit::{BusProbe, KmsBucket, TopicProbe, emulator};

const ENDPOINT: &str = "tickets-classifier";

fn version(n: i64) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets-classifier/{n}")
}

fn summary(n: i64) -> ModelPackageSummary {
    ModelPackageSummary::builder()
        .model_package_arn(version(n))
        .model_package_group_name("tickets-classifier")
        .creation_time(DateTime::from_secs(1_795_000_000 + n * 86_400))
        .model_package_status(aws_sdk_sagemaker::types::ModelPackageStatus::Completed)
        .model_approval_status(ModelApprovalStatus::Approved)
        .build()
}

/// SageMaker as it stands: versions 1–3 approved, the endpoint's model from package `model_package` (or from none).
fn rules(model_package: Option<i64>) -> Vec<Rule> {
    let approved = mock!(aws_sdk_sagemaker::Client::list_model_packages)
        .match_requests(|r| r.model_approval_status() == Some(&ModelApprovalStatus::Approved))
        .then_output(|| {
            ListModelPackagesOutput::builder()
                .model_package_summary_list(summary(3))
                .model_package_summary_list(summary(2))
                .model_package_summary_list(summary(1))
                .build()
        });
    let rejected = mock!(aws_sdk_sagemaker::Client::list_model_packages)
        .match_requests(|r| r.model_approval_status() == Some(&ModelApprovalStatus::Rejected))
        .then_output(|| ListModelPackagesOutput::builder().build());
    let endpoint = mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some(ENDPOINT))
        .then_output(|| {
            DescribeEndpointOutput::builder()
                .endpoint_name(ENDPOINT)
                .endpoint_config_name("tickets-config-3")
                .build()
        });
    let config = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_output(|| {
        DescribeEndpointConfigOutput::builder()
            .endpoint_config_name("tickets-config-3")
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("AllTraffic")
                    .model_name("tickets-model-3")
                    .instance_type(ProductionVariantInstanceType::MlM5Large)
                    .initial_instance_count(2)
                    .initial_variant_weight(1.0)
                    .build(),
            )
            .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/endpoint")
            .data_capture_config(
                DataCaptureConfig::builder()
                    .enable_capture(true)
                    .initial_sampling_percentage(100)
                    .destination_s3_uri("s3://capture/tickets")
                    .capture_options(
                        CaptureOption::builder()
                            .capture_mode(CaptureMode::Input)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let model = mock!(aws_sdk_sagemaker::Client::describe_model).then_output(move || {
        let container = match model_package {
            Some(n) => ContainerDefinition::builder()
                .model_package_name(version(n))
                .build(),
            None => ContainerDefinition::builder()
                .image("nlp-serve:1")
                .model_data_url("s3://artifacts/hand-made/model.tar.gz")
                .build(),
        };
        DescribeModelOutput::builder()
            .model_name("tickets-model-3")
            .primary_container(container)
            .build()
    });
    let package = mock!(aws_sdk_sagemaker::Client::describe_model_package).then_output(|| {
        DescribeModelPackageOutput::builder()
            .model_package_arn(version(3))
            .creation_time(DateTime::from_secs(1_795_000_000 + 3 * 86_400))
            .build()
    });
    vec![approved, rejected, endpoint, config, model, package]
}

async fn handler(sagemaker: aws_sdk_sagemaker::Client) -> (DriftHandler, BusProbe, TopicProbe) {
    let sdk = emulator().sdk_config().await;
    let bus = BusProbe::create(&sdk, &json!({"source": ["mlops.guardrails"]})).await;
    let notices = TopicProbe::create(&sdk).await;
    let markers = KmsBucket::create(&sdk, "markers").await;
    let config = Config::from_env(&Env::from_pairs([
        ("EVENT_BUS_NAME", bus.bus_name.as_str()),
        ("NOTICE_TOPIC_ARN", notices.topic_arn.as_str()),
        ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
        ("STATE_BUCKET", markers.name.as_str()),
        ("SERVING", "realtime"),
        (
            "SAGEMAKER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/sagemaker-serving",
        ),
    ]))
    .unwrap();
    let handler = DriftHandler::new(
        Registry::new(sagemaker),
        StateStore::new(aws::s3_client(&sdk), &markers.name),
        Notifier::from_sdk(&sdk, &notices.topic_arn),
        EventPublisher::from_sdk(&sdk, &bus.bus_name),
        config,
    );
    (handler, bus, notices)
}

fn alarm() -> Value {
    let path = format!(
        "{}/../../events/alarm-model-quality.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_endpoint_is_pointed_at_the_previous_approved_version() {
    let create_model = mock!(aws_sdk_sagemaker::Client::create_model)
        .match_requests(|r| {
            r.model_name()
                .is_some_and(|n| n.starts_with("tickets-classifier-rb-"))
                && r.execution_role_arn()
                    == Some("arn:aws:iam::123456789012:role/sagemaker-serving")
                && r.primary_container().and_then(|c| c.model_package_name())
                    == Some(version(2).as_str())
        })
        .then_output(|| CreateModelOutput::builder().model_arn("arn:model").build());
    let create_config = mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
        .match_requests(|r| {
            let v = &r.production_variants()[0];
            v.model_name() == r.endpoint_config_name()
                && v.variant_name() == Some("AllTraffic")
                && v.instance_type() == Some(&ProductionVariantInstanceType::MlM5Large)
                && v.initial_instance_count() == Some(2)
                && r.kms_key_id() == Some("arn:aws:kms:us-east-1:123456789012:key/endpoint")
                && r.data_capture_config().and_then(|d| d.destination_s3_uri())
                    == Some("s3://capture/tickets")
        })
        .then_output(|| {
            CreateEndpointConfigOutput::builder()
                .endpoint_config_arn("arn:config")
                .build()
        });
    let update_endpoint = mock!(aws_sdk_sagemaker::Client::update_endpoint)
        .match_requests(|r| {
            r.endpoint_name() == Some(ENDPOINT)
                && r.endpoint_config_name()
                    .is_some_and(|n| n.starts_with("tickets-classifier-rb-"))
        })
        .then_output(|| {
            UpdateEndpointOutput::builder()
                .endpoint_arn("arn:endpoint")
                .build()
        });
    let reject = mock!(aws_sdk_sagemaker::Client::update_model_package)
        .match_requests(|r| {
            r.model_package_arn() == Some(version(3).as_str())
                && r.model_approval_status() == Some(&ModelApprovalStatus::Rejected)
                && r.approval_description().is_some_and(|d| {
                    d.contains("Transition mlops-guardrails-drift-model-quality-tickets@")
                })
        })
        .then_output(|| {
            UpdateModelPackageOutput::builder()
                .model_package_arn(version(3))
                .build()
        });
    let mut all = rules(Some(3));
    all.extend([
        create_model.clone(),
        create_config.clone(),
        update_endpoint.clone(),
        reject.clone(),
    ]);
    let refs: Vec<&Rule> = all.iter().collect();
    let sagemaker = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, refs.as_slice());
    let (handler, bus, notices) = handler(sagemaker).await;

    let outcome = handler.handle(alarm_event(alarm())).await.unwrap();
    let Outcome::Drifted {
        rollback: Some(rollback),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        rollback,
        Rollback::RolledBack {
            from: version(3),
            to: version(2),
            endpoint: Some(ENDPOINT.into()),
        }
    );
    for (name, rule) in [
        ("CreateModel", &create_model),
        ("CreateEndpointConfig", &create_config),
        ("UpdateEndpoint", &update_endpoint),
        ("UpdateModelPackage", &reject),
    ] {
        assert_eq!(rule.num_calls(), 1, "{name}");
    }
    let events = bus.events(2, Duration::from_secs(10)).await;
    let rolled_back = events
        .iter()
        .find(|e| e["detail-type"] == "Model Rolled Back")
        .unwrap();
    assert_eq!(rolled_back["detail"]["endpointName"], ENDPOINT);
    let notice = &notices.notices(1, Duration::from_secs(10)).await[0];
    assert!(
        notice["Message"]
            .as_str()
            .unwrap()
            .contains("serves on endpoint tickets-classifier"),
        "{notice}"
    );
}

#[tokio::test]
async fn a_model_not_from_the_registry_is_not_touched() {
    let all = rules(None);
    let refs: Vec<&Rule> = all.iter().collect();
    // No Create*/Update* rule: any such call would fail the handler.
    let sagemaker = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, refs.as_slice());
    let (handler, _bus, notices) = handler(sagemaker).await;

    let outcome = handler.handle(alarm_event(alarm())).await.unwrap();
    let Outcome::Drifted {
        rollback: Some(Rollback::Refused { reason }),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(
        reason.contains("not created from a model package"),
        "{reason}"
    );
    let notice = &notices.notices(1, Duration::from_secs(10)).await[0];
    assert_eq!(notice["MessageAttributes"]["severity"]["Value"], "critical");
}

#[tokio::test]
async fn a_rollback_that_fails_part_way_still_notifies() {
    let create_model = mock!(aws_sdk_sagemaker::Client::create_model)
        .then_output(|| CreateModelOutput::builder().model_arn("arn:model").build());
    let create_config =
        mock!(aws_sdk_sagemaker::Client::create_endpoint_config).then_output(|| {
            CreateEndpointConfigOutput::builder()
                .endpoint_config_arn("arn:config")
                .build()
        });
    let update_endpoint = mock!(aws_sdk_sagemaker::Client::update_endpoint).then_error(|| {
        aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointError::ResourceLimitExceeded(
            aws_sdk_sagemaker::types::error::ResourceLimitExceeded::builder()
                .message("too many endpoint updates")
                .build(),
        )
    });
    let reject = mock!(aws_sdk_sagemaker::Client::update_model_package).then_output(|| {
        UpdateModelPackageOutput::builder()
            .model_package_arn(version(3))
            .build()
    });
    let mut all = rules(Some(3));
    all.extend([create_model, create_config, update_endpoint, reject]);
    let refs: Vec<&Rule> = all.iter().collect();
    let sagemaker = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, refs.as_slice());
    let (handler, bus, notices) = handler(sagemaker).await;

    let outcome = handler.handle(alarm_event(alarm())).await.unwrap();
    let Outcome::Drifted {
        rollback: Some(Rollback::Failed { error }),
        retraining_requested: true,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(error.contains("UpdateEndpoint"), "{error}");
    let notice = &notices.notices(1, Duration::from_secs(10)).await[0];
    assert_eq!(notice["MessageAttributes"]["severity"]["Value"], "critical");
    assert!(
        notice["Message"]
            .as_str()
            .unwrap()
            .contains("Rollback FAILED part-way"),
        "{notice}"
    );
    let events = bus.events(1, Duration::from_secs(10)).await;
    assert_eq!(events[0]["detail-type"], "Retraining Requested");
}

/// The alarm state change in a sample, as the Lambda runtime hands it over.
fn alarm_event(value: serde_json::Value) -> drift_handler::alarm::AlarmEvent {
    drift_handler::alarm::parse(value).unwrap()
}
