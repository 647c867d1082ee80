//! Logs and metrics: `tracing` as JSON lines, EMF metrics through `metrics_cloudwatch_embedded`.
//!
//! Both write to stdout, which Lambda ships to CloudWatch Logs; CloudWatch turns the EMF lines into metrics
//! without any API call (the CloudWatch API is also what the emulator lacks).

use std::sync::{Mutex, PoisonError};

use metrics_cloudwatch_embedded::Collector;
use tracing_subscriber::EnvFilter;

/// Default log level when neither `AWS_LAMBDA_LOG_LEVEL` nor `RUST_LOG` is set.
const DEFAULT_LOG_LEVEL: &str = "info";

/// The log filter: `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls: TRACE, DEBUG, INFO, WARN,
/// ERROR, FATAL) wins over `RUST_LOG`; FATAL maps to error, the highest level `tracing` has.
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let directive = match lambda_level.map(str::to_ascii_lowercase).as_deref() {
        Some("fatal") => "error".to_owned(),
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => level.to_owned(),
        _ => rust_log.unwrap_or(DEFAULT_LOG_LEVEL).to_owned(),
    };
    EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_LEVEL))
}

/// Installs the global JSON log subscriber. Call once, first thing in `main`.
///
/// Lambda adds its own timestamp to every line, so none is printed; span lists are kept for the request id.
pub fn init_tracing() {
    let filter = log_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    // try_init: a second call (tests, local runner) keeps the first subscriber instead of panicking.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// The metric dimension every metric of a function carries: which pipeline stage emitted it.
pub const STAGE_DIMENSION: &str = "Stage";

/// Installs the EMF metrics recorder: one namespace, the `Stage` dimension set to `stage`, and a `ColdStart`
/// count. Handlers add at most one bounded label (e.g. `Dataset`) to their metrics — never a per-file or
/// per-job value, since every distinct dimension set is a billed metric stream.
///
/// Returns the already installed collector (with its first namespace and stage) when called again in the same
/// process.
///
/// # Errors
/// When another metrics recorder was installed first.
pub fn init_metrics(
    namespace: &str,
    stage: &'static str,
) -> Result<&'static Collector, metrics_cloudwatch_embedded::Error> {
    // A mutex, not a OnceLock: two first calls racing must not both try to install a global recorder.
    static COLLECTOR: Mutex<Option<&'static Collector>> = Mutex::new(None);
    let mut slot = COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(collector) = *slot {
        return Ok(collector);
    }
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace.to_owned())
        .with_dimension(STAGE_DIMENSION, stage)
        .lambda_cold_start_metric("ColdStart")
        .with_lambda_request_id("RequestId")
        .init()?;
    *slot = Some(collector);
    Ok(collector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_log_level_wins_and_fatal_maps_to_error() {
        let table = [
            (Some("DEBUG"), Some("warn"), "debug"),
            (Some("FATAL"), None, "error"),
            (Some("bogus"), Some("warn"), "warn"),
            (None, Some("trace"), "trace"),
            (None, None, "info"),
        ];
        for (lambda, rust_log, expected) in table {
            assert_eq!(
                log_filter(lambda, rust_log).to_string(),
                expected,
                "{lambda:?} {rust_log:?}"
            );
        }
    }
}
