//! Traces: an OpenTelemetry span for each invocation, each handler step (`#[tracing::instrument]`) and each AWS
//! call (the SDK's own `<Service>.<Operation>` span), exported to the X-Ray daemon Lambda runs beside an
//! actively traced function, to an OTLP endpoint (an ADOT or OpenTelemetry collector, or any OTLP backend), or
//! nowhere.
//!
//! The choice is the OpenTelemetry SDK's own variable, `OTEL_TRACES_EXPORTER` (`xray`, `otlp` or `none`); the
//! OTLP exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables itself. With `none` (the default) no
//! provider, exporter thread or layer is built, and the SDK's debug-level spans stay disabled at their call sites.
//!
//! lambda_runtime's `OpenTelemetryLayer` is not used: it opens the invocation span itself, before the handler
//! sees the invocation's X-Ray trace header, so its spans could not join the trace Lambda started for the
//! invocation. [`invocation_span`] opens the span with that header as its parent instead.

use std::net::SocketAddr;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::trace::xray_propagator::span_context_from_str;
use opentelemetry_aws::xray_exporter::XrayExporter;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter, TracerProviderBuilder};
use tracing::{Level, Metadata, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, Filtered, LevelFilter};
use tracing_subscriber::registry::LookupSpan;

/// Where the spans go: `OTEL_TRACES_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// No spans are exported (the default).
    None,
    /// X-Ray segment documents over UDP to the daemon at `AWS_XRAY_DAEMON_ADDRESS` (Lambda runs one when the
    /// function's `Tracing` is `Active`).
    XRay,
    /// OTLP over HTTP (protobuf) to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Otlp,
}

/// Why no spans are exported although some were asked for.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// `OTEL_TRACES_EXPORTER` names an exporter the functions do not carry.
    #[error("OTEL_TRACES_EXPORTER={0:?} is not one of xray, otlp, none: no spans are exported")]
    UnknownExporter(String),
    /// `AWS_XRAY_DAEMON_ADDRESS` is not an `address:port`, or no UDP socket could be opened.
    #[error(
        "the X-Ray daemon address {address:?} cannot be used ({reason}): no spans are exported"
    )]
    Daemon {
        /// The address as given.
        address: String,
        /// What failed.
        reason: String,
    },
    /// The OTLP exporter could not be built from its variables.
    #[error("the OTLP exporter cannot be built ({0}): no spans are exported")]
    Otlp(String),
}

impl TracesExporter {
    /// The exporter `OTEL_TRACES_EXPORTER` names (any case, surrounding blanks ignored); none when unset or empty.
    ///
    /// # Errors
    /// [`TracesError::UnknownExporter`] for any other name.
    pub fn from_env(value: Option<&str>) -> Result<Self, TracesError> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "none") => Ok(Self::None),
            Some("xray") => Ok(Self::XRay),
            Some("otlp") => Ok(Self::Otlp),
            Some(other) => Err(TracesError::UnknownExporter(other.to_owned())),
        }
    }
}

/// The X-Ray daemon's address when `AWS_XRAY_DAEMON_ADDRESS` is unset: the daemon's own default.
const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// The tracer provider for `exporter`, naming the spans' service `service`; none for [`TracesExporter::None`].
///
/// # Errors
/// The exporter cannot be built ([`TracesError`]); the function then runs without traces.
pub fn provider(
    exporter: TracesExporter,
    service: &str,
    daemon_address: Option<&str>,
) -> Result<Option<SdkTracerProvider>, TracesError> {
    let provider = match exporter {
        // Before anything is built: with traces off, the cold start pays nothing for them.
        TracesExporter::None => return Ok(None),
        TracesExporter::XRay => builder(service)
            // X-Ray's id format (the start time first) for any trace id this process makes.
            .with_id_generator(XrayIdGenerator::default())
            // Span by span, as each ends: a UDP datagram to the daemon costs microseconds, the invocation's
            // answer waits for every span anyway (the flush), and a batch processor's thread would cost every
            // cold start 0.3 ms and 1.3 MiB (measured).
            .with_simple_exporter(XrayExporter::new(daemon(daemon_address)?)),
        TracesExporter::Otlp => builder(service).with_batch_exporter(
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
                .map_err(|e| TracesError::Otlp(e.to_string()))?,
        ),
    };
    Ok(Some(provider.build()))
}

/// A provider exporting to `exporter` synchronously, span by span: what tests and `make invoke` read spans back
/// from.
pub fn provider_with<E: SpanExporter + 'static>(exporter: E, service: &str) -> SdkTracerProvider {
    builder(service).with_simple_exporter(exporter).build()
}

/// A provider whose spans name `service`.
fn builder(service: &str) -> TracerProviderBuilder {
    SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    )
}

fn daemon(address: Option<&str>) -> Result<XrayDaemonClient, TracesError> {
    let address = address.unwrap_or(DEFAULT_DAEMON_ADDRESS);
    let failed = |reason: String| TracesError::Daemon {
        address: address.to_owned(),
        reason,
    };
    let socket: SocketAddr = address.parse().map_err(|e| failed(format!("{e}")))?;
    XrayDaemonClient::new(socket).map_err(|e| failed(e.to_string()))
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `provider`, keeping only what a trace shows:
/// the spans at info or above (the invocation, the handler steps), the SDK's debug-level `<Service>.<Operation>`
/// spans (those with an `rpc.system` field), and warnings and errors as span events (which OTLP backends show;
/// X-Ray keeps only exceptions).
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    FilterFn,
    S,
>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("mlops-guardrails"))
        .with_threads(false)
        // Source paths of the build machine say nothing to whoever reads the trace.
        .with_location(false)
        // Nothing below debug is ever exported, so trace-level call sites stay disabled.
        .with_filter(
            FilterFn::new(exported as fn(&Metadata<'_>) -> bool)
                .with_max_level_hint(LevelFilter::DEBUG),
        )
}

/// Whether a span or event goes into the trace (decided once per call site, from its metadata).
fn exported(meta: &Metadata<'_>) -> bool {
    if meta.is_span() {
        // lambda_runtime's own per-invocation span has no parent from the trace header: the invocation span
        // below replaces it.
        let runtime_span = meta.name() == "Lambda runtime invoke";
        let aws_call = meta.fields().field("rpc.system").is_some();
        aws_call || (*meta.level() <= Level::INFO && !runtime_span)
    } else {
        *meta.level() <= Level::WARN
    }
}

/// The span of one invocation of `stage`, a child of the X-Ray trace Lambda started for it when `xray_header`
/// (the invocation's `Lambda-Runtime-Trace-Id`) names one. Without a traces layer installed it is an ordinary
/// span.
pub fn invocation_span(stage: &'static str, request_id: &str, xray_header: Option<&str>) -> Span {
    let span = tracing::info_span!(
        "invocation",
        otel.name = stage,
        faas.invocation_id = request_id,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    );
    if let Some(parent) = xray_header.and_then(span_context_from_str) {
        // Fails only when no traces layer is installed, where there is no trace to join.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
    span
}

/// Marks `span` as failed with `reason` (X-Ray shows the subsegment as a fault).
pub fn record_failure(span: &Span, reason: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exporter_is_the_one_otel_traces_exporter_names_and_none_by_default() {
        let table = [
            (None, Some(TracesExporter::None)),
            (Some(""), Some(TracesExporter::None)),
            (Some("none"), Some(TracesExporter::None)),
            (Some(" XRay "), Some(TracesExporter::XRay)),
            (Some("otlp"), Some(TracesExporter::Otlp)),
            (Some("zipkin"), None),
        ];
        for (value, expected) in table {
            assert_eq!(TracesExporter::from_env(value).ok(), expected, "{value:?}");
        }
    }

    /// The real X-Ray exporter, to a UDP socket standing in for Lambda's daemon: the invocation arrives as a
    /// subsegment of the function segment the trace header names.
    #[test]
    fn an_invocation_reaches_the_xray_daemon_under_the_lambda_segment() {
        use tracing_subscriber::layer::SubscriberExt;

        let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let address = daemon.local_addr().unwrap().to_string();
        let provider = provider(TracesExporter::XRay, "notifier", Some(&address))
            .unwrap()
            .unwrap();
        // X-Ray refuses a trace whose id says it began more than 30 days ago: the id is stamped now.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let trace_id = format!("1-{started:08x}-bd862e3fe1be46a994272793");
        let header = format!("Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=1");
        let subscriber = tracing_subscriber::registry().with(layer(&provider));
        tracing::subscriber::with_default(subscriber, || {
            let span = invocation_span("notifier", "request-1", Some(&header));
            record_failure(&span, "Retryable");
            drop(span);
        });
        provider.force_flush().unwrap();

        let mut datagram = vec![0; 64 * 1024];
        let length = daemon.recv(&mut datagram).unwrap();
        let text = std::str::from_utf8(&datagram[..length]).unwrap();
        // The daemon's protocol: a header line, then one segment document.
        let (header, document) = text.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let document: serde_json::Value = serde_json::from_str(document).unwrap();
        assert_eq!(document["trace_id"], trace_id.as_str());
        assert_eq!(document["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(document["name"], "notifier");
        assert_eq!(document["type"], "subsegment");
        assert_eq!(document["fault"], true, "{document}");
    }

    #[test]
    fn a_bad_daemon_address_is_refused_by_name_and_none_builds_nothing() {
        let refused = provider(TracesExporter::XRay, "s", Some("daemon")).unwrap_err();
        assert!(refused.to_string().contains("\"daemon\""), "{refused}");
        assert!(provider(TracesExporter::None, "s", None).unwrap().is_none());
        assert!(
            provider(TracesExporter::XRay, "s", Some("127.0.0.1:2000"))
                .unwrap()
                .is_some()
        );
    }
}
