//! A run against the stage's previous run: the figures, and the breaches of the limits. Free of AWS types.
//!
//! The embedding mean's shift is its cosine distance, as the contract's users expect; but the direction of a
//! mean near the origin (centered or normalized-then-centered embeddings) is noise, so a shift is a breach only
//! when it is also past what sampling alone explains: the distance between the two means, in units of the
//! reference's spread (`sqrt(total variance)`), must exceed [`NOISE_MULTIPLE`] times `sqrt(1/n₁ + 1/n₀)`, its
//! expected size when nothing changed, and at least [`MIN_SHIFT`] of the spread. The tests measure both rates (no alarm in 200 pairs of runs from one
//! distribution, centered or not; every pair whose mean turned by 30° detected).

use serde::{Deserialize, Serialize};

use crate::report::{Embeddings, Report};

/// The smallest mean shift that counts, in units of the reference's spread: with millions of rows the sampling
/// bound shrinks toward zero, and a mean near the origin would turn (and alarm) on a move too small to matter.
pub const MIN_SHIFT: f64 = 0.1;

/// How many times its no-change size a mean shift must be to count (3: under no change the squared shift is a
/// weighted chi-square of mean 1 in these units, and even with one dominant direction P(χ²₁ > 9) ≈ 0.27 %).
pub const NOISE_MULTIPLE: f64 = 3.0;

/// The limits, each a parameter of the template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Cosine distance between the embedding means (`EMBEDDING_SHIFT_LIMIT`, default 0.05).
    pub embedding_shift: f64,
    /// Ratio of total embedding variance, either way (`VARIANCE_RATIO_LIMIT`, default 1.5: ×1.5 or ÷1.5).
    pub variance_ratio: f64,
    /// Relative change of the number of clusters, either way (`CLUSTER_COUNT_CHANGE_LIMIT`, default 0.5).
    pub cluster_count_change: f64,
    /// Relative growth of the total intra-cluster variance (`INTRA_VARIANCE_GROWTH_LIMIT`, default 0.5).
    pub intra_variance_growth: f64,
    /// Growth of a field's null share, in share points (`NULL_SHARE_GROWTH_LIMIT`, default 0.05).
    pub null_share_growth: f64,
    /// Failed batches a run may have (`FAILED_BATCHES_LIMIT`, default 0): judged on every run, first included.
    pub failed_batches: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            embedding_shift: 0.05,
            variance_ratio: 1.5,
            cluster_count_change: 0.5,
            intra_variance_growth: 0.5,
            null_share_growth: 0.05,
            failed_batches: 0,
        }
    }
}

/// What a breach is about: the `Check` dimension of the breaches metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The embedding mean moved.
    EmbeddingShift,
    /// The embedding spread changed.
    VarianceRatio,
    /// The embedding dimension changed: nothing else about the embeddings compares.
    EmbeddingDimension,
    /// The number of clusters changed.
    ClusterCount,
    /// The clusters grew looser.
    IntraVariance,
    /// A field's null share grew.
    NullShare,
    /// Batches failed.
    FailedBatches,
}

impl Check {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::EmbeddingShift => "embedding-shift",
            Check::VarianceRatio => "variance-ratio",
            Check::EmbeddingDimension => "embedding-dimension",
            Check::ClusterCount => "cluster-count",
            Check::IntraVariance => "intra-variance",
            Check::NullShare => "null-share",
            Check::FailedBatches => "failed-batches",
        }
    }
}

/// One limit passed, said with its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// Which check.
    pub check: Check,
    /// What moved, from what to what, against which limit.
    pub says: String,
}

/// The comparison's figures (absent when there is nothing to compare, or it is undefined).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Cosine distance between the embedding means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_distance: Option<f64>,
    /// Distance between the means over the reference's spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_shift: Option<f64>,
    /// That distance's expected size when nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_shift_noise: Option<f64>,
    /// Total embedding variance, this run over the reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variance_ratio: Option<f64>,
    /// Relative change of the number of clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_change: Option<f64>,
    /// Relative growth of the total intra-cluster variance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intra_variance_growth: Option<f64>,
    /// The field whose null share grew most, and by how much.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_share_growth: Option<(String, f64)>,
}

/// A run judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgment {
    /// The figures against the reference.
    pub figures: Figures,
    /// The limits passed.
    pub breaches: Vec<Breach>,
    /// Whether the run becomes the stage's reference: it is the first, or it finished after the reference (a
    /// late report of an older run is judged but does not turn the reference back).
    pub becomes_reference: bool,
}

/// Judges `report` against the stage's `reference` (its previous run, `None` for the first).
pub fn judge(reference: Option<&Report>, report: &Report, limits: &Limits) -> Judgment {
    let mut figures = Figures::default();
    let mut breaches = Vec::new();
    if report.failed_batches > limits.failed_batches {
        breaches.push(Breach {
            check: Check::FailedBatches,
            says: format!(
                "{} batches failed{} (limit {})",
                report.failed_batches,
                report
                    .batches
                    .map(|b| format!(" of {b}"))
                    .unwrap_or_default(),
                limits.failed_batches
            ),
        });
    }
    if let Some(reference) = reference {
        null_shares(reference, report, limits, &mut figures, &mut breaches);
        if let (Some(before), Some(now)) = (&reference.embeddings, &report.embeddings) {
            let n = (reference.rows_out, report.rows_out);
            embeddings(before, now, n, limits, &mut figures, &mut breaches);
        }
        if let (Some(before), Some(now)) = (&reference.clustering, &report.clustering) {
            let (from, to) = (before.clusters, now.clusters);
            if from > 0 {
                let change = (to as f64 - from as f64) / from as f64;
                figures.cluster_change = Some(change);
                if change.abs() > limits.cluster_count_change {
                    breaches.push(Breach {
                        check: Check::ClusterCount,
                        says: format!(
                            "clusters went from {from} to {to} ({:+.0} %, limit ±{:.0} %)",
                            change * 100.0,
                            limits.cluster_count_change * 100.0
                        ),
                    });
                }
            }
            let (from, to) = (before.total_intra_variance, now.total_intra_variance);
            if from > 0.0 {
                let growth = to / from - 1.0;
                figures.intra_variance_growth = Some(growth);
                if growth > limits.intra_variance_growth {
                    breaches.push(Breach {
                        check: Check::IntraVariance,
                        says: format!(
                            "total intra-cluster variance grew from {from:.4} to {to:.4} ({:+.0} %, limit +{:.0} %)",
                            growth * 100.0,
                            limits.intra_variance_growth * 100.0
                        ),
                    });
                }
            }
        }
    }
    Judgment {
        figures,
        breaches,
        becomes_reference: reference.is_none_or(|r| report.finished_at > r.finished_at),
    }
}

/// The field whose null share grew most (a field new in this run grew from 0).
fn null_shares(
    reference: &Report,
    report: &Report,
    limits: &Limits,
    figures: &mut Figures,
    breaches: &mut Vec<Breach>,
) {
    let grown = report
        .null_share
        .iter()
        .map(|(field, &now)| {
            let before = reference.null_share.get(field).copied().unwrap_or(0.0);
            (field, before, now)
        })
        .max_by(|a, b| (a.2 - a.1).total_cmp(&(b.2 - b.1)));
    let Some((field, before, now)) = grown else {
        return;
    };
    figures.null_share_growth = Some((field.clone(), now - before));
    if now - before > limits.null_share_growth {
        breaches.push(Breach {
            check: Check::NullShare,
            says: format!(
                "{field} is null in {:.1} % of rows, up from {:.1} % (limit +{:.1} points)",
                now * 100.0,
                before * 100.0,
                limits.null_share_growth * 100.0
            ),
        });
    }
}

/// Mean shift and variance ratio; a changed dimension is a breach of its own and nothing else compares.
fn embeddings(
    before: &Embeddings,
    now: &Embeddings,
    (n_before, n_now): (u64, u64),
    limits: &Limits,
    figures: &mut Figures,
    breaches: &mut Vec<Breach>,
) {
    if before.dimension != now.dimension {
        breaches.push(Breach {
            check: Check::EmbeddingDimension,
            says: format!(
                "the embedding dimension went from {} to {}: another embedding model? Nothing else about the \
                 embeddings compares",
                before.dimension, now.dimension
            ),
        });
        return;
    }
    let spread = before.total_variance();
    let distance = cosine_distance(&before.mean, &now.mean);
    let shift = Some(euclidean(&before.mean, &now.mean) / spread.sqrt())
        .filter(|s| spread > 0.0 && s.is_finite());
    let noise =
        (n_before > 0 && n_now > 0).then(|| (1.0 / n_before as f64 + 1.0 / n_now as f64).sqrt());
    figures.mean_distance = distance;
    figures.mean_shift = shift;
    figures.mean_shift_noise = noise;
    if let (Some(distance), Some(shift), Some(noise)) = (distance, shift, noise)
        && distance > limits.embedding_shift
        && shift > (NOISE_MULTIPLE * noise).max(MIN_SHIFT)
    {
        breaches.push(Breach {
            check: Check::EmbeddingShift,
            says: format!(
                "the embedding mean moved: cosine distance {distance:.4} (limit {}), {shift:.3} of the \
                 reference's spread where sampling alone gives about {noise:.3}",
                limits.embedding_shift
            ),
        });
    }
    let ratio = now.total_variance() / spread;
    if spread > 0.0 && ratio.is_finite() {
        figures.variance_ratio = Some(ratio);
        if ratio > limits.variance_ratio || ratio < 1.0 / limits.variance_ratio {
            breaches.push(Breach {
                check: Check::VarianceRatio,
                says: format!(
                    "the embeddings' total variance is {ratio:.2}× the reference's (limit ×{} or ÷{})",
                    limits.variance_ratio, limits.variance_ratio
                ),
            });
        }
    }
}

/// `1 − cos(a, b)`, undefined when either is the zero vector or the figures overflow (a report may carry any
/// finite number, 1e300 included).
pub fn cosine_distance(a: &[f64], b: &[f64]) -> Option<f64> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = norm(a) * norm(b);
    Some(1.0 - dot / norms).filter(|d| norms > 0.0 && norms.is_finite() && d.is_finite())
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use chrono::{DateTime, Duration, Utc};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    use super::*;
    use crate::report::{Clustering, NormQuantiles, Stage};

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_795_000_000, 0).unwrap() + Duration::hours(hour)
    }

    fn run(hour: i64) -> Report {
        Report {
            report_version: 1,
            stage: Stage::FeatureEngineering,
            job_id: format!("job-{hour}"),
            started_at: at(hour),
            finished_at: at(hour) + Duration::minutes(5),
            seconds: 300.0,
            rows_in: 1000,
            rows_out: 1000,
            null_share: BTreeMap::from([("text".to_owned(), 0.01)]),
            batches: Some(10),
            failed_batches: 0,
            embeddings: Some(Embeddings {
                dimension: 2,
                mean: vec![1.0, 0.0],
                variance: vec![0.5, 0.5],
                norm_quantiles: NormQuantiles {
                    p05: 0.5,
                    p50: 1.0,
                    p95: 1.5,
                },
            }),
            clustering: None,
            log: vec![],
        }
    }

    fn clustered(hour: i64, clusters: usize, total: f64) -> Report {
        Report {
            stage: Stage::Clustering,
            embeddings: None,
            clustering: Some(Clustering {
                clusters,
                sizes: vec![10; clusters],
                intra_variance: vec![total; clusters],
                total_intra_variance: total,
                noise: None,
                silhouette: None,
            }),
            ..run(hour)
        }
    }

    fn checks(judgment: &Judgment) -> Vec<Check> {
        judgment.breaches.iter().map(|b| b.check).collect()
    }

    #[test]
    fn each_limit_is_passed_by_its_own_change_and_nothing_else() {
        let limits = Limits::default();
        let reference = run(0);
        type Change = fn(&mut Report);
        let cases: &[(&str, Change, &[Check])] = &[
            ("the same run again", |_| {}, &[]),
            (
                "a mean rotated by 30°",
                |r| {
                    let mut e = r.embeddings.take().unwrap();
                    e.mean = vec![0.866, 0.5];
                    r.embeddings = Some(e);
                },
                &[Check::EmbeddingShift],
            ),
            (
                "a mean rotated by 5°",
                |r| {
                    let mut e = r.embeddings.take().unwrap();
                    e.mean = vec![0.996, 0.087];
                    r.embeddings = Some(e);
                },
                &[],
            ),
            (
                "variance doubled",
                |r| r.embeddings.as_mut().unwrap().variance = vec![1.0, 1.0],
                &[Check::VarianceRatio],
            ),
            (
                "variance halved",
                |r| r.embeddings.as_mut().unwrap().variance = vec![0.25, 0.25],
                &[Check::VarianceRatio],
            ),
            (
                "variance ×1.4",
                |r| r.embeddings.as_mut().unwrap().variance = vec![0.7, 0.7],
                &[],
            ),
            (
                "another dimension",
                |r| {
                    let e = r.embeddings.as_mut().unwrap();
                    e.dimension = 3;
                    e.mean = vec![0.0, 0.0, 9.0];
                    e.variance = vec![9.0; 3];
                },
                &[Check::EmbeddingDimension],
            ),
            (
                "nulls up 10 points",
                |r| {
                    r.null_share.insert("text".into(), 0.11);
                },
                &[Check::NullShare],
            ),
            (
                "a new field 3 % null",
                |r| {
                    r.null_share.insert("lang".into(), 0.03);
                },
                &[],
            ),
            (
                "a failed batch",
                |r| r.failed_batches = 1,
                &[Check::FailedBatches],
            ),
        ];
        for (what, change, expected) in cases {
            let mut report = run(1);
            change(&mut report);
            let judgment = judge(Some(&reference), &report, &limits);
            assert_eq!(
                checks(&judgment),
                *expected,
                "{what}: {:?}",
                judgment.breaches
            );
            assert!(judgment.becomes_reference, "{what}");
        }
    }

    #[test]
    fn clusters_that_collapse_multiply_or_loosen_are_breaches() {
        let limits = Limits::default();
        let reference = clustered(0, 12, 0.4);
        for (clusters, total, expected) in [
            (12, 0.4, vec![]),
            (9, 0.45, vec![]),
            (3, 0.4, vec![Check::ClusterCount]),
            (30, 0.4, vec![Check::ClusterCount]),
            (12, 0.7, vec![Check::IntraVariance]),
            (1, 1.0, vec![Check::ClusterCount, Check::IntraVariance]),
        ] {
            let judgment = judge(Some(&reference), &clustered(1, clusters, total), &limits);
            assert_eq!(checks(&judgment), expected, "{clusters} clusters, {total}");
        }
        let says = &judge(Some(&reference), &clustered(1, 3, 0.4), &limits).breaches[0].says;
        assert_eq!(says, "clusters went from 12 to 3 (-75 %, limit ±50 %)");
    }

    #[test]
    fn the_first_run_sets_the_reference_and_a_late_one_does_not_replace_it() {
        let limits = Limits::default();
        let first = judge(None, &run(5), &limits);
        assert!(first.becomes_reference && first.breaches.is_empty());
        assert_eq!(first.figures, Figures::default());
        // Failed batches are judged without a reference.
        let failing = Report {
            failed_batches: 2,
            ..run(5)
        };
        assert_eq!(
            checks(&judge(None, &failing, &limits)),
            [Check::FailedBatches]
        );
        // Figures that overflow compare as undefined, never as NaN.
        let mut huge = run(6);
        let e = huge.embeddings.as_mut().unwrap();
        e.mean = vec![1e300, 1e300];
        e.variance = vec![1e308, 1e308];
        let judged = judge(Some(&run(5)), &huge, &limits);
        assert_eq!(judged.figures.mean_distance, None);
        assert_eq!(judged.figures.variance_ratio, None);
        // A report of an older run, delivered late.
        let late = judge(Some(&run(5)), &run(3), &limits);
        assert!(!late.becomes_reference);
    }

    /// `n` embeddings of dimension `d` around `mean` with per-dimension standard deviation `sd`, as a run's
    /// report would summarise them (sample mean and variance).
    fn sample(rng: &mut StdRng, mean: &[f64], sd: f64, n: usize) -> Embeddings {
        let noise = Normal::new(0.0, sd).unwrap();
        let d = mean.len();
        let (mut sum, mut squares) = (vec![0.0; d], vec![0.0; d]);
        for _ in 0..n {
            for j in 0..d {
                let x = mean[j] + noise.sample(rng);
                sum[j] += x;
                squares[j] += x * x;
            }
        }
        let n = n as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let variance = squares
            .iter()
            .zip(&mean)
            .map(|(q, m)| q / n - m * m)
            .collect();
        Embeddings {
            dimension: d,
            mean,
            variance,
            norm_quantiles: NormQuantiles {
                p05: 0.0,
                p50: 0.0,
                p95: 0.0,
            },
        }
    }

    fn shift_alarms(rng: &mut StdRng, before: &[f64], after: &[f64], pairs: usize) -> usize {
        let (n, sd) = (400, 0.3);
        (0..pairs)
            .filter(|_| {
                let mut reference = run(0);
                reference.rows_out = n as u64;
                reference.embeddings = Some(sample(rng, before, sd, n));
                let mut report = run(1);
                report.rows_out = n as u64;
                report.embeddings = Some(sample(rng, after, sd, n));
                checks(&judge(Some(&reference), &report, &Limits::default()))
                    .contains(&Check::EmbeddingShift)
            })
            .count()
    }

    /// Measured rates of the mean-shift check on simulated runs (16 dimensions, 400 rows, sd 0.3 per dimension):
    /// no false alarm in 200 pairs from one distribution, whether the mean is far from the origin or at it (where
    /// the cosine distance alone is past the limit); every pair whose mean turned by 30° found.
    #[test]
    fn the_mean_shift_check_has_no_false_alarm_and_finds_a_real_shift() {
        let mut rng = StdRng::seed_from_u64(7);
        let d = 16;
        let offset: Vec<f64> = (0..d).map(|j| if j == 0 { 1.0 } else { 0.0 }).collect();
        let centered = vec![0.0; d];
        let turned: Vec<f64> = (0..d)
            .map(|j| match j {
                0 => 0.866,
                1 => 0.5,
                _ => 0.0,
            })
            .collect();
        assert_eq!(
            shift_alarms(&mut rng, &offset, &offset, 200),
            0,
            "offset mean"
        );
        assert_eq!(
            shift_alarms(&mut rng, &centered, &centered, 200),
            0,
            "centered mean"
        );
        assert_eq!(
            shift_alarms(&mut rng, &offset, &turned, 100),
            100,
            "turned by 30°"
        );
        // Without the sampling guard the centered case would alarm: its cosine distance is noise.
        let reference = sample(&mut rng, &centered, 0.3, 400);
        let report = sample(&mut rng, &centered, 0.3, 400);
        let distance = cosine_distance(&reference.mean, &report.mean).unwrap();
        assert!(distance > 0.05, "{distance}");
    }
}
