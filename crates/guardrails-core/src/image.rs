//! The image-scan gate: training and deploy refuse an image whose last ECR scan has a finding at or above a
//! configured severity, or that the guardrails cannot see scanned (not in this region's registry, never scanned,
//! scan unfinished or failed). An image nobody scanned is not an image known to be clean.
//!
//! [`EcrImage`], [`ScanSeverity`], [`ImageScan`] and [`judge`] hold no AWS types and are tested as tables;
//! [`ImageGate`] reads ECR's scan through the SDK.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_ecr::types::{ImageIdentifier, ScanStatus};
use serde::{Deserialize, Serialize};

use crate::error::AwsError;
use crate::notice::{Kind, Notice, Severity};

/// How many findings a refusal names (the counts cover them all).
pub const NAMED_FINDINGS: usize = 10;

/// An image in an ECR registry, from its URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrImage {
    /// The registry's account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The repository.
    pub repository: String,
    /// The tag, when the URI names one (`latest` when it names neither tag nor digest).
    pub tag: Option<String>,
    /// The digest, when the URI pins one.
    pub digest: Option<String>,
}

impl EcrImage {
    /// Reads `<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest]`; none for another registry.
    pub fn parse(uri: &str) -> Option<EcrImage> {
        let (host, path) = uri.trim().split_once('/')?;
        let mut labels = host.split('.');
        let account = labels.next()?;
        let (dkr, ecr, region) = (labels.next()?, labels.next()?, labels.next()?);
        if dkr != "dkr" || ecr != "ecr" || !account.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => (p, Some(d.to_owned())),
            None => (path, None),
        };
        // A tag follows the last colon of the last path segment (a repository name has no colon).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_owned())),
            _ => (path, None),
        };
        if repository.is_empty()
            || tag.as_deref() == Some("")
            || digest.as_deref().is_some_and(|d| !d.contains(':'))
        {
            return None;
        }
        let tag = if digest.is_none() && tag.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Some(EcrImage {
            account: account.to_owned(),
            region: region.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// `<repository ARN>:<tag>` or `…@<digest>`: how findings and notices name the image.
    pub fn resource(&self) -> String {
        let named = match (&self.digest, &self.tag) {
            (Some(digest), _) => format!("@{digest}"),
            (None, Some(tag)) => format!(":{tag}"),
            (None, None) => String::new(),
        };
        format!(
            "arn:aws:ecr:{}:{}:repository/{}{named}",
            self.region, self.account, self.repository
        )
    }
}

/// A finding's severity, as ECR (basic or enhanced scanning) reports it, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScanSeverity {
    /// ECR could not rate it.
    Undefined,
    /// For information.
    Informational,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl ScanSeverity {
    /// From ECR's name (`CRITICAL`, …); an unknown name is `Undefined`, which no threshold blocks on.
    pub fn from_ecr(name: &str) -> ScanSeverity {
        match name.to_ascii_uppercase().as_str() {
            "CRITICAL" => ScanSeverity::Critical,
            "HIGH" => ScanSeverity::High,
            "MEDIUM" => ScanSeverity::Medium,
            "LOW" => ScanSeverity::Low,
            "INFORMATIONAL" => ScanSeverity::Informational,
            _ => ScanSeverity::Undefined,
        }
    }

    /// ECR's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanSeverity::Undefined => "UNDEFINED",
            ScanSeverity::Informational => "INFORMATIONAL",
            ScanSeverity::Low => "LOW",
            ScanSeverity::Medium => "MEDIUM",
            ScanSeverity::High => "HIGH",
            ScanSeverity::Critical => "CRITICAL",
        }
    }
}

impl std::str::FromStr for ScanSeverity {
    type Err = String;

    /// A threshold: `CRITICAL`, `HIGH`, `MEDIUM` or `LOW` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match ScanSeverity::from_ecr(s) {
            ScanSeverity::Undefined | ScanSeverity::Informational => Err(format!(
                "{s:?} is not a blocking severity: CRITICAL, HIGH, MEDIUM or LOW"
            )),
            severity => Ok(severity),
        }
    }
}

impl fmt::Display for ScanSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an image's scan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanState {
    /// Finished (basic `COMPLETE`, enhanced `ACTIVE`): the findings are the scan's.
    Finished,
    /// Not finished yet, or finished without findings to read: ECR's status and description.
    Unfinished(String),
}

/// One finding, as a notice names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanFinding {
    /// The vulnerability (a CVE id, usually).
    pub name: String,
    /// Its severity.
    pub severity: ScanSeverity,
    /// The package it is in, when the scan says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// An image's last scan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageScan {
    /// Finished or not.
    pub state: Option<ScanState>,
    /// How many findings of each severity.
    pub counts: BTreeMap<ScanSeverity, u32>,
    /// The findings read, most severe first (at most a few pages of them).
    pub findings: Vec<ScanFinding>,
}

/// Why an image may not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "kebab-case")]
pub enum Refusal {
    /// Not an image of this region's ECR registry: its scan cannot be read.
    NotInRegistry {
        /// The image URI.
        image: String,
        /// The region the guardrails read.
        region: String,
    },
    /// The registry has no scan of it (or no such image, or no such repository).
    NotScanned {
        /// The image URI.
        image: String,
    },
    /// The registry refused to show its scan to the guardrails (another account's repository, or its policy).
    Unreadable {
        /// The image URI.
        image: String,
        /// The error.
        error: String,
    },
    /// Its scan has not finished, or failed.
    ScanUnfinished {
        /// The image URI.
        image: String,
        /// ECR's status and description.
        status: String,
    },
    /// Its scan found vulnerabilities at or above the threshold.
    Findings {
        /// The image URI.
        image: String,
        /// The configured threshold.
        threshold: ScanSeverity,
        /// How many findings of each blocking severity.
        counts: BTreeMap<ScanSeverity, u32>,
        /// The most severe of them, by name.
        named: Vec<ScanFinding>,
    },
}

impl Refusal {
    /// The image refused.
    pub fn image(&self) -> &str {
        match self {
            Refusal::NotInRegistry { image, .. }
            | Refusal::NotScanned { image }
            | Refusal::Unreadable { image, .. }
            | Refusal::ScanUnfinished { image, .. }
            | Refusal::Findings { image, .. } => image,
        }
    }

    /// The metric dimension value and the outcome's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::NotInRegistry { .. } => "not-in-registry",
            Refusal::NotScanned { .. } => "not-scanned",
            Refusal::Unreadable { .. } => "unreadable",
            Refusal::ScanUnfinished { .. } => "scan-unfinished",
            Refusal::Findings { .. } => "findings",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotInRegistry { image, region } => write!(
                f,
                "{image} is not in this account's ECR registry in {region}, so its scan cannot be read; push it \
                 to the project's repository"
            ),
            Refusal::NotScanned { image } => write!(
                f,
                "{image} has no scan in ECR (or no such image): push it to a repository that scans on push, or \
                 start a scan"
            ),
            Refusal::Unreadable { image, error } => {
                write!(f, "the scan of {image} cannot be read: {error}")
            }
            Refusal::ScanUnfinished { image, status } => {
                write!(f, "the scan of {image} has not finished: {status}")
            }
            Refusal::Findings {
                image,
                threshold,
                counts,
                named,
            } => {
                let counted: Vec<String> = counts
                    .iter()
                    .rev()
                    .map(|(severity, n)| format!("{n} {severity}"))
                    .collect();
                write!(
                    f,
                    "the last scan of {image} found {} (the limit is no finding of {threshold} or above)",
                    counted.join(", ")
                )?;
                if !named.is_empty() {
                    let names: Vec<String> = named
                        .iter()
                        .map(|n| match &n.package {
                            Some(package) => format!("{} {} in {package}", n.severity, n.name),
                            None => format!("{} {}", n.severity, n.name),
                        })
                        .collect();
                    write!(f, ": {}", names.join("; "))?;
                }
                Ok(())
            }
        }
    }
}

/// Whether `image`, whose last scan is `scan` (none: never scanned), may run with `threshold` as the limit.
///
/// # Errors
/// The [`Refusal`] that says why not.
pub fn judge(
    image: &str,
    scan: Option<&ImageScan>,
    threshold: ScanSeverity,
) -> Result<(), Refusal> {
    let image = image.to_owned();
    let Some(scan) = scan else {
        return Err(Refusal::NotScanned { image });
    };
    match &scan.state {
        Some(ScanState::Finished) => {}
        Some(ScanState::Unfinished(status)) => {
            return Err(Refusal::ScanUnfinished {
                image,
                status: status.clone(),
            });
        }
        None => {
            return Err(Refusal::ScanUnfinished {
                image,
                status: "no status".to_owned(),
            });
        }
    }
    // The counts cover every finding; a scan that lists findings without counting them is counted from its list.
    let mut counted = scan.counts.clone();
    if counted.values().all(|n| *n == 0) {
        for finding in &scan.findings {
            *counted.entry(finding.severity).or_default() += 1;
        }
    }
    let counts: BTreeMap<ScanSeverity, u32> = counted
        .iter()
        .filter(|(severity, n)| **severity >= threshold && **n > 0)
        .map(|(severity, n)| (*severity, *n))
        .collect();
    if counts.is_empty() {
        return Ok(());
    }
    let mut named: Vec<ScanFinding> = scan
        .findings
        .iter()
        .filter(|f| f.severity >= threshold)
        .cloned()
        .collect();
    named.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.name.cmp(&b.name))
    });
    named.dedup();
    named.truncate(NAMED_FINDINGS);
    Err(Refusal::Findings {
        image,
        threshold,
        counts,
        named,
    })
}

/// The notice of a refused image: `stage` says what was stopped (training, deploy), `subject` what it was for.
pub fn refusal_notice(stage: &str, subject: &str, refusal: &Refusal, severity: Severity) -> Notice {
    Notice {
        severity,
        kind: Kind::ImageRefused,
        title: format!(
            "Image refused for {stage}: {}",
            short_image(refusal.image())
        ),
        body: format!(
            "{stage} of {subject} did not start: {refusal}.\n\nRebuild the image on patched packages, push it \
             under a new tag (tags are immutable), wait for its scan, and point the stack (or the model \
             version) at the new tag. The limit is the stack's ImageScanBlockSeverity parameter."
        ),
        details: serde_json::json!({"stage": stage, "subject": subject, "refusal": refusal}),
    }
}

/// The repository and tag of an image URI, for a title.
fn short_image(uri: &str) -> &str {
    uri.split_once('/').map_or(uri, |(_, path)| path)
}

/// Reads ECR's scans and judges them: the gate training and deploy share.
#[derive(Debug, Clone)]
pub struct ImageGate {
    ecr: aws_sdk_ecr::Client,
    region: String,
    threshold: ScanSeverity,
}

/// Pages of findings read for a refusal's names (the counts come whole with the first page).
const FINDING_PAGES: usize = 3;

impl ImageGate {
    /// A gate reading `region`'s registry through `ecr`, refusing findings of `threshold` or above.
    pub fn new(
        ecr: aws_sdk_ecr::Client,
        region: impl Into<String>,
        threshold: ScanSeverity,
    ) -> Self {
        ImageGate {
            ecr,
            region: region.into(),
            threshold,
        }
    }

    /// A gate from the shared SDK configuration (its region).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, threshold: ScanSeverity) -> Self {
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        ImageGate::new(aws_sdk_ecr::Client::new(sdk), region, threshold)
    }

    /// The configured threshold.
    pub fn threshold(&self) -> ScanSeverity {
        self.threshold
    }

    /// Whether every image of `uris` may run (each checked once, in order); the first refusal otherwise.
    ///
    /// # Errors
    /// A classified ECR error other than a missing scan, image or repository, or a refused read.
    pub async fn check_all(&self, uris: &[String]) -> Result<Result<(), Refusal>, AwsError> {
        let mut seen: Vec<&str> = Vec::new();
        for uri in uris {
            if seen.contains(&uri.as_str()) {
                continue;
            }
            seen.push(uri);
            if let Err(refusal) = self.check(uri).await? {
                return Ok(Err(refusal));
            }
        }
        Ok(Ok(()))
    }

    /// Whether the image `uri` may run.
    ///
    /// # Errors
    /// A classified ECR error other than a missing scan, image or repository, or a refused read.
    pub async fn check(&self, uri: &str) -> Result<Result<(), Refusal>, AwsError> {
        let image = match EcrImage::parse(uri) {
            Some(image) if image.region == self.region => image,
            _ => {
                return Ok(Err(Refusal::NotInRegistry {
                    image: uri.to_owned(),
                    region: self.region.clone(),
                }));
            }
        };
        match self.read(&image).await {
            Ok(scan) => Ok(judge(uri, scan.as_ref(), self.threshold)),
            Err(e) if e.code.as_deref() == Some("AccessDeniedException") => {
                Ok(Err(Refusal::Unreadable {
                    image: uri.to_owned(),
                    error: e.to_string(),
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// The image's last scan: counts whole, findings from the first pages; none if never scanned or gone.
    async fn read(&self, image: &EcrImage) -> Result<Option<ImageScan>, AwsError> {
        let id = ImageIdentifier::builder()
            .set_image_tag(image.tag.clone())
            .set_image_digest(image.digest.clone())
            .build();
        let mut pages = self
            .ecr
            .describe_image_scan_findings()
            .registry_id(&image.account)
            .repository_name(&image.repository)
            .image_id(id)
            .into_paginator()
            .send();
        let mut scan = ImageScan::default();
        let mut first = true;
        let mut read = 0;
        while read < FINDING_PAGES
            && let Some(page) = pages.next().await
        {
            read += 1;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let error =
                        AwsError::from_sdk("DescribeImageScanFindings", image.resource(), e);
                    let missing = [
                        "ScanNotFoundException",
                        "ImageNotFoundException",
                        "RepositoryNotFoundException",
                    ];
                    if error.code.as_deref().is_some_and(|c| missing.contains(&c)) {
                        return Ok(None);
                    }
                    return Err(error);
                }
            };
            if first {
                scan.state = page.image_scan_status().map(|s| match s.status() {
                    Some(ScanStatus::Complete | ScanStatus::Active) => ScanState::Finished,
                    other => ScanState::Unfinished(format!(
                        "{}{}",
                        other.map_or("no status", ScanStatus::as_str),
                        s.description()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    )),
                });
                first = false;
            }
            if let Some(findings) = page.image_scan_findings() {
                for (severity, n) in findings.finding_severity_counts().into_iter().flatten() {
                    let n = u32::try_from(*n).unwrap_or(0);
                    // The counts come with every page: keep the first page's.
                    scan.counts
                        .entry(ScanSeverity::from_ecr(severity.as_str()))
                        .or_insert(n);
                }
                scan.findings.extend(findings.findings().iter().map(|f| {
                    ScanFinding {
                        name: f.name().unwrap_or("unnamed").to_owned(),
                        severity: f.severity().map_or(ScanSeverity::Undefined, |s| {
                            ScanSeverity::from_ecr(s.as_str())
                        }),
                        package: f
                            .attributes()
                            .iter()
                            .find(|a| a.key() == "package_name")
                            .and_then(|a| a.value())
                            .map(str::to_owned),
                    }
                }));
                scan.findings
                    .extend(findings.enhanced_findings().iter().map(|f| {
                        ScanFinding {
                            name: f
                                .package_vulnerability_details()
                                .and_then(|d| d.vulnerability_id())
                                .or(f.title())
                                .unwrap_or("unnamed")
                                .to_owned(),
                            severity: ScanSeverity::from_ecr(f.severity().unwrap_or_default()),
                            package: f
                                .package_vulnerability_details()
                                .and_then(|d| d.vulnerable_packages().first())
                                .and_then(|p| p.name())
                                .map(str::to_owned),
                        }
                    }));
            }
        }
        Ok(Some(scan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_uris() {
        let image =
            EcrImage::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/train:2026-12")
                .unwrap();
        assert_eq!(
            (
                image.repository.as_str(),
                image.tag.as_deref(),
                image.digest.as_deref()
            ),
            ("team/train", Some("2026-12"), None)
        );
        assert_eq!(
            image.resource(),
            "arn:aws:ecr:eu-west-1:123456789012:repository/team/train:2026-12"
        );
        let pinned =
            EcrImage::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/train@sha256:ab12")
                .unwrap();
        assert_eq!(
            (pinned.tag, pinned.digest.as_deref()),
            (None, Some("sha256:ab12"))
        );
        let bare = EcrImage::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/train").unwrap();
        assert_eq!(bare.tag.as_deref(), Some("latest"));
        for other in [
            "public.ecr.aws/lambda/python:3.13",
            "python:3.13",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train@",
            "evil.com.dkr.ecr.eu-west-1.amazonaws.com/train:1",
        ] {
            assert!(EcrImage::parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn thresholds_parse_and_order() {
        assert_eq!("high".parse::<ScanSeverity>(), Ok(ScanSeverity::High));
        assert_eq!(
            "CRITICAL".parse::<ScanSeverity>(),
            Ok(ScanSeverity::Critical)
        );
        assert!("INFORMATIONAL".parse::<ScanSeverity>().is_err());
        assert!("severe".parse::<ScanSeverity>().is_err());
        assert!(ScanSeverity::Critical > ScanSeverity::High);
        assert!(ScanSeverity::Low > ScanSeverity::Undefined);
        assert_eq!(ScanSeverity::from_ecr("whatever"), ScanSeverity::Undefined);
    }

    fn scan(counts: &[(ScanSeverity, u32)], names: &[(&str, ScanSeverity)]) -> ImageScan {
        ImageScan {
            state: Some(ScanState::Finished),
            counts: counts.iter().copied().collect(),
            findings: names
                .iter()
                .map(|(name, severity)| ScanFinding {
                    name: (*name).to_owned(),
                    severity: *severity,
                    package: Some("openssl".to_owned()),
                })
                .collect(),
        }
    }

    #[test]
    fn the_gate_refuses_at_or_above_its_threshold_and_what_it_cannot_see() {
        use ScanSeverity::{Critical, High, Low, Medium};
        let uri = "1.dkr.ecr.r.amazonaws.com/train:1";
        let mixed = scan(
            &[(Critical, 1), (High, 2), (Low, 7)],
            &[
                ("CVE-3", High),
                ("CVE-1", Critical),
                ("CVE-2", High),
                ("CVE-9", Low),
            ],
        );
        let clean = scan(&[(Critical, 0), (Low, 3)], &[]);
        let uncounted = scan(&[], &[("CVE-7", Critical)]);
        let unfinished = ImageScan {
            state: Some(ScanState::Unfinished("IN_PROGRESS".into())),
            ..ImageScan::default()
        };
        let cases: [(Option<&ImageScan>, ScanSeverity, Option<&str>); 8] = [
            (Some(&mixed), Critical, Some("findings")),
            (Some(&uncounted), Critical, Some("findings")),
            (Some(&mixed), High, Some("findings")),
            (Some(&clean), Critical, None),
            (Some(&clean), Medium, None),
            (Some(&clean), Low, Some("findings")),
            (Some(&unfinished), Critical, Some("scan-unfinished")),
            (None, Critical, Some("not-scanned")),
        ];
        for (scan, threshold, expected) in cases {
            let verdict = judge(uri, scan, threshold);
            assert_eq!(
                verdict.as_ref().err().map(Refusal::as_str),
                expected,
                "{scan:?} {threshold}"
            );
        }
        let Err(Refusal::Findings { counts, named, .. }) = judge(uri, Some(&mixed), High) else {
            panic!("refused");
        };
        assert_eq!(counts, BTreeMap::from([(Critical, 1), (High, 2)]));
        let names: Vec<&str> = named.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["CVE-1", "CVE-2", "CVE-3"],
            "most severe first, low ones left out"
        );
    }

    #[test]
    fn a_refusal_names_counts_and_findings() {
        let refusal = judge(
            "1.dkr.ecr.r.amazonaws.com/train:1",
            Some(&scan(
                &[(ScanSeverity::Critical, 2), (ScanSeverity::High, 1)],
                &[("CVE-2026-1", ScanSeverity::Critical)],
            )),
            ScanSeverity::High,
        )
        .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "the last scan of 1.dkr.ecr.r.amazonaws.com/train:1 found 2 CRITICAL, 1 HIGH (the limit is no \
             finding of HIGH or above): CRITICAL CVE-2026-1 in openssl"
        );
        let notice = refusal_notice("training", "run new-data-1", &refusal, Severity::Warning);
        assert_eq!(notice.kind, Kind::ImageRefused);
        assert_eq!(notice.title, "Image refused for training: train:1");
        assert!(notice.body.contains("CVE-2026-1"), "{}", notice.body);
        assert_eq!(notice.details["refusal"]["refusal"], "findings");
    }
}
