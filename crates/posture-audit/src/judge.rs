//! What is wrong with each resource, from the facts `gather` read: plain values in, findings out, no AWS types.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::check::{Check, Finding};
use crate::policy::{self, Breadth, Trust};

/// An access key older than this, or unused this long, is a finding.
pub const KEY_AGE: TimeDelta = TimeDelta::days(90);

/// A bucket's settings.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// `arn:aws:s3:::name`.
    pub arn: String,
    /// The grantees of its ACL that mean everyone (`AllUsers`, `AuthenticatedUsers`) and what they get.
    pub public_grants: Vec<String>,
    /// Its public access block's four settings; `None` when it has none.
    pub public_access_block: Option<[bool; 4]>,
    /// Its default encryption's algorithm; `None` when none is configured.
    pub default_encryption: Option<String>,
    /// Its policy.
    pub policy: Option<Value>,
    /// Whether versioning is on.
    pub versioned: bool,
}

/// A bucket's findings.
pub fn bucket(b: &Bucket) -> Vec<Finding> {
    let mut found = Vec::new();
    if !b.public_grants.is_empty() {
        found.push(Finding::new(
            Check::S3PublicAcl,
            &b.arn,
            format!("the ACL grants {}", b.public_grants.join(", ")),
        ));
    }
    found.extend(public_policy(
        b.policy.as_ref(),
        Check::S3PublicPolicy,
        &b.arn,
        |statements| format!("the bucket policy's {} allows everyone", statements),
    ));
    match b.public_access_block {
        None => found.push(Finding::new(
            Check::S3PublicAccessBlockOff,
            &b.arn,
            "the bucket has no public access block",
        )),
        Some(settings) if settings.contains(&false) => {
            let names = [
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            ];
            let off: Vec<&str> = names
                .iter()
                .zip(settings)
                .filter(|(_, on)| !on)
                .map(|(name, _)| *name)
                .collect();
            found.push(Finding::new(
                Check::S3PublicAccessBlockOff,
                &b.arn,
                format!("public access block settings off: {}", off.join(", ")),
            ));
        }
        Some(_) => {}
    }
    if b.default_encryption.is_none() {
        found.push(Finding::new(
            Check::S3NoDefaultEncryption,
            &b.arn,
            "no default encryption is configured",
        ));
    }
    if !b
        .policy
        .as_ref()
        .is_some_and(policy::denies_insecure_transport)
    {
        found.push(Finding::new(
            Check::S3NoTlsDeny,
            &b.arn,
            "no bucket policy statement denies requests without TLS",
        ));
    }
    if !b.versioned {
        found.push(Finding::new(
            Check::S3NoVersioning,
            &b.arn,
            "versioning is off",
        ));
    }
    found
}

/// An IAM user's access key.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// The user's ARN.
    pub user_arn: String,
    /// The key's id.
    pub id: String,
    /// Whether it is active.
    pub active: bool,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was last used, if ever.
    pub last_used: Option<DateTime<Utc>>,
}

/// An access key's findings at `now`: only active keys count.
pub fn access_key(k: &AccessKey, now: DateTime<Utc>) -> Vec<Finding> {
    if !k.active {
        return Vec::new();
    }
    let mut found = Vec::new();
    let age = now - k.created;
    if age > KEY_AGE {
        found.push(Finding::new(
            Check::IamOldAccessKey,
            &k.user_arn,
            format!("access key {} is {} days old", k.id, age.num_days()),
        ));
    }
    let idle_since = k.last_used.unwrap_or(k.created);
    if now - idle_since > KEY_AGE {
        let evidence = match k.last_used {
            Some(at) => format!(
                "access key {} was last used {} days ago",
                k.id,
                (now - at).num_days()
            ),
            None => format!(
                "access key {} was never used in {} days",
                k.id,
                age.num_days()
            ),
        };
        found.push(Finding::new(
            Check::IamUnusedAccessKey,
            &k.user_arn,
            evidence,
        ));
    }
    found
}

/// An IAM user who may sign in to the console.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// Its ARN.
    pub arn: String,
    /// How many MFA devices it has.
    pub mfa_devices: usize,
}

/// A console user's finding.
pub fn console_user(u: &ConsoleUser) -> Option<Finding> {
    (u.mfa_devices == 0).then(|| {
        Finding::new(
            Check::IamConsoleUserWithoutMfa,
            &u.arn,
            "the user has a console password and no MFA device",
        )
    })
}

/// The root user's finding, `keys` being whether it has access keys.
pub fn root(account: &str, keys: bool) -> Option<Finding> {
    keys.then(|| {
        Finding::new(
            Check::IamRootAccessKeys,
            format!("arn:aws:iam::{account}:root"),
            "the account summary says the root user has access keys",
        )
    })
}

/// A customer managed policy's finding (its default version's document).
pub fn managed_policy(arn: &str, document: &Value) -> Option<Finding> {
    match policy::breadth(document)? {
        Breadth::Admin(statement) => Some(Finding::new(
            Check::IamAdminPolicy,
            arn,
            format!("{statement} allows Action \"*\" on Resource \"*\""),
        )),
        Breadth::ServiceWildcard(statement, action) => Some(Finding::new(
            Check::IamWildcardActionPolicy,
            arn,
            format!("{statement} allows {action}"),
        )),
    }
}

/// The AWS managed policies that make whoever holds them an administrator.
pub const ADMINISTRATOR_POLICIES: [&str; 1] = ["arn:aws:iam::aws:policy/AdministratorAccess"];

/// A user's or role's own grants: its inline policies (name, document) and the AWS managed policies attached to
/// it. At most one finding per check (the ledger keeps one per check and identity): the first seen.
pub fn identity_grants(arn: &str, inline: &[(String, Value)], attached: &[String]) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    if let Some(admin) = attached
        .iter()
        .find(|p| ADMINISTRATOR_POLICIES.contains(&p.as_str()))
    {
        found.push(Finding::new(
            Check::IamAdminPolicy,
            arn,
            format!("{admin} is attached"),
        ));
    }
    for (name, document) in inline {
        if let Some(mut finding) = managed_policy(arn, document) {
            finding.evidence = format!("inline policy {name}: {}", finding.evidence);
            if !found.iter().any(|f| f.check == finding.check) {
                found.push(finding);
            }
        }
    }
    found
}

/// A role's findings from its trust policy, `own` being the account it is in.
pub fn role(arn: &str, trust: &Value, own: &str) -> Vec<Finding> {
    policy::trust(trust, own)
        .into_iter()
        .map(|t| match t {
            Trust::Open(statement) => Finding::new(
                Check::IamOpenTrust,
                arn,
                format!("the trust policy's {statement} lets any principal assume the role"),
            ),
            Trust::OtherAccountWithoutExternalId(statement, account) => Finding::new(
                Check::IamCrossAccountTrustWithoutExternalId,
                arn,
                format!("the trust policy's {statement} lets account {account} assume the role without sts:ExternalId"),
            ),
        })
        .collect()
}

/// A customer managed KMS key (AWS managed keys rotate by themselves and are not judged).
#[derive(Debug, Clone)]
pub struct Key {
    /// Its ARN.
    pub arn: String,
    /// Whether automatic rotation is on (asked only of enabled symmetric keys).
    pub rotates: Option<bool>,
    /// Its default policy.
    pub policy: Option<Value>,
}

/// A key's findings.
pub fn key(k: &Key) -> Vec<Finding> {
    let mut found = Vec::new();
    if k.rotates == Some(false) {
        found.push(Finding::new(
            Check::KmsRotationOff,
            &k.arn,
            "automatic rotation is off",
        ));
    }
    found.extend(public_policy(
        k.policy.as_ref(),
        Check::KmsOpenKeyPolicy,
        &k.arn,
        |statements| format!("the key policy's {} allows any principal", statements),
    ));
    found
}

/// The finding of `check` on `resource` when `policy` has statements open to anyone, `evidence` saying so of
/// them (named, comma-separated).
fn public_policy(
    policy: Option<&Value>,
    check: Check,
    resource: &str,
    evidence: impl FnOnce(&str) -> String,
) -> Option<Finding> {
    let public = policy.map(policy::public_statements).unwrap_or_default();
    (!public.is_empty()).then(|| Finding::new(check, resource, evidence(&public.join(", "))))
}

/// A topic or a queue: its encryption and policy.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its ARN.
    pub arn: String,
    /// Whether it is encrypted at rest.
    pub encrypted: bool,
    /// Its access policy.
    pub policy: Option<Value>,
}

/// A topic's findings.
pub fn topic(t: &Channel) -> Vec<Finding> {
    channel(t, Check::SnsPublicPolicy, Check::SnsUnencrypted, "topic")
}

/// A queue's findings.
pub fn queue(q: &Channel) -> Vec<Finding> {
    channel(q, Check::SqsPublicPolicy, Check::SqsUnencrypted, "queue")
}

fn channel(c: &Channel, public_check: Check, unencrypted: Check, what: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    found.extend(public_policy(
        c.policy.as_ref(),
        public_check,
        &c.arn,
        |statements| format!("the {what} policy's {} allows everyone", statements),
    ));
    if !c.encrypted {
        found.push(Finding::new(
            unencrypted,
            &c.arn,
            format!("the {what} is not encrypted at rest"),
        ));
    }
    found
}

/// A secret's finding, `rotates` being whether rotation is on.
pub fn secret(arn: &str, rotates: bool) -> Option<Finding> {
    (!rotates).then(|| Finding::new(Check::SecretRotationOff, arn, "rotation is off"))
}

/// A SageMaker notebook instance.
#[derive(Debug, Clone)]
pub struct Notebook {
    /// Its ARN.
    pub arn: String,
    /// `DirectInternetAccess` is `Enabled`.
    pub direct_internet: bool,
    /// `RootAccess` is `Enabled`.
    pub root_access: bool,
}

/// A notebook instance's findings.
pub fn notebook(n: &Notebook) -> Vec<Finding> {
    flagged(
        &n.arn,
        &[
            (
                n.direct_internet,
                Check::SageMakerNotebookDirectInternet,
                "DirectInternetAccess is Enabled",
            ),
            (
                n.root_access,
                Check::SageMakerNotebookRootAccess,
                "RootAccess is Enabled",
            ),
        ],
    )
}

/// A SageMaker endpoint, as its current configuration and models say.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its ARN.
    pub arn: String,
    /// Its configuration's name.
    pub config: String,
    /// The configuration names a KMS key.
    pub kms: bool,
    /// The configuration captures data.
    pub capture: bool,
    /// The model packages its variants' models were made from, with their approval status.
    pub packages: Vec<(String, String)>,
}

/// An endpoint's findings.
pub fn endpoint(e: &Endpoint) -> Vec<Finding> {
    let mut found = Vec::new();
    if !e.kms {
        found.push(Finding::new(
            Check::SageMakerEndpointWithoutKms,
            &e.arn,
            format!("endpoint configuration {} names no KmsKeyId", e.config),
        ));
    }
    if !e.capture {
        found.push(Finding::new(
            Check::SageMakerEndpointWithoutDataCapture,
            &e.arn,
            format!("endpoint configuration {} captures no data", e.config),
        ));
    }
    for (package, status) in &e.packages {
        if status != "Approved" {
            found.push(Finding::new(
                Check::SageMakerEndpointServesUnapprovedPackage,
                &e.arn,
                format!("it serves {package}, which is {status}"),
            ));
        }
    }
    found
}

/// A recent training job.
#[derive(Debug, Clone)]
pub struct TrainingJob {
    /// Its ARN.
    pub arn: String,
    /// Its volume has a KMS key.
    pub volume_kms: bool,
    /// It ran with network isolation.
    pub network_isolation: bool,
}

/// A training job's findings.
pub fn training_job(j: &TrainingJob) -> Vec<Finding> {
    flagged(
        &j.arn,
        &[
            (
                !j.volume_kms,
                Check::SageMakerTrainingVolumeUnencrypted,
                "ResourceConfig names no VolumeKmsKeyId",
            ),
            (
                !j.network_isolation,
                Check::SageMakerTrainingWithoutNetworkIsolation,
                "EnableNetworkIsolation is off",
            ),
        ],
    )
}

/// A trail of the region (or a multi-region one seen from it).
#[derive(Debug, Clone)]
pub struct Trail {
    /// Its ARN.
    pub arn: String,
    /// It is logging now.
    pub logging: bool,
    /// It covers every region.
    pub multi_region: bool,
    /// It validates its log files.
    pub validation: bool,
}

/// The region's CloudTrail findings, `account` naming the account when no trail logs.
pub fn trails(account: &str, region: &str, trails: &[Trail]) -> Vec<Finding> {
    let logging: Vec<&Trail> = trails.iter().filter(|t| t.logging).collect();
    let account_arn = format!("arn:aws:cloudtrail:{region}:{account}:trail/*");
    if logging.is_empty() {
        let evidence = if trails.is_empty() {
            "no trail exists in the region".to_owned()
        } else {
            format!("{} trail(s) exist but none is logging", trails.len())
        };
        return vec![Finding::new(Check::CloudTrailOff, account_arn, evidence)];
    }
    let mut found = Vec::new();
    if !logging.iter().any(|t| t.multi_region) {
        found.push(Finding::new(
            Check::CloudTrailNotMultiRegion,
            account_arn,
            "no logging trail is multi-region: other regions' API calls are not recorded",
        ));
    }
    for t in logging.iter().filter(|t| !t.validation) {
        found.push(Finding::new(
            Check::CloudTrailNoLogValidation,
            &t.arn,
            "log file validation is off",
        ));
    }
    found
}

/// Runtimes Lambda no longer supports (deprecated, from the runtime deprecation table in the Lambda Developer
/// Guide, as of December 2026). Kept here rather than asked of an API: Lambda has none that lists them.
pub const DEPRECATED_RUNTIMES: &[&str] = &[
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "java8",
    "go1.x",
    "provided",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet5.0",
    "dotnet6",
    "ruby2.5",
    "ruby2.7",
];

/// A Lambda function.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its ARN.
    pub arn: String,
    /// Its runtime (none for a container image).
    pub runtime: Option<String>,
    /// Its resource policy.
    pub policy: Option<Value>,
    /// The auth types of its URLs.
    pub url_auth: Vec<String>,
}

/// A function's findings.
pub fn function(f: &Function) -> Vec<Finding> {
    let mut found = Vec::new();
    found.extend(public_policy(
        f.policy.as_ref(),
        Check::LambdaPublicPolicy,
        &f.arn,
        |statements| format!("the resource policy's {} lets anyone invoke it", statements),
    ));
    if f.url_auth.iter().any(|a| a == "NONE") {
        found.push(Finding::new(
            Check::LambdaUrlWithoutAuth,
            &f.arn,
            "a function URL has AuthType NONE",
        ));
    }
    if let Some(runtime) = f
        .runtime
        .as_deref()
        .filter(|r| DEPRECATED_RUNTIMES.contains(r))
    {
        found.push(Finding::new(
            Check::LambdaDeprecatedRuntime,
            &f.arn,
            format!("runtime {runtime} is deprecated"),
        ));
    }
    found
}

/// An ECR repository's settings.
#[derive(Debug, Clone)]
pub struct Repository {
    /// Its ARN.
    pub arn: String,
    /// It scans each pushed image (its own setting, or a registry scanning rule that covers it).
    pub scan_on_push: bool,
    /// Its tags can move.
    pub mutable_tags: bool,
}

/// A repository's findings.
pub fn repository(r: &Repository) -> Vec<Finding> {
    flagged(
        &r.arn,
        &[
            (
                !r.scan_on_push,
                Check::EcrScanOnPushOff,
                "scanOnPush is off and no registry scanning rule covers the repository",
            ),
            (
                r.mutable_tags,
                Check::EcrMutableTags,
                "imageTagMutability is MUTABLE: a tag the pipeline pins can be moved to another image",
            ),
        ],
    )
}

/// Whether a registry scanning rule's filter covers repository `name`: `*` stands for any run of characters, and
/// a filter without one matches every name that contains it (as ECR documents).
pub fn filter_covers(filter: &str, name: &str) -> bool {
    if !filter.contains('*') {
        return name.contains(filter);
    }
    let mut parts = filter.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = parts.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// An image's last scan: how many findings of each severity.
#[derive(Debug, Clone)]
pub struct ScannedImage {
    /// The image, as `<repository ARN>:<tag>` or `…@<digest>`.
    pub resource: String,
    /// Critical findings.
    pub critical: i32,
    /// High findings.
    pub high: i32,
}

/// An image's finding: critical vulnerabilities in what the pipeline runs.
pub fn scanned_image(i: &ScannedImage) -> Option<Finding> {
    (i.critical > 0).then(|| {
        Finding::new(
            Check::EcrImageCriticalVulnerabilities,
            &i.resource,
            format!(
                "the image's last scan found {} critical and {} high vulnerabilities",
                i.critical, i.high
            ),
        )
    })
}

/// One inbound rule of a security group, as EC2 describes it.
#[derive(Debug, Clone)]
pub struct Ingress {
    /// `tcp`, `udp`, `icmp`, a number, or `-1` for every protocol.
    pub protocol: String,
    /// The first port (none, or -1, for every port).
    pub from: Option<i32>,
    /// The last port.
    pub to: Option<i32>,
    /// The IPv4 and IPv6 ranges it admits.
    pub ranges: Vec<String>,
}

/// A security group.
#[derive(Debug, Clone)]
pub struct SecurityGroup {
    /// Its ARN.
    pub arn: String,
    /// Its inbound rules.
    pub ingress: Vec<Ingress>,
}

/// Ports an attacker tries first: SSH, Telnet, RDP, WinRM.
pub const ADMIN_PORTS: [(i32, &str); 5] = [
    (22, "SSH"),
    (23, "Telnet"),
    (3389, "RDP"),
    (5985, "WinRM"),
    (5986, "WinRM over TLS"),
];

/// Whether `range` is, for an attacker, the internet: `0.0.0.0/0`, `::/0`, or one so wide that a few such rules
/// cover it (an IPv4 range of /7 or wider, as `0.0.0.0/1` and `128.0.0.0/1`; an IPv6 one of /8 or wider, as
/// `2000::/3`, all global unicast). Private /8s stay narrow.
fn anywhere(range: &str) -> bool {
    let Some((address, bits)) = range.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    if address.contains(':') {
        bits <= 8
    } else {
        bits <= 7
    }
}

/// A security group's findings: every port open to the internet, or an administrative one.
pub fn security_group(g: &SecurityGroup) -> Vec<Finding> {
    let mut all_ports = None;
    let mut admin = Vec::new();
    for rule in &g.ingress {
        let Some(range) = rule.ranges.iter().find(|r| anywhere(r)) else {
            continue;
        };
        let every_protocol = rule.protocol == "-1" || rule.protocol.eq_ignore_ascii_case("all");
        let (from, to) = match (rule.from, rule.to) {
            (Some(f), Some(t)) if f >= 0 && !every_protocol => (f, t),
            _ => (0, 65535),
        };
        let carries_tcp = every_protocol || rule.protocol == "tcp" || rule.protocol == "6";
        if (from, to) == (0, 65535) && (every_protocol || carries_tcp) {
            all_ports.get_or_insert(format!(
                "an inbound rule admits {range} on every port ({})",
                if every_protocol {
                    "every protocol"
                } else {
                    "tcp"
                }
            ));
        }
        for (port, name) in ADMIN_PORTS {
            if carries_tcp && from <= port && port <= to {
                admin.push(format!("{name} ({port}/tcp) from {range}"));
            }
        }
    }
    let mut found = Vec::new();
    if let Some(evidence) = all_ports {
        found.push(Finding::new(Check::Ec2OpenAllPorts, &g.arn, evidence));
    } else if !admin.is_empty() {
        admin.dedup();
        found.push(Finding::new(
            Check::Ec2OpenAdminPort,
            &g.arn,
            format!("inbound rules admit {}", admin.join(", ")),
        ));
    }
    found
}

/// A VPC's finding, `flow_logs` being how many flow logs it has.
pub fn vpc(arn: &str, flow_logs: usize) -> Option<Finding> {
    (flow_logs == 0).then(|| {
        Finding::new(
            Check::Ec2VpcFlowLogsOff,
            arn,
            "the VPC has no flow log: its traffic leaves no record",
        )
    })
}

/// The findings of `resource` whose condition holds, in the order given.
fn flagged(resource: &str, rules: &[(bool, Check, &str)]) -> Vec<Finding> {
    rules
        .iter()
        .filter(|(holds, ..)| *holds)
        .map(|(_, check, evidence)| Finding::new(*check, resource, *evidence))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_identity_is_an_administrator_by_its_inline_policies_or_an_attached_aws_policy() {
        let admin = json!({"Statement": [{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let s3 = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        let read =
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        let admin_access = "arn:aws:iam::aws:policy/AdministratorAccess".to_owned();
        type Case = (Vec<(String, Value)>, Vec<String>, Vec<Check>);
        let cases: Vec<Case> = vec![
            (vec![("read".into(), read.clone())], vec![], vec![]),
            (
                vec![],
                vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                vec![],
            ),
            (
                vec![],
                vec![admin_access.clone()],
                vec![Check::IamAdminPolicy],
            ),
            (
                vec![
                    ("all".into(), admin.clone()),
                    ("again".into(), admin.clone()),
                ],
                vec![],
                vec![Check::IamAdminPolicy],
            ),
            (
                vec![("s3".into(), s3), ("all".into(), admin)],
                vec![admin_access],
                vec![Check::IamAdminPolicy, Check::IamWildcardActionPolicy],
            ),
        ];
        for (inline, attached, expected) in cases {
            assert_eq!(
                checks(&identity_grants(
                    "arn:aws:iam::1:role/r",
                    &inline,
                    &attached
                )),
                expected,
                "{inline:?} {attached:?}"
            );
        }
        let evidence = identity_grants(
            "arn:u",
            &[(
                "ops".into(),
                json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            )],
            &[],
        );
        assert!(
            evidence[0].evidence.starts_with("inline policy ops: "),
            "{}",
            evidence[0].evidence
        );
    }

    #[test]
    fn registry_filters() {
        for (filter, name, covers) in [
            ("*", "anything", true),
            ("prod-*", "prod-train", true),
            ("prod-*", "dev-train", false),
            ("*-train", "prod-train", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxcyyb", false),
            ("exact", "exact", true),
            ("exact", "inexactly", true),
            ("exact", "exa", false),
        ] {
            assert_eq!(filter_covers(filter, name), covers, "{filter} {name}");
        }
        let image = |critical| ScannedImage {
            resource: "arn:r:t".into(),
            critical,
            high: 2,
        };
        assert!(scanned_image(&image(0)).is_none());
        assert_eq!(
            scanned_image(&image(1)).unwrap().check,
            Check::EcrImageCriticalVulnerabilities
        );
    }

    #[test]
    fn security_groups_by_what_they_open_to_the_internet() {
        let rule = |protocol: &str, from: Option<i32>, to: Option<i32>, range: &str| Ingress {
            protocol: protocol.into(),
            from,
            to,
            ranges: vec![range.into()],
        };
        let cases: Vec<(Vec<Ingress>, Vec<Check>)> = vec![
            (vec![rule("tcp", Some(443), Some(443), "0.0.0.0/0")], vec![]),
            (vec![rule("tcp", Some(22), Some(22), "10.0.0.0/8")], vec![]),
            (
                vec![rule("tcp", Some(22), Some(22), "0.0.0.0/0")],
                vec![Check::Ec2OpenAdminPort],
            ),
            (
                vec![rule("tcp", Some(3380), Some(3400), "::/0")],
                vec![Check::Ec2OpenAdminPort],
            ),
            (vec![rule("udp", Some(22), Some(22), "0.0.0.0/0")], vec![]),
            (
                vec![rule("-1", None, None, "0.0.0.0/0")],
                vec![Check::Ec2OpenAllPorts],
            ),
            (
                vec![rule("tcp", Some(0), Some(65535), "::/0")],
                vec![Check::Ec2OpenAllPorts],
            ),
            (vec![rule("-1", None, None, "sg-0123")], vec![]),
            (
                vec![
                    rule("tcp", Some(22), Some(22), "0.0.0.0/1"),
                    rule("tcp", Some(22), Some(22), "128.0.0.0/1"),
                ],
                vec![Check::Ec2OpenAdminPort],
            ),
            (
                vec![rule("-1", None, None, "2000::/3")],
                vec![Check::Ec2OpenAllPorts],
            ),
            (vec![rule("tcp", Some(22), Some(22), "10.0.0.0/8")], vec![]),
        ];
        for (ingress, expected) in cases {
            let g = SecurityGroup {
                arn: "arn:sg".into(),
                ingress: ingress.clone(),
            };
            assert_eq!(checks(&security_group(&g)), expected, "{ingress:?}");
        }
        assert!(vpc("arn:vpc", 1).is_none());
        assert_eq!(vpc("arn:vpc", 0).unwrap().check, Check::Ec2VpcFlowLogsOff);
    }

    fn checks(found: &[Finding]) -> Vec<Check> {
        found.iter().map(|f| f.check).collect()
    }

    fn good_bucket() -> Bucket {
        Bucket {
            arn: "arn:aws:s3:::b".into(),
            public_grants: vec![],
            public_access_block: Some([true; 4]),
            default_encryption: Some("aws:kms".into()),
            policy: Some(
                json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            ),
            versioned: true,
        }
    }

    #[test]
    fn a_bucket_is_judged_setting_by_setting() {
        assert!(bucket(&good_bucket()).is_empty());
        type Weaken = fn(&mut Bucket);
        let cases: [(Weaken, Check); 6] = [
            (
                |b| b.public_grants = vec!["AllUsers: READ".into()],
                Check::S3PublicAcl,
            ),
            (
                |b| {
                    b.policy = Some(json!({"Statement": [
                        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}));
                },
                Check::S3PublicPolicy,
            ),
            (
                |b| b.public_access_block = Some([true, true, false, true]),
                Check::S3PublicAccessBlockOff,
            ),
            (
                |b| b.default_encryption = None,
                Check::S3NoDefaultEncryption,
            ),
            (|b| b.policy = None, Check::S3NoTlsDeny),
            (|b| b.versioned = false, Check::S3NoVersioning),
        ];
        for (change, check) in cases {
            let mut b = good_bucket();
            change(&mut b);
            assert_eq!(checks(&bucket(&b)), [check]);
        }
        let mut none = good_bucket();
        none.public_access_block = None;
        assert_eq!(
            bucket(&none)[0].evidence,
            "the bucket has no public access block"
        );
    }

    #[test]
    fn access_keys_by_age_and_use() {
        let now: DateTime<Utc> = "2026-12-03T00:00:00Z".parse().unwrap();
        let key = |created_days: i64, used_days: Option<i64>, active: bool| AccessKey {
            user_arn: "arn:aws:iam::1:user/u".into(),
            id: "AKIA1".into(),
            active,
            created: now - TimeDelta::days(created_days),
            last_used: used_days.map(|d| now - TimeDelta::days(d)),
        };
        let cases = [
            (key(10, Some(1), true), vec![]),
            (key(91, Some(1), true), vec![Check::IamOldAccessKey]),
            (
                key(91, None, true),
                vec![Check::IamOldAccessKey, Check::IamUnusedAccessKey],
            ),
            (key(60, Some(59), true), vec![]),
            (
                key(200, Some(100), true),
                vec![Check::IamOldAccessKey, Check::IamUnusedAccessKey],
            ),
            (key(200, None, false), vec![]),
        ];
        for (k, expected) in cases {
            assert_eq!(checks(&access_key(&k, now)), expected, "{k:?}");
        }
    }

    #[test]
    fn sagemaker_resources() {
        let n = |direct_internet, root_access| Notebook {
            arn: "arn:n".into(),
            direct_internet,
            root_access,
        };
        assert!(notebook(&n(false, false)).is_empty());
        assert_eq!(
            checks(&notebook(&n(true, true))),
            [
                Check::SageMakerNotebookDirectInternet,
                Check::SageMakerNotebookRootAccess
            ]
        );
        let e = |kms, capture, status: &str| Endpoint {
            arn: "arn:e".into(),
            config: "c".into(),
            kms,
            capture,
            packages: vec![("arn:p/1".into(), status.into())],
        };
        assert!(endpoint(&e(true, true, "Approved")).is_empty());
        assert_eq!(
            checks(&endpoint(&e(false, true, "Approved"))),
            [Check::SageMakerEndpointWithoutKms]
        );
        assert_eq!(
            checks(&endpoint(&e(true, false, "Approved"))),
            [Check::SageMakerEndpointWithoutDataCapture]
        );
        let rejected = endpoint(&e(true, true, "Rejected"));
        assert_eq!(
            checks(&rejected),
            [Check::SageMakerEndpointServesUnapprovedPackage]
        );
        assert_eq!(rejected[0].evidence, "it serves arn:p/1, which is Rejected");
        let j = |volume_kms, network_isolation| TrainingJob {
            arn: "arn:j".into(),
            volume_kms,
            network_isolation,
        };
        assert!(training_job(&j(true, true)).is_empty());
        assert_eq!(
            checks(&training_job(&j(false, false))),
            [
                Check::SageMakerTrainingVolumeUnencrypted,
                Check::SageMakerTrainingWithoutNetworkIsolation
            ]
        );
    }

    #[test]
    fn functions_and_repositories() {
        let f = |runtime: &str, policy: Option<Value>, url: &[&str]| Function {
            arn: "arn:f".into(),
            runtime: Some(runtime.into()),
            policy,
            url_auth: url.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(function(&f("provided.al2023", None, &["AWS_IAM"])).is_empty());
        assert_eq!(
            checks(&function(&f("python3.8", None, &[]))),
            [Check::LambdaDeprecatedRuntime]
        );
        assert_eq!(
            checks(&function(&f("nodejs22.x", None, &["NONE"]))),
            [Check::LambdaUrlWithoutAuth]
        );
        let open = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"}]});
        let scoped = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:r:1:rule/x"}}}]});
        assert_eq!(
            checks(&function(&f("python3.13", Some(open), &[]))),
            [Check::LambdaPublicPolicy]
        );
        assert!(function(&f("python3.13", Some(scoped), &[])).is_empty());
        let r = |scan_on_push, mutable_tags| Repository {
            arn: "arn:r".into(),
            scan_on_push,
            mutable_tags,
        };
        assert!(repository(&r(true, false)).is_empty());
        assert_eq!(
            checks(&repository(&r(false, true))),
            [Check::EcrScanOnPushOff, Check::EcrMutableTags]
        );
    }

    #[test]
    fn cloudtrail_in_a_region() {
        let t = |logging, multi_region, validation| Trail {
            arn: "arn:t".into(),
            logging,
            multi_region,
            validation,
        };
        let cases = [
            (vec![], vec![Check::CloudTrailOff]),
            (vec![t(false, true, true)], vec![Check::CloudTrailOff]),
            (vec![t(true, true, true)], vec![]),
            (
                vec![t(true, false, true)],
                vec![Check::CloudTrailNotMultiRegion],
            ),
            (
                vec![t(true, true, false)],
                vec![Check::CloudTrailNoLogValidation],
            ),
            (vec![t(true, false, true), t(true, true, true)], vec![]),
        ];
        for (list, expected) in cases {
            assert_eq!(checks(&trails("1", "r", &list)), expected, "{list:?}");
        }
    }

    #[test]
    fn keys_topics_queues_and_secrets() {
        let open = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]});
        let k = |rotates, policy: Option<Value>| Key {
            arn: "arn:aws:kms:r:1:key/k".into(),
            rotates,
            policy,
        };
        assert!(key(&k(Some(true), None)).is_empty());
        assert!(
            key(&k(None, None)).is_empty(),
            "rotation not asked of this key"
        );
        assert_eq!(checks(&key(&k(Some(false), None))), [Check::KmsRotationOff]);
        assert_eq!(
            checks(&key(&k(Some(true), Some(open.clone())))),
            [Check::KmsOpenKeyPolicy]
        );
        let c = |encrypted, policy: Option<Value>| Channel {
            arn: "arn:aws:sns:r:1:t".into(),
            encrypted,
            policy,
        };
        assert_eq!(checks(&topic(&c(false, None))), [Check::SnsUnencrypted]);
        assert_eq!(
            checks(&queue(&c(true, Some(open)))),
            [Check::SqsPublicPolicy]
        );
        assert!(topic(&c(true, None)).is_empty());
        assert_eq!(
            secret("arn:s", false).map(|f| f.check),
            Some(Check::SecretRotationOff)
        );
        assert_eq!(secret("arn:s", true), None);
    }
}
