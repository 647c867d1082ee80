//! Where notices wait for their group (the state bucket, under `notifier/`), and how a look at a group is
//! scheduled (a message on the digest queue, delayed until the group is due). The decisions are `digest`'s.
//!
//! Layout, all under `notifier/`:
//! - `held/<group>/<event time>-<event id>.json`: one waiting notice, created once (a redelivered event finds
//!   it); the event's time leads the name, so a listing is in the order things happened;
//! - `sent/<group>.json`: when the last notice about the group left, and how urgent it was;
//! - `flushes/<group>/<oldest waiting>`: the job of one look that sends, claimed like every job of the project:
//!   what it lists is recorded before it sends, the notice leaves before the marker is written, and the waiting
//!   notices are deleted last (the oldest, which names the job, after the others), so a look that dies anywhere
//!   is finished by the next delivery of its message, and never sends what it sent under another name.
//!
//! A notice the look sends is at least once: a look that dies after SNS took the digest and before recording it
//! sends it again. An event redelivered after its group left is kept again under its old name; the next look
//! finds that name's job finished, deletes it unsent, and schedules a look for whatever else waits.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use guardrails_core::state::{Begin, Change, StateError, StateStore};
use guardrails_core::{AwsError, Notice, Notifier, Severity};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::digest::{self, Arrival, Flush, Group, Held, LISTED, Last, Windows};

/// The state bucket's prefix of everything here.
pub const PREFIX: &str = "notifier/";
/// SQS delays a message at most 15 minutes; a window is at most that.
pub const MAX_DELAY_SECONDS: i64 = 900;
/// Waiting notices one look sends; more are sent by a look scheduled at once.
const PER_LOOK: i32 = 500;
/// Waiting notices deleted at once.
const DELETE_AT_ONCE: usize = 16;
/// The arrival time in a waiting notice's name.
const ARRIVAL: &str = "%Y%m%dT%H%M%S%.3fZ";

/// Why a notice could not be kept or a look not finished.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    /// The state bucket.
    #[error(transparent)]
    State(#[from] StateError),
    /// SNS, SQS or S3 directly.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// The steps of a look that sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum LookStep {
    /// The waiting notices it sends are recorded.
    Listed,
    /// The digest left.
    Sent,
    /// `sent/<group>.json` says so.
    Marked,
    /// The notices it sent no longer wait.
    Cleared,
}

/// What a look that sends works on.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Look {
    /// The waiting notices' keys, oldest first.
    keys: Vec<String>,
    /// How urgent the notice it sent was (recorded with the send).
    #[serde(default)]
    severity: Option<Severity>,
}

/// What became of an arriving notice.
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    /// It left at once: the SNS message id.
    Sent(String),
    /// It waits with its group until this time.
    Held(DateTime<Utc>),
}

/// What a look did.
#[derive(Debug, Clone, PartialEq)]
pub enum Looked {
    /// Nothing waited.
    Nothing,
    /// Not due: looked at again at this time.
    Later(DateTime<Utc>),
    /// Sent this many waiting notices as one: the notice and its SNS message id (none when an earlier delivery
    /// of the look had sent it).
    Sent {
        /// How many.
        count: usize,
        /// The notice sent.
        notice: Option<Notice>,
        /// Its SNS message id.
        message_id: Option<String>,
    },
}

/// Waiting notices and the looks at them.
#[derive(Debug)]
pub struct Digests {
    state: StateStore,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    windows: Windows,
    lease: Duration,
}

impl Digests {
    /// Notices kept in `state`, looks scheduled on `queue_url`.
    pub fn new(
        state: StateStore,
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        windows: Windows,
        lease: Duration,
    ) -> Self {
        Digests {
            state,
            sqs,
            queue_url: queue_url.into(),
            windows,
            lease,
        }
    }

    /// The windows.
    pub fn windows(&self) -> Windows {
        self.windows
    }

    /// A notice of `group` arriving at `now` from event `id` of `time`: sent at once, or kept and a look
    /// scheduled. The kept notice is named by the event's own time and id, so a redelivered event is kept once.
    ///
    /// # Errors
    /// The state bucket, SNS or SQS failing; a retry of the same event finds a kept notice kept.
    pub async fn arrive(
        &self,
        group: &Group,
        notice: Notice,
        (id, time): (&str, DateTime<Utc>),
        now: DateTime<Utc>,
        notifier: &Notifier,
    ) -> Result<Kept, HeldError> {
        // Waiting first, then the last send: a look that sends in between is then seen as sent, never as nothing
        // waiting after an old send (which would send this one at once, a second notice in the window). Two
        // arrivals at the same moment may still both send: at least once, at most one extra.
        let waiting = !self.waiting(group, 1).await?.is_empty();
        let last = self.last(group).await?;
        // An event stamped in the future (a skewed clock) is named as arriving now, so it never waits for its time.
        let time = time.min(now);
        let severity = notice.severity;
        let keep = async |notice| {
            let key = format!(
                "{}{}-{}.json",
                held_prefix(group),
                time.format(ARRIVAL),
                name_part(id)
            );
            // A redelivered event finds its notice kept.
            self.state.create(&key, &Held { at: time, notice }).await
        };
        match digest::arrive(group, self.windows, now, (last, waiting), severity) {
            Arrival::Send => {
                let message_id = notifier.send(&notice).await?;
                self.mark_sent(group, now, severity).await?;
                Ok(Kept::Sent(message_id))
            }
            Arrival::Hold(due) => {
                keep(notice).await?;
                // Scheduled again on a redelivery too: the look the first delivery scheduled may never have left.
                self.schedule(group, due, now).await?;
                Ok(Kept::Held(due))
            }
            Arrival::SendWithWaiting => {
                keep(notice).await?;
                match self.send_listed(group, now, notifier).await? {
                    Looked::Sent {
                        message_id: Some(id),
                        ..
                    } => Ok(Kept::Sent(id)),
                    _ => Ok(Kept::Held(now)),
                }
            }
        }
    }

    /// A scheduled look at `group` at `now`: sends what waits if it is due, schedules itself again if not.
    ///
    /// # Errors
    /// The state bucket, SNS or SQS failing ([`StateError::Busy`] while another delivery sends the group).
    pub async fn look(
        &self,
        group: &Group,
        now: DateTime<Utc>,
        notifier: &Notifier,
    ) -> Result<Looked, HeldError> {
        let keys = self.waiting(group, 1).await?;
        let oldest = keys.first().map(|key| arrival(key).unwrap_or(now));
        let last = self.last(group).await?.map(|l| l.at);
        match digest::look(group, self.windows, now, oldest, last) {
            Flush::Nothing => Ok(Looked::Nothing),
            Flush::Later(due) => {
                self.schedule(group, due, now).await?;
                Ok(Looked::Later(due))
            }
            Flush::Send => self.send_listed(group, now, notifier).await,
        }
    }

    /// Sends what waits of `group` (up to [`PER_LOOK`]) as one, under a claim named after the oldest; schedules a
    /// look at once for what it leaves waiting.
    async fn send_listed(
        &self,
        group: &Group,
        now: DateTime<Utc>,
        notifier: &Notifier,
    ) -> Result<Looked, HeldError> {
        let keys = self.waiting(group, PER_LOOK).await?;
        let Some(oldest) = keys.first() else {
            return Ok(Looked::Nothing);
        };
        let job_key = format!("{PREFIX}flushes/{}/{}", group.key(), leaf(oldest));
        let (looked, sent) = match self
            .state
            .begin::<LookStep, Look>(&job_key, Look::default(), now, self.lease)
            .await?
        {
            // Its notices left: what waits under their names was kept again by a redelivered event.
            Begin::Finished(job) => {
                let again: Vec<String> = keys
                    .iter()
                    .filter(|k| job.data.keys.contains(k))
                    .cloned()
                    .collect();
                self.clear(&again).await?;
                (Looked::Nothing, job.data.keys)
            }
            Begin::Claimed(mut claim) => {
                let result = self
                    .send_claimed(group, keys.clone(), now, notifier, &mut claim)
                    .await;
                let sent = claim.data().keys.clone();
                (claim.conclude(result).await?, sent)
            }
        };
        // What the listing holds beyond what was sent (newer notices, a listing cut at PER_LOOK) gets its look.
        if keys.iter().any(|k| !sent.contains(k)) {
            self.schedule(group, now, now).await?;
        }
        Ok(looked)
    }

    /// The steps of a claimed look: record what it sends, send it as one, say when the group left, clear it.
    async fn send_claimed(
        &self,
        group: &Group,
        keys: Vec<String>,
        now: DateTime<Utc>,
        notifier: &Notifier,
        claim: &mut guardrails_core::state::Claim<'_, LookStep, Look>,
    ) -> Result<Looked, HeldError> {
        if !claim.is_done(&LookStep::Listed) {
            claim.data_mut().keys = keys;
            claim.record(LookStep::Listed).await?;
        }
        let keys = claim.data().keys.clone();
        let mut sent = (None, None);
        if !claim.is_done(&LookStep::Sent) {
            let shown = self.read_shown(&keys).await?;
            if let Some(notice) = digest::compose(group, self.windows, &shown, keys.len()) {
                let id = notifier.send(&notice).await?;
                claim.data_mut().severity = Some(notice.severity);
                sent = (Some(notice), Some(id));
            }
            claim.record(LookStep::Sent).await?;
        }
        let severity = claim.data().severity.unwrap_or(Severity::Info);
        claim
            .step(LookStep::Marked, async || {
                self.mark_sent(group, now, severity).await
            })
            .await?;
        claim
            .step(LookStep::Cleared, async || self.clear(&keys).await)
            .await?;
        Ok(Looked::Sent {
            count: keys.len(),
            notice: sent.0,
            message_id: sent.1,
        })
    }

    /// The waiting notices a digest names one by one: the oldest, and the newest when some are left out.
    async fn read_shown(&self, keys: &[String]) -> Result<Vec<Held>, HeldError> {
        let mut chosen: Vec<&String> = keys.iter().take(LISTED - 1).collect();
        chosen.extend(keys.last().filter(|_| keys.len() >= LISTED));
        let mut shown = Vec::with_capacity(chosen.len());
        for key in chosen {
            // Read one by one: at most 50 small objects, once per window.
            if let Some(held) = self.state.read::<Held>(key).await? {
                shown.push(held.value);
            }
        }
        Ok(shown)
    }

    async fn last(&self, group: &Group) -> Result<Option<Last>, HeldError> {
        Ok(self
            .state
            .read::<Last>(&sent_key(group))
            .await?
            .map(|s| s.value))
    }

    async fn mark_sent(
        &self,
        group: &Group,
        at: DateTime<Utc>,
        severity: Severity,
    ) -> Result<(), HeldError> {
        self.state
            .update::<Last, _>(&sent_key(group), |current| match current {
                Some(last) if last.at >= at => Change::Keep,
                _ => Change::Write(Last { at, severity }),
            })
            .await?;
        Ok(())
    }

    /// The keys of up to `max` waiting notices of `group`, oldest first.
    async fn waiting(&self, group: &Group, max: i32) -> Result<Vec<String>, HeldError> {
        let prefix = held_prefix(group);
        let page = self
            .state
            .client()
            .list_objects_v2()
            .bucket(self.state.bucket())
            .prefix(&prefix)
            .max_keys(max)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", self.state.at(&prefix).uri(), e))?;
        Ok(page
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }

    /// Deletes the waiting notices `keys`, 16 at a time. One DeleteObject per key rather than DeleteObjects:
    /// S3 authorizes either per key against the role's `notifier/*` grant, but the emulator the local loop runs
    /// under IAM authorizes DeleteObjects on the bucket as a whole, and a look clears a few hundred keys at most.
    /// The oldest goes last: it names the look's job, so a look that dies while clearing is resumed under the
    /// same name, never taken for a new group of notices that were sent already.
    async fn clear(&self, keys: &[String]) -> Result<(), HeldError> {
        let Some((oldest, rest)) = keys.split_first() else {
            return Ok(());
        };
        for chunk in rest
            .chunks(DELETE_AT_ONCE)
            .chain([std::slice::from_ref(oldest)])
        {
            let mut deletes = tokio::task::JoinSet::new();
            for key in chunk {
                let (s3, bucket, key) = (
                    self.state.client().clone(),
                    self.state.bucket().to_owned(),
                    key.clone(),
                );
                // In the caller's span: a spawned task starts with none, and its AWS call would leave the trace.
                deletes.spawn(
                    async move {
                        s3.delete_object()
                            .bucket(&bucket)
                            .key(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| {
                                AwsError::from_sdk(
                                    "DeleteObject",
                                    format!("s3://{bucket}/{key}"),
                                    e,
                                )
                            })
                    }
                    .in_current_span(),
                );
            }
            for result in deletes.join_all().await {
                result?;
            }
        }
        Ok(())
    }

    /// Asks for a look at `group` at `due` (now, if it is past): a message on the digest queue, delayed.
    async fn schedule(
        &self,
        group: &Group,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), HeldError> {
        let body = serde_json::to_string(group).map_err(|e| {
            AwsError::from_code("SendMessage", &self.queue_url, None, e.to_string())
        })?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds(due - now))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", &self.queue_url, e))?;
        Ok(())
    }
}

/// Whole seconds until `wait` is over (rounded up, so a look never comes early), within what SQS takes.
fn delay_seconds(wait: TimeDelta) -> i32 {
    let millis = wait.num_milliseconds().max(0);
    let seconds = (millis + 999) / 1000;
    i32::try_from(seconds.min(MAX_DELAY_SECONDS)).unwrap_or(0)
}

fn held_prefix(group: &Group) -> String {
    format!("{PREFIX}held/{}/", group.key())
}

fn sent_key(group: &Group) -> String {
    format!("{PREFIX}sent/{}.json", group.key())
}

/// The last segment of a key.
fn leaf(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// When a waiting notice arrived, from its name.
fn arrival(key: &str) -> Option<DateTime<Utc>> {
    let name = leaf(key);
    let stamp = name.get(..name.find('Z')?)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3f")
        .ok()
        .map(|naive| naive.and_utc())
}

/// An event id as a name: letters, digits and dashes only.
fn name_part(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stay_within_what_sqs_takes() {
        let cases = [
            (TimeDelta::milliseconds(-5), 0),
            (TimeDelta::zero(), 0),
            (TimeDelta::milliseconds(1), 1),
            (TimeDelta::milliseconds(59_001), 60),
            (TimeDelta::seconds(900), 900),
            (TimeDelta::seconds(4000), 900),
        ];
        for (wait, expected) in cases {
            assert_eq!(delay_seconds(wait), expected, "{wait}");
        }
    }

    #[test]
    fn a_waiting_notice_names_its_arrival() {
        let at: DateTime<Utc> = "2026-12-03T06:01:02.345Z".parse().unwrap();
        let key = format!(
            "notifier/held/dataset-quarantined/reviews/{}-{}.json",
            at.format(ARRIVAL),
            name_part("6a7e8feb-b491-4cf7-a9f1-bf3703467718")
        );
        assert_eq!(arrival(&key), Some(at));
        assert_eq!(arrival("notifier/held/x/garbage.json"), None);
        assert_eq!(name_part("../a b/c"), "abc");
    }
}
