//! The checks: each one's id, severity, remediation and nearest CloudSploit plugin, and what a finding says.

use serde::{Deserialize, Serialize};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hygiene.
    Low,
    /// Weakens a defence.
    Medium,
    /// Opens a way in, or loses evidence.
    High,
    /// Open to anyone now.
    Critical,
}

impl Severity {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One check of the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// A bucket ACL grants everyone or every AWS account.
    S3PublicAcl,
    /// A bucket policy allows everyone without a condition that narrows it.
    S3PublicPolicy,
    /// A bucket's public access block is missing or not fully on.
    S3PublicAccessBlockOff,
    /// A bucket has no default encryption configured.
    S3NoDefaultEncryption,
    /// A bucket's policy does not deny requests without TLS.
    S3NoTlsDeny,
    /// A bucket is not versioned.
    S3NoVersioning,
    /// The root user has access keys.
    IamRootAccessKeys,
    /// An active access key is older than 90 days.
    IamOldAccessKey,
    /// An active access key has not been used for 90 days.
    IamUnusedAccessKey,
    /// A user who can sign in to the console has no MFA device.
    IamConsoleUserWithoutMfa,
    /// A customer managed policy allows every action on every resource.
    IamAdminPolicy,
    /// A customer managed policy allows every action of a service (`service:*`).
    IamWildcardActionPolicy,
    /// A role's trust policy lets any principal assume it.
    IamOpenTrust,
    /// A role's trust policy lets another account assume it without an external id.
    IamCrossAccountTrustWithoutExternalId,
    /// A customer managed KMS key does not rotate.
    KmsRotationOff,
    /// A KMS key policy allows any principal without a condition that narrows it.
    KmsOpenKeyPolicy,
    /// A topic policy allows everyone without a condition that narrows it.
    SnsPublicPolicy,
    /// A topic is not encrypted with KMS.
    SnsUnencrypted,
    /// A queue policy allows everyone without a condition that narrows it.
    SqsPublicPolicy,
    /// A queue is not encrypted.
    SqsUnencrypted,
    /// A secret does not rotate.
    SecretRotationOff,
    /// A notebook instance reaches the internet directly.
    #[serde(rename = "sagemaker-notebook-direct-internet")]
    SageMakerNotebookDirectInternet,
    /// A notebook instance gives its users root.
    #[serde(rename = "sagemaker-notebook-root-access")]
    SageMakerNotebookRootAccess,
    /// An endpoint's configuration names no KMS key for its storage.
    #[serde(rename = "sagemaker-endpoint-without-kms")]
    SageMakerEndpointWithoutKms,
    /// An endpoint captures no data (the project's monitor has nothing to judge).
    #[serde(rename = "sagemaker-endpoint-without-data-capture")]
    SageMakerEndpointWithoutDataCapture,
    /// An endpoint serves a model package that is not Approved.
    #[serde(rename = "sagemaker-endpoint-serves-unapproved-package")]
    SageMakerEndpointServesUnapprovedPackage,
    /// A recent training job's volume has no KMS key.
    #[serde(rename = "sagemaker-training-volume-unencrypted")]
    SageMakerTrainingVolumeUnencrypted,
    /// A recent training job ran without network isolation.
    #[serde(rename = "sagemaker-training-without-network-isolation")]
    SageMakerTrainingWithoutNetworkIsolation,
    /// No trail is logging in the region.
    #[serde(rename = "cloudtrail-off")]
    CloudTrailOff,
    /// No logging trail covers every region.
    #[serde(rename = "cloudtrail-not-multi-region")]
    CloudTrailNotMultiRegion,
    /// A trail does not validate its log files.
    #[serde(rename = "cloudtrail-no-log-validation")]
    CloudTrailNoLogValidation,
    /// A function's resource policy lets anyone invoke it.
    LambdaPublicPolicy,
    /// A function URL takes requests without authentication.
    LambdaUrlWithoutAuth,
    /// A function runs on a runtime Lambda no longer supports.
    LambdaDeprecatedRuntime,
    /// An image repository does not scan on push.
    EcrScanOnPushOff,
    /// An image repository lets a tag move to another image.
    EcrMutableTags,
    /// An image the pipeline runs has critical vulnerabilities in its last scan.
    EcrImageCriticalVulnerabilities,
    /// A security group lets the internet reach an administrative port (SSH, RDP, WinRM, Telnet).
    #[serde(rename = "ec2-open-admin-port")]
    Ec2OpenAdminPort,
    /// A security group lets the internet reach every port.
    #[serde(rename = "ec2-open-all-ports")]
    Ec2OpenAllPorts,
    /// A VPC has no flow log.
    #[serde(rename = "ec2-vpc-flow-logs-off")]
    Ec2VpcFlowLogsOff,
}

/// Where CloudSploit has no plugin for a check.
pub const NONE: &str = "none";

/// What a check is about, beyond its finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The id printed and stored (`s3-public-acl` …).
    pub id: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// What to do about it.
    pub remediation: &'static str,
    /// The nearest CloudSploit plugin (`category/plugin`), for teams that know that catalogue, or [`NONE`].
    pub cloudsploit: &'static str,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Check; 40] = [
        Check::S3PublicAcl,
        Check::S3PublicPolicy,
        Check::S3PublicAccessBlockOff,
        Check::S3NoDefaultEncryption,
        Check::S3NoTlsDeny,
        Check::S3NoVersioning,
        Check::IamRootAccessKeys,
        Check::IamOldAccessKey,
        Check::IamUnusedAccessKey,
        Check::IamConsoleUserWithoutMfa,
        Check::IamAdminPolicy,
        Check::IamWildcardActionPolicy,
        Check::IamOpenTrust,
        Check::IamCrossAccountTrustWithoutExternalId,
        Check::KmsRotationOff,
        Check::KmsOpenKeyPolicy,
        Check::SnsPublicPolicy,
        Check::SnsUnencrypted,
        Check::SqsPublicPolicy,
        Check::SqsUnencrypted,
        Check::SecretRotationOff,
        Check::SageMakerNotebookDirectInternet,
        Check::SageMakerNotebookRootAccess,
        Check::SageMakerEndpointWithoutKms,
        Check::SageMakerEndpointWithoutDataCapture,
        Check::SageMakerEndpointServesUnapprovedPackage,
        Check::SageMakerTrainingVolumeUnencrypted,
        Check::SageMakerTrainingWithoutNetworkIsolation,
        Check::CloudTrailOff,
        Check::CloudTrailNotMultiRegion,
        Check::CloudTrailNoLogValidation,
        Check::LambdaPublicPolicy,
        Check::LambdaUrlWithoutAuth,
        Check::LambdaDeprecatedRuntime,
        Check::EcrScanOnPushOff,
        Check::EcrMutableTags,
        Check::EcrImageCriticalVulnerabilities,
        Check::Ec2OpenAdminPort,
        Check::Ec2OpenAllPorts,
        Check::Ec2VpcFlowLogsOff,
    ];

    /// Its id, severity, remediation and CloudSploit plugin.
    pub fn meta(self) -> Meta {
        use Severity::{Critical, High, Low, Medium};
        let (id, severity, remediation, cloudsploit) = match self {
            Check::S3PublicAcl => (
                "s3-public-acl",
                Critical,
                "Remove the AllUsers and AuthenticatedUsers grants and set ObjectOwnership to BucketOwnerEnforced.",
                "s3/bucketAllUsersAcl",
            ),
            Check::S3PublicPolicy => (
                "s3-public-policy",
                Critical,
                "Name the principals in the bucket policy, or add a condition (aws:SourceArn, aws:PrincipalOrgID) to the statement.",
                "s3/bucketAllUsersPolicy",
            ),
            Check::S3PublicAccessBlockOff => (
                "s3-public-access-block-off",
                High,
                "Turn on all four settings of the bucket's public access block.",
                "s3/bucketPublicAccessBlock",
            ),
            Check::S3NoDefaultEncryption => (
                "s3-no-default-encryption",
                Medium,
                "Set default encryption (SSE-KMS with a customer managed key for data buckets).",
                "s3/bucketEncryption",
            ),
            Check::S3NoTlsDeny => (
                "s3-no-tls-deny",
                Medium,
                "Add a statement denying s3:* to everyone when aws:SecureTransport is false.",
                "s3/bucketSecureTransportEnabled",
            ),
            Check::S3NoVersioning => (
                "s3-no-versioning",
                Low,
                "Turn on versioning, with a lifecycle rule that expires noncurrent versions.",
                "s3/bucketVersioning",
            ),
            Check::IamRootAccessKeys => (
                "iam-root-access-keys",
                Critical,
                "Delete the root user's access keys; use roles for programmatic access.",
                "iam/rootAccessKeys",
            ),
            Check::IamOldAccessKey => (
                "iam-old-access-key",
                Medium,
                "Rotate the key (create a new one, move its users, deactivate and delete the old one).",
                "iam/accessKeysRotated",
            ),
            Check::IamUnusedAccessKey => (
                "iam-unused-access-key",
                Medium,
                "Deactivate and delete an access key that nothing uses.",
                "iam/accessKeysLastUsed",
            ),
            Check::IamConsoleUserWithoutMfa => (
                "iam-console-user-without-mfa",
                High,
                "Require an MFA device for the user, or remove the console password.",
                "iam/usersMfaEnabled",
            ),
            Check::IamAdminPolicy => (
                "iam-admin-policy",
                High,
                "Replace Action \"*\" on Resource \"*\" with the actions and resources the role needs.",
                "iam/iamRolePolicies",
            ),
            Check::IamWildcardActionPolicy => (
                "iam-wildcard-action-policy",
                Medium,
                "List the actions of the service the principal needs instead of service:*.",
                "iam/iamUserAdmins",
            ),
            Check::IamOpenTrust => (
                "iam-open-trust",
                Critical,
                "Name the principals allowed to assume the role in its trust policy.",
                "iam/trustedCrossAccountRoles",
            ),
            Check::IamCrossAccountTrustWithoutExternalId => (
                "iam-cross-account-trust-without-external-id",
                High,
                "Require sts:ExternalId in the trust policy's condition for the other account.",
                "iam/crossAccountMfaExtIdAccess",
            ),
            Check::KmsRotationOff => (
                "kms-rotation-off",
                Medium,
                "Turn on automatic rotation of the key.",
                "kms/kmsKeyRotation",
            ),
            Check::KmsOpenKeyPolicy => (
                "kms-open-key-policy",
                Critical,
                "Name the principals in the key policy, or add a condition (kms:CallerAccount, kms:ViaService).",
                "kms/kmsKeyPolicy",
            ),
            Check::SnsPublicPolicy => (
                "sns-public-policy",
                High,
                "Name the principals in the topic policy, or add a condition (aws:SourceArn, aws:SourceAccount).",
                "sns/topicPolicies",
            ),
            Check::SnsUnencrypted => (
                "sns-unencrypted",
                Medium,
                "Set the topic's KmsMasterKeyId to a customer managed key.",
                "sns/topicCmkEncrypted",
            ),
            Check::SqsPublicPolicy => (
                "sqs-public-policy",
                High,
                "Name the principals in the queue policy, or add a condition (aws:SourceArn, aws:SourceAccount).",
                "sqs/sqsPublicAccess",
            ),
            Check::SqsUnencrypted => (
                "sqs-unencrypted",
                Medium,
                "Set the queue's KmsMasterKeyId (or at least SqsManagedSseEnabled).",
                "sqs/sqsEncryptionEnabled",
            ),
            Check::SecretRotationOff => (
                "secret-rotation-off",
                Low,
                "Turn on rotation with a rotation function, or document why the secret cannot rotate.",
                "secretsmanager/secretRotationEnabled",
            ),
            Check::SageMakerNotebookDirectInternet => (
                "sagemaker-notebook-direct-internet",
                High,
                "Recreate the notebook instance in a private subnet with DirectInternetAccess Disabled.",
                "sagemaker/notebookDirectInternetAccess",
            ),
            Check::SageMakerNotebookRootAccess => (
                "sagemaker-notebook-root-access",
                Medium,
                "Set RootAccess to Disabled on the notebook instance (stop, update, start).",
                NONE,
            ),
            Check::SageMakerEndpointWithoutKms => (
                "sagemaker-endpoint-without-kms",
                Medium,
                "Deploy through an endpoint configuration with a KmsKeyId (deploy does, with the project key).",
                NONE,
            ),
            Check::SageMakerEndpointWithoutDataCapture => (
                "sagemaker-endpoint-without-data-capture",
                Medium,
                "Deploy through an endpoint configuration with DataCaptureConfig enabled, so the monitor can judge it.",
                NONE,
            ),
            Check::SageMakerEndpointServesUnapprovedPackage => (
                "sagemaker-endpoint-serves-unapproved-package",
                Critical,
                "Serve only through deploy, which serves the newest Approved version; reject or approve the package.",
                NONE,
            ),
            Check::SageMakerTrainingVolumeUnencrypted => (
                "sagemaker-training-volume-unencrypted",
                Medium,
                "Pass ResourceConfig.VolumeKmsKeyId when creating training jobs.",
                NONE,
            ),
            Check::SageMakerTrainingWithoutNetworkIsolation => (
                "sagemaker-training-without-network-isolation",
                Low,
                "Set EnableNetworkIsolation when the algorithm needs no network.",
                NONE,
            ),
            Check::CloudTrailOff => (
                "cloudtrail-off",
                Critical,
                "Create a multi-region trail with log file validation (EnableCloudTrail in the template) and start logging.",
                "cloudtrail/cloudtrailEnabled",
            ),
            Check::CloudTrailNotMultiRegion => (
                "cloudtrail-not-multi-region",
                High,
                "Set IsMultiRegionTrail on a logging trail, so every region's API calls are recorded.",
                "cloudtrail/cloudtrailEnabled",
            ),
            Check::CloudTrailNoLogValidation => (
                "cloudtrail-no-log-validation",
                Medium,
                "Turn on log file validation, so a changed or deleted log file is detected.",
                "cloudtrail/cloudtrailFileValidation",
            ),
            Check::LambdaPublicPolicy => (
                "lambda-public-policy",
                Critical,
                "Remove the statement, or name the principal and add aws:SourceArn or aws:SourceAccount.",
                "lambda/lambdaPublicAccess",
            ),
            Check::LambdaUrlWithoutAuth => (
                "lambda-url-without-auth",
                Critical,
                "Set the function URL's AuthType to AWS_IAM, or delete the URL.",
                "lambda/lambdaFunctionalUrl",
            ),
            Check::LambdaDeprecatedRuntime => (
                "lambda-deprecated-runtime",
                Medium,
                "Move the function to a supported runtime (provided.al2023 for the project's functions).",
                "lambda/lambdaOldRuntimes",
            ),
            Check::EcrScanOnPushOff => (
                "ecr-scan-on-push-off",
                Medium,
                "Turn on scan on push for the repository (or enhanced scanning for the registry).",
                "ecr/ecrImageVulnerability",
            ),
            Check::EcrMutableTags => (
                "ecr-mutable-tags",
                Medium,
                "Set the repository's image tag mutability to IMMUTABLE.",
                "ecr/ecrRepositoryTagImmutability",
            ),
            Check::EcrImageCriticalVulnerabilities => (
                "ecr-image-critical-vulnerabilities",
                High,
                "Rebuild the image on a patched base, push it under a new tag, and point the pipeline's parameter at it.",
                "ecr/ecrImageVulnerability",
            ),
            Check::Ec2OpenAdminPort => (
                "ec2-open-admin-port",
                High,
                "Remove the rule; reach instances through Systems Manager Session Manager, or a VPN's CIDR.",
                "ec2/openSSH",
            ),
            Check::Ec2OpenAllPorts => (
                "ec2-open-all-ports",
                Critical,
                "Remove the rule; open only the ports the service needs, to the sources that need them.",
                "ec2/openAllPortsProtocols",
            ),
            Check::Ec2VpcFlowLogsOff => (
                "ec2-vpc-flow-logs-off",
                Medium,
                "Create a flow log for the VPC (CloudWatch Logs or S3), so its traffic can be investigated.",
                "ec2/flowLogsEnabled",
            ),
        };
        Meta {
            id,
            severity,
            remediation,
            cloudsploit,
        }
    }
}

/// One thing wrong with one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The check.
    pub check: Check,
    /// Its severity.
    pub severity: Severity,
    /// The resource's ARN.
    pub resource: String,
    /// What was seen, in a sentence.
    pub evidence: String,
    /// What to do.
    pub remediation: String,
}

impl Finding {
    /// A finding of `check` on `resource`.
    pub fn new(check: Check, resource: impl Into<String>, evidence: impl Into<String>) -> Self {
        let meta = check.meta();
        Finding {
            check,
            severity: meta.severity,
            resource: resource.into(),
            evidence: evidence.into(),
            remediation: meta.remediation.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_its_own_id_that_serde_writes_too() {
        let mut ids: Vec<&str> = Check::ALL.iter().map(|c| c.meta().id).collect();
        for check in Check::ALL {
            assert_eq!(
                serde_json::to_value(check).unwrap(),
                check.meta().id,
                "{check:?}"
            );
            assert!(!check.meta().remediation.is_empty());
            let plugin = check.meta().cloudsploit;
            assert!(plugin.contains('/') || plugin == NONE, "{plugin}");
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Check::ALL.len());
    }
}
