//! Storms become digests: which notices wait to leave together, when a waiting group is due, and the one notice
//! that says a group. Plain Rust, no AWS types: the handler passes the clock and what the state bucket holds.
//!
//! Two rules, by kind:
//! - **Trail** (quarantined uploads): every notice of a dataset waits `window`, and whatever gathered by then
//!   leaves as one notice. A hundred files quarantined in a minute are one notice listing them, at most a window
//!   late; none of them is urgent (the quarantine-rate alarm is the urgent signal, and it is an alarm).
//! - **Lead** (alarm state changes): the first change of an alarm after a quiet window leaves at once, later
//!   ones wait until a window has passed since the last notice about that alarm, and then leave as one notice
//!   whose latest change is its headline. A flapping alarm is one notice per window, and its last word (recovered
//!   or not) always arrives. A page never waits: a critical change after a notice that was not critical (an alarm
//!   that recovered and broke again) leaves at once, with whatever waited before it.

use chrono::{DateTime, TimeDelta, Utc};
use guardrails_core::notice::details;
use guardrails_core::{Notice, NoticeKind, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::event::Incoming;

/// How long each rule's window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Quarantined uploads of one dataset gather this long (`QUARANTINE_DIGEST_SECONDS`).
    pub quarantine: TimeDelta,
    /// At most one notice per alarm in this long (`ALARM_DIGEST_SECONDS`).
    pub alarm: TimeDelta,
}

/// How a group's notices leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// All wait a window from the first, then leave as one.
    Trail,
    /// The first after a quiet window leaves at once; the rest wait out the window since the last notice.
    Lead,
}

/// The notices that leave together: one kind about one subject (a dataset, an alarm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Their kind.
    pub kind: NoticeKind,
    /// What they are about: the dataset or the alarm's name.
    pub subject: String,
}

impl Group {
    /// The rule for this group's kind: quarantines trail, everything else that is grouped leads.
    pub fn rule(&self) -> Rule {
        match self.kind {
            NoticeKind::DatasetQuarantined => Rule::Trail,
            _ => Rule::Lead,
        }
    }

    /// Its window.
    pub fn window(&self, windows: Windows) -> TimeDelta {
        match self.rule() {
            Rule::Trail => windows.quarantine,
            Rule::Lead => windows.alarm,
        }
    }

    /// The group's name in a state-bucket key: its kind, then the subject with every byte outside
    /// `[A-Za-z0-9._-]` percent-encoded, so two subjects never share a name and none can climb out of the prefix.
    /// A subject whose name would pass [`MAX_SUBJECT_KEY`] bytes (an uploader chooses the dataset's) keeps its
    /// first bytes and the SHA-256 of the whole, so a waiting notice's key stays within S3's 1,024 bytes.
    pub fn key(&self) -> String {
        let mut subject = String::with_capacity(self.subject.len());
        for byte in self.subject.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
                subject.push(char::from(byte));
            } else {
                subject.push_str(&format!("%{byte:02X}"));
            }
        }
        if subject.len() > MAX_SUBJECT_KEY {
            // ASCII only after encoding: any byte is a character boundary.
            let digest = guardrails_core::lineage::sha256_hex(self.subject.as_bytes());
            subject = format!("{}~{}", &subject[..MAX_SUBJECT_KEY - 34], &digest[..32]);
        }
        format!("{}/{subject}", self.kind)
    }
}

/// The group a notice about `incoming` leaves with, `None` for one that always leaves at once: quarantines by
/// dataset, alarm changes by alarm. Failed jobs and workflows, approvals and contract changes are rare and each
/// asks for its own action, so they are never held.
pub fn group_of(incoming: &Incoming, notice: &Notice) -> Option<Group> {
    match incoming {
        Incoming::Quarantined(detail) => Some(Group {
            kind: NoticeKind::DatasetQuarantined,
            subject: detail.dataset.clone(),
        }),
        Incoming::Alarm(facts) => Some(Group {
            kind: notice.kind,
            subject: facts.name.clone(),
        }),
        Incoming::Job(_)
        | Incoming::Workflow(_)
        | Incoming::Package(_)
        | Incoming::Parameter(_) => None,
    }
}

/// The last notice about a group that left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Last {
    /// When.
    pub at: DateTime<Utc>,
    /// How urgent it was.
    pub severity: Severity,
}

/// The longest a subject's part of a key may be.
pub const MAX_SUBJECT_KEY: usize = 200;

/// What to do with a notice of a group as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Send it now, alone.
    Send,
    /// Keep it with the group; the group is due at this time.
    Hold(DateTime<Utc>),
    /// Keep it with those waiting and send the group now: a page that must not wait behind them.
    SendWithWaiting,
}

/// A notice of `severity` of `group` arriving at `now`, after `last` (the last notice about the group that left),
/// `waiting` saying whether others of the group wait already (they go first, so the group's order holds).
pub fn arrive(
    group: &Group,
    windows: Windows,
    now: DateTime<Utc>,
    (last, waiting): (Option<Last>, bool),
    severity: Severity,
) -> Arrival {
    let window = group.window(windows);
    if window.is_zero() && !waiting {
        return Arrival::Send;
    }
    match group.rule() {
        Rule::Trail => Arrival::Hold(now + window),
        Rule::Lead => {
            let quiet_since = last.map_or(now, |l| l.at + window);
            let escalates = severity == Severity::Critical
                && last.is_none_or(|l| l.severity != Severity::Critical);
            match (waiting, escalates || quiet_since <= now) {
                (false, true) => Arrival::Send,
                (true, true) if escalates => Arrival::SendWithWaiting,
                (_, _) => Arrival::Hold(quiet_since.max(now)),
            }
        }
    }
}

/// A scheduled look at a waiting group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Nothing waits (an earlier look sent it).
    Nothing,
    /// Not due yet: look again at this time.
    Later(DateTime<Utc>),
    /// Send what waits, as one notice.
    Send,
}

/// Clocks of two invocations may differ by this much; a look this early still sends.
pub const CLOCK_TOLERANCE: TimeDelta = TimeDelta::seconds(1);

/// A look at `group` at `now`: its oldest waiting notice arrived at `oldest`, its last notice left at `last_sent`.
pub fn look(
    group: &Group,
    windows: Windows,
    now: DateTime<Utc>,
    oldest: Option<DateTime<Utc>>,
    last_sent: Option<DateTime<Utc>>,
) -> Flush {
    let Some(oldest) = oldest else {
        return Flush::Nothing;
    };
    let window = group.window(windows);
    let due = match group.rule() {
        Rule::Trail => oldest + window,
        Rule::Lead => last_sent.map_or(oldest, |at| at + window),
    };
    if now + CLOCK_TOLERANCE >= due {
        Flush::Send
    } else {
        Flush::Later(due)
    }
}

/// A notice kept until its group leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// The notice as it would have been sent alone.
    pub notice: Notice,
}

/// How many waiting notices a digest names one by one (the oldest, and the newest last); the rest are counted.
/// Twenty lines keep the digest within a chat notification's 4,000 characters.
pub const LISTED: usize = 20;
/// How many of them, newest first, keep their details in the digest's details (a chat notification takes 16 KB).
const DETAILED: usize = 10;
/// A waiting notice's line names its first reason, cut to this many characters.
const REASON_CHARS: usize = 80;

/// The one notice for `total` waiting notices of `group`, of which `shown` are read (oldest first, the newest
/// last when some were left out). One notice is sent as it is.
pub fn compose(group: &Group, windows: Windows, shown: &[Held], total: usize) -> Option<Notice> {
    let latest = shown.last()?;
    if total == 1 {
        return Some(latest.notice.clone());
    }
    let minutes = ((group.window(windows).num_seconds() + 59) / 60).max(1);
    let (severity, title) = match group.rule() {
        Rule::Trail => (
            shown
                .iter()
                .map(|h| h.notice.severity)
                .max_by_key(|s| rank(*s))
                .unwrap_or(latest.notice.severity),
            format!("{total} uploads of {} quarantined", group.subject),
        ),
        Rule::Lead => (
            latest.notice.severity,
            format!(
                "{} changed {total} times; latest: {}",
                group.subject, latest.notice.title
            ),
        ),
    };
    let mut body = format!(
        "{total} notices about {} within about {minutes} min, gathered into one (oldest first, times UTC):\n",
        group.subject
    );
    for (i, held) in shown.iter().enumerate() {
        if i + 1 == shown.len() && total > shown.len() {
            body.push_str(&format!("  … and {} more …\n", total - shown.len()));
        }
        body.push_str(&format!(
            "  - {} {}",
            held.at.format("%H:%M:%S"),
            held.notice.title
        ));
        if let Some(reason) = first_reason(&held.notice.details) {
            body.push_str(&format!(
                ": {}",
                guardrails_core::notice::cut(reason, REASON_CHARS)
            ));
        }
        body.push('\n');
    }
    body.push_str(&format!("\nThe latest in full:\n{}", latest.notice.body));
    let notices: Vec<Value> = shown
        .iter()
        .rev()
        .take(DETAILED)
        .map(|h| json!({"at": h.at, "title": h.notice.title, "severity": h.notice.severity, "details": h.notice.details}))
        .collect();
    Some(Notice {
        severity,
        kind: group.kind,
        title,
        body,
        details: details(&json!({
            "digest": {
                "subject": group.subject,
                "count": total,
                "first": shown.first().map(|h| h.at),
                "last": latest.at,
                "windowSeconds": group.window(windows).num_seconds(),
            },
            "latestFirst": notices,
        })),
    })
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

/// The first of a notice's `reasons`, when its details list any (a quarantine's do).
fn first_reason(details: &Value) -> Option<&str> {
    details["reasons"][0].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + seconds, 0).unwrap()
    }

    const WINDOWS: Windows = Windows {
        quarantine: TimeDelta::seconds(60),
        alarm: TimeDelta::seconds(600),
    };

    fn quarantines() -> Group {
        Group {
            kind: NoticeKind::DatasetQuarantined,
            subject: "reviews".into(),
        }
    }

    fn alarm() -> Group {
        Group {
            kind: NoticeKind::FunctionFailing,
            subject: "p-deploy-errors".into(),
        }
    }

    fn last(seconds: i64, severity: Severity) -> Option<Last> {
        Some(Last {
            at: at(seconds),
            severity,
        })
    }

    #[test]
    fn arrivals() {
        use Severity::{Critical, Info, Warning};
        let cases = [
            // (group, now, last sent, others waiting, severity, expected)
            (
                quarantines(),
                at(0),
                None,
                false,
                Warning,
                Arrival::Hold(at(60)),
            ),
            (
                quarantines(),
                at(30),
                last(0, Warning),
                true,
                Warning,
                Arrival::Hold(at(90)),
            ),
            (alarm(), at(0), None, false, Critical, Arrival::Send),
            (
                alarm(),
                at(700),
                last(0, Critical),
                false,
                Critical,
                Arrival::Send,
            ),
            (
                alarm(),
                at(600),
                last(0, Critical),
                false,
                Info,
                Arrival::Send,
            ),
            (
                alarm(),
                at(60),
                last(0, Critical),
                false,
                Info,
                Arrival::Hold(at(600)),
            ),
            (
                alarm(),
                at(120),
                last(0, Critical),
                true,
                Critical,
                Arrival::Hold(at(600)),
            ),
            // Others wait past their time (a look failed): this one joins them, and they leave now.
            (
                alarm(),
                at(900),
                last(0, Critical),
                true,
                Info,
                Arrival::Hold(at(900)),
            ),
            (alarm(), at(10), None, true, Info, Arrival::Hold(at(10))),
            // A page after a recovery leaves at once, alone or with what waited before it.
            (
                alarm(),
                at(60),
                last(0, Info),
                false,
                Critical,
                Arrival::Send,
            ),
            (
                alarm(),
                at(60),
                last(0, Warning),
                true,
                Critical,
                Arrival::SendWithWaiting,
            ),
            (
                alarm(),
                at(60),
                last(0, Info),
                false,
                Warning,
                Arrival::Hold(at(600)),
            ),
        ];
        for (group, now, last, waiting, severity, expected) in cases {
            assert_eq!(
                arrive(&group, WINDOWS, now, (last, waiting), severity),
                expected,
                "{group:?} at {now} (last {last:?}, waiting {waiting}, {severity:?})"
            );
        }
    }

    #[test]
    fn a_zero_window_sends_each_notice_on_its_own() {
        let off = Windows {
            quarantine: TimeDelta::zero(),
            alarm: TimeDelta::zero(),
        };
        for group in [quarantines(), alarm()] {
            assert_eq!(
                arrive(
                    &group,
                    off,
                    at(5),
                    (last(4, Severity::Warning), false),
                    Severity::Warning
                ),
                Arrival::Send,
                "{group:?}"
            );
        }
    }

    #[test]
    fn looks() {
        let cases = [
            // (group, now, oldest waiting, last sent, expected)
            (quarantines(), at(60), None, None, Flush::Nothing),
            (quarantines(), at(60), Some(at(0)), None, Flush::Send),
            (quarantines(), at(59), Some(at(0)), None, Flush::Send),
            (
                quarantines(),
                at(30),
                Some(at(0)),
                None,
                Flush::Later(at(60)),
            ),
            // A later notice's own look finds the group sent already, or gathers what came after.
            (
                quarantines(),
                at(70),
                Some(at(40)),
                Some(at(60)),
                Flush::Later(at(100)),
            ),
            (alarm(), at(600), Some(at(60)), Some(at(0)), Flush::Send),
            (
                alarm(),
                at(300),
                Some(at(60)),
                Some(at(0)),
                Flush::Later(at(600)),
            ),
            (alarm(), at(300), Some(at(60)), None, Flush::Send),
        ];
        for (group, now, oldest, last, expected) in cases {
            assert_eq!(
                look(&group, WINDOWS, now, oldest, last),
                expected,
                "{group:?} at {now}"
            );
        }
    }

    fn held(seconds: i64, severity: Severity, title: &str, reasons: &[&str]) -> Held {
        Held {
            at: at(seconds),
            notice: Notice {
                severity,
                kind: NoticeKind::DatasetQuarantined,
                title: title.into(),
                body: format!("body of {title}"),
                details: json!({"reasons": reasons}),
            },
        }
    }

    #[test]
    fn one_waiting_notice_leaves_as_it_is() {
        let one = held(
            0,
            Severity::Warning,
            "Dataset quarantined: reviews / a.csv",
            &["x"],
        );
        assert_eq!(
            compose(&quarantines(), WINDOWS, std::slice::from_ref(&one), 1),
            Some(one.notice)
        );
        assert_eq!(compose(&quarantines(), WINDOWS, &[], 0), None);
    }

    #[test]
    fn a_storm_of_quarantines_is_one_notice_listing_them() {
        let shown: Vec<Held> = (0..LISTED as i64)
            .map(|i| {
                let severity = if i == 3 {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                held(
                    i,
                    severity,
                    &format!("Dataset quarantined: reviews / f{i}.csv"),
                    &["too many nulls"],
                )
            })
            .collect();
        let notice = compose(&quarantines(), WINDOWS, &shown, 100).unwrap();
        assert_eq!(notice.title, "100 uploads of reviews quarantined");
        assert_eq!(notice.severity, Severity::Critical, "the worst of them");
        assert_eq!(notice.kind, NoticeKind::DatasetQuarantined);
        assert!(
            notice.body.contains("f0.csv: too many nulls"),
            "{}",
            notice.body
        );
        assert!(
            notice.body.contains("… and 80 more …\n  - 16:00:19"),
            "{}",
            notice.body
        );
        assert!(
            notice.body.contains("within about 1 min"),
            "{}",
            notice.body
        );
        assert_eq!(notice.details["digest"]["count"], 100);
        assert_eq!(
            notice.details["latestFirst"].as_array().unwrap().len(),
            DETAILED
        );
        assert_eq!(
            notice.details["latestFirst"][0]["title"],
            "Dataset quarantined: reviews / f19.csv"
        );
    }

    #[test]
    fn a_flapping_alarm_is_headed_by_its_latest_change() {
        let shown = [
            held(60, Severity::Info, "Recovered: p-deploy-errors", &[]),
            held(
                120,
                Severity::Critical,
                "A function fails: p-deploy-errors (2 vs 0)",
                &[],
            ),
            held(180, Severity::Info, "Recovered: p-deploy-errors", &[]),
        ];
        let notice = compose(&alarm(), WINDOWS, &shown, 3).unwrap();
        assert_eq!(
            notice.title,
            "p-deploy-errors changed 3 times; latest: Recovered: p-deploy-errors"
        );
        assert_eq!(notice.severity, Severity::Info, "it recovered");
        assert_eq!(notice.kind, NoticeKind::FunctionFailing);
        assert!(
            notice.body.ends_with("body of Recovered: p-deploy-errors"),
            "{}",
            notice.body
        );
    }

    #[test]
    fn a_subject_cannot_leave_its_prefix_or_share_a_name() {
        let key = |subject: &str| {
            Group {
                kind: NoticeKind::DatasetQuarantined,
                subject: subject.into(),
            }
            .key()
        };
        assert_eq!(
            key("reviews-2026_v1.x"),
            "dataset-quarantined/reviews-2026_v1.x"
        );
        assert_eq!(key("../serving/x"), "dataset-quarantined/..%2Fserving%2Fx");
        assert_ne!(key("a/b"), key("a%2Fb"));
        assert_eq!(key("é"), "dataset-quarantined/%C3%A9");
        let long = key(&"é".repeat(300));
        assert!(
            long.len() <= "dataset-quarantined/".len() + MAX_SUBJECT_KEY,
            "{long}"
        );
        assert_ne!(
            long,
            key(&format!("{}x", "é".repeat(300))),
            "the digest keeps them apart"
        );
    }
}
