//! `guardrails-local invoke FUNCTION EVENT` (`make invoke FN= EVENT=`): one handler on one event, on the emulator,
//! with the environment the template gives it; its logs, its spans, its answer and the metrics it emitted are
//! printed. The template's resources exist, but nothing is delivered: what the handler publishes stays where it
//! put it.

use std::path::Path;
use std::process::ExitCode;

use guardrails_core::telemetry::{LogFormat, init_tracing_as};
use guardrails_core::traces;
use local_loop::Local;
use local_loop::spans::Kept;

/// Runs `function` (a binary such as `validate-ingest`, or a logical id) on the event in `event`.
pub async fn invoke(local: &Local, function: &str, event: &Path) -> ExitCode {
    let id = local.function_id(function);
    let Some(spec) = local.runtime.stack.functions.get(&id) else {
        let known: Vec<&str> = local
            .runtime
            .stack
            .functions
            .values()
            .map(|f| f.binary.as_str())
            .collect();
        eprintln!(
            "no function {function} in the template; one of: {}",
            known.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let payload = match std::fs::read_to_string(event)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(payload) => payload,
        Err(e) => {
            eprintln!("cannot read the event {}: {e}", event.display());
            return ExitCode::FAILURE;
        }
    };
    let level = spec
        .environment
        .iter()
        .find(|(name, _)| name == "AWS_LAMBDA_LOG_LEVEL")
        .map(|(_, level)| level.as_str());
    let spans = Kept::default();
    let provider = traces::provider_with(spans.clone(), &spec.binary);
    init_tracing_as(LogFormat::Text, level, Some(&provider));
    println!(
        "{} ({id}) on {}, with the {} variables the template gives it; its logs:\n",
        spec.binary,
        event.display(),
        spec.environment.len()
    );
    let (answer, metrics) = local.runtime.invoke_once(&id, payload).await;
    println!("\nspans (the invocation, its steps, its AWS calls):");
    for line in spans.tree() {
        println!("  {line}");
    }
    println!("\nmetrics (as CloudWatch would make them of its EMF lines):");
    for point in &metrics {
        println!("  {} = {}", point.metric, point.value);
    }
    match answer {
        Ok(response) => {
            let shown =
                serde_json::to_string_pretty(&response).unwrap_or_else(|_| response.to_string());
            println!("\nanswer:\n{shown}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("\nfailed ({:?}): {}", error.class, error.message);
            ExitCode::FAILURE
        }
    }
}
