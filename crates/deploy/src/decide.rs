//! Whether an approved version may serve, from what the registry and its signed records say.

use guardrails_core::lineage::Approval;

/// What to do with a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Make it serve; who or what approved it.
    Serve {
        /// `model-gate` when the gate approved it, else the person in its signed approval record.
        approved_by: String,
    },
    /// Not this one, loudly: a critical notice says why.
    Refuse(String),
    /// Nothing to do (it is not Approved now: a late event), and why.
    Ignore(String),
}

/// What is known of a version once its lineage record verified.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Its approval status in the registry now.
    pub status: &'a str,
    /// The gate's decision in its signed lineage record.
    pub gate_decision: &'a str,
    /// Its signed approvals (of this package), oldest first.
    pub approvals: &'a [Approval],
}

/// The decision for a version: only an Approved one serves, and only with the gate's approval in its signed
/// record or, when the gate held it for a person, a signed approval of this package.
pub fn decide(facts: Facts<'_>) -> Decision {
    if facts.status != "Approved" {
        return Decision::Ignore(format!(
            "it is {} now: only Approved versions serve",
            facts.status
        ));
    }
    match facts.gate_decision {
        "Approved" => Decision::Serve {
            approved_by: "model-gate".to_owned(),
        },
        "PendingManualApproval" => match facts.approvals.first() {
            Some(approval) => Decision::Serve {
                approved_by: approval.approved_by.clone(),
            },
            None => Decision::Refuse(
                "the gate held it for a person and no signed approval of it exists".to_owned(),
            ),
        },
        other => Decision::Refuse(format!(
            "the gate's decision in its lineage record is {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(by: &str) -> Approval {
        Approval {
            schema_version: 1,
            package_arn: "arn:aws:sagemaker:us-east-1:1:model-package/tickets/2".to_owned(),
            training_job: "train-2".to_owned(),
            lineage_sha256: "00".repeat(32),
            gate_decision: "PendingManualApproval".to_owned(),
            approved_by: by.to_owned(),
            approved_at: "2026-12-01T10:00:00Z".parse().unwrap_or_default(),
            description: None,
        }
    }

    #[test]
    fn only_approved_versions_with_an_approval_on_record_serve() {
        let ana = [approval("ana")];
        let serve = |by: &str| Decision::Serve {
            approved_by: by.to_owned(),
        };
        #[rustfmt::skip]
        let table: [(&str, &str, &[Approval], Decision); 6] = [
            ("Approved", "Approved",              &[],   serve("model-gate")),
            ("Approved", "PendingManualApproval", &ana,  serve("ana")),
            ("Approved", "PendingManualApproval", &[],   Decision::Refuse("the gate held it for a person and no signed approval of it exists".into())),
            ("Approved", "Rejected",              &ana,  Decision::Refuse("the gate's decision in its lineage record is Rejected".into())),
            ("PendingManualApproval", "PendingManualApproval", &[], Decision::Ignore("it is PendingManualApproval now: only Approved versions serve".into())),
            ("Rejected", "Approved",              &[],   Decision::Ignore("it is Rejected now: only Approved versions serve".into())),
        ];
        for (status, gate_decision, approvals, expected) in table {
            let got = decide(Facts {
                status,
                gate_decision,
                approvals,
            });
            assert_eq!(got, expected, "{status} / {gate_decision}");
        }
    }
}
