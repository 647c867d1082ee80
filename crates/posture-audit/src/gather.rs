//! Reads what the checks judge, one service at a time, through the SDK's paginators: settings and policies
//! only, never object contents or secret values.

use aws_config::SdkConfig;
use aws_sdk_iam::types::{StatusType, SummaryKeyType};
use aws_sdk_kms::types::{KeyManagerType, KeySpec, KeyState};
use aws_sdk_s3::types::{BucketVersioningStatus, Type};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use guardrails_core::AwsError;
use guardrails_core::image::EcrImage;
use serde::Serialize;

use crate::check::Finding;
use crate::judge::{
    self, AccessKey, Bucket, Channel, ConsoleUser, Endpoint, Function, Ingress, Key, Notebook,
    Repository, SecurityGroup, Trail, TrainingJob,
};
use crate::policy;

/// The grantee URIs that mean everyone.
const EVERYONE: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

fn time(t: Option<&aws_sdk_iam::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// What a service's reads found, and the resources whose own reads failed: a bucket whose policy denies the
/// auditor leaves that bucket unread, not the whole service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Gathered {
    /// The findings of the resources read.
    pub findings: Vec<Finding>,
    /// The resources that could not be read.
    pub unread: Vec<Unread>,
}

/// A resource the audit could not read: its findings are unknown, and stay as they were.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unread {
    /// Its ARN (or name).
    pub resource: String,
    /// The failed call.
    pub reason: String,
}

impl Gathered {
    /// Takes one resource's reads: its findings, or the resource unread.
    fn take<I: IntoIterator<Item = Finding>>(&mut self, resource: &str, read: Result<I, AwsError>) {
        match read {
            Ok(found) => self.findings.extend(found),
            Err(e) => self.unread.push(Unread {
                resource: resource.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// Adds another part's findings and unread resources.
    fn merge(&mut self, other: Gathered) {
        self.findings.extend(other.findings);
        self.unread.extend(other.unread);
    }
}

impl From<Vec<Finding>> for Gathered {
    fn from(findings: Vec<Finding>) -> Self {
        Gathered {
            findings,
            unread: Vec::new(),
        }
    }
}

/// The error's service code when the call failed with one of `absent` (the setting is not there), `Ok(None)`.
pub(crate) fn absent<T>(
    result: Result<T, AwsError>,
    absent: &[&str],
) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code.as_deref().is_some_and(|c| absent.contains(&c)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The buckets of `region`, judged.
///
/// # Errors
/// A call that failed for another reason than a missing setting.
pub async fn s3(sdk: &SdkConfig, region: &str) -> Result<Gathered, AwsError> {
    let s3 = guardrails_core::aws::s3_client(sdk);
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_buckets()
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListBuckets", "s3", e))?;
        names.extend(
            page.buckets()
                .iter()
                .filter_map(|b| b.name().map(str::to_owned)),
        );
        token = page.continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut found = Gathered::default();
    for name in names {
        found.take(
            &format!("arn:aws:s3:::{name}"),
            bucket_in(&s3, &name, region).await,
        );
    }
    Ok(found)
}

/// A bucket's findings if it is in `region` (none if it is elsewhere or gone).
pub(crate) async fn bucket_in(
    s3: &aws_sdk_s3::Client,
    name: &str,
    region: &str,
) -> Result<Vec<Finding>, AwsError> {
    let Some(location) = absent(
        s3.get_bucket_location()
            .bucket(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBucketLocation", name, e)),
        &["NoSuchBucket"],
    )?
    else {
        return Ok(Vec::new());
    };
    // No constraint is us-east-1; EU is eu-west-1's old name.
    let located = match location.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1",
        Some("EU") => "eu-west-1",
        Some(other) => other,
    };
    if located != region {
        return Ok(Vec::new());
    }
    Ok(judge::bucket(&bucket(s3, name).await?))
}

async fn bucket(s3: &aws_sdk_s3::Client, name: &str) -> Result<Bucket, AwsError> {
    let acl = s3
        .get_bucket_acl()
        .bucket(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetBucketAcl", name, e))?;
    let public_grants = acl
        .grants()
        .iter()
        .filter_map(|g| {
            let grantee = g.grantee()?;
            let uri = grantee.uri().filter(|u| EVERYONE.contains(u))?;
            (grantee.r#type() == &Type::Group).then(|| {
                let who = uri.rsplit('/').next().unwrap_or(uri);
                let what = g.permission().map_or("?", |p| p.as_str());
                format!("{who}: {what}")
            })
        })
        .collect();
    let block = absent(
        s3.get_public_access_block()
            .bucket(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetPublicAccessBlock", name, e)),
        &["NoSuchPublicAccessBlockConfiguration"],
    )?;
    let public_access_block = block
        .as_ref()
        .and_then(|b| b.public_access_block_configuration())
        .map(|c| {
            [
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ]
        });
    let encryption = absent(
        s3.get_bucket_encryption()
            .bucket(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBucketEncryption", name, e)),
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )?;
    let default_encryption = encryption.as_ref().and_then(|e| {
        e.server_side_encryption_configuration()?
            .rules()
            .iter()
            .find_map(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_owned())
    });
    let policy = absent(
        s3.get_bucket_policy()
            .bucket(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBucketPolicy", name, e)),
        &["NoSuchBucketPolicy"],
    )?
    .and_then(|p| p.policy().and_then(policy::parse));
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetBucketVersioning", name, e))?;
    Ok(Bucket {
        arn: format!("arn:aws:s3:::{name}"),
        public_grants,
        public_access_block,
        default_encryption,
        policy,
        versioned: versioning.status() == Some(&BucketVersioningStatus::Enabled),
    })
}

/// The account the credentials belong to.
pub(crate) async fn account(sdk: &SdkConfig) -> Result<String, AwsError> {
    Ok(aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", "sts", e))?
        .account()
        .unwrap_or_default()
        .to_owned())
}

/// The account's IAM (global: judged once, from any region): root keys, users' keys and MFA, customer managed
/// policies, roles' trust.
///
/// # Errors
/// A failed call.
pub async fn iam(sdk: &SdkConfig, now: DateTime<Utc>) -> Result<Gathered, AwsError> {
    let iam = aws_sdk_iam::Client::new(sdk);
    let account = account(sdk).await?;
    let mut found = Gathered::from(root(&iam, &account).await?.into_iter().collect::<Vec<_>>());
    found.merge(users(&iam, now).await?);
    let mut policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .into_paginator()
        .items()
        .send();
    while let Some(p) = policies.next().await {
        let p = p.map_err(|e| AwsError::from_sdk("ListPolicies", "iam", e))?;
        if let (Some(arn), Some(version)) = (p.arn(), p.default_version_id()) {
            found.take(arn, policy_version(&iam, arn, version).await);
        }
    }
    let mut roles = iam.list_roles().into_paginator().items().send();
    while let Some(role) = roles.next().await {
        let role = role.map_err(|e| AwsError::from_sdk("ListRoles", "iam", e))?;
        found.take(role.arn(), role_findings(&iam, &role, &account).await);
    }
    Ok(found)
}

/// A role's findings: its trust, and (unless AWS owns it: a service-linked role) its own grants.
pub(crate) async fn role_findings(
    iam: &aws_sdk_iam::Client,
    role: &aws_sdk_iam::types::Role,
    account: &str,
) -> Result<Vec<Finding>, AwsError> {
    let mut found = Vec::new();
    if let Some(trust) = role.assume_role_policy_document().and_then(policy::parse) {
        found.extend(judge::role(role.arn(), &trust, account));
    }
    if role.path().starts_with("/aws-service-role/") {
        return Ok(found);
    }
    found.extend(identity_grants(iam, Identity::Role(role.role_name()), role.arn()).await?);
    Ok(found)
}

/// A role or a user, by name: the two kinds of identity whose own grants are read.
#[derive(Debug, Clone, Copy)]
enum Identity<'a> {
    Role(&'a str),
    User(&'a str),
}

/// An identity's own grants (`arn` names it): its inline policies and the AWS managed policies attached to it.
async fn identity_grants(
    iam: &aws_sdk_iam::Client,
    identity: Identity<'_>,
    arn: &str,
) -> Result<Vec<Finding>, AwsError> {
    let names: Vec<String> = match identity {
        Identity::Role(name) => {
            let names = iam.list_role_policies().role_name(name).into_paginator();
            names
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("ListRolePolicies", arn, e))?
        }
        Identity::User(name) => {
            let names = iam.list_user_policies().user_name(name).into_paginator();
            names
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("ListUserPolicies", arn, e))?
        }
    };
    let mut inline = Vec::new();
    for policy in names {
        let document = match identity {
            Identity::Role(name) => iam
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map(|got| got.policy_document().to_owned())
                .map_err(|e| AwsError::from_sdk("GetRolePolicy", arn, e))?,
            Identity::User(name) => iam
                .get_user_policy()
                .user_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map(|got| got.policy_document().to_owned())
                .map_err(|e| AwsError::from_sdk("GetUserPolicy", arn, e))?,
        };
        if let Some(document) = policy::parse(&document) {
            inline.push((policy, document));
        }
    }
    let attached: Vec<aws_sdk_iam::types::AttachedPolicy> = match identity {
        Identity::Role(name) => {
            let pages = iam
                .list_attached_role_policies()
                .role_name(name)
                .into_paginator();
            pages
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("ListAttachedRolePolicies", arn, e))?
        }
        Identity::User(name) => {
            let pages = iam
                .list_attached_user_policies()
                .user_name(name)
                .into_paginator();
            pages
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("ListAttachedUserPolicies", arn, e))?
        }
    };
    let attached: Vec<String> = attached
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    Ok(judge::identity_grants(arn, &inline, &attached))
}

/// The root user's finding.
pub(crate) async fn root(
    iam: &aws_sdk_iam::Client,
    account: &str,
) -> Result<Option<Finding>, AwsError> {
    let summary = iam
        .get_account_summary()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetAccountSummary", "iam", e))?;
    let root_keys = summary
        .summary_map()
        .and_then(|m| m.get(&SummaryKeyType::AccountAccessKeysPresent))
        .is_some_and(|n| *n > 0);
    Ok(judge::root(account, root_keys))
}

/// A customer managed policy's finding, from its version `version`.
pub(crate) async fn policy_version(
    iam: &aws_sdk_iam::Client,
    arn: &str,
    version: &str,
) -> Result<Option<Finding>, AwsError> {
    let document = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetPolicyVersion", arn, e))?;
    Ok(document
        .policy_version()
        .and_then(|v| v.document())
        .and_then(policy::parse)
        .and_then(|doc| judge::managed_policy(arn, &doc)))
}

async fn users(iam: &aws_sdk_iam::Client, now: DateTime<Utc>) -> Result<Gathered, AwsError> {
    let mut found = Gathered::default();
    let mut users = iam.list_users().into_paginator().items().send();
    while let Some(user) = users.next().await {
        let user = user.map_err(|e| AwsError::from_sdk("ListUsers", "iam", e))?;
        found.take(user.arn(), user_findings(iam, &user, now).await);
    }
    Ok(found)
}

/// A user's findings: its active keys' age and use, its console sign-in without MFA.
pub(crate) async fn user_findings(
    iam: &aws_sdk_iam::Client,
    user: &aws_sdk_iam::types::User,
    now: DateTime<Utc>,
) -> Result<Vec<Finding>, AwsError> {
    let mut found = Vec::new();
    let name = user.user_name();
    let keys = iam
        .list_access_keys()
        .user_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListAccessKeys", user.arn(), e))?;
    for key in keys.access_key_metadata() {
        let Some(id) = key.access_key_id() else {
            continue;
        };
        let used = iam
            .get_access_key_last_used()
            .access_key_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetAccessKeyLastUsed", id, e))?;
        let key = AccessKey {
            user_arn: user.arn().to_owned(),
            id: id.to_owned(),
            active: key.status() == Some(&StatusType::Active),
            created: time(key.create_date()).unwrap_or(now),
            last_used: time(used.access_key_last_used().and_then(|u| u.last_used_date())),
        };
        found.extend(judge::access_key(&key, now));
    }
    let console = absent(
        iam.get_login_profile()
            .user_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetLoginProfile", user.arn(), e)),
        &["NoSuchEntity"],
    )?
    .is_some();
    if console {
        let mfa = iam
            .list_mfa_devices()
            .user_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListMFADevices", user.arn(), e))?;
        found.extend(judge::console_user(&ConsoleUser {
            arn: user.arn().to_owned(),
            mfa_devices: mfa.mfa_devices().len(),
        }));
    }
    found.extend(identity_grants(iam, Identity::User(user.user_name()), user.arn()).await?);
    Ok(found)
}

/// The region's customer managed KMS keys, judged.
///
/// # Errors
/// A failed call.
pub async fn kms(sdk: &SdkConfig) -> Result<Gathered, AwsError> {
    let kms = aws_sdk_kms::Client::new(sdk);
    let mut found = Gathered::default();
    let mut keys = kms.list_keys().into_paginator().items().send();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| AwsError::from_sdk("ListKeys", "kms", e))?;
        if let Some(id) = key.key_id() {
            found.take(
                key.key_arn().unwrap_or(id),
                key_findings(&kms, id).await.map(|(_, f)| f),
            );
        }
    }
    Ok(found)
}

/// A key's ARN (none if it does not exist) and findings (none unless customer managed and not being deleted).
pub(crate) async fn key_findings(
    kms: &aws_sdk_kms::Client,
    id: &str,
) -> Result<(Option<String>, Vec<Finding>), AwsError> {
    let Some(described) = absent(
        kms.describe_key()
            .key_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeKey", id, e)),
        &["NotFoundException"],
    )?
    else {
        return Ok((None, Vec::new()));
    };
    let Some(meta) = described.key_metadata() else {
        return Ok((None, Vec::new()));
    };
    let arn = meta.arn().unwrap_or(id).to_owned();
    let id = meta.key_id();
    if meta.key_manager() != Some(&KeyManagerType::Customer)
        || meta.key_state() == Some(&KeyState::PendingDeletion)
    {
        return Ok((Some(arn), Vec::new()));
    }
    // Only enabled symmetric encryption keys can rotate automatically.
    let rotates = if meta.key_state() == Some(&KeyState::Enabled)
        && meta
            .key_spec()
            .is_none_or(|s| s == &KeySpec::SymmetricDefault)
    {
        let status = kms
            .get_key_rotation_status()
            .key_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetKeyRotationStatus", &arn, e))?;
        Some(status.key_rotation_enabled())
    } else {
        None
    };
    let policy = kms
        .get_key_policy()
        .key_id(id)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetKeyPolicy", &arn, e))?
        .policy()
        .and_then(policy::parse);
    let found = judge::key(&Key {
        arn: arn.clone(),
        rotates,
        policy,
    });
    Ok((Some(arn), found))
}

/// The region's topics, judged.
///
/// # Errors
/// A failed call.
pub async fn sns(sdk: &SdkConfig) -> Result<Gathered, AwsError> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let mut found = Gathered::default();
    let mut topics = sns.list_topics().into_paginator().items().send();
    while let Some(topic) = topics.next().await {
        let topic = topic.map_err(|e| AwsError::from_sdk("ListTopics", "sns", e))?;
        if let Some(arn) = topic.topic_arn() {
            found.take(arn, topic_findings(&sns, arn).await);
        }
    }
    Ok(found)
}

/// A topic's findings (none if it is gone).
pub(crate) async fn topic_findings(
    sns: &aws_sdk_sns::Client,
    arn: &str,
) -> Result<Vec<Finding>, AwsError> {
    let Some(attributes) = absent(
        sns.get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetTopicAttributes", arn, e)),
        &["NotFound"],
    )?
    else {
        return Ok(Vec::new());
    };
    let attributes = attributes.attributes().cloned().unwrap_or_default();
    Ok(judge::topic(&Channel {
        arn: arn.to_owned(),
        encrypted: attributes
            .get("KmsMasterKeyId")
            .is_some_and(|k| !k.is_empty()),
        policy: attributes.get("Policy").and_then(|p| policy::parse(p)),
    }))
}

/// The region's queues, judged.
///
/// # Errors
/// A failed call.
pub async fn sqs(sdk: &SdkConfig, region: &str) -> Result<Gathered, AwsError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut found = Gathered::default();
    // Without MaxResults, ListQueues answers 1,000 queues and no next page.
    let mut urls = sqs
        .list_queues()
        .max_results(1000)
        .into_paginator()
        .items()
        .send();
    while let Some(url) = urls.next().await {
        let url = url.map_err(|e| AwsError::from_sdk("ListQueues", "sqs", e))?;
        // Unread, a queue is named by its URL's `<account>/<name>`, as its ARN would.
        let mut path = url.trim_end_matches('/').rsplit('/');
        let (name, account) = (
            path.next().unwrap_or_default(),
            path.next().unwrap_or_default(),
        );
        found.take(
            &format!("arn:aws:sqs:{region}:{account}:{name}"),
            queue_findings(&sqs, &url).await,
        );
    }
    Ok(found)
}

/// A queue's findings (none if it is gone).
pub(crate) async fn queue_findings(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Vec<Finding>, AwsError> {
    let Some(attributes) = absent(
        sqs.get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetQueueAttributes", url, e)),
        &[
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ],
    )?
    else {
        return Ok(Vec::new());
    };
    let attributes = attributes.attributes().cloned().unwrap_or_default();
    let get = |name: QueueAttributeName| attributes.get(&name).cloned().unwrap_or_default();
    Ok(judge::queue(&Channel {
        arn: get(QueueAttributeName::QueueArn),
        encrypted: !get(QueueAttributeName::KmsMasterKeyId).is_empty()
            || get(QueueAttributeName::SqsManagedSseEnabled) == "true",
        policy: policy::parse(&get(QueueAttributeName::Policy)),
    }))
}

/// The region's secrets (their metadata only: no value is read), judged.
///
/// # Errors
/// A failed call.
pub async fn secrets(sdk: &SdkConfig) -> Result<Gathered, AwsError> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let mut found = Gathered::default();
    let mut pages = secrets.list_secrets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListSecrets", "secretsmanager", e))?;
        for secret in page.secret_list() {
            if let Some(arn) = secret.arn() {
                found.findings.extend(judge::secret(
                    arn,
                    secret.rotation_enabled().unwrap_or(false),
                ));
            }
        }
    }
    Ok(found)
}

/// Training jobs created within this many days are judged (older ones ran long ago, and there can be thousands).
pub const RECENT_TRAINING_DAYS: i64 = 30;

/// The region's SageMaker notebook instances, endpoints and recent training jobs, judged.
///
/// # Errors
/// A failed call.
pub async fn sagemaker(sdk: &SdkConfig, now: DateTime<Utc>) -> Result<Gathered, AwsError> {
    let sm = aws_sdk_sagemaker::Client::new(sdk);
    let mut found = Gathered::default();
    let mut notebooks = sm.list_notebook_instances().into_paginator().send();
    while let Some(page) = notebooks.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListNotebookInstances", "sagemaker", e))?;
        for summary in page.notebook_instances() {
            let name = summary.notebook_instance_name().unwrap_or_default();
            found.take(
                summary.notebook_instance_arn().unwrap_or(name),
                notebook_findings(&sm, name).await,
            );
        }
    }
    found.merge(endpoints(&sm).await?);
    let since = now - chrono::TimeDelta::days(RECENT_TRAINING_DAYS);
    let mut jobs = sm
        .list_training_jobs()
        .creation_time_after(aws_sdk_sagemaker::primitives::DateTime::from_secs(
            since.timestamp(),
        ))
        .into_paginator()
        .send();
    while let Some(page) = jobs.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListTrainingJobs", "sagemaker", e))?;
        for summary in page.training_job_summaries() {
            if let Some(name) = summary.training_job_name() {
                found.take(
                    summary.training_job_arn().unwrap_or(name),
                    training_job_findings(&sm, name).await,
                );
            }
        }
    }
    Ok(found)
}

/// SageMaker answers a Describe of what does not exist with a ValidationException: none.
const SAGEMAKER_ABSENT: &[&str] = &["ValidationException", "ResourceNotFound"];

/// A notebook instance's findings (none if it is gone).
pub(crate) async fn notebook_findings(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
) -> Result<Vec<Finding>, AwsError> {
    use aws_sdk_sagemaker::types::{DirectInternetAccess, RootAccess};
    let Some(d) = absent(
        sm.describe_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeNotebookInstance", name, e)),
        SAGEMAKER_ABSENT,
    )?
    else {
        return Ok(Vec::new());
    };
    Ok(judge::notebook(&Notebook {
        arn: d.notebook_instance_arn().unwrap_or(name).to_owned(),
        direct_internet: d.direct_internet_access() == Some(&DirectInternetAccess::Enabled),
        root_access: d.root_access() == Some(&RootAccess::Enabled),
    }))
}

/// A training job's findings (none if it is gone).
pub(crate) async fn training_job_findings(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
) -> Result<Vec<Finding>, AwsError> {
    let Some(d) = absent(
        sm.describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTrainingJob", name, e)),
        SAGEMAKER_ABSENT,
    )?
    else {
        return Ok(Vec::new());
    };
    Ok(judge::training_job(&TrainingJob {
        arn: d.training_job_arn().unwrap_or(name).to_owned(),
        volume_kms: d
            .resource_config()
            .and_then(|r| r.volume_kms_key_id())
            .is_some_and(|k| !k.is_empty()),
        network_isolation: d.enable_network_isolation().unwrap_or(false),
    }))
}

/// Every endpoint's findings.
pub(crate) async fn endpoints(sm: &aws_sdk_sagemaker::Client) -> Result<Gathered, AwsError> {
    let mut found = Gathered::default();
    let mut endpoints = sm.list_endpoints().into_paginator().send();
    while let Some(page) = endpoints.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListEndpoints", "sagemaker", e))?;
        for summary in page.endpoints() {
            if let Some(name) = summary.endpoint_name() {
                found.take(
                    summary.endpoint_arn().unwrap_or(name),
                    endpoint_findings(sm, name).await,
                );
            }
        }
    }
    Ok(found)
}

/// An endpoint's findings (none if it is gone).
pub(crate) async fn endpoint_findings(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
) -> Result<Vec<Finding>, AwsError> {
    match endpoint(sm, name).await {
        Ok(e) => Ok(judge::endpoint(&e)),
        Err(e)
            if e.operation == "DescribeEndpoint"
                && e.code
                    .as_deref()
                    .is_some_and(|c| SAGEMAKER_ABSENT.contains(&c)) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// An endpoint as its configuration and its variants' models say.
async fn endpoint(sm: &aws_sdk_sagemaker::Client, name: &str) -> Result<Endpoint, AwsError> {
    let d = sm
        .describe_endpoint()
        .endpoint_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeEndpoint", name, e))?;
    let config_name = d.endpoint_config_name().unwrap_or_default().to_owned();
    let config = sm
        .describe_endpoint_config()
        .endpoint_config_name(&config_name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", &config_name, e))?;
    let mut packages = Vec::new();
    for variant in config.production_variants() {
        let Some(model) = variant.model_name() else {
            continue;
        };
        let m = sm
            .describe_model()
            .model_name(model)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeModel", model, e))?;
        let names = m
            .primary_container()
            .into_iter()
            .chain(m.containers())
            .filter_map(|c| c.model_package_name().map(str::to_owned));
        for package in names {
            let p = sm
                .describe_model_package()
                .model_package_name(&package)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeModelPackage", &package, e))?;
            let status = p.model_approval_status().map_or("unknown", |s| s.as_str());
            packages.push((
                p.model_package_arn().unwrap_or(&package).to_owned(),
                status.to_owned(),
            ));
        }
    }
    Ok(Endpoint {
        arn: d.endpoint_arn().unwrap_or(name).to_owned(),
        config: config_name,
        kms: config.kms_key_id().is_some_and(|k| !k.is_empty()),
        // A capture configuration without EnableCapture captures (AWS's default is true), if it says where to.
        capture: config.data_capture_config().is_some_and(|c| {
            c.enable_capture().unwrap_or(true)
                && c.destination_s3_uri().is_some_and(|d| !d.is_empty())
        }),
        packages,
    })
}

/// The region's trails (multi-region ones from other regions included), judged.
///
/// # Errors
/// A failed call.
pub async fn cloudtrail(sdk: &SdkConfig, region: &str) -> Result<Gathered, AwsError> {
    let ct = aws_sdk_cloudtrail::Client::new(sdk);
    let described = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeTrails", "cloudtrail", e))?;
    let mut trails = Vec::new();
    for trail in described.trail_list() {
        let Some(arn) = trail.trail_arn() else {
            continue;
        };
        let status = ct
            .get_trail_status()
            .name(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetTrailStatus", arn, e))?;
        trails.push(Trail {
            arn: arn.to_owned(),
            logging: status.is_logging().unwrap_or(false),
            multi_region: trail.is_multi_region_trail().unwrap_or(false),
            validation: trail.log_file_validation_enabled().unwrap_or(false),
        });
    }
    Ok(judge::trails(&account(sdk).await?, region, &trails).into())
}

/// The region's Lambda functions, judged: resource policy, URL, runtime.
///
/// # Errors
/// A failed call.
pub async fn lambda(sdk: &SdkConfig) -> Result<Gathered, AwsError> {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let mut found = Gathered::default();
    let mut pages = lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListFunctions", "lambda", e))?;
        for f in page.functions() {
            let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) else {
                continue;
            };
            found.take(
                arn,
                function_findings(&lambda, name, arn, f.runtime()).await,
            );
        }
    }
    Ok(found)
}

/// A function's findings: resource policy, URL, runtime.
pub(crate) async fn function_findings(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    arn: &str,
    runtime: Option<&aws_sdk_lambda::types::Runtime>,
) -> Result<Vec<Finding>, AwsError> {
    let policy = absent(
        lambda
            .get_policy()
            .function_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetPolicy", arn, e)),
        &["ResourceNotFoundException"],
    )?
    .and_then(|p| p.policy().and_then(policy::parse));
    // The unqualified function's URL; a URL on an alias is not read yet.
    let url = absent(
        lambda
            .get_function_url_config()
            .function_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetFunctionUrlConfig", arn, e)),
        &["ResourceNotFoundException"],
    )?;
    Ok(judge::function(&Function {
        arn: arn.to_owned(),
        runtime: runtime.map(|r| r.as_str().to_owned()),
        policy,
        url_auth: url
            .iter()
            .map(|u| u.auth_type().as_str().to_owned())
            .collect(),
    }))
}

/// The region's ECR repositories, judged, and the last scans of `images` (the pipeline's, in this account's
/// registry; others are not ours to judge).
///
/// # Errors
/// A failed call.
pub async fn ecr(sdk: &SdkConfig, region: &str, images: &[String]) -> Result<Gathered, AwsError> {
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let filters = scanned_on_push(&ecr).await?;
    let mut found = Gathered::default();
    let mut pages = ecr.describe_repositories().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeRepositories", "ecr", e))?;
        found.findings.extend(
            page.repositories()
                .iter()
                .flat_map(|r| repository_findings(r, &filters)),
        );
    }
    if !images.is_empty() {
        let account = account(sdk).await?;
        for uri in images {
            let Some(image) = EcrImage::parse(uri) else {
                continue;
            };
            if image.account == account && image.region == region {
                found.take(uri, image_findings(&ecr, &image).await);
            }
        }
    }
    Ok(found)
}

/// How the registry scans: enhanced (Inspector) or basic, and the filters of its rules that scan on push or
/// continuously.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistryScanning {
    enhanced: bool,
    filters: Vec<String>,
}

impl RegistryScanning {
    /// Whether repository `name`, whose own setting is `scan_on_push`, has its images scanned when pushed. Under
    /// enhanced scanning only the registry's rules count (a repository's own setting is ignored).
    fn scans(&self, name: &str, scan_on_push: bool) -> bool {
        (scan_on_push && !self.enhanced)
            || self.filters.iter().any(|f| judge::filter_covers(f, name))
    }
}

/// The registry's scanning configuration.
pub(crate) async fn scanned_on_push(
    ecr: &aws_sdk_ecr::Client,
) -> Result<RegistryScanning, AwsError> {
    use aws_sdk_ecr::types::{ScanFrequency, ScanType};
    let registry = ecr
        .get_registry_scanning_configuration()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetRegistryScanningConfiguration", "ecr", e))?;
    let config = registry.scanning_configuration();
    Ok(RegistryScanning {
        enhanced: config.and_then(|c| c.scan_type()) == Some(&ScanType::Enhanced),
        filters: config
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .filter(|r| r.scan_frequency() != &ScanFrequency::Manual)
            .flat_map(|r| r.repository_filters().iter().map(|f| f.filter().to_owned()))
            .collect(),
    })
}

/// The last scan of one image of this account's registry (none if it was never scanned or is gone).
async fn image_findings(
    ecr: &aws_sdk_ecr::Client,
    image: &EcrImage,
) -> Result<Option<Finding>, AwsError> {
    use aws_sdk_ecr::types::{FindingSeverity, ImageIdentifier};
    let id = ImageIdentifier::builder()
        .set_image_tag(image.tag.clone())
        .set_image_digest(image.digest.clone())
        .build();
    let Some(scan) = absent(
        ecr.describe_image_scan_findings()
            .repository_name(&image.repository)
            .image_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeImageScanFindings", &image.repository, e)),
        &[
            "ScanNotFoundException",
            "ImageNotFoundException",
            "RepositoryNotFoundException",
        ],
    )?
    else {
        return Ok(None);
    };
    let counts = scan
        .image_scan_findings()
        .and_then(|f| f.finding_severity_counts())
        .cloned()
        .unwrap_or_default();
    Ok(judge::scanned_image(&judge::ScannedImage {
        resource: image.resource(),
        critical: counts.get(&FindingSeverity::Critical).copied().unwrap_or(0),
        high: counts.get(&FindingSeverity::High).copied().unwrap_or(0),
    }))
}

/// A repository's findings, the registry scanning as `scanning` says.
pub(crate) fn repository_findings(
    repo: &aws_sdk_ecr::types::Repository,
    scanning: &RegistryScanning,
) -> Vec<Finding> {
    let Some(arn) = repo.repository_arn() else {
        return Vec::new();
    };
    let name = repo.repository_name().unwrap_or_default();
    judge::repository(&Repository {
        arn: arn.to_owned(),
        scan_on_push: scanning.scans(
            name,
            repo.image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
        ),
        // MUTABLE, and MUTABLE_WITH_EXCLUSION (mutable but for some tags).
        mutable_tags: repo
            .image_tag_mutability()
            .is_none_or(|m| m.as_str().starts_with("MUTABLE")),
    })
}

/// The region's security groups and VPCs, judged: what is open to the internet, which VPC keeps no flow log.
///
/// # Errors
/// A failed call.
pub async fn ec2(sdk: &SdkConfig, region: &str) -> Result<Gathered, AwsError> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let account = account(sdk).await?;
    let mut found = Gathered::default();
    let mut groups = ec2
        .describe_security_groups()
        .into_paginator()
        .items()
        .send();
    while let Some(group) = groups.next().await {
        let group = group.map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", "ec2", e))?;
        found.findings.extend(judge::security_group(&security_group(
            &group, region, &account,
        )));
    }
    found.findings.extend(vpcs(&ec2, region, &account).await?);
    Ok(found)
}

/// A security group as the judge reads it.
pub(crate) fn security_group(
    g: &aws_sdk_ec2::types::SecurityGroup,
    region: &str,
    account: &str,
) -> SecurityGroup {
    let owner = g.owner_id().unwrap_or(account);
    SecurityGroup {
        arn: format!(
            "arn:aws:ec2:{region}:{owner}:security-group/{}",
            g.group_id().unwrap_or_default()
        ),
        ingress: g
            .ip_permissions()
            .iter()
            .map(|p| Ingress {
                protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
                from: p.from_port(),
                to: p.to_port(),
                ranges: p
                    .ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip())
                    .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
                    .map(str::to_owned)
                    .collect(),
            })
            .collect(),
    }
}

/// Every VPC's flow-log finding.
pub(crate) async fn vpcs(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    account: &str,
) -> Result<Vec<Finding>, AwsError> {
    let mut logged: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut logs = ec2.describe_flow_logs().into_paginator().items().send();
    while let Some(log) = logs.next().await {
        let log = log.map_err(|e| AwsError::from_sdk("DescribeFlowLogs", "ec2", e))?;
        // A flow log whose delivery failed records nothing.
        if log.flow_log_status().is_none_or(|s| s == "ACTIVE")
            && let Some(resource) = log.resource_id()
        {
            *logged.entry(resource.to_owned()).or_default() += 1;
        }
    }
    let mut found = Vec::new();
    let mut vpcs = ec2.describe_vpcs().into_paginator().items().send();
    while let Some(vpc) = vpcs.next().await {
        let vpc = vpc.map_err(|e| AwsError::from_sdk("DescribeVpcs", "ec2", e))?;
        let Some(id) = vpc.vpc_id() else {
            continue;
        };
        let owner = vpc.owner_id().unwrap_or(account);
        let arn = format!("arn:aws:ec2:{region}:{owner}:vpc/{id}");
        found.extend(judge::vpc(&arn, logged.get(id).copied().unwrap_or(0)));
    }
    Ok(found)
}
