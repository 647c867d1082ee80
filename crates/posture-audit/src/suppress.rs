//! Suppressions: a finding the team accepts for a while, with a reason and an expiry. Each is one SSM parameter
//! under the suppressions path, which only the admin persona may write (`state.guard`'s
//! `only_the_contract_owner_changes_parameters`). Plain values: the parameters' names and texts in, the
//! suppressions out.
//!
//! A suppression names one check on one resource, exactly: no wildcard, so one parameter cannot silence a class of
//! findings. It expires within a year: an accepted risk is reviewed, not forgotten. One that does not read as
//! such is ignored (its finding is told as any other) and said so in the report.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{Check, Finding};

/// The longest a suppression may run from now.
pub const LONGEST: TimeDelta = TimeDelta::days(366);

/// The longest reason kept.
const REASON_CHARS: usize = 1000;

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    /// The parameter that holds it.
    pub name: String,
    /// The check it silences.
    pub check: Check,
    /// The resource's ARN, exactly.
    pub resource: String,
    /// Why the team accepts it.
    pub reason: String,
    /// Until when.
    pub expires: DateTime<Utc>,
}

/// A parameter that is not a suppression, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ignored {
    /// The parameter.
    pub name: String,
    /// What is wrong with it.
    pub why: String,
}

/// The parameter's text as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    check: String,
    resource: String,
    reason: String,
    expires: String,
}

/// An expiry as a time (RFC 3339) or a day (the end of it is not meant: the day's start, UTC).
fn expiry(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// Reads the parameter `name` holding `text` at `now`.
///
/// # Errors
/// An [`Ignored`] saying what is wrong.
pub fn parse(name: &str, text: &str, now: DateTime<Utc>) -> Result<Suppression, Ignored> {
    let ignored = |why: String| Ignored {
        name: name.to_owned(),
        why,
    };
    let written: Written = serde_json::from_str(text).map_err(|e| {
        ignored(format!(
            "not {{\"check\", \"resource\", \"reason\", \"expires\"}}: {e}"
        ))
    })?;
    let check = Check::ALL
        .into_iter()
        .find(|c| c.meta().id == written.check)
        .ok_or_else(|| ignored(format!("no check is named {:?}", written.check)))?;
    let resource = written.resource.trim();
    if resource.is_empty() || resource.contains(['*', '?']) {
        return Err(ignored(
            "the resource must be one ARN, without wildcards".to_owned(),
        ));
    }
    let reason = written.reason.trim();
    if reason.is_empty() {
        return Err(ignored("a suppression says why".to_owned()));
    }
    let expires = expiry(&written.expires).ok_or_else(|| {
        ignored(format!(
            "expires {:?} is not a date (2027-03-31) or a time (RFC 3339)",
            written.expires
        ))
    })?;
    if expires <= now {
        return Err(ignored(format!(
            "expired on {expires}: delete the parameter, or renew it with a new reason"
        )));
    }
    if expires > now + LONGEST {
        return Err(ignored(format!(
            "expires {expires} is more than {} days away",
            LONGEST.num_days()
        )));
    }
    Ok(Suppression {
        name: name.to_owned(),
        check,
        resource: resource.to_owned(),
        reason: reason.chars().take(REASON_CHARS).collect(),
        expires,
    })
}

/// The suppression that silences `finding` at `now`, if one does.
pub fn silencing<'a>(
    suppressions: &'a [Suppression],
    finding: &Finding,
    now: DateTime<Utc>,
) -> Option<&'a Suppression> {
    suppressions
        .iter()
        .find(|s| s.check == finding.check && s.resource == finding.resource && now < s.expires)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-03T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_suppression_is_one_check_on_one_resource_with_a_reason_and_a_near_expiry() {
        let ok = r#"{"check": "s3-no-versioning", "resource": "arn:aws:s3:::scratch", "reason": "scratch data", "expires": "2027-03-31"}"#;
        let s = parse("/p/posture-audit/suppressions/scratch", ok, now()).unwrap();
        assert_eq!(s.check, Check::S3NoVersioning);
        assert_eq!(
            s.expires,
            "2027-03-31T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let cases = [
            ("not json", "not {"),
            (
                r#"{"check": "s3-nope", "resource": "arn:x", "reason": "r", "expires": "2027-01-01"}"#,
                "no check",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:aws:s3:::*", "reason": "r", "expires": "2027-01-01"}"#,
                "wildcards",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": " ", "reason": "r", "expires": "2027-01-01"}"#,
                "wildcards",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:x", "reason": " ", "expires": "2027-01-01"}"#,
                "says why",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:x", "reason": "r", "expires": "soon"}"#,
                "is not a date",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:x", "reason": "r", "expires": "2099-01-01"}"#,
                "days away",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:x", "reason": "r", "expires": "2026-12-01"}"#,
                "expired on",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:x", "reason": "r"}"#,
                "not {",
            ),
            (
                r#"{"check": "s3-no-versioning", "resource": "arn:x", "reason": "r", "expires": "2027-01-01", "scope": "all"}"#,
                "not {",
            ),
        ];
        for (text, why) in cases {
            let ignored = parse("p", text, now()).unwrap_err();
            assert!(ignored.why.contains(why), "{text}: {}", ignored.why);
        }
    }

    #[test]
    fn a_suppression_silences_its_finding_until_it_expires() {
        let s = parse(
            "p",
            r#"{"check": "kms-rotation-off", "resource": "arn:k", "reason": "r", "expires": "2026-12-10T00:00:00Z"}"#,
            now(),
        )
        .unwrap();
        let all = [s];
        let finding = Finding::new(Check::KmsRotationOff, "arn:k", "seen");
        assert!(silencing(&all, &finding, now()).is_some());
        let other = Finding::new(Check::KmsRotationOff, "arn:k2", "seen");
        assert!(silencing(&all, &other, now()).is_none());
        let later: DateTime<Utc> = "2026-12-10T00:00:00Z".parse().unwrap();
        assert!(silencing(&all, &finding, later).is_none());
    }
}
