//! The re-check of one changed resource: its settings read again, through the same reads the daily audit makes,
//! and the scope of the ledger they replace. A resource that no longer exists has no findings, so a deletion
//! resolves what it had.

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use guardrails_core::AwsError;

use crate::audit::Service;
use crate::change::{IamEntity, Scope, Target};
use crate::check::{Check, Finding};
use crate::gather::{self, absent};

/// What a re-check found, and which part of the ledger it replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Recheck {
    /// The ledger entries it re-read.
    pub scope: Scope,
    /// What it found there.
    pub findings: Vec<Finding>,
}

/// Re-reads `target` in the account and region of `sdk` at `now`.
///
/// # Errors
/// A read that failed for another reason than the resource being gone.
pub async fn run(
    sdk: &SdkConfig,
    region: &str,
    now: DateTime<Utc>,
    target: &Target,
) -> Result<Recheck, AwsError> {
    let account = gather::account(sdk).await?;
    let resources = |arns: Vec<String>, findings: Vec<Finding>| Recheck {
        scope: Scope::Resources(arns),
        findings,
    };
    Ok(match target {
        Target::Bucket(name) => {
            let s3 = guardrails_core::aws::s3_client(sdk);
            let findings = gather::bucket_in(&s3, name, region).await?;
            resources(vec![format!("arn:aws:s3:::{name}")], findings)
        }
        Target::User(name) => {
            let iam = aws_sdk_iam::Client::new(sdk);
            let user = absent(
                iam.get_user()
                    .user_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetUser", name, e)),
                &["NoSuchEntity"],
            )?;
            let findings = match user.as_ref().and_then(|u| u.user()) {
                Some(user) => gather::user_findings(&iam, user, now).await?,
                None => Vec::new(),
            };
            Recheck {
                scope: Scope::Iam(IamEntity::User, name.clone()),
                findings,
            }
        }
        Target::Root => {
            let iam = aws_sdk_iam::Client::new(sdk);
            let found = gather::root(&iam, &account).await?;
            resources(
                vec![format!("arn:aws:iam::{account}:root")],
                found.into_iter().collect(),
            )
        }
        Target::Policy(arn) => {
            let iam = aws_sdk_iam::Client::new(sdk);
            let policy = absent(
                iam.get_policy()
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetPolicy", arn, e)),
                &["NoSuchEntity"],
            )?;
            let version = policy
                .as_ref()
                .and_then(|p| p.policy())
                .and_then(|p| p.default_version_id());
            let found = match version {
                Some(version) => gather::policy_version(&iam, arn, version).await?,
                None => None,
            };
            resources(vec![arn.clone()], found.into_iter().collect())
        }
        Target::Role(name) => {
            let iam = aws_sdk_iam::Client::new(sdk);
            let role = absent(
                iam.get_role()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetRole", name, e)),
                &["NoSuchEntity"],
            )?;
            let findings = match role.as_ref().and_then(|r| r.role()) {
                Some(role) => gather::role_findings(&iam, role, &account).await?,
                None => Vec::new(),
            };
            Recheck {
                scope: Scope::Iam(IamEntity::Role, name.clone()),
                findings,
            }
        }
        Target::Key(id) => {
            let kms = aws_sdk_kms::Client::new(sdk);
            let (arn, findings) = gather::key_findings(&kms, id).await?;
            resources(vec![arn.unwrap_or_else(|| id.clone())], findings)
        }
        Target::Topic(arn) => {
            let sns = aws_sdk_sns::Client::new(sdk);
            let findings = gather::topic_findings(&sns, arn).await?;
            resources(vec![arn.clone()], findings)
        }
        Target::Queue(url) => {
            // The URL is the caller's; the queue is looked up by name in this account and region, so a URL of
            // another region or account cannot make this one's queue look gone.
            let sqs = aws_sdk_sqs::Client::new(sdk);
            let name = url
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let found = absent(
                sqs.get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetQueueUrl", name, e)),
                &[
                    "AWS.SimpleQueueService.NonExistentQueue",
                    "QueueDoesNotExist",
                ],
            )?;
            let findings = match found.as_ref().and_then(|f| f.queue_url()) {
                Some(own) => gather::queue_findings(&sqs, own).await?,
                None => Vec::new(),
            };
            resources(
                vec![format!("arn:aws:sqs:{region}:{account}:{name}")],
                findings,
            )
        }
        Target::Secret(id) => {
            let secrets = aws_sdk_secretsmanager::Client::new(sdk);
            let described = absent(
                secrets
                    .describe_secret()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeSecret", id, e)),
                &["ResourceNotFoundException"],
            )?;
            match described {
                // A secret scheduled for deletion is left out, as ListSecrets leaves it out of the daily audit.
                Some(d) => {
                    let arn = d.arn().unwrap_or(id).to_owned();
                    let findings = if d.deleted_date().is_some() {
                        Vec::new()
                    } else {
                        crate::judge::secret(&arn, d.rotation_enabled().unwrap_or(false))
                            .into_iter()
                            .collect()
                    };
                    resources(vec![arn], findings)
                }
                None => resources(vec![id.clone()], Vec::new()),
            }
        }
        Target::Notebook(name) => {
            let sm = aws_sdk_sagemaker::Client::new(sdk);
            let findings = gather::notebook_findings(&sm, name).await?;
            resources(
                vec![sagemaker_arn(region, &account, "notebook-instance", name)],
                findings,
            )
        }
        Target::Endpoint(name) => {
            let sm = aws_sdk_sagemaker::Client::new(sdk);
            let findings = gather::endpoint_findings(&sm, name).await?;
            resources(
                vec![sagemaker_arn(region, &account, "endpoint", name)],
                findings,
            )
        }
        Target::Endpoints => {
            let sm = aws_sdk_sagemaker::Client::new(sdk);
            let read = gather::endpoints(&sm).await?;
            let checks = Scope::Checks(vec![
                Check::SageMakerEndpointWithoutKms,
                Check::SageMakerEndpointWithoutDataCapture,
                Check::SageMakerEndpointServesUnapprovedPackage,
            ]);
            Recheck {
                scope: Scope::Except(
                    Box::new(checks),
                    read.unread.into_iter().map(|u| u.resource).collect(),
                ),
                findings: read.findings,
            }
        }
        Target::TrainingJob(name) => {
            let sm = aws_sdk_sagemaker::Client::new(sdk);
            let findings = gather::training_job_findings(&sm, name).await?;
            resources(
                vec![sagemaker_arn(region, &account, "training-job", name)],
                findings,
            )
        }
        Target::Function(name) => function(sdk, region, &account, name).await?,
        Target::Repository(name) => {
            let ecr = aws_sdk_ecr::Client::new(sdk);
            let described = absent(
                ecr.describe_repositories()
                    .repository_names(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeRepositories", name, e)),
                &["RepositoryNotFoundException"],
            )?;
            let filters = gather::scanned_on_push(&ecr).await?;
            let findings = described
                .iter()
                .flat_map(|d| d.repositories())
                .flat_map(|r| gather::repository_findings(r, &filters))
                .collect();
            resources(
                vec![format!("arn:aws:ecr:{region}:{account}:repository/{name}")],
                findings,
            )
        }
        Target::SecurityGroup(id) => {
            let ec2 = aws_sdk_ec2::Client::new(sdk);
            let described = absent(
                ec2.describe_security_groups()
                    .group_ids(id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", id, e)),
                &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"],
            )?;
            let findings = described
                .iter()
                .flat_map(|d| d.security_groups())
                .flat_map(|g| {
                    crate::judge::security_group(&gather::security_group(g, region, &account))
                })
                .collect();
            resources(
                vec![format!(
                    "arn:aws:ec2:{region}:{account}:security-group/{id}"
                )],
                findings,
            )
        }
        Target::Vpcs => {
            let ec2 = aws_sdk_ec2::Client::new(sdk);
            Recheck {
                scope: Scope::Checks(vec![Check::Ec2VpcFlowLogsOff]),
                findings: gather::vpcs(&ec2, region, &account).await?,
            }
        }
        Target::Trails => Recheck {
            scope: Scope::Services(vec![Service::CloudTrail]),
            findings: gather::cloudtrail(sdk, region).await?.findings,
        },
    })
}

/// SageMaker's ARNs name resources in lower case.
fn sagemaker_arn(region: &str, account: &str, kind: &str, name: &str) -> String {
    format!(
        "arn:aws:sagemaker:{region}:{account}:{kind}/{}",
        name.to_lowercase()
    )
}

/// A function named by name or ARN, read unqualified (the audit judges the unqualified function: a record about
/// an alias or a version re-reads the function itself, so a deleted alias cannot resolve it). Its
/// configuration is what ListFunctions gives the daily audit; GetFunction, which also hands out the code, is not
/// the auditor's.
async fn function(
    sdk: &SdkConfig,
    region: &str,
    account: &str,
    name: &str,
) -> Result<Recheck, AwsError> {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    // `f`, `f:alias`, `arn:aws:lambda:<region>:<account>:function:f[:alias]`, `<account>:function:f` → `f`.
    let plain = match name.split(':').collect::<Vec<_>>().as_slice() {
        [.., "function", f] | [.., "function", f, _] => *f,
        [f, ..] => *f,
        [] => name,
    };
    let got = absent(
        lambda
            .get_function_configuration()
            .function_name(plain)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetFunctionConfiguration", plain, e)),
        &["ResourceNotFoundException"],
    )?;
    let unqualified = format!("arn:aws:lambda:{region}:{account}:function:{plain}");
    let mut arns = vec![unqualified.clone()];
    let findings = match got.as_ref() {
        Some(c) => {
            let arn = c.function_arn().map_or(unqualified, |a| {
                a.splitn(8, ':').take(7).collect::<Vec<_>>().join(":")
            });
            let name = c.function_name().unwrap_or(plain);
            let findings = gather::function_findings(&lambda, name, &arn, c.runtime()).await?;
            arns.push(arn);
            findings
        }
        None => Vec::new(),
    };
    Ok(Recheck {
        scope: Scope::Resources(arns),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sagemaker_names_are_lower_case_in_arns() {
        assert_eq!(
            sagemaker_arn("us-east-1", "1", "endpoint", "Prod-Endpoint"),
            "arn:aws:sagemaker:us-east-1:1:endpoint/prod-endpoint"
        );
    }
}
