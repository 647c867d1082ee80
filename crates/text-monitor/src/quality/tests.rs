use super::*;
use crate::batch::{MAX_LABELS, OVERFLOW_LABEL};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 5e-4
}

/// A matrix from (truth, predicted, count) cells.
fn confusion(cells: &[(&str, &str, u64)]) -> Confusion {
    let mut m = Confusion::default();
    for &(truth, predicted, n) in cells {
        let (t, p) = (m.label_index(truth), m.label_index(predicted));
        for _ in 0..n {
            m.add(t, p);
        }
    }
    m
}

/// Two labels, `n` records half of each, `right` of every hundred predicted right.
fn two_labels(n: u64, right: u64) -> Confusion {
    let half = n / 2;
    let ok = half * right / 100;
    confusion(&[
        ("ventas", "ventas", ok),
        ("ventas", "soporte", half - ok),
        ("soporte", "soporte", ok),
        ("soporte", "ventas", half - ok),
    ])
}

#[test]
fn wilson_intervals_match_the_published_values() {
    #[rustfmt::skip]
    let table = [
        // successes, n, low, high (Newcombe 1998, table I, and direct computation)
        (0,  10,  0.0,    0.2775),
        (10, 10,  0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (81, 263, 0.2553, 0.3662),
        (1,  29,  0.0061, 0.1718),
    ];
    for (s, n, low, high) in table {
        let i = wilson(s, n).unwrap();
        assert!(close(i.low, low) && close(i.high, high), "{s}/{n}: {i:?}");
        assert!(close(i.estimate, s as f64 / n as f64));
    }
    assert_eq!(wilson(0, 0), None);
}

#[test]
fn f1_is_per_label_then_weighted_by_support_or_averaged() {
    // truth a a b b c, predicted a b b b a: a 1/2 right of 2 predicted, b 2/2 of 3 predicted, c never.
    let m = confusion(&[("a", "a", 1), ("a", "b", 1), ("b", "b", 2), ("c", "a", 1)]);
    let q = m.quality(200, 7).unwrap();
    assert_eq!(q.labelled, 5);
    assert!(close(q.accuracy.estimate, 0.6));
    assert!(close(q.weighted_f1.estimate, 0.52), "{:?}", q.weighted_f1);
    assert!(
        close(q.macro_f1.estimate, (0.5 + 0.8 + 0.0) / 3.0),
        "{:?}",
        q.macro_f1
    );
    let by_label: Vec<(&str, u64, u64, f64)> = q
        .classes
        .iter()
        .map(|c| (c.label.as_str(), c.support, c.predicted, c.f1))
        .collect();
    assert_eq!(
        by_label,
        [("a", 2, 2, 0.5), ("b", 2, 3, 0.8), ("c", 1, 0, 0.0)]
    );
    assert_eq!(q.classes[2].precision, None, "c was never predicted");
    assert!(Confusion::default().quality(200, 7).is_none());
}

#[test]
fn the_f1_interval_is_reproducible_holds_the_estimate_and_narrows_with_the_sample() {
    let small = two_labels(100, 80)
        .quality(REPLICATES, 1)
        .unwrap()
        .weighted_f1;
    let large = two_labels(10_000, 80)
        .quality(REPLICATES, 1)
        .unwrap()
        .weighted_f1;
    for i in [small, large] {
        assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
    }
    let ratio = (small.high - small.low) / (large.high - large.low);
    assert!(
        (7.0..14.0).contains(&ratio),
        "a hundred times the data, a tenth of the width: {ratio}"
    );
    assert_eq!(
        two_labels(100, 80)
            .quality(REPLICATES, 1)
            .unwrap()
            .weighted_f1,
        small,
        "same seed, same interval"
    );
}

#[test]
fn a_drop_is_significant_only_when_the_sample_says_so() {
    // The baseline's F1 is 0.85; the model now gets `right` in a hundred on `n` labelled records.
    #[rustfmt::skip]
    let table = [
        (1_000,  75, true),   // ten points down, a thousand records: the 99th percentile is under 0.85
        (40,     75, false),  // the same drop on forty records: it could be noise
        (10_000, 83, true),   // two points down on ten thousand
        (1_000,  86, false),  // no drop
    ];
    for (n, right, significant) in table {
        let q = two_labels(n, right).quality(REPLICATES, 3).unwrap();
        assert_eq!(
            q.weighted_f1_bound < 0.85,
            significant,
            "{n} records, {right}% right: {q:?}"
        );
    }
}

#[test]
fn a_flood_of_distinct_labels_is_capped_not_a_matrix_of_its_square() {
    // A model answering with probabilities where the label belongs: every answer a new "label".
    let mut m = Confusion::default();
    for i in 0..100_000u32 {
        let (truth, predicted) = (m.label_index("ventas"), m.label_index(&format!("0.{i:05}")));
        m.add(truth, predicted);
    }
    assert_eq!(m.labels().len(), MAX_LABELS);
    assert_eq!(m.labels().last().map(String::as_str), Some(OVERFLOW_LABEL));
    let q = m.quality(REPLICATES, 1).unwrap();
    assert_eq!((q.labelled, q.accuracy.estimate), (100_000, 0.0));
}
