//! The validation report: written beside every ingested or quarantined file, printed by `dataset-check`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The report format version.
pub const REPORT_VERSION: u32 = 1;

/// Longest example value kept in a report, in characters.
pub const EXAMPLE_CHARS: usize = 80;

/// The outcome of checking one file against its contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Report {
    /// Report format version.
    pub report_version: u32,
    /// What was checked (an `s3://` URI or a file path).
    pub object: String,
    /// `valid` or `invalid`.
    pub verdict: Verdict,
    /// Why the file is invalid, most important first; empty when valid.
    pub reasons: Vec<String>,
    /// The contract's name and format version.
    pub contract: ContractRef,
    /// `csv` or `jsonl`, when it could be told.
    pub format: Option<String>,
    /// `gzip` or `none`.
    pub compression: String,
    /// Bytes read from the source (compressed size for gzip).
    pub bytes_read: u64,
    /// Bytes after decompression.
    pub bytes_decoded: u64,
    /// Data rows (header excluded; blank JSON lines excluded).
    pub rows: u64,
    /// Rows that broke at least one row-level rule.
    pub invalid_rows: u64,
    /// Share of rows that broke a row-level rule.
    pub invalid_fraction: f64,
    /// Rows whose text is empty or only white space.
    pub null_texts: u64,
    /// Share of rows with a null text.
    pub null_fraction: f64,
    /// Rows repeating an earlier row's text (an estimate when `duplicates_exact` is false).
    pub duplicate_rows: u64,
    /// Share of duplicate rows.
    pub duplicate_fraction: f64,
    /// Whether duplicates were counted exactly (true up to [`crate::check::EXACT_DISTINCT_TEXTS`] distinct
    /// texts; beyond, a hash-sampled estimate).
    pub duplicates_exact: bool,
    /// Valid rows per label (every contract label listed, zeros included).
    pub label_counts: BTreeMap<String, u64>,
    /// Length of the valid, non-null texts, in characters.
    pub text_chars: TextStats,
    /// Each file-level check with what was observed and the limit.
    pub checks: Vec<CheckOutcome>,
    /// Row-level rule breaches by rule: total count and the first examples.
    pub failures: BTreeMap<String, Failures>,
}

/// Valid or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Meets the contract.
    Valid,
    /// Breaks it.
    Invalid,
}

/// Which contract a report was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ContractRef {
    /// The contract's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its format version.
    pub version: u32,
}

/// Text length statistics in characters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TextStats {
    /// Shortest.
    pub min: u64,
    /// Longest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// One file-level check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CheckOutcome {
    /// The check, e.g. `max_null_fraction`.
    pub check: String,
    /// Whether it held.
    pub passed: bool,
    /// What was measured.
    pub observed: f64,
    /// The contract's limit.
    pub limit: f64,
}

/// Breaches of one row-level rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Failures {
    /// How many rows broke it.
    pub count: u64,
    /// The first few.
    pub examples: Vec<Example>,
}

/// One row that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Example {
    /// Data row number, from 1.
    pub row: u64,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// The offending value, cut to [`EXAMPLE_CHARS`] characters.
    pub value: Option<String>,
    /// What is wrong with it.
    pub detail: String,
}

impl Report {
    /// Whether the file meets its contract.
    pub fn is_valid(&self) -> bool {
        self.verdict == Verdict::Valid
    }

    /// One line for people: verdict, rows, and the first reasons.
    pub fn summary(&self) -> String {
        match self.verdict {
            Verdict::Valid => format!(
                "valid: {} rows, {} labels, {:.2}% null, {:.2}% duplicate",
                self.rows,
                self.label_counts.values().filter(|n| **n > 0).count(),
                self.null_fraction * 100.0,
                self.duplicate_fraction * 100.0
            ),
            Verdict::Invalid => {
                let shown: Vec<&str> = self.reasons.iter().take(3).map(String::as_str).collect();
                let more = self.reasons.len().saturating_sub(shown.len());
                let tail = if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                };
                format!("invalid: {}{tail}", shown.join("; "))
            }
        }
    }
}

/// Cuts a value to [`EXAMPLE_CHARS`] characters, marking the cut.
pub fn cut_value(value: &str) -> String {
    let mut chars = value.char_indices();
    match chars.nth(EXAMPLE_CHARS) {
        None => value.to_owned(),
        Some((end, _)) => format!("{}…", &value[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_to_80_characters_on_char_boundaries() {
        assert_eq!(cut_value("corto"), "corto");
        let long = "ñ".repeat(100);
        let cut = cut_value(&long);
        assert_eq!(cut.chars().count(), EXAMPLE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(cut_value(&"a".repeat(80)), "a".repeat(80));
    }
}
