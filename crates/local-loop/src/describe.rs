//! Handler responses and project events in words, one timeline line each.

use guardrails_core::notice::cut;
use serde_json::Value;

/// A project event on the bus, in one line.
pub fn describe_published(detail_type: &str, detail: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let what = match detail_type {
        "Dataset Validated" => format!(
            "{} rows of {}, labels {}",
            detail["rows"],
            text(&detail["dataset"]),
            detail["labelCounts"]
        ),
        "Dataset Quarantined" => format!(
            "{} to {} ({} of {} rows invalid)",
            text(&detail["source"]["key"]),
            text(&detail["quarantined"]["key"]),
            detail["invalidRows"],
            detail["rowsChecked"]
        ),
        "Retraining Requested" => format!(
            "{}: {}",
            text(&detail["cause"]),
            cut(&text(&detail["reason"]), 100)
        ),
        "Model Rolled Back" => format!(
            "{} → {}",
            version(&detail["fromModelPackageArn"]),
            version(&detail["toModelPackageArn"])
        ),
        "Budget Exceeded" => format!(
            "{} {}: USD {:.2} of {:.2}",
            text(&detail["scope"]),
            text(&detail["period"]),
            detail["actualUsd"].as_f64().unwrap_or_default(),
            detail["budgetUsd"].as_f64().unwrap_or_default()
        ),
        _ => compact(detail),
    };
    format!("{detail_type}: {what}")
}

/// `group/3` from a model package ARN.
pub fn version(arn: &Value) -> String {
    guardrails_core::domain::package_version(arn.as_str().unwrap_or_default()).to_owned()
}

fn compact(value: &Value) -> String {
    cut(&value.to_string(), 160)
}
