//! The profile of a file's valid texts, taken in the check's single pass: what a monitor compares new text
//! against. Label shares, text length in characters and tokens, the empty share, character classes, the script
//! of letters, and the vocabulary — its most frequent tokens and a membership sketch of every token seen, so the
//! out-of-vocabulary rate of new text can be measured.
//!
//! Every part is **mergeable**: the profiles of the files one model trained on add up to the profile of all its
//! data ([`Profile::merge`]) without reading a row again. Histograms add bucket by bucket, the sketches are
//! OR-ed, the frequent-token summaries merge as Misra–Gries summaries do (Agarwal et al., "Mergeable
//! summaries", 2012). The JSON form is described by `schemas/text-profile.schema.json`.

mod sketch;
mod text;

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};

pub use sketch::{Sketch, SketchError};
pub use text::{CharClass, Script, tokens};

use crate::check::PassThrough;

/// The profile format version.
pub const PROFILE_VERSION: u32 = 1;

/// Tokens whose counts a profile keeps (the rest are in the sketch only).
pub const TOP_TOKENS: usize = 1000;

/// The profile of a set of texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// [`PROFILE_VERSION`].
    pub profile_version: u32,
    /// Valid rows with a non-empty text.
    pub texts: u64,
    /// Valid rows whose text is empty or null.
    pub empty: u64,
    /// Valid rows per label.
    pub labels: BTreeMap<String, u64>,
    /// Text length in characters (of the trimmed text).
    pub chars: Histogram,
    /// Text length in tokens.
    pub tokens: Histogram,
    /// Characters per class, over all texts.
    pub char_classes: BTreeMap<CharClass, u64>,
    /// Letters per script, over all texts.
    pub scripts: BTreeMap<Script, u64>,
    /// The tokens.
    pub vocabulary: Vocabulary,
}

/// The vocabulary of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vocabulary {
    /// Token occurrences.
    pub tokens: u64,
    /// The most frequent tokens (at most [`TOP_TOKENS`]), most frequent first: words only, without digits and of
    /// at most [`MAX_TOKEN_BYTES`] bytes (numbers and identifiers are in the sketch only).
    pub top: Vec<TokenCount>,
    /// Each count in `top` is low by at most this much (0: exact). Misra–Gries: at most `tokens / 1001`.
    pub count_error: u64,
    /// Every token seen.
    pub sketch: Sketch,
}

/// A token and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCount {
    /// The token (lower case).
    pub token: String,
    /// Occurrences (see [`Vocabulary::count_error`]).
    pub count: u64,
}

/// Counts per length bucket. Lengths below 16 have a bucket each; above, each power of two is split in eight,
/// so a bucket's lower bound is within 1/8 of any length in it. Bucket `i` is the same range in every profile,
/// which is what lets histograms add up and be compared bucket by bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram(pub Vec<u64>);

impl Histogram {
    /// The bucket of `value`.
    pub fn bucket(value: u64) -> usize {
        if value < 16 {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros() as usize;
        16 + (exponent - 4) * 8 + ((value >> (exponent - 3)) & 7) as usize
    }

    /// The smallest value in bucket `i`.
    pub fn lower_bound(i: usize) -> u64 {
        if i < 16 {
            return i as u64;
        }
        let (exponent, sub) = ((i - 16) / 8 + 4, (i - 16) % 8);
        (8 + sub as u64) << (exponent - 3)
    }

    /// Counts one value.
    pub fn add(&mut self, value: u64) {
        let i = Self::bucket(value);
        if i >= self.0.len() {
            self.0.resize(i + 1, 0);
        }
        self.0[i] += 1;
    }

    /// Values counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Histogram) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine += theirs;
        }
    }

    /// The `q` quantile (nearest rank) as its bucket's lower bound; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        self.0.iter().enumerate().find_map(|(i, count)| {
            seen += count;
            (seen >= rank).then(|| Self::lower_bound(i))
        })
    }
}

/// Builds a [`Profile`] one text at a time, in the check's pass.
pub struct Profiler {
    texts: u64,
    empty: u64,
    chars: Histogram,
    tokens: Histogram,
    classes: [u64; CharClass::ALL.len()],
    scripts: [u64; Script::ALL.len()],
    token_total: u64,
    frequent: Frequent,
    sketch: Sketch,
    /// The current token, lower-cased: reused so a token costs no allocation.
    token: String,
}

impl Default for Profiler {
    fn default() -> Self {
        Profiler {
            texts: 0,
            empty: 0,
            chars: Histogram::default(),
            tokens: Histogram::default(),
            classes: [0; CharClass::ALL.len()],
            scripts: [0; Script::ALL.len()],
            token_total: 0,
            frequent: Frequent::default(),
            sketch: Sketch::new(),
            token: String::with_capacity(64),
        }
    }
}

impl Profiler {
    /// Profiles one valid, non-empty, trimmed text of `chars` characters.
    pub fn text(&mut self, text: &str, chars: u64) {
        self.texts += 1;
        self.chars.add(chars);
        let mut tokens = 0;
        let (sketch, frequent) = (&mut self.sketch, &mut self.frequent);
        text::scan(
            text,
            &mut self.classes,
            &mut self.scripts,
            &mut self.token,
            |t, numeric| {
                tokens += 1;
                let hash = xxhash_rust::xxh3::xxh3_64(t.as_bytes());
                // A token with a counter was put in the sketch when it got one: most occurrences are of such
                // tokens, and skipping their sketch write (a cache miss) saves most of the sketch's cost.
                if numeric || t.len() > MAX_TOKEN_BYTES || frequent.insert(hash, t) == Counted::New
                {
                    sketch.insert_hash(hash);
                }
            },
        );
        self.token_total += tokens;
        self.tokens.add(tokens);
    }

    /// Counts a valid row whose text is empty or null.
    pub fn empty(&mut self) {
        self.empty += 1;
    }

    /// The profile, with `labels` (valid rows per label) from the check's own count.
    pub fn finish(self, labels: BTreeMap<String, u64>) -> Profile {
        let (top, count_error) = self.frequent.top(TOP_TOKENS);
        Profile {
            profile_version: PROFILE_VERSION,
            texts: self.texts,
            empty: self.empty,
            labels,
            chars: self.chars,
            tokens: self.tokens,
            char_classes: CharClass::ALL.into_iter().zip(self.classes).collect(),
            scripts: Script::ALL.into_iter().zip(self.scripts).collect(),
            vocabulary: Vocabulary {
                tokens: self.token_total,
                top,
                count_error,
                sketch: self.sketch,
            },
        }
    }
}

/// Why two profiles cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Different profile versions.
    #[error("profile versions {0} and {1} cannot be merged")]
    Version(u32, u32),
}

impl Profile {
    /// An empty profile: what merging starts from.
    pub fn empty() -> Self {
        Profiler::default().finish(BTreeMap::new())
    }

    /// Adds `other`, as if its texts had been profiled with these.
    ///
    /// # Errors
    /// [`MergeError`] when the two are of different versions.
    pub fn merge(&mut self, other: &Profile) -> Result<(), MergeError> {
        if self.profile_version != other.profile_version {
            return Err(MergeError::Version(
                self.profile_version,
                other.profile_version,
            ));
        }
        self.vocabulary.sketch.merge(&other.vocabulary.sketch);
        self.texts += other.texts;
        self.empty += other.empty;
        add_counts(&mut self.labels, &other.labels);
        add_counts(&mut self.char_classes, &other.char_classes);
        add_counts(&mut self.scripts, &other.scripts);
        self.chars.merge(&other.chars);
        self.tokens.merge(&other.tokens);
        let (vocabulary, theirs) = (&mut self.vocabulary, &other.vocabulary);
        vocabulary.tokens += theirs.tokens;
        let mut frequent = Frequent::from_top(&vocabulary.top, vocabulary.count_error);
        frequent.absorb(&theirs.top, theirs.count_error);
        (vocabulary.top, vocabulary.count_error) = frequent.top(TOP_TOKENS);
        Ok(())
    }

    /// The share of valid rows whose text is empty; `None` without rows.
    pub fn empty_share(&self) -> Option<f64> {
        let rows = self.texts + self.empty;
        (rows > 0).then(|| self.empty as f64 / rows as f64)
    }
}

fn add_counts<K: Ord + Clone>(mine: &mut BTreeMap<K, u64>, theirs: &BTreeMap<K, u64>) {
    for (key, count) in theirs {
        *mine.entry(key.clone()).or_default() += count;
    }
}

/// Longest token kept as text among the frequent tokens. Only words are kept as text: not numbers (order or phone
/// numbers, amounts) nor long runs (identifiers, hashes), which say little about the vocabulary and may be personal
/// data. Every token, these included, is in the sketch, which keeps only bits of hashes.
pub const MAX_TOKEN_BYTES: usize = 32;

/// Misra–Gries over token hashes, keeping each token's text. Written here, as the duplicate counter's sketch
/// is, because it must merge with stored summaries and report its error bound, which the crates offering
/// top-k counting do not do.
#[derive(Default)]
struct Frequent {
    counts: std::collections::HashMap<u64, (u64, Box<str>), BuildHasherDefault<PassThrough>>,
    /// How much any count may be low by.
    error: u64,
}

/// Whether a token already had a counter.
#[derive(PartialEq, Eq)]
enum Counted {
    Known,
    New,
}

/// Counters kept while profiling: twice the tokens reported, so pruning (O(counters)) is rare.
const COUNTERS: usize = 2 * TOP_TOKENS;

impl Frequent {
    fn insert(&mut self, hash: u64, token: &str) -> Counted {
        if let Some((count, _)) = self.counts.get_mut(&hash) {
            *count += 1;
            return Counted::Known;
        }
        if self.counts.len() >= COUNTERS {
            self.prune(TOP_TOKENS);
        }
        self.counts.insert(hash, (1, token.into()));
        Counted::New
    }

    /// Lowers every count by the `(keep+1)`-th largest and drops those at zero: at most `keep` counters stay,
    /// and every count is low by at most the total subtracted (the Misra–Gries bound, n/(keep+1)).
    fn prune(&mut self, keep: usize) {
        if self.counts.len() <= keep {
            return;
        }
        let mut counts: Vec<u64> = self.counts.values().map(|(c, _)| *c).collect();
        let (_, cut, _) = counts.select_nth_unstable_by(keep, |a, b| b.cmp(a));
        let cut = *cut;
        self.error += cut;
        self.counts.retain(|_, (count, _)| {
            *count = count.saturating_sub(cut);
            *count > 0
        });
    }

    fn from_top(top: &[TokenCount], error: u64) -> Self {
        let mut frequent = Frequent::default();
        frequent.absorb(top, error);
        frequent
    }

    fn absorb(&mut self, top: &[TokenCount], error: u64) {
        self.error += error;
        for TokenCount { token, count } in top {
            let hash = xxhash_rust::xxh3::xxh3_64(token.as_bytes());
            self.counts
                .entry(hash)
                .or_insert((0, token.as_str().into()))
                .0 += count;
        }
    }

    /// The `n` most frequent tokens, most frequent first (ties by token), and the error bound of their counts.
    fn top(mut self, n: usize) -> (Vec<TokenCount>, u64) {
        self.prune(n);
        let mut top: Vec<TokenCount> = self
            .counts
            .into_values()
            .map(|(count, token)| TokenCount {
                token: token.into(),
                count,
            })
            .collect();
        top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.token.cmp(&b.token)));
        (top, self.error)
    }
}

#[cfg(test)]
mod tests;
