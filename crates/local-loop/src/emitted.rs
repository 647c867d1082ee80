//! The metrics the in-process handlers emit, captured as the datapoints CloudWatch would make of their EMF lines:
//! the namespace and `Stage` dimension their function's recorder would set, plus each metric's own labels as
//! dimensions. On Lambda each function is its own process with its own EMF recorder; here the handlers share a
//! process, so one recorder tells them apart by the function whose invocation is running (a task-local set
//! around each invocation), and keeps each loop's datapoints apart from another loop's in the same process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use crate::alarms::{Datapoint, MetricId};
use guardrails_core::telemetry::STAGE_DIMENSION;

/// Who is emitting: the loop and the function whose invocation runs.
#[derive(Debug, Clone)]
pub struct Emitter {
    /// The loop the datapoints belong to.
    pub loop_id: u64,
    /// The function's metric namespace (its `METRICS_NAMESPACE`).
    pub namespace: String,
    /// Its stage (the `Stage` dimension).
    pub stage: &'static str,
}

tokio::task_local! {
    static EMITTER: Emitter;
}

/// Runs `invocation` with its metrics attributed to `emitter`.
pub async fn emitting<F: Future>(emitter: Emitter, invocation: F) -> F::Output {
    EMITTER.scope(emitter, invocation).await
}

/// The datapoints captured, by loop.
#[derive(Debug, Default)]
pub struct Sink(Mutex<HashMap<u64, Vec<Datapoint>>>);

impl Sink {
    /// The datapoints `loop_id`'s handlers emitted since the last call.
    pub fn take(&self, loop_id: u64) -> Vec<Datapoint> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&loop_id)
            .unwrap_or_default()
    }

    /// Adds a datapoint of `loop_id` (what a service, not a handler, reports).
    pub fn push(&self, loop_id: u64, point: Datapoint) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(loop_id)
            .or_default()
            .push(point);
    }
}

/// The process's sink, with the recorder feeding it installed on first use.
///
/// # Errors
/// When another metrics recorder was installed first (the handlers' metrics would go there).
pub fn sink() -> Result<Arc<Sink>, String> {
    static SINK: OnceLock<Result<Arc<Sink>, String>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(Sink::default());
        metrics::set_global_recorder(LoopRecorder { sink: sink.clone() })
            .map(|()| sink)
            .map_err(|e| format!("another metrics recorder is installed: {e}"))
    })
    .clone()
}

/// Routes each metric to the sink, with the emitting function's namespace and stage.
struct LoopRecorder {
    sink: Arc<Sink>,
}

/// One metric of one function: every value it records is a datapoint.
struct Handle {
    loop_id: u64,
    metric: MetricId,
    sink: Arc<Sink>,
}

impl Handle {
    fn record(&self, value: f64) {
        self.sink.push(
            self.loop_id,
            Datapoint {
                metric: self.metric.clone(),
                value,
            },
        );
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.record(value as f64);
    }
    fn absolute(&self, value: u64) {
        self.record(value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.record(value);
    }
    fn decrement(&self, value: f64) {
        self.record(-value);
    }
    fn set(&self, value: f64) {
        self.record(value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        Handle::record(self, value);
    }
}

impl LoopRecorder {
    /// The handle of `key` for the function whose invocation is running; `None` outside an invocation.
    fn handle(&self, key: &Key) -> Option<Arc<Handle>> {
        EMITTER
            .try_with(|emitter| {
                let mut dimensions: std::collections::BTreeMap<String, String> = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                dimensions.insert(STAGE_DIMENSION.to_owned(), emitter.stage.to_owned());
                Arc::new(Handle {
                    loop_id: emitter.loop_id,
                    metric: MetricId {
                        namespace: emitter.namespace.clone(),
                        name: key.name().to_owned(),
                        dimensions,
                    },
                    sink: self.sink.clone(),
                })
            })
            .ok()
    }
}

impl Recorder for LoopRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.handle(key)
            .map_or_else(Counter::noop, Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.handle(key).map_or_else(Gauge::noop, Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.handle(key)
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_invocations_metrics_carry_its_functions_namespace_and_stage() {
        let sink = sink().unwrap();
        let emitter = |loop_id, stage| Emitter {
            loop_id,
            namespace: "MlopsGuardrails".into(),
            stage,
        };
        emitting(emitter(7, "validate-ingest"), async {
            metrics::counter!("FilesProcessed", "Dataset" => "tickets").increment(1);
            metrics::histogram!("RowsQuarantined", "Dataset" => "tickets").record(3.0);
        })
        .await;
        emitting(emitter(8, "cost-guard"), async {
            metrics::gauge!("CostUsd").set(184.2);
        })
        .await;
        // Outside an invocation nothing is captured.
        metrics::counter!("Stray").increment(1);
        let seven = sink.take(7);
        let names: Vec<(&str, f64)> = seven
            .iter()
            .map(|p| (p.metric.name.as_str(), p.value))
            .collect();
        assert_eq!(names, [("FilesProcessed", 1.0), ("RowsQuarantined", 3.0)]);
        assert_eq!(
            seven[0].metric.dimensions,
            [("Dataset", "tickets"), ("Stage", "validate-ingest")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        );
        assert!(sink.take(7).is_empty(), "taken once");
        let eight = sink.take(8);
        assert_eq!(eight.len(), 1);
        assert_eq!(eight[0].metric.dimensions["Stage"], "cost-guard");
    }
}
