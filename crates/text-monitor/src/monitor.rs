//! One monitoring run, the engine the monitoring function and the `text-monitor` CLI share: capture lines first
//! (input drift, prediction quality, the predictions waiting for their labels), then ground-truth lines (model
//! quality), then one report. A line that does not read is counted by reason, never fatal.

use std::collections::BTreeMap;

use dataset_check::profile::Profile;
use serde::{Deserialize, Serialize};

use crate::batch::Defect;
use crate::batch::{Batch, Summary};
use crate::bias::{Disparity, recall_disparity};
use crate::capture::{
    Captured, LineDefect, OutputLine, Reading, read_capture, read_output, read_truth,
};
use crate::drift::{DriftPart, DriftReport, InputDrift, Limits};
use crate::join::{Answers, JoinCounts, Joiner};
use crate::quality::{Quality, REPLICATES};
use dataset_check::profile::MergeError;

/// The label a request whose answer did not read is joined with (never a true label: counted wrong).
pub const NO_ANSWER: &str = "(no readable answer)";

/// The bootstrap's seed: fixed, so the same data gives the same interval and an alarm's decision can be
/// reproduced.
const SEED: u64 = 0x7e47_5eed;

/// What a run judges against, besides the baseline profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How bodies and ground truth are read.
    pub reading: Reading,
    /// The input-drift limits.
    pub limits: Limits,
    /// Confidence under which a prediction is "low" (`LOW_CONFIDENCE`, 0.5).
    pub low_confidence: f64,
    /// The catch-all label (`OTHER_LABEL`, `Otros`).
    pub other_label: String,
    /// The weighted F1 the model must keep (the serving version's own, from its lineage record); `None`: model
    /// quality is measured, not judged.
    pub min_f1: Option<f64>,
    /// Labelled records under which model quality is not judged (`MIN_LABELLED`, 200).
    pub min_labelled: u64,
    /// Predictions at most waiting for their labels (`MAX_WAITING`, 2,000,000: about 40 MB).
    pub max_waiting: usize,
    /// The recall gap between two segments that is a bias finding, when significant (`MAX_RECALL_GAP`, 0.1).
    pub max_recall_gap: f64,
    /// Records of a class a segment needs to be compared (`MIN_SEGMENT_SUPPORT`, 30).
    pub min_segment_support: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reading: Reading::default(),
            limits: Limits::default(),
            low_confidence: 0.5,
            other_label: "Otros".into(),
            min_f1: None,
            min_labelled: 200,
            max_waiting: 2_000_000,
            max_recall_gap: 0.1,
            min_segment_support: 30,
        }
    }
}

/// Lines read, and those not read by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineCounts {
    /// Lines read.
    pub read: u64,
    /// Lines not read, by reason.
    pub defects: BTreeMap<LineDefect, u64>,
}

impl LineCounts {
    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &LineCounts) {
        self.read += other.read;
        for (defect, n) in &other.defects {
            *self.defects.entry(*defect).or_default() += n;
        }
    }

    fn count<T>(&mut self, line: Result<T, LineDefect>) -> Option<T> {
        match line {
            Ok(value) => {
                self.read += 1;
                Some(value)
            }
            Err(defect) => {
                *self.defects.entry(defect).or_default() += 1;
                None
            }
        }
    }
}

/// Model quality, with what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelQuality {
    /// The join.
    pub join: JoinCounts,
    /// The quality of the labelled predictions; `None` without any.
    pub quality: Option<Quality>,
    /// The weighted F1 the model must keep, if judged.
    pub min_f1: Option<f64>,
    /// Whether there were enough labelled records and a threshold to judge.
    pub judged: bool,
    /// Whether the weighted F1 is significantly under the threshold: its bootstrap's 99th percentile is (a
    /// model as good as the threshold breaches at most 1 % of the time).
    pub violation: bool,
    /// Per class, its recall in the worst and best segment, when ground truth names segments.
    pub recall_disparity: Vec<Disparity>,
    /// Whether a class's recall differs across segments by more than the limit, significantly.
    pub bias_violation: bool,
}

/// A run's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Capture lines.
    pub capture: LineCounts,
    /// Ground-truth lines.
    pub ground_truth: LineCounts,
    /// Prediction quality, without ground truth.
    pub predictions: Summary,
    /// Input drift.
    pub drift: DriftReport,
    /// Model quality, with ground truth.
    pub model_quality: ModelQuality,
}

impl Report {
    /// What breached: each drift check's name, and `model-quality`.
    pub fn violations(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .drift
            .violations()
            .map(|c| c.check.as_str().to_owned())
            .collect();
        if self.model_quality.violation {
            names.push("model-quality".into());
        }
        if self.model_quality.bias_violation {
            names.push("bias".into());
        }
        names
    }

    /// One line for people.
    pub fn verdict(&self) -> String {
        let labelled = self.model_quality.join.matched;
        let f1 = self
            .model_quality
            .quality
            .as_ref()
            .map(|q| {
                let i = q.weighted_f1;
                format!(
                    ", weighted F1 {:.3} (95% {:.3}–{:.3})",
                    i.estimate, i.low, i.high
                )
            })
            .unwrap_or_default();
        let violations = self.violations();
        let what = if violations.is_empty() {
            "no violation".to_owned()
        } else {
            format!(
                "{} violation(s): {}",
                violations.len(),
                violations.join(", ")
            )
        };
        format!(
            "{what} ({} texts, {} predictions, {labelled} labelled{f1})",
            self.drift.texts, self.predictions.predictions
        )
    }
}

/// What a part of a run read: the capture lines of some of the judged hour's files, read by an invocation of
/// their own when the hour is more than one should read. The run that judges the hour merges the parts
/// ([`Monitor::add_part`]) and reads the ground truth itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Capture lines.
    pub capture: LineCounts,
    /// The texts.
    pub drift: DriftPart,
    /// The answers' prediction quality.
    pub predictions: Batch,
    /// The answers, for the join.
    pub answers: Answers,
}

/// A run in progress.
pub struct Monitor<'a> {
    baseline: &'a Profile,
    settings: &'a Settings,
    drift: InputDrift,
    batch: Batch,
    join: Joiner,
    capture: LineCounts,
    truth: LineCounts,
    answers: Answers,
    parts: DriftPart,
}

impl<'a> Monitor<'a> {
    /// A run against `baseline` (the serving model's profile).
    pub fn new(baseline: &'a Profile, settings: &'a Settings) -> Self {
        Monitor {
            baseline,
            settings,
            drift: InputDrift::default(),
            batch: Batch::new(settings.low_confidence, settings.other_label.clone()),
            join: Joiner::new(settings.max_waiting),
            capture: LineCounts::default(),
            truth: LineCounts::default(),
            answers: Answers::default(),
            parts: DriftPart::empty(),
        }
    }

    /// One capture line (read every capture line before the ground truth).
    pub fn capture_line(&mut self, line: &[u8]) {
        if let Some(captured) = self
            .capture
            .count(read_capture(line, &self.settings.reading))
        {
            self.captured(captured);
        }
    }

    /// One line of batch transform output: joined with its input record, it is read like a capture line (text,
    /// answer, record id); the answer alone counts for prediction quality only. A line that is not JSON is a
    /// malformed prediction, as prediction quality has always counted it.
    pub fn batch_line(&mut self, line: &[u8]) {
        match read_output(line, &self.settings.reading) {
            Ok(OutputLine::Joined(captured)) => {
                self.capture.read += 1;
                self.captured(captured);
            }
            Ok(OutputLine::Bare(prediction)) => {
                self.capture.read += 1;
                match prediction {
                    Ok(p) => self.batch.add(p),
                    Err(defect) => self.batch.defect(defect),
                }
            }
            Err(_) => self.batch.defect(Defect::Malformed),
        }
    }

    /// A batch output line too long to read: a prediction that does not count.
    pub fn batch_defect(&mut self) {
        self.batch.defect(Defect::TooLong);
    }

    fn captured(&mut self, captured: Captured) {
        for text in &captured.texts {
            self.drift.text(text, self.baseline);
        }
        let mut labels = Vec::with_capacity(captured.predictions.len());
        for prediction in captured.predictions {
            match prediction {
                Ok(p) => {
                    labels.push(p.label.clone());
                    self.batch.add(p);
                }
                Err(defect) => {
                    labels.push(NO_ANSWER.to_owned());
                    self.batch.defect(defect);
                }
            }
        }
        self.wait_for_labels(&captured.event_id, &labels);
        if !captured.event_id.is_empty() {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            self.answers
                .add(&captured.event_id, &labels, self.settings.max_waiting);
        }
    }

    /// An earlier hour's answers as the run that judged it kept them ([`Monitor::take_answers`]): joined like
    /// that hour's capture lines, without reading them again. Read these before the ground truth too.
    pub fn earlier_answers(&mut self, answers: &Answers) {
        self.join.predicted_earlier(answers);
    }

    /// The answers of the capture lines read with [`Monitor::capture_line`], for later runs to join their labels
    /// to; taken, so the report is finished without them.
    pub fn take_answers(&mut self) -> Answers {
        std::mem::take(&mut self.answers)
    }

    /// A request's answers wait for their labels. An answer that does not read is still the model's answer to
    /// that request: joined as wrong ([`NO_ANSWER`]), so model quality does not leave out exactly the bad answers.
    fn wait_for_labels(&mut self, event_id: &str, labels: &[String]) {
        if !event_id.is_empty() {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            self.join.predicted(event_id, &labels);
        }
    }

    /// A capture line a reader could not take whole (see [`LineDefect::TooLong`]).
    pub fn capture_defect(&mut self, defect: LineDefect) {
        self.capture.count::<()>(Err(defect));
    }

    /// A ground-truth line a reader could not take whole.
    pub fn truth_defect(&mut self, defect: LineDefect) {
        self.truth.count::<()>(Err(defect));
    }

    /// One ground-truth line.
    pub fn truth_line(&mut self, line: &[u8]) {
        if let Some(truth) = self.truth.count(read_truth(line, &self.settings.reading)) {
            self.join
                .truth(&truth.event_id, &truth.label, truth.segment.as_deref());
        }
    }

    /// What this run read, as a part for the run that judges the hour (its ground truth is read there).
    pub fn into_part(self) -> Part {
        let mut drift = self.drift.into_part();
        // `parts` holds only parts already merged with a profile of this version: merging cannot fail.
        let _ = drift.merge(&self.parts);
        Part {
            capture: self.capture,
            drift,
            predictions: self.batch,
            answers: self.answers,
        }
    }

    /// A part another invocation read of this hour's capture: counted as if its lines had been read here. Add
    /// parts before the ground truth.
    ///
    /// # Errors
    /// [`MergeError`]: a part whose profile is of another version.
    pub fn add_part(&mut self, part: &Part) -> Result<(), MergeError> {
        self.parts.merge(&part.drift)?;
        self.capture.merge(&part.capture);
        self.batch.merge(&part.predictions);
        self.join.predicted_earlier(&part.answers);
        self.answers.merge(&part.answers, self.settings.max_waiting);
        Ok(())
    }

    /// The report.
    pub fn finish(self) -> Report {
        let mut drift = self.drift.into_part();
        // `parts` holds only parts already merged with a profile of this version: merging cannot fail.
        let _ = drift.merge(&self.parts);
        let settings = self.settings;
        let quality = self.join.confusion().quality(REPLICATES, SEED);
        let labelled = quality.as_ref().map_or(0, |q| q.labelled);
        let judged = settings.min_f1.is_some() && labelled >= settings.min_labelled;
        let violation = judged
            && matches!((&quality, settings.min_f1), (Some(q), Some(min)) if q.weighted_f1_bound < min);
        let disparity = recall_disparity(self.join.segments(), settings.min_segment_support);
        let bias_violation = disparity
            .iter()
            .any(|d| d.significant && d.gap > settings.max_recall_gap);
        Report {
            capture: self.capture,
            ground_truth: self.truth,
            predictions: self.batch.summary(),
            drift: drift.finish(self.baseline, &settings.limits),
            model_quality: ModelQuality {
                join: self.join.counts(),
                quality,
                min_f1: settings.min_f1,
                judged,
                violation,
                recall_disparity: disparity,
                bias_violation,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn capture(event: &str, answer: &str) -> Vec<u8> {
        crate::samples::capture(event, "hola", answer).into_bytes()
    }

    fn truth(event: &str, label: &str) -> Vec<u8> {
        crate::samples::truth(event, label).into_bytes()
    }

    #[test]
    fn an_hour_read_in_parts_is_judged_as_if_read_whole() {
        let mut profiler = dataset_check::profile::Profiler::default();
        for text in ["mi factura no llegó", "no puedo entrar a mi cuenta"] {
            profiler.text(text, text.chars().count() as u64);
        }
        let baseline = profiler.finish(BTreeMap::new());
        let settings = Settings {
            min_f1: Some(0.9),
            min_labelled: 10,
            ..Settings::default()
        };
        let texts = [
            "mi factura",
            "hola",
            "",
            "no puedo entrar",
            "shipment delayed",
        ];
        let labels = ["facturacion", "Otros", "soporte"];
        let line = |i: usize| {
            let answer = crate::samples::answer(labels[i % 3], 0.3 + (i % 7) as f64 / 10.0);
            crate::samples::capture(&format!("e{i}"), texts[i % 5], &answer).into_bytes()
        };
        let truth =
            |i: usize| crate::samples::truth(&format!("e{i}"), labels[(i / 2) % 3]).into_bytes();
        let mut whole = Monitor::new(&baseline, &settings);
        let mut parts: Vec<Monitor> = (0..3).map(|_| Monitor::new(&baseline, &settings)).collect();
        for i in 0..600 {
            whole.capture_line(&line(i));
            parts[i % 3].capture_line(&line(i));
        }
        whole.capture_line(b"{broken");
        parts[1].capture_line(b"{broken");
        let mut merged = Monitor::new(&baseline, &settings);
        merged.capture_line(&line(600));
        whole.capture_line(&line(600));
        for part in parts {
            let stored: Part =
                serde_json::from_str(&serde_json::to_string(&part.into_part()).unwrap()).unwrap();
            merged.add_part(&stored).unwrap();
        }
        for i in 0..601 {
            whole.truth_line(&truth(i));
            merged.truth_line(&truth(i));
        }
        let (kept_whole, kept_merged) = (whole.take_answers(), merged.take_answers());
        assert_eq!(kept_merged.answers.len(), kept_whole.answers.len());
        assert_eq!(
            kept_merged.labels.len(),
            3,
            "one entry per label: {:?}",
            kept_merged.labels
        );
        let (mut whole, mut merged) = (whole.finish(), merged.finish());
        // The bootstrap resamples cells in the matrix's label order, which the order of reading may change:
        // the intervals are compared to the resampling's precision, everything else exactly.
        let (w, m) = (
            whole.model_quality.quality.take().unwrap(),
            merged.model_quality.quality.take().unwrap(),
        );
        assert_eq!(
            (w.labelled, w.accuracy.estimate, w.weighted_f1.estimate),
            (m.labelled, m.accuracy.estimate, m.weighted_f1.estimate)
        );
        assert!((w.weighted_f1_bound - m.weighted_f1_bound).abs() < 0.02);
        // A sum of confidences differs in its last bits with the order of addition.
        let (wa, ma) = (
            whole.predictions.avg_confidence.take(),
            merged.predictions.avg_confidence.take(),
        );
        assert!((wa.unwrap() - ma.unwrap()).abs() < 1e-12);
        assert_eq!(whole.drift, merged.drift);
        assert_eq!(whole, merged);
        assert_eq!(whole.capture.read, 601);
    }

    #[test]
    fn an_unreadable_answer_is_joined_as_wrong_not_left_out() {
        let baseline = Profile::empty();
        let settings = Settings::default();
        let mut monitor = Monitor::new(&baseline, &settings);
        monitor.capture_line(&capture("a", r#"{"label": "ventas", "confidence": 0.9}"#));
        monitor.capture_line(&capture("b", r#"{"label": "ventas", "confidence": 7}"#));
        monitor.capture_defect(LineDefect::TooLong);
        monitor.truth_line(&truth("a", "ventas"));
        monitor.truth_line(&truth("b", "ventas"));
        let report = monitor.finish();
        let quality = report.model_quality.quality.unwrap();
        assert_eq!(quality.labelled, 2);
        assert!(
            (quality.accuracy.estimate - 0.5).abs() < 1e-9,
            "{quality:?}"
        );
        assert_eq!(report.capture.read, 2);
        assert_eq!(report.capture.defects[&LineDefect::TooLong], 1);
        assert_eq!(
            report.predictions.predictions, 1,
            "prediction quality counts readable answers"
        );
    }

    #[test]
    fn a_class_missed_in_one_segment_is_a_bias_finding() {
        let baseline = Profile::empty();
        let mut settings = Settings::default();
        settings.reading.segment_field = Some("channel".into());
        let mut monitor = Monitor::new(&baseline, &settings);
        for i in 0..200 {
            let channel = if i % 2 == 0 { "email" } else { "whatsapp" };
            // Every email ticket is found; whatsapp's half the time.
            let found = channel == "email" || i % 4 == 1;
            let answer = if found { "soporte" } else { "Otros" };
            let event = format!("e-{i}");
            monitor.capture_line(&capture(
                &event,
                &format!(r#"{{"label": "{answer}", "confidence": 0.9}}"#),
            ));
            let truth = serde_json::to_vec(&json!({
                "groundTruthData": {"data": json!({"label": "soporte", "channel": channel}).to_string(), "encoding": "JSON"},
                "eventMetadata": {"eventId": event}
            }))
            .unwrap();
            monitor.truth_line(&truth);
        }
        let report = monitor.finish();
        let disparity = &report.model_quality.recall_disparity[0];
        assert_eq!(disparity.lowest.segment, "whatsapp");
        assert!(
            disparity.significant && (disparity.gap - 0.5).abs() < 1e-9,
            "{disparity:?}"
        );
        assert!(report.violations().contains(&"bias".to_owned()));
    }
}
