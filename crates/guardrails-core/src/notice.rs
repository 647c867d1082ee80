//! Notices: every human-facing alert goes to one SNS topic, with `severity` and `kind` message attributes so
//! subscribers can filter (e.g. page only on `critical`). Each is published with `MessageStructure: json`: e-mail
//! gets the readable message, SMS the one-line subject, and every other protocol (SQS, Lambda, HTTPS, Amazon Q
//! Developer in chat applications) the default: a custom notification in Amazon Q Developer's format, version
//! [`FORMAT_VERSION`] of `schemas/notice.schema.json`, which a Slack or Teams channel shows without code.

use aws_sdk_sns::types::MessageAttributeValue;
use serde::{Deserialize, Serialize};

use crate::error::AwsError;

/// SNS subjects must be under 100 characters, one line, no control characters.
const MAX_SUBJECT_CHARS: usize = 99;

/// SNS messages may be 256 KiB, all protocols' messages together: the e-mail message takes most, the chat
/// notification's description and details a bounded share.
const MAX_MESSAGE_BYTES: usize = 200 * 1024;
/// The chat notification's description (Amazon Q Developer shows a few thousand characters).
const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// The chat notification's details, as JSON text.
const MAX_CHAT_DETAILS_BYTES: usize = 16 * 1024;
/// What SNS takes in one message, all protocols' together, with a margin for the envelope.
const MAX_SNS_BYTES: usize = 250 * 1024;
/// The notice format's version (`metadata.additionalContext.noticeVersion`).
pub const FORMAT_VERSION: &str = "1";

/// How urgent a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record: a recovery, a routine action.
    Info,
    /// Needs a look soon: a quarantined dataset, spend near budget.
    Warning,
    /// Needs action now: a rollback with no target, spend over budget.
    Critical,
}

impl Severity {
    /// The attribute value and subject tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where the runbooks are: the README of the project's repository (`repository` in the workspace's Cargo.toml, so
/// a fork that changes it links its own), each kind's section by its anchor.
pub const RUNBOOKS: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/README.md");

/// What a notice is about: the `kind` attribute subscribers filter on, and the runbook section it links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An upload broke the dataset contract and was quarantined (validate-ingest).
    DatasetQuarantined,
    /// The share of quarantined uploads passed its alarm's limit.
    QuarantineRate,
    /// Someone changed the dataset contract parameter.
    ContractChanged,
    /// One of the project's SageMaker, Glue or Batch jobs failed.
    JobFailed,
    /// Training or processing jobs have used nearly all their memory for a while.
    JobSaturated,
    /// A training workflow execution failed, timed out or was aborted.
    WorkflowFailed,
    /// Workflow executions keep failing (the training or hourly-monitor workflow's alarm).
    WorkflowFailing,
    /// A model package's approval changed (a pending one waits for a person).
    ModelPackageStatus,
    /// model-gate rejected a trained model: nothing was registered.
    ModelRejected,
    /// A model version now serves.
    ModelDeployed,
    /// The deploy path refused a request.
    DeployRefused,
    /// What serves is no longer Approved.
    ServingNotApproved,
    /// A real-time release was undone.
    ReleaseUndone,
    /// batch-launcher refused a batch.
    BatchRefused,
    /// Training or deploy refused an image: its scan has findings at or above the limit, or no finished scan.
    ImageRefused,
    /// Input data moved away from the training baseline.
    DriftDataDrift,
    /// Model quality against ground truth fell.
    DriftModelQuality,
    /// A bias metric drifted.
    DriftBias,
    /// Feature attribution drifted.
    DriftFeatureAttribution,
    /// Prediction confidence or the label mix moved.
    DriftPredictionQuality,
    /// A drift alarm drift-handler cannot classify.
    DriftUnknown,
    /// A drift alarm went back to OK.
    DriftRecovered,
    /// Spend reached the warning share of a budget.
    BudgetNear,
    /// Spend passed a budget.
    BudgetOver,
    /// cost-guard stopped (or would stop) jobs over the hard limit.
    CostEnforcement,
    /// The daily-cost alarm.
    CostOverBudget,
    /// A function fails or is throttled.
    FunctionFailing,
    /// Messages wait in a dead-letter queue.
    DeadLetters,
    /// The real-time endpoint errs or is slow.
    EndpointUnhealthy,
    /// A stage that should have run did not (a heartbeat alarm).
    PipelineSilent,
    /// The posture audit found new weaknesses in the live account, or saw some fixed.
    PostureFinding,
    /// A feature-engineering or clustering run moved past a limit against the stage's previous run.
    StageBreach,
    /// A stage report was refused: not JSON, or not the contract.
    StageReportInvalid,
    /// An alarm of the project the notifier has no kind for.
    AlarmUnclassified,
}

impl Kind {
    /// Every kind, in declaration order (the schema's `kind` enum and the README's runbooks are checked against
    /// it).
    pub const ALL: [Kind; 34] = [
        Kind::DatasetQuarantined,
        Kind::QuarantineRate,
        Kind::ContractChanged,
        Kind::JobFailed,
        Kind::JobSaturated,
        Kind::WorkflowFailed,
        Kind::WorkflowFailing,
        Kind::ModelPackageStatus,
        Kind::ModelRejected,
        Kind::ModelDeployed,
        Kind::DeployRefused,
        Kind::ServingNotApproved,
        Kind::ReleaseUndone,
        Kind::BatchRefused,
        Kind::ImageRefused,
        Kind::DriftDataDrift,
        Kind::DriftModelQuality,
        Kind::DriftBias,
        Kind::DriftFeatureAttribution,
        Kind::DriftPredictionQuality,
        Kind::DriftUnknown,
        Kind::DriftRecovered,
        Kind::BudgetNear,
        Kind::BudgetOver,
        Kind::CostEnforcement,
        Kind::CostOverBudget,
        Kind::FunctionFailing,
        Kind::DeadLetters,
        Kind::EndpointUnhealthy,
        Kind::PipelineSilent,
        Kind::PostureFinding,
        Kind::StageBreach,
        Kind::StageReportInvalid,
        Kind::AlarmUnclassified,
    ];

    /// The kebab-case name: the `kind` message attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DatasetQuarantined => "dataset-quarantined",
            Kind::QuarantineRate => "quarantine-rate",
            Kind::ContractChanged => "contract-changed",
            Kind::JobFailed => "job-failed",
            Kind::JobSaturated => "job-saturated",
            Kind::WorkflowFailed => "workflow-failed",
            Kind::WorkflowFailing => "workflow-failing",
            Kind::ModelPackageStatus => "model-package-status",
            Kind::ModelRejected => "model-rejected",
            Kind::ModelDeployed => "model-deployed",
            Kind::DeployRefused => "deploy-refused",
            Kind::ServingNotApproved => "serving-not-approved",
            Kind::ReleaseUndone => "release-undone",
            Kind::BatchRefused => "batch-refused",
            Kind::ImageRefused => "image-refused",
            Kind::DriftDataDrift => "drift-data-drift",
            Kind::DriftModelQuality => "drift-model-quality",
            Kind::DriftBias => "drift-bias",
            Kind::DriftFeatureAttribution => "drift-feature-attribution",
            Kind::DriftPredictionQuality => "drift-prediction-quality",
            Kind::DriftUnknown => "drift-unknown",
            Kind::DriftRecovered => "drift-recovered",
            Kind::BudgetNear => "budget-near",
            Kind::BudgetOver => "budget-over",
            Kind::CostEnforcement => "cost-enforcement",
            Kind::CostOverBudget => "cost-over-budget",
            Kind::FunctionFailing => "function-failing",
            Kind::DeadLetters => "dead-letters",
            Kind::EndpointUnhealthy => "endpoint-unhealthy",
            Kind::PipelineSilent => "pipeline-silent",
            Kind::PostureFinding => "posture-finding",
            Kind::StageBreach => "stage-breach",
            Kind::StageReportInvalid => "stage-report-invalid",
            Kind::AlarmUnclassified => "alarm-unclassified",
        }
    }

    /// The README section with its runbook (a heading `#### Notice: <section>` under "Runbooks", whose anchor is
    /// `notice-<section>`); related kinds share one.
    pub fn runbook_section(self) -> &'static str {
        match self {
            Kind::DatasetQuarantined | Kind::QuarantineRate => "dataset-quarantined",
            Kind::DriftDataDrift
            | Kind::DriftBias
            | Kind::DriftFeatureAttribution
            | Kind::DriftPredictionQuality
            | Kind::DriftUnknown
            | Kind::DriftRecovered => "drift",
            Kind::BudgetNear | Kind::BudgetOver | Kind::CostEnforcement | Kind::CostOverBudget => {
                "cost"
            }
            Kind::ModelDeployed
            | Kind::DeployRefused
            | Kind::ServingNotApproved
            | Kind::ReleaseUndone
            | Kind::BatchRefused => "deploy",
            Kind::WorkflowFailed | Kind::WorkflowFailing | Kind::JobFailed | Kind::JobSaturated => {
                "job-failed"
            }
            Kind::ModelRejected => "model-package-status",
            Kind::StageBreach | Kind::StageReportInvalid => "stage-report",
            other => other.as_str(),
        }
    }

    /// The runbook's address.
    pub fn runbook(self) -> String {
        format!("{RUNBOOKS}#notice-{}", self.runbook_section())
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notice: a one-line title, a human-readable body, and the machine-readable facts behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// How urgent.
    pub severity: Severity,
    /// What happened: the `kind` attribute subscribers filter on, and the runbook the notice links.
    pub kind: Kind,
    /// One line; becomes the e-mail subject (cut to fit SNS rules).
    pub title: String,
    /// A few sentences for a person: what happened, what was done, what to do.
    pub body: String,
    /// The facts as JSON (ids, numbers, links), appended to the message.
    pub details: serde_json::Value,
}

impl Notice {
    /// The SNS subject: `[SEVERITY] title`, one line, no control characters, under 100 characters.
    pub fn subject(&self) -> String {
        let raw = format!("[{}] {}", self.severity.as_str().to_uppercase(), self.title);
        let one_line = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>();
        let words: Vec<&str> = one_line.split_whitespace().collect();
        cut(&words.join(" "), MAX_SUBJECT_CHARS)
    }

    /// The SNS message: the body, then the details as pretty JSON, within the SNS size limit.
    pub fn message(&self) -> String {
        self.message_within(MAX_MESSAGE_BYTES)
    }

    /// [`Notice::message`] in at most about `max_bytes`.
    fn message_within(&self, max_bytes: usize) -> String {
        let details =
            serde_json::to_string_pretty(&self.details).unwrap_or_else(|_| "{}".to_owned());
        let mut message = format!(
            "{}\n\nRunbook: {}\n\nDetails (JSON):\n{details}\n",
            self.body.trim_end(),
            self.kind.runbook()
        );
        if message.len() > max_bytes {
            let mut end = max_bytes;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("\n[truncated: the message exceeded the SNS size limit]\n");
        }
        message
    }

    /// The default message: a custom notification in Amazon Q Developer in chat applications' format (`version`
    /// 1.0, `source` custom), with the project's facts in `metadata` (every `additionalContext` value a string, as
    /// the format requires).
    pub fn chat(&self) -> serde_json::Value {
        let details = serde_json::to_string(&self.details).unwrap_or_else(|_| "{}".to_owned());
        serde_json::json!({
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": self.subject(),
                "description": cut(self.body.trim_end(), MAX_DESCRIPTION_CHARS),
                "keywords": [self.severity.as_str(), self.kind.as_str()],
            },
            "metadata": {
                "summary": self.subject(),
                "eventType": self.kind.as_str(),
                "additionalContext": {
                    "noticeVersion": FORMAT_VERSION,
                    "severity": self.severity.as_str(),
                    "kind": self.kind.as_str(),
                    "runbook": self.kind.runbook(),
                    "details": cut_bytes(&details, MAX_CHAT_DETAILS_BYTES),
                },
            },
        })
    }

    /// The message SNS takes with `MessageStructure: json`: the chat notification by default, the readable
    /// message for e-mail, the subject for SMS.
    pub fn structured(&self) -> String {
        let chat = self.chat().to_string();
        // JSON escaping can double a message full of quotes: the e-mail message shrinks until all fit.
        let mut budget = MAX_MESSAGE_BYTES;
        loop {
            let structured = serde_json::json!({
                "default": chat,
                "email": self.message_within(budget),
                "sms": self.subject(),
            })
            .to_string();
            if structured.len() <= MAX_SNS_BYTES || budget < 1024 {
                return structured;
            }
            budget = budget / 4 * 3;
        }
    }
}

/// At most `max` bytes of `text`, cut on a character boundary (the chat notification's details).
fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// At most `max` characters of `text`, cut on a character boundary with an ellipsis: for subjects, registry
/// descriptions and other fields with a length limit.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A notice's machine-readable details from any serializable value. A value that cannot be serialized (a map
/// with non-string keys, a failing `Serialize`) must not cost the notice itself: the details then say why they
/// are missing, and the failure is logged, instead of an empty object that looks like "nothing to say".
pub fn details(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_else(|error| {
        tracing::warn!(%error, "notice details could not be serialized");
        serde_json::json!({ "detailsError": error.to_string() })
    })
}

/// Publishes notices to the project's SNS topic.
#[derive(Debug, Clone)]
pub struct Notifier {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    /// A notifier for one topic, with a client built from the shared SDK config.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self::new(aws_sdk_sns::Client::new(sdk), topic_arn)
    }

    /// A notifier for one topic.
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Notifier {
            sns,
            topic_arn: topic_arn.into(),
        }
    }

    /// Publishes the notice; returns the SNS message id.
    ///
    /// # Errors
    /// The classified SNS error.
    pub async fn send(&self, notice: &Notice) -> Result<String, AwsError> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError::from_code("Publish", &self.topic_arn, None, e.to_string()))
        };
        let request = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notice.subject())
            .message_structure("json")
            .message(notice.structured())
            .message_attributes("severity", attribute(notice.severity.as_str())?)
            .message_attributes("kind", attribute(notice.kind.as_str())?);
        let output = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", &self.topic_arn, e))?;
        tracing::info!(
            kind = notice.kind.as_str(),
            severity = notice.severity.as_str(),
            "notice sent"
        );
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_has_its_runbook_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for kind in Kind::ALL {
            let heading = format!("\n#### Notice: {}\n", kind.runbook_section());
            assert!(
                readme.contains(&heading),
                "{kind}: no {heading:?} in README.md"
            );
        }
    }

    #[test]
    fn cut_keeps_short_text_and_cuts_on_characters() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ááááá", 3), "áá…");
    }

    #[test]
    fn unserializable_details_say_so_instead_of_vanishing() {
        let mut by_pair = std::collections::HashMap::new();
        by_pair.insert((1, 2), "a map with non-string keys");
        let got = details(&by_pair);
        assert!(
            got["detailsError"]
                .as_str()
                .is_some_and(|e| e.contains("key must be a string")),
            "{got}"
        );
        assert_eq!(details(&serde_json::json!({"rows": 3}))["rows"], 3);
    }

    fn notice(title: &str) -> Notice {
        Notice {
            severity: Severity::Warning,
            kind: Kind::DatasetQuarantined,
            title: title.into(),
            body: "Body.".into(),
            details: serde_json::json!({"rows": 3}),
        }
    }

    #[test]
    fn subject_is_one_line_without_control_characters() {
        let subject = notice("Dataset\nquarantined:\t tickets\u{7}.csv").subject();
        assert_eq!(subject, "[WARNING] Dataset quarantined: tickets .csv");
    }

    #[test]
    fn long_subject_is_cut_below_100_characters_on_char_boundaries() {
        let subject = notice(&"facturación ".repeat(20)).subject();
        assert_eq!(subject.chars().count(), 99);
        assert!(subject.ends_with('…'));
        assert!(subject.starts_with("[WARNING] facturación"));
    }

    #[test]
    fn message_has_body_then_parsable_json() {
        let message = notice("t").message();
        let (body, json) = message.split_once("Details (JSON):\n").unwrap();
        assert_eq!(
            body,
            format!("Body.\n\nRunbook: {RUNBOOKS}#notice-dataset-quarantined\n\n")
        );
        let details: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(details["rows"], 3);
    }

    #[test]
    fn every_protocol_gets_its_message_and_chat_gets_the_custom_notification_format() {
        let mut n = notice("Dataset quarantined: tickets.csv");
        n.details = serde_json::json!({"rows": 3, "reasons": ["unknown_label: 2 rows"]});
        let structured: serde_json::Value = serde_json::from_str(&n.structured()).unwrap();
        assert_eq!(structured["email"], n.message());
        assert_eq!(structured["sms"], n.subject());
        let chat: serde_json::Value =
            serde_json::from_str(structured["default"].as_str().unwrap()).unwrap();
        assert_eq!(
            (&chat["version"], &chat["source"]),
            (&json!("1.0"), &json!("custom"))
        );
        assert_eq!(
            chat["content"]["title"],
            "[WARNING] Dataset quarantined: tickets.csv"
        );
        assert_eq!(chat["content"]["description"], "Body.");
        let context = &chat["metadata"]["additionalContext"];
        assert_eq!(
            (
                &context["severity"],
                &context["kind"],
                &context["noticeVersion"]
            ),
            (
                &json!("warning"),
                &json!("dataset-quarantined"),
                &json!(FORMAT_VERSION)
            )
        );
        let details: serde_json::Value =
            serde_json::from_str(context["details"].as_str().unwrap()).unwrap();
        assert_eq!(details["rows"], 3);
    }

    #[test]
    fn a_huge_notice_stays_within_the_sns_limit_for_all_protocols_together() {
        let mut n = notice("t");
        n.body = "\"ñ\n".repeat(100_000);
        n.details = serde_json::json!({"blob": "\"é".repeat(MAX_MESSAGE_BYTES)});
        let structured = n.structured();
        assert!(structured.len() <= MAX_SNS_BYTES, "{}", structured.len());
        let parsed: serde_json::Value = serde_json::from_str(&structured).unwrap();
        let chat: serde_json::Value =
            serde_json::from_str(parsed["default"].as_str().unwrap()).unwrap();
        assert_eq!(
            chat["content"]["description"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            MAX_DESCRIPTION_CHARS
        );
    }

    #[test]
    fn oversized_message_is_truncated_within_the_limit() {
        let mut n = notice("t");
        n.details = serde_json::json!({"blob": "é".repeat(MAX_MESSAGE_BYTES)});
        let message = n.message();
        assert!(message.len() < 256 * 1024);
        assert!(message.ends_with("[truncated: the message exceeded the SNS size limit]\n"));
    }
}
