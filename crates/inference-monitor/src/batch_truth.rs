//! Model quality in batch serving. Each completed batch keeps its answers by record id (about 16 bytes a record),
//! tagged with the version that served, under the day it ended. Each ground-truth upload then joins the label
//! window's ground truth (Model Monitor's `yyyy/mm/dd/hh/` folders) with the kept answers of the batches that ended
//! in the window and were answered by the version serving now, and judges the weighted F1 as the hourly run does:
//! its bootstrap bound against the version's validation F1 less the allowed drop. The judgement is stored under
//! the upload's digest, so a redelivered upload emits its values again instead of judging twice.

use chrono::{DateTime, Days, Utc};
use dataset_check::profile::Profile;
use guardrails_core::ObjectRef;
use guardrails_core::domain::package_version;
use guardrails_core::monitor_report::{batch_answers_folder, batch_answers_key, truth_report_key};
use guardrails_core::s3;
use serde::{Deserialize, Serialize};
use text_monitor::join::Answers;
use text_monitor::monitor::Monitor;

use crate::config::BatchTruth;
use crate::handler::{InferenceMonitor, MonitorError, Outcome, emit};
use crate::hourly::{FilesRead, Judgement, Part};
use crate::window::{Window, gauges, hour_folder};
use guardrails_core::metric::MONITORED_TEXTS;

/// A batch's answers as the run that measured it kept them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchAnswers {
    /// The model package that answered.
    pub serving: String,
    /// The transform job.
    pub job: String,
    /// When it ended.
    pub ended: DateTime<Utc>,
    /// The answers, by record id.
    pub answers: Answers,
}

impl InferenceMonitor {
    /// Keeps a completed batch's answers for the ground truth to come (once: a redelivery finds them written),
    /// tagged with the version serving now. A job whose tag says another version ran it (a rollback or a release
    /// while it ran) keeps nothing: its answers would judge a version that never gave them.
    pub(crate) async fn keep_batch_answers(
        &self,
        job: &str,
        ended: DateTime<Utc>,
        ran: Option<&str>,
        serving: &str,
        answers: Answers,
    ) -> Result<(), MonitorError> {
        if let Some(ran) = ran.filter(|ran| *ran != package_version(serving)) {
            tracing::warn!(
                job,
                ran,
                serving,
                "the job ran another version than the one serving: its answers are not kept"
            );
            return Ok(());
        }
        let Some(key) = batch_answers_key(&self.config.model, ended, job) else {
            tracing::warn!(job, "not a transform job name: its answers are not kept");
            return Ok(());
        };
        let kept = BatchAnswers {
            serving: serving.to_owned(),
            job: job.to_owned(),
            ended,
            answers,
        };
        self.state.create(&key, &kept).await?;
        Ok(())
    }

    /// Judges model quality on the ground-truth upload `object` (under `truth`'s prefix; `version` tells apart
    /// two uploads of one key: its version id or ETag), received at `time`.
    pub(crate) async fn batch_truth(
        &self,
        truth: &BatchTruth,
        object: ObjectRef,
        version: &str,
        time: DateTime<Utc>,
    ) -> Result<Outcome, MonitorError> {
        let window = Window::at(time, truth.label_window_hours);
        let in_window = window.truth_hours().into_iter().any(|hour| {
            object
                .key
                .starts_with(&format!("{}{}", truth.ground_truth.key, hour_folder(hour)))
        });
        if !in_window {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "{} is not in an hour folder of the last {} hour(s): ground truth goes under {}yyyy/mm/dd/hh/",
                    object.uri(),
                    window.label_hours,
                    truth.ground_truth.uri()
                ),
            });
        }
        let model = self.config.model.clone();
        let key = truth_report_key(&model, &object.bucket, &object.key, version);
        if let Some(judged) = self.judged(&key).await? {
            emit(&model, judged.values());
            return Ok(Outcome::Ignored {
                reason: format!(
                    "{} already judged: {} (its values emitted again)",
                    object.uri(),
                    self.state.at(&key).uri()
                ),
            });
        }
        let Some(serving) = self.serving().await? else {
            return Ok(Outcome::Ignored {
                reason: "no serving version with a lineage record to judge against".into(),
            });
        };
        let mut settings = self.config.settings.clone();
        settings.min_f1 = truth.f1.min_f1(&serving.metrics);
        // Texts were judged when each batch was measured: here only answers and labels are read.
        settings.limits.min_texts = u64::MAX;
        let empty = Profile::empty();
        let mut monitor = Monitor::new(&empty, &settings);
        let mut files = self
            .read_batches(&window, &serving.package, &mut monitor)
            .await?;
        for hour in window.truth_hours() {
            let folder = ObjectRef::new(
                &truth.ground_truth.bucket,
                format!("{}{}", truth.ground_truth.key, hour_folder(hour)),
            );
            let listed = s3::list(&self.s3, &folder).await?;
            self.read_files(&listed, Part::GroundTruth, &mut monitor, &mut files)
                .await?;
        }
        let report = monitor.finish();
        let gauges: Vec<_> = gauges(&report, None, u64::MAX)
            .into_iter()
            .filter(|g| g.metric != MONITORED_TEXTS)
            .collect();
        tracing::info!(truth = %object.uri(), "batches judged against ground truth");
        let judgement = Judgement {
            window: &window,
            serving: &serving,
            min_f1: settings.min_f1,
            label_psi: None,
            files,
            gauges,
            report: &report,
        };
        self.record(&key, judgement).await
    }

    /// Reads the kept answers of the batches that ended in `window` and were answered by `serving` into
    /// `monitor`, oldest first (a record id answered twice joins its latest answer), before the ground truth
    /// (counted as kept hours in `FilesRead`, one per batch).
    async fn read_batches(
        &self,
        window: &Window,
        serving: &str,
        monitor: &mut Monitor<'_>,
    ) -> Result<FilesRead, MonitorError> {
        let mut files = FilesRead::default();
        let hours = window.truth_hours();
        let (Some(first), Some(last)) = (hours.first().copied(), hours.last().copied()) else {
            return Ok(files);
        };
        let end = last + chrono::TimeDelta::hours(1);
        let mut joined = Vec::new();
        let mut day = first;
        while day.date_naive() <= last.date_naive() {
            let folder = ObjectRef::new(
                self.state.bucket(),
                batch_answers_folder(&self.config.model, day),
            );
            for (object, _) in s3::list(&self.s3, &folder).await? {
                match self.read_kept::<BatchAnswers>(&object.key).await? {
                    Some(kept)
                        if kept.serving == serving && kept.ended >= first && kept.ended < end =>
                    {
                        joined.push(kept);
                    }
                    _ => files.skipped_hours += 1,
                }
            }
            let Some(next) = day.checked_add_days(Days::new(1)) else {
                break;
            };
            day = next;
        }
        joined.sort_by_key(|kept| kept.ended);
        for kept in &joined {
            monitor.earlier_answers(&kept.answers);
            files.kept_hours += 1;
        }
        Ok(files)
    }
}
