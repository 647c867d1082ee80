//! Ground truth joined to predictions by event id, in memory bounded by the predictions waiting for a label.
//!
//! Ground truth arrives late (hours or days after the request), so a run loads the predictions of a window of
//! capture hours, then streams the ground truth of the hour being judged. A prediction waiting for its label costs
//! one map entry (the event id's 64-bit hash and the label's index, about 18 bytes with the map's overhead): a
//! million of them fit in about 20 MB. Past `capacity` new predictions are counted and dropped, never an
//! unbounded allocation.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::quality::Confusion;

/// What happened to one ground-truth label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// Matched its prediction: counted in the confusion matrix.
    Matched,
    /// No prediction waits for it: outside the window, from a request of several records, or a duplicate.
    Unmatched,
}

/// What a join counted besides the matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinCounts {
    /// Predictions loaded, waiting for a label.
    pub predictions: u64,
    /// Predictions dropped: the window held more than the capacity.
    pub dropped: u64,
    /// Requests of several records: ground truth labels a request, so they cannot be joined.
    pub multi_record: u64,
    /// Labels matched to a prediction.
    pub matched: u64,
    /// Labels without a waiting prediction.
    pub unmatched: u64,
}

/// Predictions waiting for their labels, and the confusion matrix of those matched (overall and per segment).
#[derive(Debug, Clone)]
pub struct Joiner {
    waiting: HashMap<u64, u16>,
    capacity: usize,
    confusion: Confusion,
    segments: BTreeMap<String, Confusion>,
    counts: JoinCounts,
}

/// Segments kept apart; the rest are counted together under [`OVERFLOW_SEGMENT`].
pub const MAX_SEGMENTS: usize = 32;
/// Where segments past [`MAX_SEGMENTS`] are counted.
pub const OVERFLOW_SEGMENT: &str = "(other segments)";

fn key(event_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(event_id.as_bytes())
}

impl Joiner {
    /// A join holding at most `capacity` waiting predictions.
    pub fn new(capacity: usize) -> Self {
        Joiner {
            waiting: HashMap::new(),
            capacity,
            confusion: Confusion::default(),
            segments: BTreeMap::new(),
            counts: JoinCounts::default(),
        }
    }

    /// The request `event_id` was answered with these predictions; only a single-record request can be joined.
    pub fn predicted(&mut self, event_id: &str, labels: &[&str]) {
        let [label] = labels else {
            if labels.len() > 1 {
                self.counts.multi_record += 1;
            }
            return;
        };
        if self.waiting.len() >= self.capacity {
            self.counts.dropped += 1;
            return;
        }
        let index = self.confusion.label_index(label);
        if self.waiting.insert(key(event_id), index).is_none() {
            self.counts.predictions += 1;
        }
    }

    /// The request `event_id` truly was `label` (in `segment`, if the ground truth names one). The prediction is
    /// taken out: a duplicate label is unmatched.
    pub fn truth(&mut self, event_id: &str, label: &str, segment: Option<&str>) -> Joined {
        match self.waiting.remove(&key(event_id)) {
            Some(predicted) => {
                let truth = self.confusion.label_index(label);
                self.confusion.add(truth, predicted);
                if let Some(segment) = segment {
                    let predicted = self.confusion.labels()[usize::from(predicted)].clone();
                    let known = self.segments.contains_key(segment);
                    let name = if known || self.segments.len() + 1 < MAX_SEGMENTS {
                        segment
                    } else {
                        OVERFLOW_SEGMENT
                    };
                    let matrix = self.segments.entry(name.to_owned()).or_default();
                    let (t, p) = (matrix.label_index(label), matrix.label_index(&predicted));
                    matrix.add(t, p);
                }
                self.counts.matched += 1;
                Joined::Matched
            }
            None => {
                self.counts.unmatched += 1;
                Joined::Unmatched
            }
        }
    }

    /// What was counted.
    pub fn counts(&self) -> JoinCounts {
        self.counts
    }

    /// The confusion matrix of the matched labels.
    pub fn confusion(&self) -> &Confusion {
        &self.confusion
    }

    /// The confusion matrix of each segment the ground truth named.
    pub fn segments(&self) -> &BTreeMap<String, Confusion> {
        &self.segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_join_their_own_prediction_once() {
        let mut join = Joiner::new(3);
        join.predicted("a", &["ventas"]);
        join.predicted("b", &["soporte"]);
        join.predicted("c", &["ventas", "Otros"]);
        join.predicted("d", &[]);
        join.predicted("e", &["Otros"]);
        join.predicted("f", &["Otros"]);
        assert_eq!(join.truth("a", "ventas", None), Joined::Matched);
        assert_eq!(join.truth("b", "ventas", None), Joined::Matched);
        assert_eq!(
            join.truth("a", "ventas", None),
            Joined::Unmatched,
            "a duplicate"
        );
        assert_eq!(
            join.truth("c", "ventas", None),
            Joined::Unmatched,
            "several records"
        );
        assert_eq!(
            join.truth("f", "Otros", None),
            Joined::Unmatched,
            "dropped past capacity"
        );
        assert_eq!(join.truth("late", "Otros", None), Joined::Unmatched);
        assert_eq!(
            join.counts(),
            JoinCounts {
                predictions: 3,
                dropped: 1,
                multi_record: 1,
                matched: 2,
                unmatched: 4,
            }
        );
        let confusion = join.confusion();
        assert_eq!(confusion.total(), 2);
        let ventas = confusion.index_of("ventas").unwrap();
        let soporte = confusion.index_of("soporte").unwrap();
        assert_eq!(confusion.count(ventas, ventas), 1);
        assert_eq!(
            confusion.count(ventas, soporte),
            1,
            "truth ventas, predicted soporte"
        );
    }
}
