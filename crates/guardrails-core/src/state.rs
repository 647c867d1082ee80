//! The state the guardrails decide on — idempotency markers, the new-data ledger, the inference baseline — and
//! the one discipline every handler follows with it.
//!
//! The state lives in its own bucket (`STATE_BUCKET`), which only the functions' roles can write: no data path
//! copies into it and no persona may write it, so an uploader cannot forge a marker, a ledger entry or a
//! baseline. Every write is conditional (`If-None-Match: *` to create, `If-Match: <etag>` to replace), so two
//! deliveries never overwrite each other's state, and an unreadable document is an error, never "absent".
//!
//! The discipline, [`StateStore::begin`]: **claim** the work (one JSON job document per unit of work), do each
//! effect and **record** it in the job, then **finish**. A retry after a failure resumes the claim and does only
//! the effects not recorded yet; a concurrent delivery finds the claim held and fails as retryable, so one set of
//! effects happens; a delivery that finds the job finished does nothing. An effect that succeeded just before
//! its recording failed is done again by the retry: effects are at least once, recorded ones exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{AwsError, Classify, ErrorClass};
use crate::s3::ObjectRef;

/// How often a read-modify-write is retried when another writer got in between.
const MAX_CONFLICT_RETRIES: usize = 8;

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An S3 call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The document exists but does not parse: it is left alone for a person to look at.
    #[error(
        "state document {uri} is unreadable ({source}); the guardrails do not overwrite it: repair or delete it as the README runbook says (StateBreakGlassRoleArn)"
    )]
    Corrupt {
        /// Where.
        uri: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The value could not be serialized.
    #[error("cannot serialize the state for {uri}: {source}")]
    Serialize {
        /// Where it was going.
        uri: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The document's body could not be read to the end (a broken stream).
    #[error("reading state document {uri} failed: {reason}")]
    Read {
        /// Where.
        uri: String,
        /// What broke.
        reason: String,
    },
    /// S3 answered without an ETag, so no conditional write could follow.
    #[error("S3 answered for {uri} without an ETag")]
    NoEtag {
        /// Where.
        uri: String,
    },
    /// Another writer kept changing the document, or took the claim over.
    #[error("state document {uri} was changed by another delivery; this one stops and is retried")]
    Conflict {
        /// Where.
        uri: String,
    },
    /// Another delivery holds the claim on this work.
    #[error("{uri} is being handled by another delivery (claimed until {until}); retried later")]
    Busy {
        /// The job document.
        uri: String,
        /// When the other claim expires.
        until: DateTime<Utc>,
    },
}

impl Classify for StateError {
    fn class(&self) -> ErrorClass {
        match self {
            StateError::Aws(e) => e.class(),
            StateError::Corrupt { .. } | StateError::Serialize { .. } => ErrorClass::NonRetryable,
            StateError::Conflict { .. } | StateError::Busy { .. } | StateError::Read { .. } => {
                ErrorClass::Retryable
            }
            StateError::NoEtag { .. } => ErrorClass::NonRetryable,
        }
    }
}

/// A document as read, with the ETag a conditional replace needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    /// The parsed document.
    pub value: T,
    /// Its ETag.
    pub etag: String,
}

/// What a read-modify-write does with the current document.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    /// Leave it as it is.
    Keep,
    /// Write this instead.
    Write(T),
}

/// The state bucket, through conditional writes only.
#[derive(Debug, Clone)]
pub struct StateStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl StateStore {
    /// The store in `bucket`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        StateStore {
            s3,
            bucket: bucket.into(),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The S3 client (for listings of the store's own keys).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The object of `key` in the store.
    pub fn at(&self, key: &str) -> ObjectRef {
        ObjectRef::new(&self.bucket, key)
    }

    /// The document at `key`, `None` when there is none.
    ///
    /// # Errors
    /// S3 failures; [`StateError::Corrupt`] when it does not parse as `T`.
    pub async fn read<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Stored<T>>, StateError> {
        let Some((bytes, etag)) = self.get(key).await? else {
            return Ok(None);
        };
        let etag = etag.ok_or_else(|| StateError::NoEtag {
            uri: self.at(key).uri(),
        })?;
        let value = serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
            uri: self.at(key).uri(),
            source,
        })?;
        Ok(Some(Stored { value, etag }))
    }

    /// The object at `key` as stored, byte for byte (a signed record), `None` when there is none.
    ///
    /// # Errors
    /// S3 failures.
    pub async fn read_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.get(key).await?.map(|(bytes, _)| bytes))
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>, StateError> {
        let at = self.at(key);
        let output = match self
            .s3
            .get_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                let error = AwsError::from_sdk("GetObject", at.uri(), e);
                return match error.code.as_deref() {
                    Some("NoSuchKey") => Ok(None),
                    _ => Err(error.into()),
                };
            }
        };
        let etag = output.e_tag().map(str::to_owned);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StateError::Read {
                uri: at.uri(),
                reason: e.to_string(),
            })?
            .into_bytes();
        Ok(Some((bytes.to_vec(), etag)))
    }

    /// Stores `bytes` at `key` only if it is free; `false` when it exists.
    ///
    /// # Errors
    /// S3 failures other than the precondition.
    pub async fn create_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StateError> {
        Ok(self
            .put_body(key, bytes, Condition::Absent)
            .await?
            .is_some())
    }

    /// Creates the document only if `key` is free (`If-None-Match: *`). Its ETag, or `None` when it exists.
    ///
    /// # Errors
    /// S3 failures other than the precondition.
    pub async fn create<T: Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<Option<String>, StateError> {
        self.put(key, value, Condition::Absent).await
    }

    /// Replaces the document only if it is still the version read (`If-Match: etag`). Its new ETag, or `None`
    /// when it changed since.
    ///
    /// # Errors
    /// S3 failures other than the precondition.
    pub async fn replace<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        etag: &str,
    ) -> Result<Option<String>, StateError> {
        self.put(key, value, Condition::Matches(etag)).await
    }

    /// Read-modify-write under optimistic concurrency: `change` sees the current document (or `None`) and says
    /// what to write; a concurrent writer makes it run again on the newer document. Returns the document as it
    /// stands after the call.
    ///
    /// # Errors
    /// S3 failures, an unreadable document, or [`StateError::Conflict`] after repeated interference.
    pub async fn update<T, F>(&self, key: &str, mut change: F) -> Result<Option<T>, StateError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<&T>) -> Change<T>,
    {
        for attempt in 0..MAX_CONFLICT_RETRIES {
            let current = self.read::<T>(key).await?;
            let next = match change(current.as_ref().map(|s| &s.value)) {
                Change::Keep => return Ok(current.map(|s| s.value)),
                Change::Write(next) => next,
            };
            let written = match &current {
                None => self.create(key, &next).await?,
                Some(stored) => self.replace(key, &next, &stored.etag).await?,
            };
            if written.is_some() {
                return Ok(Some(next));
            }
            tracing::info!(key, "state changed concurrently: reading it again");
            back_off(attempt).await;
        }
        Err(StateError::Conflict {
            uri: self.at(key).uri(),
        })
    }

    async fn put<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        condition: Condition<'_>,
    ) -> Result<Option<String>, StateError> {
        let body = serde_json::to_vec(value).map_err(|source| StateError::Serialize {
            uri: self.at(key).uri(),
            source,
        })?;
        self.put_body(key, body, condition).await
    }

    async fn put_body(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<Option<String>, StateError> {
        let at = self.at(key);
        let mut put = self
            .s3
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        put = match condition {
            Condition::Absent => put.if_none_match("*"),
            Condition::Matches(etag) => put.if_match(etag),
        };
        match put.send().await {
            Ok(output) => match output.e_tag() {
                Some(etag) => Ok(Some(etag.to_owned())),
                None => Err(StateError::NoEtag { uri: at.uri() }),
            },
            Err(e) => {
                let error = AwsError::from_sdk("PutObject", at.uri(), e);
                // 412: the condition failed. 409 ConditionalRequestConflict: a concurrent conditional write.
                match error.code.as_deref() {
                    Some("PreconditionFailed" | "ConditionalRequestConflict") => Ok(None),
                    // If-Match on a key deleted meanwhile.
                    Some("NoSuchKey") if matches!(condition, Condition::Matches(_)) => Ok(None),
                    _ => Err(error.into()),
                }
            }
        }
    }

    /// Claims the unit of work whose job document is `key`: creates it with `initial` data, or takes over a job
    /// that is unfinished and not held (a failed delivery released it, or its holder's lease ran out).
    ///
    /// # Errors
    /// [`StateError::Busy`] (retryable) while another delivery holds it; S3 failures; an unreadable job.
    pub async fn begin<S, D>(
        &self,
        key: &str,
        initial: D,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Begin<'_, S, D>, StateError>
    where
        S: Serialize + DeserializeOwned + PartialEq,
        D: Serialize + DeserializeOwned,
    {
        let mut initial = Some(initial);
        let held = Lease::new(now, lease);
        for attempt in 0..MAX_CONFLICT_RETRIES {
            let (job, etag) = match self.read::<Job<S, D>>(key).await? {
                None => {
                    let Some(data) = initial.take() else { break };
                    let job = Job::new(data, held.clone());
                    match self.create(key, &job).await? {
                        Some(etag) => (job, etag),
                        None => {
                            initial = Some(job.data);
                            back_off(attempt).await;
                            continue;
                        }
                    }
                }
                Some(Stored { mut value, etag }) => match value.can_take(now) {
                    Take::Finished => return Ok(Begin::Finished(value)),
                    Take::Busy(until) => {
                        return Err(StateError::Busy {
                            uri: self.at(key).uri(),
                            until,
                        });
                    }
                    Take::Take => {
                        value.lease = Some(held.clone());
                        value.attempts += 1;
                        match self.replace(key, &value, &etag).await? {
                            Some(etag) => (value, etag),
                            None => {
                                back_off(attempt).await;
                                continue;
                            }
                        }
                    }
                },
            };
            return Ok(Begin::Claimed(Claim {
                store: self,
                key: key.to_owned(),
                etag,
                holder: held.holder.clone(),
                job,
            }));
        }
        Err(StateError::Conflict {
            uri: self.at(key).uri(),
        })
    }
}

/// Waits a little before the next attempt after losing a race: 10 ms doubled per attempt (capped at 640 ms),
/// plus jitter, so writers that collided do not collide again in step.
async fn back_off(attempt: usize) {
    use std::hash::{BuildHasher, Hasher};
    let base = 10u64 << attempt.min(6);
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % base;
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

enum Condition<'a> {
    Absent,
    Matches(&'a str),
}

/// Who holds a job, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// A name for this claim (process and a counter), for the logs.
    pub holder: String,
    /// When the claim lapses if its holder died without releasing it.
    pub until: DateTime<Utc>,
}

impl Lease {
    fn new(now: DateTime<Utc>, lease: Duration) -> Self {
        static CLAIMS: AtomicU64 = AtomicU64::new(0);
        // Random per process (std seeds each RandomState randomly): Lambda containers can share a pid.
        static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let process = *PROCESS.get_or_init(|| {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Lease {
            holder: format!(
                "{process:016x}-{}-{}",
                now.timestamp_millis(),
                CLAIMS.fetch_add(1, Ordering::Relaxed)
            ),
            until: now
                .checked_add_signed(lease)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

/// One unit of work's job document: its data, the effects done, whether it is finished, who holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job<S, D> {
    /// What the handler keeps about the work (its outcome, what to announce).
    pub data: D,
    /// The effects done, in order.
    pub done: Vec<S>,
    /// Every effect is done.
    pub finished: bool,
    /// The delivery working on it, if one.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Deliveries that claimed it.
    #[serde(default)]
    pub attempts: u32,
}

/// Whether a delivery may claim a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Done: nothing to do.
    Finished,
    /// Another delivery holds it until then.
    Busy(DateTime<Utc>),
    /// Free: released, lapsed, or never held.
    Take,
}

impl<S, D> Job<S, D> {
    fn new(data: D, lease: Lease) -> Self {
        Job {
            data,
            done: Vec::new(),
            finished: false,
            lease: Some(lease),
            attempts: 1,
        }
    }

    /// Whether a delivery at `now` may claim it.
    pub fn can_take(&self, now: DateTime<Utc>) -> Take {
        match &self.lease {
            _ if self.finished => Take::Finished,
            Some(lease) if lease.until > now => Take::Busy(lease.until),
            _ => Take::Take,
        }
    }
}

/// The result of [`StateStore::begin`].
#[derive(Debug)]
pub enum Begin<'a, S, D> {
    /// This delivery holds the work; [`Claim::resumed`] says whether an earlier one started it.
    Claimed(Claim<'a, S, D>),
    /// An earlier delivery finished it: the finished job.
    Finished(Job<S, D>),
}

/// A held claim: do the effects not done yet, record each, then [`Claim::finish`]; on failure
/// [`Claim::release`] so the retry resumes at once.
#[derive(Debug)]
pub struct Claim<'a, S, D> {
    store: &'a StateStore,
    key: String,
    etag: String,
    holder: String,
    job: Job<S, D>,
}

impl<S, D> Claim<'_, S, D>
where
    S: Serialize + DeserializeOwned + PartialEq,
    D: Serialize + DeserializeOwned,
{
    /// Whether an earlier delivery claimed this work before (this one resumes it).
    pub fn resumed(&self) -> bool {
        self.job.attempts > 1
    }

    /// The job's data.
    pub fn data(&self) -> &D {
        &self.job.data
    }

    /// The job's data, to change before the next [`Claim::record`].
    pub fn data_mut(&mut self) -> &mut D {
        &mut self.job.data
    }

    /// Whether `step` was recorded done.
    pub fn is_done(&self, step: &S) -> bool {
        self.job.done.contains(step)
    }

    /// Runs `effect` unless `step` is recorded done, then records it. Returns whether it ran.
    ///
    /// # Errors
    /// The effect's error (nothing recorded), or the recording's.
    pub async fn step<E, F>(&mut self, step: S, effect: F) -> Result<bool, E>
    where
        F: AsyncFnOnce() -> Result<(), E>,
        E: From<StateError>,
    {
        if self.is_done(&step) {
            return Ok(false);
        }
        effect().await?;
        self.record(step).await?;
        Ok(true)
    }

    /// Records `step` done (and the data as it is now).
    ///
    /// # Errors
    /// S3 failures; [`StateError::Conflict`] when another delivery took the claim over.
    pub async fn record(&mut self, step: S) -> Result<(), StateError> {
        if !self.job.done.contains(&step) {
            self.job.done.push(step);
        }
        self.save().await
    }

    /// Marks the job finished and lets go of it.
    ///
    /// # Errors
    /// As [`Claim::record`].
    pub async fn finish(mut self) -> Result<Job<S, D>, StateError> {
        self.job.finished = true;
        self.job.lease = None;
        self.save().await?;
        Ok(self.job)
    }

    /// Ends the delivery's work on the job: finishes it when `result` is a success, releases it otherwise (so
    /// a retry resumes with what is still missing). Returns `result`.
    ///
    /// # Errors
    /// `result`'s error, or the failure to record the job finished.
    pub async fn conclude<T, E: From<StateError>>(self, result: Result<T, E>) -> Result<T, E> {
        match result {
            Ok(value) => {
                self.finish().await?;
                Ok(value)
            }
            Err(error) => {
                self.release().await;
                Err(error)
            }
        }
    }

    /// Lets go of an unfinished job after a failure, so a retry resumes it at once. Best effort: if this write
    /// fails too, the claim lapses at the end of its lease.
    pub async fn release(mut self) {
        self.job.lease = None;
        let Err(error) = self.save().await else {
            return;
        };
        // The failure may have been a write that took effect with its answer lost, leaving our ETag stale. If the
        // stored job is still ours (same holder), ours is written over it (it records everything the stored one
        // does); if that lost write was this very release, it is already released.
        let released = match self.store.read::<Job<S, D>>(&self.key).await {
            Ok(Some(stored)) => match &stored.value.lease {
                Some(lease) if lease.holder == self.holder => self
                    .store
                    .replace(&self.key, &self.job, &stored.etag)
                    .await
                    .ok()
                    .flatten()
                    .is_some(),
                None => !stored.value.finished,
                Some(_) => false,
            },
            _ => false,
        };
        if !released {
            tracing::warn!(key = %self.key, error = %error, "could not release the claim; it lapses with its lease");
        }
    }

    async fn save(&mut self) -> Result<(), StateError> {
        match self.store.replace(&self.key, &self.job, &self.etag).await? {
            Some(etag) => {
                self.etag = etag;
                Ok(())
            }
            None => Err(StateError::Conflict {
                uri: self.store.at(&self.key).uri(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    #[test]
    fn a_job_is_taken_only_when_free_and_unfinished() {
        let now = at("2026-12-01T10:00:00Z");
        let lease = |until: &str| {
            Some(Lease {
                holder: "h".into(),
                until: at(until),
            })
        };
        let table = [
            (false, None, Take::Take),
            (
                false,
                lease("2026-12-01T10:05:00Z"),
                Take::Busy(at("2026-12-01T10:05:00Z")),
            ),
            (false, lease("2026-12-01T10:00:00Z"), Take::Take),
            (false, lease("2026-12-01T09:00:00Z"), Take::Take),
            (true, None, Take::Finished),
            (true, lease("2026-12-01T10:05:00Z"), Take::Finished),
        ];
        for (finished, lease, expected) in table {
            let job = Job::<u8, ()> {
                data: (),
                done: vec![],
                finished,
                lease: lease.clone(),
                attempts: 1,
            };
            assert_eq!(job.can_take(now), expected, "{finished} {lease:?}");
        }
    }

    #[test]
    fn errors_say_whether_a_retry_helps() {
        let busy = StateError::Busy {
            uri: "s3://state/x".into(),
            until: at("2026-12-01T10:05:00Z"),
        };
        assert_eq!(busy.class(), ErrorClass::Retryable);
        let corrupt = StateError::Corrupt {
            uri: "s3://state/x".into(),
            source: serde_json::from_str::<u8>("{").unwrap_err(),
        };
        assert_eq!(corrupt.class(), ErrorClass::NonRetryable);
        assert!(
            corrupt.to_string().contains("StateBreakGlassRoleArn"),
            "{corrupt}"
        );
    }
}
