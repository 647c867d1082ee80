//! The serving version's model when its name is taken (SageMaker refuses the second CreateModel; the emulator
//! overwrites instead, so SageMaker comes from `aws-smithy-mocks`): deploy's own earlier model is kept, anyone
//! else's is refused.

#![allow(clippy::unwrap_used)]

use aws_sdk_sagemaker::error::ErrorMetadata;
use aws_sdk_sagemaker::operation::create_model::CreateModelError;
use aws_sdk_sagemaker::operation::describe_model::DescribeModelOutput;
use aws_sdk_sagemaker::types::ContainerDefinition;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use deploy::config::ModelSettings;
use deploy::model::ensure;

const PACKAGE: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets/2";
const ROLE: &str = "arn:aws:iam::123456789012:role/sagemaker-execution";

fn settings() -> ModelSettings {
    ModelSettings {
        role_arn: ROLE.to_owned(),
        network: None,
        network_isolation: true,
        project: "mlops-guardrails".to_owned(),
    }
}

async fn ensure_over(existing: (&'static str, &'static str)) -> Result<(), String> {
    let taken = mock!(aws_sdk_sagemaker::Client::create_model).then_error(|| {
        CreateModelError::generic(
            ErrorMetadata::builder()
                .code("ValidationException")
                .message("Cannot create already existing model \"tickets-v2-00000000\".")
                .build(),
        )
    });
    let (package, role) = existing;
    let described = mock!(aws_sdk_sagemaker::Client::describe_model).then_output(move || {
        DescribeModelOutput::builder()
            .model_name("tickets-v2-00000000")
            .execution_role_arn(role)
            .containers(
                ContainerDefinition::builder()
                    .model_package_name(package)
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&taken, &described]);
    ensure(&client, &settings(), "tickets-v2-00000000", PACKAGE)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_model_of_the_same_name_serves_only_if_it_is_the_one_deploy_makes() {
    assert_eq!(ensure_over((PACKAGE, ROLE)).await, Ok(()));
    let other_package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets/1";
    let why = ensure_over((other_package, ROLE)).await.unwrap_err();
    assert!(why.contains("tickets/1"), "{why}");
    let why = ensure_over((PACKAGE, "arn:aws:iam::123456789012:role/anything"))
        .await
        .unwrap_err();
    assert!(why.contains("execution role"), "{why}");
}
