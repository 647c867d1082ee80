//! What should serve, from what the registry, the signed records and the serving record say: free of AWS types.
//!
//! The rule is level-triggered: the newest Approved version of the group serves, once its lineage verifies and
//! its approval is on record. Every event (an approval, a rejection, a duplicate, a late one, a person's request)
//! recomputes the same answer, so events arriving out of order or twice cannot make an older version serve, and
//! a rollback is "reject the version that misbehaves": the newest Approved before it then serves, by this same
//! rule.

use guardrails_core::lineage::Approval;
use guardrails_core::registry::Package;
use guardrails_core::serving::Reason;

/// A version of the group: its ARN, its number in the group and its approval status now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// The package ARN.
    pub arn: &'a str,
    /// Its version number in the group (the ARN's last part).
    pub number: u32,
    /// `Approved`, `PendingManualApproval` or `Rejected`, as the registry says now.
    pub status: &'a str,
}

/// What the newest Approved version's lineage record says, once checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lineage<'a> {
    /// Signed, of the package's model: the gate's decision and the signed approvals of this package.
    Verified {
        /// The gate's decision in the record.
        gate_decision: &'a str,
        /// Signed approvals of this package, oldest first.
        approvals: &'a [Approval],
    },
    /// Missing, altered, or of another model: why.
    Invalid(&'a str),
}

/// What is known when deciding.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// What serves now, if anything.
    pub serving: Option<Version<'a>>,
    /// The newest Approved version and its lineage, if any version is Approved.
    pub newest: Option<(Version<'a>, Lineage<'a>)>,
    /// The version the event is about (an approval being handled), if any.
    pub subject: Option<&'a str>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Make the newest Approved version serve: who or what approved it, and why it changes.
    Serve {
        /// `model-gate` when the gate approved it, else the person in its signed approval.
        approved_by: String,
        /// A release, or a rollback when the version serving is no longer Approved and an older one replaces it.
        reason: Reason,
    },
    /// The newest Approved version serves already.
    Keep,
    /// The newest Approved version was held for a person and its approval event has not been handled yet: that
    /// event makes it serve.
    Wait(String),
    /// The newest Approved version may not serve: a critical notice says why; what serves is unchanged.
    Refuse(String),
    /// What serves is no longer Approved and no Approved version can replace it: a critical notice says so.
    Stranded(String),
    /// Nothing is Approved and nothing serves.
    Nothing,
}

/// The plan for `facts`.
pub fn plan(facts: Facts<'_>) -> Plan {
    let Some((newest, lineage)) = facts.newest else {
        return match facts.serving {
            Some(serving) if serving.status != "Approved" => Plan::Stranded(format!(
                "version {} serves but is {} now, and no version of the group is Approved to replace it",
                serving.number, serving.status
            )),
            _ => Plan::Nothing,
        };
    };
    if facts.serving.is_some_and(|s| s.arn == newest.arn) {
        return Plan::Keep;
    }
    let approved_by = match approved_by(newest, lineage, facts.subject) {
        Ok(by) => by,
        Err(plan) => return plan,
    };
    let reason = match facts.serving {
        Some(s) if s.status != "Approved" && newest.number < s.number => Reason::Rollback,
        _ => Reason::Release,
    };
    Plan::Serve {
        approved_by,
        reason,
    }
}

/// Who or what approved `newest`, or the plan when it may not serve yet.
fn approved_by(
    newest: Version<'_>,
    lineage: Lineage<'_>,
    subject: Option<&str>,
) -> Result<String, Plan> {
    let (gate_decision, approvals) = match lineage {
        Lineage::Invalid(reason) => return Err(Plan::Refuse(reason.to_owned())),
        Lineage::Verified {
            gate_decision,
            approvals,
        } => (gate_decision, approvals),
    };
    match gate_decision {
        "Approved" => Ok("model-gate".to_owned()),
        "PendingManualApproval" => match approvals.first() {
            Some(approval) => Ok(approval.approved_by.clone()),
            // Its own approval event signs the approval: until it is handled, another event waits for it.
            None if subject != Some(newest.arn) => Err(Plan::Wait(format!(
                "version {} was held for a person and its approval is not signed yet",
                newest.number
            ))),
            None => Err(Plan::Refuse(
                "the gate held it for a person and no signed approval of it exists".to_owned(),
            )),
        },
        other => Err(Plan::Refuse(format!(
            "the gate's decision in its lineage record is {other}"
        ))),
    }
}

/// Why the listing of Approved versions lags what was just described, if it does: the listed newest is no longer
/// Approved (a rejection being handled), or the version the event is about is Approved and newer than it.
pub fn lagging(newest: Option<&Package>, subject: Option<&Package>) -> Option<String> {
    if let Some(newest) = newest
        && newest.status != "Approved"
    {
        return Some(format!(
            "{} is listed Approved but is {}",
            newest.arn, newest.status
        ));
    }
    let number = |p: &Package| version_number(&p.arn).unwrap_or_default();
    match subject {
        Some(subject)
            if subject.status == "Approved"
                && newest.is_none_or(|n| number(subject) > number(n)) =>
        {
            Some(format!(
                "{} is Approved but not listed as the newest Approved version",
                subject.arn
            ))
        }
        _ => None,
    }
}

/// The version number of a package ARN (`…:model-package/<group>/<n>`); `None` for an unversioned package.
pub fn version_number(arn: &str) -> Option<u32> {
    arn.rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARNS: [&str; 4] = [
        "arn:aws:sagemaker:us-east-1:1:model-package/tickets/0",
        "arn:aws:sagemaker:us-east-1:1:model-package/tickets/1",
        "arn:aws:sagemaker:us-east-1:1:model-package/tickets/2",
        "arn:aws:sagemaker:us-east-1:1:model-package/tickets/3",
    ];

    fn v(number: usize, status: &'static str) -> Version<'static> {
        Version {
            arn: ARNS[number],
            number: number as u32,
            status,
        }
    }

    fn approval(by: &str) -> Approval {
        Approval {
            schema_version: 1,
            package_arn: ARNS[2].to_owned(),
            training_job: "train-2".to_owned(),
            lineage_sha256: "00".repeat(32),
            gate_decision: "PendingManualApproval".to_owned(),
            approved_by: by.to_owned(),
            approved_at: "2026-12-01T10:00:00Z".parse().unwrap_or_default(),
            description: None,
        }
    }

    #[test]
    fn the_newest_approved_version_serves_once_verified_and_approved_on_record() {
        let ana = [approval("ana")];
        let gate = Lineage::Verified {
            gate_decision: "Approved",
            approvals: &[],
        };
        let held = Lineage::Verified {
            gate_decision: "PendingManualApproval",
            approvals: &[],
        };
        let held_ana = Lineage::Verified {
            gate_decision: "PendingManualApproval",
            approvals: &ana,
        };
        let rejected = Lineage::Verified {
            gate_decision: "Rejected",
            approvals: &ana,
        };
        let serve = |by: &str, reason| Plan::Serve {
            approved_by: by.to_owned(),
            reason,
        };
        let approved = "Approved";
        type Row<'a> = (
            &'a str,
            Option<Version<'a>>,
            Option<(Version<'a>, Lineage<'a>)>,
            Option<&'a str>,
            Plan,
        );
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            ("first release by the gate",    None,                  Some((v(1, approved), gate)), None, serve("model-gate", Reason::Release)),
            ("a newer version replaces",     Some(v(1, approved)),  Some((v(2, approved), gate)), None, serve("model-gate", Reason::Release)),
            ("a person's signed approval",   Some(v(1, approved)),  Some((v(2, approved), held_ana)), None, serve("ana", Reason::Release)),
            ("already serving",              Some(v(2, approved)),  Some((v(2, approved), held)), None, Plan::Keep),
            ("serving rejected: roll back",  Some(v(3, "Rejected")), Some((v(2, approved), gate)), Some(ARNS[3]), serve("model-gate", Reason::Rollback)),
            ("serving an older one that was rejected", Some(v(1, "Rejected")), Some((v(2, approved), gate)), None, serve("model-gate", Reason::Release)),
            ("a person re-approved an older one: the newest still serves", Some(v(3, approved)), Some((v(3, approved), gate)), Some(ARNS[1]), Plan::Keep),
            ("held, its own event, unsigned", Some(v(1, approved)), Some((v(2, approved), held)), Some(ARNS[2]), Plan::Refuse("the gate held it for a person and no signed approval of it exists".into())),
            ("held, another event first",    Some(v(1, approved)),  Some((v(2, approved), held)), Some(ARNS[1]), Plan::Wait("version 2 was held for a person and its approval is not signed yet".into())),
            ("the gate rejected it",         Some(v(1, approved)),  Some((v(2, approved), rejected)), None, Plan::Refuse("the gate's decision in its lineage record is Rejected".into())),
            ("lineage altered",              Some(v(1, approved)),  Some((v(2, approved), Lineage::Invalid("its signature does not verify"))), None, Plan::Refuse("its signature does not verify".into())),
            ("nothing approved, nothing serving", None,             None, None, Plan::Nothing),
            ("nothing approved, serving approved", Some(v(1, approved)), None, None, Plan::Nothing),
            ("the only version rejected",    Some(v(1, "Rejected")), None, None, Plan::Stranded("version 1 serves but is Rejected now, and no version of the group is Approved to replace it".into())),
        ];
        for (case, serving, newest, subject, expected) in table {
            let got = plan(Facts {
                serving,
                newest,
                subject,
            });
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn a_listing_behind_the_registry_is_noticed() {
        let package = |n: usize, status: &str| Package {
            arn: ARNS[n].to_owned(),
            status: status.to_owned(),
            ..Package::default()
        };
        #[rustfmt::skip]
        let table = [
            ("caught up",                       Some(package(2, "Approved")), Some(package(2, "Approved")), None),
            ("an older version's event",        Some(package(2, "Approved")), Some(package(1, "Approved")), None),
            ("a rejection's event",             Some(package(1, "Approved")), Some(package(2, "Rejected")), None),
            ("no event subject",                Some(package(2, "Approved")), None,                         None),
            ("nothing approved, nothing new",   None,                         Some(package(1, "Rejected")), None),
            ("the rejected one still listed",   Some(package(2, "Rejected")), Some(package(2, "Rejected")), Some("listed Approved but is Rejected")),
            ("the approved one not listed yet", Some(package(1, "Approved")), Some(package(2, "Approved")), Some("not listed as the newest")),
            ("the first approval not listed",   None,                         Some(package(1, "Approved")), Some("not listed as the newest")),
        ];
        for (case, newest, subject, expected) in table {
            match (lagging(newest.as_ref(), subject.as_ref()), expected) {
                (None, None) => {}
                (Some(why), Some(expected)) => assert!(why.contains(expected), "{case}: {why}"),
                (got, expected) => panic!("{case}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn version_numbers_come_from_the_arn() {
        assert_eq!(version_number(ARNS[3]), Some(3));
        assert_eq!(
            version_number("arn:aws:sagemaker:us-east-1:1:model-package/unversioned"),
            None
        );
    }
}
