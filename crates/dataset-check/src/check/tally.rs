//! Row rules and running totals: every check in the one pass, in memory bounded by the contract, not the file.

use std::collections::BTreeMap;

use crate::contract::Contract;
use crate::profile::{Profile, Profiler};
use crate::report::{
    CheckOutcome, ContractRef, Example, Failures, REPORT_VERSION, Report, TextStats, Verdict,
    cut_value,
};

use super::EXACT_DISTINCT_TEXTS;

/// A field as a parser found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A string value (CSV fields are always strings).
    Str(&'a str),
    /// JSON `null`.
    Null,
    /// The key or column is absent from this row.
    Missing,
    /// A JSON value of another type: `number`, `boolean`, `array`, `object`.
    NotString(&'static str),
}

impl<'a> Field<'a> {
    /// The same field with its string (if it is one) passed through `f`.
    pub fn map_str(self, f: impl FnOnce(&'a str) -> &'a str) -> Self {
        match self {
            Field::Str(s) => Field::Str(f(s)),
            other => other,
        }
    }
}

/// Row-level rules; their names are the report's failure keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// The row could not be parsed (bad JSON, not an object, unterminated quote).
    Unparsable,
    /// The row's bytes are not UTF-8.
    NotUtf8,
    /// The row is longer than any valid row can be.
    RecordTooLong,
    /// A CSV row with a different number of fields than the header.
    RaggedRow,
    /// The text or label key is absent.
    MissingField,
    /// The text or label is not a string.
    WrongType,
    /// The label is empty.
    MissingLabel,
    /// The label is not one of the contract's labels.
    UnknownLabel,
    /// The text is shorter than `min_text_chars`.
    TextTooShort,
    /// The text is longer than `max_text_chars`.
    TextTooLong,
}

impl Rule {
    /// The report key.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Unparsable => "unparsable_row",
            Rule::NotUtf8 => "not_utf8",
            Rule::RecordTooLong => "record_too_long",
            Rule::RaggedRow => "ragged_row",
            Rule::MissingField => "missing_field",
            Rule::WrongType => "wrong_type",
            Rule::MissingLabel => "missing_label",
            Rule::UnknownLabel => "unknown_label",
            Rule::TextTooShort => "text_too_short",
            Rule::TextTooLong => "text_too_long",
        }
    }
}

/// Where parsers send what they find. [`Tally`] applies the rules; a counting sink measures bare parsing.
pub trait Sink {
    /// A row with its text and label fields.
    fn row(&mut self, text: Field<'_>, label: Field<'_>);
    /// A row that broke a rule before its fields could be read (parse error, encoding, length, shape).
    fn broken_row(&mut self, rule: Rule, detail: String, value: Option<&str>);
    /// A problem that ends the check early.
    fn fatal(&mut self, reason: String);
    /// Data rows seen so far.
    fn rows(&self) -> u64;
}

/// Counts rows and nothing else: the bare cost of parsing, for the benchmark.
#[derive(Debug, Default)]
pub struct RowCounter {
    /// Rows parsed, broken ones included.
    pub rows: u64,
    /// Why parsing stopped early, if it did.
    pub fatal: Vec<String>,
}

impl Sink for RowCounter {
    fn row(&mut self, text: Field<'_>, label: Field<'_>) {
        // Touch the fields so the parser's work cannot be optimized away.
        self.rows += u64::from(matches!(text, Field::Str(_)) | matches!(label, Field::Str(_)));
    }
    fn broken_row(&mut self, _: Rule, _: String, _: Option<&str>) {
        self.rows += 1;
    }
    fn fatal(&mut self, reason: String) {
        self.fatal.push(reason);
    }
    fn rows(&self) -> u64 {
        self.rows
    }
}

/// Running totals for one file.
pub struct Tally<'c> {
    contract: &'c Contract,
    /// Labels by position; a linear scan beats hashing for the handful a classifier has.
    labels: Vec<&'c str>,
    label_counts: Vec<u64>,
    rows: u64,
    invalid_rows: u64,
    null_texts: u64,
    text_rows: u64,
    text_chars_total: u64,
    text_chars_min: u64,
    text_chars_max: u64,
    distinct: DistinctSampler,
    failures: BTreeMap<Rule, Failures>,
    fatal: Vec<String>,
    profiler: Option<Box<Profiler>>,
}

impl<'c> Tally<'c> {
    /// Empty totals for a file checked against `contract`.
    pub fn new(contract: &'c Contract) -> Self {
        Tally {
            contract,
            labels: contract.labels.iter().map(String::as_str).collect(),
            label_counts: vec![0; contract.labels.len()],
            rows: 0,
            invalid_rows: 0,
            null_texts: 0,
            text_rows: 0,
            text_chars_total: 0,
            text_chars_min: u64::MAX,
            text_chars_max: 0,
            distinct: DistinctSampler::new(EXACT_DISTINCT_TEXTS),
            failures: BTreeMap::new(),
            fatal: Vec::new(),
            profiler: None,
        }
    }

    /// The same totals, also profiling the valid texts.
    pub fn profiled(contract: &'c Contract) -> Self {
        Tally {
            profiler: Some(Box::default()),
            ..Tally::new(contract)
        }
    }

    /// The profile of the valid rows so far, when profiling.
    pub fn profile(&mut self) -> Option<Profile> {
        let labels = self
            .contract
            .labels
            .iter()
            .cloned()
            .zip(self.label_counts.iter().copied())
            .collect();
        self.profiler.take().map(|p| p.finish(labels))
    }
}

impl Sink for Tally<'_> {
    fn rows(&self) -> u64 {
        self.rows
    }

    fn broken_row(&mut self, rule: Rule, detail: String, value: Option<&str>) {
        self.rows += 1;
        self.invalid_rows += 1;
        self.failure(rule, None, value, detail);
    }

    fn row(&mut self, text: Field<'_>, label: Field<'_>) {
        self.rows += 1;
        let contract = self.contract;
        let mut valid = true;

        let label_slot = self.label_slot(label);
        valid &= label_slot.is_some();

        match text.map_str(trimmed) {
            Field::Str("") | Field::Null => {
                // A null text is its own file-level check (max_null_fraction), not a row violation.
                self.null_texts += 1;
                if let (Some(profiler), true) = (&mut self.profiler, valid) {
                    profiler.empty();
                }
            }
            // Length, emptiness and duplicates are all judged on the same trimmed text.
            Field::Str(t) => {
                let chars = char_count(t);
                if chars < contract.min_text_chars {
                    valid = false;
                    self.failure(
                        Rule::TextTooShort,
                        Some(&contract.text_field),
                        Some(t),
                        format!("{chars} characters, minimum {}", contract.min_text_chars),
                    );
                } else if chars > contract.max_text_chars {
                    valid = false;
                    self.failure(
                        Rule::TextTooLong,
                        Some(&contract.text_field),
                        Some(t),
                        format!("{chars} characters, maximum {}", contract.max_text_chars),
                    );
                } else if valid {
                    self.text_rows += 1;
                    self.text_chars_total += chars;
                    self.text_chars_min = self.text_chars_min.min(chars);
                    self.text_chars_max = self.text_chars_max.max(chars);
                    self.distinct
                        .insert(xxhash_rust::xxh3::xxh3_64(t.as_bytes()));
                    if let Some(profiler) = &mut self.profiler {
                        profiler.text(t, chars);
                    }
                }
            }
            other => {
                valid = false;
                self.field_problem(other, &contract.text_field);
            }
        }

        match (valid, label_slot) {
            (true, Some(i)) => self.label_counts[i] += 1,
            _ => self.invalid_rows += 1,
        }
    }

    /// A problem that ends the check early (unreadable header, corrupt gzip, size limit): the file is invalid
    /// whatever the rows said.
    fn fatal(&mut self, reason: String) {
        self.fatal.push(reason);
    }
}

impl Tally<'_> {
    /// The label's position among the contract's labels, recording why when it has none (empty, unknown, absent
    /// or not a string).
    #[inline]
    fn label_slot(&mut self, label: Field<'_>) -> Option<usize> {
        let contract = self.contract;
        match label {
            Field::Str(l) if l.trim().is_empty() => {
                self.failure(
                    Rule::MissingLabel,
                    Some(&contract.label_field),
                    None,
                    "the label is empty".to_owned(),
                );
                None
            }
            Field::Str(l) => match self.labels.iter().position(|known| *known == l) {
                Some(i) => Some(i),
                None => {
                    self.failure(
                        Rule::UnknownLabel,
                        Some(&contract.label_field),
                        Some(l),
                        "not one of the contract's labels".to_owned(),
                    );
                    None
                }
            },
            other => {
                self.field_problem(other, &contract.label_field);
                None
            }
        }
    }

    fn field_problem(&mut self, field: Field<'_>, name: &str) {
        match field {
            Field::Missing => self.failure(
                Rule::MissingField,
                Some(name),
                None,
                format!("no {name:?} field"),
            ),
            Field::Null => self.failure(
                Rule::WrongType,
                Some(name),
                None,
                "null where a string is required".to_owned(),
            ),
            Field::NotString(kind) => self.failure(
                Rule::WrongType,
                Some(name),
                None,
                format!("{kind} where a string is required"),
            ),
            Field::Str(_) => {}
        }
    }

    fn failure(&mut self, rule: Rule, field: Option<&str>, value: Option<&str>, detail: String) {
        let row = self.rows;
        let max_examples = self.contract.max_examples_per_check;
        let entry = self.failures.entry(rule).or_default();
        entry.count += 1;
        if entry.examples.len() < max_examples {
            entry.examples.push(Example {
                row,
                field: field.map(str::to_owned),
                value: value.map(cut_value),
                detail,
            });
        }
    }

    /// The report, with every file-level check applied.
    pub fn finish(
        mut self,
        object: &str,
        format: Option<&str>,
        compression: &str,
        bytes_read: u64,
        bytes_decoded: u64,
    ) -> Report {
        let c = self.contract;
        let shares = self.shares();
        let checks = self.checks(&shares, bytes_read.max(bytes_decoded));
        let reasons = self.reasons(&shares, bytes_read, bytes_decoded);
        let verdict = if reasons.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        };
        Report {
            report_version: REPORT_VERSION,
            object: object.to_owned(),
            verdict,
            reasons,
            contract: ContractRef {
                name: c.name.clone(),
                version: c.version,
            },
            format: format.map(str::to_owned),
            compression: compression.to_owned(),
            bytes_read,
            bytes_decoded,
            rows: self.rows,
            invalid_rows: self.invalid_rows,
            invalid_fraction: shares.invalid,
            null_texts: self.null_texts,
            null_fraction: shares.null,
            duplicate_rows: shares.duplicate_rows,
            duplicate_fraction: shares.duplicate,
            duplicates_exact: shares.duplicates_exact,
            label_counts: c
                .labels
                .iter()
                .cloned()
                .zip(self.label_counts.iter().copied())
                .collect(),
            text_chars: self.text_stats(),
            checks,
            failures: self
                .failures
                .into_iter()
                .map(|(rule, f)| (rule.name().to_owned(), f))
                .collect(),
        }
    }

    /// The shares of rows the file-level checks limit: empty texts, repeated texts, invalid rows.
    fn shares(&self) -> Shares {
        let rows = self.rows;
        let fraction = |n: u64| {
            if rows == 0 {
                0.0
            } else {
                n as f64 / rows as f64
            }
        };
        let (duplicate_rows, duplicates_exact) = self.distinct.duplicates();
        Shares {
            null: fraction(self.null_texts),
            duplicate: fraction(duplicate_rows),
            invalid: fraction(self.invalid_rows),
            duplicate_rows,
            duplicates_exact,
        }
    }

    /// One outcome per file-level check of the contract, in the report's order; `bytes` is the larger of read
    /// and decoded.
    fn checks(&self, shares: &Shares, bytes: u64) -> Vec<CheckOutcome> {
        let c = self.contract;
        let rows = self.rows;
        vec![
            outcome(
                "min_rows",
                rows as f64,
                c.min_rows as f64,
                rows >= c.min_rows,
            ),
            outcome(
                "max_bytes",
                bytes as f64,
                c.max_bytes as f64,
                bytes <= c.max_bytes,
            ),
            outcome(
                "max_null_fraction",
                shares.null,
                c.max_null_fraction,
                shares.null <= c.max_null_fraction,
            ),
            outcome(
                "max_duplicate_fraction",
                shares.duplicate,
                c.max_duplicate_fraction,
                shares.duplicate <= c.max_duplicate_fraction,
            ),
            outcome(
                "max_invalid_row_fraction",
                shares.invalid,
                c.max_invalid_row_fraction,
                shares.invalid <= c.max_invalid_row_fraction,
            ),
        ]
    }

    /// Why the file is invalid, in the report's order: fatal problems first, then the failed checks (none: valid).
    fn reasons(&mut self, shares: &Shares, bytes_read: u64, bytes_decoded: u64) -> Vec<String> {
        let c = self.contract;
        let rows = self.rows;
        // After a fatal problem the totals are partial: report that problem, not what followed from stopping.
        let stopped_early = !self.fatal.is_empty();
        let mut reasons = std::mem::take(&mut self.fatal);
        if bytes_decoded == 0 && bytes_read == 0 && !stopped_early {
            reasons.push("the file is empty".to_owned());
        } else if rows < c.min_rows && !stopped_early {
            reasons.push(format!(
                "{rows} data rows, the contract requires at least {}",
                c.min_rows
            ));
        }
        if shares.invalid > c.max_invalid_row_fraction {
            reasons.extend(rule_reasons(&self.failures));
        }
        if shares.null > c.max_null_fraction {
            reasons.push(format!(
                "{:.2}% of texts are empty, the contract allows {:.2}%",
                shares.null * 100.0,
                c.max_null_fraction * 100.0
            ));
        }
        if shares.duplicate > c.max_duplicate_fraction {
            reasons.push(format!(
                "{:.2}% of rows repeat an earlier text{}, the contract allows {:.2}%",
                shares.duplicate * 100.0,
                if shares.duplicates_exact {
                    ""
                } else {
                    " (estimated)"
                },
                c.max_duplicate_fraction * 100.0
            ));
        }
        reasons
    }

    /// Length statistics of the valid texts (all zero when there were none).
    fn text_stats(&self) -> TextStats {
        if self.text_rows == 0 {
            TextStats::default()
        } else {
            TextStats {
                min: self.text_chars_min,
                max: self.text_chars_max,
                mean: self.text_chars_total as f64 / self.text_rows as f64,
            }
        }
    }
}

/// The shares of rows the file-level checks limit, and whether the duplicates were counted exactly.
struct Shares {
    null: f64,
    duplicate: f64,
    invalid: f64,
    duplicate_rows: u64,
    duplicates_exact: bool,
}

/// One reason per broken row rule, the most frequent first (ties by rule), each with its first example.
fn rule_reasons(failures: &BTreeMap<Rule, Failures>) -> impl Iterator<Item = String> + '_ {
    let mut by_count: Vec<(&Rule, &Failures)> = failures.iter().collect();
    by_count.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    by_count.into_iter().map(|(rule, failures)| {
        let first = failures
            .examples
            .first()
            .map(|e| format!(" (first at row {}: {})", e.row, e.detail))
            .unwrap_or_default();
        let rows = if failures.count == 1 { "row" } else { "rows" };
        format!("{}: {} {rows}{first}", rule.name(), failures.count)
    })
}

fn outcome(check: &str, observed: f64, limit: f64, passed: bool) -> CheckOutcome {
    CheckOutcome {
        check: check.to_owned(),
        passed,
        observed,
        limit,
    }
}

/// A text without the white space and control characters around it: what length, emptiness and duplicates are
/// judged on (a text of only control characters is empty).
fn trimmed(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c.is_control())
}

/// Characters (Unicode scalar values) in a UTF-8 string: the bytes that do not continue a sequence, counted by
/// `bytecount` 32 at a time with AVX2 where the CPU has it (the standard library counts a word at a time: the check
/// of the 200 MB sample took 8 % longer).
fn char_count(text: &str) -> u64 {
    bytecount::num_chars(text.as_bytes()) as u64
}

/// Counts duplicate texts in bounded memory.
///
/// Keeps the 64-bit hash of every distinct text and how often it occurred, up to `capacity` texts, in an
/// open-addressing table of twice that many slots (12 bytes each), counting duplicates exactly — up to the
/// chance of two different texts sharing a hash, about n²/2⁶⁵, under 10⁻⁹ at the 65,536 texts it holds. When
/// full, it turns into distinct sampling (Gibbons): it keeps only texts whose hash has its lowest `level` bits
/// zero — a uniform sample of the distinct texts, each with all its occurrences — raising the level (and
/// dropping the rest) each time the table fills again. The duplicate share of the sampled texts' occurrences
/// then estimates the file's.
///
/// A sample misses duplicates concentrated on a few texts (one boilerplate line pasted 30,000 times is in the
/// sample or not, all or nothing), so a heavy-hitter sketch runs beside it over every row: the texts seen more
/// than n/(k+1) times (k = [`HEAVY_HITTERS`]) are counted by it, each within n/(k+1) rows of its true count
/// (Misra–Gries), and left out of the sample's estimate, which then covers only the other texts.
struct DistinctSampler {
    /// Hashes; 0 marks an empty slot (a hash of 0 is stored as 1).
    slots: Vec<u64>,
    /// Occurrences of the text in the same slot.
    counts: Vec<u32>,
    len: usize,
    capacity: usize,
    level: u32,
    rows: u64,
    heavy: HeavyHitters,
}

impl DistinctSampler {
    fn new(capacity: usize) -> Self {
        let slots = (capacity * 2).next_power_of_two().max(2);
        DistinctSampler {
            slots: vec![0; slots],
            counts: vec![0; slots],
            len: 0,
            capacity,
            level: 0,
            rows: 0,
            heavy: HeavyHitters::default(),
        }
    }

    fn insert(&mut self, hash: u64) {
        self.rows += 1;
        self.heavy.insert(hash.max(1));
        if hash.trailing_zeros() < self.level {
            return;
        }
        self.add(hash.max(1), 1);
        while self.len > self.capacity {
            self.level += 1;
            let level = self.level;
            let kept: Vec<(u64, u32)> = self
                .slots
                .iter()
                .zip(&self.counts)
                .filter(|(h, _)| **h != 0 && h.trailing_zeros() >= level)
                .map(|(h, c)| (*h, *c))
                .collect();
            self.slots.fill(0);
            self.counts.fill(0);
            self.len = 0;
            for (h, c) in kept {
                self.add(h, c);
            }
        }
    }

    /// Adds `count` occurrences of a non-zero hash.
    fn add(&mut self, hash: u64, count: u32) {
        let i = probe(&self.slots, hash, |&h| h);
        if self.slots[i] == hash {
            self.counts[i] = self.counts[i].saturating_add(count);
        } else {
            self.slots[i] = hash;
            self.counts[i] = count;
            self.len += 1;
        }
    }

    /// Duplicate rows and whether the count is exact.
    fn duplicates(&self) -> (u64, bool) {
        if self.level == 0 {
            let occurrences: u64 = self.counts.iter().map(|c| u64::from(*c)).sum();
            return (occurrences - self.len as u64, true);
        }
        // Heavy texts by their sketch counts; the others by the sample's duplicate share.
        let heavy = self.heavy.heavy(self.rows);
        let heavy_rows: u64 = heavy.iter().map(|(_, c)| *c).sum();
        let heavy_duplicates: u64 = heavy.iter().map(|(_, c)| c.saturating_sub(1)).sum();
        let heavy_texts: std::collections::HashSet<u64> = heavy.iter().map(|(h, _)| *h).collect();
        let (mut occurrences, mut distinct) = (0u64, 0u64);
        for (hash, count) in self.slots.iter().zip(&self.counts) {
            if *hash != 0 && !heavy_texts.contains(hash) {
                occurrences += u64::from(*count);
                distinct += 1;
            }
        }
        let share = (occurrences - distinct) as f64 / occurrences.max(1) as f64;
        let others = self.rows.saturating_sub(heavy_rows) as f64;
        (heavy_duplicates + (share * others).round() as u64, false)
    }
}

/// The slot of a flat hash table holding `hash`, or the empty slot where it would go: at least two slots and a
/// power of two of them, probed linearly from the one the hash's high bits pick (its low bits are the sampler's
/// level), 0 the hash of an empty slot, `key` the hash a slot holds. The caller keeps an empty slot.
fn probe<T>(slots: &[T], hash: u64, key: impl Fn(&T) -> u64) -> usize {
    let mask = slots.len() - 1;
    let mut i = (hash >> (64 - slots.len().trailing_zeros())) as usize;
    while key(&slots[i]) != hash && key(&slots[i]) != 0 {
        i = (i + 1) & mask;
    }
    i
}

/// Counters of the heavy-hitter sketch: at most this many texts are tracked at once.
const HEAVY_HITTERS: usize = 1024;

/// Slots of the heavy-hitter table: twice the counters, so a probe for an absent text ends within a few slots.
const HEAVY_SLOTS: usize = 2 * HEAVY_HITTERS;

/// The Misra–Gries frequent-items sketch over text hashes: with k counters, every text seen more than n/(k+1)
/// times in n rows is among them, and each counter undercounts its text by at most n/(k+1). Written here because
/// it is a dozen lines over the hashes the sampler already has. Every row passes through it, so its table is a
/// flat array probed by the hash's high bits: with the standard hash map's group probes and rebuilds, the check's
/// CPU time on 200 MB of CSV was 8 % higher (201 against 186 ms).
struct HeavyHitters {
    /// (hash, count), open addressing with linear probing; a hash of 0 marks an empty slot.
    slots: Box<[(u64, u64)]>,
    len: usize,
    /// The counters that outlive a decrement round, reused from round to round.
    kept: Vec<(u64, u64)>,
}

impl Default for HeavyHitters {
    fn default() -> Self {
        HeavyHitters {
            slots: vec![(0, 0); HEAVY_SLOTS].into_boxed_slice(),
            len: 0,
            kept: Vec::new(),
        }
    }
}

impl HeavyHitters {
    /// Counts one occurrence of a non-zero hash.
    fn insert(&mut self, hash: u64) {
        let i = self.find(hash);
        match &mut self.slots[i] {
            (h, count) if *h == hash => *count += 1,
            slot if self.len < HEAVY_HITTERS => {
                *slot = (hash, 1);
                self.len += 1;
            }
            // Decrement every counter (the new text's one occurrence cancels with one of each): amortized O(1),
            // since each round removes k+1 occurrences and there are only n. Linear probing cannot leave holes
            // in a probe chain, so the survivors are placed again.
            _ => {
                self.kept.clear();
                self.kept.extend(
                    self.slots
                        .iter()
                        .filter(|&&(h, count)| h != 0 && count > 1)
                        .map(|&(h, count)| (h, count - 1)),
                );
                self.slots.fill((0, 0));
                self.len = self.kept.len();
                for &(h, count) in &self.kept {
                    let i = self.find(h);
                    self.slots[i] = (h, count);
                }
            }
        }
    }

    /// The slot holding `hash`, or the empty slot where it would go (there is always one: at most half are used).
    fn find(&self, hash: u64) -> usize {
        probe(&self.slots, hash, |&(h, _)| h)
    }

    /// The texts certainly heavy in `rows` rows (counted more than rows/(k+1) times), with their counts.
    fn heavy(&self, rows: u64) -> Vec<(u64, u64)> {
        let bound = rows / (HEAVY_HITTERS as u64 + 1);
        self.slots
            .iter()
            .filter(|&&(hash, count)| hash != 0 && count > bound)
            .copied()
            .collect()
    }
}

/// A hasher for keys that are already uniform 64-bit hashes: uses them as they are.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_count_counts_scalar_values() {
        assert_eq!(char_count("abc"), 3);
        assert_eq!(char_count("facturación"), 11);
        assert_eq!(char_count("日本語😀"), 4);
        assert_eq!(char_count(""), 0);
    }

    #[test]
    fn sampler_is_exact_below_capacity() {
        let mut s = DistinctSampler::new(100);
        for i in 0..50u64 {
            s.insert(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
            s.insert(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
        }
        assert_eq!(s.duplicates(), (50, true));
    }

    #[test]
    fn duplicates_concentrated_on_one_text_are_caught_beyond_capacity() {
        // 300,000 distinct texts plus 30,000 copies of one boilerplate line: 30,000 duplicates (9.09 %), far
        // beyond the exact table. The sample alone holds the boilerplate or not, all or nothing.
        let mut s = DistinctSampler::new(EXACT_DISTINCT_TEXTS);
        // A boilerplate whose hash is odd: distinct sampling drops it at every level above 0, so without the
        // sketch the estimate would see none of its copies.
        let boilerplate = (0u32..)
            .map(|i| xxhash_rust::xxh3::xxh3_64(format!("Gracias por contactarnos {i}").as_bytes()))
            .find(|h| h & 1 == 1)
            .unwrap_or(1);
        for i in 0..330_000u64 {
            if i % 11 == 0 {
                s.insert(boilerplate);
            } else {
                s.insert(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
            }
        }
        let (duplicates, exact) = s.duplicates();
        assert!(!exact);
        // Within the documented bound: n/(k+1) rows for the heavy text, plus the sample's error on the rest.
        let bound = 330_000 / (HEAVY_HITTERS as u64 + 1) + 330;
        assert!(
            duplicates.abs_diff(29_999) <= bound,
            "estimated {duplicates} duplicates, expected 29,999 ± {bound}"
        );
    }

    #[test]
    fn the_heavy_hitter_sketch_keeps_every_frequent_text() {
        let mut sketch = HeavyHitters::default();
        let rows = 100_000u64;
        for i in 0..rows {
            // Text 7 is 5 % of the rows, text 8 is 1 %, the rest appear once.
            let hash = if i % 20 == 0 {
                7
            } else if i % 100 == 1 {
                8
            } else {
                1_000 + i
            };
            sketch.insert(hash);
        }
        let heavy = sketch.heavy(rows);
        let bound = rows / (HEAVY_HITTERS as u64 + 1);
        for (text, truth) in [(7u64, 5_000u64), (8, 1_000)] {
            let (_, count) = heavy
                .iter()
                .find(|(h, _)| *h == text)
                .unwrap_or_else(|| panic!("text {text} missed: {heavy:?}"));
            assert!(
                *count <= truth && truth - count <= bound,
                "{text}: {count} of {truth}"
            );
        }
    }

    #[test]
    fn the_heavy_hitter_table_keeps_the_counters_a_hash_map_keeps() {
        // Misra–Gries over the standard hash map: the flat table must hold the same counters after every kind of
        // step (a count, a new counter, a decrement round) on a stream with heavy, middling and single texts.
        let mut reference = std::collections::HashMap::new();
        let mut sketch = HeavyHitters::default();
        for i in 0..200_000u64 {
            let text = match i % 10 {
                0 => i % 7,
                1 | 2 => i % 3_000,
                _ => i,
            };
            let hash = xxhash_rust::xxh3::xxh3_64(&text.to_le_bytes()).max(1);
            sketch.insert(hash);
            if let Some(count) = reference.get_mut(&hash) {
                *count += 1;
            } else if reference.len() < HEAVY_HITTERS {
                reference.insert(hash, 1u64);
            } else {
                reference.retain(|_, count| {
                    *count -= 1;
                    *count > 0
                });
            }
        }
        let mut table: Vec<(u64, u64)> =
            sketch.slots.iter().filter(|s| s.0 != 0).copied().collect();
        let mut expected: Vec<(u64, u64)> = reference.into_iter().collect();
        table.sort_unstable();
        expected.sort_unstable();
        assert!(expected.len() > 100, "{}", expected.len());
        assert_eq!(table, expected);
        assert_eq!(sketch.len, table.len());
    }

    #[test]
    fn sampler_estimates_the_duplicate_share_beyond_capacity() {
        // 500k rows in which every 100th repeats the row before: 5,000 duplicates (1 %), in a table of 4,096
        // texts. Estimating the share among sampled texts keeps the error small however many rows there are.
        let mut s = DistinctSampler::new(4096);
        for i in 1..=500_000u64 {
            let text = if i % 100 == 0 { i - 1 } else { i };
            s.insert(xxhash_rust::xxh3::xxh3_64(&text.to_le_bytes()));
        }
        let (duplicates, exact) = s.duplicates();
        assert!(!exact);
        assert!(s.len <= 4096);
        let error_points = (duplicates as f64 - 5_000.0).abs() / 500_000.0 * 100.0;
        assert!(error_points < 0.3, "estimated {duplicates} duplicates");
    }
}
