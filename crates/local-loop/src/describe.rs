//! Handler responses and project events in words, one timeline line each.

use guardrails_core::HandlerError;
use guardrails_core::notice::cut;
use serde_json::Value;

/// What a function's response says, in one line.
pub fn describe_result(binary: &str, result: &Result<Value, HandlerError>) -> String {
    let response = match result {
        Ok(response) => response,
        Err(error) => return format!("failed: {}", cut(&error.to_string(), 160)),
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match binary {
        "validate-ingest" => match response["batchItemFailures"].as_array() {
            Some(failures) if failures.is_empty() => "handled the batch, no message failed".into(),
            Some(failures) => format!("{} message(s) failed and stay on the queue", failures.len()),
            None => "handled".into(),
        },
        "trigger-training" => match response["outcome"].as_str() {
            Some("started") => format!(
                "started execution {} (training job {})",
                text(&response["execution_name"]),
                text(&response["training_job_name"])
            ),
            Some("skipped") => format!("skipped: {}", text(&response["message"])),
            Some("duplicate") => format!(
                "duplicate of execution {}",
                text(&response["execution_name"])
            ),
            _ => compact(response),
        },
        "model-gate" => format!(
            "verdict {} for {}: {}",
            text(&response["decision"]),
            text(&response["training_job_name"]),
            cut(&text(&response["summary"]), 120)
        ),
        "drift-handler" => {
            let mut line = format!(
                "{} ({})",
                text(&response["outcome"]),
                text(&response["kind"]).replace('-', " ")
            );
            let rollback = &response["rollback"];
            match rollback["result"].as_str() {
                Some("rolled-back") => line.push_str(&format!(
                    ": rolled back {} → {}",
                    version(&rollback["from"]),
                    version(&rollback["to"])
                )),
                Some("refused") => line.push_str(&format!(
                    ": rollback refused, {}",
                    text(&rollback["reason"])
                )),
                Some("failed") => {
                    line.push_str(&format!(": rollback failed, {}", text(&rollback["error"])))
                }
                _ => {}
            }
            line
        }
        "inference-monitor" => match response["outcome"].as_str() {
            Some("baseline-updated") => format!("label baseline now {}", response["label_counts"]),
            Some("ignored") => format!("ignored: {}", text(&response["reason"])),
            _ => compact(response),
        },
        "cost-guard" => {
            let breaches: Vec<String> = response["breaches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    format!(
                        "{} {} USD {:.2} of {:.2}",
                        text(&b["scope"]),
                        text(&b["level"]),
                        b["actual_usd"].as_f64().unwrap_or_default(),
                        b["budget_usd"].as_f64().unwrap_or_default()
                    )
                })
                .collect();
            if breaches.is_empty() {
                "within every budget".into()
            } else {
                format!("over budget: {}", breaches.join("; "))
            }
        }
        _ => compact(response),
    }
}

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
    let arn = arn.as_str().unwrap_or_default();
    arn.rsplit_once(":model-package/")
        .map_or_else(|| arn.to_owned(), |(_, v)| v.to_owned())
}

fn compact(value: &Value) -> String {
    cut(&value.to_string(), 160)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_read_as_what_happened() {
        let started = json!({"outcome": "started", "execution_name": "new-data-1", "execution_arn": "arn",
            "training_job_name": "tickets-1"});
        assert_eq!(
            describe_result("trigger-training", &Ok(started)),
            "started execution new-data-1 (training job tickets-1)"
        );
        let rolled = json!({"outcome": "drifted", "kind": "model-quality", "rollback": {"result": "rolled-back",
            "from": "arn:aws:sagemaker:us-east-1:1:model-package/tickets/2",
            "to": "arn:aws:sagemaker:us-east-1:1:model-package/tickets/1"}});
        assert_eq!(
            describe_result("drift-handler", &Ok(rolled)),
            "drifted (model quality): rolled back tickets/2 → tickets/1"
        );
        let failed = Err(HandlerError {
            class: guardrails_core::ErrorClass::Retryable,
            message: "throttled".into(),
        });
        assert_eq!(
            describe_result("model-gate", &failed),
            "failed: Retryable: throttled"
        );
    }
}
