//! Ground truth joined to predictions by event id, in memory bounded by the predictions waiting for a label.
//!
//! Ground truth arrives late (hours or days after the request), so a run loads the predictions of a window of
//! capture hours, then streams the ground truth of the hour being judged. A prediction waiting for its label costs
//! one map entry (the event id's 64-bit hash and the label's index, about 18 bytes with the map's overhead): a
//! million of them fit in about 20 MB. Past `capacity` new predictions are counted and dropped, never an
//! unbounded allocation.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

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

/// The key a request is joined by: its event id's 64-bit hash (a collision among a window's requests is about as
/// likely as a billion requests against 2⁶⁴).
pub fn event_key(event_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(event_id.as_bytes())
}

/// The answers of one hour of capture, kept so that later runs join late labels to them without reading the
/// hour's capture again: each single-record request's key and its answer, about 16 bytes each (a million answers
/// are some 30 MB of JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answers {
    /// The labels answered, indexed by `answers`; past [`MAX_LABELS`](crate::batch::MAX_LABELS), [`OVERFLOW_LABEL`](crate::batch::OVERFLOW_LABEL).
    pub labels: Vec<String>,
    /// Each single-record request's [`event_key`] and its answer's index in `labels`.
    pub answers: Vec<(u64, u16)>,
    /// Requests of several records: counted, never joined.
    pub multi_record: u64,
    /// Answers past the capacity, not kept.
    pub dropped: u64,
    #[serde(skip)]
    index: HashMap<String, u16>,
}

impl Answers {
    /// The request `event_id` was answered with `labels`; kept while fewer than `capacity` are.
    pub fn add(&mut self, event_id: &str, labels: &[&str], capacity: usize) {
        let [label] = labels else {
            if labels.len() > 1 {
                self.multi_record += 1;
            }
            return;
        };
        if self.answers.len() >= capacity {
            self.dropped += 1;
            return;
        }
        let index = self.label_index(label);
        self.answers.push((event_key(event_id), index));
    }

    /// Adds `other`'s answers (another part of the same hour), kept while fewer than `capacity` are.
    pub fn merge(&mut self, other: &Answers, capacity: usize) {
        self.multi_record += other.multi_record;
        self.dropped += other.dropped;
        for &(key, index) in &other.answers {
            let Some(label) = other.labels.get(usize::from(index)) else {
                continue;
            };
            if self.answers.len() >= capacity {
                self.dropped += 1;
                continue;
            }
            let index = self.label_index(label);
            self.answers.push((key, index));
        }
    }

    fn label_index(&mut self, label: &str) -> u16 {
        // Answers read back from JSON come without the lookup: rebuild it before adding to them.
        if self.index.len() != self.labels.len() {
            self.index = (0u16..)
                .zip(&self.labels)
                .map(|(i, l)| (l.clone(), i))
                .collect();
        }
        crate::batch::label_index(&mut self.labels, &mut self.index, label)
    }
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
        self.wait(event_key(event_id), label);
    }

    /// An earlier hour's answers, as kept by the run that judged it.
    pub fn predicted_earlier(&mut self, answers: &Answers) {
        self.counts.multi_record += answers.multi_record;
        self.counts.dropped += answers.dropped;
        for &(key, index) in &answers.answers {
            // An index outside the labels is a damaged record: its answer is unknown, so it is not joined.
            if let Some(label) = answers.labels.get(usize::from(index)) {
                self.wait(key, label);
            }
        }
    }

    fn wait(&mut self, key: u64, label: &str) {
        if self.waiting.len() >= self.capacity {
            self.counts.dropped += 1;
            return;
        }
        let index = self.confusion.label_index(label);
        if self.waiting.insert(key, index).is_none() {
            self.counts.predictions += 1;
        }
    }

    /// The request `event_id` truly was `label` (in `segment`, if the ground truth names one). The prediction is
    /// taken out: a duplicate label is unmatched.
    pub fn truth(&mut self, event_id: &str, label: &str, segment: Option<&str>) -> Joined {
        match self.waiting.remove(&event_key(event_id)) {
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
    fn an_hours_kept_answers_join_as_its_capture_would() {
        let requests: [(&str, &[&str]); 5] = [
            ("a", &["ventas"]),
            ("b", &["soporte"]),
            ("c", &["ventas", "Otros"]),
            ("d", &["Otros"]),
            ("e", &["ventas"]),
        ];
        let mut kept = Answers::default();
        let mut direct = Joiner::new(10);
        for (id, labels) in requests {
            kept.add(id, labels, 3);
            direct.predicted(id, labels);
        }
        assert_eq!(
            (kept.answers.len(), kept.multi_record, kept.dropped),
            (3, 1, 1)
        );
        let stored: Answers = serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
        let mut cached = Joiner::new(10);
        cached.predicted_earlier(&stored);
        for (id, truth) in [
            ("a", "ventas"),
            ("b", "ventas"),
            ("d", "Otros"),
            ("e", "ventas"),
        ] {
            direct.truth(id, truth, None);
            cached.truth(id, truth, None);
        }
        let ventas = cached.confusion().index_of("ventas").unwrap();
        assert_eq!(cached.confusion().count(ventas, ventas), 1);
        assert_eq!(cached.counts().matched, 3);
        assert_eq!(
            cached.counts().unmatched,
            1,
            "e was past the kept answers' capacity"
        );
        assert_eq!(direct.counts().matched, 4);
    }

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
