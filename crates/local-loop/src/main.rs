//! `guardrails-local`: `demo` (`make demo`) tells the scripted story and exits 0 only if every step happened;
//! `up` (`make up`) leaves the same loop running for exploration, with a few commands on stdin; Ctrl-C stops it;
//! `invoke` (`make invoke`) runs one handler on one event.
//! `guardrails-local --help` lists the options.

mod invoke;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use local_loop::story;
use local_loop::{Local, default_template};

/// The whole pipeline on the local emulator, wired from the SAM template, with the real handlers in this
/// process (no AWS account).
#[derive(Parser)]
#[command(name = "guardrails-local", version, about)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
    /// The SAM template to run.
    #[arg(long, global = true, default_value_os_t = default_template())]
    template: PathBuf,
    /// A template parameter, as Name=Value (repeatable).
    #[arg(long = "param", global = true, value_name = "NAME=VALUE", value_parser = parameter)]
    parameters: Vec<(String, String)>,
    /// How long the demo waits for each step, in seconds.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
}

#[derive(Subcommand, Clone, PartialEq, Eq)]
enum Mode {
    /// The scripted story: exit 0 only if every step happened.
    Demo,
    /// The loop left running, with commands on stdin.
    Up,
    /// Provision the template, print each function's binary and resolved environment as one JSON line, and
    /// keep the emulator up until stdin closes (`make coldstart` runs the release binaries with them).
    Environments,
    /// One handler on one event, nothing delivered: its logs, answer and metrics.
    Invoke {
        /// The function: its binary (e.g. validate-ingest) or the template's logical id.
        function: String,
        /// A JSON file holding the event (e.g. events/scheduled-event.json).
        event: PathBuf,
    },
}

fn parameter(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected Name=Value, got {text:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Shown as the user would type it: relative to where they are.
    let shown = std::env::current_dir()
        .ok()
        .and_then(|dir| args.template.strip_prefix(dir).ok().map(PathBuf::from))
        .unwrap_or_else(|| args.template.clone());
    println!(
        "mlops-guardrails local loop: {} on the emulator, the real handlers in this process (no AWS account)\n",
        shown.display()
    );
    let started = match &args.mode {
        Mode::Invoke { .. } | Mode::Environments => {
            Local::prepare(&args.template, &args.parameters).await
        }
        Mode::Demo | Mode::Up => Local::start(&args.template, &args.parameters, true).await,
    };
    let local = match started {
        Ok(local) => local,
        Err(e) => {
            eprintln!("the local loop did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.mode {
        Mode::Demo => demo(&local, Duration::from_secs(args.timeout)).await,
        Mode::Up => up::up(&local).await,
        Mode::Invoke { function, event } => invoke::invoke(&local, &function, &event).await,
        Mode::Environments => environments(&local).await,
    }
}

/// Prints every function's binary, logical id and environment (the emulator's endpoint added) as one JSON
/// line, then holds the emulator up until stdin closes.
async fn environments(local: &Local) -> ExitCode {
    let endpoint = local.emulator.endpoint().to_owned();
    let functions: Vec<serde_json::Value> = local
        .runtime
        .stack
        .functions
        .values()
        .map(|f| {
            let mut environment: serde_json::Map<String, serde_json::Value> = f
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            environment.insert("AWS_ENDPOINT_URL".into(), endpoint.clone().into());
            serde_json::json!({"binary": f.binary, "logicalId": f.logical_id, "environment": environment})
        })
        .collect();
    println!("{}", serde_json::json!({ "functions": functions }));
    // A blocking read on a thread of its own: the emulator lives as long as this process.
    let closed = tokio::task::spawn_blocking(|| {
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest)
    })
    .await;
    if closed.is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn demo(local: &Local, timeout: Duration) -> ExitCode {
    match story::tell(local, timeout).await {
        Ok(told) => {
            // Let the last lines (late notices, the retraining decision) print before the summary.
            tokio::time::sleep(Duration::from_millis(500)).await;
            println!(
                "\ndemo passed in {:.1} s: a dataset validated and its model registered ({}), one quarantined with \
                 {} reason(s), a batch drifted ({}), {} rolled back to {}, {} budget(s) breached and alerted, an \
                 altered lineage record refused ({})",
                local.runtime.timeline.elapsed().as_secs_f64(),
                told.verdict,
                told.reasons.len(),
                told.drifted.join(", "),
                told.rolled_back.0,
                told.rolled_back.1,
                told.breaches,
                told.error_alarm
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("\ndemo FAILED: {}", failure.step);
            ExitCode::FAILURE
        }
    }
}
