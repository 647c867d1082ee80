//! The gate's verdict: plain Rust over the job's final metrics and the champion's, no AWS types.

use serde::{Deserialize, Serialize};

/// The registry approval status a verdict asks for (SageMaker's `ModelApprovalStatus` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Deployable now (auto-approval on, every check passed).
    Approved,
    /// Every hard check passed; a person approves or rejects it in the registry.
    PendingManualApproval,
    /// Failed a check; registered nowhere.
    Rejected,
}

impl Decision {
    /// The registry's name for it (also the `Decision` metric dimension and the serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "Approved",
            Decision::PendingManualApproval => "PendingManualApproval",
            Decision::Rejected => "Rejected",
        }
    }
}

/// One reported metric, by the name the training job reports it under.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Metric name, e.g. `validation:weighted_f1`.
    pub name: String,
    /// Its final value, if the job reported it.
    pub value: Option<f64>,
}

impl Score {
    /// A named score.
    pub fn new(name: impl Into<String>, value: Option<f64>) -> Self {
        Score {
            name: name.into(),
            value,
        }
    }
}

/// The candidate's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Validation F1 (weighted for multiclass text classification).
    pub f1: Score,
    /// Validation accuracy.
    pub accuracy: Score,
    /// Training F1, for the overfitting gap.
    pub train_f1: Score,
}

/// The newest Approved package in the group.
#[derive(Debug, Clone, PartialEq)]
pub struct Champion {
    /// Its ARN.
    pub package_arn: String,
    /// Its validation F1 as recorded at registration, if it was.
    pub f1: Option<f64>,
}

/// The gate's thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Minimum validation F1.
    pub min_f1: f64,
    /// Minimum validation accuracy.
    pub min_accuracy: f64,
    /// Largest allowed train − validation F1.
    pub max_overfit_gap: f64,
    /// How much worse than the champion's F1 a candidate may be.
    pub champion_tolerance: f64,
    /// Approve without a person when every check passed (a staging setting).
    pub auto_approve: bool,
}

/// The verdict with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// What to register.
    pub decision: Decision,
    /// Why not approved (failed checks, or what kept a person in the loop); empty when approved.
    pub reasons: Vec<String>,
    /// The checks that passed, for the registry description and the notice.
    pub passed: Vec<String>,
    /// Train − validation F1, when both were reported.
    pub overfit_gap: Option<f64>,
}

/// Judges a candidate: below a threshold, overfitting, or worse than the champion beyond the tolerance →
/// Rejected. What cannot be checked (no training F1, a champion without a recorded F1) or auto-approval off →
/// PendingManualApproval. Otherwise Approved.
pub fn judge(candidate: &Candidate, champion: Option<&Champion>, t: &Thresholds) -> Verdict {
    let mut findings = Findings::default();
    let f1 = findings.floor(&candidate.f1, t.min_f1);
    findings.floor(&candidate.accuracy, t.min_accuracy);
    let overfit_gap = findings.overfitting(candidate, f1, t.max_overfit_gap);
    findings.versus_champion(candidate, champion, f1, t.champion_tolerance);
    findings.verdict(t.auto_approve, overfit_gap)
}

/// What the checks found so far, each in the order the checks ran.
#[derive(Default)]
struct Findings {
    /// Failed checks: any one rejects.
    rejections: Vec<String>,
    /// What could not be checked: keeps a person in the loop.
    doubts: Vec<String>,
    passed: Vec<String>,
}

impl Findings {
    /// Checks a score against its minimum; its value when it is a reported number, to compare further.
    fn floor(&mut self, score: &Score, min: f64) -> Option<f64> {
        match score.value {
            Some(v) if !v.is_finite() => {
                self.rejections
                    .push(format!("{} is not a number ({v})", score.name));
                None
            }
            Some(v) if v < min => {
                self.rejections.push(format!(
                    "{} {v:.4} is below the minimum {min:.4}",
                    score.name
                ));
                Some(v)
            }
            Some(v) => {
                self.passed
                    .push(format!("{} {v:.4} ≥ {min:.4}", score.name));
                Some(v)
            }
            None => {
                self.rejections
                    .push(format!("the job did not report {}", score.name));
                None
            }
        }
    }

    /// Checks train − validation F1 against `max_gap`, a doubt when training F1 was not reported; the gap.
    fn overfitting(&mut self, candidate: &Candidate, f1: Option<f64>, max_gap: f64) -> Option<f64> {
        match (candidate.train_f1.value.filter(|v| v.is_finite()), f1) {
            (Some(train), Some(validation)) => {
                let gap = train - validation;
                if gap > max_gap {
                    self.rejections.push(format!(
                        "overfitting: {} {train:.4} − {} {validation:.4} = {gap:.4} exceeds {max_gap:.4}",
                        candidate.train_f1.name, candidate.f1.name
                    ));
                } else {
                    self.passed
                        .push(format!("overfit gap {gap:.4} ≤ {max_gap:.4}"));
                }
                Some(gap)
            }
            (None, _) => {
                self.doubts.push(format!(
                    "overfitting not checked: the job did not report {}",
                    candidate.train_f1.name
                ));
                None
            }
            (Some(_), None) => None,
        }
    }

    /// Compares validation F1 with the champion's, within `tolerance`; a doubt when the champion has none.
    fn versus_champion(
        &mut self,
        candidate: &Candidate,
        champion: Option<&Champion>,
        f1: Option<f64>,
        tolerance: f64,
    ) {
        match (champion, f1) {
            (None, _) => self
                .passed
                .push("no approved champion to compare with".to_owned()),
            (Some(c), Some(f1)) => match c.f1 {
                Some(best) if f1 < best - tolerance => self.rejections.push(format!(
                    "worse than the champion {}: {} {f1:.4} < {best:.4} − {tolerance:.4}",
                    c.package_arn, candidate.f1.name
                )),
                Some(best) => self.passed.push(format!(
                    "{} {f1:.4} vs champion {best:.4} (tolerance {tolerance:.4})",
                    candidate.f1.name
                )),
                None => self.doubts.push(format!(
                    "champion {} has no recorded {}: not compared",
                    c.package_arn, candidate.f1.name
                )),
            },
            (Some(_), None) => {}
        }
    }

    /// The decision: any rejection rejects; else auto-approval off or a doubt asks a person; else approved.
    fn verdict(mut self, auto_approve: bool, overfit_gap: Option<f64>) -> Verdict {
        let decision = if !self.rejections.is_empty() {
            Decision::Rejected
        } else if !auto_approve {
            self.doubts
                .push("auto-approval is off: a person approves in the model registry".to_owned());
            Decision::PendingManualApproval
        } else if !self.doubts.is_empty() {
            Decision::PendingManualApproval
        } else {
            Decision::Approved
        };
        let mut reasons = self.rejections;
        if decision != Decision::Rejected {
            reasons.extend(self.doubts);
        }
        Verdict {
            decision,
            reasons,
            passed: self.passed,
            overfit_gap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_named_as_the_registry_and_serde_name_it() {
        for decision in [
            Decision::Approved,
            Decision::PendingManualApproval,
            Decision::Rejected,
        ] {
            let serialized = serde_json::to_value(decision).unwrap();
            assert_eq!(serialized, decision.as_str());
            assert!(
                aws_sdk_sagemaker::types::ModelApprovalStatus::values()
                    .contains(&decision.as_str()),
                "{decision:?}"
            );
        }
    }

    fn candidate(f1: Option<f64>, accuracy: Option<f64>, train_f1: Option<f64>) -> Candidate {
        Candidate {
            f1: Score::new("validation:weighted_f1", f1),
            accuracy: Score::new("validation:accuracy", accuracy),
            train_f1: Score::new("train:weighted_f1", train_f1),
        }
    }

    fn champion(f1: Option<f64>) -> Champion {
        Champion {
            package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets/3".into(),
            f1,
        }
    }

    /// case, candidate, champion, thresholds, expected decision, reason fragments.
    type Row<'a> = (
        &'a str,
        Candidate,
        Option<&'a Champion>,
        &'a Thresholds,
        Decision,
        &'a [&'a str],
    );

    #[test]
    fn verdict_table() {
        use Decision::*;
        let auto = Thresholds {
            min_f1: 0.80,
            min_accuracy: 0.80,
            max_overfit_gap: 0.05,
            champion_tolerance: 0.01,
            auto_approve: true,
        };
        let manual = Thresholds {
            auto_approve: false,
            ..auto.clone()
        };
        let (good, best, no_f1) = (champion(Some(0.86)), champion(Some(0.95)), champion(None));
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            ("all good, no champion",        candidate(Some(0.87), Some(0.88), Some(0.90)), None,          &auto,   Approved, &[]),
            ("all good, beats champion",     candidate(Some(0.87), Some(0.88), Some(0.90)), Some(&good),   &auto,   Approved, &[]),
            ("within the tolerance",         candidate(Some(0.851), Some(0.88), Some(0.86)), Some(&good),  &auto,   Approved, &[]),
            ("exactly at the minimum",       candidate(Some(0.80), Some(0.80), Some(0.85)), None,          &auto,   Approved, &[]),
            ("auto-approval off",            candidate(Some(0.87), Some(0.88), Some(0.90)), Some(&good),   &manual, PendingManualApproval, &["auto-approval is off"]),
            ("F1 below minimum",             candidate(Some(0.76), Some(0.88), Some(0.78)), None,          &auto,   Rejected, &["validation:weighted_f1 0.7600 is below the minimum 0.8000"]),
            ("accuracy below minimum",       candidate(Some(0.85), Some(0.79), Some(0.86)), None,          &auto,   Rejected, &["validation:accuracy 0.7900 is below"]),
            ("overfitting",                  candidate(Some(0.82), Some(0.85), Some(0.95)), None,          &auto,   Rejected, &["overfitting: train:weighted_f1 0.9500 − validation:weighted_f1 0.8200 = 0.1300 exceeds 0.0500"]),
            ("worse than the champion",      candidate(Some(0.85), Some(0.88), Some(0.86)), Some(&best),   &auto,   Rejected, &["worse than the champion arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets/3"]),
            ("several failures, all named",  candidate(Some(0.70), Some(0.70), Some(0.99)), Some(&best),   &manual, Rejected, &["weighted_f1 0.7000", "accuracy 0.7000", "overfitting", "worse than the champion"]),
            ("F1 not reported",              candidate(None, Some(0.88), Some(0.90)),       Some(&good),   &auto,   Rejected, &["the job did not report validation:weighted_f1"]),
            ("F1 not a number",              candidate(Some(f64::NAN), Some(0.88), Some(0.9)), None,       &auto,   Rejected, &["validation:weighted_f1 is not a number"]),
            ("no train F1: a person decides", candidate(Some(0.87), Some(0.88), None),      None,          &auto,   PendingManualApproval, &["overfitting not checked"]),
            ("champion without F1",          candidate(Some(0.87), Some(0.88), Some(0.90)), Some(&no_f1),  &auto,   PendingManualApproval, &["has no recorded validation:weighted_f1"]),
        ];
        for (case, c, champ, t, expected, reasons) in table {
            let verdict = judge(&c, champ, t);
            assert_eq!(verdict.decision, expected, "{case}: {verdict:?}");
            assert_eq!(
                verdict.reasons.is_empty(),
                reasons.is_empty(),
                "{case}: {verdict:?}"
            );
            for reason in reasons {
                assert!(
                    verdict.reasons.iter().any(|r| r.contains(reason)),
                    "{case}: no reason containing {reason:?} in {:?}",
                    verdict.reasons
                );
            }
        }
    }

    #[test]
    fn gap_and_passed_checks_are_reported() {
        let t = Thresholds {
            min_f1: 0.8,
            min_accuracy: 0.8,
            max_overfit_gap: 0.05,
            champion_tolerance: 0.01,
            auto_approve: true,
        };
        let verdict = judge(
            &candidate(Some(0.87), Some(0.88), Some(0.90)),
            Some(&champion(Some(0.86))),
            &t,
        );
        assert!((verdict.overfit_gap.unwrap() - 0.03).abs() < 1e-9);
        assert_eq!(verdict.passed.len(), 4, "{:?}", verdict.passed);
        assert_eq!(
            serde_json::to_value(Decision::PendingManualApproval).unwrap(),
            "PendingManualApproval"
        );
    }
}
