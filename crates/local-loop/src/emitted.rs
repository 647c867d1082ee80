//! The metrics the in-process handlers emit, captured as the datapoints CloudWatch would make of their EMF lines:
//! the namespace and `Stage` dimension their function's recorder would set, plus each metric's own labels as
//! dimensions. On Lambda each function is its own process with its own EMF recorder; here the handlers share a
//! process, so one recorder tells them apart by the function whose invocation is running (a task-local set
//! around each invocation), and keeps each loop's datapoints apart from another loop's in the same process.
//!
//! As the EMF recorder writes an invocation's metrics once, when it ends, so does this: counters summed (a zero
//! sum left out, as `metrics_cloudwatch_embedded` leaves it out), a gauge's last value, every value of a
//! histogram, all in one period of the alarms.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use crate::alarms::{Datapoint, MetricId};
use guardrails_core::telemetry::STAGE_DIMENSION;

/// How a metric was recorded, which decides what its invocation's EMF line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// What one invocation recorded, in order.
type Recorded = Arc<Mutex<Vec<(MetricId, Kind, f64)>>>;

/// The running invocation: who emits, and what it recorded so far.
#[derive(Debug, Clone)]
struct Running {
    emitter: Emitter,
    recorded: Recorded,
}

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
    static RUNNING: Running;
}

/// Runs `invocation` with its metrics attributed to `emitter`; they reach `sink` when it ends, as its EMF line
/// would.
pub async fn emitting<F: Future>(emitter: Emitter, sink: &Sink, invocation: F) -> F::Output {
    let loop_id = emitter.loop_id;
    let recorded: Recorded = Arc::default();
    let running = Running {
        emitter,
        recorded: recorded.clone(),
    };
    let output = RUNNING.scope(running, invocation).await;
    let recorded = std::mem::take(&mut *recorded.lock().unwrap_or_else(PoisonError::into_inner));
    sink.extend(loop_id, as_emf_writes(recorded));
    output
}

/// An invocation's records as its EMF line holds them: counters summed and left out at zero, a gauge's last
/// value, a histogram's every value; in the order each metric was first recorded.
fn as_emf_writes(recorded: Vec<(MetricId, Kind, f64)>) -> Vec<Datapoint> {
    let mut order: Vec<(MetricId, Kind)> = Vec::new();
    let mut values: std::collections::BTreeMap<(MetricId, Kind), Vec<f64>> =
        std::collections::BTreeMap::new();
    for (metric, kind, value) in recorded {
        let key = (metric, kind);
        if !values.contains_key(&key) {
            order.push(key.clone());
        }
        values.entry(key).or_default().push(value);
    }
    let mut points = Vec::new();
    for key in order {
        let all = values.remove(&key).unwrap_or_default();
        let (metric, kind) = key;
        let written: Vec<f64> = match kind {
            Kind::Counter => {
                let sum: f64 = all.iter().sum();
                if sum == 0.0 { Vec::new() } else { vec![sum] }
            }
            Kind::Gauge => all.last().copied().into_iter().collect(),
            Kind::Histogram => all,
        };
        points.extend(written.into_iter().map(|value| Datapoint {
            metric: metric.clone(),
            value,
        }));
    }
    points
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

    /// Adds datapoints of `loop_id` at once (an invocation's, or what a service reports), so they fall in
    /// one period.
    pub fn extend(&self, loop_id: u64, points: Vec<Datapoint>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(loop_id)
            .or_default()
            .extend(points);
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(Vec::len)
            .sum()
    }
}

/// The process's sink, with the recorder feeding it installed on first use.
///
/// # Errors
/// When another metrics recorder was installed first (the handlers' metrics would go there).
pub fn sink() -> Result<Arc<Sink>, String> {
    static SINK: OnceLock<Result<Arc<Sink>, String>> = OnceLock::new();
    SINK.get_or_init(|| {
        metrics::set_global_recorder(LoopRecorder)
            .map(|()| Arc::new(Sink::default()))
            .map_err(|e| format!("another metrics recorder is installed: {e}"))
    })
    .clone()
}

/// Routes each metric to the running invocation, with the emitting function's namespace and stage.
struct LoopRecorder;

/// One metric of one running invocation: what it records is kept until the invocation ends.
struct Handle {
    metric: MetricId,
    kind: Kind,
    recorded: Recorded,
}

impl Handle {
    fn record(&self, value: f64) {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((self.metric.clone(), self.kind, value));
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
    /// The gauge moves from its last value in this invocation (the handlers only `set` theirs).
    fn increment(&self, value: f64) {
        let last = self.last().unwrap_or(0.0);
        self.record(last + value);
    }
    fn decrement(&self, value: f64) {
        GaugeFn::increment(self, -value);
    }
    fn set(&self, value: f64) {
        self.record(value);
    }
}

impl Handle {
    /// This metric's last value recorded in the invocation.
    fn last(&self) -> Option<f64> {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .find(|(m, k, _)| *m == self.metric && *k == self.kind)
            .map(|(_, _, v)| *v)
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        Handle::record(self, value);
    }
}

impl LoopRecorder {
    /// The handle of `key` for the function whose invocation is running; `None` outside an invocation.
    fn handle(&self, key: &Key, kind: Kind) -> Option<Arc<Handle>> {
        RUNNING
            .try_with(|running| {
                let emitter = &running.emitter;
                let mut dimensions: std::collections::BTreeMap<String, String> = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                dimensions.insert(STAGE_DIMENSION.to_owned(), emitter.stage.to_owned());
                Arc::new(Handle {
                    metric: MetricId {
                        namespace: emitter.namespace.clone(),
                        name: key.name().to_owned(),
                        dimensions,
                    },
                    kind,
                    recorded: running.recorded.clone(),
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
        self.handle(key, Kind::Counter)
            .map_or_else(Counter::noop, Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.handle(key, Kind::Gauge)
            .map_or_else(Gauge::noop, Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.handle(key, Kind::Histogram)
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_invocations_metrics_carry_its_functions_namespace_and_stage() {
        let sink = sink().unwrap();
        let (seven, eight) = (u64::MAX - 7, u64::MAX - 8);
        let emitter = |loop_id, stage| Emitter {
            loop_id,
            namespace: "MlopsGuardrails".into(),
            stage,
        };
        emitting(emitter(seven, "validate-ingest"), &sink, async {
            metrics::counter!("FilesProcessed", "Dataset" => "tickets").increment(1);
            metrics::counter!("ValidationErrors", "Dataset" => "tickets").increment(0);
            metrics::histogram!("RowsQuarantined", "Dataset" => "tickets").record(3.0);
            metrics::histogram!("RowsQuarantined", "Dataset" => "tickets").record(2.0);
            metrics::counter!("FilesProcessed", "Dataset" => "tickets").increment(1);
        })
        .await;
        emitting(emitter(eight, "cost-guard"), &sink, async {
            metrics::gauge!("CostUsd").set(10.0);
            metrics::gauge!("CostUsd").set(184.2);
        })
        .await;
        // Outside an invocation nothing is captured, for any loop.
        let before = sink.total();
        metrics::counter!("Stray").increment(1);
        assert_eq!(sink.total(), before);
        let points = sink.take(seven);
        let written: Vec<(&str, f64)> = points
            .iter()
            .map(|p| (p.metric.name.as_str(), p.value))
            .collect();
        assert_eq!(
            written,
            [
                ("FilesProcessed", 2.0),
                ("RowsQuarantined", 3.0),
                ("RowsQuarantined", 2.0)
            ],
            "counters summed, a zero sum left out, every histogram value"
        );
        assert_eq!(
            points[0].metric.dimensions,
            [("Dataset", "tickets"), ("Stage", "validate-ingest")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        );
        assert!(sink.take(seven).is_empty(), "taken once");
        let points = sink.take(eight);
        assert_eq!(points.len(), 1, "a gauge's last value");
        assert_eq!(points[0].value, 184.2);
        assert_eq!(points[0].metric.dimensions["Stage"], "cost-guard");
    }
}
