//! The functions' roles, exercised: on an emulator that enforces IAM, each function's role is created from the
//! template's own policies and the function's handler runs with that role's credentials, so a permission the
//! template forgets fails the handler, as it would on AWS.
//!
//! What the emulator (moto 5.2.5) can judge, measured: identity policies of users and assumed roles; resources
//! are compared only for S3 (bucket and key: a write outside a granted prefix, `s3:DeleteObjectVersion` and
//! `s3:GetObjectVersion` for versioned calls) and SQS (queue ARN). Every other service is checked against the
//! resource `"*"`, so a statement scoped to a topic, a bus, a parameter or a registry would be denied there: such
//! statements are widened to `"*"` here (their actions are still checked; their scoping is judged by the posture
//! rules, not here). Conditions are not evaluated (an Allow with a condition allows), bucket policies are not
//! applied (moto would apply a Deny's condition-less form to every caller), KMS is not checked on S3 calls, a
//! missing object reads as 404 even without `s3:ListBucket`, CopyObject checks only the destination. Two S3 calls
//! are judged under other names than AWS's (`MOTO_NAMES`): a statement granting AWS's name gets moto's too.

use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use serde_json::{Value as Json, json};

use crate::LoopError;
use crate::stack::ProvisionError;
use guardrails_core::AwsError;

/// The services whose resources the emulator compares.
const JUDGED_SERVICES: [&str; 2] = ["s3", "sqs"];

/// AWS's action names that moto 5.2.5 judges under another: GetPublicAccessBlock (a bucket's) is
/// `s3:GetBucketPublicAccessBlock` on AWS, `s3:GetPublicAccessBlock` there; GetBucketEncryption is
/// `s3:GetEncryptionConfiguration` on AWS, and falls to moto's default bucket action, `s3:ListBucket`.
const MOTO_NAMES: [(&str, &str); 2] = [
    ("s3:GetBucketPublicAccessBlock", "s3:GetPublicAccessBlock"),
    ("s3:GetEncryptionConfiguration", "s3:ListBucket"),
];

/// A policy document as the emulator can judge it: statements whose actions are all on S3 or SQS keep their
/// resources; the others are widened to `"*"` (see the module documentation).
pub fn judged_policy(document: &Json) -> Json {
    let mut document = document.clone();
    let statements = match &mut document["Statement"] {
        Json::Array(statements) => statements,
        other => {
            *other = Json::Array(vec![other.take()]);
            match other {
                Json::Array(statements) => statements,
                _ => return document,
            }
        }
    };
    for statement in statements {
        let actions: Vec<&str> = match &statement["Action"] {
            Json::String(action) => vec![action.as_str()],
            Json::Array(actions) => actions.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        let judged = !actions.is_empty()
            && actions.iter().all(|action| {
                action
                    .split_once(':')
                    .is_some_and(|(service, _)| JUDGED_SERVICES.contains(&service))
            });
        let aliases: Vec<&str> = MOTO_NAMES
            .iter()
            .filter(|(aws, _)| actions.contains(aws))
            .map(|(_, moto)| *moto)
            .collect();
        if !aliases.is_empty() {
            let mut all: Vec<String> = actions.iter().map(|a| (*a).to_owned()).collect();
            all.extend(aliases.iter().map(|a| (*a).to_owned()));
            statement["Action"] = json!(all);
        }
        if !judged {
            statement["Resource"] = json!("*");
        }
    }
    document
}

/// The trust policy of a function's role on the emulator: Lambda, as in the template, and the runner, which
/// assumes it on the function's behalf (moto needs both in one principal).
fn trust_policy() -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com", "AWS": testkit::RUNNER_ARN},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// Creates the role `name` with these inline policies (name, document), as the emulator can judge them; its ARN.
///
/// # Errors
/// An emulator call that fails, naming the role.
pub async fn create_role(
    sdk: &SdkConfig,
    name: &str,
    policies: &[(String, Json)],
) -> Result<String, ProvisionError> {
    let iam = aws_sdk_iam::Client::new(sdk);
    let failed = |e: String| ProvisionError::Emulator {
        resource: name.to_owned(),
        reason: guardrails_core::notice::cut(&e, 400),
    };
    let role = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy().to_string())
        .send()
        .await
        .map_err(|e| failed(aws_sdk_iam::error::DisplayErrorContext(e).to_string()))?;
    for (policy, document) in policies {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(judged_policy(document).to_string())
            .send()
            .await
            .map_err(|e| failed(aws_sdk_iam::error::DisplayErrorContext(e).to_string()))?;
    }
    Ok(role.role().map(|r| r.arn().to_owned()).unwrap_or_default())
}

/// An SDK configuration acting as `role_arn`: the runner assumes it, as Lambda does for a function.
///
/// # Errors
/// When the emulator refuses the role.
pub async fn acting_as(
    sdk: &SdkConfig,
    role_arn: &str,
    session: &str,
) -> Result<SdkConfig, LoopError> {
    let assumed = aws_sdk_sts::Client::new(sdk)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssumeRole", role_arn, e))?;
    let credentials = assumed.credentials().ok_or_else(|| {
        AwsError::from_code(
            "AssumeRole",
            role_arn,
            None,
            "the answer has no credentials",
        )
    })?;
    Ok(sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            None,
            "assumed-role",
        )))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s3_and_sqs_statements_keep_their_resources() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/p/*"},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:1:q"},
            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "arn:aws:sns:us-east-1:1:t"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": ["arn:aws:s3:::b/*"]}
        ]});
        let judged = judged_policy(&policy);
        let resources: Vec<&Json> = (0..4)
            .map(|i| &judged["Statement"][i]["Resource"])
            .collect();
        assert_eq!(resources[0], "arn:aws:s3:::b/p/*");
        assert_eq!(resources[1], "arn:aws:sqs:us-east-1:1:q");
        assert_eq!(resources[2], "*");
        assert_eq!(
            resources[3], "*",
            "a mixed statement cannot be judged by resource"
        );
        assert_eq!(judged["Statement"][2]["Action"], json!(["sns:Publish"]));
    }

    #[test]
    fn aws_names_moto_judges_otherwise_are_granted_under_both() {
        let policy = json!({"Statement": [{"Effect": "Allow", "Resource": "*",
            "Action": ["s3:GetBucketPublicAccessBlock", "s3:GetEncryptionConfiguration", "s3:GetBucketAcl"]}]});
        assert_eq!(
            judged_policy(&policy)["Statement"][0]["Action"],
            json!([
                "s3:GetBucketPublicAccessBlock",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketAcl",
                "s3:GetPublicAccessBlock",
                "s3:ListBucket"
            ])
        );
    }
}
