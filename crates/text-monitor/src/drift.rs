//! Data quality and drift of the input texts against the serving model's baseline (the merged profile of the files
//! it trained on): text length in characters and tokens, the empty share, the out-of-vocabulary rate, character
//! classes and scripts, and the tokens whose frequency moved most. The texts are profiled with the very
//! [`Profiler`] the dataset check uses, so both sides are measured alike (same buckets, same tokenizer).

use std::collections::BTreeMap;

use dataset_check::profile::{Histogram, MergeError, Profile, Profiler, TokenCount, tokens};
use serde::{Deserialize, Serialize};

use crate::batch::psi;

/// Where a drift check breaches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// PSI of a distribution (lengths, character classes, scripts) above which it drifted (`MAX_TEXT_PSI`, 0.2).
    pub psi: f64,
    /// How far the empty share may move, in share points (0.05: five points).
    pub empty_share: f64,
    /// The out-of-vocabulary rate above which the texts' words are not the training data's (0.15).
    pub out_of_vocabulary: f64,
    /// Texts under which nothing is judged: PSI is biased upwards on small samples (`MIN_TEXTS`, 500).
    pub min_texts: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            psi: 0.2,
            empty_share: 0.05,
            out_of_vocabulary: 0.15,
            min_texts: 500,
        }
    }
}

/// What a drift check measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    /// PSI of text length in characters.
    TextLengthChars,
    /// PSI of text length in tokens.
    TextLengthTokens,
    /// The share of empty texts.
    EmptyShare,
    /// The share of tokens the training data never had.
    OutOfVocabulary,
    /// PSI of the character classes.
    CharacterClasses,
    /// PSI of the scripts of letters.
    Scripts,
}

impl CheckName {
    /// Every check, in report order.
    pub const ALL: [CheckName; 6] = [
        CheckName::TextLengthChars,
        CheckName::TextLengthTokens,
        CheckName::EmptyShare,
        CheckName::OutOfVocabulary,
        CheckName::CharacterClasses,
        CheckName::Scripts,
    ];

    /// The kebab-case name: the report's, and the monitor's `Check` metric dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::TextLengthChars => "text-length-chars",
            CheckName::TextLengthTokens => "text-length-tokens",
            CheckName::EmptyShare => "empty-share",
            CheckName::OutOfVocabulary => "out-of-vocabulary",
            CheckName::CharacterClasses => "character-classes",
            CheckName::Scripts => "scripts",
        }
    }
}

/// One check: observed against the baseline and the limit, in the spirit of Model Monitor's constraint
/// violations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// What.
    pub check: CheckName,
    /// The texts' value (a PSI, a share).
    pub observed: f64,
    /// The baseline's (0 for a PSI: the baseline against itself).
    pub baseline: f64,
    /// The limit.
    pub limit: f64,
    /// Whether it breached.
    pub violation: bool,
}

/// A token whose frequency moved, per ten thousand tokens on each side.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenShift {
    /// The token.
    pub token: String,
    /// Its frequency in the training data (at most, when it was not among the baseline's frequent tokens).
    pub baseline_per_10k: f64,
    /// Its frequency in the texts.
    pub observed_per_10k: f64,
}

/// The input drift of a set of texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// Texts read (empty ones included).
    pub texts: u64,
    /// Whether there were enough to judge ([`Limits::min_texts`]); no check breaches otherwise.
    pub judged: bool,
    /// The checks.
    pub checks: Vec<Check>,
    /// The tokens whose frequency moved most, most first.
    pub top_drifting_tokens: Vec<TokenShift>,
}

impl DriftReport {
    /// The checks that breached.
    pub fn violations(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.violation)
    }
}

/// How many drifting tokens a report names.
pub const TOP_DRIFTING: usize = 10;

/// The input drift of some texts (a file of an hour read on its own), mergeable with the rest's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftPart {
    /// The texts' profile.
    pub profile: Profile,
    /// Tokens counted.
    pub tokens: u64,
    /// Of those, tokens the baseline never had.
    pub unknown: u64,
}

impl DriftPart {
    /// No text yet: what merging starts from.
    pub fn empty() -> Self {
        DriftPart {
            profile: Profile::empty(),
            tokens: 0,
            unknown: 0,
        }
    }

    /// Adds `other`'s texts, as if they had been counted here.
    ///
    /// # Errors
    /// [`MergeError`]: a profile of another version.
    pub fn merge(&mut self, other: &DriftPart) -> Result<(), MergeError> {
        self.profile.merge(&other.profile)?;
        self.tokens += other.tokens;
        self.unknown += other.unknown;
        Ok(())
    }

    /// The drift of these texts against `baseline`.
    pub fn finish(self, baseline: &Profile, limits: &Limits) -> DriftReport {
        let observed = self.profile;
        let texts = observed.texts + observed.empty;
        let judged = texts >= limits.min_texts;
        let mut checks = Vec::new();
        let mut distribution = |check, expected: Option<f64>| {
            if let Some(value) = expected {
                checks.push(Check {
                    check,
                    observed: value,
                    baseline: 0.0,
                    limit: limits.psi,
                    violation: judged && value > limits.psi,
                });
            }
        };
        distribution(
            CheckName::TextLengthChars,
            psi(&buckets(&baseline.chars), &buckets(&observed.chars)),
        );
        distribution(
            CheckName::TextLengthTokens,
            psi(&buckets(&baseline.tokens), &buckets(&observed.tokens)),
        );
        distribution(
            CheckName::CharacterClasses,
            psi(&baseline.char_classes, &observed.char_classes),
        );
        distribution(
            CheckName::Scripts,
            psi(&baseline.scripts, &observed.scripts),
        );
        if let (Some(now), Some(then)) = (observed.empty_share(), baseline.empty_share()) {
            checks.push(Check {
                check: CheckName::EmptyShare,
                observed: now,
                baseline: then,
                limit: limits.empty_share,
                violation: judged && (now - then).abs() > limits.empty_share,
            });
        }
        if self.tokens > 0 {
            let rate = self.unknown as f64 / self.tokens as f64;
            checks.push(Check {
                check: CheckName::OutOfVocabulary,
                observed: rate,
                baseline: 0.0,
                limit: limits.out_of_vocabulary,
                violation: judged && rate > limits.out_of_vocabulary,
            });
        }
        checks.sort_by_key(|c| c.check);
        DriftReport {
            texts,
            judged,
            checks,
            top_drifting_tokens: drifting_tokens(baseline, &observed),
        }
    }
}

/// Accumulates texts to compare with a baseline profile.
#[derive(Default)]
pub struct InputDrift {
    profiler: Profiler,
    tokens: u64,
    unknown: u64,
}

impl InputDrift {
    /// Counts one text; `baseline` says which tokens the training data had.
    pub fn text(&mut self, text: &str, baseline: &Profile) {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            self.profiler.empty();
            return;
        }
        self.profiler.text(trimmed, trimmed.chars().count() as u64);
        for token in tokens(trimmed) {
            self.tokens += 1;
            if !baseline.vocabulary.sketch.contains(&token) {
                self.unknown += 1;
            }
        }
    }

    /// What the texts counted so far look like, to merge with other parts' or to finish.
    pub fn into_part(self) -> DriftPart {
        DriftPart {
            profile: self.profiler.finish(BTreeMap::new()),
            tokens: self.tokens,
            unknown: self.unknown,
        }
    }

    /// The report against `baseline`.
    pub fn finish(self, baseline: &Profile, limits: &Limits) -> DriftReport {
        self.into_part().finish(baseline, limits)
    }
}

/// A histogram as counts per bucket.
fn buckets(histogram: &Histogram) -> BTreeMap<usize, u64> {
    histogram
        .0
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, &n)| (i, n))
        .collect()
}

/// The tokens whose frequency per ten thousand moved most between the two profiles' frequent tokens. A token
/// missing from a list occurred there at most the summary's error bound times, which is taken as its frequency.
fn drifting_tokens(baseline: &Profile, observed: &Profile) -> Vec<TokenShift> {
    let per_10k = |count: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            count as f64 * 10_000.0 / total as f64
        }
    };
    let index = |top: &[TokenCount]| -> BTreeMap<String, u64> {
        top.iter().map(|t| (t.token.clone(), t.count)).collect()
    };
    let (then, now) = (
        index(&baseline.vocabulary.top),
        index(&observed.vocabulary.top),
    );
    // Misra–Gries: a token missing from the summary occurred at most `count_error` times (0: the list is exact).
    let (then_floor, now_floor) = (
        baseline.vocabulary.count_error,
        observed.vocabulary.count_error,
    );
    let (then_total, now_total) = (baseline.vocabulary.tokens, observed.vocabulary.tokens);
    let mut shifts: Vec<TokenShift> = then
        .keys()
        .chain(now.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|token| TokenShift {
            token: token.clone(),
            baseline_per_10k: per_10k(then.get(token).copied().unwrap_or(then_floor), then_total),
            observed_per_10k: per_10k(now.get(token).copied().unwrap_or(now_floor), now_total),
        })
        .collect();
    shifts.sort_by(|a, b| {
        let moved = |s: &TokenShift| (s.observed_per_10k - s.baseline_per_10k).abs();
        moved(b)
            .total_cmp(&moved(a))
            .then_with(|| a.token.cmp(&b.token))
    });
    shifts.truncate(TOP_DRIFTING);
    shifts
}

#[cfg(test)]
mod tests;
