//! One audit of an account in a region: every service read and judged, each within a time bound, a service that
//! could not be read reported as such rather than taken as clean.

use std::time::Duration;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::check::Finding;
use crate::gather::{self, Unread};

/// The services the audit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// S3 buckets of the region.
    S3,
    /// IAM (global).
    Iam,
    /// KMS keys.
    Kms,
    /// SNS topics.
    Sns,
    /// SQS queues.
    Sqs,
    /// Secrets Manager secrets.
    Secrets,
    /// SageMaker notebook instances, endpoints, recent training jobs.
    SageMaker,
    /// CloudTrail trails.
    CloudTrail,
    /// Lambda functions.
    Lambda,
    /// ECR repositories.
    Ecr,
    /// EC2 security groups and VPCs.
    Ec2,
}

impl Service {
    /// Every service, in report order.
    pub const ALL: [Service; 11] = [
        Service::S3,
        Service::Iam,
        Service::Kms,
        Service::Sns,
        Service::Sqs,
        Service::Secrets,
        Service::SageMaker,
        Service::CloudTrail,
        Service::Lambda,
        Service::Ecr,
        Service::Ec2,
    ];
}

/// A service the audit could not read: its findings are unknown, not absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unchecked {
    /// The service.
    pub service: Service,
    /// Why (the failed call, or the time bound).
    pub reason: String,
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    /// The findings, by severity (worst first), then check and resource.
    pub findings: Vec<Finding>,
    /// The services that could not be read.
    pub unchecked: Vec<Unchecked>,
    /// The resources that could not be read, in services that could.
    pub unread: Vec<Unread>,
}

/// Audits the account and region `sdk` is configured for at `now`, each service within `bound`; `images` are the
/// pipeline's image URIs, whose last scans are judged too.
pub async fn run(sdk: &SdkConfig, now: DateTime<Utc>, bound: Duration, images: &[String]) -> Audit {
    let region = sdk.region().map_or("us-east-1", |r| r.as_ref()).to_owned();
    let mut findings = Vec::new();
    let mut unchecked = Vec::new();
    let mut unread = Vec::new();
    for service in Service::ALL {
        let read = async {
            match service {
                Service::S3 => gather::s3(sdk, &region).await,
                Service::Iam => gather::iam(sdk, now).await,
                Service::Kms => gather::kms(sdk).await,
                Service::Sns => gather::sns(sdk).await,
                Service::Sqs => gather::sqs(sdk, &region).await,
                Service::Secrets => gather::secrets(sdk).await,
                Service::SageMaker => gather::sagemaker(sdk, now).await,
                Service::CloudTrail => gather::cloudtrail(sdk, &region).await,
                Service::Lambda => gather::lambda(sdk).await,
                Service::Ecr => gather::ecr(sdk, &region, images).await,
                Service::Ec2 => gather::ec2(sdk, &region).await,
            }
        };
        match tokio::time::timeout(bound, read).await {
            Ok(Ok(found)) => {
                findings.extend(found.findings);
                unread.extend(found.unread);
            }
            Ok(Err(error)) => unchecked.push(Unchecked {
                service,
                reason: error.to_string(),
            }),
            Err(_) => unchecked.push(Unchecked {
                service,
                reason: format!("not read within {} s", bound.as_secs()),
            }),
        }
    }
    findings.sort_by(|a, b| {
        (b.severity, a.check, &a.resource).cmp(&(a.severity, b.check, &b.resource))
    });
    Audit {
        findings,
        unchecked,
        unread,
    }
}
