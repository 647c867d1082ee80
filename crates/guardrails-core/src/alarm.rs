//! CloudWatch alarm state changes as EventBridge delivers them, read into plain facts (drift-handler acts on
//! the drift alarms, the notifier on the others).

use aws_lambda_events::cloudwatch_alarms::{
    CloudWatchAlarmData, CloudWatchAlarmState, CloudWatchAlarmStateReasonData,
    CloudWatchAlarmStateValue, CloudWatchMetricAlarmConfiguration,
};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// The alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// Within bounds.
    Ok,
    /// Breaching.
    Alarm,
    /// Not enough data to evaluate.
    InsufficientData,
}

/// What the handler needs from an alarm state change, read from the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmFacts {
    /// Alarm name.
    pub name: String,
    /// The new state.
    pub state: AlarmState,
    /// The state before.
    pub previous: Option<AlarmState>,
    /// When the alarm entered the new state: with the name, it identifies the transition.
    pub since: DateTime<Utc>,
    /// CloudWatch's reason text.
    pub reason: String,
    /// The alarm description.
    pub description: Option<String>,
    /// The metric's namespace (a single-metric alarm).
    pub namespace: Option<String>,
    /// The metric's name.
    pub metric: Option<String>,
    /// The metric's dimensions (`Endpoint`, `MonitoringSchedule` …).
    pub dimensions: BTreeMap<String, String>,
    /// The threshold crossed, from the reason data.
    pub threshold: Option<f64>,
    /// The newest datapoint evaluated, from the reason data.
    pub value: Option<f64>,
}

impl AlarmFacts {
    /// A key naming this transition, the same for every delivery of it.
    pub fn transition_key(&self) -> String {
        format!(
            "{}@{}",
            self.name,
            self.since.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        )
    }
}

/// The EventBridge `detail-type` of alarm state changes.
pub const DETAIL_TYPE: &str = "CloudWatch Alarm State Change";

/// An event that is not an alarm state change.
#[derive(Debug, thiserror::Error)]
#[error("not a CloudWatch Alarm State Change: {0}")]
pub struct NotAnAlarm(pub String);

/// An EventBridge "CloudWatch Alarm State Change", as the function receives it (the alarm's configuration kept
/// as JSON: a metric math or composite alarm has another shape than a single-metric one).
pub type AlarmEvent = EventBridgeEvent<CloudWatchAlarmData<Value>>;

/// The alarm event in a JSON payload (what the Lambda runtime does before the handler runs).
///
/// # Errors
/// [`NotAnAlarm`] when the payload does not have the shape.
pub fn parse(payload: Value) -> Result<AlarmEvent, NotAnAlarm> {
    serde_json::from_value(payload).map_err(|e| NotAnAlarm(e.to_string()))
}

/// Reads an alarm state change. The configuration is read as a single-metric alarm when it is one; a metric
/// math or composite alarm still gives its name, states and reason (its kind is then decided by the rules).
///
/// # Errors
/// [`NotAnAlarm`] when the event is another detail type or lacks the alarm's state.
pub fn read(event: AlarmEvent) -> Result<AlarmFacts, NotAnAlarm> {
    if event.detail_type != DETAIL_TYPE {
        return Err(NotAnAlarm(format!("detail-type {:?}", event.detail_type)));
    }
    let alarm = event.detail;
    let state = alarm
        .state
        .ok_or_else(|| NotAnAlarm(format!("alarm {} has no state", alarm.alarm_name)))?;
    let description = alarm
        .configuration
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let metric = serde_json::from_value::<CloudWatchMetricAlarmConfiguration>(alarm.configuration)
        .ok()
        .and_then(|c| {
            c.metrics
                .into_iter()
                .find(|m| m.return_data)
                .map(|m| m.metric_stat)
        });
    let (threshold, value) = match &state.reason_data {
        Some(CloudWatchAlarmStateReasonData::Metric(data)) => {
            (Some(data.threshold), data.recent_datapoints.last().copied())
        }
        _ => (None, None),
    };
    Ok(AlarmFacts {
        name: alarm.alarm_name,
        state: state_of(&state),
        previous: alarm.previous_state.as_ref().map(state_of),
        since: state.timestamp,
        reason: state.reason,
        description,
        namespace: metric.as_ref().and_then(|m| m.metric.namespace.clone()),
        metric: metric.as_ref().map(|m| m.metric.name.clone()),
        dimensions: metric
            .map(|m| m.metric.dimensions.into_iter().collect())
            .unwrap_or_default(),
        threshold,
        value,
    })
}

fn state_of(state: &CloudWatchAlarmState<CloudWatchAlarmStateReasonData>) -> AlarmState {
    match state.value {
        CloudWatchAlarmStateValue::Alarm => AlarmState::Alarm,
        CloudWatchAlarmStateValue::InsufficientData => AlarmState::InsufficientData,
        _ => AlarmState::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixture;

    #[test]
    fn reads_metric_threshold_value_and_transition() {
        let facts = read(parse(fixture("alarm-model-quality.json")).unwrap()).unwrap();
        assert_eq!(facts.name, "mlops-guardrails-drift-model-quality-tickets");
        assert_eq!(
            (facts.state, facts.previous),
            (AlarmState::Alarm, Some(AlarmState::Ok))
        );
        assert_eq!(
            facts.namespace.as_deref(),
            Some("aws/sagemaker/Endpoints/model-metrics")
        );
        assert_eq!(facts.metric.as_deref(), Some("weighted_f1"));
        assert_eq!(facts.dimensions["Endpoint"], "tickets-classifier");
        assert_eq!((facts.threshold, facts.value), (Some(0.8), Some(0.74)));
        assert!(
            facts
                .description
                .as_deref()
                .unwrap()
                .starts_with("Model quality on endpoint")
        );
        assert_eq!(
            facts.transition_key(),
            "mlops-guardrails-drift-model-quality-tickets@2026-11-21T03:10:45.341Z"
        );
        let ok = read(parse(fixture("alarm-model-quality-ok.json")).unwrap()).unwrap();
        assert_eq!(
            (ok.state, ok.previous),
            (AlarmState::Ok, Some(AlarmState::Alarm))
        );
    }

    #[test]
    fn metric_math_alarms_still_give_name_and_state() {
        let mut event = fixture("alarm-data-drift.json");
        event["detail"]["configuration"]["metrics"] =
            serde_json::json!([{"id": "e1", "expression": "MAX(METRICS())", "returnData": true}]);
        let facts = read(parse(event).unwrap()).unwrap();
        assert_eq!(facts.state, AlarmState::Alarm);
        assert_eq!((facts.namespace, facts.metric), (None, None));
        assert_eq!(facts.threshold, Some(0.2));
    }

    #[test]
    fn other_events_are_refused() {
        // Another event of the alarm's shape is refused by its detail type, any other by its shape.
        let mut renamed = fixture("alarm-model-quality.json");
        renamed["detail-type"] = "Scheduled Event".into();
        let error = read(parse(renamed).unwrap()).unwrap_err();
        assert!(error.to_string().contains("Scheduled Event"), "{error}");
        assert!(parse(fixture("scheduled-event.json")).is_err());
        assert!(parse(serde_json::json!({"reason": "x"})).is_err());
    }
}
