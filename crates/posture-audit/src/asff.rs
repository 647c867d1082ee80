//! The ledger in AWS Security Finding Format, for Security Hub's BatchImportFindings (so a SIEM that reads
//! Security Hub takes the audit's findings with the rest). Plain values: the SDK types are built from these in
//! `export.rs`.
//!
//! A finding keeps one id for its whole life (the ledger's key), so each import updates it in place: open findings
//! are ACTIVE; resolved ones, and those a suppression silences, ARCHIVED (the provider no longer reports them).
//! The workflow status is left to the people triaging: Security Hub takes it from an import only when a finding is
//! created, and an analyst's status must not be overwritten each day.

use chrono::{DateTime, Utc};

use crate::check::{Check, Finding, Severity};
use crate::lifecycle::{self, Ledger};

/// Security Hub's finding type for configuration checks.
pub const TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";

/// Whether Security Hub should show the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Open (or suppressed).
    Active,
    /// Resolved.
    Archived,
}

/// One finding as Security Hub takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AsffFinding {
    /// Stable across imports: `posture-audit/<check id>/<resource>`.
    pub id: String,
    /// The check's id.
    pub generator: String,
    /// `[<severity>] <check id> on <resource>`.
    pub title: String,
    /// The evidence.
    pub description: String,
    /// The remediation.
    pub remediation: String,
    /// Security Hub's label: `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`.
    pub severity: &'static str,
    /// The resource's ARN.
    pub resource: String,
    /// Security Hub's resource type (`AwsS3Bucket` …; `Other` where it has none that fits).
    pub resource_type: &'static str,
    /// When first seen.
    pub created: DateTime<Utc>,
    /// When last seen (or resolved).
    pub updated: DateTime<Utc>,
    /// Shown or archived.
    pub record: Record,
}

/// Security Hub's label for a severity.
pub fn label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
    }
}

/// Security Hub's resource type for what a check judges.
pub fn resource_type(check: Check) -> &'static str {
    use Check::*;
    match check {
        S3PublicAcl
        | S3PublicPolicy
        | S3PublicAccessBlockOff
        | S3NoDefaultEncryption
        | S3NoTlsDeny
        | S3NoVersioning => "AwsS3Bucket",
        IamOldAccessKey | IamUnusedAccessKey | IamConsoleUserWithoutMfa => "AwsIamUser",
        IamAdminPolicy | IamWildcardActionPolicy => "AwsIamPolicy",
        IamOpenTrust | IamCrossAccountTrustWithoutExternalId => "AwsIamRole",
        IamRootAccessKeys | CloudTrailOff | CloudTrailNotMultiRegion => "AwsAccount",
        KmsRotationOff | KmsOpenKeyPolicy => "AwsKmsKey",
        SnsPublicPolicy | SnsUnencrypted => "AwsSnsTopic",
        SqsPublicPolicy | SqsUnencrypted => "AwsSqsQueue",
        SecretRotationOff => "AwsSecretsManagerSecret",
        SageMakerNotebookDirectInternet | SageMakerNotebookRootAccess => {
            "AwsSageMakerNotebookInstance"
        }
        SageMakerEndpointWithoutKms
        | SageMakerEndpointWithoutDataCapture
        | SageMakerEndpointServesUnapprovedPackage
        | SageMakerTrainingVolumeUnencrypted
        | SageMakerTrainingWithoutNetworkIsolation => "Other",
        CloudTrailNoLogValidation => "AwsCloudTrailTrail",
        LambdaPublicPolicy | LambdaUrlWithoutAuth | LambdaDeprecatedRuntime => "AwsLambdaFunction",
        EcrScanOnPushOff | EcrMutableTags => "AwsEcrRepository",
        EcrImageCriticalVulnerabilities => "AwsEcrContainerImage",
        Ec2OpenAdminPort | Ec2OpenAllPorts => "AwsEc2SecurityGroup",
        Ec2VpcFlowLogsOff => "AwsEc2Vpc",
    }
}

fn asff(finding: &Finding, created: DateTime<Utc>, updated: DateTime<Utc>) -> AsffFinding {
    let id = finding.check.meta().id;
    AsffFinding {
        id: format!(
            "posture-audit/{}",
            lifecycle::key(finding).replacen(' ', "/", 1)
        ),
        generator: id.to_owned(),
        title: format!(
            "[{}] {id} on {}",
            finding.severity.as_str(),
            finding.resource
        ),
        description: finding.evidence.clone(),
        remediation: finding.remediation.clone(),
        severity: label(finding.severity),
        resource: finding.resource.clone(),
        resource_type: resource_type(finding.check),
        created,
        updated,
        record: Record::Active,
    }
}

/// Every finding of the ledger (open, suppressed, and resolved not yet told) as Security Hub should hold it at
/// `now`.
pub fn findings(ledger: &Ledger, now: DateTime<Utc>) -> Vec<AsffFinding> {
    let open = ledger.open.values().map(|o| AsffFinding {
        record: if o.suppressed.is_some() {
            Record::Archived
        } else {
            Record::Active
        },
        ..asff(&o.finding, o.first_seen, o.last_seen)
    });
    let resolved = ledger.resolved.iter().map(|r| AsffFinding {
        record: Record::Archived,
        ..asff(&r.finding, r.first_seen, r.resolved_at.max(now))
    });
    open.chain(resolved).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Service;
    use crate::change::Scope;

    #[test]
    fn open_suppressed_and_resolved_findings_keep_one_id_each() {
        let t0: DateTime<Utc> = "2026-12-01T05:30:00Z".parse().unwrap();
        let all = Scope::Services(Service::ALL.to_vec());
        let bucket = Finding::new(Check::S3PublicPolicy, "arn:aws:s3:::b", "open to anyone");
        let key = Finding::new(
            Check::KmsRotationOff,
            "arn:aws:kms:us-east-1:1:key/k",
            "no rotation",
        );
        let ledger = lifecycle::merge(
            &Ledger::default(),
            &[bucket.clone(), key.clone()],
            &all,
            &[],
            t0,
        );
        let ledger = lifecycle::told(
            &ledger,
            &[lifecycle::key(&bucket), lifecycle::key(&key)],
            &[],
        );
        let day = findings(&ledger, t0);
        let public = day
            .iter()
            .find(|f| f.generator == "s3-public-policy")
            .unwrap();
        assert_eq!(public.id, "posture-audit/s3-public-policy/arn:aws:s3:::b");
        assert_eq!(
            (public.severity, public.record),
            ("CRITICAL", Record::Active)
        );
        let t1 = t0 + chrono::TimeDelta::days(1);
        let fixed = lifecycle::merge(&ledger, std::slice::from_ref(&key), &all, &[], t1);
        let next = findings(&fixed, t1);
        let archived = next.iter().find(|f| f.id == public.id).unwrap();
        assert_eq!(archived.record, Record::Archived);
        assert_eq!((archived.created, archived.updated), (t0, t1));
    }
}
