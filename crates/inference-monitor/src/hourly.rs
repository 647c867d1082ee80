//! The hourly run over real-time data capture: the last complete hour's texts and answers judged against the
//! serving version's baseline, and the label window's capture joined with the ground truth that has arrived, into
//! one report in the state bucket and the values the drift alarms watch. Each file is read in one streaming pass, a
//! line at a time; an hour's capture is parsed once, by the run that judges it, which keeps the hour's answers
//! (about 16 bytes a request), tagged with the version that served, for the later runs whose label window covers
//! it. Only the answers of the version serving now are joined: the labels of a version that served before must
//! not judge its successor.

use chrono::{DateTime, Utc};
use dataset_check::profile::Profile;
use guardrails_core::monitor_report::answers_key;
use guardrails_core::s3::{self, Line};
use guardrails_core::state::StateError;
use guardrails_core::{Classify, ErrorClass, ObjectRef};
use serde::{Deserialize, Serialize};
use text_monitor::batch::psi;
use text_monitor::capture::LineDefect;
use text_monitor::join::Answers;
use text_monitor::monitor::{Monitor, Report, Settings};

use crate::config::Hourly;
use crate::handler::{
    InferenceMonitor, MonitorError, Outcome, Serving, emit, judged_against, values,
};
use crate::window::{Gauge, StoredGauge, Window, gauges, hour_folder};

/// The hour report's format version.
pub const REPORT_VERSION: u32 = 1;

/// What a run read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilesRead {
    /// Capture files of the judged hour.
    pub capture: u64,
    /// Earlier hours of the window whose kept answers, of the version serving now, were joined.
    pub kept_hours: u64,
    /// Earlier hours left out of the join: never judged (no kept answers), or judged while another version
    /// served.
    pub skipped_hours: u64,
    /// Ground-truth files of the window.
    pub ground_truth: u64,
    /// Files that could not be read for good (access denied, a key the role cannot use, an archived object):
    /// skipped and logged, so one bad upload does not blind the monitor.
    pub unreadable: u64,
    /// Bytes read.
    pub bytes: u64,
}

impl FilesRead {
    /// Adds what another invocation read of the same hour.
    pub fn add(&mut self, other: &FilesRead) {
        self.capture += other.capture;
        self.kept_hours += other.kept_hours;
        self.skipped_hours += other.skipped_hours;
        self.ground_truth += other.ground_truth;
        self.unreadable += other.unreadable;
        self.bytes += other.bytes;
    }
}

/// An hour's answers as the run that judged it kept them: with the model package that served.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptAnswers {
    /// The model package serving when the hour was judged.
    pub serving: String,
    /// The answers.
    pub answers: Answers,
}

/// The part of a stored hour report a repeated delivery reads.
#[derive(Deserialize)]
pub(crate) struct Judged {
    #[serde(default)]
    gauges: Vec<StoredGauge>,
}

impl Judged {
    /// The values the report's run emitted, as [`emit`] takes them.
    pub(crate) fn values(&self) -> impl Iterator<Item = (&str, Option<&str>, f64)> {
        self.gauges
            .iter()
            .map(|g| (g.metric.as_str(), g.check.as_deref(), g.value))
    }
}

/// One hour's report, as stored in the state bucket: what was judged, against what, and the engine's report
/// (checks with observed, baseline, limit and violation, in the spirit of Model Monitor's constraint violations).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HourReport<'a> {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// The `Model` metric dimension.
    pub model: &'a str,
    /// The hour's start.
    pub hour: DateTime<Utc>,
    /// Hours of capture joined with ground truth.
    pub label_window_hours: u32,
    /// The serving model package judged.
    pub serving: &'a str,
    /// Whether its baseline was there to judge input drift and the label mix against.
    pub baseline: bool,
    /// The weighted F1 it must keep (its validation F1 less the allowed drop), when its record has one.
    pub min_f1: Option<f64>,
    /// The label mix's PSI against the baseline.
    pub label_psi: Option<f64>,
    /// What was read.
    pub files: FilesRead,
    /// What breached.
    pub violations: Vec<String>,
    /// One line for people.
    pub verdict: String,
    /// The values emitted, emitted again by a delivery that finds the hour judged.
    pub gauges: Vec<StoredGauge>,
    /// The engine's report.
    pub report: &'a Report,
}

/// What a run judged, for [`InferenceMonitor::record`].
pub(crate) struct Judgement<'a> {
    pub window: &'a Window,
    pub serving: &'a Serving,
    pub min_f1: Option<f64>,
    pub label_psi: Option<f64>,
    pub files: FilesRead,
    pub gauges: Vec<Gauge>,
    pub report: &'a Report,
}

/// Which part of the run a file feeds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    Capture,
    GroundTruth,
}

impl InferenceMonitor {
    /// Judges the last complete hour before `time` (the schedule's due time, so a replay judges the same hour),
    /// once: an hour whose report exists is not judged again, its values are emitted again (the invocation that
    /// wrote the report may have died before its metrics were flushed; a retry finishes that). An hour with more
    /// capture than one invocation should read is handed to the fan-out state machine instead.
    ///
    /// # Errors
    /// [`MonitorError`]: a listing, a read, the serving version's lineage or baseline, the report's write.
    pub(crate) async fn hourly(&self, time: DateTime<Utc>) -> Result<Outcome, MonitorError> {
        let Some(hourly) = &self.config.hourly else {
            return Ok(Outcome::Ignored {
                reason: "no CAPTURE_URI: the hourly run is off".into(),
            });
        };
        let window = Window::before(time, hourly.label_window_hours);
        if let Some(outcome) = self.already_judged(&window).await? {
            return Ok(outcome);
        }
        let Some(serving) = self.serving().await? else {
            return Ok(Outcome::Ignored {
                reason: "no serving version with a lineage record to judge against".into(),
            });
        };
        let capture = self.capture_files(hourly, window.hour).await?;
        if let Some(fan_out) = &hourly.fan_out {
            let bytes: u64 = capture.iter().map(|(_, size)| size).sum();
            if bytes > fan_out.part_bytes {
                return self.fan_out(fan_out, &window, &serving, capture).await;
            }
        }
        let empty = Profile::empty();
        let (settings, profile) = self.judging(hourly, &serving, &empty);
        let mut monitor = Monitor::new(profile, &settings);
        let mut files = self
            .read_earlier(&window, &serving.package, &mut monitor)
            .await?;
        self.read_files(&capture, Part::Capture, &mut monitor, &mut files)
            .await?;
        self.read_truth(hourly, &window, &mut monitor, &mut files)
            .await?;
        self.finish_hour(&window, &serving, &settings, monitor, files)
            .await
    }

    /// The settings `serving` is judged with (its minimum F1 is its record's validation F1 less the allowed
    /// drop) and the profile its texts are judged against: its baseline's, or `empty` without one.
    pub(crate) fn judging<'a>(
        &self,
        hourly: &Hourly,
        serving: &'a Serving,
        empty: &'a Profile,
    ) -> (Settings, &'a Profile) {
        let mut settings = self.config.settings.clone();
        settings.min_f1 = hourly.f1.min_f1(&serving.metrics);
        let profile = judged_against(serving.baseline.as_deref(), &mut settings, empty);
        (settings, profile)
    }

    /// The outcome of a run for an hour already judged, its values emitted again; `None` when it was not.
    pub(crate) async fn already_judged(
        &self,
        window: &Window,
    ) -> Result<Option<Outcome>, MonitorError> {
        let key = window.report_key(&self.config.model);
        let Some(judged) = self.judged(&key).await? else {
            return Ok(None);
        };
        emit(&self.config.model, judged.values());
        Ok(Some(Outcome::Ignored {
            reason: format!(
                "hour {} already judged: {} (its values emitted again)",
                window.hour,
                self.state.at(&key).uri()
            ),
        }))
    }

    /// The report of the hour read into `monitor`: the hour's answers kept, then the report whose presence says
    /// the hour is done, then its values (they leave with the invocation's metrics, after the handler returns; a
    /// retry finds the report and emits them).
    pub(crate) async fn finish_hour(
        &self,
        window: &Window,
        serving: &Serving,
        settings: &Settings,
        mut monitor: Monitor<'_>,
        files: FilesRead,
    ) -> Result<Outcome, MonitorError> {
        let answers = monitor.take_answers();
        let report = monitor.finish();
        let label_psi = serving
            .baseline
            .as_ref()
            .and_then(|b| psi(&b.profile.labels, &report.predictions.label_counts));
        let model = self.config.model.clone();
        let key = window.report_key(&model);
        let gauges = gauges(&report, label_psi, self.config.settings.limits.min_texts);
        let kept = KeptAnswers {
            serving: serving.package.clone(),
            answers,
        };
        self.state
            .create(&answers_key(&model, window.hour), &kept)
            .await?;
        let judgement = Judgement {
            window,
            serving,
            min_f1: settings.min_f1,
            label_psi,
            files,
            gauges,
            report: &report,
        };
        self.record(&key, judgement).await
    }

    /// Writes a judgement's report under `key`, created once (its presence says the judgement is done), then
    /// emits its values (they leave with the invocation's metrics, after the handler returns).
    pub(crate) async fn record(
        &self,
        key: &str,
        judgement: Judgement<'_>,
    ) -> Result<Outcome, MonitorError> {
        let Judgement {
            window,
            serving,
            min_f1,
            label_psi,
            files,
            gauges,
            report,
        } = judgement;
        let model = &self.config.model;
        let violations = report.violations();
        let verdict = report.verdict();
        let document = HourReport {
            report_version: REPORT_VERSION,
            model,
            hour: window.hour,
            label_window_hours: window.label_hours,
            serving: &serving.package,
            baseline: serving.baseline.is_some(),
            min_f1,
            label_psi,
            files,
            violations: violations.clone(),
            verdict: verdict.clone(),
            gauges: gauges.iter().map(StoredGauge::from).collect(),
            report,
        };
        self.state.create(key, &document).await?;
        emit(model, values(&gauges));
        tracing::info!(hour = %window.hour, key, ?files, ?violations, verdict, "judged");
        Ok(Outcome::Judged {
            hour: window.hour,
            report: self.state.at(key).uri(),
            serving: serving.package.clone(),
            violations,
            verdict,
        })
    }

    /// The stored report of an hour already judged, if any. A report that does not read still says the hour was
    /// judged: nothing is emitted again.
    pub(crate) async fn judged(&self, key: &str) -> Result<Option<Judged>, MonitorError> {
        match self.state.read::<Judged>(key).await {
            Ok(stored) => Ok(stored.map(|s| s.value)),
            Err(StateError::Corrupt { uri, source }) => {
                tracing::warn!(uri, error = %source, "the hour's report does not read: not judged again");
                Ok(Some(Judged { gauges: Vec::new() }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the earlier hours' kept answers of the version serving now into `monitor`, before the judged hour's
    /// capture (the engine joins labels to the answers already read).
    pub(crate) async fn read_earlier(
        &self,
        window: &Window,
        serving: &str,
        monitor: &mut Monitor<'_>,
    ) -> Result<FilesRead, MonitorError> {
        let mut files = FilesRead::default();
        for hour in window.earlier_hours() {
            match self.kept_answers(hour).await? {
                Some(kept) if kept.serving == serving => {
                    monitor.earlier_answers(&kept.answers);
                    files.kept_hours += 1;
                }
                _ => files.skipped_hours += 1,
            }
        }
        Ok(files)
    }

    /// Reads the label window's ground truth into `monitor`, after the capture.
    pub(crate) async fn read_truth(
        &self,
        hourly: &Hourly,
        window: &Window,
        monitor: &mut Monitor<'_>,
        files: &mut FilesRead,
    ) -> Result<(), MonitorError> {
        let Some(truth) = &hourly.ground_truth else {
            return Ok(());
        };
        for hour in window.truth_hours() {
            let listed = s3::list(&self.s3, &hour_prefix(truth, hour)).await?;
            self.read_files(&listed, Part::GroundTruth, monitor, files)
                .await?;
        }
        Ok(())
    }

    /// The answers the run that judged `hour` kept; `None` when it kept none (the hour was never judged) or they
    /// do not read.
    async fn kept_answers(&self, hour: DateTime<Utc>) -> Result<Option<KeptAnswers>, MonitorError> {
        self.read_kept(&answers_key(&self.config.model, hour)).await
    }

    /// Kept answers (an hour's or a batch's) at `key`; `None` when there are none or they do not read: left out
    /// of the join, with a warning, so one damaged document does not blind the monitor.
    pub(crate) async fn read_kept<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, MonitorError> {
        match self.state.read::<T>(key).await {
            Ok(stored) => Ok(stored.map(|s| s.value)),
            Err(StateError::Corrupt { uri, source }) => {
                tracing::warn!(uri, error = %source, "kept answers do not read: left out of the join");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The folders under the capture prefix that hold hours: SageMaker writes `<variant>/yyyy/mm/dd/hh/` under
    /// the endpoint's prefix, so each folder that is not a year is a variant; the prefix itself is read too when
    /// it holds years (capture copied without its variant level). A stray year folder hides no variant.
    async fn variants(&self, capture: &ObjectRef) -> Result<Vec<ObjectRef>, MonitorError> {
        let capture = folder(capture);
        let folders = s3::folders(&self.s3, &capture).await?;
        let is_year = |f: &ObjectRef| {
            let name = f.key[capture.key.len()..].trim_end_matches('/');
            name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit())
        };
        let years = folders.iter().any(is_year);
        let mut variants: Vec<ObjectRef> = folders.into_iter().filter(|f| !is_year(f)).collect();
        if years {
            variants.push(capture);
        }
        Ok(variants)
    }

    /// The capture files of `hour`, with their sizes, in every variant's folder.
    pub(crate) async fn capture_files(
        &self,
        hourly: &Hourly,
        hour: DateTime<Utc>,
    ) -> Result<Vec<(ObjectRef, u64)>, MonitorError> {
        let mut files = Vec::new();
        for variant in self.variants(&hourly.capture).await? {
            files.extend(s3::list(&self.s3, &hour_prefix(&variant, hour)).await?);
        }
        Ok(files)
    }

    /// `files`, each line by line into `monitor`.
    pub(crate) async fn read_files(
        &self,
        listed: &[(ObjectRef, u64)],
        part: Part,
        monitor: &mut Monitor<'_>,
        files: &mut FilesRead,
    ) -> Result<(), MonitorError> {
        for (object, size) in listed {
            let read =
                s3::for_each_line(&self.s3, object, s3::MAX_LINE, |line| match (part, line) {
                    (Part::Capture, Line::Text(l)) => monitor.capture_line(l),
                    (Part::Capture, Line::TooLong) => monitor.capture_defect(LineDefect::TooLong),
                    (Part::GroundTruth, Line::Text(l)) => monitor.truth_line(l),
                    (Part::GroundTruth, Line::TooLong) => monitor.truth_defect(LineDefect::TooLong),
                })
                .await;
            match read {
                Ok(()) => {}
                // For good (denied, a key the role cannot use, archived): skipped, counted in the report.
                Err(e) if e.class() == ErrorClass::NonRetryable => {
                    tracing::warn!(uri = %object.uri(), error = %e, "file skipped: it cannot be read");
                    files.unreadable += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            *match part {
                Part::Capture => &mut files.capture,
                Part::GroundTruth => &mut files.ground_truth,
            } += 1;
            files.bytes += size;
        }
        Ok(())
    }
}

/// The folder of `hour` under `prefix`.
fn hour_prefix(prefix: &ObjectRef, hour: DateTime<Utc>) -> ObjectRef {
    let folder = folder(prefix);
    ObjectRef::new(
        &folder.bucket,
        format!("{}{}", folder.key, hour_folder(hour)),
    )
}

/// `prefix` as a folder: its key ending with `/` (unless it is the whole bucket).
fn folder(prefix: &ObjectRef) -> ObjectRef {
    let mut key = prefix.key.clone();
    if !key.is_empty() && !key.ends_with('/') {
        key.push('/');
    }
    ObjectRef::new(&prefix.bucket, key)
}
