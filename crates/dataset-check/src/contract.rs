//! The dataset contract: what a training file must look like before it may reach training.
//!
//! A versioned JSON document. Unknown fields are rejected (a typo must not silently weaken a check); omitted
//! fields take the documented defaults.

use serde::{Deserialize, Serialize};

/// The contract format version this build understands.
pub const CONTRACT_VERSION: u32 = 1;

/// The largest `max_text_chars` a contract may set; it bounds the record buffer (4 bytes per character).
pub const MAX_TEXT_CHARS_LIMIT: u64 = 1_000_000;

/// How the file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FormatSetting {
    /// By extension: `.csv`, `.jsonl` / `.ndjson` / `.json`, each optionally `.gz`.
    #[default]
    Auto,
    /// Comma-separated with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// A dataset contract (format version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Contract format version: 1, the one this build reads ([`CONTRACT_VERSION`]).
    #[serde(default = "default_version")]
    #[cfg_attr(feature = "schema", schemars(range(min = CONTRACT_VERSION, max = CONTRACT_VERSION)))]
    pub version: u32,
    /// A name for reports and events, e.g. `tickets-v3`.
    #[serde(default)]
    pub name: Option<String>,
    /// `csv`, `jsonl` or `auto`.
    #[serde(default)]
    pub format: FormatSetting,
    /// Column / key holding the text.
    #[serde(default = "default_text_field")]
    pub text_field: String,
    /// Column / key holding the label.
    #[serde(default = "default_label_field")]
    pub label_field: String,
    /// The allowed labels (exact, case-sensitive match).
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub labels: Vec<String>,
    /// Minimum text length in characters (Unicode scalar values), for non-null texts.
    #[serde(default = "default_min_text_chars")]
    pub min_text_chars: u64,
    /// Maximum text length in characters.
    #[serde(default = "default_max_text_chars")]
    #[cfg_attr(feature = "schema", schemars(range(max = MAX_TEXT_CHARS_LIMIT)))]
    pub max_text_chars: u64,
    /// Largest allowed share of rows whose text is empty or white space.
    #[serde(default = "default_max_null_fraction")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub max_null_fraction: f64,
    /// Largest allowed share of rows repeating an earlier row's text.
    #[serde(default = "default_max_duplicate_fraction")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub max_duplicate_fraction: f64,
    /// Largest allowed share of rows breaking a row-level rule (label, length, type, missing field, parse).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub max_invalid_row_fraction: f64,
    /// Fewest data rows a file may have.
    #[serde(default = "default_min_rows")]
    pub min_rows: u64,
    /// Largest file, in bytes, compressed and decompressed alike (a gzip bomb stops here).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Examples kept per failed check in the report.
    #[serde(default = "default_max_examples")]
    pub max_examples_per_check: usize,
}

fn default_version() -> u32 {
    CONTRACT_VERSION
}
fn default_text_field() -> String {
    "text".to_owned()
}
fn default_label_field() -> String {
    "label".to_owned()
}
fn default_min_text_chars() -> u64 {
    1
}
fn default_max_text_chars() -> u64 {
    5000
}
fn default_max_null_fraction() -> f64 {
    0.01
}
fn default_max_duplicate_fraction() -> f64 {
    0.05
}
fn default_min_rows() -> u64 {
    1
}
fn default_max_bytes() -> u64 {
    1 << 30
}
fn default_max_examples() -> usize {
    5
}

/// A contract document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// Not JSON of the contract's shape.
    #[error("the dataset contract is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// Parsed, but inconsistent.
    #[error("the dataset contract is not valid: {0}")]
    Invalid(String),
}

impl Contract {
    /// Parses and checks a contract document.
    ///
    /// # Errors
    /// [`ContractError`] saying what is wrong.
    pub fn from_json(json: &str) -> Result<Self, ContractError> {
        let contract: Contract = serde_json::from_str(json)?;
        contract.check()?;
        Ok(contract)
    }

    fn check(&self) -> Result<(), ContractError> {
        let invalid = |why: String| Err(ContractError::Invalid(why));
        if self.version != CONTRACT_VERSION {
            return invalid(format!(
                "version {} is not supported (this build reads version {CONTRACT_VERSION})",
                self.version
            ));
        }
        if self.labels.is_empty() {
            return invalid("labels must list at least one label".to_owned());
        }
        if self.text_field.is_empty() || self.label_field.is_empty() {
            return invalid("text_field and label_field must not be empty".to_owned());
        }
        if self.text_field == self.label_field {
            return invalid("text_field and label_field must differ".to_owned());
        }
        for (name, value) in [
            ("text_field", &self.text_field),
            ("label_field", &self.label_field),
        ] {
            if value.trim() != value {
                return invalid(format!(
                    "{name} {value:?} has white space around it: a header or key never matches it exactly"
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for label in &self.labels {
            if label.trim().is_empty() {
                return invalid("labels must not be blank".to_owned());
            }
            if label.trim() != label {
                return invalid(format!("the label {label:?} has white space around it"));
            }
            if !seen.insert(label.as_str()) {
                return invalid(format!("the label {label:?} is listed twice"));
            }
        }
        if self.max_text_chars > MAX_TEXT_CHARS_LIMIT {
            return invalid(format!(
                "max_text_chars ({}) is above {MAX_TEXT_CHARS_LIMIT}: that is a document, not a text to classify",
                self.max_text_chars
            ));
        }
        if self.min_text_chars > self.max_text_chars {
            return invalid(format!(
                "min_text_chars ({}) is above max_text_chars ({})",
                self.min_text_chars, self.max_text_chars
            ));
        }
        for (name, value) in [
            ("max_null_fraction", self.max_null_fraction),
            ("max_duplicate_fraction", self.max_duplicate_fraction),
            ("max_invalid_row_fraction", self.max_invalid_row_fraction),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return invalid(format!("{name} must be between 0 and 1, not {value}"));
            }
        }
        Ok(())
    }

    /// The longest record (in bytes) read into memory: the longest allowed text in 4-byte characters, plus room
    /// for the label and the other fields. Anything longer is rejected as it streams by, never buffered.
    pub fn max_record_bytes(&self) -> usize {
        let text = usize::try_from(self.max_text_chars.saturating_mul(4)).unwrap_or(usize::MAX);
        text.saturating_add(64 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"{"format": "auto", "text_field": "text", "label_field": "label",
        "labels": ["facturacion", "soporte", "ventas", "Otros"],
        "min_text_chars": 3, "max_text_chars": 5000, "max_null_fraction": 0.01,
        "max_duplicate_fraction": 0.05, "min_rows": 10, "max_bytes": 1073741824}"#;

    #[test]
    fn documented_example_parses_with_defaults_for_the_rest() {
        let contract = Contract::from_json(ISSUE_EXAMPLE).unwrap();
        assert_eq!(contract.version, CONTRACT_VERSION);
        assert_eq!(contract.labels.len(), 4);
        assert_eq!(contract.min_rows, 10);
        assert_eq!(contract.max_invalid_row_fraction, 0.0);
        assert_eq!(contract.max_examples_per_check, 5);
    }

    #[test]
    fn inconsistent_contracts_are_refused_with_the_reason() {
        let table = [
            (r#"{"labels": []}"#, "at least one label"),
            (
                r#"{"labels": ["a"], "lables": ["b"]}"#,
                "unknown field `lables`",
            ),
            (
                r#"{"labels": ["a"], "version": 2}"#,
                "version 2 is not supported",
            ),
            (
                r#"{"labels": ["a"], "min_text_chars": 10, "max_text_chars": 5}"#,
                "min_text_chars (10) is above max_text_chars (5)",
            ),
            (
                r#"{"labels": ["a"], "max_null_fraction": 1.5}"#,
                "max_null_fraction must be between 0 and 1",
            ),
            (
                r#"{"labels": ["a"], "text_field": "x", "label_field": "x"}"#,
                "must differ",
            ),
            (
                r#"{"labels": ["a"], "format": "parquet"}"#,
                "unknown variant `parquet`",
            ),
            (
                r#"{"labels": ["a", "b", "a"]}"#,
                "the label \"a\" is listed twice",
            ),
            (r#"{"labels": ["a", "  "]}"#, "labels must not be blank"),
            (r#"{"labels": ["a", ""]}"#, "labels must not be blank"),
            (r#"{"labels": ["a", " b"]}"#, "white space around it"),
            (
                r#"{"labels": ["a"], "text_field": "text "}"#,
                "text_field \"text \" has white space around it",
            ),
            (
                r#"{"labels": ["a"], "label_field": " label"}"#,
                "label_field \" label\" has white space around it",
            ),
        ];
        for (json, expected) in table {
            let error = Contract::from_json(json).unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }
}
