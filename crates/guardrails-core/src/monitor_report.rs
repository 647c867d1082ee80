//! Where the monitor keeps each hour's report (and the hour's answers, for later runs' late labels) in the state
//! bucket, and what a drift notice tells of one: the
//! violations, each breached check against its baseline and limit, the top drifting tokens, the weighted F1 with
//! its interval and the worst classes. inference-monitor writes the report (its full shape is the `text-monitor`
//! engine's); drift-handler reads these findings back for the notice, so the on-call engineer reads what moved
//! without opening S3.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

/// Where the hourly reports are kept in the state bucket: `<prefix><model>/<yyyy>/<mm>/<dd>/<hh>.json`.
pub const REPORT_PREFIX: &str = "monitor-reports/";

/// The report key of `model`'s hour starting at `hour`.
pub fn report_key(model: &str, hour: DateTime<Utc>) -> String {
    format!("{REPORT_PREFIX}{model}/{}.json", hour.format("%Y/%m/%d/%H"))
}

/// Where the run that judged `model`'s `hour` keeps the hour's answers, for later runs to join late labels to
/// without reading its capture again.
pub fn answers_key(model: &str, hour: DateTime<Utc>) -> String {
    format!(
        "{REPORT_PREFIX}{model}/answers/{}.json",
        hour.format("%Y/%m/%d/%H")
    )
}

/// Where the run that fanned out `model`'s `hour` (too large for one invocation) wrote its plan: the hour's
/// capture files in parts.
pub fn plan_key(model: &str, hour: DateTime<Utc>) -> String {
    format!(
        "{REPORT_PREFIX}{model}/plans/{}.json",
        hour.format("%Y/%m/%d/%H")
    )
}

/// Where the invocation that read part `part` of `model`'s fanned-out `hour` wrote its statistics.
pub fn part_key(model: &str, hour: DateTime<Utc>, part: usize) -> String {
    format!(
        "{REPORT_PREFIX}{model}/parts/{}/{part}.json",
        hour.format("%Y/%m/%d/%H")
    )
}

/// The folder of `model`'s batches that ended on `day`'s date: each keeps its answers in `<job>.json`, for the
/// ground-truth uploads of the label window to join.
pub fn batch_answers_folder(model: &str, day: DateTime<Utc>) -> String {
    format!("{REPORT_PREFIX}{model}/batches/{}/", day.format("%Y/%m/%d"))
}

/// Where the batch `job` of `model` that ended at `ended` keeps its answers (`None` for a job name SageMaker
/// would not give: it must not reach into another key).
pub fn batch_answers_key(model: &str, ended: DateTime<Utc>, job: &str) -> Option<String> {
    let plain = !job.is_empty()
        && job.len() <= 63
        && job.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    plain.then(|| format!("{}{job}.json", batch_answers_folder(model, ended)))
}

/// Where the judgement of `model`'s batches against the ground-truth upload (its bucket, key and version id or
/// ETag) is kept: named by their digest, so any key names one report, a redelivered upload finds it, and the same
/// key uploaded again with more labels is judged again.
pub fn truth_report_key(model: &str, truth_bucket: &str, truth_key: &str, version: &str) -> String {
    let digest =
        crate::lineage::sha256_hex(format!("{truth_bucket}/{truth_key}\n{version}").as_bytes());
    format!("{REPORT_PREFIX}{model}/ground-truth/{digest}.json")
}

/// The hours whose report an alarm that changed state at `since` rests on, newest first: the monitor judges the
/// last complete hour a little after it ends, so the hour before `since`'s, or the one before that when the
/// alarm was evaluated late.
pub fn report_hours(since: DateTime<Utc>) -> [DateTime<Utc>; 2] {
    use chrono::DurationRound;
    let this_hour = since.duration_trunc(TimeDelta::hours(1)).unwrap_or(since);
    [
        this_hour - TimeDelta::hours(1),
        this_hour - TimeDelta::hours(2),
    ]
}

/// How many tokens and classes a notice names.
const NAMED: usize = 5;

/// The findings of a stored hour report (the fields a notice needs; the rest is ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Findings {
    /// The hour judged.
    pub hour: DateTime<Utc>,
    /// What breached.
    #[serde(default)]
    pub violations: Vec<String>,
    /// The report's one line.
    #[serde(default)]
    pub verdict: String,
    /// The weighted F1 the serving version must keep.
    #[serde(default)]
    pub min_f1: Option<f64>,
    /// The engine's report.
    pub report: StoredReport,
}

/// The parts of the engine's report a notice names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredReport {
    /// Input drift.
    pub drift: StoredDrift,
    /// Model quality.
    pub model_quality: StoredModelQuality,
}

/// Input drift as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredDrift {
    /// The checks.
    #[serde(default)]
    pub checks: Vec<StoredCheck>,
    /// The tokens that moved most.
    #[serde(default)]
    pub top_drifting_tokens: Vec<StoredToken>,
}

/// One drift check as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCheck {
    /// Its name.
    pub check: String,
    /// The hour's value.
    pub observed: f64,
    /// The baseline's.
    pub baseline: f64,
    /// The limit.
    pub limit: f64,
    /// Whether it breached.
    pub violation: bool,
}

/// A drifting token as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredToken {
    /// The token.
    pub token: String,
    /// Per ten thousand tokens in training.
    pub baseline_per10k: Option<f64>,
    /// Per ten thousand tokens in the hour.
    pub observed_per10k: Option<f64>,
}

/// Model quality as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredModelQuality {
    /// The figures, when any record was labelled.
    #[serde(default)]
    pub quality: Option<StoredQuality>,
}

/// The labelled figures as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredQuality {
    /// Labelled records.
    pub labelled: u64,
    /// Weighted F1 with its interval.
    pub weighted_f1: StoredInterval,
    /// Per class.
    #[serde(default)]
    pub classes: Vec<StoredClass>,
}

/// An estimate and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct StoredInterval {
    /// The estimate.
    pub estimate: f64,
    /// The lower end.
    pub low: f64,
    /// The upper end.
    pub high: f64,
}

/// A class as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredClass {
    /// The label.
    pub label: String,
    /// Records truly of it.
    pub support: u64,
    /// Its F1.
    pub f1: f64,
}

impl Findings {
    /// A few lines for a person: the verdict, each breached check, the tokens that moved, the F1 and the
    /// worst classes.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "Hour {}: {}",
            self.hour.format("%Y-%m-%d %H:00 UTC"),
            self.verdict
        )];
        for check in self.report.drift.checks.iter().filter(|c| c.violation) {
            lines.push(format!(
                "- {}: {:.3} against {:.3} in training (limit {:.3})",
                check.check, check.observed, check.baseline, check.limit
            ));
        }
        let tokens: Vec<String> = self
            .report
            .drift
            .top_drifting_tokens
            .iter()
            .take(NAMED)
            .map(|t| {
                let per = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}"));
                format!(
                    "{} ({} → {} per 10k)",
                    shown(&t.token),
                    per(t.baseline_per10k),
                    per(t.observed_per10k)
                )
            })
            .collect();
        if !tokens.is_empty() {
            lines.push(format!("- top drifting tokens: {}", tokens.join(", ")));
        }
        if let Some(q) = &self.report.model_quality.quality {
            let f1 = q.weighted_f1;
            let minimum = self
                .min_f1
                .map(|m| format!(", minimum {m:.3}"))
                .unwrap_or_default();
            lines.push(format!(
                "- weighted F1 {:.3} (95% {:.3}–{:.3}) on {} labelled records{minimum}",
                f1.estimate, f1.low, f1.high, q.labelled
            ));
            let mut classes: Vec<&StoredClass> =
                q.classes.iter().filter(|c| c.support > 0).collect();
            classes.sort_by(|a, b| a.f1.total_cmp(&b.f1));
            let worst: Vec<String> = classes
                .iter()
                .take(NAMED)
                .map(|c| format!("{} F1 {:.3} ({} records)", c.label, c.f1, c.support))
                .collect();
            if !worst.is_empty() {
                lines.push(format!("- worst classes: {}", worst.join(", ")));
            }
        }
        lines
    }
}

/// The longest token a notice shows.
const MAX_TOKEN_CHARS: usize = 40;

/// A token as a notice shows it: it comes from callers' texts, so control characters become spaces and a long
/// one is cut.
fn shown(token: &str) -> String {
    let mut shown: String = token
        .chars()
        .take(MAX_TOKEN_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if token.chars().count() > MAX_TOKEN_CHARS {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn batch_keys_stay_under_their_model_and_day() {
        let ended = at("2026-12-02T16:40:00Z");
        assert_eq!(
            batch_answers_key("tickets", ended, "guardrails-batch-1a2b").as_deref(),
            Some("monitor-reports/tickets/batches/2026/12/02/guardrails-batch-1a2b.json")
        );
        for job in ["", "../x", "a/b", "a.json", &"x".repeat(64)] {
            assert_eq!(batch_answers_key("tickets", ended, job), None, "{job}");
        }
        let key = truth_report_key("tickets", "artifacts", "ground-truth/../../x", "v1");
        assert!(
            key.starts_with("monitor-reports/tickets/ground-truth/") && key.len() == 37 + 64 + 5
        );
        for (other_key, other_version) in [("ground-truth/x", "v1"), ("ground-truth/../../x", "v2")]
        {
            assert_ne!(
                key,
                truth_report_key("tickets", "artifacts", other_key, other_version)
            );
        }
    }

    #[test]
    fn keys_and_the_hours_an_alarm_rests_on() {
        assert_eq!(
            report_key("tickets", at("2026-12-02T09:00:00Z")),
            "monitor-reports/tickets/2026/12/02/09.json"
        );
        assert_eq!(
            answers_key("tickets", at("2026-12-02T09:00:00Z")),
            "monitor-reports/tickets/answers/2026/12/02/09.json"
        );
        assert_eq!(
            report_hours(at("2026-12-02T10:21:33.120Z")),
            [at("2026-12-02T09:00:00Z"), at("2026-12-02T08:00:00Z")]
        );
    }

    #[test]
    fn findings_name_what_moved() {
        let stored = serde_json::json!({
            "reportVersion": 1, "model": "tickets", "hour": "2026-12-02T09:00:00Z",
            "violations": ["out-of-vocabulary", "model-quality"], "verdict": "2 violation(s)", "minF1": 0.82,
            "report": {
                "drift": {
                    "texts": 600,
                    "checks": [
                        {"check": "out-of-vocabulary", "observed": 0.61, "baseline": 0.0, "limit": 0.15, "violation": true},
                        {"check": "empty-share", "observed": 0.0, "baseline": 0.0, "limit": 0.05, "violation": false}
                    ],
                    "topDriftingTokens": [{"token": "envio", "baselinePer10k": 1.0, "observedPer10k": 250.0}]
                },
                "modelQuality": {"quality": {
                    "labelled": 904, "accuracy": {"estimate": 0.6, "low": 0.57, "high": 0.63},
                    "weightedF1": {"estimate": 0.61, "low": 0.58, "high": 0.64},
                    "classes": [
                        {"label": "ventas", "support": 200, "f1": 0.7},
                        {"label": "Otros", "support": 100, "f1": 0.4},
                        {"label": "(no readable answer)", "support": 0, "f1": 0.0}
                    ]
                }}
            }
        });
        let findings: Findings = serde_json::from_value(stored).unwrap();
        let lines = findings.lines();
        assert_eq!(
            lines[1..],
            [
                "- out-of-vocabulary: 0.610 against 0.000 in training (limit 0.150)",
                "- top drifting tokens: envio (1.0 → 250.0 per 10k)",
                "- weighted F1 0.610 (95% 0.580–0.640) on 904 labelled records, minimum 0.820",
                "- worst classes: Otros F1 0.400 (100 records), ventas F1 0.700 (200 records)",
            ]
        );
        assert!(lines[0].starts_with("Hour 2026-12-02 09:00 UTC"));
        assert_eq!(
            shown("a\nb\u{7}c"),
            "a b c",
            "no line break from a caller's text"
        );
        assert_eq!(shown(&"x".repeat(50)).chars().count(), 41);
    }
}
