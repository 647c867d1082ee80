use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::samples::WORDS;

/// `n` texts of `length` words from `words`, every `empty_every`-th empty (0: none), drawn from `seed`.
fn texts(
    n: usize,
    words: &[&str],
    length: std::ops::Range<usize>,
    empty_every: usize,
    seed: u64,
) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            if empty_every > 0 && i % empty_every == 0 {
                return String::new();
            }
            let len = rng.random_range(length.clone());
            (0..len)
                .map(|_| words[rng.random_range(0..words.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn profile(texts: &[String]) -> Profile {
    let mut profiler = Profiler::default();
    for t in texts {
        if t.is_empty() {
            profiler.empty();
        } else {
            profiler.text(t, t.chars().count() as u64);
        }
    }
    profiler.finish(BTreeMap::new())
}

fn report(baseline: &Profile, observed: &[String], limits: &Limits) -> DriftReport {
    let mut drift = InputDrift::default();
    for t in observed {
        drift.text(t, baseline);
    }
    drift.finish(baseline, limits)
}

fn breached(report: &DriftReport) -> Vec<CheckName> {
    report.violations().map(|c| c.check).collect()
}

#[test]
fn each_kind_of_drift_breaches_its_own_check_and_nothing_else() {
    let baseline = profile(&texts(20_000, &WORDS, 4..12, 50, 1));
    let mut shifted = WORDS.to_vec();
    shifted[..6].copy_from_slice(&[
        "bitcoin",
        "wallet",
        "token",
        "staking",
        "airdrop",
        "blockchain",
    ]);
    #[rustfmt::skip]
    let table: Vec<(&str, Vec<String>, Vec<CheckName>)> = vec![
        ("the same distribution",   texts(2_000, &WORDS, 4..12, 50, 2),   vec![]),
        ("three times longer",      texts(2_000, &WORDS, 20..36, 50, 3),  vec![CheckName::TextLengthChars, CheckName::TextLengthTokens]),
        ("a fifth empty",           texts(2_000, &WORDS, 4..12, 5, 4),    vec![CheckName::EmptyShare]),
        ("half the words new",      texts(2_000, &shifted, 4..12, 50, 5), vec![CheckName::OutOfVocabulary]),
    ];
    for (case, observed, expected) in table {
        let r = report(&baseline, &observed, &Limits::default());
        assert!(r.judged, "{case}");
        assert_eq!(breached(&r), expected, "{case}: {:?}", r.checks);
    }
}

#[test]
fn the_notice_can_name_the_tokens_that_moved() {
    let baseline = profile(&texts(5_000, &WORDS, 4..12, 0, 1));
    let mut words = WORDS.to_vec();
    words.extend(["bitcoin"; 3]);
    let r = report(
        &baseline,
        &texts(1_000, &words, 4..12, 0, 2),
        &Limits::default(),
    );
    let top = &r.top_drifting_tokens[0];
    assert_eq!(top.token, "bitcoin", "{:?}", r.top_drifting_tokens);
    assert_eq!(top.baseline_per_10k, 0.0, "never seen in training");
    assert!(top.observed_per_10k > 1_500.0, "{top:?}");
}

#[test]
fn a_small_sample_is_reported_not_judged() {
    let baseline = profile(&texts(5_000, &WORDS, 4..12, 0, 1));
    let r = report(
        &baseline,
        &texts(100, &WORDS, 30..40, 0, 2),
        &Limits::default(),
    );
    assert!(!r.judged);
    assert!(breached(&r).is_empty(), "{:?}", r.checks);
    let length = r
        .checks
        .iter()
        .find(|c| c.check == CheckName::TextLengthChars)
        .unwrap();
    assert!(
        length.observed > Limits::default().psi,
        "measured all the same: {length:?}"
    );
}
