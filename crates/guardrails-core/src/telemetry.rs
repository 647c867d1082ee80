//! Logs, traces and metrics: `tracing` as JSON lines (and as OpenTelemetry spans, [`crate::traces`]), EMF metrics
//! through `metrics_cloudwatch_embedded`.
//!
//! Both write to stdout, which Lambda ships to CloudWatch Logs; CloudWatch turns the EMF lines into metrics
//! without any API call (the CloudWatch API is also what the emulator lacks).

use std::sync::{Mutex, PoisonError};

use metrics_cloudwatch_embedded::Collector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::traces::{self, TracesExporter};

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

/// How the function's log lines are written: Lambda's `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`, the function's
/// `LoggingConfig.LogFormat`). JSON unless told `Text`: Lambda filters application logs by level only for JSON lines
/// with a `level` key, and the template sets JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, `level` first-class.
    Json,
    /// Plain text lines, as a person reads them in a terminal.
    Text,
}

impl LogFormat {
    /// The format `AWS_LAMBDA_LOG_FORMAT` names (any case); JSON when unset or unknown.
    pub fn from_lambda(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("text") => Self::Text,
            _ => Self::Json,
        }
    }
}

/// Installs the global subscriber: log lines in the format and at the level Lambda's logging controls set, and
/// the spans of [`crate::traces`] when `OTEL_TRACES_EXPORTER` names an exporter. Call once, first thing in
/// `main`; the answer is what to flush after each invocation.
///
/// Lambda adds its own timestamp to every line, so none is printed; span lists are kept for the request id.
pub fn init_tracing(stage: &str) -> Traces {
    let var = |name: &str| std::env::var(name).ok();
    let service = var("OTEL_SERVICE_NAME")
        .or_else(|| var("AWS_LAMBDA_FUNCTION_NAME"))
        .unwrap_or_else(|| stage.to_owned());
    let provider =
        TracesExporter::from_env(var("OTEL_TRACES_EXPORTER").as_deref()).and_then(|exporter| {
            traces::provider(
                exporter,
                &service,
                var("AWS_XRAY_DAEMON_ADDRESS").as_deref(),
            )
        });
    let (provider, refused) = match provider {
        Ok(provider) => (provider, None),
        Err(refused) => (None, Some(refused)),
    };
    init_tracing_as(
        LogFormat::from_lambda(var("AWS_LAMBDA_LOG_FORMAT").as_deref()),
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        provider.as_ref(),
    );
    // Said once the subscriber is there to say it; a guardrail runs on without its traces.
    if let Some(refused) = refused {
        tracing::warn!(error = %refused, "traces are off");
    }
    Traces(provider)
}

/// Installs the global subscriber in `format`, at `lambda_level` (else `RUST_LOG`, else info), with the spans of
/// `traces` when given: what [`init_tracing`] does with Lambda's variables, and `make invoke` with a function's
/// resolved configuration.
pub fn init_tracing_as(
    format: LogFormat,
    lambda_level: Option<&str>,
    traces: Option<&SdkTracerProvider>,
) {
    let filter = log_filter(lambda_level, std::env::var("RUST_LOG").ok().as_deref());
    let logs = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let logs = match format {
        LogFormat::Json => logs
            .json()
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => logs.with_filter(filter).boxed(),
    };
    // try_init: a second call (tests, local runner) keeps the first subscriber instead of panicking.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces.map(traces::layer))
        .try_init();
}

/// The tracer provider a function exports its spans through, if any.
#[derive(Debug, Default, Clone)]
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    /// Exports the spans still held: after each invocation, before its answer, since Lambda may freeze the
    /// environment once it has the answer. A failed export is logged, never the invocation's failure.
    pub async fn flush(&self) {
        let Some(provider) = self.0.clone() else {
            return;
        };
        // Off the runtime's worker thread: the batch processor's flush waits on a blocking channel, up to its
        // 5 s timeout when an OTLP endpoint is slow or unreachable.
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "spans were not exported"),
            Err(error) => tracing::warn!(%error, "the span export did not finish"),
        }
    }
}

/// The `level` the metric lines carry: the function's own application log level, upper case, when Lambda's
/// logging controls set one. Lambda gives a JSON line without a `level` the level INFO, so with
/// `ApplicationLogLevel` at WARN or above it would drop every EMF line, and with them the metrics the alarms
/// watch; a line at exactly the configured level always passes the filter.
pub fn metric_line_level(lambda_level: Option<&str>) -> Option<&'static str> {
    const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let level = lambda_level?;
    LEVELS.into_iter().find(|l| l.eq_ignore_ascii_case(level))
}

/// The metric dimension every metric of a function carries: which pipeline stage emitted it.
pub const STAGE_DIMENSION: &str = "Stage";

/// Installs the EMF metrics recorder: one namespace, the `Stage` dimension set to `stage`, a `ColdStart`
/// count, and the function's log level on every line ([`metric_line_level`]). Handlers add at most one bounded
/// label (e.g. `Dataset`) to their metrics — never a per-file or per-job value, since every distinct dimension set
/// is a billed metric stream.
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
    if let Some(level) = metric_line_level(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref()) {
        collector.set_property("level", level);
    }
    *slot = Some(collector);
    Ok(collector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_format_is_json_unless_lambda_says_text() {
        let table = [
            (None, LogFormat::Json),
            (Some("JSON"), LogFormat::Json),
            (Some("Text"), LogFormat::Text),
            (Some("TEXT"), LogFormat::Text),
            (Some("yaml"), LogFormat::Json),
        ];
        for (value, expected) in table {
            assert_eq!(LogFormat::from_lambda(value), expected, "{value:?}");
        }
    }

    #[test]
    fn metric_lines_carry_the_configured_level_so_lambda_never_filters_them() {
        let table = [
            (None, None),
            (Some("WARN"), Some("WARN")),
            (Some("fatal"), Some("FATAL")),
            (Some("Debug"), Some("DEBUG")),
            (Some("loud"), None),
        ];
        for (value, expected) in table {
            assert_eq!(metric_line_level(value), expected, "{value:?}");
        }
    }

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
