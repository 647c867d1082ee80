//! Prediction quality without ground truth: the statistics of one batch of predictions (confidence, the
//! low-confidence and catch-all shares, the label mix), in one streaming pass and bounded memory.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Confidence histogram resolution: p10 is exact to a thousandth, whatever the batch size.
const BINS: usize = 1000;
/// Share given to a label absent on one side, so PSI stays finite (the usual smoothing).
const EPSILON: f64 = 1e-4;

/// Distinct labels counted one by one. A text classifier has a few dozen; a model answering with free text (or a
/// probability where a label belongs) would otherwise grow every count, matrix and report without bound.
pub const MAX_LABELS: usize = 256;
/// Where labels past [`MAX_LABELS`] are counted.
pub const OVERFLOW_LABEL: &str = "(other labels)";

/// The index of `label` in a label table (`labels`, and `index` to find them), added when new; past
/// [`MAX_LABELS`] labels, the index of [`OVERFLOW_LABEL`].
pub(crate) fn label_index(
    labels: &mut Vec<String>,
    index: &mut HashMap<String, u16>,
    label: &str,
) -> u16 {
    if let Some(&i) = index.get(label) {
        return i;
    }
    let label = if labels.len() + 1 < MAX_LABELS {
        label
    } else {
        OVERFLOW_LABEL
    };
    if let Some(&i) = index.get(label) {
        return i;
    }
    // At most MAX_LABELS (256) labels: the index fits.
    let i = u16::try_from(labels.len()).unwrap_or(u16::MAX);
    labels.push(label.to_owned());
    index.insert(label.to_owned(), i);
    i
}

/// One prediction, as read from an output line.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The predicted label.
    pub label: String,
    /// Its confidence, 0..=1.
    pub confidence: f64,
}

/// Why a line was not counted as a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// Not JSON, or not an object.
    Malformed,
    /// Neither a label nor probabilities to take one from.
    MissingLabel,
    /// Neither a confidence nor probabilities to take one from.
    MissingConfidence,
    /// A confidence or probability outside 0..=1, or not a number.
    OutOfRange,
    /// Probabilities that do not sum to about 1.
    ProbabilitiesNotSummingToOne,
    /// A line longer than a reader takes, skipped unread.
    TooLong,
}

/// Accumulates a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    predictions: u64,
    confidence_sum: f64,
    low_confidence: u64,
    other: u64,
    bins: Vec<u64>,
    labels: BTreeMap<String, u64>,
    defects: BTreeMap<Defect, u64>,
    low_threshold: f64,
    other_label: String,
}

/// The batch's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Predictions counted.
    pub predictions: u64,
    /// Lines not counted, by reason.
    pub defects: BTreeMap<Defect, u64>,
    /// Mean confidence.
    pub avg_confidence: Option<f64>,
    /// 10th percentile of confidence (to a thousandth).
    pub p10_confidence: Option<f64>,
    /// Share of predictions below the low-confidence threshold, in percent.
    pub low_confidence_pct: Option<f64>,
    /// Share of predictions of the "other" label, in percent.
    pub other_pct: Option<f64>,
    /// Predictions per label.
    pub label_counts: BTreeMap<String, u64>,
}

impl Batch {
    /// An empty batch; `low_threshold` is the low-confidence bound, `other_label` the catch-all label.
    pub fn new(low_threshold: f64, other_label: impl Into<String>) -> Self {
        Batch {
            predictions: 0,
            confidence_sum: 0.0,
            low_confidence: 0,
            other: 0,
            bins: vec![0; BINS],
            labels: BTreeMap::new(),
            defects: BTreeMap::new(),
            low_threshold,
            other_label: other_label.into(),
        }
    }

    /// Counts one prediction.
    pub fn add(&mut self, prediction: Prediction) {
        let c = prediction.confidence;
        self.predictions += 1;
        self.confidence_sum += c;
        if c < self.low_threshold {
            self.low_confidence += 1;
        }
        if prediction.label == self.other_label {
            self.other += 1;
        }
        // c is checked to be within 0..=1 by the parser; 1.0 goes to the last bin.
        let bin = ((c * BINS as f64) as usize).min(BINS - 1);
        self.bins[bin] += 1;
        let label = if self.labels.len() < MAX_LABELS || self.labels.contains_key(&prediction.label)
        {
            prediction.label
        } else {
            OVERFLOW_LABEL.to_owned()
        };
        *self.labels.entry(label).or_default() += 1;
    }

    /// Adds `other`'s counts, as if its predictions had been counted here (a part of the same batch or hour,
    /// read apart); labels past [`MAX_LABELS`] are counted under [`OVERFLOW_LABEL`] as [`Batch::add`] does.
    pub fn merge(&mut self, other: &Batch) {
        self.predictions += other.predictions;
        self.confidence_sum += other.confidence_sum;
        self.low_confidence += other.low_confidence;
        self.other += other.other;
        if other.bins.len() > self.bins.len() {
            self.bins.resize(other.bins.len(), 0);
        }
        for (mine, theirs) in self.bins.iter_mut().zip(&other.bins) {
            *mine += theirs;
        }
        for (label, n) in &other.labels {
            let label = if self.labels.len() < MAX_LABELS || self.labels.contains_key(label) {
                label.clone()
            } else {
                OVERFLOW_LABEL.to_owned()
            };
            *self.labels.entry(label).or_default() += n;
        }
        for (defect, n) in &other.defects {
            *self.defects.entry(*defect).or_default() += n;
        }
    }

    /// Counts one line that was not a prediction.
    pub fn defect(&mut self, defect: Defect) {
        *self.defects.entry(defect).or_default() += 1;
    }

    /// The figures; the shares are `None` for a batch without predictions.
    pub fn summary(&self) -> Summary {
        let n = self.predictions;
        let pct = |count: u64| (n > 0).then(|| 100.0 * count as f64 / n as f64);
        Summary {
            predictions: n,
            defects: self.defects.clone(),
            avg_confidence: (n > 0).then(|| self.confidence_sum / n as f64),
            p10_confidence: self.quantile(0.10),
            low_confidence_pct: pct(self.low_confidence),
            other_pct: pct(self.other),
            label_counts: self.labels.clone(),
        }
    }

    /// Nearest-rank quantile from the histogram: the middle of the bin holding that rank.
    fn quantile(&self, q: f64) -> Option<f64> {
        if self.predictions == 0 {
            return None;
        }
        let rank = ((q * self.predictions as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.bins.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some((i as f64 + 0.5) / BINS as f64);
            }
        }
        None
    }
}

/// The population stability index of `actual` against `expected` (counts per label, or per bucket, class…):
/// Σ (a − e) · ln(a / e) over the shares of every key on either side, a share of 0 counted as 1e-4. Under 0.1 is usually read as stable,
/// 0.1–0.2 as a moderate shift, above 0.2 as a significant one. `None` when either side is empty.
pub fn psi<K: Ord>(expected: &BTreeMap<K, u64>, actual: &BTreeMap<K, u64>) -> Option<f64> {
    let total = |counts: &BTreeMap<K, u64>| counts.values().sum::<u64>() as f64;
    let (e_total, a_total) = (total(expected), total(actual));
    if e_total == 0.0 || a_total == 0.0 {
        return None;
    }
    let share = |counts: &BTreeMap<K, u64>, label: &K, total: f64| {
        (counts.get(label).copied().unwrap_or(0) as f64 / total).max(EPSILON)
    };
    let labels: std::collections::BTreeSet<&K> = expected.keys().chain(actual.keys()).collect();
    Some(
        labels
            .into_iter()
            .map(|label| {
                let e = share(expected, label, e_total);
                let a = share(actual, label, a_total);
                (a - e) * (a / e).ln()
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Counts per label, as a table row gives them.
    type Counts<'a> = &'a [(&'a str, u64)];

    #[test]
    fn psi_table_against_hand_computed_values() {
        #[rustfmt::skip]
        let table: [(&str, Counts, Counts, f64); 5] = [
            // (0.8−0.5)·ln(0.8/0.5) + (0.2−0.5)·ln(0.2/0.5) = 0.141001 + 0.274887
            ("two labels shift",       &[("a", 50), ("b", 50)],           &[("a", 80), ("b", 20)],           0.415888),
            ("same mix, other scale",  &[("a", 30), ("b", 70)],           &[("a", 3), ("b", 7)],             0.0),
            // 2·(0.3−0.25)·ln(0.3/0.25) + 2·(0.2−0.25)·ln(0.2/0.25) = 0.018232 + 0.022314
            ("four labels, mild",      &[("a", 25), ("b", 25), ("c", 25), ("d", 25)],
                                       &[("a", 30), ("b", 30), ("c", 20), ("d", 20)],                       0.040546511),
            // a label never seen in training: share 1e-4 on the expected side
            ("new label",              &[("a", 100)],                     &[("a", 90), ("x", 10)],           0.0),
            ("label gone",             &[("a", 90), ("x", 10)],           &[("a", 100)],                     0.0),
        ];
        // The last two use the smoothing, e.g. the new label:
        // (0.9−1)·ln(0.9) + (0.1−0.0001)·ln(1000) = 0.010536 + 0.690085 = 0.700621
        let new_label = (0.9 - 1.0) * (0.9f64 / 1.0).ln() + (0.1 - 1e-4) * (0.1f64 / 1e-4).ln();
        let label_gone = (1.0 - 0.9) * (1.0f64 / 0.9).ln() + (1e-4 - 0.1) * (1e-4f64 / 0.1).ln();
        for (case, expected, actual, value) in table {
            let value = match case {
                "new label" => new_label,
                "label gone" => label_gone,
                _ => value,
            };
            let got = psi(&counts(expected), &counts(actual)).unwrap();
            assert!(close(got, value), "{case}: {got} vs {value}");
        }
        assert!(close(new_label, 0.700621), "{new_label}");
        assert_eq!(psi(&counts(&[]), &counts(&[("a", 1)])), None);
    }

    #[test]
    fn batch_figures() {
        let mut batch = Batch::new(0.5, "Otros");
        // Confidences 0.01 … 1.00; every 4th prediction is "Otros".
        for i in 1..=100 {
            let label = if i % 4 == 0 { "Otros" } else { "soporte" };
            batch.add(Prediction {
                label: label.to_owned(),
                confidence: f64::from(i) / 100.0,
            });
        }
        batch.defect(Defect::Malformed);
        batch.defect(Defect::Malformed);
        let s = batch.summary();
        assert_eq!(s.predictions, 100);
        assert!(close(s.avg_confidence.unwrap(), 0.505));
        assert!(
            (s.p10_confidence.unwrap() - 0.10).abs() <= 0.001,
            "{:?}",
            s.p10_confidence
        );
        assert!(
            close(s.low_confidence_pct.unwrap(), 49.0),
            "0.01 … 0.49 are below 0.5"
        );
        assert!(close(s.other_pct.unwrap(), 25.0));
        assert_eq!(s.label_counts, counts(&[("Otros", 25), ("soporte", 75)]));
        assert_eq!(s.defects[&Defect::Malformed], 2);
    }

    #[test]
    fn empty_and_extreme_batches() {
        let empty = Batch::new(0.5, "Otros").summary();
        assert_eq!(
            (empty.avg_confidence, empty.p10_confidence, empty.other_pct),
            (None, None, None)
        );
        let mut sure = Batch::new(0.5, "Otros");
        for _ in 0..10 {
            sure.add(Prediction {
                label: "ventas".into(),
                confidence: 1.0,
            });
        }
        let s = sure.summary();
        assert!((s.p10_confidence.unwrap() - 1.0).abs() <= 0.001);
        assert_eq!(s.low_confidence_pct, Some(0.0));
    }

    #[test]
    fn labels_past_the_cap_are_counted_together() {
        let mut batch = Batch::new(0.5, "Otros");
        for i in 0..1_000 {
            batch.add(Prediction {
                label: format!("0.{i:03}"),
                confidence: 0.9,
            });
        }
        let summary = batch.summary();
        assert_eq!(summary.label_counts.len(), MAX_LABELS + 1);
        assert_eq!(
            summary.label_counts[OVERFLOW_LABEL],
            1_000 - MAX_LABELS as u64
        );
    }
}
