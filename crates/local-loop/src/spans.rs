//! The spans of a handler run in this process, kept and printed as a tree (`make invoke`): what X-Ray or an OTLP
//! backend would show of the invocation, its handler steps and its AWS calls. Kept in memory, since the run is
//! one invocation; the provider exports each span as it ends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// The spans ended so far.
#[derive(Debug, Clone, Default)]
pub struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

impl Kept {
    /// One line per span, children indented under their parent in the order they started: the name, how long
    /// it took, and a mark when it failed.
    pub fn tree(&self) -> Vec<String> {
        let mut spans = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        spans.sort_by_key(|s| s.start_time);
        let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
        let mut lines = Vec::new();
        for root in spans.iter().filter(|s| !ids.contains(&s.parent_span_id)) {
            walk(&spans, root, 0, &mut lines);
        }
        lines
    }
}

fn walk(spans: &[SpanData], span: &SpanData, depth: usize, lines: &mut Vec<String>) {
    let took = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let failed = match &span.status {
        Status::Error { description } => format!("  failed: {description}"),
        _ => String::new(),
    };
    lines.push(format!(
        "{:indent$}{}  {:.1} ms{failed}",
        "",
        span.name,
        took.as_secs_f64() * 1000.0,
        indent = depth * 2
    ));
    let id = span.span_context.span_id();
    for child in spans.iter().filter(|s| s.parent_span_id == id) {
        walk(spans, child, depth + 1, lines);
    }
}
