//! Findings over time: each is new, still open, or resolved, and people hear of the new and the resolved only.
//! Plain values: the stored ledger and one audit in, the next ledger out.
//!
//! A finding is told once: it enters the ledger untold, the notice names it, and only then is it marked told, so an
//! audit that dies between the two tells it again rather than never. A finding resolved before it was told is
//! dropped without a word. A service the audit could not read keeps its findings as they were: unknown is not
//! resolved. A suppressed finding stays in the ledger, marked, and is neither told nor counted while its
//! suppression lasts; when it expires the finding is told again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Service;
use crate::change::Scope;
use crate::check::{Check, Finding, Severity};
use crate::suppress::{self, Suppression};

/// What the ledger holds of one open finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Open {
    /// The finding as last seen.
    pub finding: Finding,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen: DateTime<Utc>,
    /// Whether a notice named it as new.
    pub told: bool,
    /// The suppression that silences it now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// Why an open finding is silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppressed {
    /// The parameter that holds the suppression.
    pub by: String,
    /// Its reason.
    pub reason: String,
    /// Until when.
    pub until: DateTime<Utc>,
}

/// A finding that no longer shows, waiting to be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// The finding as last seen.
    pub finding: Finding,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// When an audit no longer saw it.
    pub resolved_at: DateTime<Utc>,
    /// Whether a notice said so (it is dropped once told and exported).
    #[serde(default)]
    pub told: bool,
    /// Whether Security Hub was told (or there is no export).
    #[serde(default = "yes")]
    pub exported: bool,
}

fn yes() -> bool {
    true
}

/// The stored state of the account's findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ledger {
    /// Open findings by key (`<check id> <resource>`).
    pub open: BTreeMap<String, Open>,
    /// Resolved findings not told yet.
    pub resolved: Vec<Resolved>,
}

/// A finding's key in the ledger.
pub fn key(finding: &Finding) -> String {
    format!("{} {}", finding.check.meta().id, finding.resource)
}

/// The service a check reads.
pub fn service(check: Check) -> Service {
    use Check::*;
    match check {
        S3PublicAcl
        | S3PublicPolicy
        | S3PublicAccessBlockOff
        | S3NoDefaultEncryption
        | S3NoTlsDeny
        | S3NoVersioning => Service::S3,
        IamRootAccessKeys
        | IamOldAccessKey
        | IamUnusedAccessKey
        | IamConsoleUserWithoutMfa
        | IamAdminPolicy
        | IamWildcardActionPolicy
        | IamOpenTrust
        | IamCrossAccountTrustWithoutExternalId => Service::Iam,
        KmsRotationOff | KmsOpenKeyPolicy => Service::Kms,
        SnsPublicPolicy | SnsUnencrypted => Service::Sns,
        SqsPublicPolicy | SqsUnencrypted => Service::Sqs,
        SecretRotationOff => Service::Secrets,
        SageMakerNotebookDirectInternet
        | SageMakerNotebookRootAccess
        | SageMakerEndpointWithoutKms
        | SageMakerEndpointWithoutDataCapture
        | SageMakerEndpointServesUnapprovedPackage
        | SageMakerTrainingVolumeUnencrypted
        | SageMakerTrainingWithoutNetworkIsolation => Service::SageMaker,
        CloudTrailOff | CloudTrailNotMultiRegion | CloudTrailNoLogValidation => Service::CloudTrail,
        LambdaPublicPolicy | LambdaUrlWithoutAuth | LambdaDeprecatedRuntime => Service::Lambda,
        EcrScanOnPushOff | EcrMutableTags | EcrImageCriticalVulnerabilities => Service::Ecr,
        Ec2OpenAdminPort | Ec2OpenAllPorts | Ec2VpcFlowLogsOff => Service::Ec2,
    }
}

/// The ledger after an audit at `now` that re-read `scope` and found `findings` there, `suppressions` in force.
pub fn merge(
    ledger: &Ledger,
    findings: &[Finding],
    scope: &Scope,
    suppressions: &[Suppression],
    now: DateTime<Utc>,
) -> Ledger {
    let mut next = Ledger {
        open: BTreeMap::new(),
        resolved: ledger.resolved.clone(),
    };
    let silenced = |finding: &Finding| {
        suppress::silencing(suppressions, finding, now).map(|s| Suppressed {
            by: s.name.clone(),
            reason: s.reason.clone(),
            until: s.expires,
        })
    };
    for finding in findings {
        let key = key(finding);
        let suppressed = silenced(finding);
        // Back before its resolution was told: it never went away, as far as anyone heard.
        let pending = next
            .resolved
            .iter()
            .position(|r| self::key(&r.finding) == key);
        let returned = pending.map(|i| next.resolved.remove(i));
        let open = match (ledger.open.get(&key), returned) {
            // A suppression that ended makes its finding news again.
            (Some(before), _) => Open {
                finding: finding.clone(),
                last_seen: now,
                told: before.told && (before.suppressed.is_none() || suppressed.is_some()),
                suppressed,
                first_seen: before.first_seen,
            },
            (None, Some(gone)) => Open {
                finding: finding.clone(),
                first_seen: gone.first_seen,
                last_seen: now,
                told: !gone.told,
                suppressed,
            },
            (None, None) => Open {
                finding: finding.clone(),
                first_seen: now,
                last_seen: now,
                told: false,
                suppressed,
            },
        };
        next.open.insert(key, open);
    }
    for (key, before) in &ledger.open {
        if next.open.contains_key(key) {
            continue;
        }
        if !scope.covers(before.finding.check, &before.finding.resource) {
            // Not re-read, but suppressions are today's: one that ended un-silences it here too.
            let suppressed = silenced(&before.finding);
            let told = before.told && (before.suppressed.is_none() || suppressed.is_some());
            next.open.insert(
                key.clone(),
                Open {
                    suppressed,
                    told,
                    ..before.clone()
                },
            );
        } else if before.told {
            next.resolved.retain(|r| self::key(&r.finding) != *key);
            next.resolved.push(Resolved {
                finding: before.finding.clone(),
                first_seen: before.first_seen,
                resolved_at: now,
                told: false,
                exported: false,
            });
        }
    }
    next
}

/// Which findings a run tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Telling {
    /// Every new and resolved finding not told yet (the daily audit: one digest).
    All,
    /// Only critical ones (the re-check of a change: a page cannot wait for the digest; the rest can).
    Critical,
}

impl Telling {
    fn tells(self, finding: &Finding) -> bool {
        self == Telling::All || finding.severity == Severity::Critical
    }
}

/// What a notice should say: the open findings not told yet, and the resolved ones, as far as `telling` goes.
pub fn untold(ledger: &Ledger, telling: Telling) -> (Vec<&Open>, Vec<&Resolved>) {
    (
        ledger
            .open
            .values()
            .filter(|o| !o.told && o.suppressed.is_none() && telling.tells(&o.finding))
            .collect(),
        ledger
            .resolved
            .iter()
            .filter(|r| !r.told && telling.tells(&r.finding))
            .collect(),
    )
}

/// The ledger once a notice told `new` (keys) and the resolved findings it listed (keys).
pub fn told(ledger: &Ledger, new: &[String], resolved: &[String]) -> Ledger {
    let mut next = ledger.clone();
    for key in new {
        if let Some(open) = next.open.get_mut(key) {
            open.told = true;
        }
    }
    for r in &mut next.resolved {
        r.told |= resolved.contains(&self::key(&r.finding));
    }
    next.resolved.retain(|r| !(r.told && r.exported));
    next
}

/// The ledger once Security Hub holds the resolved findings `resolved` (keys), or once there is no export (all).
pub fn exported(ledger: &Ledger, resolved: Option<&[String]>) -> Ledger {
    let mut next = ledger.clone();
    for r in &mut next.resolved {
        r.exported |= resolved.is_none_or(|keys| keys.contains(&self::key(&r.finding)));
    }
    next.resolved.retain(|r| !(r.told && r.exported));
    next
}

/// Open findings by severity, every severity present (zero included), for the metrics; suppressed ones are not
/// counted (a suppressed critical finding does not keep the alarm paging).
pub fn open_by_severity(ledger: &Ledger) -> BTreeMap<Severity, usize> {
    let mut counts: BTreeMap<Severity, usize> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .into_iter()
    .map(|s| (s, 0))
    .collect();
    for open in ledger.open.values().filter(|o| o.suppressed.is_none()) {
        *counts.entry(open.finding.severity).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + hours * 3600, 0).unwrap()
    }

    fn finding(check: Check, resource: &str) -> Finding {
        Finding::new(check, resource, "seen")
    }

    #[test]
    fn every_check_belongs_to_the_service_that_reads_it() {
        for check in Check::ALL {
            let id = check.meta().id;
            let expected = match service(check) {
                Service::S3 => "s3-",
                Service::Iam => "iam-",
                Service::Kms => "kms-",
                Service::Sns => "sns-",
                Service::Sqs => "sqs-",
                Service::Secrets => "secret-",
                Service::SageMaker => "sagemaker-",
                Service::CloudTrail => "cloudtrail-",
                Service::Lambda => "lambda-",
                Service::Ecr => "ecr-",
                Service::Ec2 => "ec2-",
            };
            assert!(id.starts_with(expected), "{id}");
        }
    }

    #[test]
    fn new_then_open_then_resolved_each_told_once() {
        let all = Scope::Services(Service::ALL.to_vec());
        let bucket = finding(Check::S3NoVersioning, "arn:aws:s3:::b");
        let first = merge(
            &Ledger::default(),
            std::slice::from_ref(&bucket),
            &all,
            &[],
            at(0),
        );
        let (new, resolved) = untold(&first, Telling::All);
        assert_eq!((new.len(), resolved.len()), (1, 0));
        let told_first = told(&first, &[key(&bucket)], &[]);
        let second = merge(
            &told_first,
            std::slice::from_ref(&bucket),
            &all,
            &[],
            at(24),
        );
        assert_eq!(
            untold(&second, Telling::All).0.len(),
            0,
            "still open: nothing to tell"
        );
        assert_eq!(second.open[&key(&bucket)].first_seen, at(0));
        assert_eq!(second.open[&key(&bucket)].last_seen, at(24));
        let third = merge(&second, &[], &all, &[], at(48));
        assert!(third.open.is_empty());
        assert_eq!(third.resolved.len(), 1);
        assert_eq!(third.resolved[0].resolved_at, at(48));
        let done = told(&third, &[], &[key(&bucket)]);
        assert_eq!(done.resolved.len(), 1, "kept until Security Hub has it too");
        assert!(
            untold(&done, Telling::All).1.is_empty(),
            "but not told again"
        );
        let done = exported(&done, Some(&[key(&bucket)]));
        assert_eq!(done, Ledger::default());
    }

    #[test]
    fn an_audit_that_dies_before_marking_tells_again_and_unread_services_keep_theirs() {
        let all = Scope::Services(Service::ALL.to_vec());
        let key_finding = finding(Check::KmsRotationOff, "arn:k");
        let first = merge(
            &Ledger::default(),
            std::slice::from_ref(&key_finding),
            &all,
            &[],
            at(0),
        );
        // The notice left, the mark was never written: the next audit still has it untold.
        let again = merge(&first, std::slice::from_ref(&key_finding), &all, &[], at(1));
        assert_eq!(untold(&again, Telling::All).0.len(), 1);
        // Resolved before it was told: dropped without a word.
        let gone = merge(&first, &[], &all, &[], at(1));
        assert_eq!(gone, Ledger::default());
        // KMS could not be read: its finding stays open as it was.
        let told_first = told(&first, &[key(&key_finding)], &[]);
        let unread = merge(
            &told_first,
            &[],
            &Scope::Services(vec![Service::S3, Service::Iam]),
            &[],
            at(2),
        );
        assert_eq!(unread.open, told_first.open);
        assert!(unread.resolved.is_empty());
    }

    #[test]
    fn a_recheck_replaces_its_resource_alone_and_tells_only_the_critical() {
        let all = Scope::Services(Service::ALL.to_vec());
        let public = finding(Check::S3PublicPolicy, "arn:aws:s3:::a");
        let unversioned = finding(Check::S3NoVersioning, "arn:aws:s3:::a");
        let other = finding(Check::S3NoVersioning, "arn:aws:s3:::b");
        let day = merge(
            &Ledger::default(),
            std::slice::from_ref(&other),
            &all,
            &[],
            at(0),
        );
        let day = told(&day, &[key(&other)], &[]);
        let only_a = Scope::Resources(vec!["arn:aws:s3:::a".into()]);
        let change = merge(
            &day,
            &[public.clone(), unversioned.clone()],
            &only_a,
            &[],
            at(1),
        );
        assert!(change.open.contains_key(&key(&other)), "b was not re-read");
        let (new, resolved) = untold(&change, Telling::Critical);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].finding, public);
        assert!(resolved.is_empty());
        assert_eq!(
            untold(&change, Telling::All).0.len(),
            2,
            "the daily notice tells both"
        );
        // a is deleted: both its findings resolve, b stays.
        let change = told(&change, &[key(&public), key(&unversioned)], &[]);
        let gone = merge(&change, &[], &only_a, &[], at(2));
        assert_eq!(gone.open.keys().collect::<Vec<_>>(), [&key(&other)]);
        let (_, resolved) = untold(&gone, Telling::Critical);
        assert_eq!(resolved.len(), 1, "the critical one is told at once");
        assert_eq!(untold(&gone, Telling::All).1.len(), 2);
    }

    #[test]
    fn a_suppressed_finding_is_silent_and_uncounted_until_its_suppression_ends() {
        let all = Scope::Services(Service::ALL.to_vec());
        let public = finding(Check::S3PublicPolicy, "arn:aws:s3:::site");
        let accepted = crate::suppress::parse(
            "/p/posture-audit/suppressions/site",
            r#"{"check": "s3-public-policy", "resource": "arn:aws:s3:::site", "reason": "the public website",
                "expires": "2025-11-25T00:00:00Z"}"#,
            at(0),
        )
        .unwrap();
        let first = merge(
            &Ledger::default(),
            std::slice::from_ref(&public),
            &all,
            std::slice::from_ref(&accepted),
            at(0),
        );
        assert_eq!(
            untold(&first, Telling::All).0.len(),
            0,
            "suppressed: not told"
        );
        assert_eq!(
            open_by_severity(&first)[&Severity::Critical],
            0,
            "nor counted"
        );
        let open = &first.open[&key(&public)];
        assert_eq!(
            open.suppressed.as_ref().unwrap().reason,
            "the public website"
        );
        // The suppression expires (at(24) is 2025-11-25T16:00Z): told as new, counted.
        let later = merge(
            &first,
            std::slice::from_ref(&public),
            &all,
            std::slice::from_ref(&accepted),
            at(24),
        );
        assert!(later.open[&key(&public)].suppressed.is_none());
        assert_eq!(untold(&later, Telling::Critical).0.len(), 1);
        assert_eq!(open_by_severity(&later)[&Severity::Critical], 1);
        // Told, then suppressed again and ended again: told again.
        let told_later = told(&later, &[key(&public)], &[]);
        let renewed = crate::suppress::parse(
            "n",
            r#"{"check": "s3-public-policy", "resource": "arn:aws:s3:::site",
            "reason": "r", "expires": "2025-11-27T00:00:00Z"}"#,
            at(24),
        )
        .unwrap();
        let quiet = merge(
            &told_later,
            std::slice::from_ref(&public),
            &all,
            std::slice::from_ref(&renewed),
            at(25),
        );
        assert!(quiet.open[&key(&public)].told && untold(&quiet, Telling::All).0.is_empty());
        let ended = merge(&quiet, std::slice::from_ref(&public), &all, &[], at(26));
        assert!(!ended.open[&key(&public)].told);
    }

    #[test]
    fn a_finding_back_before_its_resolution_was_told_is_one_finding_still_open() {
        let all = Scope::Services(Service::ALL.to_vec());
        let f = finding(Check::S3PublicAcl, "arn:aws:s3:::b");
        let first = told(
            &merge(
                &Ledger::default(),
                std::slice::from_ref(&f),
                &all,
                &[],
                at(0),
            ),
            &[key(&f)],
            &[],
        );
        let gone = merge(&first, &[], &all, &[], at(1));
        assert_eq!(gone.resolved.len(), 1);
        let back = merge(&gone, std::slice::from_ref(&f), &all, &[], at(2));
        assert!(
            back.resolved.is_empty(),
            "one record of it, not a resolution and a finding"
        );
        assert!(back.open[&key(&f)].told && back.open[&key(&f)].first_seen == at(0));
        assert_eq!(untold(&back, Telling::All), (vec![], vec![]));
        // Told resolved (Security Hub not told yet), then back: news again.
        let told_gone = told(&gone, &[], &[key(&f)]);
        let back = merge(&told_gone, std::slice::from_ref(&f), &all, &[], at(2));
        assert!(back.resolved.is_empty());
        assert_eq!(untold(&back, Telling::All).0.len(), 1);
    }

    #[test]
    fn an_unread_resource_keeps_its_findings_while_its_service_is_judged() {
        let all = Scope::Services(Service::ALL.to_vec());
        let denied = finding(Check::S3NoVersioning, "arn:aws:s3:::denied");
        let fixed = finding(Check::S3NoVersioning, "arn:aws:s3:::fixed");
        let before = told(
            &merge(
                &Ledger::default(),
                &[denied.clone(), fixed.clone()],
                &all,
                &[],
                at(0),
            ),
            &[key(&denied), key(&fixed)],
            &[],
        );
        let partial = Scope::Except(Box::new(all), vec!["arn:aws:s3:::denied".into()]);
        let after = merge(&before, &[], &partial, &[], at(24));
        assert!(
            after.open.contains_key(&key(&denied)),
            "unknown is not resolved"
        );
        assert_eq!(after.resolved.len(), 1);
        assert_eq!(after.resolved[0].finding, fixed);
    }

    #[test]
    fn counts_by_severity_include_zeros() {
        let ledger = merge(
            &Ledger::default(),
            &[
                finding(Check::S3PublicAcl, "a"),
                finding(Check::S3PublicPolicy, "a"),
                finding(Check::S3NoVersioning, "a"),
            ],
            &Scope::Services(Service::ALL.to_vec()),
            &[],
            at(0),
        );
        let counts = open_by_severity(&ledger);
        assert_eq!(counts[&Severity::Critical], 2);
        assert_eq!(counts[&Severity::Low], 1);
        assert_eq!(counts[&Severity::High], 0);
    }
}
