//! The hourly run's decisions, free of AWS types: which hour is judged, which hours are read for late ground
//! truth, where the hour's report goes, and which metrics a report gives (none below the minimum sample).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use guardrails_core::metric::{
    AVG_CONFIDENCE, BIAS_VIOLATION, INPUT_DRIFT, INPUT_DRIFT_VIOLATION, LABEL_PSI,
    LABELLED_RECORDS, LOW_CONFIDENCE_PCT, MODEL_QUALITY_VIOLATION, MONITORED_TEXTS, Metric,
    OTHER_PCT, P10_CONFIDENCE, RECALL_GAP, WEIGHTED_F1, WEIGHTED_F1_UPPER_BOUND,
};
use serde::{Deserialize, Serialize};
use text_monitor::monitor::Report;

/// The longest label window: a week of hours.
pub const MAX_LABEL_WINDOW_HOURS: u32 = 168;

/// One run: the hour judged and the label window that ends with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The start of the hour whose capture is judged (input drift, prediction quality).
    pub hour: DateTime<Utc>,
    /// Hours of capture and ground truth joined for model quality, the judged hour included (at least 1).
    pub label_hours: u32,
}

impl Window {
    /// The last complete hour before `time`, and the `label_hours` ending with it. A schedule's event carries
    /// the time it was due, so a replayed or late event judges the same hour.
    pub fn before(time: DateTime<Utc>, label_hours: u32) -> Window {
        let this_hour = time.duration_trunc(TimeDelta::hours(1)).unwrap_or(time);
        Window {
            hour: this_hour - TimeDelta::hours(1),
            label_hours: label_hours.clamp(1, MAX_LABEL_WINDOW_HOURS),
        }
    }

    /// The hour starting at `hour` (a fanned-out hour's, named by its plan), and the `label_hours` ending with it.
    pub fn at(hour: DateTime<Utc>, label_hours: u32) -> Window {
        Window {
            hour: hour.duration_trunc(TimeDelta::hours(1)).unwrap_or(hour),
            label_hours: label_hours.clamp(1, MAX_LABEL_WINDOW_HOURS),
        }
    }

    /// The name of the execution that reads this hour in parts: one per hour and state machine, so a repeated
    /// delivery of the schedule's event finds the execution it started rather than a second one.
    pub fn execution_name(&self) -> String {
        self.hour.format("hour-%Y%m%dT%H").to_string()
    }

    /// The hours before the judged one whose capture is read only to be joined with ground truth, oldest first.
    pub fn earlier_hours(&self) -> Vec<DateTime<Utc>> {
        (1..self.label_hours)
            .rev()
            .map(|back| self.hour - TimeDelta::hours(i64::from(back)))
            .collect()
    }

    /// The hours whose ground truth is read, oldest first: the whole window. A label that arrives after its
    /// request has left the window is counted as unmatched.
    pub fn truth_hours(&self) -> Vec<DateTime<Utc>> {
        let mut hours = self.earlier_hours();
        hours.push(self.hour);
        hours
    }

    /// The hour's report key in the state bucket.
    pub fn report_key(&self, model: &str) -> String {
        guardrails_core::monitor_report::report_key(model, self.hour)
    }
}

/// The most parts an hour is read in: the execution's input lists them and must stay under Step Functions'
/// 256 KiB (a part's item is under 100 bytes).
pub const MAX_PARTS: usize = 1000;

/// An hour's capture files (key and size) in parts.
pub type Parts = Vec<Vec<(String, u64)>>;

/// An hour's capture files (key and size, in listing order) in parts of at most `part_bytes` each, a file larger
/// than that alone in its part; `None` when that takes more than [`MAX_PARTS`].
pub fn plan_parts(files: &[(String, u64)], part_bytes: u64) -> Option<Parts> {
    let mut parts: Parts = Vec::new();
    let mut bytes = 0_u64;
    for (key, size) in files {
        match parts.last_mut() {
            Some(part) if bytes.saturating_add(*size) <= part_bytes => {
                part.push((key.clone(), *size));
                bytes += size;
            }
            _ => {
                parts.push(vec![(key.clone(), *size)]);
                bytes = *size;
            }
        }
    }
    (parts.len() <= MAX_PARTS).then_some(parts)
}

/// The hourly folder SageMaker data capture and Model Monitor's ground truth use: `yyyy/mm/dd/hh/`.
pub fn hour_folder(hour: DateTime<Utc>) -> String {
    hour.format("%Y/%m/%d/%H/").to_string()
}

/// One value a report gives (each run's own: emitted once, never carried to the next invocation).
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// The metric.
    pub metric: Metric,
    /// Its `Check` dimension, for the input-drift metrics.
    pub check: Option<&'static str>,
    /// The value.
    pub value: f64,
}

/// A [`Gauge`] as the hour's report keeps it, so a delivery that finds the hour judged emits it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredGauge {
    /// The metric's name.
    pub metric: String,
    /// Its `Check` dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The value.
    pub value: f64,
}

impl From<&Gauge> for StoredGauge {
    fn from(gauge: &Gauge) -> Self {
        StoredGauge {
            metric: gauge.metric.name.to_owned(),
            check: gauge.check.map(str::to_owned),
            value: gauge.value,
        }
    }
}

/// The gauges of a run's report: counts always; prediction quality and input drift only with at least
/// `min_texts` of the hour's texts; model quality only when judged (enough labelled records and a threshold);
/// bias only when segments could be compared. `label_psi` is the label mix against the baseline, if any.
pub fn gauges(report: &Report, label_psi: Option<f64>, min_texts: u64) -> Vec<Gauge> {
    let plain = |metric, value| Gauge {
        metric,
        check: None,
        value,
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let counted = |n: u64| n as f64;
    let mut out = vec![
        plain(MONITORED_TEXTS, counted(report.drift.texts)),
        plain(LABELLED_RECORDS, counted(report.model_quality.join.matched)),
    ];
    let predictions = &report.predictions;
    if predictions.predictions >= min_texts {
        for (metric, value) in [
            (AVG_CONFIDENCE, predictions.avg_confidence),
            (P10_CONFIDENCE, predictions.p10_confidence),
            (LOW_CONFIDENCE_PCT, predictions.low_confidence_pct),
            (OTHER_PCT, predictions.other_pct),
            (LABEL_PSI, label_psi),
        ] {
            out.extend(value.map(|v| plain(metric, v)));
        }
    }
    out.extend(drift_gauges(report));
    let quality = &report.model_quality;
    if let (true, Some(q)) = (quality.judged, &quality.quality) {
        out.push(plain(WEIGHTED_F1, q.weighted_f1.estimate));
        out.push(plain(WEIGHTED_F1_UPPER_BOUND, q.weighted_f1_bound));
        out.push(plain(MODEL_QUALITY_VIOLATION, flag(quality.violation)));
    }
    let widest = quality
        .recall_disparity
        .iter()
        .map(|d| d.gap)
        .reduce(f64::max);
    if let Some(gap) = widest {
        out.push(plain(RECALL_GAP, gap));
        out.push(plain(BIAS_VIOLATION, flag(quality.bias_violation)));
    }
    out
}

/// Each input-drift check's value and verdict, when enough texts were read to judge.
pub fn drift_gauges(report: &Report) -> Vec<Gauge> {
    if !report.drift.judged {
        return Vec::new();
    }
    let mut out = Vec::new();
    for check in &report.drift.checks {
        let name = Some(check.check.as_str());
        out.push(Gauge {
            metric: INPUT_DRIFT,
            check: name,
            value: check.observed,
        });
        out.push(Gauge {
            metric: INPUT_DRIFT_VIOLATION,
            check: name,
            value: if check.violation { 1.0 } else { 0.0 },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataset_check::profile::Profile;
    use text_monitor::monitor::{Monitor, Settings};
    use text_monitor::samples;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_hour_is_planned_in_parts_of_at_most_the_part_size() {
        let files = |sizes: &[u64]| -> Vec<(String, u64)> {
            sizes
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("f{i}"), *s))
                .collect()
        };
        let sizes = |parts: Parts| -> Vec<Vec<u64>> {
            parts
                .into_iter()
                .map(|p| p.into_iter().map(|(_, s)| s).collect())
                .collect()
        };
        type Row<'a> = (&'a [u64], u64, Vec<Vec<u64>>);
        let table: [Row; 6] = [
            (&[], 10, vec![]),
            (&[3, 3, 3], 10, vec![vec![3, 3, 3]]),
            (&[4, 4, 4], 10, vec![vec![4, 4], vec![4]]),
            (&[5, 5, 5, 5], 10, vec![vec![5, 5], vec![5, 5]]),
            // A file larger than a part is read alone.
            (&[2, 25, 2], 10, vec![vec![2], vec![25], vec![2]]),
            (&[0, 0, 10, 0], 10, vec![vec![0, 0, 10, 0]]),
        ];
        for (input, part_bytes, expected) in table {
            let planned = plan_parts(&files(input), part_bytes).unwrap();
            assert_eq!(
                sizes(planned.clone()),
                expected,
                "{input:?} in {part_bytes}"
            );
            let keys: Vec<String> = planned.into_iter().flatten().map(|(k, _)| k).collect();
            let listed: Vec<String> = files(input).into_iter().map(|(k, _)| k).collect();
            assert_eq!(keys, listed, "every file once, in listing order");
        }
        assert_eq!(
            plan_parts(&files(&[1; MAX_PARTS]), 1).map(|p| p.len()),
            Some(MAX_PARTS)
        );
        assert_eq!(plan_parts(&files(&[1; MAX_PARTS + 1]), 1), None);
    }

    #[test]
    fn a_fanned_out_hour_has_one_execution_name() {
        let window = Window::at(at("2026-12-02T11:00:00Z"), 24);
        assert_eq!(window, Window::before(at("2026-12-02T12:15:00Z"), 24));
        assert_eq!(window.execution_name(), "hour-20261202T11");
        assert_eq!(Window::at(at("2026-12-02T11:59:59Z"), 24), window);
    }

    #[test]
    fn the_last_complete_hour_is_judged_with_its_label_window() {
        let table = [
            // (schedule time, label hours) → (judged hour, earlier hours, report key)
            (
                "2026-12-02T10:15:00Z",
                3,
                "2026-12-02T09:00:00Z",
                vec!["2026-12-02T07:00:00Z", "2026-12-02T08:00:00Z"],
                "monitor-reports/m/2026/12/02/09.json",
            ),
            (
                "2026-12-02T00:00:00Z",
                1,
                "2026-12-01T23:00:00Z",
                vec![],
                "monitor-reports/m/2026/12/01/23.json",
            ),
            (
                "2026-01-01T00:59:59Z",
                2,
                "2025-12-31T23:00:00Z",
                vec!["2025-12-31T22:00:00Z"],
                "monitor-reports/m/2025/12/31/23.json",
            ),
            // Out of range: at least the hour itself, at most a week.
            (
                "2026-12-02T10:15:00Z",
                0,
                "2026-12-02T09:00:00Z",
                vec![],
                "monitor-reports/m/2026/12/02/09.json",
            ),
        ];
        for (time, hours, hour, earlier, key) in table {
            let window = Window::before(at(time), hours);
            assert_eq!(window.hour, at(hour), "{time}");
            let earlier: Vec<_> = earlier.into_iter().map(at).collect();
            assert_eq!(window.earlier_hours(), earlier, "{time}");
            assert_eq!(window.truth_hours().last(), Some(&window.hour));
            assert_eq!(window.report_key("m"), key);
        }
        assert_eq!(
            Window::before(at("2026-12-02T10:15:00Z"), 10_000).label_hours,
            168
        );
        assert_eq!(hour_folder(at("2026-03-04T05:00:00Z")), "2026/03/04/05/");
    }

    fn capture(event: &str, text: &str, label: &str) -> Vec<u8> {
        samples::capture(event, text, &samples::answer(label, 0.9)).into_bytes()
    }

    fn truth(event: &str, label: &str) -> Vec<u8> {
        samples::truth(event, label).into_bytes()
    }

    /// A report of `n` captured texts, all labelled, the model right on `right` of them.
    fn report(n: usize, right: usize, min_f1: Option<f64>) -> Report {
        let baseline = Profile::empty();
        let settings = Settings {
            min_f1,
            min_labelled: 100,
            ..Settings::default()
        };
        let mut monitor = Monitor::new(&baseline, &settings);
        for i in 0..n {
            monitor.capture_line(&capture(
                &format!("e{i}"),
                "mi factura no llegó",
                "facturacion",
            ));
        }
        for i in 0..n {
            let label = if i < right { "facturacion" } else { "soporte" };
            monitor.truth_line(&truth(&format!("e{i}"), label));
        }
        monitor.finish()
    }

    fn names(gauges: &[Gauge]) -> Vec<(&'static str, Option<&'static str>)> {
        gauges.iter().map(|g| (g.metric.name, g.check)).collect()
    }

    #[test]
    fn nothing_is_judged_below_the_minimum_sample() {
        let table = [
            // (texts, right, threshold, min texts) → metrics beyond the counts, violation value
            (50, 50, Some(0.8), 500, vec![], None),
            (
                300,
                150,
                Some(0.8),
                100,
                vec![
                    "AvgConfidence",
                    "P10Confidence",
                    "LowConfidencePct",
                    "OtherPct",
                    "WeightedF1",
                    "WeightedF1UpperBound",
                    "ModelQualityViolation",
                ],
                Some(1.0),
            ),
            (
                300,
                300,
                Some(0.8),
                1000,
                vec![
                    "WeightedF1",
                    "WeightedF1UpperBound",
                    "ModelQualityViolation",
                ],
                Some(0.0),
            ),
            // Without a threshold model quality is measured in the report, not emitted.
            (300, 150, None, 1000, vec![], None),
        ];
        for (n, right, min_f1, min_texts, extra, violation) in table {
            let report = report(n, right, min_f1);
            let gauges = gauges(&report, None, min_texts);
            let mut expected = vec![("MonitoredTexts", None), ("LabelledRecords", None)];
            expected.extend(extra.iter().map(|name| (*name, None)));
            assert_eq!(names(&gauges), expected, "{n} texts, {right} right");
            let flagged = gauges
                .iter()
                .find(|g| g.metric.name == "ModelQualityViolation")
                .map(|g| g.value);
            assert_eq!(flagged, violation, "{n} texts, {right} right");
            assert_eq!(gauges[1].value, n as f64);
        }
    }

    #[test]
    fn judged_drift_gives_each_check_its_value_and_verdict() {
        let mut profiler = dataset_check::profile::Profiler::default();
        for text in [
            "mi factura no llegó",
            "no puedo entrar a mi cuenta",
            "quiero cambiar de plan",
        ] {
            profiler.text(text, text.chars().count() as u64);
        }
        let baseline = profiler.finish(std::collections::BTreeMap::new());
        let settings = Settings::default();
        let mut monitor = Monitor::new(&baseline, &settings);
        for i in 0..600 {
            monitor.capture_line(&capture(&format!("e{i}"), "hola", "ventas"));
        }
        let report = monitor.finish();
        assert!(report.drift.judged);
        let gauges = gauges(&report, Some(0.3), 500);
        let checks: Vec<_> = gauges
            .iter()
            .filter(|g| g.metric.name == "InputDriftViolation")
            .map(|g| g.check.unwrap())
            .collect();
        assert_eq!(checks.len(), report.drift.checks.len());
        assert!(checks.contains(&"text-length-chars"), "{checks:?}");
        let flagged = |check: &str| {
            gauges.iter().any(|g| {
                g.metric.name == "InputDriftViolation" && g.check == Some(check) && g.value == 1.0
            })
        };
        assert!(
            flagged("text-length-chars") && flagged("out-of-vocabulary"),
            "600 texts of one short unseen word drifted: {gauges:?}"
        );
        assert!(
            gauges
                .iter()
                .any(|g| g.metric.name == "LabelPSI" && g.value == 0.3),
            "the label mix against the baseline"
        );
    }
}
