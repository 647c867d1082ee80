//! What arrives from the topic, read into what a chat message says. A notice of the project's format (the
//! custom-notification JSON every non-e-mail subscriber receives) gives its title, text, severity, kind, runbook
//! and details; the notifier's fallback alarm arrives in CloudWatch's own JSON; anything else a person published
//! is shown as text. Nothing here fails: a message that cannot be read is still forwarded, as what it is.

use guardrails_core::notice::cut;
use guardrails_core::{NoticeKind, Severity};
use serde_json::Value;

/// The longest text taken from a message that is not in the notice format.
const MAX_RAW_CHARS: usize = 3_000;

/// What one message says, whatever its format.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// How urgent (the `severity` attribute; else what the message says; else warning).
    pub severity: Severity,
    /// The notice kind, when the message names one.
    pub kind: Option<NoticeKind>,
    /// One line.
    pub title: String,
    /// What happened and what to do (markdown, as the notice's description).
    pub text: String,
    /// The runbook section, when known.
    pub runbook: Option<String>,
    /// The notice's details as JSON text, when it has them.
    pub details: Option<String>,
}

/// Reads one SNS message: its subject, body and the `severity` and `kind` attributes, if any.
pub fn read(
    subject: Option<&str>,
    message: &str,
    severity: Option<&str>,
    kind: Option<&str>,
) -> Incoming {
    let severity = severity.and_then(parse_severity);
    let kind = kind.and_then(parse_kind);
    let json: Option<Value> = serde_json::from_str(message).ok();
    match json {
        Some(notice) if notice["source"] == "custom" && notice["content"]["title"].is_string() => {
            from_notice(&notice, severity, kind)
        }
        Some(alarm) if alarm["AlarmName"].is_string() && alarm["NewStateValue"].is_string() => {
            from_alarm(&alarm, severity)
        }
        _ => Incoming {
            severity: severity.unwrap_or(Severity::Warning),
            kind,
            title: subject
                .filter(|s| !s.trim().is_empty())
                .unwrap_or("Message on the notice topic")
                .to_owned(),
            text: cut(message.trim(), MAX_RAW_CHARS),
            runbook: kind.map(NoticeKind::runbook),
            details: None,
        },
    }
}

fn parse_severity(text: &str) -> Option<Severity> {
    serde_json::from_value(Value::String(text.to_owned())).ok()
}

fn parse_kind(text: &str) -> Option<NoticeKind> {
    serde_json::from_value(Value::String(text.to_owned())).ok()
}

fn text_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// A notice of the project's format (`schemas/notice.schema.json`).
fn from_notice(notice: &Value, severity: Option<Severity>, kind: Option<NoticeKind>) -> Incoming {
    let context = "/metadata/additionalContext";
    let severity = severity
        .or_else(|| text_at(notice, &format!("{context}/severity")).and_then(parse_severity))
        .unwrap_or(Severity::Warning);
    let kind = kind.or_else(|| text_at(notice, &format!("{context}/kind")).and_then(parse_kind));
    let title = text_at(notice, "/content/title").unwrap_or_default();
    // The title is the e-mail subject, "[SEVERITY] …": the chat message shows the severity its own way.
    let tag = format!("[{}] ", severity.as_str().to_uppercase());
    Incoming {
        severity,
        kind,
        title: title.strip_prefix(&tag).unwrap_or(title).to_owned(),
        text: text_at(notice, "/content/description")
            .unwrap_or_default()
            .to_owned(),
        runbook: text_at(notice, &format!("{context}/runbook"))
            .map(str::to_owned)
            .or_else(|| kind.map(NoticeKind::runbook)),
        details: text_at(notice, &format!("{context}/details"))
            .filter(|d| !matches!(*d, "{}" | "null"))
            .map(str::to_owned),
    }
}

/// An alarm action's own message: only the notifier's errors alarm publishes one (when the notifier fails,
/// nothing else can say so).
fn from_alarm(alarm: &Value, severity: Option<Severity>) -> Incoming {
    let name = alarm["AlarmName"].as_str().unwrap_or_default();
    let state = alarm["NewStateValue"].as_str().unwrap_or_default();
    let firing = state == "ALARM";
    let kind = NoticeKind::FunctionFailing;
    let mut text = String::new();
    for field in ["AlarmDescription", "NewStateReason"] {
        if let Some(line) = alarm[field].as_str().filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push('\n');
        }
    }
    Incoming {
        severity: severity.unwrap_or(if firing {
            Severity::Critical
        } else {
            Severity::Info
        }),
        kind: Some(kind),
        title: format!("Alarm {name} is {state}"),
        text: cut(text.trim_end(), MAX_RAW_CHARS),
        runbook: Some(kind.runbook()),
        details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails_core::Notice;

    fn notice() -> Notice {
        Notice {
            severity: Severity::Critical,
            kind: NoticeKind::DeadLetters,
            title: "Events wait in a dead-letter queue".into(),
            body: "3 events could not be delivered.".into(),
            details: serde_json::json!({"queue": "p-events-dlq", "depth": 3}),
        }
    }

    #[test]
    fn reads_each_format_as_what_it_is() {
        let chat = notice().chat().to_string();
        let alarm = serde_json::json!({
            "AlarmName": "p-notifier-errors", "NewStateValue": "ALARM",
            "AlarmDescription": "notifier failed invocations", "NewStateReason": "Threshold crossed",
        })
        .to_string();
        let ok = alarm.replace("\"ALARM\"", "\"OK\"");
        // (subject, message, severity attribute, kind attribute) → (severity, kind, title, text starts with)
        let cases = [
            (
                None,
                chat.as_str(),
                Some("critical"),
                Some("dead-letters"),
                (
                    Severity::Critical,
                    Some(NoticeKind::DeadLetters),
                    "Events wait in a dead-letter queue",
                    "3 events",
                ),
            ),
            // Attributes lost on the way: the notice itself says.
            (
                None,
                chat.as_str(),
                None,
                None,
                (
                    Severity::Critical,
                    Some(NoticeKind::DeadLetters),
                    "Events wait in a dead-letter queue",
                    "3 events",
                ),
            ),
            (
                Some("ALARM: p-notifier-errors"),
                alarm.as_str(),
                None,
                None,
                (
                    Severity::Critical,
                    Some(NoticeKind::FunctionFailing),
                    "Alarm p-notifier-errors is ALARM",
                    "notifier failed",
                ),
            ),
            (
                None,
                ok.as_str(),
                None,
                None,
                (
                    Severity::Info,
                    Some(NoticeKind::FunctionFailing),
                    "Alarm p-notifier-errors is OK",
                    "notifier failed",
                ),
            ),
            (
                Some("hello"),
                "a test message",
                Some("info"),
                Some("no-such-kind"),
                (Severity::Info, None, "hello", "a test message"),
            ),
            (
                None,
                "{\"not\": \"ours\"}",
                Some("loud"),
                None,
                (
                    Severity::Warning,
                    None,
                    "Message on the notice topic",
                    "{\"not\"",
                ),
            ),
        ];
        for (subject, message, severity, kind, want) in cases {
            let got = read(subject, message, severity, kind);
            assert_eq!(
                (got.severity, got.kind, got.title.as_str()),
                (want.0, want.1, want.2),
                "{message}"
            );
            assert!(got.text.starts_with(want.3), "{message}: {}", got.text);
        }
    }

    #[test]
    fn a_notice_keeps_its_runbook_and_details() {
        let got = read(None, &notice().chat().to_string(), None, None);
        assert_eq!(got.runbook, Some(NoticeKind::DeadLetters.runbook()));
        let details: Value = serde_json::from_str(got.details.as_deref().unwrap()).unwrap();
        assert_eq!(details["depth"], 3);
        let huge = "x".repeat(10_000);
        assert_eq!(
            read(None, &huge, None, None).text.chars().count(),
            MAX_RAW_CHARS
        );
    }
}
