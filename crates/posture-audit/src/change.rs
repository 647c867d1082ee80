//! Which resource an API call changed, from the CloudTrail record EventBridge delivers ("AWS API Call via
//! CloudTrail"), so that a change is re-checked within minutes rather than at the next daily audit. Plain values:
//! no AWS types.
//!
//! The record only says what to look at. The re-check reads the resource's settings itself, so a record that
//! lies (a forged or stale one) can cause a needless read, never a finding or a resolution.

use serde::Deserialize;
use serde_json::Value;

use crate::audit::Service;
use crate::check::Check;

/// The EventBridge detail-type of CloudTrail's records.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// The part of a CloudTrail record the re-check needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCall {
    /// `s3.amazonaws.com`, `iam.amazonaws.com`, …
    #[serde(default)]
    pub event_source: String,
    /// `PutBucketPolicy`, `AddPermission20150331v2`, …
    #[serde(default)]
    pub event_name: String,
    /// The call's parameters.
    #[serde(default)]
    pub request_parameters: Option<Value>,
    /// The call's answer (holds what a Create made).
    #[serde(default)]
    pub response_elements: Option<Value>,
    /// Set when the call failed: nothing changed.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Who called.
    #[serde(default)]
    pub user_identity: Option<Value>,
}

/// What a change asks to re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A bucket, by name.
    Bucket(String),
    /// An IAM user, by name: its access keys, console password and MFA.
    User(String),
    /// The root user's access keys.
    Root,
    /// A customer managed policy, by ARN.
    Policy(String),
    /// A role's trust policy, by role name.
    Role(String),
    /// A KMS key, by id, ARN or alias.
    Key(String),
    /// A topic, by ARN.
    Topic(String),
    /// A queue, by URL.
    Queue(String),
    /// A secret, by name or ARN.
    Secret(String),
    /// A notebook instance, by name.
    Notebook(String),
    /// An endpoint, by name.
    Endpoint(String),
    /// Every endpoint: a model package's approval changed, and any endpoint may serve it.
    Endpoints,
    /// A training job, by name.
    TrainingJob(String),
    /// A Lambda function, by name or ARN.
    Function(String),
    /// An ECR repository, by name.
    Repository(String),
    /// The region's trails (the checks judge them together).
    Trails,
    /// A security group, by id.
    SecurityGroup(String),
    /// Every VPC's flow logs (a flow log's record names the log, not always its VPC).
    Vpcs,
}

impl Target {
    /// The service that reads it.
    pub fn service(&self) -> Service {
        match self {
            Target::Bucket(_) => Service::S3,
            Target::User(_) | Target::Root | Target::Policy(_) | Target::Role(_) => Service::Iam,
            Target::Key(_) => Service::Kms,
            Target::Topic(_) => Service::Sns,
            Target::Queue(_) => Service::Sqs,
            Target::Secret(_) => Service::Secrets,
            Target::Notebook(_)
            | Target::Endpoint(_)
            | Target::Endpoints
            | Target::TrainingJob(_) => Service::SageMaker,
            Target::Function(_) => Service::Lambda,
            Target::Repository(_) => Service::Ecr,
            Target::Trails => Service::CloudTrail,
            Target::SecurityGroup(_) | Target::Vpcs => Service::Ec2,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Bucket(n) => write!(f, "bucket {n}"),
            Target::User(n) => write!(f, "user {n}"),
            Target::Root => write!(f, "the root user"),
            Target::Policy(n) => write!(f, "policy {n}"),
            Target::Role(n) => write!(f, "role {n}"),
            Target::Key(n) => write!(f, "key {n}"),
            Target::Topic(n) => write!(f, "topic {n}"),
            Target::Queue(n) => write!(f, "queue {n}"),
            Target::Secret(n) => write!(f, "secret {n}"),
            Target::Notebook(n) => write!(f, "notebook instance {n}"),
            Target::Endpoint(n) => write!(f, "endpoint {n}"),
            Target::Endpoints => write!(f, "every endpoint"),
            Target::TrainingJob(n) => write!(f, "training job {n}"),
            Target::Function(n) => write!(f, "function {n}"),
            Target::Repository(n) => write!(f, "repository {n}"),
            Target::Trails => write!(f, "the region's trails"),
            Target::SecurityGroup(n) => write!(f, "security group {n}"),
            Target::Vpcs => write!(f, "every VPC's flow logs"),
        }
    }
}

/// Which findings of the ledger an audit re-read: those it does not cover stay as they were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every check of these services (the daily audit: the services it could read).
    Services(Vec<Service>),
    /// These checks, on every resource.
    Checks(Vec<Check>),
    /// Every check, on these resources (ARNs).
    Resources(Vec<String>),
    /// The IAM user or role of this name, whatever its path (names are unique in an account).
    Iam(IamEntity, String),
    /// What the inner scope covers but these resources, which could not be read.
    Except(Box<Scope>, Vec<String>),
}

/// An IAM identity named in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamEntity {
    /// `arn:aws:iam::<account>:user/<path>/<name>`.
    User,
    /// `arn:aws:iam::<account>:role/<path>/<name>`.
    Role,
}

impl Scope {
    /// Whether the audit re-read `check` on `resource`.
    pub fn covers(&self, check: Check, resource: &str) -> bool {
        match self {
            Scope::Services(services) => services.contains(&crate::lifecycle::service(check)),
            Scope::Checks(checks) => checks.contains(&check),
            Scope::Resources(arns) => arns.iter().any(|a| a == resource),
            Scope::Except(inner, unread) => {
                inner.covers(check, resource) && !unread.iter().any(|u| u == resource)
            }
            Scope::Iam(entity, name) => {
                let kind = match entity {
                    IamEntity::User => "user/",
                    IamEntity::Role => "role/",
                };
                // arn:aws:iam::<account>:<kind>/<path>/<name>: a path may hold ':', so split at the fifth only.
                // IAM names are unique whatever their case.
                let mut parts = resource.splitn(6, ':');
                let (iam, rest) = (parts.nth(2), parts.nth(2));
                iam == Some("iam")
                    && rest.is_some_and(|r| {
                        r.starts_with(kind)
                            && r.rsplit('/')
                                .next()
                                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    })
            }
        }
    }
}

/// The calls that change what a check judges, by event source: what the EventBridge rule listens for. Lambda's
/// names carry an API version (`AddPermission20150331v2`): they are listed without it and matched as prefixes.
pub const WATCHED: &[(&str, &[&str])] = &[
    (
        "s3.amazonaws.com",
        &[
            "CreateBucket",
            "DeleteBucket",
            "PutBucketAcl",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "PutBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutBucketEncryption",
            "DeleteBucketEncryption",
            "PutBucketVersioning",
        ],
    ),
    (
        "iam.amazonaws.com",
        &[
            "CreateAccessKey",
            "UpdateAccessKey",
            "DeleteAccessKey",
            "CreateLoginProfile",
            "DeleteLoginProfile",
            "EnableMFADevice",
            "DeactivateMFADevice",
            "DeleteUser",
            "CreateRole",
            "UpdateAssumeRolePolicy",
            "DeleteRole",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "PutUserPolicy",
            "DeleteUserPolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "CreatePolicy",
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "DeletePolicy",
        ],
    ),
    (
        "kms.amazonaws.com",
        &[
            "CreateKey",
            "EnableKeyRotation",
            "DisableKeyRotation",
            "PutKeyPolicy",
            "EnableKey",
            "DisableKey",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
        ],
    ),
    (
        "sns.amazonaws.com",
        &[
            "CreateTopic",
            "SetTopicAttributes",
            "AddPermission",
            "RemovePermission",
            "DeleteTopic",
        ],
    ),
    (
        "sqs.amazonaws.com",
        &[
            "CreateQueue",
            "SetQueueAttributes",
            "AddPermission",
            "RemovePermission",
            "DeleteQueue",
        ],
    ),
    (
        "secretsmanager.amazonaws.com",
        &[
            "CreateSecret",
            "RotateSecret",
            "CancelRotateSecret",
            "DeleteSecret",
            "RestoreSecret",
        ],
    ),
    (
        "sagemaker.amazonaws.com",
        &[
            "CreateNotebookInstance",
            "UpdateNotebookInstance",
            "DeleteNotebookInstance",
            "CreateEndpoint",
            "UpdateEndpoint",
            "DeleteEndpoint",
            "UpdateModelPackage",
            "CreateTrainingJob",
        ],
    ),
    (
        "lambda.amazonaws.com",
        &[
            "CreateFunction",
            "UpdateFunctionConfiguration",
            "DeleteFunction",
            "AddPermission",
            "RemovePermission",
            "CreateFunctionUrlConfig",
            "UpdateFunctionUrlConfig",
            "DeleteFunctionUrlConfig",
        ],
    ),
    (
        "ecr.amazonaws.com",
        &[
            "CreateRepository",
            "DeleteRepository",
            "PutImageScanningConfiguration",
            "PutImageTagMutability",
        ],
    ),
    (
        "ec2.amazonaws.com",
        &[
            "CreateSecurityGroup",
            "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupIngress",
            "ModifySecurityGroupRules",
            "DeleteSecurityGroup",
            "CreateVpc",
            "DeleteVpc",
            "CreateFlowLogs",
            "DeleteFlowLogs",
        ],
    ),
    (
        "cloudtrail.amazonaws.com",
        &[
            "CreateTrail",
            "UpdateTrail",
            "DeleteTrail",
            "StartLogging",
            "StopLogging",
        ],
    ),
];

/// `AddPermission20150331v2` → `AddPermission`: Lambda's record names end with the API version.
fn unversioned(name: &str) -> &str {
    let without_v = match name.rfind('v') {
        Some(i) if i > 0 && name[i + 1..].chars().all(|c| c.is_ascii_digit()) => {
            let head = &name[..i];
            if head.ends_with(|c: char| c.is_ascii_digit()) {
                head
            } else {
                name
            }
        }
        _ => name,
    };
    without_v.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// A string field of the call's parameters (or, with `response`, of its answer), by path.
fn field<'a>(value: Option<&'a Value>, path: &[&str]) -> Option<&'a str> {
    let mut at = value?;
    for step in path {
        at = at.get(step)?;
    }
    at.as_str().filter(|s| !s.is_empty())
}

/// The resource a successful call changed, if it is one the checks judge.
pub fn target(call: &ApiCall) -> Option<Target> {
    if call.error_code.is_some() {
        return None;
    }
    let name = if call.event_source == "lambda.amazonaws.com" {
        unversioned(&call.event_name)
    } else {
        call.event_name.as_str()
    };
    let watched = WATCHED
        .iter()
        .any(|(source, names)| *source == call.event_source && names.contains(&name));
    if !watched {
        return None;
    }
    let request = call.request_parameters.as_ref();
    let response = call.response_elements.as_ref();
    let text = |path: &[&str]| field(request, path).map(str::to_owned);
    match call.event_source.as_str() {
        "s3.amazonaws.com" => text(&["bucketName"]).map(Target::Bucket),
        "iam.amazonaws.com" => iam(call, name),
        "kms.amazonaws.com" => text(&["keyId"])
            .or_else(|| field(response, &["keyMetadata", "keyId"]).map(str::to_owned))
            .map(Target::Key),
        "sns.amazonaws.com" => text(&["topicArn"])
            .or_else(|| field(response, &["topicArn"]).map(str::to_owned))
            .map(Target::Topic),
        "sqs.amazonaws.com" => text(&["queueUrl"])
            .or_else(|| field(response, &["queueUrl"]).map(str::to_owned))
            .map(Target::Queue),
        "secretsmanager.amazonaws.com" => text(&["secretId"])
            .or_else(|| field(response, &["aRN"]).map(str::to_owned))
            .or_else(|| text(&["name"]))
            .map(Target::Secret),
        "sagemaker.amazonaws.com" => match name {
            "UpdateModelPackage" => Some(Target::Endpoints),
            "CreateTrainingJob" => text(&["trainingJobName"]).map(Target::TrainingJob),
            n if n.ends_with("Endpoint") => text(&["endpointName"]).map(Target::Endpoint),
            _ => text(&["notebookInstanceName"]).map(Target::Notebook),
        },
        "lambda.amazonaws.com" => text(&["functionName"]).map(Target::Function),
        "ecr.amazonaws.com" => text(&["repositoryName"]).map(Target::Repository),
        "cloudtrail.amazonaws.com" => Some(Target::Trails),
        "ec2.amazonaws.com" if name.contains("SecurityGroup") => text(&["groupId"])
            .or_else(|| text(&["ModifySecurityGroupRulesRequest", "GroupId"]))
            .or_else(|| field(response, &["groupId"]).map(str::to_owned))
            // A rule added by group name: the answer's rules name the group's id.
            .or_else(|| {
                response?["securityGroupRuleSet"]["items"]
                    .as_array()?
                    .iter()
                    .find_map(|r| r["groupId"].as_str().map(str::to_owned))
            })
            .map(Target::SecurityGroup),
        "ec2.amazonaws.com" => Some(Target::Vpcs),
        _ => None,
    }
}

/// An IAM call's target: a user's keys and sign-in, a role's trust, a managed policy.
fn iam(call: &ApiCall, name: &str) -> Option<Target> {
    let request = call.request_parameters.as_ref();
    let text = |path: &[&str]| field(request, path).map(str::to_owned);
    match name {
        "CreateRole"
        | "UpdateAssumeRolePolicy"
        | "DeleteRole"
        | "PutRolePolicy"
        | "DeleteRolePolicy"
        | "AttachRolePolicy"
        | "DetachRolePolicy" => text(&["roleName"]).map(Target::Role),
        "CreatePolicy" => field(call.response_elements.as_ref(), &["policy", "arn"])
            .map(|arn| Target::Policy(arn.to_owned())),
        "CreatePolicyVersion" | "SetDefaultPolicyVersion" | "DeletePolicy" => {
            text(&["policyArn"]).map(Target::Policy)
        }
        // A key call without a user name is about the caller's own keys: the root user's, or an IAM user's.
        _ => text(&["userName"]).map(Target::User).or_else(|| {
            let who = call.user_identity.as_ref();
            match field(who, &["type"]) {
                Some("Root") => Some(Target::Root),
                Some("IAMUser") => field(who, &["userName"]).map(|u| Target::User(u.to_owned())),
                _ => None,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(source: &str, name: &str, request: Value, response: Value, who: Value) -> ApiCall {
        ApiCall {
            event_source: format!("{source}.amazonaws.com"),
            event_name: name.to_owned(),
            request_parameters: Some(request),
            response_elements: Some(response),
            error_code: None,
            user_identity: Some(who),
        }
    }

    #[test]
    fn each_watched_call_names_its_resource() {
        let none = Value::Null;
        let user = json!({"type": "IAMUser", "userName": "alice"});
        let role = json!({"type": "AssumedRole"});
        let cases: Vec<(ApiCall, Option<Target>)> = vec![
            (
                call(
                    "s3",
                    "PutBucketPolicy",
                    json!({"bucketName": "b"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Bucket("b".into())),
            ),
            (
                call(
                    "s3",
                    "GetBucketPolicy",
                    json!({"bucketName": "b"}),
                    none.clone(),
                    role.clone(),
                ),
                None,
            ),
            (
                call(
                    "iam",
                    "CreateAccessKey",
                    json!({"userName": "bob"}),
                    none.clone(),
                    user.clone(),
                ),
                Some(Target::User("bob".into())),
            ),
            (
                call(
                    "iam",
                    "CreateAccessKey",
                    json!({}),
                    none.clone(),
                    user.clone(),
                ),
                Some(Target::User("alice".into())),
            ),
            (
                call(
                    "iam",
                    "CreateAccessKey",
                    json!({}),
                    none.clone(),
                    json!({"type": "Root"}),
                ),
                Some(Target::Root),
            ),
            (
                call(
                    "iam",
                    "CreateAccessKey",
                    json!({}),
                    none.clone(),
                    role.clone(),
                ),
                None,
            ),
            (
                call(
                    "iam",
                    "UpdateAssumeRolePolicy",
                    json!({"roleName": "r"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Role("r".into())),
            ),
            (
                call(
                    "iam",
                    "CreatePolicy",
                    json!({"policyName": "p"}),
                    json!({"policy": {"arn": "arn:p"}}),
                    role.clone(),
                ),
                Some(Target::Policy("arn:p".into())),
            ),
            (
                call(
                    "iam",
                    "SetDefaultPolicyVersion",
                    json!({"policyArn": "arn:p"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Policy("arn:p".into())),
            ),
            (
                call(
                    "iam",
                    "AttachRolePolicy",
                    json!({"roleName": "r"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Role("r".into())),
            ),
            (
                call(
                    "iam",
                    "PutUserPolicy",
                    json!({"userName": "u"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::User("u".into())),
            ),
            (
                call(
                    "iam",
                    "AttachGroupPolicy",
                    json!({"groupName": "g"}),
                    none.clone(),
                    role.clone(),
                ),
                None,
            ),
            (
                call(
                    "kms",
                    "CreateKey",
                    json!({}),
                    json!({"keyMetadata": {"keyId": "k1"}}),
                    role.clone(),
                ),
                Some(Target::Key("k1".into())),
            ),
            (
                call(
                    "kms",
                    "DisableKeyRotation",
                    json!({"keyId": "k1"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Key("k1".into())),
            ),
            (
                call(
                    "sns",
                    "CreateTopic",
                    json!({"name": "t"}),
                    json!({"topicArn": "arn:t"}),
                    role.clone(),
                ),
                Some(Target::Topic("arn:t".into())),
            ),
            (
                call(
                    "sqs",
                    "SetQueueAttributes",
                    json!({"queueUrl": "https://q/1/q"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Queue("https://q/1/q".into())),
            ),
            (
                call(
                    "secretsmanager",
                    "CreateSecret",
                    json!({"name": "s"}),
                    json!({"aRN": "arn:s"}),
                    role.clone(),
                ),
                Some(Target::Secret("arn:s".into())),
            ),
            (
                call(
                    "secretsmanager",
                    "CancelRotateSecret",
                    json!({"secretId": "s"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Secret("s".into())),
            ),
            (
                call(
                    "sagemaker",
                    "UpdateEndpoint",
                    json!({"endpointName": "e"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Endpoint("e".into())),
            ),
            (
                call(
                    "sagemaker",
                    "CreateNotebookInstance",
                    json!({"notebookInstanceName": "n"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Notebook("n".into())),
            ),
            (
                call(
                    "sagemaker",
                    "UpdateModelPackage",
                    json!({"modelPackageArn": "arn:m"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Endpoints),
            ),
            (
                call(
                    "sagemaker",
                    "CreateTrainingJob",
                    json!({"trainingJobName": "j"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::TrainingJob("j".into())),
            ),
            (
                call(
                    "lambda",
                    "AddPermission20150331v2",
                    json!({"functionName": "f"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Function("f".into())),
            ),
            (
                call(
                    "lambda",
                    "CreateFunctionUrlConfig20211031",
                    json!({"functionName": "f"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Function("f".into())),
            ),
            (
                call(
                    "lambda",
                    "Invoke",
                    json!({"functionName": "f"}),
                    none.clone(),
                    role.clone(),
                ),
                None,
            ),
            (
                call(
                    "ecr",
                    "PutImageTagMutability",
                    json!({"repositoryName": "r"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Repository("r".into())),
            ),
            (
                call(
                    "cloudtrail",
                    "StopLogging",
                    json!({"name": "t"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Trails),
            ),
            (
                call(
                    "ec2",
                    "AuthorizeSecurityGroupIngress",
                    json!({"groupId": "sg-1"}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::SecurityGroup("sg-1".into())),
            ),
            (
                call(
                    "ec2",
                    "CreateSecurityGroup",
                    json!({"groupName": "g"}),
                    json!({"groupId": "sg-2"}),
                    role.clone(),
                ),
                Some(Target::SecurityGroup("sg-2".into())),
            ),
            (
                call(
                    "ec2",
                    "ModifySecurityGroupRules",
                    json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-3"}}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::SecurityGroup("sg-3".into())),
            ),
            (
                call(
                    "ec2",
                    "DeleteFlowLogs",
                    json!({"DeleteFlowLogsRequest": {"FlowLogId": "fl-1"}}),
                    none.clone(),
                    role.clone(),
                ),
                Some(Target::Vpcs),
            ),
            (
                call("ec2", "RunInstances", json!({}), none.clone(), role.clone()),
                None,
            ),
            (
                call(
                    "ec2",
                    "AuthorizeSecurityGroupIngress",
                    json!({"groupName": "default"}),
                    json!({"_return": true, "securityGroupRuleSet": {"items": [{"groupId": "sg-4", "isEgress": false}]}}),
                    role.clone(),
                ),
                Some(Target::SecurityGroup("sg-4".into())),
            ),
        ];
        for (call, expected) in cases {
            assert_eq!(
                target(&call),
                expected,
                "{} {}",
                call.event_source,
                call.event_name
            );
        }
    }

    #[test]
    fn a_failed_or_nameless_call_asks_for_nothing() {
        let mut failed = call(
            "s3",
            "PutBucketPolicy",
            json!({"bucketName": "b"}),
            Value::Null,
            Value::Null,
        );
        failed.error_code = Some("AccessDenied".into());
        assert_eq!(target(&failed), None);
        let nameless = call(
            "s3",
            "PutBucketPolicy",
            json!({"bucketName": ""}),
            Value::Null,
            Value::Null,
        );
        assert_eq!(target(&nameless), None);
        let malformed = call(
            "s3",
            "PutBucketPolicy",
            json!({"bucketName": 7}),
            Value::Null,
            Value::Null,
        );
        assert_eq!(target(&malformed), None);
    }

    #[test]
    fn lambda_names_lose_their_version_only() {
        for (name, plain) in [
            ("AddPermission20150331v2", "AddPermission"),
            ("CreateFunction20150331", "CreateFunction"),
            ("UpdateFunctionUrlConfig20211031", "UpdateFunctionUrlConfig"),
            ("DeleteFunction", "DeleteFunction"),
            ("Overview", "Overview"),
        ] {
            assert_eq!(unversioned(name), plain);
        }
    }

    #[test]
    fn scopes_cover_what_they_reread() {
        let user = Scope::Iam(IamEntity::User, "bob".into());
        assert!(user.covers(Check::IamOldAccessKey, "arn:aws:iam::1:user/team/bob"));
        assert!(!user.covers(Check::IamOldAccessKey, "arn:aws:iam::1:user/bobby"));
        assert!(!user.covers(Check::IamOpenTrust, "arn:aws:iam::1:role/bob"));
        assert!(user.covers(Check::IamOldAccessKey, "arn:aws:iam::1:user/Bob"));
        assert!(
            !user.covers(Check::IamOpenTrust, "arn:aws:iam::1:role/x:user/bob"),
            "a role whose path holds ':user/'"
        );
        let bucket = Scope::Resources(vec!["arn:aws:s3:::b".into()]);
        assert!(bucket.covers(Check::S3NoVersioning, "arn:aws:s3:::b"));
        assert!(!bucket.covers(Check::S3NoVersioning, "arn:aws:s3:::bb"));
        let endpoints = Scope::Checks(vec![Check::SageMakerEndpointWithoutKms]);
        assert!(endpoints.covers(Check::SageMakerEndpointWithoutKms, "any"));
        assert!(!endpoints.covers(Check::SageMakerNotebookRootAccess, "any"));
        let unread = Scope::Except(
            Box::new(Scope::Services(vec![Service::S3])),
            vec!["arn:aws:s3:::denied".into()],
        );
        assert!(unread.covers(Check::S3NoVersioning, "arn:aws:s3:::b"));
        assert!(!unread.covers(Check::S3NoVersioning, "arn:aws:s3:::denied"));
        let services = Scope::Services(vec![Service::Kms]);
        assert!(services.covers(Check::KmsRotationOff, "k"));
        assert!(!services.covers(Check::S3PublicAcl, "k"));
    }
}
