//! Bias, in the one form unlabelled text allows: when ground truth names each record's segment (a channel, a
//! language), the recall of each class compared across segments. A class the model finds in one segment and
//! misses in another is the disparity Model Monitor's bias monitor reports as a difference in recall; here it
//! counts only when the two segments' Wilson intervals do not overlap, so a small segment's noise is not a finding.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::quality::{Confusion, Interval, wilson};

/// One segment's recall of a class.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRecall {
    /// The segment.
    pub segment: String,
    /// Records of the class in it.
    pub support: u64,
    /// Their recall.
    pub recall: Interval,
}

/// A class's recall in its worst and best segments.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disparity {
    /// The class.
    pub label: String,
    /// Its lowest recall.
    pub lowest: SegmentRecall,
    /// Its highest recall.
    pub highest: SegmentRecall,
    /// The difference of the two estimates.
    pub gap: f64,
    /// Whether the two intervals do not overlap (the gap is not the small sample's noise).
    pub significant: bool,
}

/// Per class seen in at least two segments with `min_support` records each, the lowest and highest recall.
pub fn recall_disparity(
    segments: &BTreeMap<String, Confusion>,
    min_support: u64,
) -> Vec<Disparity> {
    let mut per_class: BTreeMap<String, Vec<SegmentRecall>> = BTreeMap::new();
    for (segment, matrix) in segments {
        for (t, label) in matrix.labels().iter().enumerate() {
            let Ok(t) = u16::try_from(t) else { break };
            let support: u64 = (0..matrix.labels().len())
                .filter_map(|p| u16::try_from(p).ok())
                .map(|p| matrix.count(t, p))
                .sum();
            if support < min_support {
                continue;
            }
            if let Some(recall) = wilson(matrix.count(t, t), support) {
                per_class
                    .entry(label.clone())
                    .or_default()
                    .push(SegmentRecall {
                        segment: segment.clone(),
                        support,
                        recall,
                    });
            }
        }
    }
    per_class
        .into_iter()
        .filter(|(_, recalls)| recalls.len() >= 2)
        .filter_map(|(label, recalls)| {
            let by = |r: &&SegmentRecall| r.recall.estimate;
            let lowest = recalls
                .iter()
                .min_by(|a, b| by(a).total_cmp(&by(b)))?
                .clone();
            let highest = recalls
                .iter()
                .max_by(|a, b| by(a).total_cmp(&by(b)))?
                .clone();
            Some(Disparity {
                gap: highest.recall.estimate - lowest.recall.estimate,
                significant: lowest.recall.high < highest.recall.low,
                label,
                lowest,
                highest,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments with (class, records, found) counts; the misses are predicted as "Otros".
    fn segments(cells: &[(&str, &str, u64, u64)]) -> BTreeMap<String, Confusion> {
        let mut out: BTreeMap<String, Confusion> = BTreeMap::new();
        for &(segment, label, records, found) in cells {
            let m = out.entry(segment.to_owned()).or_default();
            let (t, other) = (m.label_index(label), m.label_index("Otros"));
            for i in 0..records {
                m.add(t, if i < found { t } else { other });
            }
        }
        out
    }

    #[test]
    fn a_recall_gap_counts_when_the_segments_intervals_part() {
        #[rustfmt::skip]
        let table = [
            ("found as often everywhere",      segments(&[("email", "soporte", 400, 360), ("whatsapp", "soporte", 400, 356)]), Some(false)),
            ("missed on whatsapp",             segments(&[("email", "soporte", 400, 360), ("whatsapp", "soporte", 400, 240)]), Some(true)),
            ("the same gap on ten records",    segments(&[("email", "soporte", 10, 9),    ("whatsapp", "soporte", 10, 6)]),    Some(false)),
            ("one segment under the minimum",  segments(&[("email", "soporte", 400, 360), ("whatsapp", "soporte", 5, 0)]),     None),
        ];
        for (case, segments, significant) in table {
            let found = recall_disparity(&segments, 10);
            let soporte = found.iter().find(|d| d.label == "soporte");
            assert_eq!(
                soporte.map(|d| d.significant),
                significant,
                "{case}: {found:?}"
            );
        }
        let gap = &recall_disparity(
            &segments(&[
                ("email", "soporte", 400, 360),
                ("whatsapp", "soporte", 400, 240),
            ]),
            10,
        )[0];
        assert_eq!(
            (gap.lowest.segment.as_str(), gap.highest.segment.as_str()),
            ("whatsapp", "email")
        );
        assert!((gap.gap - 0.3).abs() < 1e-9);
    }
}
