//! Model quality with ground truth: the confusion matrix of the labelled predictions, accuracy, weighted and
//! macro F1, per-class precision, recall and F1, each with a 95 % confidence interval, so an alarm can act on a
//! drop that is statistically real (the interval's upper bound below the threshold) and never on noise.
//!
//! Proportions (accuracy, precision, recall) get the Wilson score interval, which stays inside 0..1 and keeps its
//! coverage for small counts and proportions near 0 or 1, where the normal approximation does not. F1 is not a
//! proportion: its interval comes from a Poisson bootstrap of the confusion matrix (each cell resampled as a
//! Poisson draw of its count: the bootstrap of the records without touching them, so it costs the same for a
//! thousand records or a million), with a fixed seed so a run is reproducible.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Poisson};
use serde::Serialize;

/// The normal quantile of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Bootstrap replicates of an F1 interval (the percentile interval's ends move by well under 0.005 past this).
pub const REPLICATES: u32 = 1000;

/// A confusion matrix: rows are the true labels, columns the predicted ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confusion {
    labels: Vec<String>,
    index: HashMap<String, u16>,
    cells: BTreeMap<(u16, u16), u64>,
}

/// An estimate and its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The value observed.
    pub estimate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

/// One label's quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassQuality {
    /// The label.
    pub label: String,
    /// Records truly of it.
    pub support: u64,
    /// Records predicted as it.
    pub predicted: u64,
    /// Of those predicted as it, the share truly of it; `None` when none was predicted.
    pub precision: Option<Interval>,
    /// Of those truly of it, the share predicted as it; `None` without support.
    pub recall: Option<Interval>,
    /// Harmonic mean of precision and recall (0 when either is 0 or undefined).
    pub f1: f64,
}

/// The quality of a set of labelled predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Labelled predictions.
    pub labelled: u64,
    /// Share predicted right.
    pub accuracy: Interval,
    /// F1 per label, weighted by support.
    pub weighted_f1: Interval,
    /// The 99th percentile of the weighted F1's bootstrap: what the model-quality alarm compares with its
    /// threshold, so a model exactly as good as the threshold raises it at most 1 % of the time.
    pub weighted_f1_bound: f64,
    /// F1 averaged over the labels seen (true or predicted).
    pub macro_f1: Interval,
    /// Per label, in order of first appearance.
    pub classes: Vec<ClassQuality>,
}

impl Confusion {
    /// The index of `label`, added when new; past [`MAX_LABELS`](crate::batch::MAX_LABELS) labels, the index of [`OVERFLOW_LABEL`](crate::batch::OVERFLOW_LABEL).
    pub fn label_index(&mut self, label: &str) -> u16 {
        crate::batch::label_index(&mut self.labels, &mut self.index, label)
    }

    /// The index of `label`, if seen.
    pub fn index_of(&self, label: &str) -> Option<u16> {
        self.index.get(label).copied()
    }

    /// Counts one record, truly `truth`, predicted `predicted`.
    pub fn add(&mut self, truth: u16, predicted: u16) {
        *self.cells.entry((truth, predicted)).or_default() += 1;
    }

    /// Records truly `truth` and predicted `predicted`.
    pub fn count(&self, truth: u16, predicted: u16) -> u64 {
        self.cells
            .get(&(truth, predicted))
            .copied()
            .unwrap_or_default()
    }

    /// Records counted.
    pub fn total(&self) -> u64 {
        self.cells.values().sum()
    }

    /// The labels, by index.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The non-empty cells: (truth, predicted, count).
    fn nonzero(&self) -> Vec<(usize, usize, f64)> {
        self.cells
            .iter()
            .map(|(&(t, p), &n)| (usize::from(t), usize::from(p), n as f64))
            .collect()
    }

    /// The quality of the counted records, F1 intervals from `replicates` bootstrap replicates drawn from `seed`;
    /// `None` when nothing was counted.
    pub fn quality(&self, replicates: u32, seed: u64) -> Option<Quality> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let k = self.labels.len();
        let cells = self.nonzero();
        let counts: Vec<f64> = cells.iter().map(|c| c.2).collect();
        let sums = Sums::of(&cells, &counts, k);
        let right: u64 = sums.diagonal.iter().sum::<f64>() as u64;
        let (weighted, macro_) = sums.f1_scores();
        let (mut weighted_runs, macro_runs) = bootstrap(&cells, k, replicates, seed);
        weighted_runs.sort_by(f64::total_cmp);
        let weighted_f1_bound = percentile(&weighted_runs, 0.99).unwrap_or(weighted);
        let classes = (0..k)
            .map(|c| {
                let tp = sums.diagonal[c] as u64;
                let support = sums.rows[c] as u64;
                let predicted = sums.columns[c] as u64;
                ClassQuality {
                    label: self.labels[c].clone(),
                    support,
                    predicted,
                    precision: wilson(tp, predicted),
                    recall: wilson(tp, support),
                    f1: sums.class_f1(c),
                }
            })
            .collect();
        Some(Quality {
            labelled: total,
            accuracy: wilson(right, total)?,
            weighted_f1: percentile_interval(weighted, weighted_runs),
            weighted_f1_bound,
            macro_f1: percentile_interval(macro_, macro_runs),
            classes,
        })
    }
}

/// The Wilson score interval of `successes` out of `n`; `None` when `n` is 0.
pub fn wilson(successes: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(Interval {
        estimate: p,
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    })
}

/// A matrix's row sums (support), column sums (predicted) and diagonal (right), per label.
struct Sums {
    rows: Vec<f64>,
    columns: Vec<f64>,
    diagonal: Vec<f64>,
}

impl Sums {
    /// The sums of `cells` (truth, predicted, _) with `counts` in place of their own counts, for `k` labels:
    /// linear in the non-empty cells, so many labels cost no more than their cells.
    fn of(cells: &[(usize, usize, f64)], counts: &[f64], k: usize) -> Self {
        let mut sums = Sums {
            rows: vec![0.0; k],
            columns: vec![0.0; k],
            diagonal: vec![0.0; k],
        };
        for (&(t, p, _), &n) in cells.iter().zip(counts) {
            sums.rows[t] += n;
            sums.columns[p] += n;
            if t == p {
                sums.diagonal[t] += n;
            }
        }
        sums
    }

    /// F1 of label `c`: 2·tp / (support + predicted), 0 when nothing of it is right (scikit-learn's
    /// `zero_division=0`).
    fn class_f1(&self, c: usize) -> f64 {
        let tp = self.diagonal[c];
        if tp == 0.0 {
            return 0.0;
        }
        2.0 * tp / (self.rows[c] + self.columns[c])
    }

    /// (weighted F1, macro F1); macro over the labels seen, true or predicted.
    fn f1_scores(&self) -> (f64, f64) {
        let total: f64 = self.rows.iter().sum();
        let (mut weighted, mut macro_sum, mut seen) = (0.0, 0.0, 0u32);
        for c in 0..self.rows.len() {
            if self.rows[c] == 0.0 && self.columns[c] == 0.0 {
                continue;
            }
            let f1 = self.class_f1(c);
            weighted += self.rows[c] * f1;
            macro_sum += f1;
            seen += 1;
        }
        if total == 0.0 || seen == 0 {
            return (0.0, 0.0);
        }
        (weighted / total, macro_sum / f64::from(seen))
    }
}

/// The weighted and macro F1 of `replicates` Poisson-bootstrap replicates of the non-empty `cells`.
fn bootstrap(
    cells: &[(usize, usize, f64)],
    k: usize,
    replicates: u32,
    seed: u64,
) -> (Vec<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let draws: Vec<Option<Poisson<f64>>> = cells.iter().map(|c| Poisson::new(c.2).ok()).collect();
    let mut resampled = vec![0.0; cells.len()];
    let (mut weighted, mut macro_) = (Vec::new(), Vec::new());
    for _ in 0..replicates {
        for (count, draw) in resampled.iter_mut().zip(&draws) {
            *count = draw.as_ref().map_or(0.0, |d| d.sample(&mut rng));
        }
        if resampled.iter().sum::<f64>() == 0.0 {
            continue;
        }
        let (w, m) = Sums::of(cells, &resampled, k).f1_scores();
        weighted.push(w);
        macro_.push(m);
    }
    (weighted, macro_)
}

/// The `q` quantile of `sorted` (nearest rank); `None` when empty.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * q).round() as usize])
}

/// `estimate` with the 2.5th and 97.5th percentiles of `runs` (the estimate itself at both ends without runs).
fn percentile_interval(estimate: f64, mut runs: Vec<f64>) -> Interval {
    runs.sort_by(f64::total_cmp);
    Interval {
        estimate,
        low: percentile(&runs, 0.025).unwrap_or(estimate),
        high: percentile(&runs, 0.975).unwrap_or(estimate),
    }
}

#[cfg(test)]
mod tests;
