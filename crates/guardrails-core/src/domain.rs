//! Domain events on the project's custom EventBridge bus: `source` is always [`SOURCE`], each `detail-type`
//! has one typed `detail`, defined here once for publishers and consumers alike.

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::AwsError;
use crate::s3::ObjectRef;

/// The `source` of every event the project publishes.
pub const SOURCE: &str = "mlops.guardrails";

/// The format version every published detail carries as `version` (`schemas/events/`). A consumer reads a
/// detail without one as version 1 (published before the field existed) and refuses a newer version than it
/// knows, by name, instead of misreading it.
pub const DETAIL_VERSION: u32 = 1;

/// The part of a model package ARN people read: `group/version` (the whole text when it is not such an ARN).
pub fn package_version(arn: &str) -> &str {
    arn.rsplit_once(":model-package/")
        .map_or(arn, |(_, version)| version)
}

/// A typed event detail with its `detail-type`.
pub trait DomainEvent: Serialize + DeserializeOwned {
    /// The EventBridge `detail-type`, e.g. `Dataset Validated`.
    const DETAIL_TYPE: &'static str;
}

/// A detail as it goes on the bus: its fields and the format `version` ([`DETAIL_VERSION`]).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Published<'a, E> {
    /// The detail's format version.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = DETAIL_VERSION)))]
    pub version: u32,
    /// The detail's own fields.
    #[serde(flatten)]
    pub detail: &'a E,
}

impl<'a, E: DomainEvent> Published<'a, E> {
    /// `detail` at the current [`DETAIL_VERSION`].
    pub fn new(detail: &'a E) -> Self {
        Published {
            version: DETAIL_VERSION,
            detail,
        }
    }
}

/// A dataset passed its contract and was copied to the ingested bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasetValidated {
    /// The dataset name (the key's first path segment), a bounded metric dimension.
    pub dataset: String,
    /// The uploaded object.
    pub source: ObjectRef,
    /// Its copy in the ingested bucket.
    pub ingested: ObjectRef,
    /// Object size in bytes.
    pub bytes: u64,
    /// Data rows, when the file was parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The validation report stored beside the copy, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ObjectRef>,
    /// Rows per label, the training label histogram (a baseline for prediction drift).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label_counts: BTreeMap<String, u64>,
    /// The dataset contract the file was checked against (name, format version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractRef>,
}

/// Which dataset contract a file was checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractRef {
    /// The contract's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contract format version.
    pub version: u32,
}

impl DomainEvent for DatasetValidated {
    const DETAIL_TYPE: &'static str = "Dataset Validated";
}

/// A dataset failed its contract and was moved to quarantine with a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasetQuarantined {
    /// The dataset name.
    pub dataset: String,
    /// The uploaded object.
    pub source: ObjectRef,
    /// Its copy under the quarantine prefix.
    pub quarantined: ObjectRef,
    /// The report explaining why.
    pub report: ObjectRef,
    /// Object size in bytes.
    pub bytes: u64,
    /// Rows read before the verdict.
    pub rows_checked: u64,
    /// Rows that broke a row-level rule.
    pub invalid_rows: u64,
    /// The top reasons, most frequent first.
    pub reasons: Vec<String>,
}

impl DomainEvent for DatasetQuarantined {
    const DETAIL_TYPE: &'static str = "Dataset Quarantined";
}

/// Why retraining was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RetrainingCause {
    /// Input data drifted from the training baseline.
    DataDrift,
    /// Model quality (F1, accuracy …) fell below its threshold.
    ModelQuality,
    /// A bias metric drifted.
    Bias,
    /// Feature attribution drifted.
    FeatureAttribution,
    /// Prediction confidence or label mix drifted.
    PredictionQuality,
    /// A person asked for it.
    Manual,
}

/// Retraining was asked for; trigger-training decides whether and when to start it (cooldown, one at a time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RetrainingRequested {
    /// Why.
    pub cause: RetrainingCause,
    /// A sentence for people and logs.
    pub reason: String,
    /// The alarm that caused it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_name: Option<String>,
    /// The model package group concerned, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_package_group: Option<String>,
}

impl DomainEvent for RetrainingRequested {
    const DETAIL_TYPE: &'static str = "Retraining Requested";
}

/// A degraded model was replaced by the previous approved one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelRolledBack {
    /// The model package group.
    pub model_package_group: String,
    /// The degraded package, now Rejected.
    pub from_model_package_arn: String,
    /// The package now serving.
    pub to_model_package_arn: String,
    /// The endpoint updated, for real-time inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    /// The alarm that triggered the rollback.
    pub alarm_name: String,
}

impl DomainEvent for ModelRolledBack {
    const DETAIL_TYPE: &'static str = "Model Rolled Back";
}

/// A person asks the deploy function to bring what serves in line with the registry now, optionally naming the
/// version they expect to serve. Only the newest Approved version that verifies ever serves: a named version that
/// is not it is refused, with a notice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeployRequested {
    /// The version expected to serve, if one is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_package_arn: Option<String>,
    /// Who asks, for the notice (the event's sender is not authenticated beyond the bus policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl DomainEvent for DeployRequested {
    const DETAIL_TYPE: &'static str = "Deploy Requested";
}

/// Spend went over a budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BudgetExceeded {
    /// What the budget covers: `total`, a service name, or `month`.
    pub scope: String,
    /// The day (YYYY-MM-DD) or month (YYYY-MM) evaluated.
    pub period: String,
    /// The budget in USD.
    pub budget_usd: f64,
    /// Actual (or projected, for the month) spend in USD.
    pub actual_usd: f64,
    /// Cost Explorer marked the figure as estimated.
    pub estimated: bool,
}

impl DomainEvent for BudgetExceeded {
    const DETAIL_TYPE: &'static str = "Budget Exceeded";
}

/// A domain event as delivered by EventBridge (to a Lambda, or to a queue a rule targets).
pub type Envelope<E> = EventBridgeEvent<E>;

/// An event that is not the expected domain event.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON of the EventBridge shape, or the detail does not match the type.
    #[error("not a {expected} event: {source}")]
    Malformed {
        /// The expected detail type.
        expected: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A detail of a newer format than this build reads.
    #[error(
        "a {expected} detail of version {found}: this build reads version {DETAIL_VERSION} or older (deploy the \
         newer release before its events arrive)"
    )]
    NewerVersion {
        /// The detail type.
        expected: &'static str,
        /// The detail's `version`, as written.
        found: String,
    },
    /// Another source or detail type.
    #[error(
        "expected source {SOURCE} and detail-type {expected:?}, got {source_name} / {detail_type:?}"
    )]
    Unexpected {
        /// The expected detail type.
        expected: &'static str,
        /// The event's source.
        source_name: String,
        /// The event's detail type.
        detail_type: String,
    },
}

/// Parses an EventBridge event carrying `E`, checking source and detail type.
///
/// # Errors
/// [`EnvelopeError`] when the JSON is not such an event.
pub fn parse_envelope<E: DomainEvent>(json: &str) -> Result<Envelope<E>, EnvelopeError> {
    envelope_from_value(
        serde_json::from_str(json).map_err(|source| EnvelopeError::Malformed {
            expected: E::DETAIL_TYPE,
            source,
        })?,
    )
}

/// As [`parse_envelope`], from an event already read as JSON (a handler's payload).
///
/// # Errors
/// [`EnvelopeError`] when the value is not such an event.
pub fn envelope_from_value<E: DomainEvent>(
    value: serde_json::Value,
) -> Result<Envelope<E>, EnvelopeError> {
    readable_version::<E>(&value["detail"])?;
    checked(
        serde_json::from_value(value).map_err(|source| EnvelopeError::Malformed {
            expected: E::DETAIL_TYPE,
            source,
        })?,
    )
}

/// A detail of type `E` (the envelope already checked), of a version this build reads.
///
/// # Errors
/// [`EnvelopeError`] when it is not such a detail.
pub fn detail_from_value<E: DomainEvent>(detail: serde_json::Value) -> Result<E, EnvelopeError> {
    readable_version::<E>(&detail)?;
    serde_json::from_value(detail).map_err(|source| EnvelopeError::Malformed {
        expected: E::DETAIL_TYPE,
        source,
    })
}

/// Whether `detail`'s `version` is one this build reads: absent (version 1), or a whole number up to
/// [`DETAIL_VERSION`].
fn readable_version<E: DomainEvent>(detail: &serde_json::Value) -> Result<(), EnvelopeError> {
    match detail.get("version") {
        None => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| n <= u64::from(DETAIL_VERSION)) => Ok(()),
        Some(v) => Err(EnvelopeError::NewerVersion {
            expected: E::DETAIL_TYPE,
            found: v.to_string(),
        }),
    }
}

/// The envelope, if it comes from the guardrails and carries `E`.
fn checked<E: DomainEvent>(envelope: Envelope<E>) -> Result<Envelope<E>, EnvelopeError> {
    if envelope.source != SOURCE || envelope.detail_type != E::DETAIL_TYPE {
        return Err(EnvelopeError::Unexpected {
            expected: E::DETAIL_TYPE,
            source_name: envelope.source,
            detail_type: envelope.detail_type,
        });
    }
    Ok(envelope)
}

/// Publishes domain events to the project's bus.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    events: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventPublisher {
    /// A publisher to one bus, with a client built from the shared SDK config.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        Self::new(aws_sdk_eventbridge::Client::new(sdk), bus_name)
    }

    /// A publisher to one bus.
    pub fn new(events: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        EventPublisher {
            events,
            bus_name: bus_name.into(),
        }
    }

    /// Publishes one event; `resources` (ARNs) let rules and consumers see what it is about.
    ///
    /// # Errors
    /// The classified error, including an entry the bus rejected inside a successful response (PutEvents
    /// reports per-entry failures with HTTP 200).
    pub async fn publish<E: DomainEvent>(
        &self,
        detail: &E,
        resources: &[String],
    ) -> Result<String, AwsError> {
        let detail_json = serde_json::to_string(&Published::new(detail))
            .map_err(|e| AwsError::from_code("PutEvents", &self.bus_name, None, e.to_string()))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(SOURCE)
            .detail_type(E::DETAIL_TYPE)
            .detail(detail_json)
            .set_resources((!resources.is_empty()).then(|| resources.to_vec()))
            .build();
        let output = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutEvents", &self.bus_name, e))?;
        let result = output.entries().first();
        match result.and_then(|r| r.event_id()) {
            Some(id) if output.failed_entry_count() == 0 => {
                tracing::info!(
                    detail_type = E::DETAIL_TYPE,
                    event_id = id,
                    "event published"
                );
                Ok(id.to_owned())
            }
            _ => Err(AwsError::from_code(
                "PutEvents",
                &self.bus_name,
                result.and_then(|r| r.error_code()),
                result
                    .and_then(|r| r.error_message())
                    .unwrap_or("the bus rejected the entry without a message"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_serializes_camel_case_and_omits_empty_fields() {
        let detail = DatasetValidated {
            dataset: "tickets".into(),
            source: ObjectRef::new("raw", "tickets/a b.csv"),
            ingested: ObjectRef::new("ingested", "tickets/a b.csv"),
            bytes: 10,
            rows: None,
            report: None,
            label_counts: BTreeMap::new(),
            contract: None,
        };
        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "dataset": "tickets",
                "source": {"bucket": "raw", "key": "tickets/a b.csv"},
                "ingested": {"bucket": "ingested", "key": "tickets/a b.csv"},
                "bytes": 10
            })
        );
    }

    #[test]
    fn a_published_detail_carries_its_version_and_reads_back() {
        let detail = RetrainingRequested {
            cause: RetrainingCause::Manual,
            reason: "asked".into(),
            alarm_name: None,
            model_package_group: None,
        };
        let json = serde_json::to_value(Published::new(&detail)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"version": DETAIL_VERSION, "cause": "manual", "reason": "asked"})
        );
        assert_eq!(
            detail_from_value::<RetrainingRequested>(json).unwrap(),
            detail
        );
    }

    #[test]
    fn a_detail_of_a_newer_or_unreadable_version_is_refused_by_name() {
        let table = [
            (serde_json::json!(null), true),
            (serde_json::json!(1), true),
            (serde_json::json!(2), false),
            (serde_json::json!("1"), false),
            (serde_json::json!(-1), false),
        ];
        for (version, readable) in table {
            let mut detail = serde_json::json!({"cause": "manual", "reason": "asked"});
            if !version.is_null() {
                detail["version"] = version.clone();
            }
            let read = detail_from_value::<RetrainingRequested>(detail);
            assert_eq!(read.is_ok(), readable, "{version}: {read:?}");
            if !readable {
                let message = read.unwrap_err().to_string();
                assert!(message.contains("Retraining Requested"), "{message}");
            }
        }
    }

    #[test]
    fn envelope_checks_source_and_detail_type() {
        let event = |source: &str, detail_type: &str| {
            serde_json::json!({
                "version": "0", "id": "1", "detail-type": detail_type, "source": source,
                "account": "123456789012", "time": "2026-11-01T00:00:00Z", "region": "us-east-1",
                "resources": [],
                "detail": {"cause": "manual", "reason": "asked"}
            })
            .to_string()
        };
        let ok =
            parse_envelope::<RetrainingRequested>(&event(SOURCE, "Retraining Requested")).unwrap();
        assert_eq!(ok.detail.cause, RetrainingCause::Manual);
        assert!(matches!(
            parse_envelope::<RetrainingRequested>(&event("someone.else", "Retraining Requested")),
            Err(EnvelopeError::Unexpected { .. })
        ));
        assert!(matches!(
            parse_envelope::<DatasetValidated>(&event(SOURCE, "Retraining Requested")),
            Err(EnvelopeError::Malformed { .. })
        ));
    }
}
