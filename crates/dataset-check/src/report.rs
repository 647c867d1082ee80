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

impl Report {
    /// A few lines for a person reading a CI log (`dataset-check --summary`): the verdict, the figures, each
    /// reason, each failed check against its limit, and each broken rule with its first example.
    pub fn human_summary(&self) -> String {
        use std::fmt::Write;
        let verdict = match self.verdict {
            Verdict::Valid => "VALID",
            Verdict::Invalid => "INVALID",
        };
        let mut out = format!("{}: {verdict}\n", self.object);
        let labels: Vec<String> = self
            .label_counts
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "  {} rows ({} invalid); labels: {}",
            self.rows,
            self.invalid_rows,
            if labels.is_empty() {
                "none".to_owned()
            } else {
                labels.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "  {:.2}% null texts, {:.2}% duplicates{}; texts of {} to {} characters (mean {:.1})",
            self.null_fraction * 100.0,
            self.duplicate_fraction * 100.0,
            if self.duplicates_exact {
                ""
            } else {
                " (estimated)"
            },
            self.text_chars.min,
            self.text_chars.max,
            self.text_chars.mean
        );
        for reason in &self.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
        for check in self.checks.iter().filter(|c| !c.passed) {
            let _ = writeln!(
                out,
                "  failed check {}: observed {}, limit {}",
                check.check, check.observed, check.limit
            );
        }
        for (rule, failures) in &self.failures {
            let example = failures.examples.first().map_or_else(String::new, |e| {
                format!("; first in row {}: {}", e.row, e.detail)
            });
            let _ = writeln!(out, "  {rule}: {} rows{example}", failures.count);
        }
        out
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

    fn report(verdict: Verdict) -> Report {
        Report {
            report_version: REPORT_VERSION,
            object: "tickets.csv".into(),
            verdict,
            reasons: Vec::new(),
            contract: ContractRef {
                name: None,
                version: 1,
            },
            format: Some("csv".into()),
            compression: "none".into(),
            bytes_read: 100,
            bytes_decoded: 100,
            rows: 20,
            invalid_rows: 0,
            invalid_fraction: 0.0,
            null_texts: 0,
            null_fraction: 0.0,
            duplicate_rows: 0,
            duplicate_fraction: 0.0,
            duplicates_exact: true,
            label_counts: [("soporte".to_owned(), 12), ("ventas".to_owned(), 8)].into(),
            text_chars: TextStats {
                min: 5,
                max: 90,
                mean: 31.0,
            },
            checks: Vec::new(),
            failures: BTreeMap::new(),
        }
    }

    #[test]
    fn the_human_summary_says_the_verdict_the_figures_and_every_failure() {
        let valid = report(Verdict::Valid).human_summary();
        assert_eq!(
            valid,
            "tickets.csv: VALID\n  20 rows (0 invalid); labels: soporte 12, ventas 8\n  0.00% null texts, \
             0.00% duplicates; texts of 5 to 90 characters (mean 31.0)\n"
        );
        let mut invalid = report(Verdict::Invalid);
        invalid.reasons = vec!["2 rows have a label outside the contract".into()];
        invalid.duplicates_exact = false;
        invalid.checks = vec![CheckOutcome {
            check: "max_invalid_row_fraction".into(),
            passed: false,
            observed: 0.1,
            limit: 0.0,
        }];
        invalid.failures.insert(
            "unknown_label".into(),
            Failures {
                count: 2,
                examples: vec![Example {
                    row: 7,
                    field: Some("label".into()),
                    value: Some("compras".into()),
                    detail: "not one of the contract's labels".into(),
                }],
            },
        );
        let lines: Vec<String> = invalid.human_summary().lines().map(str::to_owned).collect();
        let expected = [
            "tickets.csv: INVALID",
            "  0.00% null texts, 0.00% duplicates (estimated); texts of 5 to 90 characters (mean 31.0)",
            "  - 2 rows have a label outside the contract",
            "  failed check max_invalid_row_fraction: observed 0.1, limit 0",
            "  unknown_label: 2 rows; first in row 7: not one of the contract's labels",
        ];
        for line in expected {
            assert!(
                lines.iter().any(|l| l == line),
                "{line:?} not in {lines:#?}"
            );
        }
    }

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
