//! A notice as a Slack message: Block Kit blocks (a header with the severity and title, the text, a context
//! line with severity, kind and the runbook and dashboard links, the details) and a plain `text` that Slack shows
//! in notifications and where blocks cannot be shown.

use guardrails_core::Severity;
use guardrails_core::notice::cut;
use serde_json::{Value, json};

use crate::message::Incoming;

/// Slack's limits: a header's text, a section's text.
const MAX_HEADER_CHARS: usize = 150;
const MAX_SECTION_CHARS: usize = 3_000;
/// The details block: room for the code fence.
const MAX_DETAILS_CHARS: usize = MAX_SECTION_CHARS - 8;

/// The emoji that leads the header.
fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":red_circle:",
        Severity::Warning => ":large_orange_circle:",
        Severity::Info => ":large_blue_circle:",
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters: text from a notice (a file name, an alarm
/// reason) must not open a link or mention `@channel`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A link `<url|label>`: the characters that would end it early are percent-encoded.
fn link(url: &str, label: &str) -> String {
    let url = url
        .replace('|', "%7C")
        .replace('>', "%3E")
        .replace('<', "%3C")
        .replace(' ', "%20");
    format!("<{url}|{label}>")
}

/// The webhook's JSON body for `notice`, linking `dashboard` when given.
pub fn payload(notice: &Incoming, dashboard: Option<&str>) -> Value {
    let severity = notice.severity.as_str();
    let title = cut(notice.title.trim(), MAX_HEADER_CHARS - 25);
    let mut context = vec![format!("*{severity}*")];
    if let Some(kind) = notice.kind {
        context.push(format!("`{kind}`"));
    }
    if let Some(runbook) = &notice.runbook {
        context.push(link(runbook, "Runbook"));
    }
    if let Some(dashboard) = dashboard {
        context.push(link(dashboard, "Dashboard"));
    }
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "emoji": true,
                 "text": format!("{} {title}", emoji(notice.severity))},
    })];
    if !notice.text.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&escape(notice.text.trim()), MAX_SECTION_CHARS)},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": context.join("  ·  ")}],
    }));
    if let Some(details) = &notice.details {
        // Inside a code block Slack shows text as written; only the fence itself must not appear.
        let details = cut(&escape(&details.replace("```", "'''")), MAX_DETAILS_CHARS);
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("```{details}```")},
        }));
    }
    json!({
        // Slack reads the notification text as mrkdwn too: a title holds names uploaders choose.
        "text": format!("[{}] {}", severity.to_uppercase(), escape(&title)),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails_core::NoticeKind;

    fn incoming() -> Incoming {
        Incoming {
            severity: Severity::Warning,
            kind: Some(NoticeKind::DatasetQuarantined),
            title: "Dataset quarantined: <tickets>.csv".into(),
            text: "Row 3 & 4 broke the contract. <!channel>".into(),
            runbook: Some("https://example.com/README.md#notice-dataset-quarantined".into()),
            details: Some("{\"rows\": [3, 4], \"note\": \"```\"}".into()),
        }
    }

    fn block_text(payload: &Value, index: usize) -> &str {
        payload["blocks"][index]["text"]["text"]
            .as_str()
            .or_else(|| payload["blocks"][index]["elements"][0]["text"].as_str())
            .unwrap()
    }

    #[test]
    fn blocks_say_severity_what_happened_and_where_to_look() {
        let got = payload(&incoming(), Some("https://console/x#dashboards:name=p|x"));
        assert_eq!(
            got["text"],
            "[WARNING] Dataset quarantined: &lt;tickets&gt;.csv"
        );
        assert_eq!(got["blocks"][0]["type"], "header");
        // The header is plain text: nothing to escape there.
        assert_eq!(
            block_text(&got, 0),
            ":large_orange_circle: Dataset quarantined: <tickets>.csv"
        );
        // Markdown text cannot mention the channel or open a link of its own.
        assert_eq!(
            block_text(&got, 1),
            "Row 3 &amp; 4 broke the contract. &lt;!channel&gt;"
        );
        assert_eq!(
            block_text(&got, 2),
            "*warning*  ·  `dataset-quarantined`  ·  \
             <https://example.com/README.md#notice-dataset-quarantined|Runbook>  ·  \
             <https://console/x#dashboards:name=p%7Cx|Dashboard>"
        );
        assert_eq!(
            block_text(&got, 3),
            "```{\"rows\": [3, 4], \"note\": \"'''\"}```"
        );
    }

    #[test]
    fn limits_hold_and_empty_parts_are_left_out() {
        let mut long = incoming();
        long.severity = Severity::Critical;
        long.title = "t".repeat(500);
        long.text = "&".repeat(5_000);
        long.details = Some("d".repeat(10_000));
        long.kind = None;
        long.runbook = None;
        let long = payload(&long, None);
        assert!(block_text(&long, 0).starts_with(":red_circle: ttt"));
        assert!(block_text(&long, 0).chars().count() <= MAX_HEADER_CHARS);
        assert_eq!(block_text(&long, 1).chars().count(), MAX_SECTION_CHARS);
        assert_eq!(block_text(&long, 2), "*critical*");
        assert!(block_text(&long, 3).chars().count() <= MAX_SECTION_CHARS);

        let mut bare = incoming();
        bare.text = "  ".into();
        bare.details = None;
        let bare = payload(&bare, None);
        let types: Vec<&str> = bare["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["header", "context"]);
    }
}
